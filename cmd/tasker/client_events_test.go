package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestTaskEvents: `tasker task events` lists the domain events the native
// handlers of tasker-core's domain_event_publishing published, as a table
// and as JSON; --follow -o json prints one per line and ends with the task.
func TestTaskEvents(t *testing.T) {
	tpls, err := template.ParseFile(testdb.Fixture(t, "task_templates/rust/domain_event_publishing.yaml"), template.ParseOptions{})
	require.NoError(t, err)
	sys := systest.Start(t, systest.Options{Templates: tpls})
	out, _, err := runClient(t, "task", "create", "--url", sys.URL, "-o", "json", "--namespace", "domain_events_rust",
		"--name", "domain_event_publishing", "--context",
		`{"order_id": "6f1c2a4e-8f43-4a55-9a0e-1c6a5c1c0b11", "customer_id": "CUST-1", "amount": 99.5}`, "--wait")
	require.NoError(t, err, out)
	var task client.Task
	require.NoError(t, json.Unmarshal([]byte(out), &task), out)
	require.Equal(t, "complete", task.Status)
	id := task.TaskUUID.String()

	out, _, err = runClient(t, "task", "events", id, "--url", sys.URL)
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	require.Regexp(t, `^SEQ\s+PUBLISHED\s+EVENT\s+STEP\s+MODE\s+CONDITION\s+PAYLOAD`, lines[0])
	require.Regexp(t, `payment\.processed\s+domain_events_process_payment\s+durable\s+success\s+\{`, lines[2])

	out, _, err = runClient(t, "task", "events", id, "--url", sys.URL, "-o", "json")
	require.NoError(t, err, out)
	var evs []api.DomainEvent
	require.NoError(t, json.Unmarshal([]byte(out), &evs), out)
	var names []string
	for _, e := range evs {
		names = append(names, e.EventName)
	}
	require.Equal(t, []string{"order.validated", "payment.processed", "inventory.updated", "notification.sent"}, names)
	require.Equal(t, "CUST-1", func() string {
		var p map[string]any
		require.NoError(t, json.Unmarshal(evs[3].Payload, &p))
		return p["recipient"].(string)
	}())

	out, _, err = runClient(t, "task", "events", id, "--url", sys.URL, "--follow", "-o", "json")
	require.NoError(t, err, out)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 4, out)

	out, _, err = runClient(t, "task", "events", "not-a-uuid", "--url", sys.URL)
	require.Error(t, err, out)
}
