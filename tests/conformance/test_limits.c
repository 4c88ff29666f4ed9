/* Clauses LIMIT.*: every limit is accepted exactly at its value, refused one above with the
 * stated status, and a channel at the limits saves and restores. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/check.h"
#include "support/fixture.h"
#include "support/util.h"

static vmbsave_channel *alloc_ch(vt_env *e)
{
    vmbsave_channel *ch = NULL;
    EXPECT_STATUS(e->v->channel_allocate(e->v->context, &ch), STATUS_SUCCESS, "allocate");
    return ch;
}

/* A new channel, offered and enabled. */
static vmbsave_channel *enabled_ch(vt_env *e)
{
    vmbsave_channel *ch = alloc_ch(e);
    vmbsave_offer o;
    vt_fill_offer(&o, 1);
    EXPECT_STATUS(e->v->init_set_offer(ch, &o), STATUS_SUCCESS, "offer");
    EXPECT_STATUS(e->v->enable(ch), STATUS_SUCCESS, "enable");
    return ch;
}

/* Saves `ch`, restores it into a fresh channel and checks the two describe the same state and
 * the restored one saves the same image. */
static void round_trip(vt_env *e, vmbsave_channel *ch, uint32_t buf_size)
{
    vt_image a, b;
    vt_save(e, ch, buf_size, &a);
    vmbsave_channel *r = vt_restore_new(e, &a);
    char *da = vt_describe(e, ch), *db = vt_describe(e, r);
    vt_assert_same_state(da, db);
    free(da);
    free(db);
    vt_save(e, r, buf_size, &b);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.bytes, b.bytes, a.size);
    vt_image_free(&a);
    vt_image_free(&b);
    vt_destroy_channel(e, r);
}

static unsigned long long dnum(const char *d, const char *key)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "\n%s=", key);
    const char *p = strstr(d, pat);
    if (p == NULL)
        fail_msg("description has no %s line", key);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* ---- LIMIT.OFFER -------------------------------------------------------------------------- */

static void limit_offer(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = alloc_ch(e);
    vmbsave_offer o;
    vt_fill_offer(&o, 3);
    o.subchannel_index = VMBSAVE_MAX_SUBCHANNEL_INDEX + 1u;
    EXPECT_STATUS(e->v->init_set_offer(ch, &o), STATUS_IMPLEMENTATION_LIMIT, "subchannel 256");
    o.subchannel_index = VMBSAVE_MAX_SUBCHANNEL_INDEX;
    o.mmio_megabytes = VMBSAVE_MAX_MMIO_MEGABYTES + 1u;
    EXPECT_STATUS(e->v->init_set_offer(ch, &o), STATUS_IMPLEMENTATION_LIMIT, "mmio 4097");
    o.mmio_megabytes = VMBSAVE_MAX_MMIO_MEGABYTES;
    /* All 120 user-defined bytes distinct and non-zero, so a truncation shows. */
    for (unsigned i = 0; i < VMBSAVE_USER_DEFINED_BYTES; i++)
        o.user_defined[i] = (uint8_t)(0xFF - i);
    EXPECT_STATUS(e->v->init_set_offer(ch, &o), STATUS_SUCCESS, "offer at every limit");
    EXPECT_STATUS(e->v->enable(ch), STATUS_SUCCESS, "enable");

    char *d = vt_describe(e, ch);
    assert_int_equal(dnum(d, "offer.subchannel_index"), 255);
    assert_int_equal(dnum(d, "offer.mmio_megabytes"), 4096);
    char want[2 * VMBSAVE_USER_DEFINED_BYTES + 32];
    int n = snprintf(want, sizeof(want), "\noffer.user_defined=");
    for (unsigned i = 0; i < VMBSAVE_USER_DEFINED_BYTES; i++)
        n += snprintf(want + n, sizeof(want) - (size_t)n, "%02x", o.user_defined[i]);
    snprintf(want + n, sizeof(want) - (size_t)n, "\n");
    assert_non_null(strstr(d, want));
    free(d);
    round_trip(e, ch, VMBSAVE_MAX_CHUNK_BYTES);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

/* ---- LIMIT.RING --------------------------------------------------------------------------- */

static void limit_ring(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = enabled_ch(e);
    uint64_t pfn = 1;
    EXPECT_STATUS(e->v->gpadl_create(ch, 1, &pfn, 1), STATUS_SUCCESS, "gpadl");
    vmbsave_open_params o = {1, VMBSAVE_MAX_RING_BYTES + VMBSAVE_PAGE_BYTES, VMBSAVE_MAX_RING_BYTES,
                             VMBSAVE_MAX_TARGET_VP, 1};
    EXPECT_STATUS(e->v->guest_open(ch, &o), STATUS_IMPLEMENTATION_LIMIT, "incoming 32 MiB + 4 KiB");
    o.incoming_ring_bytes = VMBSAVE_MAX_RING_BYTES;
    o.outgoing_ring_bytes = VMBSAVE_MAX_RING_BYTES + VMBSAVE_PAGE_BYTES;
    EXPECT_STATUS(e->v->guest_open(ch, &o), STATUS_IMPLEMENTATION_LIMIT, "outgoing 32 MiB + 4 KiB");
    o.outgoing_ring_bytes = VMBSAVE_MIN_RING_BYTES - VMBSAVE_PAGE_BYTES;
    EXPECT_STATUS(e->v->guest_open(ch, &o), STATUS_INVALID_PARAMETER, "outgoing 4 KiB");
    o.outgoing_ring_bytes = VMBSAVE_MIN_RING_BYTES;
    o.target_vp = VMBSAVE_MAX_TARGET_VP + 1u;
    EXPECT_STATUS(e->v->guest_open(ch, &o), STATUS_IMPLEMENTATION_LIMIT, "target_vp 2048");
    o.target_vp = VMBSAVE_MAX_TARGET_VP;
    /* 32 MiB in, 8 KiB out, VP 2047: all at their limits. */
    EXPECT_STATUS(e->v->guest_open(ch, &o), STATUS_SUCCESS, "open at the limits");
    EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start");
    /* The 8 KiB ring holds exactly 8 KiB; the 32 MiB one takes a large write. */
    uint8_t *buf = malloc(1024u * 1024u);
    assert_non_null(buf);
    for (uint32_t i = 0; i < 1024u * 1024u; i++)
        buf[i] = (uint8_t)(i * 7u);
    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, buf, VMBSAVE_MIN_RING_BYTES),
                  STATUS_SUCCESS, "fill 8 KiB");
    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, buf, 1), STATUS_INVALID_BUFFER_SIZE,
                  "one more byte");
    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_INCOMING, buf, 1024u * 1024u), STATUS_SUCCESS,
                  "1 MiB into 32 MiB");
    free(buf);
    EXPECT_STATUS(e->v->pause(ch), STATUS_SUCCESS, "pause");
    char *d = vt_describe(e, ch);
    assert_int_equal(dnum(d, "open.incoming_ring_bytes"), VMBSAVE_MAX_RING_BYTES);
    assert_int_equal(dnum(d, "open.target_vp"), VMBSAVE_MAX_TARGET_VP);
    free(d);
    /* An image at these limits restores. */
    round_trip(e, ch, VMBSAVE_MAX_CHUNK_BYTES);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

/* ---- LIMIT.GPADL -------------------------------------------------------------------------- */

static void limit_gpadl(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = enabled_ch(e);
    uint64_t *pfns = malloc((VMBSAVE_MAX_GPADL_PFNS + 1u) * sizeof(uint64_t));
    assert_non_null(pfns);
    for (uint32_t i = 0; i <= VMBSAVE_MAX_GPADL_PFNS; i++)
        pfns[i] = VMBSAVE_MAX_PFN - i;
    EXPECT_STATUS(e->v->gpadl_create(ch, 1, pfns, VMBSAVE_MAX_GPADL_PFNS + 1u),
                  STATUS_IMPLEMENTATION_LIMIT, "4097 pfns");
    uint64_t over[2] = {5, VMBSAVE_MAX_PFN + 1u};
    EXPECT_STATUS(e->v->gpadl_create(ch, 1, over, 2), STATUS_INVALID_PARAMETER, "pfn 2^52");
    /* 64 GPADLs of 4096 pfns each, the top pfn 2^52 - 1 in every one. */
    for (uint32_t g = 1; g <= VMBSAVE_MAX_GPADLS; g++) {
        pfns[0] = VMBSAVE_MAX_PFN - g;
        EXPECT_STATUS(e->v->gpadl_create(ch, g * 1000u, pfns, VMBSAVE_MAX_GPADL_PFNS),
                      STATUS_SUCCESS, "GPADL %u of 64", g);
    }
    EXPECT_STATUS(e->v->gpadl_create(ch, 99, pfns, 1), STATUS_IMPLEMENTATION_LIMIT, "65th GPADL");
    EXPECT_STATUS(e->v->gpadl_teardown_begin(ch, 64000), STATUS_SUCCESS, "teardown one");
    EXPECT_STATUS(e->v->gpadl_create(ch, 99, pfns, 1), STATUS_IMPLEMENTATION_LIMIT,
                  "65th while one is being torn down");
    EXPECT_STATUS(e->v->gpadl_teardown_complete(ch, 64000), STATUS_SUCCESS, "remove one");
    EXPECT_STATUS(e->v->gpadl_create(ch, 99, pfns, 1), STATUS_SUCCESS, "64th again");
    char *d = vt_describe(e, ch);
    assert_int_equal(dnum(d, "gpadl.count"), 64);
    free(d);
    free(pfns);
    round_trip(e, ch, VMBSAVE_MAX_CHUNK_BYTES);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

/* ---- LIMIT.PACKET ------------------------------------------------------------------------- */

/* A driver whose packet 1 has exactly g_state_bytes of state (the host's scripted driver has
 * at most 64); other packets have none. */
static uint32_t g_state_bytes;
static unsigned g_restored_ok, g_restored_bad;

static uint8_t state_byte(uint32_t i)
{
    return (uint8_t)(i * 31u + 7u);
}

static NTSTATUS big_save(void *context, vmbsave_channel *ch, uint64_t id, void *buf, uint32_t size,
                         uint32_t *needed)
{
    (void)context;
    (void)ch;
    if (id != 1) {
        *needed = 0;
        return STATUS_SUCCESS;
    }
    *needed = g_state_bytes;
    if (size < g_state_bytes)
        return STATUS_BUFFER_TOO_SMALL;
    for (uint32_t i = 0; i < g_state_bytes; i++)
        ((uint8_t *)buf)[i] = state_byte(i);
    return STATUS_SUCCESS;
}

static NTSTATUS big_restore(void *context, vmbsave_channel *ch, uint64_t id, const void *lib,
                            uint32_t lib_size, const void *save, uint32_t save_size)
{
    (void)context;
    (void)ch;
    (void)lib;
    (void)lib_size;
    uint32_t want = id == 1 ? g_state_bytes : 0;
    bool ok = save_size == want;
    for (uint32_t i = 0; ok && i < save_size; i++)
        ok = ((const uint8_t *)save)[i] == state_byte(i);
    if (ok)
        g_restored_ok++;
    else
        g_restored_bad++;
    return STATUS_SUCCESS;
}

static vmbsave_channel *running(vt_env *e)
{
    vmbsave_channel *ch = enabled_ch(e);
    uint64_t pfn = 1;
    EXPECT_STATUS(e->v->gpadl_create(ch, 1, &pfn, 1), STATUS_SUCCESS, "gpadl");
    vmbsave_open_params o = {1, VMBSAVE_MIN_RING_BYTES, VMBSAVE_MIN_RING_BYTES, 0, 1};
    EXPECT_STATUS(e->v->guest_open(ch, &o), STATUS_SUCCESS, "open");
    EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start");
    return ch;
}

static void limit_packet(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    uint8_t *payload = malloc(VMBSAVE_MAX_PACKET_PAYLOAD + 1u);
    assert_non_null(payload);
    for (uint32_t i = 0; i <= VMBSAVE_MAX_PACKET_PAYLOAD; i++)
        payload[i] = (uint8_t)(i ^ (i >> 8));

    /* 4096 packets in flight, the 4097th refused; the scripted driver gives ids state. */
    vmbsave_channel *ch = running(e);
    EXPECT_STATUS(e->v->packet_send(ch, 1, 0, payload, VMBSAVE_MAX_PACKET_PAYLOAD + 1u),
                  STATUS_IMPLEMENTATION_LIMIT, "payload 16385");
    EXPECT_STATUS(e->v->packet_send(ch, 1, 1, payload, VMBSAVE_MAX_PACKET_PAYLOAD), STATUS_SUCCESS,
                  "payload 16384");
    for (uint64_t id = 2; id <= VMBSAVE_MAX_PACKETS; id++)
        EXPECT_STATUS(e->v->packet_send(ch, id, 0, payload + id % 100u, (uint32_t)(id % 13u)),
                      STATUS_SUCCESS, "packet %" PRIu64, id);
    EXPECT_STATUS(e->v->packet_send(ch, 5000, 0, payload, 1), STATUS_IMPLEMENTATION_LIMIT,
                  "packet 4097");
    EXPECT_STATUS(e->v->packet_complete(ch, 77), STATUS_SUCCESS, "complete one");
    EXPECT_STATUS(e->v->packet_send(ch, 5000, 0, payload, 1), STATUS_SUCCESS, "4096th again");
    EXPECT_STATUS(e->v->packet_send(ch, 5001, 0, payload, 1), STATUS_IMPLEMENTATION_LIMIT,
                  "packet 4097 again");
    EXPECT_STATUS(e->v->pause(ch), STATUS_SUCCESS, "pause");
    vmbsave_fault_host_clear_logs(&e->host);
    round_trip(e, ch, VMBSAVE_MAX_CHUNK_BYTES);
    assert_int_equal(e->host.restore_call_count, VMBSAVE_MAX_PACKETS);
    assert_int_equal(e->host.restore_state_mismatches, 0);
    vt_destroy_channel(e, ch);

    /* Driver state of exactly 4096 bytes is saved and handed back; 4097 fails the save. */
    e->host.host.save_packet = big_save;
    e->host.host.restore_packet = big_restore;
    vt_env_reload(e);
    g_state_bytes = VMBSAVE_MAX_DRIVER_PACKET_STATE;
    ch = running(e);
    EXPECT_STATUS(e->v->packet_send(ch, 1, 0, payload, VMBSAVE_MAX_PACKET_PAYLOAD), STATUS_SUCCESS,
                  "the largest packet");
    EXPECT_STATUS(e->v->packet_send(ch, 2, 0, payload, 3), STATUS_SUCCESS, "a small one");
    EXPECT_STATUS(e->v->pause(ch), STATUS_SUCCESS, "pause");
    g_restored_ok = g_restored_bad = 0;
    round_trip(e, ch, VMBSAVE_MAX_CHUNK_BYTES);
    assert_int_equal(g_restored_ok, 2);
    assert_int_equal(g_restored_bad, 0);

    g_state_bytes = VMBSAVE_MAX_DRIVER_PACKET_STATE + 1u;
    uint8_t *buf = malloc(VMBSAVE_MAX_CHUNK_BYTES);
    assert_non_null(buf);
    EXPECT_STATUS(e->v->save_begin(ch), STATUS_SUCCESS, "save_begin");
    NTSTATUS s;
    uint32_t filled = 0, req = 0;
    do {
        s = e->v->save_continue(ch, buf, VMBSAVE_MAX_CHUNK_BYTES, &filled, &req);
    } while (s == STATUS_BUFFER_OVERFLOW);
    e->v->save_end(ch);
    free(buf);
    EXPECT_STATUS(s, STATUS_IMPLEMENTATION_LIMIT, "driver state of 4097 bytes");
    vt_destroy_channel(e, ch);
    free(payload);
    vt_env_free(e);
}

/* ---- LIMIT.CHUNK -------------------------------------------------------------------------- */

/* Checks that every record of each GPADLS / PACKETS chunk lies whole inside it, and returns the
 * largest record seen of each type. */
static void records(const vt_image *img, uint32_t *max_gpadl, uint32_t *max_packet)
{
    long n = vt_chunks(img->bytes, img->size, NULL, 0);
    assert_true(n >= 2);
    vt_chunk *c = malloc((size_t)n * sizeof(*c));
    assert_non_null(c);
    vt_chunks(img->bytes, img->size, c, (size_t)n);
    *max_gpadl = *max_packet = 0;
    for (long i = 0; i < n; i++) {
        if (c[i].size > VMBSAVE_MAX_CHUNK_BYTES) {
            size_t sz = c[i].size;
            free(c);
            fail_msg("chunk %ld is %zu bytes, above 65536", i, sz);
        }
        if (c[i].type != 2 && c[i].type != 3)
            continue;
        const uint8_t *p = img->bytes + c[i].offset + VT_CHUNK_HEADER_BYTES;
        uint32_t count = vt_get32(p), off = 4;
        assert_true(count >= 1);
        for (uint32_t r = 0; r < count; r++) {
            assert_true(off + 4u <= c[i].payload_bytes);
            uint32_t rb = vt_get32(p + off);
            assert_true(rb >= 4u && rb <= c[i].payload_bytes - off);
            uint32_t *mx = c[i].type == 2 ? max_gpadl : max_packet;
            if (rb > *mx)
                *mx = rb;
            off += rb;
        }
        assert_int_equal(off, c[i].payload_bytes);
    }
    free(c);
}

static void limit_chunk(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    e->host.host.save_packet = big_save;
    e->host.host.restore_packet = big_restore;
    vt_env_reload(e);
    g_state_bytes = VMBSAVE_MAX_DRIVER_PACKET_STATE;

    /* Three GPADL records of the largest size (two cannot share a chunk), packets of the
     * largest size, and 200 KiB in each ring. */
    vmbsave_channel *ch = enabled_ch(e);
    uint64_t *pfns = malloc(VMBSAVE_MAX_GPADL_PFNS * sizeof(uint64_t));
    assert_non_null(pfns);
    for (uint32_t i = 0; i < VMBSAVE_MAX_GPADL_PFNS; i++)
        pfns[i] = i * 3u;
    for (uint32_t g = 1; g <= 3; g++)
        EXPECT_STATUS(e->v->gpadl_create(ch, g, pfns, VMBSAVE_MAX_GPADL_PFNS), STATUS_SUCCESS,
                      "gpadl %u", g);
    free(pfns);
    vmbsave_open_params o = {1, 1024u * 1024u, 1024u * 1024u, 0, 1};
    EXPECT_STATUS(e->v->guest_open(ch, &o), STATUS_SUCCESS, "open");
    EXPECT_STATUS(e->v->start(ch), STATUS_SUCCESS, "start");
    uint8_t *data = malloc(200u * 1024u);
    assert_non_null(data);
    for (uint32_t i = 0; i < 200u * 1024u; i++)
        data[i] = (uint8_t)(i % 251u);
    for (uint64_t id = 1; id <= 4; id++)
        EXPECT_STATUS(
            e->v->packet_send(ch, id, (uint32_t)(id % 4u), data, VMBSAVE_MAX_PACKET_PAYLOAD),
            STATUS_SUCCESS, "packet %" PRIu64, id);
    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_INCOMING, data, 200u * 1024u), STATUS_SUCCESS,
                  "incoming");
    EXPECT_STATUS(e->v->ring_write(ch, VMBSAVE_RING_OUTGOING, data, 200u * 1024u), STATUS_SUCCESS,
                  "outgoing");
    free(data);
    EXPECT_STATUS(e->v->pause(ch), STATUS_SUCCESS, "pause");

    /* Read with 64 KiB buffers, with buffers just too small for the largest records, and as
     * size queries answered exactly: every chunk within 64 KiB, records whole. */
    static const uint32_t sizes_a[] = {VMBSAVE_MAX_CHUNK_BYTES};
    static const uint32_t sizes_b[] = {16u + 8u * VMBSAVE_MAX_GPADL_PFNS + 40u + 3u, 20512u + 43u};
    static const uint32_t sizes_c[] = {0};
    const uint32_t *sets[] = {sizes_a, sizes_b, sizes_c};
    const size_t counts[] = {1, 2, 1};
    vt_image first = {0};
    for (int k = 0; k < 3; k++) {
        vt_image img;
        vt_save_sizes(e, ch, sets[k], counts[k], &img);
        uint32_t mg, mp;
        records(&img, &mg, &mp);
        assert_int_equal(mg, 16u + 8u * VMBSAVE_MAX_GPADL_PFNS); /* 32,784 */
        assert_int_equal(mp, 32u + VMBSAVE_MAX_PACKET_PAYLOAD + VMBSAVE_MAX_DRIVER_PACKET_STATE);
        if (k == 0) {
            first = img;
        } else {
            assert_int_equal(img.size, first.size);
            assert_memory_equal(img.bytes, first.bytes, img.size);
            vt_image_free(&img);
        }
    }
    vt_image_free(&first);
    g_restored_ok = g_restored_bad = 0;
    round_trip(e, ch, VMBSAVE_MAX_CHUNK_BYTES);
    assert_int_equal(g_restored_ok, 4);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

/* One CLAUSE_TEST per line: tests/CMakeLists.txt reads them. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("LIMIT.OFFER", limit_offer),
    CLAUSE_TEST("LIMIT.RING", limit_ring),
    CLAUSE_TEST("LIMIT.GPADL", limit_gpadl),
    CLAUSE_TEST("LIMIT.PACKET", limit_packet),
    CLAUSE_TEST("LIMIT.CHUNK", limit_chunk),
};
/* clang-format on */

CLAUSE_TEST_MAIN("limits", tests)
