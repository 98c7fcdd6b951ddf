package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// fixturesDir is tasker-core's template fixtures, read in place (they live outside the repository).
const fixturesDir = "../../../shared/fixtures/tasker-core/task_templates"

// fixture returns the path of one fixture, skipping the test when the
// fixtures are not checked out next to the repository.
func fixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(fixturesDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("tasker-core fixtures not found at %s (they live outside the repository): %v", p, err)
	}
	return p
}

// parseFixture parses a fixture holding exactly one template and validates it.
func parseFixture(t *testing.T, rel, env string) *Template {
	t.Helper()
	tpls, err := ParseFile(fixture(t, rel), ParseOptions{Environment: env})
	require.NoError(t, err)
	require.Len(t, tpls, 1)
	require.NoError(t, tpls[0].Validate())
	return tpls[0]
}

func TestEveryFixtureParsesAndValidates(t *testing.T) {
	dir := fixture(t, ".")
	for _, env := range []string{"", "test", "development", "production"} {
		tpls, err := LoadPaths([]string{dir}, ParseOptions{Environment: env})
		require.NoError(t, err, "env %q", env)
		require.Len(t, tpls, 93, "env %q", env)
		for _, tpl := range tpls {
			require.NoError(t, tpl.Validate(), "%s (env %q)", tpl.File(), env)
			_, err := tpl.CompileInputSchema()
			require.NoError(t, err, tpl.File())
			require.Len(t, tpl.TopologicalOrder(), len(tpl.Steps), tpl.File())
			require.NotEmpty(t, tpl.InitialSteps(), tpl.File())

			// The stored JSON form reads back to the same template.
			b, err := json.Marshal(tpl)
			require.NoError(t, err, tpl.File())
			var back Template
			require.NoError(t, json.Unmarshal(b, &back), tpl.File())
			b2, err := json.Marshal(&back)
			require.NoError(t, err)
			require.JSONEq(t, string(b), string(b2), tpl.File())
		}
	}
}

func TestMathematicalSequence(t *testing.T) {
	tpl := parseFixture(t, "rust/mathematical_sequence.yaml", "")
	require.Equal(t, "rust_e2e_linear/mathematical_sequence/1.0.0", tpl.Key())
	require.Len(t, tpl.Steps, 4)
	s2, ok := tpl.Step("linear_step_2")
	require.True(t, ok)
	require.Equal(t, []string{"linear_step_1"}, s2.Dependencies)
	require.Equal(t, StepStandard, s2.Type)
	require.Equal(t, "call", s2.Handler.Method)
	require.Equal(t, Retry{
		Retryable: true, MaxAttempts: 3, Backoff: BackoffExponential,
		BackoffBaseMs: 1000, MaxBackoffMs: 30000, Jitter: true,
	}, s2.Retry)
	require.Equal(t, 30, s2.TimeoutSeconds)
	require.Equal(t, "square", s2.Handler.Initialization["operation"])
	require.Equal(t, int64(2), s2.Handler.Initialization["step_number"])
	require.NotContains(t, s2.Handler.Initialization, "debug_mode")
	require.Equal(t, []string{"linear_step_1", "linear_step_2", "linear_step_3", "linear_step_4"}, tpl.TopologicalOrder())
	require.Equal(t, "default", tpl.SystemDependencies.Primary)
	require.Equal(t, "TAS-41 Native Rust Implementation", tpl.Metadata.Author)
	require.Contains(t, tpl.Metadata.Notes, "compile-time type safety")
	require.Empty(t, tpl.Metadata.DocumentationURL) // "documentation_url:" is null
	require.JSONEq(t, `{"type":"object","required":["even_number"],"properties":{"even_number":{"type":"integer","minimum":2,"maximum":100,"description":"Even number for mathematical sequence"}}}`, string(tpl.InputSchema))
	require.Len(t, tpl.Environments, 2)
	require.Equal(t, 2, *tpl.Environments["test"].Steps[0].Retry.MaxAttempts)

	// Lines are those of the file.
	require.Equal(t, 48, tpl.Line("steps[0].name"))
	require.Equal(t, 67, tpl.Line("steps[1].name"))
	require.Equal(t, 78, tpl.Line("steps[1].dependencies[0]"))

	test := parseFixture(t, "rust/mathematical_sequence.yaml", "test")
	for _, s := range test.Steps {
		require.Equal(t, 2, s.Retry.MaxAttempts, s.Name)
		require.Equal(t, 10, s.TimeoutSeconds, s.Name)
		require.Equal(t, BackoffExponential, s.Retry.Backoff, s.Name)
		require.Equal(t, 30000, s.Retry.MaxBackoffMs, s.Name)
	}
	// The overridden field now reports the override's line.
	require.Equal(t, 134, test.Line("steps[0].retry.max_attempts"))
	require.Equal(t, 62, test.Line("steps[0].retry.backoff"))

	dev := parseFixture(t, "rust/mathematical_sequence.yaml", "development")
	for i, s := range dev.Steps {
		require.Equal(t, true, s.Handler.Initialization["debug_mode"], s.Name)
		require.Equal(t, "square", s.Handler.Initialization["operation"], s.Name)
		require.Equal(t, int64(i+1), s.Handler.Initialization["step_number"], s.Name)
		require.Equal(t, 3, s.Retry.MaxAttempts, s.Name)
		require.Equal(t, 30, s.TimeoutSeconds, s.Name)
	}

	// An environment the template does not mention changes nothing.
	prod := parseFixture(t, "rust/mathematical_sequence.yaml", "production")
	require.Equal(t, tpl.Steps, prod.Steps)
}

func TestMathematicalSequenceContext(t *testing.T) {
	tpl := parseFixture(t, "rust/mathematical_sequence.yaml", "")
	require.Nil(t, tpl.ValidateContext(map[string]any{"even_number": 6}))
	require.Nil(t, tpl.ValidateContext(json.RawMessage(`{"even_number": 100}`)))
	require.Equal(t, []ContextError{{Pointer: "/even_number", Message: "must be >= 2"}},
		tpl.ValidateContext(map[string]any{"even_number": 1}))
	require.Equal(t, []ContextError{{Pointer: "/even_number", Message: "must be <= 100"}},
		tpl.ValidateContext([]byte(`{"even_number": 102}`)))
	require.Equal(t, []ContextError{{Pointer: "/even_number", Message: "is required"}},
		tpl.ValidateContext(map[string]any{}))
	require.Equal(t, []ContextError{{Pointer: "/even_number", Message: "must be integer, got string"}},
		tpl.ValidateContext(map[string]any{"even_number": "six"}))
	require.Equal(t, []ContextError{{Pointer: "", Message: "must be object, got null"}},
		tpl.ValidateContext(nil))
	require.Equal(t, "/even_number: must be >= 2", ContextError{Pointer: "/even_number", Message: "must be >= 2"}.Error())
}

func TestConditionalApprovalInitialSteps(t *testing.T) {
	tpl := parseFixture(t, "rust/conditional_approval_rust.yaml", "")
	require.Equal(t, []string{"validate_request", "routing_decision"}, stepNames(tpl.InitialSteps()))
	require.Equal(t, StepDecision, tpl.Steps[1].Type)
	require.Equal(t, []string{"validate_request"}, stepNames(tpl.Roots()))
	require.Equal(t, []string{"auto_approve", "manager_approval", "finance_review"}, stepNames(tpl.Dependents("routing_decision")))
	require.Equal(t, []string{"auto_approve", "manager_approval", "finance_review", "finalize_approval"}, stepNames(tpl.Descendants("routing_decision")))
	require.Equal(t, []string{"validate_request", "routing_decision", "auto_approve", "manager_approval", "finance_review", "finalize_approval"}, tpl.TopologicalOrder())
	require.Nil(t, tpl.InputSchema)
	require.Nil(t, tpl.ValidateContext(map[string]any{"anything": true}))
}

func TestBatchFixture(t *testing.T) {
	tpl := parseFixture(t, "rust/batch_processing_products_csv.yaml", "")
	require.Equal(t, []string{"analyze_csv"}, stepNames(tpl.InitialSteps()))
	w, ok := tpl.Step("process_csv_batch")
	require.True(t, ok)
	require.Equal(t, StepBatchWorker, w.Type)
	require.Equal(t, &BatchConfig{
		BatchSize: 200, Parallelism: 5, CursorField: "row_number",
		WorkerTemplate: "process_csv_batch", FailureStrategy: FailureContinueOnFailure,
	}, w.BatchConfig)
	require.Equal(t, int64(200), tpl.Steps[0].Handler.Initialization["batch_size"])

	ddb := parseFixture(t, "rust/diamond_decision_batch.yaml", "")
	require.Equal(t, []string{"ddb_diamond_start", "branch_evens", "branch_odds", "ddb_routing_decision"}, stepNames(ddb.InitialSteps()))
}

func TestBoundaryAndRetryFixtures(t *testing.T) {
	zero := parseFixture(t, "rust/boundary_max_attempts_zero.yaml", "")
	r := zero.Steps[0].Retry
	require.Equal(t, 0, r.MaxAttempts)
	require.Equal(t, 100, r.BackoffBaseMs)
	require.Equal(t, DefaultMaxBackoffMs, r.MaxBackoffMs) // not in the file
	require.Equal(t, "test_system", zero.SystemDependencies.Primary)
	require.Equal(t, 5, zero.Steps[0].TimeoutSeconds)
	require.Empty(t, zero.Steps[0].Handler.Initialization)
	require.NotNil(t, zero.Steps[0].Handler.Initialization)

	retry := parseFixture(t, "rust/retry_mechanics_test.yaml", "test")
	r = retry.Steps[0].Retry
	require.Equal(t, 5, r.MaxAttempts)
	require.Equal(t, 50, r.BackoffBaseMs)
	require.Equal(t, 200, r.MaxBackoffMs)
	require.Equal(t, 10, retry.Steps[0].TimeoutSeconds)
	require.Equal(t, "FailNTimesHandler", retry.Steps[0].Handler.Callable)
	require.Equal(t, int64(2), retry.Steps[0].Handler.Initialization["fail_count"])
}

func TestLifecycleFixture(t *testing.T) {
	tpl := parseFixture(t, "rust/dlq_staleness_test.yaml", "")
	two, thirty := 2, 30
	require.Equal(t, &Lifecycle{
		MaxDurationMinutes:               &thirty,
		MaxWaitingForDependenciesMinutes: &two,
		MaxWaitingForRetryMinutes:        &two,
		MaxStepsInProcessMinutes:         &two,
	}, tpl.Lifecycle)
	b, err := json.Marshal(tpl)
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal(b, &stored))
	require.Equal(t, map[string]any{
		"max_duration_minutes":                 float64(30),
		"max_waiting_for_dependencies_minutes": float64(2),
		"max_waiting_for_retry_minutes":        float64(2),
		"max_steps_in_process_minutes":         float64(2),
	}, stored["lifecycle"])
}

func TestRubyFixtureQuirks(t *testing.T) {
	// Legacy retry keys in seconds stand in for the _ms keys.
	tpl := parseFixture(t, "ruby/customer_success_process_refund.yaml", "")
	s, ok := tpl.Step("validate_refund_request")
	require.True(t, ok)
	require.Equal(t, 2000, s.Retry.BackoffBaseMs)
	require.Equal(t, 30000, s.Retry.MaxBackoffMs)
	require.Equal(t, 2.0, *s.Retry.InitialDelaySeconds)
	s, _ = tpl.Step("get_manager_approval")
	require.Equal(t, 60000, s.Retry.BackoffBaseMs)
	require.Equal(t, 60000, s.Retry.MaxBackoffMs) // raised to the base
	require.Nil(t, s.Retry.MaxDelaySeconds)

	// Unknown metadata keys are kept and stored.
	require.Equal(t, map[string]any{"blog_post": "post_04"}, tpl.Metadata.Extra)
	b, err := json.Marshal(tpl)
	require.NoError(t, err)
	require.Contains(t, string(b), `"blog_post":"post_04"`)
	var back Template
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, tpl.Metadata, back.Metadata)

	// Step-level lifecycle blocks are kept as they are.
	batch := parseFixture(t, "ruby/batch_processing_products_csv.yaml", "")
	w, _ := batch.Step("process_csv_batch")
	require.JSONEq(t, `{"max_steps_in_process_minutes":120,"max_retries":3,"backoff_multiplier":2.0}`, string(w.Lifecycle))
}

func TestAllStepsOverride(t *testing.T) {
	plain := parseFixture(t, "python/batch_processing_py.yaml", "")
	test := parseFixture(t, "python/batch_processing_py.yaml", "test")
	require.Equal(t, AllSteps, test.Environments["test"].Steps[0].Name)
	for i, s := range test.Steps {
		require.Equal(t, 30, s.TimeoutSeconds, s.Name)
		require.Equal(t, 2, s.Retry.MaxAttempts, s.Name)
		require.Equal(t, plain.Steps[i].Retry.BackoffBaseMs, s.Retry.BackoffBaseMs, s.Name)
	}
}

func TestDiamondMermaid(t *testing.T) {
	tpl := parseFixture(t, "rust/diamond_pattern.yaml", "")
	require.Equal(t, `graph TD
    s0["diamond_start"]
    s1["diamond_branch_b"]
    s2["diamond_branch_c"]
    s3["diamond_end"]
    s0 --> s1
    s0 --> s2
    s1 --> s3
    s2 --> s3
`, tpl.Mermaid(nil))

	require.Equal(t, `graph TD
    s0["diamond_start<br/>complete"]
    s1["diamond_branch_b<br/>error"]
    s2["diamond_branch_c<br/>in_progress"]
    s3["diamond_end"]
    s0 --> s1
    s0 --> s2
    s1 --> s3
    s2 --> s3
    classDef not_created fill:#ffffff,stroke:#d1d5db,stroke-dasharray:3 3,color:#9ca3af
    classDef st_complete fill:#bbf7d0,stroke:#15803d
    classDef st_error fill:#fecaca,stroke:#b91c1c
    classDef st_in_progress fill:#bfdbfe,stroke:#1d4ed8
    class s0 st_complete
    class s1 st_error
    class s2 st_in_progress
    class s3 not_created
`, tpl.Mermaid(map[string]string{"diamond_start": "complete", "diamond_branch_b": "error", "diamond_branch_c": "in_progress"}))
}

func TestDecisionAndBatchMermaid(t *testing.T) {
	tpl := parseFixture(t, "rust/conditional_approval_rust.yaml", "")
	require.Equal(t, `graph TD
    s0["validate_request"]
    s1{"routing_decision<br/><i>decision</i>"}
    s2(["finalize_approval<br/><i>deferred_convergence</i>"])
    s3["auto_approve"]
    s4["manager_approval"]
    s5["finance_review"]
    s0 --> s1
    s1 -.-> s3
    s1 -.-> s4
    s1 -.-> s5
    s3 -.-> s2
    s4 -.-> s2
    s5 -.-> s2
`, tpl.Mermaid(nil))

	batch := parseFixture(t, "rust/batch_processing_products_csv.yaml", "")
	got := batch.Mermaid(map[string]string{
		"analyze_csv": "complete", "process_csv_batch_001": "complete",
		"process_csv_batch_002": "waiting_for_retry", "aggregate_csv_results": "pending",
		"unrelated_step": "complete",
	})
	require.Contains(t, got, `s0{{"analyze_csv<br/><i>batchable</i><br/>complete"}}`)
	require.Contains(t, got, `s1[["process_csv_batch<br/><i>batch_worker</i>"]]`)
	require.Contains(t, got, `b1["process_csv_batch_002<br/>waiting_for_retry"]`)
	require.Contains(t, got, "    s0 --> b1\n    b1 --> s2\n")
	require.Contains(t, got, "class b0 st_complete\n")
	require.NotContains(t, got, "unrelated_step")
}

func stepNames(steps []*Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name
	}
	return out
}
