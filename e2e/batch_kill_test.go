package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/testdb"
)

// readTrace reads the items a task's batch workers processed, in order
// (the native worker's item trace: "{step} {cursor}" per line).
func readTrace(t *testing.T, path string) []int {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		require.Len(t, fields, 2, "trace line %q", sc.Text())
		n, err := strconv.Atoi(fields[1])
		require.NoError(t, err)
		out = append(out, n)
	}
	require.NoError(t, sc.Err())
	return out
}

// TestWorkerKilledMidBatchResumesFromCheckpoint: a worker processing a
// batch (checkpoint every 10 items) is SIGKILLed in the middle; another
// worker takes the step over and resumes from the last checkpoint. Every
// item before that checkpoint was processed exactly once; only the items
// after it (fewer than one checkpoint interval) ran twice; the batch's
// totals are exact.
func TestWorkerKilledMidBatchResumesFromCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The checkpoint-yield fixture, on the template path of the workers.
	tplDir, traceDir := t.TempDir(), t.TempDir()
	src, err := os.ReadFile(filepath.Join(testdb.FixturesDir(t), "task_templates", "ruby", "checkpoint_yield_test.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(tplDir, "checkpoint_yield_test.yaml"), src, 0o600))

	env := processEnv(t, "TASKER__WORKER__CLAIMS__VISIBILITY_TIMEOUT=2s", "TASKER__WORKER__CLAIMS__HEARTBEAT_INTERVAL=500ms")
	env = append(env, "TASKER_TEMPLATE_PATH="+tplDir, "TASKER_EXAMPLE_ITEM_TRACE_DIR="+traceDir)
	victim := start(t, append(env, "TASKER__WORKER__WORKER_ID=victim"), "tasker-worker")
	victim.waitLine(t, regexp.MustCompile(`tasker-worker started`))
	c := startServer(t, env)

	const total, every = 60, 10
	task, err := c.CreateTask(ctx, client.TaskRequest{Namespace: "ruby_e2e_checkpoint_yield", Name: "checkpoint_yield_test",
		Version: "1.0.0", Context: json.RawMessage(`{"total_items":60,"items_per_checkpoint":10,"item_delay_ms":40}`)})
	require.NoError(t, err)
	trace := filepath.Join(traceDir, task.TaskUUID.String()+".trace")

	// Kill the victim between two checkpoints, past the second one.
	require.Eventually(t, func() bool {
		n := len(readTrace(t, trace))
		return n >= 2*every+every/2
	}, 60*time.Second, 5*time.Millisecond)
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	<-victim.exited
	beforeKill := readTrace(t, trace)

	rescuer := start(t, append(env, "TASKER__WORKER__WORKER_ID=rescuer"), "tasker-worker")
	rescuer.waitLine(t, regexp.MustCompile(`tasker-worker started`))
	final, err := c.Wait(ctx, task.TaskUUID, nil)
	require.NoError(t, err)
	require.Equal(t, "complete", final.Status)

	// The trace is 0..k by the victim, then c..59 by the rescuer, where c
	// is the victim's last checkpoint.
	items := readTrace(t, trace)
	k := len(beforeKill) - 1
	require.Equal(t, beforeKill, items[:k+1])
	for i, v := range beforeKill {
		require.Equal(t, i, v, "the victim processed its items in order")
	}
	resumed := items[k+1]
	require.Zero(t, resumed%every, "the rescuer starts at a checkpoint (%d)", resumed)
	require.LessOrEqual(t, resumed, k+1)
	require.Less(t, k+1-resumed, every, "only the items after the last checkpoint ran twice")
	require.GreaterOrEqual(t, resumed, 2*every, "the victim's checkpoints were kept")
	for i, v := range items[k+1:] {
		require.Equal(t, resumed+i, v)
	}
	require.Equal(t, total-1, items[len(items)-1])
	seen := map[int]int{}
	for _, v := range items {
		seen[v]++
	}
	for i := range resumed {
		require.Equal(t, 1, seen[i], "item %d before the checkpoint ran once", i)
	}

	var agg client.Step
	for _, s := range final.Steps {
		if s.Name == "aggregate_results" {
			agg = s
		}
	}
	var res struct {
		TotalProcessed int `json:"total_processed"`
		RunningTotal   int `json:"running_total"`
		ItemCount      int `json:"item_count"`
	}
	require.NoError(t, json.Unmarshal(agg.Result(), &res))
	require.Equal(t, total, res.TotalProcessed)
	require.Equal(t, total*(total+1)/2, res.RunningTotal)
	require.Equal(t, total, res.ItemCount)
}
