package orchestration

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/shared/servicemetrics"

	"github.com/tasker-go/tasker/shared/store"
)

// metrics are the orchestration service's own Prometheus series. State
// counts, queue depths and pool stats are collected at scrape time by the
// REST layer.
type metrics struct {
	tasksCreated *prometheus.CounterVec
	// results are the series a worker that processes its own successes
	// exports too (step results, finished tasks, handler times).
	results      *servicemetrics.Results
	batchSize    *prometheus.HistogramVec
	batchSeconds *prometheus.HistogramVec
	duplicates   prometheus.Counter
	// stepsCreated counts steps added to running tasks (decision and batch
	// outcomes).
	stepsCreated prometheus.Counter
	nudged       prometheus.Counter
	reconciled   prometheus.Counter
	stale        prometheus.Counter
	purged       prometheus.Counter
	// deadWorkerSteps counts steps whose claimer's process was found gone.
	deadWorkerSteps prometheus.Counter
	// tableVacuums counts the tables the table vacuum loop vacuumed.
	tableVacuums prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		tasksCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tasker_tasks_created_total", Help: "Tasks created, by namespace.",
		}, []string{"namespace"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tasker_orchestration_batch_size", Help: "Messages handled per transaction.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500},
		}, []string{"consumer"}),
		batchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tasker_orchestration_batch_seconds", Help: "Time to handle one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"consumer"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_duplicate_results_total", Help: "Result messages about steps already processed (dropped).",
		}),
		stepsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_steps_created_total",
			Help: "Steps added to running tasks by the results that chose them (decision points, batch workers).",
		}),
		nudged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_steps_nudged_total", Help: "Step messages re-sent by the readiness poller.",
		}),
		reconciled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_tasks_reconciled_total", Help: "Tasks re-driven by the reconciler.",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_tasks_stale_total", Help: "Tasks the staleness detector acted on.",
		}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_tasks_purged_total", Help: "Finished tasks deleted by the retention loop.",
		}),
		deadWorkerSteps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_dead_worker_steps_released_total",
			Help: "Steps whose worker process was found gone (its liveness lock free), released for other workers.",
		}),
		tableVacuums: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tasker_table_vacuums_total",
			Help: "Queue tables, the outbox and tasks vacuumed by the engine because their dead rows piled up.",
		}),
	}
	results, err := servicemetrics.NewResults(reg)
	if err != nil {
		return nil, err
	}
	m.results = results
	if reg == nil {
		return m, nil
	}
	var errs []error
	servicemetrics.Register(reg, &m.tasksCreated, &errs)
	servicemetrics.Register(reg, &m.batchSize, &errs)
	servicemetrics.Register(reg, &m.batchSeconds, &errs)
	servicemetrics.Register(reg, &m.duplicates, &errs)
	servicemetrics.Register(reg, &m.stepsCreated, &errs)
	servicemetrics.Register(reg, &m.nudged, &errs)
	servicemetrics.Register(reg, &m.reconciled, &errs)
	servicemetrics.Register(reg, &m.stale, &errs)
	servicemetrics.Register(reg, &m.purged, &errs)
	servicemetrics.Register(reg, &m.deadWorkerSteps, &errs)
	servicemetrics.Register(reg, &m.tableVacuums, &errs)
	if len(errs) > 0 {
		return nil, fmt.Errorf("registering orchestration metrics: %w", errors.Join(errs...))
	}
	return m, nil
}

// observeOutcomes records tasks that reached a terminal state.
func (c *Core) observeOutcomes(out []store.TaskOutcome) {
	c.metrics.results.Outcomes(out)
}

// MetricCollectors returns new, unregistered collectors of every series the
// orchestration core exports, so deployment checks can verify that
// dashboards and alerting rules name only series (and labels) that exist.
func MetricCollectors() []prometheus.Collector {
	m, _ := newMetrics(nil) // without a registerer nothing can fail
	return append(m.results.Collectors(), m.tasksCreated, m.batchSize, m.batchSeconds, m.duplicates,
		m.stepsCreated, m.nudged, m.reconciled, m.stale, m.purged, m.deadWorkerSteps, m.tableVacuums)
}
