/* Checks written for mutants of reference/ that survived ci/mutation.sh's detection (the
 * conformance suite, the exhaustive checks, every fuzz target's seeds): each test names the
 * clause the mutant breaks, and its comment names the mutant (file, statement, change) it kills.
 * Run against any plug-in ($VMBSAVE_PLUGIN), like the rest of the suite. Survivors that no
 * observation can tell apart are in ci/mutation-equivalent.tsv instead, with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/check.h"
#include "support/fixture.h"
#include "support/image_edit.h"
#include "support/util.h"

static uint8_t stream_byte(uint32_t i)
{
    return (uint8_t)(i * 7u + (i >> 8) * 13u + 1u);
}

/* An OPEN_RUNNING channel with one GPADL for the ring and rings of `ring_bytes` each way. */
static vmbsave_channel *open_channel(vt_env *e, uint32_t ring_bytes)
{
    vmbsave_channel *ch = vt_channel_new(e);
    vmbsave_offer offer;
    vt_fill_offer(&offer, 3);
    EXPECT_OK(e, e->v->init_set_offer(ch, &offer));
    EXPECT_OK(e, e->v->enable(ch));
    const uint64_t pfn = 42;
    EXPECT_OK(e, e->v->gpadl_create(ch, 9, &pfn, 1));
    vmbsave_open_params open;
    vt_fill_open(&open, 9);
    open.incoming_ring_bytes = ring_bytes;
    open.outgoing_ring_bytes = ring_bytes;
    EXPECT_OK(e, e->v->guest_open(ch, &open));
    EXPECT_OK(e, e->v->start(ch));
    return ch;
}

/* Mutants: channel.c, ref_ring_copy_out, `pos -= r->cap;` deleted and `dst + first` made
 * `dst - first` (a copy that starts past the end of the ring's storage, or wraps inside it);
 * ref_ring_read, `r->head -= r->cap` made `+=` (a read that ends past the end of the storage).
 * Rings whose pending bytes wrap around their storage, saved in two RING pieces each: incoming
 * with the second piece starting past the wrap, outgoing after a read that took the head past
 * the end. The image must hold the pending bytes in FIFO order, and the restored rings must
 * give them back. */
static void save_image_complete_wrapped_ring(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    const uint32_t ring = 128u * 1024u, first = ring, drained = 100u * 1024u,
                   second = 100u * 1024u;
    const uint32_t more[2] = {0, 40u * 1024u}; /* read after the second write */
    vmbsave_channel *ch = open_channel(e, ring);
    uint8_t *data = vt_xmalloc(first + second);
    for (uint32_t i = 0; i < first + second; i++)
        data[i] = stream_byte(i);
    uint8_t *sink = vt_xmalloc(ring);
    uint32_t got = 0;
    for (int d = 0; d < 2; d++) {
        vmbsave_ring_direction dir = (vmbsave_ring_direction)d;
        EXPECT_OK(e, e->v->ring_write(ch, dir, data, first));
        EXPECT_OK(e, e->v->ring_read(ch, dir, sink, drained, &got));
        if (got != drained)
            fail_msg("ring_read gave %u bytes, expected %u", got, drained);
        EXPECT_OK(e, e->v->ring_write(ch, dir, data + first, second));
        if (more[d] != 0) {
            EXPECT_OK(e, e->v->ring_read(ch, dir, sink, more[d], &got));
            if (got != more[d] || memcmp(sink, data + drained, more[d]) != 0)
                fail_msg("LIFECYCLE.RING.FIFO: a read across the end of the ring's storage "
                         "gave %u bytes, not the %u next in order", got, more[d]);
        }
    }
    EXPECT_OK(e, e->v->pause(ch));
    /* Pending in direction d: bytes drained + more[d] .. first + second of the stream. */
    uint32_t pending[2];
    const uint8_t *want[2];
    for (int d = 0; d < 2; d++) {
        pending[d] = first + second - drained - more[d];
        want[d] = data + drained + more[d];
    }

    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    vt_edit_image ed;
    vt_edit_parse(&ed, img.bytes, img.size);
    uint32_t have[2] = {0, 0};
    for (size_t k = 0; k < ed.count; k++) {
        const vt_edit_chunk *c = &ed.c[k];
        if (c->type != VT_TYPE_RING)
            continue;
        uint32_t dir = vt_get32(c->p + VT_RING_DIR), off = vt_get32(c->p + VT_RING_OFFSET);
        uint32_t n = c->n - VT_RING_FIXED;
        if (dir > 1 || off != have[dir] || off + n > pending[dir])
            fail_msg("RING chunk %zu: direction %u offset %u, %u bytes (not where the pieces "
                     "before it ended, or past the pending bytes)", k, dir, off, n);
        if (memcmp(c->p + VT_RING_FIXED, want[dir] + off, n) != 0)
            fail_msg("SAVE.IMAGE.COMPLETE: RING chunk %zu (direction %u, offset %u) does not hold "
                     "the pending bytes in FIFO order (the ring's storage wraps inside them)",
                     k, dir, off);
        have[dir] += n;
    }
    if (have[0] != pending[0] || have[1] != pending[1])
        fail_msg("the image holds %u and %u pending ring bytes, expected %u and %u", have[0],
                 have[1], pending[0], pending[1]);
    vt_edit_free(&ed);

    /* Restored, the rings give the same bytes back. */
    vmbsave_channel *back = vt_channel_new(e);
    NTSTATUS s = vt_call_restore(e, back, img.bytes, img.size);
    if (s != STATUS_SUCCESS)
        fail_msg("restore of the wrapped-ring image returned %s", vt_status_str(s));
    EXPECT_OK(e, e->v->start(back));
    for (int d = 0; d < 2; d++) {
        uint8_t *all = vt_xmalloc(pending[d]);
        EXPECT_OK(e, e->v->ring_read(back, (vmbsave_ring_direction)d, all, pending[d], &got));
        if (got != pending[d] || memcmp(all, want[d], pending[d]) != 0)
            fail_msg("RESTORE.RESULT.SAVED_STATE: the restored ring %d gave %u bytes, not the %u "
                     "pending bytes in order", d, got, pending[d]);
        free(all);
    }
    vt_image_free(&img);
    free(sink);
    free(data);
    vt_destroy_channel(e, back);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

/* Mutant: channel.c, ref_gpadl_create, the pfn check's loop starting at 1 (`i = 0` made
 * `i = 1`): a pfn above VMBSAVE_MAX_PFN in the first place was accepted. Each place of the pfn
 * list alone, first, middle and last, holds a pfn one past the limit: INVALID_PARAMETER, and
 * no GPADL (the id is free afterwards); the limit itself is accepted in each place. */
static void lifecycle_gpadl_create_each_pfn(void **state)
{
    (void)state;
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = vt_channel_new(e);
    vmbsave_offer offer;
    vt_fill_offer(&offer, 5);
    EXPECT_OK(e, e->v->init_set_offer(ch, &offer));
    EXPECT_OK(e, e->v->enable(ch));
    for (uint32_t count = 1; count <= 3; count++) {
        for (uint32_t at = 0; at < count; at++) {
            uint64_t pfns[3] = {1, 2, 3};
            pfns[at] = VMBSAVE_MAX_PFN + 1u;
            vmbsave_host_enter(&e->host);
            NTSTATUS s = e->v->gpadl_create(ch, 77, pfns, count);
            vmbsave_host_leave(&e->host);
            if (s != STATUS_INVALID_PARAMETER)
                fail_msg("LIFECYCLE.GPADL.CREATE: gpadl_create with pfn %u of %u above "
                         "VMBSAVE_MAX_PFN returned %s, expected STATUS_INVALID_PARAMETER", at + 1u,
                         count, vt_status_str(s));
            pfns[at] = VMBSAVE_MAX_PFN;
            EXPECT_OK(e, e->v->gpadl_create(ch, 77, pfns, count)); /* the id was left free */
            EXPECT_OK(e, e->v->gpadl_teardown_begin(ch, 77));
            EXPECT_OK(e, e->v->gpadl_teardown_complete(ch, 77));
        }
    }
    vt_destroy_channel(e, ch);
    vt_env_free(e);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("SAVE.IMAGE.COMPLETE", save_image_complete_wrapped_ring),
    CLAUSE_TEST("LIFECYCLE.GPADL.CREATE", lifecycle_gpadl_create_each_pfn),
};

CLAUSE_TEST_MAIN("mutants", tests)
