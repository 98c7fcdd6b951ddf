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
type multiMethod struct{}

// methodResult is what every method returns.
type methodResult struct {
	Method     string  `json:"method"`
	StepNumber int     `json:"step_number"`
	Amount     float64 `json:"amount"`
	Outcome    string  `json:"outcome"`
	Value      float64 `json:"value"`
}

type methodData struct {
	Amount *float64 `json:"amount"`
	Reason string   `json:"reason"`
}

func (multiMethod) Handle(_ context.Context, step *worker.StepContext) worker.Result {
	method := step.Method()
	if method == "" {
		method = "call"
	}
	var expected string
	if err := step.DecodeConfig("expected_method", &expected); err == nil && expected != method {
		return worker.Failure(fmt.Sprintf("dispatched method %q but the template expects %q", method, expected),
			errorTypePermanent, false).WithErrorCode("METHOD_MISMATCH")
	}
	var data methodData
	if err := step.DecodeInput("data", &data); err != nil {
		return invalid("%s", err)
	}
	out := methodResult{Method: method, StepNumber: configStepNumber(step, 0)}
	if data.Amount != nil {
		out.Amount = units(cents(*data.Amount))
	}
	switch method {
	case "validate":
		if data.Amount != nil && *data.Amount < 0 {
			return invalid("data.amount must not be negative, got %v", *data.Amount)
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
		return worker.Failure(fmt.Sprintf("unknown method %q (have validate, process, refund, call)", method),
			errorTypePermanent, false).WithErrorCode("UNKNOWN_METHOD")
	}
	return worker.Success(out, nil)
}

func methodDispatchHandlers() map[string]worker.Handler {
	return map[string]worker.Handler{callableMultiMethod: multiMethod{}}
}
