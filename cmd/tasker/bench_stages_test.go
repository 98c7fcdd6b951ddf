package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestBenchStagesAndHistory runs linear 4 on a fresh schema, then loads
// history and runs it again: the report splits linear 4 per step and
// stage, and the history rows are in the database as finished tasks.
func TestBenchStagesAndHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a system")
	}
	db := benchDatabase(t)
	out := filepath.Join(t.TempDir(), "bench.json")
	text, err := runCmd(t, "bench", "--embedded", "--only", "latency", "--latency-n", "3", "--warmup", "0",
		"--history", "42", "--keep", "--pgbench=false", "--json", out)
	require.NoError(t, err, text)
	rep := readReport(t, out)
	schema, _ := rep.Config["schema"].(string)
	require.NotEmpty(t, schema)
	pool := db.Pool(t, 1)
	t.Cleanup(func() { _, _ = pool.Exec(t.Context(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`) })

	st := rep.Latency["linear4"].Stages
	require.NotNil(t, st, "linear 4 is broken down")
	require.Equal(t, 3, st.Tasks)
	require.Equal(t, []string{"linear_step_1", "linear_step_2", "linear_step_3", "linear_step_4"}, st.Steps)
	for _, stage := range stageOrder {
		require.Len(t, st.P50MS[stage], 4, stage)
		for i, v := range st.P50MS[stage] {
			require.NotNil(t, v, "%s of step %d", stage, i+1)
			require.GreaterOrEqual(t, *v, 0.0, "%s of step %d", stage, i+1)
		}
	}
	require.Contains(t, st.Tail, stageToClientSeen)
	require.Positive(t, st.Tail[stageCreate], "the POST's round trip")
	require.Contains(t, text, "where linear 4's time goes")

	h := rep.History
	require.NotNil(t, h)
	require.Equal(t, 40, h.Steps, "whole tasks of 4 steps")
	require.Equal(t, map[string]int64{"tasks": 10, "task_transitions": 60, "workflow_steps": 40, "workflow_step_edges": 30,
		"workflow_step_transitions": 160, "workflow_step_result_audit": 40,
		// The acked messages' dead rows a real history leaves in the queues.
		"mq_worker_examples_linear_queue (dead)": 40, "mq_orchestration_step_results (dead)": 40}, h.Rows)
	require.True(t, h.Checkpointed, "the load is flushed before the scenarios run")
	require.True(t, h.CaughtUp, "a history below the loops' thresholds needs no pass")
	require.Equal(t, 3, h.Run.Latency["linear4"].ClientMS.N, "measured again with the history")
	require.Contains(t, text, "with history")

	// The history is finished linear tasks: complete, with complete steps
	// whose results chain as a real run's do.
	var tasks, steps, last int64
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(DISTINCT t.task_uuid), count(*),
		max((s.results -> 'result' ->> 'result')::bigint)
		FROM "`+schema+`".tasks t JOIN "`+schema+`".workflow_steps s ON s.task_uuid = t.task_uuid
		WHERE t.initiator = 'tasker-bench-history' AND t.state = 'complete' AND s.state = 'complete'`).Scan(&tasks, &steps, &last))
	require.Equal(t, []int64{10, 40, 2821109907456}, []int64{tasks, steps, last})
}

func TestBenchHistoryNeedsSteps(t *testing.T) {
	cleanConfigEnv(t)
	_, err := runCmd(t, "bench", "--url", "http://127.0.0.1:1", "--history", "100")
	require.ErrorContains(t, err, "--history N: a positive number of steps, with --embedded")
}

func TestBenchAutovacuumFlag(t *testing.T) {
	cleanConfigEnv(t)
	_, err := runCmd(t, "bench", "--embedded", "--autovacuum", "sometimes")
	require.ErrorContains(t, err, `--autovacuum "sometimes": want on or off`)
	_, err = runCmd(t, "bench", "--url", "http://127.0.0.1:1", "--autovacuum", "on")
	require.ErrorContains(t, err, "--autovacuum: only with --embedded")
}

func TestUpdatesBetween(t *testing.T) {
	before := map[string]hotUpdates{"tasks": {Updates: 10, HOT: 0}, "workflow_steps": {Updates: 100, HOT: 50}}
	after := map[string]hotUpdates{"tasks": {Updates: 10, HOT: 0}, "workflow_steps": {Updates: 400, HOT: 275}}
	require.Equal(t, map[string]hotUpdates{"tasks": {}, "workflow_steps": {Updates: 300, HOT: 225, HOTPct: 75}},
		updatesBetween(before, after))
	require.Nil(t, updatesBetween(nil, after), "no figures without both readings")
}

func TestProgressWaitBacksOffFromSlowPolls(t *testing.T) {
	require.Equal(t, 100*time.Millisecond, progressWait(0))
	require.Equal(t, 100*time.Millisecond, progressWait(15*time.Millisecond))
	require.Equal(t, 400*time.Millisecond, progressWait(80*time.Millisecond), "a poll costing 80 ms waits 400 ms")
}

func TestTopStatements(t *testing.T) {
	before := statementSnapshot{1: {Query: "SELECT 1", Calls: 10, TotalMS: 5}, 2: {Query: "UPDATE x", Calls: 1, TotalMS: 1}}
	after := statementSnapshot{1: {Query: "SELECT 1", Calls: 20, TotalMS: 8}, 2: {Query: "UPDATE x", Calls: 1, TotalMS: 1},
		3: {Query: "INSERT  INTO\n y", Calls: 4, TotalMS: 12}}
	top := topStatements(before, after, 5)
	require.Equal(t, []statementStat{
		{Query: "INSERT INTO y", Calls: 4, TotalMS: 12, MeanMS: 3, Share: 80},
		{Query: "SELECT 1", Calls: 10, TotalMS: 3, MeanMS: 0.3, Share: 20},
	}, top, "only what ran between the snapshots, by total time")
	require.Len(t, topStatements(before, after, 1), 1)
}

func TestBreakdownOrdersStepsAndSkipsMissingTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) *time.Time { v := t0.Add(time.Duration(n) * time.Millisecond); return &v }
	task := uuid.New()
	steps := []stepTimes{ // listed out of order; the second has no handler times
		{task: task, name: "b", enqueued: ms(12), claimed: ms(14), resulted: ms(17), processed: ms(20)},
		{task: task, name: "a", enqueued: ms(2), claimed: ms(4), handlerStart: ms(5), handlerEnd: ms(6), resulted: ms(8), processed: ms(11)},
	}
	b := breakdown([]taskTiming{{id: task, start: t0, end: t0.Add(25 * time.Millisecond), created: 3 * time.Millisecond}}, steps)
	require.Equal(t, []string{"a", "b"}, b.Steps)
	val := func(stage string, i int) any {
		if v := b.P50MS[stage][i]; v != nil {
			return *v
		}
		return nil
	}
	require.Equal(t, 2.0, val(stageToEnqueued, 0), "client start to the first enqueue")
	require.Equal(t, 1.0, val(stageToEnqueued, 1), "parent processed to the next enqueue")
	require.Equal(t, 1.0, val(stageToStart, 0))
	require.Nil(t, val(stageToStart, 1), "no handler times: no sample")
	require.Equal(t, 3.0, val(stageToProcessed, 1))
	require.Equal(t, 5.0, b.Tail[stageToClientSeen])
	require.Equal(t, 3.0, b.Tail[stageCreate])
}
