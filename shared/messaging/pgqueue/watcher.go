package pgqueue

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tasker-go/tasker/shared/pgnotify"
)

// DefaultPollInterval is the fallback poll of a Queue whose Config sets
// none.
const DefaultPollInterval = 10 * time.Second

// subscriber is one Subscribe call: a coalesced wake-up channel.
type subscriber struct {
	queue string
	ch    chan struct{}
}

func (s *subscriber) wake() {
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// watcher is the fallback for lost notifications, shared by every consumer
// of a Queue (in practice, of a process). It runs while anything is
// subscribed. Every interval it issues one statement that reads, for every
// subscribed queue at once, how long until its earliest message is visible;
// it wakes the subscribers of queues that hold visible messages, and sets
// one timer for the queue whose hidden message (a delayed retry, a claim
// that may lapse) becomes visible first before the next poll, so that
// message is taken when it is due without a query of its own. An idle
// process therefore issues one small query per interval, however many
// queues it consumes.
type watcher struct {
	q        *Queue
	interval time.Duration

	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{}
	cancel context.CancelFunc
	done   chan struct{}

	polls atomic.Int64 // polls made (for tests)
}

func newWatcher(q *Queue, interval time.Duration) *watcher {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	return &watcher{q: q, interval: interval, subs: map[string]map[*subscriber]struct{}{}}
}

// subscribe registers a subscriber of queue and returns the function that
// removes it. The listener, when there is one, wakes it on NOTIFY.
func (w *watcher) subscribe(queue string, l *pgnotify.Listener, channel string) (<-chan struct{}, func()) {
	s := &subscriber{queue: queue, ch: make(chan struct{}, 1)}
	var ls *pgnotify.Subscription
	if l != nil {
		ls = l.SubscribeFunc(channel, queue, func(pgnotify.Notification) { s.wake() })
	}
	w.mu.Lock()
	if w.subs[queue] == nil {
		w.subs[queue] = map[*subscriber]struct{}{}
	}
	w.subs[queue][s] = struct{}{}
	if w.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		w.cancel, w.done = cancel, make(chan struct{})
		go w.run(ctx, w.done)
	}
	w.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			if ls != nil {
				ls.Close()
			}
			w.unsubscribe(s)
		})
	}
}

// unsubscribe removes s; the last one out stops the poll and waits for it.
func (w *watcher) unsubscribe(s *subscriber) {
	w.mu.Lock()
	delete(w.subs[s.queue], s)
	if len(w.subs[s.queue]) == 0 {
		delete(w.subs, s.queue)
	}
	var cancel context.CancelFunc
	var done chan struct{}
	if len(w.subs) == 0 && w.cancel != nil {
		cancel, done = w.cancel, w.done
		w.cancel, w.done = nil, nil
	}
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// queues returns the subscribed queues, sorted.
func (w *watcher) queues() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.subs))
	for q := range w.subs {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}

// wakeAll wakes every subscriber.
func (w *watcher) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, subs := range w.subs {
		for s := range subs {
			s.wake()
		}
	}
}

// wake wakes every subscriber of the queues.
func (w *watcher) wake(queues []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, q := range queues {
		for s := range w.subs[q] {
			s.wake()
		}
	}
}

func (w *watcher) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	// The first poll waits a full interval: consumers look at their
	// queues when they start.
	poll := time.NewTimer(w.interval)
	defer poll.Stop()
	due := time.NewTimer(time.Hour)
	due.Stop()
	defer due.Stop()
	pending := map[string]time.Time{} // queue → when its next hidden message is visible
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			clear(pending)
			pctx, cancel := context.WithTimeout(ctx, max(w.interval, 10*time.Second))
			until, err := w.q.untilVisible(pctx, w.queues())
			cancel()
			if ctx.Err() != nil {
				return
			}
			w.polls.Add(1)
			// Counted from after the answer: a wake-up is never early.
			now := time.Now()
			if err != nil {
				// Let the consumers look for themselves: they log what fails.
				w.wakeAll()
			} else {
				var visible []string
				for q, d := range until {
					switch {
					case d <= 0:
						visible = append(visible, q)
					case d < w.interval:
						pending[q] = now.Add(d)
					}
				}
				w.wake(visible)
			}
			poll.Reset(w.interval)
		case <-due.C:
		}
		now := time.Now()
		var visible []string
		var next time.Time
		for q, at := range pending {
			if !at.After(now) {
				visible = append(visible, q)
				delete(pending, q)
			} else if next.IsZero() || at.Before(next) {
				next = at
			}
		}
		w.wake(visible)
		due.Stop()
		if !next.IsZero() {
			due.Reset(time.Until(next))
		}
	}
}

// untilVisible reads, in one statement, how long until the earliest message
// of each queue is visible (zero or less: visible now). Queues without
// messages, and queues whose table does not exist, are absent.
func (q *Queue) untilVisible(ctx context.Context, queues []string) (map[string]time.Duration, error) {
	var parts []string
	var names []string
	for _, name := range queues {
		s, err := q.existing(ctx, name)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		// The index stands for the name: nothing but a validated table
		// name is put into the text.
		parts = append(parts, `SELECT `+strconv.Itoa(len(names))+`, EXTRACT(EPOCH FROM (SELECT min(vt) FROM `+
			s.table+`) - clock_timestamp())::float8`)
		names = append(names, name)
	}
	out := map[string]time.Duration{}
	if len(parts) == 0 {
		return out, nil
	}
	rows, err := q.pool.Query(ctx, strings.Join(parts, "\nUNION ALL\n"))
	if err != nil {
		return nil, fmt.Errorf("polling queues: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var secs *float64
		if err := rows.Scan(&i, &secs); err != nil {
			return nil, fmt.Errorf("polling queues: %w", err)
		}
		if secs != nil && i >= 0 && i < len(names) {
			// Clamp far-off times (a message delayed by years) before
			// converting.
			out[names[i]] = time.Duration(math.Ceil(min(*secs, 1e6) * float64(time.Second)))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("polling queues: %w", err)
	}
	return out, nil
}
