package api

import "time"

// PerformanceMetrics are the system's key figures over a recent window (GET
// /v1/analytics/performance?hours=N).
type PerformanceMetrics struct {
	TotalTasks                 int64   `json:"total_tasks" doc:"Tasks created in the window"`
	ActiveTasks                int64   `json:"active_tasks" doc:"Of those, tasks not in a terminal state"`
	CompletedTasks             int64   `json:"completed_tasks"`
	FailedTasks                int64   `json:"failed_tasks" doc:"Tasks in error"`
	CompletionRate             float64 `json:"completion_rate" doc:"completed / total, 0-1"`
	ErrorRate                  float64 `json:"error_rate" doc:"failed / total, 0-1"`
	AverageTaskDurationSeconds float64 `json:"average_task_duration_seconds" doc:"Creation to completion, completed tasks"`
	AverageStepDurationSeconds float64 `json:"average_step_duration_seconds" doc:"Handler execution time reported by workers"`
	TasksPerHour               int64   `json:"tasks_per_hour"`
	StepsPerHour               int64   `json:"steps_per_hour" doc:"Step results reported per hour"`
	SystemHealthScore          float64 `json:"system_health_score" doc:"0-1: completion rate weighted against the error rate"`
	AnalysisPeriodStart        string  `json:"analysis_period_start" doc:"RFC 3339"`
	CalculatedAt               string  `json:"calculated_at" doc:"RFC 3339"`
	Hours                      int     `json:"hours" doc:"The window, in hours"`
	// Truncated is true when the window held more rows than one answer
	// scans (see docs/api.md); the figures then cover the newest rows.
	Truncated bool `json:"truncated"`
}

// BottleneckAnalysis names the slowest steps and templates of a recent
// window (GET /v1/analytics/bottlenecks).
type BottleneckAnalysis struct {
	SlowSteps           []SlowStepInfo      `json:"slow_steps"`
	SlowTasks           []SlowTaskInfo      `json:"slow_tasks"`
	ResourceUtilization ResourceUtilization `json:"resource_utilization"`
	Recommendations     []string            `json:"recommendations"`
	Hours               int                 `json:"hours" doc:"The window, in hours"`
	Truncated           bool                `json:"truncated"`
}

// SlowStepInfo is one step of one template, by its execution time.
type SlowStepInfo struct {
	NamespaceName          string  `json:"namespace_name"`
	TaskName               string  `json:"task_name"`
	Version                string  `json:"version"`
	StepName               string  `json:"step_name"`
	AverageDurationSeconds float64 `json:"average_duration_seconds"`
	MaxDurationSeconds     float64 `json:"max_duration_seconds"`
	ExecutionCount         int64   `json:"execution_count"`
	ErrorCount             int64   `json:"error_count"`
	ErrorRate              float64 `json:"error_rate"`
	LastExecutedAt         *string `json:"last_executed_at" doc:"RFC 3339"`
}

// SlowTaskInfo is one template, by how long its tasks took.
type SlowTaskInfo struct {
	NamespaceName          string  `json:"namespace_name"`
	TaskName               string  `json:"task_name"`
	Version                string  `json:"version"`
	AverageDurationSeconds float64 `json:"average_duration_seconds"`
	MaxDurationSeconds     float64 `json:"max_duration_seconds"`
	ExecutionCount         int64   `json:"execution_count"`
	AverageStepCount       float64 `json:"average_step_count"`
	ErrorCount             int64   `json:"error_count"`
	ErrorRate              float64 `json:"error_rate"`
	LastExecutedAt         *string `json:"last_executed_at" doc:"RFC 3339"`
}

// ResourceUtilization is the pool's use and the tasks and steps per state.
type ResourceUtilization struct {
	DatabasePoolUtilization float64            `json:"database_pool_utilization" doc:"acquired / max connections, 0-1"`
	SystemHealth            SystemHealthCounts `json:"system_health"`
}

// SystemHealthCounts counts open tasks and their steps per state. Terminal
// tasks (complete, error, cancelled, resolved_manually) are counted over
// the analysis window only, so the answer stays bounded however long the
// history.
type SystemHealthCounts struct {
	PendingTasks                         int64 `json:"pending_tasks"`
	InitializingTasks                    int64 `json:"initializing_tasks"`
	EnqueuingStepsTasks                  int64 `json:"enqueuing_steps_tasks"`
	StepsInProcessTasks                  int64 `json:"steps_in_process_tasks"`
	EvaluatingResultsTasks               int64 `json:"evaluating_results_tasks"`
	WaitingForDependenciesTasks          int64 `json:"waiting_for_dependencies_tasks"`
	WaitingForRetryTasks                 int64 `json:"waiting_for_retry_tasks"`
	BlockedByFailuresTasks               int64 `json:"blocked_by_failures_tasks"`
	CompleteTasks                        int64 `json:"complete_tasks"`
	ErrorTasks                           int64 `json:"error_tasks"`
	CancelledTasks                       int64 `json:"cancelled_tasks"`
	ResolvedManuallyTasks                int64 `json:"resolved_manually_tasks"`
	TotalTasks                           int64 `json:"total_tasks"`
	PendingSteps                         int64 `json:"pending_steps"`
	EnqueuedSteps                        int64 `json:"enqueued_steps"`
	InProgressSteps                      int64 `json:"in_progress_steps"`
	EnqueuedForOrchestrationSteps        int64 `json:"enqueued_for_orchestration_steps"`
	EnqueuedAsErrorForOrchestrationSteps int64 `json:"enqueued_as_error_for_orchestration_steps"`
	WaitingForRetrySteps                 int64 `json:"waiting_for_retry_steps"`
	CompleteSteps                        int64 `json:"complete_steps"`
	ErrorSteps                           int64 `json:"error_steps"`
	CancelledSteps                       int64 `json:"cancelled_steps"`
	ResolvedManuallySteps                int64 `json:"resolved_manually_steps"`
	TotalSteps                           int64 `json:"total_steps"`
}

// RFC3339 formats t for the string timestamps of the analytics answers.
func RFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
