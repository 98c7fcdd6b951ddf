package infra

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeRoot writes a configuration tree whose shared/base.toml is shared.
func writeRoot(t *testing.T, shared string) string {
	t.Helper()
	root := t.TempDir()
	for _, ctx := range config.Contexts {
		require.NoError(t, os.MkdirAll(filepath.Join(root, ctx), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, ctx, "base.toml"), nil, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "shared", "base.toml"), []byte(shared), 0o644))
	return root
}

// Every command takes the database URL from the same places, strongest
// first: the flag, TASKER__DATABASE__URL, DATABASE_URL, the files, the
// built-in default.
func TestLoadConfigDatabaseURLPrecedence(t *testing.T) {
	root := writeRoot(t, "[database]\nurl = \"postgres://file/db\"\nschema = \"from_file\"\n")
	const (
		variable = "DATABASE_URL=postgres://variable/db"
		override = "TASKER__DATABASE__URL=postgres://override/db"
		flag     = "postgres://flag/db"
	)
	for _, tc := range []struct {
		name    string
		flag    string
		environ []string
		want    string
	}{
		{name: "file", want: "postgres://file/db"},
		{name: "DATABASE_URL over the file", environ: []string{variable}, want: "postgres://variable/db"},
		{name: "TASKER__DATABASE__URL over DATABASE_URL", environ: []string{variable, override}, want: "postgres://override/db"},
		{name: "TASKER__DATABASE__URL alone", environ: []string{override}, want: "postgres://override/db"},
		{name: "the flag over everything", flag: flag, environ: []string{variable, override}, want: flag},
	} {
		for _, ctx := range config.Contexts {
			cfg, err := LoadConfig(ConfigOptions{Root: root, Context: ctx, DatabaseURL: tc.flag, Environ: tc.environ})
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.Database.URL, "%s (%s)", tc.name, ctx)
		}
	}

	cfg, err := LoadConfig(ConfigOptions{Context: config.ContextShared})
	require.NoError(t, err)
	require.Equal(t, "postgres://postgres@127.0.0.1:5432/tasker?sslmode=disable", cfg.Database.URL, "the built-in default")

	cfg, err = LoadConfig(ConfigOptions{Root: root, Context: config.ContextShared, Environ: []string{"TASKER__DATABASE__SCHEMA=from_env"}})
	require.NoError(t, err)
	require.Equal(t, "from_env", cfg.Database.Schema)
	cfg, err = LoadConfig(ConfigOptions{Root: root, Context: config.ContextShared, Schema: "from_flag", Environ: []string{"TASKER__DATABASE__SCHEMA=from_env"}})
	require.NoError(t, err)
	require.Equal(t, "from_flag", cfg.Database.Schema)
}

func TestLoadConfigRoot(t *testing.T) {
	fromEnv := writeRoot(t, "[database]\nschema = \"from_env_root\"\n")
	fromFlag := writeRoot(t, "[database]\nschema = \"from_flag_root\"\n")
	environ := []string{ConfigRootEnv + "=" + fromEnv, "TASKER_ENV=test"}

	cfg, err := LoadConfig(ConfigOptions{Context: config.ContextWorker, Environ: environ})
	require.NoError(t, err)
	require.Equal(t, "from_env_root", cfg.Database.Schema, "$TASKER_CONFIG_ROOT is the default root")
	require.Equal(t, config.EnvTest, cfg.Env)

	cfg, err = LoadConfig(ConfigOptions{Root: fromFlag, Context: config.ContextWorker, Env: config.EnvProduction, Environ: environ})
	require.NoError(t, err)
	require.Equal(t, "from_flag_root", cfg.Database.Schema, "the flag wins")
	require.Equal(t, config.EnvProduction, cfg.Env)

	_, err = LoadConfig(ConfigOptions{Context: config.ContextWorker, Environ: []string{ConfigRootEnv + "=/does/not/exist"}})
	var ps config.Problems
	require.ErrorAs(t, err, &ps)
	require.ErrorContains(t, err, "/does/not/exist: config root")
}

func TestCheckSchema(t *testing.T) {
	ctx := context.Background()
	check := func(db testdb.DB) error {
		cfg := config.Default(config.ContextShared)
		cfg.Database.URL, cfg.Database.Schema = db.URL, db.Schema
		cfg.Database.Pool.MinConnections = 0
		infra, err := Connect(ctx, cfg, "app-test", nil)
		require.NoError(t, err)
		defer infra.Close()
		return infra.CheckSchema(ctx)
	}
	require.NoError(t, check(testdb.New(t)))

	empty := testdb.Empty(t)
	err := check(empty)
	require.ErrorIs(t, err, ErrNoSchema)
	require.EqualError(t, err, `schema "`+empty.Schema+`": the database has no Tasker schema: run `+"`tasker migrate up`"+` first`)

	missing := testdb.DB{URL: empty.URL, Schema: "t_never_created"}
	require.ErrorIs(t, check(missing), ErrNoSchema)

	// An Infra assembled by hand, without its configuration, says so too.
	cfg := config.Default(config.ContextShared)
	cfg.Database.URL, cfg.Database.Schema = empty.URL, empty.Schema
	cfg.Database.Pool.MinConnections = 0
	in, err := Connect(ctx, cfg, "app-test", nil)
	require.NoError(t, err)
	defer in.Close()
	in.Config = nil
	require.ErrorIs(t, in.CheckSchema(ctx), ErrNoSchema)
}

// TestRabbitMQBackendUnreachable: with queues.backend = "rabbitmq" and no
// broker at the URL, connecting fails within the connect timeout, names
// the broker (without its password), and leaves nothing open.
func TestRabbitMQBackendUnreachable(t *testing.T) {
	db := testdb.New(t)
	cfg := config.Default(config.ContextShared)
	cfg.Database.URL, cfg.Database.Schema = db.URL, db.Schema
	cfg.Queues.Backend = config.BackendRabbitMQ
	cfg.Queues.RabbitMQ.URL = "amqp://guest:secret@127.0.0.1:1/"
	cfg.Queues.RabbitMQ.ConnectTimeout = 200 * time.Millisecond
	_, err := Connect(context.Background(), cfg, "app-test", nil)
	require.ErrorContains(t, err, "connecting to rabbitmq at amqp://guest:")
	require.NotContains(t, err.Error(), "secret")
}

// TestUnknownQueueBackend: a backend that is neither is refused by name.
func TestUnknownQueueBackend(t *testing.T) {
	db := testdb.New(t)
	cfg := config.Default(config.ContextShared)
	cfg.Database.URL, cfg.Database.Schema = db.URL, db.Schema
	cfg.Queues.Backend = "kafka"
	_, err := Connect(context.Background(), cfg, "app-test", nil)
	require.EqualError(t, err, `unknown queue backend "kafka": set queues.backend to "postgres" or "rabbitmq"`)
}
