package servicemetrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// Results are the series of processed step results and finished tasks.
// Whoever processes a result records it: orchestration for the results it
// receives, a worker for the successes it processed itself. Dashboards sum
// them over every process.
type Results struct {
	tasksFinished  *prometheus.CounterVec
	taskSeconds    *prometheus.HistogramVec
	stepResults    *prometheus.CounterVec
	handlerSeconds prometheus.Histogram
}

// NewResults builds the result series and registers them with reg (nil:
// registered nowhere), sharing the collectors another service registered
// there first.
func NewResults(reg prometheus.Registerer) (*Results, error) {
	m := &Results{
		tasksFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tasker_tasks_finished_total", Help: "Tasks that reached a terminal state, by state.",
		}, []string{"state"}),
		taskSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tasker_task_duration_seconds", Help: "Task creation to terminal state.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}, []string{"state"}),
		stepResults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tasker_step_results_total", Help: "Step results processed, by the state they moved the step to.",
		}, []string{"state"}),
		handlerSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tasker_step_execution_seconds", Help: "Handler execution time reported by workers.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	Register(reg, &m.tasksFinished, &errs)
	Register(reg, &m.taskSeconds, &errs)
	Register(reg, &m.stepResults, &errs)
	Register(reg, &m.handlerSeconds, &errs)
	if len(errs) > 0 {
		return nil, fmt.Errorf("registering result metrics: %w", errors.Join(errs...))
	}
	return m, nil
}

// Collectors are the series, for deployment checks.
func (m *Results) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.tasksFinished, m.taskSeconds, m.stepResults, m.handlerSeconds}
}

// Steps records n results that moved their steps to to.
func (m *Results) Steps(to state.StepState, n int) {
	if n > 0 {
		m.stepResults.WithLabelValues(string(to)).Add(float64(n))
	}
}

// HandlerTime records a handler's execution time as its result reported it
// (milliseconds; 0, unknown, is not recorded).
func (m *Results) HandlerTime(ms int64) {
	if ms > 0 {
		m.handlerSeconds.Observe(float64(ms) / 1000)
	}
}

// Outcomes records the tasks that reached a terminal state.
func (m *Results) Outcomes(out []store.TaskOutcome) {
	for _, o := range out {
		if o.To.Terminal() && o.From != o.To {
			m.tasksFinished.WithLabelValues(string(o.To)).Inc()
			if !o.CreatedAt.IsZero() {
				m.taskSeconds.WithLabelValues(string(o.To)).Observe(o.FinishedAt.Sub(o.CreatedAt).Seconds())
			}
		}
	}
}
