package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testlog"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// runningServer is `tasker server` running in-process.
type runningServer struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the command returned; err is then set
	err    error
	lines  chan string
	logs   *testlog.Buffer
}

var urlRE = regexp.MustCompile(`REST API on (http://\S+)`)

func startServerCmd(t *testing.T, args ...string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	rs := &runningServer{cancel: cancel, done: make(chan struct{}), lines: make(chan string, 100), logs: &testlog.Buffer{}}
	cmd := newServerCmd()
	cmd.SetOut(pw)
	cmd.SetErr(rs.logs)
	cmd.SetArgs(append([]string{"--env", "test", "--bind", "127.0.0.1:0"}, args...))
	go func() {
		rs.err = cmd.ExecuteContext(ctx)
		_ = pw.Close()
		close(rs.done)
	}()
	go func() {
		defer close(rs.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			rs.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-rs.done
	})
	return rs
}

// waitURL reads output until the server prints its URL (or exits).
func (rs *runningServer) waitURL(t *testing.T) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-rs.lines:
			require.True(t, ok, "the server exited before listening; logs:\n%s", rs.logs.String())
			if m := urlRE.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		case <-timeout:
			t.Fatalf("the server did not print its URL; logs:\n%s", rs.logs.String())
		}
	}
}

func TestServerCommand(t *testing.T) {
	db := testdb.New(t)
	rs := startServerCmd(t, "--database-url", db.URL, "--schema", db.Schema)
	base := rs.waitURL(t)
	client := &http.Client{Timeout: 10 * time.Second}
	require.Eventually(t, func() bool {
		res, err := client.Get(base + "/health")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)

	// Register a template as a worker would, then create a task over HTTP.
	tpls, err := template.ParseFile(filepath.Join(testdb.FixturesDir(t), "task_templates", "rust", "mathematical_sequence.yaml"), template.ParseOptions{})
	require.NoError(t, err)
	pool := db.Pool(t, 2)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	_, err = st.RegisterTemplates(context.Background(), tpls)
	require.NoError(t, err)
	body, _ := json.Marshal(map[string]any{"namespace": tpls[0].NamespaceName, "name": tpls[0].Name,
		"version": tpls[0].Version, "context": map[string]any{"even_number": 4}, "idempotency_key": uuid.NewString()})
	res, err := client.Post(base+"/v1/tasks", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	var created struct {
		TaskUUID uuid.UUID `json:"task_uuid"`
		Status   string    `json:"status"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&created))
	_ = res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	require.NotEqual(t, uuid.Nil, created.TaskUUID)

	start := time.Now()
	rs.cancel()
	select {
	case <-rs.done:
		require.NoError(t, rs.err)
	case <-time.After(10 * time.Second):
		t.Fatal("tasker server did not exit after its context was cancelled")
	}
	require.Less(t, time.Since(start), 6*time.Second, "stops within the shutdown timeout")
	var rest []string
	for line := range rs.lines {
		rest = append(rest, line)
	}
	require.Contains(t, strings.Join(rest, "\n"), "tasker server stopped")
}

func TestServerCommandNeedsSchema(t *testing.T) {
	db := testdb.Empty(t)
	rs := startServerCmd(t, "--database-url", db.URL, "--schema", db.Schema)
	select {
	case <-rs.done:
		require.ErrorContains(t, rs.err, "tasker migrate up")
		require.ErrorContains(t, rs.err, "--migrate")
	case <-time.After(30 * time.Second):
		t.Fatal("tasker server did not refuse a database without the schema")
	}
}

func TestServerCommandMigrates(t *testing.T) {
	db := testdb.Empty(t)
	rs := startServerCmd(t, "--database-url", db.URL, "--schema", db.Schema, "--migrate")
	base := rs.waitURL(t)
	res, err := http.Get(base + "/health/ready")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	rs.cancel()
	<-rs.done
	require.NoError(t, rs.err)
}

func TestServerCommandFlags(t *testing.T) {
	rs := startServerCmd(t, "--bind", "no-port")
	<-rs.done
	require.ErrorContains(t, rs.err, "--bind")
	require.Equal(t, "http://localhost:8080", displayURL("[::]:8080"))
	require.Equal(t, "http://127.0.0.1:9", displayURL("127.0.0.1:9"))
}

// TestServerCommandBusyPort: a taken port stops the server with a message
// naming the port and how to pick another.
func TestServerCommandBusyPort(t *testing.T) {
	db := testdb.New(t)
	addr, port := occupy(t)
	rs := startServerCmd(t, "--database-url", db.URL, "--schema", db.Schema, "--bind", addr)
	select {
	case <-rs.done:
		require.ErrorContains(t, rs.err, "port "+port+" is already in use (REST API address "+addr+")")
		require.ErrorContains(t, rs.err, "--bind 127.0.0.1:0 picks a free port")
	case <-time.After(30 * time.Second):
		t.Fatal("tasker server did not refuse a busy port")
	}
}
