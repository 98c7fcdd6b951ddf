package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/store"
)

// stuckTask creates a task no worker will run and has the staleness
// detector's store calls put it in the DLQ (and in error).
func stuckTask(t *testing.T, sys *systest.System) uuid.UUID {
	t.Helper()
	id := createTaskCLI(t, sys.URL, "examples_slow", "slow_step", `{"sleep_ms": 10}`)
	tiny := store.StalenessThresholds{WaitingForDependencies: time.Nanosecond, WaitingForRetry: time.Nanosecond,
		StepsInProcess: time.Nanosecond, MaxLifetime: time.Hour}
	var stale store.StaleTask
	require.Eventually(t, func() bool {
		tasks, err := sys.Store.TasksPastStaleness(sys.Ctx, tiny, 10)
		require.NoError(t, err)
		for _, st := range tasks {
			if st.TaskUUID == id {
				stale = st
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the task never became stale")
	done, err := sys.Store.HandleStaleTask(sys.Ctx, stale, store.StaleAction{DLQ: true, Fail: true})
	require.NoError(t, err)
	require.True(t, done)
	return id
}

func TestDLQCommands(t *testing.T) {
	sys := systest.Start(t, systest.Options{Workers: -1})
	url := []string{"--url", sys.URL}
	run := func(args ...string) string {
		t.Helper()
		out, _, err := runClient(t, append(args, url...)...)
		require.NoError(t, err, out)
		return out
	}

	require.Equal(t, "no DLQ entries\n", run("dlq", "list"))
	require.Equal(t, "the DLQ is empty\n", run("dlq", "stats"))
	id := stuckTask(t, sys)

	out := run("dlq", "list")
	require.Regexp(t, `ENTRY UUID\s+TASK UUID\s+REASON\s+STUCK IN\s+STATUS`, out)
	require.Regexp(t, `[0-9a-f-]{36}\s+`+id.String()+`\s+staleness_timeout\s+steps_in_process\s+pending`, out)
	var entries []client.DLQEntry
	require.NoError(t, json.Unmarshal([]byte(run("dlq", "list", "--status", "pending", "-o", "json")), &entries))
	require.Len(t, entries, 1)
	entry := entries[0].DLQEntryUUID
	require.Equal(t, "no DLQ entries\n", run("dlq", "list", "--status", "cancelled"))

	out = run("dlq", "get", id.String())
	require.Contains(t, out, "Entry        "+entry.String())
	require.Contains(t, out, "Template     examples_slow/slow_step")
	require.Regexp(t, `Stuck in\s+steps_in_process for \S+ \(threshold 0ms\)`, out)
	require.Contains(t, out, "automatic_staleness")
	got := cliJSON(t, run("dlq", "get", id.String(), "-o", "json"))
	require.Equal(t, entry.String(), got["dlq_entry_uuid"])

	out = run("dlq", "update", entry.String(), "--status", "manually_resolved", "--notes", "reset by hand",
		"--resolved-by", "alice", "--metadata", `{"ticket": "OPS-9"}`)
	require.Equal(t, "DLQ entry "+entry.String()+": investigation updated (status manually_resolved)\n", out)
	out = run("dlq", "get", id.String())
	require.Contains(t, out, "Resolved by  alice")
	require.Contains(t, out, "reset by hand")
	require.Contains(t, out, `"ticket":"OPS-9"`)

	out = run("dlq", "stats")
	require.Regexp(t, `REASON\s+TOTAL\s+PENDING\s+RESOLVED\s+FAILED\s+CANCELLED`, out)
	require.Regexp(t, `staleness_timeout\s+1\s+0\s+1\s+0\s+0\s+`, out)
	var stats []client.DLQStat
	require.NoError(t, json.Unmarshal([]byte(run("dlq", "stats", "-o", "json")), &stats))
	require.Equal(t, 1, stats[0].ManuallyResolved)

	_, _, err := runClient(t, append([]string{"dlq", "get", uuid.NewString()}, url...)...)
	requireClientExit(t, err, exitAPIFailure, "(NOT_FOUND, HTTP 404)")
	_, _, err = runClient(t, append([]string{"dlq", "update", uuid.NewString(), "--notes", "x"}, url...)...)
	requireClientExit(t, err, exitAPIFailure, "(NOT_FOUND, HTTP 404)")
}
