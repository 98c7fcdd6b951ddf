package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrClosed is returned by calls made after the client stopped.
var ErrClosed = errors.New("rabbitmq client stopped")

// Status is the connection's health, for health checks.
type Status struct {
	// Connected reports whether the connection is open now.
	Connected bool `json:"connected"`
	// Since is when the connection last opened (Connected) or was lost or
	// first tried (not Connected).
	Since time.Time `json:"since"`
	// LastError is the last connection error (a failed attempt or the
	// reason the connection closed); empty when none occurred.
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Connects counts the connections opened since Start (1 after the
	// first; each reconnect adds one).
	Connects int64 `json:"connects"`
}

// Client owns one AMQP connection and keeps it open: when the broker
// restarts or the connection drops it reconnects with a jittered
// exponential backoff. Publishers and consumers open their channels through
// it and re-open them on the new connection by themselves.
//
// Start begins connecting and returns at once; Stop closes the connection.
type Client struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	conn   *amqp.Connection // nil while disconnected
	ready  chan struct{}    // closed when conn is set; replaced when it is lost
	status Status
	// declared caches the delay buckets declared on the broker.
	declared map[time.Duration]bool
	// routes maps a work queue to the route queues known to exist
	// (declared through this client, or seen): an unrouted claim reads them
	// too.
	routes map[string]map[string]bool
	// absent maps a route queue to when the broker last said it does not
	// exist (see routeExists).
	absent map[string]time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// New checks cfg and returns a client; Start connects it.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, log: cfg.Logger, ready: make(chan struct{}), declared: map[time.Duration]bool{},
		routes: map[string]map[string]bool{}, absent: map[string]time.Time{}}, nil
}

// Config returns the client's configuration with defaults applied.
func (c *Client) Config() Config { return c.cfg }

// Start begins connecting in the background and returns at once; use
// WaitConnected to wait for the first connection.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return errors.New("rabbitmq client already started")
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.done = make(chan struct{})
	c.status.Since = time.Now()
	go c.run(runCtx)
	return nil
}

// Stop closes the connection and stops reconnecting. Channels opened on the
// client close with it.
func (c *Client) Stop(ctx context.Context) error {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status reports the connection's health.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// WaitConnected waits until the connection is open.
func (c *Client) WaitConnected(ctx context.Context) error {
	_, err := c.connection(ctx)
	return err
}

// connection returns the open connection, waiting for one.
func (c *Client) connection(ctx context.Context) (*amqp.Connection, error) {
	for {
		c.mu.Lock()
		conn, ready, done := c.conn, c.ready, c.done
		c.mu.Unlock()
		if done == nil {
			return nil, errors.New("rabbitmq client not started")
		}
		if conn != nil && !conn.IsClosed() {
			return conn, nil
		}
		if conn != nil {
			// Closed, and the run loop has not noticed yet: ready is still
			// the closed channel of the lost connection.
			if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
				return nil, err
			}
			continue
		}
		select {
		case <-ready:
		case <-done:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the rabbitmq connection: %w (last error: %s)", ctx.Err(), c.Status().LastError)
		}
	}
}

// channel opens a channel on the connection, waiting for one. A connection
// that closes between the two is waited for again.
func (c *Client) channel(ctx context.Context) (*amqp.Channel, error) {
	for {
		conn, err := c.connection(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := conn.Channel()
		if err == nil {
			return ch, nil
		}
		if !conn.IsClosed() {
			return nil, fmt.Errorf("opening a rabbitmq channel: %w", err)
		}
		// The connection went away under us: the run loop notices and
		// reconnects; wait for that.
		if err := sleepCtx(ctx, c.cfg.ReconnectMin); err != nil {
			return nil, err
		}
	}
}

func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	wait := time.Duration(0)
	for {
		if err := sleepCtx(ctx, wait); err != nil {
			return
		}
		conn, err := c.dial()
		if err != nil {
			c.failed(err)
			wait = nextBackoff(wait, c.cfg.ReconnectMin, c.cfg.ReconnectMax)
			continue
		}
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		c.connected(conn)
		select {
		case <-ctx.Done():
			_ = conn.Close()
			c.mu.Lock()
			c.conn, c.status.Connected, c.status.Since = nil, false, time.Now()
			c.mu.Unlock()
			return
		case e := <-closed:
			err := errors.New("connection closed")
			if e != nil {
				err = e
			}
			c.lost(err)
			wait = c.cfg.ReconnectMin
		}
	}
}

func (c *Client) dial() (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(c.cfg.ConnectionName)
	dial := c.cfg.Dial
	if dial == nil {
		dial = amqp.DefaultDial(c.cfg.DialTimeout)
	}
	conn, err := amqp.DialConfig(c.cfg.URL, amqp.Config{Heartbeat: c.cfg.Heartbeat, Locale: "en_US", Properties: props, Dial: dial})
	if err != nil {
		return nil, fmt.Errorf("connecting to rabbitmq: %w", err)
	}
	return conn, nil
}

func (c *Client) connected(conn *amqp.Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = conn
	c.status.Connected, c.status.Since = true, time.Now()
	c.status.Connects++
	close(c.ready)
	if c.status.Connects > 1 {
		c.log.Info("rabbitmq connection re-established", "connects", c.status.Connects)
	}
}

func (c *Client) lost(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = nil
	c.ready = make(chan struct{})
	c.status.Connected, c.status.Since = false, time.Now()
	c.status.LastError, c.status.LastErrorAt = err.Error(), time.Now()
	c.log.Warn("rabbitmq connection lost; reconnecting", "err", err)
}

func (c *Client) failed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.LastError, c.status.LastErrorAt = err.Error(), time.Now()
	c.log.Debug("rabbitmq connection attempt failed", "err", err)
}

// nextBackoff doubles prev within [lo, hi] and jitters it by up to a quarter
// either way, so that many clients do not reconnect in step.
func nextBackoff(prev, lo, hi time.Duration) time.Duration {
	d := min(max(2*prev, lo), hi)
	j := d / 4
	if j > 0 {
		d += time.Duration(rand.Int64N(int64(2*j))) - j //nolint:gosec // jitter needs no cryptographic randomness
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
