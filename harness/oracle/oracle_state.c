/* The oracle's model of one channel (harness/oracle/oracle.h): what describe() shows and the image
 * holds. Bulk data (pfns, payloads) is regenerated from the step that created it rather than
 * stored; only pending ring bytes are kept, since reads and writes interleave, and the pfns
 * and payloads of a state decoded from a caller's image (oracle_reader.c), which no step
 * made. */
#include <string.h>

#include "oracle/oracle.h"
#include "program/step_args.h"

void oracle_state_init(oracle_state *m)
{
    /* Everything but the ring bytes, which are only read up to their length. */
    m->state = VMBSAVE_STATE_DISABLED;
    m->fresh = true;
    m->init_over = false;
    m->offer_set = false;
    memset(&m->offer, 0, sizeof m->offer);
    memset(&m->open, 0, sizeof m->open);
    m->next_seq = 1;
    m->gpadl_count = 0;
    m->packet_count = 0;
    m->bulk_len = 0;
    memset(m->gpadls, 0, sizeof m->gpadls);
    memset(m->packets, 0, sizeof m->packets);
    for (unsigned d = 0; d < 2; d++) {
        m->rings[d].head = 0;
        m->rings[d].len = 0;
        oracle_ring_rehash(&m->rings[d]);
    }
}

void oracle_state_copy(oracle_state *dst, const oracle_state *src)
{
    if (dst == src)
        return;
    /* The fixed part, then only the pending ring bytes (the arrays are 260 KiB each). */
    memcpy(dst, src, offsetof(oracle_state, rings));
    for (unsigned d = 0; d < 2; d++) {
        dst->rings[d].head = 0;
        dst->rings[d].len = src->rings[d].len;
        dst->rings[d].hash = src->rings[d].hash;
        memcpy(dst->rings[d].bytes, oracle_ring_data(&src->rings[d]), src->rings[d].len);
    }
    memcpy(dst->bulk, src->bulk, src->bulk_len);
}

void oracle_ring_rehash(oracle_ring *r)
{
    r->hash = vmbsave_hash(oracle_ring_data(r), r->len, 0);
}

const uint64_t *oracle_gpadl_pfns(vmbsave_oracle *o, const oracle_state *m, const oracle_gpadl *g)
{
    if (g->in_bulk) {
        for (uint32_t i = 0; i < g->pfn_count; i++)
            o->pfns[i] = vmbsave_get_u64(m->bulk + g->bulk_off + 8u * i);
    } else {
        vmbsave_args_pfns(g->mode, g->pfn_count, g->salt, o->pfns);
    }
    return o->pfns;
}

const uint8_t *oracle_packet_payload(vmbsave_oracle *o, const oracle_state *m,
                                     const oracle_packet *p)
{
    if (p->in_bulk)
        return m->bulk + p->bulk_off;
    vmbsave_args_bytes(p->seed, o->payload, p->bytes);
    return o->payload;
}

int oracle_gpadl_find(const oracle_state *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->gpadl_count; i++) {
        if (m->gpadls[i].id == id)
            return (int)i;
    }
    return -1;
}

int oracle_packet_find(const oracle_state *m, uint64_t id)
{
    for (uint32_t i = 0; i < m->packet_count; i++) {
        if (m->packets[i].id == id)
            return (int)i;
    }
    return -1;
}
