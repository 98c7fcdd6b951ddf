package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

type stepIDInput struct {
	UUID     string `path:"uuid" doc:"Task UUID"`
	StepUUID string `path:"step_uuid" doc:"Step UUID"`
}

type stepActionInput struct {
	UUID     string `path:"uuid" doc:"Task UUID"`
	StepUUID string `path:"step_uuid" doc:"Step UUID"`
	RawBody  []byte `contentType:"application/json"`
}

type stepOutput struct {
	Body api.StepResponse
}

type stepsOutput struct {
	Body []api.StepResponse
}

type auditOutput struct {
	Body []api.AuditEntry
}

// The bodies of the three step actions (api.StepActionRequest), each
// decoded strictly so that a field of another action is refused.
type resetForRetryRequest struct {
	ActionType string `json:"action_type"`
	Reason     string `json:"reason"`
	ResetBy    string `json:"reset_by"`
}

type resolveManuallyRequest struct {
	ActionType string `json:"action_type"`
	Reason     string `json:"reason"`
	ResolvedBy string `json:"resolved_by"`
}

type completeManuallyRequest struct {
	ActionType     string              `json:"action_type"`
	Reason         string              `json:"reason"`
	CompletedBy    string              `json:"completed_by"`
	CompletionData *api.CompletionData `json:"completion_data"`
}

func (s *Server) stepRoutes() {
	register(s, huma.Operation{
		OperationID: "listSteps", Method: http.MethodGet, Path: "/v1/tasks/{uuid}/workflow_steps", Tags: []string{"steps"},
		Summary: "List a task's steps with their readiness",
	}, []int{400, 404}, s.listSteps)

	register(s, huma.Operation{
		OperationID: "getStep", Method: http.MethodGet, Path: "/v1/tasks/{uuid}/workflow_steps/{step_uuid}",
		Tags: []string{"steps"}, Summary: "Get one step with its readiness",
	}, []int{400, 404}, s.getStep)

	register(s, s.bodyOp(huma.Operation{
		OperationID: "resolveStep", Method: http.MethodPatch, Path: "/v1/tasks/{uuid}/workflow_steps/{step_uuid}",
		Tags: []string{"steps"}, Summary: "Fix a step by hand",
		Description: "reset_for_retry (a step in error runs again with its attempts cleared), resolve_manually " +
			"(the step counts as done without a result) or complete_manually (the step completes with the given " +
			"result). The task is re-evaluated at once, even out of blocked_by_failures or error.",
	}), []int{400, 404, 408, 413}, s.resolveStep)
	documentBody[api.StepActionRequest](s, http.MethodPatch, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}", "StepActionRequest")

	register(s, huma.Operation{
		OperationID: "getStepAudit", Method: http.MethodGet, Path: "/v1/tasks/{uuid}/workflow_steps/{step_uuid}/audit",
		Tags: []string{"steps"}, Summary: "Every result workers reported for a step, oldest first",
	}, []int{400, 404}, s.stepAudit)
}

func (s *Server) listSteps(ctx context.Context, in *taskIDInput) (*stepsOutput, error) {
	id, err := parseID("uuid", in.UUID)
	if err != nil {
		return nil, err
	}
	steps, err := s.store.StepReadiness(ctx, []uuid.UUID{id}, nil)
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		if _, err := s.store.GetTask(ctx, id); err != nil {
			return nil, err
		}
	}
	return &stepsOutput{Body: stepViews(steps)}, nil
}

func (s *Server) stepIDs(in *stepIDInput) (uuid.UUID, uuid.UUID, error) {
	task, err := parseID("uuid", in.UUID)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	step, err := parseID("step_uuid", in.StepUUID)
	return task, step, err
}

func (s *Server) getStep(ctx context.Context, in *stepIDInput) (*stepOutput, error) {
	task, step, err := s.stepIDs(in)
	if err != nil {
		return nil, err
	}
	sr, err := s.store.GetStep(ctx, task, step)
	if err != nil {
		return nil, err
	}
	return &stepOutput{Body: stepView(sr)}, nil
}

func (s *Server) stepAudit(ctx context.Context, in *stepIDInput) (*auditOutput, error) {
	task, step, err := s.stepIDs(in)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.GetStep(ctx, task, step); err != nil {
		return nil, err
	}
	rows, err := s.store.StepAudit(ctx, task, step)
	if err != nil {
		return nil, err
	}
	return &auditOutput{Body: auditViews(rows)}, nil
}

func (s *Server) resolveStep(ctx context.Context, in *stepActionInput) (*stepOutput, error) {
	task, step, err := s.stepIDs(&stepIDInput{UUID: in.UUID, StepUUID: in.StepUUID})
	if err != nil {
		return nil, err
	}
	action, err := parseStepAction(step, in.RawBody)
	if err != nil {
		return nil, err
	}
	sr, err := s.core.ApplyStepAction(ctx, task, step, action)
	if err != nil {
		return nil, err
	}
	return &stepOutput{Body: stepView(sr)}, nil
}

const (
	maxReasonLength = 1000
	maxActorLength  = 255
)

// parseStepAction decodes the action_type-tagged body into a store action.
func parseStepAction(step uuid.UUID, body []byte) (store.StepAction, error) {
	fields, problems := rawObject("", body)
	if problems != nil {
		return store.StepAction{}, invalidBody(problems)
	}
	kinds := "reset_for_retry, resolve_manually or complete_manually"
	rawKind, ok := fields["action_type"]
	if !ok {
		return store.StepAction{}, invalidBody([]api.FieldError{{Pointer: "/action_type", Message: "is required: " + kinds}})
	}
	var kind string
	if json.Unmarshal(rawKind, &kind) != nil {
		return store.StepAction{}, invalidBody([]api.FieldError{{Pointer: "/action_type", Message: "must be a string: " + kinds}})
	}
	var a store.StepAction
	var problemsOut []api.FieldError
	required := func(ptr, v string, limit int) {
		switch {
		case strings.TrimSpace(v) == "":
			problemsOut = append(problemsOut, api.FieldError{Pointer: ptr, Message: "is required"})
		case utf8.RuneCountInString(v) > limit:
			problemsOut = append(problemsOut, api.FieldError{Pointer: ptr, Message: "is too long"})
		}
	}
	switch kind {
	case store.ActionResetForRetry:
		var r resetForRetryRequest
		if p := decodeObject(body, &r); len(p) > 0 {
			return a, invalidBody(p)
		}
		required("/reason", r.Reason, maxReasonLength)
		required("/reset_by", r.ResetBy, maxActorLength)
		a = store.StepAction{Kind: kind, Reason: r.Reason, By: r.ResetBy}
	case store.ActionResolveManually:
		var r resolveManuallyRequest
		if p := decodeObject(body, &r); len(p) > 0 {
			return a, invalidBody(p)
		}
		required("/reason", r.Reason, maxReasonLength)
		required("/resolved_by", r.ResolvedBy, maxActorLength)
		a = store.StepAction{Kind: kind, Reason: r.Reason, By: r.ResolvedBy}
	case store.ActionCompleteManually:
		var r completeManuallyRequest
		if p := decodeObject(body, &r); len(p) > 0 {
			return a, invalidBody(p)
		}
		required("/reason", r.Reason, maxReasonLength)
		required("/completed_by", r.CompletedBy, maxActorLength)
		switch {
		case r.CompletionData == nil:
			problemsOut = append(problemsOut, api.FieldError{Pointer: "/completion_data", Message: "is required"})
		case len(r.CompletionData.Result) == 0:
			problemsOut = append(problemsOut, api.FieldError{Pointer: "/completion_data/result", Message: "is required"})
		default:
			custom, problem := metadataObject(r.CompletionData.Metadata)
			if problem != "" {
				problemsOut = append(problemsOut, api.FieldError{Pointer: "/completion_data/metadata", Message: problem})
				break
			}
			res := stepresult.Success(step, r.CompletionData.Result, custom)
			stored, err := json.Marshal(res)
			if err != nil {
				return a, err
			}
			a = store.StepAction{Kind: kind, Reason: r.Reason, By: r.CompletedBy, Result: stored}
		}
	default:
		return a, invalidBody([]api.FieldError{{Pointer: "/action_type", Message: "must be " + kinds + ", not " + quote(kind)}})
	}
	if len(problemsOut) > 0 {
		return store.StepAction{}, invalidBody(problemsOut)
	}
	return a, nil
}

// metadataObject reads an optional JSON object, keeping numbers exact.
func metadataObject(raw json.RawMessage) (map[string]any, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, ""
	}
	if raw[0] != '{' {
		return nil, "must be an object, not " + jsonKind(raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, "must be an object"
	}
	return m, ""
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
