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
	Page         int      `query:"page" default:"1" minimum:"1" maximum:"10000000" doc:"1-based page number"`
	PerPage      int      `query:"per_page" default:"25" minimum:"1" maximum:"100" doc:"Tasks per page"`
	Namespace    string   `query:"namespace" doc:"Only tasks of this namespace"`
	Name         string   `query:"name" doc:"Only tasks of this template name"`
	Status       []string `query:"status,explode" doc:"Only tasks in these states; repeat the parameter or separate states with commas"`
	Initiator    string   `query:"initiator"`
	SourceSystem string   `query:"source_system"`
}

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
	f := store.TaskFilter{
		Namespace: in.Namespace, Name: in.Name, Initiator: in.Initiator, SourceSystem: in.SourceSystem,
		Page: in.Page, PerPage: in.PerPage,
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
			f.States = append(f.States, state.TaskState(st))
		}
	}
	page, err := s.store.ListTasks(ctx, f)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(page.Tasks))
	states := make(map[uuid.UUID]state.TaskState, len(page.Tasks))
	for i, t := range page.Tasks {
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
	out := api.TaskListResponse{Tasks: make([]api.TaskResponse, len(page.Tasks))}
	for i, t := range page.Tasks {
		out.Tasks[i] = taskView(t, ecs[t.UUID], nil)
	}
	pages := (page.TotalCount + in.PerPage - 1) / in.PerPage
	out.Pagination = api.Pagination{
		Page: in.Page, PerPage: in.PerPage, TotalCount: page.TotalCount, TotalPages: pages,
		HasNext: in.Page < pages, HasPrevious: in.Page > 1,
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
