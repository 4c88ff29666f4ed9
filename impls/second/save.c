/* Save sessions (SPEC.md sections 4-7, 9): the whole image is serialised once, into one buffer
 * from the host allocator, and each save_continue copies whole chunks out of it.
 *
 * The build cannot happen in save_begin itself: the image holds the driver's per-packet state,
 * and the contract puts the save-packet callbacks (and their failures, which are sticky
 * save_continue statuses) in save_continue. So save_begin only opens the session, and the
 * first save_continue that needs more than the HEADER's size runs every callback, collecting
 * the driver states in a scratch arena, then lays the image out once at its exact size;
 * later calls only copy. */
#include <string.h>

#include "second.h"

#define HEADER_CHUNK_BYTES (SV_CHUNK_HDR + SV_HEADER_PAYLOAD)

NTSTATUS sv_save_begin(vmbsave_channel *ch)
{
    if (ch == NULL)
        return STATUS_INVALID_PARAMETER;
    if (ch->in_callback || ch->save.phase != SV_SAVE_NONE)
        return STATUS_INVALID_DEVICE_STATE;
    if (ch->state != VMBSAVE_STATE_ENABLED && ch->state != VMBSAVE_STATE_OPEN_PAUSED)
        return STATUS_INVALID_DEVICE_STATE;
    memset(&ch->save, 0, sizeof ch->save);
    ch->save.phase = SV_SAVE_OPEN;
    return STATUS_SUCCESS;
}

static void drop_image(vmbsave_channel *ch)
{
    sv_free(ch->iface, ch->save.image);
    ch->save.image = NULL;
    ch->save.size = ch->save.pos = 0;
}

void sv_save_discard(vmbsave_channel *ch)
{
    drop_image(ch);
    memset(&ch->save, 0, sizeof ch->save);
}

void sv_save_end(vmbsave_channel *ch)
{
    /* Inside a packet callback save_end is ignored: the session it would end is running. */
    if (ch == NULL || ch->in_callback)
        return;
    sv_save_discard(ch);
}

/* The driver states collected during one build, back to back (a packet's is save_need bytes
 * at save_at). A scratch arena rather than the image itself: the callbacks must come before
 * the image's size, which depends on their answers, is known. Freed when the build ends. */
typedef struct arena {
    uint8_t *bytes;
    uint32_t len, cap;
} arena;

/* Room for n more zeroed bytes at a->bytes + a->len. */
static bool arena_reserve(const sv_iface *iface, arena *a, uint32_t n)
{
    uint64_t need = (uint64_t)a->len + n;
    if (need > a->cap) {
        uint64_t cap = a->cap == 0 ? VMBSAVE_MAX_DRIVER_PACKET_STATE : 2u * (uint64_t)a->cap;
        if (cap < need)
            cap = need;
        uint8_t *grown = sv_alloc(iface, (size_t)cap);
        if (grown == NULL)
            return false;
        if (a->len != 0)
            memcpy(grown, a->bytes, a->len);
        sv_free(iface, a->bytes);
        a->bytes = grown;
        a->cap = (uint32_t)cap;
    }
    memset(a->bytes + a->len, 0, n);
    return true;
}

/* Per packet in send order: a size query, then, if the driver asked for N bytes, exactly one
 * more call with N zeroed bytes (PACKET.SAVE.*). The first failure ends the walk: its status
 * is the session's sticky one, never the driver's own. */
static NTSTATUS collect_driver_state(vmbsave_channel *ch, arena *a)
{
    const vmbsave_host_v1 *host = &ch->iface->host;
    for (uint32_t i = 0; i < ch->c.packet_count; i++) {
        sv_packet *p = ch->c.packets[i];
        p->save_need = p->save_at = 0;
        if (host->save_packet == NULL)
            continue; /* PACKET.CALLBACKS.OPTIONAL: no driver state */
        uint32_t need = 0;
        NTSTATUS st = host->save_packet(host->context, ch, p->id, NULL, 0, &need);
        if (NT_SUCCESS(st))
            continue; /* PACKET.SAVE.NO_STATE */
        if (need == 0)
            return STATUS_UNSUCCESSFUL;
        if (need > VMBSAVE_MAX_DRIVER_PACKET_STATE)
            return STATUS_IMPLEMENTATION_LIMIT; /* PACKET.SAVE.OVER_LIMIT, bounded first */
        if (!arena_reserve(ch->iface, a, need))
            return STATUS_INSUFFICIENT_RESOURCES;
        uint32_t asked = 0;
        st = host->save_packet(host->context, ch, p->id, a->bytes + a->len, need, &asked);
        if (asked > need)
            return STATUS_INTERNAL_ERROR; /* PACKET.SAVE.ASKS_MORE */
        if (!NT_SUCCESS(st))
            return STATUS_UNSUCCESSFUL; /* PACKET.SAVE.STATUS_NOT_FORWARDED */
        p->save_need = need;
        p->save_at = a->len;
        a->len += need;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS build_with(vmbsave_channel *ch, arena *a)
{
    ch->in_callback = true;
    NTSTATUS st = collect_driver_state(ch, a);
    ch->in_callback = false;
    if (st != STATUS_SUCCESS)
        return st;
    uint64_t size = sv_image_size(ch);
    if (size > VMBSAVE_MAX_IMAGE_BYTES)
        return STATUS_IMPLEMENTATION_LIMIT;
    uint8_t *image = sv_alloc(ch->iface, (size_t)size);
    if (image == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    sv_image_write(ch, image, a->bytes);
    sv_image_seal(image, (uint32_t)size);
    ch->save.image = image;
    ch->save.size = (uint32_t)size;
    ch->save.pos = 0;
    ch->save.phase = SV_SAVE_BUILT;
    return STATUS_SUCCESS;
}

static NTSTATUS build(vmbsave_channel *ch)
{
    arena a = {NULL, 0, 0};
    NTSTATUS st = build_with(ch, &a);
    sv_free(ch->iface, a.bytes);
    return st;
}

static uint32_t chunk_at(const sv_save *s, uint32_t pos)
{
    return SV_CHUNK_HDR + sv_get32(s->image + pos + 16);
}

NTSTATUS sv_save_continue(vmbsave_channel *ch, void *buf, uint32_t size, uint32_t *filled,
                          uint32_t *required)
{
    /* SAVE.CONTINUE.PARAMS: before anything else, and without touching the session. */
    if (filled != NULL)
        *filled = 0;
    if (required != NULL)
        *required = 0;
    if (ch == NULL || filled == NULL || required == NULL || (buf == NULL && size != 0))
        return STATUS_INVALID_PARAMETER;
    if (ch->in_callback)
        return STATUS_INVALID_DEVICE_STATE;

    sv_save *s = &ch->save;
    switch (s->phase) {
    case SV_SAVE_NONE:
    case SV_SAVE_DONE: return STATUS_INVALID_DEVICE_STATE;
    case SV_SAVE_STICKY: return s->sticky;
    case SV_SAVE_OPEN:
        /* The first chunk is always the fixed-size HEADER: a buffer too small for it is
         * answered without building, so a size query never runs the driver's callbacks. */
        if (size < HEADER_CHUNK_BYTES) {
            *required = HEADER_CHUNK_BYTES;
            return STATUS_BUFFER_TOO_SMALL;
        }
        NTSTATUS st = build(ch);
        if (st != STATUS_SUCCESS) {
            s->phase = SV_SAVE_STICKY;
            s->sticky = st;
            return st;
        }
        break;
    case SV_SAVE_BUILT: break;
    }

    uint32_t next = chunk_at(s, s->pos);
    if (size < next) {
        *required = next;
        return STATUS_BUFFER_TOO_SMALL;
    }
    /* As many whole chunks as fit (SAVE.CONTINUE.WHOLE_CHUNKS). */
    uint32_t n = 0;
    while (s->pos + n < s->size && chunk_at(s, s->pos + n) <= size - n)
        n += chunk_at(s, s->pos + n);
    memcpy(buf, s->image + s->pos, n);
    s->pos += n;
    *filled = n;
    if (s->pos == s->size) {
        drop_image(ch);
        s->phase = SV_SAVE_DONE;
        return STATUS_SUCCESS;
    }
    *required = chunk_at(s, s->pos);
    return STATUS_BUFFER_OVERFLOW;
}
