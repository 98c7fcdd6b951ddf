package template

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEventSchemaValidation: a declared event schema that does not compile
// is a template error naming its path; a payload is checked against a good
// one with JSON pointers.
func TestEventSchemaValidation(t *testing.T) {
	tpl := mustParse(t, `name: demo
namespace_name: ns
version: "1"
steps:
  - name: a
    handler: {callable: A}
    publishes_events:
      - name: a.done
        schema: {type: 12}
`)
	err := tpl.Validate()
	require.Error(t, err)
	require.Contains(t, err.Error(), "steps[0].publishes_events[0].schema: is not a valid JSON Schema")

	e := PublishedEvent{Name: "a.done", Schema: json.RawMessage(`{"type": "object", "required": ["id"],
		"properties": {"id": {"type": "string"}, "n": {"type": "integer", "minimum": 1}}}`)}
	require.Nil(t, e.ValidatePayload(json.RawMessage(`{"id": "x"}`)))
	require.Equal(t, []ContextError{{Pointer: "/id", Message: "is required"}, {Pointer: "/n", Message: "must be >= 1"}},
		e.ValidatePayload(json.RawMessage(`{"n": 0}`)))
	require.Nil(t, PublishedEvent{Name: "free"}.ValidatePayload(json.RawMessage(`[1]`)), "no schema: anything goes")
}
