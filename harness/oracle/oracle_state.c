/* The oracle's model of one channel (harness/oracle/oracle.h): what describe() shows and the image
 * holds. Bulk data (pfns, payloads) is regenerated from the step that created it rather than
 * stored; only pending ring bytes are kept, since reads and writes interleave, and the pfns
 * and payloads of a state decoded from a caller's image (oracle_reader.c), which no step
 * made. Those two live in heap storage grown on demand up to the contract's limits; a state
 * holds them, copies take what is in use. */
#include <stdlib.h>
#include <string.h>

#include "oracle/oracle.h"
#include "program/step_args.h"

/* Heap storage grows to at least this, then doubles: ordinary programs stay in the first size,
 * so a run allocates nothing once the oracle has served one like it. */
#define ORACLE_GROW_MIN (64u * 1024u)

/* Makes `*buf` (of *cap bytes) hold at least `need` bytes, keeping its content; `limit` is the
 * documented maximum, checked before allocating. False if need is above it or memory ran out
 * (*buf and *cap unchanged). */
static bool grow(uint8_t **buf, uint32_t *cap, uint32_t need, uint32_t limit)
{
    if (need <= *cap)
        return true;
    if (need > limit)
        return false;
    uint64_t want = *cap < ORACLE_GROW_MIN ? ORACLE_GROW_MIN : 2u * (uint64_t)*cap;
    if (want < need)
        want = need;
    if (want > limit)
        want = limit;
    uint8_t *p = realloc(*buf, (size_t)want);
    if (p == NULL)
        return false;
    *buf = p;
    *cap = (uint32_t)want;
    return true;
}

bool oracle_ring_reserve(oracle_ring *r, uint32_t need)
{
    if ((uint64_t)r->head + need <= r->cap)
        return true;
    /* Room at the front first: the pending bytes move to offset 0. */
    if (r->len != 0 && r->head != 0)
        memmove(r->bytes, r->bytes + r->head, r->len);
    r->head = 0;
    return grow(&r->bytes, &r->cap, need, ORACLE_RING_CAP);
}

bool oracle_bulk_reserve(oracle_state *m, uint32_t more)
{
    if (more > ORACLE_BULK_CAP - m->bulk_len)
        return false;
    return grow(&m->bulk, &m->bulk_cap, m->bulk_len + more, ORACLE_BULK_CAP);
}

void oracle_state_init(oracle_state *m)
{
    /* The heap storage is kept; the entries past the counts are never read. */
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
    for (unsigned d = 0; d < 2; d++) {
        m->rings[d].head = 0;
        m->rings[d].len = 0;
        oracle_ring_rehash(&m->rings[d]);
    }
}

void oracle_state_free(oracle_state *m)
{
    for (unsigned d = 0; d < 2; d++) {
        free(m->rings[d].bytes);
        m->rings[d].bytes = NULL;
        m->rings[d].cap = 0;
    }
    free(m->bulk);
    m->bulk = NULL;
    m->bulk_cap = 0;
}

bool oracle_state_copy(oracle_state *dst, const oracle_state *src)
{
    if (dst == src)
        return true;
    /* dst's storage first, so that a failure leaves dst as it was. */
    for (unsigned d = 0; d < 2; d++) {
        dst->rings[d].head = 0;
        dst->rings[d].len = 0;
        if (!oracle_ring_reserve(&dst->rings[d], src->rings[d].len))
            return false;
    }
    if (!grow(&dst->bulk, &dst->bulk_cap, src->bulk_len, ORACLE_BULK_CAP))
        return false;
    /* The scalars, the entries in use, then only the pending ring bytes and the bulk in use:
     * a copy costs what the state holds, not what the bounds allow. */
    memcpy(dst, src, offsetof(oracle_state, rings));
    memcpy(dst->gpadls, src->gpadls, (size_t)src->gpadl_count * sizeof src->gpadls[0]);
    memcpy(dst->packets, src->packets, (size_t)src->packet_count * sizeof src->packets[0]);
    for (unsigned d = 0; d < 2; d++) {
        dst->rings[d].len = src->rings[d].len;
        dst->rings[d].hash = src->rings[d].hash;
        if (src->rings[d].len != 0)
            memcpy(dst->rings[d].bytes, oracle_ring_data(&src->rings[d]), src->rings[d].len);
    }
    if (src->bulk_len != 0)
        memcpy(dst->bulk, src->bulk, src->bulk_len);
    return true;
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
