package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cr3t@db:5432/x?sslmode=disable": "postgres://app:***@db:5432/x?sslmode=disable",
		"amqp://guest:guest@127.0.0.1:5672/":              "amqp://guest:***@127.0.0.1:5672/",
		"postgres://app@db/x":                             "postgres://app@db/x",
		"postgres://db/x?user=a&password=pw&sslmode=req":  "postgres://db/x?user=a&password=***&sslmode=req",
		"postgres://u:p:q@h":                              "postgres://u:***@h",
		"postgres://u:p@ss@h/db":                          "postgres://u:***@h/db",
		"host=db user=app password=pw dbname=x":           "host=db user=app password=*** dbname=x",
		"host=db password='a b\\' c' dbname=x":            "host=db password=*** dbname=x",
		`parse "postgres://u:pw@h:x/db": invalid port`:    `parse "postgres://u:***@h:x/db": invalid port`,
		":8080":        ":8080",
		"config/tasks": "config/tasks",
	} {
		require.Equal(t, want, RedactSecrets(in), in)
	}
}

func TestRedactedCopiesAndMasks(t *testing.T) {
	cfg, err := Load(LoadOptions{Context: ContextWorker, Environ: []string{
		"DATABASE_URL=postgres://app:hunter2@db/tasker",
		"TASKER__WORKER__NAMESPACES=a,b",
	}})
	require.NoError(t, err)
	red := cfg.Redacted()
	require.Equal(t, "postgres://app:***@db/tasker", red.Database.URL)
	require.Equal(t, "amqp://guest:***@127.0.0.1:5672/", red.Queues.RabbitMQ.URL)
	require.Equal(t, "postgres://app:hunter2@db/tasker", cfg.Database.URL, "the original is untouched")
	red.Worker.Namespaces[0] = "changed"
	require.Equal(t, "a", cfg.Worker.Namespaces[0], "the copy is deep")
}

func TestCloneIsDeep(t *testing.T) {
	cfg := Default(ContextOrchestration)
	cfg.Templates.SearchPaths = []string{"config/tasks"}
	c := cfg.Clone()
	require.Equal(t, cfg, c)
	c.Orchestration.Web.BindAddress = ":1"
	c.Templates.SearchPaths[0] = "x"
	require.Equal(t, ":8080", cfg.Orchestration.Web.BindAddress)
	require.Equal(t, "config/tasks", cfg.Templates.SearchPaths[0])
}
