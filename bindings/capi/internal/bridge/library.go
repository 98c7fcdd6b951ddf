// Package bridge implements the operations of the Tasker C ABI in Go: every
// function takes Go values and returns the JSON reply the ABI hands to the
// host ({"ok": true, ...} or {"ok": false, "error": {"code", "message"}}).
// Package main of bindings/capi wraps each in an exported C function that
// only converts C strings and recovers panics.
//
// A Library holds the workers of one process by handle. Every method is
// safe to call from any goroutine (any host thread) at once, and none calls
// into the host.
package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// ABIVersion is the version of the ABI this package implements.
const ABIVersion = 1

// Code is an error code of the ABI.
type Code string

// Error codes (docs/capi.md describes when each is returned).
const (
	CodeInvalidArgument Code = "invalid_argument"
	CodeInvalidJSON     Code = "invalid_json"
	CodeInvalidConfig   Code = "invalid_config"
	CodeBootstrapFailed Code = "bootstrap_failed"
	CodeUnknownHandle   Code = "unknown_handle"
	CodeUnknownEvent    Code = "unknown_event"
	CodeInvalidResult   Code = "invalid_result"
	CodeNotRunning      Code = "not_running"
	CodeInternal        Code = "internal"
)

// Error is a failed call's error value.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func fail(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Reply encodes a successful call's answer: the fields of v (a struct or a
// map) with "ok": true first.
func Reply(v any) []byte {
	body, err := json.Marshal(v)
	if err != nil {
		return ErrorReply(fail(CodeInternal, "encoding the reply: %v", err))
	}
	if string(body) == "{}" || string(body) == "null" {
		return []byte(`{"ok":true}`)
	}
	return append([]byte(`{"ok":true,`), body[1:]...)
}

// ErrorReply encodes a failed call's answer. An error that is not an
// *Error is reported as internal.
func ErrorReply(err error) []byte {
	var e *Error
	if !errors.As(err, &e) {
		e = fail(CodeInternal, "%v", err)
	}
	body, _ := json.Marshal(struct {
		OK    bool   `json:"ok"`
		Error *Error `json:"error"`
	}{false, e})
	return body
}

// InvalidArgument is the reply to a call with a bad argument (a NULL
// pointer, a size out of range).
func InvalidArgument(format string, args ...any) []byte {
	return ErrorReply(fail(CodeInvalidArgument, format, args...))
}

// Internal is the reply to a call that panicked.
func Internal(v any) []byte {
	return ErrorReply(fail(CodeInternal, "the library failed: %v", v))
}

// Options configure a Library.
type Options struct {
	// Environ returns the environment bootstrap configurations read
	// (os.Environ in the library).
	Environ func() []string
	// Log receives the library's log (the process logger): text lines,
	// or JSON lines when LogFormat is "json". Default io.Discard.
	Log       io.Writer
	LogLevel  slog.Level
	LogFormat string
}

// Library is the state of the loaded library: its workers by handle and
// the process logger.
type Library struct {
	environ func() []string
	log     *slog.Logger

	mu      sync.Mutex
	next    uint64
	workers map[uint64]*hostWorker
}

// New returns an empty library.
func New(opts Options) *Library {
	if opts.Environ == nil {
		opts.Environ = func() []string { return nil }
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	ho := &slog.HandlerOptions{Level: opts.LogLevel, ReplaceAttr: levelNames}
	var h slog.Handler = slog.NewTextHandler(opts.Log, ho)
	if opts.LogFormat == "json" {
		h = slog.NewJSONHandler(opts.Log, ho)
	}
	return &Library{environ: opts.Environ, log: slog.New(h), workers: map[uint64]*hostWorker{}}
}

// LevelTrace is the level of tasker_log's "trace", below slog's debug.
const LevelTrace = slog.LevelDebug - 4

// ParseLevel reads a level name of the ABI: error, warn, info, debug or
// trace.
func ParseLevel(name string) (slog.Level, bool) {
	switch name {
	case "error":
		return slog.LevelError, true
	case "warn":
		return slog.LevelWarn, true
	case "info":
		return slog.LevelInfo, true
	case "debug":
		return slog.LevelDebug, true
	case "trace":
		return LevelTrace, true
	}
	return 0, false
}

// levelNames writes LevelTrace as TRACE rather than DEBUG-4.
func levelNames(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l == LevelTrace {
			a.Value = slog.StringValue("TRACE")
		}
	}
	return a
}

// add registers w under a new handle.
func (l *Library) add(w *hostWorker) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	w.handle = l.next
	l.workers[w.handle] = w
	return w.handle
}

// lookup finds the worker of a handle.
func (l *Library) lookup(handle uint64) (*hostWorker, *Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.workers[handle]
	if w == nil {
		return nil, fail(CodeUnknownHandle, "no worker has handle %d (never bootstrapped, or stopped)", handle)
	}
	return w, nil
}

func (l *Library) remove(handle uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.workers, handle)
}

// Handles lists the live handles, sorted (for tests and diagnostics).
func (l *Library) Handles() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]uint64, 0, len(l.workers))
	for h := range l.workers {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// quote shortens s for an error message.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", strings.ToValidUTF8(s, "\uFFFD"))
}
