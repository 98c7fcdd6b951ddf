package native

import (
	"context"
	"encoding/json"
	"io/fs"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker/workertest"
)

func TestTemplatesParseValidateAndUseRegisteredCallables(t *testing.T) {
	ts, err := Templates()
	require.NoError(t, err)
	r := registry(t)
	var keys []string
	for _, tmpl := range ts {
		keys = append(keys, tmpl.Key())
		require.NoError(t, tmpl.Validate(), tmpl.Key())
		require.LessOrEqual(t, len(tmpl.NamespaceName), 29, tmpl.Key())
		require.NotEmpty(t, tmpl.Description, tmpl.Key())
		require.NotNil(t, tmpl.InputSchema, tmpl.Key())
		require.EqualValues(t, "always_unique", tmpl.IdentityStrategy, tmpl.Key())
		for _, s := range tmpl.Steps {
			_, ok := r.Lookup(s.Handler.Callable)
			require.True(t, ok, "%s step %s: callable %q is not registered", tmpl.Key(), s.Name, s.Handler.Callable)
			require.NotEmpty(t, s.Description, "%s step %s", tmpl.Key(), s.Name)
			require.Positive(t, s.TimeoutSeconds, "%s step %s", tmpl.Key(), s.Name)
		}
	}
	require.True(t, slices.IsSorted(keys))
	require.Equal(t, []string{
		"examples_dag/mixed_dag/1.0.0",
		"examples_diamond/square_diamond/1.0.0",
		"examples_errors/mixed_outcomes/1.0.0",
		"examples_errors/permanent_error/1.0.0",
		"examples_errors/retryable_error/1.0.0",
		"examples_errors/success_only/1.0.0",
		"examples_linear/square_chain/1.0.0",
		"examples_orders/order_fulfillment/1.0.0",
		"examples_retry/fail_twice_then_succeed/1.0.0",
		"examples_retry/retry_exhaustion/1.0.0",
		"examples_slow/slow_step/1.0.0",
		"examples_tree/square_tree/1.0.0",
	}, keys)

	// Step counts the brief asks for.
	steps := map[string]int{}
	for _, tmpl := range ts {
		steps[tmpl.Key()] = len(tmpl.Steps)
	}
	require.Equal(t, 4, steps["examples_linear/square_chain/1.0.0"])
	require.Equal(t, 4, steps["examples_diamond/square_diamond/1.0.0"])
	require.Equal(t, 8, steps["examples_tree/square_tree/1.0.0"])
	require.Equal(t, 7, steps["examples_dag/mixed_dag/1.0.0"])
	require.Equal(t, 4, steps["examples_orders/order_fulfillment/1.0.0"])

	retry := ts[slices.Index(keys, "examples_retry/fail_twice_then_succeed/1.0.0")].Steps[0].Retry
	require.Equal(t, 5, retry.MaxAttempts)
	require.Equal(t, 50, retry.BackoffBaseMs)
	exhaust := ts[slices.Index(keys, "examples_retry/retry_exhaustion/1.0.0")].Steps[0].Retry
	require.Equal(t, 3, exhaust.MaxAttempts)

	files, err := fs.Glob(TemplateFS(), "*.yaml")
	require.NoError(t, err)
	require.Len(t, files, len(ts))
}

// TestDemosRunToTheirExpectations runs every demo in memory and checks its
// expectation, the way `tasker dev --demo` checks a real run.
func TestDemosRunToTheirExpectations(t *testing.T) {
	ts, err := Templates()
	require.NoError(t, err)
	demos := Demos()
	require.Len(t, demos, len(ts))
	inputs, expects := DemoInputs(), DemoExpectations()
	require.Len(t, inputs, len(ts))
	require.Len(t, expects, len(ts))
	r := registry(t)
	for i, tmpl := range ts {
		d := demos[i]
		require.Equal(t, tmpl.Key(), d.Key)
		require.JSONEq(t, string(d.Input), string(inputs[d.Key]))
		require.Equal(t, d.Expect, expects[d.Key])
		require.Empty(t, tmpl.ValidateContext(d.Input), d.Key)

		run, err := workertest.RunTemplate(context.Background(), tmpl, r, d.Input)
		require.NoError(t, err, d.Key)
		e := d.Expect
		require.Equal(t, e.Complete, run.Complete(), "%s failed steps: %v", d.Key, run.Failed())
		require.Len(t, run.Steps, e.Steps, d.Key)
		for _, f := range e.FailedSteps {
			require.Contains(t, run.Failed(), f, d.Key)
		}
		sr := run.Step(e.Step)
		require.NotNil(t, sr, d.Key)
		if e.Attempts > 0 {
			require.Equal(t, e.Attempts, sr.Attempts, d.Key)
		}
		if len(e.Want) > 0 {
			raw, err := workertest.Value(sr.Result)
			require.NoError(t, err, d.Key)
			require.NoError(t, e.Check(raw), d.Key)
		}
	}
	keys := slices.Sorted(maps.Keys(inputs))
	for _, d := range demos {
		require.Contains(t, keys, d.Key)
	}
}

func TestExpectationCheck(t *testing.T) {
	e := Expectation{Step: "s", Want: json.RawMessage(`{"total":2.50,"items":[{"sku":"A"}],"ok":true,"big":"18446744073709551616"}`)}
	require.NoError(t, e.Check(json.RawMessage(`{"total":2.5,"items":[{"sku":"A","qty":1}],"ok":true,"big":"18446744073709551616","extra":1}`)))
	for _, bad := range []string{
		`{"total":2.51,"items":[{"sku":"A"}],"ok":true,"big":"18446744073709551616"}`,
		`{"items":[{"sku":"A"}],"ok":true,"big":"18446744073709551616"}`,
		`{"total":"2.5","items":[{"sku":"A"}],"ok":true,"big":"18446744073709551616"}`,
		`{"total":2.5,"items":[],"ok":true,"big":"18446744073709551616"}`,
		`{"total":2.5,"items":[{"sku":"A"}],"ok":false,"big":"18446744073709551616"}`,
		`{"total":2.5,"items":[{"sku":"A"}],"ok":true,"big":18446744073709551616}`,
		`[1]`,
		`not json`,
	} {
		require.Error(t, e.Check(json.RawMessage(bad)), bad)
	}
	err := e.Check(json.RawMessage(`{"total":3,"items":[{"sku":"A"}],"ok":true,"big":"18446744073709551616"}`))
	require.ErrorContains(t, err, "/total: want 2.50, got 3")

	// No Want: nothing to check.
	require.NoError(t, Expectation{Step: "s"}.Check(json.RawMessage(`{}`)))

	stored := json.RawMessage(`{"step_uuid":"00000000-0000-0000-0000-000000000000","success":true,"status":"completed",` +
		`"result":{"result":2821109907456},"metadata":{"execution_time_ms":1,"retryable":false}}`)
	want := Expectation{Step: "linear_step_4", Want: json.RawMessage(`{"result":2821109907456}`)}
	require.NoError(t, want.CheckStored(stored))
	failed := json.RawMessage(`{"step_uuid":"00000000-0000-0000-0000-000000000000","success":false,"status":"failed",` +
		`"result":{},"metadata":{"execution_time_ms":1,"retryable":false},"error":{"message":"boom","error_type":"PermanentError","retryable":false}}`)
	require.ErrorContains(t, want.CheckStored(failed), "PermanentError: boom")
}
