/* Restore (SPEC.md section 8, PACKET.RESTORE.*): stage raw bytes, commit at END.
 *
 * Each call's chunks go through FORMAT.md's reader steps 1-11 at once, against a small cursor
 * (sequence, order, image id, the HEADER's declarations and running counts), because the
 * contract requires those statuses from the call that carries the bad chunk. What passes is
 * only copied, as whole chunks, into one staging buffer. The call that takes END checks the
 * totals and digest (step 12), decodes the staged bytes into new channel contents, resolves
 * references and duplicates, runs the restore-packet callbacks and swaps the contents in. Any
 * failure frees the stage and leaves the channel fresh (RESTORE.ATOMIC). */
#include <string.h>

#include "second.h"

#define C_CORRUPT STATUS_FILE_CORRUPT_ERROR
#define C_LIMIT STATUS_IMPLEMENTATION_LIMIT
#define MAX_PAYLOAD (VMBSAVE_MAX_CHUNK_BYTES - SV_CHUNK_HDR)

void sv_restore_discard(vmbsave_channel *ch)
{
    sv_free(ch->iface, ch->rs.stage);
    memset(&ch->rs, 0, sizeof ch->rs);
}

/* FORMAT.md's type order; 0 for a type this reader does not know. */
static unsigned rank_of(uint16_t type)
{
    switch (type) {
    case SV_T_HEADER: return 1;
    case SV_T_GPADLS: return 2;
    case SV_T_PACKETS: return 3;
    case SV_T_RING: return 4;
    case SV_T_END: return 5;
    default: return 0;
    }
}

/* ---- Step 11: payload content ------------------------------------------------------------- */

static bool ring_size_malformed(uint32_t bytes)
{
    return bytes < VMBSAVE_MIN_RING_BYTES || bytes % VMBSAVE_PAGE_BYTES != 0;
}

static NTSTATUS check_header(sv_restore *r, const uint8_t *p, uint32_t n)
{
    if (n < SV_HEADER_PAYLOAD)
        return C_CORRUPT;
    uint32_t state = sv_get32(p + 0);
    uint32_t flags = sv_get32(p + 40);
    uint32_t ring_gpadl = sv_get32(p + 164);
    uint32_t ring[2] = {sv_get32(p + 168), sv_get32(p + 172)};
    uint32_t vp = sv_get32(p + 176), connection = sv_get32(p + 180);
    uint64_t next_seq = sv_get64(p + 184);
    uint32_t gpadls = sv_get32(p + 192), packets = sv_get32(p + 196);
    uint32_t pending[2] = {sv_get32(p + 200), sv_get32(p + 204)};

    /* Counts and sizes against their limits first: nothing is sized from them otherwise. */
    if (gpadls > VMBSAVE_MAX_GPADLS || packets > VMBSAVE_MAX_PACKETS ||
        pending[0] > VMBSAVE_MAX_RING_BYTES || pending[1] > VMBSAVE_MAX_RING_BYTES)
        return C_LIMIT;
    if (state != VMBSAVE_STATE_ENABLED && state != VMBSAVE_STATE_OPEN_PAUSED)
        return C_CORRUPT;
    /* Offer values init_set_offer would refuse. */
    if ((flags & ~(uint32_t)VMBSAVE_OFFER_FLAGS_VALID) != 0 ||
        sv_get16(p + 36) > VMBSAVE_MAX_SUBCHANNEL_INDEX ||
        sv_get16(p + 38) > VMBSAVE_MAX_MMIO_MEGABYTES)
        return C_CORRUPT;
    if (next_seq == 0)
        return C_CORRUPT;
    if (state == VMBSAVE_STATE_OPEN_PAUSED) {
        if (ring[0] > VMBSAVE_MAX_RING_BYTES || ring[1] > VMBSAVE_MAX_RING_BYTES ||
            pending[0] > ring[0] || pending[1] > ring[1])
            return C_LIMIT;
        /* Open values guest_open would refuse. */
        if (connection == 0 || ring_size_malformed(ring[0]) || ring_size_malformed(ring[1]) ||
            vp > VMBSAVE_MAX_TARGET_VP)
            return C_CORRUPT;
    } else if (ring_gpadl != 0 || ring[0] != 0 || ring[1] != 0 || vp != 0 || connection != 0 ||
               packets != 0 || pending[0] != 0 || pending[1] != 0) {
        return C_CORRUPT; /* an ENABLED channel has no open fields and no traffic */
    }
    r->state = state;
    r->ring_bytes[0] = ring[0];
    r->ring_bytes[1] = ring[1];
    r->next_send_seq = next_seq;
    r->decl_gpadls = gpadls;
    r->decl_packets = packets;
    r->decl_pending[0] = pending[0];
    r->decl_pending[1] = pending[1];
    return STATUS_SUCCESS;
}

/* The record count opening a GPADLS or PACKETS payload: its own limit before the HEADER's
 * total (RESTORE.LIMITS.BEFORE_ALLOC). */
static NTSTATUS check_count(const uint8_t *p, uint32_t n, uint32_t limit, uint32_t left,
                            uint32_t *count)
{
    if (n < SV_COUNT_BYTES)
        return C_CORRUPT;
    uint32_t c = sv_get32(p);
    if (c == 0)
        return C_CORRUPT;
    if (c > limit)
        return C_LIMIT;
    if (c > left)
        return C_CORRUPT;
    *count = c;
    return STATUS_SUCCESS;
}

static NTSTATUS check_gpadls(sv_restore *r, const uint8_t *p, uint32_t n)
{
    uint32_t count;
    NTSTATUS st = check_count(p, n, VMBSAVE_MAX_GPADLS, r->decl_gpadls - r->gpadls, &count);
    if (st != STATUS_SUCCESS)
        return st;
    uint32_t off = SV_COUNT_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t left = n - off;
        if (left < SV_GPADL_FIXED)
            return C_CORRUPT;
        const uint8_t *rec = p + off;
        uint32_t record = sv_get32(rec), id = sv_get32(rec + 4);
        uint32_t state = sv_get32(rec + 8), pfns = sv_get32(rec + 12);
        if (pfns > VMBSAVE_MAX_GPADL_PFNS)
            return C_LIMIT;
        if (id == 0 || pfns == 0 || (state != SV_GPADL_CREATED && state != SV_GPADL_TEARING_DOWN))
            return C_CORRUPT;
        /* Ascending; an equal id is a duplicate, reported at END. */
        if (r->gpadls != 0 && id < r->last_gpadl_id)
            return C_CORRUPT;
        if (record < SV_GPADL_FIXED || record > left ||
            SV_GPADL_FIXED + 8u * (uint64_t)pfns > record)
            return C_CORRUPT;
        for (uint32_t k = 0; k < pfns; k++) {
            if (sv_get64(rec + SV_GPADL_FIXED + 8u * k) > VMBSAVE_MAX_PFN)
                return C_CORRUPT; /* gpadl_create would refuse it */
        }
        r->gpadls++;
        r->last_gpadl_id = id;
        off += record;
    }
    return off == n ? STATUS_SUCCESS : C_CORRUPT;
}

static NTSTATUS check_packets(sv_restore *r, const uint8_t *p, uint32_t n)
{
    uint32_t count;
    NTSTATUS st = check_count(p, n, VMBSAVE_MAX_PACKETS, r->decl_packets - r->packets, &count);
    if (st != STATUS_SUCCESS)
        return st;
    uint32_t off = SV_COUNT_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t left = n - off;
        if (left < SV_PACKET_FIXED)
            return C_CORRUPT;
        const uint8_t *rec = p + off;
        uint32_t record = sv_get32(rec);
        uint64_t id = sv_get64(rec + 4), seq = sv_get64(rec + 12);
        uint32_t payload = sv_get32(rec + 24), state = sv_get32(rec + 28);
        if (payload > VMBSAVE_MAX_PACKET_PAYLOAD || state > VMBSAVE_MAX_DRIVER_PACKET_STATE)
            return C_LIMIT;
        if (id == 0 || seq <= r->last_packet_seq || seq >= r->next_send_seq)
            return C_CORRUPT;
        if (record < SV_PACKET_FIXED || record > left ||
            (uint64_t)SV_PACKET_FIXED + payload + state > record)
            return C_CORRUPT;
        r->packets++;
        r->last_packet_seq = seq;
        off += record;
    }
    return off == n ? STATUS_SUCCESS : C_CORRUPT;
}

static NTSTATUS check_ring(sv_restore *r, const uint8_t *p, uint32_t n)
{
    if (n <= SV_RING_FIXED)
        return C_CORRUPT;
    uint32_t d = sv_get32(p), offset = sv_get32(p + 4), piece = n - SV_RING_FIXED;
    if (d > 1u || (d == 0 && r->pending[1] != 0) || offset != r->pending[d])
        return C_CORRUPT;
    /* A piece that can no longer add up to the declared count is refused here, not at END. */
    if (piece > r->decl_pending[d] - r->pending[d] ||
        (d == 1 && r->pending[0] != r->decl_pending[0]))
        return C_CORRUPT;
    r->pending[d] += piece;
    return STATUS_SUCCESS;
}

/* Step 12's totals and digest; references and duplicates need the decoded state (commit). */
static NTSTATUS check_end(const sv_restore *r, const uint8_t *p, uint32_t n, uint32_t chunk_bytes)
{
    if (n < SV_END_PAYLOAD || sv_get32(p + 4) != 0)
        return C_CORRUPT;
    if (sv_get32(p) != r->next_seq + 1u || sv_get64(p + 8) != r->bytes_read + chunk_bytes)
        return C_CORRUPT;
    if (r->gpadls != r->decl_gpadls || r->packets != r->decl_packets ||
        r->pending[0] != r->decl_pending[0] || r->pending[1] != r->decl_pending[1])
        return C_CORRUPT;
    if (sv_get64(p + 16) != r->digest)
        return STATUS_REVISION_MISMATCH;
    return STATUS_SUCCESS;
}

/* ---- Steps 1-11 of one chunk ------------------------------------------------------------ */

/* Validates the chunk at `c` (`left` bytes remain in the call) and advances the cursor. */
static NTSTATUS take_chunk(sv_restore *r, const uint8_t *c, uint32_t left, uint32_t *chunk_bytes,
                           uint16_t *type_out)
{
    if (left < SV_CHUNK_HDR)
        return STATUS_INVALID_BUFFER_SIZE;
    if (sv_get32(c) != SV_MAGIC)
        return STATUS_FILE_CORRUPT_ERROR;
    if (sv_get16(c + 4) != SV_MAJOR)
        return STATUS_UNKNOWN_REVISION;
    uint32_t payload = sv_get32(c + 16);
    if (payload > MAX_PAYLOAD)
        return STATUS_IMPLEMENTATION_LIMIT;
    if (payload > left - SV_CHUNK_HDR)
        return STATUS_INVALID_BUFFER_SIZE;
    uint64_t checksum = sv_get64(c + 32);
    if (sv_chunk_checksum(c, payload) != checksum)
        return STATUS_DATA_ERROR;
    uint16_t type = sv_get16(c + 8), flags = sv_get16(c + 10);
    if (sv_get32(c + 20) != 0 || (flags & ~SV_FLAG_OPTIONAL) != 0)
        return STATUS_FILE_CORRUPT_ERROR;
    const uint8_t *p = c + SV_CHUNK_HDR;
    uint64_t image_id = sv_get64(c + 24);
    if (type == SV_T_HEADER && image_id != sv_hash(p, payload, 0))
        return STATUS_FILE_CORRUPT_ERROR;
    if (r->next_seq != 0 && image_id != r->image_id)
        return STATUS_REVISION_MISMATCH;
    unsigned rank = rank_of(type);
    bool out_of_order =
        r->next_seq == 0 ? rank != 1u : (rank == 1u || (rank != 0 && rank < r->rank));
    if (sv_get32(c + 12) != r->next_seq || out_of_order)
        return STATUS_REQUEST_OUT_OF_SEQUENCE;
    if (rank == 0 && (flags & SV_FLAG_OPTIONAL) == 0)
        return STATUS_NOT_SUPPORTED;

    NTSTATUS st = STATUS_SUCCESS;
    switch (type) {
    case SV_T_HEADER: st = check_header(r, p, payload); break;
    case SV_T_GPADLS: st = check_gpadls(r, p, payload); break;
    case SV_T_PACKETS: st = check_packets(r, p, payload); break;
    case SV_T_RING: st = check_ring(r, p, payload); break;
    case SV_T_END: st = check_end(r, p, payload, SV_CHUNK_HDR + payload); break;
    default: break; /* an OPTIONAL chunk of a newer minor: skipped, but counted */
    }
    if (st != STATUS_SUCCESS)
        return st;
    if (r->next_seq == 0)
        r->image_id = image_id;
    if (rank != 0)
        r->rank = rank;
    r->next_seq++;
    r->bytes_read += SV_CHUNK_HDR + payload;
    r->digest = sv_digest_step(r->digest, checksum);
    *chunk_bytes = SV_CHUNK_HDR + payload;
    *type_out = type;
    return STATUS_SUCCESS;
}

/* Appends the known chunks among `bytes` (already validated) to the stage. */
static NTSTATUS stage(vmbsave_channel *ch, const uint8_t *bytes, uint32_t size, uint32_t known)
{
    sv_restore *r = &ch->rs;
    if (known == 0)
        return STATUS_SUCCESS;
    uint64_t need = (uint64_t)r->len + known;
    if (need > VMBSAVE_MAX_IMAGE_BYTES)
        return STATUS_IMPLEMENTATION_LIMIT;
    if (need > r->cap) {
        /* Doubling keeps a chunk-per-call restore linear in the image size. */
        uint64_t cap = 2u * (uint64_t)r->cap;
        if (cap < need)
            cap = need;
        if (cap > VMBSAVE_MAX_IMAGE_BYTES)
            cap = VMBSAVE_MAX_IMAGE_BYTES;
        uint8_t *grown = sv_alloc(ch->iface, (size_t)cap);
        if (grown == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        if (r->len != 0)
            memcpy(grown, r->stage, r->len);
        sv_free(ch->iface, r->stage);
        r->stage = grown;
        r->cap = (uint32_t)cap;
    }
    for (uint32_t pos = 0; pos < size;) {
        uint32_t n = SV_CHUNK_HDR + sv_get32(bytes + pos + 16);
        if (rank_of(sv_get16(bytes + pos + 8)) != 0) {
            memcpy(r->stage + r->len, bytes + pos, n);
            r->len += n;
        }
        pos += n;
    }
    return STATUS_SUCCESS;
}

/* ---- Commit ------------------------------------------------------------------------------ */

/* Decodes the stage into `out` (its records were all validated). The packets' save_at and
 * save_need scratch point at their records in the stage, for the callbacks. */
static NTSTATUS decode(vmbsave_channel *ch, sv_contents *out, vmbsave_offer *offer)
{
    const sv_restore *r = &ch->rs;
    const sv_iface *iface = ch->iface;
    if (r->decl_packets != 0) {
        out->packets = sv_alloc(iface, (size_t)r->decl_packets * sizeof out->packets[0]);
        if (out->packets == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        out->packet_cap = r->decl_packets;
    }
    for (unsigned d = 0; d < 2; d++) {
        if (r->decl_pending[d] == 0)
            continue;
        out->rings[d].buf = sv_alloc(iface, r->decl_pending[d]);
        if (out->rings[d].buf == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        out->rings[d].cap = r->decl_pending[d];
    }
    for (uint32_t pos = 0; pos < r->len;) {
        const uint8_t *c = r->stage + pos;
        uint32_t n = sv_get32(c + 16);
        const uint8_t *p = c + SV_CHUNK_HDR;
        uint16_t type = sv_get16(c + 8);
        if (type == SV_T_HEADER) {
            memset(offer, 0, sizeof *offer);
            memcpy(offer->interface_type.bytes, p + 4, 16);
            memcpy(offer->interface_instance.bytes, p + 20, 16);
            offer->subchannel_index = sv_get16(p + 36);
            offer->mmio_megabytes = sv_get16(p + 38);
            offer->flags = sv_get32(p + 40);
            memcpy(offer->user_defined, p + 44, VMBSAVE_USER_DEFINED_BYTES);
            if (r->state == VMBSAVE_STATE_OPEN_PAUSED) {
                out->open.ring_gpadl_id = sv_get32(p + 164);
                out->open.incoming_ring_bytes = sv_get32(p + 168);
                out->open.outgoing_ring_bytes = sv_get32(p + 172);
                out->open.target_vp = sv_get32(p + 176);
                out->open.connection_id = sv_get32(p + 180);
            }
        } else if (type == SV_T_GPADLS || type == SV_T_PACKETS) {
            uint32_t count = sv_get32(p), off = SV_COUNT_BYTES;
            for (uint32_t i = 0; i < count; i++) {
                const uint8_t *rec = p + off;
                if (type == SV_T_GPADLS) {
                    uint32_t pfns = sv_get32(rec + 12);
                    sv_gpadl *g = sv_alloc(iface, sizeof *g + 8u * (size_t)pfns);
                    if (g == NULL)
                        return STATUS_INSUFFICIENT_RESOURCES;
                    g->id = sv_get32(rec + 4);
                    g->state = sv_get32(rec + 8);
                    g->pfn_count = pfns;
                    memcpy(g->pfn_le, rec + SV_GPADL_FIXED, 8u * (size_t)pfns);
                    out->gpadls[out->gpadl_count++] = g;
                } else {
                    uint32_t bytes = sv_get32(rec + 24);
                    sv_packet *k = sv_alloc(iface, sizeof *k + bytes);
                    if (k == NULL)
                        return STATUS_INSUFFICIENT_RESOURCES;
                    k->id = sv_get64(rec + 4);
                    k->seq = sv_get64(rec + 12);
                    k->gpadl = sv_get32(rec + 20);
                    k->bytes = bytes;
                    k->save_need = sv_get32(rec + 28);
                    k->save_at = (uint32_t)(rec - r->stage);
                    memcpy(k->payload, rec + SV_PACKET_FIXED, bytes);
                    out->packets[out->packet_count++] = k;
                }
                off += sv_get32(rec);
            }
        } else if (type == SV_T_RING) {
            uint32_t d = sv_get32(p), offset = sv_get32(p + 4), piece = n - SV_RING_FIXED;
            memcpy(out->rings[d].buf + offset, p + SV_RING_FIXED, piece);
            out->rings[d].len = offset + piece;
        }
        pos += SV_CHUNK_HDR + n;
    }
    return STATUS_SUCCESS;
}

/* A reference resolves to a GPADL the image holds as CREATED. An id held twice, once being
 * torn down, resolves: that image is refused as a duplicate, the next check. */
static bool resolves(const sv_contents *c, uint32_t id)
{
    for (uint32_t i = 0; i < c->gpadl_count; i++) {
        if (c->gpadls[i]->id == id && c->gpadls[i]->state == SV_GPADL_CREATED)
            return true;
    }
    return false;
}

static NTSTATUS check_references(const sv_restore *r, const sv_contents *c)
{
    if (r->state == VMBSAVE_STATE_OPEN_PAUSED && !resolves(c, c->open.ring_gpadl_id))
        return STATUS_NOT_FOUND;
    for (uint32_t i = 0; i < c->packet_count; i++) {
        if (c->packets[i]->gpadl != 0 && !resolves(c, c->packets[i]->gpadl))
            return STATUS_NOT_FOUND;
    }
    /* GPADL ids are ascending, so a repeat is adjacent; packet ids are in send order. */
    for (uint32_t i = 1; i < c->gpadl_count; i++) {
        if (c->gpadls[i]->id == c->gpadls[i - 1]->id)
            return STATUS_DUPLICATE_OBJECTID;
    }
    for (uint32_t i = 1; i < c->packet_count; i++) {
        for (uint32_t j = 0; j < i; j++) {
            if (c->packets[i]->id == c->packets[j]->id)
                return STATUS_DUPLICATE_OBJECTID;
        }
    }
    return STATUS_SUCCESS;
}

static NTSTATUS call_driver(vmbsave_channel *ch, const sv_contents *c)
{
    const vmbsave_host_v1 *host = &ch->iface->host;
    if (host->restore_packet == NULL)
        return STATUS_SUCCESS;
    NTSTATUS st = STATUS_SUCCESS;
    ch->in_callback = true;
    for (uint32_t i = 0; i < c->packet_count && st == STATUS_SUCCESS; i++) {
        const sv_packet *k = c->packets[i];
        const uint8_t *rec = ch->rs.stage + k->save_at;
        const uint8_t *state = k->save_need != 0 ? rec + SV_PACKET_FIXED + k->bytes : NULL;
        NTSTATUS cb = host->restore_packet(host->context, ch, k->id, rec,
                                           SV_PACKET_FIXED + k->bytes, state, k->save_need);
        if (!NT_SUCCESS(cb))
            st = STATUS_UNSUCCESSFUL; /* PACKET.RESTORE.FAILURE_ATOMIC: no further call */
    }
    ch->in_callback = false;
    return st;
}

static NTSTATUS commit(vmbsave_channel *ch, bool trailing)
{
    sv_contents next;
    vmbsave_offer offer;
    memset(&next, 0, sizeof next);
    NTSTATUS st = decode(ch, &next, &offer);
    if (st == STATUS_SUCCESS)
        st = check_references(&ch->rs, &next);
    /* Bytes after END: once END has passed every check, before any callback. */
    if (st == STATUS_SUCCESS && trailing)
        st = STATUS_REQUEST_OUT_OF_SEQUENCE;
    if (st == STATUS_SUCCESS)
        st = call_driver(ch, &next);
    if (st != STATUS_SUCCESS) {
        sv_contents_clear(ch->iface, &next);
        return st;
    }
    for (uint32_t i = 0; i < next.packet_count; i++)
        next.packets[i]->save_need = next.packets[i]->save_at = 0;
    /* A fresh channel holds no contents, so nothing is overwritten. */
    ch->c = next;
    ch->offer = offer;
    ch->offer_set = true;
    ch->next_seq = ch->rs.next_send_seq;
    ch->state = (vmbsave_channel_state)ch->rs.state;
    ch->fresh = false;
    ch->init_over = true;
    sv_restore_discard(ch);
    return STATUS_SUCCESS;
}

/* ---- The call ---------------------------------------------------------------------------- */

static NTSTATUS take_call(vmbsave_channel *ch, const uint8_t *bytes, uint32_t size)
{
    sv_restore *r = &ch->rs;
    if (!r->active) {
        memset(r, 0, sizeof *r);
        r->active = true;
    }
    uint32_t pos = 0, known = 0;
    bool end = false;
    while (pos < size && !end) {
        uint32_t n;
        uint16_t type;
        NTSTATUS st = take_chunk(r, bytes + pos, size - pos, &n, &type);
        if (st != STATUS_SUCCESS)
            return st;
        if (rank_of(type) != 0)
            known += n;
        end = type == SV_T_END;
        pos += n;
    }
    NTSTATUS st = stage(ch, bytes, pos, known);
    if (st != STATUS_SUCCESS)
        return st;
    if (!end)
        return STATUS_MORE_PROCESSING_REQUIRED;
    return commit(ch, pos < size);
}

NTSTATUS sv_restore_from_buffer(vmbsave_channel *ch, const void *buffer, uint32_t size)
{
    if (ch == NULL || buffer == NULL || size == 0)
        return STATUS_INVALID_PARAMETER; /* RESTORE.PARAMS: a staged restore is untouched */
    if (ch->in_callback || ch->save.phase != SV_SAVE_NONE || !ch->fresh)
        return STATUS_INVALID_DEVICE_STATE;
    NTSTATUS st = take_call(ch, buffer, size);
    if (st != STATUS_SUCCESS && st != STATUS_MORE_PROCESSING_REQUIRED)
        sv_restore_discard(ch);
    return st;
}
