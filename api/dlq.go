package api

import (
	"encoding/json"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// DLQ resolution statuses (DLQEntry.ResolutionStatus), spelt as
// tasker-core's clients decode them (its enum variant names). Requests
// accept these and the snake_case forms (pending, manually_resolved, …).
const (
	ResolutionPending           = "Pending"
	ResolutionManuallyResolved  = "ManuallyResolved"
	ResolutionPermanentlyFailed = "PermanentlyFailed"
	ResolutionCancelled         = "Cancelled"
)

// DLQ reasons (DLQEntry.DLQReason), spelt likewise.
const (
	ReasonStalenessTimeout        = "StalenessTimeout"
	ReasonMaxRetriesExceeded      = "MaxRetriesExceeded"
	ReasonDependencyCycleDetected = "DependencyCycleDetected"
	ReasonWorkerUnavailable       = "WorkerUnavailable"
	ReasonManualDLQ               = "ManualDlq"
)

// DLQWireValue spells a snake_case DLQ reason or resolution status as the
// wire does ("staleness_timeout" → "StalenessTimeout").
func DLQWireValue(snake string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(snake, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// DLQSnakeValue reads a DLQ reason or resolution status in either
// spelling and returns its snake_case form ("ManuallyResolved" and
// "manually_resolved" → "manually_resolved").
func DLQSnakeValue(v string) string {
	if strings.ContainsRune(v, '_') || strings.ToLower(v) == v {
		return v
	}
	var b strings.Builder
	for i, r := range v {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// DLQEntry is an investigation record for a task that got stuck (GET
// /v1/dlq, GET /v1/dlq/task/{task_uuid}). Its timestamps are NaiveTime, as
// tasker-core writes them.
type DLQEntry struct {
	DLQEntryUUID        uuid.UUID       `json:"dlq_entry_uuid"`
	TaskUUID            uuid.UUID       `json:"task_uuid"`
	OriginalState       string          `json:"original_state"`
	DLQReason           string          `json:"dlq_reason"`
	DLQTimestamp        NaiveTime       `json:"dlq_timestamp"`
	ResolutionStatus    string          `json:"resolution_status"`
	ResolutionTimestamp *NaiveTime      `json:"resolution_timestamp"`
	ResolutionNotes     *string         `json:"resolution_notes"`
	ResolvedBy          *string         `json:"resolved_by"`
	TaskSnapshot        json.RawMessage `json:"task_snapshot"`
	Metadata            json.RawMessage `json:"metadata"`
	CreatedAt           NaiveTime       `json:"created_at"`
	UpdatedAt           NaiveTime       `json:"updated_at"`
}

// DLQStat summarises the DLQ entries of one reason (one element of GET
// /v1/dlq/stats).
type DLQStat struct {
	Reason            string     `json:"dlq_reason"`
	Total             int        `json:"total_entries"`
	Pending           int        `json:"pending"`
	ManuallyResolved  int        `json:"manually_resolved"`
	PermanentFailures int        `json:"permanent_failures"`
	Cancelled         int        `json:"cancelled"`
	Oldest            *NaiveTime `json:"oldest_entry"`
	Newest            *NaiveTime `json:"newest_entry"`
	// AvgResolutionMinutes is null while no entry of the reason is
	// resolved.
	AvgResolutionMinutes *float64 `json:"avg_resolution_time_minutes"`
}

// DLQUpdateRequest changes an investigation (PATCH
// /v1/dlq/entry/{dlq_entry_uuid}); absent fields stay as they are.
type DLQUpdateRequest struct {
	ResolutionStatus *string         `json:"resolution_status,omitempty" enum:"pending,manually_resolved,permanently_failed,cancelled,Pending,ManuallyResolved,PermanentlyFailed,Cancelled"`
	ResolutionNotes  *string         `json:"resolution_notes,omitempty"`
	ResolvedBy       *string         `json:"resolved_by,omitempty"`
	Metadata         json.RawMessage `json:"metadata,omitempty" doc:"An object merged into the entry's metadata"`
}

// DLQUpdateResponse confirms an update.
type DLQUpdateResponse struct {
	Success      bool      `json:"success"`
	Message      string    `json:"message"`
	DLQEntryUUID uuid.UUID `json:"dlq_entry_uuid"`
}

// StaleTask is a waiting task measured against its staleness threshold
// (one element of GET /v1/dlq/staleness).
//
// The whole-minute fields (time_in_state_minutes, task_age_minutes,
// staleness_threshold_minutes) and namespace_name are tasker-core's
// StalenessMonitoring; threshold_minutes and time_in_state_seconds keep the
// fractions.
type StaleTask struct {
	TaskUUID                  uuid.UUID `json:"task_uuid"`
	Namespace                 string    `json:"namespace"`
	NamespaceName             string    `json:"namespace_name"`
	TaskName                  string    `json:"task_name"`
	CurrentState              string    `json:"current_state"`
	StateChangedAt            time.Time `json:"state_changed_at"`
	TimeInStateMinutes        int       `json:"time_in_state_minutes" doc:"Whole minutes in the current state"`
	TimeInStateSeconds        float64   `json:"time_in_state_seconds"`
	ThresholdMinutes          float64   `json:"threshold_minutes"`
	StalenessThresholdMinutes int       `json:"staleness_threshold_minutes" doc:"threshold_minutes rounded down"`
	TaskAgeMinutes            int       `json:"task_age_minutes" doc:"Whole minutes since the task was created"`
	CorrelationID             uuid.UUID `json:"correlation_id"`
	Priority                  int       `json:"priority"`
	RequestedAt               time.Time `json:"requested_at"`
	CreatedAt                 time.Time `json:"created_at"`
	// HealthStatus is stale at or over the threshold, warning at 80 %,
	// else healthy.
	HealthStatus string `json:"health_status"`
	// StalenessAction, AutoDLQOnTimeout and AutoFailOnTimeout are the
	// template's lifecycle settings, absent when the template does not set
	// them.
	StalenessAction   string `json:"staleness_action,omitempty"`
	AutoDLQOnTimeout  *bool  `json:"auto_dlq_on_timeout,omitempty"`
	AutoFailOnTimeout *bool  `json:"auto_fail_on_timeout,omitempty"`
}

// InvestigationQueueEntry is a pending DLQ entry ranked for investigation
// (one element of GET /v1/dlq/investigation-queue): the older the entry and
// the higher the task's priority, the higher its priority_score.
type InvestigationQueueEntry struct {
	DLQEntryUUID       uuid.UUID `json:"dlq_entry_uuid"`
	TaskUUID           uuid.UUID `json:"task_uuid"`
	OriginalState      string    `json:"original_state"`
	DLQReason          string    `json:"dlq_reason"`
	DLQTimestamp       NaiveTime `json:"dlq_timestamp"`
	MinutesInDLQ       float64   `json:"minutes_in_dlq"`
	NamespaceName      *string   `json:"namespace_name"`
	TaskName           *string   `json:"task_name"`
	CurrentState       *string   `json:"current_state"`
	TimeInStateMinutes *int      `json:"time_in_state_minutes"`
	Priority           int       `json:"priority" doc:"The task's priority"`
	PriorityScore      float64   `json:"priority_score" doc:"minutes in the DLQ × (1 + (priority + 100) / 200) × the reason's weight"`
}
