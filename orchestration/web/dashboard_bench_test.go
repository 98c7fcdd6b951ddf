package web_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/internal/historyload"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// BenchmarkDashboardAPI measures the API calls each dashboard page makes,
// over HTTP against a real server, with a large database: 100,000 finished
// linear tasks (400,000 steps and their history, written with COPY by the
// loader of tasker bench --history; TASKER_DASHBOARD_BENCH_TASKS changes
// the number) plus a few open tasks, a DLQ entry and tasks of a rare
// initiator. The table is vacuumed and analysed after the load, as
// autovacuum would. Run with
//
//	go test -run '^$' -bench BenchmarkDashboardAPI -benchtime 20x ./orchestration/web/
//
// Each sub-benchmark is one page load (the calls it makes in parallel are
// made one after the other here, so the figure is their sum). The
// overview's own call is asked with a different window each time, so its
// 2-second answer cache never answers.
func BenchmarkDashboardAPI(b *testing.B) {
	tasks := 100000
	if v := os.Getenv("TASKER_DASHBOARD_BENCH_TASKS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, "TASKER_DASHBOARD_BENCH_TASKS")
		tasks = n
	}
	h := newHarness(b, harnessOptions{timeout: 30 * time.Minute})
	tpls, err := template.ParseFile(filepath.Join("..", "..", "workers", "native", "templates", "linear.yaml"), template.ParseOptions{})
	require.NoError(b, err)
	_, err = h.store.RegisterTemplates(h.ctx, tpls)
	require.NoError(b, err)
	conn, err := pgx.Connect(h.ctx, h.db.URL)
	require.NoError(b, err)
	defer conn.Close(h.ctx)
	start := time.Now()
	loaded, err := historyload.Load(h.ctx, conn, h.db.Schema, tasks*4)
	require.NoError(b, err)
	for _, tbl := range []string{"tasks", "workflow_steps", "workflow_step_edges", "task_transitions", "workflow_step_transitions"} {
		_, err = conn.Exec(h.ctx, "VACUUM ANALYZE "+pgx.Identifier{h.db.Schema, tbl}.Sanitize())
		require.NoError(b, err)
	}
	b.Logf("loaded %d tasks (%d steps) in %.1f s, vacuumed and analysed in %.1f s in all", loaded.Tasks, loaded.Steps,
		loaded.LoadSeconds, time.Since(start).Seconds())

	linear := tpls[0]
	open := h.createTaskAs(linear, "rare-initiator")
	h.createTaskAs(linear, "rare-initiator")
	_, err = h.store.HandleStaleTask(h.ctx, store.StaleTask{
		TaskUUID: open.TaskUUID, Namespace: open.Namespace, TaskName: open.Name, State: state.TaskStepsInProcess,
		MinutesInState: 45, ThresholdMinutes: 30, CorrelationID: open.CorrelationID, RequestedAt: open.RequestedAt,
		CreatedAt: open.CreatedAt,
	}, store.StaleAction{DLQ: true})
	require.NoError(b, err)
	var mid api.TaskListResponse
	res := h.do(http.MethodGet, fmt.Sprintf("/v1/tasks?per_page=25&page=%d", tasks/50), nil)
	require.Equal(b, http.StatusOK, res.status)
	res.json(b, &mid)
	require.NotEmpty(b, mid.Pagination.NextCursor)
	deep := mid.Pagination.NextCursor // half way down the list
	task := mid.Tasks[0].TaskUUID.String()
	tplPath := "/v1/templates/" + linear.NamespaceName + "/" + linear.Name + "/" + linear.Version

	// A path that starts with "404 " is expected to answer 404 (a search
	// tries the text as a task UUID first).
	get := func(b *testing.B, path string) {
		want := http.StatusOK
		if p, ok := strings.CutPrefix(path, "404 "); ok {
			path, want = p, http.StatusNotFound
		}
		res := h.do(http.MethodGet, path, nil)
		if res.status != want {
			b.Fatalf("GET %s: %d %s", path, res.status, res.body)
		}
	}
	page := func(name string, paths func(i int) []string) {
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				for _, p := range paths(i) {
					get(b, p)
				}
			}
		})
	}
	taskStates := make([]string, len(state.TaskStates))
	for i, s := range state.TaskStates {
		taskStates[i] = "/v1/tasks?per_page=1&status=" + string(s)
	}
	page("overview", func(i int) []string {
		return []string{fmt.Sprintf("/v1/analytics/overview?minutes=%d&bucket_seconds=60", 30+i%400), "/health/detailed", "/v1/dlq/stats"}
	})
	page("overview_call_only", func(i int) []string {
		return []string{fmt.Sprintf("/v1/analytics/overview?minutes=%d&bucket_seconds=60", 30+i%400)}
	})
	page("health_detailed", func(int) []string { return []string{"/health/detailed"} })
	page("overview_24h", func(i int) []string {
		return []string{fmt.Sprintf("/v1/analytics/overview?minutes=%d&bucket_seconds=1800", 1440+30*(i%400))}
	})
	page("overview_before_12_counts", func(int) []string { return taskStates })
	page("tasks_first_page", func(int) []string { return []string{"/v1/tasks?per_page=25&count=capped"} })
	page("tasks_deep_cursor", func(int) []string { return []string{"/v1/tasks?per_page=25&count=capped&cursor=" + deep} })
	page("tasks_deep_offset_before", func(int) []string {
		return []string{fmt.Sprintf("/v1/tasks?per_page=25&page=%d", tasks/50)}
	})
	page("tasks_state_complete", func(int) []string { return []string{"/v1/tasks?per_page=25&count=capped&status=complete"} })
	page("tasks_rare_initiator", func(int) []string {
		return []string{"/v1/tasks?per_page=25&count=capped&initiator=rare-initiator"}
	})
	page("tasks_created_range", func(int) []string {
		from := time.Now().Add(-90 * time.Minute).UTC().Format(time.RFC3339)
		to := time.Now().Add(-70 * time.Minute).UTC().Format(time.RFC3339)
		return []string{"/v1/tasks?per_page=25&count=capped&created_from=" + from + "&created_to=" + to}
	})
	page("tasks_search_correlation_id", func(int) []string {
		return []string{"404 /v1/tasks/" + open.CorrelationID.String(), "/v1/tasks?per_page=25&count=capped&correlation_id=" + open.CorrelationID.String()}
	})
	page("task", func(int) []string { return []string{"/v1/tasks/" + task} })
	page("dlq", func(int) []string { return []string{"/v1/dlq?limit=51&offset=0"} })
	page("dlq_entry", func(int) []string { return []string{"/v1/dlq?limit=100&task_uuid=" + open.TaskUUID.String()} })
	page("templates", func(int) []string { return []string{"/v1/templates"} })
	page("template", func(int) []string { return []string{tplPath} })

	// The same lookups without migration 00012's indexes, for comparison.
	_, err = conn.Exec(h.ctx, "DROP INDEX "+pgx.Identifier{h.db.Schema, "tasks_initiator_idx"}.Sanitize()+", "+
		pgx.Identifier{h.db.Schema, "tasks_correlation_id_idx"}.Sanitize())
	require.NoError(b, err)
	page("tasks_rare_initiator_without_00012", func(int) []string {
		return []string{"/v1/tasks?per_page=25&count=capped&initiator=rare-initiator"}
	})
	page("tasks_search_correlation_id_without_00012", func(int) []string {
		return []string{"404 /v1/tasks/" + open.CorrelationID.String(), "/v1/tasks?per_page=25&count=capped&correlation_id=" + open.CorrelationID.String()}
	})
}
