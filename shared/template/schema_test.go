package template

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func withSchema(t *testing.T, schema string) *Template {
	t.Helper()
	return mustParse(t, strings.Replace(twoSteps, "steps:\n", "input_schema:\n"+schema+"steps:\n", 1))
}

func TestValidateContextMessages(t *testing.T) {
	tpl := withSchema(t, `  type: object
  additionalProperties: false
  required: [order, "a/b"]
  properties:
    "a/b": {type: string}
    order:
      type: object
      required: [id, items]
      properties:
        id: {type: string, minLength: 3, pattern: "^ORD-"}
        items:
          type: array
          items: {type: integer, exclusiveMinimum: 0, multipleOf: 2}
        note: {type: string, maxLength: 4}
`)
	require.NoError(t, tpl.Validate())
	got := tpl.ValidateContext(map[string]any{
		"order": map[string]any{"id": "X", "items": []any{2, 0, 3}, "note": "toolong"},
		"extra": 1,
	})
	require.Equal(t, []ContextError{
		{Pointer: "/a~1b", Message: "is required"},
		{Pointer: "/extra", Message: "is not allowed"},
		{Pointer: "/order/id", Message: "must be at least 3 characters long"},
		{Pointer: "/order/id", Message: `must match the pattern "^ORD-"`},
		{Pointer: "/order/items/1", Message: "must be > 0"},
		{Pointer: "/order/items/2", Message: "must be a multiple of 2"},
		{Pointer: "/order/note", Message: "must be at most 4 characters long"},
	}, got)
}

func TestValidateContextBadInput(t *testing.T) {
	tpl := withSchema(t, "  type: object\n")
	got := tpl.ValidateContext([]byte(`{"a":`))
	require.Len(t, got, 1)
	require.Equal(t, "", got[0].Pointer)
	require.True(t, strings.HasPrefix(got[0].Message, "context is not valid JSON: "), got[0].Message)

	got = tpl.ValidateContext(func() {})
	require.Len(t, got, 1)
	require.True(t, strings.HasPrefix(got[0].Message, "context is not valid JSON: "), got[0].Message)
}

func TestInputSchemaDrafts(t *testing.T) {
	tpl := withSchema(t, "  $schema: http://json-schema.org/draft-07/schema#\n  type: object\n  properties:\n    n: {type: integer, exclusiveMaximum: 5}\n")
	require.NoError(t, tpl.Validate())
	require.Equal(t, []ContextError{{Pointer: "/n", Message: "must be < 5"}}, tpl.ValidateContext(map[string]any{"n": 5}))
}

func TestInputSchemaRefusesExternalReferences(t *testing.T) {
	for _, ref := range []string{"file:///etc/passwd", "https://example.com/schema.json"} {
		tpl := withSchema(t, "  $ref: \""+ref+"\"\n")
		lines := errorLines(tpl.Validate())
		require.Len(t, lines, 1)
		require.Contains(t, lines[0], "t.yaml:4: input_schema: is not a valid JSON Schema: ")
		_, err := tpl.CompileInputSchema()
		require.ErrorContains(t, err, "external schema references are not allowed")
		got := tpl.ValidateContext(map[string]any{})
		require.Len(t, got, 1)
		require.Contains(t, got[0].Message, "the template's input_schema does not compile")
	}
	// References inside the schema itself work.
	tpl := withSchema(t, "  $defs: {pos: {type: integer, minimum: 1}}\n  properties: {n: {$ref: \"#/$defs/pos\"}}\n")
	require.NoError(t, tpl.Validate())
	require.Equal(t, []ContextError{{Pointer: "/n", Message: "must be >= 1"}}, tpl.ValidateContext(map[string]any{"n": 0}))
}

func TestCompiledSchemaIsCachedPerText(t *testing.T) {
	tpl := withSchema(t, "  type: object\n")
	a, err := tpl.CompileInputSchema()
	require.NoError(t, err)
	b, err := tpl.CompileInputSchema()
	require.NoError(t, err)
	require.Same(t, a, b)

	copied := *tpl
	copied.InputSchema = []byte(`{"type":"array"}`)
	require.Equal(t, []ContextError{{Pointer: "", Message: "must be array, got object"}}, copied.ValidateContext(map[string]any{}))
	require.Nil(t, tpl.ValidateContext(map[string]any{}))

	// A template built in code compiles on every call, correctly.
	bare := &Template{InputSchema: []byte(`{"type":"string"}`)}
	require.Equal(t, []ContextError{{Pointer: "", Message: "must be string, got number"}}, bare.ValidateContext(1))
}

func TestValidateContextConcurrently(t *testing.T) {
	tpl := withSchema(t, "  type: object\n  required: [n]\n  properties: {n: {type: integer, minimum: 1}}\n")
	var wg sync.WaitGroup
	results := make([][]ContextError, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = tpl.ValidateContext(map[string]any{"n": i})
		}()
	}
	wg.Wait()
	require.Equal(t, []ContextError{{Pointer: "/n", Message: "must be >= 1"}}, results[0])
	for _, r := range results[1:] {
		require.Nil(t, r)
	}
}

func TestTemplateFromJSONValidatesWithoutLines(t *testing.T) {
	var tpl Template
	require.NoError(t, json.Unmarshal([]byte(`{"name":"x","namespace_name":"bad-ns","version":"1","steps":[
		{"name":"a","handler":{"callable":"A"},"retry":{"max_attempts":3,"backoff":"exponential","backoff_base_ms":1000,"max_backoff_ms":30000}},
		{"name":"a","handler":{"callable":"A"},"retry":{"max_attempts":3,"backoff":"exponential","backoff_base_ms":1000,"max_backoff_ms":30000}}]}`), &tpl))
	require.Equal(t, []string{
		"namespace_name: must hold only letters, digits and underscores and start with a letter or underscore",
		`steps[1].name: duplicate step name "a" (first defined at steps[0])`,
	}, errorLines(tpl.Validate()))
	require.Equal(t, "", tpl.File())
	require.Equal(t, 0, tpl.Line("name"))
}
