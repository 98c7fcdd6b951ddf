package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

// run executes h on a step with the given task context, configuration and
// dependencies (stored results by name).
func run[In, Out any](t *testing.T, h Handler[In, Out], taskContext, cfg string, deps map[string]string) Result {
	t.Helper()
	d := StepData{StepName: "s", Context: json.RawMessage(taskContext), Config: json.RawMessage(cfg),
		Dependencies: map[string]json.RawMessage{}, Attempt: 1, MaxAttempts: 3}
	for k, v := range deps {
		d.Dependencies[k] = json.RawMessage(v)
	}
	return typedHandler[In, Out]{h: h}.Execute(context.Background(), NewStepContext(d))
}

// value encodes a success's value as the worker stores it.
func value(t *testing.T, r Result) string {
	t.Helper()
	require.True(t, r.IsSuccess(), "%s: %s", r.ErrorType(), r.Message())
	raw, err := encodeValue(r.Value())
	require.NoError(t, err)
	return string(raw)
}

func TestTypedInput(t *testing.T) {
	type order struct {
		Customer struct {
			ID int64 `json:"id"`
		} `json:"customer"`
		Items []struct {
			Quantity int `json:"quantity"`
		} `json:"items"`
	}
	echo := Func(func(_ context.Context, s *Step[order]) (order, error) { return s.Input, nil })
	require.JSONEq(t, `{"customer": {"id": 7}, "items": [{"quantity": 2}]}`,
		value(t, run(t, echo, `{"customer": {"id": 7}, "items": [{"quantity": 2}], "extra": true}`, ``, nil)))
	require.JSONEq(t, `{"customer": {"id": 0}, "items": null}`, value(t, run(t, echo, ``, ``, nil)),
		"an empty context decodes as nothing")

	for ctx, msg := range map[string]string{
		`{"customer": {"id": "7"}}`:        `the task context: field "customer.id" is a JSON string, want an integer (int64)`,
		`{"items": [{"quantity": 2.5}]}`:   `the task context: field "items.quantity" is a JSON number 2.5, want an integer (int)`,
		`{"items": {"quantity": 2}}`:       `the task context: field "items" is a JSON object, want an array`,
		`[1, 2]`:                           `the task context is a JSON array, want an object`,
		`"text"`:                           `the task context is a JSON string, want an object`,
		`{"customer": `:                    `the task context is not valid JSON: unexpected end of JSON input (at byte 12)`,
		`{"customer": {"id": 1}} trailing`: `the task context is not valid JSON: invalid character 't' after top-level value (at byte 25)`,
	} {
		r := run(t, echo, ctx, ``, nil)
		require.False(t, r.IsSuccess(), ctx)
		require.Equal(t, stepresult.ErrorTypeValidation, r.ErrorType(), ctx)
		require.False(t, r.Retryable(), ctx)
		require.Equal(t, msg, r.Message(), ctx)
	}

	// Untyped inputs, and no input at all.
	raw := Func(func(_ context.Context, s *Step[json.RawMessage]) (json.RawMessage, error) { return s.Input, nil })
	require.Equal(t, `[1,2]`, value(t, run(t, raw, `[1,2]`, ``, nil)))
	anyMap := Func(func(_ context.Context, s *Step[map[string]any]) (any, error) { return s.Input["n"], nil })
	require.Equal(t, `3`, value(t, run(t, anyMap, `{"n": 3}`, ``, nil)))
	none := Func(func(_ context.Context, s *Step[struct{}]) (string, error) { return "ran", nil })
	require.Equal(t, `"ran"`, value(t, run(t, none, `[not even JSON`, ``, nil)), "struct{} reads nothing")
	ptr := Func(func(_ context.Context, s *Step[*order]) (bool, error) { return s.Input != nil, nil })
	require.Equal(t, `true`, value(t, run(t, ptr, `{}`, ``, nil)))
	require.Equal(t, "the task context is a JSON array, want an object", run(t, ptr, `[]`, ``, nil).Message())
}

func TestConfig(t *testing.T) {
	type rates struct {
		Rates map[string]float64 `json:"rates"`
	}
	h := Func(func(_ context.Context, s *Step[struct{}]) (rates, error) { return Config[rates](s) })
	require.JSONEq(t, `{"rates": {"EU": 12.5}}`, value(t, run(t, h, `{}`, `{"rates": {"EU": 12.5}}`, nil)))
	require.JSONEq(t, `{"rates": null}`, value(t, run(t, h, `{}`, ``, nil)), "no configuration is the zero value")
	r := run(t, h, `{}`, `{"rates": {"EU": "high"}}`, nil)
	require.Equal(t, stepresult.ErrorTypeValidation, r.ErrorType())
	require.False(t, r.Retryable())
	require.Equal(t, `the step configuration (handler.initialization): field "rates" is a JSON string, want a number`, r.Message())
}

func TestDependency(t *testing.T) {
	type weight struct {
		Kilograms float64 `json:"kilograms"`
	}
	h := Func(func(_ context.Context, s *Step[struct{}]) (weight, error) { return Dependency[weight](s, "weigh") })
	stored := `{"success": true, "status": "completed", "result": {"kilograms": 2}}`
	require.JSONEq(t, `{"kilograms": 2}`, value(t, run(t, h, `{}`, ``, map[string]string{"weigh": stored})))

	r := run(t, h, `{}`, ``, nil)
	require.Equal(t, stepresult.ErrorTypePermanent, r.ErrorType())
	require.Equal(t, ErrorCodeMissingDependency, r.ErrorCode())
	require.False(t, r.Retryable())
	require.Equal(t, `no result from step "weigh" (is it an ancestor of "s"?)`, r.Message())

	r = run(t, h, `{}`, ``, map[string]string{"weigh": `{"success": true, "result": {"kilograms": "two"}}`})
	require.Equal(t, stepresult.ErrorTypePermanent, r.ErrorType())
	require.Equal(t, ErrorCodeInvalidDependency, r.ErrorCode())
	require.False(t, r.Retryable())
	require.Equal(t, `the result of step "weigh": field "kilograms" is a JSON string, want a number`, r.Message())

	// A handler can add to the error it got and keep its classification.
	wrapped := Func(func(_ context.Context, s *Step[struct{}]) (weight, error) {
		w, err := Dependency[weight](s, "weigh")
		if err != nil {
			return w, fmt.Errorf("pricing the parcel: %w", err)
		}
		return w, nil
	})
	r = run(t, wrapped, `{}`, ``, nil)
	require.Equal(t, ErrorCodeMissingDependency, r.ErrorCode())
	require.False(t, r.Retryable())
	require.Equal(t, `pricing the parcel: no result from step "weigh" (is it an ancestor of "s"?)`, r.Message())
}

func TestStepMetadata(t *testing.T) {
	ok := Func(func(_ context.Context, s *Step[struct{}]) (int, error) {
		s.SetMetadata("source", "cache")
		s.SetMetadata("hits", 2)
		return 1, nil
	})
	r := run(t, ok, `{}`, ``, nil)
	require.Equal(t, map[string]any{"source": "cache", "hits": 2}, r.Metadata())

	fails := Func(func(_ context.Context, s *Step[struct{}]) (int, error) {
		s.SetMetadata("source", "cache")
		s.SetMetadata("hits", 2)
		return 0, WithMetadata(errors.New("stale"), map[string]any{"source": "origin"})
	})
	r = run(t, fails, `{}`, ``, nil)
	require.Equal(t, map[string]any{"source": "origin", "hits": 2}, r.Metadata())

	require.Nil(t, run(t, Func(func(context.Context, *Step[struct{}]) (int, error) { return 1, nil }), `{}`, ``, nil).Metadata())
}

// TestFailureDropsTheValue: what a handler returns beside an error is not
// stored.
func TestFailureDropsTheValue(t *testing.T) {
	h := Func(func(context.Context, *Step[struct{}]) (int, error) { return 42, errors.New("boom") })
	r := run(t, h, `{}`, ``, nil)
	require.False(t, r.IsSuccess())
	require.Nil(t, r.Value())
}

func TestEmptyRawResultIsStoredAsObject(t *testing.T) {
	h := Func(func(context.Context, *Step[struct{}]) (json.RawMessage, error) { return nil, nil })
	require.Equal(t, `{}`, value(t, run(t, h, `{}`, ``, nil)))
}

func TestRegistry(t *testing.T) {
	reg := NewRegistry()
	ok := Func(func(context.Context, *Step[struct{}]) (string, error) { return "ok", nil })
	require.NoError(t, Register(reg, "b.ok", ok))
	require.ErrorContains(t, Register(reg, "b.ok", ok), `"b.ok": already registered`)
	require.ErrorContains(t, Register(reg, "", ok), "empty callable")
	require.ErrorContains(t, Register[struct{}, string](reg, "b.nil", nil), "nil handler")
	require.ErrorContains(t, Register(reg, "b.nil", Func[struct{}, string](nil)), "nil handler")
	require.ErrorContains(t, reg.RegisterExecutor("b.nil", nil), "nil handler")
	require.NoError(t, reg.RegisterExecutor("a.raw", execFunc(func(context.Context, *StepContext) Result {
		return ResultOf("raw", nil)
	})))
	require.Equal(t, []string{"a.raw", "b.ok"}, reg.Callables())

	e, found := reg.Lookup("b.ok")
	require.True(t, found)
	require.Equal(t, "ok", e.Execute(context.Background(), NewStepContext(StepData{})).Value())
	_, found = reg.Lookup("c.none")
	require.False(t, found)

	// The registry is the executor of its handlers.
	r := reg.Execute(context.Background(), NewStepContext(StepData{Callable: "a.raw"}))
	require.Equal(t, "raw", r.Value())
	r = reg.Execute(context.Background(), NewStepContext(StepData{Callable: "c.none"}))
	require.Equal(t, stepresult.ErrorTypeHandlerNotFound, r.ErrorType())
	require.False(t, r.Retryable())
}

// shipper is a handler with state, registered as a value.
type shipper struct{ carrier string }

func (s *shipper) Handle(_ context.Context, step *Step[struct{ Weight int }]) (map[string]any, error) {
	return map[string]any{"carrier": s.carrier, "weight": step.Input.Weight}, nil
}

func TestRegisterInfersTypesFromAValue(t *testing.T) {
	reg := NewRegistry()
	require.NoError(t, Register(reg, "ship", &shipper{carrier: "UPS"}))
	r := reg.Execute(context.Background(), NewStepContext(StepData{Callable: "ship", Context: json.RawMessage(`{"Weight": 3}`)}))
	require.Equal(t, `{"carrier":"UPS","weight":3}`, value(t, r))
}

// BenchmarkTypedHandler is the handler-facing cost of one step on the Go
// path, without the database: decode the input from the task context,
// decode the configuration and an ancestor's result, run the handler and
// build the stored execution result.
func BenchmarkTypedHandler(b *testing.B) {
	type input struct {
		EvenNumber int `json:"even_number"`
		Customer   struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"customer"`
		Items []int `json:"items"`
	}
	type config struct {
		Operation  string `json:"operation"`
		StepNumber int    `json:"step_number"`
	}
	type previous struct {
		Result int `json:"result"`
	}
	type output struct {
		Result     int    `json:"result"`
		Operation  string `json:"operation"`
		StepNumber int    `json:"step_number"`
	}
	h := typedHandler[input, output]{h: Func(func(_ context.Context, s *Step[input]) (output, error) {
		cfg, err := Config[config](s)
		if err != nil {
			return output{}, err
		}
		p, err := Dependency[previous](s, "linear_step_1")
		if err != nil {
			return output{}, err
		}
		return output{Result: p.Result*p.Result + s.Input.EvenNumber, Operation: cfg.Operation, StepNumber: cfg.StepNumber}, nil
	})}
	cs := benchStep()
	info := runInfo{workerID: "w", hostname: "h", started: time.Now(), finished: time.Now()}
	ctx := context.Background()
	for b.Loop() {
		r := h.Execute(ctx, newStepContext(cs, nil))
		if _, ok, _ := buildResult(cs, r, info); !ok {
			b.Fatal(r.Message())
		}
	}
}

// benchStep is a claimed step shaped like the linear workflow's second step.
func benchStep() *store.ClaimedStep {
	return &store.ClaimedStep{
		Task: store.ClaimedTask{UUID: uuid.New(), Context: json.RawMessage(`{"even_number": 6, "customer": {"id": 1, "name": "x"}, "items": [1, 2, 3]}`)},
		Step: store.Step{UUID: uuid.New(), Name: "linear_step_2", Attempts: 1, Retry: store.RetryPolicy{MaxAttempts: 3},
			Inputs: json.RawMessage(`{"operation": "square", "step_number": 2}`)},
		Dependencies: map[string]json.RawMessage{"linear_step_1": json.RawMessage(
			`{"step_uuid": "0190a6f0-2222-7000-8000-000000000002", "success": true, "status": "completed", "result": {"result": 36, "operation": "square", "input": 6}, "metadata": {"execution_time_ms": 0, "retryable": false, "attempt": 1}}`)},
	}
}
