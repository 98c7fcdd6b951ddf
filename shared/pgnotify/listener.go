// Package pgnotify shares one PostgreSQL LISTEN connection among every part of
// a process that wants wake-ups.
//
// A process opens one Listener; queue consumers and event streams Subscribe to
// a channel (optionally filtered by payload). The listener reconnects with
// backoff when the connection drops and then wakes every subscriber, because
// notifications sent while it was away are lost: subscribers must treat a
// wake-up as "look again", never as the only source of truth.
package pgnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification is one NOTIFY received.
type Notification struct {
	Channel string
	Payload string
}

// Config configures a Listener.
type Config struct {
	// ConnConfig is how to connect. Required.
	ConnConfig *pgx.ConnConfig
	// ReconnectMin and ReconnectMax bound the reconnect backoff
	// (defaults 100ms and 5s).
	ReconnectMin, ReconnectMax time.Duration
	Logger                     *slog.Logger
}

func (c *Config) setDefaults() {
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = 100 * time.Millisecond
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Listener multiplexes one LISTEN connection.
type Listener struct {
	cfg Config

	mu        sync.Mutex
	subs      map[string]map[*Subscription]struct{} // by channel
	listening map[string]bool                       // channels LISTENed on the live conn
	wake      chan struct{}                         // new channel to LISTEN
	readyCh   chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

// Subscription receives the notifications of one channel.
type Subscription struct {
	l       *Listener
	channel string
	filter  string
	c       chan Notification  // notification subscriptions
	w       chan struct{}      // wake-up subscriptions
	fn      func(Notification) // callback subscriptions
	once    sync.Once
}

// C delivers notifications (nil for a wake-up subscription). When the buffer
// is full new notifications are dropped, never blocked on.
func (s *Subscription) C() <-chan Notification { return s.c }

// Wake delivers coalesced wake-ups (nil for a notification subscription).
func (s *Subscription) Wake() <-chan struct{} { return s.w }

func (s *Subscription) deliver(n Notification) {
	if s.fn != nil {
		s.fn(n)
		return
	}
	if s.w != nil {
		select {
		case s.w <- struct{}{}:
		default:
		}
		return
	}
	select {
	case s.c <- n:
	default:
	}
}

// Close removes the subscription.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.l.mu.Lock()
		delete(s.l.subs[s.channel], s)
		s.l.mu.Unlock()
	})
}

// New creates a listener. Start it before relying on notifications.
func New(cfg Config) (*Listener, error) {
	if cfg.ConnConfig == nil {
		return nil, errors.New("pgnotify: ConnConfig is required")
	}
	cfg.setDefaults()
	return &Listener{
		cfg:       cfg,
		subs:      map[string]map[*Subscription]struct{}{},
		listening: map[string]bool{},
		wake:      make(chan struct{}, 1),
		readyCh:   make(chan struct{}),
	}, nil
}

// Subscribe returns a subscription to channel. When filter is non-empty only
// notifications with exactly that payload are delivered. buffer is the
// delivery buffer (1 for wake-ups).
func (l *Listener) Subscribe(channel, filter string, buffer int) *Subscription {
	if buffer < 1 {
		buffer = 1
	}
	return l.add(&Subscription{l: l, channel: channel, filter: filter, c: make(chan Notification, buffer)})
}

// SubscribeWake returns a subscription whose Wake channel receives one
// coalesced signal per burst of matching notifications.
func (l *Listener) SubscribeWake(channel, filter string) *Subscription {
	return l.add(&Subscription{l: l, channel: channel, filter: filter, w: make(chan struct{}, 1)})
}

// SubscribeFunc calls fn for every matching notification, and after every
// reconnect (with the filter as payload). fn runs on the listener's receive
// path, with the listener's lock held: it must return at once (say, a
// non-blocking channel send) and must not call the listener.
func (l *Listener) SubscribeFunc(channel, filter string, fn func(Notification)) *Subscription {
	return l.add(&Subscription{l: l, channel: channel, filter: filter, fn: fn})
}

func (l *Listener) add(s *Subscription) *Subscription {
	channel := s.channel
	l.mu.Lock()
	if l.subs[channel] == nil {
		l.subs[channel] = map[*Subscription]struct{}{}
	}
	l.subs[channel][s] = struct{}{}
	needListen := !l.listening[channel]
	l.mu.Unlock()
	if needListen {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	return s
}

// Start connects and runs the receive loop until Stop.
func (l *Listener) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	l.done = make(chan struct{})
	go l.run(ctx) //nolint:gosec // run derives from ctx; only connection closes use a fresh context
	return nil
}

// Ready is closed once the first connection is listening.
func (l *Listener) Ready() <-chan struct{} { return l.readyCh }

// WaitReady blocks until the listener is connected or ctx ends.
func (l *Listener) WaitReady(ctx context.Context) error {
	select {
	case <-l.readyCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop closes the connection and waits for the loop to end.
func (l *Listener) Stop() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
}

func (l *Listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := l.cfg.ReconnectMin
	var readyOnce sync.Once
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, l.cfg.ConnConfig)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.cfg.Logger.Warn("pgnotify: connect failed", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, l.cfg.ReconnectMax)
			continue
		}
		l.mu.Lock()
		l.listening = map[string]bool{}
		l.mu.Unlock()
		if err := l.listenAll(ctx, conn); err != nil {
			l.cfg.Logger.Warn("pgnotify: listen failed", "err", err)
			_ = conn.Close(context.Background())
			sleep(ctx, backoff)
			backoff = min(backoff*2, l.cfg.ReconnectMax)
			continue
		}
		backoff = l.cfg.ReconnectMin
		readyOnce.Do(func() { close(l.readyCh) })
		// Anything sent while we were not listening is lost: wake everyone.
		l.broadcast()
		err = l.receive(ctx, conn)
		_ = conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		l.cfg.Logger.Warn("pgnotify: connection lost, reconnecting", "err", err)
	}
}

func (l *Listener) listenAll(ctx context.Context, conn *pgx.Conn) error {
	l.mu.Lock()
	var chans []string
	for ch, subs := range l.subs {
		if len(subs) > 0 && !l.listening[ch] {
			chans = append(chans, ch)
		}
	}
	l.mu.Unlock()
	for _, ch := range chans {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("LISTEN %s: %w", ch, err)
		}
		l.mu.Lock()
		l.listening[ch] = true
		l.mu.Unlock()
	}
	return nil
}

// receive waits for notifications; when a new subscription needs a LISTEN it
// interrupts the wait, issues it, and resumes.
func (l *Listener) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		waitCtx, cancelWait := context.WithCancel(ctx)
		stopWatch := make(chan struct{})
		go func() {
			select {
			case <-l.wake:
				cancelWait()
			case <-stopWatch:
			}
		}()
		n, err := conn.WaitForNotification(waitCtx)
		close(stopWatch)
		woken := waitCtx.Err() != nil && ctx.Err() == nil
		cancelWait()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if woken {
				// A subscriber asked for a new channel: the cancelled wait
				// leaves the connection usable in pgx (it recovers on the
				// next query), but be safe and verify it.
				if conn.IsClosed() {
					return errors.New("connection closed while adding a channel")
				}
				if err := l.listenAll(ctx, conn); err != nil {
					return err
				}
				continue
			}
			return err
		}
		l.dispatch(Notification{Channel: n.Channel, Payload: n.Payload})
	}
}

func (l *Listener) dispatch(n Notification) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs[n.Channel] {
		if s.filter != "" && s.filter != n.Payload {
			continue
		}
		s.deliver(n)
	}
}

func (l *Listener) broadcast() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch, subs := range l.subs {
		for s := range subs {
			s.deliver(Notification{Channel: ch, Payload: s.filter})
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
