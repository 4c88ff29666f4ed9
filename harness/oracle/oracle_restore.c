/* The oracle's restores (harness/oracle/oracle.h): restore_from_buffer checked against RESTORE.*,
 * PACKET.RESTORE.* and FORMAT.md's reader validation order.
 *
 * Each call is simulated chunk by chunk as a reader must validate it: steps 1-7 from the bytes
 * (harness/image/chunks.c), step 8 (image identity) and step 9 (sequence and order) from what the
 * channel has accepted so far. Step 11 (payload content) and step 12 (totals, digest, references)
 * cannot fail for the chunks of a genuine image, so the oracle tracks whether the accepted bytes
 * are still a prefix of some image slot's image: while they are, every check must pass, and at
 * END the restore must commit to exactly that image's state. Once they are not (a foreign chunk
 * with the same image id mixed in), the reader may refuse any chunk from there on with a
 * content status, and must refuse at END at the latest (the digest ties every chunk to its
 * image).
 *
 * A preloaded image whose content FORMAT.md's reader (oracle_reader.c) refuses at a chunk before
 * END may be refused by the call carrying that chunk or by any later call up to END, with that
 * check's status (RESTORE.CORRUPT.WHEN): the restore is then "doomed", and every later call may
 * go on (MORE_PROCESSING_REQUIRED), fail with the doomed status(es), or fail with the status of
 * a check of steps 1-10 that one of its own chunks breaks; the END call must fail. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "oracle/oracle.h"

/* What steps 11 and 12 may answer for chunks mixed from images sharing an image id. */
static const NTSTATUS lenient[] = {STATUS_FILE_CORRUPT_ERROR, STATUS_IMPLEMENTATION_LIMIT,
                                   STATUS_REVISION_MISMATCH, STATUS_NOT_FOUND,
                                   STATUS_DUPLICATE_OBJECTID};
#define LENIENT_COUNT (sizeof lenient / sizeof lenient[0])

void oracle_restore_step_begin(vmbsave_oracle *o, uint32_t slot)
{
    oracle_restore *r = &o->ch[slot].r;
    bool any = false;
    for (unsigned i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
        const oracle_image *img = &o->img[i];
        r->prefix_ok[i] = img->full && img->size >= r->accepted_len &&
                          memcmp(img->bytes, r->accepted, r->accepted_len) == 0;
        any = any || r->prefix_ok[i];
    }
    if (r->active)
        r->uncertain = !any || r->doomed;
}

/* The outcome the contract gives one call. */
typedef struct prediction {
    NTSTATUS status; /* MORE_PROCESSING_REQUIRED, SUCCESS, or the first failing check's */
    const char *clause;
    char why[160];
    bool lenient; /* a content status is also allowed (a mixed image) */
    NTSTATUS also; /* a second status FORMAT.md allows (0: none), from a preloaded image */
    bool doomed;   /* a failure the reader may leave to END was passed over */
    NTSTATUS doomed_status[2];
    uint32_t doomed_statuses;
    const char *doomed_clause;
    bool doomed_here; /* ... by a chunk of this call */
    bool newer;       /* the bytes are a prefix of a valid preloaded newer-minor image */
    /* Staged state after the call if it succeeds. */
    uint32_t next_seq;
    uint64_t image_id;
    unsigned rank;
    bool uncertain;
    uint32_t accepted_len;
    bool prefix_ok[VMBSAVE_PROGRAM_IMAGES];
    int end_image; /* SUCCESS: the image slot whose state is committed */
} prediction;

static const char *fault_clause(vmbsave_chunk_fault f)
{
    switch (f) {
    case VMBSAVE_CHUNK_SHORT_HEADER:
    case VMBSAVE_CHUNK_SHORT_PAYLOAD: return CLAUSE(RESTORE_PARTIAL_CHUNK);
    case VMBSAVE_CHUNK_BAD_MAGIC: return CLAUSE(RESTORE_CORRUPT_MAGIC);
    case VMBSAVE_CHUNK_BAD_MAJOR: return CLAUSE(RESTORE_VERSION_MAJOR);
    case VMBSAVE_CHUNK_TOO_LARGE: return CLAUSE(RESTORE_LIMITS_BEFORE_ALLOC);
    case VMBSAVE_CHUNK_BAD_CHECKSUM: return CLAUSE(RESTORE_CORRUPT_CHECKSUM);
    case VMBSAVE_CHUNK_BAD_RESERVED: return CLAUSE(RESTORE_CORRUPT_RESERVED);
    default: return CLAUSE(RESTORE_WHOLE_CHUNKS);
    }
}

static void predict(vmbsave_oracle *o, oracle_channel *c, const uint8_t *data, uint32_t size,
                    prediction *p)
{
    oracle_restore *r = &c->r;
    p->status = STATUS_MORE_PROCESSING_REQUIRED;
    p->clause = CLAUSE(RESTORE_MORE_PROCESSING);
    p->why[0] = '\0';
    p->next_seq = r->active ? r->next_seq : 0u;
    p->image_id = r->active ? r->image_id : 0u;
    p->rank = r->active ? r->rank : 0u;
    p->uncertain = r->active && r->uncertain;
    p->accepted_len = r->active ? r->accepted_len : 0u;
    p->end_image = -1;
    p->also = 0;
    p->doomed = r->active && r->doomed;
    p->doomed_here = false;
    p->newer = false;
    p->doomed_statuses = p->doomed ? r->doomed_statuses : 0u;
    p->doomed_clause = p->doomed ? r->doomed_clause : NULL;
    if (p->doomed)
        memcpy(p->doomed_status, r->doomed_status, sizeof p->doomed_status);
    bool mixed = r->active;
    for (unsigned i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
        p->prefix_ok[i] = r->active ? r->prefix_ok[i] : o->img[i].full;
        mixed = mixed && !p->prefix_ok[i];
    }
    /* A doomed restore is uncertain (no image to commit) but not mixed: only its own statuses. */
    p->lenient = p->uncertain && (!p->doomed || mixed);

    uint32_t pos = 0, index = 0;
    bool end_taken = false;
    while (pos < size) {
        uint32_t g = p->next_seq;
        if (end_taken) {
            p->status = STATUS_REQUEST_OUT_OF_SEQUENCE;
            p->clause = CLAUSE(RESTORE_MORE_PROCESSING);
            oracle_text(p->why, sizeof p->why, "%" PRIu32 " byte(s) after the END chunk",
                        size - pos);
            return;
        }
        vmbsave_chunk h;
        vmbsave_chunk_fault f = vmbsave_chunk_check(data + pos, size - pos, &h);
        if (f != VMBSAVE_CHUNK_OK) {
            p->status = vmbsave_chunk_fault_status(f);
            p->clause = fault_clause(f);
            oracle_text(p->why, sizeof p->why, "chunk %" PRIu32 " of the call: %s", index,
                        vmbsave_chunk_fault_name(f));
            return;
        }
        const uint8_t *payload = data + pos + VMBSAVE_CHUNK_HEADER_BYTES;
        if (h.type == VMBSAVE_CHUNK_HEADER &&
            h.image_id != vmbsave_hash(payload, h.payload_bytes, 0)) {
            p->status = STATUS_FILE_CORRUPT_ERROR;
            p->clause = CLAUSE(RESTORE_CORRUPT_IMAGE_ID);
            oracle_text(p->why, sizeof p->why, "a HEADER whose image id is not its hash");
            return;
        }
        if (g != 0 && h.image_id != p->image_id) {
            p->status = STATUS_REVISION_MISMATCH;
            p->clause = CLAUSE(RESTORE_FOREIGN_CHUNK);
            oracle_text(p->why, sizeof p->why,
                        "chunk %" PRIu32 " of the call has image id %016" PRIx64
                        ", the restore's is %016" PRIx64,
                        index, h.image_id, p->image_id);
            return;
        }
        unsigned rank = vmbsave_chunk_rank(h.type);
        bool out_of_order = g == 0 ? rank != 1u : (rank == 1u || (rank != 0 && rank < p->rank));
        if (h.sequence != g || out_of_order) {
            p->status = STATUS_REQUEST_OUT_OF_SEQUENCE;
            p->clause = CLAUSE(RESTORE_SEQUENCE);
            if (h.sequence != g)
                oracle_text(p->why, sizeof p->why, "sequence %" PRIu32 " where %" PRIu32 " is next",
                            h.sequence, g);
            else
                oracle_text(p->why, sizeof p->why, "a %s chunk out of order",
                            vmbsave_chunk_type_name(h.type));
            return;
        }
        if (rank == 0 && (h.flags & VMBSAVE_CHUNK_FLAG_OPTIONAL) == 0) {
            p->status = STATUS_NOT_SUPPORTED;
            p->clause = CLAUSE(RESTORE_UNKNOWN_CHUNK);
            oracle_text(p->why, sizeof p->why, "an unknown chunk type 0x%x", (unsigned)h.type);
            return;
        }
        /* Step 11: content. A genuine prefix passes; anything else may be refused from here. */
        bool any = false;
        if ((uint64_t)p->accepted_len + h.size <= ORACLE_MAX_IMAGE)
            memcpy(c->r.accepted + p->accepted_len, data + pos, h.size);
        for (unsigned i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
            const oracle_image *img = &o->img[i];
            p->prefix_ok[i] = p->prefix_ok[i] && img->full &&
                              (uint64_t)img->size >= (uint64_t)p->accepted_len + h.size &&
                              memcmp(img->bytes + p->accepted_len, data + pos, h.size) == 0;
            any = any || p->prefix_ok[i];
        }
        if (!any) {
            p->uncertain = true;
            p->lenient = true;
        }
        /* A preloaded image's content, as FORMAT.md's reader found it (oracle_reader.c): every
         * slot the bytes are a prefix of agrees, as they hold the same bytes up to here. */
        for (unsigned i = 0; i < VMBSAVE_PROGRAM_IMAGES && !p->uncertain; i++) {
            const oracle_read_verdict *rv = &o->img[i].read;
            if (!p->prefix_ok[i] || !o->img[i].preloaded || rv->valid ||
                rv->fail_at != p->accepted_len)
                continue;
            p->status = rv->status[0];
            p->also = rv->statuses > 1u ? rv->status[1] : 0;
            p->clause = rv->clause;
            oracle_text(p->why, sizeof p->why, "chunk %" PRIu32 " of the call: %s", index, rv->why);
            if (!rv->deferrable)
                return;
            /* Refused now, or by a later call up to END with the same status (RESTORE.CORRUPT.WHEN). */
            p->doomed = true;
            p->doomed_here = true;
            p->doomed_statuses = rv->statuses;
            memcpy(p->doomed_status, rv->status, sizeof p->doomed_status);
            p->doomed_clause = rv->clause;
            p->status = STATUS_MORE_PROCESSING_REQUIRED;
            p->also = 0;
            p->uncertain = true;
            break;
        }
        if (g == 0)
            p->image_id = h.image_id;
        p->accepted_len += h.size;
        p->next_seq++;
        if (rank != 0)
            p->rank = rank;
        if (h.type == VMBSAVE_CHUNK_END && p->doomed) {
            /* The END call of a doomed restore fails with the passed-over check's status. */
            p->status = p->doomed_status[0];
            p->also = p->doomed_statuses > 1u ? p->doomed_status[1] : 0;
            p->clause = p->doomed_clause;
            oracle_text(p->why, sizeof p->why,
                        "END of a restore whose content check failed earlier (RESTORE.CORRUPT.WHEN)");
            return;
        }
        if (h.type == VMBSAVE_CHUNK_END) {
            end_taken = true;
            for (unsigned i = 0; i < VMBSAVE_PROGRAM_IMAGES && !p->uncertain; i++) {
                const oracle_image *img = &o->img[i];
                uint32_t end = img->preloaded ? img->read.end : img->size;
                if (p->prefix_ok[i] && (!img->preloaded || img->read.valid) &&
                    end == p->accepted_len) {
                    p->end_image = (int)i;
                    break;
                }
            }
            if (p->end_image < 0) {
                /* Step 12 refuses a mixed image; only the content statuses may say so. */
                p->status = lenient[0];
                p->clause = CLAUSE(RESTORE_FOREIGN_CHUNK);
                p->lenient = true;
                oracle_text(p->why, sizeof p->why,
                            "END of an image mixed from chunks of images that share an image id");
                /* Trailing bytes cannot change that: the refusal comes at END. */
                return;
            }
        }
        pos += h.size;
        index++;
    }
    if (end_taken) {
        p->status = STATUS_SUCCESS;
        p->clause = CLAUSE(RESTORE_MORE_PROCESSING);
    }
    /* A valid image of a newer minor: refusing it breaks FORMAT.COMPAT.NEWER_MINOR. */
    for (unsigned i = 0; i < VMBSAVE_PROGRAM_IMAGES && !p->uncertain; i++) {
        const oracle_image *img = &o->img[i];
        if (p->prefix_ok[i] && img->preloaded && img->read.valid && img->read.newer_minor) {
            p->newer = true;
            p->clause = CLAUSE(FORMAT_COMPAT_NEWER_MINOR);
        }
    }
}

/* A CALLBACK violation whose expectation is a rule in words; the caller fills v->seen. */
static vmbsave_violation *callback_problem(vmbsave_oracle *o, const char *clause,
                                           const char *rule)
{
    vmbsave_violation *v = oracle_violation(o, clause, VMBSAVE_CHECK_CALLBACK);
    vmbsave_value_set_rule(&v->want, rule);
    return v;
}

/* The restore_packet calls of a committing call: the first `expected` packets of the image, in
 * send order, with their library buffer and saved driver state, on the calling thread. */
static bool check_restore_callbacks(vmbsave_oracle *o, const oracle_channel *c,
                                    const oracle_image *img, const oracle_obs *obs,
                                    uint32_t expected, bool at_most)
{
    uint32_t n = obs->restore_log_after - obs->restore_log_before;
    if (n != expected && !(at_most && n < expected)) {
        vmbsave_violation *v = oracle_violation(
            o, n > expected ? CLAUSE(RESTORE_NO_REPLAY) : CLAUSE(PACKET_RESTORE_ONCE_AT_COMMIT),
            VMBSAVE_CHECK_CALLBACK);
        vmbsave_value_set_number(&v->want, expected);
        if (at_most)
            v->want.u.number.lo = 0;
        vmbsave_value_note(&v->want, " restore_packet call(s), one per packet%s",
                           expected < img->model.packet_count ? " up to the failing one" : "");
        vmbsave_value_set_number(&v->seen, n);
        vmbsave_value_note(&v->seen, " restore_packet call(s)");
        return false;
    }
    uint32_t mismatches = 0;
    for (uint32_t i = 0; i < n; i++) {
        const vmbsave_packet_call *e = &o->host->restore_calls[obs->restore_log_before + i];
        const oracle_packet *p = &img->model.packets[i];
        if (e->channel != c->handle) {
            vmbsave_violation *v = callback_problem(o, CLAUSE(PACKET_RESTORE_ONCE_AT_COMMIT),
                                                    "the handle of the channel being restored");
            vmbsave_value_set_callback(&v->seen, true, e->packet_id, e->buf_size);
            vmbsave_value_note(&v->seen, ": another handle");
            return false;
        }
        if (!e->on_calling_thread) {
            vmbsave_violation *v =
                callback_problem(o, CLAUSE(CONTEXT_IRQL_PASSIVE),
                                 "restore_packet on the calling thread, during the call");
            vmbsave_value_set_callback(&v->seen, true, e->packet_id, e->buf_size);
            vmbsave_value_note(&v->seen, ": made elsewhere");
            return false;
        }
        uint32_t lib = VMBSAVE_PACKET_RECORD_FIXED + p->bytes;
        if (e->packet_id != p->id || e->lib_size != lib || e->buf_size != img->dstate_need[i]) {
            vmbsave_violation *v =
                oracle_violation(o, CLAUSE(PACKET_RESTORE_ONCE_AT_COMMIT), VMBSAVE_CHECK_CALLBACK);
            vmbsave_value_set_callback(&v->want, true, p->id, img->dstate_need[i]);
            vmbsave_value_note(&v->want, " as call %" PRIu32 ", library buffer %" PRIu32 " bytes",
                               i, lib);
            vmbsave_value_set_callback(&v->seen, true, e->packet_id, e->buf_size);
            vmbsave_value_note(&v->seen, ", library buffer %" PRIu32 " bytes", e->lib_size);
            return false;
        }
        /* The host compares the state it gets with what its current mode would have saved. */
        vmbsave_save_packet_mode mode =
            vmbsave_driver_mode(o->host->save_mode, o->host->save_mode_packet_id, p->id);
        uint8_t host_state[64]; /* vmbsave_driver_state's longest */
        uint32_t host_len = vmbsave_driver_saved_state(mode, p->id, host_state, sizeof host_state);
        if (img->dstate_need[i] != host_len)
            mismatches++;
        else if (img->preloaded && vmbsave_hash(host_state, host_len, 0) != img->dstate_hash[i])
            mismatches++; /* a caller's bytes, not the scripted driver's */
    }
    uint32_t seen = obs->mismatches_after - obs->mismatches_before;
    if (seen != mismatches) {
        vmbsave_violation *v = oracle_violation(o, CLAUSE(PACKET_RESTORE_ONCE_AT_COMMIT),
                                                VMBSAVE_CHECK_CALLBACK);
        vmbsave_value_set_number(&v->want, 0);
        vmbsave_value_note(&v->want, " call(s) with other driver state than saved (NULL and 0 "
                                     "if none)");
        vmbsave_value_set_number(&v->seen, seen - mismatches);
        vmbsave_value_note(&v->seen, " call(s) with other driver state");
        return false;
    }
    return true;
}

static bool in_list(NTSTATUS s, const NTSTATUS *list, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (list[i] == s)
            return true;
    }
    return false;
}

static bool refuse(vmbsave_oracle *o, oracle_channel *c, NTSTATUS expected, NTSTATUS status,
                   const oracle_obs *obs, const char *clause)
{
    c->desc_clause = clause;
    if (status != expected)
        return oracle_status_violation(o, clause, &expected, 1, status);
    return oracle_no_callbacks(o, obs, "a refused restore_from_buffer",
                               CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST)) &&
           oracle_note_live(o, obs, 0, clause, "a refused restore changes nothing");
}

bool oracle_restore_call(vmbsave_oracle *o, uint32_t slot, const uint8_t *data, uint32_t size,
                         NTSTATUS status, const oracle_obs *obs)
{
    oracle_channel *c = &o->ch[slot];
    oracle_restore *r = &c->r;
    int64_t delta = oracle_obs_live_delta(obs);
    c->held += delta;

    if (data == NULL || size == 0)
        return refuse(o, c, STATUS_INVALID_PARAMETER, status, obs, CLAUSE(RESTORE_PARAMS));
    if (c->s.phase != ORACLE_SESSION_NONE)
        return refuse(o, c, STATUS_INVALID_DEVICE_STATE, status, obs,
                      CLAUSE(LIFECYCLE_FROZEN_DURING_SAVE));
    if (!c->m.fresh)
        return refuse(o, c, STATUS_INVALID_DEVICE_STATE, status, obs,
                      c->ever_restored ? CLAUSE(RESTORE_NO_REPLAY) : CLAUSE(RESTORE_REQUIRES_FRESH));
    if (obs->save_log_after != obs->save_log_before)
        return oracle_no_callbacks(o, obs, "restore_from_buffer", CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST));

    prediction p;
    predict(o, c, data, size, &p);
    const oracle_image *img = p.end_image >= 0 ? &o->img[p.end_image] : NULL;
    uint32_t callbacks = 0;
    if (p.status == STATUS_SUCCESS && img != NULL) {
        /* An implementation without packet callbacks makes none. */
        bool calls =
            o->host->enable_callbacks && (o->capabilities & VMBSAVE_CAP_PACKET_CALLBACKS) != 0;
        callbacks = calls ? img->model.packet_count : 0u;
        /* A restore-packet failure fails the commit (PACKET.RESTORE.FAILURE_ATOMIC). */
        uint64_t fail_at = o->host->restore_fail_at, before = obs->restore_log_before;
        if (calls && fail_at > before && fail_at <= before + callbacks) {
            callbacks = (uint32_t)(fail_at - before);
            p.status = STATUS_UNSUCCESSFUL;
            p.clause = CLAUSE(PACKET_RESTORE_FAILURE_ATOMIC);
            oracle_text(p.why, sizeof p.why, "restore_packet call %" PRIu32 " fails", callbacks);
        }
    }

    /* The statuses the contract allows. */
    NTSTATUS allowed[LENIENT_COUNT + 3];
    _Static_assert(LENIENT_COUNT + 3 <= VMBSAVE_VALUE_MAX_STATUSES, "a violation holds them all");
    unsigned n = 0;
    bool faulted = oracle_obs_faulted(obs);
    bool progress = p.status == STATUS_SUCCESS || p.status == STATUS_MORE_PROCESSING_REQUIRED;
    if (!(faulted && progress))
        allowed[n++] = p.status;
    if (p.also != 0)
        allowed[n++] = p.also;
    for (uint32_t i = 0; p.doomed && i < p.doomed_statuses; i++) {
        if (!in_list(p.doomed_status[i], allowed, n))
            allowed[n++] = p.doomed_status[i];
    }
    if (p.lenient) {
        for (unsigned i = 0; i < LENIENT_COUNT; i++) {
            if (!in_list(lenient[i], allowed, n))
                allowed[n++] = lenient[i];
        }
    }
    if (faulted && !in_list(STATUS_INSUFFICIENT_RESOURCES, allowed, n))
        allowed[n++] = STATUS_INSUFFICIENT_RESOURCES;
    if (!in_list(status, allowed, n)) {
        const char *clause = p.clause;
        if (faulted && progress)
            clause = CLAUSE(RESOURCES_ALLOC_FAILURE_STATUS);
        else if (p.newer && progress)
            clause = CLAUSE(FORMAT_COMPAT_NEWER_MINOR);
        else if (p.doomed && (p.doomed_here || status == STATUS_SUCCESS))
            clause = p.doomed_clause; /* the content check passed over, or never made */
        else if (p.status == STATUS_MORE_PROCESSING_REQUIRED && status != STATUS_SUCCESS)
            clause = CLAUSE(RESTORE_WHOLE_CHUNKS);
        oracle_status_violation(o, clause, allowed, n, status);
        if (p.why[0] != '\0')
            vmbsave_value_note(&o->v.want, " (%s)", p.why);
        return false;
    }

    /* Restore callbacks only from the call that commits (or fails in its callbacks). */
    if (img != NULL && (status == STATUS_SUCCESS || status == STATUS_UNSUCCESSFUL ||
                        (status == STATUS_INSUFFICIENT_RESOURCES && p.end_image >= 0))) {
        bool at_most = status == STATUS_INSUFFICIENT_RESOURCES;
        if (status == STATUS_UNSUCCESSFUL && p.status != STATUS_UNSUCCESSFUL)
            callbacks = 0;
        if (!check_restore_callbacks(o, c, img, obs, callbacks, at_most))
            return false;
    } else if (!oracle_no_callbacks(o, obs, "a restore_from_buffer that does not commit",
                                    CLAUSE(PACKET_SAVE_SIZE_QUERY_FIRST))) {
        return false;
    }

    if (status == STATUS_MORE_PROCESSING_REQUIRED) {
        r->active = true;
        r->next_seq = p.next_seq;
        r->image_id = p.image_id;
        r->rank = p.rank;
        r->uncertain = p.uncertain;
        r->doomed = p.doomed; /* read only while active: no reset needed elsewhere */
        r->doomed_statuses = p.doomed_statuses;
        memcpy(r->doomed_status, p.doomed_status, sizeof r->doomed_status);
        r->doomed_clause = p.doomed_clause;
        r->accepted_len = p.accepted_len;
        memcpy(r->prefix_ok, p.prefix_ok, sizeof r->prefix_ok);
        r->held += delta;
        c->desc_clause = CLAUSE(RESTORE_ATOMIC);
        return true;
    }
    if (status == STATUS_SUCCESS) {
        /* Commit: the channel takes the saved state (RESTORE.RESULT.SAVED_STATE). */
        if (!oracle_state_copy(&c->m, &img->model))
            return oracle_nomem(o, "a restored state");
        c->m.fresh = false;
        c->m.init_over = true;
        r->active = false;
        r->uncertain = false;
        r->accepted_len = 0;
        r->held = 0;
        c->restored_unchanged = true;
        c->ever_restored = true;
        c->chunked_verified = false;
        c->sessions_since_change = 0;
        c->desc_clause = p.newer ? CLAUSE(FORMAT_COMPAT_NEWER_MINOR)
                                 : CLAUSE(RESTORE_RESULT_SAVED_STATE);
        return true;
    }
    /* Any failure: everything staged is freed and the channel is fresh again. */
    int64_t staged = r->active ? r->held : 0;
    r->active = false;
    r->uncertain = false;
    r->accepted_len = 0;
    r->held = 0;
    c->desc_clause = CLAUSE(RESTORE_ATOMIC);
    return oracle_check_live(o, obs, -staged, CLAUSE(RESTORE_ATOMIC), "everything staged freed");
}
