/* The canonical description (SPEC.md section 14, ABI.DESCRIBE.*). The same walk runs twice:
 * once only counting, so a short buffer is refused before a byte is written, then writing.
 * Numbers are formatted by hand: nothing here allocates (ABI.DESCRIBE.NO_ALLOC). */
#include <string.h>

#include "second.h"

typedef struct out {
    char *buf; /* NULL: count only */
    uint32_t len;
} out;

static void put_raw(out *o, const char *s, size_t n)
{
    if (o->buf != NULL)
        memcpy(o->buf + o->len, s, n);
    o->len += (uint32_t)n;
}

static void put_str(out *o, const char *s)
{
    put_raw(o, s, strlen(s));
}

static void put_dec(out *o, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    put_raw(o, tmp + sizeof tmp - n, n);
}

static const char hexdigits[] = "0123456789abcdef";

/* Lowercase hex without leading zeros (offer.flags). */
static void put_hex(out *o, uint64_t v)
{
    char tmp[16];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = hexdigits[v & 0xFu];
        v >>= 4;
    } while (v != 0);
    put_raw(o, tmp + sizeof tmp - n, n);
}

/* A hash: always 16 digits. */
static void put_hash(out *o, uint64_t v)
{
    char tmp[16];
    for (int i = 15; i >= 0; i--) {
        tmp[i] = hexdigits[v & 0xFu];
        v >>= 4;
    }
    put_raw(o, tmp, sizeof tmp);
}

static void put_bytes(out *o, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char two[2] = {hexdigits[b[i] >> 4], hexdigits[b[i] & 0xFu]};
        put_raw(o, two, 2);
    }
}

static void line_dec(out *o, const char *key, uint64_t v)
{
    put_str(o, key);
    put_dec(o, v);
    put_str(o, "\n");
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    return sv_hash(p, n, 0);
}

static const char *state_name(vmbsave_channel_state s)
{
    switch (s) {
    case VMBSAVE_STATE_ENABLED: return "ENABLED";
    case VMBSAVE_STATE_OPEN_PAUSED: return "OPEN_PAUSED";
    case VMBSAVE_STATE_OPEN_RUNNING: return "OPEN_RUNNING";
    case VMBSAVE_STATE_DISABLED: break;
    }
    return "DISABLED";
}

static void walk(const vmbsave_channel *ch, out *o)
{
    /* A disabled channel keeps no offer beyond the init phase's, and no open parameters. */
    static const vmbsave_offer no_offer;
    const vmbsave_offer *of = ch->offer_set ? &ch->offer : &no_offer;
    const sv_contents *c = &ch->c;

    put_str(o, "state=");
    put_str(o, state_name(ch->state));
    put_str(o, "\n");
    line_dec(o, "fresh=", ch->fresh ? 1u : 0u);
    line_dec(o, "offer.set=", ch->offer_set ? 1u : 0u);
    put_str(o, "offer.interface_type=");
    put_bytes(o, of->interface_type.bytes, 16);
    put_str(o, "\noffer.interface_instance=");
    put_bytes(o, of->interface_instance.bytes, 16);
    put_str(o, "\n");
    line_dec(o, "offer.subchannel_index=", of->subchannel_index);
    line_dec(o, "offer.mmio_megabytes=", of->mmio_megabytes);
    put_str(o, "offer.flags=0x");
    put_hex(o, of->flags);
    put_str(o, "\noffer.user_defined=");
    put_bytes(o, of->user_defined, VMBSAVE_USER_DEFINED_BYTES);
    put_str(o, "\n");
    line_dec(o, "open.ring_gpadl_id=", c->open.ring_gpadl_id);
    line_dec(o, "open.incoming_ring_bytes=", c->open.incoming_ring_bytes);
    line_dec(o, "open.outgoing_ring_bytes=", c->open.outgoing_ring_bytes);
    line_dec(o, "open.target_vp=", c->open.target_vp);
    line_dec(o, "open.connection_id=", c->open.connection_id);
    line_dec(o, "next_send_sequence=", ch->next_seq);
    line_dec(o, "gpadl.count=", c->gpadl_count);
    for (uint32_t i = 0; i < c->gpadl_count; i++) {
        const sv_gpadl *g = c->gpadls[i];
        put_str(o, "gpadl[");
        put_dec(o, i);
        put_str(o, "]=id=");
        put_dec(o, g->id);
        put_str(o, g->state == SV_GPADL_CREATED ? " state=CREATED pfns=" : " state=TEARING_DOWN pfns=");
        put_dec(o, g->pfn_count);
        put_str(o, " pfn_hash=");
        put_hash(o, hash_bytes(g->pfn_le, 8u * (size_t)g->pfn_count));
        put_str(o, "\n");
    }
    line_dec(o, "packet.count=", c->packet_count);
    for (uint32_t i = 0; i < c->packet_count; i++) {
        const sv_packet *p = c->packets[i];
        put_str(o, "packet[");
        put_dec(o, i);
        put_str(o, "]=id=");
        put_dec(o, p->id);
        put_str(o, " seq=");
        put_dec(o, p->seq);
        put_str(o, " gpadl=");
        put_dec(o, p->gpadl);
        put_str(o, " bytes=");
        put_dec(o, p->bytes);
        put_str(o, " payload_hash=");
        put_hash(o, hash_bytes(p->payload, p->bytes));
        put_str(o, "\n");
    }
    static const char *const names[2] = {"incoming", "outgoing"};
    for (unsigned d = 0; d < 2; d++) {
        put_str(o, "ring.");
        put_str(o, names[d]);
        put_str(o, ".bytes=");
        put_dec(o, c->rings[d].len);
        put_str(o, "\nring.");
        put_str(o, names[d]);
        put_str(o, ".hash=");
        put_hash(o, hash_bytes(c->rings[d].buf, c->rings[d].len));
        put_str(o, "\n");
    }
}

NTSTATUS sv_describe(vmbsave_channel *ch, char *buffer, uint32_t size, uint32_t *required)
{
    if (ch == NULL || required == NULL)
        return STATUS_INVALID_PARAMETER;
    out count = {NULL, 0};
    walk(ch, &count);
    *required = count.len + 1u;
    if (buffer == NULL || size < count.len + 1u)
        return STATUS_BUFFER_TOO_SMALL;
    out text = {buffer, 0};
    walk(ch, &text);
    buffer[text.len] = '\0';
    return STATUS_SUCCESS;
}
