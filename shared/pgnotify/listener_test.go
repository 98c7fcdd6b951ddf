package pgnotify_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newListener(t *testing.T) (*pgnotify.Listener, *pgx.Conn) {
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(testdb.URL())
	require.NoError(t, err)
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: cfg, ReconnectMin: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, l.Start(ctx))
	t.Cleanup(l.Stop)
	conn, err := pgx.Connect(ctx, testdb.URL())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return l, conn
}

func notify(t *testing.T, conn *pgx.Conn, channel, payload string) {
	_, err := conn.Exec(context.Background(), `SELECT pg_notify($1, $2)`, channel, payload)
	require.NoError(t, err)
}

func recv(t *testing.T, c <-chan pgnotify.Notification) pgnotify.Notification {
	t.Helper()
	select {
	case n := <-c:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
		return pgnotify.Notification{}
	}
}

func TestSubscribeFilterAndFanOut(t *testing.T) {
	l, conn := newListener(t)
	ch := "pgnotify_test_" + time.Now().Format("150405.000000")
	all := l.Subscribe(ch, "", 16)
	defer all.Close()
	onlyB := l.Subscribe(ch, "b", 16)
	defer onlyB.Close()
	require.NoError(t, l.WaitReady(context.Background()))
	// A subscription added after connect is LISTENed on the live
	// connection: keep sending until the first notification arrives. Wait
	// for a real one: the connect broadcast (payload = each subscription's
	// filter, so "b" for onlyB) is delivered before any notification, and
	// must not arrive after the drain below.
	require.Eventually(t, func() bool {
		notify(t, conn, ch, "a")
		for {
			select {
			case n := <-all.C():
				if n.Payload == "a" {
					return true
				}
			case <-time.After(50 * time.Millisecond):
				return false
			}
		}
	}, 10*time.Second, 10*time.Millisecond)
	// Drain, then check the filter.
	for len(all.C()) > 0 {
		<-all.C()
	}
	for len(onlyB.C()) > 0 {
		<-onlyB.C()
	}
	notify(t, conn, ch, "b")
	require.Equal(t, "b", recv(t, onlyB.C()).Payload)
	for n := recv(t, all.C()); n.Payload != "b"; n = recv(t, all.C()) {
	}
	select {
	case n := <-onlyB.C():
		t.Fatalf("filtered subscription got %q", n.Payload)
	default:
	}
}

func TestWakeSubscriptionsCoalesce(t *testing.T) {
	l, conn := newListener(t)
	ch := "pgnotify_wake_" + time.Now().Format("150405.000000")
	w := l.SubscribeWake(ch, "q")
	defer w.Close()
	require.NoError(t, l.WaitReady(context.Background()))
	require.Eventually(t, func() bool {
		notify(t, conn, ch, "q")
		select {
		case <-w.Wake():
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}, 10*time.Second, 10*time.Millisecond)
	for range 5 {
		notify(t, conn, ch, "q")
	}
	select {
	case <-w.Wake():
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up")
	}
	require.LessOrEqual(t, len(w.Wake()), 1, "wake-ups coalesce into a buffer of one")
}

// TestReconnectWakesSubscribers kills the listener's backend: it reconnects
// and wakes everyone, since notifications sent meanwhile were lost.
func TestReconnectWakesSubscribers(t *testing.T) {
	l, conn := newListener(t)
	ch := "pgnotify_reconnect_" + time.Now().Format("150405.000000")
	w := l.SubscribeWake(ch, "q")
	defer w.Close()
	require.NoError(t, l.WaitReady(context.Background()))
	for len(w.Wake()) > 0 {
		<-w.Wake()
	}
	// The subscription's LISTEN is issued asynchronously (WaitReady only
	// says the first connection is up): kill the listener's backend once it
	// shows that LISTEN as its last statement.
	require.Eventually(t, func() bool {
		var killed int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
			FROM pg_stat_activity WHERE query ILIKE 'LISTEN %' AND query ILIKE '%'||$1||'%'`, ch).Scan(&killed)
		return err == nil && killed > 0
	}, 10*time.Second, 10*time.Millisecond, "the listener never ran LISTEN %s", ch)
	select {
	case <-w.Wake():
	case <-time.After(15 * time.Second):
		t.Fatal("no wake-up after reconnect")
	}
	// And it listens again.
	require.Eventually(t, func() bool {
		notify(t, conn, ch, "q")
		select {
		case <-w.Wake():
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}, 15*time.Second, 20*time.Millisecond)
}

func TestNewRequiresConnConfig(t *testing.T) {
	_, err := pgnotify.New(pgnotify.Config{})
	require.Error(t, err)
}

// TestSubscribeFunc: a callback subscription is called for the
// notifications its filter matches, and not for the others.
func TestSubscribeFunc(t *testing.T) {
	l, conn := newListener(t)
	ch := "pgnotify_func_" + time.Now().Format("150405.000000")
	got := make(chan string, 64)
	sub := l.SubscribeFunc(ch, "b", func(n pgnotify.Notification) {
		select {
		case got <- n.Payload:
		default:
		}
	})
	defer sub.Close()
	require.NoError(t, l.WaitReady(context.Background()))
	// Keep sending until the channel is LISTENed (the connect broadcast
	// also calls fn, with the filter as payload).
	require.Eventually(t, func() bool {
		notify(t, conn, ch, "a")
		notify(t, conn, ch, "b")
		select {
		case p := <-got:
			require.Equal(t, "b", p, "only the filtered payload")
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}, 10*time.Second, 10*time.Millisecond)
	sub.Close()
	for len(got) > 0 {
		require.Equal(t, "b", <-got)
	}
}
