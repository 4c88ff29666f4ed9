/* The image bytes of FORMAT.md: little-endian fields, checksums, and the writer that lays a
 * whole channel out in one buffer (greedy packing, FORMAT.CHUNKING.CANONICAL). The writer
 * runs the same walk twice: once without a buffer to size it, once to fill it, so the size
 * and the bytes cannot disagree. */
#include <string.h>

#include "second.h"

void sv_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void sv_put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void sv_put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t sv_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t sv_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t sv_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint64_t sv_chunk_checksum(const uint8_t *chunk, uint32_t payload_bytes)
{
    return sv_hash(chunk + SV_CHUNK_HDR, payload_bytes, sv_hash(chunk, 32, 0));
}

uint64_t sv_digest_step(uint64_t digest, uint64_t checksum)
{
    uint8_t le[8];
    sv_put64(le, checksum);
    return sv_hash(le, sizeof le, digest);
}

/* ---- The writer ---------------------------------------------------------------------------- */

#define MAX_PAYLOAD (VMBSAVE_MAX_CHUNK_BYTES - SV_CHUNK_HDR)

typedef struct writer {
    uint8_t *img; /* NULL: only count */
    const uint8_t *states;
    uint64_t pos;
    uint32_t seq;
} writer;

/* Writes a chunk header (image id and checksum are sealed later) and moves past the chunk. */
static void close_chunk(writer *w, uint16_t type, uint32_t payload_bytes)
{
    if (w->img != NULL) {
        uint8_t *h = w->img + w->pos;
        memset(h, 0, SV_CHUNK_HDR);
        sv_put32(h + 0, SV_MAGIC);
        sv_put16(h + 4, SV_MAJOR);
        sv_put16(h + 6, SV_MINOR);
        sv_put16(h + 8, type);
        sv_put32(h + 12, w->seq);
        sv_put32(h + 16, payload_bytes);
    }
    w->pos += SV_CHUNK_HDR + payload_bytes;
    w->seq++;
}

static void write_header(writer *w, const vmbsave_channel *ch)
{
    if (w->img != NULL) {
        uint8_t *p = w->img + w->pos + SV_CHUNK_HDR;
        const vmbsave_offer *o = &ch->offer;
        const vmbsave_open_params *op = &ch->c.open;
        memset(p, 0, SV_HEADER_PAYLOAD);
        sv_put32(p + 0, (uint32_t)ch->state);
        memcpy(p + 4, o->interface_type.bytes, 16);
        memcpy(p + 20, o->interface_instance.bytes, 16);
        sv_put16(p + 36, o->subchannel_index);
        sv_put16(p + 38, o->mmio_megabytes);
        sv_put32(p + 40, o->flags);
        memcpy(p + 44, o->user_defined, VMBSAVE_USER_DEFINED_BYTES);
        sv_put32(p + 164, op->ring_gpadl_id);
        sv_put32(p + 168, op->incoming_ring_bytes);
        sv_put32(p + 172, op->outgoing_ring_bytes);
        sv_put32(p + 176, op->target_vp);
        sv_put32(p + 180, op->connection_id);
        sv_put64(p + 184, ch->next_seq);
        sv_put32(p + 192, ch->c.gpadl_count);
        sv_put32(p + 196, ch->c.packet_count);
        sv_put32(p + 200, ch->c.rings[0].len);
        sv_put32(p + 204, ch->c.rings[1].len);
    }
    close_chunk(w, SV_T_HEADER, SV_HEADER_PAYLOAD);
}

static uint32_t gpadl_record_bytes(const sv_gpadl *g)
{
    return SV_GPADL_FIXED + 8u * g->pfn_count;
}

static void write_gpadls(writer *w, const sv_contents *c)
{
    uint32_t i = 0;
    while (i < c->gpadl_count) {
        uint32_t payload = SV_COUNT_BYTES, n = 0;
        while (i < c->gpadl_count && payload + gpadl_record_bytes(c->gpadls[i]) <= MAX_PAYLOAD) {
            const sv_gpadl *g = c->gpadls[i];
            if (w->img != NULL) {
                uint8_t *r = w->img + w->pos + SV_CHUNK_HDR + payload;
                sv_put32(r + 0, gpadl_record_bytes(g));
                sv_put32(r + 4, g->id);
                sv_put32(r + 8, g->state);
                sv_put32(r + 12, g->pfn_count);
                memcpy(r + SV_GPADL_FIXED, g->pfn_le, 8u * g->pfn_count);
            }
            payload += gpadl_record_bytes(g);
            n++;
            i++;
        }
        if (w->img != NULL)
            sv_put32(w->img + w->pos + SV_CHUNK_HDR, n);
        close_chunk(w, SV_T_GPADLS, payload);
    }
}

static uint32_t packet_record_bytes(const sv_packet *p)
{
    return SV_PACKET_FIXED + p->bytes + p->save_need;
}

static void write_packets(writer *w, const sv_contents *c)
{
    uint32_t i = 0;
    while (i < c->packet_count) {
        uint32_t payload = SV_COUNT_BYTES, n = 0;
        while (i < c->packet_count &&
               payload + packet_record_bytes(c->packets[i]) <= MAX_PAYLOAD) {
            const sv_packet *p = c->packets[i];
            if (w->img != NULL) {
                uint8_t *r = w->img + w->pos + SV_CHUNK_HDR + payload;
                sv_put32(r + 0, packet_record_bytes(p));
                sv_put64(r + 4, p->id);
                sv_put64(r + 12, p->seq);
                sv_put32(r + 20, p->gpadl);
                sv_put32(r + 24, p->bytes);
                sv_put32(r + 28, p->save_need);
                if (p->bytes != 0)
                    memcpy(r + SV_PACKET_FIXED, p->payload, p->bytes);
                if (p->save_need != 0)
                    memcpy(r + SV_PACKET_FIXED + p->bytes, w->states + p->save_at, p->save_need);
            }
            payload += packet_record_bytes(p);
            n++;
            i++;
        }
        if (w->img != NULL)
            sv_put32(w->img + w->pos + SV_CHUNK_HDR, n);
        close_chunk(w, SV_T_PACKETS, payload);
    }
}

static void write_ring(writer *w, const sv_ring *r, uint32_t direction)
{
    uint32_t off = 0;
    while (off < r->len) {
        uint32_t piece = r->len - off;
        if (piece > MAX_PAYLOAD - SV_RING_FIXED)
            piece = MAX_PAYLOAD - SV_RING_FIXED;
        if (w->img != NULL) {
            uint8_t *p = w->img + w->pos + SV_CHUNK_HDR;
            sv_put32(p + 0, direction);
            sv_put32(p + 4, off);
            memcpy(p + SV_RING_FIXED, r->buf + off, piece);
        }
        close_chunk(w, SV_T_RING, SV_RING_FIXED + piece);
        off += piece;
    }
}

static uint64_t walk(const vmbsave_channel *ch, uint8_t *img, const uint8_t *states)
{
    writer w = {img, states, 0, 0};
    write_header(&w, ch);
    write_gpadls(&w, &ch->c);
    write_packets(&w, &ch->c);
    write_ring(&w, &ch->c.rings[0], 0);
    write_ring(&w, &ch->c.rings[1], 1);
    if (img != NULL) {
        /* END's digest is sealed with the checksums. */
        uint8_t *p = img + w.pos + SV_CHUNK_HDR;
        memset(p, 0, SV_END_PAYLOAD);
        sv_put32(p + 0, w.seq + 1u);
        sv_put64(p + 8, w.pos + SV_CHUNK_HDR + SV_END_PAYLOAD);
    }
    close_chunk(&w, SV_T_END, SV_END_PAYLOAD);
    return w.pos;
}

uint64_t sv_image_size(const vmbsave_channel *ch)
{
    return walk(ch, NULL, NULL);
}

void sv_image_write(const vmbsave_channel *ch, uint8_t *image, const uint8_t *driver_states)
{
    (void)walk(ch, image, driver_states);
}

void sv_image_seal(uint8_t *image, uint32_t size)
{
    uint64_t image_id = sv_hash(image + SV_CHUNK_HDR, SV_HEADER_PAYLOAD, 0);
    uint64_t digest = 0;
    for (uint32_t pos = 0; pos < size;) {
        uint8_t *h = image + pos;
        uint32_t payload = sv_get32(h + 16);
        sv_put64(h + 24, image_id);
        if (sv_get16(h + 8) == SV_T_END)
            sv_put64(h + SV_CHUNK_HDR + 16, digest);
        uint64_t checksum = sv_chunk_checksum(h, payload);
        sv_put64(h + 32, checksum);
        digest = sv_digest_step(digest, checksum);
        pos += SV_CHUNK_HDR + payload;
    }
}
