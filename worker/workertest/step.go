package workertest

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
)

// Defaults of a step built by NewStep.
const (
	DefaultNamespace   = "default"
	DefaultTaskName    = "test_task"
	DefaultTaskVersion = "1.0.0"
	DefaultMaxAttempts = 3
	DefaultMethod      = "call"
)

// idSpace seeds the deterministic ids of built steps.
var idSpace = uuid.MustParse("6c1f3c1e-4f0e-4b8a-9d55-7a8e2f0b9c11")

// StepBuilder builds the step a handler receives. Its methods record the
// first problem (a value that is not JSON-encodable) and Build reports it.
// A StepBuilder is not safe for concurrent use; Build may be called many
// times, each call building a fresh step from the current settings.
type StepBuilder struct {
	data    worker.StepData
	taskSet bool
	stepSet bool
	err     error
}

// NewStep starts a step named name: attempt 1 of DefaultMaxAttempts
// (retryable), method "call", empty task context and configuration, no
// dependencies, in task DefaultNamespace/DefaultTaskName/DefaultTaskVersion.
// The task and step ids are derived from the name, so a test sees the same
// ids on every run; WithTaskUUID and WithStepUUID override them.
func NewStep(name string) *StepBuilder {
	return &StepBuilder{data: worker.StepData{
		Namespace:        DefaultNamespace,
		TaskName:         DefaultTaskName,
		TaskVersion:      DefaultTaskVersion,
		StepName:         name,
		TemplateStepName: name,
		StepType:         "standard",
		Method:           DefaultMethod,
		Context:          json.RawMessage(`{}`),
		Config:           json.RawMessage(`{}`),
		Dependencies:     map[string]json.RawMessage{},
		Attempt:          1,
		MaxAttempts:      DefaultMaxAttempts,
		Retryable:        true,
	}}
}

// WithContext sets the task context (the task's input, which a typed
// handler receives decoded as Step.Input). v is any JSON-encodable value;
// json.RawMessage and []byte are taken as JSON text.
func (b *StepBuilder) WithContext(v any) *StepBuilder {
	if raw, ok := b.encode("task context", v); ok {
		b.data.Context = raw
	}
	return b
}

// WithConfig sets the step configuration (the template's
// handler.initialization, which worker.Config decodes).
func (b *StepBuilder) WithConfig(v any) *StepBuilder {
	if raw, ok := b.encode("step config", v); ok {
		b.data.Config = raw
	}
	return b
}

// WithDependency adds the result of a completed ancestor step: value is
// what that step's handler returned. It is stored wrapped in a step
// execution result, as the database holds it, so worker.Dependency reads it
// exactly as on a worker.
func (b *StepBuilder) WithDependency(stepName string, value any) *StepBuilder {
	raw, ok := b.encode(fmt.Sprintf("result of step %q", stepName), value)
	if !ok {
		return b
	}
	stored, err := json.Marshal(stepresult.Success(stepUUID(b.taskUUID(), stepName), raw, nil))
	if err != nil {
		b.fail(fmt.Errorf("wrapping result of step %q: %w", stepName, err))
		return b
	}
	b.data.Dependencies[stepName] = stored
	return b
}

// WithStoredDependency adds an ancestor's result exactly as stored (a step
// execution result document), for tests of unusual stored shapes.
func (b *StepBuilder) WithStoredDependency(stepName string, stored json.RawMessage) *StepBuilder {
	b.data.Dependencies[stepName] = stored
	return b
}

// WithAttempt sets the attempt number (1 for the first run) and the step's
// attempt limit.
func (b *StepBuilder) WithAttempt(attempt, maxAttempts int) *StepBuilder {
	b.data.Attempt, b.data.MaxAttempts = attempt, maxAttempts
	return b
}

// WithRetryable sets whether the template allows retries of the step.
func (b *StepBuilder) WithRetryable(retryable bool) *StepBuilder {
	b.data.Retryable = retryable
	return b
}

// WithMethod sets the handler method (the template's handler.method).
func (b *StepBuilder) WithMethod(method string) *StepBuilder {
	b.data.Method = method
	return b
}

// WithCallable sets the step's handler callable.
func (b *StepBuilder) WithCallable(callable string) *StepBuilder {
	b.data.Callable = callable
	return b
}

// WithTimeout sets the step's timeout_seconds.
func (b *StepBuilder) WithTimeout(seconds int) *StepBuilder {
	b.data.TimeoutSeconds = seconds
	return b
}

// WithCheckpoint sets the step's saved checkpoint record (what
// worker.YieldCheckpoint saved: {"cursor", "items_processed",
// "accumulated_results", ...}).
func (b *StepBuilder) WithCheckpoint(v any) *StepBuilder {
	if raw, ok := b.encode("checkpoint", v); ok {
		b.data.Checkpoint = raw
	}
	return b
}

// WithTask sets the template the task was created from.
func (b *StepBuilder) WithTask(namespace, name, version string) *StepBuilder {
	b.data.Namespace, b.data.TaskName, b.data.TaskVersion = namespace, name, version
	return b
}

// WithEvents declares the step's publishes_events: the domain events its
// handler may publish with StepContext.PublishEvent.
func (b *StepBuilder) WithEvents(decls ...template.PublishedEvent) *StepBuilder {
	b.data.PublishesEvents = append(b.data.PublishesEvents, decls...)
	return b
}

// WithTaskUUID sets the task's id (and so the default step id).
func (b *StepBuilder) WithTaskUUID(id uuid.UUID) *StepBuilder {
	b.data.TaskUUID = id
	b.taskSet = true
	return b
}

// WithStepUUID sets the step's id.
func (b *StepBuilder) WithStepUUID(id uuid.UUID) *StepBuilder {
	b.data.StepUUID = id
	b.stepSet = true
	return b
}

// Data returns the worker.StepData the builder describes, or the first
// error met while building (a value that is not JSON-encodable).
func (b *StepBuilder) Data() (worker.StepData, error) {
	if b.err != nil {
		return worker.StepData{}, b.err
	}
	d := b.data
	d.TaskUUID = b.taskUUID()
	if !b.stepSet {
		d.StepUUID = stepUUID(d.TaskUUID, d.StepName)
	}
	if d.CorrelationID == uuid.Nil {
		d.CorrelationID = uuid.NewSHA1(d.TaskUUID, []byte("correlation"))
	}
	d.Dependencies = maps.Clone(d.Dependencies)
	return d, nil
}

// Build returns the step context. It panics when a value given to the
// builder could not be encoded as JSON: that is a bug in the test, and a
// test helper should fail loudly. Use Data to get the error instead.
func (b *StepBuilder) Build() *worker.StepContext {
	d, err := b.Data()
	if err != nil {
		panic("workertest: " + err.Error())
	}
	return worker.NewStepContext(d)
}

func (b *StepBuilder) taskUUID() uuid.UUID {
	if b.taskSet {
		return b.data.TaskUUID
	}
	return uuid.NewSHA1(idSpace, []byte("task/"+b.data.StepName))
}

func (b *StepBuilder) encode(what string, v any) (json.RawMessage, bool) {
	raw, err := encodeJSON(v)
	if err != nil {
		b.fail(fmt.Errorf("encoding %s: %w", what, err))
		return nil, false
	}
	return raw, true
}

func (b *StepBuilder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// stepUUID derives a step's id from its task's id and its name.
func stepUUID(task uuid.UUID, name string) uuid.UUID {
	return uuid.NewSHA1(task, []byte("step/"+name))
}

// encodeJSON encodes v; json.RawMessage and []byte are JSON text already,
// nil is the empty object (as a worker stores a nil success value).
func encodeJSON(v any) (json.RawMessage, error) {
	switch x := v.(type) {
	case nil:
		return json.RawMessage(`{}`), nil
	case json.RawMessage:
		if !json.Valid(x) {
			return nil, fmt.Errorf("not valid JSON: %q", x)
		}
		return append(json.RawMessage(nil), x...), nil
	case []byte:
		if !json.Valid(x) {
			return nil, fmt.Errorf("not valid JSON: %q", x)
		}
		return append(json.RawMessage(nil), x...), nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return raw, nil
}
