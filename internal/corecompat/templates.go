package corecompat

// Mirrors of crates/tasker-shared/src/types/api/templates.rs (the
// orchestration template endpoints).

// TemplateListResponse mirrors types::api::templates::TemplateListResponse
// (the orchestration's GET /v1/templates).
type TemplateListResponse struct {
	Namespaces []NamespaceSummary `json:"namespaces"`
	Templates  []TemplateListItem `json:"templates"`
	TotalCount uint64             `json:"total_count"`
}

// TemplateListItem mirrors types::api::templates::TemplateSummary.
type TemplateListItem struct {
	Name        string  `json:"name"`
	Namespace   string  `json:"namespace"`
	Version     string  `json:"version"`
	Description *string `json:"description"`
	StepCount   uint64  `json:"step_count"`
}

// NamespaceSummary mirrors types::api::templates::NamespaceSummary.
type NamespaceSummary struct {
	Name          string  `json:"name"`
	Description   *string `json:"description"`
	TemplateCount uint64  `json:"template_count"`
}

// TemplateDetail mirrors types::api::templates::TemplateDetail (the
// orchestration's GET /v1/templates/{namespace}/{name}/{version}).
type TemplateDetail struct {
	Name          string           `json:"name"`
	Namespace     string           `json:"namespace"`
	Version       string           `json:"version"`
	Description   *string          `json:"description"`
	Configuration *Value           `json:"configuration"`
	Steps         []StepDefinition `json:"steps"`
}

// StepDefinition mirrors types::api::templates::StepDefinition.
type StepDefinition struct {
	Name               string  `json:"name"`
	Description        *string `json:"description"`
	DefaultRetryable   bool    `json:"default_retryable"`
	DefaultMaxAttempts int32   `json:"default_max_attempts"`
	ResultSchema       *Value  `json:"result_schema"`
}
