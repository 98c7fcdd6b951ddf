package orchestration_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

// TestFastEventsReachTheBusAfterCommit: the orchestrator that commits a
// result hands its fast and broadcast events to the in-process bus (durable
// ones only go to the queue), and counts every published event per name in
// its metrics.
func TestFastEventsReachTheBusAfterCommit(t *testing.T) {
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml", false)
	var mu sync.Mutex
	var got []string
	h.events.Subscribe("*", func(_ context.Context, e domainevent.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e.EventName+"@"+e.Metadata.StepName)
		return nil
	})
	h.drive(tpl.NamespaceName, func(cs store.ClaimedStep) outcome {
		ev := func(name, mode string) stepresult.DomainEvent {
			return stepresult.DomainEvent{EventID: uuid.Must(uuid.NewV7()), Name: name, Condition: "success",
				DeliveryMode: mode, Payload: []byte(`{}`), FiredAt: time.Now()}
		}
		return outcome{events: []stepresult.DomainEvent{ev("step.fast", "fast"), ev("step.durable", "durable"),
			ev("step.both", "broadcast")}}
	})
	task := h.create(tpl, `{"even_number": 2}`)
	h.waitState(task.UUID, state.TaskComplete)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 8
	}, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	require.Contains(t, got, "step.fast@linear_step_1")
	require.Contains(t, got, "step.both@linear_step_4")
	require.NotContains(t, got, "step.durable@linear_step_1")
	mu.Unlock()

	families, err := h.metrics.Gather()
	require.NoError(t, err)
	counts := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "tasker_domain_events_published_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "event_name" {
					counts[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	require.Equal(t, map[string]float64{"step.fast": 4, "step.durable": 4, "step.both": 4}, counts)
}
