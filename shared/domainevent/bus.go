package domainevent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// Handler receives one event. An error (or a panic) is logged and counted;
// fast delivery does not retry.
type Handler func(ctx context.Context, e Event) error

// BusConfig configures a Bus.
type BusConfig struct {
	// Buffer is how many events may wait for subscribers (default 1024);
	// events published while it is full are dropped and counted: fast
	// delivery never slows down result processing.
	Buffer  int
	Logger  *slog.Logger
	Metrics *Metrics
}

// Bus delivers fast events to in-process subscribers, in order, on one
// goroutine of its own, after the transaction that committed them. Delivery
// is best effort: events still buffered when the process stops are lost.
// Use durable delivery for events that must arrive.
type Bus struct {
	cfg  BusConfig
	ch   chan Event
	done chan struct{}

	mu     sync.RWMutex
	subs   map[int]subscription
	next   int
	closed bool
}

type subscription struct {
	pattern string
	fn      Handler
}

// NewBus starts a bus; Close stops it.
func NewBus(cfg BusConfig) *Bus {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Bus{cfg: cfg, ch: make(chan Event, cfg.Buffer), done: make(chan struct{}), subs: map[int]subscription{}}
	go b.loop()
	return b
}

// Subscribe calls fn for every event whose name matches pattern: an exact
// name ("payment.processed"), a prefix ending in ".*" ("payment.*") or "*"
// for all. It returns the function that ends the subscription.
func (b *Bus) Subscribe(pattern string, fn Handler) (unsubscribe func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	b.subs[id] = subscription{pattern: pattern, fn: fn}
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}
}

// Matches reports whether an event name matches a subscription pattern.
func Matches(pattern, name string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, ".*"):
		return strings.HasPrefix(name, pattern[:len(pattern)-1])
	}
	return pattern == name
}

// Publish hands events to the subscribers without waiting for them. It
// reports how many were dropped because the buffer was full or the bus
// closed. Events that are not fast (see Event.Fast) are ignored.
func (b *Bus) Publish(events []Event) (dropped int) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, e := range events {
		if !e.Fast() {
			continue
		}
		if b.closed {
			dropped++
			b.cfg.Metrics.delivery(e.EventName, "fast", "dropped")
			continue
		}
		select {
		case b.ch <- e:
		default:
			dropped++
			b.cfg.Metrics.delivery(e.EventName, "fast", "dropped")
			b.cfg.Logger.Warn("domain event bus full; fast event dropped", "event_name", e.EventName, "event_id", e.EventID)
		}
	}
	return dropped
}

// Close delivers what is buffered and stops the bus.
func (b *Bus) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return
	}
	b.closed = true
	close(b.ch)
	b.mu.Unlock()
	<-b.done
}

func (b *Bus) loop() {
	defer close(b.done)
	for e := range b.ch {
		b.mu.RLock()
		var fns []Handler
		for _, s := range b.subs {
			if Matches(s.pattern, e.EventName) {
				fns = append(fns, s.fn)
			}
		}
		b.mu.RUnlock()
		for _, fn := range fns {
			if err := call(fn, e); err != nil {
				b.cfg.Metrics.delivery(e.EventName, "fast", "failed")
				b.cfg.Logger.Warn("fast domain event subscriber failed", "event_name", e.EventName, "event_id", e.EventID, "err", err)
				continue
			}
			b.cfg.Metrics.delivery(e.EventName, "fast", "ok")
		}
	}
}

// call runs a subscriber, turning a panic into an error. Delivery happens
// after the transaction that published the event has returned to its
// caller, so the subscriber gets a context of its own, not the publisher's.
func call(fn Handler, e Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("subscriber panicked: %v", r)
		}
	}()
	return fn(context.Background(), e)
}
