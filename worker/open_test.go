package worker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

const openYAML = `name: open
namespace_name: open_ns
version: "1"
steps:
  - {name: first, handler: {callable: open.first}}
  - {name: second, dependencies: [first], handler: {callable: open.second}}
`

// TestOpenWithOnlyARegistry: a program that sets nothing but its handlers
// runs against the database, schema and template path the environment
// names, as tasker-worker does, and Run stops when its context ends.
func TestOpenWithOnlyARegistry(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "open.yaml"), openYAML))
	t.Setenv("DATABASE_URL", h.db.URL)
	t.Setenv("TASKER__DATABASE__SCHEMA", h.db.Schema)
	t.Setenv("TASKER_ENV", "test")
	t.Setenv("TASKER_TEMPLATE_PATH", dir)
	t.Setenv("TASKER__WORKER__WEB__BIND_ADDRESS", "127.0.0.1:0")
	t.Setenv(infra.ConfigRootEnv, "")

	reg := NewRegistry()
	handle(t, reg, "open.first", func(context.Context, *Step[struct{}]) (any, error) {
		return map[string]int{"value": 20}, nil
	})
	handle(t, reg, "open.second", func(_ context.Context, s *Step[struct{}]) (any, error) {
		v, err := Dependency[struct{ Value int }](s, "first")
		if err != nil {
			return nil, err
		}
		return map[string]int{"value": v.Value + 1}, nil
	})
	w, err := Open(h.ctx, OpenOptions{Registry: reg})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(w.Core().WorkerID(), "tasker-worker-"), w.Core().WorkerID())
	require.Equal(t, config.EnvTest, w.Config().Env)
	require.Equal(t, h.db.Schema, w.Config().Database.Schema)

	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	h.waitFor("the worker to start", func() bool { return len(w.Core().Namespaces()) == 1 })
	require.Equal(t, []string{"open_ns"}, w.Core().Namespaces())

	h.orchestrate()
	tpl := parseTemplate(t, openYAML)
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the task to complete", func() bool { return h.taskState(tk.id) == state.TaskComplete })
	require.JSONEq(t, `{"value": 21}`, string(stepresult.Parse(h.step(tk, "second").Results).Result))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	require.Error(t, w.Infra().Pool.Ping(h.ctx), "Stop closed the pool Open opened")
}

// TestOpenConfigurationOrder: each source wins over the ones before it, in
// the order OpenOptions documents, and the result is validated once.
func TestOpenConfigurationOrder(t *testing.T) {
	dir := t.TempDir()
	var seen *config.Config
	cfg, err := openConfig(OpenOptions{
		Environ: []string{
			"TASKER_ENV=test",
			"DATABASE_URL=postgres://environment/db",
			"TASKER_TEMPLATE_PATH=/from/env",
			"TASKER__WORKER__HANDLERS__MAX_CONCURRENT=3",
			"TASKER__WORKER__CLAIMS__BATCH_SIZE=4",
			"TASKER__WORKER__NAMESPACES=env_ns",
		},
		Overrides:     map[string]any{"worker": map[string]any{"handlers": map[string]any{"max_concurrent": 8}}},
		DatabaseURL:   "postgres://option/db",
		TemplatePaths: []string{dir},
		Namespaces:    []string{"opt_ns"},
		Configure: func(c *config.Config) {
			seen = c
			c.Worker.Claims.BatchSize++
		},
		Name: "my-worker",
	})
	require.NoError(t, err)
	require.Same(t, seen, cfg)
	require.Equal(t, config.EnvTest, cfg.Env)
	require.Equal(t, "postgres://option/db", cfg.Database.URL)
	require.Equal(t, []string{"/from/env", dir}, cfg.Templates.SearchPaths)
	require.Equal(t, 8, cfg.Worker.Handlers.MaxConcurrent, "Overrides win over the environment")
	require.Equal(t, 5, cfg.Worker.Claims.BatchSize, "Configure runs last")
	require.Equal(t, []string{"opt_ns"}, cfg.Worker.Namespaces)
	host, _ := os.Hostname()
	require.Equal(t, "my-worker-"+host+"-"+strconv.Itoa(os.Getpid()), cfg.Worker.WorkerID)

	cfg, err = openConfig(OpenOptions{Environ: []string{"TASKER__WORKER__WORKER_ID=from-env"}})
	require.NoError(t, err)
	require.Equal(t, "from-env", cfg.Worker.WorkerID)
	cfg, err = openConfig(OpenOptions{Environ: []string{"TASKER__WORKER__WORKER_ID=from-env"}, WorkerID: "from-option"})
	require.NoError(t, err)
	require.Equal(t, "from-option", cfg.Worker.WorkerID)

	// Problems from every layer and from Configure come back as
	// config.Problems.
	_, err = openConfig(OpenOptions{Environ: []string{}, OverridesSource: "my flags",
		Overrides: map[string]any{"worker": map[string]any{"claims": map[string]any{"batch_size": 0}}}})
	var ps config.Problems
	require.ErrorAs(t, err, &ps)
	require.ErrorContains(t, err, "my flags: worker.claims.batch_size: must be between 1 and 10000, got 0")
	_, err = openConfig(OpenOptions{Environ: []string{}, Namespaces: []string{"not a namespace"}})
	require.ErrorAs(t, err, &ps)
	require.ErrorContains(t, err, `invalid namespace "not a namespace"`)
	_, err = openConfig(OpenOptions{Environ: []string{}, Configure: func(c *config.Config) { c.Worker.ShutdownGrace = 0 }})
	require.ErrorAs(t, err, &ps)
	require.ErrorContains(t, err, "worker.shutdown_grace")

	// A configuration given whole is used as it is, on a copy.
	given := config.Default(config.ContextWorker)
	cfg, err = openConfig(OpenOptions{Config: given, Namespaces: []string{"x"}})
	require.NoError(t, err)
	require.Equal(t, []string{"x"}, cfg.Worker.Namespaces)
	require.Empty(t, given.Worker.Namespaces, "the caller's configuration is not changed")
	_, err = openConfig(OpenOptions{Config: given, Environ: []string{}})
	require.EqualError(t, err, "worker: OpenOptions.Config excludes ConfigRoot, Environment, Environ, Overrides and DatabaseURL")
	_, err = openConfig(OpenOptions{Config: config.Default(config.ContextShared)})
	require.EqualError(t, err, `worker: OpenOptions.Config has no [worker] section (context "shared")`)
}

// TestOpenErrors: a database that was never migrated and one that does not
// answer are explained, the latter without the password; nothing is left
// open.
func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	empty := testdb.Empty(t)
	_, err := Open(ctx, OpenOptions{Environ: []string{"TASKER_ENV=test"}, DatabaseURL: empty.URL,
		Overrides: map[string]any{"database": map[string]any{"schema": empty.Schema}}})
	require.ErrorIs(t, err, infra.ErrNoSchema)

	_, err = Open(ctx, OpenOptions{Environ: []string{},
		DatabaseURL: "postgres://someone:s3cret@127.0.0.1:1/db?connect_timeout=2"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")

	_, err = Open(ctx, OpenOptions{Environ: []string{"TASKER_ENV=staging"}})
	var ps config.Problems
	require.True(t, errors.As(err, &ps), "%v", err)
}

// TestOpenOnSharedInfra: a worker opened on infrastructure the program owns
// runs on it and leaves it open when it stops.
func TestOpenOnSharedInfra(t *testing.T) {
	h := newHarness(t)
	cfg := config.Default(config.ContextWorker)
	cfg.Database.URL, cfg.Database.Schema = h.db.URL, h.db.Schema
	cfg.Database.Pool.MinConnections = 0
	in, err := infra.Connect(h.ctx, cfg, "shared-infra-test", testLogger())
	require.NoError(t, err)
	defer in.Close()
	cfg.Worker.Web.Enabled = false
	cfg.Templates.SearchPaths = nil
	w, err := Open(h.ctx, OpenOptions{Config: cfg, Infra: in, Templates: nil, Namespaces: []string{"shared_ns"},
		Logger: testLogger(), Hostname: "test-host"})
	require.NoError(t, err)
	require.Same(t, in, w.Infra())
	require.NoError(t, w.Start(h.ctx))
	require.Equal(t, []string{"shared_ns"}, w.Core().Namespaces())
	require.NoError(t, w.Stop(h.ctx))
	require.NoError(t, w.Stop(h.ctx), "Stop may be called again")
	require.NoError(t, in.Pool.Ping(h.ctx), "the program's pool is still open")
}

// TestBeginShutdown: the worker stops claiming at once, a handler already
// running finishes and its result is committed, and Stop completes the
// shutdown.
func TestBeginShutdown(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: drain
namespace_name: drain_ns
version: "1"
steps:
  - {name: slow, handler: {callable: drain.slow}}
`)
	started, release := make(chan struct{}), make(chan struct{})
	reg := NewRegistry()
	handle(t, reg, "drain.slow", func(context.Context, *Step[struct{}]) (any, error) {
		close(started)
		<-release
		return map[string]bool{"drained": true}, nil
	})
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg})
	tk := h.createTask(tpl, `{}`)
	<-started
	c.BeginShutdown()
	require.Equal(t, "stopping", c.stateName())
	loops := make(chan struct{})
	go func() {
		c.claimLoops.Wait()
		close(loops)
	}()
	select {
	case <-loops:
	case <-time.After(10 * time.Second):
		t.Fatal("the claim loops did not stop")
	}
	c.BeginShutdown() // again: nothing happens
	close(release)
	h.waitFor("the running step's result to be committed", func() bool {
		return h.step(tk, "slow").State == state.StepEnqueuedForOrchestration
	})
	require.NoError(t, c.Stop(h.ctx))
	require.Equal(t, "stopped", c.stateName())
}
