package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/state"
)

// sseEvent is one parsed Server-Sent Event (comment lines are counted
// separately).
type sseEvent struct {
	event string
	id    string
	data  string
}

// sseStream is an open event stream.
type sseStream struct {
	t        testing.TB
	res      *http.Response
	sc       *bufio.Scanner
	cancel   context.CancelFunc
	comments int
}

func (h *harness) openEvents(task uuid.UUID, headers ...string) *sseStream {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.http.URL+"/v1/tasks/"+task.String()+"/events", nil)
	require.NoError(h.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := h.http.Client().Do(req) //nolint:bodyclose // the sseStream closes it
	require.NoError(h.t, err)
	require.Equal(h.t, http.StatusOK, res.StatusCode)
	require.Equal(h.t, "text/event-stream", res.Header.Get("Content-Type"))
	s := &sseStream{t: h.t, res: res, sc: bufio.NewScanner(res.Body), cancel: cancel}
	h.t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.res.Body.Close()
}

// next returns the next event, or ok=false at the end of the stream.
func (s *sseStream) next() (sseEvent, bool) {
	var ev sseEvent
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev, true
			}
		case strings.HasPrefix(line, ":"):
			s.comments++
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
	return sseEvent{}, false
}

// untilEnd reads events up to and including "end".
func (s *sseStream) untilEnd() []sseEvent {
	s.t.Helper()
	var out []sseEvent
	for {
		ev, ok := s.next()
		require.True(s.t, ok, "stream ended without an end event after %d events", len(out))
		out = append(out, ev)
		if ev.event == "end" {
			_, more := s.next()
			require.False(s.t, more, "nothing follows end")
			return out
		}
	}
}

func TestTaskEventsStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	tr := h.createTask(tpl, input)
	stream := h.openEvents(tr.TaskUUID)
	// History so far is replayed; then the driver runs the task live.
	h.drive(tpl.NamespaceName, succeed)
	events := stream.untilEnd()

	var taskStates []string
	stepStates := map[string][]string{}
	var order []string // "step:state" in arrival order
	seen := map[string]bool{}
	for _, ev := range events[:len(events)-1] {
		var te api.TaskEvent
		require.NoError(t, json.Unmarshal([]byte(ev.data), &te), ev.data)
		require.Equal(t, ev.event, te.Kind)
		require.Equal(t, tr.TaskUUID, te.TaskUUID)
		key := te.Kind + string(rune(te.ID))
		require.False(t, seen[key], "event %s %d sent twice", te.Kind, te.ID)
		seen[key] = true
		require.NotEmpty(t, ev.id)
		if te.Kind == "task" {
			taskStates = append(taskStates, te.ToState)
		} else {
			stepStates[te.StepName] = append(stepStates[te.StepName], te.ToState)
			order = append(order, te.StepName+":"+te.ToState)
		}
	}
	require.Equal(t, "pending", taskStates[0])
	require.Equal(t, "complete", taskStates[len(taskStates)-1])
	require.Len(t, stepStates, 4)
	for name, sts := range stepStates {
		require.Equal(t, []string{"enqueued", "in_progress", "enqueued_for_orchestration", "complete"}, sts, name)
	}
	idx := func(s string) int {
		for i, o := range order {
			if o == s {
				return i
			}
		}
		return -1
	}
	for i := 1; i < 4; i++ {
		prev, cur := "linear_step_"+string(rune('0'+i)), "linear_step_"+string(rune('0'+i+1))
		require.Less(t, idx(prev+":complete"), idx(cur+":enqueued"), "%s completes before %s is enqueued", prev, cur)
	}
	var end api.TaskEndEvent
	require.NoError(t, json.Unmarshal([]byte(events[len(events)-1].data), &end))
	require.Equal(t, api.TaskEndEvent{TaskUUID: tr.TaskUUID, Status: string(state.TaskComplete)}, end)

	// Everything committed was sent, exactly once.
	tts, err := h.store.TaskTransitions(h.ctx, tr.TaskUUID)
	require.NoError(t, err)
	sts, err := h.store.StepTransitions(h.ctx, tr.TaskUUID, uuid.Nil)
	require.NoError(t, err)
	require.Len(t, taskStates, len(tts))
	require.Len(t, order, len(sts))

	// Resuming after the end gets the end at once; from the start, all again.
	again := h.openEvents(tr.TaskUUID, "Last-Event-ID", events[len(events)-1].id).untilEnd()
	require.Len(t, again, 1)
	require.Len(t, h.openEvents(tr.TaskUUID).untilEnd(), len(events))
}

func TestTaskEventsErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	tr := h.createTask(tpl, input)
	h.do(http.MethodGet, "/v1/tasks/"+uuid.NewString()+"/events", nil, "Accept", "text/event-stream").
		requireError(t, http.StatusNotFound, web.CodeNotFound)
	h.do(http.MethodGet, "/v1/tasks/nope/events", nil).requireError(t, http.StatusBadRequest, web.CodeBadRequest)
	h.do(http.MethodGet, "/v1/tasks/"+tr.TaskUUID.String()+"/events", nil, "Last-Event-ID", "banana").
		requireError(t, http.StatusBadRequest, web.CodeBadRequest)
}

func TestTaskEventsHeartbeatAndShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{heartbeat: 20 * time.Millisecond})
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	tr := h.createTask(tpl, input) // no workers: the task waits in steps_in_process
	stream := h.openEvents(tr.TaskUUID)
	for stream.comments < 2 {
		require.True(t, stream.sc.Scan(), "the stream stays open")
		if strings.HasPrefix(stream.sc.Text(), ":") {
			stream.comments++
		}
	}
	// A client that goes away ends its stream on the server.
	gone := h.openEvents(tr.TaskUUID)
	gone.close()

	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, h.server.Stop(ctx))
	require.Less(t, time.Since(start), 2*time.Second, "Stop ends open streams at once")
	for {
		if _, ok := stream.next(); !ok {
			break
		}
	}
	_, err := io.ReadAll(stream.res.Body)
	require.NoError(t, err)
}
