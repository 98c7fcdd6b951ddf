package template

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse feeds arbitrary bytes through everything a template goes
// through: parsing (with and without environment overrides), validation, the
// graph helpers, Mermaid, the JSON round trip and context validation. None
// of it may panic; errors must be ValidationErrors naming the file.
func FuzzParse(f *testing.F) {
	for _, rel := range []string{
		"rust/mathematical_sequence.yaml",
		"rust/conditional_approval_rust.yaml",
		"rust/batch_processing_products_csv.yaml",
		"rust/dlq_staleness_test.yaml",
		"python/batch_processing_py.yaml",
		"ruby/customer_success_process_refund.yaml",
	} {
		if data, err := os.ReadFile(filepath.Join(fixturesDir, rel)); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		twoSteps,
		"",
		"---\n---\n",
		"name: [",
		"a: &a [*a]",
		"a: &a {b: *a}",
		"<<: *nope",
		"name: x\nname: y\n",
		"- a\n- b\n",
		"steps: [{name: a, dependencies: [a]}, {name: b, type: decision}]",
		"steps: [{name: a, dependencies: [b]}, {name: b, dependencies: [a]}]",
		"steps: [{name: a, handler: {initialization: {x: .inf}}}]",
		"steps: [{name: a, retry: {max_backoff_ms: -5}}]\nenvironments: {test: {steps: [{name: ALL, retry: {backoff_base_ms: 0}}]}}",
		"input_schema: {$ref: 'http://x'}\nsteps: []",
		"input_schema: {type: object, properties: {x: {type: integer}}}\nsteps: [{name: a}]",
		"environments: {test: {steps: [{name: a, handler: {initialization: {k: 1}}}]}}\nsteps: [{name: a, handler: {initialization: {k: {n: 1}}}}]",
		"version: !!binary aGVsbG8=\nsteps: [{name: !!timestamp 2001-12-14}]",
		"? [a, b]\n: c\n",
		"{\"name\": \"json\", \"steps\": [{\"name\": \"a\"}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, env := range []string{"", "test"} {
			tpls, err := Parse(data, "fuzz.yaml", ParseOptions{Environment: env})
			requireFileErrors(t, err)
			for _, tpl := range tpls {
				requireFileErrors(t, tpl.Validate())
				require.Len(t, tpl.TopologicalOrder(), len(tpl.Steps))
				tpl.InitialSteps()
				tpl.Roots()
				require.NotEmpty(t, tpl.Mermaid(nil))
				states := map[string]string{}
				for _, s := range tpl.Steps {
					states[s.Name+"_001"] = "complete"
					states[s.Name] = "odd state!"
				}
				tpl.Mermaid(states)
				tpl.ValidateContext(map[string]any{"x": 1})

				b, err := json.Marshal(tpl)
				require.NoError(t, err)
				var back Template
				require.NoError(t, json.Unmarshal(b, &back))
				require.Len(t, back.Steps, len(tpl.Steps))
			}
		}
	})
}

// requireFileErrors checks that err is nil or a non-empty ValidationErrors
// whose every entry names the file and fits on one line.
func requireFileErrors(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ve ValidationErrors
	require.True(t, errors.As(err, &ve), "%T: %v", err, err)
	require.NotEmpty(t, ve)
	for _, e := range ve {
		require.Equal(t, "fuzz.yaml", e.File, e.Error())
		require.NotEmpty(t, e.Message)
		require.NotContains(t, e.Error(), "\n", "one line per problem")
	}
}
