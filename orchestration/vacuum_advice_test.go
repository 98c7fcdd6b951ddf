package orchestration_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testlog"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/server"
	"github.com/tasker-go/tasker/shared/store"
)

func TestVacuumAdvice(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	hourAgo := now.Add(-time.Hour)
	healthy := func(name string, live, dead int64) store.TableVacuum {
		return store.TableVacuum{Table: name, LiveRows: live, DeadRows: dead, LastVacuum: &hourAgo, AutovacuumEnabled: true}
	}
	for _, tc := range []struct {
		name   string
		st     store.VacuumStatus
		ok     bool
		wanted []string
	}{
		{"all well", store.VacuumStatus{Autovacuum: true, TrackCounts: true, Tables: []store.TableVacuum{
			healthy("workflow_steps", 1_000_000, 150_000), // under the ratio
			healthy("mq_worker_x_queue", 10, 9_000),       // under the floor
		}}, true, []string{"autovacuum is on"}},
		{"autovacuum off", store.VacuumStatus{Autovacuum: false, TrackCounts: true, Tables: []store.TableVacuum{
			healthy("workflow_steps", 10, 5)}}, false, []string{"autovacuum is off", "VACUUM ANALYZE"}},
		{"no statistics", store.VacuumStatus{Autovacuum: true, TrackCounts: false}, false,
			[]string{"track_counts is off"}},
		{"disabled on a table", store.VacuumStatus{Autovacuum: true, TrackCounts: true, Tables: []store.TableVacuum{
			{Table: "mq_orchestration_step_results", AutovacuumEnabled: false}}}, false,
			[]string{"autovacuum is disabled on mq_orchestration_step_results"}},
		{"behind", store.VacuumStatus{Autovacuum: true, TrackCounts: true, Tables: []store.TableVacuum{
			{Table: "workflow_steps", LiveRows: 332_000, DeadRows: 561_000, AutovacuumEnabled: true},
			healthy("tasks", 82_000, 20_000),
		}}, false, []string{"vacuum is behind on workflow_steps (561000 dead rows, 332000 live, never vacuumed)"}},
		{"behind, vacuumed before", store.VacuumStatus{Autovacuum: true, TrackCounts: true, Tables: []store.TableVacuum{
			healthy("tasks", 20_000, 20_000)}}, false, []string{"tasks (20000 dead rows, 20000 live, last vacuumed 1h0m0s ago)"}},
		{"many behind", store.VacuumStatus{Autovacuum: true, TrackCounts: true, Tables: []store.TableVacuum{
			healthy("a", 0, 50_000), healthy("b", 0, 40_000), healthy("c", 0, 30_000), healthy("d", 0, 20_000), healthy("e", 0, 11_000),
		}}, false, []string{"a (", "b (", "c (", "2 more"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, msg := orchestration.VacuumAdvice(tc.st, now)
			require.Equal(t, tc.ok, ok, msg)
			for _, w := range tc.wanted {
				require.Contains(t, msg, w)
			}
			if tc.ok {
				return
			}
			require.NotContains(t, msg, "d (", "at most three tables named")
		})
	}
}

// TestStartWarnsAboutVacuum: an orchestrator starting on tables that are
// not vacuumed says so in its log, naming the table.
func TestStartWarnsAboutVacuum(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, err := h.pool.Exec(h.ctx, `ALTER TABLE workflow_steps SET (autovacuum_enabled = false)`)
	require.NoError(t, err)
	var logs testlog.Buffer
	svc, err := server.Open(h.ctx, server.OpenOptions{Config: h.config(), Infra: h.infra,
		Metrics: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.NoError(t, svc.Start(h.ctx))
	require.NoError(t, svc.Stop(h.ctx))
	require.Contains(t, logs.String(), "dead rows are not being reclaimed")
	require.Contains(t, logs.String(), "autovacuum is disabled on workflow_steps")
}
