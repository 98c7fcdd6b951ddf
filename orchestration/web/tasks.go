package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

type rawBodyInput struct {
	RawBody []byte `contentType:"application/json"`
}

type taskOutput struct {
	Body api.TaskResponse
}

type taskIDInput struct {
	UUID string `path:"uuid" doc:"Task UUID"`
}

type cancelTaskInput struct {
	UUID   string `path:"uuid" doc:"Task UUID"`
	Reason string `query:"reason" maxLength:"255" doc:"Why the task is cancelled (recorded in its history)"`
}

type listTasksInput struct {
	Page          int      `query:"page" default:"1" minimum:"1" maximum:"10000000" doc:"1-based page number (ignored with cursor)"`
	PerPage       int      `query:"per_page" default:"25" minimum:"1" maximum:"100" doc:"Tasks per page"`
	Cursor        string   `query:"cursor" maxLength:"200" doc:"next_cursor or previous_cursor of an earlier answer: reads that page by key, as fast deep in the list as at its start"`
	Count         string   `query:"count" default:"exact" enum:"exact,capped" doc:"exact counts every match; capped stops at 10000 (total_count_capped says there are more), which stays fast on large tables"`
	Namespace     string   `query:"namespace" doc:"Only tasks of this namespace"`
	Name          string   `query:"name" doc:"Only tasks of this template name"`
	Status        []string `query:"status,explode" doc:"Only tasks in these states; repeat the parameter or separate states with commas"`
	Initiator     string   `query:"initiator"`
	SourceSystem  string   `query:"source_system"`
	CorrelationID string   `query:"correlation_id" doc:"Only tasks with this correlation id"`
	CreatedFrom   string   `query:"created_from" doc:"Only tasks created at or after this time (RFC 3339)"`
	CreatedTo     string   `query:"created_to" doc:"Only tasks created before this time (RFC 3339)"`
}

// taskCountCap is where count=capped stops counting.
const taskCountCap = 10000

type taskListOutput struct {
	Body api.TaskListResponse
}

func (s *Server) taskRoutes() {
	register(s, s.bodyOp(huma.Operation{
		OperationID: "createTask", Method: http.MethodPost, Path: "/v1/tasks", Tags: []string{"tasks"},
		Summary:       "Create a task",
		Description:   "Instantiates a registered template with the given context. The context is validated against the template's input_schema.",
		DefaultStatus: http.StatusCreated,
	}), []int{400, 404, 408, 409, 413, 503}, s.createTask)
	documentBody[api.TaskRequest](s, http.MethodPost, "/v1/tasks", "TaskRequest")

	register(s, huma.Operation{
		OperationID: "listTasks", Method: http.MethodGet, Path: "/v1/tasks", Tags: []string{"tasks"},
		Summary: "List tasks", Description: "Newest first. Each task carries its execution context; steps are left empty.",
	}, []int{400}, s.listTasks)

	register(s, huma.Operation{
		OperationID: "getTask", Method: http.MethodGet, Path: "/v1/tasks/{uuid}", Tags: []string{"tasks"},
		Summary: "Get a task with its execution context and steps",
	}, []int{400, 404}, s.getTask)

	register(s, huma.Operation{
		OperationID: "cancelTask", Method: http.MethodDelete, Path: "/v1/tasks/{uuid}", Tags: []string{"tasks"},
		Summary:     "Cancel a task",
		Description: "Cancels the task and every unfinished step. A task already in a terminal state gets 400.",
	}, []int{400, 404}, s.cancelTask)
}

func (s *Server) createTask(ctx context.Context, in *rawBodyInput) (*taskOutput, error) {
	var req api.TaskRequest
	if problems := decodeObject(in.RawBody, &req); len(problems) > 0 {
		return nil, invalidBody(problems)
	}
	created, err := s.core.CreateTask(ctx, taskRequest(req))
	if err != nil {
		return nil, err
	}
	// The creation returned the steps as committed: no need to read back.
	ec := executionContexts(map[uuid.UUID]state.TaskState{created.Task.UUID: created.Task.State},
		created.Steps)[created.Task.UUID]
	return &taskOutput{Body: taskView(created.Task, ec, stepViews(created.Steps))}, nil
}

func (s *Server) listTasks(ctx context.Context, in *listTasksInput) (*taskListOutput, error) {
	q := store.TaskQuery{
		Namespace: in.Namespace, Name: in.Name, Initiator: in.Initiator, SourceSystem: in.SourceSystem,
		Limit: in.PerPage, Offset: (in.Page - 1) * in.PerPage,
	}
	for _, v := range in.Status {
		for st := range strings.SplitSeq(v, ",") {
			st = strings.TrimSpace(st)
			if st == "" {
				continue
			}
			if !state.TaskState(st).Valid() {
				return nil, invalidParam("status", "%q is not a task state", st)
			}
			q.States = append(q.States, state.TaskState(st))
		}
	}
	if in.CorrelationID != "" {
		id, err := parseID("correlation_id", in.CorrelationID)
		if err != nil {
			return nil, err
		}
		q.CorrelationID = &id
	}
	var err error
	if q.CreatedFrom, err = parseTimeParam("created_from", in.CreatedFrom); err != nil {
		return nil, err
	}
	if q.CreatedTo, err = parseTimeParam("created_to", in.CreatedTo); err != nil {
		return nil, err
	}
	if in.Cursor != "" {
		c, older, err := decodeTaskCursor(in.Cursor)
		if err != nil {
			return nil, err
		}
		if older {
			q.After = &c
		} else {
			q.Before = &c
		}
		q.Offset = 0
	}
	if in.Count == "capped" {
		q.CountLimit = taskCountCap
	}
	list, err := s.store.QueryTasks(ctx, q)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(list.Tasks))
	states := make(map[uuid.UUID]state.TaskState, len(list.Tasks))
	for i, t := range list.Tasks {
		ids[i] = t.UUID
		states[t.UUID] = t.State
	}
	var steps []store.StepReadiness
	if len(ids) > 0 {
		if steps, err = s.store.StepReadiness(ctx, ids, nil); err != nil {
			return nil, err
		}
	}
	ecs := executionContexts(states, steps)
	out := api.TaskListResponse{Tasks: make([]api.TaskResponse, len(list.Tasks))}
	for i, t := range list.Tasks {
		out.Tasks[i] = taskView(t, ecs[t.UUID], nil)
	}
	pages := (list.Count + in.PerPage - 1) / in.PerPage
	out.Pagination = api.Pagination{
		Page: in.Page, PerPage: in.PerPage, TotalCount: list.Count, TotalPages: pages, TotalCountCapped: list.CountCapped,
		HasNext: list.HasOlder, HasPrevious: list.HasNewer,
	}
	if in.Cursor != "" {
		out.Pagination.Page = 0
	}
	if n := len(list.Tasks); n > 0 {
		if list.HasOlder {
			out.Pagination.NextCursor = encodeTaskCursor(list.Tasks[n-1], true)
		}
		if list.HasNewer {
			out.Pagination.PreviousCursor = encodeTaskCursor(list.Tasks[0], false)
		}
	}
	return &taskListOutput{Body: out}, nil
}

func (s *Server) getTask(ctx context.Context, in *taskIDInput) (*taskOutput, error) {
	id, err := parseID("uuid", in.UUID)
	if err != nil {
		return nil, err
	}
	task, err := s.store.GetTask(ctx, id)
	if err != nil {
		return nil, err
	}
	view, err := s.taskDetail(ctx, task)
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: view}, nil
}

func (s *Server) cancelTask(ctx context.Context, in *cancelTaskInput) (*taskOutput, error) {
	id, err := parseID("uuid", in.UUID)
	if err != nil {
		return nil, err
	}
	reason := in.Reason
	if reason == "" {
		reason = "cancelled through the API"
	}
	task, err := s.core.CancelTask(ctx, id, reason)
	if err != nil {
		return nil, err
	}
	view, err := s.taskDetail(ctx, task)
	if err != nil {
		return nil, err
	}
	return &taskOutput{Body: view}, nil
}

// taskDetail loads a task's steps and derives its execution context from
// them (one query).
func (s *Server) taskDetail(ctx context.Context, task store.Task) (api.TaskResponse, error) {
	steps, err := s.store.StepReadiness(ctx, []uuid.UUID{task.UUID}, nil)
	if err != nil {
		return api.TaskResponse{}, err
	}
	ec := executionContexts(map[uuid.UUID]state.TaskState{task.UUID: task.State}, steps)[task.UUID]
	return taskView(task, ec, stepViews(steps)), nil
}

// taskRequest is the orchestration core's view of a creation request.
func taskRequest(r api.TaskRequest) orchestration.TaskRequest {
	return orchestration.TaskRequest{
		Name: r.Name, Namespace: r.Namespace, Version: r.Version, Context: r.Context, Initiator: r.Initiator,
		SourceSystem: r.SourceSystem, Reason: r.Reason, Tags: r.Tags, RequestedAt: r.RequestedAt, Options: r.Options,
		Priority: r.Priority, CorrelationID: r.CorrelationID, ParentCorrelationID: r.ParentCorrelationID,
		IdentityKey: r.IdempotencyKey,
	}
}

// parseID reads a UUID path parameter.
func parseID(param, v string) (uuid.UUID, error) {
	id, err := uuid.Parse(v)
	if err != nil {
		return uuid.Nil, invalidParam(param, "%q is not a UUID", v)
	}
	return id, nil
}
