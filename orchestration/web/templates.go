package web

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tasker-go/tasker/api"
)

type listTemplatesInput struct {
	Namespace string `query:"namespace" doc:"Only templates of this namespace"`
}

type templateListOutput struct {
	Body api.TemplateListResponse
}

type templateInput struct {
	Namespace string `path:"namespace" doc:"Namespace"`
	Name      string `path:"name" doc:"Template name"`
	Version   string `path:"version" doc:"Template version"`
}

type templateOutput struct {
	Body api.TemplateResponse
}

func (s *Server) templateRoutes() {
	register(s, huma.Operation{
		OperationID: "listTemplates", Method: http.MethodGet, Path: "/v1/templates", Tags: []string{"templates"},
		Summary: "List namespaces and registered templates",
	}, []int{400}, s.listTemplates)
	register(s, huma.Operation{
		OperationID: "getTemplate", Method: http.MethodGet, Path: "/v1/templates/{namespace}/{name}/{version}",
		Tags: []string{"templates"}, Summary: "Get one registered template",
	}, []int{400, 404}, s.getTemplate)
}

func (s *Server) listTemplates(ctx context.Context, in *listTemplatesInput) (*templateListOutput, error) {
	nss, err := s.store.ListNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	tpls, err := s.store.ListNamedTasks(ctx, in.Namespace)
	if err != nil {
		return nil, err
	}
	out := api.TemplateListResponse{Namespaces: []api.NamespaceSummary{}, Templates: make([]api.TemplateSummary, len(tpls))}
	for _, ns := range nss {
		if in.Namespace != "" && ns.Name != in.Namespace {
			continue
		}
		out.Namespaces = append(out.Namespaces, api.NamespaceSummary{Name: ns.Name, Description: ns.Description, TemplateCount: ns.TemplateCount})
	}
	for i, t := range tpls {
		out.Templates[i] = api.TemplateSummary{Name: t.Name, Namespace: t.Namespace, Version: t.Version,
			Description: t.Description, StepCount: t.StepCount}
	}
	out.TotalCount = len(out.Templates)
	return &templateListOutput{Body: out}, nil
}

func (s *Server) getTemplate(ctx context.Context, in *templateInput) (*templateOutput, error) {
	nt, err := s.store.GetNamedTask(ctx, in.Namespace, in.Name, in.Version)
	if err != nil {
		return nil, err
	}
	var parts struct {
		Steps json.RawMessage `json:"steps"`
	}
	_ = json.Unmarshal(nt.Configuration, &parts) // stored by us; a missing list is shown as []
	if len(parts.Steps) == 0 || string(parts.Steps) == "null" {
		parts.Steps = json.RawMessage(`[]`)
	}
	parts.Steps = withStepDefaults(parts.Steps)
	return &templateOutput{Body: api.TemplateResponse{
		Name: nt.Name, Namespace: nt.Namespace, Version: nt.Version, Description: nt.Description,
		Configuration: nt.Configuration, Steps: parts.Steps,
	}}, nil
}

// withStepDefaults adds to each step definition tasker-core's
// default_retryable and default_max_attempts (its retry settings, or the
// template defaults: retryable, 3 attempts). Steps that do not decode are
// left as they are.
func withStepDefaults(steps json.RawMessage) json.RawMessage {
	var list []map[string]json.RawMessage
	if json.Unmarshal(steps, &list) != nil {
		return steps
	}
	for _, st := range list {
		var retry struct {
			Retryable   *bool `json:"retryable"`
			MaxAttempts *int  `json:"max_attempts"`
		}
		_ = json.Unmarshal(st["retry"], &retry) // absent or malformed: the defaults
		retryable, attempts := true, 3
		if retry.Retryable != nil {
			retryable = *retry.Retryable
		}
		if retry.MaxAttempts != nil {
			attempts = *retry.MaxAttempts
		}
		st["default_retryable"], _ = json.Marshal(retryable)
		st["default_max_attempts"], _ = json.Marshal(attempts)
	}
	out, err := json.Marshal(list)
	if err != nil {
		return steps
	}
	return out
}
