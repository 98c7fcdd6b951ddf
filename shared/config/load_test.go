package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadDeepMergeTablesMergeArraysReplace(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/base.toml": `
[database]
schema = "base_schema"
[database.pool]
max_connections = 30
min_connections = 3
[templates]
search_paths = ["a", "b", "c"]
`,
		"shared/environments/test.toml": `
[database.pool]
max_connections = 12
[templates]
search_paths = ["z"]
`,
		"worker/base.toml": `
[database.pool]
acquire_timeout = "3s"
[worker]
namespaces = ["one", "two"]
`,
		"worker/environments/test.toml": `
[worker]
namespaces = ["three"]
`,
	})
	cfg, err := Load(LoadOptions{Root: root, Context: ContextWorker, Env: EnvTest})
	require.NoError(t, err)

	// Tables merge key by key across all four layers.
	require.Equal(t, "base_schema", cfg.Database.Schema)
	require.Equal(t, 12, cfg.Database.Pool.MaxConnections)
	require.Equal(t, 3, cfg.Database.Pool.MinConnections)
	require.Equal(t, 3*time.Second, cfg.Database.Pool.AcquireTimeout)
	require.Equal(t, 5*time.Minute, cfg.Database.Pool.IdleTimeout, "untouched keys keep the built-in default")
	// Arrays replace rather than append.
	require.Equal(t, []string{"z"}, cfg.Templates.SearchPaths)
	require.Equal(t, []string{"three"}, cfg.Worker.Namespaces)
	require.Equal(t, ContextWorker, cfg.Context)
	require.Equal(t, EnvTest, cfg.Env)
	require.Nil(t, cfg.Orchestration)
}

func TestLoadContextsGetTheirSections(t *testing.T) {
	for _, ctx := range Contexts {
		cfg, err := Load(LoadOptions{Context: ctx})
		require.NoError(t, err)
		require.Equal(t, ctx == ContextOrchestration, cfg.Orchestration != nil, ctx)
		require.Equal(t, ctx == ContextWorker, cfg.Worker != nil, ctx)
	}
}

func TestLoadEnvironmentSelection(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/environments/test.toml":        "[database]\nschema = \"from_test\"\n",
		"shared/environments/production.toml":  "[database]\nschema = \"from_production\"\n",
		"shared/environments/development.toml": "[database]\nschema = \"from_development\"\n",
	})
	load := func(env string, environ ...string) (*Config, error) {
		return Load(LoadOptions{Root: root, Context: ContextShared, Env: env, Environ: environ})
	}

	cfg, err := load("")
	require.NoError(t, err)
	require.Equal(t, EnvDevelopment, cfg.Env, "no TASKER_ENV means development")
	require.Equal(t, "from_development", cfg.Database.Schema)

	cfg, err = load("", "TASKER_ENV=test")
	require.NoError(t, err)
	require.Equal(t, EnvTest, cfg.Env)
	require.Equal(t, "from_test", cfg.Database.Schema)

	cfg, err = load("production", "TASKER_ENV=test")
	require.NoError(t, err)
	require.Equal(t, "from_production", cfg.Database.Schema, "LoadOptions.Env wins over TASKER_ENV")

	_, err = load("", "TASKER_ENV=staging")
	requireProblem(t, err, "environment variable TASKER_ENV", `unknown environment "staging"`, `"test", "development" or "production"`)

	_, err = load("Production")
	requireProblem(t, err, `unknown environment "Production"`)
}

func TestLoadEnvironmentFileIsOptionalBaseIsNot(t *testing.T) {
	root := writeTree(t, map[string]string{})
	_, err := Load(LoadOptions{Root: root, Context: ContextOrchestration, Env: EnvProduction})
	require.NoError(t, err, "missing environments/<env>.toml files are fine")

	root = t.TempDir()
	_, err = Load(LoadOptions{Root: root, Context: ContextShared})
	requireProblem(t, err, filepath.Join(root, "shared", "base.toml"), "file not found")

	_, err = Load(LoadOptions{Root: filepath.Join(root, "nope"), Context: ContextShared})
	requireProblem(t, err, "config root", "no such file")
}

func TestLoadUnknownContext(t *testing.T) {
	_, err := Load(LoadOptions{Context: "scheduler"})
	requireProblem(t, err, `unknown context "scheduler"`)
}

func TestLoadUnknownKeysNameKeyAndFile(t *testing.T) {
	root := writeTree(t, map[string]string{
		"orchestration/base.toml": `
[orchestration.web]
bind_adress = ":9000"
`,
		"shared/environments/test.toml": `
[database.pool]
max_conections = 3
[cache]
enabled = true
`,
	})
	_, err := Load(LoadOptions{Root: root, Context: ContextOrchestration, Env: EnvTest})
	base := filepath.Join(root, "orchestration", "base.toml")
	test := filepath.Join(root, "shared", "environments", "test.toml")
	requireProblem(t, err, base+`: unknown key "orchestration.web.bind_adress" (did you mean "orchestration.web.bind_address"?)`)
	requireProblem(t, err, test+`: unknown key "database.pool.max_conections"`, `did you mean "database.pool.max_connections"`)
	requireProblem(t, err, test+`: unknown key "cache"`)
	require.Len(t, problemsOf(t, err), 3, "each problem once: %v", err)
}

// The [backoff] keys strategy, base, max and multiplier were never used
// (a step's backoff is its template's); a file or override that still sets
// one fails like any unknown key, saying why.
func TestLoadRemovedBackoffKeysAreUnknown(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/base.toml": `
[backoff]
strategy = "linear"
base = "1s"
max = "60s"
multiplier = 2.0
jitter = false
`,
	})
	_, err := Load(LoadOptions{Root: root, Context: ContextShared, Environ: []string{"TASKER__BACKOFF__MAX=5s"}})
	base := filepath.Join(root, "shared", "base.toml")
	for _, key := range []string{"strategy", "base", "max", "multiplier"} {
		requireProblem(t, err, base+`: unknown key "backoff.`+key+`": removed`, "template's retry block")
	}
	requireProblem(t, err, `environment variable TASKER__BACKOFF__MAX: unknown key "backoff.max": removed`)
	require.Len(t, problemsOf(t, err), 5, "%v", err)
	var ps Problems
	require.ErrorAs(t, err, &ps)
	for _, p := range ps {
		require.True(t, p.Unknown, p.Error())
	}
}

// database.url comes from, strongest first: TASKER__DATABASE__URL,
// DATABASE_URL, the files, the built-in default.
func TestLoadDatabaseURLPrecedence(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/base.toml": "[database]\nurl = \"postgres://from-file/db\"\n",
	})
	const (
		file     = "postgres://from-file/db"
		variable = "DATABASE_URL=postgres://from-var/db"
		override = "TASKER__DATABASE__URL=postgres://from-override/db"
	)
	for _, tc := range []struct {
		root    string
		environ []string
		want    string
	}{
		{want: "postgres://postgres@127.0.0.1:5432/tasker?sslmode=disable"},
		{root: root, want: file},
		{root: root, environ: []string{variable}, want: "postgres://from-var/db"},
		{root: root, environ: []string{"DATABASE_URL="}, want: file},
		{root: root, environ: []string{variable, override}, want: "postgres://from-override/db"},
		{environ: []string{override}, want: "postgres://from-override/db"},
	} {
		for _, ctx := range Contexts {
			cfg, err := Load(LoadOptions{Root: tc.root, Context: ctx, Environ: tc.environ})
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.Database.URL, "root %q, environ %v, context %s", tc.root, tc.environ, ctx)
		}
	}
}

func TestLoadSectionOfAnotherContextIsUnknown(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/base.toml":        "[worker]\nworker_id = \"w\"\n",
		"orchestration/base.toml": "[worker.handlers]\nmax_concurrent = 3\n",
	})
	_, err := Load(LoadOptions{Root: root, Context: ContextOrchestration})
	requireProblem(t, err, filepath.Join(root, "shared", "base.toml"), `unknown key "worker"`, "belongs in the worker files")
	requireProblem(t, err, filepath.Join(root, "orchestration", "base.toml"), `unknown key "worker"`)
}

func TestLoadContextFileMayOverrideSharedSections(t *testing.T) {
	root := writeTree(t, map[string]string{
		"worker/base.toml": "[database.pool]\nmax_connections = 7\n",
	})
	w, err := Load(LoadOptions{Root: root, Context: ContextWorker})
	require.NoError(t, err)
	require.Equal(t, 7, w.Database.Pool.MaxConnections)

	o, err := Load(LoadOptions{Root: root, Context: ContextOrchestration})
	require.NoError(t, err)
	require.Equal(t, 25, o.Database.Pool.MaxConnections, "the worker's override does not leak into orchestration")
}

func TestLoadBadValuesAreAllReported(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/base.toml": `
[database]
statement_timeout = 30
schema = "Bad-Schema"
[database.pool]
max_connections = "many"
min_connections = 2.5
idle_timeout = "5 minutes"
[queues]
backend = "kafka"
[backoff]
jitter = "yes"
jitter_max_fraction = 1.5
[templates]
search_paths = ["ok", 3]
`,
		"orchestration/base.toml": `
[orchestration.staleness]
action = "delete"
batch_size = 0
[orchestration.web]
bind_address = "localhost"
max_body_bytes = 10
backpressure = 5
`,
	})
	_, err := Load(LoadOptions{Root: root, Context: ContextOrchestration})
	base := filepath.Join(root, "shared", "base.toml") + ": "
	obase := filepath.Join(root, "orchestration", "base.toml") + ": "
	// Type problems, found in the file itself.
	requireProblem(t, err, base+`database.statement_timeout: expected a duration string such as "30s"`, "got integer 30")
	requireProblem(t, err, base+`database.pool.max_connections: expected an integer, got string "many"`)
	requireProblem(t, err, base+"database.pool.min_connections: expected an integer, got float 2.5")
	requireProblem(t, err, base+`database.pool.idle_timeout: invalid duration "5 minutes"`)
	requireProblem(t, err, base+`backoff.jitter: expected a boolean (true or false), got string "yes"`)
	requireProblem(t, err, base+"templates.search_paths: expected an array of strings, but element 2 is integer 3")
	requireProblem(t, err, obase+"orchestration.web.backpressure: expected a table, got integer 5")
	// Value problems, found by Validate after the merge, in the same run.
	requireProblem(t, err, base+`database.schema: invalid schema name "Bad-Schema"`)
	requireProblem(t, err, base+`queues.backend: unknown value "kafka": want one of "postgres" or "rabbitmq"`)
	requireProblem(t, err, base+"backoff.jitter_max_fraction: must be at least 0 and below 1, got 1.5")
	requireProblem(t, err, obase+`orchestration.staleness.action: unknown value "delete": want one of "dlq", "error" or "none"`)
	requireProblem(t, err, obase+"orchestration.staleness.batch_size: must be between 1 and 10000, got 0")
	requireProblem(t, err, obase+`orchestration.web.bind_address: invalid listen address "localhost"`)
	requireProblem(t, err, obase+"orchestration.web.max_body_bytes: must be between 1024 and 1073741824, got 10")
	require.Len(t, problemsOf(t, err), 14, "each problem exactly once:\n%v", err)
}

func TestLoadRangeProblemsAcrossKeys(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/environments/test.toml": `
[database.pool]
max_connections = 4
min_connections = 5
[queues.depth_thresholds]
warning = 100
critical = 50
overflow = 10
`,
		"worker/environments/test.toml": `
[worker.claims]
visibility_timeout = "5s"
heartbeat_interval = "5s"
[worker.handlers]
max_concurrent = 2
min_concurrent = 3
`,
	})
	_, err := Load(LoadOptions{Root: root, Context: ContextWorker, Env: EnvTest})
	requireProblem(t, err, "database.pool.min_connections: must not exceed max_connections (4), got 5")
	requireProblem(t, err, "queues.depth_thresholds.critical: must be at least warning (100), got 50")
	requireProblem(t, err, "queues.depth_thresholds.overflow: must be at least critical (50), got 10")
	requireProblem(t, err, "worker.claims.heartbeat_interval: must be shorter than visibility_timeout (5s), got 5s")
	requireProblem(t, err, "worker/environments/test.toml: worker.handlers.min_concurrent: must not exceed max_concurrent (2), got 3")
}

func TestLoadTOMLSyntaxErrorHasPosition(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/base.toml": "[database]\nschema = \"x\"\npool = {\n",
	})
	_, err := Load(LoadOptions{Root: root, Context: ContextShared})
	requireProblem(t, err, filepath.Join(root, "shared", "base.toml")+":3:", "invalid TOML")
}

func TestLoadDuplicateKeyIsASyntaxError(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/base.toml": "[database]\nschema = \"x\"\nschema = \"y\"\n",
	})
	_, err := Load(LoadOptions{Root: root, Context: ContextShared})
	requireProblem(t, err, "invalid TOML")
}
