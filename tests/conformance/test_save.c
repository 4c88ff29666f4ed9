/* Clauses SAVE.* (docs/SPEC.md sections 4 to 7): save_begin, save_continue, save_end and the
 * saved image, driven only through the plug-in's ABI table.
 *
 * Most tests read a session through one_call(), which calls save_continue into a buffer with
 * a guard zone either side, every byte set to a position-dependent pattern, and the two
 * out-parameters preset to a sentinel, and records what changed. Expected images come from a
 * one-shot save into a large buffer (ref_take), and chunk boundaries from the independent
 * parser of the fixture, never from the implementation. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/check.h"
#include "support/fixture.h"
#include "support/util.h"

static bool has_cap(vt_env *e, uint64_t cap)
{
    return (e->v->capabilities & cap) != 0;
}

/* ---- buffer sizes ----------------------------------------------------------------------- */

#define SENTINEL 0xDEADBEEFu
#define GUARD 64u
#define MAXC VMBSAVE_MAX_CHUNK_BYTES
#define LARGE ((1u << 20) + 7u) /* more than any image these tests build */
#define ONE_SHOT LARGE          /* the expected image, read in one call */

/* Tokens in a size sequence, resolved against the previous call's BytesRequired. */
#define SZ_REQ 0xFFFFFF01u    /* BytesRequired (0, a size query, before the first call) */
#define SZ_REQ_M1 0xFFFFFF02u /* BytesRequired - 1 */
#define SZ_REQ_P1 0xFFFFFF03u /* BytesRequired + 1 */

/* ---- one guarded call ------------------------------------------------------------------- */

typedef struct call {
    uint32_t size;
    NTSTATUS st;
    uint32_t filled, required;
    size_t pos;      /* image bytes gathered before this call */
    bool guard_hit;  /* a byte before or after the buffer changed */
    bool wrote_past; /* a byte of the buffer at or after BytesFilled changed (any byte, when the
                        call made no progress) */
} call;

typedef struct session {
    uint8_t *bytes; /* everything the progress calls wrote, in order */
    size_t size, cap;
    call *calls;
    size_t ncalls, capcalls;
    NTSTATUS final; /* SUCCESS, or the status that stopped the session */
} session;

static void session_free(session *s)
{
    free(s->bytes);
    free(s->calls);
    memset(s, 0, sizeof(*s));
}

/* The bytes of two sessions, one after the other (malloc'd). */
static uint8_t *concat(const session *a, const session *b)
{
    uint8_t *all = malloc(a->size + b->size + 1u);
    if (all == NULL)
        fail_msg("test-side malloc failed");
    if (a->size > 0)
        memcpy(all, a->bytes, a->size);
    if (b->size > 0)
        memcpy(all + a->size, b->bytes, b->size);
    return all;
}

/* memcmp that accepts a NULL pointer with a zero size. */
static bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

/* A position-dependent pattern, so that a write of any constant byte shows. */
static uint8_t pat(size_t i)
{
    uint32_t x = (uint32_t)(i + 1u) * 2654435761u;
    return (uint8_t)((x >> 24) ^ (x >> 13) ^ 0x5Au);
}

/* The pattern over the first `n` positions, computed once (the buffers are up to 1 MiB and
 * the tests make thousands of calls). */
static const uint8_t *pattern(size_t n)
{
    static uint8_t *p;
    static size_t have;
    if (n > have) {
        size_t want = n > (size_t)LARGE + 4u * GUARD ? n : (size_t)LARGE + 4u * GUARD;
        uint8_t *np = realloc(p, want);
        if (np == NULL)
            fail_msg("test-side realloc failed");
        for (size_t i = have; i < want; i++)
            np[i] = pat(i);
        p = np;
        have = want;
    }
    return p;
}

static bool is_progress(NTSTATUS s)
{
    return s == STATUS_SUCCESS || s == STATUS_BUFFER_OVERFLOW;
}

/* save_continue with a guarded buffer of `size` bytes (NULL when size is 0 and null_zero).
 * Appends the bytes written to `acc` (if any) and records the call there. */
static call one_call(vt_env *e, vmbsave_channel *ch, uint32_t size, bool null_zero, session *acc)
{
    call c;
    memset(&c, 0, sizeof(c));
    c.size = size;
    c.pos = acc != NULL ? acc->size : 0;
    size_t total = (size_t)size + 2u * GUARD;
    const uint8_t *ref_pat = pattern(total);
    uint8_t *raw = vt_xmalloc(total);
    memcpy(raw, ref_pat, total);
    uint8_t *buf = (size == 0 && null_zero) ? NULL : raw + GUARD;
    uint32_t filled = SENTINEL, required = SENTINEL;
    vmbsave_host_enter(&e->host);
    c.st = e->v->save_continue(ch, buf, size, &filled, &required);
    vmbsave_host_leave(&e->host);
    c.filled = filled;
    c.required = required;

    size_t keep = (is_progress(c.st) && filled <= size) ? filled : 0;
    size_t back = GUARD + (size_t)size;
    c.guard_hit =
        memcmp(raw, ref_pat, GUARD) != 0 || memcmp(raw + back, ref_pat + back, GUARD) != 0;
    c.wrote_past = memcmp(raw + GUARD + keep, ref_pat + GUARD + keep, size - keep) != 0;
    if (acc != NULL) {
        if (keep > 0) {
            if (acc->size + keep > acc->cap) {
                size_t ncap = acc->cap * 2u + keep + 4096u;
                uint8_t *nb = realloc(acc->bytes, ncap);
                CHECK(nb != NULL, "test-side realloc failed");
                acc->bytes = nb;
                acc->cap = ncap;
            }
            memcpy(acc->bytes + acc->size, raw + GUARD, keep);
            acc->size += keep;
        }
        if (acc->ncalls == acc->capcalls) {
            size_t ncap = acc->capcalls * 2u + 16u;
            call *nc = realloc(acc->calls, ncap * sizeof(*nc));
            CHECK(nc != NULL, "test-side realloc failed");
            acc->calls = nc;
            acc->capcalls = ncap;
        }
        acc->calls[acc->ncalls++] = c;
    }
    free(raw);
    return c;
}

/* A call that must make no progress and touch nothing: counts both 0, no byte written.
 * Returns its status. */
static NTSTATUS call_nothing(vt_env *e, vmbsave_channel *ch, uint32_t size, bool null_zero)
{
    call c = one_call(e, ch, size, null_zero, NULL);
    CHECK(c.filled == 0 && c.required == 0,
          "save_continue(size %u) -> %s with BytesFilled %u, BytesRequired %u; both must be 0",
          size, vt_status_str(c.st), c.filled, c.required);
    CHECK(!c.guard_hit && !c.wrote_past, "save_continue(size %u) -> %s wrote to memory", size,
          vt_status_str(c.st));
    return c.st;
}

/* The boundary sizes a caller may use when it expects nothing: a NULL size query, a real
 * size-0 buffer, 1 byte, a chunk header, the max chunk, and a large buffer. */
static const uint32_t k_probe_sizes[] = {0, 0, 1, 40, MAXC, LARGE};

static void expect_nothing_all_sizes(vt_env *e, vmbsave_channel *ch, NTSTATUS want)
{
    for (size_t i = 0; i < sizeof(k_probe_sizes) / sizeof(k_probe_sizes[0]); i++) {
        NTSTATUS s = call_nothing(e, ch, k_probe_sizes[i], i == 0);
        CHECK(s == want, "save_continue(size %u) returned %s, expected %s", k_probe_sizes[i],
              vt_status_str(s), vt_status_str(want));
    }
}

/* ---- reading a session with a size strategy --------------------------------------------- */

typedef struct strategy {
    const char *name;
    const uint32_t *seq; /* cycled */
    size_t n;
    uint64_t seed;  /* non-zero: pseudo-random sizes instead of seq */
    bool zero_real; /* size-0 calls pass a real pointer rather than NULL */
} strategy;

static uint32_t resolve(uint32_t tok, uint32_t req)
{
    switch (tok) {
    case SZ_REQ: return req;
    case SZ_REQ_M1: return req > 0 ? req - 1u : 0u;
    case SZ_REQ_P1: return req + 1u;
    default: return tok;
    }
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: reproducible sizes from a seed. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static uint32_t random_size(uint64_t *rng, uint32_t req)
{
    uint64_t r = rng_next(rng);
    switch (r % 11u) {
    case 0: return 0;
    case 1: return 1;
    case 2: return req > 0 ? req - 1u : 0u;
    case 3: return req;
    case 4: return req + 1u;
    case 5: return (uint32_t)((r >> 8) % (2u * (uint64_t)req + 2u));
    case 6: return MAXC;
    case 7: return MAXC - 1u;
    case 8: return (uint32_t)((r >> 8) % LARGE);
    case 9: return 39u + (uint32_t)((r >> 8) % 3u);
    default: return (uint32_t)((r >> 8) % 4097u);
    }
}

/* Calls save_continue (no begin, no end) until SUCCESS or a status other than OVERFLOW and
 * TOO_SMALL. A caller that keeps failing to progress falls back to BytesRequired, as a real
 * caller answering TOO_SMALL would. */
static void read_all(vt_env *e, vmbsave_channel *ch, const strategy *s, session *out)
{
    memset(out, 0, sizeof(*out));
    uint32_t req = 0;
    unsigned stalls = 0;
    unsigned limit = s->n > 3 ? (unsigned)s->n : 3u;
    size_t i = 0;
    uint64_t rng = s->seed;
    for (;;) {
        uint32_t size;
        if (stalls >= limit)
            size = req;
        else if (s->seed != 0)
            size = random_size(&rng, req);
        else
            size = resolve(s->seq[i++ % s->n], req);
        call c = one_call(e, ch, size, !s->zero_real, out);
        if (c.st == STATUS_SUCCESS) {
            out->final = c.st;
            return;
        }
        if (c.st == STATUS_BUFFER_OVERFLOW && c.filled > 0 && c.filled <= size)
            stalls = 0;
        else if (c.st == STATUS_BUFFER_OVERFLOW || c.st == STATUS_BUFFER_TOO_SMALL)
            stalls++;
        else {
            out->final = c.st;
            return;
        }
        req = c.required;
        CHECK(stalls <= limit + 3u && out->ncalls < 200000u,
              "strategy %s: no progress (last call size %u -> %s, BytesFilled %u, "
              "BytesRequired %u)",
              s->name, size, vt_status_str(c.st), c.filled, c.required);
    }
}

/* begin, read_all, end. */
static void save_with(vt_env *e, vmbsave_channel *ch, const strategy *s, session *out)
{
    EXPECT_OK(e, e->v->save_begin(ch));
    read_all(e, ch, s, out);
    vt_save_end(e, ch);
}

static const uint32_t k_seq_brief[] = {0, 1, 39, 40, 41, 4096, 65535};
static const uint32_t k_seq_max[] = {MAXC};
static const uint32_t k_seq_large[] = {LARGE};
static const uint32_t k_seq_exact[] = {0, SZ_REQ};            /* size query, exact read */
static const uint32_t k_seq_tight[] = {1, SZ_REQ_M1, SZ_REQ}; /* TOO_SMALL twice, then exact */
static const uint32_t k_seq_plus1[] = {SZ_REQ_P1};
static const uint32_t k_seq_mixed[] = {MAXC - 1u, 1, MAXC, SZ_REQ_M1, 0, 0, SZ_REQ, 41, 100000};

#define SEQ(a) (a), (sizeof(a) / sizeof((a)[0]))
static const strategy k_strategies[] = {
    {"large", SEQ(k_seq_large), 0, false},
    {"max-chunk", SEQ(k_seq_max), 0, false},
    {"{0,1,39,40,41,4096,65535}", SEQ(k_seq_brief), 0, false},
    {"{0,1,39,40,41,4096,65535} real ptr", SEQ(k_seq_brief), 0, true},
    {"query+exact", SEQ(k_seq_exact), 0, false},
    {"1,req-1,req", SEQ(k_seq_tight), 0, false},
    {"req+1", SEQ(k_seq_plus1), 0, false},
    {"mixed", SEQ(k_seq_mixed), 0, true},
    {"random-1", NULL, 0, UINT64_C(0x9E3779B97F4A7C15), false},
    {"random-2", NULL, 0, UINT64_C(0x0123456789ABCDEF), true},
};
#define N_STRATEGIES (sizeof(k_strategies) / sizeof(k_strategies[0]))

/* ---- reference images ------------------------------------------------------------------- */

typedef struct ref {
    vt_image img;
    vt_chunk *ch;
    size_t n;
} ref;

static void ref_take(vt_env *e, vmbsave_channel *ch, ref *r)
{
    vt_save(e, ch, ONE_SHOT, &r->img);
    long n = vt_chunks(r->img.bytes, r->img.size, NULL, 0);
    CHECK(n >= 2, "the image does not parse as chunks (%ld)", n);
    r->ch = vt_xmalloc((size_t)n * sizeof(*r->ch));
    vt_chunks(r->img.bytes, r->img.size, r->ch, (size_t)n);
    r->n = (size_t)n;
}

static void ref_free(ref *r)
{
    vt_image_free(&r->img);
    free(r->ch);
    memset(r, 0, sizeof(*r));
}

/* Index of the chunk of r starting at `pos`; r->n at the end; -1 inside a chunk. */
static long ref_index(const ref *r, size_t pos)
{
    if (pos == r->img.size)
        return (long)r->n;
    for (size_t k = 0; k < r->n; k++)
        if (r->ch[k].offset == pos)
            return (long)k;
    return -1;
}

static void expect_image(const ref *r, const uint8_t *bytes, size_t size, const char *how)
{
    CHECK(size == r->img.size, "%s: image of %zu bytes, expected %zu", how, size, r->img.size);
    size_t i = 0;
    while (i < size && bytes[i] == r->img.bytes[i])
        i++;
    CHECK(i == size, "%s: image differs from the expected one at byte %zu (chunk %ld)", how, i,
          ref_index(r, i));
}

/* ---- channels ---------------------------------------------------------------------------- */

/* Beyond the canonical states: boundary shapes of the image. */
enum {
    X_BIG_GPADLS,   /* GPADLs of 4,096 pfns: one 32,828-byte GPADLS chunk each */
    X_BIG_PACKETS,  /* max-payload packets over several PACKETS chunks, and odd ones */
    X_RING_EXACT,   /* 65,488 pending bytes: one RING chunk of exactly 65,536 bytes */
    X_RING_EXACT_P1 /* 65,489 incoming and 1 outgoing: RING chunks of 65,536, 49 and 49 */
};
#define X_COUNT 4
#define N_STATES ((int)VMBSAVE_CANONICAL_COUNT + X_COUNT)

static uint8_t g_data[70000];

static void fill_data(uint32_t salt)
{
    for (size_t i = 0; i < sizeof(g_data); i++)
        g_data[i] = (uint8_t)(pat(i + salt * 977u) ^ salt);
}

static vmbsave_channel *new_enabled(vt_env *e, uint32_t salt)
{
    vmbsave_channel *ch = NULL;
    EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    CHECK(ch != NULL, "channel_allocate gave NULL");
    vmbsave_offer o;
    vt_fill_offer(&o, salt);
    EXPECT_OK(e, e->v->init_set_offer(ch, &o));
    EXPECT_OK(e, e->v->enable(ch));
    return ch;
}

static void gpadl(vt_env *e, vmbsave_channel *ch, uint32_t id, uint32_t pfns)
{
    uint64_t *p = vt_xmalloc(pfns * sizeof(*p));
    for (uint32_t i = 0; i < pfns; i++)
        p[i] = ((uint64_t)id << 32 | (uint64_t)i * 13u) & VMBSAVE_MAX_PFN;
    NTSTATUS s = CALL(e, e->v->gpadl_create(ch, id, p, pfns));
    free(p);
    CHECK(s == STATUS_SUCCESS, "gpadl_create(%u, %u pfns) returned %s", id, pfns, vt_status_str(s));
}

/* ENABLED -> GPADL 1 -> OPEN_RUNNING with rings of ring_bytes (0: the fixture's). */
static vmbsave_channel *open_running(vt_env *e, uint32_t salt, uint32_t ring_bytes)
{
    vmbsave_channel *ch = new_enabled(e, salt);
    gpadl(e, ch, 1, 4);
    vmbsave_open_params p;
    vt_fill_open(&p, 1);
    if (ring_bytes != 0)
        p.incoming_ring_bytes = p.outgoing_ring_bytes = ring_bytes;
    EXPECT_OK(e, e->v->guest_open(ch, &p));
    EXPECT_OK(e, e->v->start(ch));
    return ch;
}

static vmbsave_channel *make_extra(vt_env *e, int which, uint32_t salt)
{
    fill_data(salt);
    vmbsave_channel *ch;
    switch (which) {
    case X_BIG_GPADLS: {
        ch = new_enabled(e, salt);
        gpadl(e, ch, 10, VMBSAVE_MAX_GPADL_PFNS);
        gpadl(e, ch, 13, VMBSAVE_MAX_GPADL_PFNS);
        gpadl(e, ch, 12, 1);
        gpadl(e, ch, 11, VMBSAVE_MAX_GPADL_PFNS);
        EXPECT_OK(e, e->v->gpadl_teardown_begin(ch, 11));
        vmbsave_open_params p;
        vt_fill_open(&p, 12);
        EXPECT_OK(e, e->v->guest_open(ch, &p));
        EXPECT_OK(e, e->v->start(ch));
        EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, g_data, 300));
        break;
    }
    case X_BIG_PACKETS: {
        ch = open_running(e, salt, 0);
        gpadl(e, ch, 2, 2);
        for (uint64_t id = 100; id < 108; id++)
            EXPECT_OK(e, e->v->packet_send(ch, id, id % 2u ? 2u : 0u, g_data + id,
                                           VMBSAVE_MAX_PACKET_PAYLOAD));
        EXPECT_OK(e, e->v->packet_send(ch, 7, 0, NULL, 0));
        EXPECT_OK(e, e->v->packet_send(ch, 201, 2, g_data, 33));
        EXPECT_OK(e, e->v->packet_complete(ch, 103));
        EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, g_data + 5, 5000));
        EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, g_data + 9, 777));
        uint32_t got = 0;
        EXPECT_OK(e, e->v->ring_read(ch, VMBSAVE_RING_INCOMING, g_data + 60000, 1000, &got));
        CHECK(got == 1000, "ring_read read %u bytes", got);
        break;
    }
    case X_RING_EXACT:
        ch = open_running(e, salt, 128u * 1024u);
        EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, g_data,
                                      MAXC - VT_CHUNK_HEADER_BYTES - 8u));
        break;
    case X_RING_EXACT_P1:
        ch = open_running(e, salt, 128u * 1024u);
        EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, g_data,
                                      MAXC - VT_CHUNK_HEADER_BYTES - 8u + 1u));
        EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, g_data + 3, 1));
        break;
    default: fail_msg("unknown extra state %d", which); return NULL;
    }
    EXPECT_OK(e, e->v->pause(ch));
    return ch;
}

static vmbsave_channel *make_state(vt_env *e, int i, uint32_t salt)
{
    if (i < (int)VMBSAVE_CANONICAL_COUNT)
        return vt_make_canonical(e, (vmbsave_canonical_id)i, salt);
    return make_extra(e, i - (int)VMBSAVE_CANONICAL_COUNT, salt);
}

static const char *state_name(int i)
{
    static const char *const x[X_COUNT] = {"X_BIG_GPADLS", "X_BIG_PACKETS", "X_RING_EXACT",
                                           "X_RING_EXACT_P1"};
    if (i < (int)VMBSAVE_CANONICAL_COUNT)
        return vmbsave_canonical_name((vmbsave_canonical_id)i);
    return x[i - (int)VMBSAVE_CANONICAL_COUNT];
}

static void expect_same_desc(const char *a, const char *b, const char *what)
{
    if (strcmp(a, b) != 0) {
        print_error("[%s] %s: descriptions differ\n--- before\n%s--- after\n%s", vt_where, what, a,
                    b);
        fail();
    }
}

/* Restore in progress: the first chunk of `img` given to a fresh channel. */
static vmbsave_channel *restore_in_progress(vt_env *e, const ref *r)
{
    vmbsave_channel *ch = NULL;
    EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    EXPECT_ST(e, e->v->restore_from_buffer(ch, r->img.bytes, (uint32_t)r->ch[0].size),
              STATUS_MORE_PROCESSING_REQUIRED);
    return ch;
}

/* A whole session, read with `st`'s sizes, in which every allocation from the first after
 * save_begin on (`mode` FROM) or only that one (ONCE) fails. How it ended is not checked
 * here: the callers check what it left behind. */
static void alloc_failed_session(vt_env *e, vmbsave_channel *ch, vmbsave_alloc_fault_mode mode,
                                 const strategy *st)
{
    EXPECT_OK(e, e->v->save_begin(ch));
    e->host.fault_mode = mode;
    e->host.fault_at = e->host.alloc_calls + 1u;
    session s;
    read_all(e, ch, st, &s);
    e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
    session_free(&s);
    vt_save_end(e, ch);
}

/* A whole session (begin, read with `st`'s sizes, end) with the scripted driver in `mode`;
 * returns the status it ended with. */
static NTSTATUS driver_mode_session(vt_env *e, vmbsave_channel *ch, vmbsave_save_packet_mode mode,
                                    const strategy *st)
{
    e->host.save_mode = mode;
    session s;
    save_with(e, ch, st, &s);
    e->host.save_mode = VMBSAVE_SAVE_PACKET_STATE;
    NTSTATUS final = s.final;
    session_free(&s);
    return final;
}

/* Reads the rest of a session of which `s` holds the start, with `st`'s sizes, and checks that
 * it ends in SUCCESS and that the start and the rest make r's image. Frees s; returns the
 * image (malloc'd). */
static uint8_t *read_rest(vt_env *e, vmbsave_channel *ch, const ref *r, session *s,
                          const strategy *st, const char *how)
{
    session rest;
    read_all(e, ch, st, &rest);
    CHECK(rest.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(rest.final));
    uint8_t *all = concat(s, &rest);
    expect_image(r, all, s->size + rest.size, how);
    session_free(s);
    session_free(&rest);
    return all;
}

/* Image-equality check of a fresh session with max-chunk buffers. */
static void expect_session_gives(vt_env *e, vmbsave_channel *ch, const ref *r, const char *how)
{
    session s;
    save_with(e, ch, &k_strategies[1], &s);
    CHECK(s.final == STATUS_SUCCESS, "%s: a new session ended with %s", how,
          vt_status_str(s.final));
    expect_image(r, s.bytes, s.size, how);
    session_free(&s);
}

/* A packet mode that makes save_continue fail, where the implementation calls callbacks. */
static bool can_fail_by_callback(vt_env *e, int state)
{
    return has_cap(e, VMBSAVE_CAP_PACKET_CALLBACKS) &&
           (state == (int)VMBSAVE_CANONICAL_PAUSED_PACKETS ||
            state == (int)VMBSAVE_CANONICAL_COUNT + X_BIG_PACKETS);
}

/* ---- every state -------------------------------------------------------------------------- */

/* What a test checks in one state: `ch`, a channel in state i, and r, its expected image. */
typedef void (*state_fn)(vt_env *e, int i, vmbsave_channel *ch, const ref *r);

/* Runs fn on a channel of every state, made with `salt`, with its reference image; WHERE names
 * the state. */
static void each_state(vt_env *e, uint32_t salt, state_fn fn)
{
    for (int i = 0; i < N_STATES; i++) {
        WHERE("%s", state_name(i));
        vmbsave_channel *ch = make_state(e, i, salt);
        ref r;
        ref_take(e, ch, &r);
        fn(e, i, ch, &r);
        ref_free(&r);
        vt_destroy_channel(e, ch);
    }
}

/* each_state in an environment of its own. */
static void every_state(uint32_t salt, state_fn fn)
{
    vt_env *e = vt_env_new();
    each_state(e, salt, fn);
    vt_env_free(e);
}

/* ================================ 4. Save begin ========================================= */

static void t_begin_allowed_states(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int i = 0; i < N_STATES; i++) {
        WHERE("%s", state_name(i));
        vmbsave_channel *ch = make_state(e, i, 1);
        char *d = vt_describe(e, ch);
        CHECK(strstr(d, "state=ENABLED\n") == d || strstr(d, "state=OPEN_PAUSED\n") == d,
              "the test state is not ENABLED or OPEN_PAUSED:\n%s", d);
        for (int round = 0; round < 2; round++) {
            /* Twice: after save_end there is no session, so begin is allowed again. */
            EXPECT_OK(e, e->v->save_begin(ch));
            /* A session is active: a size query answers with a chunk size, not
             * INVALID_DEVICE_STATE, and the session reads to its end. */
            call q = one_call(e, ch, 0, true, NULL);
            CHECK(q.st == STATUS_BUFFER_TOO_SMALL && q.required >= VT_CHUNK_HEADER_BYTES,
                  "size query after save_begin: %s, BytesRequired %u", vt_status_str(q.st),
                  q.required);
            session s;
            read_all(e, ch, &k_strategies[1], &s);
            CHECK(s.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(s.final));
            session_free(&s);
            vt_save_end(e, ch);
        }
        free(d);
        vt_destroy_channel(e, ch);
    }

    /* ENABLED and OPEN_PAUSED reached by other paths: closed by the guest, disabled and
     * enabled again, opened again, and restored from an image. */
    WHERE("re-entered states");
    vmbsave_channel *ch = open_running(e, 3, 0);
    EXPECT_OK(e, e->v->pause(ch));
    EXPECT_OK(e, e->v->save_begin(ch)); /* OPEN_PAUSED from OPEN_RUNNING */
    vt_save_end(e, ch);
    EXPECT_OK(e, e->v->guest_close(ch));
    EXPECT_OK(e, e->v->save_begin(ch)); /* ENABLED after close */
    vt_save_end(e, ch);
    EXPECT_OK(e, e->v->disable(ch));
    EXPECT_OK(e, e->v->enable(ch));
    EXPECT_OK(e, e->v->save_begin(ch)); /* ENABLED again after disable */
    vt_save_end(e, ch);
    vmbsave_open_params p;
    vt_fill_open(&p, 1);
    gpadl(e, ch, 1, 4);
    EXPECT_OK(e, e->v->guest_open(ch, &p));
    EXPECT_OK(e, e->v->save_begin(ch)); /* OPEN_PAUSED straight from open */
    vt_save_end(e, ch);
    vt_destroy_channel(e, ch);

    for (int i = 0; i < 2; i++) {
        WHERE("restored %s", i == 0 ? "ENABLED" : "OPEN_PAUSED");
        vmbsave_channel *src = vt_make_canonical(
            e, i == 0 ? VMBSAVE_CANONICAL_EMPTY_OFFER : VMBSAVE_CANONICAL_PAUSED_PACKETS, 2);
        vt_image img;
        vt_save(e, src, MAXC, &img);
        vmbsave_channel *r = vt_restore_new(e, &img);
        EXPECT_OK(e, e->v->save_begin(r));
        session s;
        read_all(e, r, &k_strategies[0], &s);
        CHECK(s.final == STATUS_SUCCESS, "session of a restored channel ended with %s",
              vt_status_str(s.final));
        session_free(&s);
        vt_save_end(e, r);
        vt_image_free(&img);
        vt_destroy_channel(e, r);
        vt_destroy_channel(e, src);
    }
    vt_env_free(e);
}

/* A refused begin started no session: continue says so, nothing is held, and the channel is
 * not frozen (cleanup or a lifecycle call still works, which a session would refuse). */
static void expect_refused_begin(vt_env *e, vmbsave_channel *ch)
{
    uint64_t live = e->host.live_allocations;
    char *d0 = vt_describe(e, ch);
    for (int k = 0; k < 2; k++)
        EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE);
    CHECK(e->host.live_allocations == live, "a refused save_begin holds %llu allocations",
          (unsigned long long)(e->host.live_allocations - live));
    expect_nothing_all_sizes(e, ch, STATUS_INVALID_DEVICE_STATE);
    char *d1 = vt_describe(e, ch);
    expect_same_desc(d0, d1, "refused save_begin");
    free(d0);
    free(d1);
}

static void t_begin_refused_states(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();

    WHERE("DISABLED, fresh");
    vmbsave_channel *ch = NULL;
    EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    expect_refused_begin(e, ch);
    EXPECT_OK(e, e->v->channel_cleanup(ch)); /* refused with a session active */

    WHERE("DISABLED, offer set");
    EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    vmbsave_offer o;
    vt_fill_offer(&o, 4);
    EXPECT_OK(e, e->v->init_set_offer(ch, &o));
    expect_refused_begin(e, ch);
    EXPECT_OK(e, e->v->enable(ch)); /* refused during a session */
    EXPECT_OK(e, e->v->save_begin(ch));
    vt_save_end(e, ch);
    vt_destroy_channel(e, ch);

    for (int i = 0; i < (int)VMBSAVE_CANONICAL_COUNT; i++) {
        WHERE("%s, disabled", state_name(i));
        ch = vt_make_canonical(e, (vmbsave_canonical_id)i, 1);
        EXPECT_OK(e, e->v->disable(ch));
        expect_refused_begin(e, ch);
        EXPECT_OK(e, e->v->channel_cleanup(ch));
    }

    WHERE("OPEN_RUNNING");
    ch = open_running(e, 5, 0);
    EXPECT_OK(e, e->v->packet_send(ch, 42, 1, "abc", 3));
    EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, "xyz", 3));
    expect_refused_begin(e, ch);
    EXPECT_OK(e, e->v->pause(ch)); /* refused during a session */
    EXPECT_OK(e, e->v->save_begin(ch));
    vt_save_end(e, ch);
    EXPECT_OK(e, e->v->start(ch));
    expect_refused_begin(e, ch); /* running again after a session */
    vt_destroy_channel(e, ch);

    WHERE("restore in progress");
    vmbsave_channel *src = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 3);
    ref r;
    ref_take(e, src, &r);
    CHECK(r.n >= 3, "image has %zu chunks", r.n);
    ch = restore_in_progress(e, &r);
    uint64_t live = e->host.live_allocations;
    for (int k = 0; k < 2; k++)
        EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE);
    CHECK(e->host.live_allocations == live, "a refused save_begin changed the allocations");
    expect_nothing_all_sizes(e, ch, STATUS_INVALID_DEVICE_STATE);
    /* The restore goes on as if nothing happened. */
    NTSTATUS s = vt_restore(e, ch, r.img.bytes + r.ch[0].size, r.img.size - r.ch[0].size, 1);
    CHECK(s == STATUS_SUCCESS, "the rest of the restore returned %s", vt_status_str(s));
    char *a = vt_describe(e, src), *b = vt_describe(e, ch);
    vt_assert_same_state(a, b);
    free(a);
    free(b);
    EXPECT_OK(e, e->v->save_begin(ch)); /* a restored OPEN_PAUSED channel may be saved */
    vt_save_end(e, ch);
    vt_destroy_channel(e, ch);
    vt_destroy_channel(e, src);
    ref_free(&r);
    vt_env_free(e);
}

static void begin_active_session_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    (void)i;
    uint64_t live = e->host.live_allocations;

    vmbsave_fault_host_clear_logs(&e->host);
    EXPECT_OK(e, e->v->save_begin(ch));
    session s;
    memset(&s, 0, sizeof(s));
    EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE); /* right after begin */
    /* Read the first chunk exactly, then begin again. */
    call c = one_call(e, ch, (uint32_t)r->ch[0].size, false, &s);
    CHECK(is_progress(c.st), "first chunk: %s", vt_status_str(c.st));
    EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE);
    /* A size query, a TOO_SMALL, then begin again. */
    call q = one_call(e, ch, 0, true, &s);
    CHECK(q.st == STATUS_BUFFER_TOO_SMALL, "size query: %s", vt_status_str(q.st));
    call t = one_call(e, ch, 1, false, &s);
    CHECK(t.st == STATUS_BUFFER_TOO_SMALL, "1-byte buffer: %s", vt_status_str(t.st));
    EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE);
    /* The rest: the session goes on from where it was. */
    free(read_rest(e, ch, r, &s, &k_strategies[1], "session with refused begins"));
    /* After SUCCESS the session lasts until save_end. */
    EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE);
    CHECK(call_nothing(e, ch, MAXC, false) == STATUS_INVALID_DEVICE_STATE,
          "save_continue after SUCCESS (and a refused begin) did not say so");
    /* A refused begin called no packet callback again: one sequence per session, as the
     * reference save had. */
    uint32_t calls = e->host.save_call_count;
    vt_save_end(e, ch);
    CHECK(e->host.live_allocations == live,
          "allocations after save_end: %llu, before save_begin: %llu",
          (unsigned long long)e->host.live_allocations, (unsigned long long)live);
    vmbsave_fault_host_clear_logs(&e->host);
    expect_session_gives(e, ch, r, "a session after the refused begins");
    CHECK(calls == e->host.save_call_count,
          "packet callbacks in the session with refused begins: %u, in a plain one: %u", calls,
          e->host.save_call_count);
}

static void t_begin_active_session(void **state)
{
    (void)state;
    every_state(2, begin_active_session_state);
}

/* Attempts every change the channel might take; the statuses are FROZEN_DURING_SAVE's
 * business, this only tries. */
static void try_changes(vt_env *e, vmbsave_channel *ch)
{
    uint64_t pfn = 77;
    vmbsave_offer o;
    vt_fill_offer(&o, 99);
    vmbsave_open_params p;
    vt_fill_open(&p, 0xABCD);
    uint32_t got = 0;
    uint8_t sink[16];
    (void)CALL(e, e->v->gpadl_create(ch, 0xABCD, &pfn, 1));
    (void)CALL(e, e->v->guest_open(ch, &p));
    (void)CALL(e, e->v->start(ch));
    (void)CALL(e, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, "snapshot", 8));
    (void)CALL(e, e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, "snapshot", 8));
    (void)CALL(e, e->v->ring_read(ch, VMBSAVE_RING_INCOMING, sink, sizeof(sink), &got));
    (void)CALL(e, e->v->packet_send(ch, 0xFEED, 0, "p", 1));
    (void)CALL(e, e->v->pause(ch));
    (void)CALL(e, e->v->guest_close(ch));
    (void)CALL(e, e->v->disable(ch));
    (void)CALL(e, e->v->init_set_offer(ch, &o));
}

static void t_begin_snapshot(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int i = 0; i < N_STATES; i++) {
        for (int variant = 0; variant < 2; variant++) {
            WHERE("%s, changes %s", state_name(i),
                  variant == 0 ? "right after begin" : "after the first chunk");
            vmbsave_channel *ch = make_state(e, i, 3);
            char *d0 = vt_describe(e, ch);
            ref r;
            ref_take(e, ch, &r);

            EXPECT_OK(e, e->v->save_begin(ch));
            session s;
            memset(&s, 0, sizeof(s));
            if (variant == 1) {
                call c = one_call(e, ch, (uint32_t)r.ch[0].size, false, &s);
                CHECK(is_progress(c.st), "first chunk: %s", vt_status_str(c.st));
            }
            try_changes(e, ch);
            /* The image is the state as of save_begin, whatever was tried after it. */
            uint8_t *all =
                read_rest(e, ch, &r, &s, &k_strategies[8], "image with changes tried mid-session");
            vt_save_end(e, ch);
            vt_image img = {all, r.img.size, NULL, 0};
            vmbsave_channel *back = vt_restore_new(e, &img);
            char *db = vt_describe(e, back);
            vt_assert_same_state(d0, db);
            free(db);
            vt_destroy_channel(e, back);
            free(all);
            free(d0);
            ref_free(&r);
            vt_destroy_channel(e, ch);
        }
    }

    /* The snapshot is taken at each begin: a change between two sessions shows in the second
     * image, and the second image restores to the changed state. */
    WHERE("change between sessions");
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 4);
    ref r1;
    ref_take(e, ch, &r1);
    EXPECT_OK(e, e->v->start(ch));
    EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, "later", 5));
    EXPECT_OK(e, e->v->packet_send(ch, 0xFEED, 0, "p", 1));
    EXPECT_OK(e, e->v->pause(ch));
    char *d1 = vt_describe(e, ch);
    ref r2;
    ref_take(e, ch, &r2);
    CHECK(r1.img.size != r2.img.size || memcmp(r1.img.bytes, r2.img.bytes, r1.img.size) != 0,
          "the image did not change after the channel did");
    vmbsave_channel *back = vt_restore_new(e, &r2.img);
    char *db = vt_describe(e, back);
    vt_assert_same_state(d1, db);
    free(db);
    free(d1);
    vt_destroy_channel(e, back);
    vt_destroy_channel(e, ch);
    ref_free(&r1);
    ref_free(&r2);
    vt_env_free(e);
}

/* save_begin calls that met a failed allocation, over all states. */
static unsigned g_begin_hits;

static void begin_no_memory_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    char *d0 = vt_describe(e, ch);
    uint64_t live = e->host.live_allocations;
    /* Fail each allocation save_begin makes in turn (once, then from it on), until begin
     * makes fewer allocations than the one chosen. */
    for (int mode = 0; mode < 2; mode++) {
        for (uint64_t n = 1; n <= 256; n++) {
            WHERE("%s, allocation %llu of save_begin fails %s", state_name(i),
                  (unsigned long long)n, mode == 0 ? "once" : "and all after it");
            uint64_t faults = e->host.faults_injected;
            e->host.fault_mode = mode == 0 ? VMBSAVE_ALLOC_FAULT_ONCE : VMBSAVE_ALLOC_FAULT_FROM;
            e->host.fault_at = e->host.alloc_calls + n;
            NTSTATUS s = CALL(e, e->v->save_begin(ch));
            e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
            if (e->host.faults_injected == faults) {
                CHECK(s == STATUS_SUCCESS, "save_begin with no failed allocation: %s",
                      vt_status_str(s));
                vt_save_end(e, ch);
                break;
            }
            g_begin_hits++;
            CHECK(s == STATUS_INSUFFICIENT_RESOURCES,
                  "save_begin whose allocation failed returned %s", vt_status_str(s));
            CHECK(e->host.live_allocations == live, "the failed save_begin holds %lld allocations",
                  (long long)(e->host.live_allocations - live));
            /* No session: continue says so and writes nothing, at every size. */
            expect_nothing_all_sizes(e, ch, STATUS_INVALID_DEVICE_STATE);
            /* save_end is a no-op, twice. */
            vt_save_end(e, ch);
            vt_save_end(e, ch);
            CHECK(e->host.live_allocations == live, "save_end changed the allocations");
            char *d1 = vt_describe(e, ch);
            expect_same_desc(d0, d1, "failed save_begin");
            free(d1);
            /* The channel saves normally afterwards. */
            expect_session_gives(e, ch, r, "a session after the failed begin");
        }
    }
    free(d0);
}

static void t_begin_no_memory(void **state)
{
    (void)state;
    g_begin_hits = 0;
    every_state(5, begin_no_memory_state);
    if (g_begin_hits == 0)
        print_message("note: save_begin made no allocation in any state; only its success "
                      "without allocations was checked\n");
}

/* ================================ 5. Save continue ====================================== */

/* Every malformed call: INVALID_PARAMETER, 0 in each out-pointer given, nothing written. */
static void bad_param_calls(vt_env *e, vmbsave_channel *ch)
{
    static const uint32_t sizes[] = {1, 40, MAXC, LARGE};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint32_t size = sizes[k];
        uint8_t *buf = vt_xmalloc(size);
        memcpy(buf, pattern(size), size);
        uint32_t f = SENTINEL, r = SENTINEL;
        NTSTATUS s;

        s = CALL(e, e->v->save_continue(NULL, buf, size, &f, &r));
        CHECK(s == STATUS_INVALID_PARAMETER && f == 0 && r == 0,
              "NULL channel, size %u: %s, BytesFilled %u, BytesRequired %u", size, vt_status_str(s),
              f, r);
        r = SENTINEL;
        s = CALL(e, e->v->save_continue(ch, buf, size, NULL, &r));
        CHECK(s == STATUS_INVALID_PARAMETER && r == 0,
              "NULL BytesFilled, size %u: %s, BytesRequired %u", size, vt_status_str(s), r);
        f = SENTINEL;
        s = CALL(e, e->v->save_continue(ch, buf, size, &f, NULL));
        CHECK(s == STATUS_INVALID_PARAMETER && f == 0,
              "NULL BytesRequired, size %u: %s, BytesFilled %u", size, vt_status_str(s), f);
        s = CALL(e, e->v->save_continue(ch, buf, size, NULL, NULL));
        CHECK(s == STATUS_INVALID_PARAMETER, "both counts NULL, size %u: %s", size,
              vt_status_str(s));
        f = r = SENTINEL;
        s = CALL(e, e->v->save_continue(ch, NULL, size, &f, &r));
        CHECK(s == STATUS_INVALID_PARAMETER && f == 0 && r == 0,
              "NULL buffer of size %u: %s, BytesFilled %u, BytesRequired %u", size,
              vt_status_str(s), f, r);
        f = SENTINEL;
        s = CALL(e, e->v->save_continue(ch, NULL, size, &f, NULL));
        CHECK(s == STATUS_INVALID_PARAMETER && f == 0,
              "NULL buffer of size %u and NULL BytesRequired: %s", size, vt_status_str(s));
        CHECK(memcmp(buf, pattern(size), size) == 0, "a refused call (size %u) wrote to the buffer",
              size);
        free(buf);
    }
    /* NULL channel with NULL counts too: nothing to write, must not crash. */
    NTSTATUS s = CALL(e, e->v->save_continue(NULL, NULL, 0, NULL, NULL));
    CHECK(s == STATUS_INVALID_PARAMETER, "all NULL: %s", vt_status_str(s));
}

static void continue_params_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    EXPECT_OK(e, e->v->save_begin(ch));
    session s;
    memset(&s, 0, sizeof(s));
    bad_param_calls(e, ch); /* at the start */
    call c = one_call(e, ch, (uint32_t)r->ch[0].size, false, &s);
    CHECK(is_progress(c.st), "first chunk: %s", vt_status_str(c.st));
    bad_param_calls(e, ch); /* after a chunk */
    c = one_call(e, ch, 1, false, &s);
    CHECK(c.st == STATUS_BUFFER_TOO_SMALL, "1 byte: %s", vt_status_str(c.st));
    bad_param_calls(e, ch); /* after a TOO_SMALL */
    /* The session is where it was: the rest completes the expected image. */
    free(read_rest(e, ch, r, &s, &k_strategies[4], "session with malformed calls"));
    vt_save_end(e, ch);

    /* Not even the error state: a failed session stays failed with the same status. */
    if (can_fail_by_callback(e, i)) {
        WHERE("%s, session failed by a packet callback", state_name(i));
        e->host.save_mode = VMBSAVE_SAVE_PACKET_FAIL_SECOND;
        EXPECT_OK(e, e->v->save_begin(ch));
        read_all(e, ch, &k_strategies[0], &s);
        CHECK(s.final == STATUS_UNSUCCESSFUL, "session with a failing callback: %s",
              vt_status_str(s.final));
        bad_param_calls(e, ch);
        expect_nothing_all_sizes(e, ch, STATUS_UNSUCCESSFUL);
        bad_param_calls(e, ch);
        expect_nothing_all_sizes(e, ch, STATUS_UNSUCCESSFUL);
        vt_save_end(e, ch);
        e->host.save_mode = VMBSAVE_SAVE_PACKET_STATE;
        session_free(&s);
        expect_session_gives(e, ch, r, "after the failed session");
    }
}

static void t_continue_params(void **state)
{
    (void)state;
    every_state(6, continue_params_state);
}

static void t_continue_no_session(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();

    WHERE("fresh channel");
    vmbsave_channel *ch = NULL;
    EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    expect_nothing_all_sizes(e, ch, STATUS_INVALID_DEVICE_STATE);
    EXPECT_OK(e, e->v->channel_cleanup(ch));

    for (int i = 0; i < N_STATES; i++) {
        vmbsave_channel *c = make_state(e, i, 7);
        uint32_t cb = e->host.save_call_count;
        WHERE("%s, never saved", state_name(i));
        expect_nothing_all_sizes(e, c, STATUS_INVALID_DEVICE_STATE);
        CHECK(e->host.save_call_count == cb, "save_continue with no session called callbacks");

        WHERE("%s, after a completed session", state_name(i));
        session s;
        save_with(e, c, &k_strategies[1], &s);
        session_free(&s);
        expect_nothing_all_sizes(e, c, STATUS_INVALID_DEVICE_STATE);

        WHERE("%s, after an aborted session", state_name(i));
        EXPECT_OK(e, e->v->save_begin(c));
        call one = one_call(e, c, 0, true, NULL);
        one = one_call(e, c, one.required, false, NULL);
        CHECK(is_progress(one.st), "first chunk: %s", vt_status_str(one.st));
        vt_save_end(e, c);
        expect_nothing_all_sizes(e, c, STATUS_INVALID_DEVICE_STATE);

        WHERE("%s, after a session ended right after begin", state_name(i));
        EXPECT_OK(e, e->v->save_begin(c));
        vt_save_end(e, c);
        expect_nothing_all_sizes(e, c, STATUS_INVALID_DEVICE_STATE);
        vt_destroy_channel(e, c);
    }

    WHERE("OPEN_RUNNING, begin refused");
    ch = open_running(e, 8, 0);
    EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE);
    expect_nothing_all_sizes(e, ch, STATUS_INVALID_DEVICE_STATE);
    vt_destroy_channel(e, ch);

    WHERE("restore in progress");
    vmbsave_channel *src = vt_make_canonical(e, VMBSAVE_CANONICAL_OPEN_GPADLS, 8);
    ref r;
    ref_take(e, src, &r);
    ch = restore_in_progress(e, &r);
    expect_nothing_all_sizes(e, ch, STATUS_INVALID_DEVICE_STATE);
    EXPECT_OK(e, e->v->channel_cleanup(ch));
    vt_destroy_channel(e, src);
    ref_free(&r);
    vt_env_free(e);
}

static void continue_after_success_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    /* Finished by one large call, by max-chunk calls, and by exact reads (the last call
     * writes END alone). */
    static const int strat[] = {0, 1, 4};
    for (size_t k = 0; k < sizeof(strat) / sizeof(strat[0]); k++) {
        const strategy *st = &k_strategies[strat[k]];
        WHERE("%s, session read %s", state_name(i), st->name);
        EXPECT_OK(e, e->v->save_begin(ch));
        session s;
        read_all(e, ch, st, &s);
        CHECK(s.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(s.final));
        expect_image(r, s.bytes, s.size, st->name);
        uint32_t cb = e->host.save_call_count;
        for (int rep = 0; rep < 2; rep++)
            expect_nothing_all_sizes(e, ch, STATUS_INVALID_DEVICE_STATE);
        NTSTATUS x = call_nothing(e, ch, (uint32_t)r->img.size, false);
        CHECK(x == STATUS_INVALID_DEVICE_STATE, "a buffer of the image's size: %s",
              vt_status_str(x));
        x = call_nothing(e, ch, (uint32_t)r->ch[r->n - 1].size, false);
        CHECK(x == STATUS_INVALID_DEVICE_STATE, "a buffer of END's size: %s", vt_status_str(x));
        CHECK(e->host.save_call_count == cb, "calls after SUCCESS called packet callbacks");
        vt_save_end(e, ch);
        session_free(&s);
    }
    expect_session_gives(e, ch, r, "a session after the refused calls");
}

static void t_continue_after_success(void **state)
{
    (void)state;
    every_state(9, continue_after_success_state);
}

static void t_continue_whole_chunks(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int i = 0; i < N_STATES; i++) {
        vmbsave_channel *ch = make_state(e, i, 10);
        for (size_t k = 0; k < N_STRATEGIES; k++) {
            const strategy *st = &k_strategies[k];
            WHERE("%s, sizes %s", state_name(i), st->name);
            session s;
            save_with(e, ch, st, &s);
            CHECK(s.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(s.final));
            /* Each progress call wrote whole chunks from the start of the buffer, continuing
             * the sequence numbers of the call before: whole chunks in image order. */
            uint32_t next_seq = 0;
            for (size_t c = 0; c < s.ncalls; c++) {
                const call *cl = &s.calls[c];
                if (!is_progress(cl->st))
                    continue;
                CHECK(!cl->guard_hit, "call %zu wrote outside its buffer", c);
                long n = vt_chunks(s.bytes + cl->pos, cl->filled, NULL, 0);
                CHECK(n >= 1, "call %zu (size %u -> %s) wrote %u bytes that are not whole chunks",
                      c, cl->size, vt_status_str(cl->st), cl->filled);
                vt_chunk *chs = vt_xmalloc((size_t)n * sizeof(*chs));
                vt_chunks(s.bytes + cl->pos, cl->filled, chs, (size_t)n);
                for (long j = 0; j < n; j++) {
                    CHECK(chs[j].sequence == next_seq,
                          "call %zu: chunk %ld has sequence %u, expected %u", c, j, chs[j].sequence,
                          next_seq);
                    next_seq++;
                }
                free(chs);
            }
            long total = vt_chunks(s.bytes, s.size, NULL, 0);
            CHECK(total == (long)next_seq, "image parses as %ld chunks, calls wrote %u", total,
                  next_seq);
            session_free(&s);
        }
        vt_destroy_channel(e, ch);
    }
    vt_env_free(e);
}

/* Every OVERFLOW: 0 < BytesFilled <= size, more remains, BytesRequired is the next chunk's. */
static void expect_overflows_ok(const ref *r, const session *s, const char *how)
{
    for (size_t c = 0; c < s->ncalls; c++) {
        const call *cl = &s->calls[c];
        if (cl->st != STATUS_BUFFER_OVERFLOW)
            continue;
        CHECK(cl->filled > 0 && cl->filled <= cl->size,
              "%s: call %zu, size %u: OVERFLOW with BytesFilled %u", how, c, cl->size, cl->filled);
        long next = ref_index(r, cl->pos + cl->filled);
        CHECK(next >= 1 && (size_t)next < r->n,
              "%s: call %zu: OVERFLOW but the image ends (or the call ended inside a chunk) "
              "at byte %zu",
              how, c, cl->pos + cl->filled);
        CHECK(cl->required == r->ch[next].size,
              "%s: call %zu: OVERFLOW with BytesRequired %u, the next chunk has %zu bytes", how, c,
              cl->required, r->ch[next].size);
    }
}

static void continue_overflow_progress_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    (void)i;
    size_t end_size = r->ch[r->n - 1].size;

    /* Buffers of exactly each chunk: every call but the last is OVERFLOW with one chunk. */
    EXPECT_OK(e, e->v->save_begin(ch));
    session s;
    memset(&s, 0, sizeof(s));
    for (size_t k = 0; k < r->n; k++) {
        call c = one_call(e, ch, (uint32_t)r->ch[k].size, false, &s);
        NTSTATUS want = k + 1 < r->n ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
        CHECK(c.st == want && c.filled == r->ch[k].size,
              "chunk %zu (%zu bytes) read into a buffer of its size: %s, BytesFilled %u", k,
              r->ch[k].size, vt_status_str(c.st), c.filled);
    }
    vt_save_end(e, ch);
    expect_overflows_ok(r, &s, "exact chunks");
    expect_image(r, s.bytes, s.size, "exact chunks");
    session_free(&s);

    /* One byte short of the whole image, and exactly everything but END: OVERFLOW. How many
     * whole chunks the call writes is the implementation's (SAVE.CONTINUE.WHOLE_CHUNKS'
     * Permits): expect_overflows_ok checks that BytesRequired names whichever chunk is next. */
    uint32_t shorts[2] = {(uint32_t)r->img.size - 1u, (uint32_t)(r->img.size - end_size)};
    for (int k = 0; k < 2; k++) {
        EXPECT_OK(e, e->v->save_begin(ch));
        memset(&s, 0, sizeof(s));
        call c = one_call(e, ch, shorts[k], false, &s);
        CHECK(c.st == STATUS_BUFFER_OVERFLOW, "a buffer of %u bytes (image %zu) returned %s",
              shorts[k], r->img.size, vt_status_str(c.st));
        session rest;
        read_all(e, ch, &k_strategies[0], &rest);
        CHECK(rest.final == STATUS_SUCCESS && rest.size > 0,
              "after OVERFLOW: %s with %zu more bytes", vt_status_str(rest.final), rest.size);
        vt_save_end(e, ch);
        expect_overflows_ok(r, &s, "one call short");
        session_free(&s);
        session_free(&rest);
    }

    /* Every OVERFLOW of every strategy. */
    for (size_t k = 0; k < N_STRATEGIES; k++) {
        save_with(e, ch, &k_strategies[k], &s);
        CHECK(s.final == STATUS_SUCCESS, "%s: session ended with %s", k_strategies[k].name,
              vt_status_str(s.final));
        expect_overflows_ok(r, &s, k_strategies[k].name);
        session_free(&s);
    }
}

static void t_continue_overflow_progress(void **state)
{
    (void)state;
    every_state(11, continue_overflow_progress_state);
}

/* A call at chunk k of r that must be TOO_SMALL and change nothing. */
static void expect_too_small_at(vt_env *e, vmbsave_channel *ch, const ref *r, size_t k,
                                uint32_t size)
{
    call c = one_call(e, ch, size, false, NULL);
    CHECK(c.st == STATUS_BUFFER_TOO_SMALL,
          "chunk %zu (%zu bytes), buffer of %u: %s, BytesFilled %u", k, r->ch[k].size, size,
          vt_status_str(c.st), c.filled);
    CHECK(c.filled == 0, "chunk %zu, buffer of %u: TOO_SMALL with BytesFilled %u", k, size,
          c.filled);
    CHECK(!c.guard_hit && !c.wrote_past, "chunk %zu, buffer of %u: TOO_SMALL wrote bytes", k, size);
    CHECK(c.required == r->ch[k].size && c.required > size,
          "chunk %zu (%zu bytes), buffer of %u: BytesRequired %u", k, r->ch[k].size, size,
          c.required);
}

static void continue_too_small_no_progress_state(vt_env *e, int i, vmbsave_channel *ch,
                                                 const ref *r)
{
    (void)i;
    EXPECT_OK(e, e->v->save_begin(ch));
    session s;
    memset(&s, 0, sizeof(s));
    for (size_t k = 0; k < r->n; k++) {
        uint32_t csize = (uint32_t)r->ch[k].size;
        /* 1, a header's worth around 40, and one byte short: all TOO_SMALL, twice. */
        const uint32_t sizes[] = {1, 1, 39, 40, 41, csize - 1u, csize - 1u, csize / 2u};
        for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
            if (sizes[j] < csize)
                expect_too_small_at(e, ch, r, k, sizes[j]);
        /* The position did not move: a buffer of exactly that chunk gets that chunk. */
        call c = one_call(e, ch, csize, false, &s);
        CHECK(is_progress(c.st) && c.filled == csize,
              "chunk %zu after TOO_SMALLs: %s, BytesFilled %u (chunk has %u)", k,
              vt_status_str(c.st), c.filled, csize);
    }
    vt_save_end(e, ch);
    expect_image(r, s.bytes, s.size, "read after TOO_SMALL calls");
    session_free(&s);

    /* TOO_SMALL after an OVERFLOW that wrote one chunk of two that nearly fit. */
    if (r->n >= 3) {
        EXPECT_OK(e, e->v->save_begin(ch));
        memset(&s, 0, sizeof(s));
        call c = one_call(e, ch, (uint32_t)(r->ch[0].size + r->ch[1].size - 1u), false, &s);
        CHECK(c.st == STATUS_BUFFER_OVERFLOW && c.filled == r->ch[0].size,
              "chunks 0+1 less a byte: %s, BytesFilled %u", vt_status_str(c.st), c.filled);
        expect_too_small_at(e, ch, r, 1, (uint32_t)r->ch[1].size - 1u);
        session rest;
        read_all(e, ch, &k_strategies[1], &rest);
        vt_save_end(e, ch);
        CHECK(rest.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(rest.final));
        CHECK(rest.size == r->img.size - r->ch[0].size &&
                  same_bytes(rest.bytes, r->img.bytes + r->ch[0].size, rest.size),
              "the image after a TOO_SMALL is not the rest of the expected one");
        session_free(&s);
        session_free(&rest);
    }
}

static void t_continue_too_small_no_progress(void **state)
{
    (void)state;
    every_state(12, continue_too_small_no_progress_state);
}

static void continue_too_small_retry_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    /* At each chunk, a TOO_SMALL of each kind, then a retry of exactly BytesRequired. */
    for (int kind = 0; kind < 3; kind++) {
        WHERE("%s, TOO_SMALL from %s", state_name(i),
              kind == 0   ? "1 byte"
              : kind == 1 ? "chunk - 1"
                          : "a size query");
        EXPECT_OK(e, e->v->save_begin(ch));
        session s;
        memset(&s, 0, sizeof(s));
        for (size_t k = 0; k < r->n; k++) {
            uint32_t small = kind == 0 ? 1u : kind == 1 ? (uint32_t)r->ch[k].size - 1u : 0u;
            call t = one_call(e, ch, small, kind == 2, NULL);
            CHECK(t.st == STATUS_BUFFER_TOO_SMALL, "chunk %zu, size %u: %s", k, small,
                  vt_status_str(t.st));
            call c = one_call(e, ch, t.required, false, &s);
            CHECK(is_progress(c.st) && c.filled > 0,
                  "chunk %zu: the retry with BytesRequired %u returned %s, BytesFilled %u", k,
                  t.required, vt_status_str(c.st), c.filled);
            CHECK(c.pos + c.filled <= r->img.size && ref_index(r, c.pos) == (long)k &&
                      c.filled == r->ch[k].size &&
                      memcmp(s.bytes + c.pos, r->img.bytes + r->ch[k].offset, c.filled) == 0,
                  "chunk %zu: the retry wrote %u bytes that are not the chunk that did "
                  "not fit (%zu bytes)",
                  k, c.filled, r->ch[k].size);
            if (c.st == STATUS_SUCCESS)
                CHECK(k + 1 == r->n, "SUCCESS at chunk %zu of %zu", k, r->n);
        }
        vt_save_end(e, ch);
        expect_image(r, s.bytes, s.size, "TOO_SMALL retries");
        session_free(&s);
    }
    /* A retry larger than BytesRequired by one also progresses. */
    WHERE("%s, retry with BytesRequired + 1", state_name(i));
    session s;
    save_with(e, ch, &k_strategies[6], &s);
    CHECK(s.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(s.final));
    expect_image(r, s.bytes, s.size, "req+1 retries");
    session_free(&s);
}

static void t_continue_too_small_retry(void **state)
{
    (void)state;
    every_state(13, continue_too_small_retry_state);
}

static void t_continue_size_query(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int i = 0; i < N_STATES; i++) {
        WHERE("%s", state_name(i));
        vmbsave_channel *ch = make_state(e, i, 14);
        char *d0 = vt_describe(e, ch);
        vmbsave_fault_host_clear_logs(&e->host);
        ref r;
        ref_take(e, ch, &r);
        uint32_t plain_callbacks = e->host.save_call_count;

        vmbsave_fault_host_clear_logs(&e->host);
        EXPECT_OK(e, e->v->save_begin(ch));
        session s;
        memset(&s, 0, sizeof(s));
        for (size_t k = 0; k < r.n; k++) {
            /* NULL and a real pointer, several times: each answers TOO_SMALL with the size
             * of the chunk at this position and writes nothing. */
            for (int q = 0; q < 4; q++) {
                call c = one_call(e, ch, 0, q % 2 == 0, NULL);
                CHECK(c.st == STATUS_BUFFER_TOO_SMALL && c.filled == 0 &&
                          c.required == r.ch[k].size,
                      "size query %d at chunk %zu (%zu bytes): %s, BytesFilled %u, "
                      "BytesRequired %u",
                      q, k, r.ch[k].size, vt_status_str(c.st), c.filled, c.required);
                CHECK(!c.guard_hit, "size query %d at chunk %zu wrote around its pointer", q, k);
            }
            call c = one_call(e, ch, (uint32_t)r.ch[k].size, false, &s);
            CHECK(is_progress(c.st) && c.filled == r.ch[k].size,
                  "chunk %zu after the queries: %s, BytesFilled %u", k, vt_status_str(c.st),
                  c.filled);
            char *d = vt_describe(e, ch);
            expect_same_desc(d0, d, "size queries");
            free(d);
        }
        vt_save_end(e, ch);
        expect_image(&r, s.bytes, s.size, "with size queries");
        /* The queries changed nothing: the packet callbacks ran as in a plain session. */
        CHECK(e->host.save_call_count == plain_callbacks,
              "packet callbacks with size queries: %u, without: %u", e->host.save_call_count,
              plain_callbacks);
        session_free(&s);
        free(d0);
        ref_free(&r);
        vt_destroy_channel(e, ch);
    }
    vt_env_free(e);
}

static uint64_t desc_number(const char *d, const char *key)
{
    const char *p = strstr(d, key);
    CHECK(p != NULL && (p == d || p[-1] == '\n'), "no %s line in the description", key);
    return strtoull(p + strlen(key), NULL, 10);
}

/* The image as FORMAT.md defines a whole one, checked independently of the implementation:
 * sequence 0.., one image id that is the HEADER's hash, checksums, END's count, size and
 * digest, and record totals matching the channel's description. */
static void expect_whole_image(const uint8_t *b, size_t size, const char *desc)
{
    long n = vt_chunks(b, size, NULL, 0);
    CHECK(n >= 2, "the image does not parse as chunks (%ld)", n);
    vt_chunk *c = vt_xmalloc((size_t)n * sizeof(*c));
    vt_chunks(b, size, c, (size_t)n);
    CHECK(c[0].type == 1u && c[n - 1].type == 0xFFFFu, "first type %u, last type %u", c[0].type,
          c[n - 1].type);
    uint64_t id = vt_hash(b + VT_CHUNK_HEADER_BYTES, c[0].payload_bytes, 0);
    uint64_t digest = 0, gpadls = 0, packets = 0, ring[2] = {0, 0};
    for (long k = 0; k < n; k++) {
        const uint8_t *h = b + c[k].offset, *p = h + VT_CHUNK_HEADER_BYTES;
        CHECK(c[k].sequence == (uint32_t)k, "chunk %ld has sequence %u", k, c[k].sequence);
        CHECK(c[k].image_id == id, "chunk %ld has another image id", k);
        uint64_t sum = vt_hash(p, c[k].payload_bytes, vt_hash(h, 32, 0));
        CHECK(c[k].checksum == sum, "chunk %ld: checksum does not verify", k);
        CHECK(k == n - 1 || c[k].type != 0xFFFFu, "END at chunk %ld of %ld", k, n);
        if (c[k].type == 2u)
            gpadls += vt_get32(p);
        else if (c[k].type == 3u)
            packets += vt_get32(p);
        else if (c[k].type == 4u && vt_get32(p) < 2u)
            ring[vt_get32(p)] += c[k].payload_bytes - 8u;
        if (k < n - 1) {
            uint8_t le[8];
            vt_put64(le, c[k].checksum);
            digest = vt_hash(le, 8, digest);
        }
    }
    const uint8_t *end = b + c[n - 1].offset + VT_CHUNK_HEADER_BYTES;
    CHECK(c[n - 1].payload_bytes >= 24u, "END payload of %u bytes", c[n - 1].payload_bytes);
    CHECK(vt_get32(end) == (uint32_t)n, "END says %u chunks, the image has %ld", vt_get32(end), n);
    CHECK(vt_get64(end + 8) == size, "END says %llu bytes, the image has %zu",
          (unsigned long long)vt_get64(end + 8), size);
    CHECK(vt_get64(end + 16) == digest, "END digest does not match the chunks");
    CHECK(gpadls == desc_number(desc, "gpadl.count="), "image holds %llu GPADLs",
          (unsigned long long)gpadls);
    CHECK(packets == desc_number(desc, "packet.count="), "image holds %llu packets",
          (unsigned long long)packets);
    CHECK(ring[0] == desc_number(desc, "ring.incoming.bytes=") &&
              ring[1] == desc_number(desc, "ring.outgoing.bytes="),
          "image holds %llu/%llu ring bytes", (unsigned long long)ring[0],
          (unsigned long long)ring[1]);
    free(c);
}

static void t_continue_success_complete(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int i = 0; i < N_STATES; i++) {
        vmbsave_channel *ch = make_state(e, i, 15);
        char *d = vt_describe(e, ch);
        session first;
        memset(&first, 0, sizeof(first));
        for (size_t k = 0; k < N_STRATEGIES; k++) {
            const strategy *st = &k_strategies[k];
            WHERE("%s, sizes %s", state_name(i), st->name);
            session s;
            save_with(e, ch, st, &s);
            CHECK(s.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(s.final));
            /* SUCCESS is the last call only; it wrote END last and asks for nothing more. */
            for (size_t c = 0; c + 1 < s.ncalls; c++)
                CHECK(s.calls[c].st != STATUS_SUCCESS, "SUCCESS at call %zu of %zu", c, s.ncalls);
            const call *last = &s.calls[s.ncalls - 1];
            CHECK(last->required == 0, "SUCCESS with BytesRequired %u", last->required);
            CHECK(last->filled > 0 && last->filled <= last->size,
                  "SUCCESS with BytesFilled %u of %u", last->filled, last->size);
            long n = vt_chunks(s.bytes + last->pos, last->filled, NULL, 0);
            CHECK(n >= 1, "the SUCCESS call's bytes are not whole chunks");
            vt_chunk *lc = vt_xmalloc((size_t)n * sizeof(*lc));
            vt_chunks(s.bytes + last->pos, last->filled, lc, (size_t)n);
            uint16_t type = lc[n - 1].type;
            free(lc);
            CHECK(type == 0xFFFFu, "the SUCCESS call's last chunk has type %u, not END", type);
            /* The calls' bytes together are the whole image, the same every time. */
            expect_whole_image(s.bytes, s.size, d);
            if (k == 0) {
                first = s;
            } else {
                CHECK(s.size == first.size && memcmp(s.bytes, first.bytes, s.size) == 0,
                      "the image differs from the one-shot image");
                session_free(&s);
            }
        }
        session_free(&first);
        free(d);
        vt_destroy_channel(e, ch);
    }
    vt_env_free(e);
}

/* Some image had a chunk of exactly MAXC bytes. */
static bool g_saw_full_chunk;

static void continue_max_chunk_progress_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    (void)i;
    for (size_t k = 0; k < r->n; k++) {
        CHECK(r->ch[k].size <= MAXC, "chunk %zu has %zu bytes", k, r->ch[k].size);
        g_saw_full_chunk |= r->ch[k].size == MAXC;
    }
    /* A buffer of MAX_CHUNK_BYTES always progresses: never TOO_SMALL, never a stall. */
    EXPECT_OK(e, e->v->save_begin(ch));
    session s;
    memset(&s, 0, sizeof(s));
    for (size_t calls = 0;; calls++) {
        CHECK(calls <= r->n, "more max-chunk calls than the image has chunks");
        call c = one_call(e, ch, MAXC, false, &s);
        CHECK(is_progress(c.st) && c.filled > 0,
              "a %u-byte buffer at image byte %zu: %s, BytesFilled %u", MAXC, c.pos,
              vt_status_str(c.st), c.filled);
        CHECK(c.required <= MAXC, "BytesRequired %u", c.required);
        if (c.st == STATUS_SUCCESS)
            break;
    }
    vt_save_end(e, ch);
    expect_image(r, s.bytes, s.size, "max-chunk buffers");
    session_free(&s);
    /* BytesRequired never exceeds it, whatever the caller does. */
    for (size_t k = 0; k < N_STRATEGIES; k++) {
        save_with(e, ch, &k_strategies[k], &s);
        CHECK(s.final == STATUS_SUCCESS, "%s: session ended with %s", k_strategies[k].name,
              vt_status_str(s.final));
        for (size_t c = 0; c < s.ncalls; c++)
            CHECK(s.calls[c].required <= MAXC, "%s: call %zu: BytesRequired %u",
                  k_strategies[k].name, c, s.calls[c].required);
        session_free(&s);
    }
}

static void t_continue_max_chunk_progress(void **state)
{
    (void)state;
    g_saw_full_chunk = false;
    every_state(16, continue_max_chunk_progress_state);
    if (!g_saw_full_chunk)
        print_message("note: no image had a chunk of exactly %u bytes\n", MAXC);
}

static void expect_no_overrun(const session *s, bool last_may_write, const char *how)
{
    for (size_t c = 0; c < s->ncalls; c++) {
        const call *cl = &s->calls[c];
        CHECK(!cl->guard_hit, "%s: call %zu (size %u -> %s) wrote before or after the buffer", how,
              c, cl->size, vt_status_str(cl->st));
        if (is_progress(cl->st))
            CHECK(cl->filled <= cl->size, "%s: call %zu: BytesFilled %u of a %u-byte buffer", how,
                  c, cl->filled, cl->size);
        bool sticky_failure = last_may_write && c + 1 == s->ncalls && !is_progress(cl->st);
        CHECK(!cl->wrote_past || sticky_failure,
              "%s: call %zu (size %u -> %s, BytesFilled %u) wrote inside the buffer past "
              "BytesFilled",
              how, c, cl->size, vt_status_str(cl->st), cl->filled);
    }
}

static void t_continue_no_overrun(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int i = 0; i < N_STATES; i++) {
        vmbsave_channel *ch = make_state(e, i, 17);
        for (size_t k = 0; k < N_STRATEGIES; k++) {
            WHERE("%s, sizes %s", state_name(i), k_strategies[k].name);
            session s;
            EXPECT_OK(e, e->v->save_begin(ch));
            read_all(e, ch, &k_strategies[k], &s);
            CHECK(s.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(s.final));
            /* After SUCCESS: INVALID_DEVICE_STATE writes nothing. */
            for (size_t j = 0; j < sizeof(k_probe_sizes) / sizeof(k_probe_sizes[0]); j++)
                (void)one_call(e, ch, k_probe_sizes[j], j == 0, &s);
            vt_save_end(e, ch);
            /* No session: nothing either. */
            for (size_t j = 0; j < sizeof(k_probe_sizes) / sizeof(k_probe_sizes[0]); j++)
                (void)one_call(e, ch, k_probe_sizes[j], j == 0, &s);
            expect_no_overrun(&s, false, k_strategies[k].name);
            session_free(&s);
        }
        /* A malformed call (no BytesFilled) writes nothing into the buffer. */
        WHERE("%s, malformed call", state_name(i));
        EXPECT_OK(e, e->v->save_begin(ch));
        uint8_t *buf = vt_xmalloc(MAXC);
        memcpy(buf, pattern(MAXC), MAXC);
        uint32_t req = SENTINEL;
        (void)CALL(e, e->v->save_continue(ch, buf, MAXC, NULL, &req));
        CHECK(memcmp(buf, pattern(MAXC), MAXC) == 0,
              "a call without BytesFilled wrote to the buffer");
        free(buf);
        vt_save_end(e, ch);

        /* A failing session: the failing call may write within its buffer, nothing after. */
        if (can_fail_by_callback(e, i)) {
            for (size_t k = 0; k < N_STRATEGIES; k++) {
                WHERE("%s, failing callback, sizes %s", state_name(i), k_strategies[k].name);
                e->host.save_mode = VMBSAVE_SAVE_PACKET_ASKS_MORE;
                session s;
                EXPECT_OK(e, e->v->save_begin(ch));
                read_all(e, ch, &k_strategies[k], &s);
                CHECK(s.final == STATUS_INTERNAL_ERROR, "session ended with %s",
                      vt_status_str(s.final));
                expect_no_overrun(&s, true, k_strategies[k].name);
                session after;
                memset(&after, 0, sizeof(after));
                for (size_t j = 0; j < sizeof(k_probe_sizes) / sizeof(k_probe_sizes[0]); j++)
                    (void)one_call(e, ch, k_probe_sizes[j], j == 0, &after);
                expect_no_overrun(&after, false, "after the failure");
                vt_save_end(e, ch);
                e->host.save_mode = VMBSAVE_SAVE_PACKET_STATE;
                session_free(&s);
                session_free(&after);
            }
        }
        vt_destroy_channel(e, ch);
    }
    vt_env_free(e);
}

/* After a failing call with status `want`: every later call of the session returns it with
 * both counts 0 and writes nothing, malformed calls do not clear it; then save_end frees the
 * session and a new one gives the expected image. */
static void expect_sticky(vt_env *e, vmbsave_channel *ch, const session *s, NTSTATUS want,
                          const ref *r, uint64_t live)
{
    CHECK(s->final == want, "the session failed with %s, expected %s", vt_status_str(s->final),
          vt_status_str(want));
    const call *f = &s->calls[s->ncalls - 1];
    CHECK(f->filled == 0 && f->required == 0,
          "the failing call (size %u) left BytesFilled %u, BytesRequired %u", f->size, f->filled,
          f->required);
    CHECK(!f->guard_hit, "the failing call wrote outside its buffer");
    for (int rep = 0; rep < 2; rep++) {
        expect_nothing_all_sizes(e, ch, want);
        uint32_t req = SENTINEL;
        NTSTATUS p = CALL(e, e->v->save_continue(ch, NULL, 5, NULL, &req));
        CHECK(p == STATUS_INVALID_PARAMETER, "a malformed call in a failed session: %s",
              vt_status_str(p));
    }
    vt_save_end(e, ch);
    CHECK(e->host.live_allocations == live, "%lld allocations held after save_end",
          (long long)(e->host.live_allocations - live));
    expect_session_gives(e, ch, r, "a new session after the failure");
}

/* Sessions that met a failed allocation, over all states. */
static unsigned g_alloc_failures;

static void continue_sticky_error_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    uint64_t live = e->host.live_allocations;

    /* Allocation failures inside save_continue: fail the n-th allocation after begin,
     * once or from then on, with buffers that reach it at different points. */
    static const int strat[] = {0, 4};
    for (size_t k = 0; k < sizeof(strat) / sizeof(strat[0]); k++) {
        for (int mode = 0; mode < 2; mode++) {
            for (uint64_t n = 1; n <= 512; n++) {
                WHERE("%s, sizes %s, allocation %llu after begin fails %s", state_name(i),
                      k_strategies[strat[k]].name, (unsigned long long)n,
                      mode == 0 ? "once" : "and all after it");
                EXPECT_OK(e, e->v->save_begin(ch));
                uint64_t faults = e->host.faults_injected;
                e->host.fault_mode =
                    mode == 0 ? VMBSAVE_ALLOC_FAULT_ONCE : VMBSAVE_ALLOC_FAULT_FROM;
                e->host.fault_at = e->host.alloc_calls + n;
                session s;
                read_all(e, ch, &k_strategies[strat[k]], &s);
                bool hit = e->host.faults_injected != faults;
                if (!hit) {
                    e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
                    CHECK(s.final == STATUS_SUCCESS, "session ended with %s",
                          vt_status_str(s.final));
                    vt_save_end(e, ch);
                    session_free(&s);
                    break;
                }
                g_alloc_failures++;
                /* Keep failing allocations while probing (FROM), or not (ONCE): the
                 * later calls fail either way. */
                if (mode == 0)
                    e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
                CHECK(s.final == STATUS_INSUFFICIENT_RESOURCES,
                      "a failed allocation ended the session with %s", vt_status_str(s.final));
                const call *f = &s.calls[s.ncalls - 1];
                CHECK(f->filled == 0 && f->required == 0,
                      "the failing call left BytesFilled %u, BytesRequired %u", f->filled,
                      f->required);
                for (int rep = 0; rep < 2; rep++)
                    expect_nothing_all_sizes(e, ch, STATUS_INSUFFICIENT_RESOURCES);
                e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
                expect_sticky(e, ch, &s, STATUS_INSUFFICIENT_RESOURCES, r, live);
                session_free(&s);
            }
        }
    }

    /* Packet-callback failures (section 9), each with its status. */
    if (can_fail_by_callback(e, i)) {
        static const struct {
            vmbsave_save_packet_mode mode;
            NTSTATUS want;
            const char *name;
        } modes[] = {
            {VMBSAVE_SAVE_PACKET_FAIL_SECOND, STATUS_UNSUCCESSFUL, "FAIL_SECOND"},
            {VMBSAVE_SAVE_PACKET_FAIL_FIRST_ZERO, STATUS_UNSUCCESSFUL, "FAIL_FIRST_ZERO"},
            {VMBSAVE_SAVE_PACKET_OVER_LIMIT, STATUS_IMPLEMENTATION_LIMIT, "OVER_LIMIT"},
            {VMBSAVE_SAVE_PACKET_ASKS_MORE, STATUS_INTERNAL_ERROR, "ASKS_MORE"},
            {VMBSAVE_SAVE_PACKET_TOO_SMALL_SECOND, STATUS_UNSUCCESSFUL, "TOO_SMALL_SECOND"},
        };
        /* One-shot, max-chunk, query+exact, 1/req-1/req and random buffers: the failure
         * is met by a large call, a size query and a TOO_SMALL retry. */
        static const size_t strat_cb[] = {0, 1, 4, 5, 8};
        for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
            for (size_t j = 0; j < sizeof(strat_cb) / sizeof(strat_cb[0]); j++) {
                size_t k = strat_cb[j];
                WHERE("%s, driver %s, sizes %s", state_name(i), modes[m].name,
                      k_strategies[k].name);
                e->host.save_mode = modes[m].mode;
                EXPECT_OK(e, e->v->save_begin(ch));
                session s;
                read_all(e, ch, &k_strategies[k], &s);
                e->host.save_mode = VMBSAVE_SAVE_PACKET_STATE;
                /* What was written before the failure is the expected image's start. */
                CHECK(s.size <= r->img.size && same_bytes(s.bytes, r->img.bytes, s.size),
                      "the chunks before the failure are not the image's");
                expect_sticky(e, ch, &s, modes[m].want, r, live);
                session_free(&s);
            }
        }
    }
}

static void t_continue_sticky_error(void **state)
{
    (void)state;
    g_alloc_failures = 0;
    every_state(18, continue_sticky_error_state);
    if (g_alloc_failures == 0)
        print_message("note: save_continue made no allocation; allocation failures were not "
                      "exercised\n");
}

/* ================================ 6. Save end =========================================== */

static void end_always_safe_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    char *d0 = vt_describe(e, ch);
    uint64_t live = e->host.live_allocations;
    for (int exit_path = 0; exit_path < 8; exit_path++) {
        static const char *const names[] = {"never begun",
                                            "right after begin",
                                            "after the first chunk",
                                            "after TOO_SMALL",
                                            "after SUCCESS",
                                            "after a failed begin",
                                            "after a refused second begin",
                                            "after a failed continue"};
        WHERE("%s, save_end %s", state_name(i), names[exit_path]);
        if (exit_path == 7 && !can_fail_by_callback(e, i))
            continue;
        session s;
        memset(&s, 0, sizeof(s));
        switch (exit_path) {
        case 0: break;
        case 1: EXPECT_OK(e, e->v->save_begin(ch)); break;
        case 2:
            EXPECT_OK(e, e->v->save_begin(ch));
            (void)one_call(e, ch, (uint32_t)r->ch[0].size, false, &s);
            break;
        case 3:
            EXPECT_OK(e, e->v->save_begin(ch));
            (void)one_call(e, ch, 1, false, &s);
            break;
        case 4:
            EXPECT_OK(e, e->v->save_begin(ch));
            read_all(e, ch, &k_strategies[1], &s);
            break;
        case 5:
            e->host.fault_mode = VMBSAVE_ALLOC_FAULT_FROM;
            e->host.fault_at = e->host.alloc_calls + 1u;
            (void)CALL(e, e->v->save_begin(ch));
            e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
            break;
        case 6:
            EXPECT_OK(e, e->v->save_begin(ch));
            EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE);
            break;
        case 7:
            e->host.save_mode = VMBSAVE_SAVE_PACKET_FAIL_SECOND;
            EXPECT_OK(e, e->v->save_begin(ch));
            read_all(e, ch, &k_strategies[0], &s);
            e->host.save_mode = VMBSAVE_SAVE_PACKET_STATE;
            CHECK(s.final == STATUS_UNSUCCESSFUL, "failing session: %s", vt_status_str(s.final));
            break;
        }
        session_free(&s);
        vt_save_end(e, ch);
        vt_save_end(e, ch); /* twice in a row */
        CHECK(e->host.live_allocations == live, "%lld allocations held",
              (long long)(e->host.live_allocations - live));
        char *d = vt_describe(e, ch);
        expect_same_desc(d0, d, names[exit_path]);
        free(d);
        /* No session is left: continue says so, and a new session works. */
        expect_nothing_all_sizes(e, ch, STATUS_INVALID_DEVICE_STATE);
        expect_session_gives(e, ch, r, names[exit_path]);
    }
    free(d0);
}

static void t_end_always_safe(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();

    WHERE("NULL channel");
    vt_save_end(e, NULL);
    vt_save_end(e, NULL);

    WHERE("fresh channel");
    char *fresh = vt_describe_fresh(e);
    vmbsave_channel *ch = NULL;
    EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    uint64_t live = e->host.live_allocations;
    vt_save_end(e, ch);
    vt_save_end(e, ch);
    EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE);
    vt_save_end(e, ch);
    char *d = vt_describe(e, ch);
    expect_same_desc(fresh, d, "save_end on a fresh channel");
    free(d);
    CHECK(e->host.live_allocations == live, "save_end changed the allocations");
    EXPECT_OK(e, e->v->channel_cleanup(ch));

    each_state(e, 19, end_always_safe_state);

    WHERE("OPEN_RUNNING");
    ch = open_running(e, 20, 0);
    EXPECT_ST(e, e->v->save_begin(ch), STATUS_INVALID_DEVICE_STATE);
    vt_save_end(e, ch);
    vt_save_end(e, ch);
    EXPECT_OK(e, e->v->pause(ch));
    vt_destroy_channel(e, ch);

    WHERE("restore in progress");
    vmbsave_channel *src = vt_make_canonical(e, VMBSAVE_CANONICAL_LARGE_RING, 20);
    ref r;
    ref_take(e, src, &r);
    ch = restore_in_progress(e, &r);
    vt_save_end(e, ch);
    vt_save_end(e, ch);
    NTSTATUS s = vt_restore(e, ch, r.img.bytes + r.ch[0].size, r.img.size - r.ch[0].size, 2);
    CHECK(s == STATUS_SUCCESS, "the restore after save_end returned %s", vt_status_str(s));
    vt_destroy_channel(e, ch);
    vt_destroy_channel(e, src);
    ref_free(&r);
    free(fresh);
    vt_env_free(e);
}

static void end_frees_session_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    uint64_t live = e->host.live_allocations, bytes = e->host.live_bytes;
    /* Aborted after k chunks, for every k, then completed (k = n). */
    for (size_t k = 0; k <= r->n; k++) {
        WHERE("%s, save_end after %zu of %zu chunks", state_name(i), k, r->n);
        EXPECT_OK(e, e->v->save_begin(ch));
        for (size_t j = 0; j < k; j++) {
            call c = one_call(e, ch, (uint32_t)r->ch[j].size, false, NULL);
            CHECK(is_progress(c.st), "chunk %zu: %s", j, vt_status_str(c.st));
        }
        if (k < r->n)
            (void)one_call(e, ch, 1, false, NULL); /* a TOO_SMALL too */
        vt_save_end(e, ch);
        CHECK(e->host.live_allocations == live && e->host.live_bytes == bytes,
              "after save_end: %llu allocations (%llu bytes), before save_begin: %llu "
              "(%llu bytes)",
              (unsigned long long)e->host.live_allocations, (unsigned long long)e->host.live_bytes,
              (unsigned long long)live, (unsigned long long)bytes);
    }
    for (size_t k = 0; k < N_STRATEGIES; k++) {
        WHERE("%s, sizes %s", state_name(i), k_strategies[k].name);
        session s;
        save_with(e, ch, &k_strategies[k], &s);
        session_free(&s);
        CHECK(e->host.live_allocations == live && e->host.live_bytes == bytes,
              "%lld allocations held after save_end", (long long)(e->host.live_allocations - live));
    }
    if (can_fail_by_callback(e, i)) {
        WHERE("%s, failed session", state_name(i));
        NTSTATUS f = driver_mode_session(e, ch, VMBSAVE_SAVE_PACKET_OVER_LIMIT, &k_strategies[4]);
        CHECK(f == STATUS_IMPLEMENTATION_LIMIT, "session ended with %s", vt_status_str(f));
        CHECK(e->host.live_allocations == live && e->host.live_bytes == bytes,
              "%lld allocations held after save_end", (long long)(e->host.live_allocations - live));
    }
    WHERE("%s, failed allocation in continue", state_name(i));
    alloc_failed_session(e, ch, VMBSAVE_ALLOC_FAULT_FROM, &k_strategies[4]);
    CHECK(e->host.live_allocations == live && e->host.live_bytes == bytes,
          "%lld allocations held after save_end", (long long)(e->host.live_allocations - live));
}

static void t_end_frees_session(void **state)
{
    (void)state;
    every_state(21, end_frees_session_state);
}

/* The same lifecycle script on two channels; their statuses and descriptions must match
 * step by step. */
#define N_OPS 14
static void run_script(vt_env *e, vmbsave_channel *ch, NTSTATUS *st, char **desc)
{
    uint64_t pfns[2] = {0x500, 0x501};
    vmbsave_open_params p;
    vt_fill_open(&p, 500);
    uint8_t sink[8];
    uint32_t got = 0;
    for (int k = 0; k < N_OPS; k++) {
        vmbsave_host_enter(&e->host);
        switch (k) {
        case 0: st[k] = e->v->start(ch); break;
        case 1: st[k] = e->v->ring_write(ch, VMBSAVE_RING_INCOMING, g_data, 32); break;
        case 2: st[k] = e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, g_data + 1, 16); break;
        case 3: st[k] = e->v->packet_send(ch, 9001, 0, g_data + 2, 100); break;
        case 4: st[k] = e->v->ring_read(ch, VMBSAVE_RING_INCOMING, sink, sizeof(sink), &got); break;
        case 5: st[k] = e->v->packet_complete(ch, 9001); break;
        case 6: st[k] = e->v->pause(ch); break;
        case 7: st[k] = e->v->gpadl_create(ch, 500, pfns, 2); break;
        case 8: st[k] = e->v->guest_close(ch); break;
        case 9: st[k] = e->v->guest_open(ch, &p); break;
        case 10: st[k] = e->v->start(ch); break;
        case 11: st[k] = e->v->pause(ch); break;
        case 12: st[k] = e->v->disable(ch); break;
        default: st[k] = e->v->enable(ch); break;
        }
        vmbsave_host_leave(&e->host);
        desc[k] = vt_describe(e, ch);
    }
}

static void t_end_no_state_change(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    fill_data(1);
    for (int i = 0; i < N_STATES; i++) {
        WHERE("%s", state_name(i));
        vmbsave_channel *a = make_state(e, i, 22);
        vmbsave_channel *b = make_state(e, i, 22); /* its twin, never saved */
        char *d0 = vt_describe(e, a);
        char *db = vt_describe(e, b);
        expect_same_desc(d0, db, "twins before saving");
        free(db);
        ref r;
        ref_take(e, a, &r);

        /* A whole session, describing after every call. */
        EXPECT_OK(e, e->v->save_begin(a));
        call c;
        do {
            c = one_call(e, a, (uint32_t)(r.ch[0].size + 7u), false, NULL);
            if (c.st == STATUS_BUFFER_TOO_SMALL)
                c = one_call(e, a, c.required, false, NULL);
            char *d = vt_describe(e, a);
            expect_same_desc(d0, d, "during a session");
            free(d);
        } while (c.st == STATUS_BUFFER_OVERFLOW);
        CHECK(c.st == STATUS_SUCCESS, "the session ended with %s", vt_status_str(c.st));
        vt_save_end(e, a);
        /* An aborted and a failed session. */
        EXPECT_OK(e, e->v->save_begin(a));
        (void)one_call(e, a, (uint32_t)r.ch[0].size, false, NULL);
        vt_save_end(e, a);
        if (can_fail_by_callback(e, i)) {
            NTSTATUS f = driver_mode_session(e, a, VMBSAVE_SAVE_PACKET_ASKS_MORE, &k_strategies[1]);
            CHECK(f == STATUS_INTERNAL_ERROR, "failing session: %s", vt_status_str(f));
        }
        alloc_failed_session(e, a, VMBSAVE_ALLOC_FAULT_FROM, &k_strategies[0]);
        char *d1 = vt_describe(e, a);
        expect_same_desc(d0, d1, "after the sessions");
        free(d1);

        /* Usable as before: every lifecycle step behaves as on the twin. */
        NTSTATUS sa[N_OPS], sb[N_OPS];
        char *da[N_OPS], *dbs[N_OPS];
        run_script(e, a, sa, da);
        run_script(e, b, sb, dbs);
        for (int k = 0; k < N_OPS; k++) {
            CHECK(sa[k] == sb[k], "step %d: the saved channel got %s, its twin %s", k,
                  vt_status_str(sa[k]), vt_status_str(sb[k]));
            expect_same_desc(dbs[k], da[k], "lifecycle step after saving (twin, saved)");
            free(da[k]);
            free(dbs[k]);
        }
        free(d0);
        ref_free(&r);
        vt_destroy_channel(e, a);
        vt_destroy_channel(e, b);
    }
    vt_env_free(e);
}

static void end_new_session_identical_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    /* Aborted after k chunks (0, 1, half, all but END). */
    size_t ks[4] = {0, 1, r->n / 2u, r->n - 1u};
    for (int j = 0; j < 4; j++) {
        WHERE("%s, after a session aborted after %zu chunks", state_name(i), ks[j]);
        EXPECT_OK(e, e->v->save_begin(ch));
        for (size_t k = 0; k < ks[j]; k++)
            (void)one_call(e, ch, (uint32_t)r->ch[k].size, false, NULL);
        (void)one_call(e, ch, 0, true, NULL);
        vt_save_end(e, ch);
        for (size_t k = 0; k < N_STRATEGIES; k += 4) {
            session s;
            save_with(e, ch, &k_strategies[k], &s);
            CHECK(s.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(s.final));
            expect_image(r, s.bytes, s.size, k_strategies[k].name);
            session_free(&s);
        }
    }
    /* After completed sessions with half the strategies (the others are read above). */
    for (size_t k = 1; k < N_STRATEGIES; k += 2) {
        WHERE("%s, after a session read %s", state_name(i), k_strategies[k].name);
        session s;
        save_with(e, ch, &k_strategies[k], &s);
        session_free(&s);
        expect_session_gives(e, ch, r, k_strategies[k].name);
    }
    /* After failed sessions. */
    WHERE("%s, after a failed allocation", state_name(i));
    alloc_failed_session(e, ch, VMBSAVE_ALLOC_FAULT_ONCE, &k_strategies[4]);
    expect_session_gives(e, ch, r, "after a failed allocation");
    if (can_fail_by_callback(e, i)) {
        static const vmbsave_save_packet_mode modes[] = {
            VMBSAVE_SAVE_PACKET_FAIL_SECOND, VMBSAVE_SAVE_PACKET_OVER_LIMIT,
            VMBSAVE_SAVE_PACKET_ASKS_MORE, VMBSAVE_SAVE_PACKET_NO_STATE};
        for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
            WHERE("%s, after a session with driver mode %d", state_name(i), (int)modes[m]);
            (void)driver_mode_session(e, ch, modes[m], &k_strategies[1]);
            expect_session_gives(e, ch, r, "after a failed session");
        }
    }
}

static void t_end_new_session_identical(void **state)
{
    (void)state;
    every_state(23, end_new_session_identical_state);
}

/* ================================ 7. The saved image ==================================== */

/* An environment whose host fills new allocations with `fill_byte`, set before the plug-in is
 * loaded (the host struct is copied at load, ABI.ENTRY.HOST). */
static vt_env *env_with_fill(int fill_byte)
{
    vt_env *e = vt_env_alloc();
    e->host.fill_byte = fill_byte;
    vt_env_load(e);
    return e;
}

static void t_image_deterministic(void **state)
{
    (void)state;
    vt_env *e0 = env_with_fill(0x00), *e1 = env_with_fill(0xFF);
    for (int i = 0; i < N_STATES; i++) {
        ref prev;
        memset(&prev, 0, sizeof(prev));
        for (uint32_t salt = 1; salt <= 2; salt++) {
            WHERE("%s, salt %u", state_name(i), salt);
            /* Churn the first allocator so the two channels' memory is laid out
             * differently as well as filled differently. */
            vmbsave_channel *junk =
                vt_make_canonical(e0, VMBSAVE_CANONICAL_PAUSED_PACKETS, salt + 40u);
            vmbsave_channel *a = make_state(e0, i, salt);
            vt_destroy_channel(e0, junk);
            vmbsave_channel *b = make_state(e1, i, salt);
            ref ra, rb;
            ref_take(e0, a, &ra);
            ref_take(e1, b, &rb);
            expect_image(&ra, rb.img.bytes, rb.img.size, "fill 0xFF against fill 0x00");
            /* And with other buffers, in the same environment and across. */
            session s;
            save_with(e1, b, &k_strategies[8], &s);
            expect_image(&ra, s.bytes, s.size, "fill 0xFF, random sizes");
            session_free(&s);
            save_with(e0, a, &k_strategies[2], &s);
            expect_image(&ra, s.bytes, s.size, "fill 0x00, brief sizes");
            session_free(&s);
            /* The comparison can fail: the other salt's bulk data gives another image
             * (the empty offer has no bulk data to differ). */
            if (salt == 2 && i != (int)VMBSAVE_CANONICAL_EMPTY_OFFER)
                CHECK(prev.img.size != ra.img.size ||
                          memcmp(prev.img.bytes, ra.img.bytes, ra.img.size) != 0,
                      "channels with different content gave the same image");
            ref_free(&prev);
            prev = ra;
            ref_free(&rb);
            vt_destroy_channel(e0, a);
            vt_destroy_channel(e1, b);
        }
        ref_free(&prev);
    }
    vt_env_free(e0);
    vt_env_free(e1);
}

static void image_buffer_independent_state(vt_env *e, int i, vmbsave_channel *ch, const ref *r)
{
    for (size_t k = 0; k < N_STRATEGIES; k++) {
        WHERE("%s, sizes %s", state_name(i), k_strategies[k].name);
        session s;
        save_with(e, ch, &k_strategies[k], &s);
        CHECK(s.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(s.final));
        expect_image(r, s.bytes, s.size, k_strategies[k].name);
        session_free(&s);
    }
    /* More seeds, and the fixture's own loop (TOO_SMALL answered by exact retries). */
    for (uint64_t seed = 1; seed <= 6; seed++) {
        WHERE("%s, random sizes, seed %llu", state_name(i), (unsigned long long)seed);
        strategy st = {"random", NULL, 0, seed * UINT64_C(0x2545F4914F6CDD1D), (seed % 2u) != 0};
        session s;
        save_with(e, ch, &st, &s);
        CHECK(s.final == STATUS_SUCCESS, "session ended with %s", vt_status_str(s.final));
        expect_image(r, s.bytes, s.size, "random sizes");
        session_free(&s);
    }
    WHERE("%s, vt_save_sizes", state_name(i));
    vt_image img;
    vt_save_sizes(e, ch, k_seq_brief, sizeof(k_seq_brief) / sizeof(k_seq_brief[0]), &img);
    expect_image(r, img.bytes, img.size, "vt_save_sizes {0,1,39,40,41,4096,65535}");
    vt_image_free(&img);
    uint32_t odd[3] = {(uint32_t)r->img.size - 1u, (uint32_t)r->img.size,
                       (uint32_t)(r->ch[0].size + r->ch[1].size - 1u)};
    for (int k = 0; k < 3; k++) {
        WHERE("%s, buffers of %u", state_name(i), odd[k]);
        vt_save(e, ch, odd[k], &img);
        expect_image(r, img.bytes, img.size, "odd fixed size");
        vt_image_free(&img);
    }
}

static void t_image_buffer_independent(void **state)
{
    (void)state;
    every_state(24, image_buffer_independent_state);
}

static void t_image_complete(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int i = 0; i < N_STATES; i++) {
        for (uint32_t salt = 25; salt <= 26; salt++) {
            WHERE("%s, salt %u", state_name(i), salt);
            vmbsave_channel *ch = make_state(e, i, salt);
            char *d = vt_describe(e, ch);
            vt_image img;
            vt_save(e, ch, MAXC, &img);
            vmbsave_channel *back = vt_restore_new(e, &img);
            char *db = vt_describe(e, back);
            vt_assert_same_state(d, db);
            CHECK(strstr(db, "\nfresh=0\n") != NULL, "the restored channel says it is fresh");
            free(d);
            free(db);
            vt_image_free(&img);
            vt_destroy_channel(e, back);
            vt_destroy_channel(e, ch);
        }
    }
    /* A channel taken through a longer history: reopened, GPADLs torn down and completed,
     * packets completed, rings read; what describe shows must come back. */
    WHERE("long history");
    vmbsave_channel *ch = open_running(e, 27, 0);
    gpadl(e, ch, 2, 3);
    gpadl(e, ch, 3, 1);
    gpadl(e, ch, 4, 2);
    EXPECT_OK(e, e->v->packet_send(ch, 1, 2, g_data, 10));
    EXPECT_OK(e, e->v->packet_send(ch, 2, 0, g_data, 0));
    EXPECT_OK(e, e->v->packet_complete(ch, 1));
    EXPECT_OK(e, e->v->guest_close(ch));
    EXPECT_OK(e, e->v->gpadl_teardown_begin(ch, 3));
    EXPECT_OK(e, e->v->gpadl_teardown_complete(ch, 3));
    EXPECT_OK(e, e->v->gpadl_teardown_begin(ch, 4));
    vmbsave_open_params p;
    vt_fill_open(&p, 2);
    EXPECT_OK(e, e->v->guest_open(ch, &p));
    EXPECT_OK(e, e->v->start(ch));
    EXPECT_OK(e, e->v->packet_send(ch, 3, 2, g_data + 1, 5));
    EXPECT_OK(e, e->v->packet_send(ch, 1, 0, g_data + 2, 7)); /* id reused after completion */
    EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, g_data, 4000));
    uint32_t got = 0;
    EXPECT_OK(e, e->v->ring_read(ch, VMBSAVE_RING_OUTGOING, g_data + 50000, 3999, &got));
    EXPECT_OK(e, e->v->pause(ch));
    char *d = vt_describe(e, ch);
    vt_image img;
    vt_save(e, ch, 100, &img);
    vmbsave_channel *back = vt_restore_new(e, &img);
    char *db = vt_describe(e, back);
    vt_assert_same_state(d, db);
    free(d);
    free(db);
    vt_image_free(&img);
    vt_destroy_channel(e, back);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("SAVE.BEGIN.ALLOWED_STATES", t_begin_allowed_states),
    CLAUSE_TEST("SAVE.BEGIN.REFUSED_STATES", t_begin_refused_states),
    CLAUSE_TEST("SAVE.BEGIN.ACTIVE_SESSION", t_begin_active_session),
    CLAUSE_TEST("SAVE.BEGIN.SNAPSHOT", t_begin_snapshot),
    CLAUSE_TEST("SAVE.BEGIN.NO_MEMORY", t_begin_no_memory),
    CLAUSE_TEST("SAVE.CONTINUE.PARAMS", t_continue_params),
    CLAUSE_TEST("SAVE.CONTINUE.NO_SESSION", t_continue_no_session),
    CLAUSE_TEST("SAVE.CONTINUE.AFTER_SUCCESS", t_continue_after_success),
    CLAUSE_TEST("SAVE.CONTINUE.WHOLE_CHUNKS", t_continue_whole_chunks),
    CLAUSE_TEST("SAVE.CONTINUE.OVERFLOW.PROGRESS", t_continue_overflow_progress),
    CLAUSE_TEST("SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS", t_continue_too_small_no_progress),
    CLAUSE_TEST("SAVE.CONTINUE.TOO_SMALL.RETRY_PROGRESSES", t_continue_too_small_retry),
    CLAUSE_TEST("SAVE.CONTINUE.SIZE_QUERY", t_continue_size_query),
    CLAUSE_TEST("SAVE.CONTINUE.SUCCESS.COMPLETE", t_continue_success_complete),
    CLAUSE_TEST("SAVE.CONTINUE.MAX_CHUNK_PROGRESS", t_continue_max_chunk_progress),
    CLAUSE_TEST("SAVE.CONTINUE.NO_OVERRUN", t_continue_no_overrun),
    CLAUSE_TEST("SAVE.CONTINUE.STICKY_ERROR", t_continue_sticky_error),
    CLAUSE_TEST("SAVE.END.ALWAYS_SAFE", t_end_always_safe),
    CLAUSE_TEST("SAVE.END.FREES_SESSION", t_end_frees_session),
    CLAUSE_TEST("SAVE.END.NO_STATE_CHANGE", t_end_no_state_change),
    CLAUSE_TEST("SAVE.END.NEW_SESSION_IDENTICAL", t_end_new_session_identical),
    CLAUSE_TEST("SAVE.IMAGE.DETERMINISTIC", t_image_deterministic),
    CLAUSE_TEST("SAVE.IMAGE.BUFFER_INDEPENDENT", t_image_buffer_independent),
    CLAUSE_TEST("SAVE.IMAGE.COMPLETE", t_image_complete),
};

CLAUSE_TEST_MAIN("save", tests)
