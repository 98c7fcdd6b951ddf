package worker

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestParker: a wake before the wait ends it at once, a wake from another
// thread ends a wait in progress, and a second wake does nothing.
func TestParker(t *testing.T) {
	p := newParker()
	p.wake()
	p.wake()
	p.wait() // returns: already woken

	q := newParker()
	started := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		// Like a foreign host's poll: a goroutine on a thread of its own.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		close(started)
		q.wait()
		close(ended)
	}()
	<-started
	select {
	case <-ended:
		t.Fatal("the wait ended before the wake")
	default:
	}
	q.wake()
	<-ended
	q.wake()
}

// TestPollWaitEndsWithItsContext: a poll whose context ends withdraws its
// wait (a step dispatched afterwards is queued, not lost in it), and a
// step handed to a waiting poll reaches it from another goroutine.
func TestPollWaitEndsWithItsContext(t *testing.T) {
	x := NewChannelExecutor(ChannelExecutorConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := x.PollWait(ctx, 1)
		errc <- err
	}()
	require.Eventually(t, func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		return len(x.waiters) == 1
	}, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	x.mu.Lock()
	require.Empty(t, x.waiters, "the ended poll withdrew its wait")
	x.mu.Unlock()

	step := newStepContext(claimedStep("Foreign::Handler"), nil)
	done := make(chan Result, 1)
	x.ExecuteAsync(context.Background(), step, func(r Result, _ bool) { done <- r })
	waiting, _ := x.Counts()
	require.Equal(t, 1, waiting, "queued for the next poll")

	got := make(chan []Event, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		evs, _ := x.PollWait(context.Background(), 1)
		got <- evs
	}()
	evs := <-got
	require.Len(t, evs, 1)
	require.NoError(t, x.Complete(evs[0].ID, []byte(`{"success": true, "result": 1}`)))
	require.True(t, (<-done).success)

	// A poll already waiting gets the next step straight from the dispatcher.
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		evs, _ := x.PollWait(context.Background(), 1)
		got <- evs
	}()
	require.Eventually(t, func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		return len(x.waiters) == 1
	}, 5*time.Second, time.Millisecond)
	x.ExecuteAsync(context.Background(), newStepContext(claimedStep("Foreign::Handler"), nil), func(r Result, _ bool) { done <- r })
	evs = <-got
	require.Len(t, evs, 1)
	require.NoError(t, x.Complete(evs[0].ID, []byte(`{"success": true, "result": 2}`)))
	require.True(t, (<-done).success)
}
