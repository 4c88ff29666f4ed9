/* What the runner reads of a channel (runner_internal.h): its control flow's view of the
 * channel (the oracle's model, or in a bare run the runner's own record), and the description
 * checks after each call. */
#define _POSIX_C_SOURCE 200809L

#include "run/runner_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- What control flow reads: the oracle's model, or in a bare run the runner's own -------- */

oracle_session_phase runner_session_phase(const vmbsave_runner *r, uint32_t slot)
{
    return r->bare ? r->bare_ch[slot].phase : r->oracle->ch[slot].s.phase;
}

oracle_purpose runner_session_purpose(const vmbsave_runner *r, uint32_t slot)
{
    return r->bare ? r->bare_ch[slot].purpose : r->oracle->ch[slot].s.purpose;
}

uint32_t runner_session_required(const vmbsave_runner *r, uint32_t slot)
{
    return r->bare ? r->bare_ch[slot].required : r->oracle->ch[slot].s.required;
}

bool runner_channel_disabled(const vmbsave_runner *r, uint32_t slot)
{
    return (r->bare ? r->bare_ch[slot].state : r->oracle->ch[slot].m.state) ==
           VMBSAVE_STATE_DISABLED;
}

/* Image slot `slot` for the restore edits; false if it is empty. */
bool runner_image_view(const vmbsave_runner *r, uint32_t slot, vmbsave_edit_image *out)
{
    if (r->bare) {
        const bare_image *b = &r->bare_img[slot];
        *out = (vmbsave_edit_image){b->bytes, b->size, b->chunk_off, b->chunk_count};
        return b->full;
    }
    const oracle_image *img = &r->oracle->img[slot];
    *out = (vmbsave_edit_image){img->bytes, img->size, img->chunk_off, img->chunk_count};
    return img->full;
}

void runner_bare_reset_channel(vmbsave_runner *r, uint32_t slot)
{
    r->bare_ch[slot] = (bare_channel){.state = VMBSAVE_STATE_DISABLED,
                                      .phase = ORACLE_SESSION_NONE};
}

/* A lifecycle call that returned SUCCESS: the state it moves the channel to (the oracle's
 * apply_lifecycle, for the state alone). */
void runner_bare_lifecycle(vmbsave_runner *r, uint32_t slot, uint32_t op)
{
    vmbsave_channel_state *st = &r->bare_ch[slot].state;
    switch (op) {
    case VMBSAVE_OP_ENABLE:
    case VMBSAVE_OP_CLOSE: *st = VMBSAVE_STATE_ENABLED; break;
    case VMBSAVE_OP_DISABLE: *st = VMBSAVE_STATE_DISABLED; break;
    case VMBSAVE_OP_OPEN:
    case VMBSAVE_OP_PAUSE: *st = VMBSAVE_STATE_OPEN_PAUSED; break;
    case VMBSAVE_OP_START: *st = VMBSAVE_STATE_OPEN_RUNNING; break;
    default: break;
    }
}

/* Chunks as their headers frame them (oracle_preload_image's framing): the bytes from where no
 * header frames a chunk that fits, or past the chunk limit, are one. */
void runner_bare_frame(bare_image *img)
{
    uint32_t n = 0, pos = 0;
    while (pos < img->size) {
        img->chunk_off[n++] = pos;
        vmbsave_chunk h;
        bool framed = n < VMBSAVE_RUN_MAX_CHUNKS &&
                      vmbsave_chunk_read(img->bytes + pos, img->size - pos, &h) &&
                      h.size <= img->size - pos;
        pos = framed ? pos + h.size : img->size;
    }
    img->chunk_count = n;
    img->chunk_off[n] = img->size;
}

/* ---- Descriptions ------------------------------------------------------------------------ */

/* describe() on a slot's channel, untraced; the oracle compares it with its model. */
bool runner_check_description(vmbsave_runner *r, uint32_t slot)
{
    if (r->bare || r->quiet || r->stop || !r->oracle->check_describe || r->ch[slot] == NULL)
        return !r->stop;
    uint32_t required = 0;
    uint64_t before = r->host.alloc_calls;
    r->desc[ORACLE_DESC_CAP - 1u] = '\0';
    vmbsave_host_enter(&r->host);
    NTSTATUS st = runner_api(r)->describe(r->ch[slot], r->desc, ORACLE_DESC_CAP, &required);
    vmbsave_host_leave(&r->host);
    uint64_t during = r->host.alloc_calls - before;
    if (st == STATUS_SUCCESS && memchr(r->desc, '\0', ORACLE_DESC_CAP) == NULL)
        r->desc[ORACLE_DESC_CAP - 1u] = '\0';
    return runner_checked(r, oracle_description(r->oracle, slot, st, required, r->desc, during));
}

/* options->digests: every live channel's description at the end of the program, untraced like
 * the oracle's describe calls, so two runs compare states without keeping the text. Asked even
 * without VMBSAVE_CAP_DESCRIBE (every operation is set, ABI.TABLE.COMPLETE): only a SUCCESS
 * with a NUL in the buffer counts as a description. */
void runner_final_descriptions(vmbsave_runner *r)
{
    r->res->has_descriptions = true;
    for (uint32_t slot = 0; slot < VMBSAVE_PROGRAM_CHANNELS; slot++) {
        vmbsave_final_description *d = &r->res->descriptions[slot];
        if (r->ch[slot] == NULL)
            continue;
        d->live = true;
        if (runner_api(r)->describe == NULL)
            continue;
        uint32_t required = 0;
        vmbsave_host_enter(&r->host);
        NTSTATUS st = runner_api(r)->describe(r->ch[slot], r->desc, ORACLE_DESC_CAP, &required);
        vmbsave_host_leave(&r->host);
        const char *nul = memchr(r->desc, '\0', ORACLE_DESC_CAP);
        if (st != STATUS_SUCCESS || nul == NULL)
            continue;
        d->described = true;
        d->bytes = (uint32_t)(nul - r->desc);
        d->digest = vmbsave_hash(r->desc, d->bytes, 0);
    }
}

/* describe()'s size protocol, once per channel: a size query, then a buffer one byte short. */
bool runner_check_describe_size(vmbsave_runner *r, uint32_t slot)
{
    if (r->bare || r->quiet || r->stop || !r->oracle->check_describe)
        return !r->stop;
    size_t len = oracle_expected_description(r->oracle, slot);
    uint32_t full = (uint32_t)len + 1u;
    uint32_t q = OUT_SENTINEL, s = OUT_SENTINEL;
    vmbsave_host_enter(&r->host);
    NTSTATUS qs = runner_api(r)->describe(r->ch[slot], NULL, 0, &q);
    vmbsave_host_leave(&r->host);
    uint32_t short_size = full > 1u ? full - 1u : 1u;
    memset(r->desc_short, 0x7E, short_size + 1u);
    vmbsave_host_enter(&r->host);
    NTSTATUS ss = runner_api(r)->describe(r->ch[slot], r->desc_short, short_size, &s);
    vmbsave_host_leave(&r->host);
    uint32_t changed = UINT32_MAX;
    for (uint32_t i = 0; i <= short_size && changed == UINT32_MAX; i++) {
        if (r->desc_short[i] != 0x7E)
            changed = i;
    }
    return runner_checked(r, oracle_describe_size(r->oracle, slot, qs, q, ss, s, changed, full));
}
