package bridge

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
)

// The poll reply carries each event's JSON byte for byte as the executor
// encoded it, not encoded a second time (json.Marshal would rewrite the
// spaced event below as {"a":1}).
func TestPollReplyPassesEventsThrough(t *testing.T) {
	events := []worker.Event{{ID: "e1", JSON: json.RawMessage(`{"a": 1}`)}, {ID: "e2", JSON: json.RawMessage(`{"b":[true, null]}`)}}
	got := pollReply(events, stateRunning)
	require.Equal(t, `{"ok":true,"events":[{"a": 1},{"b":[true, null]}],"state":"running"}`, string(got))
	require.Equal(t, `{"ok":true,"events":[],"state":"stopped"}`, string(pollReply(nil, stateStopped)))
	var v struct {
		OK     bool              `json:"ok"`
		Events []json.RawMessage `json:"events"`
		State  string            `json:"state"`
	}
	require.NoError(t, json.Unmarshal(got, &v))
	require.True(t, v.OK)
	require.Len(t, v.Events, 2)
}

// BenchmarkPollReply: the reply of a poll returning one event of a typical
// size (a linear workflow step with its dependency result, ~2.8 kB).
func BenchmarkPollReply(b *testing.B) {
	ev := map[string]any{"event_id": "x", "task_sequence_step": map[string]any{"task": map[string]any{"context": map[string]any{"even_number": 6}}}}
	pad := make([]string, 60)
	for i := range pad {
		pad[i] = "a field of the step definition and task record"
	}
	ev["pad"] = pad
	raw, err := json.Marshal(ev)
	require.NoError(b, err)
	events := []worker.Event{{ID: "x", JSON: raw}}
	b.ReportAllocs()
	for b.Loop() {
		_ = pollReply(events, stateRunning)
	}
}
