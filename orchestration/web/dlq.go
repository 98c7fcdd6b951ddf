package web

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/store"
)

// DLQ resolution statuses.
// in their snake_case form (requests may spell them either way).
var resolutionStatuses = []string{"pending", "manually_resolved", "permanently_failed", "cancelled"}

type listDLQInput struct {
	ResolutionStatus string `query:"resolution_status" enum:"pending,manually_resolved,permanently_failed,cancelled,Pending,ManuallyResolved,PermanentlyFailed,Cancelled" doc:"Only entries with this status (either spelling)"`
	Limit            int    `query:"limit" default:"50" minimum:"1" maximum:"1000"`
	Offset           int    `query:"offset" default:"0" minimum:"0" maximum:"100000000"`
	TaskUUID         string `query:"task_uuid" doc:"Only this task's entries: its investigation history, newest first"`
}

type dlqListOutput struct {
	Body []api.DLQEntry
}

type dlqTaskInput struct {
	TaskUUID string `path:"task_uuid" doc:"Task UUID"`
}

type dlqEntryOutput struct {
	Body api.DLQEntry
}

type dlqUpdateInput struct {
	EntryUUID string `path:"dlq_entry_uuid" doc:"DLQ entry UUID"`
	RawBody   []byte `contentType:"application/json"`
}

type dlqUpdateOutput struct {
	Body api.DLQUpdateResponse
}

type dlqStatsOutput struct {
	Body []api.DLQStat
}

type stalenessInput struct {
	Limit int `query:"limit" default:"100" minimum:"1" maximum:"1000"`
}

type stalenessOutput struct {
	Body []api.StaleTask
}

func (s *Server) dlqRoutes() {
	tags := []string{"dlq"}
	register(s, huma.Operation{
		OperationID: "listDLQ", Method: http.MethodGet, Path: "/v1/dlq", Tags: tags,
		Summary: "List dead letter queue entries, newest first",
	}, []int{400}, s.listDLQ)
	register(s, huma.Operation{
		OperationID: "getDLQForTask", Method: http.MethodGet, Path: "/v1/dlq/task/{task_uuid}", Tags: tags,
		Summary: "The most recent DLQ entry of a task, with its snapshot",
	}, []int{400, 404}, s.dlqForTask)
	register(s, s.bodyOp(huma.Operation{
		OperationID: "updateDLQEntry", Method: http.MethodPatch, Path: "/v1/dlq/entry/{dlq_entry_uuid}", Tags: tags,
		Summary:     "Update an investigation",
		Description: "Moving an entry out of pending stamps its resolution time. Fix the task's steps through the step API first.",
	}), []int{400, 404, 408, 409, 413}, s.updateDLQ)
	documentBody[api.DLQUpdateRequest](s, http.MethodPatch, "/v1/dlq/entry/{dlq_entry_uuid}", "DLQUpdateRequest")
	register(s, huma.Operation{
		OperationID: "getDLQStats", Method: http.MethodGet, Path: "/v1/dlq/stats", Tags: tags,
		Summary: "DLQ entries per reason and resolution status",
	}, nil, s.dlqStats)
	register(s, huma.Operation{
		OperationID: "getStaleness", Method: http.MethodGet, Path: "/v1/dlq/staleness", Tags: tags,
		Summary: "Waiting tasks measured against their staleness thresholds, most at risk first",
	}, []int{400}, s.staleness)
}

func (s *Server) listDLQ(ctx context.Context, in *listDLQInput) (*dlqListOutput, error) {
	if in.TaskUUID != "" {
		id, err := parseID("task_uuid", in.TaskUUID)
		if err != nil {
			return nil, err
		}
		rows, err := s.store.DLQHistory(ctx, id)
		if err != nil {
			return nil, err
		}
		status := api.DLQSnakeValue(in.ResolutionStatus)
		rows = slices.DeleteFunc(rows, func(e store.DLQEntry) bool { return status != "" && e.ResolutionStatus != status })
		rows = rows[min(in.Offset, len(rows)):]
		return &dlqListOutput{Body: dlqViews(rows[:min(in.Limit, len(rows))])}, nil
	}
	rows, err := s.store.ListDLQ(ctx, api.DLQSnakeValue(in.ResolutionStatus), in.Limit, in.Offset)
	if err != nil {
		return nil, err
	}
	return &dlqListOutput{Body: dlqViews(rows)}, nil
}

func (s *Server) dlqForTask(ctx context.Context, in *dlqTaskInput) (*dlqEntryOutput, error) {
	id, err := parseID("task_uuid", in.TaskUUID)
	if err != nil {
		return nil, err
	}
	e, err := s.store.DLQForTask(ctx, id)
	if err != nil {
		return nil, err
	}
	return &dlqEntryOutput{Body: dlqView(e)}, nil
}

func (s *Server) updateDLQ(ctx context.Context, in *dlqUpdateInput) (*dlqUpdateOutput, error) {
	id, err := parseID("dlq_entry_uuid", in.EntryUUID)
	if err != nil {
		return nil, err
	}
	var req api.DLQUpdateRequest
	if problems := decodeObject(in.RawBody, &req); len(problems) > 0 {
		return nil, invalidBody(problems)
	}
	var problems []api.FieldError
	if req.ResolutionStatus != nil {
		snake := api.DLQSnakeValue(*req.ResolutionStatus)
		req.ResolutionStatus = &snake
	}
	if req.ResolutionStatus != nil && !slices.Contains(resolutionStatuses, *req.ResolutionStatus) {
		problems = append(problems, api.FieldError{Pointer: "/resolution_status",
			Message: "must be pending, manually_resolved, permanently_failed or cancelled, not " + quote(*req.ResolutionStatus)})
	}
	if req.ResolutionNotes != nil && utf8.RuneCountInString(*req.ResolutionNotes) > 10000 {
		problems = append(problems, api.FieldError{Pointer: "/resolution_notes", Message: "is too long (at most 10000 characters)"})
	}
	if req.ResolvedBy != nil && utf8.RuneCountInString(*req.ResolvedBy) > maxActorLength {
		problems = append(problems, api.FieldError{Pointer: "/resolved_by", Message: "is too long"})
	}
	meta := bytes.TrimSpace(req.Metadata)
	if string(meta) == "null" {
		meta = nil
	}
	if len(meta) > 0 && meta[0] != '{' {
		problems = append(problems, api.FieldError{Pointer: "/metadata", Message: "must be an object, not " + jsonKind(meta)})
	}
	if req.ResolutionStatus == nil && req.ResolutionNotes == nil && req.ResolvedBy == nil && meta == nil {
		problems = append(problems, api.FieldError{Pointer: "", Message: "nothing to update: give resolution_status, resolution_notes, resolved_by or metadata"})
	}
	if len(problems) > 0 {
		return nil, invalidBody(problems)
	}
	u := store.DLQUpdate{ResolutionStatus: req.ResolutionStatus, ResolutionNotes: req.ResolutionNotes,
		ResolvedBy: req.ResolvedBy, Metadata: meta}
	e, err := s.store.UpdateDLQ(ctx, id, u)
	if err != nil {
		return nil, err
	}
	return &dlqUpdateOutput{Body: api.DLQUpdateResponse{Success: true, Message: "investigation updated (status " + e.ResolutionStatus + ")", DLQEntryUUID: e.UUID}}, nil
}

func (s *Server) dlqStats(ctx context.Context, _ *struct{}) (*dlqStatsOutput, error) {
	stats, err := s.store.DLQStats(ctx)
	if err != nil {
		return nil, err
	}
	return &dlqStatsOutput{Body: dlqStatViews(stats)}, nil
}

func (s *Server) staleness(ctx context.Context, in *stalenessInput) (*stalenessOutput, error) {
	rows, err := s.store.StalenessMonitor(ctx, s.thresholds, in.Limit)
	if err != nil {
		return nil, err
	}
	return &stalenessOutput{Body: staleTaskViews(rows)}, nil
}
