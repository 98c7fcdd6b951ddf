package template

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// problems parses src as "t.yaml", requires it to decode, and returns what
// Validate reports, one formatted error per entry.
func problems(t *testing.T, src, env string) []string {
	t.Helper()
	tpls, err := Parse([]byte(src), "t.yaml", ParseOptions{Environment: env})
	require.NoError(t, err)
	require.Len(t, tpls, 1)
	return errorLines(tpls[0].Validate())
}

func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	var ve ValidationErrors
	if !errors.As(err, &ve) {
		return []string{"not a ValidationErrors: " + err.Error()}
	}
	out := make([]string, len(ve))
	for i, e := range ve {
		out[i] = e.Error()
	}
	return out
}

// twoSteps is a valid template; the cases below change one thing in it. The
// line numbers in the expected errors count from "name: demo" as line 1.
const twoSteps = `name: demo
namespace_name: demo_ns
version: 1.0.0
steps:
  - name: a
    handler:
      callable: A
  - name: b
    dependencies: [a]
    handler:
      callable: B
`

func TestValidTemplateHasNoProblems(t *testing.T) {
	require.Empty(t, problems(t, twoSteps, ""))
}

func TestValidationRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name string
		old  string // replaced in twoSteps (first occurrence)
		new  string
		want []string
	}{
		{"name required", "name: demo\n", "description: no name\n",
			[]string{"t.yaml:1: name: is required"}},
		{"name too long", "name: demo", "name: " + long(256),
			[]string{"t.yaml:1: name: must be at most 255 characters (has 256)"}},
		{"name of 255 characters", "name: demo", "name: " + long(255), nil},
		{"namespace required", "namespace_name: demo_ns", "namespace_name: ''",
			[]string{"t.yaml:2: namespace_name: is required"}},
		{"namespace too long", "namespace_name: demo_ns", "namespace_name: " + long(30),
			[]string{"t.yaml:2: namespace_name: must be at most 29 characters (has 30)"}},
		{"namespace of 29 characters", "namespace_name: demo_ns", "namespace_name: " + long(29), nil},
		{"namespace with a dash", "namespace_name: demo_ns", "namespace_name: demo-ns",
			[]string{"t.yaml:2: namespace_name: must hold only letters, digits and underscores and start with a letter or underscore"}},
		{"namespace starting with a digit", "namespace_name: demo_ns", "namespace_name: 9lives",
			[]string{"t.yaml:2: namespace_name: must hold only letters, digits and underscores and start with a letter or underscore"}},
		{"namespace starting with underscore", "namespace_name: demo_ns", "namespace_name: _private", nil},
		{"version required", "version: 1.0.0", "version:",
			[]string{"t.yaml:3: version: is required"}},
		{"version too long", "version: 1.0.0", "version: " + long(51),
			[]string{"t.yaml:3: version: must be at most 50 characters (has 51)"}},
		{"no steps", twoSteps[strings.Index(twoSteps, "steps:"):], "steps: []\n",
			[]string{"t.yaml:4: steps: at least one step is required"}},
		{"step name required", "  - name: a\n", "  - description: nameless\n",
			[]string{"t.yaml:5: steps[0].name: is required", "t.yaml:9: steps[1].dependencies[0]: unknown step \"a\""}},
		{"step name too long", "dependencies: [a]", "dependencies: []\n  - name: " + long(129) + "\n    handler: {callable: C}\n    x_placeholder: ",
			nil}, // replaced below
		{"duplicate step name", "  - name: b", "  - name: a",
			[]string{`t.yaml:8: steps[1].name: duplicate step name "a" (first defined at line 5)`, `t.yaml:9: steps[1].dependencies[0]: step "a" depends on itself`}},
		{"callable required", "      callable: A\n", "      method: run\n",
			[]string{"t.yaml:6: steps[0].handler.callable: is required"}},
		{"callable too long", "callable: A", "callable: " + long(501),
			[]string{"t.yaml:7: steps[0].handler.callable: must be at most 500 characters (has 501)"}},
		{"unknown dependency", "dependencies: [a]", "dependencies: [a, x]",
			[]string{`t.yaml:9: steps[1].dependencies[1]: unknown step "x"`}},
		{"self dependency", "dependencies: [a]", "dependencies: [a, b]",
			[]string{`t.yaml:9: steps[1].dependencies[1]: step "b" depends on itself`}},
		{"repeated dependency", "dependencies: [a]", "dependencies: [a, a]",
			[]string{`t.yaml:9: steps[1].dependencies[1]: dependency "a" is listed twice`}},
		{"unknown type", "  - name: b\n", "  - name: b\n    type: parallel\n",
			[]string{`t.yaml:9: steps[1].type: must be one of standard, decision, deferred_convergence, batchable, batch_worker (got "parallel")`}},
		{"decision without dependencies", "  - name: a\n", "  - name: a\n    type: decision\n",
			[]string{"t.yaml:5: steps[0].dependencies: a decision step must have at least one dependency"}},
		{"deferred convergence without dependencies", "  - name: a\n", "  - name: a\n    type: deferred_convergence\n",
			[]string{"t.yaml:5: steps[0].dependencies: a deferred_convergence step must have at least one dependency"}},
		{"max_attempts above 100", "      callable: A\n", "      callable: A\n    retry:\n      max_attempts: 101\n",
			[]string{"t.yaml:9: steps[0].retry.max_attempts: must be between 0 and 100 (got 101)"}},
		{"max_attempts negative", "      callable: A\n", "      callable: A\n    retry:\n      max_attempts: -1\n",
			[]string{"t.yaml:9: steps[0].retry.max_attempts: must be between 0 and 100 (got -1)"}},
		{"max_attempts zero is allowed", "      callable: A\n", "      callable: A\n    retry:\n      max_attempts: 0\n", nil},
		{"backoff_base_ms zero", "      callable: A\n", "      callable: A\n    retry:\n      backoff_base_ms: 0\n",
			[]string{"t.yaml:9: steps[0].retry.backoff_base_ms: must be between 1 and 3600000 (got 0)"}},
		{"backoff_base_ms too large", "      callable: A\n", "      callable: A\n    retry:\n      backoff_base_ms: 3600001\n",
			[]string{"t.yaml:9: steps[0].retry.backoff_base_ms: must be between 1 and 3600000 (got 3600001)"}},
		{"max_backoff_ms too large", "      callable: A\n", "      callable: A\n    retry:\n      max_backoff_ms: 3600001\n",
			[]string{"t.yaml:9: steps[0].retry.max_backoff_ms: must be at most 3600000 (got 3600001)"}},
		{"max_backoff_ms below base", "      callable: A\n", "      callable: A\n    retry:\n      backoff_base_ms: 500\n      max_backoff_ms: 400\n",
			[]string{"t.yaml:10: steps[0].retry.max_backoff_ms: must be at least backoff_base_ms (500), got 400"}},
		{"unknown backoff", "      callable: A\n", "      callable: A\n    retry:\n      backoff: quadratic\n",
			[]string{`t.yaml:9: steps[0].retry.backoff: must be one of none, linear, exponential, fibonacci (got "quadratic")`}},
		{"legacy initial_delay out of range", "      callable: A\n", "      callable: A\n    retry:\n      initial_delay: -2\n",
			[]string{"t.yaml:9: steps[0].retry.initial_delay: must be more than 0 and at most 3600 seconds"}},
		{"negative timeout", "      callable: A\n", "      callable: A\n    timeout_seconds: -1\n",
			[]string{"t.yaml:8: steps[0].timeout_seconds: must be between 0 and 86400 (got -1)"}},
		{"timeout above a day", "      callable: A\n", "      callable: A\n    timeout_seconds: 86401\n",
			[]string{"t.yaml:8: steps[0].timeout_seconds: must be between 0 and 86400 (got 86401)"}},
		{"event enums and name", "      callable: A\n", "      callable: A\n    publishes_events:\n      - condition: sometimes\n        delivery_mode: pigeon\n",
			[]string{
				"t.yaml:9: steps[0].publishes_events[0].name: is required",
				`t.yaml:9: steps[0].publishes_events[0].condition: must be one of success, failure, retryable_failure, permanent_failure, always (got "sometimes")`,
				`t.yaml:10: steps[0].publishes_events[0].delivery_mode: must be one of durable, fast, broadcast (got "pigeon")`,
			}},
		{"batch_config on a standard step", "      callable: A\n", "      callable: A\n    batch_config:\n      worker_template: a\n",
			[]string{
				"t.yaml:8: steps[0].batch_config: batch_config is only allowed on batchable and batch_worker steps",
				`t.yaml:9: steps[0].batch_config.worker_template: step "a" must be of type batch_worker (is standard)`,
			}},
		{"batch_config problems", "  - name: b\n", "  - name: b\n    type: batch_worker\n    batch_config:\n      batch_size: 0\n      parallelism: 0\n      failure_strategy: panic\n",
			[]string{
				"t.yaml:10: steps[1].batch_config.worker_template: is required",
				"t.yaml:11: steps[1].batch_config.batch_size: must be at least 1 (got 0)",
				"t.yaml:12: steps[1].batch_config.parallelism: must be at least 1 (got 0)",
				`t.yaml:13: steps[1].batch_config.failure_strategy: must be one of continue_on_failure, fail_fast, isolate (got "panic")`,
			}},
		{"batch_config unknown worker template", "  - name: b\n", "  - name: b\n    type: batchable\n    batch_config:\n      worker_template: nope\n",
			[]string{`t.yaml:11: steps[1].batch_config.worker_template: unknown step "nope"`}},
		{"lifecycle problems", "steps:\n", "lifecycle:\n  max_duration_minutes: 0\n  staleness_action: explode\nsteps:\n",
			[]string{
				"t.yaml:5: lifecycle.max_duration_minutes: must be between 1 and 2147483647 (got 0)",
				`t.yaml:6: lifecycle.staleness_action: must be one of dlq, error, none (got "explode")`,
			}},
		{"identity strategy", "steps:\n", "identity_strategy: random\nsteps:\n",
			[]string{`t.yaml:4: identity_strategy: must be one of strict, caller_provided, always_unique (got "random")`}},
		{"identity strategy caller_provided", "steps:\n", "identity_strategy: caller_provided\nsteps:\n", nil},
		{"domain event name", "steps:\n", "domain_events:\n  - description: nameless\nsteps:\n",
			[]string{"t.yaml:5: domain_events[0].name: is required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "step name too long" {
				src := twoSteps + "  - name: " + long(129) + "\n    handler: {callable: C}\n"
				require.Equal(t, []string{"t.yaml:12: steps[2].name: must be at most 128 characters (has 129)"}, problems(t, src, ""))
				return
			}
			require.Contains(t, twoSteps, tc.old)
			src := strings.Replace(twoSteps, tc.old, tc.new, 1)
			require.Equal(t, tc.want, problems(t, src, ""), "template:\n%s", src)
		})
	}
}

func TestInputSchemaMustCompile(t *testing.T) {
	src := strings.Replace(twoSteps, "steps:\n", "input_schema:\n  type: 12\nsteps:\n", 1)
	got := problems(t, src, "")
	require.Len(t, got, 1)
	require.True(t, strings.HasPrefix(got[0], "t.yaml:4: input_schema: is not a valid JSON Schema: "), got[0])
	require.NotContains(t, got[0], "\n")
}

func TestInputSchemaReferenceCycles(t *testing.T) {
	cases := map[string]string{
		"self reference":          "  $ref: '#'\n",
		"through allOf":           "  allOf: [{$ref: '#'}]\n",
		"through $defs":           "  $ref: '#/$defs/a'\n  $defs:\n    a: {$ref: '#/$defs/b'}\n    b: {anyOf: [{type: string}, {$ref: '#/$defs/a'}]}\n",
		"below a property":        "  properties:\n    x: {$ref: '#/properties/x'}\n",
		"through if/then":         "  if: {type: object}\n  then: {$ref: '#'}\n",
		"dependentSchemas loop":   "  dependentSchemas:\n    k: {$ref: '#'}\n",
		"old draft, definitions":  "  $schema: 'http://json-schema.org/draft-07/schema#'\n  $ref: '#/definitions/a'\n  definitions:\n    a: {not: {$ref: '#/definitions/a'}}\n",
		"dangling reference":      "  $ref: '#/$defs/missing'\n",
		"external reference":      "  $ref: 'https://example.com/schema.json'\n",
		"invalid keyword value":   "  minLength: -1\n",
		"recursion into children": "", // below: valid
	}
	for name, schema := range cases {
		t.Run(name, func(t *testing.T) {
			if schema == "" {
				return
			}
			src := strings.Replace(twoSteps, "steps:\n", "input_schema:\n"+schema+"steps:\n", 1)
			got := problems(t, src, "")
			require.Len(t, got, 1, "%q", got)
			require.True(t, strings.HasPrefix(got[0], "t.yaml:4: input_schema: is not a valid JSON Schema: "), got[0])
			require.NotContains(t, got[0], "\n")
			if !strings.Contains(name, "reference") && name != "invalid keyword value" {
				require.Contains(t, got[0], "reference cycle #")
			}
		})
	}
	require.Contains(t, problems(t, strings.Replace(twoSteps, "steps:\n", "input_schema: {$ref: '#'}\nsteps:\n", 1), "")[0],
		"reference cycle # -> #: each applies the next to the same value")

	// A schema may refer to itself below properties and items: that
	// recursion ends with the value.
	tree := withSchema(t, `  $ref: '#/$defs/node'
  $defs:
    node:
      type: object
      required: [name]
      properties:
        name: {type: string}
        children: {type: array, items: {$ref: '#/$defs/node'}}
        parent: {$ref: '#'}
`)
	require.NoError(t, tree.Validate())
	require.Empty(t, tree.ValidateContext(map[string]any{"name": "root", "children": []any{
		map[string]any{"name": "leaf", "children": []any{}, "parent": map[string]any{"name": "root"}},
	}}))
	require.Equal(t, []ContextError{{Pointer: "/children/0/name", Message: "is required"}},
		tree.ValidateContext(map[string]any{"name": "root", "children": []any{map[string]any{}}}))
}

// TestInputSchemaCycleAlsoFailsCompile: task creation compiles the schema
// through CompileInputSchema, which refuses the loop too, so a template
// stored before this check says what is wrong instead of "reference cycle"
// on every value.
func TestInputSchemaCycleAlsoFailsCompile(t *testing.T) {
	tpls, err := Parse([]byte(strings.Replace(twoSteps, "steps:\n", "input_schema: {$ref: '#'}\nsteps:\n", 1)), "t.yaml", ParseOptions{})
	require.NoError(t, err)
	_, err = tpls[0].CompileInputSchema()
	require.ErrorContains(t, err, "reference cycle # -> #")
	got := tpls[0].ValidateContext(map[string]any{})
	require.Len(t, got, 1)
	require.Contains(t, got[0].Message, "the template's input_schema does not compile")
}

func TestIdentifierRules(t *testing.T) {
	cases := []struct {
		name string
		old  string // replaced in twoSteps (first occurrence)
		new  string
		want []string
	}{
		{"control character in the name", "name: demo", `name: "de\tmo"`,
			[]string{"t.yaml:1: name: contains the control character U+0009 at character 3"}},
		{"newline in the version", "version: 1.0.0", `version: "1.0\n"`,
			[]string{"t.yaml:3: version: contains the control character U+000A at character 4"}},
		{"slash in the name", "name: demo", "name: a/b",
			[]string{`t.yaml:1: name: must not contain "/" (it separates namespace, name and version in the template's key and REST path)`}},
		{"slash in the version", "version: 1.0.0", "version: 1/0",
			[]string{`t.yaml:3: version: must not contain "/" (it separates namespace, name and version in the template's key and REST path)`}},
		{"leading space in the name", "name: demo", `name: " demo"`,
			[]string{"t.yaml:1: name: must not begin or end with white space"}},
		{"zero-width space in a step name", "  - name: a\n", "  - name: \"a\\u200b\"\n",
			[]string{"t.yaml:5: steps[0].name: contains the invisible character U+200B at character 2",
				`t.yaml:9: steps[1].dependencies[0]: unknown step "a"`}},
		{"escape in a callable", "callable: A", `callable: "A\e[31m"`,
			[]string{"t.yaml:7: steps[0].handler.callable: contains the control character U+001B at character 2"}},
		{"trailing space in a callable", "callable: A", `callable: "A "`,
			[]string{"t.yaml:7: steps[0].handler.callable: must not begin or end with white space"}},
		{"right-to-left override in a method", "      callable: A\n", "      callable: A\n      method: \"ca\\u202Ell\"\n",
			[]string{"t.yaml:8: steps[0].handler.method: contains the invisible character U+202E at character 3"}},
		{"control character in an event name", "      callable: A\n", "      callable: A\n    publishes_events: [{name: \"done\\r\"}]\n",
			[]string{"t.yaml:8: steps[0].publishes_events[0].name: contains the control character U+000D at character 5"}},
		{"names tasker-core templates use", "name: demo", "name: Payments-Refund v2.1 (EU)\ndescription: \"tab\\tand\\nnewline are fine here\"", nil},
		{"callable forms", "callable: A", "callable: 'Payments::Refund::Handler'", nil},
		{"python callable", "callable: A", "callable: handlers.linear.LinearStep1", nil},
		{"unicode step name", "  - name: a\n    handler", "  - name: étape_α\n    handler", []string{`t.yaml:9: steps[1].dependencies[0]: unknown step "a"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, twoSteps, tc.old)
			src := strings.Replace(twoSteps, tc.old, tc.new, 1)
			require.Equal(t, tc.want, problems(t, src, ""), "template:\n%s", src)
		})
	}
}

// TestNULIsRefusedEverywhere: PostgreSQL stores neither a NUL in text nor
// \u0000 in jsonb, so a NUL anywhere in a template (an identifier, free
// text, a key, a handler's initialization) is an error naming the field,
// not a database error at registration.
func TestNULIsRefusedEverywhere(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{"name: demo", `name: "de\0mo"`, "t.yaml:1: name: contains a NUL character (\\u0000), which PostgreSQL cannot store"},
		{"version: 1.0.0", `version: "1.0.0\0"`, "t.yaml:3: version: contains a NUL character (\\u0000), which PostgreSQL cannot store"},
		{"  - name: b", `  - name: "b\0"`, "t.yaml:8: steps[1].name: contains a NUL character (\\u0000), which PostgreSQL cannot store"},
		{"callable: B", `callable: "B\x00"`, "t.yaml:11: steps[1].handler.callable: contains a NUL character (\\u0000), which PostgreSQL cannot store"},
		{"name: demo", "name: demo\ndescription: \"a\\0b\"", "t.yaml:2: description: contains a NUL character (\\u0000), which PostgreSQL cannot store"},
		{"      callable: A\n", "      callable: A\n      initialization: {\"k\\0\": 1}\n",
			`t.yaml:8: steps[0].handler.initialization: key "k\x00" contains a NUL character (\u0000), which PostgreSQL cannot store`},
		{"      callable: A\n", "      callable: A\n      initialization: {k: [ok, \"\\0\"]}\n",
			"t.yaml:8: steps[0].handler.initialization.k[1]: contains a NUL character (\\u0000), which PostgreSQL cannot store"},
	} {
		require.Contains(t, twoSteps, tc.old)
		src := strings.Replace(twoSteps, tc.old, tc.new, 1)
		_, err := Parse([]byte(src), "t.yaml", ParseOptions{})
		require.Equal(t, []string{tc.want}, errorLines(err), "template:\n%s", src)
	}
	// A template built in Go skips the decoder; Validate still checks its
	// identifiers.
	tpl := mustParse(t, twoSteps)
	tpl.Name = "de\x00mo"
	tpl.Steps[0].Handler.Callable = "A\x00"
	tpl.Steps[1].Handler.Resolver = "x\xffy" // YAML text is always UTF-8; Go strings need not be
	require.Equal(t, []string{
		"t.yaml:1: name: contains a NUL character (\\u0000) at character 3, which PostgreSQL cannot store",
		"t.yaml:7: steps[0].handler.callable: contains a NUL character (\\u0000) at character 2, which PostgreSQL cannot store",
		"t.yaml:10: steps[1].handler.resolver: is not valid UTF-8",
	}, errorLines(tpl.Validate()))
}

func TestCycleIsNamed(t *testing.T) {
	src := `name: demo
namespace_name: demo_ns
version: 1.0.0
steps:
  - name: start
    handler: {callable: S}
  - name: a
    dependencies: [start, c]
    handler: {callable: A}
  - name: b
    dependencies: [a]
    handler: {callable: B}
  - name: c
    dependencies: [b]
    handler: {callable: C}
  - name: loner
    dependencies: [loner2]
    handler: {callable: L}
  - name: loner2
    dependencies: [loner]
    handler: {callable: L}
`
	require.Equal(t, []string{
		"t.yaml:8: steps[1].dependencies: cycle: a -> b -> c -> a",
		"t.yaml:17: steps[4].dependencies: cycle: loner -> loner2 -> loner",
	}, problems(t, src, ""))
}

func TestEnvironmentOverrideProblems(t *testing.T) {
	src := twoSteps + `environments:
  test:
    steps:
      - name: a
        retry:
          max_attempts: 500
      - name: ghost
        timeout_seconds: 5
      - name: a
        timeout_seconds: 90000
  staging:
    steps:
      - timeout_seconds: 5
`
	want := []string{
		"t.yaml:17: environments.test.steps[0].retry.max_attempts: must be between 0 and 100 (got 500)",
		`t.yaml:18: environments.test.steps[1].name: unknown step "ghost"`,
		"t.yaml:20: environments.test.steps[2].name: step \"a\" is already overridden at line 15",
		"t.yaml:21: environments.test.steps[2].timeout_seconds: must be between 0 and 86400 (got 90000)",
		"t.yaml:24: environments.staging.steps[0].name: is required",
	}
	require.Equal(t, want, problems(t, src, ""))

	// With the environment selected, the merged step fails too, and the
	// error points at the override's line.
	got := problems(t, src, "test")
	require.Contains(t, got, "t.yaml:17: steps[0].retry.max_attempts: must be between 0 and 100 (got 500)")
	require.Contains(t, got, "t.yaml:21: steps[0].timeout_seconds: must be between 0 and 86400 (got 90000)")
}

func TestSelectedEnvironmentCrossFieldErrorPointsAtOverride(t *testing.T) {
	src := strings.Replace(twoSteps, "      callable: A\n", "      callable: A\n    retry:\n      backoff_base_ms: 5000\n", 1) + `environments:
  test:
    steps:
      - name: a
        retry:
          max_backoff_ms: 1000
`
	require.Empty(t, problems(t, src, ""))
	require.Equal(t, []string{"t.yaml:19: steps[0].retry.max_backoff_ms: must be at least backoff_base_ms (5000), got 1000"},
		problems(t, src, "test"))
}

func TestErrorFormatting(t *testing.T) {
	require.Equal(t, "f.yaml:3: steps[0].name: is required", (&Error{File: "f.yaml", Line: 3, Field: "steps[0].name", Message: "is required"}).Error())
	require.Equal(t, "f.yaml: no template document found", (&Error{File: "f.yaml", Message: "no template document found"}).Error())
	require.Equal(t, "line 4: bad", (&Error{Line: 4, Message: "bad"}).Error())
	errs := ValidationErrors{{File: "a", Line: 1, Message: "x"}, {File: "b", Line: 2, Message: "y"}}
	require.Equal(t, "a:1: x\nb:2: y", errs.Error())
	var e *Error
	require.ErrorAs(t, error(errs), &e)
	require.Equal(t, "a", e.File)
}
