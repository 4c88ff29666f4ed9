/* The canonical description (SPEC.md section 14, clauses ABI.DESCRIBE.*).
 *
 * Two passes over the same emitter: the first only counts (hashes are fixed-width, so they
 * are not computed), the second writes once the size is known to fit, so a too-small buffer
 * is never touched. Nothing is allocated. */
#include <string.h>

#include "image.h"
#include "internal.h"

typedef struct ref_text {
    char *buf; /* NULL: count only */
    size_t len;
} ref_text;

static void ref_text_put(ref_text *t, const char *s, size_t n)
{
    if (t->buf != NULL) {
        memcpy(t->buf + t->len, s, n);
    }
    t->len += n;
}

static void ref_text_str(ref_text *t, const char *s)
{
    ref_text_put(t, s, strlen(s));
}

static void ref_text_dec(ref_text *t, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    ref_text_put(t, digits + sizeof digits - n, n);
}

static const char ref_hex_digits[] = "0123456789abcdef";

static void ref_text_hex_nopad(ref_text *t, uint64_t v)
{
    char digits[16];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = ref_hex_digits[v & 0xFu];
        v >>= 4;
    } while (v != 0);
    ref_text_put(t, digits + sizeof digits - n, n);
}

static void ref_text_bytes_hex(ref_text *t, const uint8_t *bytes, size_t n)
{
    if (t->buf == NULL) {
        t->len += 2 * n;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        t->buf[t->len++] = ref_hex_digits[bytes[i] >> 4];
        t->buf[t->len++] = ref_hex_digits[bytes[i] & 0xFu];
    }
}

/* A hash as 16 hex digits; `hash` is only read when writing. */
static void ref_text_hash(ref_text *t, uint64_t hash)
{
    if (t->buf == NULL) {
        t->len += 16;
        return;
    }
    for (int i = 15; i >= 0; i--) {
        t->buf[t->len++] = ref_hex_digits[(hash >> (4 * i)) & 0xFu];
    }
}

static void ref_text_line_dec(ref_text *t, const char *key, uint64_t v)
{
    ref_text_str(t, key);
    ref_text_dec(t, v);
    ref_text_str(t, "\n");
}

static const char *ref_state_name(vmbsave_channel_state s)
{
    switch (s) {
    case VMBSAVE_STATE_ENABLED: return "ENABLED";
    case VMBSAVE_STATE_OPEN_PAUSED: return "OPEN_PAUSED";
    case VMBSAVE_STATE_OPEN_RUNNING: return "OPEN_RUNNING";
    case VMBSAVE_STATE_DISABLED:
    default: return "DISABLED";
    }
}

static void ref_emit(const vmbsave_channel *ch, ref_text *t)
{
    const ref_model *m = &ch->m;
    bool hashes = t->buf != NULL;

    ref_text_str(t, "state=");
    ref_text_str(t, ref_state_name(m->state));
    ref_text_str(t, "\n");
    ref_text_line_dec(t, "fresh=", ch->fresh ? 1u : 0u);
    ref_text_line_dec(t, "offer.set=", m->offer_set ? 1u : 0u);
    ref_text_str(t, "offer.interface_type=");
    ref_text_bytes_hex(t, m->offer.interface_type.bytes, 16);
    ref_text_str(t, "\noffer.interface_instance=");
    ref_text_bytes_hex(t, m->offer.interface_instance.bytes, 16);
    ref_text_str(t, "\n");
    ref_text_line_dec(t, "offer.subchannel_index=", m->offer.subchannel_index);
    ref_text_line_dec(t, "offer.mmio_megabytes=", m->offer.mmio_megabytes);
    ref_text_str(t, "offer.flags=0x");
    ref_text_hex_nopad(t, m->offer.flags);
    ref_text_str(t, "\noffer.user_defined=");
    ref_text_bytes_hex(t, m->offer.user_defined, VMBSAVE_USER_DEFINED_BYTES);
    ref_text_str(t, "\n");
    ref_text_line_dec(t, "open.ring_gpadl_id=", m->open.ring_gpadl_id);
    ref_text_line_dec(t, "open.incoming_ring_bytes=", m->open.incoming_ring_bytes);
    ref_text_line_dec(t, "open.outgoing_ring_bytes=", m->open.outgoing_ring_bytes);
    ref_text_line_dec(t, "open.target_vp=", m->open.target_vp);
    ref_text_line_dec(t, "open.connection_id=", m->open.connection_id);
    ref_text_line_dec(t, "next_send_sequence=", m->next_send_sequence);

    ref_text_line_dec(t, "gpadl.count=", m->gpadl_count);
    for (uint32_t i = 0; i < m->gpadl_count; i++) {
        const ref_gpadl *g = &m->gpadls[i];
        ref_text_str(t, "gpadl[");
        ref_text_dec(t, i);
        ref_text_str(t, "]=id=");
        ref_text_dec(t, g->id);
        ref_text_str(t, g->state == REF_GPADL_STATE_CREATED ? " state=CREATED pfns="
                                                            : " state=TEARING_DOWN pfns=");
        ref_text_dec(t, g->pfn_count);
        ref_text_str(t, " pfn_hash=");
        ref_text_hash(t, hashes ? ref_hash(g->pfns_le, (size_t)g->pfn_count * 8u, 0) : 0);
        ref_text_str(t, "\n");
    }

    ref_text_line_dec(t, "packet.count=", m->packet_count);
    for (uint32_t i = 0; i < m->packet_count; i++) {
        const ref_packet *p = &m->packets[i];
        ref_text_str(t, "packet[");
        ref_text_dec(t, i);
        ref_text_str(t, "]=id=");
        ref_text_dec(t, p->id);
        ref_text_str(t, " seq=");
        ref_text_dec(t, p->send_sequence);
        ref_text_str(t, " gpadl=");
        ref_text_dec(t, p->gpadl_id);
        ref_text_str(t, " bytes=");
        ref_text_dec(t, p->payload_bytes);
        ref_text_str(t, " payload_hash=");
        ref_text_hash(t, hashes ? ref_hash(p->payload, p->payload_bytes, 0) : 0);
        ref_text_str(t, "\n");
    }

    static const char *const names[2] = {"ring.incoming.", "ring.outgoing."};
    for (unsigned d = 0; d < 2; d++) {
        const ref_ring *r = &m->rings[d];
        ref_text_str(t, names[d]);
        ref_text_line_dec(t, "bytes=", r->len);
        ref_text_str(t, names[d]);
        ref_text_str(t, "hash=");
        uint64_t h = 0;
        if (hashes) {
            /* The pending bytes in FIFO order: at most two pieces of the circular buffer. */
            uint32_t first = r->cap - r->head;
            if (first > r->len) {
                first = r->len;
            }
            h = ref_hash_2(r->len != 0 ? r->buf + r->head : NULL, first, r->buf, r->len - first);
        }
        ref_text_hash(t, h);
        ref_text_str(t, "\n");
    }
}

NTSTATUS ref_describe(vmbsave_channel *ch, char *buffer, uint32_t buffer_size,
                      uint32_t *bytes_required)
{
    if (bytes_required != NULL) {
        *bytes_required = 0;
    }
    if (ch == NULL || bytes_required == NULL || (buffer == NULL && buffer_size != 0)) {
        return STATUS_INVALID_PARAMETER;
    }
    ref_text count = {NULL, 0};
    ref_emit(ch, &count);
    /* At most a few hundred KiB (4096 packet lines), far below 4 GiB. */
    uint32_t required = (uint32_t)(count.len + 1u);
    *bytes_required = required;
    if (buffer_size < required) {
        return STATUS_BUFFER_TOO_SMALL;
    }
    ref_text out = {buffer, 0};
    ref_emit(ch, &out);
    buffer[out.len] = '\0';
    return STATUS_SUCCESS;
}
