/* The runner's calls (runner_internal.h): the typed call record the trace and the C sink get,
 * the host counters around each call, and the verdicts (violations and harness errors). */
#define _POSIX_C_SOURCE 200809L

#include "run/runner_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void runner_set_text(char *dst, size_t cap, const char *fmt, ...)
{
    if (dst == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

/* ---- Calls: trace, sink, host counters ---------------------------------------------------- */

const vmbsave_interface_v1 *runner_api(const vmbsave_runner *r)
{
    return &r->impl.iface;
}

/* The next call (or host statement), typed; its text is made only by whoever prints it. */
vmbsave_call *runner_next_call(vmbsave_runner *r, vmbsave_call_op op, uint32_t slot)
{
    vmbsave_call *c = &r->call;
    memset(c, 0, sizeof *c);
    c->op = (uint8_t)op;
    c->slot = (uint8_t)slot;
    c->data = VMBSAVE_CALL_NO_DATA;
    return c;
}

static void emit(vmbsave_runner *r, const vmbsave_call *call)
{
    if (r->quiet || r->opt == NULL || r->opt->sink == NULL || r->opt->sink->on_call == NULL)
        return;
    r->opt->sink->on_call(r->opt->sink->context, r->step, call);
}

/* A host setting, for the sink only (it is no call into the implementation). */
void runner_emit_host(vmbsave_runner *r, vmbsave_call_op op, uint32_t a0, uint32_t a1)
{
    vmbsave_call c = {.op = (uint8_t)op, .arg = {a0, a1}, .data = VMBSAVE_CALL_NO_DATA};
    emit(r, &c);
}

/* The same with a third argument (a packet id's high half). */
void runner_emit_host3(vmbsave_runner *r, vmbsave_call_op op, uint32_t a0, uint32_t a1,
                       uint32_t a2)
{
    vmbsave_call c = {.op = (uint8_t)op, .arg = {a0, a1, a2}, .data = VMBSAVE_CALL_NO_DATA};
    emit(r, &c);
}

static void emit_named_data(vmbsave_runner *r, const char *name, const void *bytes, size_t size)
{
    if (r->quiet || r->opt == NULL || r->opt->sink == NULL || r->opt->sink->on_data == NULL)
        return;
    r->opt->sink->on_data(r->opt->sink->context, name, bytes, size);
}

/* Data the next call reads, named "d<its trace index>" (emit_c.h rule 4); returns that index
 * for vmbsave_call.data. The name is only formatted when a sink takes data. */
uint32_t runner_emit_data(vmbsave_runner *r, const void *bytes, size_t size)
{
    uint32_t index = r->res->calls;
    if (r->quiet || r->opt == NULL || r->opt->sink == NULL || r->opt->sink->on_data == NULL)
        return index;
    char name[16];
    runner_set_text(name, sizeof name, "d%" PRIu32, index);
    r->opt->sink->on_data(r->opt->sink->context, name, bytes, size);
    return index;
}

static vmbsave_trace_entry *trace_entry(vmbsave_runner *r, uint32_t index)
{
    if (r->quiet || r->opt == NULL || r->opt->trace == NULL || index >= r->opt->trace_cap)
        return NULL;
    return &r->opt->trace[index];
}

static void snapshot(const vmbsave_fault_host *h, uint64_t *alloc, uint64_t *faults, uint64_t *live,
                     uint32_t *save_log, uint32_t *restore_log, uint32_t *mismatches)
{
    *alloc = h->alloc_calls;
    *faults = h->faults_injected;
    *live = h->live_allocations;
    *save_log = h->save_call_count;
    *restore_log = h->restore_call_count;
    *mismatches = h->restore_state_mismatches;
}

/* Before a traced call: the sink's statement, the trace entry, the counters. */
void runner_call_begin(vmbsave_runner *r, oracle_obs *obs)
{
    uint32_t index = r->res->calls;
    if (!r->quiet) {
        r->res->calls++;
        r->last_call = index;
        if (trace_entry(r, index) == NULL)
            r->fault_note[0] = '\0';
        r->step_made_call = true;
        emit(r, &r->call);
        vmbsave_trace_entry *e = trace_entry(r, index);
        if (e != NULL) {
            memset(e, 0, sizeof *e);
            e->step = r->step;
            e->call = r->call;
            if (r->fault_note[0] != '\0')
                runner_set_text(e->note, sizeof e->note, "%s%s%s", r->fault_note,
                                r->note != NULL ? "; " : "", r->note != NULL ? r->note : "");
            else if (r->note != NULL)
                runner_set_text(e->note, sizeof e->note, "%s", r->note);
            r->res->trace_count = index + 1u;
            r->fault_note[0] = '\0';
        }
    }
    snapshot(&r->host, &obs->alloc_before, &obs->faults_before, &obs->live_before,
             &obs->save_log_before, &obs->restore_log_before, &obs->mismatches_before);
    vmbsave_host_enter(&r->host);
}

void runner_call_end(vmbsave_runner *r, oracle_obs *obs, bool has_status, NTSTATUS status)
{
    vmbsave_host_leave(&r->host);
    snapshot(&r->host, &obs->alloc_after, &obs->faults_after, &obs->live_after,
             &obs->save_log_after, &obs->restore_log_after, &obs->mismatches_after);
    vmbsave_trace_entry *e = trace_entry(r, r->last_call);
    if (e == NULL || r->quiet)
        return;
    e->has_status = has_status;
    e->status = status;
    e->faults_injected = (uint32_t)(obs->faults_after - obs->faults_before);
    if (e->faults_injected != 0) {
        uint64_t first = r->host.fault_mode == VMBSAVE_ALLOC_FAULT_ONCE ? r->host.fault_at
                         : r->host.fault_at > obs->alloc_before         ? r->host.fault_at
                                                                        : obs->alloc_before + 1u;
        size_t len = strlen(e->note);
        runner_set_text(e->note + len, sizeof e->note - len,
                        "%sfault: allocation #%" PRIu64 " failed (%s)", len != 0 ? "; " : "", first,
                        r->host.fault_mode == VMBSAVE_ALLOC_FAULT_ONCE ? "once" : "from then on");
    }
}

/* The bytes the last traced call wrote for the caller, as a digest (options->digests). */
void runner_trace_output(vmbsave_runner *r, const uint8_t *bytes, uint32_t size)
{
    vmbsave_trace_entry *e = r->want_digests ? trace_entry(r, r->last_call) : NULL;
    if (e == NULL)
        return;
    e->has_output = true;
    e->output_bytes = size;
    e->output_digest = vmbsave_hash(bytes, size, 0);
}

void runner_trace_counts(vmbsave_runner *r, uint32_t filled, uint32_t required)
{
    vmbsave_trace_entry *e = trace_entry(r, r->last_call);
    if (e == NULL)
        return;
    e->has_counts = true;
    e->filled = filled;
    e->required = required;
}

/* ---- Verdicts ------------------------------------------------------------------------------ */

void runner_harness_error(vmbsave_runner *r, const char *fmt, ...)
{
    if (r->stop)
        return;
    r->stop = true;
    r->res->verdict = VMBSAVE_VERDICT_ERROR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->res->error, sizeof r->res->error, fmt, ap);
    va_end(ap);
}

/* The oracle found a violation at the last traced call: record it and stop. */
void runner_violation(vmbsave_runner *r, uint32_t call)
{
    if (r->stop)
        return;
    r->stop = true;
    vmbsave_oracle *o = r->oracle;
    r->res->verdict = VMBSAVE_VERDICT_VIOLATION;
    r->res->violation = o->v;
    vmbsave_violation_render(&r->res->violation); /* the text, once per run */
    if (!o->v_located) {
        r->res->violation.step = r->step;
        r->res->violation.call = call;
    }
    if (r->opt != NULL && r->opt->sink != NULL) {
        if (o->v_image != NULL)
            emit_named_data(r, "expected_image", o->v_image, o->v_image_size);
        if (o->v_desc != NULL)
            emit_named_data(r,
                      o->v_desc_except_fresh ? "expected_description_except_fresh"
                                             : "expected_description",
                      o->v_desc, strlen(o->v_desc) + 1u);
        if (r->opt->sink->on_violation != NULL)
            r->opt->sink->on_violation(r->opt->sink->context, &r->res->violation);
    }
}

/* After an oracle check: false (and the run stops) on a violation. */
bool runner_checked(vmbsave_runner *r, bool ok)
{
    vmbsave_oracle *o = r->oracle;
    if (o->error) {
        /* The oracle could not go on: no verdict either way. */
        runner_harness_error(r, "%s", o->error_text);
        return false;
    }
    if (r->host.calls_unlogged != 0) {
        /* The oracle compared callbacks against an incomplete log. */
        runner_harness_error(r,
                             "%" PRIu32 " packet callbacks within one step found the host's log "
                             "full (%u entries, VMBSAVE_HOST_MAX_CALL_LOG): they cannot be checked",
                             r->host.calls_unlogged, VMBSAVE_HOST_MAX_CALL_LOG);
        return false;
    }
    if (o->suspect.unlocated) {
        o->suspect.v.step = r->step;
        o->suspect.v.call = r->last_call;
        o->suspect.unlocated = false;
    }
    if (!ok && !r->quiet)
        runner_violation(r, r->last_call);
    return ok && !r->stop;
}
