/* The runner (harness/run/runner.h): executes a program's steps through the ABI with the fault host,
 * hands every observation to the oracle (harness/oracle/oracle.h), and keeps the trace and the call
 * stream for reproducers (the statement conventions are in harness/repro/emit_c.h).
 *
 * Everything a run needs is allocated by vmbsave_runner_open_*: a run allocates nothing of its
 * own. Describe calls the oracle makes to look at a channel are not traced (emit_c.h rule 1). */
#define _POSIX_C_SOURCE 200809L

#include "run/runner.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "image/chunks.h"
#include "host/host.h"
#include "image/image_edit.h"
#include "host/loader.h"
#include "oracle/oracle.h"
#include "program/step_args.h"

#define GUARD_BYTES 64u
#define SAVE_BUFFER_CAP (1024u * 1024u) /* VMBSAVE_SIZE_LARGE, the largest size mode */
#define SAVE_LARGE_BYTES (1024u * 1024u)
#define RING_BUFFER_CAP VMBSAVE_PROGRAM_MAX_RING_OP_BYTES
#define OUT_SENTINEL 0xA5A5A5A5u /* out-parameters before a call */
#define RUN_FILL_BYTE 0xA5       /* what new allocations hold (host fill_byte) */
#define DIAG_FILL_BYTE 0x5A      /* ... for the second diagnosis read */
/* Logs are cleared between steps once this full, so they never reach their cap mid-step. */
#define LOG_CLEAR_THRESHOLD (VMBSAVE_HOST_MAX_CALL_LOG / 2u)

/* options->bare: what the runner's own control flow needs of a channel, learnt from the
 * statuses the implementation returns rather than from the oracle's model. For a conforming
 * implementation each field equals the oracle's (oracle_channel's m.state, s.phase, s.purpose,
 * s.required), so a bare run makes the same calls (HARNESS.RUNNER.BARE_SAME_CALLS). */
typedef struct bare_channel {
    vmbsave_channel_state state;
    oracle_session_phase phase;
    oracle_purpose purpose;
    uint32_t required; /* last non-zero BytesRequired of the session (0: none) */
} bare_channel;

/* options->bare: an image slot, as CAPTURE (or preload_image) filled it, framed into chunks for
 * the restore edits like the oracle's (oracle_image). */
typedef struct bare_image {
    bool full;
    uint32_t size;
    uint32_t chunk_count;
    uint32_t chunk_off[VMBSAVE_RUN_MAX_CHUNKS + 1u];
    uint8_t *bytes; /* VMBSAVE_RUN_MAX_IMAGE_BYTES, allocated by the first bare run */
} bare_image;

struct vmbsave_runner {
    void *dl_handle;
    vmbsave_get_interface_fn entry;
    char impl_name[128];
    char impl_version[64];
    vmbsave_fault_host host;
    vmbsave_impl impl;
    vmbsave_oracle *oracle;

    /* Buffers, allocated once. */
    uint8_t *save_area;    /* GUARD | SAVE_BUFFER_CAP | GUARD */
    uint8_t *save_pattern; /* what save_area holds before every call */
    uint8_t *ring_area;    /* GUARD | RING_BUFFER_CAP | GUARD, same pattern */
    uint8_t *data;         /* payloads and ring data (RING_BUFFER_CAP) */
    uint64_t *pfns;        /* VMBSAVE_ARGS_MAX_PFNS */
    uint8_t *stream;       /* an edited image (VMBSAVE_EDIT_MAX_BYTES) */
    vmbsave_edit_result *edit;
    char *desc;       /* ORACLE_DESC_CAP */
    char *desc_short; /* ORACLE_DESC_CAP, for the size protocol */
    vmbsave_call call; /* the next call, typed: the trace and the sink get it as it is */

    /* The run. */
    const vmbsave_run_options *opt;
    vmbsave_run_result *res;
    vmbsave_channel *ch[VMBSAVE_PROGRAM_CHANNELS];
    uint32_t step;
    uint32_t last_call; /* trace index of the last traced call */
    uint32_t steps_with_calls;
    bool step_made_call;
    bool stop;            /* a violation or an error: run no further step */
    bool quiet;           /* clean-up after a stop: no trace, no sink, no checks */
    bool want_digests;    /* options->digests: outputs and final descriptions hashed */
    /* VMBSAVE_EXACT_BUFFERS set at open: each restore call's bytes are passed in a heap block
     * of exactly their size, so a read past them leaves the block where a memory checker (a
     * guard-page allocator, valgrind) sees it. Off by default: it costs a copy per call. */
    bool exact_buffers;
    size_t save_dirty;    /* bytes at the start of save_area that may differ from the pattern */
    /* options->bare: no oracle, no describe checks; the runner's own record instead. */
    bool bare;
    bare_channel bare_ch[VMBSAVE_PROGRAM_CHANNELS];
    bare_image bare_img[VMBSAVE_PROGRAM_IMAGES];
    uint8_t *bare_capture;     /* the CAPTURE session's bytes so far (swapped into its slot) */
    uint32_t bare_capture_len;
    bool bare_capture_overflow;
    const char *note;     /* the next traced call's note */
    char fault_note[128]; /* a fault directive since the last traced call, for its note */
};

static void set_text(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_text(char *dst, size_t cap, const char *fmt, ...)
{
    if (dst == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

/* ---- Open and close ------------------------------------------------------------------------ */

static vmbsave_runner *runner_alloc(char *err, size_t err_size)
{
    vmbsave_runner *r = calloc(1, sizeof *r);
    if (r == NULL) {
        set_text(err, err_size, "out of memory");
        return NULL;
    }
    size_t save_bytes = SAVE_BUFFER_CAP + 2u * GUARD_BYTES;
    r->save_area = malloc(save_bytes);
    r->save_pattern = malloc(save_bytes);
    r->ring_area = malloc(RING_BUFFER_CAP + 2u * GUARD_BYTES);
    r->data = malloc(RING_BUFFER_CAP);
    r->pfns = malloc(VMBSAVE_ARGS_MAX_PFNS * sizeof *r->pfns);
    r->stream = malloc(VMBSAVE_EDIT_MAX_BYTES);
    r->edit = malloc(sizeof *r->edit);
    r->desc = malloc(ORACLE_DESC_CAP);
    r->desc_short = malloc(ORACLE_DESC_CAP);
    r->oracle = vmbsave_oracle_new();
    if (r->save_area == NULL || r->save_pattern == NULL || r->ring_area == NULL ||
        r->data == NULL || r->pfns == NULL || r->stream == NULL || r->edit == NULL ||
        r->desc == NULL || r->desc_short == NULL || r->oracle == NULL) {
        set_text(err, err_size, "out of memory for the runner's buffers");
        vmbsave_runner_close(r);
        return NULL;
    }
    /* A position-dependent pattern, so a stray write of any constant byte shows. */
    for (size_t i = 0; i < save_bytes; i++)
        r->save_pattern[i] = (uint8_t)((i * 131u + 0x5Bu) ^ (i >> 8));
    memcpy(r->save_area, r->save_pattern, save_bytes);
    r->save_dirty = 0;
    const char *exact = getenv("VMBSAVE_EXACT_BUFFERS");
    r->exact_buffers = exact != NULL && exact[0] != '\0' && strcmp(exact, "0") != 0;
    return r;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    set_text(dst, cap, "%s", src != NULL ? src : "?");
}

/* The first query (at open) proves the entry point works and gives the names; each run
 * queries again. */
static vmbsave_runner *finish_open(vmbsave_runner *r, vmbsave_impl *impl)
{
    copy_name(r->impl_name, sizeof r->impl_name, impl->iface.impl_name);
    copy_name(r->impl_version, sizeof r->impl_version, impl->iface.impl_version);
    if (impl->iface.release != NULL)
        impl->iface.release(impl->iface.context);
    r->dl_handle = impl->dl_handle;
    return r;
}

vmbsave_runner *vmbsave_runner_open_path(const char *plugin_path, char *err, size_t err_size)
{
    vmbsave_runner *r = runner_alloc(err, err_size);
    if (r == NULL)
        return NULL;
    vmbsave_fault_host_init(&r->host);
    vmbsave_impl impl;
    if (vmbsave_impl_load(plugin_path, &r->host.host, &impl, err, err_size) != 0) {
        vmbsave_runner_close(r);
        return NULL;
    }
    void *sym = dlsym(impl.dl_handle, VMBSAVE_ENTRY_POINT);
    _Static_assert(sizeof r->entry == sizeof sym, "function and object pointers differ in size");
    memcpy(&r->entry, &sym, sizeof r->entry);
    return finish_open(r, &impl);
}

vmbsave_runner *vmbsave_runner_open_entry(vmbsave_get_interface_fn entry, char *err,
                                          size_t err_size)
{
    vmbsave_runner *r = runner_alloc(err, err_size);
    if (r == NULL)
        return NULL;
    vmbsave_fault_host_init(&r->host);
    vmbsave_impl impl;
    if (vmbsave_impl_from_entry(entry, &r->host.host, &impl, err, err_size) != 0) {
        vmbsave_runner_close(r);
        return NULL;
    }
    r->entry = entry;
    return finish_open(r, &impl);
}

void vmbsave_runner_close(vmbsave_runner *r)
{
    if (r == NULL)
        return;
    if (r->dl_handle != NULL)
        dlclose(r->dl_handle);
    free(r->save_area);
    free(r->save_pattern);
    free(r->ring_area);
    free(r->data);
    free(r->pfns);
    free(r->stream);
    free(r->edit);
    free(r->desc);
    free(r->desc_short);
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++)
        free(r->bare_img[i].bytes);
    free(r->bare_capture);
    vmbsave_oracle_free(r->oracle);
    free(r);
}

const char *vmbsave_runner_impl_name(const vmbsave_runner *r)
{
    return r->impl_name;
}

const char *vmbsave_runner_impl_version(const vmbsave_runner *r)
{
    return r->impl_version;
}

/* ---- Calls: trace, sink, host counters ---------------------------------------------------- */

static const vmbsave_interface_v1 *api(const vmbsave_runner *r)
{
    return &r->impl.iface;
}

/* The next call (or host statement), typed; its text is made only by whoever prints it. */
static vmbsave_call *next_call(vmbsave_runner *r, vmbsave_call_op op, uint32_t slot)
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
static void emit_host(vmbsave_runner *r, vmbsave_call_op op, uint32_t a0, uint32_t a1)
{
    vmbsave_call c = {.op = (uint8_t)op, .arg = {a0, a1}, .data = VMBSAVE_CALL_NO_DATA};
    emit(r, &c);
}

/* The same with a third argument (a packet id's high half). */
static void emit_host3(vmbsave_runner *r, vmbsave_call_op op, uint32_t a0, uint32_t a1,
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
static uint32_t emit_data(vmbsave_runner *r, const void *bytes, size_t size)
{
    uint32_t index = r->res->calls;
    if (r->quiet || r->opt == NULL || r->opt->sink == NULL || r->opt->sink->on_data == NULL)
        return index;
    char name[16];
    set_text(name, sizeof name, "d%" PRIu32, index);
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
static void call_begin(vmbsave_runner *r, oracle_obs *obs)
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
                set_text(e->note, sizeof e->note, "%s%s%s", r->fault_note,
                         r->note != NULL ? "; " : "", r->note != NULL ? r->note : "");
            else if (r->note != NULL)
                set_text(e->note, sizeof e->note, "%s", r->note);
            r->res->trace_count = index + 1u;
            r->fault_note[0] = '\0';
        }
    }
    snapshot(&r->host, &obs->alloc_before, &obs->faults_before, &obs->live_before,
             &obs->save_log_before, &obs->restore_log_before, &obs->mismatches_before);
    vmbsave_host_enter(&r->host);
}

static void call_end(vmbsave_runner *r, oracle_obs *obs, bool has_status, NTSTATUS status)
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
        set_text(e->note + len, sizeof e->note - len,
                 "%sfault: allocation #%" PRIu64 " failed (%s)", len != 0 ? "; " : "", first,
                 r->host.fault_mode == VMBSAVE_ALLOC_FAULT_ONCE ? "once" : "from then on");
    }
}

/* The bytes the last traced call wrote for the caller, as a digest (options->digests). */
static void trace_output(vmbsave_runner *r, const uint8_t *bytes, uint32_t size)
{
    vmbsave_trace_entry *e = r->want_digests ? trace_entry(r, r->last_call) : NULL;
    if (e == NULL)
        return;
    e->has_output = true;
    e->output_bytes = size;
    e->output_digest = vmbsave_hash(bytes, size, 0);
}

static void trace_counts(vmbsave_runner *r, uint32_t filled, uint32_t required)
{
    vmbsave_trace_entry *e = trace_entry(r, r->last_call);
    if (e == NULL)
        return;
    e->has_counts = true;
    e->filled = filled;
    e->required = required;
}

/* ---- Verdicts ------------------------------------------------------------------------------ */

static void harness_error(vmbsave_runner *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void harness_error(vmbsave_runner *r, const char *fmt, ...)
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
static void violation(vmbsave_runner *r, uint32_t call)
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
static bool checked(vmbsave_runner *r, bool ok)
{
    vmbsave_oracle *o = r->oracle;
    if (o->suspect.unlocated) {
        o->suspect.v.step = r->step;
        o->suspect.v.call = r->last_call;
        o->suspect.unlocated = false;
    }
    if (!ok && !r->quiet)
        violation(r, r->last_call);
    return ok && !r->stop;
}

/* ---- What control flow reads: the oracle's model, or in a bare run the runner's own -------- */

static oracle_session_phase session_phase(const vmbsave_runner *r, uint32_t slot)
{
    return r->bare ? r->bare_ch[slot].phase : r->oracle->ch[slot].s.phase;
}

static oracle_purpose session_purpose(const vmbsave_runner *r, uint32_t slot)
{
    return r->bare ? r->bare_ch[slot].purpose : r->oracle->ch[slot].s.purpose;
}

static uint32_t session_required(const vmbsave_runner *r, uint32_t slot)
{
    return r->bare ? r->bare_ch[slot].required : r->oracle->ch[slot].s.required;
}

static bool channel_disabled(const vmbsave_runner *r, uint32_t slot)
{
    return (r->bare ? r->bare_ch[slot].state : r->oracle->ch[slot].m.state) ==
           VMBSAVE_STATE_DISABLED;
}

/* Image slot `slot` for the restore edits; false if it is empty. */
static bool image_view(const vmbsave_runner *r, uint32_t slot, vmbsave_edit_image *out)
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

static void bare_reset_channel(vmbsave_runner *r, uint32_t slot)
{
    r->bare_ch[slot] = (bare_channel){.state = VMBSAVE_STATE_DISABLED,
                                      .phase = ORACLE_SESSION_NONE};
}

/* A lifecycle call that returned SUCCESS: the state it moves the channel to (the oracle's
 * apply_lifecycle, for the state alone). */
static void bare_lifecycle(vmbsave_runner *r, uint32_t slot, uint32_t op)
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
static void bare_frame(bare_image *img)
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
static bool check_description(vmbsave_runner *r, uint32_t slot)
{
    if (r->bare || r->quiet || r->stop || !r->oracle->check_describe || r->ch[slot] == NULL)
        return !r->stop;
    uint32_t required = 0;
    uint64_t before = r->host.alloc_calls;
    r->desc[ORACLE_DESC_CAP - 1u] = '\0';
    vmbsave_host_enter(&r->host);
    NTSTATUS st = api(r)->describe(r->ch[slot], r->desc, ORACLE_DESC_CAP, &required);
    vmbsave_host_leave(&r->host);
    uint64_t during = r->host.alloc_calls - before;
    if (st == STATUS_SUCCESS && memchr(r->desc, '\0', ORACLE_DESC_CAP) == NULL)
        r->desc[ORACLE_DESC_CAP - 1u] = '\0';
    return checked(r, oracle_description(r->oracle, slot, st, required, r->desc, during));
}

/* options->digests: every live channel's description at the end of the program, untraced like
 * the oracle's describe calls, so two runs compare states without keeping the text. Asked even
 * without VMBSAVE_CAP_DESCRIBE (every operation is set, ABI.TABLE.COMPLETE): only a SUCCESS
 * with a NUL in the buffer counts as a description. */
static void final_descriptions(vmbsave_runner *r)
{
    r->res->has_descriptions = true;
    for (uint32_t slot = 0; slot < VMBSAVE_PROGRAM_CHANNELS; slot++) {
        vmbsave_final_description *d = &r->res->descriptions[slot];
        if (r->ch[slot] == NULL)
            continue;
        d->live = true;
        if (api(r)->describe == NULL)
            continue;
        uint32_t required = 0;
        vmbsave_host_enter(&r->host);
        NTSTATUS st = api(r)->describe(r->ch[slot], r->desc, ORACLE_DESC_CAP, &required);
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
static bool check_describe_size(vmbsave_runner *r, uint32_t slot)
{
    if (r->bare || r->quiet || r->stop || !r->oracle->check_describe)
        return !r->stop;
    size_t len = oracle_expected_description(r->oracle, slot);
    uint32_t full = (uint32_t)len + 1u;
    uint32_t q = OUT_SENTINEL, s = OUT_SENTINEL;
    vmbsave_host_enter(&r->host);
    NTSTATUS qs = api(r)->describe(r->ch[slot], NULL, 0, &q);
    vmbsave_host_leave(&r->host);
    uint32_t short_size = full > 1u ? full - 1u : 1u;
    memset(r->desc_short, 0x7E, short_size + 1u);
    vmbsave_host_enter(&r->host);
    NTSTATUS ss = api(r)->describe(r->ch[slot], r->desc_short, short_size, &s);
    vmbsave_host_leave(&r->host);
    uint32_t changed = UINT32_MAX;
    for (uint32_t i = 0; i <= short_size && changed == UINT32_MAX; i++) {
        if (r->desc_short[i] != 0x7E)
            changed = i;
    }
    return checked(r, oracle_describe_size(r->oracle, slot, qs, q, ss, s, changed, full));
}

/* ---- Channels ---------------------------------------------------------------------------- */

static bool ensure_channel(vmbsave_runner *r, uint32_t slot)
{
    if (r->ch[slot] != NULL)
        return true;
    vmbsave_channel *handle = NULL;
    oracle_obs obs;
    next_call(r, VMBSAVE_CALL_CHANNEL_ALLOCATE, slot);
    call_begin(r, &obs);
    NTSTATUS st = api(r)->channel_allocate(api(r)->context, &handle);
    call_end(r, &obs, true, st);
    if (st != STATUS_SUCCESS && !oracle_obs_faulted(&obs)) {
        char tmp[16];
        harness_error(r, "channel_allocate failed with %s without an injected fault",
                      oracle_status_text(st, tmp, sizeof tmp));
        return false;
    }
    if (r->bare) {
        if (st != STATUS_SUCCESS)
            return false;
        if (handle == NULL) {
            harness_error(r, "channel_allocate returned STATUS_SUCCESS and a NULL channel");
            return false;
        }
        r->ch[slot] = handle;
        bare_reset_channel(r, slot);
        return true;
    }
    if (!checked(r, oracle_allocate(r->oracle, slot, st, handle, &obs)))
        return false;
    if (st != STATUS_SUCCESS)
        return false;
    r->ch[slot] = handle;
    return check_describe_size(r, slot) && check_description(r, slot);
}

/* ---- Lifecycle steps --------------------------------------------------------------------- */

static void run_lifecycle(vmbsave_runner *r, const vmbsave_step *s)
{
    const uint32_t slot = s->ch;
    if (!ensure_channel(r, slot))
        return;
    vmbsave_channel *h = r->ch[slot];
    const vmbsave_interface_v1 *t = api(r);
    oracle_lifecycle_call lc;
    memset(&lc, 0, sizeof lc);
    lc.op = (vmbsave_op)s->op;
    vmbsave_offer offer;
    vmbsave_open_params params;
    oracle_obs obs;
    vmbsave_call *c = next_call(r, vmbsave_call_op_of_step((vmbsave_op)s->op), slot);
    NTSTATUS st = STATUS_SUCCESS;
    uint32_t bytes_read = OUT_SENTINEL;

    switch (s->op) {
    case VMBSAVE_OP_OFFER:
        if (s->mode == VMBSAVE_OFFER_NULL) {
            c->flags = VMBSAVE_CALL_NULL_ARG;
            call_begin(r, &obs);
            st = t->init_set_offer(h, NULL);
        } else {
            vmbsave_args_offer(s->mode, s->a, &offer);
            lc.offer = &offer;
            c->data = emit_data(r, &offer, sizeof offer);
            c->arg[0] = offer.subchannel_index;
            c->arg[1] = offer.mmio_megabytes;
            c->arg[2] = offer.flags;
            call_begin(r, &obs);
            st = t->init_set_offer(h, &offer);
        }
        break;
    case VMBSAVE_OP_ENABLE:
    case VMBSAVE_OP_DISABLE:
    case VMBSAVE_OP_CLOSE:
    case VMBSAVE_OP_START:
    case VMBSAVE_OP_PAUSE: {
        call_begin(r, &obs);
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
            call_begin(r, &obs);
            st = t->guest_open(h, NULL);
        } else {
            vmbsave_args_open(s->mode, s->a, s->b, s->c, &params);
            lc.open = &params;
            c->arg[0] = params.ring_gpadl_id;
            c->arg[1] = params.incoming_ring_bytes;
            c->arg[2] = params.outgoing_ring_bytes;
            c->arg[3] = params.target_vp;
            c->arg[4] = params.connection_id;
            call_begin(r, &obs);
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
            c->data = emit_data(r, le, (size_t)s->b * 8u);
        } else {
            c->data = r->res->calls;
        }
        call_begin(r, &obs);
        st = t->gpadl_create(h, gpadl_id, pfns, s->b);
        break;
    }
    case VMBSAVE_OP_GPADL_TEARDOWN_BEGIN:
    case VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE: {
        const uint32_t gpadl_id = vmbsave_program_gpadl_id(s->a);
        lc.id = gpadl_id;
        c->arg[0] = gpadl_id;
        call_begin(r, &obs);
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
            c->data = emit_data(r, payload, n);
        } else {
            c->flags = VMBSAVE_CALL_NULL_ARG;
        }
        c->arg[0] = (uint32_t)packet_id;
        c->arg[1] = gpadl_id;
        c->arg[2] = s->c;
        c->arg[3] = (uint32_t)(packet_id >> 32);
        call_begin(r, &obs);
        st = t->packet_send(h, packet_id, gpadl_id, payload, s->c);
        break;
    }
    case VMBSAVE_OP_PACKET_COMPLETE:
        lc.id = vmbsave_program_packet_id(s->a);
        c->arg[0] = (uint32_t)lc.id;
        c->arg[1] = (uint32_t)(lc.id >> 32);
        call_begin(r, &obs);
        st = t->packet_complete(h, lc.id);
        break;
    case VMBSAVE_OP_RING_WRITE: {
        lc.dir = s->mode;
        lc.count = s->a;
        uint32_t n = s->a <= RING_BUFFER_CAP ? s->a : RING_BUFFER_CAP;
        vmbsave_args_bytes(vmbsave_args_ring_seed(s->c), r->data, n);
        lc.data = r->data;
        c->data = emit_data(r, r->data, n);
        c->arg[0] = s->mode;
        c->arg[1] = s->a;
        call_begin(r, &obs);
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
        call_begin(r, &obs);
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
    call_end(r, &obs, true, st);
    if (s->op == VMBSAVE_OP_RING_READ) {
        trace_counts(r, bytes_read, 0);
        if (st == STATUS_SUCCESS && bytes_read <= lc.count)
            trace_output(r, r->ring_area + GUARD_BYTES, bytes_read);
    }
    if (r->bare) {
        if (st == STATUS_SUCCESS)
            bare_lifecycle(r, slot, s->op);
        return;
    }
    if (checked(r, oracle_lifecycle(r->oracle, slot, &lc, st, &obs)))
        check_description(r, slot);
}

/* ---- Save sessions ----------------------------------------------------------------------- */

static bool do_save_begin(vmbsave_runner *r, uint32_t slot, oracle_purpose purpose, NTSTATUS *out)
{
    oracle_obs obs;
    next_call(r, VMBSAVE_CALL_SAVE_BEGIN, slot);
    call_begin(r, &obs);
    NTSTATUS st = api(r)->save_begin(r->ch[slot]);
    call_end(r, &obs, true, st);
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
    return checked(r, oracle_save_begin(r->oracle, slot, purpose, st, &obs)) &&
           check_description(r, slot);
}

static bool do_save_end(vmbsave_runner *r, uint32_t slot, bool checked_call)
{
    oracle_obs obs;
    next_call(r, VMBSAVE_CALL_SAVE_END, slot);
    call_begin(r, &obs);
    api(r)->save_end(r->ch[slot]);
    call_end(r, &obs, false, 0);
    if (r->bare) {
        r->bare_ch[slot].phase = ORACLE_SESSION_NONE;
        r->bare_ch[slot].required = 0;
        return !r->stop;
    }
    if (r->quiet || !checked_call)
        return true;
    return checked(r, oracle_save_end(r->oracle, slot, &obs)) && check_description(r, slot);
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
    vmbsave_call *c = next_call(r, VMBSAVE_CALL_SAVE_CONTINUE, slot);
    c->arg[0] = a->size;
    c->flags = (uint8_t)((a->null_buffer ? VMBSAVE_CALL_NULL_BUFFER : 0u) |
                         (a->null_filled ? VMBSAVE_CALL_NULL_FILLED : 0u) |
                         (a->null_required ? VMBSAVE_CALL_NULL_REQUIRED : 0u));
    call_begin(r, obs);
    NTSTATUS st =
        api(r)->save_continue(r->ch[slot], a->null_buffer ? NULL : buf, a->size,
                              a->null_filled ? NULL : filled, a->null_required ? NULL : required);
    call_end(r, obs, true, st);
    trace_counts(r, a->null_filled ? 0 : *filled, a->null_required ? 0 : *required);
    if ((st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW) && !a->null_buffer &&
        !a->null_filled && *filled <= a->size)
        trace_output(r, r->save_area + GUARD_BYTES, *filled);
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
        violation(r, call);
        return false;
    }
    return checked(r, v == ORACLE_OK);
}

/* A whole one-shot session the oracle makes (CAPTURE, the one-shot check, the fixed-point
 * re-save): begin, continue with VMBSAVE_MAX_CHUNK_BYTES until done, end. Returns true if the
 * session completed. */
static bool whole_session(vmbsave_runner *r, uint32_t slot, oracle_purpose purpose,
                          const char *note)
{
    r->note = note;
    NTSTATUS st;
    bool ok = do_save_begin(r, slot, purpose, &st);
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
        if (session_phase(r, slot) != ORACLE_SESSION_ACTIVE)
            break;
    }
    bool completed = session_phase(r, slot) == ORACLE_SESSION_COMPLETED;
    if (session_phase(r, slot) == ORACLE_SESSION_ACTIVE) {
        harness_error(r, "a one-shot session of ch%" PRIu32 " did not end after %u calls", slot,
                      VMBSAVE_RUN_MAX_CHUNKS + 2u);
        r->note = NULL;
        return false;
    }
    ok = do_save_end(r, slot, true);
    r->note = NULL;
    return ok && completed;
}

/* save_end of a session, and the one-shot check when it was a completed program session. */
static bool end_session(vmbsave_runner *r, uint32_t slot)
{
    bool check = session_phase(r, slot) == ORACLE_SESSION_COMPLETED &&
                 session_purpose(r, slot) == ORACLE_PURPOSE_PROGRAM;
    if (!do_save_end(r, slot, true))
        return false;
    if (check)
        whole_session(r, slot, ORACLE_PURPOSE_ONESHOT,
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
        emit_host(r, VMBSAVE_CALL_HOST_FILL_BYTE, r->host.fill_byte, 0);
        oracle_obs obs;
        next_call(r, VMBSAVE_CALL_SAVE_BEGIN, slot);
        call_begin(r, &obs);
        NTSTATUS st = api(r)->save_begin(r->ch[slot]);
        call_end(r, &obs, true, st);
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
    emit_host(r, VMBSAVE_CALL_HOST_FILL_BYTE, RUN_FILL_BYTE, 0);
    r->note = NULL;
    const uint8_t *bytes[2] = {o->diag_image[0], o->diag_image[1]};
    oracle_diagnose(o, ok, bytes, len);
}

static void run_save_continue(vmbsave_runner *r, const vmbsave_step *s)
{
    uint32_t slot = s->ch;
    if (!ensure_channel(r, slot))
        return;
    uint32_t required = session_required(r, slot);
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

static void run_capture(vmbsave_runner *r, const vmbsave_step *s)
{
    uint32_t slot = s->ch;
    if (!ensure_channel(r, slot))
        return;
    if (!whole_session(r, slot, ORACLE_PURPOSE_CAPTURE, NULL))
        return;
    if (!r->bare) {
        oracle_store_image(r->oracle, slot, s->slot);
        return;
    }
    if (r->bare_capture_overflow) {
        harness_error(r, "step %" PRIu32 ": the captured image is larger than %u bytes", r->step,
                      VMBSAVE_RUN_MAX_IMAGE_BYTES);
        return;
    }
    bare_image *img = &r->bare_img[s->slot];
    uint8_t *bytes = img->bytes; /* the slot takes the capture's buffer, the capture the slot's */
    img->bytes = r->bare_capture;
    r->bare_capture = bytes;
    img->size = r->bare_capture_len;
    img->full = true;
    bare_frame(img);
}

/* ---- Restore ------------------------------------------------------------------------------- */

static bool restore_call(vmbsave_runner *r, uint32_t slot, uint32_t data, uint32_t from,
                         uint32_t to, uint32_t total, NTSTATUS *out)
{
    oracle_obs obs;
    vmbsave_call *c = next_call(r, VMBSAVE_CALL_RESTORE_FROM_BUFFER, slot);
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
    call_begin(r, &obs);
    NTSTATUS st = api(r)->restore_from_buffer(r->ch[slot], bytes, to - from);
    call_end(r, &obs, true, st);
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
    return checked(r,
                   oracle_restore_call(r->oracle, slot, r->stream + from, to - from, st, &obs)) &&
           check_description(r, slot);
}

static void run_restore(vmbsave_runner *r, const vmbsave_step *s)
{
    uint32_t slot = s->ch;
    vmbsave_oracle *o = r->oracle;
    vmbsave_edit_image src;
    if (!image_view(r, s->slot, &src)) {
        r->res->steps_skipped++;
        return;
    }
    if (!ensure_channel(r, slot))
        return;
    vmbsave_edit_image foreign;
    const vmbsave_edit_image *fp = NULL;
    if (s->mode == VMBSAVE_EDIT_FOREIGN_CHUNK && s->b < VMBSAVE_PROGRAM_IMAGES &&
        image_view(r, s->b, &foreign))
        fp = &foreign;
    if (vmbsave_image_edit(&src, s->mode, s->a, s->b, s->c, fp, r->stream, r->edit) != 0) {
        harness_error(r, "step %" PRIu32 ": the image in slot %u could not be edited", r->step,
                      (unsigned)s->slot);
        return;
    }
    if (!r->bare)
        oracle_restore_step_begin(o, slot);
    uint32_t data = emit_data(r, r->stream, r->edit->size);
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
        whole_session(r, slot, ORACLE_PURPOSE_FIXED_POINT,
                      "oracle: re-save after the restore (RESTORE.FIXED_POINT)");
}

/* ---- Clean-up ------------------------------------------------------------------------------ */

static bool close_channel(vmbsave_runner *r, uint32_t slot)
{
    if (session_phase(r, slot) != ORACLE_SESSION_NONE && !end_session(r, slot))
        return false;
    if (!channel_disabled(r, slot)) {
        vmbsave_step d = {.op = VMBSAVE_OP_DISABLE, .ch = (uint8_t)slot};
        run_lifecycle(r, &d);
        if (r->stop)
            return false;
    }
    oracle_obs obs;
    next_call(r, VMBSAVE_CALL_CHANNEL_CLEANUP, slot);
    call_begin(r, &obs);
    NTSTATUS st = api(r)->channel_cleanup(r->ch[slot]);
    call_end(r, &obs, true, st);
    if (r->bare) {
        if (st == STATUS_SUCCESS)
            r->ch[slot] = NULL;
        return !r->stop;
    }
    if (!checked(r, oracle_cleanup(r->oracle, slot, st, &obs)))
        return false;
    if (st == STATUS_SUCCESS)
        r->ch[slot] = NULL;
    else
        check_description(r, slot);
    return !r->stop;
}

static void run_cleanup(vmbsave_runner *r, const vmbsave_step *s)
{
    if (r->ch[s->ch] == NULL) {
        r->res->steps_skipped++;
        return;
    }
    close_channel(r, s->ch);
}

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

static void run_fault(vmbsave_runner *r, const vmbsave_step *s)
{
    vmbsave_fault_host *h = &r->host;
    switch (s->op) {
    case VMBSAVE_OP_FAULT_ALLOC:
        if (s->mode == VMBSAVE_FAULT_OFF) {
            h->fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
            h->fault_at = 0;
            fault_note(r, "allocation faults off");
            emit_host(r, VMBSAVE_CALL_HOST_FAULT_OFF, 0, 0);
        } else {
            h->fault_mode =
                s->mode == VMBSAVE_FAULT_ONCE ? VMBSAVE_ALLOC_FAULT_ONCE : VMBSAVE_ALLOC_FAULT_FROM;
            h->fault_at = h->alloc_calls + s->a + 1u;
            fault_note(r, "allocation #%" PRIu64 " will fail%s", h->fault_at,
                       s->mode == VMBSAVE_FAULT_ONCE ? "" : ", and every one after");
            emit_host(r, VMBSAVE_CALL_HOST_FAULT_ALLOC, s->mode == VMBSAVE_FAULT_ONCE ? 0u : 1u,
                      s->a + 1u);
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
        emit_host3(r, VMBSAVE_CALL_HOST_SAVE_PACKET_MODE, mode, (uint32_t)packet_id,
                   (uint32_t)(packet_id >> 32));
        break;
    }
    case VMBSAVE_OP_FAULT_RESTORE_PACKET:
        h->restore_fail_at = h->restore_call_count + s->a;
        fault_note(r, "restore_packet call %" PRIu32 " from now will fail", s->a);
        emit_host(r, VMBSAVE_CALL_HOST_RESTORE_PACKET_FAIL, s->a, 0);
        break;
    default: return;
    }
}

/* Keeps the callback logs below their cap (entries past it are not recorded). The fail-at
 * count of restore_packet is relative to the log, so it moves with it. */
static void trim_logs(vmbsave_runner *r)
{
    vmbsave_fault_host *h = &r->host;
    if (h->save_call_count < LOG_CLEAR_THRESHOLD && h->restore_call_count < LOG_CLEAR_THRESHOLD)
        return;
    h->restore_fail_at =
        h->restore_fail_at > h->restore_call_count ? h->restore_fail_at - h->restore_call_count : 0;
    vmbsave_fault_host_clear_logs(h);
    emit_host(r, VMBSAVE_CALL_HOST_TRIM_LOGS, 0, 0);
}

/* ---- Steps --------------------------------------------------------------------------------- */

static void run_step(vmbsave_runner *r, const vmbsave_step *s)
{
    trim_logs(r);
    r->step_made_call = false;
    switch (s->op) {
    case VMBSAVE_OP_SAVE_BEGIN: {
        if (!ensure_channel(r, s->ch))
            break;
        NTSTATUS st;
        do_save_begin(r, s->ch, ORACLE_PURPOSE_PROGRAM, &st);
        break;
    }
    case VMBSAVE_OP_SAVE_CONTINUE: run_save_continue(r, s); break;
    case VMBSAVE_OP_SAVE_END:
        if (ensure_channel(r, s->ch))
            end_session(r, s->ch);
        break;
    case VMBSAVE_OP_CAPTURE: run_capture(r, s); break;
    case VMBSAVE_OP_RESTORE: run_restore(r, s); break;
    case VMBSAVE_OP_CLEANUP: run_cleanup(r, s); break;
    case VMBSAVE_OP_FAULT_ALLOC:
    case VMBSAVE_OP_FAULT_SAVE_PACKET:
    case VMBSAVE_OP_FAULT_RESTORE_PACKET:
        run_fault(r, s);
        r->res->steps_run++;
        return;
    default: run_lifecycle(r, s); break;
    }
    if (r->step_made_call) {
        r->res->steps_run++;
        r->steps_with_calls++;
    }
}

/* Faults off, every channel closed, the interface released: checked, unless `quiet` (after a
 * stop, so the process gets its memory back). */
static void finish(vmbsave_runner *r)
{
    vmbsave_fault_host *h = &r->host;
    h->fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
    h->fault_at = 0;
    h->save_mode = VMBSAVE_SAVE_PACKET_STATE;
    h->save_mode_packet_id = 0;
    h->restore_fail_at = 0;
    if (r->quiet) {
        for (uint32_t i = 0; i < VMBSAVE_PROGRAM_CHANNELS; i++) {
            if (r->ch[i] == NULL)
                continue;
            api(r)->save_end(r->ch[i]);
            api(r)->disable(r->ch[i]);
            api(r)->channel_cleanup(r->ch[i]);
            r->ch[i] = NULL;
        }
        vmbsave_impl_unload(&r->impl);
        return;
    }
    emit_host(r, VMBSAVE_CALL_HOST_RESET, 0, 0);
    r->note = "end of run";
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_CHANNELS && !r->stop; i++) {
        if (r->ch[i] != NULL)
            close_channel(r, i);
        r->note = "end of run";
    }
    if (r->stop)
        return;
    oracle_obs obs;
    next_call(r, VMBSAVE_CALL_RELEASE, 0);
    call_begin(r, &obs);
    api(r)->release(api(r)->context);
    call_end(r, &obs, false, 0);
    r->note = NULL;
    memset(&r->impl, 0, sizeof r->impl); /* released */
    if (!r->bare)
        checked(r, oracle_released(r->oracle, obs.live_before, obs.live_after));
}

/* options->preload_image: the caller's images into their slots, before the first step. */
static void preload_images(vmbsave_runner *r)
{
    for (uint32_t i = 0; r->opt != NULL && i < VMBSAVE_PROGRAM_IMAGES && !r->stop; i++) {
        const uint8_t *bytes = r->opt->preload_image[i];
        uint32_t size = r->opt->preload_image_size[i];
        if (bytes == NULL || size == 0)
            continue;
        if (size > VMBSAVE_RUN_MAX_IMAGE_BYTES) {
            harness_error(r,
                          "preloaded image %" PRIu32 ": %" PRIu32 " bytes, above the %u a run "
                          "holds (VMBSAVE_RUN_MAX_IMAGE_BYTES)",
                          i, size, VMBSAVE_RUN_MAX_IMAGE_BYTES);
        } else if (r->bare) {
            bare_image *img = &r->bare_img[i];
            memcpy(img->bytes, bytes, size);
            img->size = size;
            img->full = true;
            bare_frame(img);
        } else if (!oracle_preload_image(r->oracle, i, bytes, size))
            harness_error(r,
                          "preloaded image %" PRIu32 ": a valid image of a state beyond what the "
                          "oracle models (more than %u GPADLs, %u packets or rings of %u bytes)",
                          i, ORACLE_MAX_GPADLS, ORACLE_MAX_PACKETS, ORACLE_RING_CAP);
    }
}

/* options->export_image: the image slots back to the caller, after the run. */
static void export_images(vmbsave_runner *r)
{
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
        vmbsave_edit_image img;
        bool full = image_view(r, i, &img);
        r->res->image_size[i] = full ? img.size : 0u;
        if (r->opt != NULL && r->opt->export_image[i] != NULL && full &&
            img.size <= r->opt->export_image_cap[i])
            memcpy(r->opt->export_image[i], img.bytes, img.size);
    }
}

/* A bare run's record, empty; its image buffers are allocated by the first bare run (a runner
 * that never runs bare never holds them). False after a harness error. */
static bool bare_begin(vmbsave_runner *r)
{
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_CHANNELS; i++)
        bare_reset_channel(r, i);
    bool ok = true;
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
        r->bare_img[i].full = false;
        if (r->bare_img[i].bytes == NULL)
            r->bare_img[i].bytes = malloc(VMBSAVE_RUN_MAX_IMAGE_BYTES);
        ok = ok && r->bare_img[i].bytes != NULL;
    }
    if (r->bare_capture == NULL)
        r->bare_capture = malloc(VMBSAVE_RUN_MAX_IMAGE_BYTES);
    if (!ok || r->bare_capture == NULL) {
        harness_error(r, "out of memory for a bare run's image slots");
        return false;
    }
    r->bare_capture_len = 0;
    r->bare_capture_overflow = false;
    return true;
}

void vmbsave_runner_run(vmbsave_runner *r, const vmbsave_program *program,
                        const vmbsave_run_options *options, vmbsave_run_result *result)
{
    memset(result, 0, sizeof *result);
    r->res = result;
    r->opt = options;
    r->want_digests = options != NULL && options->digests;
    r->bare = options != NULL && options->bare;
    r->stop = false;
    r->quiet = false;
    r->note = NULL;
    r->fault_note[0] = '\0';
    r->step = 0;
    r->last_call = 0;
    r->steps_with_calls = 0;
    memset(r->ch, 0, sizeof r->ch);
    if (program == NULL || program->count == 0) {
        harness_error(r, "the program has no step");
        return;
    }

    vmbsave_fault_host_init(&r->host);
    r->host.fill_byte = RUN_FILL_BYTE;
    char err[sizeof result->error];
    if (vmbsave_impl_from_entry(r->entry, &r->host.host, &r->impl, err, sizeof err) != 0) {
        harness_error(r, "%s", err);
        return;
    }
    emit_host(r, VMBSAVE_CALL_HOST_FILL_BYTE, RUN_FILL_BYTE, 0);
    if (r->bare) {
        bare_begin(r); /* a harness error stops the run before its first step */
    } else {
        oracle_reset(r->oracle, &r->host, r->impl.iface.capabilities,
                     (int64_t)r->host.live_allocations);
    }
    preload_images(r);

    uint32_t count =
        program->count < VMBSAVE_PROGRAM_MAX_STEPS ? program->count : VMBSAVE_PROGRAM_MAX_STEPS;
    for (uint32_t i = 0; i < count && !r->stop; i++) {
        vmbsave_step s = program->steps[i];
        vmbsave_step_normalize(&s);
        r->step = i;
        run_step(r, &s);
    }
    if (!r->stop && r->steps_with_calls == 0)
        harness_error(r,
                      "the program made no call into the implementation (%" PRIu32
                      " step(s), %" PRIu32 " skipped)",
                      count, result->steps_skipped);
    r->step = count;
    if (!r->stop && r->want_digests)
        final_descriptions(r);
    if (!r->stop)
        finish(r);
    if (r->stop) {
        r->quiet = true;
        finish(r);
    }
    if (result->verdict == VMBSAVE_VERDICT_PASS && r->stop)
        result->verdict = VMBSAVE_VERDICT_ERROR;
    export_images(r);
}
