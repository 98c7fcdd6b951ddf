package rabbitmq_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// brokerURL is the broker the tests use: RABBITMQ_URL, else the local
// default.
func brokerURL() string {
	if u := os.Getenv("RABBITMQ_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// requireBroker skips the test when the broker cannot be reached, unless
// TASKER_REQUIRE_RABBITMQ is set (CI), where it fails instead.
func requireBroker(t testing.TB) {
	t.Helper()
	u, err := url.Parse(brokerURL())
	require.NoError(t, err)
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5672")
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		if os.Getenv("TASKER_REQUIRE_RABBITMQ") != "" {
			t.Fatalf("RabbitMQ not reachable at %s (%v) and TASKER_REQUIRE_RABBITMQ is set: start it (scripts/ensure-services.sh does)", host, err)
		}
		t.Skipf("RabbitMQ not reachable at %s (%v): skipping; set TASKER_REQUIRE_RABBITMQ=1 to fail instead", host, err)
	}
	_ = conn.Close()
}

// Test processes of this package (two engineers, two runs) coordinate
// through a file lock: every test that uses the broker holds it shared, and
// the chaos test, which stops the broker for everyone, holds it exclusively,
// so it waits for the others' tests and they wait for it.
var (
	brokerLockPath = filepath.Join(os.TempDir(), "tasker-rabbitmq-tests.lock")
	// chaosRunning is set while this process holds the lock exclusively
	// (the chaos test is not parallel: nothing else of this package runs).
	chaosRunning atomic.Bool
)

func lockBroker(t testing.TB, how int) {
	t.Helper()
	f, err := os.OpenFile(brokerLockPath, os.O_CREATE|os.O_RDWR, 0o666)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(f.Fd()), how)) //nolint:gosec // a file descriptor fits an int
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:gosec // as above
		_ = f.Close()
	})
}

// shareBroker holds the broker lock shared until the test ends.
func shareBroker(t testing.TB) {
	t.Helper()
	if !chaosRunning.Load() {
		lockBroker(t, syscall.LOCK_SH)
	}
}

// ownBroker holds the broker lock exclusively until the test ends.
func ownBroker(t testing.TB) {
	t.Helper()
	lockBroker(t, syscall.LOCK_EX)
	chaosRunning.Store(true)
	t.Cleanup(func() { chaosRunning.Store(false) })
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newClient starts a connected client with a private delay prefix; its
// delay objects are deleted and it stops when the test ends.
func newClient(t testing.TB, mod func(*rabbitmq.Config)) *rabbitmq.Client {
	t.Helper()
	requireBroker(t)
	shareBroker(t)
	cfg := rabbitmq.Config{URL: brokerURL(), DelayPrefix: randomName("t"), ConnectionName: randomName("tasker-test-"),
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := rabbitmq.New(cfg)
	require.NoError(t, err)
	ctx := testCtx(t)
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c.WaitConnected(ctx) == nil {
			require.NoError(t, c.DeleteDelayTopology(ctx))
		}
		require.NoError(t, c.Stop(ctx))
	})
	require.NoError(t, c.WaitConnected(ctx))
	return c
}

// newQueue declares a queue with a unique name, deleted (with its DLQ) when
// the test ends.
func newQueue(t testing.TB, c *rabbitmq.Client) string {
	t.Helper()
	q := randomName("q_")
	ctx := testCtx(t)
	require.NoError(t, c.DeclareQueue(ctx, q))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c.WaitConnected(ctx) == nil {
			require.NoError(t, c.DeleteQueue(ctx, q))
		}
	})
	return q
}

// startConsumer starts a consumer, stopped when the test ends.
func startConsumer(t testing.TB, c *rabbitmq.Client, cfg rabbitmq.ConsumerConfig) *rabbitmq.Consumer {
	t.Helper()
	co, err := c.NewConsumer(cfg)
	require.NoError(t, err)
	require.NoError(t, co.Start(testCtx(t)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, co.Stop(ctx))
	})
	return co
}

func newPublisher(t testing.TB, c *rabbitmq.Client) *rabbitmq.Publisher {
	t.Helper()
	p := c.NewPublisher()
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// next waits for the next delivery.
func next(t testing.TB, co *rabbitmq.Consumer) *rabbitmq.Delivery {
	t.Helper()
	select {
	case d, ok := <-co.Deliveries():
		require.True(t, ok, "deliveries closed")
		return d
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery within 30s")
		return nil
	}
}

func msg(s string) rabbitmq.Message {
	return rabbitmq.Message{Payload: json.RawMessage(s)}
}

// eventually polls cond until it holds (deadline 30s).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cutDialer records the TCP connections it opens so a test can cut them
// under the client (a dropped connection, as a network failure makes).
type cutDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *cutDialer) Dial(network, addr string) (net.Conn, error) {
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, conn)
	d.mu.Unlock()
	return conn, nil
}

func (d *cutDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
	d.conns = nil
}

// rabbitmqctl runs rabbitmqctl, skipping the test when it is not available
// (a remote broker, or not root).
func rabbitmqctl(t testing.TB, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		t.Skip("rabbitmqctl not found: this test controls the local broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	require.NoError(t, err, "rabbitmqctl %s: %s", strings.Join(args, " "), out)
	return string(out)
}
