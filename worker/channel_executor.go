package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/stepresult"
)

// ErrUnknownEvent is returned by ChannelExecutor.Complete for an event id
// that is not waiting for a result (never issued, already completed, or
// abandoned because its step timed out or the worker stopped).
var ErrUnknownEvent = errors.New("unknown or finished step event")

// Event is one step handed to a foreign handler host. Step is the step's
// data as JSON (the encoding of StepContext: task context, step config,
// dependency results, attempt, handler callable and method).
type Event struct {
	ID       string          `json:"event_id"`
	TaskUUID uuid.UUID       `json:"task_uuid"`
	StepUUID uuid.UUID       `json:"step_uuid"`
	Step     json.RawMessage `json:"step"`
}

// ChannelExecutorConfig configures a ChannelExecutor.
type ChannelExecutorConfig struct {
	// Buffer is how many events may wait to be polled. Default 1000. The
	// worker never has more steps running than its handler limit, so a
	// buffer of at least handlers.max_concurrent never fills.
	Buffer int
}

// ChannelExecutor hands steps to handlers written in another language
// (Ruby and Python through the C ABI) without any Go thread ever calling
// into the foreign runtime: Execute publishes an Event into a bounded
// channel and waits; the foreign side pulls events with Poll (or PollWait),
// runs its handler on its own thread and reports with Complete. Results
// are JSON in the shape DecodeResult reads.
//
// Steps whose Execute context ends (timeout, shutdown, lost claim) are
// abandoned: an unpolled event is skipped by Poll and a late Complete gets
// ErrUnknownEvent.
type ChannelExecutor struct {
	events chan *channelEvent

	mu      sync.Mutex
	pending map[string]*channelEvent
}

type channelEvent struct {
	ev   Event
	done chan Result // buffered 1
}

// NewChannelExecutor returns an executor with an event buffer.
func NewChannelExecutor(cfg ChannelExecutorConfig) *ChannelExecutor {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1000
	}
	return &ChannelExecutor{events: make(chan *channelEvent, cfg.Buffer), pending: map[string]*channelEvent{}}
}

// Execute publishes the step as an event and waits for its completion or
// for ctx to end.
func (x *ChannelExecutor) Execute(ctx context.Context, step *StepContext) Result {
	data, err := json.Marshal(step)
	if err != nil {
		return systemFailure(fmt.Sprintf("encoding step for the foreign handler: %v", err), stepresult.ErrorTypeUnexpected, false)
	}
	e := &channelEvent{
		ev:   Event{ID: uuid.NewString(), TaskUUID: step.TaskUUID(), StepUUID: step.StepUUID(), Step: data},
		done: make(chan Result, 1),
	}
	x.mu.Lock()
	x.pending[e.ev.ID] = e
	x.mu.Unlock()
	select {
	case x.events <- e:
	case <-ctx.Done():
		x.forget(e.ev.ID)
		return abandoned(ctx)
	}
	select {
	case r := <-e.done:
		return r
	case <-ctx.Done():
		x.forget(e.ev.ID)
		return abandoned(ctx)
	}
}

func abandoned(ctx context.Context) Result {
	return systemFailure(fmt.Sprintf("foreign handler did not complete: %v", context.Cause(ctx)),
		stepresult.ErrorTypeUnexpected, true)
}

func (x *ChannelExecutor) forget(id string) {
	x.mu.Lock()
	delete(x.pending, id)
	x.mu.Unlock()
}

func (x *ChannelExecutor) live(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, ok := x.pending[id]
	return ok
}

// Poll returns up to max waiting events without blocking.
func (x *ChannelExecutor) Poll(max int) []Event {
	var out []Event
	for len(out) < max {
		select {
		case e := <-x.events:
			if x.live(e.ev.ID) {
				out = append(out, e.ev)
			}
		default:
			return out
		}
	}
	return out
}

// PollWait waits until at least one event is available (or ctx ends) and
// returns up to max events.
func (x *ChannelExecutor) PollWait(ctx context.Context, max int) ([]Event, error) {
	if max <= 0 {
		return nil, nil
	}
	for {
		select {
		case e := <-x.events:
			if !x.live(e.ev.ID) {
				continue
			}
			return append([]Event{e.ev}, x.Poll(max-1)...), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Pending counts events issued and not yet completed or abandoned.
func (x *ChannelExecutor) Pending() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.pending)
}

// Complete reports the result of event id. A result that does not decode
// still completes the step, as a non-retryable invalid_result failure, and
// the decoding error is returned so the foreign side can log it.
func (x *ChannelExecutor) Complete(id string, result []byte) error {
	x.mu.Lock()
	e := x.pending[id]
	delete(x.pending, id)
	x.mu.Unlock()
	if e == nil {
		return fmt.Errorf("completing event %q: %w", id, ErrUnknownEvent)
	}
	r, err := DecodeResult(result)
	if err != nil {
		r = systemFailure(fmt.Sprintf("foreign handler returned an invalid result: %v", err),
			stepresult.ErrorTypeInvalidResult, false)
		err = fmt.Errorf("completing event %q: %w", id, err)
	}
	e.done <- r
	return err
}

// resultJSON is the result shape foreign handlers return.
type resultJSON struct {
	Success  *bool           `json:"success"`
	Result   json.RawMessage `json:"result"`
	Metadata map[string]any  `json:"metadata"`
	Error    *struct {
		Message   string   `json:"message"`
		ErrorType string   `json:"error_type"`
		ErrorCode string   `json:"error_code"`
		Retryable bool     `json:"retryable"`
		Backtrace []string `json:"backtrace"`
	} `json:"error"`
	RetryAfterSeconds *float64 `json:"retry_after_seconds"`
}

// DecodeResult reads a handler result from JSON, the shape foreign handlers
// (C ABI, WASM) return:
//
//	{"success": true, "result": <any JSON>, "metadata": {...}}
//	{"success": false,
//	 "error": {"message": "...", "error_type": "...", "error_code": "...",
//	           "retryable": true, "backtrace": ["..."]},
//	 "retry_after_seconds": 30, "metadata": {...}}
func DecodeResult(data []byte) (Result, error) {
	var rj resultJSON
	if err := json.Unmarshal(data, &rj); err != nil {
		return Result{}, fmt.Errorf("decoding handler result: %w", err)
	}
	if rj.Success == nil {
		return Result{}, errors.New(`decoding handler result: "success" is required`)
	}
	var r Result
	if *rj.Success {
		var value any
		if len(rj.Result) > 0 {
			value = rj.Result
		}
		r = Success(value, rj.Metadata)
	} else {
		if rj.Error == nil || rj.Error.Message == "" {
			return Result{}, errors.New(`decoding handler result: a failure needs "error.message"`)
		}
		r = Failure(rj.Error.Message, rj.Error.ErrorType, rj.Error.Retryable).
			WithErrorCode(rj.Error.ErrorCode).WithBacktrace(rj.Error.Backtrace)
		if len(rj.Metadata) > 0 {
			r = r.WithMetadata(rj.Metadata)
		}
	}
	if s := rj.RetryAfterSeconds; s != nil {
		if *s < 0 {
			return Result{}, errors.New("decoding handler result: retry_after_seconds must not be negative")
		}
		r = r.WithRetryAfter(secondsDuration(*s))
	}
	return r, nil
}

// secondsDuration converts seconds to a Duration, saturating instead of
// overflowing.
func secondsDuration(s float64) time.Duration {
	const maxSeconds = float64(math.MaxInt64 / int64(time.Second))
	if s >= maxSeconds {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}
