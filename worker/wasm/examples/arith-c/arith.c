/*
 * arith.c: the linear, diamond, mixed-DAG and tree workflows' handlers as
 * a WASM module written in C, to show that the handler ABI (docs/wasm.md)
 * is language-neutral. Each step squares the number before it; a
 * convergence multiplies its parents' numbers and squares the product. The
 * results are exactly those of the native Go handlers (workers/native), at
 * any size: numbers are big integers (base 10^9 limbs), written as JSON
 * numbers within int64 and as decimal strings beyond. Build with Debian's
 * clang, lld and wasi-libc:
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

/* ---- big integers ---- */

#define BASE 1000000000u /* 10^9: a limb prints as nine decimal digits */

/* sign and magnitude; limbs least significant first; n == 0 is zero */
typedef struct {
    int neg;
    size_t n;
    uint32_t *d;
} big_t;

static void big_free(big_t *a) {
    free(a->d);
    a->d = NULL;
    a->n = 0;
}

static void big_trim(big_t *a) {
    while (a->n && a->d[a->n - 1] == 0) a->n--;
    if (a->n == 0) a->neg = 0;
}

/* parses [p, q): an optional '-' and decimal digits; 0 on success */
static int big_parse(const char *p, const char *q, big_t *out) {
    int neg = 0;
    if (p < q && *p == '-') { neg = 1; p++; }
    if (p >= q) return -1;
    for (const char *c = p; c < q; c++)
        if (*c < '0' || *c > '9') return -1;
    size_t len = (size_t)(q - p);
    out->d = calloc((len + 8) / 9, sizeof(uint32_t));
    out->n = 0;
    for (const char *e = q; e > p;) {
        const char *b = e - p > 9 ? e - 9 : p;
        uint32_t v = 0;
        for (const char *c = b; c < e; c++) v = v * 10 + (uint32_t)(*c - '0');
        out->d[out->n++] = v;
        e = b;
    }
    out->neg = neg;
    big_trim(out);
    return 0;
}

static big_t big_copy(const big_t *a) {
    big_t r = {a->neg, a->n, calloc(a->n ? a->n : 1, sizeof(uint32_t))};
    memcpy(r.d, a->d, a->n * sizeof(uint32_t));
    return r;
}

static big_t big_one(void) {
    big_t r = {0, 1, calloc(1, sizeof(uint32_t))};
    r.d[0] = 1;
    return r;
}

/* a*b, schoolbook */
static big_t big_mul(const big_t *a, const big_t *b) {
    big_t r = {a->neg != b->neg, a->n + b->n, calloc(a->n + b->n + 1, sizeof(uint32_t))};
    for (size_t i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (size_t j = 0; j < b->n; j++) {
            uint64_t cur = r.d[i + j] + (uint64_t)a->d[i] * b->d[j] + carry;
            r.d[i + j] = (uint32_t)(cur % BASE);
            carry = cur / BASE;
        }
        r.d[i + b->n] = (uint32_t)carry;
    }
    big_trim(&r);
    return r;
}

/* compares magnitudes: -1, 0 or 1 */
static int big_cmp_abs(const big_t *a, const big_t *b) {
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (size_t i = a->n; i-- > 0;)
        if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

/* whether a lies within int64 */
static int big_fits_int64(const big_t *a) {
    static uint32_t maxd[3] = {854775807u, 223372036u, 9u}; /* 2^63-1 */
    big_t max = {0, 3, maxd};
    if (a->neg) maxd[0] = 854775808u; /* -2^63 */
    int c = big_cmp_abs(a, &max);
    maxd[0] = 854775807u;
    return c <= 0;
}

/* writes a's decimal digits, quoted when asked */
static void put_digits(out_t *o, const big_t *a, int quoted) {
    char buf[16];
    if (quoted) put(o, "\"", 1);
    if (a->neg) put(o, "-", 1);
    if (a->n == 0) put(o, "0", 1);
    for (size_t i = a->n; i-- > 0;) {
        snprintf(buf, sizeof buf, i == a->n - 1 ? "%u" : "%09u", (unsigned)a->d[i]);
        puts_(o, buf);
    }
    if (quoted) put(o, "\"", 1);
}

/* a as JSON: a number within int64, else a decimal string */
static void put_int(out_t *o, const big_t *a) { put_digits(o, a, !big_fits_int64(a)); }

/* reads an integer: a JSON number without fraction or exponent, or (when
 * allowed) a string of decimal digits; 0 on success */
static int read_int(const char *p, const char *end, int allow_string, big_t *out) {
    p = ws(p, end);
    const char *q = skip(p, end);
    if (!q) return -1;
    if (*p == '"') {
        if (!allow_string) return -1;
        p = ws(p + 1, q - 1); /* the Go handlers trim the string */
        q--;
        while (q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\n' || q[-1] == '\r')) q--;
    }
    return big_parse(p, q, out);
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
    big_t v = {0};
    int k = 0;
    if (n && read_int(n, e->end, 0, &v) == 0 && !v.neg && v.n == 1) k = (int)v.d[0];
    big_free(&v);
    return k;
}

static uint64_t square_result(event_t *e, const big_t *n, const char *source) {
    big_t sq = big_mul(n, n);
    out_t o = {0};
    puts_(&o, "{\"success\":true,\"result\":{\"result\":");
    put_int(&o, &sq);
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
    big_free(&sq);
    return finish(&o);
}

static uint64_t square_input(const char *ev, uint32_t len) {
    event_t e = parse(ev, len);
    const char *task = get(get(e.tss, e.end, "task"), e.end, "task");
    const char *n = get(get(task, e.end, "context"), e.end, "even_number");
    if (!n) return failure("task context must contain even_number", "ValidationError");
    big_t v = {0};
    if (*n == '"' || *n == 'n' || read_int(n, e.end, 0, &v) != 0) {
        char msg[96];
        const char *q = skip(n, e.end);
        int shown = q ? (int)(q - n) : 0;
        snprintf(msg, sizeof msg, "even_number must be an integer, got %.*s", shown > 40 ? 40 : shown, n);
        big_free(&v);
        return failure(msg, "ValidationError");
    }
    if (v.n && v.d[0] % 2 != 0) { /* 10^9 is even: the lowest limb decides */
        out_t o = {0};
        puts_(&o, "even_number must be even, got ");
        put_digits(&o, &v, 0);
        uint64_t r = failure(o.buf, "ValidationError");
        free(o.buf);
        big_free(&v);
        return r;
    }
    uint64_t r = square_result(&e, &v, "even_number");
    big_free(&v);
    return r;
}

/* reads the number an ancestor produced: its result's "result" field, or
 * the result itself when it is a bare number or string */
static int dependency(event_t *e, const char *name, big_t *out, uint64_t *fail) {
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
    big_t n = {0};
    uint64_t fail;
    if (dependency(&e, from, &n, &fail)) return fail;
    uint64_t r = square_result(&e, &n, from);
    big_free(&n);
    return r;
}

/* how a convergence step shapes its result */
typedef struct {
    const char *operation;
    const char *ceiling; /* saturate the product and the square here (NULL: exact) */
    int as_string;       /* the result always as a decimal string */
} converge_t;

/* 2^128-1: the mixed DAG's final product and square saturate here */
static const char u128_max[] = "340282366920938463463374607431768211455";

/* multiplies the numbers of the ancestors names[0..count) and squares the
 * product */
static uint64_t multiply_square(const char *ev, uint32_t len, converge_t c, const char **names, int count) {
    event_t e = parse(ev, len);
    big_t in[8];
    big_t product = big_one();
    uint64_t fail;
    for (int i = 0; i < count; i++) {
        if (dependency(&e, names[i], &in[i], &fail)) {
            for (int j = 0; j < i; j++) big_free(&in[j]);
            big_free(&product);
            return fail;
        }
        big_t p = big_mul(&product, &in[i]);
        big_free(&product);
        product = p;
    }
    big_t sq = big_mul(&product, &product);
    int saturated = 0;
    if (c.ceiling) {
        big_t ceiling = {0};
        big_parse(c.ceiling, c.ceiling + strlen(c.ceiling), &ceiling);
        if (big_cmp_abs(&sq, &ceiling) > 0 && !sq.neg) {
            big_free(&sq);
            sq = big_copy(&ceiling);
            saturated = 1;
        }
        if (big_cmp_abs(&product, &ceiling) > 0 && !product.neg) {
            big_free(&product);
            product = big_copy(&ceiling);
            saturated = 1;
        }
        big_free(&ceiling);
    }
    out_t o = {0};
    puts_(&o, "{\"success\":true,\"result\":{\"result\":");
    if (c.as_string) put_digits(&o, &sq, 1);
    else put_int(&o, &sq);
    puts_(&o, ",\"operation\":");
    put_json_string(&o, c.operation, strlen(c.operation));
    puts_(&o, ",\"inputs\":{");
    for (int i = 0; i < count; i++) {
        if (i) put(&o, ",", 1);
        put_json_string(&o, names[i], strlen(names[i]));
        put(&o, ":", 1);
        put_int(&o, &in[i]);
        big_free(&in[i]);
    }
    puts_(&o, "},\"product\":");
    put_int(&o, &product);
    if (saturated) puts_(&o, ",\"saturated\":true");
    puts_(&o, "}}");
    big_free(&product);
    big_free(&sq);
    return finish(&o);
}

#define SQUARE_INPUT(name) \
    EXPORT(#name) uint64_t name(const char *ev, uint32_t len) { return square_input(ev, len); }
#define SQUARE_OF(name, from) \
    EXPORT(#name) uint64_t name(const char *ev, uint32_t len) { return square_of(ev, len, #from); }
#define CONVERGE(name, op, ceiling, as_string, ...)                                 \
    EXPORT(#name) uint64_t name(const char *ev, uint32_t len) {                     \
        static const char *names[] = {__VA_ARGS__};                                 \
        converge_t c = {op, ceiling, as_string};                                    \
        return multiply_square(ev, len, c, names, (int)(sizeof names / sizeof *names)); \
    }

SQUARE_INPUT(linear_step_1)
SQUARE_OF(linear_step_2, linear_step_1)
SQUARE_OF(linear_step_3, linear_step_2)
SQUARE_OF(linear_step_4, linear_step_3)

SQUARE_INPUT(diamond_start)
SQUARE_OF(diamond_branch_b, diamond_start)
SQUARE_OF(diamond_branch_c, diamond_start)
CONVERGE(diamond_end, "multiply_and_square", NULL, 0, "diamond_branch_b", "diamond_branch_c")

SQUARE_INPUT(dag_init)
SQUARE_OF(dag_process_left, dag_init)
SQUARE_OF(dag_process_right, dag_init)
CONVERGE(dag_validate, "multiply_and_square", NULL, 0, "dag_process_left", "dag_process_right")
SQUARE_OF(dag_transform, dag_process_left)
SQUARE_OF(dag_analyze, dag_process_right)
CONVERGE(dag_finalize, "multiply_three_and_square", u128_max, 0, "dag_validate", "dag_transform", "dag_analyze")

SQUARE_INPUT(tree_root)
SQUARE_OF(tree_branch_left, tree_root)
SQUARE_OF(tree_branch_right, tree_root)
SQUARE_OF(tree_leaf_d, tree_branch_left)
SQUARE_OF(tree_leaf_e, tree_branch_left)
SQUARE_OF(tree_leaf_f, tree_branch_right)
SQUARE_OF(tree_leaf_g, tree_branch_right)
CONVERGE(tree_final_convergence, "multiply_all_and_square", NULL, 1, "tree_leaf_d", "tree_leaf_e", "tree_leaf_f", "tree_leaf_g")

/* the C example's own trap, for the tests: a real wasm trap */
EXPORT("trap") uint64_t trap(const char *ev, uint32_t len) {
    (void)ev;
    (void)len;
    __builtin_trap();
}
