package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

// Causes of a handler's context ending before the handler returned. A
// handler can tell them apart with context.Cause(ctx).
var (
	// ErrStepTimeout: the step ran past its timeout_seconds (or
	// handlers.default_timeout). The step fails as retryable
	// handler_timeout.
	ErrStepTimeout = errors.New("step timed out")
	// ErrClaimLost: the worker no longer holds the step's claim (it
	// expired and another worker took the step, or an operator changed the
	// step). Its result would be stale and is not recorded.
	ErrClaimLost = errors.New("step claim lost")
	// ErrShuttingDown: the worker stopped before the handler finished; the
	// step is released for another worker without the attempt counting.
	ErrShuttingDown = errors.New("worker shutting down")
)

// maxBacktraceLines bounds the stack kept with a panic.
const maxBacktraceLines = 24

// stepTimeout is the step's timeout_seconds, else the default.
func stepTimeout(st *store.Step, def time.Duration) time.Duration {
	if st.TimeoutSeconds > 0 {
		return time.Duration(st.TimeoutSeconds) * time.Second
	}
	return def
}

// invoke runs the step through exec, turning a panic (or a handler that
// exits its goroutine) into a failure. It returns as soon as the handler
// returns or ctx ends, whichever is first; ok is false when ctx ended first.
// A handler that ignores ctx keeps running in the background and its result
// is discarded.
func invoke(ctx context.Context, exec Executor, sc *StepContext) (res Result, ok bool) {
	done := make(chan Result, 1)
	go func() {
		returned := false
		defer func() {
			if returned {
				return
			}
			if r := recover(); r != nil {
				done <- panicResult(r, debug.Stack())
				return
			}
			done <- systemFailure("handler exited without returning a result (runtime.Goexit)",
				stepresult.ErrorTypeHandlerPanic, false)
		}()
		r := exec.Execute(ctx, sc)
		returned = true
		done <- r
	}()
	select {
	case r := <-done:
		return r, true
	case <-ctx.Done():
		select {
		case r := <-done:
			return r, true
		default:
			return Result{}, false
		}
	}
}

// panicResult is the non-retryable failure of a handler that panicked, with
// the stack below the panic.
func panicResult(v any, stack []byte) Result {
	return systemFailure(fmt.Sprintf("handler panicked: %v", v), stepresult.ErrorTypeHandlerPanic, false).
		withBacktrace(shortStack(stack))
}

// shortStack keeps the frames from the panic site down, at most
// maxBacktraceLines lines.
func shortStack(stack []byte) []string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			lines = lines[min(i+2, len(lines)):]
			break
		}
	}
	out := make([]string, 0, min(len(lines), maxBacktraceLines))
	for _, l := range lines {
		if len(out) == maxBacktraceLines {
			break
		}
		out = append(out, strings.TrimSpace(l))
	}
	return out
}

// timeoutResult is the retryable failure of a handler that ran too long.
func timeoutResult(d time.Duration) Result {
	return systemFailure(fmt.Sprintf("handler did not finish within its timeout of %s", d),
		stepresult.ErrorTypeHandlerTimeout, true)
}

// runInfo is what the worker knows about one execution.
type runInfo struct {
	workerID string
	hostname string
	started  time.Time
	finished time.Time
}

// buildResult turns a handler Result into the stored step execution result
// (docs/handlers.md). It never fails: a success value or metadata that does
// not encode becomes a non-retryable invalid_result failure. errorType is
// the stored failure's error type ("" on success).
func buildResult(cs *store.ClaimedStep, r Result, info runInfo) (raw json.RawMessage, success bool, errorType string) {
	res, err := toStepResult(cs, r, info)
	if err == nil {
		raw, err = json.Marshal(res)
	}
	if err != nil {
		r = systemFailure(fmt.Sprintf("handler result cannot be stored: %v", err), stepresult.ErrorTypeInvalidResult, false)
		res, _ = toStepResult(cs, r, info)
		raw, _ = json.Marshal(res)
	}
	return stripNUL(raw), res.Success, res.Metadata.ErrorType
}

func toStepResult(cs *store.ClaimedStep, r Result, info runInfo) (stepresult.Result, error) {
	started, finished := info.started.UTC(), info.finished.UTC()
	md := stepresult.Metadata{
		ExecutionTimeMs: finished.Sub(started).Milliseconds(),
		StartedAt:       &started,
		CompletedAt:     &finished,
		WorkerID:        info.workerID,
		WorkerHostname:  info.hostname,
		Attempt:         cs.Step.Attempts,
		Custom:          r.metadata,
	}
	out := stepresult.Result{StepUUID: cs.Step.UUID, Metadata: md, DomainEvents: r.events}
	if r.success {
		value, err := encodeValue(r.value)
		if err != nil {
			return out, err
		}
		out.Success, out.Result, out.Status = true, value, stepresult.StatusCompleted
	} else {
		out.Result, out.Status = json.RawMessage(`{}`), stepresult.StatusFailed
		if r.system {
			out.Status = stepresult.StatusError
		}
		errorType := r.errorType
		if errorType == "" {
			errorType = stepresult.ErrorTypeUnexpected
		}
		out.Metadata.Retryable, out.Metadata.ErrorType, out.Metadata.ErrorCode = r.retryable, errorType, r.errorCode
		out.Error = &stepresult.Error{Message: r.message, ErrorType: errorType, Retryable: r.retryable,
			Backtrace: r.backtrace}
	}
	if d, ok := r.RetryAfter(); ok {
		out.OrchestrationMetadata = &stepresult.OrchestrationMetadata{
			Headers: map[string]string{"Retry-After": formatSeconds(d)},
		}
	}
	if len(r.metadata) > 0 {
		// Encode the metadata on its own so a bad value is reported as such.
		if _, err := json.Marshal(r.metadata); err != nil {
			return out, fmt.Errorf("encoding handler metadata: %w", err)
		}
	}
	return out, nil
}

// formatSeconds writes d as whole seconds when it is whole, else decimal.
func formatSeconds(d time.Duration) string {
	d = max(d, 0)
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// stripNUL replaces NUL characters in JSON strings with U+FFFD: PostgreSQL's
// jsonb cannot store them, and one such result must not block the batch it
// is committed with.
func stripNUL(raw json.RawMessage) json.RawMessage {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return raw
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	out, err := json.Marshal(replaceNUL(v))
	if err != nil {
		return raw
	}
	return out
}

func replaceNUL(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "\x00", "\uFFFD")
	case []any:
		for i := range x {
			x[i] = replaceNUL(x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[strings.ReplaceAll(k, "\x00", "\uFFFD")] = replaceNUL(val)
		}
		return out
	}
	return v
}
