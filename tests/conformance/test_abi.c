/* Clauses ABI.*: the entry point, the operation table, NULL channels and describe(). The
 * ABI.ENTRY.* tests dlopen the plug-in themselves, to call the entry point with arguments the
 * loader would never pass. */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/check.h"
#include "support/fixture.h"
#include "support/util.h"

/* ---- raw access to the entry point -------------------------------------------------------- */

/* The plug-in opened by hand, and a fault host to query it with. */
typedef struct raw_plugin {
    void *dl;
    vmbsave_get_interface_fn entry;
    vmbsave_fault_host h;
} raw_plugin;

/* The size of the v1 table, as out_size. */
#define V1_SIZE ((uint32_t)sizeof(vmbsave_interface_v1))

/* The plug-in under test: $VMBSAVE_PLUGIN, or the reference when it is unset or empty. */
static const char *plugin_path(void)
{
    const char *p = getenv("VMBSAVE_PLUGIN");
    return p != NULL && p[0] != '\0' ? p : VMBSAVE_DEFAULT_PLUGIN;
}

static void raw_open(raw_plugin *p)
{
    const char *path = plugin_path();
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL)
        fail_msg("dlopen(%s): %s", path, dlerror());
    void *sym = dlsym(p->dl, VMBSAVE_ENTRY_POINT);
    if (sym == NULL) {
        dlclose(p->dl);
        fail_msg("%s has no %s", path, VMBSAVE_ENTRY_POINT);
    }
    memcpy(&p->entry, &sym, sizeof(p->entry));
    vmbsave_fault_host_init(&p->h);
}

/* Every interface has been released: checks the host got all its memory back, and closes. */
static void raw_close(raw_plugin *p)
{
    assert_int_equal(p->h.live_allocations, 0);
    dlclose(p->dl);
}

/* A query that must be refused: returns its status, and checks that nothing stayed allocated
 * (a refused query has no release to give memory back, RESOURCES.NO_LEAK) and, with
 * `untouched`, that the table was not written (ABI.ENTRY.OUT_SIZE: "Nothing is written"). */
static NTSTATUS refused_query(raw_plugin *p, const char *name, uint32_t major,
                              const vmbsave_host_v1 *host, uint32_t out_size, bool untouched)
{
    const vmbsave_fault_host *h = &p->h;
    union {
        vmbsave_interface_v1 t;
        uint8_t bytes[sizeof(vmbsave_interface_v1) + 64];
    } out;
    memset(&out, 0xCC, sizeof(out));
    uint64_t live = h->live_allocations;
    NTSTATUS s = p->entry(name, major, host, &out.t, out_size);
    if (s == STATUS_SUCCESS) {
        out.t.release(out.t.context);
        return s;
    }
    for (size_t i = 0; untouched && i < sizeof(out); i++)
        if (out.bytes[i] != 0xCC)
            fail_msg("a refused query (%s) wrote byte %zu of the table", vt_status_str(s), i);
    if (h->live_allocations != live)
        fail_msg("a refused query (%s) left %" PRIu64 " allocations live", vt_status_str(s),
                 h->live_allocations - live);
    return s;
}

/* ---- ABI.ENTRY.NAME ----------------------------------------------------------------------- */

static void abi_entry_name(void **state)
{
    (void)state;
    raw_plugin p;
    raw_open(&p);

    static const char *const bad[] = {
        "",
        "vmbsave",
        "vmbsave.kmcl",
        "vmbsave.kmcl.channe",
        "vmbsave.kmcl.channel2",
        "vmbsave.kmcl.channel ",
        "VMBSAVE.KMCL.CHANNEL",
        " vmbsave.kmcl.channel",
        "vmbsave.kmcl.channel.v2",
    };
    EXPECT_STATUS(refused_query(&p, NULL, VMBSAVE_ABI_MAJOR, &p.h.host, V1_SIZE, false),
                  STATUS_NOT_SUPPORTED, "name NULL");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_STATUS(refused_query(&p, bad[i], VMBSAVE_ABI_MAJOR, &p.h.host, V1_SIZE, false),
                      STATUS_NOT_SUPPORTED, "name \"%s\"", bad[i]);

    /* The right name from a different buffer (not the literal's address) is accepted. */
    char name[64];
    snprintf(name, sizeof(name), "%s", VMBSAVE_INTERFACE_NAME);
    vmbsave_interface_v1 t;
    EXPECT_STATUS(p.entry(name, VMBSAVE_ABI_MAJOR, &p.h.host, &t, V1_SIZE), STATUS_SUCCESS,
                  "name \"%s\"", name);
    t.release(t.context);
    raw_close(&p);
}

/* ---- ABI.ENTRY.MAJOR ---------------------------------------------------------------------- */

static void abi_entry_major(void **state)
{
    (void)state;
    raw_plugin p;
    raw_open(&p);
    static const uint32_t bad[] = {0u, 2u, 3u, 0x100u, 0x10001u, 0x80000001u, UINT32_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT_STATUS(refused_query(&p, VMBSAVE_INTERFACE_NAME, bad[i], &p.h.host, V1_SIZE, false),
                      STATUS_REVISION_MISMATCH, "abi_major %u", (unsigned)bad[i]);
    vmbsave_interface_v1 t;
    EXPECT_STATUS(p.entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &p.h.host, &t, V1_SIZE),
                  STATUS_SUCCESS, "abi_major 1");
    assert_int_equal(t.abi_major, VMBSAVE_ABI_MAJOR);
    t.release(t.context);
    raw_close(&p);
}

/* ---- ABI.ENTRY.HOST ----------------------------------------------------------------------- */

static unsigned g_trap_calls;

static void *trap_alloc(void *context, size_t bytes)
{
    (void)context;
    (void)bytes;
    g_trap_calls++;
    return NULL;
}

static void trap_free(void *context, void *ptr)
{
    (void)context;
    (void)ptr;
    g_trap_calls++;
}

static void abi_entry_host(void **state)
{
    (void)state;
    raw_plugin p;
    raw_open(&p);

    EXPECT_STATUS(
        refused_query(&p, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, NULL, V1_SIZE, false),
        STATUS_INVALID_PARAMETER, "host NULL");
    vmbsave_host_v1 bad;
    static const uint32_t small[] = {0u, 8u, (uint32_t)sizeof(vmbsave_host_v1) - 1u};
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        bad = p.h.host;
        bad.size = small[i];
        EXPECT_STATUS(
            refused_query(&p, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &bad, V1_SIZE, false),
            STATUS_INVALID_PARAMETER, "host size %u", (unsigned)small[i]);
    }
    static const uint32_t majors[] = {0u, 2u, UINT32_MAX};
    for (size_t i = 0; i < sizeof(majors) / sizeof(majors[0]); i++) {
        bad = p.h.host;
        bad.abi_major = majors[i];
        EXPECT_STATUS(
            refused_query(&p, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &bad, V1_SIZE, false),
            STATUS_INVALID_PARAMETER, "host abi_major %u", (unsigned)majors[i]);
    }
    bad = p.h.host;
    bad.alloc = NULL;
    EXPECT_STATUS(
        refused_query(&p, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &bad, V1_SIZE, false),
        STATUS_INVALID_PARAMETER, "host without alloc");
    bad = p.h.host;
    bad.free = NULL;
    EXPECT_STATUS(
        refused_query(&p, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &bad, V1_SIZE, false),
        STATUS_INVALID_PARAMETER, "host without free");

    /* Optional members may be NULL; a larger (newer minor) host struct is accepted. */
    struct {
        vmbsave_host_v1 host;
        uint8_t newer[32];
    } big;
    memset(&big, 0, sizeof(big));
    big.host = p.h.host;
    big.host.size = (uint32_t)sizeof(big);
    big.host.log = NULL;
    big.host.save_packet = NULL;
    big.host.restore_packet = NULL;
    vmbsave_interface_v1 t;
    EXPECT_STATUS(p.entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &big.host, &t, V1_SIZE),
                  STATUS_SUCCESS, "a larger host with optional members NULL");
    t.release(t.context);
    assert_int_equal(p.h.live_allocations, 0);

    /* The host is copied: after the query, the caller's struct is overwritten with traps and
     * then freed, and the implementation must go on using the services it was given. */
    vmbsave_host_v1 *copy = malloc(sizeof(*copy));
    assert_non_null(copy);
    *copy = p.h.host;
    EXPECT_STATUS(p.entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, copy, &t, V1_SIZE),
                  STATUS_SUCCESS, "query with a heap host");
    copy->alloc = trap_alloc;
    copy->free = trap_free;
    copy->context = NULL;
    copy->size = 0;
    g_trap_calls = 0;
    uint64_t calls_before = p.h.alloc_calls;
    vmbsave_channel *ch = NULL;
    EXPECT_STATUS(t.channel_allocate(t.context, &ch), STATUS_SUCCESS, "channel_allocate");
    vmbsave_offer offer;
    vt_fill_offer(&offer, 1);
    EXPECT_STATUS(t.init_set_offer(ch, &offer), STATUS_SUCCESS, "init_set_offer");
    EXPECT_STATUS(t.enable(ch), STATUS_SUCCESS, "enable");
    free(copy); /* under ASan, any later read of it is reported */
    uint64_t pfns[4] = {1, 2, 3, 4};
    EXPECT_STATUS(t.gpadl_create(ch, 1, pfns, 4), STATUS_SUCCESS, "gpadl_create");
    EXPECT_STATUS(t.save_begin(ch), STATUS_SUCCESS, "save_begin");
    uint8_t *buf = malloc(VMBSAVE_MAX_CHUNK_BYTES);
    assert_non_null(buf);
    uint32_t filled = 0, req = 0;
    NTSTATUS s;
    do {
        s = t.save_continue(ch, buf, VMBSAVE_MAX_CHUNK_BYTES, &filled, &req);
    } while (s == STATUS_BUFFER_OVERFLOW);
    free(buf);
    EXPECT_STATUS(s, STATUS_SUCCESS, "save_continue");
    t.save_end(ch);
    EXPECT_STATUS(t.disable(ch), STATUS_SUCCESS, "disable");
    EXPECT_STATUS(t.channel_cleanup(ch), STATUS_SUCCESS, "channel_cleanup");
    t.release(t.context);
    assert_int_equal(g_trap_calls, 0);
    assert_true(p.h.alloc_calls > calls_before); /* the copied host's allocator was used */
    raw_close(&p);
}

/* ---- ABI.ENTRY.OUT_SIZE ------------------------------------------------------------------- */

static void abi_entry_out_size(void **state)
{
    (void)state;
    raw_plugin p;
    raw_open(&p);

    EXPECT_STATUS(p.entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &p.h.host, NULL, V1_SIZE),
                  STATUS_INVALID_PARAMETER, "out NULL");
    assert_int_equal(p.h.live_allocations, 0);
    static const uint32_t small[] = {0u, 4u, 8u, (uint32_t)sizeof(vmbsave_interface_v1) / 2u,
                                     (uint32_t)sizeof(vmbsave_interface_v1) - 1u};
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++)
        EXPECT_STATUS(
            refused_query(&p, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &p.h.host, small[i], true),
            STATUS_INVALID_BUFFER_SIZE, "out_size %u", (unsigned)small[i]);

    /* A caller that knows a later minor passes a larger table: accepted. */
    union {
        vmbsave_interface_v1 t;
        uint8_t bytes[sizeof(vmbsave_interface_v1) + 64];
    } big;
    memset(&big, 0, sizeof(big));
    EXPECT_STATUS(p.entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &p.h.host, &big.t,
                          (uint32_t)sizeof(big)),
                  STATUS_SUCCESS, "out_size %zu", sizeof(big));
    assert_true(big.t.size >= V1_SIZE && big.t.size <= sizeof(big));
    big.t.release(big.t.context);
    vmbsave_interface_v1 t;
    EXPECT_STATUS(p.entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &p.h.host, &t, V1_SIZE),
                  STATUS_SUCCESS, "out_size exactly sizeof");
    t.release(t.context);
    raw_close(&p);
}

/* ---- ABI.TABLE.* -------------------------------------------------------------------------- */

static void abi_table_complete(void **state)
{
    (void)state;
    raw_plugin p;
    raw_open(&p);
    vmbsave_interface_v1 t;
    memset(&t, 0, sizeof(t));
    EXPECT_STATUS(
        p.entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &p.h.host, &t, (uint32_t)sizeof(t)),
        STATUS_SUCCESS, "query");
    assert_true(t.size >= sizeof(vmbsave_interface_v1));
    assert_true(t.size <= sizeof(t)); /* no more than the out_size passed */
    assert_int_equal(t.abi_major, 1);
    assert_non_null(t.impl_name);
    assert_true(t.impl_name[0] != '\0');
    assert_non_null(t.impl_version);
    assert_true(t.impl_version[0] != '\0');
    const struct {
        const char *name;
        const void *set; /* non-NULL when the member is set */
    } ops[] = {
#define OP(m) {#m, t.m != NULL ? "" : NULL}
        OP(release),
        OP(channel_allocate),
        OP(channel_cleanup),
        OP(init_set_offer),
        OP(enable),
        OP(disable),
        OP(guest_open),
        OP(guest_close),
        OP(start),
        OP(pause),
        OP(gpadl_create),
        OP(gpadl_teardown_begin),
        OP(gpadl_teardown_complete),
        OP(packet_send),
        OP(packet_complete),
        OP(ring_write),
        OP(ring_read),
        OP(save_begin),
        OP(save_continue),
        OP(save_end),
        OP(restore_from_buffer),
        OP(describe),
#undef OP
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (ops[i].set == NULL)
            fail_msg("operation %s is not set", ops[i].name);
    t.release(t.context);
    raw_close(&p);
}

static void abi_table_release(void **state)
{
    (void)state;
    raw_plugin p;
    raw_open(&p);
    /* Several interfaces alive at once, used, then released in another order. */
    vmbsave_interface_v1 t[3];
    for (int i = 0; i < 3; i++)
        EXPECT_STATUS(p.entry(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &p.h.host, &t[i],
                              (uint32_t)sizeof(t[i])),
                      STATUS_SUCCESS, "query %d", i);
    for (int i = 0; i < 3; i++) {
        vmbsave_channel *ch = NULL;
        EXPECT_STATUS(t[i].channel_allocate(t[i].context, &ch), STATUS_SUCCESS, "allocate");
        vmbsave_offer offer;
        vt_fill_offer(&offer, (uint32_t)i);
        EXPECT_STATUS(t[i].init_set_offer(ch, &offer), STATUS_SUCCESS, "init_set_offer");
        EXPECT_STATUS(t[i].channel_cleanup(ch), STATUS_SUCCESS, "cleanup");
    }
    assert_true(p.h.alloc_calls > 0);
    t[1].release(t[1].context);
    t[0].release(t[0].context);
    t[2].release(t[2].context);
    assert_int_equal(p.h.live_bytes, 0);
    raw_close(&p);

    /* Through the loader as well, after a full workload. */
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 3);
    vt_image img;
    vt_save(e, ch, 1000, &img); /* smaller than a chunk: a TOO_SMALL and its retry too */
    assert_true(vt_image_has_chunk_above(&img, 1000));
    vt_destroy_channel(e, ch);
    vt_image_free(&img);
    vmbsave_impl_unload(&e->impl);
    assert_int_equal(e->host.live_allocations, 0);
    assert_int_equal(e->host.live_bytes, 0);
    free(e);
}

/* ---- ABI.NULL_CHANNEL --------------------------------------------------------------------- */

static void abi_null_channel(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    const vmbsave_interface_v1 *v = e->v;
    const uint64_t live = e->host.live_allocations; /* the interface's own */
    vmbsave_offer offer;
    vt_fill_offer(&offer, 0);
    vmbsave_open_params open;
    vt_fill_open(&open, 1);
    uint64_t pfns[2] = {1, 2};
    uint8_t data[64] = {0};
    uint32_t n1 = 77, n2 = 77;
    char text[64];

    EXPECT_STATUS(v->channel_allocate(v->context, NULL), STATUS_INVALID_PARAMETER,
                  "channel_allocate(NULL out)");
    EXPECT_STATUS(v->channel_cleanup(NULL), STATUS_INVALID_PARAMETER, "channel_cleanup");
    EXPECT_STATUS(v->init_set_offer(NULL, &offer), STATUS_INVALID_PARAMETER, "init_set_offer");
    EXPECT_STATUS(v->enable(NULL), STATUS_INVALID_PARAMETER, "enable");
    EXPECT_STATUS(v->disable(NULL), STATUS_INVALID_PARAMETER, "disable");
    EXPECT_STATUS(v->guest_open(NULL, &open), STATUS_INVALID_PARAMETER, "guest_open");
    EXPECT_STATUS(v->guest_close(NULL), STATUS_INVALID_PARAMETER, "guest_close");
    EXPECT_STATUS(v->start(NULL), STATUS_INVALID_PARAMETER, "start");
    EXPECT_STATUS(v->pause(NULL), STATUS_INVALID_PARAMETER, "pause");
    EXPECT_STATUS(v->gpadl_create(NULL, 1, pfns, 2), STATUS_INVALID_PARAMETER, "gpadl_create");
    EXPECT_STATUS(v->gpadl_teardown_begin(NULL, 1), STATUS_INVALID_PARAMETER,
                  "gpadl_teardown_begin");
    EXPECT_STATUS(v->gpadl_teardown_complete(NULL, 1), STATUS_INVALID_PARAMETER,
                  "gpadl_teardown_complete");
    EXPECT_STATUS(v->packet_send(NULL, 1, 0, data, sizeof(data)), STATUS_INVALID_PARAMETER,
                  "packet_send");
    EXPECT_STATUS(v->packet_complete(NULL, 1), STATUS_INVALID_PARAMETER, "packet_complete");
    EXPECT_STATUS(v->ring_write(NULL, VMBSAVE_RING_INCOMING, data, sizeof(data)),
                  STATUS_INVALID_PARAMETER, "ring_write");
    EXPECT_STATUS(v->ring_read(NULL, VMBSAVE_RING_INCOMING, data, sizeof(data), &n1),
                  STATUS_INVALID_PARAMETER, "ring_read");
    EXPECT_STATUS(v->save_begin(NULL), STATUS_INVALID_PARAMETER, "save_begin");
    EXPECT_STATUS(v->save_continue(NULL, data, sizeof(data), &n1, &n2), STATUS_INVALID_PARAMETER,
                  "save_continue");
    EXPECT_STATUS(v->restore_from_buffer(NULL, data, sizeof(data)), STATUS_INVALID_PARAMETER,
                  "restore_from_buffer");
    EXPECT_STATUS(v->describe(NULL, text, sizeof(text), &n1), STATUS_INVALID_PARAMETER, "describe");
    v->save_end(NULL); /* VOID: ignores it, must not crash */
    v->save_end(NULL);
    assert_int_equal(e->host.live_allocations, live);
    vt_env_free(e);
}

/* ---- ABI.DESCRIBE.FORMAT ------------------------------------------------------------------ */

/* A growing text buffer (test-side malloc). */
typedef struct sb {
    char *p;
    size_t n, cap;
} sb;

static void sb_printf(sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(k >= 0);
    if (b->n + (size_t)k + 1 > b->cap) {
        b->cap = (b->n + (size_t)k + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

static void sb_hex(sb *b, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_printf(b, "%02x", bytes[i]);
}

/* What a channel holds, as the test set it up. */
typedef struct m_gpadl {
    uint32_t id;
    bool tearing_down;
    uint32_t count;
    const uint64_t *pfns;
} m_gpadl;

typedef struct m_packet {
    uint64_t id, seq;
    uint32_t gpadl, bytes;
    const uint8_t *payload;
} m_packet;

typedef struct model {
    const char *state;
    int fresh;
    bool offer_set;
    vmbsave_offer offer;
    vmbsave_open_params open; /* zero unless open */
    uint64_t next_seq;
    size_t gpadl_count;
    m_gpadl gpadls[4]; /* ascending id order */
    size_t packet_count;
    m_packet packets[4]; /* send order */
    const uint8_t *ring[2];
    uint32_t ring_bytes[2];
} model;

static uint64_t pfn_hash(const uint64_t *pfns, uint32_t n)
{
    uint8_t *b = malloc((size_t)n * 8u);
    assert_non_null(b);
    for (uint32_t i = 0; i < n; i++)
        vt_put64(b + 8u * i, pfns[i]);
    uint64_t h = vt_hash(b, (size_t)n * 8u, 0);
    free(b);
    return h;
}

/* The text of SPEC section 14 for `m`, written from the spec. */
static char *render(const model *m)
{
    sb b = {NULL, 0, 0};
    vmbsave_offer zero_offer;
    memset(&zero_offer, 0, sizeof(zero_offer));
    const vmbsave_offer *o = m->offer_set ? &m->offer : &zero_offer;
    sb_printf(&b, "state=%s\n", m->state);
    sb_printf(&b, "fresh=%d\n", m->fresh);
    sb_printf(&b, "offer.set=%d\n", m->offer_set ? 1 : 0);
    sb_printf(&b, "offer.interface_type=");
    sb_hex(&b, o->interface_type.bytes, 16);
    sb_printf(&b, "\noffer.interface_instance=");
    sb_hex(&b, o->interface_instance.bytes, 16);
    sb_printf(&b, "\noffer.subchannel_index=%u\n", (unsigned)o->subchannel_index);
    sb_printf(&b, "offer.mmio_megabytes=%u\n", (unsigned)o->mmio_megabytes);
    sb_printf(&b, "offer.flags=0x%x\n", (unsigned)o->flags);
    sb_printf(&b, "offer.user_defined=");
    sb_hex(&b, o->user_defined, VMBSAVE_USER_DEFINED_BYTES);
    sb_printf(&b, "\nopen.ring_gpadl_id=%u\n", (unsigned)m->open.ring_gpadl_id);
    sb_printf(&b, "open.incoming_ring_bytes=%u\n", (unsigned)m->open.incoming_ring_bytes);
    sb_printf(&b, "open.outgoing_ring_bytes=%u\n", (unsigned)m->open.outgoing_ring_bytes);
    sb_printf(&b, "open.target_vp=%u\n", (unsigned)m->open.target_vp);
    sb_printf(&b, "open.connection_id=%u\n", (unsigned)m->open.connection_id);
    sb_printf(&b, "next_send_sequence=%" PRIu64 "\n", m->next_seq);
    sb_printf(&b, "gpadl.count=%zu\n", m->gpadl_count);
    for (size_t i = 0; i < m->gpadl_count; i++) {
        const m_gpadl *g = &m->gpadls[i];
        sb_printf(&b, "gpadl[%zu]=id=%u state=%s pfns=%u pfn_hash=%016" PRIx64 "\n", i,
                  (unsigned)g->id, g->tearing_down ? "TEARING_DOWN" : "CREATED", (unsigned)g->count,
                  pfn_hash(g->pfns, g->count));
    }
    sb_printf(&b, "packet.count=%zu\n", m->packet_count);
    for (size_t i = 0; i < m->packet_count; i++) {
        const m_packet *p = &m->packets[i];
        sb_printf(&b,
                  "packet[%zu]=id=%" PRIu64 " seq=%" PRIu64
                  " gpadl=%u bytes=%u payload_hash=%016" PRIx64 "\n",
                  i, p->id, p->seq, (unsigned)p->gpadl, (unsigned)p->bytes,
                  vt_hash(p->payload, p->bytes, 0));
    }
    sb_printf(&b, "ring.incoming.bytes=%u\n", (unsigned)m->ring_bytes[0]);
    sb_printf(&b, "ring.incoming.hash=%016" PRIx64 "\n", vt_hash(m->ring[0], m->ring_bytes[0], 0));
    sb_printf(&b, "ring.outgoing.bytes=%u\n", (unsigned)m->ring_bytes[1]);
    sb_printf(&b, "ring.outgoing.hash=%016" PRIx64 "\n", vt_hash(m->ring[1], m->ring_bytes[1], 0));
    return b.p;
}

static void expect_text(vt_env *e, vmbsave_channel *ch, const model *m, const char *when)
{
    char *want = render(m);
    char *got = vt_describe(e, ch);
    if (strcmp(want, got) != 0) {
        /* Point at the first differing line. */
        const char *a = want, *g = got;
        unsigned line = 1;
        while (*a != '\0' && *a == *g) {
            if (*a == '\n')
                line++;
            a++;
            g++;
        }
        while (a > want && a[-1] != '\n') {
            a--;
            g--;
        }
        int la = (int)strcspn(a, "\n"), lg = (int)strcspn(g, "\n");
        char msg[600];
        snprintf(msg, sizeof(msg), "%s: describe differs at line %u\n  want: %.*s\n  got:  %.*s",
                 when, line, la, a, lg, g);
        free(want);
        free(got);
        fail_msg("%s", msg);
    }
    free(want);
    free(got);
}

/* Shape checks of SPEC section 14 that hold for any channel: key order, decimal and hex forms. */
static bool is_dec(const char *s, size_t n)
{
    if (n == 0 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool is_lhex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Consumes "key=" at *p and returns the value's length up to the newline. */
static size_t take_key(const char **p, const char *key, const char *text)
{
    size_t k = strlen(key);
    if (strncmp(*p, key, k) != 0 || (*p)[k] != '=')
        fail_msg("describe: expected key '%s' at offset %zu, found: %.40s", key,
                 (size_t)(*p - text), *p);
    *p += k + 1;
    const char *nl = strchr(*p, '\n');
    if (nl == NULL)
        fail_msg("describe: line '%s' has no newline", key);
    return (size_t)(nl - *p);
}

static unsigned long long dec_line(const char **p, const char *key, const char *text)
{
    size_t n = take_key(p, key, text);
    if (!is_dec(*p, n))
        fail_msg("describe: %s=%.*s is not a decimal number", key, (int)n, *p);
    unsigned long long v = strtoull(*p, NULL, 10);
    *p += n + 1;
    return v;
}

static void hex_line(const char **p, const char *key, size_t digits, const char *text)
{
    size_t n = take_key(p, key, text);
    if (n != digits || !is_lhex(*p, n))
        fail_msg("describe: %s=%.*s is not %zu lowercase hex digits", key, (int)n, *p, digits);
    *p += n + 1;
}

static void one_of_line(const char **p, const char *key, const char *const *values,
                        const char *text)
{
    size_t n = take_key(p, key, text);
    for (const char *const *v = values; *v != NULL; v++) {
        if (strlen(*v) == n && strncmp(*p, *v, n) == 0) {
            *p += n + 1;
            return;
        }
    }
    fail_msg("describe: %s=%.*s is not an allowed value", key, (int)n, *p);
}

/* Parses "name=<dec>" (space-terminated field) inside an item line. */
static void item_field(const char **p, const char *name, const char *end, bool hex16)
{
    size_t k = strlen(name);
    if (strncmp(*p, name, k) != 0 || (*p)[k] != '=')
        fail_msg("describe: expected field '%s=' in an item line, found: %.40s", name, *p);
    *p += k + 1;
    const char *stop = *p;
    while (stop < end && *stop != ' ')
        stop++;
    size_t n = (size_t)(stop - *p);
    if (hex16 ? (n != 16 || !is_lhex(*p, n)) : !is_dec(*p, n))
        fail_msg("describe: field %s=%.*s has the wrong form", name, (int)n, *p);
    *p = stop < end ? stop + 1 : stop;
}

/* Consumes the key "<list>[i]" of an item line at *p (key[32] gets it): *q is the start of the
 * item's fields, and the returned pointer their end. */
static const char *take_item(const char **p, const char *list, unsigned long long i,
                             const char *text, char *key, const char **q)
{
    snprintf(key, 32, "%s[%llu]", list, i);
    size_t len = take_key(p, key, text);
    *q = *p;
    return *p + len;
}

/* The fields of an item line have been read up to q: nothing may follow them before `end`.
 * Moves *p to the next line. */
static void end_item(const char **p, const char *q, const char *end, const char *key)
{
    if (q != end)
        fail_msg("describe: %s has trailing text", key);
    *p = end + 1;
}

static void check_shape(const char *text)
{
    static const char *const states[] = {"DISABLED", "ENABLED", "OPEN_PAUSED", "OPEN_RUNNING",
                                         NULL};
    static const char *const bits[] = {"0", "1", NULL};
    static const char *const gstates[] = {"CREATED", "TEARING_DOWN", NULL};
    const char *p = text;
    one_of_line(&p, "state", states, text);
    one_of_line(&p, "fresh", bits, text);
    one_of_line(&p, "offer.set", bits, text);
    hex_line(&p, "offer.interface_type", 32, text);
    hex_line(&p, "offer.interface_instance", 32, text);
    dec_line(&p, "offer.subchannel_index", text);
    dec_line(&p, "offer.mmio_megabytes", text);
    size_t n = take_key(&p, "offer.flags", text);
    if (n < 3 || strncmp(p, "0x", 2) != 0 || !is_lhex(p + 2, n - 2) || (n > 3 && p[2] == '0'))
        fail_msg("describe: offer.flags=%.*s is not 0x<hex, no leading zeros>", (int)n, p);
    p += n + 1;
    hex_line(&p, "offer.user_defined", 240, text);
    dec_line(&p, "open.ring_gpadl_id", text);
    dec_line(&p, "open.incoming_ring_bytes", text);
    dec_line(&p, "open.outgoing_ring_bytes", text);
    dec_line(&p, "open.target_vp", text);
    dec_line(&p, "open.connection_id", text);
    dec_line(&p, "next_send_sequence", text);
    unsigned long long gc = dec_line(&p, "gpadl.count", text);
    for (unsigned long long i = 0; i < gc; i++) {
        char key[32];
        const char *q, *end = take_item(&p, "gpadl", i, text, key, &q);
        item_field(&q, "id", end, false);
        if (strncmp(q, "state=", 6) != 0)
            fail_msg("describe: %s lacks state=", key);
        q += 6;
        bool ok = false;
        for (const char *const *s = gstates; *s != NULL; s++) {
            size_t sl = strlen(*s);
            if (strncmp(q, *s, sl) == 0 && q[sl] == ' ') {
                q += sl + 1;
                ok = true;
                break;
            }
        }
        if (!ok)
            fail_msg("describe: %s has a bad state", key);
        item_field(&q, "pfns", end, false);
        item_field(&q, "pfn_hash", end, true);
        end_item(&p, q, end, key);
    }
    unsigned long long pc = dec_line(&p, "packet.count", text);
    for (unsigned long long i = 0; i < pc; i++) {
        char key[32];
        const char *q, *end = take_item(&p, "packet", i, text, key, &q);
        item_field(&q, "id", end, false);
        item_field(&q, "seq", end, false);
        item_field(&q, "gpadl", end, false);
        item_field(&q, "bytes", end, false);
        item_field(&q, "payload_hash", end, true);
        end_item(&p, q, end, key);
    }
    dec_line(&p, "ring.incoming.bytes", text);
    hex_line(&p, "ring.incoming.hash", 16, text);
    dec_line(&p, "ring.outgoing.bytes", text);
    hex_line(&p, "ring.outgoing.hash", 16, text);
    if (*p != '\0')
        fail_msg("describe: text after the last line: %.40s", p);
}

static void abi_describe_format(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    const vmbsave_interface_v1 *v = e->v;
    model m;
    memset(&m, 0, sizeof(m));

    /* A fresh channel: everything zero, next send sequence 1 (sequences start at 1). */
    vmbsave_channel *ch = NULL;
    EXPECT_STATUS(v->channel_allocate(v->context, &ch), STATUS_SUCCESS, "allocate");
    m.state = "DISABLED";
    m.fresh = 1;
    m.next_seq = 1;
    expect_text(e, ch, &m, "fresh channel");

    /* Offer set: flags with every bit, so the hex has letters; not fresh any more. */
    vt_fill_offer(&m.offer, 9);
    m.offer.flags = VMBSAVE_OFFER_FLAGS_VALID;
    m.offer.subchannel_index = 255;
    m.offer.mmio_megabytes = 4096;
    m.offer.user_defined[0] = 0xAB;
    m.offer.user_defined[119] = 0x0F;
    EXPECT_STATUS(v->init_set_offer(ch, &m.offer), STATUS_SUCCESS, "init_set_offer");
    m.fresh = 0;
    m.offer_set = true;
    expect_text(e, ch, &m, "offer set");

    EXPECT_STATUS(v->enable(ch), STATUS_SUCCESS, "enable");
    m.state = "ENABLED";
    expect_text(e, ch, &m, "enabled");

    /* GPADLs created as 9 then 3: listed 3 then 9; 3 is torn down part way. */
    static const uint64_t pfns9[3] = {0x1000, VMBSAVE_MAX_PFN, 7};
    static const uint64_t pfns3[2] = {42, 43};
    EXPECT_STATUS(v->gpadl_create(ch, 9, pfns9, 3), STATUS_SUCCESS, "gpadl_create 9");
    EXPECT_STATUS(v->gpadl_create(ch, 3, pfns3, 2), STATUS_SUCCESS, "gpadl_create 3");
    EXPECT_STATUS(v->gpadl_teardown_begin(ch, 3), STATUS_SUCCESS, "teardown_begin 3");
    m.gpadl_count = 2;
    m.gpadls[0] = (m_gpadl){3, true, 2, pfns3};
    m.gpadls[1] = (m_gpadl){9, false, 3, pfns9};
    expect_text(e, ch, &m, "GPADLs");

    vmbsave_open_params open = {9, 8192, 3u * 4096u, 2047, 0xFFFFFFFFu};
    EXPECT_STATUS(v->guest_open(ch, &open), STATUS_SUCCESS, "guest_open");
    m.state = "OPEN_PAUSED";
    m.open = open;
    expect_text(e, ch, &m, "open");

    EXPECT_STATUS(v->start(ch), STATUS_SUCCESS, "start");
    m.state = "OPEN_RUNNING";
    static const uint8_t pay77[5] = {1, 2, 3, 4, 5};
    static const uint8_t pay5[1] = {0xEE};
    uint8_t pay300[300];
    for (int i = 0; i < 300; i++)
        pay300[i] = (uint8_t)(i * 7);
    EXPECT_STATUS(v->packet_send(ch, 77, 9, pay77, 5), STATUS_SUCCESS, "send 77");
    EXPECT_STATUS(v->packet_send(ch, 5, 0, pay5, 1), STATUS_SUCCESS, "send 5");
    EXPECT_STATUS(v->packet_send(ch, UINT64_MAX, 0, pay300, 0), STATUS_SUCCESS, "send max id");
    EXPECT_STATUS(v->packet_send(ch, 300, 9, pay300, 300), STATUS_SUCCESS, "send 300");
    EXPECT_STATUS(v->packet_complete(ch, 5), STATUS_SUCCESS, "complete 5");
    m.next_seq = 5;
    m.packet_count = 3;
    m.packets[0] = (m_packet){77, 1, 9, 5, pay77};
    m.packets[1] = (m_packet){UINT64_MAX, 3, 0, 0, pay300};
    m.packets[2] = (m_packet){300, 4, 9, 300, pay300};
    static const uint8_t in[10] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    static const uint8_t out[4] = {0xFF, 0, 0x80, 1};
    uint8_t got[3];
    uint32_t nread = 0;
    EXPECT_STATUS(v->ring_write(ch, VMBSAVE_RING_INCOMING, in, 10), STATUS_SUCCESS, "ring_write");
    EXPECT_STATUS(v->ring_read(ch, VMBSAVE_RING_INCOMING, got, 3, &nread), STATUS_SUCCESS,
                  "ring_read");
    assert_int_equal(nread, 3);
    EXPECT_STATUS(v->ring_write(ch, VMBSAVE_RING_OUTGOING, out, 4), STATUS_SUCCESS, "ring_write");
    m.ring[0] = in + 3;
    m.ring_bytes[0] = 7;
    m.ring[1] = out;
    m.ring_bytes[1] = 4;
    expect_text(e, ch, &m, "running with traffic");

    EXPECT_STATUS(v->pause(ch), STATUS_SUCCESS, "pause");
    m.state = "OPEN_PAUSED";
    expect_text(e, ch, &m, "paused with traffic");

    /* A restored channel: the same text, not fresh. */
    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    vmbsave_channel *r = vt_restore_new(e, &img);
    expect_text(e, r, &m, "restored");
    vt_destroy_channel(e, r);
    vt_image_free(&img);

    /* Disabled again: open lines zero, no GPADLs, packets or ring bytes; the offer stays. */
    EXPECT_STATUS(v->disable(ch), STATUS_SUCCESS, "disable");
    char *d = vt_describe(e, ch);
    check_shape(d);
    assert_non_null(strstr(d, "state=DISABLED\n"));
    assert_non_null(strstr(d, "\nopen.ring_gpadl_id=0\n"));
    assert_non_null(strstr(d, "\ngpadl.count=0\npacket.count=0\nring.incoming.bytes=0\n"));
    free(d);
    EXPECT_STATUS(v->channel_cleanup(ch), STATUS_SUCCESS, "cleanup");

    /* The shape of every canonical channel's text. */
    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++) {
        vmbsave_channel *c = vt_make_canonical(e, (vmbsave_canonical_id)w, 5);
        char *t = vt_describe(e, c);
        check_shape(t);
        free(t);
        vt_destroy_channel(e, c);
    }
    vt_env_free(e);
}

/* ---- ABI.DESCRIBE.SIZE_QUERY -------------------------------------------------------------- */

static void abi_describe_size_query(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++) {
        vmbsave_channel *ch = vt_make_canonical(e, (vmbsave_canonical_id)w, 1);
        uint32_t need = 0;
        EXPECT_STATUS(e->v->describe(ch, NULL, 0, &need), STATUS_BUFFER_TOO_SMALL,
                      "describe(NULL, 0)");
        assert_true(need > 1);
        char *buf = malloc((size_t)need + 16u);
        assert_non_null(buf);

        /* Too small by one, and size 0 with a real pointer: nothing written. */
        static const uint32_t cut[] = {1, 2, 100};
        for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
            uint32_t size = need > cut[i] ? need - cut[i] : 0;
            memset(buf, '#', (size_t)need + 16u);
            uint32_t n2 = 0;
            EXPECT_STATUS(e->v->describe(ch, buf, size, &n2), STATUS_BUFFER_TOO_SMALL,
                          "describe with %u of %u bytes", size, need);
            assert_int_equal(n2, need);
            for (size_t k = 0; k < (size_t)need + 16u; k++)
                if (buf[k] != '#')
                    fail_msg("describe with a too small buffer wrote byte %zu", k);
        }
        memset(buf, '#', (size_t)need + 16u);
        uint32_t n0 = 0;
        EXPECT_STATUS(e->v->describe(ch, buf, 0, &n0), STATUS_BUFFER_TOO_SMALL, "size 0");
        assert_int_equal(n0, need);
        assert_int_equal(buf[0], '#');

        /* Exactly enough, and more than enough: the text with its NUL, of the size reported. */
        uint32_t n3 = 0;
        EXPECT_STATUS(e->v->describe(ch, buf, need, &n3), STATUS_SUCCESS, "exact size");
        assert_int_equal(n3, need);
        assert_int_equal(strlen(buf) + 1, need);
        assert_int_equal(buf[need], '#');
        char *copy = malloc(need);
        assert_non_null(copy);
        memcpy(copy, buf, need);
        memset(buf, '#', (size_t)need + 16u);
        uint32_t n4 = 0;
        EXPECT_STATUS(e->v->describe(ch, buf, need + 16u, &n4), STATUS_SUCCESS, "larger size");
        assert_int_equal(n4, need);
        assert_string_equal(buf, copy);
        free(copy);

        /* A NULL bytes_required is refused. */
        EXPECT_STATUS(e->v->describe(ch, buf, need + 16u, NULL), STATUS_INVALID_PARAMETER,
                      "bytes_required NULL");
        EXPECT_STATUS(e->v->describe(ch, NULL, 0, NULL), STATUS_INVALID_PARAMETER,
                      "bytes_required NULL, size 0");
        free(buf);
        vt_destroy_channel(e, ch);
    }
    vt_env_free(e);
}

/* ---- ABI.DESCRIBE.NO_ALLOC ---------------------------------------------------------------- */

static void abi_describe_no_alloc(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *fresh = NULL;
    EXPECT_STATUS(e->v->channel_allocate(e->v->context, &fresh), STATUS_SUCCESS, "allocate");
    vmbsave_channel *chs[VMBSAVE_CANONICAL_COUNT + 1];
    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++)
        chs[w] = vt_make_canonical(e, (vmbsave_canonical_id)w, 4);
    chs[VMBSAVE_CANONICAL_COUNT] = fresh;

    for (int w = 0; w <= VMBSAVE_CANONICAL_COUNT; w++) {
        /* Every allocation from now on fails: describe must not notice, nor even try. */
        e->host.fault_mode = VMBSAVE_ALLOC_FAULT_FROM;
        e->host.fault_at = e->host.alloc_calls + 1;
        uint64_t calls = e->host.alloc_calls, live = e->host.live_allocations;
        uint32_t need = 0;
        EXPECT_STATUS(e->v->describe(chs[w], NULL, 0, &need), STATUS_BUFFER_TOO_SMALL, "query");
        char *buf = malloc(need);
        assert_non_null(buf);
        EXPECT_STATUS(e->v->describe(chs[w], buf, need, &need), STATUS_SUCCESS, "describe");
        free(buf);
        assert_int_equal(e->host.alloc_calls, calls);
        assert_int_equal(e->host.live_allocations, live);
        e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
        /* Also during a session (describe is allowed then). */
        if (w == VMBSAVE_CANONICAL_OPEN_GPADLS || w == VMBSAVE_CANONICAL_PAUSED_PACKETS) {
            EXPECT_STATUS(e->v->save_begin(chs[w]), STATUS_SUCCESS, "save_begin");
            calls = e->host.alloc_calls;
            char *d = vt_describe(e, chs[w]);
            free(d);
            assert_int_equal(e->host.alloc_calls, calls);
            e->v->save_end(chs[w]);
        }
    }
    for (int w = 0; w <= VMBSAVE_CANONICAL_COUNT; w++)
        vt_destroy_channel(e, chs[w]);
    vt_env_free(e);
}

/* ---- RESOURCES.ALLOC_FAILURE.STATUS: the entry point's own allocations -------------------- */

/* vmbsave_get_interface whose allocation fails (the k-th, once and from then on, until a query
 * makes no more): STATUS_INSUFFICIENT_RESOURCES, nothing held, the table not written; a
 * malformed query with every allocation failing still gets its ABI.ENTRY status. */
static void abi_query_alloc_failure(void **state)
{
    (void)state;
    raw_plugin p;
    raw_open(&p);
    vmbsave_fault_host *h = &p.h;
    unsigned injected = 0;
    bool reached_end = false;
    for (uint64_t k = 1; k <= 64 && !reached_end; k++) {
        for (int mode = 0; mode < 2; mode++) {
            h->fault_mode = mode == 0 ? VMBSAVE_ALLOC_FAULT_ONCE : VMBSAVE_ALLOC_FAULT_FROM;
            h->fault_at = h->alloc_calls + k;
            uint64_t calls = h->alloc_calls;
            NTSTATUS s = refused_query(&p, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &h->host,
                                       V1_SIZE, false);
            bool faulted = h->alloc_calls >= calls + k;
            h->fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
            if (!faulted) {
                /* The query makes fewer than k allocations: it must simply succeed. */
                EXPECT_STATUS(s, STATUS_SUCCESS, "a query whose allocation %llu was not reached",
                              (unsigned long long)k);
                reached_end = true;
                break;
            }
            injected++;
            EXPECT_STATUS(s, STATUS_INSUFFICIENT_RESOURCES,
                          "a query whose allocation %llu fails (%s)", (unsigned long long)k,
                          mode == 0 ? "once" : "from then on");
        }
    }
    if (injected == 0)
        fail_msg("no query allocated through the host: the fault never landed "
                 "(RESOURCES.HOST_ALLOCATOR_ONLY)");
    /* Argument checks come first: every allocation failing changes no ABI.ENTRY status. */
    h->fault_mode = VMBSAVE_ALLOC_FAULT_FROM;
    h->fault_at = h->alloc_calls + 1;
    EXPECT_STATUS(refused_query(&p, "vmbsave", VMBSAVE_ABI_MAJOR, &h->host, V1_SIZE, true),
                  STATUS_NOT_SUPPORTED, "a bad name with allocations failing");
    EXPECT_STATUS(refused_query(&p, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR + 1u, &h->host,
                                V1_SIZE, true),
                  STATUS_REVISION_MISMATCH, "a bad major with allocations failing");
    EXPECT_STATUS(refused_query(&p, VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR, &h->host,
                                V1_SIZE - 1u, true),
                  STATUS_INVALID_BUFFER_SIZE, "a short table with allocations failing");
    h->fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
    raw_close(&p);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("ABI.ENTRY.NAME", abi_entry_name),
    CLAUSE_TEST("ABI.ENTRY.MAJOR", abi_entry_major),
    CLAUSE_TEST("ABI.ENTRY.HOST", abi_entry_host),
    CLAUSE_TEST("ABI.ENTRY.OUT_SIZE", abi_entry_out_size),
    CLAUSE_TEST("ABI.TABLE.COMPLETE", abi_table_complete),
    CLAUSE_TEST("ABI.TABLE.RELEASE", abi_table_release),
    CLAUSE_TEST("ABI.NULL_CHANNEL", abi_null_channel),
    CLAUSE_TEST("ABI.DESCRIBE.FORMAT", abi_describe_format),
    CLAUSE_TEST("ABI.DESCRIBE.SIZE_QUERY", abi_describe_size_query),
    CLAUSE_TEST("ABI.DESCRIBE.NO_ALLOC", abi_describe_no_alloc),
    CLAUSE_TEST("RESOURCES.ALLOC_FAILURE.STATUS", abi_query_alloc_failure),
};

CLAUSE_TEST_MAIN("abi", tests)
