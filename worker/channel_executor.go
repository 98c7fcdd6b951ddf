package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
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
	// Index locates the parts of JSON and repeats the fields hosts read
	// for every step (the C ABI's indexed poll hands it to the host).
	Index EventIndex
}

// MarshalJSON encodes the event as its JSON.
func (e Event) MarshalJSON() ([]byte, error) { return e.JSON, nil }

// ChannelExecutorConfig configures a ChannelExecutor.
type ChannelExecutorConfig struct {
	// Buffer is ignored: events wait in a queue bounded by the worker's
	// handler limit (the worker never has more steps running than that).
	//
	// Deprecated: the queue needs no size.
	Buffer int
	// Spin is how long a PollWait keeps checking for a step before its
	// thread sleeps (0, the default: it sleeps at once). A step dispatched
	// meanwhile goes to the spinning wait, whose thread has not slept: a
	// foreign host's work right after a sleep costs it about twice as much
	// CPU as on a thread that kept running (docs/benchmarks.md). At most one
	// wait spins at a time, holding a CPU for up to Spin whenever no step
	// comes.
	Spin time.Duration
}

// ChannelExecutor hands steps to handlers written in another language
// (Ruby and Python through the C ABI) without any Go thread ever calling
// into the foreign runtime: a step becomes an Event in a queue; the foreign
// side pulls events with Poll (or PollWait), runs its handler on its own
// thread and reports with Complete, or with Yield to checkpoint a batch
// step and get it back as a new event. Results are JSON in the shapes
// DecodeResult reads.
//
// It is an AsyncExecutor: in a worker Core, nothing waits for the foreign
// handler. A step dispatched while a PollWait is blocked goes straight to
// that poll (the oldest one), which encodes the event on its own thread;
// Complete processes the result on the caller's thread, up to queueing it
// for commit.
//
// Steps whose context ends (timeout, shutdown, lost claim) are abandoned:
// an unpolled event leaves the queue and a late Complete gets
// ErrUnknownEvent. All methods are safe for concurrent use.
type ChannelExecutor struct {
	mu      sync.Mutex
	queue   []*channelEvent          // dispatched, not yet polled, oldest first
	waiters []*waiter                // blocked PollWaits, oldest first
	polled  map[string]*channelEvent // handed out, by event id
	spin    time.Duration            // see ChannelExecutorConfig.Spin
	spinner *waiter                  // the waiter spinning, also in waiters
}

// states of a channelEvent (guarded by the executor's mu).
const (
	eventQueued           = iota // in the queue
	eventHanded                  // put in a waiting poll's slot
	eventPolled                  // handed out: in polled, waiting for Complete or Yield
	eventYielding                // a Yield is saving its checkpoint
	eventAbandonedInYield        // its context ended during the yield
	eventFinished                // done was called, or is being called
)

type channelEvent struct {
	ctx  context.Context
	step *StepContext
	run  *stepRun // nil when ExecuteAsync was not called by a Core
	done func(Result, bool)
	stop func() bool // stops watching ctx

	id    string // set when polled
	state int
}

// NewChannelExecutor returns an executor with an empty queue.
func NewChannelExecutor(cfg ChannelExecutorConfig) *ChannelExecutor {
	return &ChannelExecutor{polled: map[string]*channelEvent{}, spin: max(cfg.Spin, 0)}
}

var _ AsyncExecutor = (*ChannelExecutor)(nil)

// Execute publishes the step as an event and waits for its completion or
// for ctx to end.
func (x *ChannelExecutor) Execute(ctx context.Context, step *StepContext) Result {
	out := make(chan Result, 1)
	x.ExecuteAsync(ctx, step, func(r Result, _ bool) { out <- r })
	return <-out
}

// ExecuteAsync queues the step as an event (or hands it to the oldest
// blocked PollWait) and returns. done gets the result reported by Complete
// (or Yield), or ok false with a failure saying why when ctx ends first.
func (x *ChannelExecutor) ExecuteAsync(ctx context.Context, step *StepContext, done func(r Result, ok bool)) {
	e := &channelEvent{ctx: ctx, step: step, run: runOf(ctx), done: done}
	x.mu.Lock()
	// A context that has already ended runs abandon on its own goroutine,
	// once the event is published.
	e.stop = context.AfterFunc(ctx, func() { x.abandon(e) })
	var w *waiter
	switch {
	case x.spinner != nil: // its thread is awake
		w = x.spinner
		x.spinner = nil
		x.removeWaiter(w)
		e.state = eventHanded
		w.e = e
	case len(x.waiters) > 0:
		w = x.waiters[0]
		x.waiters[0] = nil
		x.waiters = x.waiters[1:]
		e.state = eventHanded
		w.e = e
	default:
		x.queue = append(x.queue, e)
	}
	x.mu.Unlock()
	if w != nil {
		w.wake() // the poll's own thread, woken directly
	}
}

// abandon ends an event whose context ended before it was completed.
func (x *ChannelExecutor) abandon(e *channelEvent) {
	x.mu.Lock()
	switch e.state {
	case eventQueued:
		x.queue = removeEvent(x.queue, e)
	case eventPolled:
		delete(x.polled, e.id)
	case eventYielding:
		// The yield in progress finishes the event.
		e.state = eventAbandonedInYield
		x.mu.Unlock()
		return
	case eventHanded:
		// The poll that gets it skips it.
	default:
		x.mu.Unlock()
		return
	}
	e.state = eventFinished
	x.mu.Unlock()
	e.done(abandoned(e.ctx), false)
}

func removeEvent(q []*channelEvent, e *channelEvent) []*channelEvent {
	for i, qe := range q {
		if qe == e {
			copy(q[i:], q[i+1:])
			q[len(q)-1] = nil
			return q[:len(q)-1]
		}
	}
	return q
}

func abandoned(ctx context.Context) Result {
	return systemFailure(fmt.Sprintf("foreign handler did not complete: %v", context.Cause(ctx)),
		stepresult.ErrorTypeUnexpected, true)
}

// handOut makes e a polled event with a new id; it reports false when e was
// abandoned meanwhile. Called with mu held.
func (x *ChannelExecutor) handOut(e *channelEvent) bool {
	if e.state != eventQueued && e.state != eventHanded {
		return false
	}
	e.id = uuid.NewString()
	e.state = eventPolled
	x.polled[e.id] = e
	return true
}

// takeQueued hands out up to max queued events, appending them to out.
// Called with mu held.
func (x *ChannelExecutor) takeQueued(out []*channelEvent, max int) []*channelEvent {
	k := min(max, len(x.queue))
	for _, e := range x.queue[:k] {
		if x.handOut(e) {
			out = append(out, e)
		}
	}
	clear(x.queue[:k])
	x.queue = x.queue[k:]
	if len(x.queue) == 0 {
		x.queue = nil // let the backing array go
	}
	return out
}

// encode turns handed-out events into Events. An event that cannot be
// encoded is finished as a failure of its step and left out.
func (x *ChannelExecutor) encode(es []*channelEvent) []Event {
	out := make([]Event, 0, len(es))
	for _, e := range es {
		var def *template.Step
		var defJSON json.RawMessage
		if e.run != nil {
			def, defJSON = e.run.def, e.run.defJSON
		}
		out = append(out, Event{ID: e.id, TaskUUID: e.step.TaskUUID(), StepUUID: e.step.StepUUID(), Callable: e.step.Callable()})
		ev := &out[len(out)-1]
		data, err := encodeIndexedStepEvent(e.id, e.step.claimed, def, defJSON, &ev.Index)
		if err != nil {
			out = out[:len(out)-1]
			if x.take(e.id) != nil {
				e.stop()
				e.done(systemFailure(fmt.Sprintf("encoding step for the foreign handler: %v", err),
					stepresult.ErrorTypeUnexpected, false), true)
			}
			continue
		}
		ev.JSON = data
	}
	return out
}

// Poll returns up to max waiting events without blocking.
func (x *ChannelExecutor) Poll(max int) []Event {
	if max <= 0 {
		return nil
	}
	x.mu.Lock()
	es := x.takeQueued(nil, max)
	x.mu.Unlock()
	if len(es) == 0 {
		return nil
	}
	return x.encode(es)
}

// PollWait waits until at least one event is available (or ctx ends) and
// returns up to max events. A step dispatched while it waits is put
// straight into its slot: the wait is woken by the step itself, the
// dispatcher waking the waiting thread directly (one thread wake-up, not a
// hand-over through the Go scheduler). On Linux the wait holds its OS
// thread, asleep in the kernel, as a foreign host's poll holds the host's
// thread anyway; Go callers waiting in many PollWaits at once use a thread
// each.
func (x *ChannelExecutor) PollWait(ctx context.Context, max int) ([]Event, error) {
	if max <= 0 {
		return nil, nil
	}
	for {
		x.mu.Lock()
		es := x.takeQueued(nil, max)
		if len(es) > 0 {
			x.mu.Unlock()
			if evs := x.encode(es); len(evs) > 0 {
				return evs, nil
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			x.mu.Unlock()
			return nil, err
		}
		w := &waiter{parker: newParker()}
		x.waiters = append(x.waiters, w)
		spin := x.spin
		if spin > 0 && x.spinner == nil {
			x.spinner = w
		} else {
			spin = 0
		}
		x.mu.Unlock()

		// The dispatcher sets w.e and wakes w; so does the end of ctx,
		// leaving w.e nil.
		stop := context.AfterFunc(ctx, w.wake)
		if spin > 0 {
			x.spinFor(w, spin)
		}
		w.wait()
		stop()
		x.mu.Lock()
		e := w.e
		if e == nil {
			if x.spinner == w {
				x.spinner = nil
			}
			x.removeWaiter(w)
			x.mu.Unlock()
			return nil, ctx.Err()
		}
		// An event handed over before the wait was withdrawn is taken even
		// when ctx has ended.
		if x.handOut(e) {
			es = x.takeQueued(append(es, e), max-1)
		}
		x.mu.Unlock()
		if evs := x.encode(es); len(evs) > 0 {
			return evs, nil
		}
	}
}

// waiter is a PollWait blocked for an event: ExecuteAsync takes it out of
// waiters and sets e (with the executor's mu held), then wakes it. On a
// foreign host's poll the wait runs on the host's own thread, and the wake
// goes straight to that thread (see parker).
type waiter struct {
	parker
	e *channelEvent
}

// spinFor keeps w's thread checking for a wake-up for up to d, then gives
// up spinning (w goes on waiting asleep).
func (x *ChannelExecutor) spinFor(w *waiter, d time.Duration) {
	deadline := time.Now().Add(d)
	for i := 0; !w.woken(); i++ {
		if i%64 == 0 && time.Now().After(deadline) {
			break
		}
		spinPause()
	}
	x.mu.Lock()
	if x.spinner == w {
		x.spinner = nil
	}
	x.mu.Unlock()
}

// removeWaiter withdraws a PollWait's wait. Called with mu held.
func (x *ChannelExecutor) removeWaiter(w *waiter) {
	for i, o := range x.waiters {
		if o == w {
			copy(x.waiters[i:], x.waiters[i+1:])
			x.waiters[len(x.waiters)-1] = nil
			x.waiters = x.waiters[:len(x.waiters)-1]
			return
		}
	}
}

// Pending counts events issued and not yet completed or abandoned.
func (x *ChannelExecutor) Pending() int {
	waiting, polled := x.Counts()
	return waiting + polled
}

// Counts reports the events waiting to be polled and those polled and not
// yet completed.
func (x *ChannelExecutor) Counts() (waiting, polled int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.queue), len(x.polled)
}

// take removes event id from the polled set and marks it finished.
func (x *ChannelExecutor) take(id string) *channelEvent {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.polled[id]
	if e != nil {
		delete(x.polled, id)
		e.state = eventFinished
	}
	return e
}

// Complete reports the result of event id (see DecodeResult for the
// shapes). A result that cannot be read still completes the step, as a
// non-retryable invalid_result failure, and the error (wrapping
// ErrMalformedJSON or ErrInvalidResult) says why, so the foreign side can
// log it. In a worker Core the result is processed before Complete
// returns, on the caller's thread.
func (x *ChannelExecutor) Complete(id string, result []byte) error {
	e := x.take(id)
	if e == nil {
		return fmt.Errorf("completing event %q: %w", id, ErrUnknownEvent)
	}
	e.stop()
	r, err := decodeForeignResult(e, result)
	if err != nil {
		r = systemFailure(fmt.Sprintf("foreign handler returned an invalid result: %v", err),
			stepresult.ErrorTypeInvalidResult, false)
		err = fmt.Errorf("completing event %q: %w", id, err)
	}
	e.done(r, true)
	return err
}

// decodeForeignResult reads a result and checks its domain events against
// the step's declarations; a panic while doing so is an invalid result, so
// that the step still gets one.
func decodeForeignResult(e *channelEvent, result []byte) (r Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = Result{}, fmt.Errorf("%w: reading it failed: %v", ErrInvalidResult, p)
		}
	}()
	if r, err = DecodeResult(result); err == nil {
		err = e.step.events.check(r.eventRequests)
	}
	return r, err
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
	e := x.polled[id]
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
	x.mu.Lock()
	if x.polled[id] != e {
		x.mu.Unlock()
		return fmt.Errorf("yielding event %q: %w", id, ErrUnknownEvent)
	}
	delete(x.polled, id)
	e.state = eventYielding
	x.mu.Unlock()

	err = e.run.yield(ctx, cp)
	if err != nil && !errors.Is(err, ErrClaimLost) {
		// The event stays open, unless its step ended meanwhile.
		x.mu.Lock()
		ended := e.state == eventAbandonedInYield
		if ended {
			e.state = eventFinished
		} else {
			e.state = eventPolled
			x.polled[id] = e
		}
		x.mu.Unlock()
		if ended {
			e.done(abandoned(e.ctx), false)
			return fmt.Errorf("yielding event %q: %w: %v", id, ErrUnknownEvent, err)
		}
		return fmt.Errorf("yielding event %q: %w", id, err)
	}
	x.mu.Lock()
	e.state = eventFinished
	x.mu.Unlock()
	e.stop()
	if err != nil {
		e.done(systemFailure(err.Error(), stepresult.ErrorTypeUnexpected, true), true)
		return fmt.Errorf("yielding event %q: %w: %v", id, ErrUnknownEvent, err)
	}
	// In a worker Core, done hands the step out again as a new event.
	e.done(yieldedResult(), true)
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
