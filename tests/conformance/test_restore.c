/* Restore clauses (docs/SPEC.md section 8), driven only through the ABI table.
 *
 * Corruption tests edit saved images with the chunk editor of support/image_edit.h: an image
 * is parsed into a list of chunks, edited, and written out again with every checksum
 * recomputed and, on request, every derived field made consistent again (sequences, image ids,
 * END totals and digest). So each corrupt image breaks exactly one validation step of
 * FORMAT.md and a test can say which status, from which chunk, it expects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/fixture.h"
#include "support/image_edit.h"
#include "support/util.h"

/* Parts of RESTORE.UNKNOWN_CHUNK's and RESTORE.LIMITS.BEFORE_ALLOC's tests, defined with the
 * RESTORE.CORRUPT.* tests (one cmocka test per clause per executable: certify runs cases by
 * name). */
static void restore_optional_known_types(void **state);
static void restore_limits_at_limit(void **state);

/* ==== small helpers ========================================================================= */

/* Frees a channel that is DISABLED (fresh, mid-restore or after a failed restore). */
static void ch_cleanup(vt_env *e, vmbsave_channel *ch)
{
    vmbsave_host_enter(&e->host);
    NTSTATUS s = e->v->channel_cleanup(ch);
    vmbsave_host_leave(&e->host);
    if (s != STATUS_SUCCESS)
        fail_msg("channel_cleanup of a DISABLED channel returned %s", vt_status_str(s));
}

/* Where a chunk-by-chunk feed is expected to stop. */
#define AT_ANY (-1L)
#define AT_END (-2L)

/* ==== feeding a restore ===================================================================== */

/* Largest allocation request seen by the last expect_fail (both passes). */
static uint64_t g_largest_request;

/* Restores `b` into a fresh channel, one chunk per call and then all in one call, and expects
 * the status `want` (or `alt`), from chunk `want_at` in the chunk-by-chunk pass. */
static void expect_fail2(vt_env *e, const char *what, const vt_edit_bytes *b, NTSTATUS want,
                         NTSTATUS alt, long want_at)
{
    g_largest_request = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t per_call = pass == 0 ? 1 : 0;
        vmbsave_channel *ch = vt_channel_new(e);
        e->host.largest_request = 0;
        vt_edit_feed_out r = vt_edit_feed_n(e, ch, b, per_call);
        if (e->host.largest_request > g_largest_request)
            g_largest_request = e->host.largest_request;
        if (r.status != want && r.status != alt)
            fail_msg("%s (%s): restore returned %s at chunk %zu, expected %s", what,
                     per_call ? "one chunk per call" : "one call", vt_status_str(r.status), r.first,
                     vt_status_str(want));
        long at = want_at == AT_END ? (long)b->count - 1 : want_at;
        if (per_call == 1 && at >= 0 && r.first != (size_t)at)
            fail_msg("%s: %s came from chunk %zu, expected chunk %ld (of %zu)", what,
                     vt_status_str(r.status), r.first, at, b->count);
        ch_cleanup(e, ch);
    }
}

static void expect_fail(vt_env *e, const char *what, const vt_edit_bytes *b, NTSTATUS want,
                        long want_at)
{
    expect_fail2(e, what, b, want, want, want_at);
}

static void expect_fail_ed(vt_env *e, const char *what, const vt_edit_image *ed, NTSTATUS want,
                           long want_at)
{
    vt_edit_bytes b;
    vt_edit_serialize(ed, &b);
    expect_fail(e, what, &b, want, want_at);
    vt_edit_bytes_free(&b);
}

/* expect_fail_ed() for a copy of `src` whose u32 at payload offset `off` of chunk k is `v`,
 * every derived field made consistent again by vt_edit_fix(). */
static void edited_u32_fails(vt_env *e, const char *what, const vt_edit_image *src, size_t k,
                             uint32_t off, uint32_t v, NTSTATUS want, long want_at)
{
    vt_edit_image ed;
    vt_edit_copy(&ed, src);
    vt_put32(ed.c[k].p + off, v);
    vt_edit_fix(&ed);
    expect_fail_ed(e, what, &ed, want, want_at);
    vt_edit_free(&ed);
}

/* ==== canonical images ====================================================================== */

typedef struct base {
    vt_edit_image ed;
    vt_edit_bytes b; /* the image as saved (ed serialised unchanged) */
    char *desc;      /* the saved channel's description */
} base;

static void base_make(vt_env *e, vmbsave_canonical_id which, uint32_t salt, base *out)
{
    vmbsave_channel *ch = vt_make_canonical(e, which, salt);
    out->desc = vt_describe(e, ch);
    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    vt_edit_parse(&out->ed, img.bytes, img.size);
    vt_edit_serialize(&out->ed, &out->b);
    /* The editor must reproduce the saved bytes exactly, or every edit below is suspect. */
    if (out->b.size != img.size || memcmp(out->b.b, img.bytes, img.size) != 0)
        fail_msg("re-serialising the saved %s image does not reproduce it: its checksums or "
                 "layout are not FORMAT.md's (or the test's chunk editor is wrong)",
                 vmbsave_canonical_name(which));
    vt_image_free(&img);
    vt_destroy_channel(e, ch);
}

static void base_free(base *b)
{
    vt_edit_free(&b->ed);
    vt_edit_bytes_free(&b->b);
    free(b->desc);
}

static void assert_restored(vt_env *e, vmbsave_channel *ch, const char *saved_desc)
{
    char *d = vt_describe(e, ch);
    vt_assert_same_state(saved_desc, d);
    free(d);
}

/* ==== RESTORE.REQUIRES_FRESH ================================================================ */

/* A refused restore: INVALID_DEVICE_STATE from the first call, the description and the
 * allocation count unchanged. Tried chunk by chunk and in one call. */
static void expect_refused(vt_env *e, vmbsave_channel *ch, const vt_edit_bytes *b, const char *what)
{
    char *before = vt_describe(e, ch);
    for (int pass = 0; pass < 2; pass++) {
        uint64_t live = e->host.live_allocations;
        vt_edit_feed_out r = vt_edit_feed_n(e, ch, b, pass == 0 ? 1 : 0);
        if (r.status != STATUS_INVALID_DEVICE_STATE || r.first != 0)
            fail_msg("restore into a channel %s returned %s at chunk %zu, expected "
                     "STATUS_INVALID_DEVICE_STATE at once",
                     what, vt_status_str(r.status), r.first);
        char *after = vt_describe(e, ch);
        if (strcmp(before, after) != 0)
            fail_msg("a refused restore into a channel %s changed its description:\n%s\n--\n%s",
                     what, before, after);
        free(after);
        if (e->host.live_allocations != live)
            fail_msg("a refused restore into a channel %s changed the live allocation count "
                     "%llu -> %llu",
                     what, (unsigned long long)live, (unsigned long long)e->host.live_allocations);
    }
    free(before);
}

static void restore_requires_fresh(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_OPEN_GPADLS, 1, &bs);
    vmbsave_offer offer;
    vt_fill_offer(&offer, 9);

    /* Not fresh: an offer was set; then enabled; then disabled again (DISABLED, not fresh). */
    vmbsave_channel *ch = vt_channel_new(e);
    assert_int_equal(e->v->init_set_offer(ch, &offer), STATUS_SUCCESS);
    expect_refused(e, ch, &bs.b, "after init_set_offer");
    assert_int_equal(e->v->enable(ch), STATUS_SUCCESS);
    expect_refused(e, ch, &bs.b, "in ENABLED");
    assert_int_equal(e->v->disable(ch), STATUS_SUCCESS);
    expect_refused(e, ch, &bs.b, "disabled again after enable");
    ch_cleanup(e, ch);

    /* Restored successfully once: a second restore is refused. */
    ch = vt_edit_restore_ok(e, &bs.b, 0, "first restore");
    expect_refused(e, ch, &bs.b, "restored successfully before");
    vt_destroy_channel(e, ch);

    /* Fresh despite describe calls and failed restores: still accepted. */
    ch = vt_channel_new(e);
    free(vt_describe(e, ch));
    vt_edit_bytes bad;
    vt_edit_serialize(&bs.ed, &bad);
    bad.b[bad.start[1] + VT_CHUNK_HEADER_BYTES] ^=
        0x01u; /* a checksum failure in the second chunk */
    vt_edit_feed_out r = vt_edit_feed_n(e, ch, &bad, 1);
    assert_int_equal(r.status, STATUS_DATA_ERROR);
    free(vt_describe(e, ch));
    assert_int_equal(vt_call_restore(e, ch, bs.b.b, 20), STATUS_INVALID_BUFFER_SIZE);
    r = vt_edit_feed_n(e, ch, &bs.b, 1);
    if (r.status != STATUS_SUCCESS)
        fail_msg("a fresh channel after failed restores refused a good restore: %s at chunk %zu",
                 vt_status_str(r.status), r.first);
    assert_restored(e, ch, bs.desc);
    vt_destroy_channel(e, ch);

    vt_edit_bytes_free(&bad);
    base_free(&bs);
    vt_env_free(e);
}

/* ==== RESTORE.PARAMS ======================================================================== */

static void expect_params_refused(vt_env *e, vmbsave_channel *ch, const vt_edit_bytes *b,
                                  const char *when)
{
    struct {
        vmbsave_channel *ch;
        const void *p;
        uint32_t n;
        const char *what;
    } cases[] = {
        {NULL, b->b, (uint32_t)b->size, "NULL channel"},
        {ch, NULL, (uint32_t)b->size, "NULL buffer"},
        {ch, b->b, 0, "zero size"},
        {ch, NULL, 0, "NULL buffer and zero size"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vmbsave_host_enter(&e->host);
        NTSTATUS s = e->v->restore_from_buffer(cases[i].ch, cases[i].p, cases[i].n);
        vmbsave_host_leave(&e->host);
        if (s != STATUS_INVALID_PARAMETER)
            fail_msg("restore_from_buffer with %s %s returned %s, expected "
                     "STATUS_INVALID_PARAMETER",
                     cases[i].what, when, vt_status_str(s));
    }
}

static void restore_params(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    assert_true(bs.b.count >= 4);
    char *fresh = vt_describe_fresh(e);

    /* On a fresh channel: refused, and the channel is still fresh. */
    vmbsave_channel *ch = vt_channel_new(e);
    uint64_t live = e->host.live_allocations;
    expect_params_refused(e, ch, &bs.b, "on a fresh channel");
    char *d = vt_describe(e, ch);
    assert_string_equal(d, fresh);
    free(d);
    assert_int_equal(e->host.live_allocations, live);

    /* Mid-restore: refused, and the restore continues from where it was. */
    for (size_t i = 0; i < 2; i++) {
        NTSTATUS s =
            vt_call_restore(e, ch, bs.b.b + bs.b.start[i], bs.b.start[i + 1] - bs.b.start[i]);
        assert_int_equal(s, STATUS_MORE_PROCESSING_REQUIRED);
    }
    expect_params_refused(e, ch, &bs.b, "with a restore in progress");
    for (size_t i = 2; i < bs.b.count; i++) {
        NTSTATUS s =
            vt_call_restore(e, ch, bs.b.b + bs.b.start[i], bs.b.start[i + 1] - bs.b.start[i]);
        NTSTATUS want = i + 1 == bs.b.count ? STATUS_SUCCESS : STATUS_MORE_PROCESSING_REQUIRED;
        if (s != want)
            fail_msg("chunk %zu after refused calls mid-restore: %s, expected %s (the refused "
                     "calls disturbed the restore in progress)",
                     i, vt_status_str(s), vt_status_str(want));
    }
    assert_restored(e, ch, bs.desc);
    vt_destroy_channel(e, ch);

    free(fresh);
    base_free(&bs);
    vt_env_free(e);
}

/* ==== RESTORE.WHOLE_CHUNKS ================================================================== */

static void restore_whole_chunks(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    static const size_t groupings[][3] = {{1}, {2}, {3}, {0}, {1, 3, 2}, {4, 1, 1}};
    static const size_t ngroups[] = {1, 1, 1, 1, 3, 3};
    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++) {
        base bs;
        base_make(e, (vmbsave_canonical_id)w, 3, &bs);
        for (size_t g = 0; g < sizeof(ngroups) / sizeof(ngroups[0]); g++) {
            vmbsave_channel *ch = vt_channel_new(e);
            vt_edit_feed_out r = vt_edit_feed(e, ch, &bs.b, groupings[g], ngroups[g]);
            if (r.status != STATUS_SUCCESS || r.next != bs.b.count)
                fail_msg("%s, grouping #%zu: restore returned %s for chunks %zu..%zu of %zu",
                         vmbsave_canonical_name((vmbsave_canonical_id)w), g,
                         vt_status_str(r.status), r.first, r.next, bs.b.count);
            assert_restored(e, ch, bs.desc);
            vt_destroy_channel(e, ch);
        }
        base_free(&bs);
    }
    vt_env_free(e);
}

/* ==== RESTORE.PARTIAL_CHUNK ================================================================= */

static void restore_partial_chunk(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    const vt_edit_bytes *b = &bs.b;
    size_t n = b->count;
    size_t c1 = b->start[1], c1_payload = b->start[2] - b->start[1] - VT_CHUNK_HEADER_BYTES;
    assert_true(c1_payload >= 2);

    /* One call whose buffer ends inside a chunk, from the start of the image. */
    struct {
        size_t len;
        const char *what;
    } one_call[] = {
        {1, "1 byte of the HEADER chunk's header"},
        {20, "inside the HEADER chunk's header"},
        {VT_CHUNK_HEADER_BYTES - 1, "1 byte short of the HEADER chunk's header"},
        {VT_CHUNK_HEADER_BYTES + 10, "inside the HEADER payload"},
        {b->start[1] - 1, "1 byte short of the HEADER chunk"},
        {c1 + 20, "a whole HEADER chunk, then inside the next chunk's header"},
        {c1 + VT_CHUNK_HEADER_BYTES + c1_payload / 2,
         "a whole HEADER chunk, then inside the next payload"},
        {b->size - 1, "the whole image but its last byte"},
    };
    for (size_t i = 0; i < sizeof(one_call) / sizeof(one_call[0]); i++) {
        vmbsave_channel *ch = vt_channel_new(e);
        NTSTATUS s = vt_call_restore(e, ch, b->b, one_call[i].len);
        if (s != STATUS_INVALID_BUFFER_SIZE)
            fail_msg("a buffer of %zu bytes (%s) returned %s, expected STATUS_INVALID_BUFFER_SIZE",
                     one_call[i].len, one_call[i].what, vt_status_str(s));
        ch_cleanup(e, ch);
    }

    /* Whole chunks in earlier calls, then a call ending inside a chunk. */
    for (size_t k = 1; k < n; k++) {
        size_t len = b->start[k + 1] - b->start[k];
        size_t cuts[] = {VT_CHUNK_HEADER_BYTES / 2,
                         VT_CHUNK_HEADER_BYTES + (len - VT_CHUNK_HEADER_BYTES) / 2};
        for (size_t ci = 0; ci < 2; ci++) {
            if (cuts[ci] >= len || cuts[ci] == 0)
                continue;
            vmbsave_channel *ch = vt_channel_new(e);
            for (size_t i = 0; i < k; i++)
                assert_int_equal(
                    vt_call_restore(e, ch, b->b + b->start[i], b->start[i + 1] - b->start[i]),
                    STATUS_MORE_PROCESSING_REQUIRED);
            NTSTATUS s = vt_call_restore(e, ch, b->b + b->start[k], cuts[ci]);
            if (s != STATUS_INVALID_BUFFER_SIZE)
                fail_msg("chunk %zu cut after %zu of its %zu bytes (%s) returned %s, expected "
                         "STATUS_INVALID_BUFFER_SIZE",
                         k, cuts[ci], len, ci == 0 ? "inside its header" : "inside its payload",
                         vt_status_str(s));
            ch_cleanup(e, ch);
        }
    }
    base_free(&bs);
    vt_env_free(e);
}

/* ==== RESTORE.MORE_PROCESSING =============================================================== */

static void restore_more_processing(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    static const vmbsave_canonical_id shapes[] = {VMBSAVE_CANONICAL_EMPTY_OFFER,
                                                  VMBSAVE_CANONICAL_PAUSED_PACKETS,
                                                  VMBSAVE_CANONICAL_LARGE_RING};
    for (size_t w = 0; w < 3; w++) {
        base bs;
        base_make(e, shapes[w], 2, &bs);
        const vt_edit_bytes *b = &bs.b;

        /* Every call short of END: MORE_PROCESSING_REQUIRED; the END call: SUCCESS. */
        for (size_t per = 1; per <= 2; per++) {
            vmbsave_channel *ch = vt_channel_new(e);
            for (size_t i = 0; i < b->count; i += per) {
                size_t j = i + per > b->count ? b->count : i + per;
                NTSTATUS s = vt_call_restore(e, ch, b->b + b->start[i], b->start[j] - b->start[i]);
                NTSTATUS want = j == b->count ? STATUS_SUCCESS : STATUS_MORE_PROCESSING_REQUIRED;
                if (s != want)
                    fail_msg("%s: the call with chunks %zu..%zu of %zu returned %s, expected %s",
                             vmbsave_canonical_name(shapes[w]), i, j, b->count, vt_status_str(s),
                             vt_status_str(want));
            }
            assert_restored(e, ch, bs.desc);
            vt_destroy_channel(e, ch);
        }

        /* Bytes after END in the same buffer. */
        size_t end_len = b->size - b->start[b->count - 1];
        size_t hdr_len = b->start[1];
        struct {
            const uint8_t *extra;
            size_t n;
            const char *what;
        } tails[] = {
            {b->b, hdr_len, "a copy of the HEADER chunk"},
            {b->b + b->start[b->count - 1], end_len, "a copy of the END chunk"},
            {b->b, 1, "one byte"},
            {b->b + 8, 8, "8 bytes"},
        };
        for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
            for (int whole = 0; whole < 2; whole++) {
                /* whole: the image and the tail in one call; else END and the tail in the last. */
                size_t from = whole ? 0 : b->start[b->count - 1];
                size_t len = b->size - from + tails[t].n;
                uint8_t *buf = vt_xmalloc(len);
                memcpy(buf, b->b + from, b->size - from);
                memcpy(buf + b->size - from, tails[t].extra, tails[t].n);
                vmbsave_channel *ch = vt_channel_new(e);
                if (!whole)
                    for (size_t i = 0; i + 1 < b->count; i++)
                        assert_int_equal(vt_call_restore(e, ch, b->b + b->start[i],
                                                         b->start[i + 1] - b->start[i]),
                                         STATUS_MORE_PROCESSING_REQUIRED);
                NTSTATUS s = vt_call_restore(e, ch, buf, len);
                free(buf);
                if (s != STATUS_REQUEST_OUT_OF_SEQUENCE)
                    fail_msg("%s: %s after END in the same buffer (%s) returned %s, expected "
                             "STATUS_REQUEST_OUT_OF_SEQUENCE",
                             vmbsave_canonical_name(shapes[w]), tails[t].what,
                             whole ? "whole image in one call" : "END in its own call",
                             vt_status_str(s));
                ch_cleanup(e, ch);
            }
        }
        base_free(&bs);
    }
    vt_env_free(e);
}

/* ==== RESTORE.ATOMIC ======================================================================== */

/* One failed restore into `ch`: it fails, and leaves a fresh channel holding no memory. */
static void atomic_case(vt_env *e, vmbsave_channel *ch, const char *fresh, const char *what,
                        const vt_edit_bytes *b, size_t per_call)
{
    uint64_t live = e->host.live_allocations;
    vt_edit_feed_out r = vt_edit_feed_n(e, ch, b, per_call);
    if (r.status == STATUS_SUCCESS || r.status == STATUS_MORE_PROCESSING_REQUIRED)
        fail_msg("%s: the restore did not fail (%s after chunks %zu..%zu)", what,
                 vt_status_str(r.status), r.first, r.next);
    char *d = vt_describe(e, ch);
    if (strcmp(d, fresh) != 0)
        fail_msg("%s: after the failed restore (%s at chunk %zu) the description is not a fresh "
                 "channel's:\n%s",
                 what, vt_status_str(r.status), r.first, d);
    free(d);
    if (e->host.live_allocations != live)
        fail_msg("%s: the failed restore (%s at chunk %zu) left %lld allocations live", what,
                 vt_status_str(r.status), r.first, (long long)(e->host.live_allocations - live));
}

static void restore_atomic(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    char *fresh = vt_describe_fresh(e);
    vmbsave_channel *ch = vt_channel_new(e);
    char what[160];

    /* A checksum failure in each chunk in turn, END included: staged state of every depth. */
    for (size_t k = 0; k < bs.b.count; k++) {
        vt_edit_bytes b;
        vt_edit_serialize(&bs.ed, &b);
        b.b[b.start[k] + VT_CHUNK_HEADER_BYTES +
            (b.start[k + 1] - b.start[k] - VT_CHUNK_HEADER_BYTES) / 2] ^= 0x10u;
        snprintf(what, sizeof(what), "checksum failure in chunk %zu", k);
        atomic_case(e, ch, fresh, what, &b, 1);
        atomic_case(e, ch, fresh, what, &b, 0);
        vt_edit_bytes_free(&b);
    }

    /* Failures at END, after everything else has been staged. */
    {
        vt_edit_image ed;
        size_t end = bs.ed.count - 1;
        vt_edit_bytes b;

        vt_edit_copy(&ed, &bs.ed);
        vt_put32(ed.c[end].p + VT_END_COUNT, (uint32_t)bs.ed.count + 1u);
        vt_edit_serialize(&ed, &b);
        atomic_case(e, ch, fresh, "END chunk_count wrong", &b, 1);
        vt_edit_bytes_free(&b);
        vt_edit_free(&ed);

        vt_edit_copy(&ed, &bs.ed);
        vt_put64(ed.c[end].p + VT_END_DIGEST, vt_get64(ed.c[end].p + VT_END_DIGEST) ^ 1u);
        vt_edit_serialize(&ed, &b);
        atomic_case(e, ch, fresh, "END digest wrong", &b, 1);
        vt_edit_bytes_free(&b);
        vt_edit_free(&ed);

        /* A packet naming a GPADL the image lacks: resolves (fails) at END. */
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_chunk *pk = &ed.c[vt_edit_find(&ed, VT_TYPE_PACKETS, 0)];
        vt_put32(pk->p + vt_edit_rec_off(pk, 0) + VT_PACKET_GPADL, 0xABCDu);
        vt_edit_fix(&ed);
        vt_edit_serialize(&ed, &b);
        atomic_case(e, ch, fresh, "unresolved GPADL reference", &b, 1);
        atomic_case(e, ch, fresh, "unresolved GPADL reference", &b, 0);
        vt_edit_bytes_free(&b);
        vt_edit_free(&ed);
    }

    /* A partial chunk mid-image, and bytes after END. */
    {
        /* Two whole chunks, then half of the third chunk's header. */
        size_t starts3[4] = {bs.b.start[0], bs.b.start[1], bs.b.start[2],
                             bs.b.start[2] + VT_CHUNK_HEADER_BYTES / 2};
        vt_edit_bytes b = {bs.b.b, starts3[3], starts3, 3};
        atomic_case(e, ch, fresh, "partial third chunk", &b, 1);

        uint8_t *buf = vt_xmalloc(bs.b.size + 8);
        memcpy(buf, bs.b.b, bs.b.size);
        memcpy(buf + bs.b.size, bs.b.b, 8);
        size_t starts[2] = {0, bs.b.size + 8};
        vt_edit_bytes t = {buf, bs.b.size + 8, starts, 1};
        atomic_case(e, ch, fresh, "bytes after END", &t, 1);
        free(buf);
    }

    /* The driver's restore_packet fails: provisional packets are rolled back. */
    vmbsave_fault_host_clear_logs(&e->host);
    e->host.restore_fail_at = 3;
    atomic_case(e, ch, fresh, "restore_packet failing on its third call", &bs.b, 1);
    e->host.restore_fail_at = 0;

    /* An allocation failure at each allocation a restore makes, then from some point on. */
    uint64_t allocs;
    {
        vmbsave_channel *probe = vt_channel_new(e);
        uint64_t a0 = e->host.alloc_calls;
        vt_edit_feed_out r = vt_edit_feed_n(e, probe, &bs.b, 1);
        assert_int_equal(r.status, STATUS_SUCCESS);
        allocs = e->host.alloc_calls - a0;
        vt_destroy_channel(e, probe);
    }
    for (uint64_t k = 1; k <= allocs && k <= 300; k++) {
        for (int mode = 0; mode < 2; mode++) {
            if (mode == 1 && k % 4 != 1)
                continue; /* FROM mode at a sample of points */
            e->host.fault_mode = mode == 0 ? VMBSAVE_ALLOC_FAULT_ONCE : VMBSAVE_ALLOC_FAULT_FROM;
            e->host.fault_at = e->host.alloc_calls + k;
            uint64_t injected = e->host.faults_injected;
            uint64_t live = e->host.live_allocations;
            vt_edit_feed_out r = vt_edit_feed_n(e, ch, &bs.b, 1);
            e->host.fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
            if (e->host.faults_injected == injected) {
                /* This restore happened to allocate less: it must have worked; start over. */
                if (r.status != STATUS_SUCCESS)
                    fail_msg("a restore with no allocation failure returned %s",
                             vt_status_str(r.status));
                vt_destroy_channel(e, ch);
                ch = vt_channel_new(e);
                continue;
            }
            if (r.status == STATUS_SUCCESS || r.status == STATUS_MORE_PROCESSING_REQUIRED)
                fail_msg("allocation %llu of a restore failed (%s) but the restore returned %s",
                         (unsigned long long)k, mode ? "from then on" : "once",
                         vt_status_str(r.status));
            char *d = vt_describe(e, ch);
            if (strcmp(d, fresh) != 0)
                fail_msg("after allocation %llu of a restore failed (%s at chunk %zu) the "
                         "description is not a fresh channel's:\n%s",
                         (unsigned long long)k, vt_status_str(r.status), r.first, d);
            free(d);
            if (e->host.live_allocations != live)
                fail_msg("after allocation %llu of a restore failed (%s at chunk %zu), %lld "
                         "allocations stayed live",
                         (unsigned long long)k, vt_status_str(r.status), r.first,
                         (long long)(e->host.live_allocations - live));
        }
    }

    /* After all that, the same channel takes a full, correct restore. */
    vmbsave_fault_host_clear_logs(&e->host);
    vt_edit_feed_out r = vt_edit_feed_n(e, ch, &bs.b, 1);
    if (r.status != STATUS_SUCCESS)
        fail_msg("a correct restore after the failed ones returned %s at chunk %zu",
                 vt_status_str(r.status), r.first);
    assert_restored(e, ch, bs.desc);
    vt_destroy_channel(e, ch);

    free(fresh);
    base_free(&bs);
    vt_env_free(e);
}

/* ==== RESTORE.CORRUPT.CHECKSUM ============================================================== */

static void restore_corrupt_checksum(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    char what[160];
    for (size_t k = 0; k < bs.b.count; k++) {
        size_t len = bs.b.start[k + 1] - bs.b.start[k];
        size_t payload = len - VT_CHUNK_HEADER_BYTES;
        /* Payload bytes: first, middle, last; header bytes the checksum covers (minor, type,
         * flags, sequence, reserved, image id) and the checksum itself. The checksum is step 6,
         * before the reserved-field, image-id and sequence checks, so every flip gives
         * DATA_ERROR. */
        size_t offs[] = {VT_CHUNK_HEADER_BYTES,
                         VT_CHUNK_HEADER_BYTES + payload / 2,
                         len - 1,
                         6,
                         8,
                         10,
                         12,
                         20,
                         24,
                         32,
                         39};
        for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
            if (offs[i] >= len)
                continue;
            vt_edit_bytes b;
            vt_edit_serialize(&bs.ed, &b);
            b.b[b.start[k] + offs[i]] ^= (uint8_t)(1u << ((k + i) % 8));
            snprintf(what, sizeof(what), "a bit flipped at byte %zu of chunk %zu (type 0x%x)",
                     offs[i], k, bs.ed.c[k].type);
            expect_fail(e, what, &b, STATUS_DATA_ERROR, (long)k);
            vt_edit_bytes_free(&b);
        }
    }
    base_free(&bs);
    vt_env_free(e);
}

/* ==== RESTORE.CORRUPT.MAGIC ================================================================= */

static void restore_corrupt_magic(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    static const uint32_t bad[] = {VT_CHUNK_MAGIC ^ 1u, 0x564D4253u /* byte-swapped */, 0};
    char what[160];
    for (size_t k = 0; k < bs.b.count; k++) {
        for (size_t m = 0; m < sizeof(bad) / sizeof(bad[0]); m++) {
            for (int variant = 0; variant < 3; variant++) {
                vt_edit_bytes b;
                vt_edit_serialize(&bs.ed, &b);
                uint8_t *c = b.b + b.start[k];
                vt_put32(c, bad[m]);
                if (variant == 1) {
                    vt_chunk_reseal(c); /* checksum right: only the magic is wrong */
                } else if (variant == 2) {
                    /* Magic is checked before the size: an absurd size changes nothing. */
                    vt_put32(c + 16, 0xFFFFFF00u);
                }
                snprintf(what, sizeof(what), "magic 0x%08x in chunk %zu (%s)", bad[m], k,
                         variant == 0   ? "checksum stale"
                         : variant == 1 ? "resealed"
                                        : "payload_bytes absurd too");
                expect_fail(e, what, &b, STATUS_FILE_CORRUPT_ERROR, (long)k);
                vt_edit_bytes_free(&b);
            }
        }
    }
    base_free(&bs);
    vt_env_free(e);
}

/* ==== RESTORE.CORRUPT.RESERVED (helper) ===================================================== */

/* One malformed image: `ed` was edited; vt_edit_fix() makes every derived field consistent, so only
 * the content check can catch the edit. */
static void malformed(vt_env *e, const char *what, vt_edit_image *ed, long at)
{
    vt_edit_fix(ed);
    expect_fail_ed(e, what, ed, STATUS_FILE_CORRUPT_ERROR, at);
}

/* ==== RESTORE.VERSION.MAJOR ================================================================= */

static void restore_version_major(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    static const uint16_t majors[] = {2, 0, 0xFFFFu};
    char what[160];
    for (size_t k = 0; k < bs.ed.count; k++) {
        for (size_t m = 0; m < 3; m++) {
            for (int resealed = 0; resealed < 2; resealed++) {
                vt_edit_bytes b;
                vt_edit_serialize(&bs.ed, &b);
                vt_put16(b.b + b.start[k] + 4, majors[m]);
                if (resealed)
                    vt_chunk_reseal(b.b + b.start[k]);
                snprintf(what, sizeof(what), "major %u in chunk %zu (%s)", majors[m], k,
                         resealed ? "resealed" : "checksum stale");
                expect_fail(e, what, &b, STATUS_UNKNOWN_REVISION, (long)k);
                vt_edit_bytes_free(&b);
            }
        }
    }

    /* Not interpreted further: an absurd size behind major 2 is not looked at (steps 4, 5). */
    uint8_t h[VT_CHUNK_HEADER_BYTES];
    memcpy(h, bs.b.b, VT_CHUNK_HEADER_BYTES);
    vt_put16(h + 4, 2);
    vt_put32(h + 16, 0xFFFFFF00u);
    size_t starts[2] = {0, VT_CHUNK_HEADER_BYTES};
    vt_edit_bytes b = {h, VT_CHUNK_HEADER_BYTES, starts, 1};
    expect_fail(e, "a major-2 chunk header claiming a 4 GiB payload", &b, STATUS_UNKNOWN_REVISION,
                0);
    vt_put32(h + 16, 1000);
    expect_fail(e, "a major-2 chunk header whose payload is not in the buffer", &b,
                STATUS_UNKNOWN_REVISION, 0);

    base_free(&bs);
    vt_env_free(e);
}

/* ==== RESTORE.SEQUENCE ====================================================================== */

static void restore_sequence(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    vt_edit_image ed;
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    const size_t pi = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
    const size_t ri = vt_edit_find_ring(&bs.ed, VMBSAVE_RING_INCOMING);
    assert_int_equal(pi, gi + 1);

    /* Swapped: sequence numbers out of order. */
    vt_edit_copy(&ed, &bs.ed);
    vt_edit_swap(&ed, gi, pi);
    expect_fail_ed(e, "GPADLS and PACKETS swapped", &ed, STATUS_REQUEST_OUT_OF_SEQUENCE, (long)gi);
    /* Renumbered: sequence numbers fine, only the type order broken (GPADLS after PACKETS). */
    vt_edit_fix(&ed);
    expect_fail_ed(e, "GPADLS and PACKETS swapped and renumbered", &ed,
                   STATUS_REQUEST_OUT_OF_SEQUENCE, (long)pi);
    vt_edit_free(&ed);

    /* Duplicated: the same sequence number twice. */
    vt_edit_copy(&ed, &bs.ed);
    vt_edit_insert(&ed, pi + 1, &bs.ed.c[pi]);
    expect_fail_ed(e, "PACKETS chunk duplicated", &ed, STATUS_REQUEST_OUT_OF_SEQUENCE,
                   (long)pi + 1);
    vt_edit_free(&ed);
    vt_edit_copy(&ed, &bs.ed);
    vt_edit_insert(&ed, ri + 1, &bs.ed.c[ri]);
    expect_fail_ed(e, "RING chunk duplicated", &ed, STATUS_REQUEST_OUT_OF_SEQUENCE, (long)ri + 1);
    vt_edit_free(&ed);
    /* A second HEADER, renumbered: only the type order is broken. */
    vt_edit_copy(&ed, &bs.ed);
    vt_edit_insert(&ed, 1, &bs.ed.c[0]);
    vt_edit_fix(&ed);
    expect_fail_ed(e, "HEADER duplicated and renumbered", &ed, STATUS_REQUEST_OUT_OF_SEQUENCE, 1);
    vt_edit_free(&ed);

    /* Dropped: the next chunk's sequence number is not the expected one. */
    for (size_t k = 0; k + 1 < bs.ed.count; k++) {
        char what[96];
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_remove(&ed, k);
        snprintf(what, sizeof(what), "chunk %zu dropped", k);
        expect_fail_ed(e, what, &ed, STATUS_REQUEST_OUT_OF_SEQUENCE, (long)k);
        vt_edit_free(&ed);
    }

    /* Sequence numbers not starting at 0, and one wild sequence number. */
    vt_edit_copy(&ed, &bs.ed);
    for (size_t k = 0; k < ed.count; k++)
        ed.c[k].sequence++;
    expect_fail_ed(e, "every sequence number one more", &ed, STATUS_REQUEST_OUT_OF_SEQUENCE, 0);
    vt_edit_free(&ed);
    vt_edit_copy(&ed, &bs.ed);
    ed.c[pi].sequence = 0xFFFFFFFFu;
    expect_fail_ed(e, "PACKETS sequence number 0xFFFFFFFF", &ed, STATUS_REQUEST_OUT_OF_SEQUENCE,
                   (long)pi);
    vt_edit_free(&ed);

    base_free(&bs);
    vt_env_free(e);
}

/* ==== RESTORE.FOREIGN_CHUNK ================================================================= */

/* Puts chunk `from` of `src` at index `at` of a copy of `dst`, with the sequence number of the
 * position and a valid checksum, and nothing else changed. */
static void splice_foreign(vt_edit_image *out, const vt_edit_image *dst, size_t at,
                           const vt_edit_image *src, size_t from)
{
    vt_edit_copy(out, dst);
    free(out->c[at].p);
    vt_edit_chunk_copy(&out->c[at], &src->c[from]);
    out->c[at].sequence = (uint32_t)at;
}

static void restore_foreign_chunk(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vt_edit_image ed;

    /* Another image id: REVISION_MISMATCH at the foreign chunk, at once. */
    {
        base a, b;
        base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &a);
        base_make(e, VMBSAVE_CANONICAL_OPEN_GPADLS, 1, &b);
        if (a.ed.c[0].image_id == b.ed.c[0].image_id)
            fail_msg("precondition: two channels of different shapes share an image id");
        size_t ag = vt_edit_find(&a.ed, VT_TYPE_GPADLS, 0),
               bg = vt_edit_find(&b.ed, VT_TYPE_GPADLS, 0);
        splice_foreign(&ed, &a.ed, ag, &b.ed, bg);
        expect_fail_ed(e, "GPADLS chunk of another image", &ed, STATUS_REVISION_MISMATCH, (long)ag);
        vt_edit_free(&ed);
        splice_foreign(&ed, &a.ed, a.ed.count - 1, &b.ed, b.ed.count - 1);
        expect_fail_ed(e, "END chunk of another image", &ed, STATUS_REVISION_MISMATCH, AT_END);
        vt_edit_free(&ed);
        base_free(&a);
        base_free(&b);
    }

    /* Same image id (same HEADER), different bulk content: only END's digest can tell. */
    static const vmbsave_canonical_id shapes[] = {VMBSAVE_CANONICAL_PAUSED_PACKETS,
                                                  VMBSAVE_CANONICAL_LARGE_RING};
    for (size_t w = 0; w < 2; w++) {
        base a, b;
        base_make(e, shapes[w], 1, &a);
        base_make(e, shapes[w], 2, &b);
        if (a.ed.count != b.ed.count || a.ed.c[0].n != b.ed.c[0].n ||
            memcmp(a.ed.c[0].p, b.ed.c[0].p, a.ed.c[0].n) != 0)
            fail_msg("precondition: %s channels with salts 1 and 2 should share their HEADER",
                     vmbsave_canonical_name(shapes[w]));
        size_t spliced = 0;
        for (size_t k = 1; k + 1 < a.ed.count; k++) {
            if (a.ed.c[k].n == b.ed.c[k].n && memcmp(a.ed.c[k].p, b.ed.c[k].p, a.ed.c[k].n) == 0)
                continue; /* identical content: nothing foreign to detect */
            if (a.ed.c[k].n != b.ed.c[k].n)
                continue; /* a different size would change END's total_bytes */
            char what[128];
            splice_foreign(&ed, &a.ed, k, &b.ed, k);
            snprintf(what, sizeof(what), "%s: chunk %zu (type 0x%x) from a same-shape image",
                     vmbsave_canonical_name(shapes[w]), k, a.ed.c[k].type);
            expect_fail_ed(e, what, &ed, STATUS_REVISION_MISMATCH, AT_END);
            vt_edit_free(&ed);
            spliced++;
        }
        if (spliced == 0)
            fail_msg("precondition: %s channels with salts 1 and 2 have no same-size chunk "
                     "with different content",
                     vmbsave_canonical_name(shapes[w]));
        base_free(&a);
        base_free(&b);
    }
    vt_env_free(e);
}

/* ==== RESTORE.UNKNOWN_CHUNK ================================================================= */

static void restore_unknown_chunk(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    static const uint16_t types[] = {0x0100u, 0x0005u, 0xFFFEu};
    /* After HEADER, between GPADLS and PACKETS, between the two ring directions, before END. */
    const size_t positions[] = {1, vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0) + 1,
                                vt_edit_find_ring(&bs.ed, VMBSAVE_RING_INCOMING) + 1,
                                bs.ed.count - 1};
    uint8_t body[24];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(0xC0u + i);
    char what[128];
    for (size_t t = 0; t < 3; t++) {
        for (size_t p = 0; p < sizeof(positions) / sizeof(positions[0]); p++) {
            for (int optional = 0; optional < 2; optional++) {
                vt_edit_chunk u = bs.ed.c[0];
                u.type = types[t];
                u.flags = optional ? VT_FLAG_OPTIONAL : 0;
                u.p = body;
                u.n = (p == 0) ? 0 : sizeof(body); /* an empty payload once */
                vt_edit_image ed;
                vt_edit_copy(&ed, &bs.ed);
                vt_edit_insert(&ed, positions[p], &u);
                vt_edit_fix(&ed);
                snprintf(what, sizeof(what), "%s chunk of unknown type 0x%04x at position %zu",
                         optional ? "OPTIONAL" : "non-optional", types[t], positions[p]);
                if (!optional) {
                    expect_fail_ed(e, what, &ed, STATUS_NOT_SUPPORTED, (long)positions[p]);
                } else {
                    vt_edit_bytes b;
                    vt_edit_serialize(&ed, &b);
                    for (size_t per = 0; per <= 1; per++) {
                        vmbsave_channel *ch = vt_edit_restore_ok(e, &b, per, what);
                        assert_restored(e, ch, bs.desc);
                        vt_destroy_channel(e, ch);
                    }
                    vt_edit_bytes_free(&b);
                }
                vt_edit_free(&ed);
            }
        }
    }
    base_free(&bs);
    vt_env_free(e);
    restore_optional_known_types(state);
}

/* ==== RESTORE.LIMITS.BEFORE_ALLOC =========================================================== */

/* No legitimate allocation exceeds two maximal rings and some slack. */
#define ALLOC_BOUND (2ull * VMBSAVE_MAX_RING_BYTES + (1ull << 20))

static void limit_case(vt_env *e, const char *what, vt_edit_image *ed, NTSTATUS alt)
{
    vt_edit_fix(ed);
    vt_edit_bytes b;
    vt_edit_serialize(ed, &b);
    expect_fail2(e, what, &b, STATUS_IMPLEMENTATION_LIMIT, alt, AT_ANY);
    vt_edit_bytes_free(&b);
    if (g_largest_request >= ALLOC_BOUND)
        fail_msg("%s: the restore asked the host for %llu bytes at once", what,
                 (unsigned long long)g_largest_request);
}

static void restore_limits_before_alloc(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    vt_edit_image ed;
    char what[128];
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    const size_t pi = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
    const uint32_t in_ring = vt_get32(bs.ed.c[0].p + VT_HEADER_IN_RING);
    const uint32_t out_ring = vt_get32(bs.ed.c[0].p + VT_HEADER_OUT_RING);

    /* HEADER declarations. */
    struct {
        uint32_t off;
        uint32_t value;
        const char *what;
    } hdr[] = {
        {VT_HEADER_GPADLS, VMBSAVE_MAX_GPADLS + 1u, "HEADER GPADL count 65"},
        {VT_HEADER_GPADLS, 0xFFFFFFFFu, "HEADER GPADL count 0xFFFFFFFF"},
        {VT_HEADER_PACKETS, VMBSAVE_MAX_PACKETS + 1u, "HEADER packet count 4097"},
        {VT_HEADER_PACKETS, 0xFFFFFFFFu, "HEADER packet count 0xFFFFFFFF"},
        {VT_HEADER_IN_PENDING, in_ring + 1u, "HEADER incoming pending one above the ring size"},
        {VT_HEADER_OUT_PENDING, out_ring + 1u, "HEADER outgoing pending one above the ring size"},
        {VT_HEADER_IN_PENDING, 0xFFFFFFFFu, "HEADER incoming pending 0xFFFFFFFF"},
        {VT_HEADER_OUT_PENDING, VMBSAVE_MAX_RING_BYTES + 1u,
         "HEADER outgoing pending above 32 MiB"},
        {VT_HEADER_IN_RING, VMBSAVE_MAX_RING_BYTES + VMBSAVE_PAGE_BYTES,
         "HEADER incoming ring size 32 MiB + 1 page"},
        {VT_HEADER_OUT_RING, 0xFFFFF000u, "HEADER outgoing ring size 0xFFFFF000"},
    };
    for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
        vt_edit_copy(&ed, &bs.ed);
        vt_put32(ed.c[0].p + hdr[i].off, hdr[i].value);
        limit_case(e, hdr[i].what, &ed, STATUS_IMPLEMENTATION_LIMIT);
        vt_edit_free(&ed);
    }

    /* A well-formed GPADL record of 4097 pfns in place of the first one. */
    {
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_chunk *g = &ed.c[gi];
        uint32_t rb = vt_get32(g->p + 4);
        uint32_t nrb = VT_GPADL_FIXED + 8u * (VMBSAVE_MAX_GPADL_PFNS + 1u);
        uint8_t *rec = vt_xmalloc(nrb);
        memcpy(rec, g->p + 4, VT_GPADL_FIXED);
        vt_put32(rec, nrb);
        vt_put32(rec + VT_GPADL_PFNS, VMBSAVE_MAX_GPADL_PFNS + 1u);
        for (uint32_t i = 0; i <= VMBSAVE_MAX_GPADL_PFNS; i++)
            vt_put64(rec + VT_GPADL_FIXED + 8u * i, 0x1000u + i);
        vt_edit_splice(g, 4, rb, rec, nrb);
        free(rec);
        assert_true(VT_CHUNK_HEADER_BYTES + g->n <= VMBSAVE_MAX_CHUNK_BYTES);
        limit_case(e, "GPADL record with pfn_count 4097", &ed, STATUS_IMPLEMENTATION_LIMIT);
        vt_edit_free(&ed);
    }

    /* Well-formed packet records with a 16385-byte payload / 4097 bytes of driver state. */
    for (int which = 0; which < 2; which++) {
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_chunk *p = &ed.c[pi];
        uint32_t off = vt_edit_rec_off(p, 1);
        uint32_t rb = vt_get32(p->p + off);
        uint32_t pl = which == 0 ? VMBSAVE_MAX_PACKET_PAYLOAD + 1u : 16u;
        uint32_t ds = which == 0 ? 0u : VMBSAVE_MAX_DRIVER_PACKET_STATE + 1u;
        uint32_t nrb = VT_PACKET_FIXED + pl + ds;
        uint8_t *rec = vt_xmalloc(nrb);
        memcpy(rec, p->p + off, VT_PACKET_FIXED);
        vt_put32(rec, nrb);
        vt_put32(rec + VT_PACKET_PAYLOAD, pl);
        vt_put32(rec + VT_PACKET_DSTATE, ds);
        for (uint32_t i = VT_PACKET_FIXED; i < nrb; i++)
            rec[i] = (uint8_t)(i * 31u);
        vt_edit_splice(p, off, rb, rec, nrb);
        free(rec);
        assert_true(VT_CHUNK_HEADER_BYTES + p->n <= VMBSAVE_MAX_CHUNK_BYTES);
        limit_case(e,
                   which == 0 ? "packet with a 16385-byte payload"
                              : "packet with 4097 bytes of driver state",
                   &ed, STATUS_IMPLEMENTATION_LIMIT);
        vt_edit_free(&ed);
    }

    /* A chunk above 65,536 bytes (step 4), whole in the buffer and resealed; and a chunk
     * header declaring an absurd payload the buffer does not hold (step 4 before step 5). */
    {
        vt_edit_copy(&ed, &bs.ed);
        size_t ri = vt_edit_find_ring(&ed, VMBSAVE_RING_INCOMING);
        vt_edit_chunk *c = &ed.c[ri];
        vt_edit_splice(c, c->n, 0, NULL,
                       VMBSAVE_MAX_CHUNK_BYTES - VT_CHUNK_HEADER_BYTES + 1u - c->n);
        assert_int_equal(VT_CHUNK_HEADER_BYTES + c->n, VMBSAVE_MAX_CHUNK_BYTES + 1u);
        vt_edit_fix(&ed);
        vt_edit_bytes b;
        vt_edit_serialize(&ed, &b);
        expect_fail(e, "a RING chunk of 65,537 bytes", &b, STATUS_IMPLEMENTATION_LIMIT, (long)ri);
        if (g_largest_request >= ALLOC_BOUND)
            fail_msg("a 65,537-byte chunk made the restore ask for %llu bytes at once",
                     (unsigned long long)g_largest_request);
        vt_edit_bytes_free(&b);
        vt_edit_free(&ed);

        uint8_t h[VT_CHUNK_HEADER_BYTES];
        memcpy(h, bs.b.b, VT_CHUNK_HEADER_BYTES);
        vt_put32(h + 16, 0xFFFFFFF0u); /* no reseal: step 4 comes before the checksum */
        size_t starts[2] = {0, VT_CHUNK_HEADER_BYTES};
        vt_edit_bytes hb = {h, VT_CHUNK_HEADER_BYTES, starts, 1};
        expect_fail(e, "a HEADER chunk header declaring a 4 GiB payload", &hb,
                    STATUS_IMPLEMENTATION_LIMIT, 0);
        if (g_largest_request >= ALLOC_BOUND)
            fail_msg("a chunk declaring 4 GiB made the restore ask for %llu bytes at once",
                     (unsigned long long)g_largest_request);
    }

    /* A record count far above the limit: above the limit and running past the chunk, so
     * FILE_CORRUPT is as right as IMPLEMENTATION_LIMIT; what matters is no huge allocation. */
    for (int which = 0; which < 2; which++) {
        size_t k = which == 0 ? gi : pi;
        vt_edit_copy(&ed, &bs.ed);
        vt_put32(ed.c[k].p, 0xFFFFFFFFu);
        snprintf(what, sizeof(what), "%s record_count 0xFFFFFFFF",
                 which == 0 ? "GPADLS" : "PACKETS");
        limit_case(e, what, &ed, STATUS_FILE_CORRUPT_ERROR);
        vt_edit_free(&ed);
    }

    base_free(&bs);
    vt_env_free(e);
    restore_limits_at_limit(state);
}

/* ==== RESTORE.REFERENCES.* ================================================================== */

typedef struct gpadl_info {
    uint32_t id, state;
} gpadl_info;

/* Where record n (0-based, in image order) of the chunks of `type` (GPADLS or PACKETS) is:
 * in chunk *k at payload offset *off. False when the image has no record n. */
static bool image_record(const vt_edit_image *ed, uint16_t type, size_t n, size_t *k, uint32_t *off)
{
    for (size_t c = 0; c < ed->count; c++) {
        if (ed->c[c].type != type)
            continue;
        uint32_t count = vt_edit_rec_count(&ed->c[c]);
        if (n < count) {
            *k = c;
            *off = vt_edit_rec_off(&ed->c[c], (uint32_t)n);
            return true;
        }
        n -= count;
    }
    return false;
}

/* GPADLs of an image in order; returns the count (at most cap). */
static size_t image_gpadls(const vt_edit_image *ed, gpadl_info *out, size_t cap)
{
    size_t n = 0, k;
    uint32_t off;
    for (; image_record(ed, VT_TYPE_GPADLS, n, &k, &off); n++)
        if (n < cap) {
            out[n].id = vt_get32(ed->c[k].p + off + VT_GPADL_ID);
            out[n].state = vt_get32(ed->c[k].p + off + VT_GPADL_STATE);
        }
    return n;
}

static bool gpadl_referenced(const vt_edit_image *ed, uint32_t id)
{
    if (vt_get32(ed->c[0].p + VT_HEADER_RING_GPADL) == id)
        return true;
    size_t k;
    uint32_t off;
    for (size_t n = 0; image_record(ed, VT_TYPE_PACKETS, n, &k, &off); n++)
        if (vt_get32(ed->c[k].p + off + VT_PACKET_GPADL) == id)
            return true;
    return false;
}

/* Where the GPADL record with id `id` is, as image_record() says it; fails the test if the
 * image has none. */
static void find_gpadl(const vt_edit_image *ed, uint32_t id, size_t *k, uint32_t *off)
{
    for (size_t n = 0; image_record(ed, VT_TYPE_GPADLS, n, k, off); n++)
        if (vt_get32(ed->c[*k].p + *off + VT_GPADL_ID) == id)
            return;
    fail_msg("no GPADL record with id %u", id);
}

static uint32_t absent_gpadl_id(const gpadl_info *g, size_t n)
{
    uint32_t id = 0xABCD00u;
    for (bool clash = true; clash;) {
        clash = false;
        for (size_t i = 0; i < n; i++)
            if (g[i].id == id) {
                id++;
                clash = true;
            }
    }
    return id;
}

static void restore_references_unresolved(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    static const vmbsave_canonical_id shapes[] = {VMBSAVE_CANONICAL_OPEN_GPADLS,
                                                  VMBSAVE_CANONICAL_PAUSED_PACKETS};
    char what[160];
    unsigned ring_renames = 0;
    for (size_t w = 0; w < 2; w++) {
        base bs;
        base_make(e, shapes[w], 1, &bs);
        const char *name = vmbsave_canonical_name(shapes[w]);
        gpadl_info g[VMBSAVE_MAX_GPADLS];
        size_t ng = image_gpadls(&bs.ed, g, VMBSAVE_MAX_GPADLS);
        uint32_t absent = absent_gpadl_id(g, ng);
        uint32_t tearing = 0;
        for (size_t i = 0; i < ng; i++)
            if (g[i].state == 2)
                tearing = g[i].id;
        if (tearing == 0)
            fail_msg("precondition: %s has no TEARING_DOWN GPADL", name);

        /* The ring GPADL missing, or being torn down. */
        snprintf(what, sizeof(what), "%s: ring GPADL id %u not in the image", name, absent);
        edited_u32_fails(e, what, &bs.ed, 0, VT_HEADER_RING_GPADL, absent, STATUS_NOT_FOUND,
                         AT_END);
        snprintf(what, sizeof(what), "%s: ring GPADL %u is TEARING_DOWN", name, tearing);
        edited_u32_fails(e, what, &bs.ed, 0, VT_HEADER_RING_GPADL, tearing, STATUS_NOT_FOUND,
                         AT_END);

        /* The ring GPADL's record renamed (the ring names an id the image lacks). The new id
         * keeps the records in ascending order, so only the reference is broken. Only where no
         * packet names the ring GPADL too and an id next to it is free; some shape must allow
         * it (checked after the loop). */
        uint32_t ring = vt_get32(bs.ed.c[0].p + VT_HEADER_RING_GPADL);
        bool packet_names_ring = false;
        size_t pk_k;
        uint32_t pk_off;
        for (size_t n = 0; image_record(&bs.ed, VT_TYPE_PACKETS, n, &pk_k, &pk_off); n++)
            if (vt_get32(bs.ed.c[pk_k].p + pk_off + VT_PACKET_GPADL) == ring)
                packet_names_ring = true;
        uint32_t renamed = 0;
        for (size_t i = 0; i < ng && !packet_names_ring; i++) {
            if (g[i].id != ring)
                continue;
            uint32_t lo = i > 0 ? g[i - 1].id : 0, hi = i + 1 < ng ? g[i + 1].id : 0;
            if (ring - 1u > lo)
                renamed = ring - 1u;
            else if (hi == 0 || ring + 1u < hi)
                renamed = ring + 1u;
        }
        if (renamed != 0) {
            size_t k;
            uint32_t off;
            find_gpadl(&bs.ed, ring, &k, &off);
            snprintf(what, sizeof(what), "%s: the ring GPADL's record renamed %u -> %u", name, ring,
                     renamed);
            edited_u32_fails(e, what, &bs.ed, k, off + VT_GPADL_ID, renamed, STATUS_NOT_FOUND,
                             AT_END);
            ring_renames++;
        }

        /* A packet naming a GPADL the image does not hold. */
        if (vmbsave_canonical_info_of(shapes[w])->packet_count > 0) {
            size_t pk = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
            for (uint32_t r = 0; r < vt_edit_rec_count(&bs.ed.c[pk]); r++) {
                snprintf(what, sizeof(what), "packet record %u names GPADL %u, not in the image", r,
                         absent);
                edited_u32_fails(e, what, &bs.ed, pk,
                                 vt_edit_rec_off(&bs.ed.c[pk], r) + VT_PACKET_GPADL, absent,
                                 STATUS_NOT_FOUND, AT_END);
            }
        }
        base_free(&bs);
    }
    if (ring_renames == 0)
        fail_msg("precondition: no shape has a ring GPADL that can be renamed");
    vt_env_free(e);
}

static void restore_references_duplicate(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    static const vmbsave_canonical_id shapes[] = {VMBSAVE_CANONICAL_OPEN_GPADLS,
                                                  VMBSAVE_CANONICAL_PAUSED_PACKETS};
    char what[160];
    for (size_t w = 0; w < 2; w++) {
        base bs;
        base_make(e, shapes[w], 1, &bs);
        const char *name = vmbsave_canonical_name(shapes[w]);
        gpadl_info g[VMBSAVE_MAX_GPADLS];
        size_t ng = image_gpadls(&bs.ed, g, VMBSAVE_MAX_GPADLS);
        vt_edit_image ed;

        /* A GPADL nothing references takes the id of another one (the order stays ascending
         * when it takes its predecessor's id). */
        bool done = false;
        for (size_t i = 1; i < ng; i++) {
            if (gpadl_referenced(&bs.ed, g[i].id))
                continue;
            size_t k;
            uint32_t off;
            find_gpadl(&bs.ed, g[i].id, &k, &off);
            snprintf(what, sizeof(what), "%s: GPADL id %u twice", name, g[i - 1].id);
            edited_u32_fails(e, what, &bs.ed, k, off + VT_GPADL_ID, g[i - 1].id,
                             STATUS_DUPLICATE_OBJECTID, AT_END);
            done = true;
        }
        if (!done)
            fail_msg("precondition: %s has no unreferenced GPADL after the first", name);

        /* A packet id twice. */
        if (shapes[w] == VMBSAVE_CANONICAL_PAUSED_PACKETS) {
            size_t pk = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
            const vt_edit_chunk *c = &bs.ed.c[pk];
            uint32_t n = vt_edit_rec_count(c);
            assert_true(n >= 3);
            uint32_t pairs[][2] = {{0, 1}, {1, n - 1}, {n - 1, 0}};
            for (size_t i = 0; i < 3; i++) {
                vt_edit_copy(&ed, &bs.ed);
                vt_edit_chunk *m = &ed.c[pk];
                uint64_t id = vt_get64(m->p + vt_edit_rec_off(m, pairs[i][0]) + VT_PACKET_ID);
                vt_put64(m->p + vt_edit_rec_off(m, pairs[i][1]) + VT_PACKET_ID, id);
                vt_edit_fix(&ed);
                snprintf(what, sizeof(what), "packet id %llu in records %u and %u",
                         (unsigned long long)id, pairs[i][0], pairs[i][1]);
                expect_fail_ed(e, what, &ed, STATUS_DUPLICATE_OBJECTID, AT_END);
                vt_edit_free(&ed);
            }
        }
        base_free(&bs);
    }
    vt_env_free(e);
}

/* ==== RESTORE.RESULT.SAVED_STATE ============================================================ */

/* The pending ring bytes an image holds for one direction, in order. */
static uint8_t *image_ring(const vt_edit_image *ed, uint32_t dir, size_t *len)
{
    size_t n = 0;
    for (size_t k = 0; k < ed->count; k++)
        if (ed->c[k].type == VT_TYPE_RING && vt_get32(ed->c[k].p + VT_RING_DIR) == dir)
            n += ed->c[k].n - VT_RING_FIXED;
    uint8_t *out = vt_xmalloc(n);
    size_t at = 0;
    for (size_t k = 0; k < ed->count; k++)
        if (ed->c[k].type == VT_TYPE_RING && vt_get32(ed->c[k].p + VT_RING_DIR) == dir) {
            memcpy(out + at, ed->c[k].p + VT_RING_FIXED, ed->c[k].n - VT_RING_FIXED);
            at += ed->c[k].n - VT_RING_FIXED;
        }
    *len = n;
    return out;
}

/* Packet ids of an image, in send order; returns the count. */
static size_t image_packets(const vt_edit_image *ed, uint64_t *ids, size_t cap)
{
    size_t n = 0, k;
    uint32_t off;
    for (; image_record(ed, VT_TYPE_PACKETS, n, &k, &off); n++)
        if (n < cap)
            ids[n] = vt_get64(ed->c[k].p + off + VT_PACKET_ID);
    return n;
}

/* The same operation on the saved channel `a` and the restored `b`: both give `want` and
 * their descriptions stay equal. */
static void both(vt_env *e, vmbsave_channel *a, vmbsave_channel *b, NTSTATUS sa, NTSTATUS sb,
                 NTSTATUS want, const char *what)
{
    if (sa != want || sb != want)
        fail_msg("%s: the saved channel gave %s, the restored one %s, expected %s", what,
                 vt_status_str(sa), vt_status_str(sb), vt_status_str(want));
    char *da = vt_describe(e, a), *db = vt_describe(e, b);
    vt_assert_same_state(da, db);
    free(da);
    free(db);
}

static void drain_ring(vt_env *e, vmbsave_channel *ch, uint32_t dir, const uint8_t *want,
                       size_t want_len, const char *who)
{
    uint8_t buf[50];
    size_t at = 0;
    for (;;) {
        uint32_t got = 0xFFFFFFFFu;
        NTSTATUS s = e->v->ring_read(ch, (vmbsave_ring_direction)dir, buf, sizeof(buf), &got);
        if (s != STATUS_SUCCESS)
            fail_msg("%s: ring_read(%u) returned %s", who, dir, vt_status_str(s));
        if (got == 0)
            break;
        if (got > sizeof(buf) || at + got > want_len || memcmp(buf, want + at, got) != 0)
            fail_msg("%s: ring_read(%u) returned bytes other than the saved ones at offset %zu",
                     who, dir, at);
        at += got;
    }
    if (at != want_len)
        fail_msg("%s: ring %u gave %zu bytes, the image saved %zu", who, dir, at, want_len);
}

static void restore_result_saved_state(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();

    /* OPEN_PAUSED with packets, GPADLs and ring bytes. */
    {
        vmbsave_channel *a = vt_make_canonical(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 4);
        char *desc = vt_describe(e, a);
        vt_image img;
        vt_save(e, a, VMBSAVE_MAX_CHUNK_BYTES, &img);
        vt_edit_image ed;
        vt_edit_parse(&ed, img.bytes, img.size);
        vmbsave_channel *b = vt_restore_new(e, &img);
        char *rd = vt_describe(e, b);
        vt_assert_same_state(desc, rd);
        if (strstr(rd, "state=OPEN_PAUSED\n") != rd || strstr(rd, "\nfresh=0\n") == NULL)
            fail_msg("the restored channel is not OPEN_PAUSED and not fresh:\n%s", rd);
        free(rd);

        uint64_t ids[64];
        size_t np = image_packets(&ed, ids, 64);
        assert_true(np > 0 && np <= 64);
        gpadl_info g[VMBSAVE_MAX_GPADLS];
        size_t ng = image_gpadls(&ed, g, VMBSAVE_MAX_GPADLS);
        uint32_t tearing = 0, created = 0;
        for (size_t i = 0; i < ng; i++) {
            if (g[i].state == 2)
                tearing = g[i].id;
            else if (created == 0)
                created = g[i].id;
        }
        assert_true(tearing != 0 && created != 0);

        uint8_t sink[8];
        uint32_t got;
        both(e, a, b, e->v->ring_read(a, VMBSAVE_RING_INCOMING, sink, 8, &got),
             e->v->ring_read(b, VMBSAVE_RING_INCOMING, sink, 8, &got), STATUS_INVALID_DEVICE_STATE,
             "ring_read while paused");
        both(e, a, b, e->v->start(a), e->v->start(b), STATUS_SUCCESS, "start");

        /* The ring bytes come back in order, as saved (and as the saved channel gives them). */
        for (uint32_t dir = 0; dir < 2; dir++) {
            size_t len;
            uint8_t *want = image_ring(&ed, dir, &len);
            assert_true(len > 0);
            drain_ring(e, a, dir, want, len, "saved channel");
            drain_ring(e, b, dir, want, len, "restored channel");
            free(want);
        }
        both(e, a, b, STATUS_SUCCESS, STATUS_SUCCESS, STATUS_SUCCESS, "rings drained");

        /* A new packet takes the next send sequence; packets complete by id. */
        static const uint8_t payload[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        both(e, a, b, e->v->packet_send(a, 4242u, created, payload, sizeof(payload)),
             e->v->packet_send(b, 4242u, created, payload, sizeof(payload)), STATUS_SUCCESS,
             "packet_send of a new packet");
        both(e, a, b, e->v->packet_send(a, ids[0], 0, payload, 1),
             e->v->packet_send(b, ids[0], 0, payload, 1), STATUS_DUPLICATE_OBJECTID,
             "packet_send reusing a restored packet's id");
        for (size_t i = 0; i < np; i++)
            both(e, a, b, e->v->packet_complete(a, ids[i]), e->v->packet_complete(b, ids[i]),
                 STATUS_SUCCESS, "packet_complete of a restored packet");
        both(e, a, b, e->v->packet_complete(a, ids[0]), e->v->packet_complete(b, ids[0]),
             STATUS_NOT_FOUND, "packet_complete of a packet already completed");

        /* The pending teardown completes; a CREATED GPADL can be torn down. */
        both(e, a, b, e->v->gpadl_teardown_begin(a, tearing),
             e->v->gpadl_teardown_begin(b, tearing), STATUS_INVALID_DEVICE_STATE,
             "gpadl_teardown_begin of a GPADL already being torn down");
        both(e, a, b, e->v->gpadl_teardown_complete(a, tearing),
             e->v->gpadl_teardown_complete(b, tearing), STATUS_SUCCESS,
             "gpadl_teardown_complete of the restored TEARING_DOWN GPADL");

        /* Traffic, pause, and the two channels save to the same image. */
        static const uint8_t bytes[33] = {0x42};
        both(e, a, b, e->v->ring_write(a, VMBSAVE_RING_OUTGOING, bytes, sizeof(bytes)),
             e->v->ring_write(b, VMBSAVE_RING_OUTGOING, bytes, sizeof(bytes)), STATUS_SUCCESS,
             "ring_write");
        both(e, a, b, e->v->pause(a), e->v->pause(b), STATUS_SUCCESS, "pause");
        vt_image ia, ib;
        vt_save(e, a, VMBSAVE_MAX_CHUNK_BYTES, &ia);
        vt_save(e, b, VMBSAVE_MAX_CHUNK_BYTES, &ib);
        if (ia.size != ib.size || memcmp(ia.bytes, ib.bytes, ia.size) != 0)
            fail_msg("after the same operations the saved and the restored channel save "
                     "different images");
        vt_image_free(&ia);
        vt_image_free(&ib);
        both(e, a, b, e->v->guest_close(a), e->v->guest_close(b), STATUS_SUCCESS, "guest_close");
        both(e, a, b, e->v->disable(a), e->v->disable(b), STATUS_SUCCESS, "disable");
        assert_int_equal(e->v->channel_cleanup(a), STATUS_SUCCESS);
        assert_int_equal(e->v->channel_cleanup(b), STATUS_SUCCESS);
        vt_edit_free(&ed);
        vt_image_free(&img);
        free(desc);
    }

    /* ENABLED: offered, takes GPADLs and a guest open; no longer in its Init phase. */
    {
        vmbsave_channel *a = vt_make_canonical(e, VMBSAVE_CANONICAL_EMPTY_OFFER, 4);
        vt_image img;
        vt_save(e, a, VMBSAVE_MAX_CHUNK_BYTES, &img);
        vmbsave_channel *b = vt_restore_new(e, &img);
        both(e, a, b, STATUS_SUCCESS, STATUS_SUCCESS, STATUS_SUCCESS, "restore");
        char *rd = vt_describe(e, b);
        if (strstr(rd, "state=ENABLED\n") != rd || strstr(rd, "\nfresh=0\n") == NULL)
            fail_msg("the restored channel is not ENABLED and not fresh:\n%s", rd);
        free(rd);
        vmbsave_offer offer;
        vt_fill_offer(&offer, 5);
        both(e, a, b, e->v->init_set_offer(a, &offer), e->v->init_set_offer(b, &offer),
             STATUS_INVALID_DEVICE_STATE, "init_set_offer after enable / restore");
        uint64_t pfns[2] = {0x111, 0x222};
        both(e, a, b, e->v->gpadl_create(a, 3, pfns, 2), e->v->gpadl_create(b, 3, pfns, 2),
             STATUS_SUCCESS, "gpadl_create");
        vmbsave_open_params open;
        vt_fill_open(&open, 3);
        both(e, a, b, e->v->guest_open(a, &open), e->v->guest_open(b, &open), STATUS_SUCCESS,
             "guest_open");
        vt_image_free(&img);
        vt_destroy_channel(e, a);
        vt_destroy_channel(e, b);
    }
    vt_env_free(e);
}

/* ==== RESTORE.FIXED_POINT =================================================================== */

/* save -> restore -> save of channel `a` (destroyed after) gives the same image, and the
 * restored channel describes as `a` did. */
static void fixed_point_of(vt_env *e, vmbsave_channel *a, const char *name)
{
    char *da = vt_describe(e, a);
    vt_image i1, i2;
    vt_save(e, a, VMBSAVE_MAX_CHUNK_BYTES, &i1);
    vmbsave_channel *b = vt_restore_new(e, &i1);
    char *db = vt_describe(e, b);
    vt_assert_same_state(da, db);
    vt_save(e, b, VMBSAVE_MAX_CHUNK_BYTES, &i2);
    if (i1.size != i2.size || memcmp(i1.bytes, i2.bytes, i1.size) != 0) {
        size_t at = 0;
        while (at < i1.size && at < i2.size && i1.bytes[at] == i2.bytes[at])
            at++;
        fail_msg("%s: save -> restore -> save gave a different image (%zu vs %zu bytes, "
                 "first difference at byte %zu)",
                 name, i1.size, i2.size, at);
    }
    vt_image_free(&i1);
    vt_image_free(&i2);
    free(da);
    free(db);
    vt_destroy_channel(e, a);
    vt_destroy_channel(e, b);
}

static void restore_fixed_point(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    /* Every canonical state (harness/program/canonical.h; the incoming large ring wraps around
     * its end), unsalted and salted. */
    for (int w = 0; w < VMBSAVE_CANONICAL_COUNT; w++) {
        for (uint32_t salt = 0; salt < 2; salt++)
            fixed_point_of(e, vt_make_canonical(e, (vmbsave_canonical_id)w, salt * 6u),
                           vmbsave_canonical_name((vmbsave_canonical_id)w));
    }
    vt_env_free(e);
}

/* ==== RESTORE.NO_REPLAY ===================================================================== */

static void restore_no_replay(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    uint64_t ids[64];
    size_t np = image_packets(&bs.ed, ids, 64);
    assert_true(np > 1 && np <= 64);

    /* A restore that fails in the driver first: its provisional calls do not count later. */
    vmbsave_channel *ch = vt_channel_new(e);
    vmbsave_fault_host_clear_logs(&e->host);
    e->host.restore_fail_at = 2;
    vt_edit_feed_out r = vt_edit_feed_n(e, ch, &bs.b, 0);
    e->host.restore_fail_at = 0;
    assert_int_equal(r.status, STATUS_UNSUCCESSFUL);

    /* One restore: one restore_packet call per packet, in send order, all from the END call. */
    vmbsave_fault_host_clear_logs(&e->host);
    for (size_t i = 0; i < bs.b.count; i++) {
        NTSTATUS s =
            vt_call_restore(e, ch, bs.b.b + bs.b.start[i], bs.b.start[i + 1] - bs.b.start[i]);
        assert_int_equal(s, i + 1 == bs.b.count ? STATUS_SUCCESS : STATUS_MORE_PROCESSING_REQUIRED);
        if (i + 1 < bs.b.count && e->host.restore_call_count != 0)
            fail_msg("restore_packet was called before the END chunk (after chunk %zu)", i);
    }
    if (e->host.restore_call_count != np)
        fail_msg("one restore made %u restore_packet calls for %zu packets",
                 e->host.restore_call_count, np);
    for (size_t i = 0; i < np; i++)
        if (e->host.restore_calls[i].packet_id != ids[i])
            fail_msg("restore_packet call %zu was for packet %llu, expected %llu", i,
                     (unsigned long long)e->host.restore_calls[i].packet_id,
                     (unsigned long long)ids[i]);
    assert_int_equal(e->host.restore_state_mismatches, 0);

    /* A second restore into the restored channel is refused and calls the driver no more. */
    char *before = vt_describe(e, ch);
    for (size_t per = 0; per <= 1; per++) {
        r = vt_edit_feed_n(e, ch, &bs.b, per);
        if (r.status != STATUS_INVALID_DEVICE_STATE)
            fail_msg("a second restore into a restored channel returned %s",
                     vt_status_str(r.status));
    }
    if (e->host.restore_call_count != np)
        fail_msg("a refused second restore made restore_packet calls (%u in all)",
                 e->host.restore_call_count);
    char *after = vt_describe(e, ch);
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* The restored pending GPADL teardown completes once, and is then gone. */
    gpadl_info g[VMBSAVE_MAX_GPADLS];
    size_t ng = image_gpadls(&bs.ed, g, VMBSAVE_MAX_GPADLS);
    uint32_t tearing = 0;
    for (size_t i = 0; i < ng; i++)
        if (g[i].state == 2)
            tearing = g[i].id;
    assert_true(tearing != 0);
    assert_int_equal(e->v->gpadl_teardown_complete(ch, tearing), STATUS_SUCCESS);
    assert_int_equal(e->v->gpadl_teardown_complete(ch, tearing), STATUS_NOT_FOUND);

    vt_destroy_channel(e, ch);
    base_free(&bs);
    vt_env_free(e);
}

/* ==== RESTORE.CLEANUP_MID_RESTORE =========================================================== */

static void restore_cleanup_mid_restore(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    static const vmbsave_canonical_id shapes[] = {VMBSAVE_CANONICAL_PAUSED_PACKETS,
                                                  VMBSAVE_CANONICAL_LARGE_RING};
    for (size_t w = 0; w < 2; w++) {
        base bs;
        base_make(e, shapes[w], 1, &bs);
        for (size_t k = 1; k < bs.b.count; k++) {
            for (int one_call = 0; one_call < 2; one_call++) {
                uint64_t live = e->host.live_allocations;
                vmbsave_channel *ch = vt_channel_new(e);
                if (one_call) {
                    assert_int_equal(vt_call_restore(e, ch, bs.b.b, bs.b.start[k]),
                                     STATUS_MORE_PROCESSING_REQUIRED);
                } else {
                    for (size_t i = 0; i < k; i++)
                        assert_int_equal(vt_call_restore(e, ch, bs.b.b + bs.b.start[i],
                                                         bs.b.start[i + 1] - bs.b.start[i]),
                                         STATUS_MORE_PROCESSING_REQUIRED);
                }
                vmbsave_host_enter(&e->host);
                NTSTATUS s = e->v->channel_cleanup(ch);
                vmbsave_host_leave(&e->host);
                if (s != STATUS_SUCCESS)
                    fail_msg("%s: channel_cleanup after %zu of %zu chunks returned %s",
                             vmbsave_canonical_name(shapes[w]), k, bs.b.count, vt_status_str(s));
                if (e->host.live_allocations != live)
                    fail_msg("%s: channel_cleanup after %zu of %zu chunks left %lld allocations",
                             vmbsave_canonical_name(shapes[w]), k, bs.b.count,
                             (long long)(e->host.live_allocations - live));
            }
        }
        base_free(&bs);
    }
    vt_env_free(e); /* asserts the live count is 0 after release */
}

/* ==== RESTORE.CORRUPT.* : one clause per condition ========================================== */

/* A content failure (RESTORE.CORRUPT.WHEN): the restore of `b` into a fresh channel, one chunk
 * per call and all in one call, fails with `want` (or `alt`). Chunk by chunk the failing call
 * is the one carrying chunk `at` or a later one up to END (a reader may leave content checks
 * to END), never an earlier one; AT_END: exactly the END call. No restore_packet call is made. */
static void content_fail2(vt_env *e, const char *what, const vt_edit_bytes *b, NTSTATUS want,
                          NTSTATUS alt, long at)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t per_call = pass == 0 ? 1 : 0;
        vmbsave_channel *ch = vt_channel_new(e);
        uint32_t callbacks = e->host.restore_call_count;
        vt_edit_feed_out r = vt_edit_feed_n(e, ch, b, per_call);
        if (r.status != want && r.status != alt)
            fail_msg("%s (%s): restore returned %s at chunk %zu, expected %s", what,
                     per_call ? "one chunk per call" : "one call", vt_status_str(r.status),
                     r.first, vt_status_str(want));
        if (per_call == 1) {
            size_t end = b->count - 1;
            if (at == AT_END && r.first != end)
                fail_msg("%s: %s came from chunk %zu, expected the END call (chunk %zu)", what,
                         vt_status_str(r.status), r.first, end);
            if (at >= 0 && r.first < (size_t)at)
                fail_msg("%s: %s came from chunk %zu, before chunk %ld that breaks the rule",
                         what, vt_status_str(r.status), r.first, at);
        }
        if (e->host.restore_call_count != callbacks)
            fail_msg("%s: a refused restore made %u restore_packet call(s)", what,
                     (unsigned)(e->host.restore_call_count - callbacks));
        ch_cleanup(e, ch);
    }
}

/* content_fail2() for an edited image, every derived field made consistent (vt_edit_fix). */
static void content_fail_ed(vt_env *e, const char *what, vt_edit_image *ed, NTSTATUS want,
                            NTSTATUS alt, long at)
{
    vt_edit_fix(ed);
    vt_edit_bytes b;
    vt_edit_serialize(ed, &b);
    content_fail2(e, what, &b, want, alt, at);
    vt_edit_bytes_free(&b);
}

/* A copy of `src` whose u32 at payload offset `off` of chunk k is `v` fails FILE_CORRUPT. */
static void corrupt_u32(vt_env *e, const char *what, const vt_edit_image *src, size_t k,
                        uint32_t off, uint32_t v, long at)
{
    vt_edit_image ed;
    vt_edit_copy(&ed, src);
    vt_put32(ed.c[k].p + off, v);
    content_fail_ed(e, what, &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, at);
    vt_edit_free(&ed);
}

static void corrupt_u64(vt_env *e, const char *what, const vt_edit_image *src, size_t k,
                        uint32_t off, uint64_t v, long at)
{
    vt_edit_image ed;
    vt_edit_copy(&ed, src);
    vt_put64(ed.c[k].p + off, v);
    content_fail_ed(e, what, &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, at);
    vt_edit_free(&ed);
}

/* An edited image (made consistent) restores with SUCCESS, chunk by chunk and in one call. */
static void edited_restores(vt_env *e, const char *what, vt_edit_image *ed)
{
    vt_edit_fix(ed);
    vt_edit_bytes b;
    vt_edit_serialize(ed, &b);
    for (size_t per_call = 0; per_call < 2; per_call++)
        vt_destroy_channel(e, vt_edit_restore_ok(e, &b, per_call, what));
    vt_edit_bytes_free(&b);
}

static void u32_restores(vt_env *e, const char *what, const vt_edit_image *src, size_t k,
                         uint32_t off, uint32_t v)
{
    vt_edit_image ed;
    vt_edit_copy(&ed, src);
    vt_put32(ed.c[k].p + off, v);
    edited_restores(e, what, &ed);
    vt_edit_free(&ed);
}

static void put16_at(vt_edit_image *ed, size_t k, uint32_t off, uint16_t v)
{
    vt_put16(ed->c[k].p + off, v);
}

/* An ENABLED channel with GPADLs 1..n of one pfn each (pfn 0x1000 + id), or 4,096 pfns each
 * when `full` (one GPADL record per chunk then). */
static vmbsave_channel *gpadl_channel(vt_env *e, uint32_t n, bool full)
{
    vmbsave_channel *ch = vt_channel_new(e);
    vmbsave_offer offer;
    vt_fill_offer(&offer, 3);
    vmbsave_host_enter(&e->host);
    NTSTATUS s = e->v->init_set_offer(ch, &offer);
    if (s == STATUS_SUCCESS)
        s = e->v->enable(ch);
    vmbsave_host_leave(&e->host);
    if (s != STATUS_SUCCESS)
        fail_msg("offer and enable: %s", vt_status_str(s));
    uint32_t count = full ? VMBSAVE_MAX_GPADL_PFNS : 1u;
    uint64_t *pfns = vt_xmalloc(count * sizeof(uint64_t));
    for (uint32_t id = 1; id <= n; id++) {
        for (uint32_t i = 0; i < count; i++)
            pfns[i] = 0x1000u + id + i;
        vmbsave_host_enter(&e->host);
        s = e->v->gpadl_create(ch, id, pfns, count);
        vmbsave_host_leave(&e->host);
        if (s != STATUS_SUCCESS)
            fail_msg("gpadl_create %u of %u: %s", id, n, vt_status_str(s));
    }
    free(pfns);
    return ch;
}

/* The saved image of gpadl_channel(n, full). */
static void gpadl_base(vt_env *e, uint32_t n, bool full, base *out)
{
    vmbsave_channel *ch = gpadl_channel(e, n, full);
    out->desc = vt_describe(e, ch);
    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    vt_edit_parse(&out->ed, img.bytes, img.size);
    vt_edit_serialize(&out->ed, &out->b);
    vt_image_free(&img);
    vt_destroy_channel(e, ch);
}

/* A GPADLS chunk holding one record: id, one pfn. */
static void one_gpadl_chunk(vt_edit_chunk *c, uint32_t id, uint64_t pfn)
{
    uint8_t rec[4 + VT_GPADL_FIXED + 8];
    vt_put32(rec, 1);
    vt_put32(rec + 4, VT_GPADL_FIXED + 8u);
    vt_put32(rec + 4 + VT_GPADL_ID, id);
    vt_put32(rec + 4 + VT_GPADL_STATE, 1);
    vt_put32(rec + 4 + VT_GPADL_PFNS, 1);
    vt_put64(rec + 4 + VT_GPADL_FIXED, pfn);
    vt_edit_splice(c, 0, c->n, rec, sizeof(rec));
}

/* Index of the first packet record (of chunk k) with no driver state. */
static uint32_t stateless_packet(const vt_edit_chunk *c)
{
    for (uint32_t i = 0; i < vt_edit_rec_count(c); i++) {
        if (vt_get32(c->p + vt_edit_rec_off(c, i) + VT_PACKET_DSTATE) == 0)
            return i;
    }
    fail_msg("no packet without driver state in the PACKETS chunk");
    return 0;
}

static void restore_corrupt_when(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    const size_t pi = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
    const uint32_t r0 = vt_edit_rec_off(&bs.ed.c[pi], 0);

    /* A content error, chunk by chunk: every call before its chunk returns
     * MORE_PROCESSING_REQUIRED, the failure comes from that chunk's call or a later one, by END
     * at the latest, with no restore_packet call; the channel is fresh again and takes the
     * genuine image. */
    vt_edit_image ed;
    vt_edit_copy(&ed, &bs.ed);
    vt_put64(ed.c[pi].p + r0 + VT_PACKET_ID, 0);
    vt_edit_fix(&ed);
    vt_edit_bytes b;
    vt_edit_serialize(&ed, &b);
    vmbsave_channel *ch = vt_channel_new(e);
    char *fresh = vt_describe(e, ch);
    uint32_t callbacks = e->host.restore_call_count;
    size_t k = 0;
    NTSTATUS s = STATUS_MORE_PROCESSING_REQUIRED;
    for (; k < b.count && s == STATUS_MORE_PROCESSING_REQUIRED; k++)
        s = vt_call_restore(e, ch, b.b + b.start[k], b.start[k + 1] - b.start[k]);
    if (s != STATUS_FILE_CORRUPT_ERROR)
        fail_msg("a packet id 0 in chunk %zu: the restore ended with %s at chunk %zu, expected "
                 "STATUS_FILE_CORRUPT_ERROR by END",
                 pi, vt_status_str(s), k - 1);
    if (k - 1 < pi)
        fail_msg("a packet id 0 in chunk %zu was refused by the call carrying chunk %zu", pi,
                 k - 1);
    assert_int_equal(e->host.restore_call_count, callbacks);
    char *after = vt_describe(e, ch);
    vt_assert_same_state(fresh, after);
    free(after);
    free(fresh);
    vt_edit_feed_out r = vt_edit_feed_n(e, ch, &bs.b, 1);
    if (r.status != STATUS_SUCCESS)
        fail_msg("the genuine image after a refused one: %s at chunk %zu", vt_status_str(r.status),
                 r.first);
    assert_restored(e, ch, bs.desc);
    vt_destroy_channel(e, ch);

    /* A later chunk breaking a check of steps 1-10 after the content error: either status. */
    b.b[b.start[pi + 1] + VT_CHUNK_HEADER_BYTES] ^= 1u; /* checksum of the chunk after PACKETS */
    content_fail2(e, "packet id 0, then a bad checksum in the next chunk", &b,
                  STATUS_FILE_CORRUPT_ERROR, STATUS_DATA_ERROR, (long)pi);
    vt_edit_bytes_free(&b);
    vt_edit_free(&ed);

    /* Step 12 fails the END call itself. */
    vt_edit_copy(&ed, &bs.ed);
    vt_edit_fix(&ed);
    vt_put32(ed.c[ed.count - 1].p + VT_END_COUNT, (uint32_t)ed.count + 1u);
    vt_edit_serialize(&ed, &b);
    content_fail2(e, "END chunk_count one more", &b, STATUS_FILE_CORRUPT_ERROR,
                  STATUS_FILE_CORRUPT_ERROR, AT_END);
    vt_edit_bytes_free(&b);
    vt_edit_free(&ed);
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_reserved(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    vt_edit_image ed;
    char what[160];
    /* Step 7 in every chunk: the call carrying it fails, always. */
    for (size_t k = 0; k < bs.ed.count; k++) {
        static const uint16_t flags[] = {0x2u, 0x8000u, 0x3u};
        vt_edit_copy(&ed, &bs.ed);
        ed.c[k].reserved = 1;
        snprintf(what, sizeof(what), "reserved header field 1 in chunk %zu", k);
        malformed(e, what, &ed, (long)k);
        vt_edit_free(&ed);
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
            vt_edit_copy(&ed, &bs.ed);
            ed.c[k].flags = flags[f];
            snprintf(what, sizeof(what), "flags 0x%x in chunk %zu", flags[f], k);
            malformed(e, what, &ed, (long)k);
            vt_edit_free(&ed);
        }
    }
    /* END's payload reserved field. */
    corrupt_u32(e, "END reserved field 1", &bs.ed, bs.ed.count - 1, VT_END_RESERVED, 1, AT_END);
    corrupt_u32(e, "END reserved field 0x80000000", &bs.ed, bs.ed.count - 1, VT_END_RESERVED,
                0x80000000u, AT_END);
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_image_id(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    for (int bit = 0; bit < 64; bit += 21) {
        vt_edit_image ed;
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_fix(&ed);
        for (size_t k = 0; k < ed.count; k++)
            ed.c[k].image_id ^= (uint64_t)1 << bit; /* every chunk agrees; the HEADER's hash not */
        char what[96];
        snprintf(what, sizeof(what), "HEADER image id with bit %d flipped", bit);
        expect_fail_ed(e, what, &ed, STATUS_FILE_CORRUPT_ERROR, 0);
        vt_edit_free(&ed);
    }
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_short_payload(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    vt_edit_image ed;
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    const size_t pi = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
    const size_t ri = vt_edit_find_ring(&bs.ed, VMBSAVE_RING_INCOMING);
    const size_t end = bs.ed.count - 1;
    struct {
        size_t k;
        uint32_t keep;
        long at;
        const char *what;
    } cases[] = {
        {0, VT_HEADER_PAYLOAD_BYTES - 1u, 0, "HEADER payload of 207 bytes"},
        {0, 0, 0, "HEADER payload of 0 bytes"},
        {gi, 3, (long)gi, "GPADLS payload of 3 bytes (no record count)"},
        {pi, 0, (long)pi, "PACKETS payload of 0 bytes"},
        {ri, VT_RING_FIXED, (long)ri, "RING payload of 8 bytes (no ring byte)"},
        {ri, 4, (long)ri, "RING payload of 4 bytes"},
        {end, VT_END_PAYLOAD_BYTES - 1u, AT_END, "END payload of 23 bytes"},
        {end, 0, AT_END, "END payload of 0 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_chunk *c = &ed.c[cases[i].k];
        vt_edit_splice(c, cases[i].keep, c->n - cases[i].keep, NULL, 0);
        /* END's own totals are recomputed by vt_edit_fix only when END is long enough. */
        content_fail_ed(e, cases[i].what, &ed, STATUS_FILE_CORRUPT_ERROR,
                        STATUS_FILE_CORRUPT_ERROR, cases[i].at);
        vt_edit_free(&ed);
    }
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_enum(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs, en;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    base_make(e, VMBSAVE_CANONICAL_EMPTY_OFFER, 1, &en);
    char what[128];
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    const size_t ri = vt_edit_find_ring(&bs.ed, VMBSAVE_RING_INCOMING);
    const size_t ro = vt_edit_find_ring(&bs.ed, VMBSAVE_RING_OUTGOING);
    static const uint32_t states[] = {0, 3, 4, 0xFFFFFFFFu};
    for (size_t i = 0; i < 4; i++) {
        snprintf(what, sizeof(what), "HEADER state %u (OPEN_PAUSED image)", states[i]);
        corrupt_u32(e, what, &bs.ed, 0, VT_HEADER_STATE, states[i], 0);
        /* An ENABLED image holds nothing else a DISABLED or OPEN_RUNNING reading refuses. */
        snprintf(what, sizeof(what), "HEADER state %u (ENABLED image)", states[i]);
        corrupt_u32(e, what, &en.ed, 0, VT_HEADER_STATE, states[i], 0);
    }
    static const uint32_t gstates[] = {0, 3, 0x100u, 0xFFFFFFFFu};
    for (size_t i = 0; i < 4; i++) {
        snprintf(what, sizeof(what), "GPADL state %u", gstates[i]);
        corrupt_u32(e, what, &bs.ed, gi, 4 + VT_GPADL_STATE, gstates[i], (long)gi);
    }
    static const uint32_t dirs[] = {2, 3, 0xFFFFFFFFu};
    for (size_t i = 0; i < 3; i++) {
        snprintf(what, sizeof(what), "incoming RING direction %u", dirs[i]);
        corrupt_u32(e, what, &bs.ed, ri, VT_RING_DIR, dirs[i], (long)ri);
        snprintf(what, sizeof(what), "outgoing RING direction %u", dirs[i]);
        corrupt_u32(e, what, &bs.ed, ro, VT_RING_DIR, dirs[i], (long)ro);
    }
    base_free(&en);
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_record_count(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    vt_edit_image ed;
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    const size_t pi = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
    const uint8_t *hdr = bs.ed.c[0].p;

    /* A chunk with no record: the count 0, nothing after it. */
    for (int which = 0; which < 2; which++) {
        size_t k = which == 0 ? gi : pi;
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_splice(&ed.c[k], 4, ed.c[k].n - 4, NULL, 0);
        vt_put32(ed.c[k].p, 0);
        content_fail_ed(e, which == 0 ? "GPADLS chunk with record count 0 and no record"
                                      : "PACKETS chunk with record count 0 and no record",
                        &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, (long)k);
        vt_edit_free(&ed);
    }
    /* More records in one chunk than the HEADER declares (the HEADER one short). */
    corrupt_u32(e, "GPADLS: one record more than the HEADER declares", &bs.ed, 0,
                VT_HEADER_GPADLS, vt_get32(hdr + VT_HEADER_GPADLS) - 1u, (long)gi);
    corrupt_u32(e, "PACKETS: one record more than the HEADER declares", &bs.ed, 0,
                VT_HEADER_PACKETS, vt_get32(hdr + VT_HEADER_PACKETS) - 1u, (long)pi);

    /* The running count across chunks: two GPADLS chunks (4,096-pfn GPADLs), the HEADER
     * declaring 2, the second chunk carrying 2 records (1 left). */
    {
        base two;
        gpadl_base(e, 2, true, &two);
        size_t g1 = vt_edit_find(&two.ed, VT_TYPE_GPADLS, 1);
        vt_edit_copy(&ed, &two.ed);
        vt_edit_chunk extra;
        vt_edit_chunk_copy(&extra, &ed.c[g1]);
        one_gpadl_chunk(&extra, 3, 0x5000u);
        /* Append extra's record to the second GPADLS chunk. */
        vt_edit_splice(&ed.c[g1], ed.c[g1].n, 0, extra.p + 4, extra.n - 4);
        vt_put32(ed.c[g1].p, 2);
        free(extra.p);
        content_fail_ed(e, "second GPADLS chunk with 2 records where the HEADER has 1 left", &ed,
                        STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, (long)g1);
        vt_edit_free(&ed);
        base_free(&two);
    }
    /* At the limit: the HEADER declares 64, 64 records in one chunk and a 65th in a second
     * GPADLS chunk (one more than the HEADER declared, and than a channel holds). */
    {
        base full;
        gpadl_base(e, VMBSAVE_MAX_GPADLS, false, &full);
        size_t g0 = vt_edit_find(&full.ed, VT_TYPE_GPADLS, 0);
        assert_int_equal(vt_edit_rec_count(&full.ed.c[g0]), VMBSAVE_MAX_GPADLS);
        vt_edit_copy(&ed, &full.ed);
        vt_edit_chunk extra;
        vt_edit_chunk_copy(&extra, &ed.c[g0]);
        one_gpadl_chunk(&extra, VMBSAVE_MAX_GPADLS + 1u, 0x5000u);
        vt_edit_insert(&ed, g0 + 1, &extra);
        free(extra.p);
        content_fail_ed(e, "a GPADLS chunk with a 65th record after 64 (the HEADER declares 64)",
                        &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, (long)g0 + 1);
        vt_edit_free(&ed);
        base_free(&full);
    }
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_record_length(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    vt_edit_image ed;
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    const size_t pi = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
    const uint32_t g0 = vt_edit_rec_off(&bs.ed.c[gi], 0);
    const uint32_t p1 = vt_edit_rec_off(&bs.ed.c[pi], 1);
    for (int which = 0; which < 2; which++) {
        size_t k = which == 0 ? gi : pi;
        const vt_edit_chunk *c = &bs.ed.c[k];
        uint32_t head = which == 0 ? VT_GPADL_FIXED : VT_PACKET_FIXED;
        uint32_t last = vt_edit_rec_off(c, vt_edit_rec_count(c) - 1);
        const char *rec = which == 0 ? "GPADL" : "packet";
        char what[160];
        snprintf(what, sizeof(what), "last %s record_bytes 1 past its chunk", rec);
        corrupt_u32(e, what, &bs.ed, k, last, c->n - last + 1u, (long)k);
        snprintf(what, sizeof(what), "first %s record_bytes %u (below its %u-byte head)", rec,
                 head - 1u, head);
        corrupt_u32(e, what, &bs.ed, k, 4, head - 1u, (long)k);
        snprintf(what, sizeof(what), "first %s record_bytes 0", rec);
        corrupt_u32(e, what, &bs.ed, k, 4, 0, (long)k);
        snprintf(what, sizeof(what), "%s record count one more than the records present", rec);
        corrupt_u32(e, what, &bs.ed, k, 0, vt_edit_rec_count(c) + 1u, (long)k);
        /* One byte after the last record. */
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_splice(&ed.c[k], ed.c[k].n, 0, NULL, 1);
        snprintf(what, sizeof(what), "one byte after the last %s record", rec);
        content_fail_ed(e, what, &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR,
                        (long)k);
        vt_edit_free(&ed);
    }
    corrupt_u32(e, "GPADL record_bytes one pfn short of pfn_count", &bs.ed, gi, g0,
                vt_get32(bs.ed.c[gi].p + g0) - 8u, (long)gi);
    corrupt_u32(e, "packet payload_bytes one more than its record holds", &bs.ed, pi,
                p1 + VT_PACKET_PAYLOAD, vt_get32(bs.ed.c[pi].p + p1 + VT_PACKET_PAYLOAD) + 1u,
                (long)pi);
    corrupt_u32(e, "packet driver_state_bytes one more than its record holds", &bs.ed, pi,
                p1 + VT_PACKET_DSTATE, vt_get32(bs.ed.c[pi].p + p1 + VT_PACKET_DSTATE) + 1u,
                (long)pi);
    /* Declared sizes that wrap 32-bit arithmetic: above a limit too, so either status. */
    {
        struct {
            size_t k;
            uint32_t off;
            uint32_t v;
            const char *what;
        } wraps[] = {
            {gi, g0 + VT_GPADL_PFNS, 0x20000000u, "pfn_count 2^29 (8 x 2^29 wraps to 0)"},
            {gi, g0 + VT_GPADL_PFNS, 0x20000001u, "pfn_count 2^29 + 1 (wraps to 8)"},
            {pi, p1 + VT_PACKET_PAYLOAD, 0xFFFFFFF0u, "payload_bytes 0xFFFFFFF0 (32 + it wraps)"},
            {pi, p1 + VT_PACKET_DSTATE, 0xFFFFFFE0u, "driver_state_bytes 0xFFFFFFE0 (wraps)"},
        };
        for (size_t i = 0; i < sizeof(wraps) / sizeof(wraps[0]); i++) {
            vt_edit_copy(&ed, &bs.ed);
            vt_put32(ed.c[wraps[i].k].p + wraps[i].off, wraps[i].v);
            content_fail_ed(e, wraps[i].what, &ed, STATUS_FILE_CORRUPT_ERROR,
                            STATUS_IMPLEMENTATION_LIMIT, (long)wraps[i].k);
            vt_edit_free(&ed);
        }
    }
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_gpadl_id_zero(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    /* The first record (0 is below every id, so the order holds). */
    corrupt_u32(e, "first GPADL id 0", &bs.ed, gi, vt_edit_rec_off(&bs.ed.c[gi], 0) + VT_GPADL_ID,
                0, (long)gi);
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_pfn_count_zero(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    vt_edit_image ed;
    /* pfn_count 0 with a consistent record_bytes of 16, first and last record. */
    for (int last = 0; last < 2; last++) {
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_chunk *g = &ed.c[gi];
        uint32_t r = vt_edit_rec_off(g, last ? vt_edit_rec_count(g) - 1 : 0);
        uint32_t rb = vt_get32(g->p + r);
        vt_edit_splice(g, r + VT_GPADL_FIXED, rb - VT_GPADL_FIXED, NULL, 0);
        vt_put32(g->p + r, VT_GPADL_FIXED);
        vt_put32(g->p + r + VT_GPADL_PFNS, 0);
        content_fail_ed(e, last ? "last GPADL with pfn_count 0" : "first GPADL with pfn_count 0",
                        &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, (long)gi);
        vt_edit_free(&ed);
    }
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_pfn_range(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    const vt_edit_chunk *g = &bs.ed.c[gi];
    const uint32_t r0 = vt_edit_rec_off(g, 0);
    const uint32_t pfns = vt_get32(g->p + r0 + VT_GPADL_PFNS);
    assert_true(pfns >= 2);
    const uint32_t first = r0 + VT_GPADL_FIXED, last = first + 8u * (pfns - 1u);
    /* At the limit: accepted, in the first and the last position. */
    vt_edit_image ed;
    vt_edit_copy(&ed, &bs.ed);
    vt_put64(ed.c[gi].p + first, VMBSAVE_MAX_PFN);
    vt_put64(ed.c[gi].p + last, VMBSAVE_MAX_PFN);
    edited_restores(e, "first and last pfn 2^52 - 1", &ed);
    vt_edit_free(&ed);
    /* One past, and far past, in each position alone. */
    static const uint64_t bad[] = {VMBSAVE_MAX_PFN + 1u, UINT64_MAX};
    for (size_t i = 0; i < 2; i++) {
        char what[96];
        snprintf(what, sizeof(what), "first pfn 0x%llx", (unsigned long long)bad[i]);
        corrupt_u64(e, what, &bs.ed, gi, first, bad[i], (long)gi);
        snprintf(what, sizeof(what), "last pfn 0x%llx", (unsigned long long)bad[i]);
        corrupt_u64(e, what, &bs.ed, gi, last, bad[i], (long)gi);
    }
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_gpadl_order(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_OPEN_GPADLS, 1, &bs);
    const size_t gi = vt_edit_find(&bs.ed, VT_TYPE_GPADLS, 0);
    const vt_edit_chunk *g = &bs.ed.c[gi];
    assert_true(vt_edit_rec_count(g) >= 3);
    const uint32_t r1 = vt_edit_rec_off(g, 1), r2 = vt_edit_rec_off(g, 2);
    uint32_t id1 = vt_get32(g->p + r1 + VT_GPADL_ID), id2 = vt_get32(g->p + r2 + VT_GPADL_ID);
    assert_true(id1 + 1u < id2 && id1 - 1u > vt_get32(g->p + vt_edit_rec_off(g, 0) + VT_GPADL_ID));
    /* The third record's id one below the second's (references to it no longer resolve
     * either, which END would report: the order check comes first, at the chunk or END). */
    corrupt_u32(e, "third GPADL id one below the second's", &bs.ed, gi, r2 + VT_GPADL_ID,
                id1 - 1u, (long)gi);
    base_free(&bs);

    /* Across chunks: the second GPADLS chunk's record below the first chunk's. */
    base two;
    gpadl_base(e, 2, true, &two);
    size_t g1 = vt_edit_find(&two.ed, VT_TYPE_GPADLS, 1);
    vt_edit_image ed;
    vt_edit_copy(&ed, &two.ed);
    vt_put32(ed.c[vt_edit_find(&ed, VT_TYPE_GPADLS, 0)].p + 4 + VT_GPADL_ID, 5);
    content_fail_ed(e, "first chunk's GPADL id 5, the second chunk's 2", &ed,
                    STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, (long)g1);
    vt_edit_free(&ed);
    base_free(&two);
    vt_env_free(e);
}

static void restore_corrupt_packet_id_zero(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    const size_t pi = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
    const vt_edit_chunk *c = &bs.ed.c[pi];
    const uint32_t n = vt_edit_rec_count(c);
    corrupt_u64(e, "first packet id 0", &bs.ed, pi, vt_edit_rec_off(c, 0) + VT_PACKET_ID, 0,
                (long)pi);
    corrupt_u64(e, "last packet id 0", &bs.ed, pi, vt_edit_rec_off(c, n - 1) + VT_PACKET_ID, 0,
                (long)pi);
    /* Every other 64-bit id is valid: UINT64_MAX and ids above 2^32 (a packet without driver
     * state, so the driver has nothing to compare). */
    const uint32_t s = vt_edit_rec_off(c, stateless_packet(c));
    static const uint64_t good[] = {UINT64_MAX, ((uint64_t)1 << 32) + 1u, (uint64_t)1 << 63};
    for (size_t i = 0; i < 3; i++) {
        vt_edit_image ed;
        vt_edit_copy(&ed, &bs.ed);
        vt_put64(ed.c[pi].p + s + VT_PACKET_ID, good[i]);
        char what[96];
        snprintf(what, sizeof(what), "packet id 0x%llx", (unsigned long long)good[i]);
        vt_edit_fix(&ed);
        vt_edit_bytes b;
        vt_edit_serialize(&ed, &b);
        vmbsave_channel *ch = vt_edit_restore_ok(e, &b, 1, what);
        char *d = vt_describe(e, ch);
        char id[48];
        snprintf(id, sizeof(id), "=id=%llu ", (unsigned long long)good[i]);
        if (strstr(d, id) == NULL)
            fail_msg("%s: the restored channel does not describe a packet with that id:\n%s",
                     what, d);
        free(d);
        vt_destroy_channel(e, ch);
        vt_edit_bytes_free(&b);
        vt_edit_free(&ed);
    }
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_sequence_order(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    const size_t pi = vt_edit_find(&bs.ed, VT_TYPE_PACKETS, 0);
    const vt_edit_chunk *c = &bs.ed.c[pi];
    const uint32_t n = vt_edit_rec_count(c);
    assert_true(n >= 3);
    const uint32_t r0 = vt_edit_rec_off(c, 0), r1 = vt_edit_rec_off(c, 1);
    const uint32_t rl = vt_edit_rec_off(c, n - 1);
    const uint64_t s0 = vt_get64(c->p + r0 + VT_PACKET_SEQ);
    const uint64_t s1 = vt_get64(c->p + r1 + VT_PACKET_SEQ);
    const uint64_t next = vt_get64(bs.ed.c[0].p + 184);
    corrupt_u64(e, "first packet sequence 0", &bs.ed, pi, r0 + VT_PACKET_SEQ, 0, (long)pi);
    corrupt_u64(e, "second packet sequence equal to the first", &bs.ed, pi, r1 + VT_PACKET_SEQ,
                s0, (long)pi);
    corrupt_u64(e, "second packet sequence below the first", &bs.ed, pi, r0 + VT_PACKET_SEQ,
                s1 + 1u, (long)pi);
    corrupt_u64(e, "last packet sequence equal to the next send sequence", &bs.ed, pi,
                rl + VT_PACKET_SEQ, next, (long)pi);
    corrupt_u64(e, "last packet sequence UINT64_MAX", &bs.ed, pi, rl + VT_PACKET_SEQ, UINT64_MAX,
                (long)pi);
    corrupt_u64(e, "HEADER next send sequence 0", &bs.ed, 0, 184, 0, 0);
    corrupt_u64(e, "HEADER next send sequence equal to the last packet's", &bs.ed, 0, 184,
                vt_get64(c->p + rl + VT_PACKET_SEQ), 0);
    /* At least 1, not exactly 1: every sequence and the next one raised by 5 restores. */
    vt_edit_image ed;
    vt_edit_copy(&ed, &bs.ed);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *q = ed.c[pi].p + vt_edit_rec_off(&ed.c[pi], i) + VT_PACKET_SEQ;
        vt_put64(q, vt_get64(q) + 5u);
    }
    vt_put64(ed.c[0].p + 184, next + 5u);
    edited_restores(e, "every packet sequence and the next one raised by 5", &ed);
    vt_edit_free(&ed);
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_ring_pieces(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs, lr;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    base_make(e, VMBSAVE_CANONICAL_LARGE_RING, 1, &lr);
    vt_edit_image ed;
    char what[128];
    const size_t ri = vt_edit_find_ring(&bs.ed, VMBSAVE_RING_INCOMING);
    const size_t ro = vt_edit_find_ring(&bs.ed, VMBSAVE_RING_OUTGOING);
    /* Direction order: the outgoing piece before the incoming one (renumbered). */
    vt_edit_copy(&ed, &bs.ed);
    vt_edit_swap(&ed, ri, ro);
    content_fail_ed(e, "outgoing RING piece before the incoming one", &ed,
                    STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, (long)ri);
    vt_edit_free(&ed);
    /* Offsets: a gap or an overlap, first and later pieces. */
    corrupt_u32(e, "first incoming piece at offset 1", &bs.ed, ri, VT_RING_OFFSET, 1, (long)ri);
    corrupt_u32(e, "first outgoing piece at offset 5", &bs.ed, ro, VT_RING_OFFSET, 5, (long)ro);
    size_t second = vt_edit_find_ring(&lr.ed, VMBSAVE_RING_INCOMING) + 1;
    assert_int_equal(vt_get32(lr.ed.c[second].p + VT_RING_DIR), VMBSAVE_RING_INCOMING);
    uint32_t off = vt_get32(lr.ed.c[second].p + VT_RING_OFFSET);
    for (int d = -1; d <= 1; d += 2) {
        snprintf(what, sizeof(what), "second incoming piece offset %+d (%s)", d,
                 d < 0 ? "overlap" : "gap");
        corrupt_u32(e, what, &lr.ed, second, VT_RING_OFFSET, (uint32_t)((int64_t)off + d),
                    (long)second);
    }
    /* An empty piece. */
    vt_edit_copy(&ed, &bs.ed);
    vt_edit_splice(&ed.c[ri], VT_RING_FIXED, ed.c[ri].n - VT_RING_FIXED, NULL, 0);
    content_fail_ed(e, "RING piece with no bytes", &ed, STATUS_FILE_CORRUPT_ERROR,
                    STATUS_FILE_CORRUPT_ERROR, (long)ri);
    vt_edit_free(&ed);
    /* More bytes than the HEADER has left for the direction (refused there, or at END). */
    for (int dir = 0; dir < 2; dir++) {
        size_t k = dir == 0 ? ri : ro;
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_splice(&ed.c[k], ed.c[k].n, 0, NULL, 1);
        snprintf(what, sizeof(what), "%s RING piece one byte longer than the HEADER declares",
                 dir == 0 ? "incoming" : "outgoing");
        content_fail_ed(e, what, &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR,
                        (long)k);
        vt_edit_free(&ed);
    }
    /* Outgoing bytes while incoming ones are missing: the incoming piece dropped. */
    vt_edit_copy(&ed, &bs.ed);
    vt_edit_remove(&ed, ri);
    content_fail_ed(e, "outgoing RING piece with the incoming bytes missing", &ed,
                    STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, (long)ri);
    vt_edit_free(&ed);
    base_free(&lr);
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_enabled_header(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base en;
    base_make(e, VMBSAVE_CANONICAL_EMPTY_OFFER, 1, &en);
    struct {
        uint32_t off;
        uint32_t v;
        const char *what;
    } open_fields[] = {
        {VT_HEADER_RING_GPADL, 1, "ring GPADL id 1"},
        {VT_HEADER_IN_RING, 2u * VMBSAVE_PAGE_BYTES, "incoming ring 8 KiB"},
        {VT_HEADER_OUT_RING, 2u * VMBSAVE_PAGE_BYTES, "outgoing ring 8 KiB"},
        {176, 1, "target VP 1"},
        {VT_HEADER_CONNECTION, 7, "connection id 7"},
        {VT_HEADER_PACKETS, 1, "packet count 1"},
    };
    char what[96];
    for (size_t i = 0; i < sizeof(open_fields) / sizeof(open_fields[0]); i++) {
        snprintf(what, sizeof(what), "ENABLED HEADER with %s", open_fields[i].what);
        corrupt_u32(e, what, &en.ed, 0, open_fields[i].off, open_fields[i].v, 0);
    }
    for (int dir = 0; dir < 2; dir++) {
        vt_edit_image ed;
        vt_edit_copy(&ed, &en.ed);
        vt_put32(ed.c[0].p + (dir == 0 ? VT_HEADER_IN_PENDING : VT_HEADER_OUT_PENDING), 1);
        snprintf(what, sizeof(what), "ENABLED HEADER with 1 pending %s byte",
                 dir == 0 ? "incoming" : "outgoing");
        content_fail_ed(e, what, &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_IMPLEMENTATION_LIMIT, 0);
        vt_edit_free(&ed);
    }
    base_free(&en);
    vt_env_free(e);
}

static void restore_corrupt_offer_range(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_EMPTY_OFFER, 1, &bs);
    const uint32_t sub = 36, mmio = 38; /* FORMAT.md HEADER offsets */
    vt_edit_image ed;
    /* At the limits, each alone and together: accepted. */
    for (int which = 0; which < 3; which++) {
        vt_edit_copy(&ed, &bs.ed);
        if (which != 1)
            put16_at(&ed, 0, sub, VMBSAVE_MAX_SUBCHANNEL_INDEX);
        if (which != 0)
            put16_at(&ed, 0, mmio, VMBSAVE_MAX_MMIO_MEGABYTES);
        edited_restores(e,
                        which == 0   ? "subchannel index 255"
                        : which == 1 ? "MMIO megabytes 4096"
                                     : "subchannel index 255 and MMIO megabytes 4096",
                        &ed);
        vt_edit_free(&ed);
    }
    /* One past, each alone (the other at 0 and at its limit), then together. */
    for (int other = 0; other < 2; other++) {
        vt_edit_copy(&ed, &bs.ed);
        put16_at(&ed, 0, sub, VMBSAVE_MAX_SUBCHANNEL_INDEX + 1u);
        put16_at(&ed, 0, mmio, other ? VMBSAVE_MAX_MMIO_MEGABYTES : 0);
        content_fail_ed(e, other ? "subchannel index 256 alone (MMIO 4096)"
                                 : "subchannel index 256 alone (MMIO 0)",
                        &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, 0);
        vt_edit_free(&ed);
        vt_edit_copy(&ed, &bs.ed);
        put16_at(&ed, 0, mmio, VMBSAVE_MAX_MMIO_MEGABYTES + 1u);
        put16_at(&ed, 0, sub, other ? VMBSAVE_MAX_SUBCHANNEL_INDEX : 0);
        content_fail_ed(e, other ? "MMIO megabytes 4097 alone (subchannel 255)"
                                 : "MMIO megabytes 4097 alone (subchannel 0)",
                        &ed, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, 0);
        vt_edit_free(&ed);
    }
    vt_edit_copy(&ed, &bs.ed);
    put16_at(&ed, 0, sub, 0xFFFFu);
    put16_at(&ed, 0, mmio, 0xFFFFu);
    content_fail_ed(e, "subchannel index and MMIO megabytes 0xFFFF", &ed,
                    STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR, 0);
    vt_edit_free(&ed);
    const uint32_t flags = vt_get32(bs.ed.c[0].p + VT_HEADER_OFFER_FLAGS);
    corrupt_u32(e, "offer flag bit 0x20 alone", &bs.ed, 0, VT_HEADER_OFFER_FLAGS,
                (flags & VMBSAVE_OFFER_FLAGS_VALID) | 0x20u, 0);
    corrupt_u32(e, "offer flag bit 31", &bs.ed, 0, VT_HEADER_OFFER_FLAGS, 0x80000000u, 0);
    u32_restores(e, "every valid offer flag", &bs.ed, 0, VT_HEADER_OFFER_FLAGS,
                 VMBSAVE_OFFER_FLAGS_VALID);
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_open_range(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_OPEN_GPADLS, 1, &bs);
    const uint8_t *hdr = bs.ed.c[0].p;
    const uint32_t vp = 176;
    corrupt_u32(e, "connection id 0", &bs.ed, 0, VT_HEADER_CONNECTION, 0, 0);
    u32_restores(e, "target VP 2047", &bs.ed, 0, vp, VMBSAVE_MAX_TARGET_VP);
    corrupt_u32(e, "target VP 2048", &bs.ed, 0, vp, VMBSAVE_MAX_TARGET_VP + 1u, 0);
    corrupt_u32(e, "target VP 0xFFFFFFFF", &bs.ed, 0, vp, 0xFFFFFFFFu, 0);
    for (int dir = 0; dir < 2; dir++) {
        uint32_t off = dir == 0 ? VT_HEADER_IN_RING : VT_HEADER_OUT_RING;
        char what[96];
        snprintf(what, sizeof(what), "%s ring one byte above a page multiple",
                 dir == 0 ? "incoming" : "outgoing");
        corrupt_u32(e, what, &bs.ed, 0, off, vt_get32(hdr + off) + 1u, 0);
        snprintf(what, sizeof(what), "%s ring of one page (below 8 KiB)",
                 dir == 0 ? "incoming" : "outgoing");
        corrupt_u32(e, what, &bs.ed, 0, off, VMBSAVE_PAGE_BYTES, 0);
        snprintf(what, sizeof(what), "%s ring of 0 bytes", dir == 0 ? "incoming" : "outgoing");
        corrupt_u32(e, what, &bs.ed, 0, off, 0, 0);
    }
    base_free(&bs);
    vt_env_free(e);
}

static void restore_corrupt_totals(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    vt_edit_image ed;
    const size_t end = bs.ed.count - 1;
    struct {
        uint32_t off;
        int width;
        int64_t delta;
        const char *what;
    } ends[] = {
        {VT_END_COUNT, 32, 1, "END chunk_count one more"},
        {VT_END_COUNT, 32, -1, "END chunk_count one less"},
        {VT_END_TOTAL, 64, 1, "END total_bytes one more"},
        {VT_END_TOTAL, 64, -40, "END total_bytes 40 less"},
    };
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        vt_edit_copy(&ed, &bs.ed);
        vt_edit_fix(&ed);
        uint8_t *f = ed.c[end].p + ends[i].off;
        if (ends[i].width == 32)
            vt_put32(f, (uint32_t)((int64_t)vt_get32(f) + ends[i].delta));
        else
            vt_put64(f, (uint64_t)((int64_t)vt_get64(f) + ends[i].delta));
        vt_edit_bytes b;
        vt_edit_serialize(&ed, &b); /* not vt_edit_fix()ed again: that would restore them */
        content_fail2(e, ends[i].what, &b, STATUS_FILE_CORRUPT_ERROR, STATUS_FILE_CORRUPT_ERROR,
                      AT_END);
        vt_edit_bytes_free(&b);
        vt_edit_free(&ed);
    }
    /* HEADER totals one more than the records and ring bytes read (one less is
     * RESTORE.CORRUPT.RECORD_COUNT or RING_PIECES, at the chunk). */
    static const uint32_t more[] = {VT_HEADER_GPADLS, VT_HEADER_PACKETS, VT_HEADER_IN_PENDING,
                                    VT_HEADER_OUT_PENDING};
    static const char *const names[] = {"GPADL count", "packet count", "incoming pending",
                                        "outgoing pending"};
    for (size_t i = 0; i < 4; i++) {
        char what[96];
        snprintf(what, sizeof(what), "HEADER %s one more than read", names[i]);
        /* Incoming bytes missing: the first outgoing piece may say so (RING_PIECES' Permits). */
        corrupt_u32(e, what, &bs.ed, 0, more[i], vt_get32(bs.ed.c[0].p + more[i]) + 1u,
                    more[i] == VT_HEADER_IN_PENDING ? AT_ANY : AT_END);
    }
    base_free(&bs);
    vt_env_free(e);
}

/* RESTORE.UNKNOWN_CHUNK: the OPTIONAL flag on a type the reader knows changes nothing. */
static void restore_optional_known_types(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base bs;
    base_make(e, VMBSAVE_CANONICAL_PAUSED_PACKETS, 1, &bs);
    for (size_t k = 0; k <= bs.ed.count; k++) {
        vt_edit_image ed;
        vt_edit_copy(&ed, &bs.ed);
        for (size_t j = 0; j < ed.count; j++) {
            if (j == k || k == bs.ed.count)
                ed.c[j].flags = VT_FLAG_OPTIONAL;
        }
        vt_edit_fix(&ed);
        vt_edit_bytes b;
        vt_edit_serialize(&ed, &b);
        char what[96];
        snprintf(what, sizeof(what), "OPTIONAL on %s", k == bs.ed.count ? "every chunk" : "one");
        for (size_t per_call = 0; per_call < 2; per_call++) {
            vmbsave_channel *ch = vt_edit_restore_ok(e, &b, per_call, what);
            assert_restored(e, ch, bs.desc);
            vt_destroy_channel(e, ch);
        }
        vt_edit_bytes_free(&b);
        vt_edit_free(&ed);
    }
    base_free(&bs);
    vt_env_free(e);
}

/* RESTORE.LIMITS.BEFORE_ALLOC at the limit: exactly 64 GPADL records in one chunk restore; 65
 * (the HEADER declaring 64) are refused as above the limit. */
static void restore_limits_at_limit(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    base full;
    gpadl_base(e, VMBSAVE_MAX_GPADLS, false, &full);
    size_t g0 = vt_edit_find(&full.ed, VT_TYPE_GPADLS, 0);
    assert_int_equal(vt_edit_rec_count(&full.ed.c[g0]), VMBSAVE_MAX_GPADLS);
    for (size_t per_call = 0; per_call < 2; per_call++) {
        vmbsave_channel *ch = vt_edit_restore_ok(e, &full.b, per_call, "64 GPADL records");
        assert_restored(e, ch, full.desc);
        vt_destroy_channel(e, ch);
    }
    vt_edit_image ed;
    vt_edit_copy(&ed, &full.ed);
    vt_edit_chunk extra;
    vt_edit_chunk_copy(&extra, &ed.c[g0]);
    one_gpadl_chunk(&extra, VMBSAVE_MAX_GPADLS + 1u, 0x5000u);
    vt_edit_splice(&ed.c[g0], ed.c[g0].n, 0, extra.p + 4, extra.n - 4);
    vt_put32(ed.c[g0].p, VMBSAVE_MAX_GPADLS + 1u);
    free(extra.p);
    content_fail_ed(e, "a GPADLS chunk of 65 records (the HEADER declares 64)", &ed,
                    STATUS_IMPLEMENTATION_LIMIT, STATUS_IMPLEMENTATION_LIMIT, (long)g0);
    vt_edit_free(&ed);
    base_free(&full);
    vt_env_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("RESTORE.REQUIRES_FRESH", restore_requires_fresh),
    CLAUSE_TEST("RESTORE.PARAMS", restore_params),
    CLAUSE_TEST("RESTORE.WHOLE_CHUNKS", restore_whole_chunks),
    CLAUSE_TEST("RESTORE.PARTIAL_CHUNK", restore_partial_chunk),
    CLAUSE_TEST("RESTORE.MORE_PROCESSING", restore_more_processing),
    CLAUSE_TEST("RESTORE.ATOMIC", restore_atomic),
    CLAUSE_TEST("RESTORE.CORRUPT.CHECKSUM", restore_corrupt_checksum),
    CLAUSE_TEST("RESTORE.CORRUPT.MAGIC", restore_corrupt_magic),
    CLAUSE_TEST("RESTORE.VERSION.MAJOR", restore_version_major),
    CLAUSE_TEST("RESTORE.SEQUENCE", restore_sequence),
    CLAUSE_TEST("RESTORE.FOREIGN_CHUNK", restore_foreign_chunk),
    CLAUSE_TEST("RESTORE.UNKNOWN_CHUNK", restore_unknown_chunk),
    CLAUSE_TEST("RESTORE.LIMITS.BEFORE_ALLOC", restore_limits_before_alloc),
    CLAUSE_TEST("RESTORE.REFERENCES.UNRESOLVED", restore_references_unresolved),
    CLAUSE_TEST("RESTORE.REFERENCES.DUPLICATE", restore_references_duplicate),
    CLAUSE_TEST("RESTORE.RESULT.SAVED_STATE", restore_result_saved_state),
    CLAUSE_TEST("RESTORE.FIXED_POINT", restore_fixed_point),
    CLAUSE_TEST("RESTORE.NO_REPLAY", restore_no_replay),
    CLAUSE_TEST("RESTORE.CLEANUP_MID_RESTORE", restore_cleanup_mid_restore),
    CLAUSE_TEST("RESTORE.CORRUPT.WHEN", restore_corrupt_when),
    CLAUSE_TEST("RESTORE.CORRUPT.RESERVED", restore_corrupt_reserved),
    CLAUSE_TEST("RESTORE.CORRUPT.IMAGE_ID", restore_corrupt_image_id),
    CLAUSE_TEST("RESTORE.CORRUPT.SHORT_PAYLOAD", restore_corrupt_short_payload),
    CLAUSE_TEST("RESTORE.CORRUPT.ENUM", restore_corrupt_enum),
    CLAUSE_TEST("RESTORE.CORRUPT.RECORD_COUNT", restore_corrupt_record_count),
    CLAUSE_TEST("RESTORE.CORRUPT.RECORD_LENGTH", restore_corrupt_record_length),
    CLAUSE_TEST("RESTORE.CORRUPT.GPADL_ID_ZERO", restore_corrupt_gpadl_id_zero),
    CLAUSE_TEST("RESTORE.CORRUPT.PFN_COUNT_ZERO", restore_corrupt_pfn_count_zero),
    CLAUSE_TEST("RESTORE.CORRUPT.PFN_RANGE", restore_corrupt_pfn_range),
    CLAUSE_TEST("RESTORE.CORRUPT.GPADL_ORDER", restore_corrupt_gpadl_order),
    CLAUSE_TEST("RESTORE.CORRUPT.PACKET_ID_ZERO", restore_corrupt_packet_id_zero),
    CLAUSE_TEST("RESTORE.CORRUPT.SEQUENCE_ORDER", restore_corrupt_sequence_order),
    CLAUSE_TEST("RESTORE.CORRUPT.RING_PIECES", restore_corrupt_ring_pieces),
    CLAUSE_TEST("RESTORE.CORRUPT.ENABLED_HEADER", restore_corrupt_enabled_header),
    CLAUSE_TEST("RESTORE.CORRUPT.OFFER_RANGE", restore_corrupt_offer_range),
    CLAUSE_TEST("RESTORE.CORRUPT.OPEN_RANGE", restore_corrupt_open_range),
    CLAUSE_TEST("RESTORE.CORRUPT.TOTALS", restore_corrupt_totals),
};

CLAUSE_TEST_MAIN("restore", tests)
