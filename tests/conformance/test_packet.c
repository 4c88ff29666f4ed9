/* Clauses PACKET.* (docs/SPEC.md section 9): the driver's save-packet and restore-packet
 * callbacks, driven only through the plug-in's ABI table.
 *
 * Two drivers play behind the callbacks: the fault host's scripted one (harness/host/host.h: its
 * call logs, its failure modes, its per-packet state vmbsave_driver_state()), and a driver of
 * this file (drv_*) for what the scripted one cannot do: ask for 1 or exactly
 * VMBSAVE_MAX_DRIVER_PACKET_STATE bytes, answer a second call with a status of our choice,
 * and compare the buffers restore_packet receives with the image's records byte for byte.
 * The image is parsed here from FORMAT.md, not trusted from the implementation. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/check.h"
#include "support/fixture.h"
#include "support/util.h"

/* The PACKET.* clauses hold for implementations that call the driver at all. */
static void require_callbacks(vt_env *e)
{
    if ((e->v->capabilities & VMBSAVE_CAP_PACKET_CALLBACKS) == 0) {
        print_message("%s does not report VMBSAVE_CAP_PACKET_CALLBACKS\n", e->v->impl_name);
        vt_env_free(e);
        skip();
    }
}

/* ---- environments ----------------------------------------------------------------------- */

/* An environment whose host callbacks are chosen before the plug-in is loaded: the host
 * struct is copied at load (ABI.ENTRY.HOST), so changing it afterwards has no effect. */
typedef NTSTATUS (*save_packet_fn)(void *, vmbsave_channel *, uint64_t, void *, uint32_t,
                                   uint32_t *);
typedef NTSTATUS (*restore_packet_fn)(void *, vmbsave_channel *, uint64_t, const void *, uint32_t,
                                      const void *, uint32_t);
#define HOST_SAVE false, NULL    /* keep the fault host's own save_packet */
#define HOST_RESTORE false, NULL /* keep the fault host's own restore_packet */
#define OWN(fn) true, (fn)       /* replace it (NULL: no callback) */

static vt_env *env_custom(bool set_save, save_packet_fn save, bool set_restore,
                          restore_packet_fn restore)
{
    vt_env *e = vt_env_alloc();
    if (set_save)
        e->host.host.save_packet = save;
    if (set_restore)
        e->host.host.restore_packet = restore;
    vt_env_load(e);
    return e;
}

/* ---- channels with packets -------------------------------------------------------------- */

typedef struct pkt {
    uint64_t id;
    uint32_t gpadl; /* 0, or GPADL 1 or 2 of the channel */
    uint32_t payload;
} pkt;

/* Send order is not id order; ids divisible by 4, and 65, have no scripted driver state. */
static const pkt k_pkts[] = {
    {905, 0, 40}, {8, 1, 0},  {3, 2, 300}, {66, 0, 1},    {1000, 1, 77},
    {13, 0, 5},   {65, 2, 0}, {27, 0, 12}, {10, 1, 3000}, {5, 0, 64},
};
#define N_PKTS (sizeof(k_pkts) / sizeof(k_pkts[0]))

static uint8_t payload_byte(uint64_t id, uint32_t i)
{
    uint32_t x = (uint32_t)id * 2246822519u + i * 2654435761u;
    return (uint8_t)(x >> 24);
}

/* An OPEN_PAUSED channel with the packets in flight, in the order given. */
static vmbsave_channel *packets_channel(vt_env *e, const pkt *p, size_t n)
{
    vmbsave_channel *ch = NULL;
    EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    vmbsave_offer o;
    vt_fill_offer(&o, 3);
    EXPECT_OK(e, e->v->init_set_offer(ch, &o));
    EXPECT_OK(e, e->v->enable(ch));
    uint64_t pfns[4] = {0x100, 0x101, 0x102, 0x103};
    EXPECT_OK(e, e->v->gpadl_create(ch, 1, pfns, 4));
    EXPECT_OK(e, e->v->gpadl_create(ch, 2, pfns + 2, 2));
    vmbsave_open_params op;
    vt_fill_open(&op, 1);
    EXPECT_OK(e, e->v->guest_open(ch, &op));
    EXPECT_OK(e, e->v->start(ch));
    for (size_t i = 0; i < n; i++) {
        uint8_t *buf = vt_xmalloc(p[i].payload);
        for (uint32_t b = 0; b < p[i].payload; b++)
            buf[b] = payload_byte(p[i].id, b);
        NTSTATUS s = CALL(
            e, e->v->packet_send(ch, p[i].id, p[i].gpadl, p[i].payload ? buf : NULL, p[i].payload));
        free(buf);
        CHECK(s == STATUS_SUCCESS, "packet_send(%llu) returned %s", (unsigned long long)p[i].id,
              vt_status_str(s));
    }
    EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, "0123456789", 10));
    EXPECT_OK(e, e->v->pause(ch));
    return ch;
}

/* k_pkts and eight max-payload packets between them: several PACKETS chunks. */
static pkt g_big[N_PKTS + 8];
static size_t big_pkts(void)
{
    size_t n = 0;
    for (size_t i = 0; i < N_PKTS; i++) {
        g_big[n++] = k_pkts[i];
        if (i % 2u == 1u) {
            pkt b = {200u + i, (uint32_t)(i % 3u), VMBSAVE_MAX_PACKET_PAYLOAD};
            g_big[n++] = b;
        }
    }
    for (size_t i = n; i < N_PKTS + 8; i++) {
        pkt b = {300u + i, 0, VMBSAVE_MAX_PACKET_PAYLOAD - (uint32_t)i};
        g_big[n++] = b;
    }
    return n;
}

/* ---- image parsing (FORMAT.md) ---------------------------------------------------------- */

typedef struct rec {
    uint64_t id, seq;
    uint32_t gpadl, payload, dstate, record_bytes;
    const uint8_t *at; /* the record in the image */
} rec;

/* The PACKETS records of an image, in order; returns their count. */
static size_t parse_packets(const uint8_t *img, size_t size, rec *out, size_t cap)
{
    long n = vt_chunks(img, size, NULL, 0);
    CHECK(n >= 2, "the image does not parse as chunks (%ld)", n);
    vt_chunk *c = vt_xmalloc((size_t)n * sizeof(*c));
    vt_chunks(img, size, c, (size_t)n);
    size_t count = 0;
    for (long k = 0; k < n; k++) {
        if (c[k].type != 3u)
            continue;
        const uint8_t *p = img + c[k].offset + VT_CHUNK_HEADER_BYTES;
        uint32_t left = c[k].payload_bytes;
        CHECK(left >= 4u, "PACKETS chunk %ld without a record count", k);
        uint32_t records = vt_get32(p);
        uint32_t off = 4;
        for (uint32_t r = 0; r < records; r++) {
            CHECK(left - off >= 32u, "PACKETS chunk %ld: record %u runs past the chunk", k, r);
            const uint8_t *q = p + off;
            rec x;
            x.record_bytes = vt_get32(q);
            x.id = vt_get64(q + 4);
            x.seq = vt_get64(q + 12);
            x.gpadl = vt_get32(q + 20);
            x.payload = vt_get32(q + 24);
            x.dstate = vt_get32(q + 28);
            x.at = q;
            CHECK(x.record_bytes == 32u + x.payload + x.dstate && x.record_bytes <= left - off,
                  "PACKETS chunk %ld: record %u has %u bytes for %u + %u", k, r, x.record_bytes,
                  x.payload, x.dstate);
            CHECK(count < cap, "more than %zu packet records", cap);
            out[count++] = x;
            off += x.record_bytes;
        }
    }
    free(c);
    return count;
}

/* The records are the packets in send order, with their payloads. */
static void expect_records_are(const rec *r, size_t nr, const pkt *p, size_t n)
{
    CHECK(nr == n, "the image holds %zu packet records, %zu packets are in flight", nr, n);
    for (size_t i = 0; i < n; i++) {
        CHECK(r[i].id == p[i].id && r[i].gpadl == p[i].gpadl && r[i].payload == p[i].payload,
              "record %zu is packet %llu (gpadl %u, %u bytes), expected %llu", i,
              (unsigned long long)r[i].id, r[i].gpadl, r[i].payload, (unsigned long long)p[i].id);
        for (uint32_t b = 0; b < p[i].payload; b++)
            CHECK(r[i].at[32 + b] == payload_byte(p[i].id, b), "record %zu: payload byte %u", i, b);
    }
}

/* ---- saving with chosen buffer sizes ----------------------------------------------------- */

#define SENTINEL 0xDEADBEEFu
#define MAXC VMBSAVE_MAX_CHUNK_BYTES
#define LARGE (1u << 20)

typedef enum sizes_mode {
    SZ_LARGE,  /* one large buffer */
    SZ_MAX,    /* MAX_CHUNK_BYTES buffers */
    SZ_EXACT,  /* a size query, then exactly BytesRequired */
    SZ_TINY,   /* queries, 1 byte, BytesRequired - 1, queries again, then BytesRequired */
    SZ_RANDOM, /* pseudo-random sizes around BytesRequired */
    SZ_COUNT
} sizes_mode;
static const char *const k_sizes_names[SZ_COUNT] = {"large", "max-chunk", "query+exact", "tiny",
                                                    "random"};

typedef struct run {
    uint8_t *bytes;
    size_t size;
    NTSTATUS final;      /* SUCCESS or the failure that stopped the reading */
    bool too_small_bad;  /* a TOO_SMALL for a buffer of at least the last BytesRequired, or
                            a max-chunk buffer */
    bool overflow_empty; /* an OVERFLOW with nothing written */
} run;

static uint64_t g_rng = 1;
static uint32_t rnd(void)
{
    g_rng = g_rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (uint32_t)(g_rng >> 33);
}

/* Reads the session (begun by the caller) to SUCCESS or a failure. */
static void read_session(vt_env *e, vmbsave_channel *ch, sizes_mode mode, run *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    uint32_t req = 0;
    unsigned step = 0;
    for (unsigned calls = 0;; calls++) {
        CHECK(calls < 100000u, "the session does not end");
        uint32_t size;
        switch (mode) {
        case SZ_LARGE: size = LARGE; break;
        case SZ_MAX: size = MAXC; break;
        case SZ_EXACT: size = (step++ % 2u == 0u) ? 0u : req; break;
        case SZ_TINY: {
            static const int seq[] = {0, 0, 1, -1, 0, -2};
            int t = seq[step++ % 6u];
            size = t == -1 ? (req > 0 ? req - 1u : 0u) : t == -2 ? req : (uint32_t)t;
            break;
        }
        default: {
            uint32_t r = rnd() % 6u;
            size = r == 0   ? 0u
                   : r == 1 ? req
                   : r == 2 ? req + rnd() % 100u
                   : r == 3 ? (req > 0 ? rnd() % req : 0u)
                   : r == 4 ? MAXC
                            : rnd() % LARGE;
            break;
        }
        }
        uint8_t *buf = size ? vt_xmalloc(size) : NULL;
        uint32_t filled = SENTINEL, required = SENTINEL;
        NTSTATUS s = CALL(e, e->v->save_continue(ch, buf, size, &filled, &required));
        if (s == STATUS_BUFFER_TOO_SMALL && (size == MAXC || (req != 0 && size >= req)))
            out->too_small_bad = true;
        if (s == STATUS_SUCCESS || s == STATUS_BUFFER_OVERFLOW) {
            CHECK(filled <= size, "BytesFilled %u of a %u-byte buffer", filled, size);
            if (filled == 0)
                out->overflow_empty = true;
            if (out->size + filled > cap) {
                cap = cap * 2u + filled + 4096u;
                uint8_t *nb = realloc(out->bytes, cap);
                CHECK(nb != NULL, "test-side realloc failed");
                out->bytes = nb;
            }
            if (filled > 0)
                memcpy(out->bytes + out->size, buf, filled);
            out->size += filled;
        }
        free(buf);
        if (s == STATUS_SUCCESS || (s != STATUS_BUFFER_OVERFLOW && s != STATUS_BUFFER_TOO_SMALL)) {
            out->final = s;
            return;
        }
        CHECK(!out->too_small_bad && !out->overflow_empty,
              "size %u -> %s (BytesFilled %u, BytesRequired %u): no progress where the "
              "contract promises it",
              size, vt_status_str(s), filled, required);
        req = required;
    }
}

static void run_free(run *r)
{
    free(r->bytes);
    memset(r, 0, sizeof(*r));
}

/* A whole session: begin, read, end. */
static void save_run(vt_env *e, vmbsave_channel *ch, sizes_mode mode, run *out)
{
    EXPECT_OK(e, e->v->save_begin(ch));
    read_session(e, ch, mode, out);
    vt_save_end(e, ch);
}

/* The failing session is over for good: every later call returns `want` with both counts 0
 * and writes nothing, at every boundary size. */
static void expect_sticky(vt_env *e, vmbsave_channel *ch, NTSTATUS want)
{
    static const uint32_t sizes[] = {0, 0, 1, 40, MAXC, LARGE};
    for (int rep = 0; rep < 2; rep++) {
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            uint32_t size = sizes[k];
            uint8_t *buf = NULL;
            if (k != 0) {
                buf = vt_xmalloc(size + 1u);
                memset(buf, 0xC3, size + 1u);
            }
            uint32_t f = SENTINEL, r = SENTINEL;
            NTSTATUS s = CALL(e, e->v->save_continue(ch, buf, size, &f, &r));
            bool untouched = true;
            for (uint32_t i = 0; buf != NULL && i <= size; i++)
                untouched &= buf[i] == 0xC3;
            free(buf);
            CHECK(s == want && f == 0 && r == 0,
                  "a later call (size %u) returned %s, BytesFilled %u, BytesRequired %u; "
                  "expected %s with 0 and 0",
                  size, vt_status_str(s), f, r, vt_status_str(want));
            CHECK(untouched, "a later call (size %u) of the failed session wrote to its buffer",
                  size);
        }
    }
}

/* ---- the scripted driver's expected callback sequence ------------------------------------ */

/* What the fault host logs for packets p[0..n) in a session of the STATE driver: per packet
 * in send order, a size query, then a second call of exactly its state's size if it has any. */
static void expect_save_log_upto(const vmbsave_fault_host *h, const vmbsave_channel *ch,
                                 const pkt *p, size_t n, uint32_t upto)
{
    uint32_t k = 0;
    for (size_t i = 0; i < n && k < upto; i++) {
        uint32_t need = vmbsave_driver_state(p[i].id, NULL, 0);
        CHECK(k < h->save_call_count, "no save_packet call for packet %llu (send position %zu)",
              (unsigned long long)p[i].id, i);
        const vmbsave_packet_call *c = &h->save_calls[k++];
        CHECK(c->packet_id == p[i].id && c->buf_size == 0 && c->channel == ch,
              "save_packet call %u: packet %llu with size %u, expected packet %llu's size query",
              k - 1u, (unsigned long long)c->packet_id, c->buf_size, (unsigned long long)p[i].id);
        if (need == 0 || k == upto)
            continue;
        CHECK(k < h->save_call_count, "no second save_packet call for packet %llu (needs %u)",
              (unsigned long long)p[i].id, need);
        c = &h->save_calls[k++];
        CHECK(c->packet_id == p[i].id && c->buf_size == need && c->channel == ch,
              "save_packet call %u: packet %llu with size %u, expected packet %llu with %u", k - 1u,
              (unsigned long long)c->packet_id, c->buf_size, (unsigned long long)p[i].id, need);
        CHECK(c->buf_was_zeroed, "packet %llu: the second call's buffer was not all zero",
              (unsigned long long)p[i].id);
    }
    if (upto == UINT32_MAX)
        CHECK(k == h->save_call_count, "%u save_packet calls, expected %u", h->save_call_count, k);
    else
        CHECK(k == upto && k < 2u * n,
              "the first %u save_packet calls are not a prefix of a "
              "session's",
              upto);
}

static void expect_save_log(const vmbsave_fault_host *h, const vmbsave_channel *ch, const pkt *p,
                            size_t n)
{
    expect_save_log_upto(h, ch, p, n, UINT32_MAX);
}

/* The records carry the scripted driver's state byte for byte. */
static void expect_driver_states(const rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t want[64];
        uint32_t need = vmbsave_driver_state(r[i].id, want, sizeof(want));
        CHECK(r[i].dstate == need,
              "packet %llu: %u bytes of driver state in the image, the "
              "driver gave %u",
              (unsigned long long)r[i].id, r[i].dstate, need);
        CHECK(need == 0 || memcmp(r[i].at + 32 + r[i].payload, want, need) == 0,
              "packet %llu: the driver state in the image is not what the driver wrote",
              (unsigned long long)r[i].id);
    }
}

/* ---- a driver of our own ----------------------------------------------------------------- */

typedef enum drv_mode {
    DRV_NORMAL,        /* follows the protocol */
    DRV_SECOND_STATUS, /* second call returns drv.second_status, BytesNeeded N */
    DRV_SECOND_OK_MORE /* second call succeeds but sets BytesNeeded N + 1 */
} drv_mode;

#define DRV_LOG 512
static struct {
    drv_mode mode;
    NTSTATUS second_status;
    uint64_t target; /* 0: every packet; else only this one misbehaves */
    uint32_t saves;
    struct {
        uint64_t id;
        uint32_t size;
        bool zeroed;
    } save_log[DRV_LOG];
    uint32_t restores;
    const rec *expect; /* the image's records, for restore_packet to compare with */
    size_t nexpect;
    uint32_t restore_bad; /* restore calls whose buffers differ from the image */
    char why[200];
} drv;

/* 0, 1, MAX, 17 and MAX - 1 bytes of driver state by id modulo 5. */
static uint32_t drv_need(uint64_t id)
{
    static const uint32_t needs[5] = {0, 1, VMBSAVE_MAX_DRIVER_PACKET_STATE, 17,
                                      VMBSAVE_MAX_DRIVER_PACKET_STATE - 1u};
    return needs[id % 5u];
}

static uint8_t drv_byte(uint64_t id, uint32_t i)
{
    return (uint8_t)(id * 31u + i * 7u + 1u);
}

static NTSTATUS drv_save(void *ctx, vmbsave_channel *ch, uint64_t id, void *buf, uint32_t size,
                         uint32_t *needed)
{
    (void)ctx;
    (void)ch;
    if (drv.saves < DRV_LOG) {
        drv.save_log[drv.saves].id = id;
        drv.save_log[drv.saves].size = size;
        bool zero = buf != NULL;
        for (uint32_t i = 0; buf != NULL && i < size; i++)
            zero &= ((const uint8_t *)buf)[i] == 0;
        drv.save_log[drv.saves].zeroed = zero;
    }
    drv.saves++;
    uint32_t n = drv_need(id);
    bool odd = drv.target == 0 || drv.target == id;
    if (size == 0) {
        *needed = n;
        return n != 0 ? STATUS_BUFFER_TOO_SMALL : STATUS_SUCCESS;
    }
    for (uint32_t i = 0; buf != NULL && i < size && i < n; i++)
        ((uint8_t *)buf)[i] = drv_byte(id, i);
    *needed = n;
    if (odd && drv.mode == DRV_SECOND_STATUS)
        return drv.second_status;
    if (odd && drv.mode == DRV_SECOND_OK_MORE)
        *needed = n + 1u;
    return STATUS_SUCCESS;
}

static NTSTATUS drv_restore(void *ctx, vmbsave_channel *ch, uint64_t id, const void *lib,
                            uint32_t lib_size, const void *sbuf, uint32_t ssize)
{
    (void)ctx;
    (void)ch;
    uint32_t k = drv.restores++;
    if (drv.restore_bad != 0)
        return STATUS_SUCCESS;
    const char *bad = NULL;
    if (k >= drv.nexpect) {
        bad = "more restore_packet calls than records";
    } else {
        const rec *r = &drv.expect[k];
        uint32_t n = drv_need(id);
        if (r->id != id)
            bad = "packet out of send order";
        else if (lib == NULL || lib_size != 32u + r->payload)
            bad = "library buffer size is not 32 + payload_bytes";
        else if (memcmp(lib, r->at, lib_size) != 0)
            bad = "library buffer is not the record's first 32 + payload_bytes bytes";
        else if (ssize != n || ((sbuf == NULL) != (n == 0)))
            bad = "driver state buffer: wrong size, or NULL/non-NULL against its size";
        for (uint32_t i = 0; bad == NULL && i < ssize; i++)
            if (((const uint8_t *)sbuf)[i] != drv_byte(id, i))
                bad = "driver state bytes differ from what the driver saved";
    }
    if (bad != NULL) {
        drv.restore_bad = k + 1u;
        snprintf(drv.why, sizeof(drv.why), "restore_packet call %u (packet %llu): %s", k,
                 (unsigned long long)id, bad);
    }
    return STATUS_SUCCESS;
}

static void drv_reset(void)
{
    memset(&drv, 0, sizeof(drv));
}

/* Ids 10..29 in a shuffled order: every drv_need class several times. */
static pkt g_drv_pkts[20];
static size_t drv_pkts(void)
{
    for (size_t i = 0; i < 20; i++) {
        pkt p = {10u + (i * 7u) % 20u, (uint32_t)(i % 3u), (uint32_t)(i * 37u % 500u)};
        g_drv_pkts[i] = p;
    }
    return 20;
}

/* ---- environments for the tests --------------------------------------------------------- */

/* With the fault host's scripted driver; skips the test where the implementation calls no
 * driver. */
static vt_env *scripted_env(void)
{
    vt_env *e = vt_env_new();
    require_callbacks(e);
    return e;
}

/* With our own driver (reset) for save_packet, and for restore_packet too with own_restore
 * (else the fault host's). */
static vt_env *own_env(bool own_restore)
{
    drv_reset();
    if (own_restore)
        return env_custom(OWN(drv_save), OWN(drv_restore));
    return env_custom(OWN(drv_save), HOST_RESTORE);
}

/* A channel with the packets of k_pkts (scripted driver) or g_drv_pkts (our own) in flight,
 * and the image a plain session of it gives. */
typedef struct rig {
    vt_env *e;
    vmbsave_channel *ch;
    run good;
} rig;

static void rig_good(rig *r)
{
    save_run(r->e, r->ch, SZ_LARGE, &r->good);
    CHECK(r->good.final == STATUS_SUCCESS, "the plain session ended with %s",
          vt_status_str(r->good.final));
}

static void rig_scripted(rig *r)
{
    r->e = scripted_env();
    r->ch = packets_channel(r->e, k_pkts, N_PKTS);
    rig_good(r);
}

static void rig_own(rig *r)
{
    r->e = own_env(false);
    size_t n = drv_pkts();
    r->ch = packets_channel(r->e, g_drv_pkts, n);
    rig_good(r);
}

static void rig_free(rig *r)
{
    run_free(&r->good);
    vt_destroy_channel(r->e, r->ch);
    vt_env_free(r->e);
}

/* ---- the clause tests --------------------------------------------------------------------- */

static void t_save_size_query_first(void **state)
{
    (void)state;
    vt_env *e = scripted_env();
    vmbsave_channel *ch = packets_channel(e, k_pkts, N_PKTS);
    rec r[N_PKTS + 8];
    /* The packets have states of 0, 1..64 bytes; the order of the calls is send order. */
    for (int m = 0; m < SZ_COUNT; m++) {
        WHERE("scripted driver, sizes %s", k_sizes_names[m]);
        vmbsave_fault_host_clear_logs(&e->host);
        run x;
        save_run(e, ch, (sizes_mode)m, &x);
        CHECK(x.final == STATUS_SUCCESS, "the session ended with %s", vt_status_str(x.final));
        expect_save_log(&e->host, ch, k_pkts, N_PKTS);
        size_t nr = parse_packets(x.bytes, x.size, r, N_PKTS + 8);
        expect_records_are(r, nr, k_pkts, N_PKTS);
        expect_driver_states(r, nr);
        run_free(&x);
    }
    vt_destroy_channel(e, ch);
    vt_env_free(e);

    /* The boundaries of N: 1 and exactly VMBSAVE_MAX_DRIVER_PACKET_STATE. */
    e = own_env(false);
    size_t n = drv_pkts();
    ch = packets_channel(e, g_drv_pkts, n);
    rec *dr = vt_xmalloc(n * sizeof(*dr));
    for (int m = 0; m < SZ_COUNT; m++) {
        WHERE("own driver (N = 1 .. MAX), sizes %s", k_sizes_names[m]);
        drv.saves = 0;
        run x;
        save_run(e, ch, (sizes_mode)m, &x);
        CHECK(x.final == STATUS_SUCCESS, "the session ended with %s", vt_status_str(x.final));
        uint32_t k = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t id = g_drv_pkts[i].id;
            uint32_t need = drv_need(id);
            CHECK(k < drv.saves && drv.save_log[k].id == id && drv.save_log[k].size == 0,
                  "call %u: not packet %llu's size query", k, (unsigned long long)id);
            k++;
            if (need == 0)
                continue;
            CHECK(k < drv.saves && drv.save_log[k].id == id && drv.save_log[k].size == need &&
                      drv.save_log[k].zeroed,
                  "call %u: packet %llu's second call has size %u (zeroed %d), expected %u "
                  "zeroed bytes",
                  k, (unsigned long long)id, drv.save_log[k].size, drv.save_log[k].zeroed, need);
            k++;
        }
        CHECK(k == drv.saves, "%u save_packet calls, expected %u", drv.saves, k);
        size_t nr = parse_packets(x.bytes, x.size, dr, n);
        expect_records_are(dr, nr, g_drv_pkts, n);
        for (size_t i = 0; i < nr; i++) {
            uint32_t need = drv_need(dr[i].id);
            CHECK(dr[i].dstate == need, "packet %llu: %u bytes of state in the image, %u saved",
                  (unsigned long long)dr[i].id, dr[i].dstate, need);
            for (uint32_t b = 0; b < need; b++)
                CHECK(dr[i].at[32 + dr[i].payload + b] == drv_byte(dr[i].id, b),
                      "packet %llu: state byte %u differs", (unsigned long long)dr[i].id, b);
        }
        run_free(&x);
    }
    free(dr);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

static void t_save_no_state(void **state)
{
    (void)state;
    vt_env *e = scripted_env();
    vmbsave_channel *ch = packets_channel(e, k_pkts, N_PKTS);
    rec r[N_PKTS];

    /* Every packet's first call succeeds: one call each, no driver state anywhere. */
    for (int m = 0; m < SZ_COUNT; m++) {
        WHERE("every packet without state, sizes %s", k_sizes_names[m]);
        e->host.save_mode = VMBSAVE_SAVE_PACKET_NO_STATE;
        vmbsave_fault_host_clear_logs(&e->host);
        run x;
        save_run(e, ch, (sizes_mode)m, &x);
        CHECK(x.final == STATUS_SUCCESS, "the session ended with %s", vt_status_str(x.final));
        CHECK(e->host.save_call_count == N_PKTS, "%u save_packet calls for %zu packets",
              e->host.save_call_count, N_PKTS);
        for (uint32_t k = 0; k < N_PKTS; k++)
            CHECK(e->host.save_calls[k].packet_id == k_pkts[k].id &&
                      e->host.save_calls[k].buf_size == 0,
                  "call %u: packet %llu with size %u", k,
                  (unsigned long long)e->host.save_calls[k].packet_id,
                  e->host.save_calls[k].buf_size);
        size_t nr = parse_packets(x.bytes, x.size, r, N_PKTS);
        expect_records_are(r, nr, k_pkts, N_PKTS);
        for (size_t i = 0; i < nr; i++)
            CHECK(r[i].dstate == 0, "packet %llu has %u bytes of state",
                  (unsigned long long)r[i].id, r[i].dstate);
        run_free(&x);
    }

    /* One packet (with scripted state otherwise) says it has none: only it loses its second
     * call and its state; the rest are as usual. */
    WHERE("only packet 13 without state");
    e->host.save_mode = VMBSAVE_SAVE_PACKET_NO_STATE;
    e->host.save_mode_packet_id = 13;
    CHECK(vmbsave_driver_state(13, NULL, 0) > 0, "packet 13 should have scripted state");
    vmbsave_fault_host_clear_logs(&e->host);
    run x;
    save_run(e, ch, SZ_EXACT, &x);
    CHECK(x.final == STATUS_SUCCESS, "the session ended with %s", vt_status_str(x.final));
    unsigned calls13 = 0;
    for (uint32_t k = 0; k < e->host.save_call_count; k++)
        if (e->host.save_calls[k].packet_id == 13) {
            calls13++;
            CHECK(e->host.save_calls[k].buf_size == 0, "packet 13 called with size %u",
                  e->host.save_calls[k].buf_size);
        }
    CHECK(calls13 == 1, "packet 13 was called %u times", calls13);
    size_t nr = parse_packets(x.bytes, x.size, r, N_PKTS);
    expect_records_are(r, nr, k_pkts, N_PKTS);
    for (size_t i = 0; i < nr; i++) {
        uint32_t want = r[i].id == 13 ? 0u : vmbsave_driver_state(r[i].id, NULL, 0);
        CHECK(r[i].dstate == want, "packet %llu has %u bytes of state, expected %u",
              (unsigned long long)r[i].id, r[i].dstate, want);
    }
    /* Packets whose scripted state is empty (ids 8, 1000, 65) had one call in the plain
     * STATE sessions too: expect_save_log checks that, here in a session of its own. */
    e->host.save_mode = VMBSAVE_SAVE_PACKET_STATE;
    e->host.save_mode_packet_id = 0;
    vmbsave_fault_host_clear_logs(&e->host);
    run y;
    save_run(e, ch, SZ_LARGE, &y);
    expect_save_log(&e->host, ch, k_pkts, N_PKTS);
    run_free(&x);
    run_free(&y);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

static void t_save_once_per_session(void **state)
{
    (void)state;
    vt_env *e = scripted_env();
    size_t n = big_pkts();
    vmbsave_channel *ch = packets_channel(e, g_big, n);
    run first;
    memset(&first, 0, sizeof(first));
    for (int m = 0; m < SZ_COUNT; m++) {
        for (int rep = 0; rep < (m == SZ_RANDOM ? 3 : 1); rep++) {
            WHERE("sizes %s (%d)", k_sizes_names[m], rep);
            g_rng = 77u + (uint64_t)rep;
            vmbsave_fault_host_clear_logs(&e->host);
            run x;
            save_run(e, ch, (sizes_mode)m, &x);
            CHECK(x.final == STATUS_SUCCESS, "the session ended with %s", vt_status_str(x.final));
            /* However the buffers went, each packet's sequence happened once, in order. */
            expect_save_log(&e->host, ch, g_big, n);
            if (m == 0) {
                first = x;
                long chunks = vt_chunks(x.bytes, x.size, NULL, 0);
                vt_chunk c[64];
                CHECK(chunks > 0 && chunks <= 64, "%ld chunks", chunks);
                vt_chunks(x.bytes, x.size, c, 64);
                unsigned packets_chunks = 0;
                for (long k = 0; k < chunks; k++)
                    packets_chunks += c[k].type == 3u;
                CHECK(packets_chunks >= 3, "only %u PACKETS chunks: the test needs several",
                      packets_chunks);
            } else {
                CHECK(x.size == first.size && memcmp(x.bytes, first.bytes, x.size) == 0,
                      "the image differs from the one-shot image");
                run_free(&x);
            }
        }
    }

    /* Many size queries and TOO_SMALLs at every position, by hand. */
    WHERE("ten queries and TOO_SMALLs per chunk");
    vmbsave_fault_host_clear_logs(&e->host);
    EXPECT_OK(e, e->v->save_begin(ch));
    for (;;) {
        uint32_t f = SENTINEL, req = SENTINEL;
        for (int q = 0; q < 10; q++) {
            uint8_t one[1];
            NTSTATUS s =
                CALL(e, e->v->save_continue(ch, q % 2 ? one : NULL, q % 2 ? 1u : 0u, &f, &req));
            CHECK(s == STATUS_BUFFER_TOO_SMALL, "query %d: %s", q, vt_status_str(s));
        }
        uint8_t *buf = vt_xmalloc(req);
        NTSTATUS s = CALL(e, e->v->save_continue(ch, buf, req, &f, &req));
        free(buf);
        if (s == STATUS_SUCCESS)
            break;
        CHECK(s == STATUS_BUFFER_OVERFLOW, "exact read: %s", vt_status_str(s));
    }
    vt_save_end(e, ch);
    expect_save_log(&e->host, ch, g_big, n);

    /* Once per session, not once ever: an aborted session called a prefix of the sequence,
     * and the next session calls the whole sequence again. */
    WHERE("aborted after the first PACKETS chunk, then a new session");
    vmbsave_fault_host_clear_logs(&e->host);
    EXPECT_OK(e, e->v->save_begin(ch));
    size_t off = 0;
    bool saw_packets = false;
    while (!saw_packets) {
        uint32_t f = 0, req = 0;
        NTSTATUS s = CALL(e, e->v->save_continue(ch, NULL, 0, &f, &req));
        CHECK(s == STATUS_BUFFER_TOO_SMALL, "query: %s", vt_status_str(s));
        uint8_t *buf = vt_xmalloc(req);
        s = CALL(e, e->v->save_continue(ch, buf, req, &f, &req));
        saw_packets = f >= VT_CHUNK_HEADER_BYTES && vt_get16(buf + 8) == 3u;
        free(buf);
        CHECK(s == STATUS_BUFFER_OVERFLOW, "exact read: %s", vt_status_str(s));
        off += f;
        CHECK(off < first.size, "no PACKETS chunk");
    }
    vt_save_end(e, ch);
    /* The aborted session's calls are a proper prefix of a whole session's. */
    uint32_t aborted = e->host.save_call_count;
    CHECK(aborted > 0, "no save_packet call before the first PACKETS chunk was read");
    expect_save_log_upto(&e->host, ch, g_big, n, aborted);
    vmbsave_fault_host_clear_logs(&e->host);
    run x;
    save_run(e, ch, SZ_TINY, &x);
    CHECK(x.final == STATUS_SUCCESS, "the session ended with %s", vt_status_str(x.final));
    expect_save_log(&e->host, ch, g_big, n);
    CHECK(x.size == first.size && memcmp(x.bytes, first.bytes, x.size) == 0,
          "the image after an aborted session differs");
    run_free(&x);
    run_free(&first);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

/* Position in send order of `id` in p. */
static size_t pos_of(const pkt *p, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].id == id)
            return i;
    fail_msg("packet %llu is not in the list", (unsigned long long)id);
    return n;
}

/* A session that must fail at packet `target` (0: the first packet) because of the scripted
 * driver's `mode`, with status `want`; `calls` is how many calls the failing packet gets.
 * Checks the calls before it, stickiness, and that save_end and a plain session recover. */
static void expect_callback_failure(vt_env *e, vmbsave_channel *ch, const pkt *p, size_t n,
                                    vmbsave_save_packet_mode mode, uint64_t target, NTSTATUS want,
                                    unsigned calls, const run *good)
{
    size_t at = target == 0 ? 0 : pos_of(p, n, target);
    uint64_t tid = p[at].id;
    uint32_t need = vmbsave_driver_state(tid, NULL, 0);
    if (need == 0)
        need = 16; /* the scripted driver's failing modes ask 16 where the id has none */
    static const sizes_mode modes[] = {SZ_LARGE, SZ_TINY, SZ_EXACT, SZ_MAX};
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        uint64_t live = e->host.live_allocations;
        e->host.save_mode = mode;
        e->host.save_mode_packet_id = target;
        vmbsave_fault_host_clear_logs(&e->host);
        EXPECT_OK(e, e->v->save_begin(ch));
        run x;
        read_session(e, ch, modes[m], &x);
        CHECK(x.final == want, "sizes %s: the session ended with %s, expected %s",
              k_sizes_names[modes[m]], vt_status_str(x.final), vt_status_str(want));
        /* Up to the failing packet, the protocol as usual; the failing packet got its size
         * query and, where the mode has one, a second call of N bytes. */
        uint32_t k = 0;
        for (size_t i = 0; i < at; i++) {
            uint32_t ni = vmbsave_driver_state(p[i].id, NULL, 0);
            k += ni != 0 ? 2u : 1u;
        }
        const vmbsave_fault_host *h = &e->host;
        CHECK(h->save_call_count >= k + calls, "%u save_packet calls, expected at least %u",
              h->save_call_count, k + calls);
        CHECK(h->save_calls[k].packet_id == tid && h->save_calls[k].buf_size == 0,
              "call %u: packet %llu size %u, expected packet %llu's size query", k,
              (unsigned long long)h->save_calls[k].packet_id, h->save_calls[k].buf_size,
              (unsigned long long)tid);
        unsigned got = 0;
        for (uint32_t j = 0; j < h->save_call_count; j++)
            got += h->save_calls[j].packet_id == tid;
        CHECK(got == calls, "packet %llu was called %u times, expected %u", (unsigned long long)tid,
              got, calls);
        if (calls == 2)
            CHECK(h->save_calls[k + 1].packet_id == tid && h->save_calls[k + 1].buf_size == need,
                  "packet %llu's second call has size %u, expected %u", (unsigned long long)tid,
                  h->save_calls[k + 1].buf_size, need);
        /* What was written before the failure is the good image's start. */
        CHECK(x.size <= good->size && (x.size == 0 || memcmp(x.bytes, good->bytes, x.size) == 0),
              "the chunks before the failure are not the image's");
        e->host.save_mode = VMBSAVE_SAVE_PACKET_STATE;
        e->host.save_mode_packet_id = 0;
        expect_sticky(e, ch, want);
        vt_save_end(e, ch);
        CHECK(e->host.live_allocations == live, "%lld allocations held after save_end",
              (long long)(e->host.live_allocations - live));
        run_free(&x);
        /* A new session without the fault gives the normal image. */
        vmbsave_fault_host_clear_logs(&e->host);
        run y;
        save_run(e, ch, modes[m], &y);
        CHECK(y.final == STATUS_SUCCESS && y.size == good->size &&
                  memcmp(y.bytes, good->bytes, y.size) == 0,
              "the session after the failure: %s, %zu bytes (normal: %zu)", vt_status_str(y.final),
              y.size, good->size);
        expect_save_log(&e->host, ch, p, n);
        run_free(&y);
    }
}

/* A session with our own driver misbehaving on its second call, for packet `target` (0: every
 * packet) as `mode` says (with `second_status` for DRV_SECOND_STATUS); `want` is the status. */
static void expect_drv_failure(rig *r, drv_mode mode, NTSTATUS second_status, uint64_t target,
                               NTSTATUS want)
{
    static const sizes_mode modes[] = {SZ_LARGE, SZ_TINY, SZ_MAX};
    drv.second_status = second_status;
    drv.target = target;
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        drv.mode = mode;
        uint64_t live = r->e->host.live_allocations;
        EXPECT_OK(r->e, r->e->v->save_begin(r->ch));
        run x;
        read_session(r->e, r->ch, modes[m], &x);
        CHECK(x.final == want, "sizes %s: the session ended with %s, expected %s",
              k_sizes_names[modes[m]], vt_status_str(x.final), vt_status_str(want));
        drv.mode = DRV_NORMAL;
        expect_sticky(r->e, r->ch, want);
        vt_save_end(r->e, r->ch);
        CHECK(r->e->host.live_allocations == live, "%lld allocations held after save_end",
              (long long)(r->e->host.live_allocations - live));
        run_free(&x);
        run y;
        save_run(r->e, r->ch, modes[m], &y);
        CHECK(y.final == STATUS_SUCCESS && y.size == r->good.size &&
                  memcmp(y.bytes, r->good.bytes, y.size) == 0,
              "the session after the failure: %s", vt_status_str(y.final));
        run_free(&y);
    }
}

/* The scripted driver in `mode` failing the session at each of the packets targets[0..n) in
 * turn (0: the first packet) with `want`; the failing packet is called `calls` times. */
static void scripted_failures(vmbsave_save_packet_mode mode, const char *what,
                              const uint64_t *targets, size_t n, NTSTATUS want, unsigned calls)
{
    rig r;
    rig_scripted(&r);
    for (size_t t = 0; t < n; t++) {
        WHERE("%s, target %llu", what, (unsigned long long)targets[t]);
        expect_callback_failure(r.e, r.ch, k_pkts, N_PKTS, mode, targets[t], want, calls, &r.good);
    }
    rig_free(&r);
}

static void t_save_second_call_fails(void **state)
{
    (void)state;
    /* Every packet, one with state in the middle, one without (the driver asks 16). */
    static const uint64_t targets[] = {0, 13, 1000};
    scripted_failures(VMBSAVE_SAVE_PACKET_FAIL_SECOND, "second call fails", targets, 3,
                      STATUS_UNSUCCESSFUL, 2);
    scripted_failures(VMBSAVE_SAVE_PACKET_FAIL_FIRST_ZERO, "first call fails with BytesNeeded 0",
                      targets, 3, STATUS_UNSUCCESSFUL, 1);
}

static void t_save_over_limit(void **state)
{
    (void)state;
    /* One call only: no second call for a size over the limit. */
    static const uint64_t targets[] = {0, 27, 5};
    scripted_failures(VMBSAVE_SAVE_PACKET_OVER_LIMIT, "first call asks MAX + 1", targets, 3,
                      STATUS_IMPLEMENTATION_LIMIT, 1);

    /* The limit itself is allowed: N = MAX saves. */
    WHERE("N = MAX is within the limit");
    vt_env *e = own_env(false);
    pkt p[2] = {{12, 0, 10}, {17, 0, 0}}; /* drv_need: MAX for both */
    CHECK(drv_need(12) == VMBSAVE_MAX_DRIVER_PACKET_STATE, "drv_need(12)");
    vmbsave_channel *ch = packets_channel(e, p, 2);
    run x;
    save_run(e, ch, SZ_EXACT, &x);
    CHECK(x.final == STATUS_SUCCESS, "a driver asking exactly MAX: %s", vt_status_str(x.final));
    rec r[2];
    CHECK(parse_packets(x.bytes, x.size, r, 2) == 2 &&
              r[0].dstate == VMBSAVE_MAX_DRIVER_PACKET_STATE &&
              r[1].dstate == VMBSAVE_MAX_DRIVER_PACKET_STATE,
          "records do not hold MAX bytes of state");
    run_free(&x);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

static void t_save_asks_more(void **state)
{
    (void)state;
    static const uint64_t targets[] = {0, 3, 8};
    scripted_failures(VMBSAVE_SAVE_PACKET_ASKS_MORE, "second call fails asking N + 1", targets, 3,
                      STATUS_INTERNAL_ERROR, 2);

    /* "Failing or not": a second call that succeeds but asks for more is as bad. */
    rig r;
    rig_own(&r);
    static const uint64_t dtargets[] = {0, 11, 12};
    for (size_t t = 0; t < 3; t++) {
        WHERE("second call succeeds asking N + 1, target %llu", (unsigned long long)dtargets[t]);
        expect_drv_failure(&r, DRV_SECOND_OK_MORE, STATUS_SUCCESS, dtargets[t],
                           STATUS_INTERNAL_ERROR);
    }
    rig_free(&r);
}

static void t_save_status_not_forwarded(void **state)
{
    (void)state;
    /* BUFFER_TOO_SMALL on the second call, asking the same N: a failed second call
     * (UNSUCCESSFUL, PACKET.SAVE.SECOND_CALL_FAILS), never a TOO_SMALL of save_continue.
     * read_session flags any TOO_SMALL for a buffer that was big enough. */
    static const uint64_t targets[] = {0, 27, 65};
    scripted_failures(VMBSAVE_SAVE_PACKET_TOO_SMALL_SECOND, "second call returns BUFFER_TOO_SMALL",
                      targets, 3, STATUS_UNSUCCESSFUL, 2);

    /* Other statuses of our own driver's second call: none comes out as-is. */
    rig r;
    rig_own(&r);
    static const NTSTATUS statuses[] = {
        STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL,         STATUS_INSUFFICIENT_RESOURCES,
        STATUS_DATA_ERROR,      STATUS_MORE_PROCESSING_REQUIRED, STATUS_INVALID_DEVICE_STATE};
    for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
        WHERE("second call returns %s", vt_status_str(statuses[k]));
        /* Packet 13: 17 bytes of state, in the middle. */
        expect_drv_failure(&r, DRV_SECOND_STATUS, statuses[k], 13, STATUS_UNSUCCESSFUL);
    }
    rig_free(&r);
}

/* The chunks of an image, for giving them to restore one by one. */
static size_t image_chunks(const run *x, vt_chunk *c, size_t cap)
{
    long n = vt_chunks(x->bytes, x->size, NULL, 0);
    CHECK(n >= 3 && (size_t)n <= cap, "the image has %ld chunks", n);
    vt_chunks(x->bytes, x->size, c, cap);
    return (size_t)n;
}

static void expect_restore_log(const vmbsave_fault_host *h, const vmbsave_channel *ch, const pkt *p,
                               size_t n)
{
    CHECK(h->restore_call_count == n, "%u restore_packet calls for %zu packets",
          h->restore_call_count, n);
    for (size_t i = 0; i < n; i++) {
        const vmbsave_packet_call *c = &h->restore_calls[i];
        uint32_t need = vmbsave_driver_state(p[i].id, NULL, 0);
        CHECK(c->packet_id == p[i].id && c->channel == ch,
              "restore call %zu: packet %llu, expected %llu (send order) on the restored "
              "channel",
              i, (unsigned long long)c->packet_id, (unsigned long long)p[i].id);
        CHECK(c->lib_size == 32u + p[i].payload && c->buf_size == need,
              "restore call %zu (packet %llu): library buffer %u bytes, driver state %u; "
              "expected %u and %u",
              i, (unsigned long long)p[i].id, c->lib_size, c->buf_size, 32u + p[i].payload, need);
    }
    CHECK(h->restore_state_mismatches == 0,
          "%u restore_packet calls got driver state other than saved (or non-NULL for none)",
          h->restore_state_mismatches);
}

static void t_restore_once_at_commit(void **state)
{
    (void)state;
    vt_env *e = scripted_env();
    size_t n = big_pkts();
    vmbsave_channel *src = packets_channel(e, g_big, n);
    char *d0 = vt_describe(e, src);
    run x;
    save_run(e, src, SZ_MAX, &x);
    CHECK(x.final == STATUS_SUCCESS, "save: %s", vt_status_str(x.final));
    vt_chunk c[64];
    size_t nc = image_chunks(&x, c, 64);

    /* Chunk by chunk, and two chunks a call: nothing reaches the driver before END. */
    for (size_t per = 1; per <= 2; per++) {
        WHERE("%zu chunk(s) per call", per);
        vmbsave_channel *ch = NULL;
        EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
        vmbsave_fault_host_clear_logs(&e->host);
        for (size_t k = 0; k < nc; k += per) {
            size_t last = k + per < nc ? k + per : nc;
            size_t len = c[last - 1].offset + c[last - 1].size - c[k].offset;
            NTSTATUS s =
                CALL(e, e->v->restore_from_buffer(ch, x.bytes + c[k].offset, (uint32_t)len));
            if (last < nc) {
                CHECK(s == STATUS_MORE_PROCESSING_REQUIRED, "chunks %zu..%zu: %s", k, last - 1,
                      vt_status_str(s));
                CHECK(e->host.restore_call_count == 0,
                      "restore_packet called %u times before the END chunk (after chunk %zu)",
                      e->host.restore_call_count, last - 1);
            } else {
                CHECK(s == STATUS_SUCCESS, "the call with END: %s", vt_status_str(s));
            }
        }
        expect_restore_log(&e->host, ch, g_big, n);
        char *d = vt_describe(e, ch);
        vt_assert_same_state(d0, d);
        free(d);
        vt_destroy_channel(e, ch);
    }

    /* All at once: one call makes them all, once each. */
    WHERE("whole image in one call");
    vmbsave_fault_host_clear_logs(&e->host);
    vt_image img = {x.bytes, x.size, NULL, 0};
    vmbsave_channel *ch = vt_restore_new(e, &img);
    expect_restore_log(&e->host, ch, g_big, n);
    vt_destroy_channel(e, ch);

    /* Only after every check: an image that fails at END never reaches the driver. */
    for (int bad = 0; bad < 2; bad++) {
        WHERE("image failing at END (%s)", bad == 0 ? "digest" : "chunk count");
        uint8_t *copy = vt_xmalloc(x.size);
        memcpy(copy, x.bytes, x.size);
        uint8_t *end = copy + c[nc - 1].offset;
        if (bad == 0)
            vt_put64(end + VT_CHUNK_HEADER_BYTES + 16,
                     vt_get64(end + VT_CHUNK_HEADER_BYTES + 16) ^ 1u);
        else
            vt_put32(end + VT_CHUNK_HEADER_BYTES, vt_get32(end + VT_CHUNK_HEADER_BYTES) + 1u);
        vt_chunk_reseal(end);
        EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
        for (size_t per = 0; per <= 1; per++) {
            vmbsave_fault_host_clear_logs(&e->host);
            NTSTATUS s = vt_restore(e, ch, copy, x.size, per);
            CHECK(s != STATUS_SUCCESS && s != STATUS_MORE_PROCESSING_REQUIRED,
                  "a corrupt END restored: %s", vt_status_str(s));
            CHECK(e->host.restore_call_count == 0,
                  "restore_packet called %u times for an image that failed at END",
                  e->host.restore_call_count);
        }
        EXPECT_OK(e, e->v->channel_cleanup(ch));
        free(copy);
    }
    free(d0);
    run_free(&x);
    vt_destroy_channel(e, src);
    vt_env_free(e);

    /* The buffers themselves: the library buffer is the record's first 32 + payload bytes,
     * the driver state is what was saved, NULL and 0 when there is none. */
    WHERE("own driver, buffer contents");
    e = own_env(true);
    n = drv_pkts();
    src = packets_channel(e, g_drv_pkts, n);
    save_run(e, src, SZ_LARGE, &x);
    CHECK(x.final == STATUS_SUCCESS, "save: %s", vt_status_str(x.final));
    rec *r = vt_xmalloc(n * sizeof(*r));
    drv.nexpect = parse_packets(x.bytes, x.size, r, n);
    drv.expect = r;
    EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
    NTSTATUS s = vt_restore(e, ch, x.bytes, x.size, 1);
    CHECK(s == STATUS_SUCCESS, "restore: %s", vt_status_str(s));
    CHECK(drv.restore_bad == 0, "%s", drv.why);
    CHECK(drv.restores == n, "%u restore_packet calls for %zu packets", drv.restores, n);
    vt_destroy_channel(e, ch);
    vt_destroy_channel(e, src);
    free(r);
    run_free(&x);
    vt_env_free(e);
}

static void t_restore_failure_atomic(void **state)
{
    (void)state;
    vt_env *e = scripted_env();
    vmbsave_channel *src = packets_channel(e, k_pkts, N_PKTS);
    char *d0 = vt_describe(e, src);
    char *fresh = vt_describe_fresh(e);
    run x;
    save_run(e, src, SZ_MAX, &x);
    CHECK(x.final == STATUS_SUCCESS, "save: %s", vt_status_str(x.final));

    /* The 3rd call fails (and the first, and the last), with the image in one call or
     * chunk by chunk. */
    static const uint64_t fail_at[] = {3, 1, N_PKTS};
    for (size_t f = 0; f < 3; f++) {
        for (size_t per = 0; per <= 1; per++) {
            WHERE("restore_packet call %llu fails, %s", (unsigned long long)fail_at[f],
                  per ? "chunk by chunk" : "one call");
            vmbsave_channel *ch = NULL;
            EXPECT_OK(e, e->v->channel_allocate(e->v->context, &ch));
            uint64_t live = e->host.live_allocations;
            vmbsave_fault_host_clear_logs(&e->host);
            e->host.restore_fail_at = fail_at[f];
            NTSTATUS s = vt_restore(e, ch, x.bytes, x.size, per);
            e->host.restore_fail_at = 0;
            CHECK(s == STATUS_UNSUCCESSFUL, "restore with a failing callback: %s",
                  vt_status_str(s));
            CHECK(e->host.restore_call_count == fail_at[f],
                  "%u restore_packet calls; the failing one was number %llu",
                  e->host.restore_call_count, (unsigned long long)fail_at[f]);
            for (uint32_t k = 0; k < e->host.restore_call_count; k++)
                CHECK(e->host.restore_calls[k].packet_id == k_pkts[k].id,
                      "restore call %u: packet %llu", k,
                      (unsigned long long)e->host.restore_calls[k].packet_id);
            /* Atomic: the channel is as fresh as a new one, and holds nothing. */
            char *d = vt_describe(e, ch);
            CHECK(strcmp(d, fresh) == 0, "after the failed restore:\n%s\na fresh channel:\n%s", d,
                  fresh);
            free(d);
            CHECK(e->host.live_allocations == live,
                  "%lld allocations held after the failed restore",
                  (long long)(e->host.live_allocations - live));
            /* And a whole restore without the failure works on the same channel. */
            vmbsave_fault_host_clear_logs(&e->host);
            s = vt_restore(e, ch, x.bytes, x.size, 1 - per);
            CHECK(s == STATUS_SUCCESS, "the restore after the failed one: %s", vt_status_str(s));
            expect_restore_log(&e->host, ch, k_pkts, N_PKTS);
            d = vt_describe(e, ch);
            vt_assert_same_state(d0, d);
            free(d);
            vt_destroy_channel(e, ch);
        }
    }
    free(d0);
    free(fresh);
    run_free(&x);
    vt_destroy_channel(e, src);
    vt_env_free(e);
}

static void t_callbacks_optional(void **state)
{
    (void)state;
    /* Neither callback. */
    WHERE("no callbacks");
    vt_env *off = vt_env_alloc();
    off->host.enable_callbacks = false;
    vmbsave_fault_host_apply(&off->host);
    CHECK(off->host.host.save_packet == NULL && off->host.host.restore_packet == NULL,
          "the host still has callbacks");
    vt_env_load(off);
    vmbsave_channel *src = packets_channel(off, k_pkts, N_PKTS);
    char *d0 = vt_describe(off, src);
    rec r[N_PKTS];
    run x;
    memset(&x, 0, sizeof(x));
    for (int m = 0; m < SZ_COUNT; m++) {
        run_free(&x);
        save_run(off, src, (sizes_mode)m, &x);
        CHECK(x.final == STATUS_SUCCESS, "save without callbacks, sizes %s: %s", k_sizes_names[m],
              vt_status_str(x.final));
        size_t nr = parse_packets(x.bytes, x.size, r, N_PKTS);
        expect_records_are(r, nr, k_pkts, N_PKTS);
        for (size_t i = 0; i < nr; i++)
            CHECK(r[i].dstate == 0, "packet %llu has %u bytes of driver state",
                  (unsigned long long)r[i].id, r[i].dstate);
    }
    vt_image img = {x.bytes, x.size, NULL, 0};
    vmbsave_channel *back = vt_restore_new(off, &img);
    char *d = vt_describe(off, back);
    vt_assert_same_state(d0, d);
    free(d);
    vt_destroy_channel(off, back);
    CHECK(off->host.save_call_count == 0 && off->host.restore_call_count == 0,
          "callbacks were logged: %u save, %u restore", off->host.save_call_count,
          off->host.restore_call_count);

    /* An image with driver state, from a host with callbacks, restores without them. */
    WHERE("an image with driver state, restored with no restore_packet");
    vt_env *on = vt_env_new();
    vmbsave_channel *src_on = packets_channel(on, k_pkts, N_PKTS);
    run y;
    save_run(on, src_on, SZ_LARGE, &y);
    CHECK(y.final == STATUS_SUCCESS, "save with callbacks: %s", vt_status_str(y.final));
    size_t nr = parse_packets(y.bytes, y.size, r, N_PKTS);
    expect_driver_states(r, nr);
    vt_image img_on = {y.bytes, y.size, NULL, 0};
    back = vt_restore_new(off, &img_on);
    d = vt_describe(off, back);
    vt_assert_same_state(d0, d);
    free(d);
    vt_destroy_channel(off, back);
    CHECK(off->host.restore_call_count == 0, "restore_packet logged without being registered");
    vt_destroy_channel(on, src_on);
    vt_env_free(on);
    run_free(&y);
    vt_destroy_channel(off, src);
    vt_env_free(off);

    /* save_packet alone absent: no state saved; restore_packet still called, with none. */
    WHERE("no save_packet, restore_packet present");
    vt_env *half = env_custom(OWN(NULL), HOST_RESTORE);
    half->host.save_mode = VMBSAVE_SAVE_PACKET_NO_STATE; /* so the host expects no state */
    src = packets_channel(half, k_pkts, N_PKTS);
    run_free(&x);
    save_run(half, src, SZ_TINY, &x);
    CHECK(x.final == STATUS_SUCCESS, "save: %s", vt_status_str(x.final));
    nr = parse_packets(x.bytes, x.size, r, N_PKTS);
    for (size_t i = 0; i < nr; i++)
        CHECK(r[i].dstate == 0, "packet %llu has %u bytes of state", (unsigned long long)r[i].id,
              r[i].dstate);
    CHECK(half->host.save_call_count == 0, "save_packet logged without being registered");
    img.bytes = x.bytes;
    img.size = x.size;
    back = vt_restore_new(half, &img);
    CHECK(half->host.restore_call_count == N_PKTS && half->host.restore_state_mismatches == 0,
          "%u restore_packet calls (%u with state where none was saved)",
          half->host.restore_call_count, half->host.restore_state_mismatches);
    vt_destroy_channel(half, back);
    vt_destroy_channel(half, src);
    vt_env_free(half);

    /* restore_packet alone absent: state is saved, the restore calls nobody. */
    WHERE("save_packet present, no restore_packet");
    half = env_custom(HOST_SAVE, OWN(NULL));
    src = packets_channel(half, k_pkts, N_PKTS);
    run_free(&x);
    save_run(half, src, SZ_EXACT, &x);
    CHECK(x.final == STATUS_SUCCESS, "save: %s", vt_status_str(x.final));
    expect_save_log(&half->host, src, k_pkts, N_PKTS);
    img.bytes = x.bytes;
    img.size = x.size;
    back = vt_restore_new(half, &img);
    d = vt_describe(half, back);
    vt_assert_same_state(d0, d);
    free(d);
    CHECK(half->host.restore_call_count == 0, "restore_packet logged without being registered");
    vt_destroy_channel(half, back);
    vt_destroy_channel(half, src);
    vt_env_free(half);
    run_free(&x);
    free(d0);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("PACKET.SAVE.SIZE_QUERY_FIRST", t_save_size_query_first),
    CLAUSE_TEST("PACKET.SAVE.NO_STATE", t_save_no_state),
    CLAUSE_TEST("PACKET.SAVE.ONCE_PER_SESSION", t_save_once_per_session),
    CLAUSE_TEST("PACKET.SAVE.SECOND_CALL_FAILS", t_save_second_call_fails),
    CLAUSE_TEST("PACKET.SAVE.OVER_LIMIT", t_save_over_limit),
    CLAUSE_TEST("PACKET.SAVE.ASKS_MORE", t_save_asks_more),
    CLAUSE_TEST("PACKET.SAVE.STATUS_NOT_FORWARDED", t_save_status_not_forwarded),
    CLAUSE_TEST("PACKET.RESTORE.ONCE_AT_COMMIT", t_restore_once_at_commit),
    CLAUSE_TEST("PACKET.RESTORE.FAILURE_ATOMIC", t_restore_failure_atomic),
    CLAUSE_TEST("PACKET.CALLBACKS.OPTIONAL", t_callbacks_optional),
};

CLAUSE_TEST_MAIN("packet", tests)
