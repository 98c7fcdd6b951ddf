package client

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/api"
)

// Follow streams a task's events (GET /v1/tasks/{uuid}/events): its history so
// far, then every transition as it commits, and every domain event its
// handlers publish (Kind "domain_event", with Domain set), until the task
// ends (an "end" event), ctx ends, or fn returns an error. It returns the
// final task status.
func (c *Client) Follow(ctx context.Context, task uuid.UUID, fn func(Event) error) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/v1/tasks/"+task.String()+"/events", nil), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "text/event-stream")
	c.authorize(req)
	// Streams are long-lived: use the transport without the client timeout.
	hc := &http.Client{Transport: c.http.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		return "", &ConnectionError{URL: c.base.String(), Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		data := make([]byte, 64<<10)
		n, _ := resp.Body.Read(data)
		return "", c.decodeError(resp, data[:n])
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "" && data == "" {
				continue
			}
			if event == "error" {
				return "", fmt.Errorf("event stream error: %s", data)
			}
			if event == "end" {
				var end api.TaskEndEvent
				if err := c.decode([]byte(data), &end); err != nil {
					return "", fmt.Errorf("decoding end event: %w", err)
				}
				e := Event{TaskEvent: api.TaskEvent{Kind: "end", TaskUUID: end.TaskUUID}, Status: end.Status}
				if fn != nil {
					if err := fn(e); err != nil {
						return e.Status, err
					}
				}
				return e.Status, nil
			}
			var e Event
			if event == "domain_event" {
				var d api.DomainEvent
				if err := c.decode([]byte(data), &d); err != nil {
					return "", fmt.Errorf("decoding domain_event: %w", err)
				}
				step := d.Metadata.StepUUID
				e = Event{TaskEvent: api.TaskEvent{Kind: event, TaskUUID: d.Metadata.TaskUUID, StepUUID: &step,
					StepName: d.Metadata.StepName, Event: d.EventName, At: d.Metadata.PublishedAt}, Domain: &d}
				if fn != nil {
					if err := fn(e); err != nil {
						return "", err
					}
				}
				event, data = "", ""
				continue
			}
			if err := c.decode([]byte(data), &e.TaskEvent); err != nil {
				return "", fmt.Errorf("decoding %s event: %w", event, err)
			}
			if e.Kind == "" {
				e.Kind = event
			}
			if fn != nil {
				if err := fn(e); err != nil {
					return "", err
				}
			}
			event, data = "", ""
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return "", fmt.Errorf("reading event stream: %w", err)
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return "", fmt.Errorf("event stream ended before the task finished")
}

// DomainEvents lists the domain events a task's handlers published (GET
// /v1/tasks/{uuid}/domain_events), oldest first, after seq after (0: from
// the first).
func (c *Client) DomainEvents(ctx context.Context, task uuid.UUID, after int64) ([]api.DomainEvent, error) {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	var out []api.DomainEvent
	return out, c.do(ctx, http.MethodGet, "/v1/tasks/"+task.String()+"/domain_events", q, nil, &out)
}

// Wait follows a task until it is terminal and returns it with its steps.
// When the stream breaks it falls back to polling every second.
func (c *Client) Wait(ctx context.Context, task uuid.UUID, fn func(Event)) (*Task, error) {
	_, err := c.Follow(ctx, task, func(e Event) error {
		if fn != nil {
			fn(e)
		}
		return nil
	})
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for {
		t, gerr := c.GetTask(ctx, task)
		if gerr != nil {
			return nil, gerr
		}
		if t.Terminal() {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
