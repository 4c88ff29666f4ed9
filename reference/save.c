/* VmbChannelSaveBegin/Continue/End (clauses SAVE.*, PACKET.SAVE.*).
 *
 * The session walks the image as a state machine, one chunk at a time. Chunks whose size is
 * known in advance (HEADER, GPADLS, RING, END) are written straight into the caller's buffer;
 * a PACKETS chunk depends on the driver's answers, so it is built once in the session's
 * staging buffer and kept there until the caller's buffer takes it: a TOO_SMALL retry or a
 * size query never calls a packet callback a second time. */
#include <string.h>

#include "image.h"
#include "internal.h"

typedef enum ref_save_phase {
    REF_PHASE_HEADER = 0,
    REF_PHASE_GPADLS,
    REF_PHASE_PACKETS,
    REF_PHASE_RING_INCOMING,
    REF_PHASE_RING_OUTGOING,
    REF_PHASE_END,
    REF_PHASE_DONE
} ref_save_phase;

struct ref_save_session {
    /* Aligned scratch for the driver's second save_packet call, so a driver may treat it as
     * a struct; copied into the packet record afterwards. */
    _Alignas(16) uint8_t driver_scratch[VMBSAVE_MAX_DRIVER_PACKET_STATE];
    uint64_t image_id;
    uint64_t digest;      /* END's digest over the chunks written so far */
    uint64_t total_bytes; /* bytes of the chunks written so far */
    uint32_t sequence;    /* the next chunk's sequence number */
    ref_save_phase phase;
    uint32_t gpadl_next;   /* first GPADL not yet written */
    uint32_t packet_next;  /* first packet not yet placed in a built PACKETS chunk */
    uint32_t ring_offset;  /* bytes of the current direction already written */
    uint32_t staged_bytes; /* a built PACKETS chunk waiting in staging (0: none) */
    bool have_first;       /* packet_next's first callback answer is known ... */
    uint32_t first_need;   /* ... and asked for this many bytes */
    bool completed;        /* END was written */
    NTSTATUS sticky;       /* a failure every later continue repeats */
    uint8_t header_payload[REF_HDR_PAYLOAD_BYTES];
    uint8_t staging[VMBSAVE_MAX_CHUNK_BYTES];
};

static void ref_encode_header(const ref_model *m, uint8_t *p)
{
    memset(p, 0, REF_HDR_PAYLOAD_BYTES);
    ref_put_u32(p + REF_HDR_STATE, (uint32_t)m->state);
    memcpy(p + REF_HDR_INTERFACE_TYPE, m->offer.interface_type.bytes, 16);
    memcpy(p + REF_HDR_INTERFACE_INSTANCE, m->offer.interface_instance.bytes, 16);
    ref_put_u16(p + REF_HDR_SUBCHANNEL_INDEX, m->offer.subchannel_index);
    ref_put_u16(p + REF_HDR_MMIO_MEGABYTES, m->offer.mmio_megabytes);
    ref_put_u32(p + REF_HDR_OFFER_FLAGS, m->offer.flags);
    memcpy(p + REF_HDR_USER_DEFINED, m->offer.user_defined, VMBSAVE_USER_DEFINED_BYTES);
    ref_put_u32(p + REF_HDR_RING_GPADL_ID, m->open.ring_gpadl_id);
    ref_put_u32(p + REF_HDR_INCOMING_RING_BYTES, m->open.incoming_ring_bytes);
    ref_put_u32(p + REF_HDR_OUTGOING_RING_BYTES, m->open.outgoing_ring_bytes);
    ref_put_u32(p + REF_HDR_TARGET_VP, m->open.target_vp);
    ref_put_u32(p + REF_HDR_CONNECTION_ID, m->open.connection_id);
    ref_put_u64(p + REF_HDR_NEXT_SEND_SEQUENCE, m->next_send_sequence);
    ref_put_u32(p + REF_HDR_GPADL_COUNT, m->gpadl_count);
    ref_put_u32(p + REF_HDR_PACKET_COUNT, m->packet_count);
    ref_put_u32(p + REF_HDR_INCOMING_PENDING, m->rings[VMBSAVE_RING_INCOMING].len);
    ref_put_u32(p + REF_HDR_OUTGOING_PENDING, m->rings[VMBSAVE_RING_OUTGOING].len);
}

NTSTATUS ref_save_begin(vmbsave_channel *ch)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ch->save != NULL || ch->in_callback != 0 || ch->restore != NULL) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (ch->m.state != VMBSAVE_STATE_ENABLED && ch->m.state != VMBSAVE_STATE_OPEN_PAUSED) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    ref_save_session *s = ref_alloc(ch->inst, sizeof *s);
    if (s == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    /* Only the bookkeeping is cleared; staging bytes are always written before use. */
    memset(s, 0, offsetof(ref_save_session, staging));
    s->phase = REF_PHASE_HEADER;
    s->sticky = STATUS_SUCCESS;
    /* The image is the state now; lifecycle changes are refused until save_end, so the live
     * state read chunk by chunk below stays equal to it. */
    ref_encode_header(&ch->m, s->header_payload);
    s->image_id = ref_hash(s->header_payload, REF_HDR_PAYLOAD_BYTES, 0);
    ch->save = s;
    return STATUS_SUCCESS;
}

void ref_save_end(vmbsave_channel *ch)
{
    /* Inside a packet callback the session is in use by the caller: ignore. */
    if (ch == NULL || ch->in_callback != 0 || ch->save == NULL) {
        return;
    }
    ref_free(ch->inst, ch->save);
    ch->save = NULL;
}

/* ---- Chunk sizes ------------------------------------------------------------------------- */

static uint32_t ref_gpadl_record_bytes(const ref_gpadl *g)
{
    return REF_GR_PFNS + g->pfn_count * 8u;
}

/* Greedy GPADLS packing from `first`: the chunk size, and one past its last GPADL. */
static uint32_t ref_gpadls_span(const ref_model *m, uint32_t first, uint32_t *end)
{
    uint32_t bytes = REF_CHUNK_HEADER_BYTES + REF_RECORD_COUNT_BYTES;
    uint32_t i = first;
    while (i < m->gpadl_count &&
           bytes + ref_gpadl_record_bytes(&m->gpadls[i]) <= VMBSAVE_MAX_CHUNK_BYTES) {
        bytes += ref_gpadl_record_bytes(&m->gpadls[i]);
        i++;
    }
    *end = i;
    return bytes;
}

static uint32_t ref_ring_piece(const ref_ring *r, uint32_t offset)
{
    uint32_t left = r->len - offset;
    return left < REF_RING_MAX_PIECE ? left : REF_RING_MAX_PIECE;
}

/* Moves past phases with nothing (left) to write. */
static void ref_settle(const ref_model *m, ref_save_session *s)
{
    for (;;) {
        switch (s->phase) {
        case REF_PHASE_GPADLS:
            if (s->gpadl_next < m->gpadl_count) {
                return;
            }
            s->phase = REF_PHASE_PACKETS;
            break;
        case REF_PHASE_PACKETS:
            if (s->staged_bytes != 0 || s->packet_next < m->packet_count) {
                return;
            }
            s->phase = REF_PHASE_RING_INCOMING;
            s->ring_offset = 0;
            break;
        case REF_PHASE_RING_INCOMING:
            if (s->ring_offset < m->rings[VMBSAVE_RING_INCOMING].len) {
                return;
            }
            s->phase = REF_PHASE_RING_OUTGOING;
            s->ring_offset = 0;
            break;
        case REF_PHASE_RING_OUTGOING:
            if (s->ring_offset < m->rings[VMBSAVE_RING_OUTGOING].len) {
                return;
            }
            s->phase = REF_PHASE_END;
            break;
        default: return;
        }
    }
}

/* ---- Packet callbacks (PACKET.SAVE.*) ---------------------------------------------------- */

/* The size query: how many bytes of driver state the packet has. */
static NTSTATUS ref_packet_first_call(vmbsave_channel *ch, uint64_t packet_id, uint32_t *need)
{
    const vmbsave_host_v1 *h = &ch->inst->host;
    *need = 0;
    if (h->save_packet == NULL) {
        return STATUS_SUCCESS;
    }
    uint32_t bytes_needed = 0;
    ch->in_callback++;
    NTSTATUS st = h->save_packet(h->context, ch, packet_id, NULL, 0, &bytes_needed);
    ch->in_callback--;
    if (NT_SUCCESS(st)) {
        return STATUS_SUCCESS; /* no driver state; bytes_needed is meaningless */
    }
    if (bytes_needed == 0) {
        return STATUS_UNSUCCESSFUL;
    }
    if (bytes_needed > VMBSAVE_MAX_DRIVER_PACKET_STATE) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    *need = bytes_needed;
    return STATUS_SUCCESS;
}

/* The second call, with exactly `need` zeroed bytes; on success they land in dst. */
static NTSTATUS ref_packet_second_call(vmbsave_channel *ch, ref_save_session *s, uint64_t packet_id,
                                       uint32_t need, uint8_t *dst)
{
    const vmbsave_host_v1 *h = &ch->inst->host;
    /* Zeroed so that bytes the driver leaves alone are deterministic. */
    memset(s->driver_scratch, 0, need);
    uint32_t bytes_needed = need;
    ch->in_callback++;
    NTSTATUS st = h->save_packet(h->context, ch, packet_id, s->driver_scratch, need, &bytes_needed);
    ch->in_callback--;
    /* Whatever the driver returned, its status is never passed on as-is
     * (PACKET.SAVE.STATUS_NOT_FORWARDED). */
    if (bytes_needed > need) {
        return STATUS_INTERNAL_ERROR;
    }
    if (!NT_SUCCESS(st)) {
        return STATUS_UNSUCCESSFUL;
    }
    memcpy(dst, s->driver_scratch, need);
    return STATUS_SUCCESS;
}

/* Builds the next PACKETS chunk at c (the staging buffer, or the caller's buffer when a
 * whole chunk of any size fits there), greedily. A packet whose record does not fit starts
 * the next chunk; its size answer is kept so it is not asked again. */
static NTSTATUS ref_build_packets(vmbsave_channel *ch, ref_save_session *s, uint8_t *c,
                                  uint32_t *bytes)
{
    const ref_model *m = &ch->m;
    uint32_t pos = REF_CHUNK_HEADER_BYTES + REF_RECORD_COUNT_BYTES;
    uint32_t count = 0;
    while (s->packet_next < m->packet_count) {
        const ref_packet *p = &m->packets[s->packet_next];
        if (!s->have_first) {
            uint32_t need;
            NTSTATUS st = ref_packet_first_call(ch, p->id, &need);
            if (st != STATUS_SUCCESS) {
                return st;
            }
            s->have_first = true;
            s->first_need = need;
        }
        uint32_t record = REF_PR_PAYLOAD + p->payload_bytes + s->first_need;
        if (pos + record > VMBSAVE_MAX_CHUNK_BYTES) {
            break; /* never with count 0: the largest record is far below a chunk */
        }
        uint8_t *r = c + pos;
        ref_put_u32(r + REF_PR_RECORD_BYTES, record);
        ref_put_u64(r + REF_PR_ID, p->id);
        ref_put_u64(r + REF_PR_SEND_SEQUENCE, p->send_sequence);
        ref_put_u32(r + REF_PR_GPADL_ID, p->gpadl_id);
        ref_put_u32(r + REF_PR_PAYLOAD_BYTES, p->payload_bytes);
        ref_put_u32(r + REF_PR_DRIVER_STATE_BYTES, s->first_need);
        ref_copy(r + REF_PR_PAYLOAD, p->payload, p->payload_bytes);
        if (s->first_need != 0) {
            NTSTATUS st = ref_packet_second_call(ch, s, p->id, s->first_need,
                                                 r + REF_PR_PAYLOAD + p->payload_bytes);
            if (st != STATUS_SUCCESS) {
                return st;
            }
        }
        s->have_first = false;
        s->first_need = 0;
        s->packet_next++;
        pos += record;
        count++;
    }
    ref_put_u32(c + REF_CHUNK_HEADER_BYTES, count);
    (void)ref_chunk_seal(c, (uint16_t)REF_CHUNK_PACKETS, s->sequence, pos - REF_CHUNK_HEADER_BYTES,
                         s->image_id);
    *bytes = pos;
    return STATUS_SUCCESS;
}

/* Size of the next chunk; may build a PACKETS chunk (and so call the driver). */
static NTSTATUS ref_next_chunk_bytes(vmbsave_channel *ch, ref_save_session *s, uint32_t *bytes)
{
    const ref_model *m = &ch->m;
    uint32_t end;
    switch (s->phase) {
    case REF_PHASE_HEADER:
        *bytes = REF_CHUNK_HEADER_BYTES + REF_HDR_PAYLOAD_BYTES;
        return STATUS_SUCCESS;
    case REF_PHASE_GPADLS: *bytes = ref_gpadls_span(m, s->gpadl_next, &end); return STATUS_SUCCESS;
    case REF_PHASE_PACKETS:
        if (s->staged_bytes == 0) {
            NTSTATUS st = ref_build_packets(ch, s, s->staging, &s->staged_bytes);
            if (st != STATUS_SUCCESS) {
                return st;
            }
        }
        *bytes = s->staged_bytes;
        return STATUS_SUCCESS;
    case REF_PHASE_RING_INCOMING:
    case REF_PHASE_RING_OUTGOING: {
        unsigned d = s->phase == REF_PHASE_RING_INCOMING ? 0u : 1u;
        *bytes =
            REF_CHUNK_HEADER_BYTES + REF_RING_DATA + ref_ring_piece(&m->rings[d], s->ring_offset);
        return STATUS_SUCCESS;
    }
    case REF_PHASE_END:
    default: *bytes = REF_END_CHUNK_BYTES; return STATUS_SUCCESS;
    }
}

/* Bookkeeping after a chunk with this checksum and size went out. */
static void ref_chunk_done(const ref_model *m, ref_save_session *s, uint64_t checksum,
                           uint32_t bytes)
{
    s->digest = ref_digest_step(s->digest, checksum);
    s->total_bytes += bytes;
    s->sequence++;
    ref_settle(m, s);
}

/* Writes the next chunk (of `bytes` bytes, as ref_next_chunk_bytes said) at dst. */
static void ref_write_chunk(vmbsave_channel *ch, ref_save_session *s, uint8_t *dst, uint32_t bytes)
{
    const ref_model *m = &ch->m;
    uint8_t *payload = dst + REF_CHUNK_HEADER_BYTES;
    uint32_t payload_bytes = bytes - REF_CHUNK_HEADER_BYTES;
    uint64_t checksum;
    switch (s->phase) {
    case REF_PHASE_HEADER:
        memcpy(payload, s->header_payload, REF_HDR_PAYLOAD_BYTES);
        checksum = ref_chunk_seal(dst, (uint16_t)REF_CHUNK_HEADER, s->sequence, payload_bytes,
                                  s->image_id);
        s->phase = REF_PHASE_GPADLS;
        break;
    case REF_PHASE_GPADLS: {
        uint32_t end;
        (void)ref_gpadls_span(m, s->gpadl_next, &end);
        ref_put_u32(payload, end - s->gpadl_next);
        uint8_t *r = payload + REF_RECORD_COUNT_BYTES;
        for (uint32_t i = s->gpadl_next; i < end; i++) {
            const ref_gpadl *g = &m->gpadls[i];
            uint32_t record = ref_gpadl_record_bytes(g);
            ref_put_u32(r + REF_GR_RECORD_BYTES, record);
            ref_put_u32(r + REF_GR_ID, g->id);
            ref_put_u32(r + REF_GR_STATE, g->state);
            ref_put_u32(r + REF_GR_PFN_COUNT, g->pfn_count);
            memcpy(r + REF_GR_PFNS, g->pfns_le, (size_t)g->pfn_count * 8u);
            r += record;
        }
        s->gpadl_next = end;
        checksum = ref_chunk_seal(dst, (uint16_t)REF_CHUNK_GPADLS, s->sequence, payload_bytes,
                                  s->image_id);
        break;
    }
    case REF_PHASE_PACKETS:
        memcpy(dst, s->staging, bytes);
        checksum = ref_get_u64(s->staging + REF_CH_CHECKSUM);
        s->staged_bytes = 0;
        break;
    case REF_PHASE_RING_INCOMING:
    case REF_PHASE_RING_OUTGOING: {
        unsigned d = s->phase == REF_PHASE_RING_INCOMING ? 0u : 1u;
        uint32_t piece = payload_bytes - REF_RING_DATA;
        ref_put_u32(payload + REF_RING_DIRECTION, d);
        ref_put_u32(payload + REF_RING_OFFSET, s->ring_offset);
        ref_ring_copy_out(&m->rings[d], s->ring_offset, payload + REF_RING_DATA, piece);
        /* Sealing hashes the piece right after the copy, while it is still in cache. */
        checksum =
            ref_chunk_seal(dst, (uint16_t)REF_CHUNK_RING, s->sequence, payload_bytes, s->image_id);
        s->ring_offset += piece;
        break;
    }
    case REF_PHASE_END:
    default:
        ref_put_u32(payload + REF_END_CHUNK_COUNT, s->sequence + 1u);
        ref_put_u32(payload + REF_END_RESERVED, 0);
        ref_put_u64(payload + REF_END_TOTAL_BYTES, s->total_bytes + bytes);
        ref_put_u64(payload + REF_END_DIGEST, s->digest);
        checksum =
            ref_chunk_seal(dst, (uint16_t)REF_CHUNK_END, s->sequence, payload_bytes, s->image_id);
        s->phase = REF_PHASE_DONE;
        break;
    }
    ref_chunk_done(m, s, checksum, bytes);
}

NTSTATUS ref_save_continue(vmbsave_channel *ch, void *buffer, uint32_t buffer_size,
                           uint32_t *bytes_filled, uint32_t *bytes_required)
{
    if (bytes_filled != NULL) {
        *bytes_filled = 0;
    }
    if (bytes_required != NULL) {
        *bytes_required = 0;
    }
    if (ch == NULL || bytes_filled == NULL || bytes_required == NULL ||
        (buffer == NULL && buffer_size != 0)) {
        return STATUS_INVALID_PARAMETER;
    }
    ref_save_session *s = ch->save;
    if (s == NULL || s->completed || ch->in_callback != 0) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (s->sticky != STATUS_SUCCESS) {
        return s->sticky;
    }

    uint8_t *out = buffer;
    uint32_t filled = 0;
    uint32_t next;
    for (;;) {
        if (s->phase == REF_PHASE_PACKETS && s->staged_bytes == 0 &&
            buffer_size - filled >= VMBSAVE_MAX_CHUNK_BYTES) {
            /* Any chunk fits: build the PACKETS chunk in place, saving a copy through the
             * staging buffer. It is written at once, so no retry can ask for it again. */
            uint32_t bytes;
            NTSTATUS st = ref_build_packets(ch, s, out + filled, &bytes);
            if (st != STATUS_SUCCESS) {
                s->sticky = st;
                *bytes_filled = 0;
                return st;
            }
            ref_chunk_done(&ch->m, s, ref_get_u64(out + filled + REF_CH_CHECKSUM), bytes);
            filled += bytes;
            continue;
        }
        NTSTATUS st = ref_next_chunk_bytes(ch, s, &next);
        if (st != STATUS_SUCCESS) {
            /* A chunk is lost: the image cannot be completed (SAVE.CONTINUE.STICKY_ERROR). */
            s->sticky = st;
            *bytes_filled = 0;
            return st;
        }
        if (next > buffer_size - filled) {
            break;
        }
        ref_write_chunk(ch, s, out + filled, next);
        filled += next;
        if (s->phase == REF_PHASE_DONE) {
            s->completed = true;
            *bytes_filled = filled;
            return STATUS_SUCCESS;
        }
    }
    *bytes_filled = filled;
    *bytes_required = next;
    return filled != 0 ? STATUS_BUFFER_OVERFLOW : STATUS_BUFFER_TOO_SMALL;
}
