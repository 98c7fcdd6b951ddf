package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
)

// Errors of the ChannelExecutor's foreign side.
var (
	// ErrUnknownEvent: the event id is not waiting for a result (never
	// issued, already completed or yielded, or abandoned because its step
	// timed out, its claim was lost or the worker stopped).
	ErrUnknownEvent = errors.New("unknown or finished step event")
	// ErrMalformedJSON: a result or checkpoint is not valid JSON (or not
	// UTF-8).
	ErrMalformedJSON = errors.New("not valid JSON")
	// ErrInvalidResult: a result is JSON but cannot be read as a step
	// result (no "success", a failure without a message, a field of the
	// wrong type).
	ErrInvalidResult = errors.New("invalid handler result")
	// ErrInvalidCheckpoint: a checkpoint is JSON but not {"cursor": ...,
	// "items_processed": n, "accumulated_results": ...}.
	ErrInvalidCheckpoint = errors.New("invalid checkpoint")
)

// Event is one step handed to a foreign handler host.
type Event struct {
	// ID identifies the event: the host echoes it back to complete it.
	ID       string
	TaskUUID uuid.UUID
	StepUUID uuid.UUID
	// Callable is the step's handler.callable.
	Callable string
	// JSON is the event in tasker-core's shape: {"event_id", "task_uuid",
	// "step_uuid", "correlation_id", "task_correlation_id",
	// "parent_correlation_id", "task_sequence_step": {"task",
	// "workflow_step", "dependency_results", "step_definition"}} (see
	// docs/capi.md).
	JSON json.RawMessage
}

// MarshalJSON encodes the event as its JSON.
func (e Event) MarshalJSON() ([]byte, error) { return e.JSON, nil }

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
// runs its handler on its own thread and reports with Complete, or with
// Yield to checkpoint a batch step and get it back as a new event. Results
// are JSON in the shapes DecodeResult reads.
//
// Steps whose Execute context ends (timeout, shutdown, lost claim) are
// abandoned: an unpolled event is skipped by Poll and a late Complete gets
// ErrUnknownEvent. All methods are safe for concurrent use.
type ChannelExecutor struct {
	events chan *channelEvent

	mu      sync.Mutex
	pending map[string]*channelEvent
}

type channelEvent struct {
	ev   Event
	step *StepContext
	run  *stepRun    // nil when Execute was not called by a Core
	done chan Result // buffered 1; receives exactly one result
	// polled is set when Poll hands the event out (guarded by mu).
	polled bool
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
	run := runOf(ctx)
	var def *template.Step
	if run != nil {
		def = run.def
	}
	id := uuid.NewString()
	data, err := encodeStepEvent(id, step.claimed, def)
	if err != nil {
		return systemFailure(fmt.Sprintf("encoding step for the foreign handler: %v", err), stepresult.ErrorTypeUnexpected, false)
	}
	e := &channelEvent{
		ev:   Event{ID: id, TaskUUID: step.TaskUUID(), StepUUID: step.StepUUID(), Callable: step.Callable(), JSON: data},
		step: step,
		run:  run,
		done: make(chan Result, 1),
	}
	x.mu.Lock()
	x.pending[id] = e
	x.mu.Unlock()
	select {
	case x.events <- e:
	case <-ctx.Done():
		x.forget(e)
		return abandoned(ctx)
	}
	select {
	case r := <-e.done:
		return r
	case <-ctx.Done():
		x.forget(e)
		return abandoned(ctx)
	}
}

func abandoned(ctx context.Context) Result {
	return systemFailure(fmt.Sprintf("foreign handler did not complete: %v", context.Cause(ctx)),
		stepresult.ErrorTypeUnexpected, true)
}

func (x *ChannelExecutor) forget(e *channelEvent) {
	x.mu.Lock()
	if x.pending[e.ev.ID] == e {
		delete(x.pending, e.ev.ID)
	}
	x.mu.Unlock()
}

// handOut marks e as polled; it reports false for an abandoned event.
func (x *ChannelExecutor) handOut(e *channelEvent) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.pending[e.ev.ID] != e {
		return false
	}
	e.polled = true
	return true
}

// Poll returns up to max waiting events without blocking.
func (x *ChannelExecutor) Poll(max int) []Event {
	var out []Event
	for len(out) < max {
		select {
		case e := <-x.events:
			if x.handOut(e) {
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
			if !x.handOut(e) {
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

// Counts reports the events waiting to be polled and those polled and not
// yet completed.
func (x *ChannelExecutor) Counts() (waiting, polled int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range x.pending {
		if e.polled {
			polled++
		} else {
			waiting++
		}
	}
	return waiting, polled
}

// take removes event id from the pending set.
func (x *ChannelExecutor) take(id string) *channelEvent {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.pending[id]
	delete(x.pending, id)
	return e
}

// Complete reports the result of event id (see DecodeResult for the
// shapes). A result that cannot be read still completes the step, as a
// non-retryable invalid_result failure, and the error (wrapping
// ErrMalformedJSON or ErrInvalidResult) says why, so the foreign side can
// log it.
func (x *ChannelExecutor) Complete(id string, result []byte) error {
	e := x.take(id)
	if e == nil {
		return fmt.Errorf("completing event %q: %w", id, ErrUnknownEvent)
	}
	r, err := DecodeResult(result)
	if err == nil {
		err = e.step.events.check(r.eventRequests)
	}
	if err != nil {
		r = systemFailure(fmt.Sprintf("foreign handler returned an invalid result: %v", err),
			stepresult.ErrorTypeInvalidResult, false)
		err = fmt.Errorf("completing event %q: %w", id, err)
	}
	e.done <- r
	return err
}

// Yield saves a checkpoint for the step of event id while the worker holds
// its claim, and hands the step out again as a new event (new id) whose
// workflow_step.checkpoint holds the saved record; event id is finished.
// checkpoint is {"cursor": <any JSON>, "items_processed": n,
// "accumulated_results": <any JSON or null>} (other keys are ignored).
// The claim is kept, the attempt does not count again and the step's
// timeout runs on.
//
// It returns an error wrapping ErrUnknownEvent for an event that is not
// waiting (or whose claim was lost meanwhile), ErrMalformedJSON or
// ErrInvalidCheckpoint for a checkpoint that cannot be read (the event
// stays open), and the store's error when the checkpoint could not be
// saved (the event stays open: complete it, or yield again).
func (x *ChannelExecutor) Yield(ctx context.Context, id string, checkpoint []byte) error {
	x.mu.Lock()
	e := x.pending[id]
	x.mu.Unlock()
	if e == nil {
		return fmt.Errorf("yielding event %q: %w", id, ErrUnknownEvent)
	}
	cp, err := DecodeCheckpoint(checkpoint)
	if err != nil {
		return fmt.Errorf("yielding event %q: %w", id, err)
	}
	if e.run == nil {
		return fmt.Errorf("yielding event %q: %w", id, ErrNoStepRun)
	}
	if e = x.take(id); e == nil {
		return fmt.Errorf("yielding event %q: %w", id, ErrUnknownEvent)
	}
	if err := e.run.yield(ctx, cp); err != nil {
		if errors.Is(err, ErrClaimLost) {
			e.done <- systemFailure(err.Error(), stepresult.ErrorTypeUnexpected, true)
			return fmt.Errorf("yielding event %q: %w: %v", id, ErrUnknownEvent, err)
		}
		x.mu.Lock()
		x.pending[id] = e
		x.mu.Unlock()
		return fmt.Errorf("yielding event %q: %w", id, err)
	}
	e.done <- yieldedResult()
	return nil
}

// DecodeCheckpoint reads a checkpoint yield: {"cursor": <any JSON>,
// "items_processed": <integer >= 0>, "accumulated_results": <any JSON or
// null>}. Other keys (tasker-core sends "step_uuid") are ignored.
func DecodeCheckpoint(data []byte) (Checkpoint, error) {
	if !utf8.Valid(data) || !json.Valid(data) {
		return Checkpoint{}, fmt.Errorf("decoding checkpoint: %w", ErrMalformedJSON)
	}
	var raw struct {
		Cursor             json.RawMessage `json:"cursor"`
		ItemsProcessed     *json.Number    `json:"items_processed"`
		AccumulatedResults json.RawMessage `json:"accumulated_results"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Checkpoint{}, fmt.Errorf("decoding checkpoint: %w: want a JSON object: %v", ErrInvalidCheckpoint, err)
	}
	if len(raw.Cursor) == 0 {
		return Checkpoint{}, fmt.Errorf(`decoding checkpoint: %w: "cursor" is required`, ErrInvalidCheckpoint)
	}
	if raw.ItemsProcessed == nil {
		return Checkpoint{}, fmt.Errorf(`decoding checkpoint: %w: "items_processed" is required`, ErrInvalidCheckpoint)
	}
	n, err := raw.ItemsProcessed.Int64()
	if err != nil || n < 0 {
		return Checkpoint{}, fmt.Errorf(`decoding checkpoint: %w: "items_processed" must be an integer >= 0, got %s`,
			ErrInvalidCheckpoint, raw.ItemsProcessed.String())
	}
	return Checkpoint{Cursor: raw.Cursor, ItemsProcessed: n, AccumulatedResults: raw.AccumulatedResults}, nil
}
