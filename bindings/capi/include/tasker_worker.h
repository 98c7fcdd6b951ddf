/*
 * tasker_worker.h - the Tasker worker C ABI, version 1.
 *
 * libtasker_worker.so runs a complete Tasker worker inside the host process
 * (claiming steps from PostgreSQL, keeping their claims alive, committing
 * results, shutting down gracefully) and hands each step to the host as a
 * JSON event. The host runs its handler and reports the result as JSON.
 * Ruby, Python, Node and any other language with a C foreign-function
 * interface can use it. docs/capi.md describes every JSON shape in full.
 *
 * Build:  scripts/build-capi.sh  (go build -buildmode=c-shared -o
 *         build/libtasker_worker.so ./bindings/capi)
 * Link:   cc app.c -I bindings/capi/include -L build -ltasker_worker
 *         (or load it at run time: dlopen, Fiddle, ctypes, ffi-napi, koffi)
 * Locate: bindings look at $TASKER_WORKER_LIB (a path to the .so), then
 *         <repo>/build/libtasker_worker.so, then the loader's search path.
 *
 * CONVENTIONS
 *
 * Replies. Every function except tasker_abi_version and tasker_free returns
 * a NUL-terminated UTF-8 JSON object, allocated by the library, never NULL.
 * Release it with tasker_free, and only with tasker_free. Success:
 *     {"ok": true, ...}
 * Failure:
 *     {"ok": false, "error": {"code": "<code>", "message": "<text for people>"}}
 * Replies may gain keys in later versions; read the ones you need.
 *
 * Error codes:
 *   invalid_argument  a NULL pointer, a number out of range, a bad level
 *                     name, a checkpoint of the wrong shape
 *   invalid_json      an argument is not valid JSON, or not UTF-8
 *   invalid_config    the bootstrap configuration was rejected; the message
 *                     lists every problem, each naming its key
 *   bootstrap_failed  the worker could not start: database unreachable,
 *                     schema not migrated, templates not loadable...
 *   unknown_handle    no worker has this handle (never bootstrapped, or
 *                     stopped)
 *   unknown_event     the event is not waiting for a result: never issued,
 *                     already completed or yielded, or abandoned because
 *                     its step timed out, its claim was lost or the worker
 *                     is stopping
 *   invalid_result    the result JSON could not be read as a step result;
 *                     the step was still completed, as a non-retryable
 *                     failure of error type "invalid_result"
 *   not_running       the worker has stopped and cannot do this
 *   internal          a failure inside the library (the host is never
 *                     taken down: Go panics are recovered into this)
 *
 * Threads. Every function may be called from any thread, concurrently. The
 * library never calls into the host (no callbacks). The blocking functions
 * (tasker_poll_step_events with wait_ms > 0, tasker_stop, and to a lesser
 * extent tasker_worker_bootstrap and tasker_checkpoint_yield_step_event,
 * which wait for the database) hold no lock of the library while they
 * wait, so call them with the interpreter's lock released (Ruby: a blocking
 * Fiddle/ruby-ffi call; Python: ctypes.CDLL releases the GIL; Node: call
 * them from a worker thread or an async FFI call).
 *
 * Strings passed in are borrowed for the duration of the call only.
 *
 * Handles. tasker_worker_bootstrap returns a handle, a uint64_t > 0.
 * Several workers may run in one process, each with its own handle. After
 * tasker_stop every call with that handle returns unknown_handle. (In
 * JavaScript, handles fit in a Number until 2^53: they count up from 1.)
 *
 * The library's own log goes to standard error; TASKER_LOG_LEVEL (error,
 * warn, info, debug, trace; default info) and TASKER_LOG_FORMAT (text or
 * json; default text) are read when the library loads.
 */
#ifndef TASKER_WORKER_H
#define TASKER_WORKER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define TASKER_ABI_VERSION 1

/*
 * tasker_abi_version returns the ABI version of the loaded library (1).
 * Check it before anything else: a host built for version 1 must refuse
 * another version.
 */
int32_t tasker_abi_version(void);

/*
 * tasker_free releases a reply returned by the library. NULL is ignored, and
 * so is any pointer the library did not hand out (or already freed).
 */
void tasker_free(char *p);

/*
 * tasker_worker_bootstrap starts a worker from a JSON configuration:
 *
 *   {
 *     "callables":      ["LinearWorkflow::StepHandlers::LinearStep1Handler", ...],
 *     "language":       "ruby",
 *     "worker_id":      "optional; default <language>-worker-<uuid>",
 *     "environment":    "optional; default $TASKER_ENV, else development",
 *     "config_root":    "optional; directory holding shared/ and worker/ TOML
 *                        trees; default $TASKER_CONFIG_ROOT, else the copy
 *                        built into the library",
 *     "database_url":   "optional; overrides database.url",
 *     "template_paths": ["optional; directories of task template YAML, added
 *                         to the configured search path"],
 *     "namespaces":     ["optional; serve only these namespaces (default:
 *                         every namespace of the templates found)"],
 *     "overrides":      {"optional": "nested keys of the worker configuration,
 *                        e.g. {\"worker\": {\"handlers\": {\"max_concurrent\": 8}}}"},
 *     "poll_spin_us":   optional, 0..100000, default 0: how long a blocked
 *                       poll keeps its thread checking for a step before it
 *                       sleeps. A step arriving meanwhile goes to the
 *                       spinning poll (its thread never slept, so the
 *                       host's work on it runs warm; docs/benchmarks.md).
 *                       At most one poll spins at a time; it burns a CPU
 *                       for up to this long after each step it finishes
 *                       when no next step comes.
 *   }
 *
 * "callables" (non-empty) and "language" (lower case, e.g. "ruby") are
 * required; any other key is an error. The configuration is layered as
 * tasker-worker layers it, lowest first: built-in defaults, the TOML files,
 * the environment (TASKER_ENV, DATABASE_URL, TASKER_TEMPLATE_PATH,
 * TASKER__SECTION__KEY), then this JSON (as command-line flags would).
 * The worker's HTTP server (health, metrics) stays off unless
 * overrides.worker.web.enabled is true; tasker_health and tasker_metrics
 * give the same reports without it.
 *
 * The worker claims only the steps whose template handler.callable is in
 * "callables": the other steps of its namespaces are left to workers that
 * have their handlers (and wait in their queue while none runs).
 *
 * Reply: {"ok": true, "handle": 1, "worker_id": "ruby-worker-<uuid>",
 *         "namespaces": [...], "callables": [...], "environment": "test"}
 * Errors: invalid_argument (NULL), invalid_json, invalid_config,
 *         bootstrap_failed.
 * Blocks while it connects, checks the schema and registers the templates
 * (at most 60 s).
 */
char *tasker_worker_bootstrap(const char *config_json);

/*
 * tasker_poll_step_events returns up to max_events (1..1000) step events,
 * waiting up to wait_ms (0 = do not wait; at most 60000) for the first:
 *
 *   {"ok": true, "events": [<event>, ...], "state": "running"|"stopping"|"stopped"}
 *
 * An event is tasker-core's step event; echo its "event_id" back:
 *
 *   {"event_id", "task_uuid", "step_uuid", "correlation_id",
 *    "task_correlation_id", "parent_correlation_id",
 *    "task_sequence_step": {
 *      "task": {"task": {<task row: task_uuid, context (the task input), ...>},
 *               "task_name", "task_version", "namespace_name"},
 *      "workflow_step": {<step row: workflow_step_uuid, name, inputs,
 *                        attempts (made BEFORE this run: 0 on the first),
 *                        max_attempts, checkpoint (null, or the record of
 *                        the last checkpoint yield), ...>},
 *      "dependency_results": {"<ancestor step name>": <its StepExecutionResult;
 *                             "result" is the value it returned>},
 *      "step_definition": {"name", "description", "handler": {"callable",
 *                          "method", "resolver", "initialization"}, "type",
 *                          "dependencies", "retry", "timeout_seconds",
 *                          "publishes_events", "batch_config"}}}
 *
 * "stopped" with no events means nothing will ever come again: leave the
 * poll loop. While "stopping", events already dispatched may still arrive
 * and must still be completed. A poll blocked in its wait returns as soon
 * as an event arrives, the wait ends, or tasker_stop finishes: a step
 * claimed while polls wait is put straight into the oldest waiting poll,
 * which encodes its event on the calling thread (one thread wake-up from
 * claim to host: the claiming thread wakes the polling thread itself; let
 * each handler thread poll for one event and run it).
 * Errors: invalid_argument, unknown_handle.
 */
char *tasker_poll_step_events(uint64_t handle, int32_t max_events, int32_t wait_ms);

/*
 * tasker_poll_step_events_indexed polls as tasker_poll_step_events does
 * (same arguments, errors and waiting), and lets the host decode only the
 * parts of each event its handler reads. A successful reply is a header
 * line, a newline, then the events' JSON one after the other (no
 * separator):
 *
 *   {"ok":true,"events":[[event_id, task_uuid, step_uuid, correlation_id,
 *     callable, method, resolver, timeout_seconds, step_name, attempts,
 *     max_attempts, [s0,e0, s1,e1, ... s8,e8]], ...],"state":"running"}\n
 *   <event 1 JSON><event 2 JSON>...
 *
 * Each event's entry is an array, in that order, of what its JSON holds:
 * its ids, step_definition.handler's callable, method and resolver (or
 * null), step_definition.timeout_seconds (or null), workflow_step's name,
 * attempts and max_attempts, then the byte ranges [sk, ek) of its parts,
 * counted from the byte after the newline:
 *
 *   0 the whole event (exactly what tasker_poll_step_events returns)
 *   1 task_sequence_step.task          5 ...workflow_step.checkpoint
 *   2 ...task.task.context             6 task_sequence_step.dependency_results
 *   3 task_sequence_step.workflow_step 7 task_sequence_step.step_definition
 *   4 ...workflow_step.inputs          8 ...step_definition.handler.initialization
 *
 * A host decodes the header on every step and each part only when its
 * handler reads it (docs/capi.md). Later versions may add entries after
 * these, in the array and in the ranges. The header holds no newline;
 * with no events the reply is the header line alone. An error reply is
 * the usual {"ok":false,...} object, with no newline.
 * Added to ABI version 1 after its first release: look it up (dlsym,
 * Fiddle, ctypes) and fall back to tasker_poll_step_events when absent.
 */
char *tasker_poll_step_events_indexed(uint64_t handle, int32_t max_events, int32_t wait_ms);

/*
 * tasker_complete_step_event reports the result of an event. result_json
 * is tasker-core's StepExecutionResult:
 *
 *   {"step_uuid": "..", "success": true|false, "result": <any JSON>,
 *    "status": "completed|failed|error",
 *    "metadata": {"execution_time_ms", "retryable", "error_code", "error_type",
 *                 "custom": {<handler metadata, kept with the result>}, ...},
 *    "error": {"message", "error_type", "backtrace": [".."], "retryable",
 *              "status_code", "context"} | null,
 *    "orchestration_metadata": {"backoff_hint": {"backoff_type": "ServerRequested",
 *                               "delay_seconds": 5}} | null}
 *
 * or the older {"success", "result", "error": {...}, "retry_after_seconds": n}.
 * Either may carry "domain_events": [{"event_name": "..", "payload": <any
 * JSON>}], the domain events the handler published (declared in the step's
 * publishes_events; payloads are checked against the declared schema).
 * They are published when orchestration commits the result, if their
 * declared condition matches the outcome. An undeclared event or a payload
 * that fails its schema is an invalid_result (the message names the event
 * and the JSON pointer).
 * "success" is required; a failure needs error.message (the top-level
 * "error_message", metadata.error_message or an error type are accepted
 * instead). Retryable is error.retryable, else metadata.retryable, else
 * true. backoff_hint.delay_seconds is the handler's Retry-After. Unknown
 * keys are ignored. "result" is stored as it is: a decision step's result
 * carries its choice there, as "decision_point_outcome":
 * {"type": "create_steps", "step_names": [".."]} or {"type": "no_branches"}.
 *
 * The result is processed on the calling thread before the call returns
 * (read, checked, turned into the stored result and queued for the
 * worker's next batched commit; the handler slot is free again): no Go
 * thread has to wake up for it. The call does not wait for the database.
 *
 * Reply: {"ok": true}
 * Errors: invalid_argument (NULL), unknown_handle, unknown_event,
 *         invalid_json and invalid_result (in both cases the step WAS
 *         completed, as a non-retryable invalid_result failure; the message
 *         says why), not_running.
 */
char *tasker_complete_step_event(uint64_t handle, const char *event_id, const char *result_json);

/*
 * tasker_checkpoint_yield_step_event saves a batch step's progress and hands
 * the step out again. checkpoint_json is
 *
 *   {"cursor": <any JSON>, "items_processed": <integer >= 0>,
 *    "accumulated_results": <any JSON or null>}
 *
 * (other keys, such as tasker-core's "step_uuid", are ignored). The record
 * {"cursor", "items_processed", "accumulated_results", "timestamp",
 * "history": [{"cursor", "timestamp"}, ...]} is stored on the step while
 * the worker still holds its claim (attempts unchanged, the step's timeout
 * keeps running), and the same step comes back from
 * tasker_poll_step_events as a NEW event (new event_id) whose
 * workflow_step.checkpoint holds the record. The yielded event is finished.
 * A step that fails or whose worker dies resumes from the record on its
 * next attempt.
 *
 * Reply: {"ok": true}
 * Errors: invalid_argument (NULL, or not the shape above; the event stays
 *         open), invalid_json (the event stays open), unknown_handle,
 *         unknown_event, internal (the database did not take it; the event
 *         stays open: yield again or complete it).
 */
char *tasker_checkpoint_yield_step_event(uint64_t handle, const char *event_id, const char *checkpoint_json);

/*
 * tasker_worker_status describes a worker:
 *
 *   {"ok": true, "running": bool, "state": "running|stopping|stopped",
 *    "worker_id", "environment", "language", "namespaces": [...],
 *    "callables": [...], "pending_events": n (waiting to be polled),
 *    "in_flight": n (polled, not completed), "max_concurrent": n,
 *    "waiting_polls": n (polls blocked in their wait),
 *    "stats": {<claimed, recorded, released... since bootstrap>}}
 *
 * Errors: unknown_handle.
 */
char *tasker_worker_status(uint64_t handle);

/*
 * tasker_health returns the worker's detailed health report, the body of
 * its GET /health/detailed: {"ok": true, "health": {"status", "worker_id",
 * "state", "namespaces", "stats", "concurrency", "database", "queues", ...}}.
 * Errors: unknown_handle.
 */
char *tasker_health(uint64_t handle);

/*
 * tasker_metrics returns the worker's Prometheus metrics:
 * {"ok": true, "content_type": "text/plain; version=0.0.4; ...",
 *  "text": "<Prometheus text exposition>"}.
 * Errors: unknown_handle.
 */
char *tasker_metrics(uint64_t handle);

/*
 * tasker_log writes one structured line into the worker's log: level is
 * error, warn, info, debug or trace; fields_json is a JSON object whose
 * keys become fields of the line, or NULL. The line is tagged with the
 * worker id and "source": the bootstrap "language" ("ruby", "python"...).
 * Handle 0 is the library's process log (usable before bootstrap; source
 * "host").
 *
 * Reply: {"ok": true}
 * Errors: invalid_argument (NULL level or message, unknown level, fields
 *         not an object), invalid_json, unknown_handle.
 */
char *tasker_log(uint64_t handle, const char *level, const char *message, const char *fields_json);

/*
 * tasker_begin_shutdown stops claiming new steps. Events already dispatched
 * can still be polled and completed. Calling it again is harmless.
 *
 * Reply: {"ok": true, "state": "stopping"}
 * Errors: unknown_handle.
 */
char *tasker_begin_shutdown(uint64_t handle);

/*
 * tasker_stop stops a worker gracefully within timeout_ms (5000 when <= 0):
 * it stops claiming, lets in-flight events be completed until the deadline
 * less half a second (and at most worker.shutdown_grace), releases the
 * claims of the rest for another worker (their attempt does not count),
 * commits every result, closes the connections and forgets the handle.
 * Keep polling and completing from other threads while it runs; blocked
 * polls return "stopped" when it finishes.
 *
 * Reply: {"ok": true, "state": "stopped", "took_ms": n, "released": n, "recorded": n}
 * Errors: unknown_handle (also for a second tasker_stop), internal (the
 *         worker stopped, with errors the message names; the handle is
 *         gone all the same).
 */
char *tasker_stop(uint64_t handle, int32_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* TASKER_WORKER_H */
