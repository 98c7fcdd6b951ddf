package guest

import (
	"encoding/json"
	"fmt"
)

// ABIVersion is the version of the handler ABI this package implements.
const ABIVersion = 1

// event is the part of the step event (tasker-core's shape) the SDK reads.
type event struct {
	EventID          string `json:"event_id"`
	TaskUUID         string `json:"task_uuid"`
	StepUUID         string `json:"step_uuid"`
	TaskSequenceStep struct {
		Task struct {
			Task struct {
				Context json.RawMessage `json:"context"`
			} `json:"task"`
			TaskName      string `json:"task_name"`
			TaskVersion   string `json:"task_version"`
			NamespaceName string `json:"namespace_name"`
		} `json:"task"`
		WorkflowStep struct {
			Name        string          `json:"name"`
			Attempts    int             `json:"attempts"`
			MaxAttempts int             `json:"max_attempts"`
			Inputs      json.RawMessage `json:"inputs"`
			Checkpoint  json.RawMessage `json:"checkpoint"`
		} `json:"workflow_step"`
		DependencyResults map[string]dependency `json:"dependency_results"`
		StepDefinition    struct {
			Handler struct {
				Callable string `json:"callable"`
			} `json:"handler"`
		} `json:"step_definition"`
	} `json:"task_sequence_step"`
}

type dependency struct {
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result"`
}

// Step is the step a handler runs: its identity, the task context, the
// step's inputs and the results of its completed ancestors. Raw holds the
// whole step event for fields the accessors do not cover.
type Step struct {
	ev event
	// Raw is the step event as the worker sent it.
	Raw json.RawMessage
}

// ParseStep reads a step event.
func ParseStep(data []byte) (*Step, error) {
	s := &Step{Raw: json.RawMessage(data)}
	if err := json.Unmarshal(data, &s.ev); err != nil {
		return nil, fmt.Errorf("reading the step event: %w", err)
	}
	return s, nil
}

// EventID identifies this run of the step.
func (s *Step) EventID() string { return s.ev.EventID }

// TaskUUID is the task's id.
func (s *Step) TaskUUID() string { return s.ev.TaskUUID }

// StepUUID is the step's id.
func (s *Step) StepUUID() string { return s.ev.StepUUID }

// Name is the step's name.
func (s *Step) Name() string { return s.ev.TaskSequenceStep.WorkflowStep.Name }

// Namespace, TaskName and TaskVersion identify the task's template.
func (s *Step) Namespace() string { return s.ev.TaskSequenceStep.Task.NamespaceName }

// TaskName is the name of the task's template.
func (s *Step) TaskName() string { return s.ev.TaskSequenceStep.Task.TaskName }

// TaskVersion is the version of the task's template.
func (s *Step) TaskVersion() string { return s.ev.TaskSequenceStep.Task.TaskVersion }

// Callable is the template's handler.callable.
func (s *Step) Callable() string { return s.ev.TaskSequenceStep.StepDefinition.Handler.Callable }

// Attempt is this run's attempt number, 1 on the first run.
func (s *Step) Attempt() int { return s.ev.TaskSequenceStep.WorkflowStep.Attempts + 1 }

// MaxAttempts is the step's retry limit.
func (s *Step) MaxAttempts() int { return s.ev.TaskSequenceStep.WorkflowStep.MaxAttempts }

// Context decodes the task context (the task's input) into v.
func (s *Step) Context(v any) error {
	return decode("the task context", s.ev.TaskSequenceStep.Task.Task.Context, v)
}

// Inputs decodes the step's inputs (the template's handler.initialization)
// into v.
func (s *Step) Inputs(v any) error {
	return decode("the step inputs", s.ev.TaskSequenceStep.WorkflowStep.Inputs, v)
}

// HasDependency reports whether the ancestor step name completed.
func (s *Step) HasDependency(name string) bool {
	_, ok := s.ev.TaskSequenceStep.DependencyResults[name]
	return ok
}

// Dependency decodes the value the completed ancestor step name returned
// into v. A missing ancestor is a permanent error: the template does not
// match the handler.
func (s *Step) Dependency(name string, v any) error {
	d, ok := s.ev.TaskSequenceStep.DependencyResults[name]
	if !ok {
		return Permanent(fmt.Errorf("step %q has no completed ancestor %q", s.Name(), name))
	}
	return decode(fmt.Sprintf("the result of step %q", name), d.Result, v)
}

func decode(what string, raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage(`{}`)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return Permanent(fmt.Errorf("reading %s: %w", what, err))
	}
	return nil
}
