/*
 * abi_test.c exercises every function of the Tasker C ABI the way a host
 * binding does, including its misuse. The Go test TestCABI (capi_test.go)
 * builds libtasker_worker.so, compiles this program against
 * include/tasker_worker.h, creates the tasks of testdata/templates and runs
 * it with DATABASE_URL, TASKER__DATABASE__SCHEMA and TASKER_ENV pointing at
 * a fresh schema; orchestration runs in the Go test. It then checks what
 * landed in the database.
 *
 * Usage: abi_test TEMPLATE_DIR EXPECTED_EVENTS
 *
 * It prints "PASS <what>" or "FAIL <what>: <reply>" per check and "ABI TEST
 * PASSED" at the end when every check passed; the exit status is the
 * number of failed checks (capped at 100).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tasker_worker.h"

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static void report(int ok, const char *what, const char *detail) {
    pthread_mutex_lock(&out_mu);
    if (ok) {
        printf("PASS %s\n", what);
    } else {
        failures++;
        printf("FAIL %s: %s\n", what, detail ? detail : "");
    }
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

static int is_ok(const char *r) { return r && strncmp(r, "{\"ok\":true", 10) == 0; }

static int has_code(const char *r, const char *code) {
    char want[64];
    snprintf(want, sizeof want, "\"code\":\"%s\"", code);
    return r && strncmp(r, "{\"ok\":false", 11) == 0 && strstr(r, want) != NULL;
}

/* expect_ok checks that a reply is ok (and frees it unless keep). */
static char *expect_ok(char *r, const char *what, int keep) {
    report(is_ok(r), what, r);
    if (!keep) {
        tasker_free(r);
        return NULL;
    }
    return r;
}

static void expect_code(char *r, const char *code, const char *what) {
    report(has_code(r, code), what, r);
    tasker_free(r);
}

/* str_after copies the string value of "key":"..." found in [from, end)
 * into out; it returns 0 when the key is not there. Values read here
 * (ids, callables) hold no escapes. */
static int str_after(const char *from, const char *end, const char *key, char *out, size_t n) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(from, pat);
    if (!p || (end && p >= end)) return 0;
    p += strlen(pat);
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= n) return 0;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return 1;
}

/* contains reports whether needle occurs in [from, end). */
static int contains(const char *from, const char *end, const char *needle) {
    const char *p = strstr(from, needle);
    return p && (!end || p < end);
}

static int count(const char *from, const char *end, const char *needle) {
    int n = 0;
    for (const char *p = strstr(from, needle); p && (!end || p < end); p = strstr(p + 1, needle)) n++;
    return n;
}

static uint64_t handle_of(const char *r) {
    const char *p = r ? strstr(r, "\"handle\":") : NULL;
    return p ? strtoull(p + 9, NULL, 10) : 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the host's handlers, run by several threads at once ---- */

static uint64_t worker;
static int expected_events;
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static int events_seen;
static char held_event[64];

static void complete(const char *id, const char *result, const char *what) {
    expect_ok(tasker_complete_step_event(worker, id, result), what, 0);
}

static void checkpoint(const char *id, const char *cp, const char *what) {
    expect_ok(tasker_checkpoint_yield_step_event(worker, id, cp), what, 0);
}

/* handle runs one event: ev points at its "event_id", end at the next
 * event's (or the end of the reply). */
static void handle(const char *ev, const char *end) {
    char id[64], step[64], callable[128];
    if (!str_after(ev, end, "event_id", id, sizeof id) || !str_after(ev, end, "step_uuid", step, sizeof step) ||
        !str_after(ev, end, "callable", callable, sizeof callable)) {
        report(0, "event has event_id, step_uuid and step_definition.handler.callable", ev);
        return;
    }
    report(contains(ev, end, "\"task_sequence_step\":{\"task\":{\"task\":{") &&
               contains(ev, end, "\"workflow_step\":{") && contains(ev, end, "\"dependency_results\":{") &&
               contains(ev, end, "\"step_definition\":{"),
           "event has tasker-core's task_sequence_step", ev);
    char result[512];
    if (strcmp(callable, "Capi::First") == 0) {
        report(contains(ev, end, "\"inputs\":{\"greeting\":\"hello\"}") &&
                   contains(ev, end, "\"initialization\":{\"greeting\":\"hello\"}") &&
                   contains(ev, end, "\"attempts\":0") && contains(ev, end, "\"context\":{\"n\":6}"),
               "first step: inputs, initialization, attempts before this run, task context", ev);
        snprintf(result, sizeof result,
                 "{\"step_uuid\":\"%s\",\"success\":true,\"status\":\"completed\",\"result\":{\"value\":21},"
                 "\"metadata\":{\"execution_time_ms\":1,\"custom\":{\"by\":\"c\"}},\"error\":null,"
                 "\"orchestration_metadata\":null}",
                 step);
        complete(id, result, "complete with a StepExecutionResult");
    } else if (strcmp(callable, "Capi::Second") == 0) {
        report(contains(ev, end, "\"dependency_results\":{\"first\":{") && contains(ev, end, "\"result\":{\"value\":21}") &&
                   contains(ev, end, "\"dependencies\":[\"first\"]"),
               "second step sees the first's execution result", ev);
        complete(id, "{\"success\":true,\"result\":{\"doubled\":42}}", "complete with the legacy shape");
    } else if (strcmp(callable, "Capi::Fail") == 0) {
        complete(id,
                 "{\"success\":false,\"status\":\"failed\",\"result\":{},\"metadata\":{\"error_code\":\"DECLINED\"},"
                 "\"error\":{\"message\":\"card declined\",\"error_type\":\"PermanentError\",\"retryable\":false,"
                 "\"backtrace\":[\"abi_test.c:1\"]}}",
                 "complete with a permanent failure");
    } else if (strcmp(callable, "Capi::Flaky") == 0) {
        if (contains(ev, end, "\"attempts\":0")) {
            complete(id,
                     "{\"success\":false,\"status\":\"failed\",\"error\":{\"message\":\"try again\","
                     "\"error_type\":\"RetryableError\",\"retryable\":true},\"orchestration_metadata\":"
                     "{\"backoff_hint\":{\"backoff_type\":\"ServerRequested\",\"delay_seconds\":0}}}",
                     "complete with a retryable failure and a backoff hint");
        } else {
            report(contains(ev, end, "\"attempts\":1"), "the retry shows one attempt made", ev);
            complete(id, "{\"success\":true,\"result\":{\"attempt\":2}}", "complete the retry");
        }
    } else if (strcmp(callable, "Capi::Crunch") == 0) {
        if (contains(ev, end, "\"checkpoint\":null")) {
            expect_code(tasker_checkpoint_yield_step_event(worker, id, "{\"cursor\":10"), "invalid_json",
                        "checkpoint with invalid JSON");
            expect_code(tasker_checkpoint_yield_step_event(worker, id, "{\"cursor\":10}"), "invalid_argument",
                        "checkpoint without items_processed");
            checkpoint(id, "{\"step_uuid\":\"ignored\",\"cursor\":10,\"items_processed\":10,\"accumulated_results\":{\"sum\":55}}",
                       "checkpoint yield");
            expect_code(tasker_complete_step_event(worker, id, "{\"success\":true}"), "unknown_event",
                        "complete a yielded event");
        } else if (contains(ev, end, "\"checkpoint\":{\"cursor\":10,")) {
            report(contains(ev, end, "\"items_processed\":10") && contains(ev, end, "\"accumulated_results\":{\"sum\":55}") &&
                       contains(ev, end, "\"attempts\":0"),
                   "the re-dispatched event carries the checkpoint, attempts unchanged", ev);
            checkpoint(id, "{\"cursor\":20,\"items_processed\":20,\"accumulated_results\":null}", "second checkpoint yield");
        } else {
            report(contains(ev, end, "\"checkpoint\":{\"cursor\":20,") && count(ev, end, "\"timestamp\"") == 3,
                   "the second re-dispatch carries the record with two history entries", ev);
            complete(id, "{\"success\":true,\"result\":{\"total\":20}}", "complete after checkpoints");
        }
    } else if (strcmp(callable, "Capi::BadResult") == 0) {
        expect_code(tasker_complete_step_event(worker, id, "{\"result\":1}"), "invalid_result",
                    "a result without success is invalid_result");
    } else if (strcmp(callable, "Capi::BadJSON") == 0) {
        expect_code(tasker_complete_step_event(worker, id, "{\"success\": tru"), "invalid_json",
                    "a result that is not JSON is invalid_json");
    } else if (strcmp(callable, "Capi::Parallel") == 0) {
        complete(id, "{\"success\":true,\"result\":\"ok\"}", "complete a parallel step");
    } else if (strcmp(callable, "Capi::Hold") == 0) {
        pthread_mutex_lock(&state_mu);
        snprintf(held_event, sizeof held_event, "%s", id);
        pthread_mutex_unlock(&state_mu);
        report(1, "hold an event without completing it", NULL);
    } else {
        report(0, "known callable", callable);
    }
}

/* span_text copies the bytes [s, e) of body into out (NUL-terminated). */
static int span_text(const char *body, long s, long e, char *out, size_t n) {
    if (s < 0 || e < s || (size_t)(e - s) >= n) return 0;
    memcpy(out, body + s, (size_t)(e - s));
    out[e - s] = '\0';
    return 1;
}

/* entry_field copies field n (0-based) of an indexed event's header entry
 * (an array starting at entry) into out, without quotes; the fields read
 * here hold no commas or escapes. */
static int entry_field(const char *entry, int n, char *out, size_t size) {
    const char *p = entry + 1;
    for (int i = 0; i < n; i++) {
        p = strchr(p, ',');
        if (!p) return 0;
        p++;
    }
    const char *q = p + strcspn(p, ",]");
    if (*p == '"') p++, q--;
    if (q < p || (size_t)(q - p) >= size) return 0;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return 1;
}

/* handle_indexed runs the events of a tasker_poll_step_events_indexed
 * reply: a header line with an array per event (its fields, then its
 * spans), then the events' JSON. Each event's header must agree with its
 * JSON, and its spans must hold the parts they name. */
static void handle_indexed(const char *r) {
    const char *nl = strchr(r, '\n');
    if (!nl) {
        report(0, "an indexed reply has a header line", r);
        return;
    }
    const char *body = nl + 1;
    const char *events = strstr(r, "\"events\":[");
    for (const char *h = events ? strstr(events, "[\"") : NULL; h && h < nl;) {
        const char *sp = strstr(h, ",[");
        long v[18];
        int n = 0;
        if (sp && sp < nl) {
            char *p = (char *)sp + 2;
            while (n < 18) {
                v[n++] = strtol(p, &p, 10);
                if (*p != ',') break;
                p++;
            }
        }
        if (n != 18) {
            report(0, "an indexed event lists 9 spans", h);
            return;
        }
        const char *next = strstr(sp, "]],[\"");
        next = next && next < nl ? next + 3 : NULL;
        size_t len = (size_t)(v[1] - v[0]);
        char *ev = malloc(len + 1);
        span_text(body, v[0], v[1], ev, len + 1);
        char hid[64], eid[64], hstep[64], estep[64], hcall[128], ecall[128], name[64], attempts[16], part[4096];
        int agree = entry_field(h, 0, hid, sizeof hid) && str_after(ev, NULL, "event_id", eid, sizeof eid) &&
                    strcmp(hid, eid) == 0 && entry_field(h, 2, hstep, sizeof hstep) &&
                    str_after(ev, NULL, "step_uuid", estep, sizeof estep) && strcmp(hstep, estep) == 0 &&
                    entry_field(h, 4, hcall, sizeof hcall) && str_after(ev, NULL, "callable", ecall, sizeof ecall) &&
                    strcmp(hcall, ecall) == 0;
        report(agree && strncmp(ev, "{\"event_id\":", 12) == 0 && ev[len - 1] == '}',
               "an indexed event's header agrees with its JSON", ev);
        if (strcmp(hcall, "Capi::First") == 0) {
            report(span_text(body, v[4], v[5], part, sizeof part) && strcmp(part, "{\"n\":6}") == 0 &&
                       span_text(body, v[8], v[9], part, sizeof part) && strcmp(part, "{\"greeting\":\"hello\"}") == 0 &&
                       span_text(body, v[16], v[17], part, sizeof part) && strcmp(part, "{\"greeting\":\"hello\"}") == 0 &&
                       span_text(body, v[10], v[11], part, sizeof part) && strcmp(part, "null") == 0 &&
                       entry_field(h, 5, part, sizeof part) && strcmp(part, "call") == 0 &&
                       entry_field(h, 8, name, sizeof name) && strcmp(name, "first") == 0 &&
                       entry_field(h, 9, attempts, sizeof attempts) && strcmp(attempts, "0") == 0,
                   "indexed: the spans of the context, inputs, checkpoint and initialization; method, name, attempts", h);
        } else if (strcmp(hcall, "Capi::Second") == 0) {
            report(span_text(body, v[12], v[13], part, sizeof part) && strncmp(part, "{\"first\":{", 10) == 0 &&
                       span_text(body, v[2], v[3], part, sizeof part) && strncmp(part, "{\"task\":{", 9) == 0,
                   "indexed: the spans of the dependency results and the task", h);
        }
        handle(ev, NULL);
        free(ev);
        h = next;
    }
}

static void *poller(void *arg) {
    int indexed = arg != NULL; /* half the threads poll with the indexed reply */
    double deadline = now_ms() + 90000;
    while (now_ms() < deadline) {
        pthread_mutex_lock(&state_mu);
        int done = events_seen >= expected_events;
        pthread_mutex_unlock(&state_mu);
        if (done) return NULL;
        char *r = indexed ? tasker_poll_step_events_indexed(worker, 4, 500) : tasker_poll_step_events(worker, 4, 500);
        if (!is_ok(r)) {
            report(0, "poll", r);
            tasker_free(r);
            return NULL;
        }
        if (indexed) {
            const char *nl = strchr(r, '\n');
            pthread_mutex_lock(&state_mu);
            events_seen += nl ? count(r, nl, "[\"") : 0;
            pthread_mutex_unlock(&state_mu);
            handle_indexed(r);
            tasker_free(r);
            continue;
        }
        const char *ev = strstr(r, "\"event_id\":\"");
        while (ev) {
            const char *next = strstr(ev + 1, "\"event_id\":\"");
            pthread_mutex_lock(&state_mu);
            events_seen++;
            pthread_mutex_unlock(&state_mu);
            handle(ev, next);
            ev = next;
        }
        tasker_free(r);
    }
    report(0, "every expected event arrived before the deadline", NULL);
    return NULL;
}

/* ---- a poll blocked in its wait ---- */

static char *blocked_reply;
static int blocked_returned;

static void *blocked_poller(void *arg) {
    (void)arg;
    char *r = tasker_poll_step_events(worker, 1, 60000);
    pthread_mutex_lock(&state_mu);
    blocked_reply = r;
    blocked_returned = 1;
    pthread_mutex_unlock(&state_mu);
    return NULL;
}

static int blocked_done(void) {
    pthread_mutex_lock(&state_mu);
    int d = blocked_returned;
    pthread_mutex_unlock(&state_mu);
    return d;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s TEMPLATE_DIR EXPECTED_EVENTS\n", argv[0]);
        return 100;
    }
    const char *templates = argv[1];
    expected_events = atoi(argv[2]);
    char cfg[2048];

    /* Before any worker. */
    report(tasker_abi_version() == TASKER_ABI_VERSION, "abi version", NULL);
    tasker_free(NULL);
    char *mine = malloc(32);
    strcpy(mine, "not the library's");
    tasker_free(mine); /* ignored: the library did not allocate it */
    report(strcmp(mine, "not the library's") == 0, "tasker_free ignores memory it did not allocate", NULL);
    free(mine);
    char *twice = tasker_log(0, "info", "abi test starting", "{\"program\":\"abi_test\"}");
    report(is_ok(twice), "log on the process logger (handle 0)", twice);
    tasker_free(twice);
    tasker_free(twice); /* a double free is ignored */
    expect_code(tasker_log(0, "loud", "x", NULL), "invalid_argument", "log with an unknown level");
    expect_code(tasker_log(0, NULL, "x", NULL), "invalid_argument", "log with a NULL level");
    expect_code(tasker_log(0, "info", NULL, NULL), "invalid_argument", "log with a NULL message");
    expect_code(tasker_log(0, "info", "x", "[1,2]"), "invalid_argument", "log fields that are not an object");
    expect_code(tasker_log(0, "info", "x", "{\"a\":"), "invalid_json", "log fields that are not JSON");
    expect_code(tasker_worker_bootstrap(NULL), "invalid_argument", "bootstrap with NULL");
    expect_code(tasker_worker_bootstrap("{not json"), "invalid_json", "bootstrap with invalid JSON");
    expect_code(tasker_worker_bootstrap("{\"language\":\"\xff\"}"), "invalid_json", "bootstrap with invalid UTF-8");
    expect_code(tasker_worker_bootstrap("{\"callables\":[],\"language\":\"c\"}"), "invalid_config",
                "bootstrap without callables");
    expect_code(tasker_worker_bootstrap("{\"callables\":[\"A\"],\"language\":\"c\",\"colour\":1}"), "invalid_config",
                "bootstrap with an unknown key");
    expect_code(tasker_worker_bootstrap("{\"callables\":[\"A\"],\"language\":\"c\",\"poll_spin_us\":-1}"), "invalid_config",
                "bootstrap with a negative poll spin");
    expect_code(tasker_worker_bootstrap("{\"callables\":[\"A\"],\"language\":\"c\",\"overrides\":{\"worker\":"
                                        "{\"handlers\":{\"max_concurrent\":0}}}}"),
                "invalid_config", "bootstrap with an invalid override");
    expect_code(tasker_worker_bootstrap("{\"callables\":[\"A\"],\"language\":\"c\",\"database_url\":"
                                        "\"postgres://nobody@127.0.0.1:1/x?connect_timeout=2\"}"),
                "bootstrap_failed", "bootstrap against a database that does not answer");
    expect_code(tasker_poll_step_events(12345, 1, 0), "unknown_handle", "poll an unknown handle");
    expect_code(tasker_poll_step_events_indexed(12345, 1, 0), "unknown_handle", "indexed poll of an unknown handle");
    expect_code(tasker_worker_status(0), "unknown_handle", "status of handle 0");
    expect_code(tasker_stop(12345, 0), "unknown_handle", "stop an unknown handle");

    /* The worker: database, schema and environment come from the
     * environment variables, as for tasker-worker. */
    snprintf(cfg, sizeof cfg,
             "{\"callables\":[\"Capi::First\",\"Capi::Second\",\"Capi::Fail\",\"Capi::Flaky\",\"Capi::Crunch\","
             "\"Capi::BadResult\",\"Capi::BadJSON\",\"Capi::Parallel\",\"Capi::Hold\"],\"language\":\"c\","
             "\"template_paths\":[\"%s\"],\"poll_spin_us\":100,\"overrides\":{\"worker\":{\"shutdown_grace\":\"1s\","
             "\"handlers\":{\"max_concurrent\":16,\"adaptive\":false}}}}",
             templates);
    char *boot = tasker_worker_bootstrap(cfg);
    worker = handle_of(boot);
    report(is_ok(boot) && worker > 0 && strstr(boot, "\"worker_id\":\"c-worker-") && strstr(boot, "\"namespaces\":[\"abi_ns\"]") &&
               strstr(boot, "\"environment\":\"test\""),
           "bootstrap", boot);
    tasker_free(boot);
    if (worker == 0) {
        printf("cannot go on without a worker\n");
        return 100;
    }

    /* Misuse with a live handle. */
    expect_code(tasker_poll_step_events(worker, 0, 0), "invalid_argument", "poll 0 events");
    expect_code(tasker_poll_step_events(worker, 1001, 0), "invalid_argument", "poll 1001 events");
    expect_code(tasker_poll_step_events(worker, 1, -1), "invalid_argument", "poll with a negative wait");
    expect_code(tasker_poll_step_events(worker, 1, 60001), "invalid_argument", "poll with too long a wait");
    expect_code(tasker_poll_step_events_indexed(worker, 0, 0), "invalid_argument", "indexed poll of 0 events");
    expect_code(tasker_poll_step_events_indexed(worker, 1001, 0), "invalid_argument", "indexed poll of 1001 events");
    expect_code(tasker_poll_step_events_indexed(worker, 1, -1), "invalid_argument", "indexed poll with a negative wait");
    expect_code(tasker_poll_step_events_indexed(worker, 1, 60001), "invalid_argument", "indexed poll with too long a wait");
    expect_code(tasker_complete_step_event(worker, "no-such-event", "{\"success\":true}"), "unknown_event",
                "complete an unknown event");
    expect_code(tasker_complete_step_event(worker, NULL, "{}"), "invalid_argument", "complete with a NULL event id");
    expect_code(tasker_complete_step_event(worker, "x", NULL), "invalid_argument", "complete with a NULL result");
    expect_code(tasker_checkpoint_yield_step_event(worker, "no-such-event", "{\"cursor\":1,\"items_processed\":1}"),
                "unknown_event", "checkpoint an unknown event");
    expect_code(tasker_checkpoint_yield_step_event(worker, "x", NULL), "invalid_argument", "checkpoint with NULL");

    /* Serve every step from four threads at once. */
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, poller, i % 2 ? (void *)1 : NULL);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    report(events_seen == expected_events, "every expected event was served once", NULL);
    report(held_event[0] != '\0', "the held event arrived", NULL);

    /* Status, health, metrics, log. */
    char *st = tasker_worker_status(worker);
    report(is_ok(st) && strstr(st, "\"state\":\"running\"") && strstr(st, "\"running\":true") &&
               strstr(st, "\"in_flight\":1") && strstr(st, "\"max_concurrent\":16") && strstr(st, "\"Capi::Hold\""),
           "status", st);
    tasker_free(st);
    char *health = tasker_health(worker);
    report(is_ok(health) && strstr(health, "\"health\":{") && strstr(health, "\"status\":\"healthy\""), "health", health);
    tasker_free(health);
    char *metrics = tasker_metrics(worker);
    report(is_ok(metrics) && strstr(metrics, "\"content_type\":\"text/plain") &&
               strstr(metrics, "tasker_worker_checkpoints_total") && strstr(metrics, "tasker_worker_steps_claimed_total"),
           "metrics", metrics ? "(metrics reply)" : NULL);
    tasker_free(metrics);
    expect_ok(tasker_log(worker, "info", "served every step", "{\"events\":1}"), "log into the worker's log", 0);
    expect_ok(tasker_log(worker, "trace", "a trace line", NULL), "log at trace", 0);

    /* A poll blocked in its wait holds nothing: other calls go on, and
     * stop wakes it. */
    pthread_t waiter;
    pthread_create(&waiter, NULL, blocked_poller, NULL);
    int waiting = 0;
    for (double deadline = now_ms() + 10000; now_ms() < deadline && !waiting;) {
        char *s = tasker_worker_status(worker);
        waiting = s && strstr(s, "\"waiting_polls\":1") != NULL;
        tasker_free(s);
        if (!waiting) pause_ms(1);
    }
    report(waiting, "the poll waits", NULL);
    expect_ok(tasker_worker_status(worker), "status while a poll waits", 0);
    expect_ok(tasker_log(worker, "debug", "while a poll waits", NULL), "log while a poll waits", 0);
    expect_ok(tasker_health(worker), "health while a poll waits", 0);
    expect_code(tasker_complete_step_event(worker, "no-such-event", "{\"success\":true}"), "unknown_event",
                "complete while a poll waits");
    report(!blocked_done(), "the waiting poll is still waiting", NULL);

    char *bs = tasker_begin_shutdown(worker);
    report(is_ok(bs) && strstr(bs, "\"state\":\"stopping\""), "begin shutdown", bs);
    tasker_free(bs);
    expect_ok(tasker_begin_shutdown(worker), "begin shutdown again", 0);
    char *p = tasker_poll_step_events(worker, 1, 0);
    report(is_ok(p) && strstr(p, "\"state\":\"stopping\"") && strstr(p, "\"events\":[]"), "poll while stopping", p);
    tasker_free(p);
    p = tasker_poll_step_events_indexed(worker, 1, 0);
    report(is_ok(p) && strcmp(p, "{\"ok\":true,\"events\":[],\"state\":\"stopping\"}\n") == 0,
           "indexed poll while stopping: the header line alone", p);
    tasker_free(p);

    double began = now_ms();
    char *stop = tasker_stop(worker, 3000);
    double took = now_ms() - began;
    report(is_ok(stop) && strstr(stop, "\"state\":\"stopped\"") && strstr(stop, "\"released\":1"),
           "stop releases the held event", stop);
    tasker_free(stop);
    printf("STOP_MS %.0f\n", took);
    pthread_join(waiter, NULL);
    report(is_ok(blocked_reply) && strstr(blocked_reply, "\"state\":\"stopped\"") &&
               strstr(blocked_reply, "\"events\":[]"),
           "stop wakes the waiting poll with state stopped", blocked_reply);
    tasker_free(blocked_reply);

    /* After stop. */
    expect_code(tasker_stop(worker, 0), "unknown_handle", "double stop");
    expect_code(tasker_poll_step_events(worker, 1, 0), "unknown_handle", "poll after stop");
    expect_code(tasker_poll_step_events_indexed(worker, 1, 0), "unknown_handle", "indexed poll after stop");
    expect_code(tasker_complete_step_event(worker, held_event, "{\"success\":true}"), "unknown_handle",
                "complete after stop");
    expect_code(tasker_checkpoint_yield_step_event(worker, held_event, "{\"cursor\":1,\"items_processed\":1}"),
                "unknown_handle", "checkpoint after stop");
    expect_code(tasker_worker_status(worker), "unknown_handle", "status after stop");
    expect_code(tasker_health(worker), "unknown_handle", "health after stop");
    expect_code(tasker_metrics(worker), "unknown_handle", "metrics after stop");
    expect_code(tasker_log(worker, "info", "x", NULL), "unknown_handle", "log after stop");
    expect_code(tasker_begin_shutdown(worker), "unknown_handle", "begin shutdown after stop");
    tasker_free(NULL);

    if (failures == 0) {
        printf("ABI TEST PASSED\n");
        return 0;
    }
    printf("ABI TEST FAILED: %d checks\n", failures);
    return failures > 100 ? 100 : failures;
}
