package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tasker-go/tasker/worker"
)

// Limits of the ABI's arguments.
const (
	MaxPollEvents     = 1000
	MaxPollWaitMs     = 60000
	DefaultStopMs     = 5000
	checkpointTimeout = 10 * time.Second
)

// worker states as the ABI names them.
const (
	stateRunning  = "running"
	stateStopping = "stopping"
	stateStopped  = "stopped"
)

// hostWorker is one bootstrapped worker: its service and the channel its
// events travel through.
type hostWorker struct {
	lib       *Library
	handle    uint64
	svc       *worker.Service
	host      *hostExecutor
	language  string
	callables []string
	log       *slog.Logger

	// ctx ends when Stop has finished: it wakes blocked polls.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	stopping bool          // BeginShutdown or Stop was called
	stopped  chan struct{} // closed when Stop has finished
	stopCall atomic.Bool   // Stop runs once; a second call is refused
	waiting  atomic.Int32  // polls blocked waiting for an event
}

func newHostWorker(l *Library, svc *worker.Service, host *hostExecutor, bc bootstrapConfig) *hostWorker {
	ctx, cancel := context.WithCancel(context.Background())
	return &hostWorker{
		lib: l, svc: svc, host: host, language: bc.Language, callables: sortedKeys(host.callables),
		log: l.log.With("worker_id", svc.Core().WorkerID()),
		ctx: ctx, cancel: cancel, stopped: make(chan struct{}),
	}
}

func (w *hostWorker) state() string {
	select {
	case <-w.stopped:
		return stateStopped
	default:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping {
		return stateStopping
	}
	return stateRunning
}

// Poll returns up to maxEvents step events, waiting up to waitMs for the
// first: {"events": [...], "state": "running|stopping|stopped"}.
func (l *Library) Poll(handle uint64, maxEvents, waitMs int32) []byte {
	events, state, errReply := l.poll(handle, maxEvents, waitMs)
	if errReply != nil {
		return errReply
	}
	return pollReply(events, state)
}

// PollIndexed is Poll with the indexed reply (indexedPollReply): each
// event's fields read on every step, where its parts are, then the events.
func (l *Library) PollIndexed(handle uint64, maxEvents, waitMs int32) []byte {
	events, state, errReply := l.poll(handle, maxEvents, waitMs)
	if errReply != nil {
		return errReply
	}
	return indexedPollReply(events, state)
}

// poll takes up to maxEvents events, waiting up to waitMs for the first;
// errReply is the reply to a bad call.
func (l *Library) poll(handle uint64, maxEvents, waitMs int32) (events []worker.Event, state string, errReply []byte) {
	if maxEvents < 1 || maxEvents > MaxPollEvents {
		return nil, "", InvalidArgument("max_events must be between 1 and %d, got %d", MaxPollEvents, maxEvents)
	}
	if waitMs < 0 || waitMs > MaxPollWaitMs {
		return nil, "", InvalidArgument("wait_ms must be between 0 and %d, got %d", MaxPollWaitMs, waitMs)
	}
	w, ferr := l.lookup(handle)
	if ferr != nil {
		return nil, "", ErrorReply(ferr)
	}
	exec := w.host.exec
	events = exec.Poll(int(maxEvents))
	if len(events) == 0 && waitMs > 0 {
		// ctx ends at the deadline, or when Stop finishes.
		ctx, cancel := context.WithTimeout(w.ctx, time.Duration(waitMs)*time.Millisecond)
		w.waiting.Add(1)
		events, _ = exec.PollWait(ctx, int(maxEvents))
		w.waiting.Add(-1)
		cancel()
	}
	return events, w.state(), nil
}

// pollReply writes {"ok":true,"events":[...],"state":...} around the
// events' JSON as the executor encoded it: encoding them again (as
// json.Marshal does with a RawMessage, validating and compacting it) would
// scan every event a second time on each step's way to the host.
func pollReply(events []worker.Event, state string) []byte {
	n := 64
	for _, e := range events {
		n += len(e.JSON) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"ok":true,"events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.JSON...)
	}
	b = append(b, `],"state":`...)
	b = strconv.AppendQuote(b, state) // one of the fixed state names
	return append(b, '}')
}

// Complete reports an event's result (a StepExecutionResult or the older
// shape; see worker.DecodeResult).
func (l *Library) Complete(handle uint64, eventID string, result []byte) []byte {
	w, ferr := l.lookup(handle)
	if ferr != nil {
		return ErrorReply(ferr)
	}
	err := w.host.exec.Complete(eventID, result)
	switch {
	case err == nil:
		return Reply(nil)
	case errors.Is(err, worker.ErrUnknownEvent):
		if w.state() == stateStopped {
			return ErrorReply(fail(CodeNotRunning, "the worker has stopped: event %s was released for another worker", quote(eventID)))
		}
		return ErrorReply(fail(CodeUnknownEvent, "event %s is not waiting for a result (never issued, already "+
			"completed or yielded, or abandoned because its step timed out or the worker is stopping)", quote(eventID)))
	case errors.Is(err, worker.ErrMalformedJSON):
		return ErrorReply(fail(CodeInvalidJSON, "the result is not valid JSON (or not UTF-8); the step was completed as a "+
			"non-retryable invalid_result failure"))
	default:
		return ErrorReply(fail(CodeInvalidResult, "%v; the step was completed as a non-retryable invalid_result failure", err))
	}
}

// Checkpoint saves a batch step's checkpoint and hands the step out again
// as a new event.
func (l *Library) Checkpoint(handle uint64, eventID string, checkpoint []byte) []byte {
	w, ferr := l.lookup(handle)
	if ferr != nil {
		return ErrorReply(ferr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkpointTimeout)
	defer cancel()
	err := w.host.exec.Yield(ctx, eventID, checkpoint)
	switch {
	case err == nil:
		return Reply(nil)
	case errors.Is(err, worker.ErrUnknownEvent):
		return ErrorReply(fail(CodeUnknownEvent, "%v", err))
	case errors.Is(err, worker.ErrMalformedJSON):
		return ErrorReply(fail(CodeInvalidJSON, "the checkpoint is not valid JSON (or not UTF-8); the event is still open"))
	case errors.Is(err, worker.ErrInvalidCheckpoint):
		return ErrorReply(fail(CodeInvalidArgument, "%v; the event is still open", err))
	default:
		return ErrorReply(fail(CodeInternal, "%v; the event is still open", err))
	}
}

// Status describes the worker.
func (l *Library) Status(handle uint64) []byte {
	w, ferr := l.lookup(handle)
	if ferr != nil {
		return ErrorReply(ferr)
	}
	core, cfg := w.svc.Core(), w.svc.Config()
	waiting, polled := w.host.exec.Counts()
	st := w.state()
	return Reply(struct {
		Running       bool     `json:"running"`
		State         string   `json:"state"`
		WorkerID      string   `json:"worker_id"`
		Environment   string   `json:"environment"`
		Language      string   `json:"language"`
		Namespaces    []string `json:"namespaces"`
		Callables     []string `json:"callables"`
		PendingEvents int      `json:"pending_events"`
		InFlight      int      `json:"in_flight"`
		MaxConcurrent int      `json:"max_concurrent"`
		WaitingPolls  int32    `json:"waiting_polls"`
		Stats         any      `json:"stats"`
	}{st == stateRunning, st, core.WorkerID(), cfg.Env, w.language, core.Namespaces(), w.callables,
		waiting, polled, cfg.Worker.Handlers.MaxConcurrent, w.waiting.Load(), core.Stats()})
}

// Health is the worker's /health/detailed body.
func (l *Library) Health(handle uint64) []byte {
	w, ferr := l.lookup(handle)
	if ferr != nil {
		return ErrorReply(ferr)
	}
	rec := serve(w, "/health/detailed")
	body := rec.Body.Bytes()
	if !json.Valid(body) {
		return ErrorReply(fail(CodeInternal, "the health report is not JSON (status %d)", rec.Code))
	}
	return Reply(struct {
		Health json.RawMessage `json:"health"`
	}{body})
}

// Metrics is the worker's Prometheus exposition.
func (l *Library) Metrics(handle uint64) []byte {
	w, ferr := l.lookup(handle)
	if ferr != nil {
		return ErrorReply(ferr)
	}
	rec := serve(w, "/metrics")
	if rec.Code != http.StatusOK {
		return ErrorReply(fail(CodeInternal, "gathering metrics failed (status %d): %s", rec.Code, rec.Body.String()))
	}
	return Reply(struct {
		ContentType string `json:"content_type"`
		Text        string `json:"text"`
	}{rec.Header().Get("Content-Type"), rec.Body.String()})
}

// serve answers one GET of the worker's HTTP API in process.
func serve(w *hostWorker, path string) *httptest.ResponseRecorder {
	// The health report may ping the database: bound it as the HTTP API's
	// own requests are bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	w.svc.Core().HTTPHandler().ServeHTTP(rec, req)
	return rec
}

// BeginShutdown stops claiming new steps; dispatched events can still be
// polled and completed.
func (l *Library) BeginShutdown(handle uint64) []byte {
	w, ferr := l.lookup(handle)
	if ferr != nil {
		return ErrorReply(ferr)
	}
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	w.svc.BeginShutdown()
	return Reply(struct {
		State string `json:"state"`
	}{w.state()})
}

// Stop shuts the worker down gracefully within timeoutMs (default 5000 when
// <= 0): no new claims, events in flight get until the deadline less half a
// second to be completed, the rest are released for another worker, every
// result is committed, connections are closed and the handle is forgotten.
// A second Stop gets unknown_handle.
func (l *Library) Stop(handle uint64, timeoutMs int32) []byte {
	w, ferr := l.lookup(handle)
	if ferr != nil {
		return ErrorReply(ferr)
	}
	if !w.stopCall.CompareAndSwap(false, true) {
		return ErrorReply(fail(CodeUnknownHandle, "worker %d is already stopping (tasker_stop was called)", handle))
	}
	if timeoutMs <= 0 {
		timeoutMs = DefaultStopMs
	}
	began := time.Now()
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMs)*time.Millisecond)
	defer cancel()
	st := w.svc.Core().Stats()
	err := w.svc.Stop(ctx)
	close(w.stopped)
	w.cancel()
	l.remove(handle)
	after := w.svc.Core().Stats()
	took := time.Since(began)
	w.log.Info("worker stopped through the C ABI", "handle", handle, "took", took.Round(time.Millisecond),
		"released", after.Released-st.Released)
	if err != nil {
		return ErrorReply(fail(CodeInternal, "the worker stopped with errors (its handle is gone): %v", err))
	}
	return Reply(struct {
		State    string `json:"state"`
		TookMs   int64  `json:"took_ms"`
		Released int64  `json:"released"`
		Recorded int64  `json:"recorded"`
	}{stateStopped, took.Milliseconds(), after.Released, after.Recorded})
}

// Log writes one line into the worker's log (handle 0: the process log),
// tagged with the worker id and source.
func (l *Library) Log(handle uint64, level, message string, fields []byte) []byte {
	lvl, ok := ParseLevel(level)
	if !ok {
		return InvalidArgument("level must be error, warn, info, debug or trace, got %s", quote(level))
	}
	if !utf8.ValidString(message) {
		return ErrorReply(fail(CodeInvalidJSON, "the message is not UTF-8"))
	}
	var attrs []any
	if fields != nil {
		if !utf8.Valid(fields) || !json.Valid(fields) {
			return ErrorReply(fail(CodeInvalidJSON, "fields_json is not valid JSON (or not UTF-8)"))
		}
		var m map[string]any
		if err := json.Unmarshal(fields, &m); err != nil || m == nil {
			return InvalidArgument("fields_json must be a JSON object or NULL")
		}
		for _, k := range sortedAnyKeys(m) {
			attrs = append(attrs, slog.Any(k, m[k]))
		}
	}
	logger, source := l.log, "host"
	if handle != 0 {
		w, ferr := l.lookup(handle)
		if ferr != nil {
			return ErrorReply(ferr)
		}
		logger, source = w.log, w.language
	}
	logger.With("source", source).Log(context.Background(), lvl, message, attrs...)
	return Reply(nil)
}

func sortedAnyKeys(m map[string]any) []string {
	set := make(map[string]bool, len(m))
	for k := range m {
		set[k] = true
	}
	return sortedKeys(set)
}
