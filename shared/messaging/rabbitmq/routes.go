package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tasker-go/tasker/shared/messaging"
)

// Routes.
//
// A routed claim (messaging.ClaimOptions.Routes) must take only the
// messages of its routes, and a route's message behind a deep backlog of
// other routes must be taken at once. A broker cannot filter a queue by
// content, so every route of a work queue gets a queue of its own: a
// message whose payload names a route (messaging.RouteKey) goes to the
// route queue {queue}_r_{hash} (RouteQueue), a quorum queue that
// dead-letters into {queue}_dlq like its work queue; a message without a
// route goes to the work queue itself. A routed claim reads only its
// routes' queues, so it never takes, holds or gives back a message it
// cannot run. Route queues are declared before their first message (by the
// sender or the relay) and by the first claim of their route, once per
// client. A claim does not declare route queues: a route queue that does
// not exist holds no message; claims look for the route queues they do not
// know yet on their sweeps (see Driver.Claim), and learn of new ones from
// the relays' announcements.

// RouteOf returns the route a payload names (its messaging.RouteKey
// string), or "" when it names none.
func RouteOf(payload json.RawMessage) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) != nil {
		return ""
	}
	raw, ok := fields[messaging.RouteKey]
	if !ok {
		return ""
	}
	var route string
	if json.Unmarshal(raw, &route) != nil {
		return ""
	}
	return route
}

// RouteQueue is the queue that holds queue's messages of route: the work
// queue's name, "_r_" and a 64-bit hash of the route (routes are callable
// names of any length and alphabet; broker queue names take 255 bytes).
func RouteQueue(queue, route string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(route))
	return fmt.Sprintf("%s_r_%016x", queue, h.Sum64())
}

// DeclareRoute declares the route queue of queue's route (once per client)
// and returns its name. queue must be a valid queue name.
func (c *Client) DeclareRoute(ctx context.Context, queue, route string) (string, error) {
	if err := messaging.ValidateQueueName(queue); err != nil {
		return "", err
	}
	name := RouteQueue(queue, route)
	if c.knownRoute(queue, name) {
		return name, nil
	}
	err := c.withChannel(ctx, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(DLQName(queue), true, false, false, false,
			amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}); err != nil {
			return fmt.Errorf("declaring queue %s: %w", DLQName(queue), err)
		}
		if _, err := ch.QueueDeclare(name, true, false, false, false, queueArgs(queue)); err != nil {
			return fmt.Errorf("declaring route queue %s of %s: %w", name, queue, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	c.noteRoute(queue, name)
	return name, nil
}

// knownRoute reports whether the route queue name of queue is known to
// exist (declared through this client, or seen).
func (c *Client) knownRoute(queue, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.routes[queue][name]
}

// noteRoute records that the route queue name of queue exists.
func (c *Client) noteRoute(queue, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routes[queue] == nil {
		c.routes[queue] = map[string]bool{}
	}
	c.routes[queue][name] = true
	delete(c.absent, name)
}

// routeExists asks the broker whether the route queue name of queue
// exists (a passive declare on a channel of its own, which the broker
// closes when it does not), and records it when it does. A route the
// broker said was missing less than recheck ago is not asked about again:
// a worker serving many callables would otherwise pay three round trips
// per callable without a queue on every sweep. A route queue that appears
// meanwhile is announced by the relay that publishes to it (noteRoute),
// so only a lost announcement waits for the recheck.
func (c *Client) routeExists(ctx context.Context, queue, name string, recheck time.Duration) (bool, error) {
	c.mu.Lock()
	at, missing := c.absent[name]
	c.mu.Unlock()
	if missing && time.Since(at) < recheck {
		return false, nil
	}
	err := c.withChannel(ctx, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclarePassive(name, true, false, false, false, queueArgs(queue))
		return err
	})
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.NotFound {
		c.mu.Lock()
		c.absent[name] = time.Now()
		c.mu.Unlock()
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking for route queue %s: %w", name, err)
	}
	c.noteRoute(queue, name)
	return true, nil
}

// forgetRoute drops a route queue from the cache (it was deleted under us).
func (c *Client) forgetRoute(queue, route string) {
	c.mu.Lock()
	delete(c.routes[queue], RouteQueue(queue, route))
	c.mu.Unlock()
}

// knownRoutes returns the route queues of queue this client declared,
// sorted.
func (c *Client) knownRoutes(queue string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.routes[queue]))
	for name := range c.routes[queue] {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// deleteRoutes deletes the route queues of queue this client declared.
func (c *Client) deleteRoutes(ctx context.Context, queue string) error {
	names := c.knownRoutes(queue)
	err := c.withChannel(ctx, func(ch *amqp.Channel) error {
		for _, q := range names {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				return fmt.Errorf("deleting route queue %s: %w", q, err)
			}
		}
		return nil
	})
	c.mu.Lock()
	delete(c.routes, queue)
	c.mu.Unlock()
	return err
}
