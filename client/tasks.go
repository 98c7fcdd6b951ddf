package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/api"
)

// CreateTask creates a task.
func (c *Client) CreateTask(ctx context.Context, req TaskRequest) (*Task, error) {
	var t Task
	return &t, c.do(ctx, http.MethodPost, "/v1/tasks", nil, req, &t)
}

// GetTask returns a task with its execution context and steps.
func (c *Client) GetTask(ctx context.Context, id uuid.UUID) (*Task, error) {
	var t Task
	return &t, c.do(ctx, http.MethodGet, "/v1/tasks/"+id.String(), nil, nil, &t)
}

// ListOptions filters and pages ListTasks. Zero fields are left out.
//
// A list is read either by page number (Page) or by cursor (Cursor): the
// answer's Pagination.NextCursor and PreviousCursor read the pages after
// and before it by key, as fast deep in the list as at its start. With
// CappedCount the total stops at 10,000 (Pagination.TotalCountCapped says
// there are more), which stays fast on large tables.
type ListOptions struct {
	Namespace string
	Name      string
	Status    []string
	Page      int
	PerPage   int
	// Cursor is a NextCursor or PreviousCursor of an earlier answer; the
	// page is then read by key and Page is ignored.
	Cursor string
	// CappedCount asks for count=capped instead of an exact count.
	CappedCount bool
	Initiator   string
	// SourceSystem lists only tasks created with this source system.
	SourceSystem string
	// CorrelationID lists only the tasks of this correlation id.
	CorrelationID uuid.UUID
	// CreatedFrom and CreatedTo bound the creation time: at or after
	// CreatedFrom, before CreatedTo.
	CreatedFrom, CreatedTo time.Time
}

// ListFilter adds a filter to ListTasks beyond ListOptions.
type ListFilter func(url.Values)

// WithInitiator lists only tasks created with this initiator (the same as
// ListOptions.Initiator).
func WithInitiator(initiator string) ListFilter {
	return func(q url.Values) { q.Set("initiator", initiator) }
}

// ListTasks lists tasks, newest first.
func (c *Client) ListTasks(ctx context.Context, o ListOptions, filters ...ListFilter) (*TaskList, error) {
	q := url.Values{}
	for _, f := range filters {
		f(q)
	}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("namespace", o.Namespace)
	set("name", o.Name)
	for _, s := range o.Status {
		q.Add("status", s)
	}
	if o.Page > 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	if o.PerPage > 0 {
		q.Set("per_page", strconv.Itoa(o.PerPage))
	}
	set("cursor", o.Cursor)
	if o.CappedCount {
		q.Set("count", "capped")
	}
	set("initiator", o.Initiator)
	set("source_system", o.SourceSystem)
	if o.CorrelationID != uuid.Nil {
		q.Set("correlation_id", o.CorrelationID.String())
	}
	if !o.CreatedFrom.IsZero() {
		q.Set("created_from", o.CreatedFrom.Format(time.RFC3339Nano))
	}
	if !o.CreatedTo.IsZero() {
		q.Set("created_to", o.CreatedTo.Format(time.RFC3339Nano))
	}
	var l TaskList
	return &l, c.do(ctx, http.MethodGet, "/v1/tasks", q, nil, &l)
}

// CancelTask cancels a task that has not finished.
func (c *Client) CancelTask(ctx context.Context, id uuid.UUID, reason string) (*Task, error) {
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	var t Task
	return &t, c.do(ctx, http.MethodDelete, "/v1/tasks/"+id.String(), q, nil, &t)
}

// Steps lists a task's steps.
func (c *Client) Steps(ctx context.Context, task uuid.UUID) ([]Step, error) {
	var s []Step
	return s, c.do(ctx, http.MethodGet, "/v1/tasks/"+task.String()+"/workflow_steps", nil, nil, &s)
}

// Step returns one step.
func (c *Client) Step(ctx context.Context, task, step uuid.UUID) (*Step, error) {
	var s Step
	return &s, c.do(ctx, http.MethodGet, "/v1/tasks/"+task.String()+"/workflow_steps/"+step.String(), nil, nil, &s)
}

// ResetForRetry puts a failed step back to pending with its attempts reset.
func ResetForRetry(reason, by string) StepAction {
	return StepAction{ActionType: api.ActionResetForRetry, Reason: reason, ResetBy: by}
}

// ResolveManually marks a step resolved without a result; its dependants run.
func ResolveManually(reason, by string) StepAction {
	return StepAction{ActionType: api.ActionResolveManually, Reason: reason, ResolvedBy: by}
}

// CompleteManually completes a step with the given result (and optional
// metadata); its dependants see that result.
func CompleteManually(result, metadata json.RawMessage, reason, by string) StepAction {
	data := &api.CompletionData{Result: result}
	if len(metadata) > 0 {
		data.Metadata = metadata
	}
	return StepAction{ActionType: api.ActionCompleteManually, CompletionData: data, Reason: reason, CompletedBy: by}
}

// UpdateStep applies an operator fix; the task is re-driven at once.
func (c *Client) UpdateStep(ctx context.Context, task, step uuid.UUID, a StepAction) (*Step, error) {
	var s Step
	return &s, c.do(ctx, http.MethodPatch, "/v1/tasks/"+task.String()+"/workflow_steps/"+step.String(), nil, a, &s)
}

// StepAudit lists every result workers reported for a step.
func (c *Client) StepAudit(ctx context.Context, task, step uuid.UUID) ([]AuditEntry, error) {
	var a []AuditEntry
	return a, c.do(ctx, http.MethodGet, "/v1/tasks/"+task.String()+"/workflow_steps/"+step.String()+"/audit", nil, nil, &a)
}

// Templates lists registered templates (optionally of one namespace).
func (c *Client) Templates(ctx context.Context, namespace string) (*TemplateList, error) {
	q := url.Values{}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	var l TemplateList
	return &l, c.do(ctx, http.MethodGet, "/v1/templates", q, nil, &l)
}

// Template returns one registered template.
func (c *Client) Template(ctx context.Context, namespace, name, version string) (*Template, error) {
	var t Template
	p := "/v1/templates/" + url.PathEscape(namespace) + "/" + url.PathEscape(name) + "/" + url.PathEscape(version)
	return &t, c.do(ctx, http.MethodGet, p, nil, nil, &t)
}

// DLQ lists DLQ entries.
func (c *Client) DLQ(ctx context.Context, status string, limit, offset int) ([]DLQEntry, error) {
	q := url.Values{}
	if status != "" {
		q.Set("resolution_status", status)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	var out []DLQEntry
	return out, c.do(ctx, http.MethodGet, "/v1/dlq", q, nil, &out)
}

// DLQForTask returns a task's most recent DLQ entry.
func (c *Client) DLQForTask(ctx context.Context, task uuid.UUID) (*DLQEntry, error) {
	var e DLQEntry
	return &e, c.do(ctx, http.MethodGet, "/v1/dlq/task/"+task.String(), nil, nil, &e)
}

// UpdateDLQ updates an investigation record.
func (c *Client) UpdateDLQ(ctx context.Context, entry uuid.UUID, u DLQUpdate) error {
	_, err := c.UpdateDLQEntry(ctx, entry, u)
	return err
}

// UpdateDLQEntry updates an investigation record and returns the server's
// confirmation.
func (c *Client) UpdateDLQEntry(ctx context.Context, entry uuid.UUID, u DLQUpdate) (*DLQUpdateResult, error) {
	var r DLQUpdateResult
	return &r, c.do(ctx, http.MethodPatch, "/v1/dlq/entry/"+entry.String(), nil, u, &r)
}

// DLQStats returns the DLQ statistics, one element per reason.
func (c *Client) DLQStats(ctx context.Context) ([]DLQStat, error) {
	var out []DLQStat
	return out, c.do(ctx, http.MethodGet, "/v1/dlq/stats", nil, nil, &out)
}

// Staleness lists waiting tasks measured against their staleness
// thresholds, most at risk first (at most limit; 0 means the server's
// default of 100).
func (c *Client) Staleness(ctx context.Context, limit int) ([]StaleTask, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []StaleTask
	return out, c.do(ctx, http.MethodGet, "/v1/dlq/staleness", q, nil, &out)
}

// Health returns the server's /health/detailed document.
func (c *Client) Health(ctx context.Context) (json.RawMessage, error) {
	var raw json.RawMessage
	return raw, c.do(ctx, http.MethodGet, "/health/detailed", nil, nil, &raw)
}

// Get fetches any JSON path of the API (for tools).
func (c *Client) Get(ctx context.Context, path string, q url.Values) (json.RawMessage, error) {
	var raw json.RawMessage
	return raw, c.do(ctx, http.MethodGet, path, q, nil, &raw)
}
