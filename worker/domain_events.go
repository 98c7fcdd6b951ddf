package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
)

// ErrUndeclaredEvent is returned by PublishEvent for an event name the
// step's publishes_events does not declare.
var ErrUndeclaredEvent = errors.New("event is not declared in the step's publishes_events")

// ErrInvalidEventPayload is returned by PublishEvent for a payload that is
// not JSON or does not match the declared schema.
var ErrInvalidEventPayload = errors.New("invalid event payload")

// PublishEvent publishes the domain event name, declared in the step's
// publishes_events, with payload (any JSON-encodable value; a
// json.RawMessage as it is; nil as {}). The payload is checked against the
// declaration's schema at once: the error then names the event and the JSON
// pointer of every problem.
//
// Publishing is deferred: the event travels with the step's result and is
// published when orchestration commits that result, if the declaration's
// condition matches the outcome (success, failure, retryable_failure,
// permanent_failure, always). A run whose result is never committed (the
// worker died, the claim was lost, the handler yielded a checkpoint)
// publishes nothing. Safe for concurrent use.
func (s *StepContext) PublishEvent(name string, payload any) error {
	return s.events.publish(name, payload, time.Now())
}

// PublishedEvents returns the events published so far by this run, in
// order (tests use it to check a handler).
func (s *StepContext) PublishedEvents() []stepresult.DomainEvent {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return append([]stepresult.DomainEvent(nil), s.events.list...)
}

// eventSink collects the events one run publishes.
type eventSink struct {
	decls    []template.PublishedEvent
	callable string

	mu   sync.Mutex
	list []stepresult.DomainEvent
}

func (k *eventSink) publish(name string, payload any, at time.Time) error {
	var decl *template.PublishedEvent
	for i := range k.decls {
		if k.decls[i].Name == name {
			decl = &k.decls[i]
			break
		}
	}
	if decl == nil {
		return fmt.Errorf("publishing %q: %w", name, ErrUndeclaredEvent)
	}
	raw, err := encodeValue(payload)
	if err != nil {
		return fmt.Errorf("publishing %q: %w: %v", name, ErrInvalidEventPayload, err)
	}
	if problems := decl.ValidatePayload(raw); len(problems) > 0 {
		parts := make([]string, len(problems))
		for i, p := range problems {
			parts[i] = p.Error()
		}
		return fmt.Errorf("publishing %q: %w: %s", name, ErrInvalidEventPayload, strings.Join(parts, "; "))
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("publishing %q: %w", name, err)
	}
	by := decl.Publisher
	if by == "" {
		by = k.callable
	}
	mode := string(decl.DeliveryMode)
	if mode == "" {
		mode = stepresult.DeliveryDurable
	}
	cond := string(decl.Condition)
	if cond == "" {
		cond = stepresult.ConditionSuccess
	}
	k.mu.Lock()
	k.list = append(k.list, stepresult.DomainEvent{
		EventID: id, Name: name, Payload: raw, Condition: cond, DeliveryMode: mode,
		FiredAt: at.UTC(), FiredBy: by,
	})
	k.mu.Unlock()
	return nil
}

// check reports, as an error wrapping ErrInvalidResult, the first of reqs
// that PublishEvent would refuse, without publishing anything.
func (k *eventSink) check(reqs []EventRequest) error {
	if k == nil {
		return nil
	}
	probe := &eventSink{decls: k.decls, callable: k.callable}
	for i, e := range reqs {
		var payload any
		if len(e.Payload) > 0 {
			payload = e.Payload
		}
		if err := probe.publish(e.Name, payload, time.Now()); err != nil {
			return fmt.Errorf("%w: domain_events[%d]: %w", ErrInvalidResult, i, err)
		}
	}
	return nil
}

func (k *eventSink) take() []stepresult.DomainEvent {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.list
	k.list = nil
	return l
}

// EventRequest is an event an executor hosting handlers outside Go reports
// in its result JSON ("domain_events": [{"event_name", "payload"}]).
type EventRequest struct {
	Name    string          `json:"event_name"`
	Payload json.RawMessage `json:"payload"`
}

// UnmarshalJSON accepts "name" for "event_name".
func (r *EventRequest) UnmarshalJSON(b []byte) error {
	var v struct {
		EventName string          `json:"event_name"`
		Name      string          `json:"name"`
		Payload   json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	r.Name, r.Payload = firstOf(v.EventName, v.Name), v.Payload
	return nil
}

// withEvents attaches the run's published events to the result; events an
// executor reported in the result are published through the same checks
// first, and a bad one turns the result into a permanent invalid_result
// failure naming it. Declared events the handler did not publish itself
// are then published with the result as payload (see publishDefaults).
func (r Result) withEvents(k *eventSink) Result {
	for _, e := range r.eventRequests {
		var payload any
		if len(e.Payload) > 0 {
			payload = e.Payload
		}
		if err := k.publish(e.Name, payload, time.Now()); err != nil {
			k.take()
			return systemFailure(fmt.Sprintf("handler result cannot be stored: %v", err), stepresult.ErrorTypeInvalidResult, false)
		}
	}
	r.eventRequests = nil
	if !r.system {
		k.publishDefaults(r)
	}
	r.events = k.take()
	return r
}

// publishDefaults publishes each declared event the run did not publish
// itself with the handler's result as payload, as tasker-core's default
// publisher does, so templates whose handlers never call PublishEvent
// publish their declared events: the success value, or for a failure
// {"error_message", "error_type", "error_code", "retryable"}. An event
// whose declared schema that payload does not match is not published.
// Orchestration applies the conditions.
func (k *eventSink) publishDefaults(r Result) {
	if k == nil || len(k.decls) == 0 {
		return
	}
	k.mu.Lock()
	published := make(map[string]bool, len(k.list))
	for _, e := range k.list {
		published[e.Name] = true
	}
	k.mu.Unlock()
	var payload any = r.value
	if !r.success {
		f := map[string]any{"error_message": r.message, "error_type": r.errorType, "retryable": r.retryable}
		if r.errorCode != "" {
			f["error_code"] = r.errorCode
		}
		payload = f
	}
	now := time.Now()
	for _, d := range k.decls {
		if !published[d.Name] {
			_ = k.publish(d.Name, payload, now) // refused: the result does not fit the schema
		}
	}
}

// countEvents counts the events a result carries for /metrics/events.
func (c *Core) countEvents(evs []stepresult.DomainEvent) {
	for _, e := range evs {
		switch e.DeliveryMode {
		case stepresult.DeliveryFast:
			c.stats.eventsFast.Add(1)
		case stepresult.DeliveryBroadcast:
			c.stats.eventsBroadcast.Add(1)
		default:
			c.stats.eventsDurable.Add(1)
		}
	}
}
