package template

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// parseProblems parses src as "t.yaml", requires it to fail, and returns the
// formatted problems.
func parseProblems(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse([]byte(src), "t.yaml", ParseOptions{})
	require.Error(t, err)
	return errorLines(err)
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           []string
	}{
		{"unknown top-level key", "version: 1.0.0\n", "version: 1.0.0\nnmae: typo\n",
			[]string{`t.yaml:4: unknown key "nmae" (did you mean "name"?)`}},
		{"unknown step key", "      callable: A\n", "      callable: A\n    retyr: {}\n",
			[]string{`t.yaml:8: steps[0]: unknown key "retyr" (did you mean "retry"?)`}},
		{"unknown retry key", "      callable: A\n", "      callable: A\n    retry:\n      limit: 3\n",
			[]string{`t.yaml:9: steps[0].retry: unknown key "limit"`}},
		{"unknown handler key", "      callable: A\n", "      callable: A\n      klass: A\n",
			[]string{`t.yaml:8: steps[0].handler: unknown key "klass"`}},
		{"wrong integer", "      callable: A\n", "      callable: A\n    retry:\n      max_attempts: three\n",
			[]string{"t.yaml:9: steps[0].retry.max_attempts: must be an integer"}},
		{"fractional integer", "      callable: A\n", "      callable: A\n    timeout_seconds: 1.5\n",
			[]string{"t.yaml:8: steps[0].timeout_seconds: must be an integer"}},
		{"huge integer", "      callable: A\n", "      callable: A\n    timeout_seconds: 99999999999999999999999\n",
			[]string{"t.yaml:8: steps[0].timeout_seconds: must be an integer"}},
		{"wrong boolean", "      callable: A\n", "      callable: A\n    retry:\n      retryable: sometimes\n",
			[]string{"t.yaml:9: steps[0].retry.retryable: must be true or false"}},
		{"dependencies not a list", "dependencies: [a]", "dependencies: a",
			[]string{"t.yaml:9: steps[1].dependencies: must be a list"}},
		{"handler not a mapping", "    handler:\n      callable: A\n", "    handler: A\n",
			[]string{"t.yaml:6: steps[0].handler: must be a mapping"}},
		{"step not a mapping", "  - name: a\n    handler:\n      callable: A\n", "  - a\n",
			[]string{"t.yaml:5: steps[0]: must be a mapping"}},
		{"null step", "  - name: a\n    handler:\n      callable: A\n", "  -\n",
			[]string{"t.yaml:5: steps[0]: must be a mapping"}},
		{"name not a string", "name: demo", "name: [demo]",
			[]string{"t.yaml:1: name: must be a string"}},
		{"type and step_type", "  - name: b\n", "  - name: b\n    type: standard\n    step_type: decision\n",
			[]string{`t.yaml:10: steps[1].step_type: "step_type" and "type" are the same field; set only one`}},
		{"not finite", "      callable: A\n", "      callable: A\n      initialization:\n        x: .nan\n",
			[]string{"t.yaml:9: steps[0].handler.initialization.x: must be a finite number"}},
		{"environment step not a mapping", "steps:\n", "environments:\n  test:\n    steps: [x]\nsteps:\n",
			[]string{"t.yaml:6: environments.test.steps[0]: must be a mapping"}},
		{"unknown override key", "steps:\n", "environments:\n  test:\n    steps:\n      - name: a\n        type: decision\nsteps:\n",
			[]string{`t.yaml:8: environments.test.steps[0]: unknown key "type"`}},
		{"several problems, sorted by line", "name: demo\n", "name: demo\nfoo: 1\nbar: 2\n",
			[]string{`t.yaml:2: unknown key "foo"`, `t.yaml:3: unknown key "bar"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, twoSteps, tc.old)
			src := strings.Replace(twoSteps, tc.old, tc.new, 1)
			require.Equal(t, tc.want, parseProblems(t, src), "template:\n%s", src)
		})
	}
}

func TestYAMLSyntaxErrorHasLine(t *testing.T) {
	got := parseProblems(t, "name: demo\nsteps:\n  - name: [a\n")
	require.Len(t, got, 1)
	require.True(t, strings.HasPrefix(got[0], "t.yaml:3: invalid YAML: "), got[0])

	got = parseProblems(t, "name: a\nname: b\n")
	require.Len(t, got, 1)
	require.True(t, strings.HasPrefix(got[0], "t.yaml:2: invalid YAML: "), got[0])
	require.Contains(t, got[0], "already defined")
}

func TestNotATemplate(t *testing.T) {
	require.Equal(t, []string{"t.yaml: no template document found"}, parseProblems(t, "# only a comment\n"))
	require.Equal(t, []string{"t.yaml: no template document found"}, parseProblems(t, ""))
	require.Equal(t, []string{"t.yaml:2: a template document must be a mapping"}, parseProblems(t, "---\n- a\n- b\n"))

	_, err := Parse([]byte("x"), "", ParseOptions{})
	require.ErrorContains(t, err, "<input>:1: a template document must be a mapping")
}

func TestAliasesAndTypeAliases(t *testing.T) {
	src := `name: demo
namespace_name: demo_ns
version: 1.0
steps:
  - name: a
    step_type: batchable
    handler: {callable: A}
    retry: &fast
      max_attempts: 5
      backoff: linear
  - name: b
    depends_on: [a]
    step_type: batch_worker
    handler: {callable: B}
    batch_config: {worker_template: b}
    retry: *fast
  - <<: {handler: {callable: C}, retry: {max_attempts: 1}}
    name: c
    depends_on: [b]
    type: deferred_convergence
environments:
  test:
    steps:
      - name: a
        retry: {max_attempts: 9}
`
	tpls, err := Parse([]byte(src), "t.yaml", ParseOptions{Environment: "test"})
	require.NoError(t, err)
	tpl := tpls[0]
	require.NoError(t, tpl.Validate())
	require.Equal(t, "1.0", tpl.Version) // as written, not the float 1
	require.Equal(t, StepBatchable, tpl.Steps[0].Type)
	require.Equal(t, []string{"a"}, tpl.Steps[1].Dependencies)
	require.Equal(t, 9, tpl.Steps[0].Retry.MaxAttempts)
	require.Equal(t, 5, tpl.Steps[1].Retry.MaxAttempts, "the override must not leak through the alias")
	require.Equal(t, BackoffLinear, tpl.Steps[1].Retry.Backoff)
	require.Equal(t, "C", tpl.Steps[2].Handler.Callable)
	require.Equal(t, 1, tpl.Steps[2].Retry.MaxAttempts)
	require.Equal(t, 6, tpl.Line("steps[0].type"), "the alias key's line")

	b, err := json.Marshal(tpl)
	require.NoError(t, err)
	require.Contains(t, string(b), `"type":"batch_worker"`)
	require.NotContains(t, string(b), "step_type")
	require.NotContains(t, string(b), "depends_on")
}

func TestMultipleDocuments(t *testing.T) {
	two := "# header\n---\n" + twoSteps + "---\n" + strings.Replace(twoSteps, "name: demo", "name: demo2", 1) + "---\n"
	tpls, err := Parse([]byte(two), "t.yaml", ParseOptions{})
	require.NoError(t, err)
	require.Len(t, tpls, 2)
	require.Equal(t, "demo_ns/demo2/1.0.0", tpls[1].Key())
	require.Equal(t, 3, tpls[0].Line("name"))
	require.Equal(t, 15, tpls[1].Line("name"))

	// A broken document does not hide the good one.
	bad := twoSteps + "---\nname: x\nbogus: 1\n"
	tpls, err = Parse([]byte(bad), "t.yaml", ParseOptions{})
	require.Len(t, tpls, 1)
	require.Equal(t, []string{`t.yaml:14: unknown key "bogus"`}, errorLines(err))
}

// laughs is a "billion laughs" document: levels anchors, each a list of ten
// aliases of the one before, the first a list of ten scalars.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestAliasBombIsRefused(t *testing.T) {
	// Nine levels: the aliases expand to 10×11 + 10×111 + … + 10×11111111
	// nodes; the line is that of the alias list that crossed the limit.
	require.Equal(t, []string{"t.yaml:6: YAML aliases expand to 1,234,567,880 nodes, limit 1,000,000"},
		parseProblems(t, laughs(9)))
	// Far more levels than any count can hold: refused at once, too.
	require.Equal(t, []string{"t.yaml:6: YAML aliases expand to more than 1,152,921,504,606,846,976 nodes, limit 1,000,000"},
		parseProblems(t, laughs(40)))
	// Merge keys are aliases too.
	var b strings.Builder
	b.WriteString("base: &m0 {k0: [x, x, x, x, x, x, x, x, x, x]}\n")
	for i := 1; i < 8; i++ {
		fmt.Fprintf(&b, "l%d: &m%d {", i, i)
		for j := range 10 {
			fmt.Fprintf(&b, "k%d: *m%d, ", j, i-1)
		}
		fmt.Fprintf(&b, "<<: *m%d}\n", i-1)
	}
	got := parseProblems(t, b.String())
	require.Len(t, got, 1)
	require.Regexp(t, `^t\.yaml:\d: YAML aliases expand to [0-9,]+ nodes, limit 1,000,000$`, got[0])
}

// TestAliasesWithinTheLimitParse: aliases that expand to fewer nodes than
// the limit are fine, and each use is a copy of its own.
func TestAliasesWithinTheLimitParse(t *testing.T) {
	doc := "name: demo\nnamespace_name: demo_ns\nversion: 1.0.0\nmetadata:\n  shapes:\n" +
		"    " + strings.ReplaceAll(strings.TrimSuffix(laughs(5), "\n"), "\n", "\n    ") + "\n" +
		"steps:\n  - name: a\n    handler: {callable: A}\n    retry: &r {max_attempts: 5}\n" +
		"  - name: b\n    handler: {callable: B}\n    retry: *r\n"
	tpls, err := Parse([]byte(doc), "t.yaml", ParseOptions{})
	require.NoError(t, err) // five levels expand to 123,440 nodes
	require.NoError(t, tpls[0].Validate())
	require.Equal(t, 5, tpls[0].Steps[1].Retry.MaxAttempts)
}

// bigTemplate is a plain template (no aliases) of steps steps, each
// depending on the deps steps before it.
func bigTemplate(steps, deps int) []byte {
	var b strings.Builder
	b.WriteString("name: big\nnamespace_name: big_ns\nversion: 1.0.0\nsteps:\n")
	for i := range steps {
		fmt.Fprintf(&b, "  - name: step_%04d\n    handler: {callable: Big::Step}\n", i)
		if i == 0 {
			continue
		}
		b.WriteString("    dependencies: [")
		for j := max(0, i-deps); j < i; j++ {
			if j > max(0, i-deps) {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "step_%04d", j)
		}
		b.WriteString("]\n")
	}
	return []byte(b.String())
}

// TestLargePlainTemplateParses: size alone is no reason to refuse a
// template below the byte limit; 2,000 steps of 100 dependencies each
// (200,000 list items, 2.1 MB) parse and validate.
func TestLargePlainTemplateParses(t *testing.T) {
	if testing.Short() {
		t.Skip("parses a 2 MB template")
	}
	data := bigTemplate(2000, 100)
	require.Greater(t, len(data), 1_500_000)
	tpls, err := Parse(data, "big.yaml", ParseOptions{})
	require.NoError(t, err)
	require.Len(t, tpls, 1)
	require.NoError(t, tpls[0].Validate())
	require.Len(t, tpls[0].Steps, 2000)
	require.Len(t, tpls[0].Steps[1999].Dependencies, 100)
	require.Equal(t, 3*1999+6, tpls[0].Line("steps[1999].dependencies"))
}

func TestDeepNestingIsRefused(t *testing.T) {
	for src, line := range map[string]string{
		"name: x\nsteps: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n": "2",
		"name: x\nsteps: " + strings.Repeat("[", 50000) + "\n":                          "2", // quick, though the parser is quadratic here
		"name: x\nsteps:\n" + deepBlock(70):                                             "67",
	} {
		require.Equal(t, []string{"t.yaml:" + line + ": document is nested more than 64 levels deep"}, parseProblems(t, src))
	}
	// Brackets in comments and double-quoted strings do not count.
	src := strings.Replace(twoSteps, "name: demo\n", "name: demo # "+strings.Repeat("[", 100)+"\ndescription: \""+strings.Repeat("{", 100)+"\\\"\"\n", 1)
	require.Empty(t, problems(t, src, ""))
}

// deepBlock is a block mapping nested n levels deep, starting at line 3.
func deepBlock(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i+1) + "k:\n")
	}
	return b.String()
}

func TestParseAcceptsJSON(t *testing.T) {
	tpls, err := Parse([]byte(`{"name":"demo","namespace_name":"ns","version":"1.0.0","steps":[{"name":"a","handler":{"callable":"A"}}]}`), "t.json", ParseOptions{})
	require.NoError(t, err)
	require.NoError(t, tpls[0].Validate())
}

func TestDefaults(t *testing.T) {
	src := `name: demo
namespace_name: demo_ns
version: 1.0.0
lifecycle: {}
steps:
  - name: a
    handler: {callable: A}
    publishes_events: [{name: done}]
  - name: b
    type: batch_worker
    dependencies: [a]
    handler: {callable: B}
    batch_config: {worker_template: b}
    retry: {backoff_base_ms: 45000}
  - name: c
    dependencies: [a]
    handler: {callable: C}
    retry: {max_backoff_ms: 400, jitter: false, retryable: false}
`
	tpls, err := Parse([]byte(src), "t.yaml", ParseOptions{})
	require.NoError(t, err)
	tpl := tpls[0]
	require.NoError(t, tpl.Validate())
	require.Equal(t, Retry{Retryable: true, MaxAttempts: 3, Backoff: BackoffExponential, BackoffBaseMs: 1000, MaxBackoffMs: 30000, Jitter: true}, tpl.Steps[0].Retry)
	require.Equal(t, Handler{Callable: "A", Method: "call", Initialization: map[string]any{}}, tpl.Steps[0].Handler)
	require.Equal(t, []PublishedEvent{{Name: "done", Condition: ConditionSuccess, DeliveryMode: DeliveryDurable}}, tpl.Steps[0].PublishesEvents)
	require.Equal(t, &BatchConfig{BatchSize: 1000, Parallelism: 10, CursorField: "id", WorkerTemplate: "b", FailureStrategy: FailureContinueOnFailure}, tpl.Steps[1].BatchConfig)
	require.Equal(t, 45000, tpl.Steps[1].Retry.BackoffBaseMs)
	require.Equal(t, 45000, tpl.Steps[1].Retry.MaxBackoffMs)
	require.Equal(t, Retry{Retryable: false, MaxAttempts: 3, Backoff: BackoffExponential, BackoffBaseMs: 400, MaxBackoffMs: 400, Jitter: false}, tpl.Steps[2].Retry)
	require.Equal(t, &Lifecycle{}, tpl.Lifecycle, "no action: the configured one applies")
	require.Equal(t, SystemDependencies{Primary: "default", Secondary: []string{}}, tpl.SystemDependencies)
	require.Equal(t, IdentityStrategy(""), tpl.IdentityStrategy)
	require.Equal(t, IdentityStrict, tpl.IdentityStrategy.Effective())
	require.Nil(t, tpl.Metadata)
	require.Nil(t, tpl.InputSchema)
}

func TestOversizedInputIsRefused(t *testing.T) {
	got := parseProblems(t, "name: x\n"+strings.Repeat("#", 4<<20))
	require.Equal(t, []string{"t.yaml: template file is 4,194,312 bytes, limit 4,194,304 (4 MiB)"}, got)

	path := filepath.Join(t.TempDir(), "huge.yaml")
	require.NoError(t, os.WriteFile(path, []byte("name: x\n"+strings.Repeat("#", 5<<20)), 0o600))
	_, err := ParseFile(path, ParseOptions{})
	require.Equal(t, []string{path + ": template file is 5,242,888 bytes, limit 4,194,304 (4 MiB)"}, errorLines(err))
}
