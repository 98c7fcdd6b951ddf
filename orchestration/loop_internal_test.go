package orchestration

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLoopBacksOffWhileIdleAndReturnsOnActivity: a loop whose runs find
// nothing doubles its period up to its idle maximum; activity brings it
// back to its interval at once, and so does a run that finds work.
func TestLoopBacksOffWhileIdleAndReturnsOnActivity(t *testing.T) {
	var found atomic.Bool
	var runs atomic.Int64
	act := &activity{}
	l := &loop{
		name: "test", interval: 5 * time.Millisecond, idleMax: 80 * time.Millisecond, activity: act,
		log: slog.New(slog.DiscardHandler),
		fn: func(context.Context) (bool, error) {
			runs.Add(1)
			return found.Load(), nil
		},
	}
	ctx := context.Background()
	require.NoError(t, l.Start(ctx))
	defer func() { require.NoError(t, l.Stop(ctx)) }()
	period := func() time.Duration { return time.Duration(l.period.Load()) }

	require.Eventually(t, func() bool { return period() == 80*time.Millisecond }, 20*time.Second, time.Millisecond,
		"runs that find nothing back the loop off to its idle maximum")
	require.GreaterOrEqual(t, runs.Load(), int64(4), "after runs 1-4: 10, 20, 40, 80 ms")

	act.fire()
	require.Eventually(t, func() bool { return period() == 5*time.Millisecond }, 20*time.Second, time.Millisecond,
		"activity restores the interval")
	require.Eventually(t, func() bool { return period() == 80*time.Millisecond }, 20*time.Second, time.Millisecond,
		"and an idle loop backs off again")

	found.Store(true)
	act.fire()
	n := runs.Load()
	require.Eventually(t, func() bool { return runs.Load() >= n+20 }, 20*time.Second, time.Millisecond,
		"a loop that finds work keeps its interval")
	require.Equal(t, 5*time.Millisecond, period())
}
