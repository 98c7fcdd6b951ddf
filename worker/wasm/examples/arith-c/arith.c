/*
 * arith.c: the linear and diamond workflows' handlers as a WASM module
 * written in C, to show that the handler ABI (docs/wasm.md) is
 * language-neutral. The results are exactly those of the native Go
 * handlers (workers/native) for numbers up to 2^127; larger ones fail the
 * step. Build with Debian's clang, lld and wasi-libc:
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *         -o arith-c.wasm arith.c
 *
 * The JSON reader below handles exactly what these handlers read; a real
 * handler would use a JSON library.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))

typedef __int128 i128;

/* ---- the ABI: version, allocation, freeing ---- */

EXPORT("tasker_abi_version") int32_t tasker_abi_version(void) { return 1; }

EXPORT("tasker_alloc") void *tasker_alloc(uint32_t size) { return malloc(size ? size : 1); }

EXPORT("tasker_free") void tasker_free(void *ptr, uint32_t size) {
    (void)size;
    free(ptr);
}

/* A growing output buffer. */
typedef struct {
    char *buf;
    size_t len, cap;
} out_t;

static void put(out_t *o, const char *s, size_t n) {
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1) cap *= 2;
        o->buf = realloc(o->buf, cap);
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
}

static void puts_(out_t *o, const char *s) { put(o, s, strlen(s)); }

/* packs the result for the host: address << 32 | length */
static uint64_t finish(out_t *o) { return ((uint64_t)(uintptr_t)o->buf << 32) | (uint64_t)o->len; }

static void put_json_string(out_t *o, const char *s, size_t n) {
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"' || c == '\\') {
            put(o, "\\", 1);
            put(o, &c, 1);
        } else if ((unsigned char)c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            puts_(o, esc);
        } else {
            put(o, &c, 1);
        }
    }
    put(o, "\"", 1);
}

static uint64_t failure(const char *message, const char *error_type) {
    out_t o = {0};
    puts_(&o, "{\"success\":false,\"error\":{\"message\":");
    put_json_string(&o, message, strlen(message));
    puts_(&o, ",\"error_type\":");
    put_json_string(&o, error_type, strlen(error_type));
    puts_(&o, ",\"retryable\":false}}");
    return finish(&o);
}

/* ---- a minimal JSON reader over [p, end) ---- */

static const char *ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* skip one value; NULL when malformed */
static const char *skip(const char *p, const char *end) {
    p = ws(p, end);
    if (p >= end) return NULL;
    if (*p == '"') {
        for (p++; p < end; p++) {
            if (*p == '\\') p++;
            else if (*p == '"') return p + 1;
        }
        return NULL;
    }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = ws(p + 1, end);
        if (p < end && *p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = skip(p, end); /* key */
                if (!p) return NULL;
                p = ws(p, end);
                if (p >= end || *p != ':') return NULL;
                p++;
            }
            p = skip(p, end);
            if (!p) return NULL;
            p = ws(p, end);
            if (p < end && *p == ',') { p++; continue; }
            if (p < end && *p == close) return p + 1;
            return NULL;
        }
    }
    while (p < end && !strchr(",}] \t\r\n", *p)) p++;
    return p;
}

/* the value of key in the object at p, or NULL */
static const char *get(const char *p, const char *end, const char *key) {
    if (!p) return NULL;
    p = ws(p, end);
    if (p >= end || *p != '{') return NULL;
    p = ws(p + 1, end);
    size_t klen = strlen(key);
    while (p < end && *p == '"') {
        const char *k = p + 1;
        const char *kend = skip(p, end);
        if (!kend) return NULL;
        p = ws(kend, end);
        if (p >= end || *p != ':') return NULL;
        p = ws(p + 1, end);
        if ((size_t)(kend - 1 - k) == klen && memcmp(k, key, klen) == 0) return p;
        p = skip(p, end);
        if (!p) return NULL;
        p = ws(p, end);
        if (p < end && *p == ',') p = ws(p + 1, end);
    }
    return NULL;
}

/* reads an integer: a JSON number without fraction, or a string of
 * decimal digits; 0 on success */
static int read_int(const char *p, const char *end, int allow_string, i128 *out) {
    p = ws(p, end);
    const char *q = skip(p, end);
    if (!q) return -1;
    if (*p == '"') {
        if (!allow_string) return -1;
        p++;
        q--;
    }
    int neg = 0;
    if (p < q && *p == '-') { neg = 1; p++; }
    if (p >= q) return -1;
    i128 v = 0;
    const i128 limit = (((i128)1) << 126) / 5; /* keeps v*10+9 below 2^127 */
    for (; p < q; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (v > limit) return -2;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* ---- 128-bit values as JSON: a number within int64, else a string ---- */

static void put_int(out_t *o, i128 v) {
    char digits[48];
    int n = 0, neg = v < 0;
    unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
    do { digits[n++] = (char)('0' + (int)(u % 10)); u /= 10; } while (u);
    int fits = v >= INT64_MIN && v <= INT64_MAX;
    if (!fits) put(o, "\"", 1);
    if (neg) put(o, "-", 1);
    while (n) put(o, &digits[--n], 1);
    if (!fits) put(o, "\"", 1);
}

/* a*b, or -1 when it does not fit in 127 bits */
static int mul(i128 a, i128 b, i128 *out) {
    if (__builtin_mul_overflow(a, b, out)) return -1;
    return 0;
}

/* ---- the handlers ---- */

typedef struct {
    const char *end;
    const char *tss; /* task_sequence_step */
} event_t;

static event_t parse(const char *ev, uint32_t len) {
    event_t e = {ev + len, NULL};
    e.tss = get(ev, e.end, "task_sequence_step");
    return e;
}

static int step_number(event_t *e) {
    const char *ws_ = get(e->tss, e->end, "workflow_step");
    const char *n = get(get(ws_, e->end, "inputs"), e->end, "step_number");
    i128 v;
    if (n && read_int(n, e->end, 0, &v) == 0 && v > 0 && v < 1000000) return (int)v;
    return 0;
}

static uint64_t square_result(event_t *e, i128 n, const char *source) {
    i128 sq;
    if (mul(n, n, &sq)) return failure("the square exceeds 127 bits: the C example's limit", "PermanentError");
    out_t o = {0};
    puts_(&o, "{\"success\":true,\"result\":{\"result\":");
    put_int(&o, sq);
    puts_(&o, ",\"operation\":\"square\",\"input\":");
    put_int(&o, n);
    puts_(&o, ",\"source\":");
    put_json_string(&o, source, strlen(source));
    int k = step_number(e);
    if (k > 0) {
        char buf[32];
        snprintf(buf, sizeof buf, ",\"step_number\":%d", k);
        puts_(&o, buf);
    }
    puts_(&o, "}}");
    return finish(&o);
}

static uint64_t square_input(const char *ev, uint32_t len) {
    event_t e = parse(ev, len);
    const char *task = get(get(e.tss, e.end, "task"), e.end, "task");
    const char *n = get(get(task, e.end, "context"), e.end, "even_number");
    if (!n) return failure("task context must contain even_number", "ValidationError");
    i128 v;
    if (*n == '"' || *n == 'n' || read_int(n, e.end, 0, &v) != 0) {
        char msg[96];
        const char *q = skip(n, e.end);
        int shown = q ? (int)(q - n) : 0;
        snprintf(msg, sizeof msg, "even_number must be an integer, got %.*s", shown > 40 ? 40 : shown, n);
        return failure(msg, "ValidationError");
    }
    if (v % 2 != 0) {
        out_t o = {0};
        puts_(&o, "even_number must be even, got ");
        put_int(&o, v);
        uint64_t r = failure(o.buf, "ValidationError");
        free(o.buf);
        return r;
    }
    return square_result(&e, v, "even_number");
}

/* reads the number an ancestor produced: its result's "result" field, or
 * the result itself when it is a bare number or string */
static int dependency(event_t *e, const char *name, i128 *out, uint64_t *fail) {
    const char *dep = get(get(e->tss, e->end, "dependency_results"), e->end, name);
    char msg[160];
    if (!dep) {
        snprintf(msg, sizeof msg, "step has no completed ancestor \"%s\"", name);
        *fail = failure(msg, "PermanentError");
        return -1;
    }
    const char *r = get(dep, e->end, "result");
    const char *field = r && *ws(r, e->end) == '{' ? get(r, e->end, "result") : r;
    if (!field || read_int(field, e->end, 1, out) != 0) {
        snprintf(msg, sizeof msg, "result of step \"%s\" is not an integer", name);
        *fail = failure(msg, "PermanentError");
        return -1;
    }
    return 0;
}

static uint64_t square_of(const char *ev, uint32_t len, const char *from) {
    event_t e = parse(ev, len);
    i128 n;
    uint64_t fail;
    if (dependency(&e, from, &n, &fail)) return fail;
    return square_result(&e, n, from);
}

static uint64_t multiply_square(const char *ev, uint32_t len, const char *a, const char *b) {
    event_t e = parse(ev, len);
    i128 x, y, product, sq;
    uint64_t fail;
    if (dependency(&e, a, &x, &fail) || dependency(&e, b, &y, &fail)) return fail;
    if (mul(x, y, &product) || mul(product, product, &sq))
        return failure("the product exceeds 127 bits: the C example's limit", "PermanentError");
    out_t o = {0};
    puts_(&o, "{\"success\":true,\"result\":{\"result\":");
    put_int(&o, sq);
    puts_(&o, ",\"operation\":\"multiply_and_square\",\"inputs\":{");
    put_json_string(&o, a, strlen(a));
    put(&o, ":", 1);
    put_int(&o, x);
    put(&o, ",", 1);
    put_json_string(&o, b, strlen(b));
    put(&o, ":", 1);
    put_int(&o, y);
    puts_(&o, "},\"product\":");
    put_int(&o, product);
    puts_(&o, "}}");
    return finish(&o);
}

EXPORT("linear_step_1") uint64_t linear_step_1(const char *ev, uint32_t len) { return square_input(ev, len); }
EXPORT("linear_step_2") uint64_t linear_step_2(const char *ev, uint32_t len) { return square_of(ev, len, "linear_step_1"); }
EXPORT("linear_step_3") uint64_t linear_step_3(const char *ev, uint32_t len) { return square_of(ev, len, "linear_step_2"); }
EXPORT("linear_step_4") uint64_t linear_step_4(const char *ev, uint32_t len) { return square_of(ev, len, "linear_step_3"); }
EXPORT("diamond_start") uint64_t diamond_start(const char *ev, uint32_t len) { return square_input(ev, len); }
EXPORT("diamond_branch_b") uint64_t diamond_branch_b(const char *ev, uint32_t len) { return square_of(ev, len, "diamond_start"); }
EXPORT("diamond_branch_c") uint64_t diamond_branch_c(const char *ev, uint32_t len) { return square_of(ev, len, "diamond_start"); }
EXPORT("diamond_end") uint64_t diamond_end(const char *ev, uint32_t len) {
    return multiply_square(ev, len, "diamond_branch_b", "diamond_branch_c");
}

/* the C example's own trap, for the tests: a real wasm trap */
EXPORT("trap") uint64_t trap(const char *ev, uint32_t len) {
    (void)ev;
    (void)len;
    __builtin_trap();
}
