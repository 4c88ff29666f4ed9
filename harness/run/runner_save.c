/* The runner's save sessions (runner_internal.h): save_begin, save_continue and save_end
 * steps, guarded save buffers, whole sessions for CAPTURE, and the diagnosis of a failed read. */
#define _POSIX_C_SOURCE 200809L

#include "run/runner_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- Save sessions ----------------------------------------------------------------------- */

bool runner_do_save_begin(vmbsave_runner *r, uint32_t slot, oracle_purpose purpose, NTSTATUS *out)
{
    oracle_obs obs;
    runner_next_call(r, VMBSAVE_CALL_SAVE_BEGIN, slot);
    runner_call_begin(r, &obs);
    NTSTATUS st = runner_api(r)->save_begin(r->ch[slot]);
    runner_call_end(r, &obs, true, st);
    *out = st;
    if (r->quiet)
        return true;
    if (r->bare) {
        if (st == STATUS_SUCCESS) {
            r->bare_ch[slot] = (bare_channel){.state = r->bare_ch[slot].state,
                                              .phase = ORACLE_SESSION_ACTIVE,
                                              .purpose = purpose};
            if (purpose == ORACLE_PURPOSE_CAPTURE) {
                r->bare_capture_len = 0;
                r->bare_capture_overflow = false;
            }
        }
        return true;
    }
    return runner_checked(r, oracle_save_begin(r->oracle, slot, purpose, st, &obs)) &&
           runner_check_description(r, slot);
}

static bool do_save_end(vmbsave_runner *r, uint32_t slot, bool checked_call)
{
    oracle_obs obs;
    runner_next_call(r, VMBSAVE_CALL_SAVE_END, slot);
    runner_call_begin(r, &obs);
    runner_api(r)->save_end(r->ch[slot]);
    runner_call_end(r, &obs, false, 0);
    if (r->bare) {
        r->bare_ch[slot].phase = ORACLE_SESSION_NONE;
        r->bare_ch[slot].required = 0;
        return !r->stop;
    }
    if (r->quiet || !checked_call)
        return true;
    return runner_checked(r, oracle_save_end(r->oracle, slot, &obs)) &&
           runner_check_description(r, slot);
}

/* One save_continue of `size` bytes (flags for the NULL cases); the outcome for the oracle. */
typedef struct continue_args {
    uint32_t size;
    bool null_buffer, null_filled, null_required;
} continue_args;

static NTSTATUS raw_continue(vmbsave_runner *r, uint32_t slot, const continue_args *a,
                             oracle_obs *obs, uint32_t *filled, uint32_t *required)
{
    uint8_t *buf = r->save_area + GUARD_BYTES;
    /* Only what earlier calls may have written needs the pattern again. */
    memcpy(r->save_area, r->save_pattern, r->save_dirty);
    r->save_dirty = a->null_buffer ? 0 : (size_t)a->size + 2u * GUARD_BYTES;
    *filled = OUT_SENTINEL;
    *required = OUT_SENTINEL;
    vmbsave_call *c = runner_next_call(r, VMBSAVE_CALL_SAVE_CONTINUE, slot);
    c->arg[0] = a->size;
    c->flags = (uint8_t)((a->null_buffer ? VMBSAVE_CALL_NULL_BUFFER : 0u) |
                         (a->null_filled ? VMBSAVE_CALL_NULL_FILLED : 0u) |
                         (a->null_required ? VMBSAVE_CALL_NULL_REQUIRED : 0u));
    runner_call_begin(r, obs);
    NTSTATUS st =
        runner_api(r)->save_continue(r->ch[slot], a->null_buffer ? NULL : buf, a->size,
                              a->null_filled ? NULL : filled, a->null_required ? NULL : required);
    runner_call_end(r, obs, true, st);
    runner_trace_counts(r, a->null_filled ? 0 : *filled, a->null_required ? 0 : *required);
    if ((st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW) && !a->null_buffer &&
        !a->null_filled && *filled <= a->size)
        runner_trace_output(r, r->save_area + GUARD_BYTES, *filled);
    return st;
}

static void diagnose(vmbsave_runner *r, uint32_t slot);

/* After a save_continue whose writes were checked (or, bare, not looked at): only what the
 * status lets it write needs the pattern again before the next call. */
static void narrow_dirty(vmbsave_runner *r, const continue_args *a, NTSTATUS st, uint32_t filled)
{
    if (a->null_buffer)
        return;
    size_t writable = st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW ? filled
                      : st == STATUS_BUFFER_TOO_SMALL || st == STATUS_INVALID_PARAMETER ||
                              st == STATUS_INVALID_DEVICE_STATE
                          ? 0u
                          : a->size;
    r->save_dirty = GUARD_BYTES + (writable < a->size ? writable : a->size);
}

/* A bare save_continue: the session's phase and BytesRequired from the status alone (for a
 * conforming implementation, what oracle_save_continue concludes), and a CAPTURE's bytes. */
static bool bare_continue(vmbsave_runner *r, uint32_t slot, const continue_args *a, NTSTATUS st,
                          uint32_t filled, uint32_t required)
{
    bare_channel *b = &r->bare_ch[slot];
    bool params = a->null_filled || a->null_required || (a->null_buffer && a->size != 0);
    if (b->phase == ORACLE_SESSION_ACTIVE && !params) {
        if (st == STATUS_BUFFER_TOO_SMALL) {
            b->required = required;
        } else if (st == STATUS_BUFFER_OVERFLOW || st == STATUS_SUCCESS) {
            if (st == STATUS_BUFFER_OVERFLOW && required != 0)
                b->required = required;
            if (b->purpose == ORACLE_PURPOSE_CAPTURE && !a->null_buffer && filled <= a->size) {
                if ((uint64_t)r->bare_capture_len + filled > VMBSAVE_RUN_MAX_IMAGE_BYTES) {
                    r->bare_capture_overflow = true;
                } else {
                    memcpy(r->bare_capture + r->bare_capture_len, r->save_area + GUARD_BYTES,
                           filled);
                    r->bare_capture_len += filled;
                }
            }
            if (st == STATUS_SUCCESS)
                b->phase = ORACLE_SESSION_COMPLETED;
        } else {
            b->phase = ORACLE_SESSION_STICKY;
        }
    }
    narrow_dirty(r, a, st, filled);
    return !r->stop;
}

/* A checked save_continue; false if the run stops. */
static bool do_save_continue(vmbsave_runner *r, uint32_t slot, const continue_args *a,
                             NTSTATUS *out)
{
    oracle_obs obs;
    uint32_t filled, required;
    NTSTATUS st = raw_continue(r, slot, a, &obs, &filled, &required);
    *out = st;
    if (r->bare)
        return bare_continue(r, slot, a, st, filled, required);
    oracle_continue_call cc = {
        .size = a->size,
        .null_buffer = a->null_buffer,
        .null_filled = a->null_filled,
        .null_required = a->null_required,
        .filled = filled,
        .required = required,
        .sentinel = OUT_SENTINEL,
        .buf = r->save_area + GUARD_BYTES,
        .pattern = r->save_pattern + GUARD_BYTES,
        .guard = GUARD_BYTES,
    };
    oracle_verdict v = oracle_save_continue(r->oracle, slot, &cc, st, &obs);
    if (v == ORACLE_OK) /* the oracle checked that nothing else was written */
        narrow_dirty(r, a, st, filled);
    if (v == ORACLE_DIAGNOSE) {
        uint32_t call = r->last_call;
        diagnose(r, slot);
        runner_violation(r, call);
        return false;
    }
    return runner_checked(r, v == ORACLE_OK);
}

/* A whole one-shot session the oracle makes (CAPTURE, the one-shot check, the fixed-point
 * re-save): begin, continue with VMBSAVE_MAX_CHUNK_BYTES until done, end. Returns true if the
 * session completed. */
bool runner_whole_session(vmbsave_runner *r, uint32_t slot, oracle_purpose purpose,
                          const char *note)
{
    r->note = note;
    NTSTATUS st;
    bool ok = runner_do_save_begin(r, slot, purpose, &st);
    if (!ok || st != STATUS_SUCCESS) {
        r->note = NULL;
        return false;
    }
    continue_args a = {.size = VMBSAVE_MAX_CHUNK_BYTES};
    for (uint32_t i = 0; i < VMBSAVE_RUN_MAX_CHUNKS + 2u; i++) {
        if (!do_save_continue(r, slot, &a, &st)) {
            r->note = NULL;
            return false;
        }
        if (runner_session_phase(r, slot) != ORACLE_SESSION_ACTIVE)
            break;
    }
    bool completed = runner_session_phase(r, slot) == ORACLE_SESSION_COMPLETED;
    if (runner_session_phase(r, slot) == ORACLE_SESSION_ACTIVE) {
        runner_harness_error(r, "a one-shot session of ch%" PRIu32 " did not end after %u calls",
                             slot, VMBSAVE_RUN_MAX_CHUNKS + 2u);
        r->note = NULL;
        return false;
    }
    ok = do_save_end(r, slot, true);
    r->note = NULL;
    return ok && completed;
}

/* save_end of a session, and the one-shot check when it was a completed program session. */
bool runner_end_session(vmbsave_runner *r, uint32_t slot)
{
    bool check = runner_session_phase(r, slot) == ORACLE_SESSION_COMPLETED &&
                 runner_session_purpose(r, slot) == ORACLE_PURPOSE_PROGRAM;
    if (!do_save_end(r, slot, true))
        return false;
    if (check)
        runner_whole_session(r, slot, ORACLE_PURPOSE_ONESHOT,
                             "oracle: one-shot check after a completed session");
    return !r->stop;
}

/* Two clean one-shot reads after an image mismatch, so the oracle can name the clause. */
static void diagnose(vmbsave_runner *r, uint32_t slot)
{
    vmbsave_oracle *o = r->oracle;
    r->note = "oracle: diagnosis";
    do_save_end(r, slot, false);
    o->ch[slot].s.phase = ORACLE_SESSION_NONE;
    bool ok[2] = {false, false};
    uint32_t len[2] = {0, 0};
    for (unsigned k = 0; k < 2; k++) {
        /* The second read gets other allocator contents: uninitialised bytes then differ. */
        r->host.fill_byte = k == 0 ? RUN_FILL_BYTE : DIAG_FILL_BYTE;
        runner_emit_host(r, VMBSAVE_CALL_HOST_FILL_BYTE, r->host.fill_byte, 0);
        oracle_obs obs;
        runner_next_call(r, VMBSAVE_CALL_SAVE_BEGIN, slot);
        runner_call_begin(r, &obs);
        NTSTATUS st = runner_api(r)->save_begin(r->ch[slot]);
        runner_call_end(r, &obs, true, st);
        if (st != STATUS_SUCCESS)
            continue;
        continue_args a = {.size = VMBSAVE_MAX_CHUNK_BYTES};
        for (uint32_t i = 0; i < VMBSAVE_RUN_MAX_CHUNKS + 2u; i++) {
            uint32_t filled, required;
            st = raw_continue(r, slot, &a, &obs, &filled, &required);
            if ((st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW) && filled <= a.size &&
                (uint64_t)len[k] + filled <= ORACLE_MAX_IMAGE) {
                memcpy(o->diag_image[k] + len[k], r->save_area + GUARD_BYTES, filled);
                len[k] += filled;
            } else {
                break;
            }
            if (st == STATUS_SUCCESS) {
                ok[k] = true;
                break;
            }
        }
        do_save_end(r, slot, false);
    }
    r->host.fill_byte = RUN_FILL_BYTE;
    runner_emit_host(r, VMBSAVE_CALL_HOST_FILL_BYTE, RUN_FILL_BYTE, 0);
    r->note = NULL;
    const uint8_t *bytes[2] = {o->diag_image[0], o->diag_image[1]};
    oracle_diagnose(o, ok, bytes, len);
}

void runner_run_save_continue(vmbsave_runner *r, const vmbsave_step *s)
{
    uint32_t slot = s->ch;
    if (!runner_ensure_channel(r, slot))
        return;
    uint32_t required = runner_session_required(r, slot);
    if (required == 0)
        required = 1; /* "1 if none" (program.h) */
    continue_args a = {0};
    switch (s->mode) {
    case VMBSAVE_SIZE_ZERO_NULL: a.null_buffer = true; break;
    case VMBSAVE_SIZE_ZERO: break;
    case VMBSAVE_SIZE_ONE: a.size = 1; break;
    case VMBSAVE_SIZE_REQUIRED_MINUS_ONE: a.size = required - 1u; break;
    case VMBSAVE_SIZE_REQUIRED: a.size = required; break;
    case VMBSAVE_SIZE_REQUIRED_PLUS_ONE: a.size = required + 1u; break;
    case VMBSAVE_SIZE_MAX_CHUNK: a.size = VMBSAVE_MAX_CHUNK_BYTES; break;
    case VMBSAVE_SIZE_LARGE: a.size = SAVE_LARGE_BYTES; break;
    case VMBSAVE_SIZE_EXPLICIT: a.size = s->a; break;
    case VMBSAVE_SIZE_NULL_FILLED:
        a.size = s->a;
        a.null_filled = true;
        break;
    case VMBSAVE_SIZE_NULL_REQUIRED:
        a.size = s->a;
        a.null_required = true;
        break;
    case VMBSAVE_SIZE_NULL_BUFFER:
        a.size = s->a;
        a.null_buffer = true;
        break;
    default: break;
    }
    if (a.size > SAVE_BUFFER_CAP)
        a.size = SAVE_BUFFER_CAP;
    NTSTATUS st;
    do_save_continue(r, slot, &a, &st);
}

void runner_run_capture(vmbsave_runner *r, const vmbsave_step *s)
{
    uint32_t slot = s->ch;
    if (!runner_ensure_channel(r, slot))
        return;
    if (!runner_whole_session(r, slot, ORACLE_PURPOSE_CAPTURE, NULL))
        return;
    if (!r->bare) {
        runner_checked(r, oracle_store_image(r->oracle, slot, s->slot));
        return;
    }
    if (r->bare_capture_overflow) {
        runner_harness_error(r, "step %" PRIu32 ": the captured image is larger than %u bytes",
                             r->step, VMBSAVE_RUN_MAX_IMAGE_BYTES);
        return;
    }
    bare_image *img = &r->bare_img[s->slot];
    uint8_t *bytes = img->bytes; /* the slot takes the capture's buffer, the capture the slot's */
    img->bytes = r->bare_capture;
    r->bare_capture = bytes;
    img->size = r->bare_capture_len;
    img->full = true;
    runner_bare_frame(img);
}
