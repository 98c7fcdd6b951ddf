package corecompat

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// The request bodies below are built as tasker-core's client serializes
// them (serde, field order and nulls included), so that tests send exactly
// what that client sends.

// TaskRequest mirrors models::core::task_request::TaskRequest as serde
// serializes it: every Option is written (as null when None) except
// idempotency_key, and requested_at is a NaiveDateTime.
type TaskRequest struct {
	Name                string         `json:"name"`
	Namespace           string         `json:"namespace"`
	Version             string         `json:"version"`
	Context             Value          `json:"context"`
	Initiator           string         `json:"initiator"`
	SourceSystem        string         `json:"source_system"`
	Reason              string         `json:"reason"`
	Tags                []string       `json:"tags"`
	RequestedAt         NaiveDateTime  `json:"requested_at"`
	Options             map[string]any `json:"options"`
	Priority            *int32         `json:"priority"`
	CorrelationID       Uuid           `json:"correlation_id"`
	ParentCorrelationID *Uuid          `json:"parent_correlation_id"`
	IdempotencyKey      *string        `json:"idempotency_key,omitempty"`
}

// NewTaskRequest is a request as the client's builder makes it for a
// template and a context: the builder's defaults (initiator "system",
// source_system "tasker-core", reason "Task requested", no tags, now as
// requested_at, a fresh correlation id) and options, priority and
// parent_correlation_id left None.
func NewTaskRequest(namespace, name, version string, context Value) TaskRequest {
	return TaskRequest{Name: name, Namespace: namespace, Version: version, Context: context, Initiator: "system",
		SourceSystem: "tasker-core", Reason: "Task requested", Tags: []string{},
		RequestedAt: NaiveNow(), CorrelationID: Uuid(uuid.NewString())}
}

// NaiveNow is the current UTC time as chrono writes a NaiveDateTime
// (microseconds, no zone): "2026-12-07T00:48:14.918472".
func NaiveNow() NaiveDateTime {
	return NaiveDateTime(time.Now().UTC().Format("2006-01-02T15:04:05.000000"))
}

// DlqInvestigationUpdate mirrors models::orchestration::DlqInvestigationUpdate
// as serde serializes it: resolution_status as the variant name, None as
// null.
type DlqInvestigationUpdate struct {
	ResolutionStatus *string `json:"resolution_status"`
	ResolutionNotes  *string `json:"resolution_notes"`
	ResolvedBy       *string `json:"resolved_by"`
	Metadata         *Value  `json:"metadata"`
}

// ResetForRetry is StepManualAction::ResetForRetry as serde writes it
// (internally tagged by action_type).
func ResetForRetry(reason, by string) json.RawMessage {
	return mustJSON(map[string]string{"action_type": "reset_for_retry", "reason": reason, "reset_by": by})
}

// ResolveManually is StepManualAction::ResolveManually.
func ResolveManually(reason, by string) json.RawMessage {
	return mustJSON(map[string]string{"action_type": "resolve_manually", "reason": reason, "resolved_by": by})
}

// CompleteManually is StepManualAction::CompleteManually with no metadata
// (ManualCompletionData skips a None metadata).
func CompleteManually(result Value, reason, by string) json.RawMessage {
	return mustJSON(struct {
		ActionType     string `json:"action_type"`
		CompletionData struct {
			Result Value `json:"result"`
		} `json:"completion_data"`
		Reason      string `json:"reason"`
		CompletedBy string `json:"completed_by"`
	}{ActionType: "complete_manually", CompletionData: struct {
		Result Value `json:"result"`
	}{result}, Reason: reason, CompletedBy: by})
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed shapes of strings and JSON values are marshalled here
	}
	return b
}
