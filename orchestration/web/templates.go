package web

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

type listTemplatesInput struct {
	Namespace string `query:"namespace" doc:"Only templates of this namespace"`
}

// NamespaceSummary is a namespace with its template count.
type NamespaceSummary struct {
	Name          string `json:"name"`
	Description   string `json:"description"`
	TemplateCount int    `json:"template_count"`
}

// TemplateSummary is one registered template.
type TemplateSummary struct {
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	Version     string `json:"version"`
	Description string `json:"description"`
	StepCount   int    `json:"step_count"`
}

// TemplateListResponse lists namespaces and templates.
type TemplateListResponse struct {
	Namespaces []NamespaceSummary `json:"namespaces"`
	Templates  []TemplateSummary  `json:"templates"`
	TotalCount int                `json:"total_count"`
}

type templateListOutput struct {
	Body TemplateListResponse
}

type templateInput struct {
	Namespace string `path:"namespace" doc:"Namespace"`
	Name      string `path:"name" doc:"Template name"`
	Version   string `path:"version" doc:"Template version"`
}

// TemplateResponse is one template: its stored configuration (the whole
// template as JSON) and its step definitions.
type TemplateResponse struct {
	Name          string          `json:"name"`
	Namespace     string          `json:"namespace"`
	Version       string          `json:"version"`
	Description   string          `json:"description"`
	Configuration json.RawMessage `json:"configuration"`
	Steps         json.RawMessage `json:"steps" doc:"The template's step definitions"`
}

type templateOutput struct {
	Body TemplateResponse
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
	out := TemplateListResponse{Namespaces: []NamespaceSummary{}, Templates: make([]TemplateSummary, len(tpls))}
	for _, ns := range nss {
		if in.Namespace != "" && ns.Name != in.Namespace {
			continue
		}
		out.Namespaces = append(out.Namespaces, NamespaceSummary{Name: ns.Name, Description: ns.Description, TemplateCount: ns.TemplateCount})
	}
	for i, t := range tpls {
		out.Templates[i] = TemplateSummary{Name: t.Name, Namespace: t.Namespace, Version: t.Version,
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
	return &templateOutput{Body: TemplateResponse{
		Name: nt.Name, Namespace: nt.Namespace, Version: nt.Version, Description: nt.Description,
		Configuration: nt.Configuration, Steps: parts.Steps,
	}}, nil
}
