/* VmbChannelRestoreFromBuffer (clauses RESTORE.*, PACKET.RESTORE.*).
 *
 * Chunks are validated in the order of FORMAT.md "How a reader validates each chunk" and
 * staged into a separate model. The channel itself is touched only by the call that takes END,
 * after every check and every restore-packet callback has passed; then the staged model is
 * moved in (pointers, not bulk data). Any failure frees the stage, leaving the channel as
 * fresh as it was, ready for a new restore from the HEADER. */
#include <string.h>

#include "image.h"
#include "internal.h"

/* Position of a chunk type in the fixed order HEADER GPADLS* PACKETS* RING* END. */
enum {
    REF_RANK_NONE = 0,
    REF_RANK_HEADER,
    REF_RANK_GPADLS,
    REF_RANK_PACKETS,
    REF_RANK_RING,
    REF_RANK_END
};

struct ref_restore {
    ref_model m;          /* the channel being rebuilt */
    uint64_t image_id;    /* from the HEADER */
    uint64_t digest;      /* over the chunks taken so far, as END's digest */
    uint64_t total_bytes; /* bytes of the chunks taken so far */
    uint64_t last_packet_sequence;
    uint32_t next_sequence; /* the sequence number the next chunk must carry */
    uint32_t rank;          /* order position of the last known chunk taken */
    uint32_t declared_gpadls;
    uint32_t declared_packets;
    uint32_t declared_pending[2];
    bool gpadl_id_repeated; /* reported at END, where FORMAT.md resolves duplicates */
    bool done;              /* END taken */
};

void ref_restore_abandon(vmbsave_channel *ch)
{
    ref_restore *r = ch->restore;
    if (r == NULL) {
        return;
    }
    ref_model_release(ch->inst, &r->m);
    ref_free(ch->inst, r);
    ch->restore = NULL;
}

/* ---- HEADER ------------------------------------------------------------------------------ */

/* guest_open's checks on a ring size: malformed is a corrupt image, too large a size over a
 * limit. */
static NTSTATUS ref_image_ring_bytes(uint32_t bytes)
{
    if (bytes < VMBSAVE_MIN_RING_BYTES || bytes % VMBSAVE_PAGE_BYTES != 0) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    if (bytes > VMBSAVE_MAX_RING_BYTES) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS ref_take_header(vmbsave_channel *ch, ref_restore *r, const ref_chunk_view *v)
{
    const uint8_t *p = v->payload;
    if (v->payload_bytes < REF_HDR_PAYLOAD_BYTES) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    /* Only the states a save is taken in. */
    uint32_t state = ref_get_u32(p + REF_HDR_STATE);
    if (state != VMBSAVE_STATE_ENABLED && state != VMBSAVE_STATE_OPEN_PAUSED) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    bool open = state == VMBSAVE_STATE_OPEN_PAUSED;

    /* The offer, as init_set_offer would check it. Values the lifecycle refuses are a corrupt
     * image (RESTORE.CORRUPT.OFFER_RANGE, OPEN_RANGE); only counts and sizes over a limit are
     * IMPLEMENTATION_LIMIT (FORMAT.md step 11): among offer and open fields, the ring sizes. */
    vmbsave_offer offer;
    memset(&offer, 0, sizeof offer);
    memcpy(offer.interface_type.bytes, p + REF_HDR_INTERFACE_TYPE, 16);
    memcpy(offer.interface_instance.bytes, p + REF_HDR_INTERFACE_INSTANCE, 16);
    offer.subchannel_index = ref_get_u16(p + REF_HDR_SUBCHANNEL_INDEX);
    offer.mmio_megabytes = ref_get_u16(p + REF_HDR_MMIO_MEGABYTES);
    offer.flags = ref_get_u32(p + REF_HDR_OFFER_FLAGS);
    memcpy(offer.user_defined, p + REF_HDR_USER_DEFINED, VMBSAVE_USER_DEFINED_BYTES);
    if ((offer.flags & ~(uint32_t)VMBSAVE_OFFER_FLAGS_VALID) != 0 ||
        offer.subchannel_index > VMBSAVE_MAX_SUBCHANNEL_INDEX ||
        offer.mmio_megabytes > VMBSAVE_MAX_MMIO_MEGABYTES) {
        return STATUS_FILE_CORRUPT_ERROR;
    }

    /* The open parameters, as guest_open would check them; the ring GPADL resolves at END. */
    vmbsave_open_params op;
    op.ring_gpadl_id = ref_get_u32(p + REF_HDR_RING_GPADL_ID);
    op.incoming_ring_bytes = ref_get_u32(p + REF_HDR_INCOMING_RING_BYTES);
    op.outgoing_ring_bytes = ref_get_u32(p + REF_HDR_OUTGOING_RING_BYTES);
    op.target_vp = ref_get_u32(p + REF_HDR_TARGET_VP);
    op.connection_id = ref_get_u32(p + REF_HDR_CONNECTION_ID);
    if (!open) {
        if (op.ring_gpadl_id != 0 || op.incoming_ring_bytes != 0 || op.outgoing_ring_bytes != 0 ||
            op.target_vp != 0 || op.connection_id != 0) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
    } else {
        if (op.connection_id == 0) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        NTSTATUS st = ref_image_ring_bytes(op.incoming_ring_bytes);
        if (st == STATUS_SUCCESS) {
            st = ref_image_ring_bytes(op.outgoing_ring_bytes);
        }
        if (st != STATUS_SUCCESS) {
            return st;
        }
        if (op.target_vp > VMBSAVE_MAX_TARGET_VP) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
    }

    /* Sequences start at 1, so 0 is no channel's next sequence. */
    uint64_t next_send_sequence = ref_get_u64(p + REF_HDR_NEXT_SEND_SEQUENCE);
    if (next_send_sequence == 0) {
        return STATUS_FILE_CORRUPT_ERROR;
    }

    /* Counts and sizes: limits first (RESTORE.LIMITS.BEFORE_ALLOC), then consistency. */
    uint32_t gpadls = ref_get_u32(p + REF_HDR_GPADL_COUNT);
    if (gpadls > VMBSAVE_MAX_GPADLS) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    uint32_t packets = ref_get_u32(p + REF_HDR_PACKET_COUNT);
    if (packets > VMBSAVE_MAX_PACKETS) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    if (!open && packets != 0) {
        return STATUS_FILE_CORRUPT_ERROR; /* guest_close drops packets in flight */
    }
    uint32_t pending[2] = {ref_get_u32(p + REF_HDR_INCOMING_PENDING),
                           ref_get_u32(p + REF_HDR_OUTGOING_PENDING)};
    uint32_t ring_bytes[2] = {op.incoming_ring_bytes, op.outgoing_ring_bytes};
    for (unsigned d = 0; d < 2; d++) {
        if (pending[d] > VMBSAVE_MAX_RING_BYTES) {
            return STATUS_IMPLEMENTATION_LIMIT;
        }
        if (!open && pending[d] != 0) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        if (pending[d] > ring_bytes[d]) {
            return STATUS_IMPLEMENTATION_LIMIT;
        }
    }

    ref_packet *array = NULL;
    if (packets != 0) {
        array = ref_alloc(ch->inst, (size_t)packets * sizeof *array);
        if (array == NULL) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    ref_model *m = &r->m;
    m->state = (vmbsave_channel_state)state;
    m->offer_set = true; /* a channel is only saved once enabled, which takes an offer */
    m->offer = offer;
    if (open) {
        m->open = op;
    }
    m->next_send_sequence = next_send_sequence;
    m->packets = array;
    m->packet_cap = packets;
    r->image_id = v->image_id;
    r->declared_gpadls = gpadls;
    r->declared_packets = packets;
    r->declared_pending[0] = pending[0];
    r->declared_pending[1] = pending[1];
    return STATUS_SUCCESS;
}

/* The record count that opens a GPADLS or PACKETS payload: at least one (writers never emit
 * an empty chunk), within the limit (checked first: RESTORE.LIMITS.BEFORE_ALLOC), and no more
 * than the HEADER has left to declare. */
static NTSTATUS ref_record_count(const ref_chunk_view *v, uint32_t limit, uint32_t remaining,
                                 uint32_t *count)
{
    if (v->payload_bytes < REF_RECORD_COUNT_BYTES) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    uint32_t n = ref_get_u32(v->payload);
    if (n == 0) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    if (n > limit) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    if (n > remaining) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    *count = n;
    return STATUS_SUCCESS;
}

/* ---- GPADLS ------------------------------------------------------------------------------ */

static NTSTATUS ref_take_gpadls(vmbsave_channel *ch, ref_restore *r, const ref_chunk_view *v)
{
    const uint8_t *p = v->payload;
    uint32_t size = v->payload_bytes;
    ref_model *m = &r->m;
    uint32_t count = 0;
    NTSTATUS status = ref_record_count(v, VMBSAVE_MAX_GPADLS,
                                       r->declared_gpadls - m->gpadl_count, &count);
    if (status != STATUS_SUCCESS) {
        return status;
    }
    uint32_t off = REF_RECORD_COUNT_BYTES;
    for (uint32_t n = 0; n < count; n++) {
        uint32_t left = size - off;
        if (left < REF_GR_PFNS) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        const uint8_t *rec = p + off;
        uint32_t record = ref_get_u32(rec + REF_GR_RECORD_BYTES);
        if (record < REF_GR_PFNS || record > left) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        uint32_t id = ref_get_u32(rec + REF_GR_ID);
        uint32_t state = ref_get_u32(rec + REF_GR_STATE);
        uint32_t pfns = ref_get_u32(rec + REF_GR_PFN_COUNT);
        if (id == 0 ||
            (state != REF_GPADL_STATE_CREATED && state != REF_GPADL_STATE_TEARING_DOWN) ||
            pfns == 0) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        if (pfns > VMBSAVE_MAX_GPADL_PFNS) {
            return STATUS_IMPLEMENTATION_LIMIT;
        }
        if (REF_GR_PFNS + pfns * 8u > record) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        if (m->gpadl_count != 0) {
            uint32_t last = m->gpadls[m->gpadl_count - 1].id;
            if (id < last) {
                return STATUS_FILE_CORRUPT_ERROR;
            }
            if (id == last) {
                r->gpadl_id_repeated = true;
            }
        }
        for (uint32_t i = 0; i < pfns; i++) {
            if (ref_get_u64(rec + REF_GR_PFNS + (size_t)i * 8u) > VMBSAVE_MAX_PFN) {
                return STATUS_FILE_CORRUPT_ERROR;
            }
        }
        uint8_t *le = ref_alloc(ch->inst, (size_t)pfns * 8u);
        if (le == NULL) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        memcpy(le, rec + REF_GR_PFNS, (size_t)pfns * 8u);
        ref_gpadl *g = &m->gpadls[m->gpadl_count++];
        g->id = id;
        g->state = state;
        g->pfn_count = pfns;
        g->pfns_le = le;
        off += record;
    }
    if (off != size) {
        return STATUS_FILE_CORRUPT_ERROR; /* bytes after the last record */
    }
    return STATUS_SUCCESS;
}

/* ---- PACKETS ----------------------------------------------------------------------------- */

static NTSTATUS ref_take_packets(vmbsave_channel *ch, ref_restore *r, const ref_chunk_view *v)
{
    const uint8_t *p = v->payload;
    uint32_t size = v->payload_bytes;
    ref_model *m = &r->m;
    uint32_t count = 0;
    NTSTATUS status = ref_record_count(v, VMBSAVE_MAX_PACKETS,
                                       r->declared_packets - m->packet_count, &count);
    if (status != STATUS_SUCCESS) {
        return status;
    }
    uint32_t off = REF_RECORD_COUNT_BYTES;
    for (uint32_t n = 0; n < count; n++) {
        uint32_t left = size - off;
        if (left < REF_PR_PAYLOAD) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        const uint8_t *rec = p + off;
        uint32_t record = ref_get_u32(rec + REF_PR_RECORD_BYTES);
        if (record < REF_PR_PAYLOAD || record > left) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        uint64_t id = ref_get_u64(rec + REF_PR_ID);
        uint64_t seq = ref_get_u64(rec + REF_PR_SEND_SEQUENCE);
        uint32_t gpadl_id = ref_get_u32(rec + REF_PR_GPADL_ID);
        uint32_t payload_bytes = ref_get_u32(rec + REF_PR_PAYLOAD_BYTES);
        uint32_t state_bytes = ref_get_u32(rec + REF_PR_DRIVER_STATE_BYTES);
        if (id == 0) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        /* Send order: strictly increasing, and all before the channel's next sequence. */
        if (seq <= r->last_packet_sequence || seq >= m->next_send_sequence) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        if (payload_bytes > VMBSAVE_MAX_PACKET_PAYLOAD ||
            state_bytes > VMBSAVE_MAX_DRIVER_PACKET_STATE) {
            return STATUS_IMPLEMENTATION_LIMIT;
        }
        uint32_t used = REF_PR_PAYLOAD + payload_bytes + state_bytes;
        if (used > record) {
            return STATUS_FILE_CORRUPT_ERROR;
        }
        /* Kept as the record's bytes: the first 32 + payload_bytes are the library buffer the
         * restore-packet callback gets, the payload is the live packet's payload afterwards. */
        uint8_t *mem = ref_alloc(ch->inst, used);
        if (mem == NULL) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        memcpy(mem, rec, used);
        ref_packet *pk = &m->packets[m->packet_count++];
        memset(pk, 0, sizeof *pk);
        pk->id = id;
        pk->send_sequence = seq;
        pk->gpadl_id = gpadl_id;
        pk->payload_bytes = payload_bytes;
        pk->driver_state_bytes = state_bytes;
        pk->mem = mem;
        pk->payload = mem + REF_PR_PAYLOAD;
        r->last_packet_sequence = seq;
        off += record;
    }
    if (off != size) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    return STATUS_SUCCESS;
}

/* ---- RING -------------------------------------------------------------------------------- */

static NTSTATUS ref_take_ring(vmbsave_channel *ch, ref_restore *r, const ref_chunk_view *v)
{
    const uint8_t *p = v->payload;
    if (v->payload_bytes <= REF_RING_DATA) {
        return STATUS_FILE_CORRUPT_ERROR; /* short, or a piece of no bytes */
    }
    uint32_t d = ref_get_u32(p + REF_RING_DIRECTION);
    uint32_t offset = ref_get_u32(p + REF_RING_OFFSET);
    uint32_t piece = v->payload_bytes - REF_RING_DATA;
    if (d > VMBSAVE_RING_OUTGOING) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    ref_ring *ring = &r->m.rings[d];
    /* All incoming bytes before any outgoing one; each direction contiguous from 0. */
    if (d == VMBSAVE_RING_INCOMING && r->m.rings[VMBSAVE_RING_OUTGOING].len != 0) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    if (d == VMBSAVE_RING_OUTGOING &&
        r->m.rings[VMBSAVE_RING_INCOMING].len != r->declared_pending[VMBSAVE_RING_INCOMING]) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    if (offset != ring->len || piece > r->declared_pending[d] - ring->len) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    if (ring->buf == NULL) {
        /* Exactly the declared pending bytes (<= the ring size, checked at HEADER). */
        ring->buf = ref_alloc(ch->inst, r->declared_pending[d]);
        if (ring->buf == NULL) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        ring->cap = r->declared_pending[d];
        ring->head = 0;
    }
    memcpy(ring->buf + ring->len, p + REF_RING_DATA, piece);
    ring->len += piece;
    return STATUS_SUCCESS;
}

/* ---- END --------------------------------------------------------------------------------- */

static void ref_sift_down(uint64_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) {
            return;
        }
        if (child + 1 < n && a[child] < a[child + 1]) {
            child++;
        }
        if (a[root] >= a[child]) {
            return;
        }
        uint64_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Heapsort: in place and allocation-free (libc qsort may call malloc). */
static void ref_sort_u64(uint64_t *a, size_t n)
{
    if (n < 2) {
        return;
    }
    for (size_t i = n / 2; i-- > 0;) {
        ref_sift_down(a, i, n);
    }
    for (size_t end = n - 1; end > 0; end--) {
        uint64_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        ref_sift_down(a, 0, end);
    }
}

/* A GPADL reference resolves to one the image holds and that is not being torn down. */
static bool ref_resolves(const ref_model *m, uint32_t gpadl_id)
{
    int g = ref_gpadl_find(m, gpadl_id);
    return g >= 0 && m->gpadls[g].state == REF_GPADL_STATE_CREATED;
}

static NTSTATUS ref_take_end(vmbsave_channel *ch, ref_restore *r, const ref_chunk_view *v)
{
    const uint8_t *p = v->payload;
    const ref_model *m = &r->m;
    if (v->payload_bytes < REF_END_PAYLOAD_BYTES || ref_get_u32(p + REF_END_RESERVED) != 0) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    /* 12. Totals against what was read and what the HEADER declared. */
    uint64_t total = r->total_bytes + REF_CHUNK_HEADER_BYTES + v->payload_bytes;
    if (ref_get_u32(p + REF_END_CHUNK_COUNT) != r->next_sequence + 1u ||
        ref_get_u64(p + REF_END_TOTAL_BYTES) != total || m->gpadl_count != r->declared_gpadls ||
        m->packet_count != r->declared_packets || m->rings[0].len != r->declared_pending[0] ||
        m->rings[1].len != r->declared_pending[1]) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    if (ref_get_u64(p + REF_END_DIGEST) != r->digest) {
        return STATUS_REVISION_MISMATCH;
    }
    /* References. A packet's GPADL must be live too: live channels never let a GPADL that a
     * packet in flight uses start tearing down, and a restored one must not either. */
    if (m->state == VMBSAVE_STATE_OPEN_PAUSED && !ref_resolves(m, m->open.ring_gpadl_id)) {
        return STATUS_NOT_FOUND;
    }
    for (uint32_t i = 0; i < m->packet_count; i++) {
        if (m->packets[i].gpadl_id != 0 && !ref_resolves(m, m->packets[i].gpadl_id)) {
            return STATUS_NOT_FOUND;
        }
    }
    /* Duplicates. */
    if (r->gpadl_id_repeated) {
        return STATUS_DUPLICATE_OBJECTID;
    }
    if (m->packet_count > 1) {
        uint64_t *ids = ref_alloc(ch->inst, (size_t)m->packet_count * sizeof *ids);
        if (ids == NULL) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        for (uint32_t i = 0; i < m->packet_count; i++) {
            ids[i] = m->packets[i].id;
        }
        ref_sort_u64(ids, m->packet_count);
        bool repeated = false;
        for (uint32_t i = 1; i < m->packet_count && !repeated; i++) {
            repeated = ids[i] == ids[i - 1];
        }
        ref_free(ch->inst, ids);
        if (repeated) {
            return STATUS_DUPLICATE_OBJECTID;
        }
    }
    r->done = true;
    return STATUS_SUCCESS;
}

/* ---- Chunk dispatch ---------------------------------------------------------------------- */

static uint32_t ref_rank_of(uint16_t type)
{
    switch (type) {
    case REF_CHUNK_HEADER: return REF_RANK_HEADER;
    case REF_CHUNK_GPADLS: return REF_RANK_GPADLS;
    case REF_CHUNK_PACKETS: return REF_RANK_PACKETS;
    case REF_CHUNK_RING: return REF_RANK_RING;
    case REF_CHUNK_END: return REF_RANK_END;
    default: return REF_RANK_NONE;
    }
}

/* Validates and stages the chunk at p; *consumed is its size on success. */
static NTSTATUS ref_take_chunk(vmbsave_channel *ch, ref_restore *r, const uint8_t *p, size_t avail,
                               size_t *consumed)
{
    ref_chunk_view v;
    NTSTATUS st = ref_chunk_open(p, avail, &v); /* steps 1-7 */
    if (st != STATUS_SUCCESS) {
        return st;
    }
    /* 8. Image identity. Before the HEADER is taken there is nothing to compare with; step 9
     * then refuses anything but a HEADER. */
    if (v.type == REF_CHUNK_HEADER && v.image_id != ref_hash(v.payload, v.payload_bytes, 0)) {
        return STATUS_FILE_CORRUPT_ERROR;
    }
    if (r->next_sequence != 0 && v.image_id != r->image_id) {
        return STATUS_REVISION_MISMATCH;
    }
    /* 9. Sequence and the fixed order of known types. */
    uint32_t rank = ref_rank_of(v.type);
    if (v.sequence != r->next_sequence) {
        return STATUS_REQUEST_OUT_OF_SEQUENCE;
    }
    if (r->next_sequence == 0
            ? rank != REF_RANK_HEADER
            : (rank == REF_RANK_HEADER || (rank != REF_RANK_NONE && rank < r->rank))) {
        return STATUS_REQUEST_OUT_OF_SEQUENCE;
    }
    /* 10-12. */
    switch (v.type) {
    case REF_CHUNK_HEADER: st = ref_take_header(ch, r, &v); break;
    case REF_CHUNK_GPADLS: st = ref_take_gpadls(ch, r, &v); break;
    case REF_CHUNK_PACKETS: st = ref_take_packets(ch, r, &v); break;
    case REF_CHUNK_RING: st = ref_take_ring(ch, r, &v); break;
    case REF_CHUNK_END: st = ref_take_end(ch, r, &v); break;
    default:
        /* A newer minor's chunk: skipped if marked OPTIONAL, but still counted below. */
        st = (v.flags & REF_CHUNK_FLAG_OPTIONAL) != 0 ? STATUS_SUCCESS : STATUS_NOT_SUPPORTED;
        break;
    }
    if (st != STATUS_SUCCESS) {
        return st;
    }
    if (rank != REF_RANK_NONE) {
        r->rank = rank;
    }
    r->digest = ref_digest_step(r->digest, v.checksum);
    r->total_bytes += REF_CHUNK_HEADER_BYTES + (uint64_t)v.payload_bytes;
    r->next_sequence++;
    *consumed = REF_CHUNK_HEADER_BYTES + (size_t)v.payload_bytes;
    return STATUS_SUCCESS;
}

/* The driver rebuilds its packets; the first failure fails the restore, with no further call. */
static NTSTATUS ref_restore_packets(vmbsave_channel *ch, const ref_model *m)
{
    const vmbsave_host_v1 *h = &ch->inst->host;
    if (h->restore_packet == NULL) {
        return STATUS_SUCCESS;
    }
    for (uint32_t i = 0; i < m->packet_count; i++) {
        const ref_packet *pk = &m->packets[i];
        const uint8_t *state = pk->driver_state_bytes != 0 ? pk->payload + pk->payload_bytes : NULL;
        ch->in_callback++;
        NTSTATUS st =
            h->restore_packet(h->context, ch, pk->id, pk->mem, REF_PR_PAYLOAD + pk->payload_bytes,
                              state, pk->driver_state_bytes);
        ch->in_callback--;
        if (!NT_SUCCESS(st)) {
            return STATUS_UNSUCCESSFUL;
        }
    }
    return STATUS_SUCCESS;
}

NTSTATUS ref_restore_from_buffer(vmbsave_channel *ch, const void *buffer, uint32_t buffer_size)
{
    /* Argument errors leave a restore in progress alone (RESTORE.PARAMS). */
    if (ch == NULL || buffer == NULL || buffer_size == 0) {
        return STATUS_INVALID_PARAMETER;
    }
    /* Re-entered from a restore-packet callback: the stage is in use by the outer call. */
    if (ch->in_callback != 0) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    /* A channel that is not fresh has no stage (ending freshness abandons it). */
    if (ch->save != NULL || !ch->fresh) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (ch->restore == NULL) {
        ref_restore *r = ref_alloc(ch->inst, sizeof *r);
        if (r == NULL) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        memset(r, 0, sizeof *r);
        ref_model_init(&r->m);
        ch->restore = r;
    }
    ref_restore *r = ch->restore;

    const uint8_t *p = buffer;
    size_t pos = 0;
    NTSTATUS st = STATUS_SUCCESS;
    while (pos < buffer_size) {
        if (r->done) {
            st = STATUS_REQUEST_OUT_OF_SEQUENCE; /* bytes after END */
            break;
        }
        size_t consumed = 0;
        st = ref_take_chunk(ch, r, p + pos, buffer_size - pos, &consumed);
        if (st != STATUS_SUCCESS) {
            break;
        }
        pos += consumed;
    }
    if (st == STATUS_SUCCESS && !r->done) {
        return STATUS_MORE_PROCESSING_REQUIRED;
    }
    if (st == STATUS_SUCCESS) {
        st = ref_restore_packets(ch, &r->m);
    }
    if (st != STATUS_SUCCESS) {
        ref_restore_abandon(ch); /* RESTORE.ATOMIC */
        return st;
    }

    /* Commit: the fresh channel holds nothing, so the staged model simply moves in. */
    ref_model_release(ch->inst, &ch->m);
    ch->m = r->m;
    ref_free(ch->inst, r);
    ch->restore = NULL;
    ch->fresh = false;
    ch->ever_enabled = true; /* a restored channel is past its init phase */
    return STATUS_SUCCESS;
}
