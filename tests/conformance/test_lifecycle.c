/* Clauses LIFECYCLE.*: the channel state machine and its operations. Observations go through
 * describe() (SPEC section 14); every refused operation is checked to change nothing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/check.h"
#include "support/fixture.h"
#include "support/util.h"

/* ---- describe helpers --------------------------------------------------------------------- */

/* The value of `key` in a description, as a malloc'd string; fails if absent. */
static char *dval(const char *d, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = d; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (len > k && strncmp(p, key, k) == 0 && p[k] == '=') {
            char *v = malloc(len - k);
            assert_non_null(v);
            memcpy(v, p + k + 1, len - k - 1);
            v[len - k - 1] = '\0';
            return v;
        }
        p = nl != NULL ? nl + 1 : p + len;
    }
    fail_msg("description has no '%s' line", key);
    return NULL;
}

static unsigned long long dnum(const char *d, const char *key)
{
    char *v = dval(d, key);
    unsigned long long n = strtoull(v, NULL, 10);
    free(v);
    return n;
}

/* Current value of `key` on a channel. */
static unsigned long long cnum(vt_env *e, vmbsave_channel *ch, const char *key)
{
    char *d = vt_describe(e, ch);
    unsigned long long n = dnum(d, key);
    free(d);
    return n;
}

static void expect_state(vt_env *e, vmbsave_channel *ch, const char *state)
{
    char *d = vt_describe(e, ch);
    char *v = dval(d, "state");
    int same = strcmp(v, state) == 0;
    free(d);
    if (!same) {
        char got[32];
        snprintf(got, sizeof(got), "%s", v);
        free(v);
        fail_msg("channel is in state %s, expected %s", got, state);
    }
    free(v);
}

/* Fails unless the channel's description is byte-identical to `before`. */
static void expect_unchanged(vt_env *e, vmbsave_channel *ch, const char *before, const char *what)
{
    char *now = vt_describe(e, ch);
    if (strcmp(now, before) != 0) {
        const char *a = before, *b = now;
        while (*a != '\0' && *a == *b) {
            a++;
            b++;
        }
        while (a > before && a[-1] != '\n') {
            a--;
            b--;
        }
        char msg[400];
        snprintf(msg, sizeof(msg), "%s changed the channel:\n  before: %.*s\n  after:  %.*s", what,
                 (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
        free(now);
        fail_msg("%s", msg);
    }
    free(now);
}

/* Runs a call that must fail with `want` and leave the description as it was. */
#define EXPECT_REFUSED(e, ch, call, want, ...)                                                     \
    do {                                                                                           \
        char *before_ = vt_describe((e), (ch));                                                    \
        NTSTATUS s_ = (call);                                                                      \
        char what_[200];                                                                           \
        snprintf(what_, sizeof(what_), __VA_ARGS__);                                               \
        if (s_ != (want)) {                                                                        \
            free(before_);                                                                         \
            fail_msg("%s:%d: %s: got %s (0x%08x), expected %s", __FILE__, __LINE__, what_,         \
                     vt_status_str(s_), (unsigned)(uint32_t)s_, vt_status_str(want));              \
        }                                                                                          \
        expect_unchanged((e), (ch), before_, what_);                                               \
        free(before_);                                                                             \
    } while (0)

/* ---- building simple channels ------------------------------------------------------------- */

typedef enum stage {
    ST_FRESH,
    ST_OFFERED,     /* DISABLED, offer set, never enabled */
    ST_ENABLED,     /* + GPADL 1 */
    ST_OPEN_PAUSED, /* open on GPADL 1, 8 KiB rings */
    ST_OPEN_RUNNING,
    ST_DISABLED_USED /* enabled, opened, then disabled */
} stage;

static const char *const k_stage_state[] = {"DISABLED",    "DISABLED",     "ENABLED",
                                            "OPEN_PAUSED", "OPEN_RUNNING", "DISABLED"};

/* The fixture's open parameters with the smallest rings, VP 1 and connection 7. */
static void small_open(vmbsave_open_params *o, uint32_t gpadl)
{
    vt_fill_open(o, gpadl);
    o->incoming_ring_bytes = o->outgoing_ring_bytes = VMBSAVE_MIN_RING_BYTES;
    o->target_vp = 1;
    o->connection_id = 7;
}

static const uint64_t k_pfns[4] = {0x100, 0x101, 0x2000, 0x3};

static vmbsave_channel *mk(vt_env *e, stage st)
{
    const vmbsave_interface_v1 *v = e->v;
    vmbsave_channel *ch = NULL;
    EXPECT_STATUS(v->channel_allocate(v->context, &ch), STATUS_SUCCESS, "channel_allocate");
    if (st == ST_FRESH)
        return ch;
    vmbsave_offer offer;
    vt_fill_offer(&offer, 2);
    EXPECT_STATUS(v->init_set_offer(ch, &offer), STATUS_SUCCESS, "init_set_offer");
    if (st == ST_OFFERED)
        return ch;
    EXPECT_STATUS(v->enable(ch), STATUS_SUCCESS, "enable");
    EXPECT_STATUS(v->gpadl_create(ch, 1, k_pfns, 4), STATUS_SUCCESS, "gpadl_create");
    if (st == ST_ENABLED)
        return ch;
    vmbsave_open_params o;
    small_open(&o, 1);
    EXPECT_STATUS(v->guest_open(ch, &o), STATUS_SUCCESS, "guest_open");
    if (st == ST_OPEN_PAUSED)
        return ch;
    EXPECT_STATUS(v->start(ch), STATUS_SUCCESS, "start");
    if (st == ST_OPEN_RUNNING)
        return ch;
    EXPECT_STATUS(v->disable(ch), STATUS_SUCCESS, "disable");
    return ch;
}

static void destroy(vt_env *e, vmbsave_channel *ch)
{
    vt_destroy_channel(e, ch);
}

/* ---- LIFECYCLE.ALLOCATE.DISABLED_FRESH ---------------------------------------------------- */

static void lifecycle_allocate_disabled_fresh(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = mk(e, ST_FRESH);
    char *d = vt_describe(e, ch);
    assert_non_null(strstr(d, "state=DISABLED\nfresh=1\noffer.set=0\n"));
    assert_int_equal(dnum(d, "gpadl.count"), 0);
    assert_int_equal(dnum(d, "packet.count"), 0);
    assert_int_equal(dnum(d, "open.ring_gpadl_id"), 0);
    free(d);
    /* Disabled: enable is refused for want of an offer, Init is allowed. */
    EXPECT_REFUSED(e, ch, e->v->enable(ch), STATUS_INVALID_DEVICE_STATE, "enable of a new channel");
    /* Describing does not make it un-fresh. */
    d = vt_describe(e, ch);
    assert_non_null(strstr(d, "\nfresh=1\n"));
    free(d);

    /* Two channels are distinct objects. */
    vmbsave_channel *ch2 = mk(e, ST_FRESH);
    assert_ptr_not_equal(ch, ch2);
    vmbsave_offer offer;
    vt_fill_offer(&offer, 1);
    EXPECT_STATUS(e->v->init_set_offer(ch2, &offer), STATUS_SUCCESS, "init_set_offer");
    d = vt_describe(e, ch);
    assert_non_null(strstr(d, "\nfresh=1\noffer.set=0\n"));
    free(d);

    /* A failed allocation: INSUFFICIENT_RESOURCES, no channel, nothing held. */
    uint64_t live = e->host.live_allocations;
    bool refused = false;
    for (uint64_t k = 1; k <= 64 && !refused; k++) {
        e->host.fault_mode = VMBSAVE_ALLOC_FAULT_ONCE;
        e->host.fault_at = e->host.alloc_calls + k;
        e->host.faults_injected = 0;
        vmbsave_channel *c3 = NULL;
        NTSTATUS s = e->v->channel_allocate(e->v->context, &c3);
        e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
        if (e->host.faults_injected == 0) {
            EXPECT_STATUS(s, STATUS_SUCCESS, "channel_allocate");
            EXPECT_STATUS(e->v->channel_cleanup(c3), STATUS_SUCCESS, "cleanup");
            break;
        }
        EXPECT_STATUS(s, STATUS_INSUFFICIENT_RESOURCES,
                      "channel_allocate, allocation %" PRIu64 " failing", k);
        assert_int_equal(e->host.live_allocations, live);
        refused = true;
    }
    assert_true(refused); /* allocating a channel allocates */
    destroy(e, ch2);
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.CLEANUP.REQUIRES_DISABLED -------------------------------------------------- */

static void lifecycle_cleanup_requires_disabled(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    const uint64_t base = e->host.live_allocations;

    /* Not disabled: refused, nothing freed, the channel still fully usable. */
    static const stage busy[] = {ST_ENABLED, ST_OPEN_PAUSED, ST_OPEN_RUNNING};
    for (size_t i = 0; i < 3; i++) {
        vmbsave_channel *ch = mk(e, busy[i]);
        uint64_t live = e->host.live_allocations;
        EXPECT_REFUSED(e, ch, e->v->channel_cleanup(ch), STATUS_INVALID_DEVICE_STATE,
                       "cleanup in %s", k_stage_state[busy[i]]);
        assert_int_equal(e->host.live_allocations, live);
        uint64_t pfn = 9;
        EXPECT_STATUS(e->v->gpadl_create(ch, 50, &pfn, 1), STATUS_SUCCESS, "use after refusal");
        destroy(e, ch);
    }
    /* With a session active (ENABLED and OPEN_PAUSED): refused too. */
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1);
    EXPECT_STATUS(e->v->save_begin(ch), STATUS_SUCCESS, "save_begin");
    uint64_t live = e->host.live_allocations;
    EXPECT_REFUSED(e, ch, e->v->channel_cleanup(ch), STATUS_INVALID_DEVICE_STATE,
                   "cleanup during a session");
    assert_int_equal(e->host.live_allocations, live);
    e->v->save_end(ch);
    destroy(e, ch);

    /* Disabled, in each way of being so: freed, memory back to where it was. */
    static const stage idle[] = {ST_FRESH, ST_OFFERED, ST_DISABLED_USED};
    for (size_t i = 0; i < 3; i++) {
        vmbsave_channel *c = mk(e, idle[i]);
        EXPECT_STATUS(e->v->channel_cleanup(c), STATUS_SUCCESS, "cleanup of stage %zu", i);
        assert_int_equal(e->host.live_allocations, base);
    }
    /* A full channel disabled then cleaned up. */
    ch = vt_make_canonical(e, VMBSAVE_CANONICAL_LARGE_RING, 2);
    EXPECT_STATUS(e->v->disable(ch), STATUS_SUCCESS, "disable");
    EXPECT_STATUS(e->v->channel_cleanup(ch), STATUS_SUCCESS, "cleanup");
    assert_int_equal(e->host.live_allocations, base);

    /* With a restore in progress: freed with the staged state. */
    ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 3);
    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    destroy(e, ch);
    vt_chunk c[3];
    assert_true(vt_chunks(img.bytes, img.size, c, 3) >= 3);
    vmbsave_channel *r = mk(e, ST_FRESH);
    EXPECT_STATUS(e->v->restore_from_buffer(r, img.bytes, (uint32_t)(c[0].size + c[1].size)),
                  STATUS_MORE_PROCESSING_REQUIRED, "restore of HEADER and one more chunk");
    EXPECT_STATUS(e->v->channel_cleanup(r), STATUS_SUCCESS, "cleanup mid-restore");
    assert_int_equal(e->host.live_allocations, base);
    vt_image_free(&img);
    vt_env_free(e);
}

/* ---- LIFECYCLE.OFFER.INIT_PHASE_ONLY ------------------------------------------------------ */

static void lifecycle_offer_init_phase_only(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_offer a, b;
    vt_fill_offer(&a, 1);
    vt_fill_offer(&b, 7);

    /* Repeated while DISABLED and never enabled: the last one wins. */
    vmbsave_channel *ch = mk(e, ST_FRESH);
    EXPECT_STATUS(e->v->init_set_offer(ch, &a), STATUS_SUCCESS, "first offer");
    EXPECT_STATUS(e->v->init_set_offer(ch, &b), STATUS_SUCCESS, "second offer");
    char *d = vt_describe(e, ch);
    assert_int_equal(dnum(d, "offer.subchannel_index"), b.subchannel_index);
    assert_int_equal(dnum(d, "offer.mmio_megabytes"), b.mmio_megabytes);
    char *t = dval(d, "offer.interface_type");
    char want[33];
    for (int i = 0; i < 16; i++)
        snprintf(want + 2 * i, 3, "%02x", b.interface_type.bytes[i]);
    assert_string_equal(t, want);
    free(t);
    free(d);

    /* Once enabled (and in every later state, even disabled again): refused. */
    EXPECT_STATUS(e->v->enable(ch), STATUS_SUCCESS, "enable");
    EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, &a), STATUS_INVALID_DEVICE_STATE,
                   "offer when ENABLED");
    destroy(e, ch);
    static const stage later[] = {ST_ENABLED, ST_OPEN_PAUSED, ST_OPEN_RUNNING, ST_DISABLED_USED};
    for (size_t i = 0; i < 4; i++) {
        ch = mk(e, later[i]);
        EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, &a), STATUS_INVALID_DEVICE_STATE,
                       "offer in stage %s (%zu)", k_stage_state[later[i]], i);
        destroy(e, ch);
    }
    /* Enabled then disabled straight away: still refused. */
    ch = mk(e, ST_OFFERED);
    EXPECT_STATUS(e->v->enable(ch), STATUS_SUCCESS, "enable");
    EXPECT_STATUS(e->v->disable(ch), STATUS_SUCCESS, "disable");
    EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, &b), STATUS_INVALID_DEVICE_STATE,
                   "offer after enable+disable");
    destroy(e, ch);

    /* A restored channel, even disabled: refused. */
    ch = vt_make_canonical(e, VMBSAVE_CANONICAL_EMPTY_OFFER, 0);
    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    destroy(e, ch);
    vmbsave_channel *r = vt_restore_new(e, &img);
    EXPECT_REFUSED(e, r, e->v->init_set_offer(r, &b), STATUS_INVALID_DEVICE_STATE,
                   "offer on a restored channel");
    EXPECT_STATUS(e->v->disable(r), STATUS_SUCCESS, "disable restored");
    EXPECT_REFUSED(e, r, e->v->init_set_offer(r, &b), STATUS_INVALID_DEVICE_STATE,
                   "offer on a restored, disabled channel");
    destroy(e, r);
    vt_image_free(&img);
    vt_env_free(e);
}

/* ---- LIFECYCLE.OFFER.VALIDATION ----------------------------------------------------------- */

static void lifecycle_offer_validation(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    /* On a channel with no offer, and on one with an offer already (which must survive). */
    for (int with_offer = 0; with_offer < 2; with_offer++) {
        vmbsave_channel *ch = mk(e, with_offer ? ST_OFFERED : ST_FRESH);
        vmbsave_offer o;
        EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, NULL), STATUS_INVALID_PARAMETER,
                       "NULL offer");
        static const uint32_t bad_flags[] = {0x20u, 0x40u, 0x80000000u, 0xFFFFFFFFu,
                                             VMBSAVE_OFFER_FLAGS_VALID | 0x100u};
        for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
            vt_fill_offer(&o, 3);
            o.flags = bad_flags[i];
            EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, &o), STATUS_INVALID_PARAMETER,
                           "flags 0x%x", (unsigned)bad_flags[i]);
        }
        vt_fill_offer(&o, 3);
        o.subchannel_index = VMBSAVE_MAX_SUBCHANNEL_INDEX + 1u;
        EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, &o), STATUS_IMPLEMENTATION_LIMIT,
                       "subchannel_index 256");
        o.subchannel_index = UINT16_MAX;
        EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, &o), STATUS_IMPLEMENTATION_LIMIT,
                       "subchannel_index 65535");
        vt_fill_offer(&o, 3);
        o.mmio_megabytes = VMBSAVE_MAX_MMIO_MEGABYTES + 1u;
        EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, &o), STATUS_IMPLEMENTATION_LIMIT,
                       "mmio_megabytes 4097");
        o.mmio_megabytes = UINT16_MAX;
        EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, &o), STATUS_IMPLEMENTATION_LIMIT,
                       "mmio_megabytes 65535");
        /* Every valid flag combination is accepted. */
        for (uint32_t f = 0; f <= VMBSAVE_OFFER_FLAGS_VALID; f++) {
            vt_fill_offer(&o, 3);
            o.flags = f;
            EXPECT_STATUS(e->v->init_set_offer(ch, &o), STATUS_SUCCESS, "flags 0x%x", f);
        }
        char *d = vt_describe(e, ch);
        char *fl = dval(d, "offer.flags");
        assert_string_equal(fl, "0x1f");
        free(fl);
        free(d);
        destroy(e, ch);
    }
    vt_env_free(e);
}

/* ---- LIFECYCLE.ENABLE.REQUIRES_OFFER ------------------------------------------------------ */

static void lifecycle_enable_requires_offer(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = mk(e, ST_FRESH);
    EXPECT_REFUSED(e, ch, e->v->enable(ch), STATUS_INVALID_DEVICE_STATE, "enable without offer");
    vmbsave_offer o;
    vt_fill_offer(&o, 4);
    EXPECT_STATUS(e->v->init_set_offer(ch, &o), STATUS_SUCCESS, "offer");
    EXPECT_STATUS(e->v->enable(ch), STATUS_SUCCESS, "enable");
    expect_state(e, ch, "ENABLED");
    EXPECT_REFUSED(e, ch, e->v->enable(ch), STATUS_INVALID_DEVICE_STATE, "enable when ENABLED");
    destroy(e, ch);

    static const stage open[] = {ST_OPEN_PAUSED, ST_OPEN_RUNNING};
    for (size_t i = 0; i < 2; i++) {
        ch = mk(e, open[i]);
        EXPECT_REFUSED(e, ch, e->v->enable(ch), STATUS_INVALID_DEVICE_STATE, "enable when %s",
                       k_stage_state[open[i]]);
        destroy(e, ch);
    }
    /* Disabled after use: enabled again, offer intact. */
    ch = mk(e, ST_DISABLED_USED);
    EXPECT_STATUS(e->v->enable(ch), STATUS_SUCCESS, "enable again");
    expect_state(e, ch, "ENABLED");
    assert_int_equal(cnum(e, ch, "offer.set"), 1);
    /* ... and the whole cycle again. */
    uint64_t pfn = 5;
    EXPECT_STATUS(e->v->gpadl_create(ch, 1, &pfn, 1), STATUS_SUCCESS, "gpadl");
    vmbsave_open_params op;
    small_open(&op, 1);
    EXPECT_STATUS(e->v->guest_open(ch, &op), STATUS_SUCCESS, "open again");
    EXPECT_STATUS(e->v->disable(ch), STATUS_SUCCESS, "disable");
    EXPECT_STATUS(e->v->enable(ch), STATUS_SUCCESS, "enable a third time");
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.DISABLE.TEARS_DOWN --------------------------------------------------------- */

static void expect_torn_down(vt_env *e, vmbsave_channel *ch)
{
    char *d = vt_describe(e, ch);
    assert_non_null(strstr(d, "state=DISABLED\n"));
    assert_int_equal(dnum(d, "offer.set"), 1);
    static const char *const zero[] = {
        "open.ring_gpadl_id", "open.incoming_ring_bytes", "open.outgoing_ring_bytes",
        "open.target_vp",     "open.connection_id",       "gpadl.count",
        "packet.count",       "ring.incoming.bytes",      "ring.outgoing.bytes",
    };
    for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
        if (dnum(d, zero[i]) != 0) {
            free(d);
            fail_msg("after disable, %s is not 0", zero[i]);
        }
    free(d);
}

static void lifecycle_disable_tears_down(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    /* From every canonical state (harness/program/canonical.h), including those with a GPADL
     * half torn down. */
    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++) {
        vmbsave_channel *ch = vt_make_canonical(e, (vmbsave_canonical_id)w, 1);
        const vmbsave_canonical_info *info = vmbsave_canonical_info_of((vmbsave_canonical_id)w);
        const char *name = info->name;
        uint64_t live = e->host.live_allocations;
        EXPECT_STATUS(e->v->disable(ch), STATUS_SUCCESS, "disable %s", name);
        expect_torn_down(e, ch);
        if (w != VMBSAVE_CANONICAL_EMPTY_OFFER)
            assert_true(e->host.live_allocations < live); /* something was released */
        /* Usable again: enable, re-create a GPADL with an id used before (the one being torn
         * down, where there is one). */
        uint32_t again = info->tearing_down_gpadl != 0 ? info->tearing_down_gpadl
                         : info->gpadl_count > 0      ? info->gpadl_ids[0]
                                                      : 5u;
        EXPECT_STATUS(e->v->enable(ch), STATUS_SUCCESS, "enable again (%s)", name);
        uint64_t pfn = 1;
        EXPECT_STATUS(e->v->gpadl_create(ch, again, &pfn, 1), STATUS_SUCCESS,
                      "gpadl %u again (%s)", again, name);
        destroy(e, ch);
    }
    vmbsave_channel *ch = mk(e, ST_OPEN_RUNNING);
    uint8_t data[32] = {1};
    EXPECT_STATUS(e->v->packet_send(ch, 1, 1, data, 32), STATUS_SUCCESS, "send");
    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, data, 32), STATUS_SUCCESS, "write");
    EXPECT_STATUS(e->v->disable(ch), STATUS_SUCCESS, "disable running");
    expect_torn_down(e, ch);

    /* On a DISABLED channel: a successful no-op. */
    EXPECT_REFUSED(e, ch, e->v->disable(ch), STATUS_SUCCESS, "disable when DISABLED");
    destroy(e, ch);
    ch = mk(e, ST_FRESH);
    EXPECT_REFUSED(e, ch, e->v->disable(ch), STATUS_SUCCESS, "disable of a fresh channel");
    char *d = vt_describe(e, ch);
    assert_non_null(strstr(d, "\nfresh=1\n"));
    free(d);
    destroy(e, ch);

    /* During a session: refused (LIFECYCLE.FROZEN_DURING_SAVE). */
    ch = vt_make_canonical(e, VMBSAVE_CANONICAL_OPEN_GPADLS, 1);
    EXPECT_STATUS(e->v->save_begin(ch), STATUS_SUCCESS, "save_begin");
    EXPECT_REFUSED(e, ch, e->v->disable(ch), STATUS_INVALID_DEVICE_STATE, "disable in a session");
    e->v->save_end(ch);
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.OPEN.FROM_ENABLED ---------------------------------------------------------- */

static void lifecycle_open_from_enabled(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_open_params o;
    small_open(&o, 1);
    vmbsave_channel *ch = mk(e, ST_ENABLED);
    EXPECT_STATUS(e->v->guest_open(ch, &o), STATUS_SUCCESS, "open");
    expect_state(e, ch, "OPEN_PAUSED"); /* an open channel starts paused */
    char *d = vt_describe(e, ch);
    assert_int_equal(dnum(d, "open.ring_gpadl_id"), 1);
    assert_int_equal(dnum(d, "open.incoming_ring_bytes"), o.incoming_ring_bytes);
    assert_int_equal(dnum(d, "open.connection_id"), o.connection_id);
    free(d);
    EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &o), STATUS_INVALID_DEVICE_STATE, "open twice");
    destroy(e, ch);

    static const stage other[] = {ST_FRESH, ST_OFFERED, ST_OPEN_RUNNING, ST_DISABLED_USED};
    for (size_t i = 0; i < 4; i++) {
        ch = mk(e, other[i]);
        EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &o), STATUS_INVALID_DEVICE_STATE,
                       "open in stage %s (%zu)", k_stage_state[other[i]], i);
        destroy(e, ch);
    }
    vt_env_free(e);
}

/* ---- LIFECYCLE.OPEN.VALIDATION ------------------------------------------------------------ */

/* guest_open of small_open(1) with the ring of direction `dir` (0: incoming) of each size in
 * turn: refused with `want`, nothing changed. */
static void expect_rings_refused(vt_env *e, vmbsave_channel *ch, int dir, const uint32_t *sizes,
                                 size_t n, NTSTATUS want)
{
    vmbsave_open_params o;
    for (size_t i = 0; i < n; i++) {
        small_open(&o, 1);
        if (dir == 0)
            o.incoming_ring_bytes = sizes[i];
        else
            o.outgoing_ring_bytes = sizes[i];
        EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &o), want, "%s ring of %u bytes",
                       dir ? "outgoing" : "incoming", (unsigned)sizes[i]);
    }
}

static void lifecycle_open_validation(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = mk(e, ST_ENABLED); /* GPADL 1 */
    uint64_t pfn = 77;
    EXPECT_STATUS(e->v->gpadl_create(ch, 2, &pfn, 1), STATUS_SUCCESS, "gpadl 2");
    EXPECT_STATUS(e->v->gpadl_teardown_begin(ch, 2), STATUS_SUCCESS, "teardown 2");
    vmbsave_open_params o;

    small_open(&o, 3);
    EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &o), STATUS_NOT_FOUND, "ring GPADL missing");
    small_open(&o, 0);
    EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &o), STATUS_NOT_FOUND, "ring GPADL 0");
    small_open(&o, 2);
    EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &o), STATUS_INVALID_DEVICE_STATE,
                   "ring GPADL being torn down");

    static const uint32_t bad_sizes[] = {
        0u, 1u, 4096u, 8191u, 8193u, 12288u + 1u, VMBSAVE_MAX_RING_BYTES - 1u};
    static const uint32_t big[] = {VMBSAVE_MAX_RING_BYTES + VMBSAVE_PAGE_BYTES,
                                   2u * VMBSAVE_MAX_RING_BYTES, 0xFFFFF000u};
    for (int dir = 0; dir < 2; dir++) {
        expect_rings_refused(e, ch, dir, bad_sizes, sizeof(bad_sizes) / sizeof(bad_sizes[0]),
                             STATUS_INVALID_PARAMETER);
        expect_rings_refused(e, ch, dir, big, 3, STATUS_IMPLEMENTATION_LIMIT);
    }
    small_open(&o, 1);
    o.connection_id = 0;
    EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &o), STATUS_INVALID_PARAMETER, "connection_id 0");
    small_open(&o, 1);
    o.target_vp = VMBSAVE_MAX_TARGET_VP + 1u;
    EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &o), STATUS_IMPLEMENTATION_LIMIT, "target_vp 2048");
    o.target_vp = UINT32_MAX;
    EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &o), STATUS_IMPLEMENTATION_LIMIT,
                   "target_vp 0xFFFFFFFF");
    expect_state(e, ch, "ENABLED");

    /* Valid after all these refusals; unequal ring sizes are kept apart. */
    small_open(&o, 1);
    o.outgoing_ring_bytes = 5u * VMBSAVE_PAGE_BYTES;
    o.target_vp = VMBSAVE_MAX_TARGET_VP;
    EXPECT_STATUS(e->v->guest_open(ch, &o), STATUS_SUCCESS, "valid open");
    char *d = vt_describe(e, ch);
    assert_int_equal(dnum(d, "open.incoming_ring_bytes"), VMBSAVE_MIN_RING_BYTES);
    assert_int_equal(dnum(d, "open.outgoing_ring_bytes"), 5u * VMBSAVE_PAGE_BYTES);
    assert_int_equal(dnum(d, "open.target_vp"), VMBSAVE_MAX_TARGET_VP);
    free(d);
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.CLOSE.DROPS_TRAFFIC -------------------------------------------------------- */

/* The gpadl lines of a description, concatenated. */
static char *gpadl_lines(const char *d)
{
    size_t n = strlen(d);
    char *out = calloc(n + 1, 1);
    assert_non_null(out);
    for (const char *p = d; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
        if (strncmp(p, "gpadl", 5) == 0)
            strncat(out, p, len);
        p += len;
    }
    return out;
}

static void lifecycle_close_drops_traffic(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (int running = 0; running < 2; running++) {
        vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 5);
        const vmbsave_canonical_info *info =
            vmbsave_canonical_info_of(VMBSAVE_CANONICAL_PAUSED_PACKETS);
        assert_true(info->tearing_down_gpadl != 0); /* the TEARING_DOWN line is compared too */
        if (running)
            EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start");
        char *before = vt_describe(e, ch);
        char *g_before = gpadl_lines(before);
        assert_true(dnum(before, "packet.count") > 0);
        EXPECT_STATUS(e->v->guest_close(ch), STATUS_SUCCESS, "close");
        char *after = vt_describe(e, ch);
        char *g_after = gpadl_lines(after);
        assert_non_null(strstr(after, "state=ENABLED\n"));
        assert_int_equal(dnum(after, "packet.count"), 0);
        assert_int_equal(dnum(after, "ring.incoming.bytes"), 0);
        assert_int_equal(dnum(after, "ring.outgoing.bytes"), 0);
        assert_int_equal(dnum(after, "open.ring_gpadl_id"), 0);
        assert_int_equal(dnum(after, "open.connection_id"), 0);
        assert_string_equal(g_before, g_after); /* GPADLs stay, TEARING_DOWN included */
        free(before);
        free(after);
        free(g_before);
        free(g_after);
        /* The ring GPADL is no longer in use: it can be torn down now. */
        EXPECT_STATUS(e->v->gpadl_teardown_begin(ch, info->ring_gpadl), STATUS_SUCCESS,
                      "teardown ring GPADL");
        EXPECT_REFUSED(e, ch, e->v->guest_close(ch), STATUS_INVALID_DEVICE_STATE,
                       "close when ENABLED");
        destroy(e, ch);
    }
    static const stage other[] = {ST_FRESH, ST_OFFERED, ST_DISABLED_USED};
    for (size_t i = 0; i < 3; i++) {
        vmbsave_channel *ch = mk(e, other[i]);
        EXPECT_REFUSED(e, ch, e->v->guest_close(ch), STATUS_INVALID_DEVICE_STATE,
                       "close in stage %zu", i);
        destroy(e, ch);
    }
    vt_env_free(e);
}

/* ---- LIFECYCLE.START_PAUSE.TRANSITIONS ---------------------------------------------------- */

static void lifecycle_start_pause_transitions(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = mk(e, ST_OPEN_PAUSED);
    EXPECT_REFUSED(e, ch, e->v->pause(ch), STATUS_SUCCESS, "pause when paused (no-op)");
    EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start");
    expect_state(e, ch, "OPEN_RUNNING");
    EXPECT_REFUSED(e, ch, e->v->start(ch), STATUS_SUCCESS, "start when running (no-op)");

    /* Packets awaiting the guest's completion stay in flight across a pause. */
    uint8_t data[16] = {9};
    EXPECT_STATUS(e->v->packet_send(ch, 11, 0, data, 16), STATUS_SUCCESS, "send 11");
    EXPECT_STATUS(e->v->packet_send(ch, 12, 1, data, 3), STATUS_SUCCESS, "send 12");
    char *running = vt_describe(e, ch);
    EXPECT_STATUS(e->v->pause(ch), STATUS_SUCCESS, "pause");
    char *paused = vt_describe(e, ch);
    assert_non_null(strstr(paused, "state=OPEN_PAUSED\n"));
    assert_int_equal(dnum(paused, "packet.count"), 2);
    /* Only the state line differs. */
    const char *r2 = strchr(running, '\n'), *p2 = strchr(paused, '\n');
    assert_string_equal(r2, p2);
    free(running);
    free(paused);
    EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start again");
    EXPECT_STATUS(e->v->packet_complete(ch, 11), STATUS_SUCCESS, "complete after restart");
    destroy(e, ch);

    static const stage idle[] = {ST_FRESH, ST_OFFERED, ST_ENABLED, ST_DISABLED_USED};
    for (size_t i = 0; i < 4; i++) {
        ch = mk(e, idle[i]);
        EXPECT_REFUSED(e, ch, e->v->start(ch), STATUS_INVALID_DEVICE_STATE, "start in %s (%zu)",
                       k_stage_state[idle[i]], i);
        EXPECT_REFUSED(e, ch, e->v->pause(ch), STATUS_INVALID_DEVICE_STATE, "pause in %s (%zu)",
                       k_stage_state[idle[i]], i);
        destroy(e, ch);
    }
    vt_env_free(e);
}

/* ---- LIFECYCLE.GPADL.CREATE --------------------------------------------------------------- */

static void lifecycle_gpadl_create(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    uint64_t *pfns = calloc(VMBSAVE_MAX_GPADL_PFNS + 1u, sizeof(uint64_t));
    assert_non_null(pfns);
    for (uint32_t i = 0; i <= VMBSAVE_MAX_GPADL_PFNS; i++)
        pfns[i] = 0x1000u + i;

    /* Works in ENABLED and both OPEN states. */
    static const stage ok[] = {ST_ENABLED, ST_OPEN_PAUSED, ST_OPEN_RUNNING};
    for (size_t i = 0; i < 3; i++) {
        vmbsave_channel *ch = mk(e, ok[i]);
        EXPECT_STATUS(e->v->gpadl_create(ch, 40, pfns, 3), STATUS_SUCCESS, "create in %s",
                      k_stage_state[ok[i]]);
        char *d = vt_describe(e, ch);
        assert_int_equal(dnum(d, "gpadl.count"), 2);
        assert_non_null(strstr(d, "\ngpadl[1]=id=40 state=CREATED pfns=3 pfn_hash="));
        free(d);
        destroy(e, ch);
    }
    /* Refused when DISABLED. */
    static const stage off[] = {ST_FRESH, ST_OFFERED, ST_DISABLED_USED};
    for (size_t i = 0; i < 3; i++) {
        vmbsave_channel *ch = mk(e, off[i]);
        EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 40, pfns, 3), STATUS_INVALID_DEVICE_STATE,
                       "create when DISABLED (%zu)", i);
        destroy(e, ch);
    }

    vmbsave_channel *ch = mk(e, ST_ENABLED); /* holds GPADL 1 */
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 0, pfns, 3), STATUS_INVALID_PARAMETER, "id 0");
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 2, NULL, 3), STATUS_INVALID_PARAMETER,
                   "NULL pfns");
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 2, pfns, 0), STATUS_INVALID_PARAMETER, "0 pfns");
    uint64_t badpfn[3] = {1, VMBSAVE_MAX_PFN + 1u, 2};
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 2, badpfn, 3), STATUS_INVALID_PARAMETER,
                   "pfn 2^52");
    badpfn[1] = UINT64_MAX;
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 2, badpfn, 3), STATUS_INVALID_PARAMETER,
                   "pfn 2^64-1");
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 2, pfns, VMBSAVE_MAX_GPADL_PFNS + 1u),
                   STATUS_IMPLEMENTATION_LIMIT, "4097 pfns");
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 1, pfns, 2), STATUS_DUPLICATE_OBJECTID,
                   "id in use");
    EXPECT_STATUS(e->v->gpadl_teardown_begin(ch, 1), STATUS_SUCCESS, "teardown 1");
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 1, pfns, 2), STATUS_DUPLICATE_OBJECTID,
                   "id being torn down");
    EXPECT_STATUS(e->v->gpadl_teardown_complete(ch, 1), STATUS_SUCCESS, "complete 1");
    EXPECT_STATUS(e->v->gpadl_create(ch, 1, pfns, 2), STATUS_SUCCESS, "id free again");
    /* Up to 64 GPADLs, the 65th refused. */
    for (uint32_t id = 2; id <= VMBSAVE_MAX_GPADLS; id++)
        EXPECT_STATUS(e->v->gpadl_create(ch, id * 3u, pfns, 1), STATUS_SUCCESS, "GPADL #%u", id);
    assert_int_equal(cnum(e, ch, "gpadl.count"), VMBSAVE_MAX_GPADLS);
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 1000, pfns, 1), STATUS_IMPLEMENTATION_LIMIT,
                   "65th GPADL");
    destroy(e, ch);
    free(pfns);
    vt_env_free(e);
}

/* ---- LIFECYCLE.GPADL.TEARDOWN ------------------------------------------------------------- */

static void lifecycle_gpadl_teardown(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = mk(e, ST_OPEN_RUNNING); /* GPADL 1 carries the rings */
    uint64_t pfn[2] = {3, 4};
    EXPECT_STATUS(e->v->gpadl_create(ch, 2, pfn, 2), STATUS_SUCCESS, "gpadl 2");
    EXPECT_STATUS(e->v->gpadl_create(ch, 3, pfn, 1), STATUS_SUCCESS, "gpadl 3");

    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_begin(ch, 9), STATUS_NOT_FOUND, "begin unknown");
    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_complete(ch, 9), STATUS_NOT_FOUND,
                   "complete unknown");
    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_begin(ch, 0), STATUS_NOT_FOUND, "begin id 0");
    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_complete(ch, 2), STATUS_INVALID_DEVICE_STATE,
                   "complete a CREATED GPADL");
    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_begin(ch, 1), STATUS_INVALID_DEVICE_STATE,
                   "tear down the ring GPADL of an open channel");

    /* Begin marks TEARING_DOWN; twice is refused; complete removes it. */
    EXPECT_STATUS(e->v->gpadl_teardown_begin(ch, 2), STATUS_SUCCESS, "begin 2");
    char *d = vt_describe(e, ch);
    assert_non_null(strstr(d, "\ngpadl[1]=id=2 state=TEARING_DOWN pfns=2 "));
    free(d);
    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_begin(ch, 2), STATUS_INVALID_DEVICE_STATE,
                   "begin twice");
    EXPECT_STATUS(e->v->gpadl_teardown_complete(ch, 2), STATUS_SUCCESS, "complete 2");
    d = vt_describe(e, ch);
    assert_int_equal(dnum(d, "gpadl.count"), 2);
    assert_non_null(strstr(d, "\ngpadl[1]=id=3 state=CREATED"));
    free(d);
    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_complete(ch, 2), STATUS_NOT_FOUND, "complete twice");

    /* A GPADL that a packet in flight references: refused until the packet completes. */
    uint8_t data[8] = {0};
    EXPECT_STATUS(e->v->packet_send(ch, 50, 3, data, 8), STATUS_SUCCESS, "send on GPADL 3");
    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_begin(ch, 3), STATUS_INVALID_DEVICE_STATE,
                   "tear down a GPADL a packet references");
    EXPECT_STATUS(e->v->packet_complete(ch, 50), STATUS_SUCCESS, "complete packet");
    EXPECT_STATUS(e->v->gpadl_teardown_begin(ch, 3), STATUS_SUCCESS, "begin 3 after completion");

    /* The ring GPADL once the channel is closed. */
    EXPECT_STATUS(e->v->guest_close(ch), STATUS_SUCCESS, "close");
    EXPECT_STATUS(e->v->gpadl_teardown_begin(ch, 1), STATUS_SUCCESS, "begin ring GPADL closed");
    EXPECT_STATUS(e->v->gpadl_teardown_complete(ch, 1), STATUS_SUCCESS, "complete ring GPADL");
    EXPECT_STATUS(e->v->gpadl_teardown_complete(ch, 3), STATUS_SUCCESS, "complete 3");
    assert_int_equal(cnum(e, ch, "gpadl.count"), 0);
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.PACKET.SEND ---------------------------------------------------------------- */

static void lifecycle_packet_send(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = mk(e, ST_OPEN_RUNNING);
    uint64_t pfn = 8;
    EXPECT_STATUS(e->v->gpadl_create(ch, 2, &pfn, 1), STATUS_SUCCESS, "gpadl 2");
    EXPECT_STATUS(e->v->gpadl_create(ch, 3, &pfn, 1), STATUS_SUCCESS, "gpadl 3");
    EXPECT_STATUS(e->v->gpadl_teardown_begin(ch, 3), STATUS_SUCCESS, "teardown 3");
    uint8_t *big = calloc(VMBSAVE_MAX_PACKET_PAYLOAD + 1u, 1);
    assert_non_null(big);

    assert_int_equal(cnum(e, ch, "next_send_sequence"), 1);
    EXPECT_STATUS(e->v->packet_send(ch, 100, 0, big, 10), STATUS_SUCCESS, "send 100");
    EXPECT_STATUS(e->v->packet_send(ch, 7, 2, big, 0), STATUS_SUCCESS, "send 7, empty");
    EXPECT_STATUS(e->v->packet_send(ch, 8, 1, NULL, 0), STATUS_SUCCESS, "send 8, NULL empty");

    EXPECT_REFUSED(e, ch, e->v->packet_send(ch, 0, 0, big, 1), STATUS_INVALID_PARAMETER, "id 0");
    EXPECT_REFUSED(e, ch, e->v->packet_send(ch, 9, 0, NULL, 1), STATUS_INVALID_PARAMETER,
                   "NULL payload of 1 byte");
    EXPECT_REFUSED(e, ch, e->v->packet_send(ch, 9, 0, big, VMBSAVE_MAX_PACKET_PAYLOAD + 1u),
                   STATUS_IMPLEMENTATION_LIMIT, "payload 16385");
    EXPECT_REFUSED(e, ch, e->v->packet_send(ch, 100, 0, big, 1), STATUS_DUPLICATE_OBJECTID,
                   "id in flight");
    EXPECT_REFUSED(e, ch, e->v->packet_send(ch, 9, 4, big, 1), STATUS_NOT_FOUND, "unknown GPADL");
    EXPECT_REFUSED(e, ch, e->v->packet_send(ch, 9, 3, big, 1), STATUS_INVALID_DEVICE_STATE,
                   "GPADL being torn down");
    EXPECT_STATUS(e->v->packet_send(ch, 9, 0, big, VMBSAVE_MAX_PACKET_PAYLOAD), STATUS_SUCCESS,
                  "payload 16384");

    /* Sequences 1, 2, 3, 4 in send order (refusals took none); the id of a completed packet may
     * be used again and gets a new sequence. */
    char *d = vt_describe(e, ch);
    assert_int_equal(dnum(d, "packet.count"), 4);
    assert_int_equal(dnum(d, "next_send_sequence"), 5);
    assert_non_null(strstr(d, "\npacket[0]=id=100 seq=1 gpadl=0 bytes=10 "));
    assert_non_null(strstr(d, "\npacket[1]=id=7 seq=2 gpadl=2 bytes=0 "));
    assert_non_null(strstr(d, "\npacket[2]=id=8 seq=3 gpadl=1 bytes=0 "));
    assert_non_null(strstr(d, "\npacket[3]=id=9 seq=4 gpadl=0 bytes=16384 "));
    free(d);
    EXPECT_STATUS(e->v->packet_complete(ch, 100), STATUS_SUCCESS, "complete 100");
    EXPECT_STATUS(e->v->packet_send(ch, 100, 0, big, 1), STATUS_SUCCESS, "id 100 again");
    d = vt_describe(e, ch);
    assert_non_null(strstr(d, "\npacket[3]=id=100 seq=5 gpadl=0 bytes=1 "));
    free(d);

    /* The payload is copied: changing the caller's buffer changes nothing. */
    uint8_t p[4] = {1, 2, 3, 4};
    EXPECT_STATUS(e->v->packet_send(ch, 200, 0, p, 4), STATUS_SUCCESS, "send 200");
    char *before = vt_describe(e, ch);
    memset(p, 0, sizeof(p));
    expect_unchanged(e, ch, before, "changing a sent payload in the caller's memory");
    free(before);
    free(big);
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.PACKET.COMPLETE ------------------------------------------------------------ */

static void lifecycle_packet_complete(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = mk(e, ST_OPEN_RUNNING);
    uint8_t data[4] = {1, 2, 3, 4};
    for (uint64_t id = 1; id <= 5; id++)
        EXPECT_STATUS(e->v->packet_send(ch, id * 10u, 0, data, (uint32_t)id % 5u), STATUS_SUCCESS,
                      "send %" PRIu64, id * 10u);
    EXPECT_STATUS(e->v->packet_complete(ch, 30), STATUS_SUCCESS, "complete 30 (middle)");
    EXPECT_STATUS(e->v->packet_complete(ch, 10), STATUS_SUCCESS, "complete 10 (first)");
    char *d = vt_describe(e, ch);
    assert_int_equal(dnum(d, "packet.count"), 3);
    assert_non_null(strstr(d, "\npacket[0]=id=20 seq=2 "));
    assert_non_null(strstr(d, "\npacket[1]=id=40 seq=4 "));
    assert_non_null(strstr(d, "\npacket[2]=id=50 seq=5 "));
    assert_int_equal(dnum(d, "next_send_sequence"), 6);
    free(d);
    EXPECT_REFUSED(e, ch, e->v->packet_complete(ch, 30), STATUS_NOT_FOUND, "complete twice");
    EXPECT_REFUSED(e, ch, e->v->packet_complete(ch, 31), STATUS_NOT_FOUND, "unknown id");
    EXPECT_REFUSED(e, ch, e->v->packet_complete(ch, 0), STATUS_NOT_FOUND, "id 0");
    EXPECT_STATUS(e->v->pause(ch), STATUS_SUCCESS, "pause");
    EXPECT_REFUSED(e, ch, e->v->packet_complete(ch, 20), STATUS_INVALID_DEVICE_STATE,
                   "complete when paused");
    EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start");
    for (uint64_t id = 2; id <= 5; id++)
        if (id != 3)
            EXPECT_STATUS(e->v->packet_complete(ch, id * 10u), STATUS_SUCCESS, "complete");
    assert_int_equal(cnum(e, ch, "packet.count"), 0);
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.RING.FIFO ------------------------------------------------------------------ */

static void expect_ring(vt_env *e, vmbsave_channel *ch, int dir, const uint8_t *bytes, uint32_t n)
{
    char *d = vt_describe(e, ch);
    const char *bk = dir ? "ring.outgoing.bytes" : "ring.incoming.bytes";
    const char *hk = dir ? "ring.outgoing.hash" : "ring.incoming.hash";
    assert_int_equal(dnum(d, bk), n);
    char *h = dval(d, hk);
    char want[17];
    snprintf(want, sizeof(want), "%016" PRIx64, vt_hash(bytes, n, 0));
    assert_string_equal(h, want);
    free(h);
    free(d);
}

static void lifecycle_ring_fifo(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = mk(e, ST_OPEN_RUNNING); /* 8 KiB each way */
    const uint32_t size = VMBSAVE_MIN_RING_BYTES;
    uint8_t *model = malloc(2u * size), *buf = malloc(2u * size);
    assert_non_null(model);
    assert_non_null(buf);
    for (uint32_t i = 0; i < 2u * size; i++)
        buf[i] = (uint8_t)(i * 13u + 5u);

    for (int dir = 0; dir < 2; dir++) {
        vmbsave_ring_direction rd = (vmbsave_ring_direction)dir;
        uint32_t pending = 0, got = 99;
        /* Empty: a read returns 0 bytes. */
        EXPECT_STATUS(e->v->ring_read(ch, rd, buf, 10, &got), STATUS_SUCCESS, "read empty");
        assert_int_equal(got, 0);
        /* 100 then 50 bytes, read 30: the first 30 written come out. */
        EXPECT_STATUS(e->v->ring_write(ch, rd, buf, 100), STATUS_SUCCESS, "write 100");
        EXPECT_STATUS(e->v->ring_write(ch, rd, buf + 100, 50), STATUS_SUCCESS, "write 50");
        uint8_t out[64];
        EXPECT_STATUS(e->v->ring_read(ch, rd, out, 30, &got), STATUS_SUCCESS, "read 30");
        assert_int_equal(got, 30);
        assert_memory_equal(out, buf, 30);
        memcpy(model, buf + 30, 120);
        pending = 120;
        expect_ring(e, ch, dir, model, pending);

        /* More than the free space: refused, nothing written. */
        EXPECT_REFUSED(e, ch, e->v->ring_write(ch, rd, buf, size - pending + 1u),
                       STATUS_INVALID_BUFFER_SIZE, "write one byte too many");
        /* Exactly the free space: accepted; then even one byte is too many. */
        EXPECT_STATUS(e->v->ring_write(ch, rd, buf + 200, size - pending), STATUS_SUCCESS,
                      "fill the ring");
        memcpy(model + pending, buf + 200, size - pending);
        pending = size;
        expect_ring(e, ch, dir, model, pending);
        EXPECT_REFUSED(e, ch, e->v->ring_write(ch, rd, buf, 1), STATUS_INVALID_BUFFER_SIZE,
                       "write into a full ring");
        /* Read past the end: only what is pending. */
        uint8_t *all = malloc(size + 100u);
        assert_non_null(all);
        EXPECT_STATUS(e->v->ring_read(ch, rd, all, size + 100u, &got), STATUS_SUCCESS, "read all");
        assert_int_equal(got, size);
        assert_memory_equal(all, model, size);
        free(all);
        expect_ring(e, ch, dir, model, 0);
        /* A zero-byte write and read with NULL data are fine. */
        EXPECT_STATUS(e->v->ring_write(ch, rd, NULL, 0), STATUS_SUCCESS, "write 0 bytes");
        EXPECT_STATUS(e->v->ring_read(ch, rd, NULL, 0, &got), STATUS_SUCCESS, "read 0 bytes");
        assert_int_equal(got, 0);
    }
    /* The directions are independent. */
    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_INCOMING, buf, 5), STATUS_SUCCESS, "in 5");
    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, buf + 5, 7), STATUS_SUCCESS, "out 7");
    expect_ring(e, ch, 0, buf, 5);
    expect_ring(e, ch, 1, buf + 5, 7);

    uint32_t got = 0;
    EXPECT_REFUSED(e, ch, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, NULL, 1),
                   STATUS_INVALID_PARAMETER, "write NULL data");
    EXPECT_REFUSED(e, ch, e->v->ring_read(ch, VMBSAVE_RING_INCOMING, NULL, 1, &got),
                   STATUS_INVALID_PARAMETER, "read into NULL");
    EXPECT_REFUSED(e, ch, e->v->ring_read(ch, VMBSAVE_RING_INCOMING, buf, 1, NULL),
                   STATUS_INVALID_PARAMETER, "NULL bytes_read");
    free(model);
    free(buf);
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.TRAFFIC.REQUIRES_RUNNING --------------------------------------------------- */

static void lifecycle_traffic_requires_running(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    static const stage idle[] = {ST_FRESH, ST_OFFERED, ST_ENABLED, ST_OPEN_PAUSED,
                                 ST_DISABLED_USED};
    uint8_t data[16] = {0};
    for (size_t i = 0; i < sizeof(idle) / sizeof(idle[0]); i++) {
        vmbsave_channel *ch = mk(e, idle[i]);
        uint32_t got = 0;
        EXPECT_REFUSED(e, ch, e->v->packet_send(ch, 1, 0, data, 16), STATUS_INVALID_DEVICE_STATE,
                       "send in %s", k_stage_state[idle[i]]);
        EXPECT_REFUSED(e, ch, e->v->packet_complete(ch, 1), STATUS_INVALID_DEVICE_STATE,
                       "complete in %s", k_stage_state[idle[i]]);
        EXPECT_REFUSED(e, ch, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, data, 16),
                       STATUS_INVALID_DEVICE_STATE, "write in %s", k_stage_state[idle[i]]);
        EXPECT_REFUSED(e, ch, e->v->ring_read(ch, VMBSAVE_RING_OUTGOING, data, 16, &got),
                       STATUS_INVALID_DEVICE_STATE, "read in %s", k_stage_state[idle[i]]);
        destroy(e, ch);
    }
    /* Paused with traffic: the packets and bytes in it cannot be touched. */
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1);
    const vmbsave_canonical_info *info =
        vmbsave_canonical_info_of(VMBSAVE_CANONICAL_PAUSED_PACKETS);
    assert_true(info->packet_count > 0);
    const uint64_t in_flight = info->packet_ids[0];
    uint32_t got = 0;
    EXPECT_REFUSED(e, ch, e->v->packet_complete(ch, in_flight), STATUS_INVALID_DEVICE_STATE,
                   "complete a packet in flight when paused");
    EXPECT_REFUSED(e, ch, e->v->ring_read(ch, VMBSAVE_RING_INCOMING, data, 16, &got),
                   STATUS_INVALID_DEVICE_STATE, "read pending bytes when paused");
    /* Running: all four work. */
    EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start");
    EXPECT_STATUS(e->v->packet_complete(ch, in_flight), STATUS_SUCCESS, "complete");
    EXPECT_STATUS(e->v->packet_send(ch, 1, 0, data, 16), STATUS_SUCCESS, "send");
    EXPECT_STATUS(e->v->ring_read(ch, VMBSAVE_RING_INCOMING, data, 16, &got), STATUS_SUCCESS,
                  "read");
    assert_int_equal(got, 16);
    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_INCOMING, data, 16), STATUS_SUCCESS, "write");
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.FAILED_OPS.NO_CHANGE ------------------------------------------------------- */

/* One lifecycle operation applied to a channel built to `from`. */
typedef struct op {
    const char *name;
    stage from;
    NTSTATUS (*run)(vt_env *e, vmbsave_channel *ch);
    uint32_t packets; /* packets in flight before the operation, when running */
} lifecycle_op;

static uint8_t g_payload[3000];
static uint64_t g_pfns[600];

static NTSTATUS op_offer(vt_env *e, vmbsave_channel *ch)
{
    vmbsave_offer o;
    vt_fill_offer(&o, 11);
    return e->v->init_set_offer(ch, &o);
}
static NTSTATUS op_enable(vt_env *e, vmbsave_channel *ch)
{
    return e->v->enable(ch);
}
static NTSTATUS op_disable(vt_env *e, vmbsave_channel *ch)
{
    return e->v->disable(ch);
}
static NTSTATUS op_open(vt_env *e, vmbsave_channel *ch)
{
    vmbsave_open_params o;
    small_open(&o, 1);
    return e->v->guest_open(ch, &o);
}
static NTSTATUS op_close(vt_env *e, vmbsave_channel *ch)
{
    return e->v->guest_close(ch);
}
static NTSTATUS op_start(vt_env *e, vmbsave_channel *ch)
{
    return e->v->start(ch);
}
static NTSTATUS op_pause(vt_env *e, vmbsave_channel *ch)
{
    return e->v->pause(ch);
}
static NTSTATUS op_gpadl(vt_env *e, vmbsave_channel *ch)
{
    return e->v->gpadl_create(ch, 77, g_pfns, 600);
}
static NTSTATUS op_teardown(vt_env *e, vmbsave_channel *ch)
{
    return e->v->gpadl_teardown_begin(ch, 1); /* not the ring GPADL while ENABLED */
}

static NTSTATUS op_send(vt_env *e, vmbsave_channel *ch)
{
    return e->v->packet_send(ch, 555, 1, g_payload, sizeof(g_payload));
}
static NTSTATUS op_write(vt_env *e, vmbsave_channel *ch)
{
    return e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, g_payload,
                            3000); /* outgoing is empty: needs storage */
}

static void lifecycle_failed_ops_no_change(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    for (size_t i = 0; i < sizeof(g_payload); i++)
        g_payload[i] = (uint8_t)(i ^ 0x5A);
    for (size_t i = 0; i < 600; i++)
        g_pfns[i] = 0x4000u + i;

    /* Every operation that succeeds from its state is run with allocation k failing, for every
     * k until it succeeds without a fault; each failure must leave the description as it was
     * (and, RESOURCES.ALLOC_FAILURE.STATUS, return INSUFFICIENT_RESOURCES). */
    static const lifecycle_op ops[] = {
        {"init_set_offer", ST_FRESH, op_offer, 1},
        {"init_set_offer again", ST_OFFERED, op_offer, 1},
        {"enable", ST_OFFERED, op_enable, 1},
        {"enable again", ST_DISABLED_USED, op_enable, 1},
        {"disable", ST_OPEN_RUNNING, op_disable, 1},
        {"guest_open", ST_ENABLED, op_open, 1},
        {"guest_close", ST_OPEN_RUNNING, op_close, 1},
        {"start", ST_OPEN_PAUSED, op_start, 1},
        {"pause", ST_OPEN_RUNNING, op_pause, 1},
        {"gpadl_create", ST_ENABLED, op_gpadl, 1},
        {"gpadl_create open", ST_OPEN_RUNNING, op_gpadl, 1},
        {"gpadl_teardown_begin", ST_ENABLED, op_teardown, 1},
        {"packet_send", ST_OPEN_RUNNING, op_send, 1},
        /* 16 and 32 in flight: where an implementation may grow its packet table. */
        {"packet_send (17th)", ST_OPEN_RUNNING, op_send, 16},
        {"packet_send (33rd)", ST_OPEN_RUNNING, op_send, 32},
        {"ring_write", ST_OPEN_RUNNING, op_write, 1},
    };
    unsigned faulted_runs = 0;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        for (int mode = VMBSAVE_ALLOC_FAULT_ONCE; mode <= VMBSAVE_ALLOC_FAULT_FROM; mode++) {
            for (uint64_t k = 1;; k++) {
                if (k > 1000)
                    fail_msg("%s: still failing after 1000 allocations", ops[i].name);
                vmbsave_channel *ch = mk(e, ops[i].from);
                if (ops[i].from == ST_OPEN_RUNNING) {
                    /* Some traffic, so a failed operation has something to disturb. */
                    for (uint32_t p = 1; p <= ops[i].packets; p++)
                        EXPECT_STATUS(e->v->packet_send(ch, p, 1, g_payload, 100), STATUS_SUCCESS,
                                      "send");
                    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_INCOMING, g_payload, 50),
                                  STATUS_SUCCESS, "write");
                }
                char *before = vt_describe(e, ch);
                e->host.fault_mode = (vmbsave_alloc_fault_mode)mode;
                e->host.fault_at = e->host.alloc_calls + k;
                e->host.faults_injected = 0;
                NTSTATUS s = ops[i].run(e, ch);
                e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
                bool injected = e->host.faults_injected > 0;
                if (!injected) {
                    free(before);
                    EXPECT_STATUS(s, STATUS_SUCCESS, "%s without a fault", ops[i].name);
                    destroy(e, ch);
                    break;
                }
                if (s != STATUS_INSUFFICIENT_RESOURCES) {
                    free(before);
                    fail_msg("%s with allocation %" PRIu64 " failing (%s): got %s, expected "
                             "STATUS_INSUFFICIENT_RESOURCES",
                             ops[i].name, k, mode == 1 ? "once" : "from then on", vt_status_str(s));
                }
                faulted_runs++;
                char what[160];
                snprintf(what, sizeof(what), "%s failing at allocation %" PRIu64 " (%s)",
                         ops[i].name, k, mode == 1 ? "once" : "from then on");
                expect_unchanged(e, ch, before, what);
                free(before);
                destroy(e, ch);
            }
        }
    }

    assert_true(faulted_runs > 0); /* the sweep did fail something */

    /* Failures for other reasons: a sample across operations, each must change nothing. */
    vmbsave_channel *ch = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 9);
    const vmbsave_canonical_info *info =
        vmbsave_canonical_info_of(VMBSAVE_CANONICAL_PAUSED_PACKETS);
    assert_true(info->gpadl_count > 0 && info->packet_count > 1 && info->ring_gpadl != 0);
    EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start");
    uint64_t pfn = 1;
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, info->gpadl_ids[info->gpadl_count - 1], &pfn, 1),
                   STATUS_DUPLICATE_OBJECTID, "dup");
    EXPECT_REFUSED(e, ch, e->v->packet_send(ch, info->packet_ids[1], 0, g_payload, 1),
                   STATUS_DUPLICATE_OBJECTID, "dup packet");
    uint8_t *huge = calloc(1024u * 1024u, 1); /* more than the canonical rings hold */
    assert_non_null(huge);
    EXPECT_REFUSED(e, ch, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, huge, 1024u * 1024u),
                   STATUS_INVALID_BUFFER_SIZE, "write beyond the free space");
    free(huge);
    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_begin(ch, info->ring_gpadl),
                   STATUS_INVALID_DEVICE_STATE, "ring GPADL");
    EXPECT_REFUSED(e, ch, e->v->enable(ch), STATUS_INVALID_DEVICE_STATE, "enable");
    EXPECT_REFUSED(e, ch, e->v->channel_cleanup(ch), STATUS_INVALID_DEVICE_STATE, "cleanup");
    destroy(e, ch);
    vt_env_free(e);
}

/* ---- LIFECYCLE.FROZEN_DURING_SAVE --------------------------------------------------------- */

/* `info`: the canonical state `ch` was built in, for ids that exist in it. */
static void frozen_checks(vt_env *e, vmbsave_channel *ch, const vmbsave_canonical_info *info,
                          const char *when)
{
    const bool open = info->ring_gpadl != 0;
    vmbsave_offer o;
    vt_fill_offer(&o, 1);
    vmbsave_open_params op;
    small_open(&op, 9);
    uint64_t pfn = 3;
    uint8_t data[8] = {0};
    uint32_t got = 0;
    const NTSTATUS IDS = STATUS_INVALID_DEVICE_STATE;
    EXPECT_REFUSED(e, ch, e->v->init_set_offer(ch, &o), IDS, "%s: init_set_offer", when);
    EXPECT_REFUSED(e, ch, e->v->enable(ch), IDS, "%s: enable", when);
    EXPECT_REFUSED(e, ch, e->v->disable(ch), IDS, "%s: disable", when);
    EXPECT_REFUSED(e, ch, e->v->guest_open(ch, &op), IDS, "%s: guest_open", when);
    EXPECT_REFUSED(e, ch, e->v->guest_close(ch), IDS, "%s: guest_close", when);
    EXPECT_REFUSED(e, ch, e->v->start(ch), IDS, "%s: start", when);
    EXPECT_REFUSED(e, ch, e->v->pause(ch), IDS, "%s: pause", when);
    EXPECT_REFUSED(e, ch, e->v->gpadl_create(ch, 99, &pfn, 1), IDS, "%s: gpadl_create", when);
    EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_begin(ch, 9), IDS, "%s: teardown_begin", when);
    if (open)
        EXPECT_REFUSED(e, ch, e->v->gpadl_teardown_complete(ch, info->tearing_down_gpadl), IDS,
                       "%s: teardown_complete", when);
    EXPECT_REFUSED(e, ch, e->v->packet_send(ch, 4242, 0, data, 8), IDS, "%s: send", when);
    uint64_t in_flight = info->packet_count > 0 ? info->packet_ids[info->packet_count - 1] : 1u;
    EXPECT_REFUSED(e, ch, e->v->packet_complete(ch, in_flight), IDS, "%s: complete", when);
    EXPECT_REFUSED(e, ch, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, data, 8), IDS, "%s: write",
                   when);
    EXPECT_REFUSED(e, ch, e->v->ring_read(ch, VMBSAVE_RING_INCOMING, data, 8, &got), IDS,
                   "%s: read", when);
    EXPECT_REFUSED(e, ch, e->v->channel_cleanup(ch), IDS, "%s: cleanup", when);
    EXPECT_REFUSED(e, ch, e->v->restore_from_buffer(ch, data, 8), IDS, "%s: restore", when);
}

static void lifecycle_frozen_during_save(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    static const vmbsave_canonical_id states[] = {VMBSAVE_CANONICAL_EMPTY_OFFER,
                                                  VMBSAVE_CANONICAL_PAUSED_PACKETS};
    for (size_t w = 0; w < sizeof(states) / sizeof(states[0]); w++) {
        vmbsave_channel *ch = vt_make_canonical(e, states[w], 3);
        const vmbsave_canonical_info *info = vmbsave_canonical_info_of(states[w]);
        const bool open = info->ring_gpadl != 0;
        assert_true(!open || (info->tearing_down_gpadl != 0 && info->packet_count > 0));
        /* GPADL 9: created and unreferenced, so tearing it down would otherwise succeed. */
        uint64_t pfn = 1;
        EXPECT_STATUS(e->v->gpadl_create(ch, 9, &pfn, 1), STATUS_SUCCESS, "gpadl 9");
        vt_image ref;
        vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &ref);

        /* Right after save_begin, and part way through a session. */
        EXPECT_STATUS(e->v->save_begin(ch), STATUS_SUCCESS, "save_begin");
        frozen_checks(e, ch, info, "after save_begin");
        uint8_t *buf = malloc(ref.size);
        assert_non_null(buf);
        size_t n = 0;
        uint32_t filled = 0, req = 0;
        vt_chunk c0;
        assert_true(vt_chunks(ref.bytes, ref.size, &c0, 1) >= 2);
        EXPECT_STATUS(e->v->save_continue(ch, buf, (uint32_t)c0.size, &filled, &req),
                      STATUS_BUFFER_OVERFLOW, "first chunk");
        n += filled;
        frozen_checks(e, ch, info, "mid-session");
        /* The session goes on to the same image. */
        NTSTATUS s;
        do {
            s = e->v->save_continue(ch, buf + n, (uint32_t)(ref.size - n), &filled, &req);
            if (s == STATUS_SUCCESS || s == STATUS_BUFFER_OVERFLOW)
                n += filled;
        } while (s == STATUS_BUFFER_OVERFLOW);
        EXPECT_STATUS(s, STATUS_SUCCESS, "rest of the session");
        assert_int_equal(n, ref.size);
        assert_memory_equal(buf, ref.bytes, ref.size);
        /* After SUCCESS, still in the session until save_end. */
        frozen_checks(e, ch, info, "after SUCCESS, before save_end");
        e->v->save_end(ch);
        free(buf);
        vt_image_free(&ref);

        /* After save_end, the operations work again. */
        EXPECT_STATUS(e->v->gpadl_teardown_begin(ch, 9), STATUS_SUCCESS, "teardown after end");
        if (open)
            EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start after end");
        destroy(e, ch);
    }
    vt_env_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("LIFECYCLE.ALLOCATE.DISABLED_FRESH", lifecycle_allocate_disabled_fresh),
    CLAUSE_TEST("LIFECYCLE.CLEANUP.REQUIRES_DISABLED", lifecycle_cleanup_requires_disabled),
    CLAUSE_TEST("LIFECYCLE.OFFER.INIT_PHASE_ONLY", lifecycle_offer_init_phase_only),
    CLAUSE_TEST("LIFECYCLE.OFFER.VALIDATION", lifecycle_offer_validation),
    CLAUSE_TEST("LIFECYCLE.ENABLE.REQUIRES_OFFER", lifecycle_enable_requires_offer),
    CLAUSE_TEST("LIFECYCLE.DISABLE.TEARS_DOWN", lifecycle_disable_tears_down),
    CLAUSE_TEST("LIFECYCLE.OPEN.FROM_ENABLED", lifecycle_open_from_enabled),
    CLAUSE_TEST("LIFECYCLE.OPEN.VALIDATION", lifecycle_open_validation),
    CLAUSE_TEST("LIFECYCLE.CLOSE.DROPS_TRAFFIC", lifecycle_close_drops_traffic),
    CLAUSE_TEST("LIFECYCLE.START_PAUSE.TRANSITIONS", lifecycle_start_pause_transitions),
    CLAUSE_TEST("LIFECYCLE.GPADL.CREATE", lifecycle_gpadl_create),
    CLAUSE_TEST("LIFECYCLE.GPADL.TEARDOWN", lifecycle_gpadl_teardown),
    CLAUSE_TEST("LIFECYCLE.PACKET.SEND", lifecycle_packet_send),
    CLAUSE_TEST("LIFECYCLE.PACKET.COMPLETE", lifecycle_packet_complete),
    CLAUSE_TEST("LIFECYCLE.RING.FIFO", lifecycle_ring_fifo),
    CLAUSE_TEST("LIFECYCLE.TRAFFIC.REQUIRES_RUNNING", lifecycle_traffic_requires_running),
    CLAUSE_TEST("LIFECYCLE.FAILED_OPS.NO_CHANGE", lifecycle_failed_ops_no_change),
    CLAUSE_TEST("LIFECYCLE.FROZEN_DURING_SAVE", lifecycle_frozen_during_save),
};

CLAUSE_TEST_MAIN("lifecycle", tests)
