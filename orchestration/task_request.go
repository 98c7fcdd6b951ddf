package orchestration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/api"
)

// TaskRequest asks for a task: which template, and its context. Field names
// are tasker-core's, so existing clients work unchanged.
type TaskRequest struct {
	Name                string          `json:"name"`
	Namespace           string          `json:"namespace"`
	Version             string          `json:"version,omitempty"`
	Context             json.RawMessage `json:"context,omitempty"`
	Initiator           string          `json:"initiator,omitempty"`
	SourceSystem        string          `json:"source_system,omitempty"`
	Reason              string          `json:"reason,omitempty"`
	Tags                []string        `json:"tags,omitempty"`
	RequestedAt         *time.Time      `json:"requested_at,omitempty"`
	Options             json.RawMessage `json:"options,omitempty"`
	Priority            *int            `json:"priority,omitempty"`
	CorrelationID       *uuid.UUID      `json:"correlation_id,omitempty"`
	ParentCorrelationID *uuid.UUID      `json:"parent_correlation_id,omitempty"`
	IdentityKey         string          `json:"idempotency_key,omitempty"`
}

// TaskRequestMessage is a task request sent through the
// orchestration_task_requests queue instead of the REST API.
type TaskRequestMessage struct {
	RequestID   string          `json:"request_id"`
	TaskRequest TaskRequest     `json:"task_request"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	// Traceparent is the W3C trace context of the sender's span, optional:
	// with tracing on, the task's trace continues it, as the REST API
	// continues a request's traceparent header. Senders that do not trace
	// leave it out; a malformed value is ignored (the task starts a trace
	// of its own).
	Traceparent string `json:"traceparent,omitempty"`
}

// Context limits (tasker-core's own, so its clients meet the same limits).
const (
	MaxContextBytes  = 1 << 20
	MaxContextDepth  = 10
	MaxContextWidth  = 1000
	MaxContextString = 10000
	maxFieldLength   = 128
	maxTags          = 100
)

// validate checks the request's own fields (not the template's schema).
func (r *TaskRequest) validate() error {
	var ve ValidationError
	if r.Name == "" {
		ve.add("/name", "is required")
	}
	if r.Namespace == "" {
		ve.add("/namespace", "is required")
	}
	for ptr, v := range map[string]string{"/name": r.Name, "/namespace": r.Namespace, "/version": r.Version,
		"/initiator": r.Initiator, "/source_system": r.SourceSystem, "/reason": r.Reason} {
		if utf8.RuneCountInString(v) > 255 || (ptr != "/name" && ptr != "/namespace" && ptr != "/version" &&
			utf8.RuneCountInString(v) > maxFieldLength) {
			ve.add(ptr, "is too long")
		}
	}
	if r.Priority != nil && (*r.Priority < -100 || *r.Priority > 100) {
		ve.add("/priority", "must be between -100 and 100, got %d", *r.Priority)
	}
	if len(r.Tags) > maxTags {
		ve.add("/tags", "has %d tags; at most %d are allowed", len(r.Tags), maxTags)
	}
	for i, t := range r.Tags {
		if t == "" || len(t) > maxFieldLength {
			ve.add(fmt.Sprintf("/tags/%d", i), "must be 1-%d characters", maxFieldLength)
		}
	}
	if len(r.IdentityKey) > 255 {
		ve.add("/idempotency_key", "is too long")
	}
	if isNull(r.Options) {
		r.Options = nil // tasker-core's clients always send "options": null
	}
	if len(r.Options) > 0 && !isObject(r.Options) {
		ve.add("/options", "must be an object")
	}
	ve.Errors = append(ve.Errors, checkContext(r.Context)...)
	return ve.err()
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

// checkContext enforces the context limits: at most 1 MiB, nesting depth 10,
// 1000 keys per object or elements per array, strings and keys of at most
// 10000 characters. An absent context is an empty object.
func checkContext(raw json.RawMessage) []FieldError {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	if len(raw) > MaxContextBytes {
		return []FieldError{{"/context", fmt.Sprintf("is %d bytes; at most %d are allowed", len(raw), MaxContextBytes)}}
	}
	if !isObject(raw) {
		return []FieldError{{"/context", "must be a JSON object"}}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []FieldError{{"/context", "is not valid JSON: " + err.Error()}}
	}
	var errs []FieldError
	walkContext(v, "/context", 1, &errs)
	return errs
}

func walkContext(v any, ptr string, depth int, errs *[]FieldError) {
	if len(*errs) >= 20 {
		return
	}
	switch n := v.(type) {
	case map[string]any:
		if depth > MaxContextDepth {
			*errs = append(*errs, FieldError{ptr, fmt.Sprintf("nests deeper than %d levels", MaxContextDepth)})
			return
		}
		if len(n) > MaxContextWidth {
			*errs = append(*errs, FieldError{ptr, fmt.Sprintf("has %d keys; at most %d are allowed", len(n), MaxContextWidth)})
		}
		for k, c := range n {
			if utf8.RuneCountInString(k) > MaxContextString {
				*errs = append(*errs, FieldError{ptr, fmt.Sprintf("has a key longer than %d characters", MaxContextString)})
				continue
			}
			walkContext(c, ptr+"/"+escapePointer(k), depth+1, errs)
		}
	case []any:
		if depth > MaxContextDepth {
			*errs = append(*errs, FieldError{ptr, fmt.Sprintf("nests deeper than %d levels", MaxContextDepth)})
			return
		}
		if len(n) > MaxContextWidth {
			*errs = append(*errs, FieldError{ptr, fmt.Sprintf("has %d elements; at most %d are allowed", len(n), MaxContextWidth)})
		}
		for i, c := range n {
			walkContext(c, fmt.Sprintf("%s/%d", ptr, i), depth+1, errs)
		}
	case string:
		if utf8.RuneCountInString(n) > MaxContextString {
			*errs = append(*errs, FieldError{ptr, fmt.Sprintf("is longer than %d characters", MaxContextString)})
		}
	}
}

func escapePointer(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '~':
			b.WriteString("~0")
		case '/':
			b.WriteString("~1")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// UnmarshalJSON reads a request as tasker-core's clients send it through
// the task request queue too: requested_at may lack a time zone (it is then
// UTC).
func (r *TaskRequest) UnmarshalJSON(b []byte) error {
	type plain TaskRequest
	aux := struct {
		*plain
		RequestedAt json.RawMessage `json:"requested_at,omitempty"`
	}{plain: (*plain)(r)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	r.RequestedAt = nil
	if len(aux.RequestedAt) == 0 || isNull(aux.RequestedAt) {
		return nil
	}
	var text string
	if err := json.Unmarshal(aux.RequestedAt, &text); err != nil {
		return errors.New("requested_at: must be a date-time string")
	}
	t, err := api.ParseLenientTime(text)
	if err != nil {
		return fmt.Errorf("requested_at: %w", err)
	}
	r.RequestedAt = &t
	return nil
}
