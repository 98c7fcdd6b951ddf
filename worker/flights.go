package worker

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/store"
)

// phase is where a claimed step is between claim and commit.
type phase int

const (
	// phaseRunning: its handler is running.
	phaseRunning phase = iota
	// phaseCompleting: its result waits for the completer's commit.
	phaseCompleting
	// phaseReleasing: the worker is stopping and gives the step back.
	phaseReleasing
	// phaseDropped: its claim was lost; nothing will be recorded.
	phaseDropped
)

// flight is one step this worker holds a claim on.
type flight struct {
	step   *store.ClaimedStep
	queue  string
	cancel context.CancelCauseFunc

	// guarded by flights.mu
	phase    phase
	deadline time.Time
}

// flights is the table of claimed steps: the heartbeat extends their claims,
// Stop releases those still running, the API counts them.
type flights struct {
	mu sync.Mutex
	m  map[uuid.UUID]*flight
}

func newFlights() *flights { return &flights{m: map[uuid.UUID]*flight{}} }

// add records a new claim. If the worker already held the step (its earlier
// claim expired and it reclaimed the step), the earlier run is cancelled: its
// result would be stale.
func (t *flights) add(f *flight, deadline time.Time) {
	t.mu.Lock()
	old := t.m[f.step.Step.UUID]
	if old != nil && old.phase == phaseRunning {
		old.phase = phaseDropped
	} else {
		old = nil
	}
	f.deadline = deadline
	t.m[f.step.Step.UUID] = f
	t.mu.Unlock()
	if old != nil {
		old.cancel(ErrClaimLost)
	}
}

// setPhase moves f to p unless it was dropped; it reports whether it did.
func (t *flights) setPhase(f *flight, p phase) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f.phase == phaseDropped {
		return false
	}
	f.phase = p
	return true
}

// remove forgets f (not a newer claim of the same step).
func (t *flights) remove(f *flight) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[f.step.Step.UUID] == f {
		delete(t.m, f.step.Step.UUID)
	}
}

// due returns the live claims whose deadline comes before limit.
func (t *flights) due(limit time.Time) []*flight {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*flight
	for _, f := range t.m {
		if (f.phase == phaseRunning || f.phase == phaseCompleting) && f.deadline.Before(limit) {
			out = append(out, f)
		}
	}
	return out
}

// extended records the new deadline of fs.
func (t *flights) extended(fs []*flight, deadline time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range fs {
		f.deadline = deadline
	}
}

// lose marks the steps whose claim the worker no longer holds and cancels
// their handlers. A step whose result is already waiting for commit is left
// alone: the commit itself finds out whether the result is stale.
func (t *flights) lose(ids []uuid.UUID) int {
	t.mu.Lock()
	var cancel []*flight
	for _, id := range ids {
		if f := t.m[id]; f != nil && f.phase == phaseRunning {
			f.phase = phaseDropped
			delete(t.m, id)
			cancel = append(cancel, f)
		}
	}
	t.mu.Unlock()
	for _, f := range cancel {
		f.cancel(ErrClaimLost)
	}
	return len(cancel)
}

// cancelRunning cancels every running handler with cause.
func (t *flights) cancelRunning(cause error) {
	t.mu.Lock()
	var running []*flight
	for _, f := range t.m {
		if f.phase == phaseRunning {
			running = append(running, f)
		}
	}
	t.mu.Unlock()
	for _, f := range running {
		f.cancel(cause)
	}
}

// take removes and returns the flights in phase p.
func (t *flights) take(p phase) []*flight {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*flight
	for id, f := range t.m {
		if f.phase == p {
			out = append(out, f)
			delete(t.m, id)
		}
	}
	return out
}

// steps returns the steps the worker holds a claim on, whatever their phase.
func (t *flights) steps() []uuid.UUID {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]uuid.UUID, 0, len(t.m))
	for id := range t.m {
		out = append(out, id)
	}
	return out
}

// counts reports how many claims are running handlers and how many wait for
// their commit.
func (t *flights) counts() (running, completing int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.m {
		switch f.phase {
		case phaseRunning:
			running++
		case phaseCompleting:
			completing++
		}
	}
	return running, completing
}
