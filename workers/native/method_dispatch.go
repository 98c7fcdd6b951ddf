package native

import (
	"context"
	"fmt"

	"github.com/tasker-go/tasker/worker"
)

// multiMethod is one handler serving several methods, chosen by the
// template's handler.method (tasker-core's resolver tests). Each method
// checks that it was the one the template asked for (initialization
// expected_method), so a dispatch bug fails the step instead of passing
// silently.

// methodResult is what every method returns.
type methodResult struct {
	Method     string  `json:"method"`
	StepNumber int     `json:"step_number"`
	Amount     float64 `json:"amount"`
	Outcome    string  `json:"outcome"`
	Value      float64 `json:"value"`
}

// methodInput is the task context: {"data": {"amount": 100.0, "reason": "..."}}.
type methodInput struct {
	Data *struct {
		Amount *float64 `json:"amount"`
		Reason string   `json:"reason"`
	} `json:"data"`
}

// methodConfig is the step configuration.
type methodConfig struct {
	ExpectedMethod *string `json:"expected_method"`
	StepNumber     int     `json:"step_number"`
}

func multiMethod(_ context.Context, step *worker.Step[methodInput]) (methodResult, error) {
	method := step.Method()
	if method == "" {
		method = "call"
	}
	cfg, err := worker.Config[methodConfig](step)
	if err != nil {
		return methodResult{}, err
	}
	if cfg.ExpectedMethod != nil && *cfg.ExpectedMethod != method {
		return methodResult{}, worker.WithErrorCode(worker.Permanent(
			fmt.Errorf("dispatched method %q but the template expects %q", method, *cfg.ExpectedMethod)), "METHOD_MISMATCH")
	}
	data := step.Input.Data
	if data == nil {
		return methodResult{}, invalid("task context must contain data")
	}
	out := methodResult{Method: method, StepNumber: max(cfg.StepNumber, 0)}
	if data.Amount != nil {
		out.Amount = units(cents(*data.Amount))
	}
	switch method {
	case "validate":
		if data.Amount != nil && *data.Amount < 0 {
			return methodResult{}, invalid("data.amount must not be negative, got %v", *data.Amount)
		}
		out.Outcome, out.Value = "validated", out.Amount
	case "process":
		// Processing adds a 10 % handling charge.
		out.Outcome, out.Value = "processed", units(cents(out.Amount)+percentOf(cents(out.Amount), 1000))
	case "refund":
		reason := data.Reason
		if reason == "" {
			reason = "unspecified"
		}
		out.Outcome, out.Value = "refunded:"+reason, -out.Amount
	case "call":
		out.Outcome, out.Value = "default_call", out.Amount
	default:
		return methodResult{}, worker.WithErrorCode(worker.Permanent(
			fmt.Errorf("unknown method %q (have validate, process, refund, call)", method)), "UNKNOWN_METHOD")
	}
	return out, nil
}

func registerMethodDispatch(r *worker.Registry) error {
	return worker.Register(r, callableMultiMethod, worker.Func(multiMethod))
}
