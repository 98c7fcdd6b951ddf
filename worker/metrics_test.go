package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/template"
)

// TestSaturationMetric: tasker_worker_saturation_ratio is running handlers
// over handlers.max_concurrent. With adaptive concurrency at its floor and
// that floor in use, it stays below 1 (the limit can still grow), so a
// horizontal autoscaler on it does not add pods the worker could absorb.
func TestSaturationMetric(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: single
namespace_name: saturation_ns
version: "1"
steps: [{name: only, handler: {callable: saturation.only}}]
`)
	h.register(tpl)
	release := make(chan struct{})
	reg := NewRegistry()
	handle(t, reg, "saturation.only", func(ctx context.Context, _ *Step[struct{}]) (any, error) {
		select {
		case <-release:
			return nil, nil
		case <-ctx.Done():
			return nil, errors.New("cancelled")
		}
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
		w.Handlers.Adaptive = true
		w.Handlers.MinConcurrent = 1
		w.Handlers.MaxConcurrent = 4
		w.Handlers.ScaleInterval = time.Hour // the limit stays at the floor
		w.Handlers.DefaultTimeout = time.Minute
	}})
	require.Zero(t, gaugeValue(t, c, "tasker_worker_saturation_ratio"), "idle")
	h.createTask(tpl, `{}`)
	h.createTask(tpl, `{}`)
	h.waitFor("one handler running", func() bool { return c.Stats().Running == 1 })
	require.Equal(t, 1.0, gaugeValue(t, c, "tasker_worker_concurrency_limit"))
	require.Equal(t, 0.25, gaugeValue(t, c, "tasker_worker_saturation_ratio"), "one of four, though the current limit of 1 is full")

	c.slots.setLimit(4)
	h.waitFor("both handlers running", func() bool { return c.Stats().Running == 2 })
	require.Equal(t, 0.5, gaugeValue(t, c, "tasker_worker_saturation_ratio"))
	close(release)
	h.waitFor("both results", func() bool { return c.Stats().Recorded == 2 })
	require.Zero(t, gaugeValue(t, c, "tasker_worker_saturation_ratio"), "idle again")
}
