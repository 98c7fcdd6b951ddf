package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/google/uuid"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// eventHub fans the task events channel out to the streams watching each
// task. One subscription serves every stream; it is taken when the server
// is built, so the channel is LISTENed long before the first stream reads
// its history.
type eventHub struct {
	sub *pgnotify.Subscription
	log *slog.Logger

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{} // by task uuid text
	running bool
	stopped bool
	quit    chan struct{}
	done    chan struct{}
}

func newEventHub(l *pgnotify.Listener, channel string, log *slog.Logger) *eventHub {
	return &eventHub{
		sub: l.Subscribe(channel, "", 1024), log: log,
		waiters: map[string]map[chan struct{}]struct{}{},
		quit:    make(chan struct{}), done: make(chan struct{}),
	}
}

// watch returns a channel that receives (coalesced) wake-ups when the
// task's state may have changed, and a function that stops watching.
func (h *eventHub) watch(task uuid.UUID) (<-chan struct{}, func()) {
	key := task.String()
	c := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return c, func() {}
	}
	if !h.running {
		h.running = true
		go h.run()
	}
	if h.waiters[key] == nil {
		h.waiters[key] = map[chan struct{}]struct{}{}
	}
	h.waiters[key][c] = struct{}{}
	return c, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.waiters[key], c)
		if len(h.waiters[key]) == 0 {
			delete(h.waiters, key)
		}
	}
}

func (h *eventHub) run() {
	defer close(h.done)
	for {
		select {
		case <-h.quit:
			return
		case n := <-h.sub.C():
			h.dispatch(n.Payload)
		}
	}
}

// dispatch wakes the watchers of every task in a payload. An empty payload
// is the listener's reconnect broadcast: notifications may have been lost,
// so everyone looks again.
func (h *eventHub) dispatch(payload string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	wake := func(cs map[chan struct{}]struct{}) {
		for c := range cs {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
	if payload == "" {
		for _, cs := range h.waiters {
			wake(cs)
		}
		return
	}
	for id := range strings.SplitSeq(payload, ",") {
		if cs, ok := h.waiters[id]; ok {
			wake(cs)
		}
	}
}

func (h *eventHub) stop() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.stopped = true
	running := h.running
	h.mu.Unlock()
	close(h.quit)
	if running {
		<-h.done
	}
	h.sub.Close()
}

type eventsInput struct {
	UUID        string `path:"uuid" doc:"Task UUID"`
	LastEventID string `header:"Last-Event-ID" doc:"Resume after this event id (sent by EventSource on reconnect)"`
}

func (s *Server) eventRoutes() {
	register(s, huma.Operation{
		OperationID: "streamTaskEvents", Method: http.MethodGet, Path: "/v1/tasks/{uuid}/events", Tags: []string{"tasks"},
		Summary: "Follow a task's state changes (Server-Sent Events)",
		Description: "Replays the task's history, then streams every task and step transition as it commits: " +
			"`event: task` or `event: step` with a JSON TaskEvent as data, `event: domain_event` with a " +
			"DomainEvent for each domain event a handler published (once its step result committed), and a final `event: end` " +
			"(data {task_uuid, status}) when the task reaches a terminal state. Comment lines are sent every " +
			"15 s as a heartbeat. Each event's id can be sent back as Last-Event-ID to resume.",
		Metadata: map[string]any{streamMeta: true},
		Responses: map[string]*huma.Response{"200": {
			Description: "An event stream",
			Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: "string"}}},
		}},
	}, []int{400, 404, 503}, s.streamEvents)
}

func (s *Server) streamEvents(ctx context.Context, in *eventsInput) (*huma.StreamResponse, error) {
	id, err := parseID("uuid", in.UUID)
	if err != nil {
		return nil, err
	}
	if s.events == nil {
		return nil, newError(http.StatusServiceUnavailable, CodeServiceUnavailable,
			"live events are not available: the server has no LISTEN connection")
	}
	task, err := s.store.GetTask(ctx, id)
	if err != nil {
		return nil, err
	}
	var from store.EventCursor
	var fromDomain int64
	if in.LastEventID != "" {
		if from, fromDomain, err = parseCursor(in.LastEventID); err != nil {
			return nil, err
		}
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		_, w := humachi.Unwrap(hctx)
		s.stream(hctx.Context(), w, id, task.State, from, fromDomain)
	}}, nil
}

// settle is how long a transition counts as possibly overtaken: a
// transaction that wrote an earlier-numbered transition of the same task may
// still commit after we read a later one (steps of one task are claimed and
// completed concurrently). Reads re-cover that window and drop duplicates.
const settle = 2 * time.Second

type eventKey struct {
	kind string
	id   int64
}

// stream writes the task's events until it ends, the client leaves or the
// server stops. current is the task's state when the stream was asked for
// (a client resuming after the final transition gets "end" at once).
//
// Domain events the task's handlers published follow as "domain_event"
// events once their step result committed; lastDomain is the seq of the last
// one the client saw. They commit in order per task (the transactions that
// write them hold the task's row lock), so a cursor suffices.
func (s *Server) stream(ctx context.Context, w http.ResponseWriter, task uuid.UUID, current state.TaskState,
	from store.EventCursor, lastDomain int64) {
	wake, unwatch := s.events.watch(task)
	defer unwatch()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	seen := map[eventKey]time.Time{}
	safe := from // re-read from here: older events have settled
	last := from // what the client has seen, for event ids
	for {
		evs, _, err := s.store.TaskEventsAfter(ctx, task, safe)
		if err != nil {
			if ctx.Err() == nil && !s.isStopping() {
				s.log.Warn("reading task events", "task", task, "err", err)
				_ = writeSSE(w, "error", "", map[string]string{"message": "reading events failed; reconnect to resume"})
				_ = rc.Flush()
			}
			return
		}
		now := time.Now()
		for _, e := range evs {
			k := eventKey{e.Kind, e.ID}
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = now
			if e.Kind == "task" {
				last.TaskID = max(last.TaskID, e.ID)
				current = state.TaskState(e.ToState)
			} else {
				last.StepID = max(last.StepID, e.ID)
			}
			if err := writeSSE(w, e.Kind, formatCursor(last, lastDomain), eventView(e)); err != nil {
				return
			}
		}
		if !s.streamDomainEvents(ctx, w, rc, task, last, &lastDomain) {
			return
		}
		if current.Terminal() {
			_ = writeSSE(w, "end", formatCursor(last, lastDomain), api.TaskEndEvent{TaskUUID: task, Status: string(current)})
			_ = rc.Flush()
			return
		}
		if rc.Flush() != nil {
			return
		}
		safe = settled(seen, safe, now)
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			return
		case <-wake:
		case <-tick.C:
			// A heartbeat; also a fallback read in case a notification
			// was dropped.
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
		}
	}
}

// domainEventPage is how many domain events one read of a stream takes.
const domainEventPage = 500

// streamDomainEvents writes the task's domain events after *lastDomain,
// advancing it; false when the stream must end.
func (s *Server) streamDomainEvents(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController,
	task uuid.UUID, last store.EventCursor, lastDomain *int64) bool {
	for {
		des, err := s.store.DomainEvents(ctx, task, *lastDomain, domainEventPage)
		if err != nil {
			if ctx.Err() == nil && !s.isStopping() {
				s.log.Warn("reading domain events", "task", task, "err", err)
				_ = writeSSE(w, "error", "", map[string]string{"message": "reading events failed; reconnect to resume"})
				_ = rc.Flush()
			}
			return false
		}
		for _, d := range des {
			*lastDomain = d.ID
			if err := writeSSE(w, "domain_event", formatCursor(last, *lastDomain), domainEventView(d)); err != nil {
				return false
			}
		}
		if len(des) < domainEventPage {
			return true
		}
	}
}

// settled advances the re-read cursor past events seen longer ago than
// settle, and forgets them.
func settled(seen map[eventKey]time.Time, cur store.EventCursor, now time.Time) store.EventCursor {
	for k, at := range seen {
		if now.Sub(at) < settle {
			continue
		}
		if k.kind == "task" {
			cur.TaskID = max(cur.TaskID, k.id)
		} else {
			cur.StepID = max(cur.StepID, k.id)
		}
	}
	for k := range seen {
		if (k.kind == "task" && k.id <= cur.TaskID) || (k.kind == "step" && k.id <= cur.StepID) {
			delete(seen, k)
		}
	}
	return cur
}

func writeSSE(w http.ResponseWriter, event, id string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("event: " + event + "\n")
	if id != "" {
		sb.WriteString("id: " + id + "\n")
	}
	sb.WriteString("data: ")
	sb.Write(b)
	sb.WriteString("\n\n")
	_, err = w.Write([]byte(sb.String()))
	return err
}

// Event ids are "<task transition id>.<step transition id>", followed by
// ".<domain event seq>" once a domain event was sent: the cursor after the
// event.
func formatCursor(c store.EventCursor, domain int64) string {
	id := strconv.FormatInt(c.TaskID, 10) + "." + strconv.FormatInt(c.StepID, 10)
	if domain > 0 {
		id += "." + strconv.FormatInt(domain, 10)
	}
	return id
}

func parseCursor(v string) (store.EventCursor, int64, error) {
	parts := strings.Split(v, ".")
	bad := invalidParam("Last-Event-ID", "%q is not an event id from this stream", v)
	if len(parts) < 2 || len(parts) > 3 {
		return store.EventCursor{}, 0, bad
	}
	var n [3]int64
	for i, p := range parts {
		x, err := strconv.ParseInt(p, 10, 64)
		if err != nil || x < 0 {
			return store.EventCursor{}, 0, bad
		}
		n[i] = x
	}
	return store.EventCursor{TaskID: n[0], StepID: n[1]}, n[2], nil
}
