// Command capi is the Tasker C ABI: built with
//
//	go build -buildmode=c-shared -o build/libtasker_worker.so ./bindings/capi
//
// (scripts/build-capi.sh), it is the shared library through which Ruby,
// Python and other hosts run a Tasker worker and serve its steps with their
// own handlers. include/tasker_worker.h declares and documents every
// function; docs/capi.md describes the JSON shapes, threading and errors.
//
// Every exported function converts its C arguments, calls the Go
// implementation in package bridge and returns its JSON reply as a string
// the library allocated (released with tasker_free). A panic is recovered
// into an "internal" error reply: no call ever takes the host down.
//
// The library reads two environment variables of its own when it loads:
// TASKER_LOG_LEVEL (error, warn, info, debug, trace; default info) and
// TASKER_LOG_FORMAT (text or json; default text) for the log it writes to
// standard error.
package main

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
*/
import "C"

import (
	"log/slog"
	"os"
	"sync"
	"unsafe"

	"github.com/tasker-go/tasker/bindings/capi/internal/bridge"
)

func main() {}

// lib is the process's library state.
var lib = bridge.New(bridge.Options{
	Environ: os.Environ, Log: os.Stderr, LogLevel: logLevel(), LogFormat: os.Getenv("TASKER_LOG_FORMAT"),
})

func logLevel() slog.Level {
	if lv, ok := bridge.ParseLevel(os.Getenv("TASKER_LOG_LEVEL")); ok {
		return lv
	}
	return slog.LevelInfo
}

// allocations are the strings the library handed out and not yet freed:
// tasker_free releases only those.
var allocations = struct {
	sync.Mutex
	m map[unsafe.Pointer]struct{}
}{m: map[unsafe.Pointer]struct{}{}}

// reply copies a JSON reply (which has no NUL byte: JSON escapes it) into
// C memory, NUL-terminated, and records it.
func reply(b []byte) *C.char {
	p := (*C.char)(C.CBytes(append(b, 0)))
	allocations.Lock()
	allocations.m[unsafe.Pointer(p)] = struct{}{}
	allocations.Unlock()
	return p
}

// guard turns a panic of the call into an internal error reply.
func guard(out **C.char) {
	if r := recover(); r != nil {
		*out = reply(bridge.Internal(r))
	}
}

// goBytes copies a NUL-terminated C string (nil for NULL).
func goBytes(p *C.char) []byte {
	if p == nil {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(C.strlen(p)))
}

//export tasker_abi_version
func tasker_abi_version() C.int32_t { return bridge.ABIVersion }

//export tasker_free
func tasker_free(p *C.char) {
	defer func() { _ = recover() }()
	if p == nil {
		return
	}
	allocations.Lock()
	_, ours := allocations.m[unsafe.Pointer(p)]
	delete(allocations.m, unsafe.Pointer(p))
	allocations.Unlock()
	if ours {
		C.free(unsafe.Pointer(p))
	}
}

//export tasker_worker_bootstrap
func tasker_worker_bootstrap(configJSON *C.char) (out *C.char) {
	defer guard(&out)
	if configJSON == nil {
		return reply(bridge.InvalidArgument("config_json is NULL"))
	}
	return reply(lib.Bootstrap(goBytes(configJSON)))
}

//export tasker_poll_step_events
func tasker_poll_step_events(handle C.uint64_t, maxEvents, waitMs C.int32_t) (out *C.char) {
	defer guard(&out)
	return reply(lib.Poll(uint64(handle), int32(maxEvents), int32(waitMs)))
}

//export tasker_poll_step_events_indexed
func tasker_poll_step_events_indexed(handle C.uint64_t, maxEvents, waitMs C.int32_t) (out *C.char) {
	defer guard(&out)
	return reply(lib.PollIndexed(uint64(handle), int32(maxEvents), int32(waitMs)))
}

//export tasker_complete_step_event
func tasker_complete_step_event(handle C.uint64_t, eventID, resultJSON *C.char) (out *C.char) {
	defer guard(&out)
	switch {
	case eventID == nil:
		return reply(bridge.InvalidArgument("event_id is NULL"))
	case resultJSON == nil:
		return reply(bridge.InvalidArgument("result_json is NULL"))
	}
	return reply(lib.Complete(uint64(handle), C.GoString(eventID), goBytes(resultJSON)))
}

//export tasker_checkpoint_yield_step_event
func tasker_checkpoint_yield_step_event(handle C.uint64_t, eventID, checkpointJSON *C.char) (out *C.char) {
	defer guard(&out)
	switch {
	case eventID == nil:
		return reply(bridge.InvalidArgument("event_id is NULL"))
	case checkpointJSON == nil:
		return reply(bridge.InvalidArgument("checkpoint_json is NULL"))
	}
	return reply(lib.Checkpoint(uint64(handle), C.GoString(eventID), goBytes(checkpointJSON)))
}

//export tasker_worker_status
func tasker_worker_status(handle C.uint64_t) (out *C.char) {
	defer guard(&out)
	return reply(lib.Status(uint64(handle)))
}

//export tasker_health
func tasker_health(handle C.uint64_t) (out *C.char) {
	defer guard(&out)
	return reply(lib.Health(uint64(handle)))
}

//export tasker_metrics
func tasker_metrics(handle C.uint64_t) (out *C.char) {
	defer guard(&out)
	return reply(lib.Metrics(uint64(handle)))
}

//export tasker_log
func tasker_log(handle C.uint64_t, level, message, fieldsJSON *C.char) (out *C.char) {
	defer guard(&out)
	switch {
	case level == nil:
		return reply(bridge.InvalidArgument("level is NULL"))
	case message == nil:
		return reply(bridge.InvalidArgument("message is NULL"))
	}
	return reply(lib.Log(uint64(handle), C.GoString(level), C.GoString(message), goBytes(fieldsJSON)))
}

//export tasker_begin_shutdown
func tasker_begin_shutdown(handle C.uint64_t) (out *C.char) {
	defer guard(&out)
	return reply(lib.BeginShutdown(uint64(handle)))
}

//export tasker_stop
func tasker_stop(handle C.uint64_t, timeoutMs C.int32_t) (out *C.char) {
	defer guard(&out)
	return reply(lib.Stop(uint64(handle), int32(timeoutMs)))
}
