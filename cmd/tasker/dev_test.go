package main

import (
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestDevDemo runs `tasker dev --demo` against a test schema: every example
// workflow must complete as expected and the command must exit 0.
// It also checks that --bind 127.0.0.1:0 picks a free port and that the
// database is named even when DATABASE_URL chose it.
func TestDevDemo(t *testing.T) {
	cleanConfigEnv(t)
	db := testdb.Empty(t)
	t.Setenv("DATABASE_URL", db.URL)
	t.Setenv("TASKER__DATABASE__SCHEMA", db.Schema)
	out, err := runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0")
	require.NoError(t, err, out)
	require.Contains(t, out, "All 8 example workflows ended as expected.")
	require.Contains(t, out, "examples_linear/square_chain/1.0.0")
	require.Contains(t, out, "Tasker stopped")
	require.Contains(t, out, "Using PostgreSQL at "+config.RedactSecrets(db.URL)+" (from DATABASE_URL)\n")
	m := regexp.MustCompile(`REST API http://127\.0\.0\.1:(\d+) `).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.NotEqual(t, "0", m[1])
	require.Contains(t, out, "Dashboard: http://127.0.0.1:"+m[1]+"/ui/\n")
}

// occupy listens on a free loopback port for the rest of the test and
// returns its address and port.
func occupy(t *testing.T) (addr, port string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	_, port, err = net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	return ln.Addr().String(), port
}

// TestDevRefusesABusyPort: when the REST API's port is taken, dev stops
// before starting anything and says which port and how to pick another; it
// does not move to a random port that no client expects.
func TestDevRefusesABusyPort(t *testing.T) {
	cleanConfigEnv(t)
	db := testdb.Empty(t) // with the old fallback the demo ran here
	t.Setenv("DATABASE_URL", db.URL)
	t.Setenv("TASKER__DATABASE__SCHEMA", db.Schema)
	addr, port := occupy(t)
	out, err := runCmd(t, "dev", "--demo", "--bind", addr)
	require.Error(t, err, out)
	require.Equal(t, "port "+port+" is already in use (REST API address "+addr+"): stop the program listening there, "+
		"or pick another address with --bind 127.0.0.1:"+strconv.Itoa(mustAtoi(t, port)+10)+
		" or TASKER__ORCHESTRATION__WEB__BIND_ADDRESS=127.0.0.1:"+strconv.Itoa(mustAtoi(t, port)+10)+
		"; --bind 127.0.0.1:0 picks a free port (then give the URL printed at start-up to --url or TASKER_URL)", err.Error())
	require.NotContains(t, out, "Tasker is running")
	require.NotContains(t, out, "Using PostgreSQL", "nothing started")
}

// TestDevHonoursTheBindAddressKey: without --bind, the REST API address
// comes from TASKER__ORCHESTRATION__WEB__BIND_ADDRESS; --bind wins over it.
func TestDevHonoursTheBindAddressKey(t *testing.T) {
	cleanConfigEnv(t)
	db := testdb.Empty(t)
	t.Setenv("DATABASE_URL", db.URL)
	t.Setenv("TASKER__DATABASE__SCHEMA", db.Schema)
	addr, port := occupy(t)
	t.Setenv("TASKER__ORCHESTRATION__WEB__BIND_ADDRESS", addr)
	out, err := runCmd(t, "dev", "--demo")
	require.Error(t, err, out)
	require.Contains(t, err.Error(), "port "+port+" is already in use (REST API address "+addr+")")

	out, err = runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0")
	require.NoError(t, err, out)
	require.NotContains(t, out, "REST API http://"+addr)
	require.Contains(t, out, "All 8 example workflows ended as expected.")
}

func TestDevBindAddress(t *testing.T) {
	cleanConfigEnv(t)
	require.Equal(t, "127.0.0.1:8080", devBindAddress("", ":8080"), "the built-in default becomes loopback")
	require.Equal(t, "127.0.0.1:8080", devBindAddress("", ""))
	require.Equal(t, "0.0.0.0:9000", devBindAddress("", "0.0.0.0:9000"), "a configuration file set it")
	require.Equal(t, "127.0.0.1:0", devBindAddress("127.0.0.1:0", "0.0.0.0:9000"), "--bind wins")
	t.Setenv("TASKER__ORCHESTRATION__WEB__BIND_ADDRESS", ":8080")
	require.Equal(t, ":8080", devBindAddress("", ":8080"), "asked for explicitly")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// TestDevDemoOnPrivateCluster runs the demo on a private PostgreSQL cluster
// created under a temporary folder, twice (the second run reuses it).
func TestDevDemoOnPrivateCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	dir, err := os.MkdirTemp("", "tasker-dev-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	out, err := runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--embedded-postgres", "--dir", dir)
	if err != nil && (strings.Contains(out, "binaries") || strings.Contains(err.Error(), "binaries")) {
		t.Skip(err)
	}
	require.NoError(t, err, out)
	require.Contains(t, out, "Created the private PostgreSQL cluster")
	require.Contains(t, out, "private PostgreSQL stopped")
	out, err = runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--embedded-postgres", "--dir", dir)
	require.NoError(t, err, out)
	require.Contains(t, out, "Reusing the private PostgreSQL cluster")
	require.Contains(t, out, "All 8 example workflows ended as expected.")
}

// TestDevHonoursAnExplicitURL: a database URL set in the environment is
// used as given; when nothing answers there, dev fails and says so instead
// of quietly starting a private cluster.
func TestDevHonoursAnExplicitURL(t *testing.T) {
	for _, env := range []string{"TASKER__DATABASE__URL", "DATABASE_URL"} {
		t.Run(env, func(t *testing.T) {
			cleanConfigEnv(t)
			t.Setenv(env, "postgres://nobody@127.0.0.1:1/x?connect_timeout=2")
			dir := t.TempDir()
			out, err := runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--dir", dir)
			require.Error(t, err, out)
			require.Contains(t, err.Error(), "127.0.0.1:1")
			require.NotContains(t, out, "private PostgreSQL cluster")
			_, statErr := os.Stat(dir + "/postgres")
			require.True(t, os.IsNotExist(statErr), "no cluster folder was created")
		})
	}
}

// TestDevDemoOnRabbitMQ: with --rabbitmq the local system runs its queues
// on the broker (a private virtual host of the real one here) and every
// example workflow still ends as expected.
func TestDevDemoOnRabbitMQ(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a system on the broker")
	}
	brokerURL := systest.BrokerVHost(t)
	cleanConfigEnv(t)
	db := testdb.Empty(t)
	t.Setenv("DATABASE_URL", db.URL)
	t.Setenv("TASKER__DATABASE__SCHEMA", db.Schema)
	out, err := runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--rabbitmq", "--rabbitmq-url", brokerURL)
	require.NoError(t, err, out)
	require.Contains(t, out, "Using RabbitMQ at "+config.RedactSecrets(brokerURL)+" for the queues\n")
	require.Contains(t, out, "All 8 example workflows ended as expected.")
	var rows int
	require.NoError(t, db.Pool(t, 1).QueryRow(t.Context(),
		`SELECT count(*) FROM `+db.Schema+`.message_outbox`).Scan(&rows))
	require.Zero(t, rows, "the messages went through the outbox to the broker")
	for _, table := range []string{"mq_orchestration_step_results", "mq_worker_examples_linear_queue"} {
		var exists bool
		require.NoError(t, db.Pool(t, 1).QueryRow(t.Context(),
			`SELECT to_regclass($1) IS NOT NULL`, db.Schema+"."+table).Scan(&exists))
		require.False(t, exists, "no PostgreSQL queue table %s: the queues are on the broker", table)
	}
}

// TestDevRabbitMQUnreachable: when nothing answers at the broker's URL, dev
// stops before starting anything and names the URL (without its password).
func TestDevRabbitMQUnreachable(t *testing.T) {
	cleanConfigEnv(t)
	db := testdb.Empty(t)
	t.Setenv("DATABASE_URL", db.URL)
	t.Setenv("TASKER__DATABASE__SCHEMA", db.Schema)
	out, err := runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--rabbitmq", "--rabbitmq-url", "amqp://guest:secret@127.0.0.1:1/")
	require.Error(t, err, out)
	require.Contains(t, err.Error(), "--rabbitmq: cannot connect to the broker at amqp://guest:***@127.0.0.1:1/")
	require.Contains(t, err.Error(), "--rabbitmq-url")
	require.NotContains(t, err.Error(), "secret")
	require.NotContains(t, out, "Using PostgreSQL", "nothing started")

	t.Setenv("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:1/")
	_, err = runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--rabbitmq")
	require.ErrorContains(t, err, "cannot connect to the broker at amqp://guest:***@127.0.0.1:1/", "the configured URL by default")

	_, err = runCmd(t, "dev", "--demo", "--bind", "127.0.0.1:0", "--rabbitmq-url", "amqp://127.0.0.1:1/")
	require.EqualError(t, err, "--rabbitmq-url: only with --rabbitmq")
}
