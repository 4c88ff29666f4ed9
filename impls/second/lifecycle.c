/* The channel lifecycle (SPEC.md section 3): allocation, offer, enable/disable, open/close,
 * start/pause, GPADLs, packets and ring bytes. Every operation runs its checks in the order of
 * LIFECYCLE.CHECK_ORDER and changes the channel only after the last one (and its allocation)
 * has passed, so a failure changes nothing (LIFECYCLE.FAILED_OPS.NO_CHANGE). */
#include <string.h>

#include "second.h"

/* ---- Helpers ------------------------------------------------------------------------------ */

/* Check (2) of LIFECYCLE.CHECK_ORDER: a session freezes the channel, and a packet callback may
 * not change the channel it is called for. */
static bool frozen(const vmbsave_channel *ch)
{
    return ch->in_callback || ch->save.phase != SV_SAVE_NONE;
}

static bool is_open(const vmbsave_channel *ch)
{
    return ch->state == VMBSAVE_STATE_OPEN_PAUSED || ch->state == VMBSAVE_STATE_OPEN_RUNNING;
}

int sv_gpadl_index(const sv_contents *c, uint32_t id)
{
    for (uint32_t i = 0; i < c->gpadl_count; i++) {
        if (c->gpadls[i]->id == id)
            return (int)i;
    }
    return -1;
}

static int packet_index(const sv_contents *c, uint64_t id)
{
    for (uint32_t i = 0; i < c->packet_count; i++) {
        if (c->packets[i]->id == id)
            return (int)i;
    }
    return -1;
}

/* The ring GPADL of an open channel, or one a packet in flight uses, cannot go away. */
static bool gpadl_in_use(const vmbsave_channel *ch, uint32_t id)
{
    if (is_open(ch) && ch->c.open.ring_gpadl_id == id)
        return true;
    for (uint32_t i = 0; i < ch->c.packet_count; i++) {
        if (ch->c.packets[i]->gpadl == id)
            return true;
    }
    return false;
}

void sv_drop_traffic(const sv_iface *iface, sv_contents *c)
{
    for (uint32_t i = 0; i < c->packet_count; i++)
        sv_free(iface, c->packets[i]);
    sv_free(iface, c->packets);
    c->packets = NULL;
    c->packet_count = c->packet_cap = 0;
    for (unsigned d = 0; d < 2; d++) {
        sv_free(iface, c->rings[d].buf);
        memset(&c->rings[d], 0, sizeof c->rings[d]);
    }
}

void sv_contents_clear(const sv_iface *iface, sv_contents *c)
{
    sv_drop_traffic(iface, c);
    for (uint32_t i = 0; i < c->gpadl_count; i++)
        sv_free(iface, c->gpadls[i]);
    memset(c, 0, sizeof *c);
}

/* ---- Allocation and the init phase --------------------------------------------------------- */

NTSTATUS sv_channel_allocate(void *context, vmbsave_channel **channel)
{
    sv_iface *iface = context;
    if (iface == NULL || channel == NULL)
        return STATUS_INVALID_PARAMETER;
    vmbsave_channel *ch = sv_alloc(iface, sizeof *ch);
    if (ch == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    memset(ch, 0, sizeof *ch);
    ch->iface = iface;
    ch->state = VMBSAVE_STATE_DISABLED;
    ch->fresh = true;
    ch->next_seq = 1;
    *channel = ch;
    return STATUS_SUCCESS;
}

NTSTATUS sv_channel_cleanup(vmbsave_channel *ch)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch) || ch->state != VMBSAVE_STATE_DISABLED)
        return STATUS_INVALID_DEVICE_STATE;
    const sv_iface *iface = ch->iface;
    sv_restore_discard(ch);
    sv_contents_clear(iface, &ch->c);
    sv_free(iface, ch);
    return STATUS_SUCCESS;
}

NTSTATUS sv_init_set_offer(vmbsave_channel *ch, const vmbsave_offer *offer)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (offer == NULL || (offer->flags & ~(uint32_t)VMBSAVE_OFFER_FLAGS_VALID) != 0)
        return STATUS_INVALID_PARAMETER;
    if (offer->subchannel_index > VMBSAVE_MAX_SUBCHANNEL_INDEX ||
        offer->mmio_megabytes > VMBSAVE_MAX_MMIO_MEGABYTES)
        return STATUS_IMPLEMENTATION_LIMIT;
    if (ch->state != VMBSAVE_STATE_DISABLED || ch->init_over)
        return STATUS_INVALID_DEVICE_STATE;
    /* RESTORE.REQUIRES_FRESH: an offer abandons a staged restore. */
    sv_restore_discard(ch);
    ch->offer = *offer;
    ch->offer_set = true;
    ch->fresh = false;
    return STATUS_SUCCESS;
}

/* ---- State transitions -------------------------------------------------------------------- */

NTSTATUS sv_enable(vmbsave_channel *ch)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (ch->state != VMBSAVE_STATE_DISABLED || !ch->offer_set)
        return STATUS_INVALID_DEVICE_STATE;
    ch->state = VMBSAVE_STATE_ENABLED;
    ch->init_over = true;
    ch->fresh = false;
    return STATUS_SUCCESS;
}

NTSTATUS sv_disable(vmbsave_channel *ch)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (ch->state == VMBSAVE_STATE_DISABLED)
        return STATUS_SUCCESS;
    /* LIFECYCLE.DISABLE.TEARS_DOWN: nothing is left half torn down. */
    sv_contents_clear(ch->iface, &ch->c);
    ch->state = VMBSAVE_STATE_DISABLED;
    return STATUS_SUCCESS;
}

static bool ring_size_malformed(uint32_t bytes)
{
    return bytes < VMBSAVE_MIN_RING_BYTES || bytes % VMBSAVE_PAGE_BYTES != 0;
}

NTSTATUS sv_guest_open(vmbsave_channel *ch, const vmbsave_open_params *p)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (p == NULL || p->connection_id == 0 || ring_size_malformed(p->incoming_ring_bytes) ||
        ring_size_malformed(p->outgoing_ring_bytes))
        return STATUS_INVALID_PARAMETER;
    if (p->incoming_ring_bytes > VMBSAVE_MAX_RING_BYTES ||
        p->outgoing_ring_bytes > VMBSAVE_MAX_RING_BYTES || p->target_vp > VMBSAVE_MAX_TARGET_VP)
        return STATUS_IMPLEMENTATION_LIMIT;
    if (ch->state != VMBSAVE_STATE_ENABLED)
        return STATUS_INVALID_DEVICE_STATE;
    int g = sv_gpadl_index(&ch->c, p->ring_gpadl_id);
    if (g < 0)
        return STATUS_NOT_FOUND;
    if (ch->c.gpadls[g]->state != SV_GPADL_CREATED)
        return STATUS_INVALID_DEVICE_STATE;
    ch->c.open = *p;
    ch->state = VMBSAVE_STATE_OPEN_PAUSED;
    return STATUS_SUCCESS;
}

NTSTATUS sv_guest_close(vmbsave_channel *ch)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (!is_open(ch))
        return STATUS_INVALID_DEVICE_STATE;
    sv_drop_traffic(ch->iface, &ch->c);
    memset(&ch->c.open, 0, sizeof ch->c.open);
    ch->state = VMBSAVE_STATE_ENABLED;
    return STATUS_SUCCESS;
}

static NTSTATUS run_state(vmbsave_channel *ch, vmbsave_channel_state target)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (!is_open(ch))
        return STATUS_INVALID_DEVICE_STATE;
    /* Packets awaiting the guest stay in flight across a pause. */
    ch->state = target;
    return STATUS_SUCCESS;
}

NTSTATUS sv_start(vmbsave_channel *ch)
{
    return run_state(ch, VMBSAVE_STATE_OPEN_RUNNING);
}

NTSTATUS sv_pause(vmbsave_channel *ch)
{
    return run_state(ch, VMBSAVE_STATE_OPEN_PAUSED);
}

/* ---- GPADLs ------------------------------------------------------------------------------ */

NTSTATUS sv_gpadl_create(vmbsave_channel *ch, uint32_t id, const uint64_t *pfns, uint32_t count)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (id == 0 || pfns == NULL || count == 0)
        return STATUS_INVALID_PARAMETER;
    /* The count is bounded before its elements are read (LIFECYCLE.CHECK_ORDER's exception). */
    if (count > VMBSAVE_MAX_GPADL_PFNS)
        return STATUS_IMPLEMENTATION_LIMIT;
    for (uint32_t i = 0; i < count; i++) {
        if (pfns[i] > VMBSAVE_MAX_PFN)
            return STATUS_INVALID_PARAMETER;
    }
    if (ch->state == VMBSAVE_STATE_DISABLED)
        return STATUS_INVALID_DEVICE_STATE;
    sv_contents *c = &ch->c;
    if (sv_gpadl_index(c, id) >= 0)
        return STATUS_DUPLICATE_OBJECTID;
    if (c->gpadl_count >= VMBSAVE_MAX_GPADLS)
        return STATUS_IMPLEMENTATION_LIMIT;
    sv_gpadl *g = sv_alloc(ch->iface, sizeof *g + (size_t)count * 8u);
    if (g == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    g->id = id;
    g->state = SV_GPADL_CREATED;
    g->pfn_count = count;
    for (uint32_t i = 0; i < count; i++)
        sv_put64(g->pfn_le + 8u * i, pfns[i]);
    /* Kept in ascending id order: describe and the image list them so. */
    uint32_t at = 0;
    while (at < c->gpadl_count && c->gpadls[at]->id < id)
        at++;
    memmove(&c->gpadls[at + 1], &c->gpadls[at], (c->gpadl_count - at) * sizeof c->gpadls[0]);
    c->gpadls[at] = g;
    c->gpadl_count++;
    return STATUS_SUCCESS;
}

/* Both teardown steps: the state check before the look-up (LIFECYCLE.GPADL.TEARDOWN). */
static NTSTATUS teardown_lookup(vmbsave_channel *ch, uint32_t id, uint32_t want_state, int *index)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (ch->state == VMBSAVE_STATE_DISABLED)
        return STATUS_INVALID_DEVICE_STATE;
    int g = sv_gpadl_index(&ch->c, id);
    if (g < 0)
        return STATUS_NOT_FOUND;
    if (ch->c.gpadls[g]->state != want_state || gpadl_in_use(ch, id))
        return STATUS_INVALID_DEVICE_STATE;
    *index = g;
    return STATUS_SUCCESS;
}

NTSTATUS sv_gpadl_teardown_begin(vmbsave_channel *ch, uint32_t id)
{
    int g;
    NTSTATUS st = teardown_lookup(ch, id, SV_GPADL_CREATED, &g);
    if (st != STATUS_SUCCESS)
        return st;
    ch->c.gpadls[g]->state = SV_GPADL_TEARING_DOWN;
    return STATUS_SUCCESS;
}

NTSTATUS sv_gpadl_teardown_complete(vmbsave_channel *ch, uint32_t id)
{
    int g;
    NTSTATUS st = teardown_lookup(ch, id, SV_GPADL_TEARING_DOWN, &g);
    if (st != STATUS_SUCCESS)
        return st;
    sv_contents *c = &ch->c;
    sv_free(ch->iface, c->gpadls[g]);
    memmove(&c->gpadls[g], &c->gpadls[g + 1],
            (c->gpadl_count - (uint32_t)g - 1u) * sizeof c->gpadls[0]);
    c->gpadl_count--;
    c->gpadls[c->gpadl_count] = NULL;
    return STATUS_SUCCESS;
}

/* ---- Packets ----------------------------------------------------------------------------- */

NTSTATUS sv_packet_send(vmbsave_channel *ch, uint64_t id, uint32_t gpadl, const void *payload,
                        uint32_t bytes)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (id == 0 || (payload == NULL && bytes != 0))
        return STATUS_INVALID_PARAMETER;
    if (bytes > VMBSAVE_MAX_PACKET_PAYLOAD)
        return STATUS_IMPLEMENTATION_LIMIT;
    if (ch->state != VMBSAVE_STATE_OPEN_RUNNING)
        return STATUS_INVALID_DEVICE_STATE;
    sv_contents *c = &ch->c;
    if (gpadl != 0) {
        int g = sv_gpadl_index(c, gpadl);
        if (g < 0)
            return STATUS_NOT_FOUND;
        if (c->gpadls[g]->state != SV_GPADL_CREATED)
            return STATUS_INVALID_DEVICE_STATE;
    }
    if (packet_index(c, id) >= 0)
        return STATUS_DUPLICATE_OBJECTID;
    /* The sequence running out is a full table too: only a crafted image gets there. */
    if (c->packet_count >= VMBSAVE_MAX_PACKETS || ch->next_seq == UINT64_MAX)
        return STATUS_IMPLEMENTATION_LIMIT;

    sv_packet *p = sv_alloc(ch->iface, sizeof *p + bytes);
    if (p == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (c->packet_count == c->packet_cap) {
        uint32_t cap = c->packet_cap == 0 ? 16u : c->packet_cap * 2u;
        if (cap > VMBSAVE_MAX_PACKETS)
            cap = VMBSAVE_MAX_PACKETS;
        sv_packet **grown = sv_alloc(ch->iface, (size_t)cap * sizeof *grown);
        if (grown == NULL) {
            sv_free(ch->iface, p);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        if (c->packet_count != 0)
            memcpy(grown, c->packets, (size_t)c->packet_count * sizeof *grown);
        sv_free(ch->iface, c->packets);
        c->packets = grown;
        c->packet_cap = cap;
    }
    memset(p, 0, sizeof *p);
    p->id = id;
    p->seq = ch->next_seq++;
    p->gpadl = gpadl;
    p->bytes = bytes;
    if (bytes != 0)
        memcpy(p->payload, payload, bytes);
    c->packets[c->packet_count++] = p;
    return STATUS_SUCCESS;
}

NTSTATUS sv_packet_complete(vmbsave_channel *ch, uint64_t id)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (ch->state != VMBSAVE_STATE_OPEN_RUNNING)
        return STATUS_INVALID_DEVICE_STATE;
    sv_contents *c = &ch->c;
    int i = packet_index(c, id);
    if (i < 0)
        return STATUS_NOT_FOUND;
    sv_free(ch->iface, c->packets[i]);
    memmove(&c->packets[i], &c->packets[i + 1],
            (c->packet_count - (uint32_t)i - 1u) * sizeof c->packets[0]);
    c->packet_count--;
    return STATUS_SUCCESS;
}

/* ---- Ring bytes -------------------------------------------------------------------------- */

static bool bad_direction(vmbsave_ring_direction dir)
{
    return (unsigned)dir > (unsigned)VMBSAVE_RING_OUTGOING;
}

NTSTATUS sv_ring_write(vmbsave_channel *ch, vmbsave_ring_direction dir, const void *data,
                       uint32_t bytes)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (bad_direction(dir) || (data == NULL && bytes != 0))
        return STATUS_INVALID_PARAMETER;
    if (ch->state != VMBSAVE_STATE_OPEN_RUNNING)
        return STATUS_INVALID_DEVICE_STATE;
    sv_ring *r = &ch->c.rings[dir];
    uint32_t size = dir == VMBSAVE_RING_INCOMING ? ch->c.open.incoming_ring_bytes
                                                 : ch->c.open.outgoing_ring_bytes;
    if (bytes > size - r->len)
        return STATUS_INVALID_BUFFER_SIZE;
    if (bytes == 0)
        return STATUS_SUCCESS;
    uint32_t need = r->len + bytes;
    if (need > r->cap) {
        /* Doubling, capped at the ring size: amortised appends without reserving 32 MiB. */
        uint64_t cap = r->cap == 0 ? VMBSAVE_PAGE_BYTES : 2u * (uint64_t)r->cap;
        if (cap < need)
            cap = need;
        if (cap > size)
            cap = size;
        uint8_t *grown = sv_alloc(ch->iface, (size_t)cap);
        if (grown == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        if (r->len != 0)
            memcpy(grown, r->buf, r->len);
        sv_free(ch->iface, r->buf);
        r->buf = grown;
        r->cap = (uint32_t)cap;
    }
    memcpy(r->buf + r->len, data, bytes);
    r->len = need;
    return STATUS_SUCCESS;
}

NTSTATUS sv_ring_read(vmbsave_channel *ch, vmbsave_ring_direction dir, void *data, uint32_t bytes,
                      uint32_t *bytes_read)
{
    /* The count is defined on every return, a refusal included: 0 bytes were read. */
    if (bytes_read != NULL)
        *bytes_read = 0;
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (frozen(ch))
        return STATUS_INVALID_DEVICE_STATE;
    if (bad_direction(dir) || (data == NULL && bytes != 0) || bytes_read == NULL)
        return STATUS_INVALID_PARAMETER;
    if (ch->state != VMBSAVE_STATE_OPEN_RUNNING)
        return STATUS_INVALID_DEVICE_STATE;
    sv_ring *r = &ch->c.rings[dir];
    uint32_t n = bytes < r->len ? bytes : r->len;
    if (n != 0) {
        memcpy(data, r->buf, n);
        memmove(r->buf, r->buf + n, r->len - n);
        r->len -= n;
    }
    *bytes_read = n;
    return STATUS_SUCCESS;
}
