/* HARNESS.ORACLE.MODEL_LIMITS: the oracle's model holds every state the contract allows
 * (harness/oracle/oracle.h, docs/ORACLE.md "Model bounds"), so a valid image at every limit at
 * once is checked, not refused: the limits channel (support/limits_channel.h: 64 GPADLs, one of
 * 4,096 pfns ending in VMBSAVE_MAX_PFN, 4,096 packets, one of 16,384 payload bytes given 4,096
 * bytes of driver state here, a 32 MiB ring with pending bytes) saved by the plug-in, preloaded
 * into a run (the restore_raw target's program), restored and saved again under the oracle.
 * Against the reference the run passes; against packet_id_32bit, whose images lose the high
 * half of packet id UINT64_MAX, the oracle names the difference. Before the model had the
 * contract's bounds such an image ended in a harness ERROR ("beyond what the oracle models"). */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/check.h"
#include "support/clause_test.h"
#include "support/image_edit.h"
#include "support/limits_channel.h"
#include "support/runners.h"
#include "support/util.h"

#include "image/chunks.h"
#include "program/program.h"
#include "run/runner.h"
#include "vmbsave/abi.h"

#define TRACE_CAP 1024u
#define IMAGE_CAP VMBSAVE_RUN_MAX_IMAGE_BYTES

typedef struct run {
    vmbsave_program program;
    vmbsave_trace_entry trace[TRACE_CAP];
    vmbsave_run_result result;
    uint8_t exported[IMAGE_CAP]; /* image slot 1 after the run */
} run;

/* The limits channel's image as the plug-in under test saves it, with packet 0's driver state
 * made VMBSAVE_MAX_DRIVER_PACKET_STATE bytes (the chunks made consistent again). */
static void limits_image(vt_edit_bytes *out)
{
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = vt_make_limits_channel(e);
    vt_image img;
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, &img);
    vt_destroy_channel(e, ch);
    vt_env_free(e);

    vt_edit_image ed;
    vt_edit_parse(&ed, img.bytes, img.size);
    vt_image_free(&img);
    /* Packet 0's record moves to a PACKETS chunk of its own (its 20 KiB would not fit beside
     * the records packed after it), where it takes the driver state. */
    size_t k = vt_edit_find(&ed, VT_TYPE_PACKETS, 0);
    assert_true(k < ed.count);
    vt_edit_chunk *rest = &ed.c[k];
    uint32_t count = vt_edit_rec_count(rest);
    assert_true(count > 1u);
    uint32_t rec0 = vt_edit_rec_off(rest, 0), rec1 = vt_edit_rec_off(rest, 1);
    vt_edit_chunk own;
    vt_edit_chunk_copy(&own, rest);
    vt_edit_splice(&own, rec1, own.n - rec1, NULL, 0);
    vmbsave_put_u32(own.p, 1u);
    vt_edit_splice(rest, rec0, rec1 - rec0, NULL, 0);
    vmbsave_put_u32(rest->p, count - 1u);
    uint8_t *rec = own.p + rec0;
    uint32_t payload = vmbsave_get_u32(rec + VT_PACKET_PAYLOAD);
    uint32_t old = vmbsave_get_u32(rec + VT_PACKET_DSTATE);
    assert_int_equal(payload, VMBSAVE_MAX_PACKET_PAYLOAD);
    uint8_t state[VMBSAVE_MAX_DRIVER_PACKET_STATE];
    for (uint32_t i = 0; i < sizeof state; i++)
        state[i] = (uint8_t)(i * 7u + 3u);
    vt_edit_splice(&own, rec0 + VT_PACKET_FIXED + payload, old, state, sizeof state);
    rec = own.p + rec0;
    vmbsave_put_u32(rec, vmbsave_get_u32(rec) - old + (uint32_t)sizeof state);
    vmbsave_put_u32(rec + VT_PACKET_DSTATE, (uint32_t)sizeof state);
    vt_edit_insert(&ed, k, &own);
    free(own.p);
    vt_edit_fix(&ed);
    vt_edit_serialize(&ed, out);
    vt_edit_free(&ed);
    assert_true(out->size <= IMAGE_CAP);
}

/* restore_raw's program: the image preloaded into slot 0, restored into channel 1 (`per_call`
 * chunks per call, 0: whole), channel 1 captured into slot 1, which is exported. */
static run *run_raw(vmbsave_runner *r, const vt_edit_bytes *b, uint32_t per_call)
{
    run *x = vt_xmalloc(sizeof *x);
    memset(x, 0, offsetof(run, exported));
    x->program.count = 2;
    x->program.steps[0] = (vmbsave_step){.op = VMBSAVE_OP_RESTORE, .ch = 1, .slot = 0,
                                         .mode = VMBSAVE_EDIT_WHOLE, .c = per_call};
    x->program.steps[1] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1};
    vmbsave_run_options opt = {.trace = x->trace, .trace_cap = TRACE_CAP};
    opt.preload_image[0] = b->b;
    opt.preload_image_size[0] = (uint32_t)b->size;
    opt.export_image[1] = x->exported;
    opt.export_image_cap[1] = IMAGE_CAP;
    vmbsave_runner_run(r, &x->program, &opt, &x->result);
    return x;
}

static NTSTATUS last_restore_status(const run *x, uint32_t *calls)
{
    NTSTATUS last = 0;
    *calls = 0;
    for (uint32_t i = 0; i < x->result.trace_count; i++) {
        const vmbsave_trace_entry *e = &x->trace[i];
        if (e->step == 0 && e->call.op == VMBSAVE_CALL_RESTORE_FROM_BUFFER) {
            (*calls)++;
            last = e->status;
        }
    }
    return last;
}

static void model_limits(void **state)
{
    (void)state;
    vt_edit_bytes b;
    limits_image(&b);
    vmbsave_runner *r = vt_runner_open_reference();
    for (uint32_t per_call = 0; per_call <= 1u; per_call++) {
        run *x = run_raw(r, &b, per_call);
        const vmbsave_run_result *res = &x->result;
        if (res->verdict != VMBSAVE_VERDICT_PASS)
            fail_msg("the limits image (%zu bytes, %s): %s %s %s", b.size,
                     per_call ? "one chunk per call" : "whole", vmbsave_verdict_name(res->verdict),
                     res->violation.clause, res->error);
        uint32_t calls;
        assert_int_equal(last_restore_status(x, &calls), STATUS_SUCCESS);
        assert_true(per_call == 0 ? calls == 1u : calls == b.count);
        /* The re-save under the oracle holds the whole state: every GPADL and packet. */
        uint32_t saved = res->image_size[1];
        assert_true(saved > VMBSAVE_CHUNK_HEADER_BYTES + VT_HEADER_PACKETS + 4u);
        const uint8_t *hdr = x->exported + VMBSAVE_CHUNK_HEADER_BYTES;
        assert_int_equal(vmbsave_get_u32(hdr + VT_HEADER_GPADLS), VMBSAVE_MAX_GPADLS);
        assert_int_equal(vmbsave_get_u32(hdr + VT_HEADER_PACKETS), VMBSAVE_MAX_PACKETS);
        assert_int_equal(vmbsave_get_u32(hdr + VT_HEADER_IN_RING), VMBSAVE_MAX_RING_BYTES);
        assert_int_equal(vmbsave_get_u32(hdr + VT_HEADER_IN_PENDING), 100u);
        free(x);
    }
    vmbsave_runner_close(r);

    /* A planted difference at the limits: packet UINT64_MAX comes out of the re-save as
     * 2^32 - 1. The oracle, whose model holds all 4,096 packets, names it. */
    r = vt_runner_open_variant("packet_id_32bit");
    run *x = run_raw(r, &b, 0);
    const vmbsave_run_result *res = &x->result;
    if (res->verdict != VMBSAVE_VERDICT_VIOLATION ||
        (strcmp(res->violation.clause, "RESTORE.FIXED_POINT") != 0 &&
         strcmp(res->violation.clause, "SAVE.IMAGE.COMPLETE") != 0))
        fail_msg("packet_id_32bit on the limits image: expected a violation of "
                 "RESTORE.FIXED_POINT or SAVE.IMAGE.COMPLETE, got %s %s (%s)",
                 vmbsave_verdict_name(res->verdict), res->violation.clause, res->error);
    print_message("packet_id_32bit on the limits image: %s at step %" PRIu32 ": expected %s, "
                  "observed %s\n",
                  res->violation.clause, res->violation.step, res->violation.expected,
                  res->violation.observed);
    free(x);
    vmbsave_runner_close(r);
    vt_edit_bytes_free(&b);
}

/* ---- HARNESS.ORACLE.IMAGE_ABOVE_RUN ------------------------------------------------------ */

#define BIG_PENDING (VMBSAVE_RUN_MAX_IMAGE_BYTES - 256u * 1024u)
#define RING_OP VMBSAVE_PROGRAM_MAX_RING_OP_BYTES

/* An OPEN_PAUSED channel with a 32 MiB incoming ring holding BIG_PENDING bytes: its image is
 * just below what a run holds. */
static void big_ring_image(vt_image *img)
{
    vt_env *e = vt_env_new();
    vmbsave_channel *ch = vt_channel_new(e);
    vmbsave_offer offer;
    vt_fill_offer(&offer, 3);
    EXPECT_OK(e, e->v->init_set_offer(ch, &offer));
    EXPECT_OK(e, e->v->enable(ch));
    uint64_t pfns[2] = {5, 6};
    EXPECT_OK(e, e->v->gpadl_create(ch, 1, pfns, 2));
    vmbsave_open_params open = {.ring_gpadl_id = 1,
                                .incoming_ring_bytes = VMBSAVE_MAX_RING_BYTES,
                                .outgoing_ring_bytes = VMBSAVE_MIN_RING_BYTES,
                                .connection_id = 9};
    EXPECT_OK(e, e->v->guest_open(ch, &open));
    EXPECT_OK(e, e->v->start(ch));
    uint8_t *data = vt_xmalloc(RING_OP);
    for (uint32_t done = 0; done < BIG_PENDING; done += RING_OP) {
        for (uint32_t i = 0; i < RING_OP; i++)
            data[i] = (uint8_t)((done + i) * 13u);
        EXPECT_OK(e, e->v->ring_write(ch, VMBSAVE_RING_INCOMING, data, RING_OP));
    }
    free(data);
    EXPECT_OK(e, e->v->pause(ch));
    vt_save(e, ch, VMBSAVE_MAX_CHUNK_BYTES, img);
    vt_destroy_channel(e, ch);
    vt_env_free(e);
    assert_true(img->size > BIG_PENDING && img->size <= VMBSAVE_RUN_MAX_IMAGE_BYTES);
}

/* The image restored into channel 1, `writes` more ring writes of RING_OP bytes, captured. */
static run *run_grown(vmbsave_runner *r, const vt_image *img, uint32_t writes)
{
    run *x = vt_xmalloc(sizeof *x);
    memset(x, 0, offsetof(run, exported));
    vmbsave_program *p = &x->program;
    p->steps[p->count++] = (vmbsave_step){.op = VMBSAVE_OP_RESTORE, .ch = 1, .slot = 0};
    p->steps[p->count++] = (vmbsave_step){.op = VMBSAVE_OP_START, .ch = 1};
    for (uint32_t i = 0; i < writes; i++)
        p->steps[p->count++] =
            (vmbsave_step){.op = VMBSAVE_OP_RING_WRITE, .ch = 1, .mode = 0, .a = RING_OP, .c = i};
    p->steps[p->count++] = (vmbsave_step){.op = VMBSAVE_OP_PAUSE, .ch = 1};
    p->steps[p->count++] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1};
    vmbsave_run_options opt = {.trace = x->trace, .trace_cap = TRACE_CAP};
    opt.preload_image[0] = img->bytes;
    opt.preload_image_size[0] = (uint32_t)img->size;
    opt.export_image[1] = x->exported;
    opt.export_image_cap[1] = IMAGE_CAP;
    vmbsave_runner_run(r, p, &opt, &x->result);
    return x;
}

/* A state the contract allows whose image passes what a run holds (VMBSAVE_RUN_MAX_IMAGE_BYTES):
 * the model stops where the save reaches it, and the run ends in ERROR, never in a violation.
 * Just below, the same steps pass (a 32 MiB ring with 4 MiB pending, checked). */
static void image_above_run(void **state)
{
    (void)state;
    vt_image img;
    big_ring_image(&img);
    vmbsave_runner *r = vt_runner_open_reference();
    uint32_t below = (VMBSAVE_RUN_MAX_IMAGE_BYTES - (uint32_t)img.size) / RING_OP - 1u;
    run *x = run_grown(r, &img, below);
    if (x->result.verdict != VMBSAVE_VERDICT_PASS)
        fail_msg("%" PRIu32 " ring writes after the restore: %s %s %s", below,
                 vmbsave_verdict_name(x->result.verdict), x->result.violation.clause,
                 x->result.error);
    assert_true(x->result.image_size[1] > img.size);
    free(x);
    x = run_grown(r, &img, below + 3u);
    if (x->result.verdict != VMBSAVE_VERDICT_ERROR ||
        strstr(x->result.error, "VMBSAVE_RUN_MAX_IMAGE_BYTES") == NULL)
        fail_msg("%" PRIu32 " ring writes after the restore: expected ERROR naming "
                 "VMBSAVE_RUN_MAX_IMAGE_BYTES, got %s %s %s",
                 below + 3u, vmbsave_verdict_name(x->result.verdict), x->result.violation.clause,
                 x->result.error);
    print_message("%" PRIu32 " ring writes after the restore: ERROR: %s\n", below + 3u,
                  x->result.error);
    free(x);
    vmbsave_runner_close(r);
    vt_image_free(&img);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.ORACLE.MODEL_LIMITS", model_limits),
    CLAUSE_TEST("HARNESS.ORACLE.IMAGE_ABOVE_RUN", image_above_run),
};

CLAUSE_TEST_MAIN("oracle_limits", tests)
