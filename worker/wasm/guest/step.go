package guest

import (
	"encoding/json"
	"fmt"
)

// ABIVersion is the version of the handler ABI this package implements.
const ABIVersion = 1

// Step is the step a handler runs: its identity, the task context, the
// step's inputs and the results of its completed ancestors. Raw holds the
// whole step event for fields the accessors do not cover.
//
// The event is read lazily: ParseStep only checks that it is one JSON
// object, and each accessor finds its field when it is called, without
// decoding the rest. Context, Inputs and Dependency decode just their part
// of the event into the handler's value.
type Step struct {
	// Raw is the step event as the worker sent it.
	Raw json.RawMessage

	ev json.RawMessage // Raw without surrounding white space
	// The sections of task_sequence_step, found on first use.
	tss, task, workflowStep, deps *section
}

// section is a part of the event found once.
type section struct {
	raw []byte
	ok  bool
	err error
}

// ParseStep reads a step event.
func ParseStep(data []byte) (*Step, error) {
	ev, err := topLevel(data)
	if err != nil {
		return nil, err
	}
	return &Step{Raw: json.RawMessage(data), ev: ev}, nil
}

// find returns the section at path below parent, found once into *cache;
// a section runs to the end of the event (see lookupOpen).
func find(cache **section, parent []byte, path ...string) *section {
	if *cache == nil {
		raw, ok, err := lookupOpen(parent, path...)
		*cache = &section{raw: raw, ok: ok, err: err}
	}
	return *cache
}

func (s *Step) sequence() []byte { return find(&s.tss, s.ev, "task_sequence_step").raw }

func (s *Step) taskSection() []byte { return find(&s.task, s.sequence(), "task").raw }

func (s *Step) workflowStepSection() []byte {
	return find(&s.workflowStep, s.sequence(), "workflow_step").raw
}

func (s *Step) dependencies() *section { return find(&s.deps, s.sequence(), "dependency_results") }

// field is the raw value at path below parent (nil when missing).
func field(parent []byte, path ...string) []byte {
	v, _, _ := Lookup(parent, path...)
	return v
}

// EventID identifies this run of the step.
func (s *Step) EventID() string { return stringValue(field(s.ev, "event_id")) }

// TaskUUID is the task's id.
func (s *Step) TaskUUID() string { return stringValue(field(s.ev, "task_uuid")) }

// StepUUID is the step's id.
func (s *Step) StepUUID() string { return stringValue(field(s.ev, "step_uuid")) }

// Name is the step's name.
func (s *Step) Name() string { return stringValue(field(s.workflowStepSection(), "name")) }

// Namespace is the namespace of the task's template.
func (s *Step) Namespace() string { return stringValue(field(s.taskSection(), "namespace_name")) }

// TaskName is the name of the task's template.
func (s *Step) TaskName() string { return stringValue(field(s.taskSection(), "task_name")) }

// TaskVersion is the version of the task's template.
func (s *Step) TaskVersion() string { return stringValue(field(s.taskSection(), "task_version")) }

// Callable is the template's handler.callable.
func (s *Step) Callable() string {
	return stringValue(field(s.sequence(), "step_definition", "handler", "callable"))
}

// Attempt is this run's attempt number, 1 on the first run.
func (s *Step) Attempt() int { return intValue(field(s.workflowStepSection(), "attempts")) + 1 }

// MaxAttempts is the step's retry limit.
func (s *Step) MaxAttempts() int { return intValue(field(s.workflowStepSection(), "max_attempts")) }

// ContextJSON is the task context as JSON, undecoded.
func (s *Step) ContextJSON() json.RawMessage {
	return orEmpty(field(s.taskSection(), "task", "context"))
}

// InputsJSON is the step's inputs as JSON, undecoded.
func (s *Step) InputsJSON() json.RawMessage { return orEmpty(field(s.workflowStepSection(), "inputs")) }

// Context decodes the task context (the task's input) into v.
func (s *Step) Context(v any) error { return decode("the task context", s.ContextJSON(), v) }

// Inputs decodes the step's inputs (the template's handler.initialization)
// into v.
func (s *Step) Inputs(v any) error { return decode("the step inputs", s.InputsJSON(), v) }

// HasDependency reports whether the ancestor step name completed.
func (s *Step) HasDependency(name string) bool {
	_, ok, _ := Lookup(s.dependencies().raw, name)
	return ok
}

// DependencyJSON is the value the completed ancestor step name returned,
// undecoded. A missing ancestor is a permanent error: the template does not
// match the handler.
func (s *Step) DependencyJSON(name string) (json.RawMessage, error) {
	d := s.dependencies()
	if d.err != nil {
		return nil, Permanent(fmt.Errorf("reading the dependency results: %w", d.err))
	}
	res, ok, err := lookupOpen(d.raw, name)
	if err != nil {
		return nil, Permanent(fmt.Errorf("reading the result of step %q: %w", name, err))
	}
	if !ok {
		return nil, Permanent(fmt.Errorf("step %q has no completed ancestor %q", s.Name(), name))
	}
	value, _, err := Lookup(res, "result")
	if err != nil {
		return nil, Permanent(fmt.Errorf("reading the result of step %q: %w", name, err))
	}
	return orEmpty(value), nil
}

// Dependency decodes the value the completed ancestor step name returned
// into v. A missing ancestor is a permanent error: the template does not
// match the handler.
func (s *Step) Dependency(name string, v any) error {
	raw, err := s.DependencyJSON(name)
	if err != nil {
		return err
	}
	return decode(fmt.Sprintf("the result of step %q", name), raw, v)
}

// orEmpty is raw, or {} for a missing value or null.
func orEmpty(raw []byte) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`)
	}
	return raw
}

func decode(what string, raw json.RawMessage, v any) error {
	if p, ok := v.(*json.RawMessage); ok {
		// Nothing to decode: the scanner found the value's extent.
		*p = append((*p)[:0], raw...)
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return Permanent(fmt.Errorf("reading %s: %w", what, err))
	}
	return nil
}
