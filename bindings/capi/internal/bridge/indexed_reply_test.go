package bridge

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
)

// benchCallable is the callable the hosts' event_cost tools run the captured
// event with (their bench handler for linear_step_2).
const benchCallable = "tasker_example_rs::step_handlers::linear_workflow::LinearStep2Handler"

// capturedEvent is testdata/step_event.json with the bench handler's
// callable, as a worker.Event with its index.
func capturedEvent(t testing.TB, id string) worker.Event {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "step_event.json"))
	require.NoError(t, err)
	raw = bytes.TrimSpace(bytes.Replace(raw, []byte("LinearWorkflow::StepHandlers::LinearStep2Handler"), []byte(benchCallable), 1))
	raw = bytes.Replace(raw, []byte(`"event_id":"e-1"`), []byte(`"event_id":`+strconv.Quote(id)), 1)
	ix, err := worker.IndexStepEvent(raw)
	require.NoError(t, err)
	var ev struct {
		TaskUUID uuid.UUID `json:"task_uuid"`
		StepUUID uuid.UUID `json:"step_uuid"`
	}
	require.NoError(t, json.Unmarshal(raw, &ev))
	return worker.Event{ID: id, TaskUUID: ev.TaskUUID, StepUUID: ev.StepUUID, Callable: ix.Callable, JSON: raw, Index: ix}
}

// TestIndexedPollReply: the header line lists each event's fields and
// spans; every span, counted from the byte after the newline, holds the
// part it names, for each of several events; no events gives the header
// alone.
func TestIndexedPollReply(t *testing.T) {
	events := []worker.Event{capturedEvent(t, "e-1"), capturedEvent(t, "e-2 \"quoted\"")}
	got := indexedPollReply(events, stateRunning)
	nl := bytes.IndexByte(got, '\n')
	require.Positive(t, nl)
	var header struct {
		OK     bool                `json:"ok"`
		State  string              `json:"state"`
		Events [][]json.RawMessage `json:"events"`
	}
	require.NoError(t, json.Unmarshal(got[:nl], &header))
	require.True(t, header.OK)
	require.Equal(t, stateRunning, header.State)
	require.Len(t, header.Events, 2)
	type entry struct {
		EventID, TaskUUID, StepUUID, CorrelationID, Callable, Method string
		Resolver                                                     *string
		TimeoutSeconds                                               *int
		StepName                                                     string
		Attempts, MaxAttempts                                        int
		Spans                                                        []int
	}
	entries := make([]entry, len(header.Events))
	for i, fields := range header.Events {
		e := &entries[i]
		ptrs := []any{&e.EventID, &e.TaskUUID, &e.StepUUID, &e.CorrelationID, &e.Callable, &e.Method, &e.Resolver,
			&e.TimeoutSeconds, &e.StepName, &e.Attempts, &e.MaxAttempts, &e.Spans}
		require.Len(t, fields, len(ptrs))
		for k, p := range ptrs {
			require.NoError(t, json.Unmarshal(fields[k], p), "field %d", k)
		}
	}
	body := got[nl+1:]
	paths := [][]string{{}, {"task_sequence_step", "task"}, {"task_sequence_step", "task", "task", "context"},
		{"task_sequence_step", "workflow_step"}, {"task_sequence_step", "workflow_step", "inputs"},
		{"task_sequence_step", "workflow_step", "checkpoint"}, {"task_sequence_step", "dependency_results"},
		{"task_sequence_step", "step_definition"}, {"task_sequence_step", "step_definition", "handler", "initialization"}}
	for i, h := range entries {
		require.Equal(t, events[i].ID, h.EventID)
		require.Len(t, h.Spans, 2*len(paths))
		evJSON := body[h.Spans[0]:h.Spans[1]]
		require.Equal(t, string(events[i].JSON), string(evJSON), "span 0 is the event as tasker_poll_step_events has it")
		var ev map[string]any
		require.NoError(t, json.Unmarshal(evJSON, &ev))
		for k, path := range paths {
			want, err := json.Marshal(digAny(ev, path...))
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(body[h.Spans[2*k]:h.Spans[2*k+1]]), "event %d, span %d", i, k)
		}
		require.Equal(t, ev["task_uuid"], h.TaskUUID)
		require.Equal(t, ev["step_uuid"], h.StepUUID)
		require.Equal(t, ev["correlation_id"], h.CorrelationID)
		require.Equal(t, benchCallable, h.Callable)
		require.Equal(t, "call", h.Method)
		require.Nil(t, h.Resolver)
		require.Nil(t, h.TimeoutSeconds)
		require.Equal(t, "linear_step_2", h.StepName)
		require.Equal(t, 0, h.Attempts)
		require.Equal(t, 3, h.MaxAttempts)
	}
	require.Equal(t, len(body), entries[1].Spans[1])
	require.Equal(t, "{\"ok\":true,\"events\":[],\"state\":\"stopped\"}\n", string(indexedPollReply(nil, stateStopped)))
}

// TestCapturedIndexedReply keeps testdata/step_event_indexed.txt, the
// indexed reply of the captured event that the hosts' event_cost tools
// decode, equal to what the library writes (TASKER_UPDATE_TESTDATA=1
// rewrites it).
func TestCapturedIndexedReply(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "step_event_indexed.txt")
	got := indexedPollReply([]worker.Event{capturedEvent(t, "e-1")}, stateRunning)
	if os.Getenv("TASKER_UPDATE_TESTDATA") == "1" {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "rewrite it with TASKER_UPDATE_TESTDATA=1")
	require.False(t, strings.Contains(string(got[:bytes.IndexByte(got, '\n')]), "\r"))
}

func digAny(v any, path ...string) any {
	for _, k := range path {
		v = v.(map[string]any)[k]
	}
	return v
}

// BenchmarkIndexedPollReply: the indexed reply of one captured event.
func BenchmarkIndexedPollReply(b *testing.B) {
	events := []worker.Event{capturedEvent(b, "e-1")}
	b.ReportAllocs()
	for b.Loop() {
		_ = indexedPollReply(events, stateRunning)
	}
}
