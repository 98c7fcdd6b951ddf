package config

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"HOST": "db.internal", "EMPTY": "", "PORT": "6543"}
	cases := []struct {
		in, want string
		used     []string
	}{
		{"plain", "plain", nil},
		{"${HOST}", "db.internal", []string{"HOST"}},
		{"postgres://${HOST}:${PORT}/x", "postgres://db.internal:6543/x", []string{"HOST", "PORT"}},
		{"${MISSING:-fallback}", "fallback", nil},
		{"${HOST:-fallback}", "db.internal", []string{"HOST"}},
		{"${EMPTY:-fallback}", "fallback", nil},
		{"${EMPTY}", "", []string{"EMPTY"}},
		{"${MISSING:-}", "", nil},
		{"${MISSING:-a:b/c?d=e}", "a:b/c?d=e", nil},
		{"cost: $5", "cost: $5", nil},
		{"$${HOST}", "${HOST}", nil},
	}
	for _, c := range cases {
		got, err := expand(c.in, env)
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got.value, c.in)
		require.Equal(t, c.used, got.used, c.in)
	}

	for in, want := range map[string]string{
		"${MISSING}":   "environment variable MISSING is not set and ${MISSING} has no default",
		"${HOST":       `unterminated "${HOST"`,
		"${}":          "invalid variable reference ${}",
		"${1ABC}":      "invalid variable reference ${1ABC}",
		"${A B:-x}":    "invalid variable reference ${A B:-x}",
		"x ${MISSING}": "MISSING is not set",
	} {
		_, err := expand(in, env)
		require.ErrorContains(t, err, want, in)
	}
}

func TestLoadSubstitutesAfterMerge(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/base.toml": `
[database]
url = "${REQUIRED_DB_URL}"
statement_timeout = "${STMT_TIMEOUT:-15s}"
[templates]
search_paths = ["${TPL_ROOT:-/srv}/tasks", "local"]
`,
		// Overrides the value whose variable is unset: no error, since
		// substitution runs on the merged result.
		"shared/environments/test.toml": `
[database]
url = "postgres://u@${DB_HOST:-localhost}/t"
`,
	})
	cfg, err := Load(LoadOptions{Root: root, Context: ContextShared, Env: EnvTest,
		Environ: []string{"DB_HOST=db.example", "TPL_ROOT=/opt"}})
	require.NoError(t, err)
	require.Equal(t, "postgres://u@db.example/t", cfg.Database.URL)
	require.Equal(t, 15*time.Second, cfg.Database.StatementTimeout, "durations substitute too")
	require.Equal(t, []string{"/opt/tasks", "local"}, cfg.Templates.SearchPaths, "as do string-list elements")

	// In development nothing overrides the url: the missing variable is an
	// error naming the key and the file.
	_, err = Load(LoadOptions{Root: root, Context: ContextShared, Env: EnvDevelopment})
	requireProblem(t, err, filepath.Join(root, "shared", "base.toml")+": database.url: environment variable REQUIRED_DB_URL is not set")
}

func TestLoadSubstitutedBadValueNamesTheVariable(t *testing.T) {
	_, err := Load(LoadOptions{Context: ContextShared, Environ: []string{"TASKER_MESSAGING_BACKEND=pgmq"}})
	requireProblem(t, err, "embedded:config/shared/base.toml via ${TASKER_MESSAGING_BACKEND}: queues.backend", `"pgmq"`)

	root := writeTree(t, map[string]string{
		"shared/base.toml": "[queues]\npoll_interval = \"${POLL}\"\n",
	})
	_, err = Load(LoadOptions{Root: root, Context: ContextShared, Environ: []string{"POLL=fast"}})
	requireProblem(t, err, "shared/base.toml via ${POLL}: queues.poll_interval: invalid duration \"fast\"")
	require.Len(t, problemsOf(t, err), 1)
}

func TestLoadSubstitutionOnlyInStringValues(t *testing.T) {
	root := writeTree(t, map[string]string{
		"shared/base.toml": "[database.pool]\nmax_connections = \"${POOL:-5}\"\n",
	})
	_, err := Load(LoadOptions{Root: root, Context: ContextShared})
	requireProblem(t, err, "database.pool.max_connections: expected an integer", "substitution applies only to string")
}

func TestLoadWellKnownVariables(t *testing.T) {
	cfg, err := Load(LoadOptions{Context: ContextWorker, Environ: []string{
		"DATABASE_URL=postgres://app:pw@db:5432/prod",
		"RABBITMQ_URL=amqp://mq:5672/",
		"TASKER_MESSAGING_BACKEND=rabbitmq",
		"TASKER_TEMPLATE_PATH=/etc/tasker/templates::./more",
	}})
	require.NoError(t, err)
	require.Equal(t, "postgres://app:pw@db:5432/prod", cfg.Database.URL)
	require.Equal(t, "amqp://mq:5672/", cfg.Queues.RabbitMQ.URL)
	require.Equal(t, BackendRabbitMQ, cfg.Queues.Backend)
	require.Equal(t, []string{"/etc/tasker/templates", "./more"}, cfg.Templates.SearchPaths)

	// TASKER__ overrides come after the shortcut.
	cfg, err = Load(LoadOptions{Context: ContextShared, Environ: []string{
		"TASKER_TEMPLATE_PATH=/a:/b",
		"TASKER__TEMPLATES__SEARCH_PATHS=/c",
	}})
	require.NoError(t, err)
	require.Equal(t, []string{"/c"}, cfg.Templates.SearchPaths)
}
