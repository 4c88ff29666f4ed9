/* The image the model expects a save session to produce (docs/FORMAT.md, written here from that
 * document alone). Chunk boundaries and PACKETS records depend on the driver's answers, which
 * the oracle learns from the host's logs as the session goes, so the image is planned (chunk
 * types and sizes) and written (bytes) incrementally, each as far as the answers allow. */
#include <string.h>

#include "oracle/oracle.h"
#include "program/step_args.h"

enum {
    PHASE_HEADER = 0,
    PHASE_GPADLS,
    PHASE_PACKETS,
    PHASE_RING_IN,
    PHASE_RING_OUT,
    PHASE_END,
    PHASE_DONE
};

#define RING_PIECE_MAX (VMBSAVE_CHUNK_MAX_PAYLOAD - VMBSAVE_RING_PIECE_FIXED)

static void encode_header(const oracle_state *m, uint8_t *p)
{
    memset(p, 0, VMBSAVE_HEADER_PAYLOAD_BYTES);
    vmbsave_put_u32(p + VMBSAVE_HDR_STATE, (uint32_t)m->state);
    memcpy(p + VMBSAVE_HDR_INTERFACE_TYPE, m->offer.interface_type.bytes, 16);
    memcpy(p + VMBSAVE_HDR_INTERFACE_INSTANCE, m->offer.interface_instance.bytes, 16);
    vmbsave_put_u16(p + VMBSAVE_HDR_SUBCHANNEL, m->offer.subchannel_index);
    vmbsave_put_u16(p + VMBSAVE_HDR_MMIO, m->offer.mmio_megabytes);
    vmbsave_put_u32(p + VMBSAVE_HDR_OFFER_FLAGS, m->offer.flags);
    memcpy(p + VMBSAVE_HDR_USER_DEFINED, m->offer.user_defined, VMBSAVE_USER_DEFINED_BYTES);
    vmbsave_put_u32(p + VMBSAVE_HDR_RING_GPADL, m->open.ring_gpadl_id);
    vmbsave_put_u32(p + VMBSAVE_HDR_IN_BYTES, m->open.incoming_ring_bytes);
    vmbsave_put_u32(p + VMBSAVE_HDR_OUT_BYTES, m->open.outgoing_ring_bytes);
    vmbsave_put_u32(p + VMBSAVE_HDR_TARGET_VP, m->open.target_vp);
    vmbsave_put_u32(p + VMBSAVE_HDR_CONNECTION, m->open.connection_id);
    vmbsave_put_u64(p + VMBSAVE_HDR_NEXT_SEQ, m->next_seq);
    vmbsave_put_u32(p + VMBSAVE_HDR_GPADLS, m->gpadl_count);
    vmbsave_put_u32(p + VMBSAVE_HDR_PACKETS, m->packet_count);
    vmbsave_put_u32(p + VMBSAVE_HDR_PENDING, m->rings[0].len);
    vmbsave_put_u32(p + VMBSAVE_HDR_PENDING + 4, m->rings[1].len);
}

void oracle_plan_reset(oracle_plan *p, const oracle_state *m)
{
    p->planned = 0;
    p->written = 0;
    p->end_planned = false;
    p->too_large = false;
    p->phase = PHASE_HEADER;
    p->gpadl_next = 0;
    p->packet_next = 0;
    p->ring_off = 0;
    p->stuck_packet = UINT32_MAX;
    p->digest = 0;
    p->bytes_written = 0;
    encode_header(m, p->header_payload);
    p->image_id = vmbsave_hash(p->header_payload, VMBSAVE_HEADER_PAYLOAD_BYTES, 0);
}

static uint32_t gpadl_record(const oracle_gpadl *g)
{
    return VMBSAVE_GPADL_RECORD_FIXED + 8u * g->pfn_count;
}

static void add_chunk(oracle_plan *p, uint16_t type, uint32_t size, uint32_t first, uint32_t count,
                      uint8_t dir)
{
    oracle_chunk_plan *c = &p->chunks[p->planned];
    c->type = type;
    c->size = size;
    c->first = first;
    c->count = count;
    c->dir = dir;
    c->offset =
        p->planned == 0 ? 0u : p->chunks[p->planned - 1u].offset + p->chunks[p->planned - 1u].size;
    p->planned++;
}

void oracle_plan_extend(oracle_plan *p, const oracle_state *m, const oracle_packet_answer *answers)
{
    p->stuck_packet = UINT32_MAX;
    /* The contract allows states whose image exceeds what a run holds (4,096 packets with
     * 16 KiB payloads); stop rather than overrun, and say so (too_large). */
    while (!p->end_planned && p->planned < ORACLE_MAX_CHUNKS) {
        switch (p->phase) {
        case PHASE_HEADER:
            add_chunk(p, VMBSAVE_CHUNK_HEADER,
                      VMBSAVE_CHUNK_HEADER_BYTES + VMBSAVE_HEADER_PAYLOAD_BYTES, 0, 0, 0);
            p->phase = PHASE_GPADLS;
            break;
        case PHASE_GPADLS: {
            if (p->gpadl_next >= m->gpadl_count) {
                p->phase = PHASE_PACKETS;
                break;
            }
            uint32_t size = VMBSAVE_CHUNK_HEADER_BYTES + VMBSAVE_RECORD_COUNT_BYTES;
            uint32_t k = p->gpadl_next;
            while (k < m->gpadl_count &&
                   size + gpadl_record(&m->gpadls[k]) <= VMBSAVE_MAX_CHUNK_BYTES) {
                size += gpadl_record(&m->gpadls[k]);
                k++;
            }
            add_chunk(p, VMBSAVE_CHUNK_GPADLS, size, p->gpadl_next, k - p->gpadl_next, 0);
            p->gpadl_next = k;
            break;
        }
        case PHASE_PACKETS: {
            if (p->packet_next >= m->packet_count) {
                p->phase = PHASE_RING_IN;
                p->ring_off = 0;
                break;
            }
            uint32_t size = VMBSAVE_CHUNK_HEADER_BYTES + VMBSAVE_RECORD_COUNT_BYTES;
            uint32_t k = p->packet_next;
            while (k < m->packet_count) {
                const oracle_packet_answer *a = &answers[k];
                uint32_t bare = VMBSAVE_PACKET_RECORD_FIXED + m->packets[k].bytes;
                if (!a->first || a->failure != 0) {
                    /* Greedy packing needs this record's size unless even a stateless record
                     * would not fit. */
                    if (k > p->packet_next && size + bare > VMBSAVE_MAX_CHUNK_BYTES)
                        break;
                    p->stuck_packet = k;
                    return;
                }
                uint32_t record = bare + a->need;
                if (size + record > VMBSAVE_MAX_CHUNK_BYTES)
                    break;
                size += record;
                k++;
            }
            add_chunk(p, VMBSAVE_CHUNK_PACKETS, size, p->packet_next, k - p->packet_next, 0);
            p->packet_next = k;
            break;
        }
        case PHASE_RING_IN:
        case PHASE_RING_OUT: {
            unsigned d = p->phase == PHASE_RING_IN ? 0u : 1u;
            uint32_t len = m->rings[d].len;
            if (p->ring_off >= len) {
                p->phase++;
                p->ring_off = 0;
                break;
            }
            uint32_t piece =
                len - p->ring_off < RING_PIECE_MAX ? len - p->ring_off : RING_PIECE_MAX;
            add_chunk(p, VMBSAVE_CHUNK_RING,
                      VMBSAVE_CHUNK_HEADER_BYTES + VMBSAVE_RING_PIECE_FIXED + piece, p->ring_off,
                      piece, (uint8_t)d);
            p->ring_off += piece;
            break;
        }
        case PHASE_END:
            add_chunk(p, VMBSAVE_CHUNK_END, VMBSAVE_CHUNK_HEADER_BYTES + VMBSAVE_END_PAYLOAD_BYTES,
                      0, 0, 0);
            p->end_planned = true;
            p->phase = PHASE_DONE;
            break;
        default: return;
        }
    }
    if (!p->end_planned)
        p->too_large = true; /* stopped at ORACLE_MAX_CHUNKS */
}

/* Whether every packet of a PACKETS chunk has its driver state. */
static bool packets_known(const oracle_chunk_plan *c, const oracle_packet_answer *answers)
{
    for (uint32_t i = c->first; i < c->first + c->count; i++) {
        const oracle_packet_answer *a = &answers[i];
        if (!a->first || a->failure != 0 || (a->need != 0 && !a->second))
            return false;
    }
    return true;
}

static uint32_t write_payload(vmbsave_oracle *o, const oracle_plan *p, const oracle_chunk_plan *c,
                              const oracle_state *m, const oracle_packet_answer *answers,
                              uint32_t index, uint8_t *out)
{
    uint32_t n = 0;
    switch (c->type) {
    case VMBSAVE_CHUNK_HEADER:
        memcpy(out, p->header_payload, VMBSAVE_HEADER_PAYLOAD_BYTES);
        n = VMBSAVE_HEADER_PAYLOAD_BYTES;
        break;
    case VMBSAVE_CHUNK_GPADLS:
        vmbsave_put_u32(out, c->count);
        n = VMBSAVE_RECORD_COUNT_BYTES;
        for (uint32_t i = c->first; i < c->first + c->count; i++) {
            const oracle_gpadl *g = &m->gpadls[i];
            uint8_t *r = out + n;
            vmbsave_put_u32(r + 0, gpadl_record(g));
            vmbsave_put_u32(r + 4, g->id);
            vmbsave_put_u32(r + 8, g->state);
            vmbsave_put_u32(r + 12, g->pfn_count);
            const uint64_t *pfns = oracle_gpadl_pfns(o, m, g);
            for (uint32_t k = 0; k < g->pfn_count; k++)
                vmbsave_put_u64(r + 16 + 8u * k, pfns[k]);
            n += gpadl_record(g);
        }
        break;
    case VMBSAVE_CHUNK_PACKETS:
        vmbsave_put_u32(out, c->count);
        n = VMBSAVE_RECORD_COUNT_BYTES;
        for (uint32_t i = c->first; i < c->first + c->count; i++) {
            const oracle_packet *pk = &m->packets[i];
            const oracle_packet_answer *a = &answers[i];
            uint8_t *r = out + n;
            uint32_t record = VMBSAVE_PACKET_RECORD_FIXED + pk->bytes + a->need;
            vmbsave_put_u32(r + 0, record);
            vmbsave_put_u64(r + 4, pk->id);
            vmbsave_put_u64(r + 12, pk->seq);
            vmbsave_put_u32(r + 20, pk->gpadl);
            vmbsave_put_u32(r + 24, pk->bytes);
            vmbsave_put_u32(r + 28, a->need);
            memcpy(r + 32, oracle_packet_payload(o, m, pk), pk->bytes);
            /* The driver filled `written` bytes of a zeroed buffer (PACKET.SAVE.SIZE_QUERY_FIRST).
             */
            uint8_t *state = r + 32 + pk->bytes;
            memset(state, 0, a->need);
            vmbsave_driver_state(pk->id, state, a->written);
            n += record;
        }
        break;
    case VMBSAVE_CHUNK_RING:
        vmbsave_put_u32(out + 0, c->dir);
        vmbsave_put_u32(out + 4, c->first);
        memcpy(out + 8, oracle_ring_data(&m->rings[c->dir]) + c->first, c->count);
        n = VMBSAVE_RING_PIECE_FIXED + c->count;
        break;
    case VMBSAVE_CHUNK_END:
        vmbsave_put_u32(out + 0, index + 1u);
        vmbsave_put_u32(out + 4, 0);
        vmbsave_put_u64(out + 8, (uint64_t)c->offset + c->size);
        vmbsave_put_u64(out + 16, p->digest);
        n = VMBSAVE_END_PAYLOAD_BYTES;
        break;
    default: break;
    }
    return n;
}

uint32_t oracle_plan_write(vmbsave_oracle *o, oracle_plan *p, const oracle_state *m,
                           const oracle_packet_answer *answers, uint32_t upto)
{
    if (upto > p->planned)
        upto = p->planned;
    while (p->written < upto) {
        uint32_t index = p->written;
        const oracle_chunk_plan *c = &p->chunks[index];
        if (c->type == VMBSAVE_CHUNK_PACKETS && !packets_known(c, answers))
            break;
        if ((uint64_t)c->offset + c->size > ORACLE_MAX_IMAGE) {
            p->too_large = true;
            break;
        }
        uint8_t *chunk = p->image + c->offset;
        uint32_t n = write_payload(o, p, c, m, answers, index, chunk + VMBSAVE_CHUNK_HEADER_BYTES);
        uint64_t checksum = vmbsave_chunk_seal(chunk, c->type, index, n, p->image_id);
        if (c->type != VMBSAVE_CHUNK_END)
            p->digest = vmbsave_digest_step(p->digest, checksum);
        p->bytes_written = c->offset + c->size;
        p->written++;
    }
    return p->written;
}
