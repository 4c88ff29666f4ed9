/* The runner's fault directives (runner_internal.h): allocation faults and the scripted
 * driver's packet-callback modes, set between calls; and the trimming of the host's call logs. */
#define _POSIX_C_SOURCE 200809L

#include "run/runner_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- Fault directives ---------------------------------------------------------------------- */

/* Appends to the note the next traced call carries. */
static void fault_note(vmbsave_runner *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fault_note(vmbsave_runner *r, const char *fmt, ...)
{
    size_t len = strlen(r->fault_note);
    if (len != 0 && len + 2u < sizeof r->fault_note) {
        memcpy(r->fault_note + len, "; ", 3);
        len += 2u;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fault_note + len, sizeof r->fault_note - len, fmt, ap);
    va_end(ap);
}

void runner_run_fault(vmbsave_runner *r, const vmbsave_step *s)
{
    vmbsave_fault_host *h = &r->host;
    switch (s->op) {
    case VMBSAVE_OP_FAULT_ALLOC:
        if (s->mode == VMBSAVE_FAULT_OFF) {
            h->fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
            h->fault_at = 0;
            fault_note(r, "allocation faults off");
            runner_emit_host(r, VMBSAVE_CALL_HOST_FAULT_OFF, 0, 0);
        } else {
            h->fault_mode =
                s->mode == VMBSAVE_FAULT_ONCE ? VMBSAVE_ALLOC_FAULT_ONCE : VMBSAVE_ALLOC_FAULT_FROM;
            h->fault_at = h->alloc_calls + s->a + 1u;
            fault_note(r, "allocation #%" PRIu64 " will fail%s", h->fault_at,
                       s->mode == VMBSAVE_FAULT_ONCE ? "" : ", and every one after");
            runner_emit_host(r, VMBSAVE_CALL_HOST_FAULT_ALLOC,
                             s->mode == VMBSAVE_FAULT_ONCE ? 0u : 1u, s->a + 1u);
        }
        break;
    case VMBSAVE_OP_FAULT_SAVE_PACKET: {
        static const char *const modes[] = {
            "VMBSAVE_SAVE_PACKET_STATE",           "VMBSAVE_SAVE_PACKET_NO_STATE",
            "VMBSAVE_SAVE_PACKET_FAIL_SECOND",     "VMBSAVE_SAVE_PACKET_FAIL_FIRST_ZERO",
            "VMBSAVE_SAVE_PACKET_OVER_LIMIT",      "VMBSAVE_SAVE_PACKET_ASKS_MORE",
            "VMBSAVE_SAVE_PACKET_TOO_SMALL_SECOND"};
        uint32_t mode = s->mode < 7u ? s->mode : 0u;
        h->save_mode = (vmbsave_save_packet_mode)mode;
        const uint64_t packet_id = vmbsave_program_packet_id(s->a);
        h->save_mode_packet_id = packet_id;
        if (packet_id == 0)
            fault_note(r, "save_packet driver: %s", modes[mode] + strlen("VMBSAVE_SAVE_PACKET_"));
        else
            fault_note(r, "save_packet driver: %s for packet %" PRIu64,
                       modes[mode] + strlen("VMBSAVE_SAVE_PACKET_"), packet_id);
        runner_emit_host3(r, VMBSAVE_CALL_HOST_SAVE_PACKET_MODE, mode, (uint32_t)packet_id,
                          (uint32_t)(packet_id >> 32));
        break;
    }
    case VMBSAVE_OP_FAULT_RESTORE_PACKET:
        h->restore_fail_at = h->restore_call_count + s->a;
        fault_note(r, "restore_packet call %" PRIu32 " from now will fail", s->a);
        runner_emit_host(r, VMBSAVE_CALL_HOST_RESTORE_PACKET_FAIL, s->a, 0);
        break;
    default: return;
    }
}

/* Keeps the callback logs below their cap (entries past it are not recorded). The fail-at
 * count of restore_packet is relative to the log, so it moves with it. */
void runner_trim_logs(vmbsave_runner *r)
{
    vmbsave_fault_host *h = &r->host;
    if (h->save_call_count < LOG_CLEAR_THRESHOLD && h->restore_call_count < LOG_CLEAR_THRESHOLD)
        return;
    h->restore_fail_at =
        h->restore_fail_at > h->restore_call_count ? h->restore_fail_at - h->restore_call_count : 0;
    vmbsave_fault_host_clear_logs(h);
    runner_emit_host(r, VMBSAVE_CALL_HOST_TRIM_LOGS, 0, 0);
}
