package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

// TestDomainEventsListedAndStreamed: the domain events of committed results
// are listed by GET /v1/tasks/{uuid}/domain_events (paged with ?after=) and
// sent live on the task's event stream as "domain_event" events, whose ids
// resume the stream after them.
func TestDomainEventsListedAndStreamed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	tr := h.createTask(tpl, input)
	stream := h.openEvents(tr.TaskUUID)
	h.drive(tpl.NamespaceName, func(cs store.ClaimedStep) outcome {
		return outcome{events: []stepresult.DomainEvent{{
			EventID: uuid.Must(uuid.NewV7()), Name: "step.done", Condition: "success", DeliveryMode: "fast",
			Payload: json.RawMessage(fmt.Sprintf(`{"step": %q}`, cs.Step.Name)), FiredAt: time.Now(),
		}}}
	})
	events := stream.untilEnd()
	var streamed []api.DomainEvent
	var ids []string
	for _, ev := range events {
		if ev.event != "domain_event" {
			continue
		}
		var d api.DomainEvent
		require.NoError(t, json.Unmarshal([]byte(ev.data), &d))
		streamed = append(streamed, d)
		ids = append(ids, ev.id)
	}
	require.Len(t, streamed, 4, "one per step")
	require.Equal(t, "step.done", streamed[0].EventName)
	require.Equal(t, tr.TaskUUID, streamed[0].Metadata.TaskUUID)
	require.Equal(t, "linear_step_1", streamed[0].Metadata.StepName)
	require.JSONEq(t, `{"step": "linear_step_1"}`, string(streamed[0].Payload))

	r := h.do(http.MethodGet, "/v1/tasks/"+tr.TaskUUID.String()+"/domain_events", nil)
	require.Equal(t, http.StatusOK, r.status)
	var listed []api.DomainEvent
	r.json(t, &listed)
	require.Equal(t, streamed, listed)
	r = h.do(http.MethodGet, fmt.Sprintf("/v1/tasks/%s/domain_events?after=%d", tr.TaskUUID, listed[1].Seq), nil)
	var rest []api.DomainEvent
	r.json(t, &rest)
	require.Equal(t, listed[2:], rest)
	h.do(http.MethodGet, "/v1/tasks/"+uuid.NewString()+"/domain_events", nil).requireError(t, http.StatusNotFound, "NOT_FOUND")

	// Resuming after the second domain event replays only the later ones.
	again := h.openEvents(tr.TaskUUID, "Last-Event-ID", ids[1]).untilEnd()
	var names []string
	for _, ev := range again {
		if ev.event == "domain_event" {
			var d api.DomainEvent
			require.NoError(t, json.Unmarshal([]byte(ev.data), &d))
			names = append(names, d.Metadata.StepName)
		}
	}
	require.Equal(t, []string{"linear_step_3", "linear_step_4"}, names)
}
