package web

import (
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
)

func TestEventHubDispatch(t *testing.T) {
	cc, err := pgx.ParseConfig("postgres://nobody@127.0.0.1:1/none")
	require.NoError(t, err)
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: cc}) // never started: dispatch is driven by hand
	require.NoError(t, err)
	h := newEventHub(l, "s.task_events", slog.New(slog.DiscardHandler))
	a, b := uuid.New(), uuid.New()
	wa, stopA := h.watch(a)
	wb, _ := h.watch(b)
	woken := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	h.dispatch(uuid.NewString() + "," + a.String())
	require.True(t, woken(wa))
	require.False(t, woken(wb))
	h.dispatch("")
	require.True(t, woken(wa), "a reconnect (empty payload) wakes every stream")
	require.True(t, woken(wb))
	h.dispatch(a.String())
	h.dispatch(a.String())
	require.True(t, woken(wa))
	require.False(t, woken(wa), "wake-ups coalesce")
	stopA()
	h.dispatch(a.String())
	require.False(t, woken(wa))
	h.stop()
	h.stop()
	c, _ := h.watch(a)
	require.False(t, woken(c), "watching after stop never fires")
}

func TestSettled(t *testing.T) {
	now := time.Now()
	seen := map[eventKey]time.Time{
		{"task", 3}: now.Add(-time.Minute), {"step", 10}: now.Add(-time.Minute),
		{"step", 12}: now, {"task", 4}: now,
	}
	cur := settled(seen, store.EventCursor{}, now)
	require.Equal(t, store.EventCursor{TaskID: 3, StepID: 10}, cur, "recent events are read again")
	require.Len(t, seen, 2, "settled events are forgotten")
	cur = settled(seen, cur, now.Add(time.Minute))
	require.Equal(t, store.EventCursor{TaskID: 4, StepID: 12}, cur)
	require.Empty(t, seen)
}

func TestCursorRoundTrip(t *testing.T) {
	c := store.EventCursor{TaskID: 7, StepID: 42}
	require.Equal(t, "7.42", formatCursor(c, 0))
	got, d, err := parseCursor(formatCursor(c, 0))
	require.NoError(t, err)
	require.Equal(t, c, got)
	require.Zero(t, d)
	got, d, err = parseCursor(formatCursor(c, 9))
	require.NoError(t, err)
	require.Equal(t, c, got)
	require.Equal(t, int64(9), d, "the domain event seq")
	for _, bad := range []string{"", "7", "a.b", "-1.2", "1.2.-3", "1.2.3.4", "1.2.x"} {
		_, _, err := parseCursor(bad)
		require.Error(t, err, bad)
	}
}
