package bridge

import (
	"encoding/json"
	"strconv"

	"github.com/tasker-go/tasker/worker"
)

// indexedPollReply writes the reply of tasker_poll_step_events_indexed: a
// header line, then the events' JSON one after the other:
//
//	{"ok":true,"events":[[event_id, task_uuid, step_uuid, correlation_id,
//	  callable, method, resolver, timeout_seconds, step_name, attempts,
//	  max_attempts, [start,end, ...]], ...],"state":"running"}\n
//	<event 1><event 2>...
//
// Each event's entry is an array, its fields in that order (an object's
// keys would cost a host about as much to decode as the values), ending
// with the byte range of each part, worker.SpanEvent to
// worker.SpanInitialization in that order, counted from the byte after the
// newline. A host decodes the header (a few hundred bytes) on every step
// and each part only when its handler reads it: most handlers read the
// task context or their parents' results, not the task and step rows or
// the step definition that make up most of an event.
func indexedPollReply(events []worker.Event, state string) []byte {
	n := 64
	for i := range events {
		n += len(events[i].JSON) + 384 + len(events[i].ID) + len(events[i].Index.Callable) + len(events[i].Index.StepName)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"ok":true,"events":[`...)
	at := 0 // where the event starts after the newline
	for i := range events {
		e := &events[i]
		ix := &e.Index
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendString(b, e.ID)
		b = append(b, ',')
		b = worker.AppendJSONUUID(b, e.TaskUUID)
		b = append(b, ',')
		b = worker.AppendJSONUUID(b, e.StepUUID)
		b = append(b, ',')
		b = worker.AppendJSONUUID(b, ix.CorrelationID)
		b = append(b, ',')
		b = appendString(b, ix.Callable)
		b = append(b, ',')
		b = appendString(b, ix.Method)
		b = append(b, ',')
		if ix.Resolver == "" {
			b = append(b, `null`...)
		} else {
			b = appendString(b, ix.Resolver)
		}
		b = append(b, ',')
		if ix.TimeoutSeconds <= 0 {
			b = append(b, `null`...)
		} else {
			b = strconv.AppendInt(b, int64(ix.TimeoutSeconds), 10)
		}
		b = append(b, ',')
		b = appendString(b, ix.StepName)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(ix.Attempts), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(ix.MaxAttempts), 10)
		b = append(b, `,[`...)
		for k, sp := range ix.Spans {
			if k > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(at+sp.Start), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(at+sp.End), 10)
		}
		b = append(b, `]]`...)
		at += len(e.JSON)
	}
	b = append(b, `],"state":`...)
	b = strconv.AppendQuote(b, state) // one of the fixed state names
	b = append(b, "}\n"...)
	for i := range events {
		b = append(b, events[i].JSON...)
	}
	return b
}

// appendString writes s as a JSON string: as it is when it needs no
// escaping (ids, callables, step names), else as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
