package corecompat

// Mirrors of crates/tasker-shared/src/models/orchestration/dlq.rs. Its enums
// derive serde without rename_all, so they travel as the variant names.

// DlqReasonVariants are the spellings of models::orchestration::DlqReason.
const DlqReasonVariants = "StalenessTimeout,MaxRetriesExceeded,DependencyCycleDetected,WorkerUnavailable,ManualDlq"

// DlqResolutionStatusVariants are the spellings of
// models::orchestration::DlqResolutionStatus.
const DlqResolutionStatusVariants = "Pending,ManuallyResolved,PermanentlyFailed,Cancelled"

// DlqEntry mirrors models::orchestration::DlqEntry (items of GET /v1/dlq,
// GET /v1/dlq/task/{task_uuid}).
type DlqEntry struct {
	DlqEntryUUID        Uuid           `json:"dlq_entry_uuid"`
	TaskUUID            Uuid           `json:"task_uuid"`
	OriginalState       string         `json:"original_state"`
	DlqReason           string         `json:"dlq_reason" enum:"StalenessTimeout,MaxRetriesExceeded,DependencyCycleDetected,WorkerUnavailable,ManualDlq"`
	DlqTimestamp        NaiveDateTime  `json:"dlq_timestamp"`
	ResolutionStatus    string         `json:"resolution_status" enum:"Pending,ManuallyResolved,PermanentlyFailed,Cancelled"`
	ResolutionTimestamp *NaiveDateTime `json:"resolution_timestamp"`
	ResolutionNotes     *string        `json:"resolution_notes"`
	ResolvedBy          *string        `json:"resolved_by"`
	TaskSnapshot        Value          `json:"task_snapshot"`
	Metadata            *Value         `json:"metadata"`
	CreatedAt           NaiveDateTime  `json:"created_at"`
	UpdatedAt           NaiveDateTime  `json:"updated_at"`
}

// DlqStats mirrors models::orchestration::DlqStats (items of GET
// /v1/dlq/stats).
type DlqStats struct {
	DlqReason                string         `json:"dlq_reason" enum:"StalenessTimeout,MaxRetriesExceeded,DependencyCycleDetected,WorkerUnavailable,ManualDlq"`
	TotalEntries             int64          `json:"total_entries"`
	Pending                  int64          `json:"pending"`
	ManuallyResolved         int64          `json:"manually_resolved"`
	PermanentFailures        int64          `json:"permanent_failures"`
	Cancelled                int64          `json:"cancelled"`
	OldestEntry              *NaiveDateTime `json:"oldest_entry"`
	NewestEntry              *NaiveDateTime `json:"newest_entry"`
	AvgResolutionTimeMinutes *float64       `json:"avg_resolution_time_minutes"`
}

// DlqInvestigationQueueEntry mirrors
// models::orchestration::DlqInvestigationQueueEntry (items of GET
// /v1/dlq/investigation-queue).
type DlqInvestigationQueueEntry struct {
	DlqEntryUUID       Uuid          `json:"dlq_entry_uuid"`
	TaskUUID           Uuid          `json:"task_uuid"`
	OriginalState      string        `json:"original_state"`
	DlqReason          string        `json:"dlq_reason" enum:"StalenessTimeout,MaxRetriesExceeded,DependencyCycleDetected,WorkerUnavailable,ManualDlq"`
	DlqTimestamp       NaiveDateTime `json:"dlq_timestamp"`
	MinutesInDlq       float64       `json:"minutes_in_dlq"`
	NamespaceName      *string       `json:"namespace_name"`
	TaskName           *string       `json:"task_name"`
	CurrentState       *string       `json:"current_state"`
	TimeInStateMinutes *int32        `json:"time_in_state_minutes"`
	PriorityScore      float64       `json:"priority_score"`
}

// StalenessMonitoring mirrors models::orchestration::StalenessMonitoring
// (items of GET /v1/dlq/staleness). Its health_status enum is lowercase.
type StalenessMonitoring struct {
	TaskUUID                  Uuid    `json:"task_uuid"`
	NamespaceName             *string `json:"namespace_name"`
	TaskName                  *string `json:"task_name"`
	CurrentState              string  `json:"current_state"`
	TimeInStateMinutes        int32   `json:"time_in_state_minutes"`
	TaskAgeMinutes            int32   `json:"task_age_minutes"`
	StalenessThresholdMinutes int32   `json:"staleness_threshold_minutes"`
	HealthStatus              string  `json:"health_status" enum:"healthy,warning,stale"`
	Priority                  int32   `json:"priority"`
}
