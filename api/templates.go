package api

import "encoding/json"

// TemplateListResponse lists namespaces and registered templates (GET
// /v1/templates).
type TemplateListResponse struct {
	Namespaces []NamespaceSummary `json:"namespaces"`
	Templates  []TemplateSummary  `json:"templates"`
	TotalCount int                `json:"total_count"`
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

// TemplateResponse is one template (GET
// /v1/templates/{namespace}/{name}/{version}): its stored configuration (the
// whole template as JSON) and its step definitions.
type TemplateResponse struct {
	Name          string          `json:"name"`
	Namespace     string          `json:"namespace"`
	Version       string          `json:"version"`
	Description   string          `json:"description"`
	Configuration json.RawMessage `json:"configuration"`
	Steps         json.RawMessage `json:"steps" doc:"The template's step definitions"`
}
