/* The oracle's save sessions (harness/oracle/oracle.h): save_begin, save_continue and save_end checked
 * against SAVE.*, PACKET.SAVE.*, FORMAT.* and the image the model expects.
 *
 * A session's expected image is planned from the model (oracle_image.c). The driver's answers
 * that shape PACKETS chunks are read back from the host's call log after each save_continue:
 * the oracle asks the scripted driver (harness/host/driver_script.h, the one host.c plays) for its
 * answers under the mode in effect during the call, so it knows what the implementation was
 * told and what it must conclude (driver state, or a sticky failure). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "oracle/oracle.h"

/* What an implementation must conclude from a size query's answer. */
static void conclude_first(oracle_packet_answer *a, NTSTATUS st, uint32_t needed)
{
    a->first = true;
    if (NT_SUCCESS(st)) {
        a->need = 0; /* PACKET.SAVE.NO_STATE */
    } else if (needed == 0) {
        a->failure = STATUS_UNSUCCESSFUL;
        a->failure_clause = CLAUSE(PACKET_SAVE_SECOND_CALL_FAILS);
    } else if (needed > VMBSAVE_MAX_DRIVER_PACKET_STATE) {
        a->failure = STATUS_IMPLEMENTATION_LIMIT;
        a->failure_clause = CLAUSE(PACKET_SAVE_OVER_LIMIT);
    } else {
        a->need = needed;
    }
}

static void conclude_second(oracle_packet_answer *a, NTSTATUS st, uint32_t needed, uint32_t written)
{
    a->second = true;
    if (needed > a->need) {
        a->failure = STATUS_INTERNAL_ERROR;
        a->failure_clause = CLAUSE(PACKET_SAVE_ASKS_MORE);
    } else if (!NT_SUCCESS(st)) {
        a->failure = STATUS_UNSUCCESSFUL;
        a->failure_clause = st == STATUS_BUFFER_TOO_SMALL || st == STATUS_BUFFER_OVERFLOW ||
                                    st == STATUS_MORE_PROCESSING_REQUIRED
                                ? CLAUSE(PACKET_SAVE_STATUS_NOT_FORWARDED)
                                : CLAUSE(PACKET_SAVE_SECOND_CALL_FAILS);
    } else {
        a->written = written;
    }
}

bool oracle_answers_for_mode(const vmbsave_fault_host *host, const oracle_state *m,
                             oracle_packet_answer *answers)
{
    bool ok = true;
    for (uint32_t i = 0; i < m->packet_count; i++) {
        oracle_packet_answer *a = &answers[i];
        memset(a, 0, sizeof *a);
        uint64_t id = m->packets[i].id;
        vmbsave_save_packet_mode mode =
            vmbsave_driver_mode(host->save_mode, host->save_mode_packet_id, id);
        vmbsave_driver_answer first = vmbsave_driver_save(mode, id, 0);
        conclude_first(a, first.status, first.bytes_needed);
        if (a->failure == 0 && a->need != 0) {
            vmbsave_driver_answer second = vmbsave_driver_save(mode, id, a->need);
            conclude_second(a, second.status, second.bytes_needed, second.state_bytes);
        }
        ok = ok && a->failure == 0;
    }
    return ok;
}

/* ---- Callback protocol ----------------------------------------------------------------------- */

static bool callback_violation(vmbsave_oracle *o, const char *clause, const char *expected,
                               const vmbsave_packet_call *e, const char *observed)
{
    vmbsave_violation *v = oracle_violation(o, clause, VMBSAVE_CHECK_CALLBACK);
    vmbsave_value_set_rule(&v->want, expected);
    vmbsave_value_set_callback(&v->seen, false, e->packet_id, e->buf_size);
    vmbsave_value_note(&v->seen, ": %s", observed);
    return false;
}

/* Reads the save_packet calls made during one save_continue of an active session, checks them
 * against PACKET.SAVE.* and records the answers. *failure is the first failure they call for. */
static bool process_callbacks(vmbsave_oracle *o, oracle_channel *c, const oracle_obs *obs,
                              NTSTATUS *failure, const char **failure_clause)
{
    oracle_session *s = &c->s;
    const oracle_state *m = &c->m;
    *failure = 0;
    *failure_clause = NULL;
    char want[160];
    for (uint32_t k = obs->save_log_before; k < obs->save_log_after; k++) {
        const vmbsave_packet_call *e = &o->host->save_calls[k];
        if (e->channel != c->handle)
            return callback_violation(o, CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST),
                                      "callbacks with the handle of the channel being saved", e,
                                      "another channel handle");
        if (!e->on_calling_thread)
            return callback_violation(o, CLAUSE(CONTEXT_IRQL_PASSIVE),
                                      "callbacks on the calling thread, during the call", e,
                                      "made elsewhere");
        int idx = oracle_packet_find(m, e->packet_id);
        if (idx < 0)
            return callback_violation(o, CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST),
                                      "callbacks only for packets in flight", e,
                                      "no such packet in flight");
        oracle_packet_answer *a = &s->answers[idx];
        vmbsave_save_packet_mode mode =
            vmbsave_driver_mode(o->host->save_mode, o->host->save_mode_packet_id, e->packet_id);
        if (e->buf_size == 0) {
            if (a->first)
                return callback_violation(o, CLAUSE(PACKET_SAVE_ONCE_PER_SESSION),
                                          "one size query per packet per session", e,
                                          "a second size query");
            if ((uint32_t)idx != s->first_cursor) {
                oracle_text(want, sizeof want,
                            "size queries in send order: packet %" PRIu64 " next",
                            m->packets[s->first_cursor].id);
                return callback_violation(o, CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST), want, e,
                                          "out of send order");
            }
            vmbsave_driver_answer first = vmbsave_driver_save(mode, e->packet_id, 0);
            conclude_first(a, first.status, first.bytes_needed);
            s->first_cursor++;
        } else {
            if (!a->first)
                return callback_violation(o, CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST),
                                          "a size query (size 0) first", e,
                                          "a sized call before the size query");
            if (a->second)
                return callback_violation(o, CLAUSE(PACKET_SAVE_ONCE_PER_SESSION),
                                          "at most one second call per packet per session", e,
                                          "a third call");
            if (a->need == 0) {
                const char *clause =
                    a->failure_clause != NULL ? a->failure_clause : CLAUSE(PACKET_SAVE_NO_STATE);
                return callback_violation(o, clause,
                                          "no second call after a size query that succeeded or "
                                          "asked for 0 or too many bytes",
                                          e, "a second call");
            }
            if (e->buf_size != a->need) {
                oracle_text(want, sizeof want, "the second call with exactly %" PRIu32 " bytes",
                            a->need);
                return callback_violation(o, CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST), want, e,
                                          "another size");
            }
            if (!e->buf_was_zeroed)
                return callback_violation(o, CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST),
                                          "the second call's buffer all zero", e,
                                          "non-zero bytes in the buffer");
            for (int j = 0; j < idx; j++) {
                const oracle_packet_answer *b = &s->answers[j];
                if (b->need != 0 && !b->second && b->failure == 0) {
                    oracle_text(want, sizeof want,
                                "second calls in send order: packet %" PRIu64 " first",
                                m->packets[j].id);
                    return callback_violation(o, CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST), want, e,
                                              "out of send order");
                }
            }
            vmbsave_driver_answer second = vmbsave_driver_save(mode, e->packet_id, e->buf_size);
            conclude_second(a, second.status, second.bytes_needed, second.state_bytes);
        }
        if (a->failure != 0 && *failure == 0) {
            *failure = a->failure;
            *failure_clause = a->failure_clause;
        }
    }
    return true;
}

/* ---- save_begin -------------------------------------------------------------------------- */

static bool status_is(vmbsave_oracle *o, const char *clause, NTSTATUS expected, NTSTATUS observed)
{
    if (expected == observed)
        return true;
    return oracle_status_violation(o, clause, &expected, 1, observed);
}

static void session_start(vmbsave_oracle *o, oracle_channel *c, oracle_purpose purpose)
{
    oracle_session *s = &c->s;
    s->phase = ORACLE_SESSION_ACTIVE;
    s->purpose = purpose;
    s->sticky = 0;
    s->begin_nomem = false;
    s->last_event = ORACLE_EVENT_BEGIN;
    s->pos = 0;
    s->required = 0;
    s->too_small = 0;
    s->one_shot_like = true;
    s->index = c->sessions_since_change++;
    s->first_cursor = 0;
    /* The packets in flight only (the model holds up to 4,096; the count is frozen while the
     * session lasts). */
    memset(s->answers, 0, (size_t)c->m.packet_count * sizeof s->answers[0]);
    if ((o->capabilities & VMBSAVE_CAP_PACKET_CALLBACKS) == 0) {
        /* An implementation without packet callbacks saves no driver state. */
        for (uint32_t i = 0; i < c->m.packet_count; i++)
            s->answers[i].first = true;
        s->first_cursor = c->m.packet_count;
    }
    oracle_plan_reset(&s->plan, &c->m);
}

bool oracle_save_begin(vmbsave_oracle *o, uint32_t slot, oracle_purpose purpose, NTSTATUS status,
                       const oracle_obs *obs)
{
    oracle_channel *c = &o->ch[slot];
    oracle_session *s = &c->s;
    if (!oracle_no_callbacks(o, obs, "save_begin", CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST)))
        return false;
    int64_t delta = oracle_obs_live_delta(obs);
    c->held += delta;
    c->desc_clause = CLAUSE(SAVE_END_NO_STATE_CHANGE);
    if (s->phase != ORACLE_SESSION_NONE) {
        if (!status_is(o, CLAUSE(SAVE_BEGIN_ACTIVE_SESSION), STATUS_INVALID_DEVICE_STATE, status))
            return false;
        s->last_event = ORACLE_EVENT_REFUSED_BEGIN;
        c->desc_clause = CLAUSE(SAVE_BEGIN_ACTIVE_SESSION);
        return oracle_note_live(o, obs, 0, CLAUSE(SAVE_BEGIN_ACTIVE_SESSION),
                                "the active session untouched");
    }
    if (c->m.state != VMBSAVE_STATE_ENABLED && c->m.state != VMBSAVE_STATE_OPEN_PAUSED) {
        if (!status_is(o, CLAUSE(SAVE_BEGIN_REFUSED_STATES), STATUS_INVALID_DEVICE_STATE, status))
            return false;
        s->begin_nomem = false;
        return oracle_note_live(o, obs, 0, CLAUSE(SAVE_BEGIN_REFUSED_STATES), "no session started");
    }
    if (oracle_obs_faulted(obs)) {
        if (!status_is(o, CLAUSE(SAVE_BEGIN_NO_MEMORY), STATUS_INSUFFICIENT_RESOURCES, status))
            return false;
        s->begin_nomem = true;
        return oracle_check_live(o, obs, 0, CLAUSE(SAVE_BEGIN_NO_MEMORY), "no memory held");
    }
    if (!status_is(o, CLAUSE(SAVE_BEGIN_ALLOWED_STATES), STATUS_SUCCESS, status))
        return false;
    session_start(o, c, purpose);
    s->held = delta;
    return true;
}

/* ---- save_continue ----------------------------------------------------------------------- */

/* Whether the user area and its guard zones equal the pattern outside [from, to). */
static bool untouched_outside(const oracle_continue_call *call, uint32_t from, uint32_t to,
                              uint32_t *where)
{
    const uint8_t *b = call->buf - call->guard, *p = call->pattern - call->guard;
    size_t total = (size_t)call->guard * 2u + call->size;
    size_t lo = (size_t)call->guard + from, hi = (size_t)call->guard + to;
    /* memcmp the two regions; look byte by byte only to report where. */
    if (memcmp(b, p, lo) == 0 && memcmp(b + hi, p + hi, total - hi) == 0)
        return true;
    for (size_t i = 0; i < total; i++) {
        if ((i < lo || i >= hi) && b[i] != p[i]) {
            *where = (uint32_t)i;
            return false;
        }
    }
    return true;
}

/* Guard check: the call may write only [0, writable) of the buffer. */
static bool check_guard(vmbsave_oracle *o, const oracle_continue_call *call, uint32_t writable,
                        const char *in_buffer_clause)
{
    if (call->null_buffer)
        return true;
    uint32_t where;
    if (untouched_outside(call, 0, writable, &where))
        return true;
    int64_t offset = (int64_t)where - call->guard;
    bool inside = offset >= 0 && offset < (int64_t)call->size;
    vmbsave_violation *v = oracle_violation(
        o, inside ? in_buffer_clause : CLAUSE(SAVE_CONTINUE_NO_OVERRUN), VMBSAVE_CHECK_GUARD);
    vmbsave_value_set_extent(&v->want, writable, call->size);
    vmbsave_value_set_byte(&v->seen, offset, VMBSAVE_BYTE_IN_BUFFER);
    vmbsave_value_note(&v->seen, " changed%s",
                       offset < 0                      ? " (before the buffer)"
                       : offset >= (int64_t)call->size ? " (past the buffer)"
                                                       : "");
    return false;
}

/* The out-parameters of a call that must write 0 to both. */
static bool check_zero_counts(vmbsave_oracle *o, const oracle_continue_call *call,
                              const char *clause)
{
    bool bad_f = !call->null_filled && call->filled != 0;
    bool bad_r = !call->null_required && call->required != 0;
    if (!bad_f && !bad_r)
        return true;
    vmbsave_violation *v = oracle_violation(o, clause, VMBSAVE_CHECK_COUNTS);
    if (!call->null_filled) {
        vmbsave_value_set_filled(&v->want, 0, 0);
        vmbsave_value_set_filled(&v->seen, call->filled, call->filled);
    }
    if (!call->null_required) {
        vmbsave_value_set_required(&v->want, 0, 0);
        vmbsave_value_set_required(&v->seen, call->required, call->required);
    }
    return false;
}

/* A call that must do nothing: the status, zero counts, no write, no callback. */
static bool check_no_op(vmbsave_oracle *o, const oracle_continue_call *call, NTSTATUS expected,
                        NTSTATUS status, const oracle_obs *obs, const char *clause)
{
    return status_is(o, clause, expected, status) &&
           oracle_no_callbacks(o, obs, "a save_continue that must do nothing", clause) &&
           check_zero_counts(o, call, clause) && check_guard(o, call, 0, clause) &&
           oracle_note_live(o, obs, 0, clause, "a save_continue that does nothing");
}

static const char *progress_clause(const oracle_session *s, const oracle_continue_call *call,
                                   NTSTATUS status, bool next_is_end)
{
    if (s->too_small != 0 && call->size >= s->too_small)
        return CLAUSE(SAVE_CONTINUE_TOO_SMALL_RETRY_PROGRESSES);
    if (call->size >= VMBSAVE_MAX_CHUNK_BYTES)
        return CLAUSE(SAVE_CONTINUE_MAX_CHUNK_PROGRESS);
    if (status == STATUS_BUFFER_TOO_SMALL)
        return CLAUSE(SAVE_CONTINUE_TOO_SMALL_NO_PROGRESS);
    return next_is_end ? CLAUSE(SAVE_CONTINUE_SUCCESS_COMPLETE) : CLAUSE(SAVE_CONTINUE_OVERFLOW_PROGRESS);
}

/* A chunk written at the wrong place in the image: what moved the session's position. */
static const char *position_clause(const oracle_session *s)
{
    switch (s->last_event) {
    case ORACLE_EVENT_TOO_SMALL: return CLAUSE(SAVE_CONTINUE_TOO_SMALL_NO_PROGRESS);
    case ORACLE_EVENT_SIZE_QUERY: return CLAUSE(SAVE_CONTINUE_SIZE_QUERY);
    case ORACLE_EVENT_PARAMS: return CLAUSE(SAVE_CONTINUE_PARAMS);
    case ORACLE_EVENT_REFUSED_BEGIN: return CLAUSE(SAVE_BEGIN_ACTIVE_SESSION);
    case ORACLE_EVENT_BEGIN:
        return s->index > 0 ? CLAUSE(SAVE_END_NEW_SESSION_IDENTICAL) : CLAUSE(SAVE_CONTINUE_WHOLE_CHUNKS);
    default: return CLAUSE(SAVE_CONTINUE_WHOLE_CHUNKS);
    }
}

static bool callbacks_missing(vmbsave_oracle *o, const oracle_channel *c, const char *what)
{
    const oracle_session *s = &c->s;
    if (s->plan.too_large) /* the model stopped, not the implementation */
        return oracle_harness_error(o,
                                    "the image of the channel's state is larger than a run holds "
                                    "(%u chunks or %u bytes, VMBSAVE_RUN_MAX_CHUNKS and "
                                    "VMBSAVE_RUN_MAX_IMAGE_BYTES)",
                                    ORACLE_MAX_CHUNKS, ORACLE_MAX_IMAGE);
    uint32_t k = s->plan.stuck_packet;
    vmbsave_violation *v =
        oracle_violation(o, CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST), VMBSAVE_CHECK_CALLBACK);
    if (k == UINT32_MAX || k >= c->m.packet_count) {
        vmbsave_value_set_rule(&v->want, "save_packet calls");
        vmbsave_value_note(&v->want, " before %s", what);
        vmbsave_value_set_callbacks(&v->seen, false, 0, 0, 0);
        return false;
    }
    const oracle_packet_answer *a = &s->answers[k];
    vmbsave_value_set_callback(&v->want, false, c->m.packets[k].id, a->first ? a->need : 0u);
    vmbsave_value_note(&v->want, " before %s", what);
    vmbsave_value_set_rule(&v->seen, a->first ? "no second call" : "no size query");
    return false;
}

/* Does an observed GPADLS / PACKETS / RING payload carry the model's records from `first` on,
 * only packed differently (FORMAT.CHUNKING.CANONICAL rather than missing content)? */
static bool same_records(vmbsave_oracle *o, const oracle_channel *c, const vmbsave_chunk *h,
                         const uint8_t *payload, const oracle_chunk_plan *plan)
{
    const oracle_state *m = &c->m;
    uint32_t size = h->payload_bytes;
    uint8_t *rec = o->record;
    if (h->type == VMBSAVE_CHUNK_RING) {
        if (size <= VMBSAVE_RING_PIECE_FIXED)
            return false;
        uint32_t dir = vmbsave_get_u32(payload), off = vmbsave_get_u32(payload + 4);
        uint32_t piece = size - VMBSAVE_RING_PIECE_FIXED;
        return dir == plan->dir && off == plan->first && dir < 2 &&
               (uint64_t)off + piece <= m->rings[dir].len &&
               memcmp(payload + 8, oracle_ring_data(&m->rings[dir]) + off, piece) == 0;
    }
    if (size < VMBSAVE_RECORD_COUNT_BYTES)
        return false;
    uint32_t count = vmbsave_get_u32(payload), at = VMBSAVE_RECORD_COUNT_BYTES;
    uint32_t total = h->type == VMBSAVE_CHUNK_GPADLS ? m->gpadl_count : m->packet_count;
    if (count == 0 || count > total - plan->first)
        return false;
    for (uint32_t i = plan->first; i < plan->first + count; i++) {
        uint32_t n;
        if (h->type == VMBSAVE_CHUNK_GPADLS) {
            const oracle_gpadl *g = &m->gpadls[i];
            n = VMBSAVE_GPADL_RECORD_FIXED + 8u * g->pfn_count;
            vmbsave_put_u32(rec, n);
            vmbsave_put_u32(rec + 4, g->id);
            vmbsave_put_u32(rec + 8, g->state);
            vmbsave_put_u32(rec + 12, g->pfn_count);
            const uint64_t *pfns = oracle_gpadl_pfns(o, m, g);
            for (uint32_t k = 0; k < g->pfn_count; k++)
                vmbsave_put_u64(rec + 16 + 8u * k, pfns[k]);
        } else {
            const oracle_packet *p = &m->packets[i];
            const oracle_packet_answer *a = &c->s.answers[i];
            if (!a->first || a->failure != 0 || (a->need != 0 && !a->second))
                return false;
            n = VMBSAVE_PACKET_RECORD_FIXED + p->bytes + a->need;
            vmbsave_put_u32(rec, n);
            vmbsave_put_u64(rec + 4, p->id);
            vmbsave_put_u64(rec + 12, p->seq);
            vmbsave_put_u32(rec + 20, p->gpadl);
            vmbsave_put_u32(rec + 24, p->bytes);
            vmbsave_put_u32(rec + 28, a->need);
            memcpy(rec + 32, oracle_packet_payload(o, m, p), p->bytes);
            memset(rec + 32 + p->bytes, 0, a->need);
            vmbsave_driver_state(p->id, rec + 32 + p->bytes, a->written);
        }
        if (n > size - at || memcmp(payload + at, rec, n) != 0)
            return false;
        at += n;
    }
    return at == size;
}

/* The written bytes differ from the model's image in content: record what is needed to name
 * the clause (oracle_diagnose) once the runner has made two clean one-shot reads. `produced` is
 * the session's image length with this call's bytes. */
static oracle_verdict content_mismatch(vmbsave_oracle *o, uint32_t slot, uint32_t chunk,
                                       uint32_t produced, const vmbsave_value *seen)
{
    oracle_channel *c = &o->ch[slot];
    oracle_session *s = &c->s;
    vmbsave_violation *v = oracle_violation(o, CLAUSE(SAVE_IMAGE_COMPLETE), VMBSAVE_CHECK_IMAGE);
    const oracle_chunk_plan *p = &s->plan.chunks[chunk];
    vmbsave_value_set_chunk_shape(&v->want, chunk, p->type, p->size, p->offset);
    vmbsave_value_note(&v->want, " as the model writes it");
    v->seen = *seen;
    /* Keep the expected prefix for the reproducer; the diagnosis reuses the plan. */
    oracle_plan_write(o, &s->plan, &c->m, s->answers, s->plan.planned);
    uint32_t n = s->plan.bytes_written < produced ? s->plan.bytes_written : produced;
    memcpy(o->diag_expected, s->plan.image, n);
    o->v_image = o->diag_expected;
    o->v_image_size = n;
    o->diag.slot = slot;
    o->diag.chunk = chunk;
    o->diag.was_one_shot = s->one_shot_like;
    o->diag.session_index = s->index;
    o->diag.last_event = s->last_event;
    o->diag.restored_unchanged = c->restored_unchanged;
    o->diag.chunked_verified = c->chunked_verified;
    o->diag.observed_len = produced;
    return ORACLE_DIAGNOSE;
}

static oracle_verdict chunk_problem(vmbsave_oracle *o, const char *clause, uint32_t g,
                                    const char *expected, const vmbsave_value *seen)
{
    vmbsave_violation *v = oracle_violation(o, clause, VMBSAVE_CHECK_CHUNKS);
    vmbsave_value_set_chunk(&v->want, g);
    vmbsave_value_note(&v->want, ": %s", expected);
    v->seen = *seen;
    return ORACLE_VIOLATION;
}

/* The packet of a planned PACKETS chunk whose driver state is not known yet. */
static void find_unanswered(oracle_session *s, const oracle_chunk_plan *p)
{
    if (p->type != VMBSAVE_CHUNK_PACKETS)
        return; /* another chunk is unwritten only past the image's bound (plan too_large) */
    for (uint32_t j = p->first; j < p->first + p->count; j++) {
        const oracle_packet_answer *a = &s->answers[j];
        if (!a->first || (a->need != 0 && !a->second)) {
            s->plan.stuck_packet = j;
            return;
        }
    }
}

/* The chunks written by a call that made progress: bytes [0, filled) of the buffer. Returns the
 * number of chunks through *k. */
static oracle_verdict check_written(vmbsave_oracle *o, uint32_t slot, const uint8_t *buf,
                                    uint32_t filled, uint32_t *k)
{
    oracle_channel *c = &o->ch[slot];
    oracle_session *s = &c->s;
    oracle_plan *plan = &s->plan;
    char ex[160];
    vmbsave_value ob; /* what was observed, for a violation */
    uint32_t off = 0, i = 0;
    uint32_t base = plan->chunks[s->pos].offset;
    unsigned prev_rank = s->pos == 0 ? 0 : vmbsave_chunk_rank(plan->chunks[s->pos - 1u].type);
    while (off < filled) {
        uint32_t g = s->pos + i;
        vmbsave_chunk h;
        vmbsave_chunk_fault f = vmbsave_chunk_check(buf + off, filled - off, &h);
        /* Shape first: whole chunks tiling BytesFilled. */
        if (f == VMBSAVE_CHUNK_SHORT_HEADER || f == VMBSAVE_CHUNK_BAD_MAGIC ||
            f == VMBSAVE_CHUNK_SHORT_PAYLOAD) {
            memset(&ob, 0, sizeof ob);
            vmbsave_value_set_byte(&ob, off, VMBSAVE_BYTE_IN_BUFFER);
            vmbsave_value_note(&ob, "..%" PRIu32 ": %s", filled, vmbsave_chunk_fault_name(f));
            return chunk_problem(o, CLAUSE(SAVE_CONTINUE_WHOLE_CHUNKS), g,
                                 "whole chunks tiling BytesFilled", &ob);
        }
        if (f == VMBSAVE_CHUNK_TOO_LARGE) {
            memset(&ob, 0, sizeof ob);
            vmbsave_value_set_number(&ob, h.payload_bytes);
            vmbsave_value_note(&ob, "payload_bytes ");
            ob.note_first = true;
            return chunk_problem(o, CLAUSE(LIMIT_CHUNK), g, "at most 65,536 bytes", &ob);
        }
        if (g >= plan->planned)
            oracle_plan_extend(plan, &c->m, s->answers);
        if (g >= plan->planned) {
            if (plan->end_planned) {
                memset(&ob, 0, sizeof ob);
                vmbsave_value_set_chunk_shape(&ob, g, h.type, h.size, base + off);
                vmbsave_value_note(&ob, " after END");
                return chunk_problem(o, CLAUSE(FORMAT_ORDER), g, "nothing after the END chunk", &ob);
            }
            callbacks_missing(o, c, "its record is written");
            return ORACLE_VIOLATION;
        }
        const oracle_chunk_plan *p = &plan->chunks[g];
        /* The header's own fields (FORMAT.LAYOUT), unless this is a right chunk at a wrong
         * place: then whatever moved the session's position is to blame. */
        bool header_ok = f == VMBSAVE_CHUNK_OK && h.minor == VMBSAVE_CHUNK_MINOR && h.flags == 0 &&
                         h.image_id == plan->image_id;
        if (header_ok && h.sequence != g && h.sequence < plan->planned) {
            uint32_t q = h.sequence;
            oracle_plan_write(o, plan, &c->m, s->answers, q + 1u);
            const oracle_chunk_plan *pq = &plan->chunks[q];
            if (q < plan->written && pq->size == h.size &&
                memcmp(plan->image + pq->offset, buf + off, h.size) == 0) {
                oracle_text(ex, sizeof ex, "%s (sequence %" PRIu32 ")",
                            vmbsave_chunk_type_name(p->type), g);
                memset(&ob, 0, sizeof ob);
                vmbsave_value_set_chunk_shape(&ob, q, pq->type, pq->size, pq->offset);
                vmbsave_value_note(&ob, " of the image");
                return chunk_problem(o, position_clause(s), g, ex, &ob);
            }
        }
        if (!header_ok || h.sequence != g) {
            /* The header field at fault, as the chunk's number, with the field in words. */
            memset(&ob, 0, sizeof ob);
            vmbsave_value_set_chunk(&ob, g);
            if (f != VMBSAVE_CHUNK_OK)
                vmbsave_value_note(&ob, ": %s", vmbsave_chunk_fault_name(f));
            else if (h.sequence != g)
                vmbsave_value_note(&ob, ": sequence %" PRIu32, h.sequence);
            else if (h.image_id != plan->image_id)
                vmbsave_value_note(&ob, ": image_id %016" PRIx64 " (the model's is %016" PRIx64 ")",
                                   h.image_id, plan->image_id);
            else
                vmbsave_value_note(&ob, ": minor %u flags 0x%x", (unsigned)h.minor,
                                   (unsigned)h.flags);
            return chunk_problem(o, CLAUSE(FORMAT_LAYOUT), g,
                                 "a 40-byte header with magic, major 1, minor 0, its sequence, "
                                 "the image id and a checksum that verifies",
                                 &ob);
        }
        unsigned rank = vmbsave_chunk_rank(h.type);
        if (h.type != p->type) {
            if (rank == 0 || rank < prev_rank || (rank == 1 && g != 0) || (g == 0 && rank != 1)) {
                memset(&ob, 0, sizeof ob);
                vmbsave_value_set_chunk_shape(&ob, g, h.type, h.size, base + off);
                vmbsave_value_note(&ob, " after %s",
                                   g == 0 ? "nothing"
                                          : vmbsave_chunk_type_name(plan->chunks[g - 1u].type));
                return chunk_problem(o, CLAUSE(FORMAT_ORDER), g,
                                     "HEADER GPADLS* PACKETS* RING(in)* RING(out)* END", &ob);
            }
            memset(&ob, 0, sizeof ob);
            vmbsave_value_set_chunk_shape(&ob, g, h.type, h.size, base + off);
            return content_mismatch(o, slot, g, base + filled, &ob);
        }
        if (h.size != p->size) {
            if (same_records(o, c, &h, buf + off + VMBSAVE_CHUNK_HEADER_BYTES, p)) {
                oracle_text(ex, sizeof ex, "%" PRIu32 " bytes (greedy packing)", p->size);
                memset(&ob, 0, sizeof ob);
                vmbsave_value_set_chunk_shape(&ob, g, h.type, h.size, base + off);
                vmbsave_value_note(&ob, " holding the right records");
                return chunk_problem(o, CLAUSE(FORMAT_CHUNKING_CANONICAL), g, ex, &ob);
            }
            memset(&ob, 0, sizeof ob);
            vmbsave_value_set_chunk_shape(&ob, g, h.type, h.size, base + off);
            return content_mismatch(o, slot, g, base + filled, &ob);
        }
        oracle_plan_write(o, plan, &c->m, s->answers, g + 1u);
        if (plan->written <= g) {
            find_unanswered(s, p);
            callbacks_missing(o, c, "its record is written");
            return ORACLE_VIOLATION;
        }
        if (memcmp(plan->image + p->offset, buf + off, h.size) != 0) {
            uint32_t at = 0;
            while (plan->image[p->offset + at] == buf[off + at])
                at++;
            memset(&ob, 0, sizeof ob);
            vmbsave_value_set_byte_value(&ob, at, VMBSAVE_BYTE_IN_CHUNK, buf[off + at]);
            vmbsave_value_note(&ob, ", the model's 0x%02x", plan->image[p->offset + at]);
            return content_mismatch(o, slot, g, base + filled, &ob);
        }
        prev_rank = rank;
        off += h.size;
        i++;
    }
    *k = i;
    return ORACLE_OK;
}

oracle_verdict oracle_save_continue(vmbsave_oracle *o, uint32_t slot,
                                    const oracle_continue_call *call, NTSTATUS status,
                                    const oracle_obs *obs)
{
    oracle_channel *c = &o->ch[slot];
    oracle_session *s = &c->s;
    int64_t delta = oracle_obs_live_delta(obs);
    c->held += delta;
    c->desc_clause = CLAUSE(SAVE_END_NO_STATE_CHANGE);

    /* SAVE.CONTINUE.PARAMS: checked before anything else, and change nothing. */
    if (call->null_filled || call->null_required || (call->null_buffer && call->size != 0)) {
        if (!check_no_op(o, call, STATUS_INVALID_PARAMETER, status, obs, CLAUSE(SAVE_CONTINUE_PARAMS)))
            return ORACLE_VIOLATION;
        if (s->phase != ORACLE_SESSION_NONE)
            s->last_event = ORACLE_EVENT_PARAMS;
        return ORACLE_OK;
    }
    switch (s->phase) {
    case ORACLE_SESSION_NONE:
        return check_no_op(o, call, STATUS_INVALID_DEVICE_STATE, status, obs,
                           s->begin_nomem ? CLAUSE(SAVE_BEGIN_NO_MEMORY) : CLAUSE(SAVE_CONTINUE_NO_SESSION))
                   ? ORACLE_OK
                   : ORACLE_VIOLATION;
    case ORACLE_SESSION_COMPLETED:
        return check_no_op(o, call, STATUS_INVALID_DEVICE_STATE, status, obs,
                           CLAUSE(SAVE_CONTINUE_AFTER_SUCCESS))
                   ? ORACLE_OK
                   : ORACLE_VIOLATION;
    case ORACLE_SESSION_STICKY:
        return check_no_op(o, call, s->sticky, status, obs, CLAUSE(SAVE_CONTINUE_STICKY_ERROR))
                   ? ORACLE_OK
                   : ORACLE_VIOLATION;
    case ORACLE_SESSION_ACTIVE: break;
    }
    s->held += delta;
    if (call->size < VMBSAVE_MAX_CHUNK_BYTES)
        s->one_shot_like = false;

    /* What the driver said during the call, and the failure it calls for. */
    NTSTATUS failure;
    const char *failure_clause;
    if (!process_callbacks(o, c, obs, &failure, &failure_clause))
        return ORACLE_VIOLATION;
    bool faulted = oracle_obs_faulted(obs);
    if (failure != 0 || faulted) {
        NTSTATUS allowed[2];
        unsigned n = 0;
        if (failure != 0)
            allowed[n++] = failure;
        if (faulted)
            allowed[n++] = STATUS_INSUFFICIENT_RESOURCES;
        const char *clause = failure != 0 ? failure_clause : CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS);
        if (status != allowed[0] && (n < 2 || status != allowed[1])) {
            oracle_status_violation(o, clause, allowed, n, status);
            return ORACLE_VIOLATION;
        }
        if (!check_zero_counts(o, call, CLAUSE(SAVE_CONTINUE_STICKY_ERROR)) ||
            !check_guard(o, call, call->size, CLAUSE(SAVE_CONTINUE_NO_OVERRUN)))
            return ORACLE_VIOLATION;
        s->phase = ORACLE_SESSION_STICKY;
        s->sticky = status;
        return ORACLE_OK;
    }

    oracle_plan *plan = &s->plan;
    oracle_plan_extend(plan, &c->m, s->answers);
    if (s->pos >= plan->planned) {
        callbacks_missing(o, c, "the next chunk's size is known");
        return ORACLE_VIOLATION;
    }
    const oracle_chunk_plan *next = &plan->chunks[s->pos];
    uint32_t need = next->size;

    if (call->size < need) {
        /* Nothing fits: TOO_SMALL, BytesRequired the next chunk's size, nothing written. */
        const char *clause =
            call->size == 0 ? CLAUSE(SAVE_CONTINUE_SIZE_QUERY) : CLAUSE(SAVE_CONTINUE_TOO_SMALL_NO_PROGRESS);
        if (!status_is(o, clause, STATUS_BUFFER_TOO_SMALL, status))
            return ORACLE_VIOLATION;
        if (call->filled != 0 || call->required != need) {
            vmbsave_violation *v = oracle_violation(o, clause, VMBSAVE_CHECK_COUNTS);
            vmbsave_value_set_filled(&v->want, 0, 0);
            vmbsave_value_set_required(&v->want, need, need);
            vmbsave_value_set_filled(&v->seen, call->filled, call->filled);
            vmbsave_value_set_required(&v->seen, call->required, call->required);
            return ORACLE_VIOLATION;
        }
        if (!check_guard(o, call, 0, clause))
            return ORACLE_VIOLATION;
        s->required = need;
        s->too_small = need;
        s->last_event = call->size == 0 ? ORACLE_EVENT_SIZE_QUERY : ORACLE_EVENT_TOO_SMALL;
        return ORACLE_OK;
    }

    /* The next chunk fits: progress. */
    bool next_is_end = next->type == VMBSAVE_CHUNK_END;
    if (status != STATUS_BUFFER_OVERFLOW && status != STATUS_SUCCESS) {
        const NTSTATUS progress[2] = {STATUS_BUFFER_OVERFLOW, STATUS_SUCCESS};
        oracle_status_violation(o, progress_clause(s, call, status, next_is_end),
                                next_is_end ? progress + 1 : progress, next_is_end ? 1u : 2u,
                                status);
        vmbsave_value_note(&o->v.want, " (the next chunk, %" PRIu32 " bytes, fits in %" PRIu32 ")",
                           need, call->size);
        return ORACLE_VIOLATION;
    }
    const char *count_clause = status == STATUS_SUCCESS ? CLAUSE(SAVE_CONTINUE_SUCCESS_COMPLETE)
                                                        : CLAUSE(SAVE_CONTINUE_OVERFLOW_PROGRESS);
    if (call->filled == 0 || call->filled > call->size) {
        vmbsave_violation *v = oracle_violation(o, count_clause, VMBSAVE_CHECK_COUNTS);
        vmbsave_value_set_filled(&v->want, need, call->size);
        vmbsave_value_set_filled(&v->seen, call->filled, call->filled);
        return ORACLE_VIOLATION;
    }
    if (!check_guard(o, call, call->filled, CLAUSE(SAVE_CONTINUE_NO_OVERRUN)))
        return ORACLE_VIOLATION;
    uint32_t k = 0;
    oracle_verdict verdict = check_written(o, slot, call->buf, call->filled, &k);
    if (verdict != ORACLE_OK)
        return verdict;
    uint32_t last = s->pos + k - 1u;
    bool wrote_end = plan->chunks[last].type == VMBSAVE_CHUNK_END;
    if (wrote_end != (status == STATUS_SUCCESS)) {
        NTSTATUS want = wrote_end ? STATUS_SUCCESS : STATUS_BUFFER_OVERFLOW;
        oracle_status_violation(o,
                                wrote_end ? CLAUSE(SAVE_CONTINUE_SUCCESS_COMPLETE)
                                          : CLAUSE(SAVE_CONTINUE_OVERFLOW_PROGRESS),
                                &want, 1, status);
        vmbsave_value_note(&o->v.want, " (the call %s the END chunk)",
                           wrote_end ? "wrote" : "did not write");
        return ORACLE_VIOLATION;
    }
    uint32_t want_required = 0;
    if (!wrote_end) {
        oracle_plan_extend(plan, &c->m, s->answers);
        if (last + 1u >= plan->planned) {
            callbacks_missing(o, c, "BytesRequired gives the next chunk's size");
            return ORACLE_VIOLATION;
        }
        want_required = plan->chunks[last + 1u].size;
    }
    if (call->required != want_required) {
        vmbsave_violation *v = oracle_violation(o, count_clause, VMBSAVE_CHECK_COUNTS);
        vmbsave_value_set_required(&v->want, want_required, want_required);
        vmbsave_value_set_required(&v->seen, call->required, call->required);
        return ORACLE_VIOLATION;
    }
    s->pos += k;
    s->too_small = 0;
    s->last_event = ORACLE_EVENT_PROGRESS;
    if (want_required != 0)
        s->required = want_required;
    if (wrote_end)
        s->phase = ORACLE_SESSION_COMPLETED;
    return ORACLE_OK;
}

/* ---- save_end ---------------------------------------------------------------------------- */

bool oracle_save_end(vmbsave_oracle *o, uint32_t slot, const oracle_obs *obs)
{
    oracle_channel *c = &o->ch[slot];
    oracle_session *s = &c->s;
    if (!oracle_no_callbacks(o, obs, "save_end", CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST)))
        return false;
    c->held += oracle_obs_live_delta(obs);
    c->desc_clause = CLAUSE(SAVE_END_NO_STATE_CHANGE);
    if (s->phase == ORACLE_SESSION_NONE) {
        s->begin_nomem = false;
        return oracle_note_live(o, obs, 0, CLAUSE(SAVE_END_ALWAYS_SAFE),
                                "save_end with no session is a no-op");
    }
    if (!oracle_check_live(o, obs, -s->held, CLAUSE(SAVE_END_FREES_SESSION),
                           "the live count from before save_begin"))
        return false;
    if (s->phase == ORACLE_SESSION_COMPLETED && !s->one_shot_like)
        c->chunked_verified = true;
    s->phase = ORACLE_SESSION_NONE;
    s->begin_nomem = false;
    s->held = 0;
    s->required = 0; /* no session: "required" is 1 again (docs/PROGRAMS.md) */
    return true;
}

bool oracle_store_image(vmbsave_oracle *o, uint32_t slot, uint32_t image)
{
    oracle_channel *c = &o->ch[slot];
    oracle_session *s = &c->s;
    oracle_image *img = &o->img[image];
    const oracle_plan *p = &s->plan;
    img->full = true;
    img->preloaded = false; /* a CAPTURE's image is valid to its last byte (oracle_restore.c) */
    img->size = p->bytes_written;
    img->chunk_count = p->written;
    for (uint32_t i = 0; i < p->written; i++)
        img->chunk_off[i] = p->chunks[i].offset;
    img->chunk_off[p->written] = p->bytes_written;
    img->image_id = p->image_id;
    memcpy(img->bytes, p->image, p->bytes_written);
    if (!oracle_state_copy(&img->model, &c->m)) {
        img->full = false;
        return oracle_nomem(o, "a captured state");
    }
    for (uint32_t i = 0; i < c->m.packet_count; i++) {
        img->dstate_need[i] = s->answers[i].need;
        img->dstate_written[i] = s->answers[i].written;
    }
    return true;
}

/* ---- Diagnosis of an image that differs ---------------------------------------------------- */

void oracle_diagnose(vmbsave_oracle *o, const bool ok[2], const uint8_t *const bytes[2],
                     const uint32_t len[2])
{
    /* o->v holds the mismatch; decide which clause it breaks from two clean one-shot reads. */
    oracle_channel *c = &o->ch[o->diag.slot];
    const char *content =
        o->diag.restored_unchanged ? CLAUSE(RESTORE_FIXED_POINT) : CLAUSE(SAVE_IMAGE_COMPLETE);
    const char *clause = content;
    if (ok[0] && ok[1]) {
        bool same = len[0] == len[1] && memcmp(bytes[0], bytes[1], len[0]) == 0;
        oracle_packet_answer *answers = o->diag_answers;
        bool expectable = oracle_answers_for_mode(o->host, &c->m, answers);
        bool right = false;
        if (expectable) {
            oracle_plan *plan = &c->s.plan;
            oracle_plan_reset(plan, &c->m);
            oracle_plan_extend(plan, &c->m, answers);
            oracle_plan_write(o, plan, &c->m, answers, plan->planned);
            right = plan->end_planned && plan->written == plan->planned &&
                    plan->bytes_written == len[0] && memcmp(plan->image, bytes[0], len[0]) == 0;
        }
        if (!same)
            clause = CLAUSE(SAVE_IMAGE_DETERMINISTIC);
        else if (right)
            clause = o->diag.was_one_shot
                         ? (o->diag.session_index > 0 ? CLAUSE(SAVE_END_NEW_SESSION_IDENTICAL)
                                                      : CLAUSE(SAVE_IMAGE_DETERMINISTIC))
                         : CLAUSE(SAVE_IMAGE_BUFFER_INDEPENDENT);
        else if (o->diag.was_one_shot && o->diag.chunked_verified)
            clause = CLAUSE(SAVE_IMAGE_BUFFER_INDEPENDENT);
    }
    oracle_text(o->v.clause, sizeof o->v.clause, "%s", clause);
}
