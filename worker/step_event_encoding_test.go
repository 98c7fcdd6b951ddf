package worker

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// TestStepEventEncodingMatchesReference: the step event written field by
// field is, value for value, the event encoding/json writes from the
// event's shape declared as Go types (below), for steps with and without a
// template, with every optional field set and unset, and with strings that
// need escaping; embedded values (jsonb, spaced) are compacted as before.
func TestStepEventEncodingMatchesReference(t *testing.T) {
	r := newForeignRig(t)
	full := r.step()
	parent, backoff := uuid.New(), 12
	processed := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	full.Task.ParentCorrelationID = &parent
	full.Task.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	full.Task.Initiator, full.Task.SourceSystem, full.Task.Reason = "me", "src \"quoted\" <b>&", "line\nbreak\x01 é ☃"
	full.Task.Tags = []string{"a", "b\\c", "\u2028"}
	full.Task.Priority, full.Task.Complete = -3, true
	full.Step.BackoffRequestSeconds = &backoff
	full.Step.LastAttemptedAt = &processed
	full.Step.Checkpoint = json.RawMessage(`{"cursor": {"row": 5}, "items_processed": 5}`)
	full.Step.TemplateStepName = "linear_step_2"
	full.Step.Name = "linear_step_2 \"renamed\""
	full.Dependencies["hand set"] = json.RawMessage(`{"resolved": [1, 2]}`)
	full.Dependencies["nothing"] = json.RawMessage(`null`)
	full.Dependencies["bad"] = json.RawMessage(`{"not json`)

	bare := claimedStep("py.Fetch")
	bare.Task.Tags, bare.Task.Context, bare.Step.Inputs, bare.Dependencies = nil, nil, nil, nil
	bare.Step.Retry = store.RetryPolicy{}
	bare.Step.TimeoutSeconds = 9
	batch := claimedStep("py.Batch")
	batch.Step.StepType = string(template.StepBatchWorker)

	def, _ := r.tpl.Step("linear_step_2")
	defs := stepDefinitions([]*template.Template{r.tpl})
	for name, tc := range map[string]struct {
		cs      *store.ClaimedStep
		def     *template.Step
		defJSON json.RawMessage
	}{
		"template step, definition encoded beforehand": {full, def, defs[def]},
		"template step":                 {full, def, nil},
		"no template":                   {full, nil, nil},
		"bare row":                      {bare, nil, nil},
		"batch worker without template": {batch, nil, nil},
	} {
		got, err := encodeStepEvent("e-1", tc.cs, tc.def, tc.defJSON)
		require.NoError(t, err, name)
		require.True(t, json.Valid(got), name)
		want, err := referenceStepEvent("e-1", tc.cs, tc.def)
		require.NoError(t, err, name)
		require.JSONEq(t, string(want), string(got), name)
		require.NotContains(t, string(got), `": `, "embedded values are compacted, as hosts have always had them")

		var ix EventIndex
		again, err := encodeIndexedStepEvent("e-1", tc.cs, tc.def, tc.defJSON, &ix)
		require.NoError(t, err, name)
		require.Equal(t, string(got), string(again), name)
		requireIndexed(t, got, ix, name)
	}

	for _, bad := range []func(cs *store.ClaimedStep){
		func(cs *store.ClaimedStep) { cs.Task.Context = json.RawMessage(`{"a":`) },
		func(cs *store.ClaimedStep) { cs.Step.Inputs = json.RawMessage(`nope`) },
		func(cs *store.ClaimedStep) { cs.Step.Checkpoint = json.RawMessage(`[`) },
	} {
		cs := r.step()
		bad(cs)
		_, err := encodeStepEvent("e-1", cs, def, defs[def])
		require.ErrorContains(t, err, "not valid JSON")
	}
}

// TestHasBoolSuccess: the scan that tells a stored execution result from a
// value set by hand agrees with decoding the value.
func TestHasBoolSuccess(t *testing.T) {
	for _, raw := range []string{
		`{"success": true, "result": 1}`, `{"success":false}`, ` { "result": {"success": true}, "success" : true } `,
		`{"result": {"success": true}}`, `{"a": ["success", {"success": true}], "b": "success"}`, `{"success": null}`,
		`{"success": "yes"}`, `{"success": 1}`, `{"x": "a\"success\"", "success": true}`, `{"s\"": 1, "success": false}`,
		`{"success": true, "success": null}`, `{"success": null, "success": true}`, `{}`, `[{"success": true}]`, `36`,
		`"success"`, `null`, `{"nested": {"deeper": [1, {"success": true}]}, "other": 2}`,
	} {
		var probe struct {
			Success *bool `json:"success"`
		}
		want := json.Unmarshal([]byte(raw), &probe) == nil && probe.Success != nil
		require.Equal(t, want, json.Valid([]byte(raw)) && hasBoolSuccess([]byte(raw)), raw)
	}
}

// The step event's shape as Go types, encoded by encoding/json: the
// reference the field-by-field encoder is checked against.

type stepEvent struct {
	EventID             string     `json:"event_id"`
	TaskUUID            uuid.UUID  `json:"task_uuid"`
	StepUUID            uuid.UUID  `json:"step_uuid"`
	CorrelationID       uuid.UUID  `json:"correlation_id"`
	TaskCorrelationID   uuid.UUID  `json:"task_correlation_id"`
	ParentCorrelationID *uuid.UUID `json:"parent_correlation_id"`
	// Traceparent is the W3C traceparent of the worker's span for this
	// run, when tracing is on: a handler's own spans join the task's trace
	// as its children.
	Traceparent      string           `json:"traceparent,omitempty"`
	TaskSequenceStep taskSequenceStep `json:"task_sequence_step"`
}

type taskSequenceStep struct {
	Task              taskForHandler             `json:"task"`
	WorkflowStep      workflowStepRecord         `json:"workflow_step"`
	DependencyResults map[string]json.RawMessage `json:"dependency_results"`
	StepDefinition    stepDefinition             `json:"step_definition"`
}

type taskForHandler struct {
	Task          taskRecord `json:"task"`
	TaskName      string     `json:"task_name"`
	TaskVersion   string     `json:"task_version"`
	NamespaceName string     `json:"namespace_name"`
}

type taskRecord struct {
	TaskUUID            uuid.UUID       `json:"task_uuid"`
	NamedTaskUUID       *uuid.UUID      `json:"named_task_uuid"`
	Complete            bool            `json:"complete"`
	RequestedAt         *time.Time      `json:"requested_at"`
	Initiator           *string         `json:"initiator"`
	SourceSystem        *string         `json:"source_system"`
	Reason              *string         `json:"reason"`
	Tags                []string        `json:"tags"`
	Context             json.RawMessage `json:"context"`
	IdentityHash        *string         `json:"identity_hash"`
	Priority            int             `json:"priority"`
	CreatedAt           *time.Time      `json:"created_at"`
	UpdatedAt           *time.Time      `json:"updated_at"`
	CorrelationID       uuid.UUID       `json:"correlation_id"`
	ParentCorrelationID *uuid.UUID      `json:"parent_correlation_id"`
}

type workflowStepRecord struct {
	WorkflowStepUUID      uuid.UUID       `json:"workflow_step_uuid"`
	TaskUUID              uuid.UUID       `json:"task_uuid"`
	NamedStepUUID         *uuid.UUID      `json:"named_step_uuid"`
	Name                  string          `json:"name"`
	TemplateStepName      string          `json:"template_step_name"`
	Retryable             bool            `json:"retryable"`
	MaxAttempts           int             `json:"max_attempts"`
	InProcess             bool            `json:"in_process"`
	Processed             bool            `json:"processed"`
	ProcessedAt           *time.Time      `json:"processed_at"`
	Attempts              int             `json:"attempts"`
	LastAttemptedAt       *time.Time      `json:"last_attempted_at"`
	BackoffRequestSeconds *int            `json:"backoff_request_seconds"`
	Inputs                json.RawMessage `json:"inputs"`
	Results               json.RawMessage `json:"results"`
	Checkpoint            json.RawMessage `json:"checkpoint"`
	CreatedAt             *time.Time      `json:"created_at"`
	UpdatedAt             *time.Time      `json:"updated_at"`
}

// referenceStepEvent encodes the step event with encoding/json.
func referenceStepEvent(id string, cs *store.ClaimedStep, def *template.Step) (json.RawMessage, error) {
	t, st := &cs.Task, &cs.Step
	ev := stepEvent{
		EventID: id, TaskUUID: t.UUID, StepUUID: st.UUID,
		CorrelationID: t.CorrelationID, TaskCorrelationID: t.CorrelationID, ParentCorrelationID: t.ParentCorrelationID,
		Traceparent: t.TraceParent,
		TaskSequenceStep: taskSequenceStep{
			Task: taskForHandler{
				Task: taskRecord{
					TaskUUID: t.UUID, NamedTaskUUID: optUUID(t.NamedTaskUUID), Complete: t.Complete,
					RequestedAt: optTime(t.RequestedAt), Initiator: optString(t.Initiator),
					SourceSystem: optString(t.SourceSystem), Reason: optString(t.Reason), Tags: nonNil(t.Tags),
					Context: jsonOr(t.Context, `{}`), IdentityHash: optString(t.IdentityHash), Priority: t.Priority,
					CreatedAt: optTime(t.CreatedAt), UpdatedAt: optTime(t.UpdatedAt),
					CorrelationID: t.CorrelationID, ParentCorrelationID: t.ParentCorrelationID,
				},
				TaskName: t.Name, TaskVersion: t.Version, NamespaceName: t.Namespace,
			},
			WorkflowStep: workflowStepRecord{
				WorkflowStepUUID: st.UUID, TaskUUID: st.TaskUUID, NamedStepUUID: optUUID(st.NamedStepUUID),
				Name: st.Name, TemplateStepName: templateStepName(st), Retryable: st.Retry.Retryable,
				MaxAttempts: st.Retry.MaxAttempts, InProcess: true, Processed: false,
				// tasker-core hydrates the step before its claim counts the
				// attempt: handlers compute the current attempt as
				// attempts + 1.
				Attempts:        max(st.Attempts-1, 0),
				LastAttemptedAt: st.LastAttemptedAt, BackoffRequestSeconds: st.BackoffRequestSeconds,
				Inputs: jsonOr(st.Inputs, `{}`), Results: nil, Checkpoint: jsonOr(st.Checkpoint, `null`),
				CreatedAt: optTime(st.CreatedAt), UpdatedAt: optTime(st.UpdatedAt),
			},
			DependencyResults: dependencyResults(cs.Dependencies),
			StepDefinition:    definitionOf(st, def),
		},
	}
	return json.Marshal(ev)
}

func optUUID(u uuid.UUID) *uuid.UUID {
	if u == uuid.Nil {
		return nil
	}
	return &u
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// BenchmarkStepEvent: encoding one linear-workflow step event (~2.3 kB, one
// dependency result) as a poll does, with its template's definition
// encoded beforehand.
func BenchmarkStepEvent(b *testing.B) {
	r := newForeignRig(b)
	cs := r.step()
	def, _ := r.tpl.Step("linear_step_2")
	defJSON := stepDefinitions([]*template.Template{r.tpl})[def]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeStepEvent("1f0c7a4e-1111-2222-3333-444455556666", cs, def, defJSON); err != nil {
			b.Fatal(err)
		}
	}
}

// requireIndexed: every span of ix holds, byte for byte, the part of the
// event it names, and every repeated field the event's value; computing
// the index from the encoded event gives the same index.
func requireIndexed(t *testing.T, raw []byte, ix EventIndex, name string) {
	t.Helper()
	var ev map[string]any
	require.NoError(t, json.Unmarshal(raw, &ev), name)
	require.Equal(t, Span{0, len(raw)}, ix.Spans[SpanEvent], name)
	for part, path := range spanPaths {
		sp := ix.Spans[part]
		require.Less(t, sp.Start, sp.End, "%s: %v", name, path)
		want, err := json.Marshal(dig(ev, path...))
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(raw[sp.Start:sp.End]), "%s: %v", name, path)
	}
	require.Equal(t, dig(ev, "correlation_id"), ix.CorrelationID.String(), name)
	ws := dig(ev, "task_sequence_step", "workflow_step").(map[string]any)
	require.Equal(t, ws["name"], ix.StepName, name)
	require.EqualValues(t, ws["attempts"], ix.Attempts, name)
	require.EqualValues(t, ws["max_attempts"], ix.MaxAttempts, name)
	def := dig(ev, "task_sequence_step", "step_definition").(map[string]any)
	h := def["handler"].(map[string]any)
	require.Equal(t, h["callable"], ix.Callable, name)
	require.Equal(t, h["method"], ix.Method, name)
	if h["resolver"] == nil {
		require.Empty(t, ix.Resolver, name)
	} else {
		require.Equal(t, h["resolver"], ix.Resolver, name)
	}
	if def["timeout_seconds"] == nil {
		require.Zero(t, ix.TimeoutSeconds, name)
	} else {
		require.EqualValues(t, def["timeout_seconds"], ix.TimeoutSeconds, name)
	}
	scanned, err := IndexStepEvent(raw)
	require.NoError(t, err, name)
	require.Equal(t, ix, scanned, name)
}

// TestInitializationSpan: the scan finds handler.initialization past string
// values that contain its key's text, and reports a definition without one.
func TestInitializationSpan(t *testing.T) {
	def := []byte(`{"name":"\"initialization\":1","handler":{"callable":"\"initialization\":{","method":"call",` +
		`"resolver":null,"initialization":{"a":[1,{"b":"}"}]}},"type":"standard"}`)
	sp := initializationSpan(def)
	require.Equal(t, `{"a":[1,{"b":"}"}]}`, string(def[sp.Start:sp.End]))
	require.Equal(t, Span{}, initializationSpan([]byte(`{"name":"x","handler":{"callable":"c"}}`)))
	require.Equal(t, Span{}, initializationSpan([]byte(`{"name":"x","handler":"c"}`)))
	require.Equal(t, Span{}, initializationSpan([]byte(`{"handler":{"initialization":`)))
	_, err := IndexStepEvent([]byte(`{"task_sequence_step":{}}`))
	require.Error(t, err)
}
