/* The server-side channel model and its lifecycle operations (clauses LIFECYCLE.*).
 *
 * Every operation checks, in this order: a NULL channel (INVALID_PARAMETER); a session or a
 * packet callback in progress (INVALID_DEVICE_STATE); its arguments (INVALID_PARAMETER for
 * malformed values, IMPLEMENTATION_LIMIT for values above a VMBSAVE_MAX_* limit); the
 * lifecycle state (INVALID_DEVICE_STATE); then the objects it names. Nothing changes until
 * every check and every allocation has succeeded. */
#include <string.h>

#include "image.h"
#include "internal.h"

/* ---- Model helpers ---------------------------------------------------------------------- */

void ref_model_init(ref_model *m)
{
    memset(m, 0, sizeof *m);
    m->state = VMBSAVE_STATE_DISABLED;
    m->next_send_sequence = 1;
}

void ref_model_drop_traffic(const ref_instance *inst, ref_model *m)
{
    for (uint32_t i = 0; i < m->packet_count; i++) {
        ref_free(inst, m->packets[i].mem);
    }
    ref_free(inst, m->packets);
    m->packets = NULL;
    m->packet_count = 0;
    m->packet_cap = 0;
    for (unsigned d = 0; d < 2; d++) {
        ref_free(inst, m->rings[d].buf);
        memset(&m->rings[d], 0, sizeof m->rings[d]);
    }
}

void ref_model_drop_gpadls(const ref_instance *inst, ref_model *m)
{
    for (uint32_t i = 0; i < m->gpadl_count; i++) {
        ref_free(inst, m->gpadls[i].pfns_le);
    }
    memset(m->gpadls, 0, sizeof m->gpadls);
    m->gpadl_count = 0;
}

void ref_model_release(const ref_instance *inst, ref_model *m)
{
    ref_model_drop_traffic(inst, m);
    ref_model_drop_gpadls(inst, m);
}

int ref_gpadl_find(const ref_model *m, uint32_t id)
{
    uint32_t lo = 0, hi = m->gpadl_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->gpadls[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (lo < m->gpadl_count && m->gpadls[lo].id == id) ? (int)lo : -1;
}

static int ref_packet_find(const ref_model *m, uint64_t id)
{
    /* Linear over a contiguous array: at most 4096 entries, cheap next to a copy. */
    for (uint32_t i = 0; i < m->packet_count; i++) {
        if (m->packets[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

static bool ref_packet_uses_gpadl(const ref_model *m, uint32_t gpadl_id)
{
    for (uint32_t i = 0; i < m->packet_count; i++) {
        if (m->packets[i].gpadl_id == gpadl_id) {
            return true;
        }
    }
    return false;
}

void ref_ring_copy_out(const ref_ring *r, uint32_t offset, uint8_t *dst, uint32_t n)
{
    if (n == 0) {
        return;
    }
    uint32_t pos = r->head + offset; /* both < cap <= 32 MiB: no overflow */
    if (pos >= r->cap) {
        pos -= r->cap;
    }
    uint32_t first = r->cap - pos;
    if (first > n) {
        first = n;
    }
    memcpy(dst, r->buf + pos, first);
    ref_copy(dst + first, r->buf, n - first);
}

static bool ref_is_open(const ref_model *m)
{
    return m->state == VMBSAVE_STATE_OPEN_PAUSED || m->state == VMBSAVE_STATE_OPEN_RUNNING;
}

static bool ref_has_gpadl_state(const ref_model *m)
{
    return m->state == VMBSAVE_STATE_ENABLED || ref_is_open(m);
}

/* ---- Lifecycle --------------------------------------------------------------------------- */

NTSTATUS ref_channel_allocate(void *context, vmbsave_channel **channel)
{
    if (channel != NULL) {
        *channel = NULL;
    }
    if (context == NULL || channel == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    const ref_instance *inst = context;
    vmbsave_channel *ch = ref_alloc(inst, sizeof *ch);
    if (ch == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(ch, 0, sizeof *ch);
    ch->inst = inst;
    ch->fresh = true;
    ref_model_init(&ch->m);
    *channel = ch;
    return STATUS_SUCCESS;
}

NTSTATUS ref_channel_cleanup(vmbsave_channel *ch)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch) || ch->m.state != VMBSAVE_STATE_DISABLED) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    ref_restore_abandon(ch);
    ref_model_release(ch->inst, &ch->m);
    ref_free(ch->inst, ch);
    return STATUS_SUCCESS;
}

NTSTATUS ref_init_set_offer(vmbsave_channel *ch, const vmbsave_offer *offer)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (offer == NULL || (offer->flags & ~(uint32_t)VMBSAVE_OFFER_FLAGS_VALID) != 0) {
        return STATUS_INVALID_PARAMETER;
    }
    if (offer->subchannel_index > VMBSAVE_MAX_SUBCHANNEL_INDEX ||
        offer->mmio_megabytes > VMBSAVE_MAX_MMIO_MEGABYTES) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    if (ch->m.state != VMBSAVE_STATE_DISABLED || ch->ever_enabled) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    ch->m.offer = *offer;
    ch->m.offer_set = true;
    /* The channel is configured now, so a restore staged on it can never commit. */
    ch->fresh = false;
    ref_restore_abandon(ch);
    return STATUS_SUCCESS;
}

NTSTATUS ref_enable(vmbsave_channel *ch)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch) || ch->m.state != VMBSAVE_STATE_DISABLED || !ch->m.offer_set) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    ch->m.state = VMBSAVE_STATE_ENABLED;
    ch->ever_enabled = true;
    ch->fresh = false;
    return STATUS_SUCCESS;
}

NTSTATUS ref_disable(vmbsave_channel *ch)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (ch->m.state == VMBSAVE_STATE_DISABLED) {
        return STATUS_SUCCESS;
    }
    /* Revoking the offer tears everything down; the offer itself stays for a re-enable. */
    ref_model_drop_traffic(ch->inst, &ch->m);
    ref_model_drop_gpadls(ch->inst, &ch->m);
    memset(&ch->m.open, 0, sizeof ch->m.open);
    ch->m.state = VMBSAVE_STATE_DISABLED;
    return STATUS_SUCCESS;
}

/* A ring size is malformed when it is not a page multiple or is below the minimum
 * (LIFECYCLE.OPEN.VALIDATION); being above VMBSAVE_MAX_RING_BYTES is a limit (LIMIT.RING). */
static bool ref_ring_bytes_malformed(uint32_t bytes)
{
    return bytes < VMBSAVE_MIN_RING_BYTES || bytes % VMBSAVE_PAGE_BYTES != 0;
}

NTSTATUS ref_guest_open(vmbsave_channel *ch, const vmbsave_open_params *params)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    /* LIFECYCLE.CHECK_ORDER: every malformed field before any limit. */
    if (params == NULL || params->connection_id == 0 ||
        ref_ring_bytes_malformed(params->incoming_ring_bytes) ||
        ref_ring_bytes_malformed(params->outgoing_ring_bytes)) {
        return STATUS_INVALID_PARAMETER;
    }
    if (params->incoming_ring_bytes > VMBSAVE_MAX_RING_BYTES ||
        params->outgoing_ring_bytes > VMBSAVE_MAX_RING_BYTES ||
        params->target_vp > VMBSAVE_MAX_TARGET_VP) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    if (ch->m.state != VMBSAVE_STATE_ENABLED) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    int g = ref_gpadl_find(&ch->m, params->ring_gpadl_id);
    if (g < 0) {
        return STATUS_NOT_FOUND;
    }
    if (ch->m.gpadls[g].state != REF_GPADL_STATE_CREATED) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    ch->m.open = *params;
    ch->m.state = VMBSAVE_STATE_OPEN_PAUSED;
    return STATUS_SUCCESS;
}

NTSTATUS ref_guest_close(vmbsave_channel *ch)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch) || !ref_is_open(&ch->m)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    ref_model_drop_traffic(ch->inst, &ch->m);
    memset(&ch->m.open, 0, sizeof ch->m.open);
    ch->m.state = VMBSAVE_STATE_ENABLED;
    return STATUS_SUCCESS;
}

NTSTATUS ref_start(vmbsave_channel *ch)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch) || !ref_is_open(&ch->m)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    ch->m.state = VMBSAVE_STATE_OPEN_RUNNING;
    return STATUS_SUCCESS;
}

NTSTATUS ref_pause(vmbsave_channel *ch)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch) || !ref_is_open(&ch->m)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    /* Packets awaiting the guest's completion stay in flight: that is what a save captures. */
    ch->m.state = VMBSAVE_STATE_OPEN_PAUSED;
    return STATUS_SUCCESS;
}

/* ---- GPADLs ------------------------------------------------------------------------------ */

NTSTATUS ref_gpadl_create(vmbsave_channel *ch, uint32_t gpadl_id, const uint64_t *pfns,
                          uint32_t pfn_count)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (gpadl_id == 0 || pfns == NULL || pfn_count == 0) {
        return STATUS_INVALID_PARAMETER;
    }
    if (pfn_count > VMBSAVE_MAX_GPADL_PFNS) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    for (uint32_t i = 0; i < pfn_count; i++) {
        if (pfns[i] > VMBSAVE_MAX_PFN) {
            return STATUS_INVALID_PARAMETER;
        }
    }
    ref_model *m = &ch->m;
    if (!ref_has_gpadl_state(m)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (ref_gpadl_find(m, gpadl_id) >= 0) {
        return STATUS_DUPLICATE_OBJECTID;
    }
    if (m->gpadl_count >= VMBSAVE_MAX_GPADLS) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    uint8_t *le = ref_alloc(ch->inst, (size_t)pfn_count * 8u);
    if (le == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    /* Stored little-endian: the image and describe's pfn_hash use exactly these bytes. */
    for (uint32_t i = 0; i < pfn_count; i++) {
        ref_put_u64(le + (size_t)i * 8u, pfns[i]);
    }
    uint32_t at = 0;
    while (at < m->gpadl_count && m->gpadls[at].id < gpadl_id) {
        at++;
    }
    memmove(&m->gpadls[at + 1], &m->gpadls[at], (m->gpadl_count - at) * sizeof m->gpadls[0]);
    m->gpadls[at].id = gpadl_id;
    m->gpadls[at].state = REF_GPADL_STATE_CREATED;
    m->gpadls[at].pfn_count = pfn_count;
    m->gpadls[at].pfns_le = le;
    m->gpadl_count++;
    return STATUS_SUCCESS;
}

/* The checks both teardown steps share (LIFECYCLE.CHECK_ORDER): the channel, its state, then
 * the GPADL's existence and its own state. On success *index is the GPADL's slot. */
static NTSTATUS ref_gpadl_for_teardown(vmbsave_channel *ch, uint32_t gpadl_id,
                                       uint32_t want, int *index)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch) || !ref_has_gpadl_state(&ch->m)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    int g = ref_gpadl_find(&ch->m, gpadl_id);
    if (g < 0) {
        return STATUS_NOT_FOUND;
    }
    if (ch->m.gpadls[g].state != want) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    *index = g;
    return STATUS_SUCCESS;
}

NTSTATUS ref_gpadl_teardown_begin(vmbsave_channel *ch, uint32_t gpadl_id)
{
    int g = 0;
    NTSTATUS status = ref_gpadl_for_teardown(ch, gpadl_id, REF_GPADL_STATE_CREATED, &g);
    if (status != STATUS_SUCCESS) {
        return status;
    }
    ref_model *m = &ch->m;
    /* The open ring and in-flight packets still use their memory. */
    if ((ref_is_open(m) && m->open.ring_gpadl_id == gpadl_id) ||
        ref_packet_uses_gpadl(m, gpadl_id)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    m->gpadls[g].state = REF_GPADL_STATE_TEARING_DOWN;
    return STATUS_SUCCESS;
}

NTSTATUS ref_gpadl_teardown_complete(vmbsave_channel *ch, uint32_t gpadl_id)
{
    int g = 0;
    NTSTATUS status = ref_gpadl_for_teardown(ch, gpadl_id, REF_GPADL_STATE_TEARING_DOWN, &g);
    if (status != STATUS_SUCCESS) {
        return status;
    }
    ref_model *m = &ch->m;
    ref_free(ch->inst, m->gpadls[g].pfns_le);
    uint32_t at = (uint32_t)g;
    memmove(&m->gpadls[at], &m->gpadls[at + 1], (m->gpadl_count - at - 1) * sizeof m->gpadls[0]);
    m->gpadl_count--;
    memset(&m->gpadls[m->gpadl_count], 0, sizeof m->gpadls[0]);
    return STATUS_SUCCESS;
}

/* ---- Packets ----------------------------------------------------------------------------- */

NTSTATUS ref_packet_send(vmbsave_channel *ch, uint64_t packet_id, uint32_t gpadl_id,
                         const void *payload, uint32_t payload_bytes)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if (packet_id == 0 || (payload == NULL && payload_bytes != 0)) {
        return STATUS_INVALID_PARAMETER;
    }
    if (payload_bytes > VMBSAVE_MAX_PACKET_PAYLOAD) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }
    ref_model *m = &ch->m;
    if (m->state != VMBSAVE_STATE_OPEN_RUNNING) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    /* LIFECYCLE.CHECK_ORDER: the referenced GPADL (not found, then its state) before the
     * packet id's uniqueness. */
    if (gpadl_id != 0) {
        int g = ref_gpadl_find(m, gpadl_id);
        if (g < 0) {
            return STATUS_NOT_FOUND;
        }
        if (m->gpadls[g].state != REF_GPADL_STATE_CREATED) {
            return STATUS_INVALID_DEVICE_STATE;
        }
    }
    if (ref_packet_find(m, packet_id) >= 0) {
        return STATUS_DUPLICATE_OBJECTID;
    }
    /* The sequence space ends one short of UINT64_MAX so next_send_sequence never wraps
     * (reachable only through a restored image that set it there). */
    if (m->packet_count >= VMBSAVE_MAX_PACKETS || m->next_send_sequence == UINT64_MAX) {
        return STATUS_IMPLEMENTATION_LIMIT;
    }

    uint8_t *mem = NULL;
    if (payload_bytes != 0) {
        mem = ref_alloc(ch->inst, payload_bytes);
        if (mem == NULL) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        memcpy(mem, payload, payload_bytes);
    }
    if (m->packet_count == m->packet_cap) {
        /* Geometric growth, capped at the limit, so sends are amortised O(1) copies. */
        uint32_t cap = m->packet_cap == 0 ? 16u : m->packet_cap * 2u;
        if (cap > VMBSAVE_MAX_PACKETS) {
            cap = VMBSAVE_MAX_PACKETS;
        }
        ref_packet *grown = ref_alloc(ch->inst, (size_t)cap * sizeof *grown);
        if (grown == NULL) {
            ref_free(ch->inst, mem);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        ref_copy(grown, m->packets, (size_t)m->packet_count * sizeof *grown);
        ref_free(ch->inst, m->packets);
        m->packets = grown;
        m->packet_cap = cap;
    }
    ref_packet *p = &m->packets[m->packet_count++];
    memset(p, 0, sizeof *p);
    p->id = packet_id;
    p->send_sequence = m->next_send_sequence++;
    p->gpadl_id = gpadl_id;
    p->payload_bytes = payload_bytes;
    p->mem = mem;
    p->payload = mem;
    return STATUS_SUCCESS;
}

NTSTATUS ref_packet_complete(vmbsave_channel *ch, uint64_t packet_id)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    ref_model *m = &ch->m;
    if (ref_frozen(ch) || m->state != VMBSAVE_STATE_OPEN_RUNNING) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    int i = ref_packet_find(m, packet_id);
    if (i < 0) {
        return STATUS_NOT_FOUND;
    }
    uint32_t at = (uint32_t)i;
    ref_free(ch->inst, m->packets[at].mem);
    memmove(&m->packets[at], &m->packets[at + 1],
            (m->packet_count - at - 1) * sizeof m->packets[0]);
    m->packet_count--;
    return STATUS_SUCCESS;
}

/* ---- Rings ------------------------------------------------------------------------------- */

/* Makes room for `needed` pending bytes, doubling (bounded by the ring size) so a stream of
 * small writes copies each byte O(1) times. */
static NTSTATUS ref_ring_reserve(const ref_instance *inst, ref_ring *r, uint32_t needed,
                                 uint32_t ring_size)
{
    if (needed <= r->cap) {
        return STATUS_SUCCESS;
    }
    uint32_t cap = r->cap < 4096u ? 4096u : r->cap;
    while (cap < needed) {
        cap = cap > ring_size / 2u ? ring_size : cap * 2u;
    }
    if (cap > ring_size) {
        cap = ring_size;
    }
    uint8_t *buf = ref_alloc(inst, cap);
    if (buf == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ref_ring_copy_out(r, 0, buf, r->len);
    ref_free(inst, r->buf);
    r->buf = buf;
    r->cap = cap;
    r->head = 0;
    return STATUS_SUCCESS;
}

NTSTATUS ref_ring_write(vmbsave_channel *ch, vmbsave_ring_direction direction, const void *data,
                        uint32_t bytes)
{
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if ((direction != VMBSAVE_RING_INCOMING && direction != VMBSAVE_RING_OUTGOING) ||
        (data == NULL && bytes != 0)) {
        return STATUS_INVALID_PARAMETER;
    }
    ref_model *m = &ch->m;
    if (m->state != VMBSAVE_STATE_OPEN_RUNNING) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    ref_ring *r = &m->rings[direction];
    uint32_t ring_size = ref_ring_size(m, (unsigned)direction);
    if (bytes > ring_size - r->len) {
        return STATUS_INVALID_BUFFER_SIZE;
    }
    if (bytes == 0) {
        return STATUS_SUCCESS;
    }
    NTSTATUS st = ref_ring_reserve(ch->inst, r, r->len + bytes, ring_size);
    if (st != STATUS_SUCCESS) {
        return st;
    }
    uint32_t tail = r->head + r->len;
    if (tail >= r->cap) {
        tail -= r->cap;
    }
    uint32_t first = r->cap - tail;
    if (first > bytes) {
        first = bytes;
    }
    memcpy(r->buf + tail, data, first);
    ref_copy(r->buf, (const uint8_t *)data + first, bytes - first);
    r->len += bytes;
    return STATUS_SUCCESS;
}

NTSTATUS ref_ring_read(vmbsave_channel *ch, vmbsave_ring_direction direction, void *data,
                       uint32_t bytes, uint32_t *bytes_read)
{
    if (bytes_read != NULL) {
        *bytes_read = 0;
    }
    if (ch == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (ref_frozen(ch)) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    if ((direction != VMBSAVE_RING_INCOMING && direction != VMBSAVE_RING_OUTGOING) ||
        bytes_read == NULL || (data == NULL && bytes != 0)) {
        return STATUS_INVALID_PARAMETER;
    }
    ref_model *m = &ch->m;
    if (m->state != VMBSAVE_STATE_OPEN_RUNNING) {
        return STATUS_INVALID_DEVICE_STATE;
    }
    ref_ring *r = &m->rings[direction];
    uint32_t n = bytes < r->len ? bytes : r->len;
    ref_ring_copy_out(r, 0, data, n);
    r->head += n;
    if (r->head >= r->cap) {
        r->head -= r->cap;
    }
    r->len -= n;
    if (r->len == 0) {
        r->head = 0; /* keeps the next writes contiguous */
    }
    *bytes_read = n;
    return STATUS_SUCCESS;
}
