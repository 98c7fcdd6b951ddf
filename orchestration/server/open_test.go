package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/listen"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const openYAML = `name: open
namespace_name: open_ns
version: "1"
steps:
  - {name: only, handler: {callable: open.only}}
`

// TestOpenWithNoOptions: a program that sets nothing runs against the
// database and schema the environment names, as tasker server does: the
// REST API listens, creates tasks on the core, and Run stops everything
// when its context ends.
func TestOpenWithNoOptions(t *testing.T) {
	db := testdb.New(t)
	t.Setenv("DATABASE_URL", db.URL)
	t.Setenv("TASKER__DATABASE__SCHEMA", db.Schema)
	t.Setenv("TASKER_ENV", "test")
	t.Setenv("TASKER__ORCHESTRATION__WEB__BIND_ADDRESS", "127.0.0.1:0")
	t.Setenv(infra.ConfigRootEnv, "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s, err := Open(ctx, OpenOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(s.InstanceID(), "orchestration-"), s.InstanceID())
	require.Equal(t, config.EnvTest, s.Config().Env)
	require.Equal(t, db.Schema, s.Config().Database.Schema)
	require.Empty(t, s.Addr(), "nothing listens before Start")
	tpls, err := template.Parse([]byte(openYAML), "open.yaml", template.ParseOptions{})
	require.NoError(t, err)
	_, err = s.Infra().Store.RegisterTemplates(ctx, tpls)
	require.NoError(t, err)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	require.Eventually(t, func() bool { return s.Addr() != "" }, 30*time.Second, 10*time.Millisecond)

	body := `{"namespace": "open_ns", "name": "open", "version": "1", "context": {}}`
	res, err := http.Post("http://"+s.Addr()+"/v1/tasks", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusCreated, res.StatusCode, "body: %s", b)
	var created struct {
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal(b, &created))
	require.Equal(t, string(state.TaskStepsInProcess), created.Status, "the core enqueued the first step")
	require.Eventually(t, s.Core().IsLeader, 30*time.Second, 10*time.Millisecond, "the loops run")

	addr := s.Addr()
	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "the REST API stopped listening")
	require.Error(t, s.Infra().Pool.Ping(ctx), "Stop closed the pool Open opened")
}

// TestOpenOnSharedInfra: with Infra the service runs on the caller's
// infrastructure and leaves it open; a busy port fails Start with the
// listener's error and leaves the core stopped.
func TestOpenOnSharedInfra(t *testing.T) {
	db := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := config.Default(config.ContextOrchestration)
	cfg.Database.URL, cfg.Database.Schema = db.URL, db.Schema
	cfg.Database.Pool.MinConnections = 0
	log := slog.New(slog.DiscardHandler)
	in, err := infra.Connect(ctx, cfg, "shared-infra", log)
	require.NoError(t, err)
	defer in.Close()

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	s, err := Open(ctx, OpenOptions{Config: cfg, Infra: in, BindAddress: busy.Addr().String(), InstanceID: "mine", Logger: log})
	require.NoError(t, err)
	require.Equal(t, "mine", s.InstanceID())
	require.Same(t, in, s.Infra())
	err = s.Start(ctx)
	var inUse *listen.InUseError
	require.ErrorAs(t, err, &inUse)
	require.NoError(t, s.Stop(ctx))
	require.NoError(t, in.Pool.Ping(ctx), "Stop leaves a shared infrastructure open")

	// Several services share one infrastructure: the second without an API.
	a, err := Open(ctx, OpenOptions{Config: cfg, Infra: in, BindAddress: "127.0.0.1:0", Logger: log})
	require.NoError(t, err)
	b, err := Open(ctx, OpenOptions{Config: cfg, Infra: in, Logger: log,
		Configure: func(c *config.Config) { c.Orchestration.Web.Enabled = false }})
	require.NoError(t, err)
	require.NoError(t, a.Start(ctx))
	require.NoError(t, b.Start(ctx))
	require.NotEmpty(t, a.Addr())
	require.Empty(t, b.Addr())
	_, err = a.Core().CreateTask(ctx, orchestration.TaskRequest{Namespace: "none", Name: "none"})
	require.ErrorIs(t, err, orchestration.ErrTemplateNotFound)
	require.NoError(t, b.Stop(ctx))
	require.NoError(t, a.Stop(ctx))
	require.NoError(t, a.Stop(ctx), "Stop may be called again")
	require.NoError(t, in.Pool.Ping(ctx))
}

// TestOpenWithoutSchema: a database that was never migrated is named, and
// nothing stays open.
func TestOpenWithoutSchema(t *testing.T) {
	db := testdb.Empty(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Open(ctx, OpenOptions{Environ: []string{}, DatabaseURL: db.URL, Schema: db.Schema,
		Logger: slog.New(slog.DiscardHandler)})
	require.ErrorIs(t, err, infra.ErrNoSchema)
	require.ErrorContains(t, err, db.Schema)
}

// TestOpenConfigurationOrder: each source wins over the ones before it, in
// the order OpenOptions documents, and the result is validated once.
func TestOpenConfigurationOrder(t *testing.T) {
	var seen *config.Config
	cfg, err := openConfig(OpenOptions{
		Environ: []string{
			"TASKER_ENV=test",
			"DATABASE_URL=postgres://environment/db",
			"TASKER__DATABASE__SCHEMA=from_env",
			"TASKER__ORCHESTRATION__RESULTS__BATCH_SIZE=3",
			"TASKER__ORCHESTRATION__REQUESTS__BATCH_SIZE=4",
			"TASKER__ORCHESTRATION__WEB__BIND_ADDRESS=127.0.0.1:9000",
		},
		Overrides:   map[string]any{"orchestration": map[string]any{"results": map[string]any{"batch_size": 8}}},
		DatabaseURL: "postgres://option/db",
		Schema:      "from_option",
		BindAddress: "127.0.0.1:0",
		Configure: func(c *config.Config) {
			seen = c
			c.Orchestration.Requests.BatchSize++
		},
		Name: "my-orchestrator",
	})
	require.NoError(t, err)
	require.Same(t, seen, cfg)
	require.Equal(t, config.EnvTest, cfg.Env)
	require.Equal(t, "postgres://option/db", cfg.Database.URL)
	require.Equal(t, "from_option", cfg.Database.Schema)
	require.Equal(t, 8, cfg.Orchestration.Results.BatchSize, "Overrides win over the environment")
	require.Equal(t, 5, cfg.Orchestration.Requests.BatchSize, "Configure runs last")
	require.Equal(t, "127.0.0.1:0", cfg.Orchestration.Web.BindAddress)
	host, _ := os.Hostname()
	require.Equal(t, "my-orchestrator-"+host+"-"+strconv.Itoa(os.Getpid()), cfg.Orchestration.InstanceID)

	cfg, err = openConfig(OpenOptions{Environ: []string{"TASKER__ORCHESTRATION__INSTANCE_ID=from-env"}})
	require.NoError(t, err)
	require.Equal(t, "from-env", cfg.Orchestration.InstanceID)
	cfg, err = openConfig(OpenOptions{Environ: []string{"TASKER__ORCHESTRATION__INSTANCE_ID=from-env"}, InstanceID: "from-option"})
	require.NoError(t, err)
	require.Equal(t, "from-option", cfg.Orchestration.InstanceID)

	// Problems from every layer and from Configure come back as
	// config.Problems.
	var ps config.Problems
	_, err = openConfig(OpenOptions{Environ: []string{}, OverridesSource: "my flags",
		Overrides: map[string]any{"orchestration": map[string]any{"results": map[string]any{"batch_size": 0}}}})
	require.ErrorAs(t, err, &ps)
	require.ErrorContains(t, err, "my flags: orchestration.results.batch_size")
	_, err = openConfig(OpenOptions{Environ: []string{}, Configure: func(c *config.Config) { c.Orchestration.ShutdownTimeout = -1 }})
	require.ErrorAs(t, err, &ps)
	require.ErrorContains(t, err, "orchestration.shutdown_timeout")
	_, err = openConfig(OpenOptions{Environ: []string{}, BindAddress: "8080"})
	require.ErrorContains(t, err, `server: BindAddress "8080": want host:port`)

	// A configuration given whole is used as it is, on a copy.
	given := config.Default(config.ContextOrchestration)
	cfg, err = openConfig(OpenOptions{Config: given, BindAddress: "127.0.0.1:0"})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:0", cfg.Orchestration.Web.BindAddress)
	require.Equal(t, ":8080", given.Orchestration.Web.BindAddress, "the caller's configuration is not changed")
	require.Empty(t, given.Orchestration.InstanceID)
	_, err = openConfig(OpenOptions{Config: given, Schema: "x"})
	require.EqualError(t, err, "server: OpenOptions.Config excludes ConfigRoot, Environment, Environ, Overrides, DatabaseURL and Schema")
	_, err = openConfig(OpenOptions{Config: config.Default(config.ContextWorker)})
	require.EqualError(t, err, `server: OpenOptions.Config has no [orchestration] section (context "worker")`)
	_, err = openConfig(OpenOptions{Config: given, Configure: func(c *config.Config) { c.Orchestration = nil }})
	require.True(t, err != nil && !errors.As(err, &ps), "a removed section is not a configuration problem: %v", err)
}
