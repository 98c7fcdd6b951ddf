package worker

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// This file encodes a claimed step as tasker-core's step event, the JSON
// that tasker-core's Ruby and Python handler code reads:
//
//	{"event_id", "task_uuid", "step_uuid", "correlation_id",
//	 "task_correlation_id", "parent_correlation_id", "traceparent" (tracing only),
//	 "task_sequence_step": {
//	   "task": {"task": {<task row>}, "task_name", "task_version", "namespace_name"},
//	   "workflow_step": {<step row; attempts before this run>},
//	   "dependency_results": {<ancestor name>: <its StepExecutionResult>},
//	   "step_definition": {<the template step>}}}
//
// docs/capi.md describes every field.

type stepDefinition struct {
	Name             string                    `json:"name"`
	Description      *string                   `json:"description"`
	Handler          handlerDefinition         `json:"handler"`
	Type             string                    `json:"type"`
	SystemDependency *string                   `json:"system_dependency"`
	Dependencies     []string                  `json:"dependencies"`
	Retry            retryDefinition           `json:"retry"`
	TimeoutSeconds   *int                      `json:"timeout_seconds"`
	PublishesEvents  []template.PublishedEvent `json:"publishes_events"`
	BatchConfig      *template.BatchConfig     `json:"batch_config"`
}

type handlerDefinition struct {
	Callable       string          `json:"callable"`
	Method         string          `json:"method"`
	Resolver       *string         `json:"resolver"`
	Initialization json.RawMessage `json:"initialization"`
}

type retryDefinition struct {
	Retryable     bool   `json:"retryable"`
	MaxAttempts   int    `json:"max_attempts"`
	Backoff       string `json:"backoff"`
	BackoffBaseMs int    `json:"backoff_base_ms"`
	MaxBackoffMs  int    `json:"max_backoff_ms"`
}

// StepEvent encodes step as tasker-core's step event (docs/capi.md), the
// JSON handed to handlers outside Go, with a new event id. With the context
// the worker passes to Execute, step_definition is the step of the template
// the worker registered; otherwise it is rebuilt from the step.
func StepEvent(ctx context.Context, step *StepContext) (json.RawMessage, error) {
	var def *template.Step
	var defJSON json.RawMessage
	if run := runOf(ctx); run != nil {
		def, defJSON = run.def, run.defJSON
	}
	return encodeStepEvent(uuid.NewString(), step.claimed, def, defJSON)
}

// encodeStepEvent encodes the step cs as tasker-core's step event with id.
// def is the step's template definition, nil when the worker does not know
// the task's template: the definition is then rebuilt from the step row
// (with no description, dependencies or batch configuration). defJSON is
// def's step_definition encoded beforehand (nil: encode it now).
//
// The event is written field by field into one buffer sized for it, with
// the JSON values of the task context, the step's inputs and checkpoint and
// the dependency results compacted into it in one pass each: a step's way
// to a foreign handler goes through here, and encoding/json would reflect
// over every field and scan every embedded value twice.
func encodeStepEvent(id string, cs *store.ClaimedStep, def *template.Step, defJSON json.RawMessage) (json.RawMessage, error) {
	return encodeIndexedStepEvent(id, cs, def, defJSON, nil)
}

// encodeIndexedStepEvent is encodeStepEvent that also fills ix (when not
// nil) with where the event's parts are and the fields hosts read on every
// step (see EventIndex).
func encodeIndexedStepEvent(id string, cs *store.ClaimedStep, def *template.Step, defJSON json.RawMessage,
	ix *EventIndex) (json.RawMessage, error) {
	t, st := &cs.Task, &cs.Step
	if ix == nil {
		ix = &EventIndex{} // filled and dropped: cheaper than a branch at every part
	}
	if len(defJSON) == 0 {
		var err error
		if defJSON, err = json.Marshal(definitionOf(st, def)); err != nil {
			return nil, fmt.Errorf("encoding the step definition: %w", err)
		}
	}
	ix.fill(cs, def)
	deps := dependencyResults(cs.Dependencies)
	names := make([]string, 0, len(deps))
	size := 1536 + len(id) + len(t.Context) + len(st.Inputs) + len(st.Checkpoint) + len(defJSON) + len(t.TraceParent)
	for name, raw := range deps {
		names = append(names, name)
		size += len(name) + len(raw) + 4
	}
	sort.Strings(names)
	w := eventWriter{b: make([]byte, 0, size)}
	w.raw(`{"event_id":`)
	w.str(id)
	w.raw(`,"task_uuid":`)
	w.uuid(t.UUID)
	w.raw(`,"step_uuid":`)
	w.uuid(st.UUID)
	w.raw(`,"correlation_id":`)
	w.uuid(t.CorrelationID)
	w.raw(`,"task_correlation_id":`)
	w.uuid(t.CorrelationID)
	w.raw(`,"parent_correlation_id":`)
	w.optUUIDPtr(t.ParentCorrelationID)
	if t.TraceParent != "" {
		w.raw(`,"traceparent":`)
		w.str(t.TraceParent)
	}
	w.raw(`,"task_sequence_step":{"task":`)
	ix.Spans[SpanTask].Start = len(w.b)
	w.raw(`{"task":{"task_uuid":`)
	w.uuid(t.UUID)
	w.raw(`,"named_task_uuid":`)
	w.optUUID(t.NamedTaskUUID)
	w.raw(`,"complete":`)
	w.bool(t.Complete)
	w.raw(`,"requested_at":`)
	w.optTime(t.RequestedAt)
	w.raw(`,"initiator":`)
	w.optStr(t.Initiator)
	w.raw(`,"source_system":`)
	w.optStr(t.SourceSystem)
	w.raw(`,"reason":`)
	w.optStr(t.Reason)
	w.raw(`,"tags":[`)
	for i, tag := range t.Tags {
		if i > 0 {
			w.raw(`,`)
		}
		w.str(tag)
	}
	w.raw(`],"context":`)
	ix.Spans[SpanContext].Start = len(w.b)
	w.json("task context", t.Context, `{}`)
	ix.Spans[SpanContext].End = len(w.b)
	w.raw(`,"identity_hash":`)
	w.optStr(t.IdentityHash)
	w.raw(`,"priority":`)
	w.int(t.Priority)
	w.raw(`,"created_at":`)
	w.optTime(t.CreatedAt)
	w.raw(`,"updated_at":`)
	w.optTime(t.UpdatedAt)
	w.raw(`,"correlation_id":`)
	w.uuid(t.CorrelationID)
	w.raw(`,"parent_correlation_id":`)
	w.optUUIDPtr(t.ParentCorrelationID)
	w.raw(`},"task_name":`)
	w.str(t.Name)
	w.raw(`,"task_version":`)
	w.str(t.Version)
	w.raw(`,"namespace_name":`)
	w.str(t.Namespace)
	w.raw(`}`)
	ix.Spans[SpanTask].End = len(w.b)
	w.raw(`,"workflow_step":`)
	ix.Spans[SpanWorkflowStep].Start = len(w.b)
	w.raw(`{"workflow_step_uuid":`)
	w.uuid(st.UUID)
	w.raw(`,"task_uuid":`)
	w.uuid(st.TaskUUID)
	w.raw(`,"named_step_uuid":`)
	w.optUUID(st.NamedStepUUID)
	w.raw(`,"name":`)
	w.str(st.Name)
	w.raw(`,"template_step_name":`)
	w.str(templateStepName(st))
	w.raw(`,"retryable":`)
	w.bool(st.Retry.Retryable)
	w.raw(`,"max_attempts":`)
	w.int(st.Retry.MaxAttempts)
	// tasker-core hydrates the step before its claim counts the attempt:
	// handlers compute the current attempt as attempts + 1.
	w.raw(`,"in_process":true,"processed":false,"processed_at":null,"attempts":`)
	w.int(max(st.Attempts-1, 0))
	w.raw(`,"last_attempted_at":`)
	if st.LastAttemptedAt == nil {
		w.raw(`null`)
	} else {
		w.time(*st.LastAttemptedAt)
	}
	w.raw(`,"backoff_request_seconds":`)
	if st.BackoffRequestSeconds == nil {
		w.raw(`null`)
	} else {
		w.int(*st.BackoffRequestSeconds)
	}
	w.raw(`,"inputs":`)
	ix.Spans[SpanInputs].Start = len(w.b)
	w.json("step inputs", st.Inputs, `{}`)
	ix.Spans[SpanInputs].End = len(w.b)
	w.raw(`,"results":null,"checkpoint":`)
	ix.Spans[SpanCheckpoint].Start = len(w.b)
	w.json("step checkpoint", st.Checkpoint, `null`)
	ix.Spans[SpanCheckpoint].End = len(w.b)
	w.raw(`,"created_at":`)
	w.optTime(st.CreatedAt)
	w.raw(`,"updated_at":`)
	w.optTime(st.UpdatedAt)
	w.raw(`}`)
	ix.Spans[SpanWorkflowStep].End = len(w.b)
	w.raw(`,"dependency_results":`)
	ix.Spans[SpanDependencyResults].Start = len(w.b)
	w.raw(`{`)
	for i, name := range names {
		if i > 0 {
			w.raw(`,`)
		}
		w.str(name)
		w.raw(`:`)
		w.json("dependency result", deps[name], `null`)
	}
	w.raw(`}`)
	ix.Spans[SpanDependencyResults].End = len(w.b)
	w.raw(`,"step_definition":`)
	ix.Spans[SpanStepDefinition] = Span{len(w.b), len(w.b) + len(defJSON)}
	init := initializationSpan(defJSON)
	ix.Spans[SpanInitialization] = Span{ix.Spans[SpanStepDefinition].Start + init.Start,
		ix.Spans[SpanStepDefinition].Start + init.End}
	w.b = append(w.b, defJSON...)
	w.raw(`}}`)
	ix.Spans[SpanEvent] = Span{0, len(w.b)}
	if w.err != nil {
		return nil, fmt.Errorf("encoding the step event: %w", w.err)
	}
	return w.b, nil
}

// eventWriter appends JSON values to b; err is the first embedded value
// that was not JSON.
type eventWriter struct {
	b   []byte
	err error
}

func (w *eventWriter) raw(s string) { w.b = append(w.b, s...) }

// str writes s as a JSON string: as it is when it needs no escaping (the
// usual case: names, versions, ids), else as encoding/json writes it.
func (w *eventWriter) str(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			w.b = append(w.b, q...)
			return
		}
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, s...)
	w.b = append(w.b, '"')
}

func (w *eventWriter) optStr(s string) {
	if s == "" {
		w.raw(`null`)
		return
	}
	w.str(s)
}

// uuid writes u in its canonical form (8-4-4-4-12 lower-case hex).
func (w *eventWriter) uuid(u uuid.UUID) { w.b = AppendJSONUUID(w.b, u) }

// AppendJSONUUID appends u to b as a JSON string in its canonical form
// (8-4-4-4-12 lower-case hex), without allocating.
func AppendJSONUUID(b []byte, u uuid.UUID) []byte {
	var buf [38]byte
	buf[0], buf[37] = '"', '"'
	hex.Encode(buf[1:9], u[0:4])
	buf[9] = '-'
	hex.Encode(buf[10:14], u[4:6])
	buf[14] = '-'
	hex.Encode(buf[15:19], u[6:8])
	buf[19] = '-'
	hex.Encode(buf[20:24], u[8:10])
	buf[24] = '-'
	hex.Encode(buf[25:37], u[10:])
	return append(b, buf[:]...)
}

func (w *eventWriter) optUUID(u uuid.UUID) {
	if u == uuid.Nil {
		w.raw(`null`)
		return
	}
	w.uuid(u)
}

func (w *eventWriter) optUUIDPtr(u *uuid.UUID) {
	if u == nil {
		w.raw(`null`)
		return
	}
	w.uuid(*u)
}

func (w *eventWriter) bool(v bool) { w.b = strconv.AppendBool(w.b, v) }

func (w *eventWriter) int(n int) { w.b = strconv.AppendInt(w.b, int64(n), 10) }

// time writes t as encoding/json does (RFC 3339 with nanoseconds).
func (w *eventWriter) time(t time.Time) {
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}

// optTime writes t in UTC, or null for the zero time.
func (w *eventWriter) optTime(t time.Time) {
	if t.IsZero() {
		w.raw(`null`)
		return
	}
	w.time(t.UTC())
}

// json writes the JSON value raw compacted (as encoding/json writes an
// embedded value; the database hands jsonb out with spaces), or def when raw
// is empty. A value that is not JSON is recorded in w.err.
func (w *eventWriter) json(what string, raw json.RawMessage, def string) {
	if len(raw) == 0 {
		w.raw(def)
		return
	}
	buf := bytes.NewBuffer(w.b)
	if err := json.Compact(buf, raw); err != nil && w.err == nil {
		w.err = fmt.Errorf("the %s is not valid JSON: %w", what, err)
	}
	w.b = buf.Bytes()
}

func templateStepName(st *store.Step) string {
	if st.TemplateStepName != "" {
		return st.TemplateStepName
	}
	return st.Name
}

// definitionOf is the template step as tasker-core's step_definition.
func definitionOf(st *store.Step, def *template.Step) stepDefinition {
	if def == nil {
		init := json.RawMessage(`{}`)
		if st.StepType != string(template.StepBatchWorker) {
			// Ordinary steps are created with the template's
			// initialization as their inputs.
			init = jsonOr(st.Inputs, `{}`)
		}
		d := stepDefinition{
			Name: templateStepName(st),
			Handler: handlerDefinition{Callable: st.HandlerCallable, Method: methodOr(st.HandlerMethod),
				Initialization: init},
			Type: stepTypeOr(st.StepType), Dependencies: []string{},
			Retry: retryDefinition{Retryable: st.Retry.Retryable, MaxAttempts: st.Retry.MaxAttempts,
				Backoff: st.Retry.Backoff, BackoffBaseMs: st.Retry.BackoffBase, MaxBackoffMs: st.Retry.MaxBackoffMs},
			PublishesEvents: []template.PublishedEvent{},
		}
		if st.TimeoutSeconds > 0 {
			d.TimeoutSeconds = &st.TimeoutSeconds
		}
		return d
	}
	init, err := json.Marshal(def.Handler.Initialization)
	if err != nil || def.Handler.Initialization == nil {
		init = json.RawMessage(`{}`)
	}
	d := stepDefinition{
		Name: def.Name, Description: optString(def.Description),
		Handler: handlerDefinition{Callable: def.Handler.Callable, Method: methodOr(def.Handler.Method),
			Resolver: optString(def.Handler.Resolver), Initialization: init},
		Type: stepTypeOr(string(def.Type)), SystemDependency: optString(def.SystemDependency),
		Dependencies: nonNil(def.Dependencies),
		Retry: retryDefinition{Retryable: def.Retry.Retryable, MaxAttempts: def.Retry.MaxAttempts,
			Backoff: string(def.Retry.Backoff), BackoffBaseMs: def.Retry.BackoffBaseMs, MaxBackoffMs: def.Retry.MaxBackoffMs},
		PublishesEvents: def.PublishesEvents, BatchConfig: def.BatchConfig,
	}
	if d.PublishesEvents == nil {
		d.PublishesEvents = []template.PublishedEvent{}
	}
	if def.TimeoutSeconds > 0 {
		d.TimeoutSeconds = &def.TimeoutSeconds
	}
	return d
}

// stepDefinitions encodes every step of tpls as step events carry it. A
// step whose definition does not encode is left out: its events encode it
// themselves, and report the error.
func stepDefinitions(tpls []*template.Template) map[*template.Step]json.RawMessage {
	out := map[*template.Step]json.RawMessage{}
	for _, t := range tpls {
		for i := range t.Steps {
			def := &t.Steps[i]
			if raw, err := json.Marshal(definitionOf(nil, def)); err == nil {
				out[def] = raw
			}
		}
	}
	return out
}

// dependencyResults gives each ancestor's stored execution result; a stored
// value that is not one (a result set by hand) is wrapped as a successful
// result whose "result" is the value.
func dependencyResults(deps map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(deps))
	for name, raw := range deps {
		if json.Valid(raw) && hasBoolSuccess(raw) {
			out[name] = raw
			continue
		}
		value := jsonOr(raw, `null`)
		if bytes.Equal(bytes.TrimSpace(value), []byte(`null`)) {
			value = json.RawMessage(`{}`)
		}
		wrapped, err := json.Marshal(map[string]any{
			"success": true, "result": value, "status": "completed", "metadata": map[string]any{},
		})
		if err != nil {
			wrapped = json.RawMessage(`null`) // not JSON: nothing to pass on
		}
		out[name] = wrapped
	}
	return out
}

// hasBoolSuccess reports whether raw, valid JSON, is an object with a
// top-level "success" key whose value is true or false: a stored step
// execution result. It only scans raw, without decoding it.
func hasBoolSuccess(raw []byte) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	depth, found := 0, false
	expectKey := true // at depth 1, the next string is a key
	for ; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '{', '[':
			depth++
			expectKey = depth == 1 && c == '{'
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		case '"':
			start := i
			for i++; raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
			if depth != 1 || !expectKey {
				continue
			}
			expectKey = false
			if string(raw[start:i+1]) != `"success"` {
				continue
			}
			j := skipSpace(raw, i+1) // at ':'
			j = skipSpace(raw, j+1)
			found = raw[j] == 't' || raw[j] == 'f'
		}
	}
	return found
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func jsonOr(raw json.RawMessage, def string) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(def)
	}
	return raw
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func methodOr(m string) string {
	if m == "" {
		return template.DefaultHandlerMethod
	}
	return m
}

func stepTypeOr(t string) string {
	if t == "" {
		return string(template.StepStandard)
	}
	return t
}
