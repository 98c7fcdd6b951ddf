package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOverridesEveryType(t *testing.T) {
	cfg, err := Load(LoadOptions{Context: ContextOrchestration, Env: EnvTest, Environ: []string{
		"TASKER__DATABASE__POOL__MAX_CONNECTIONS=40",                // int
		"TASKER__ORCHESTRATION__LEADER__LOCK_KEY=-9000000000000000", // int64
		"TASKER__BACKOFF__JITTER=false",                             // bool
		"TASKER__ORCHESTRATION__STALENESS__DRY_RUN=1",               // bool
		"TASKER__QUEUES__VISIBILITY_TIMEOUT=45s",                    // duration
		"TASKER__BACKOFF__JITTER_MAX_FRACTION=0.25",                 // float
		"TASKER__TEMPLATES__SEARCH_PATHS=/a, /b ,,/c",               // string list
		"TASKER__ORCHESTRATION__WEB__BIND_ADDRESS=:9000",            // string
		"tasker__database__schema=lower_case_name",                  // names are case-insensitive
		"Tasker__Queues__Backend=rabbitmq",                          // typed string
	}})
	require.NoError(t, err)
	require.Equal(t, 40, cfg.Database.Pool.MaxConnections)
	require.Equal(t, int64(-9000000000000000), cfg.Orchestration.Leader.LockKey)
	require.False(t, cfg.Backoff.Jitter)
	require.True(t, cfg.Orchestration.Staleness.DryRun)
	require.Equal(t, 45*time.Second, cfg.Queues.VisibilityTimeout)
	require.InDelta(t, 0.25, cfg.Backoff.JitterMaxFraction, 0)
	require.Equal(t, []string{"/a", "/b", "/c"}, cfg.Templates.SearchPaths)
	require.Equal(t, ":9000", cfg.Orchestration.Web.BindAddress)
	require.Equal(t, "lower_case_name", cfg.Database.Schema)
	require.Equal(t, BackendRabbitMQ, cfg.Queues.Backend)

	// An empty list override empties the list.
	cfg, err = Load(LoadOptions{Context: ContextWorker, Environ: []string{"TASKER__WORKER__NAMESPACES="}})
	require.NoError(t, err)
	require.Empty(t, cfg.Worker.Namespaces)
}

func TestOverridesWinOverFilesAndSubstitution(t *testing.T) {
	cfg, err := Load(LoadOptions{Context: ContextShared, Env: EnvProduction, Environ: []string{
		"DATABASE_URL=postgres://from-var/db",
		"TASKER__DATABASE__URL=postgres://from-override/db",
		"TASKER__DATABASE__POOL__MIN_CONNECTIONS=4",
	}})
	require.NoError(t, err)
	require.Equal(t, "postgres://from-override/db", cfg.Database.URL)
	require.Equal(t, 4, cfg.Database.Pool.MinConnections, "wins over production.toml's 10")
	require.Equal(t, 50, cfg.Database.Pool.MaxConnections, "production.toml still applies")
}

func TestOverrideValuesAreLiteral(t *testing.T) {
	cfg, err := Load(LoadOptions{Context: ContextOrchestration, Environ: []string{
		"TASKER__ORCHESTRATION__INSTANCE_ID=node-${HOSTNAME}",
		"HOSTNAME=h1",
	}})
	require.NoError(t, err)
	require.Equal(t, "node-${HOSTNAME}", cfg.Orchestration.InstanceID)
}

func TestOverrideProblems(t *testing.T) {
	_, err := Load(LoadOptions{Context: ContextOrchestration, Environ: []string{
		"TASKER__DATABASE__POOL__MAX_CONECTIONS=4",
		"TASKER__WEB__BIND_ADDRESS=:9000",
		"TASKER__DATABASE__POOL__MIN_CONNECTIONS=few",
		"TASKER__BACKOFF__JITTER=maybe",
		"TASKER__BACKOFF__JITTER_MAX_FRACTION=x2",
		"TASKER__QUEUES__POLL_INTERVAL=10",
		"TASKER__DATABASE__POOL=big",
		"TASKER__DATABASE__SCHEMA__NAME=x",
		"TASKER__DATABASE____URL=x",
		"TASKER__ORCHESTRATION__RESULTS__BATCH_SIZE=0",
	}})
	requireProblem(t, err, `environment variable TASKER__DATABASE__POOL__MAX_CONECTIONS: unknown key "database.pool.max_conections" (did you mean TASKER__DATABASE__POOL__MAX_CONNECTIONS?)`)
	requireProblem(t, err, `environment variable TASKER__WEB__BIND_ADDRESS: unknown key "web.bind_address"`)
	requireProblem(t, err, `environment variable TASKER__DATABASE__POOL__MIN_CONNECTIONS: database.pool.min_connections: invalid integer "few"`)
	requireProblem(t, err, `environment variable TASKER__BACKOFF__JITTER: backoff.jitter: invalid boolean "maybe"`)
	requireProblem(t, err, `environment variable TASKER__BACKOFF__JITTER_MAX_FRACTION: backoff.jitter_max_fraction: invalid number "x2"`)
	requireProblem(t, err, `environment variable TASKER__QUEUES__POLL_INTERVAL: queues.poll_interval: invalid duration "10"`)
	requireProblem(t, err, `environment variable TASKER__DATABASE__POOL: database.pool: is a table; override one of its keys, e.g. TASKER__DATABASE__POOL__MAX_CONNECTIONS`)
	requireProblem(t, err, `environment variable TASKER__DATABASE__SCHEMA__NAME: unknown key "database.schema.name" (database.schema is not a table)`)
	requireProblem(t, err, "environment variable TASKER__DATABASE____URL: malformed override name")
	// A well-typed but out-of-range override is a validation problem that
	// names the variable as its source.
	requireProblem(t, err, "environment variable TASKER__ORCHESTRATION__RESULTS__BATCH_SIZE: orchestration.results.batch_size: must be between 1 and 10000, got 0")
	require.Len(t, problemsOf(t, err), 10, "%v", err)
}

func TestOverridesForAnotherContextAreIgnored(t *testing.T) {
	environ := []string{
		"TASKER__WORKER__HANDLERS__MAX_CONCURRENT=99",
		"TASKER__ORCHESTRATION__WEB__BIND_ADDRESS=:9999",
	}
	o, err := Load(LoadOptions{Context: ContextOrchestration, Environ: environ})
	require.NoError(t, err)
	require.Equal(t, ":9999", o.Orchestration.Web.BindAddress)
	w, err := Load(LoadOptions{Context: ContextWorker, Environ: environ})
	require.NoError(t, err)
	require.Equal(t, 99, w.Worker.Handlers.MaxConcurrent)
	_, err = Load(LoadOptions{Context: ContextShared, Environ: environ})
	require.NoError(t, err)
}
