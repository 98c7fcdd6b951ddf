package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// Span is where a JSON value lies in an Event's JSON: the bytes
// [Start, End).
type Span struct{ Start, End int }

// The parts of a step event an EventIndex locates, in the order the C ABI's
// indexed poll lists them (docs/capi.md).
const (
	SpanEvent             = iota // the whole event
	SpanTask                     // task_sequence_step.task
	SpanContext                  // task_sequence_step.task.task.context
	SpanWorkflowStep             // task_sequence_step.workflow_step
	SpanInputs                   // task_sequence_step.workflow_step.inputs
	SpanCheckpoint               // task_sequence_step.workflow_step.checkpoint
	SpanDependencyResults        // task_sequence_step.dependency_results
	SpanStepDefinition           // task_sequence_step.step_definition
	SpanInitialization           // task_sequence_step.step_definition.handler.initialization
	NumSpans
)

// EventIndex lets a host decode only the parts of a step event its handler
// reads: where each part lies in the event's JSON, and the few fields read
// for every step (to find the handler and build its context), repeated.
// Every field holds what the event's JSON holds.
type EventIndex struct {
	CorrelationID  uuid.UUID
	Callable       string // step_definition.handler.callable
	StepName       string // workflow_step.name
	Attempts       int    // workflow_step.attempts (made before this run)
	MaxAttempts    int    // workflow_step.max_attempts
	Method         string // step_definition.handler.method
	Resolver       string // step_definition.handler.resolver ("" for null)
	TimeoutSeconds int    // step_definition.timeout_seconds (0 for null)
	Spans          [NumSpans]Span
}

// fill sets the repeated fields as encodeStepEvent writes them.
func (ix *EventIndex) fill(cs *store.ClaimedStep, def *template.Step) {
	st := &cs.Step
	ix.CorrelationID = cs.Task.CorrelationID
	ix.StepName = st.Name
	ix.Attempts = max(st.Attempts-1, 0)
	ix.MaxAttempts = st.Retry.MaxAttempts
	if def == nil {
		ix.Callable, ix.Method, ix.Resolver = st.HandlerCallable, methodOr(st.HandlerMethod), ""
		ix.TimeoutSeconds = max(st.TimeoutSeconds, 0)
		return
	}
	ix.Callable = def.Handler.Callable
	ix.Method, ix.Resolver, ix.TimeoutSeconds = methodOr(def.Handler.Method), def.Handler.Resolver, max(def.TimeoutSeconds, 0)
}

// initializationSpan finds handler.initialization in a step_definition as
// encoding/json writes it (compact; its key order fixed by stepDefinition);
// the zero Span when it is not there.
func initializationSpan(def []byte) Span {
	// Top level: skip to the value of "handler"; inside it, to the value
	// of "initialization". Strings are skipped whole, so a key's text
	// inside a string value never matches.
	start := objectValue(def, 0, `"handler"`)
	if start < 0 || start >= len(def) || def[start] != '{' {
		return Span{}
	}
	init := objectValue(def, start, `"initialization"`)
	if init < 0 {
		return Span{}
	}
	end := valueEnd(def, init)
	if end < 0 {
		return Span{}
	}
	return Span{init, end}
}

// objectValue returns where the value of key (quoted) starts in the compact
// JSON object at b[at], or -1.
func objectValue(b []byte, at int, key string) int {
	i := at + 1
	for i < len(b) && b[i] != '}' {
		keyEnd := stringEnd(b, i)
		if keyEnd < 0 || keyEnd >= len(b) || b[keyEnd] != ':' {
			return -1
		}
		if string(b[i:keyEnd]) == key {
			return keyEnd + 1
		}
		i = valueEnd(b, keyEnd+1)
		if i < 0 || i >= len(b) {
			return -1
		}
		if b[i] == ',' {
			i++
		}
	}
	return -1
}

// stringEnd returns the index just past the JSON string starting at b[i],
// or -1.
func stringEnd(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the compact JSON value starting at
// b[i], or -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = stringEnd(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for ; i < len(b); i++ { // a number, true, false or null
		switch b[i] {
		case ',', '}', ']':
			return i
		}
	}
	return i
}

// spanPaths are the keys that lead to each part of a step event.
var spanPaths = [NumSpans][]string{
	SpanTask:              {"task_sequence_step", "task"},
	SpanContext:           {"task_sequence_step", "task", "task", "context"},
	SpanWorkflowStep:      {"task_sequence_step", "workflow_step"},
	SpanInputs:            {"task_sequence_step", "workflow_step", "inputs"},
	SpanCheckpoint:        {"task_sequence_step", "workflow_step", "checkpoint"},
	SpanDependencyResults: {"task_sequence_step", "dependency_results"},
	SpanStepDefinition:    {"task_sequence_step", "step_definition"},
	SpanInitialization:    {"task_sequence_step", "step_definition", "handler", "initialization"},
}

// IndexStepEvent computes the EventIndex of a step event already encoded
// (compact JSON in the shape StepEvent writes), as the encoder fills it
// while writing one: for tests and tools that start from a captured event.
func IndexStepEvent(raw []byte) (EventIndex, error) {
	var ix EventIndex
	find := func(at int, keys ...string) (Span, error) {
		for _, k := range keys {
			if at < 0 || at >= len(raw) || raw[at] != '{' {
				return Span{}, fmt.Errorf("indexing step event: %q is not inside an object", k)
			}
			if at = objectValue(raw, at, strconv.Quote(k)); at < 0 {
				return Span{}, fmt.Errorf("indexing step event: no %q", k)
			}
		}
		end := valueEnd(raw, at)
		if end < 0 {
			return Span{}, errors.New("indexing step event: a value does not end")
		}
		return Span{at, end}, nil
	}
	ix.Spans[SpanEvent] = Span{0, len(raw)}
	for part, path := range spanPaths {
		if part == SpanEvent {
			continue
		}
		sp, err := find(0, path...)
		if err != nil {
			return EventIndex{}, err
		}
		ix.Spans[part] = sp
	}
	var fields struct {
		CorrelationID uuid.UUID `json:"correlation_id"`
		TSS           struct {
			WorkflowStep struct {
				Name        string `json:"name"`
				Attempts    int    `json:"attempts"`
				MaxAttempts int    `json:"max_attempts"`
			} `json:"workflow_step"`
			StepDefinition struct {
				Handler struct {
					Callable string  `json:"callable"`
					Method   string  `json:"method"`
					Resolver *string `json:"resolver"`
				} `json:"handler"`
				TimeoutSeconds *int `json:"timeout_seconds"`
			} `json:"step_definition"`
		} `json:"task_sequence_step"`
	}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return EventIndex{}, fmt.Errorf("indexing step event: %w", err)
	}
	ws, h := fields.TSS.WorkflowStep, fields.TSS.StepDefinition.Handler
	ix.CorrelationID, ix.StepName, ix.Attempts, ix.MaxAttempts = fields.CorrelationID, ws.Name, ws.Attempts, ws.MaxAttempts
	ix.Callable, ix.Method = h.Callable, h.Method
	if h.Resolver != nil {
		ix.Resolver = *h.Resolver
	}
	if t := fields.TSS.StepDefinition.TimeoutSeconds; t != nil && *t > 0 {
		ix.TimeoutSeconds = *t
	}
	return ix, nil
}
