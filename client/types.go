package client

import (
	"github.com/tasker-go/tasker/api"
)

// The client speaks the API's own types (package api), under the names the
// client has always used; the server answers with the same types, so the
// two cannot drift apart.
type (
	// TaskRequest asks for a task (POST /v1/tasks).
	TaskRequest = api.TaskRequest
	// Task is a task with its execution context (and, from GetTask, its
	// steps).
	Task = api.TaskResponse
	// Step is a workflow step with its readiness facts.
	Step = api.StepResponse
	// TaskList is a page of tasks.
	TaskList = api.TaskListResponse
	// Pagination describes one page of a list.
	Pagination = api.Pagination
	// AuditEntry is one result a worker reported for a step.
	AuditEntry = api.AuditEntry
	// StepAction is an operator fix: build it with ResetForRetry,
	// ResolveManually or CompleteManually.
	StepAction = api.StepActionRequest
	// TemplateList lists namespaces and templates.
	TemplateList = api.TemplateListResponse
	// NamespaceSummary is a namespace with its template count.
	NamespaceSummary = api.NamespaceSummary
	// TemplateSummary is one registered template.
	TemplateSummary = api.TemplateSummary
	// Template is one registered template with its configuration.
	Template = api.TemplateResponse
	// DLQEntry is an investigation record.
	DLQEntry = api.DLQEntry
	// DLQStat summarises the DLQ entries of one reason.
	DLQStat = api.DLQStat
	// DLQUpdate changes an investigation record; nil fields are left alone.
	DLQUpdate = api.DLQUpdateRequest
	// DLQUpdateResult is the server's answer to UpdateDLQ.
	DLQUpdateResult = api.DLQUpdateResponse
	// StaleTask is a waiting task measured against its staleness
	// threshold.
	StaleTask = api.StaleTask
	// Health is the answer of /health, /health/live and /health/ready.
	Health = api.HealthResponse
	// DetailedHealth is the orchestration server's /health/detailed
	// document.
	DetailedHealth = api.DetailedHealthResponse
	// HealthCheck is one dependency's state.
	HealthCheck = api.HealthCheck
	// PoolStats describes the server's database pool.
	PoolStats = api.PoolStats
	// QueueHealth is one queue's backlog as the orchestration server sees
	// it.
	QueueHealth = api.QueueHealth
	// FieldError locates one problem of a request: Pointer locates it in
	// the body (a JSON pointer), Parameter names a bad path or query
	// parameter.
	FieldError = api.FieldError
	// TaskSummary is a task in one answer (TaskSummary).
	TaskSummary = api.TaskSummaryResponse
	// InvestigationEntry is a pending DLQ entry ranked for investigation.
	InvestigationEntry = api.InvestigationQueueEntry
	// PerformanceMetrics are the system's figures over recent hours.
	PerformanceMetrics = api.PerformanceMetrics
	// BottleneckAnalysis names the slowest steps and templates.
	BottleneckAnalysis = api.BottleneckAnalysis
	// Config is the server's configuration, secrets redacted.
	Config = api.ConfigResponse
)

// TerminalStatus reports whether a task status is final.
func TerminalStatus(s string) bool { return api.TerminalStatus(s) }

// Event is one committed task or step transition from the event stream,
// or the final "end" event.
type Event struct {
	// TaskEvent is the transition: Kind is "task", "step" or "end" (the
	// task reached a terminal state; only TaskUUID is set then).
	api.TaskEvent
	// Status is the final task status (Kind "end" only).
	Status string
	// Domain is the domain event a handler published (Kind "domain_event"
	// only; TaskUUID and StepUUID are set from it).
	Domain *api.DomainEvent
}
