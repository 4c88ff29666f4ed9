/* The runner's RESTORE step (runner_internal.h): an image slot, edited as the step says,
 * restored into a channel a number of chunks per call. */
#define _POSIX_C_SOURCE 200809L

#include "run/runner_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- Restore ------------------------------------------------------------------------------- */

static bool restore_call(vmbsave_runner *r, uint32_t slot, uint32_t data, uint32_t from,
                         uint32_t to, uint32_t total, NTSTATUS *out)
{
    oracle_obs obs;
    vmbsave_call *c = runner_next_call(r, VMBSAVE_CALL_RESTORE_FROM_BUFFER, slot);
    c->arg[0] = from;
    c->arg[1] = to;
    c->arg[2] = total;
    c->data = data;
    const uint8_t *bytes = r->stream + from;
    uint8_t *exact = NULL;
    if (r->exact_buffers && to > from && (exact = malloc(to - from)) != NULL) {
        memcpy(exact, bytes, to - from);
        bytes = exact;
    }
    runner_call_begin(r, &obs);
    NTSTATUS st = runner_api(r)->restore_from_buffer(r->ch[slot], bytes, to - from);
    runner_call_end(r, &obs, true, st);
    free(exact);
    *out = st;
    r->note = NULL;
    if (r->bare) {
        /* A commit: the channel takes the state its HEADER chunk holds. */
        if (st == STATUS_SUCCESS && r->edit->size >= VMBSAVE_CHUNK_HEADER_BYTES + 4u)
            r->bare_ch[slot].state = (vmbsave_channel_state)vmbsave_get_u32(
                r->stream + VMBSAVE_CHUNK_HEADER_BYTES + VMBSAVE_HDR_STATE);
        return !r->stop;
    }
    return runner_checked(r, oracle_restore_call(r->oracle, slot, r->stream + from, to - from, st,
                                                 &obs)) &&
           runner_check_description(r, slot);
}

void runner_run_restore(vmbsave_runner *r, const vmbsave_step *s)
{
    uint32_t slot = s->ch;
    vmbsave_oracle *o = r->oracle;
    vmbsave_edit_image src;
    if (!runner_image_view(r, s->slot, &src)) {
        r->res->steps_skipped++;
        return;
    }
    if (!runner_ensure_channel(r, slot))
        return;
    vmbsave_edit_image foreign;
    const vmbsave_edit_image *fp = NULL;
    if (s->mode == VMBSAVE_EDIT_FOREIGN_CHUNK && s->b < VMBSAVE_PROGRAM_IMAGES &&
        runner_image_view(r, s->b, &foreign))
        fp = &foreign;
    if (vmbsave_image_edit(&src, s->mode, s->a, s->b, s->c, fp, r->stream, r->edit) != 0) {
        runner_harness_error(r, "step %" PRIu32 ": the image in slot %u could not be edited",
                             r->step, (unsigned)s->slot);
        return;
    }
    if (!r->bare)
        oracle_restore_step_begin(o, slot);
    uint32_t data = runner_emit_data(r, r->stream, r->edit->size);
    r->note = r->edit->note;
    uint32_t from = 0;
    NTSTATUS st = STATUS_MORE_PROCESSING_REQUIRED;
    for (uint32_t i = 0; i < r->edit->calls; i++) {
        uint32_t to = r->edit->call_end[i];
        if (!restore_call(r, slot, data, from, to, r->edit->size, &st))
            return;
        from = to;
        if (st != STATUS_MORE_PROCESSING_REQUIRED)
            break;
    }
    if (st == STATUS_SUCCESS && from < r->edit->size) {
        /* Bytes left after the call that committed: a restored channel refuses them. */
        r->note = "the rest of the stream after SUCCESS";
        if (!restore_call(r, slot, data, from, r->edit->size, r->edit->size, &st))
            return;
        st = STATUS_SUCCESS;
    }
    /* A restore that just committed is "restored and unchanged" (oracle_restore_call). */
    if (st == STATUS_SUCCESS && (r->bare || o->ch[slot].restored_unchanged))
        runner_whole_session(r, slot, ORACLE_PURPOSE_FIXED_POINT,
                             "oracle: re-save after the restore (RESTORE.FIXED_POINT)");
}
