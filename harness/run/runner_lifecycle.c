/* The runner's lifecycle steps (runner_internal.h): channel allocation, every lifecycle,
 * GPADL, packet and ring operation, and the clean-up step that closes a channel. */
#define _POSIX_C_SOURCE 200809L

#include "run/runner_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- Channels ---------------------------------------------------------------------------- */

bool runner_ensure_channel(vmbsave_runner *r, uint32_t slot)
{
    if (r->ch[slot] != NULL)
        return true;
    vmbsave_channel *handle = NULL;
    oracle_obs obs;
    runner_next_call(r, VMBSAVE_CALL_CHANNEL_ALLOCATE, slot);
    runner_call_begin(r, &obs);
    NTSTATUS st = runner_api(r)->channel_allocate(runner_api(r)->context, &handle);
    runner_call_end(r, &obs, true, st);
    if (st != STATUS_SUCCESS && !oracle_obs_faulted(&obs)) {
        char tmp[16];
        runner_harness_error(r, "channel_allocate failed with %s without an injected fault",
                             oracle_status_text(st, tmp, sizeof tmp));
        return false;
    }
    if (r->bare) {
        if (st != STATUS_SUCCESS)
            return false;
        if (handle == NULL) {
            runner_harness_error(r, "channel_allocate returned STATUS_SUCCESS and a NULL channel");
            return false;
        }
        r->ch[slot] = handle;
        runner_bare_reset_channel(r, slot);
        return true;
    }
    if (!runner_checked(r, oracle_allocate(r->oracle, slot, st, handle, &obs)))
        return false;
    if (st != STATUS_SUCCESS)
        return false;
    r->ch[slot] = handle;
    return runner_check_describe_size(r, slot) && runner_check_description(r, slot);
}

/* ---- Lifecycle steps --------------------------------------------------------------------- */

void runner_run_lifecycle(vmbsave_runner *r, const vmbsave_step *s)
{
    const uint32_t slot = s->ch;
    if (!runner_ensure_channel(r, slot))
        return;
    vmbsave_channel *h = r->ch[slot];
    const vmbsave_interface_v1 *t = runner_api(r);
    oracle_lifecycle_call lc;
    memset(&lc, 0, sizeof lc);
    lc.op = (vmbsave_op)s->op;
    vmbsave_offer offer;
    vmbsave_open_params params;
    oracle_obs obs;
    vmbsave_call *c = runner_next_call(r, vmbsave_call_op_of_step((vmbsave_op)s->op), slot);
    NTSTATUS st = STATUS_SUCCESS;
    uint32_t bytes_read = OUT_SENTINEL;

    switch (s->op) {
    case VMBSAVE_OP_OFFER:
        if (s->mode == VMBSAVE_OFFER_NULL) {
            c->flags = VMBSAVE_CALL_NULL_ARG;
            runner_call_begin(r, &obs);
            st = t->init_set_offer(h, NULL);
        } else {
            vmbsave_args_offer(s->mode, s->a, &offer);
            lc.offer = &offer;
            c->data = runner_emit_data(r, &offer, sizeof offer);
            c->arg[0] = offer.subchannel_index;
            c->arg[1] = offer.mmio_megabytes;
            c->arg[2] = offer.flags;
            runner_call_begin(r, &obs);
            st = t->init_set_offer(h, &offer);
        }
        break;
    case VMBSAVE_OP_ENABLE:
    case VMBSAVE_OP_DISABLE:
    case VMBSAVE_OP_CLOSE:
    case VMBSAVE_OP_START:
    case VMBSAVE_OP_PAUSE: {
        runner_call_begin(r, &obs);
        st = s->op == VMBSAVE_OP_ENABLE    ? t->enable(h)
             : s->op == VMBSAVE_OP_DISABLE ? t->disable(h)
             : s->op == VMBSAVE_OP_CLOSE   ? t->guest_close(h)
             : s->op == VMBSAVE_OP_START   ? t->start(h)
                                           : t->pause(h);
        break;
    }
    case VMBSAVE_OP_OPEN:
        if (s->mode == VMBSAVE_OPEN_NULL) {
            c->flags = VMBSAVE_CALL_NULL_ARG;
            runner_call_begin(r, &obs);
            st = t->guest_open(h, NULL);
        } else {
            vmbsave_args_open(s->mode, s->a, s->b, s->c, &params);
            lc.open = &params;
            c->arg[0] = params.ring_gpadl_id;
            c->arg[1] = params.incoming_ring_bytes;
            c->arg[2] = params.outgoing_ring_bytes;
            c->arg[3] = params.target_vp;
            c->arg[4] = params.connection_id;
            runner_call_begin(r, &obs);
            st = t->guest_open(h, &params);
        }
        break;
    case VMBSAVE_OP_GPADL_CREATE: {
        const uint32_t gpadl_id = vmbsave_program_gpadl_id(s->a);
        lc.id = gpadl_id;
        lc.gpadl_mode = s->mode;
        lc.salt = s->c;
        lc.count = s->b;
        const uint64_t *pfns = NULL;
        if (s->mode != VMBSAVE_GPADL_NULL) {
            vmbsave_args_pfns(s->mode, s->b, s->c, r->pfns);
            pfns = r->pfns;
        }
        lc.pfns = pfns;
        lc.null_data = pfns == NULL;
        c->arg[0] = gpadl_id;
        c->arg[1] = s->b;
        if (pfns == NULL) {
            c->flags = VMBSAVE_CALL_NULL_ARG;
        } else if (r->opt != NULL && r->opt->sink != NULL && r->opt->sink->on_data != NULL) {
            /* The pfns as little-endian bytes (the emitted file copies them into uint64_t). */
            uint8_t *le = r->stream;
            for (uint32_t i = 0; i < s->b; i++)
                vmbsave_put_u64(le + 8u * i, pfns[i]);
            c->data = runner_emit_data(r, le, (size_t)s->b * 8u);
        } else {
            c->data = r->res->calls;
        }
        runner_call_begin(r, &obs);
        st = t->gpadl_create(h, gpadl_id, pfns, s->b);
        break;
    }
    case VMBSAVE_OP_GPADL_TEARDOWN_BEGIN:
    case VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE: {
        const uint32_t gpadl_id = vmbsave_program_gpadl_id(s->a);
        lc.id = gpadl_id;
        c->arg[0] = gpadl_id;
        runner_call_begin(r, &obs);
        st = s->op == VMBSAVE_OP_GPADL_TEARDOWN_BEGIN ? t->gpadl_teardown_begin(h, gpadl_id)
                                                      : t->gpadl_teardown_complete(h, gpadl_id);
        break;
    }
    case VMBSAVE_OP_PACKET_SEND: {
        /* Ids from the codes; the payload's seed from the codes, as before edge ids. */
        const uint64_t packet_id = vmbsave_program_packet_id(s->a);
        const uint32_t gpadl_id = vmbsave_program_gpadl_id(s->b);
        lc.id = packet_id;
        lc.gpadl = gpadl_id;
        lc.count = s->c;
        lc.null_data = s->mode == VMBSAVE_PAYLOAD_NULL;
        lc.seed = vmbsave_args_payload_seed(s->mode, s->a, s->b, s->c);
        const uint8_t *payload = NULL;
        if (!lc.null_data) {
            uint32_t n = s->c <= RING_BUFFER_CAP ? s->c : RING_BUFFER_CAP;
            vmbsave_args_bytes(lc.seed, r->data, n);
            payload = r->data;
            c->data = runner_emit_data(r, payload, n);
        } else {
            c->flags = VMBSAVE_CALL_NULL_ARG;
        }
        c->arg[0] = (uint32_t)packet_id;
        c->arg[1] = gpadl_id;
        c->arg[2] = s->c;
        c->arg[3] = (uint32_t)(packet_id >> 32);
        runner_call_begin(r, &obs);
        st = t->packet_send(h, packet_id, gpadl_id, payload, s->c);
        break;
    }
    case VMBSAVE_OP_PACKET_COMPLETE:
        lc.id = vmbsave_program_packet_id(s->a);
        c->arg[0] = (uint32_t)lc.id;
        c->arg[1] = (uint32_t)(lc.id >> 32);
        runner_call_begin(r, &obs);
        st = t->packet_complete(h, lc.id);
        break;
    case VMBSAVE_OP_RING_WRITE: {
        lc.dir = s->mode;
        lc.count = s->a;
        uint32_t n = s->a <= RING_BUFFER_CAP ? s->a : RING_BUFFER_CAP;
        vmbsave_args_bytes(vmbsave_args_ring_seed(s->c), r->data, n);
        lc.data = r->data;
        c->data = runner_emit_data(r, r->data, n);
        c->arg[0] = s->mode;
        c->arg[1] = s->a;
        runner_call_begin(r, &obs);
        st = t->ring_write(h, (vmbsave_ring_direction)s->mode, r->data, n);
        break;
    }
    case VMBSAVE_OP_RING_READ: {
        lc.dir = s->mode;
        lc.count = s->a <= RING_BUFFER_CAP ? s->a : RING_BUFFER_CAP;
        uint8_t *buf = r->ring_area + GUARD_BYTES;
        memcpy(r->ring_area, r->save_pattern, (size_t)lc.count + 2u * GUARD_BYTES);
        c->arg[0] = s->mode;
        c->arg[1] = lc.count;
        runner_call_begin(r, &obs);
        st = t->ring_read(h, (vmbsave_ring_direction)s->mode, buf, lc.count, &bytes_read);
        lc.read_data = buf;
        lc.bytes_read = bytes_read;
        lc.read_buf = buf;
        lc.read_pattern = r->save_pattern + GUARD_BYTES;
        lc.guard = GUARD_BYTES;
        break;
    }
    default: return;
    }
    runner_call_end(r, &obs, true, st);
    if (s->op == VMBSAVE_OP_RING_READ) {
        runner_trace_counts(r, bytes_read, 0);
        if (st == STATUS_SUCCESS && bytes_read <= lc.count)
            runner_trace_output(r, r->ring_area + GUARD_BYTES, bytes_read);
    }
    if (r->bare) {
        if (st == STATUS_SUCCESS)
            runner_bare_lifecycle(r, slot, s->op);
        return;
    }
    if (runner_checked(r, oracle_lifecycle(r->oracle, slot, &lc, st, &obs)))
        runner_check_description(r, slot);
}

/* ---- Clean-up ------------------------------------------------------------------------------ */

bool runner_close_channel(vmbsave_runner *r, uint32_t slot)
{
    if (runner_session_phase(r, slot) != ORACLE_SESSION_NONE && !runner_end_session(r, slot))
        return false;
    if (!runner_channel_disabled(r, slot)) {
        vmbsave_step d = {.op = VMBSAVE_OP_DISABLE, .ch = (uint8_t)slot};
        runner_run_lifecycle(r, &d);
        if (r->stop)
            return false;
    }
    oracle_obs obs;
    runner_next_call(r, VMBSAVE_CALL_CHANNEL_CLEANUP, slot);
    runner_call_begin(r, &obs);
    NTSTATUS st = runner_api(r)->channel_cleanup(r->ch[slot]);
    runner_call_end(r, &obs, true, st);
    if (r->bare) {
        if (st == STATUS_SUCCESS)
            r->ch[slot] = NULL;
        return !r->stop;
    }
    if (!runner_checked(r, oracle_cleanup(r->oracle, slot, st, &obs)))
        return false;
    if (st == STATUS_SUCCESS)
        r->ch[slot] = NULL;
    else
        runner_check_description(r, slot);
    return !r->stop;
}

void runner_run_cleanup(vmbsave_runner *r, const vmbsave_step *s)
{
    if (r->ch[s->ch] == NULL) {
        r->res->steps_skipped++;
        return;
    }
    runner_close_channel(r, s->ch);
}
