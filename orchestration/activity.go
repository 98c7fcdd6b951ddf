package orchestration

import "sync"

// activity tells the leader's loops that something changed in the system:
// a wake-up on an orchestration queue (NOTIFYs reach every instance, so the
// leader hears of results another instance processes), or a task created
// or changed through this instance. A loop that backed off because its
// last runs found nothing returns to its normal period when it fires.
type activity struct {
	mu sync.Mutex
	ch chan struct{} // closed by fire; nil while nobody waits
}

// fire wakes every waiter. It costs a lock when nobody waits.
func (a *activity) fire() {
	a.mu.Lock()
	if a.ch != nil {
		close(a.ch)
		a.ch = nil
	}
	a.mu.Unlock()
}

// wait returns a channel closed at the next fire.
func (a *activity) wait() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ch == nil {
		a.ch = make(chan struct{})
	}
	return a.ch
}
