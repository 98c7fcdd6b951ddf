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

// TestPollWaitSpins: with Spin set, one poll at a time spins before it
// sleeps; a step dispatched meanwhile goes to the spinning poll rather than
// to an older sleeping one; a spin that sees no step ends, and the poll
// sleeps on; a poll whose context ends while it spins returns.
func TestPollWaitSpins(t *testing.T) {
	x := NewChannelExecutor(ChannelExecutorConfig{Spin: time.Hour})
	poll := func(ctx context.Context) <-chan []Event {
		out := make(chan []Event, 1)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			evs, _ := x.PollWait(ctx, 1)
			out <- evs
		}()
		return out
	}
	waiting := func(n int, spinning bool) {
		require.Eventually(t, func() bool {
			x.mu.Lock()
			defer x.mu.Unlock()
			return len(x.waiters) == n && (x.spinner != nil) == spinning
		}, 5*time.Second, time.Millisecond)
	}

	// The first poll spins; the second sleeps at once (one spinner).
	ctxA, cancelA := context.WithCancel(context.Background())
	a := poll(ctxA)
	waiting(1, true)
	x.mu.Lock()
	spinnerA := x.spinner
	x.mu.Unlock()
	b := poll(context.Background())
	waiting(2, true)
	x.mu.Lock()
	require.Same(t, spinnerA, x.spinner, "the second poll did not spin")
	x.mu.Unlock()

	// A step goes to the spinner (here also the oldest poll).
	step := newStepContext(claimedStep("Foreign::Handler"), nil)
	x.ExecuteAsync(context.Background(), step, func(Result, bool) {})
	evs := <-a
	require.Len(t, evs, 1, "the spinning poll got the step")
	cancelA()
	waiting(1, false)

	// The next poll spins while B sleeps, older: the step goes to the spinner.
	c := poll(context.Background())
	waiting(2, true)
	x.ExecuteAsync(context.Background(), newStepContext(claimedStep("Foreign::Handler"), nil), func(Result, bool) {})
	evs = <-c
	require.Len(t, evs, 1, "the spinner, not the older sleeping poll, got the step")
	select {
	case <-b:
		t.Fatal("the sleeping poll was woken")
	default:
	}

	// A spin that sees nothing ends: the poll sleeps on and still gets a step.
	x.mu.Lock()
	x.spin = time.Millisecond
	x.mu.Unlock()
	ctxD, cancelD := context.WithCancel(context.Background())
	d := poll(ctxD)
	waiting(2, false) // B and D, neither spinning
	x.ExecuteAsync(context.Background(), newStepContext(claimedStep("Foreign::Handler"), nil), func(Result, bool) {})
	evs = <-b
	require.Len(t, evs, 1, "the oldest poll got it once nobody spins")
	cancelD()
	require.Empty(t, <-d)

	// A spinning poll whose context ends returns.
	x.mu.Lock()
	x.spin = time.Hour
	x.mu.Unlock()
	ctxE, cancelE := context.WithCancel(context.Background())
	e := poll(ctxE)
	waiting(1, true)
	cancelE()
	require.Empty(t, <-e)
	waiting(0, false)
}
