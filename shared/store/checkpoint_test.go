package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// TestSaveCheckpoint: the record replaces the step's checkpoint while the
// claim is held, its history grows (bounded), the claim and attempts stay,
// and a worker that does not hold the claim cannot write it. The claim
// hydrates the task row with it.
func TestSaveCheckpoint(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "batch", retryable: true}}
	e.register("cp", "cp", specs)
	ct := e.createTask(specs, `{"n": 1}`)
	cs := e.claimAll("w").Claimed[0]
	require.Equal(t, ct.Task.UUID, cs.Task.UUID)
	require.Equal(t, e.nt.UUID, cs.Task.NamedTaskUUID)
	require.NotEmpty(t, cs.Task.IdentityHash)
	require.False(t, cs.Task.Complete)
	require.False(t, cs.Task.RequestedAt.IsZero())
	require.False(t, cs.Task.CreatedAt.IsZero())
	require.False(t, cs.Task.UpdatedAt.IsZero())

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec, err := e.store.SaveCheckpoint(e.ctx, "w", cs.Step.UUID, cs.Step.Attempts, store.Checkpoint{
		Cursor: json.RawMessage(`{"offset": 10}`), ItemsProcessed: 10, AccumulatedResults: json.RawMessage(`{"sum": 55}`), At: at,
	})
	require.NoError(t, err)
	require.JSONEq(t, `{"cursor": {"offset": 10}, "items_processed": 10, "accumulated_results": {"sum": 55},
		"timestamp": "2026-01-02T03:04:05Z", "history": [{"cursor": {"offset": 10}, "timestamp": "2026-01-02T03:04:05Z"}]}`, string(rec))

	rec, err = e.store.SaveCheckpoint(e.ctx, "w", cs.Step.UUID, cs.Step.Attempts, store.Checkpoint{
		Cursor: json.RawMessage(`20`), ItemsProcessed: 20, At: at.Add(time.Second),
	})
	require.NoError(t, err)
	require.JSONEq(t, `{"cursor": 20, "items_processed": 20, "accumulated_results": null,
		"timestamp": "2026-01-02T03:04:06Z", "history": [
			{"cursor": {"offset": 10}, "timestamp": "2026-01-02T03:04:05Z"},
			{"cursor": 20, "timestamp": "2026-01-02T03:04:06Z"}]}`, string(rec))

	st := e.stepState(ct.Task.UUID, "batch")
	require.Equal(t, state.StepInProgress, st.State)
	require.Equal(t, "w", st.ClaimedBy)
	require.Equal(t, 1, st.Attempts)
	require.JSONEq(t, string(rec), string(st.Checkpoint))

	for _, tc := range []struct {
		worker   string
		attempts int
	}{{"other", 1}, {"w", 2}} {
		_, err = e.store.SaveCheckpoint(e.ctx, tc.worker, cs.Step.UUID, tc.attempts, store.Checkpoint{Cursor: json.RawMessage(`1`)})
		require.ErrorIs(t, err, store.ErrInvalidState)
	}
	_, err = e.store.SaveCheckpoint(e.ctx, "w", cs.Step.UUID, 1, store.Checkpoint{Cursor: json.RawMessage(`{`)})
	require.ErrorIs(t, err, store.ErrInvalidInput)

	// The history keeps the newest entries.
	for i := range store.MaxCheckpointHistory + 5 {
		rec, err = e.store.SaveCheckpoint(e.ctx, "w", cs.Step.UUID, 1, store.Checkpoint{Cursor: json.RawMessage(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	var r struct {
		Cursor  int `json:"cursor"`
		History []struct {
			Cursor any `json:"cursor"`
		} `json:"history"`
	}
	require.NoError(t, json.Unmarshal(rec, &r))
	require.Len(t, r.History, store.MaxCheckpointHistory)
	require.EqualValues(t, store.MaxCheckpointHistory+4, r.Cursor)
	require.EqualValues(t, 5, r.History[0].Cursor)
	require.EqualValues(t, store.MaxCheckpointHistory+4, r.History[len(r.History)-1].Cursor)

	// The record survives the step's completion (a retry resumes from it).
	e.complete("w", cs, false, true)
	require.JSONEq(t, string(rec), string(e.stepState(ct.Task.UUID, "batch").Checkpoint))
}
