package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/devpg"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/store/migrations"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestPostgresRestartNeverAnswers500 keeps clients busy on reads and
// writes while a private PostgreSQL cluster shuts down and starts again:
// every answer is a success or 503 with Retry-After, never another 5xx.
func TestPostgresRestartNeverAnswers500(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a private PostgreSQL cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base, err := os.MkdirTemp("", "tasker-web-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755)) // the unprivileged server user must reach it
	pg, err := devpg.New(filepath.Join(base, "pg"))
	if err != nil {
		t.Skip("this test restarts a private cluster: ", err)
	}
	require.NoError(t, os.MkdirAll(pg.Dir, 0o755))
	require.NoError(t, pg.Init(ctx))
	require.NoError(t, pg.Start(ctx))
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	const schema = "tasker"
	require.NoError(t, migrations.Migrate(ctx, pg.URL(), schema))
	pool, err := store.Connect(ctx, store.PoolConfig{URL: pg.URL(), Schema: schema, MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	h := apiOn(t, pool, schema, nil)
	tpls, err := template.ParseFile(filepath.Join(testdb.FixturesDir(t), "task_templates", "rust/mathematical_sequence.yaml"),
		template.ParseOptions{})
	require.NoError(t, err)
	_, err = h.store.RegisterTemplates(ctx, tpls)
	require.NoError(t, err)
	tpl := tpls[0]
	first := h.createTask(tpl, input)

	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		bad      []string
		ok       atomic.Int64
	)
	requests := []func() (*http.Request, error){
		func() (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, h.http.URL+"/v1/tasks/"+first.TaskUUID.String(), nil)
		},
		func() (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, h.http.URL+"/v1/tasks?per_page=5", nil)
		},
		func() (*http.Request, error) {
			body, _ := json.Marshal(map[string]any{"namespace": tpl.NamespaceName, "name": tpl.Name, "version": tpl.Version,
				"context": json.RawMessage(input), "idempotency_key": uuid.NewString()})
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.http.URL+"/v1/tasks", bytes.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req, err
		},
		func() (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, h.http.URL+"/v1/dlq/stats", nil)
		},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, newReq := range requests {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, err := newReq()
				if err != nil {
					return
				}
				res, err := h.http.Client().Do(req)
				if err != nil {
					return
				}
				b, _ := io.ReadAll(res.Body)
				_ = res.Body.Close()
				mu.Lock()
				statuses[res.StatusCode]++
				if res.StatusCode >= 500 && (res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "") {
					bad = append(bad, fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, res.StatusCode, b))
				}
				mu.Unlock()
				if res.StatusCode < 300 {
					ok.Add(1)
				}
			}
		})
	}
	waitOK := func(n int64) {
		target := ok.Load() + n
		require.Eventually(t, func() bool { return ok.Load() >= target }, time.Minute, 5*time.Millisecond)
	}
	waitOK(100)
	require.NoError(t, pg.Stop(ctx))
	require.NoError(t, pg.Start(ctx))
	waitOK(100)
	close(stop)
	wg.Wait()
	t.Logf("answers by status: %v", statuses)
	require.Empty(t, bad)
}
