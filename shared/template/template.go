package template

import (
	"encoding/json"
	"fmt"
)

// Template is one task template: a named, versioned DAG of steps.
//
// Its JSON form (encoding/json with the field tags below) is the template
// configuration stored in the database and served by the API; it uses the
// YAML key names. The source file and lines do not survive the JSON round
// trip, so errors about a template decoded from JSON name no line.
type Template struct {
	Name               string                         `json:"name"`
	NamespaceName      string                         `json:"namespace_name"`
	Version            string                         `json:"version"`
	Description        string                         `json:"description,omitempty"`
	Metadata           *Metadata                      `json:"metadata,omitempty"`
	SystemDependencies SystemDependencies             `json:"system_dependencies"`
	DomainEvents       []DomainEvent                  `json:"domain_events,omitempty"`
	InputSchema        json.RawMessage                `json:"input_schema,omitempty"` // nil when absent
	Steps              []Step                         `json:"steps"`
	Environments       map[string]EnvironmentOverride `json:"environments,omitempty"`
	Lifecycle          *Lifecycle                     `json:"lifecycle,omitempty"`
	// IdentityStrategy is our addition (tasker-core has none): how task
	// requests for this template are deduplicated. Empty means strict.
	IdentityStrategy IdentityStrategy `json:"identity_strategy,omitempty"`

	src    *source       // file and field lines; nil when not parsed from YAML
	schema *schemaHolder // compiled input_schema cache; nil means compile per call
}

// UnmarshalJSON decodes a template from its stored JSON form. It does not
// apply defaults or validate; the JSON is expected to come from json.Marshal
// of a parsed template.
func (t *Template) UnmarshalJSON(data []byte) error {
	type plain Template
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("decoding template JSON: %w", err)
	}
	*t = Template(p)
	t.schema = &schemaHolder{}
	return nil
}

// Key is the template's identity, "namespace/name/version".
func (t *Template) Key() string {
	return t.NamespaceName + "/" + t.Name + "/" + t.Version
}

// File is the name of the file the template was parsed from, or "".
func (t *Template) File() string {
	if t.src == nil {
		return ""
	}
	return t.src.file
}

// Line returns the source line of a field path such as
// "steps[2].retry.max_attempts". A path with no line of its own (a default,
// or a value reached through a YAML alias) gets the line of its nearest
// ancestor. It returns 0 when the template was not parsed from YAML.
func (t *Template) Line(field string) int {
	if t.src == nil {
		return 0
	}
	return t.src.line(field)
}

// Step returns the step with the given name.
func (t *Template) Step(name string) (*Step, bool) {
	for i := range t.Steps {
		if t.Steps[i].Name == name {
			return &t.Steps[i], true
		}
	}
	return nil, false
}

// Metadata is documentation about a template. Keys other than the named ones
// are kept in Extra and written back inline by MarshalJSON.
type Metadata struct {
	Author           string         `json:"author,omitempty"`
	Tags             []string       `json:"tags,omitempty"`
	DocumentationURL string         `json:"documentation_url,omitempty"`
	CreatedAt        string         `json:"created_at,omitempty"`
	UpdatedAt        string         `json:"updated_at,omitempty"`
	Notes            string         `json:"notes,omitempty"`
	Extra            map[string]any `json:"-"`
}

// metadataKeys are the keys Metadata has fields for.
var metadataKeys = []string{"author", "tags", "documentation_url", "created_at", "updated_at", "notes"}

// MarshalJSON writes the named fields and the Extra keys as one object.
func (m Metadata) MarshalJSON() ([]byte, error) {
	type plain Metadata
	b, err := json.Marshal(plain(m))
	if err != nil || len(m.Extra) == 0 {
		return b, err
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	for k, v := range m.Extra {
		if _, named := obj[k]; !named {
			obj[k] = v
		}
	}
	return json.Marshal(obj)
}

// UnmarshalJSON reads the named fields and keeps every other key in Extra.
func (m *Metadata) UnmarshalJSON(data []byte) error {
	type plain Metadata
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		return err
	}
	for _, k := range metadataKeys {
		delete(obj, k)
	}
	*m = Metadata(p)
	if len(obj) > 0 {
		m.Extra = obj
	}
	return nil
}

// SystemDependencies names the systems a template's steps talk to. It is
// informational.
type SystemDependencies struct {
	Primary   string   `json:"primary"` // default "default"
	Secondary []string `json:"secondary"`
}

// DomainEvent is a task-level domain event declaration.
type DomainEvent struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
}

// Lifecycle holds per-template staleness thresholds (read by the staleness
// detector instead of the configured defaults) and what to do with a stale
// task. Nil pointers and an empty action mean "use the configured default".
// The action says what the detector does with a stale task of the template
// (dlq: open an investigation and fail the task; error: fail it; none:
// only log); AutoDLQOnTimeout and AutoFailOnTimeout, when set, then turn
// the investigation or the failing on or off.
type Lifecycle struct {
	MaxDurationMinutes               *int            `json:"max_duration_minutes,omitempty"`
	MaxWaitingForDependenciesMinutes *int            `json:"max_waiting_for_dependencies_minutes,omitempty"`
	MaxWaitingForRetryMinutes        *int            `json:"max_waiting_for_retry_minutes,omitempty"`
	MaxStepsInProcessMinutes         *int            `json:"max_steps_in_process_minutes,omitempty"`
	StalenessAction                  StalenessAction `json:"staleness_action,omitempty"`
	AutoFailOnTimeout                *bool           `json:"auto_fail_on_timeout,omitempty"`
	AutoDLQOnTimeout                 *bool           `json:"auto_dlq_on_timeout,omitempty"`
}

// StalenessAction is what the staleness detector does with a stale task.
type StalenessAction string

// Staleness actions.
const (
	StalenessDLQ   StalenessAction = "dlq"
	StalenessError StalenessAction = "error"
	StalenessNone  StalenessAction = "none"
)

// Valid reports whether a is a known staleness action.
func (a StalenessAction) Valid() bool {
	return a == "" || a == StalenessDLQ || a == StalenessError || a == StalenessNone
}

// IdentityStrategy says how task requests are deduplicated (docs/templates.md).
type IdentityStrategy string

// Identity strategies. The empty strategy means IdentityStrict.
const (
	IdentityStrict         IdentityStrategy = "strict"
	IdentityCallerProvided IdentityStrategy = "caller_provided"
	IdentityAlwaysUnique   IdentityStrategy = "always_unique"
)

// Valid reports whether s is empty or a known identity strategy.
func (s IdentityStrategy) Valid() bool {
	switch s {
	case "", IdentityStrict, IdentityCallerProvided, IdentityAlwaysUnique:
		return true
	}
	return false
}

// Effective returns the strategy in force: IdentityStrict for the empty one.
func (s IdentityStrategy) Effective() IdentityStrategy {
	if s == "" {
		return IdentityStrict
	}
	return s
}
