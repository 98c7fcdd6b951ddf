package worker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/shared/servicemetrics"
)

// metrics are the worker's Prometheus series.
type metrics struct {
	claimed         *prometheus.CounterVec
	completed       *prometheus.CounterVec
	failed          *prometheus.CounterVec
	stale           prometheus.Counter
	lost            prometheus.Counter
	released        prometheus.Counter
	handlerDuration *prometheus.HistogramVec
	inFlight        prometheus.Gauge
	concurrency     prometheus.Gauge
	completionBatch prometheus.Histogram
	completionErrs  prometheus.Counter
	predicted       prometheus.Counter
	claimErrs       prometheus.Counter
	checkpoints     prometheus.Counter
	authFailures    *prometheus.CounterVec
	saturation      prometheus.GaugeFunc
	// results are the series of the successes this worker processed
	// itself, shared with orchestration's (see config
	// worker.completion.process_successes).
	results *servicemetrics.Results
}

// newMetrics builds and registers the worker's series; saturation reports
// the share of the handler ceiling in use (see slots.saturation).
func newMetrics(reg prometheus.Registerer, workerID string, saturation func() float64) (*metrics, error) {
	labels := prometheus.Labels{"worker_id": workerID}
	m := &metrics{
		claimed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tasker_worker_steps_claimed_total", Help: "Steps claimed, by namespace.", ConstLabels: labels,
		}, []string{"namespace"}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tasker_worker_steps_completed_total", Help: "Steps whose success was recorded, by namespace.", ConstLabels: labels,
		}, []string{"namespace"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tasker_worker_steps_failed_total", Help: "Steps whose failure was recorded, by namespace and error type.", ConstLabels: labels,
		}, []string{"namespace", "error_type"}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_worker_results_stale_total", Help: "Results dropped because the step was no longer this worker's.", ConstLabels: labels,
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_worker_claims_lost_total", Help: "Running handlers cancelled because their claim was lost.", ConstLabels: labels,
		}),
		released: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_worker_steps_released_total", Help: "Steps given back unfinished at shutdown.", ConstLabels: labels,
		}),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tasker_worker_handler_duration_seconds", Help: "Handler run time, by namespace.", ConstLabels: labels,
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"namespace"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tasker_worker_steps_in_flight", Help: "Handlers running now.", ConstLabels: labels,
		}),
		concurrency: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tasker_worker_concurrency_limit", Help: "Current limit of concurrent handlers.", ConstLabels: labels,
		}),
		completionBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tasker_worker_completion_batch_size", Help: "Results committed per transaction.", ConstLabels: labels,
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500},
		}),
		completionErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_worker_completion_errors_total", Help: "Failed result commits (retried).", ConstLabels: labels,
		}),
		predicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_worker_predicted_completions_total", ConstLabels: labels,
			Help: "Result commits planned on the task graph the worker's previous completion left, in one round trip.",
		}),
		claimErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_worker_claim_errors_total", Help: "Failed claim rounds (retried).", ConstLabels: labels,
		}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_worker_checkpoints_total", Help: "Checkpoints saved by yielding batch steps.", ConstLabels: labels,
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tasker_worker_auth_failures_total", ConstLabels: labels,
			Help: "Worker API requests refused by authentication (401) or authorization (403), by route and reason.",
		}, []string{"route", "reason"}),
		saturation: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tasker_worker_saturation_ratio", ConstLabels: labels,
			Help: "Handlers running now divided by handlers.max_concurrent (the ceiling, not the adaptive limit): 1 means this worker cannot take more.",
		}, saturation),
	}
	for _, c := range m.all() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering worker metrics: %w", err)
		}
	}
	results, err := servicemetrics.NewResults(reg)
	if err != nil {
		return nil, err
	}
	m.results = results
	return m, nil
}

// MetricCollectors returns new collectors of every series a worker exports
// (registered nowhere that is served), so deployment checks can verify that
// dashboards and alerting rules name only series (and labels) that exist.
func MetricCollectors() []prometheus.Collector {
	m, err := newMetrics(prometheus.NewRegistry(), "describe", func() float64 { return 0 })
	if err != nil {
		return nil // a fresh registry fails only on a duplicate name, which the deployment checks would report as no worker series
	}
	return m.all()
}

func (m *metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.claimed, m.completed, m.failed, m.stale, m.lost, m.released,
		m.handlerDuration, m.inFlight, m.concurrency, m.completionBatch, m.completionErrs, m.predicted, m.claimErrs, m.checkpoints, m.authFailures,
		m.saturation}
}
