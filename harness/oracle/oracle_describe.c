/* The canonical description of a modelled channel (docs/SPEC.md section 14), and a shape check
 * of observed descriptions, so that a malformed text is told apart (ABI.DESCRIBE.FORMAT) from a
 * well-formed text showing the wrong state (the clause of the call that changed it). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "oracle/oracle.h"

typedef struct text {
    char *buf;
    size_t cap, len;
    bool overflow;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    if (t->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len) {
        t->overflow = true;
        return;
    }
    t->len += (size_t)n;
}

static void put_hex_bytes(text *t, const uint8_t *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    if (t->overflow || t->cap - t->len <= 2 * n) {
        t->overflow = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        t->buf[t->len++] = digits[bytes[i] >> 4];
        t->buf[t->len++] = digits[bytes[i] & 0xFu];
    }
    t->buf[t->len] = '\0';
}

static const char *state_name(vmbsave_channel_state s)
{
    switch (s) {
    case VMBSAVE_STATE_DISABLED: return "DISABLED";
    case VMBSAVE_STATE_ENABLED: return "ENABLED";
    case VMBSAVE_STATE_OPEN_PAUSED: return "OPEN_PAUSED";
    case VMBSAVE_STATE_OPEN_RUNNING: return "OPEN_RUNNING";
    }
    return "?";
}

size_t oracle_describe_text(vmbsave_oracle *o, const oracle_state *m, char *out, size_t cap)
{
    (void)o;
    text t = {out, cap, 0, cap == 0};
    if (cap != 0)
        out[0] = '\0';
    put(&t, "state=%s\nfresh=%d\noffer.set=%d\noffer.interface_type=", state_name(m->state),
        m->fresh ? 1 : 0, m->offer_set ? 1 : 0);
    put_hex_bytes(&t, m->offer.interface_type.bytes, 16);
    put(&t, "\noffer.interface_instance=");
    put_hex_bytes(&t, m->offer.interface_instance.bytes, 16);
    put(&t,
        "\noffer.subchannel_index=%u\noffer.mmio_megabytes=%u\noffer.flags=0x%" PRIx32
        "\noffer.user_defined=",
        (unsigned)m->offer.subchannel_index, (unsigned)m->offer.mmio_megabytes, m->offer.flags);
    put_hex_bytes(&t, m->offer.user_defined, VMBSAVE_USER_DEFINED_BYTES);
    put(&t,
        "\nopen.ring_gpadl_id=%" PRIu32 "\nopen.incoming_ring_bytes=%" PRIu32
        "\nopen.outgoing_ring_bytes=%" PRIu32 "\nopen.target_vp=%" PRIu32
        "\nopen.connection_id=%" PRIu32 "\nnext_send_sequence=%" PRIu64 "\ngpadl.count=%" PRIu32
        "\n",
        m->open.ring_gpadl_id, m->open.incoming_ring_bytes, m->open.outgoing_ring_bytes,
        m->open.target_vp, m->open.connection_id, m->next_seq, m->gpadl_count);
    for (uint32_t i = 0; i < m->gpadl_count; i++) {
        const oracle_gpadl *g = &m->gpadls[i];
        put(&t,
            "gpadl[%" PRIu32 "]=id=%" PRIu32 " state=%s pfns=%" PRIu32 " pfn_hash=%016" PRIx64 "\n",
            i, g->id, g->state == 1u ? "CREATED" : "TEARING_DOWN", g->pfn_count, g->pfn_hash);
    }
    put(&t, "packet.count=%" PRIu32 "\n", m->packet_count);
    for (uint32_t i = 0; i < m->packet_count; i++) {
        const oracle_packet *p = &m->packets[i];
        put(&t,
            "packet[%" PRIu32 "]=id=%" PRIu64 " seq=%" PRIu64 " gpadl=%" PRIu32 " bytes=%" PRIu32
            " payload_hash=%016" PRIx64 "\n",
            i, p->id, p->seq, p->gpadl, p->bytes, p->payload_hash);
    }
    put(&t,
        "ring.incoming.bytes=%" PRIu32 "\nring.incoming.hash=%016" PRIx64
        "\nring.outgoing.bytes=%" PRIu32 "\nring.outgoing.hash=%016" PRIx64 "\n",
        m->rings[0].len, m->rings[0].hash, m->rings[1].len, m->rings[1].hash);
    return t.overflow ? 0 : t.len;
}

/* ---- Shape check ------------------------------------------------------------------------- */

typedef struct reader {
    const char *p;
    uint32_t line;
    char *why;
    size_t why_size;
} reader;

static bool fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(reader *r, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->why, r->why_size, "line %" PRIu32 ": %s", r->line, msg);
    return false;
}

static bool lit(reader *r, const char *s)
{
    size_t n = strlen(s);
    if (strncmp(r->p, s, n) != 0)
        return fail(r, "expected \"%s\"", s);
    r->p += n;
    return true;
}

/* A decimal number without leading zeros, below 2^64. */
static bool dec(reader *r, uint64_t *out)
{
    const char *s = r->p;
    uint64_t v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        uint64_t d = (uint64_t)(s[n] - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return fail(r, "a number above 2^64");
        v = v * 10u + d;
        n++;
    }
    if (n == 0)
        return fail(r, "expected a decimal number");
    if (n > 1 && s[0] == '0')
        return fail(r, "a decimal number with a leading zero");
    r->p += n;
    if (out != NULL)
        *out = v;
    return true;
}

/* Exactly n lowercase hex digits (n 0: one or more, no leading zero unless "0"). */
static bool hex(reader *r, size_t n)
{
    size_t k = 0;
    while ((r->p[k] >= '0' && r->p[k] <= '9') || (r->p[k] >= 'a' && r->p[k] <= 'f'))
        k++;
    if (n != 0 && k != n)
        return fail(r, "expected %zu lowercase hex digits", n);
    if (n == 0 && (k == 0 || (k > 1 && r->p[0] == '0') || k > 8))
        return fail(r, "expected hex without leading zeros");
    r->p += k;
    return true;
}

static bool eol(reader *r)
{
    if (*r->p != '\n')
        return fail(r, "expected the end of the line");
    r->p++;
    r->line++;
    return true;
}

static bool word(reader *r, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(words[i]);
        if (strncmp(r->p, words[i], len) == 0 && (r->p[len] == '\n' || r->p[len] == ' ')) {
            r->p += len;
            return true;
        }
    }
    return fail(r, "unknown value");
}

static bool dec_line(reader *r, const char *key, uint64_t *out)
{
    return lit(r, key) && dec(r, out) && eol(r);
}

bool oracle_describe_wellformed(const char *textp, char *why, size_t why_size)
{
    static const char *const states[] = {"DISABLED", "ENABLED", "OPEN_PAUSED", "OPEN_RUNNING"};
    static const char *const gstates[] = {"CREATED", "TEARING_DOWN"};
    static const char *const bits[] = {"0", "1"};
    reader r = {textp, 1, why, why_size};
    uint64_t n;
    if (!(lit(&r, "state=") && word(&r, states, 4) && eol(&r)))
        return false;
    if (!(lit(&r, "fresh=") && word(&r, bits, 2) && eol(&r)))
        return false;
    if (!(lit(&r, "offer.set=") && word(&r, bits, 2) && eol(&r)))
        return false;
    if (!(lit(&r, "offer.interface_type=") && hex(&r, 32) && eol(&r)))
        return false;
    if (!(lit(&r, "offer.interface_instance=") && hex(&r, 32) && eol(&r)))
        return false;
    if (!dec_line(&r, "offer.subchannel_index=", NULL) ||
        !dec_line(&r, "offer.mmio_megabytes=", NULL))
        return false;
    if (!(lit(&r, "offer.flags=0x") && hex(&r, 0) && eol(&r)))
        return false;
    if (!(lit(&r, "offer.user_defined=") && hex(&r, 2u * VMBSAVE_USER_DEFINED_BYTES) && eol(&r)))
        return false;
    static const char *const dec_keys[] = {
        "open.ring_gpadl_id=", "open.incoming_ring_bytes=", "open.outgoing_ring_bytes=",
        "open.target_vp=",     "open.connection_id=",       "next_send_sequence="};
    for (size_t i = 0; i < sizeof dec_keys / sizeof dec_keys[0]; i++) {
        if (!dec_line(&r, dec_keys[i], NULL))
            return false;
    }
    if (!dec_line(&r, "gpadl.count=", &n))
        return false;
    if (n > 4096u)
        return fail(&r, "gpadl.count above any limit");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t idx;
        if (!(lit(&r, "gpadl[") && dec(&r, &idx)))
            return false;
        if (idx != i)
            return fail(&r, "gpadl index %" PRIu64 ", expected %" PRIu64, idx, i);
        if (!(lit(&r, "]=id=") && dec(&r, NULL) && lit(&r, " state=") && word(&r, gstates, 2) &&
              lit(&r, " pfns=") && dec(&r, NULL) && lit(&r, " pfn_hash=") && hex(&r, 16) &&
              eol(&r)))
            return false;
    }
    if (!dec_line(&r, "packet.count=", &n))
        return false;
    if (n > 65536u)
        return fail(&r, "packet.count above any limit");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t idx;
        if (!(lit(&r, "packet[") && dec(&r, &idx)))
            return false;
        if (idx != i)
            return fail(&r, "packet index %" PRIu64 ", expected %" PRIu64, idx, i);
        if (!(lit(&r, "]=id=") && dec(&r, NULL) && lit(&r, " seq=") && dec(&r, NULL) &&
              lit(&r, " gpadl=") && dec(&r, NULL) && lit(&r, " bytes=") && dec(&r, NULL) &&
              lit(&r, " payload_hash=") && hex(&r, 16) && eol(&r)))
            return false;
    }
    if (!(dec_line(&r, "ring.incoming.bytes=", NULL) && lit(&r, "ring.incoming.hash=") &&
          hex(&r, 16) && eol(&r)))
        return false;
    if (!(dec_line(&r, "ring.outgoing.bytes=", NULL) && lit(&r, "ring.outgoing.hash=") &&
          hex(&r, 16) && eol(&r)))
        return false;
    if (*r.p != '\0')
        return fail(&r, "text after the last line");
    return true;
}

/* ---- Diff -------------------------------------------------------------------------------- */

static const char *next_line(const char *p, const char **end)
{
    const char *e = strchr(p, '\n');
    *end = e != NULL ? e : p + strlen(p);
    return p;
}

static void copy_line(char *dst, size_t cap, const char *start, const char *end)
{
    size_t n = (size_t)(end - start);
    if (n >= cap)
        n = cap - 1u;
    memcpy(dst, start, n);
    dst[n] = '\0';
}

uint32_t oracle_describe_diff(const char *a, const char *b, bool except_fresh, char *la,
                              size_t la_size, char *lb, size_t lb_size)
{
    uint32_t line = 1;
    for (;;) {
        const char *ae, *be;
        next_line(a, &ae);
        next_line(b, &be);
        size_t an = (size_t)(ae - a), bn = (size_t)(be - b);
        bool skip = except_fresh && strncmp(a, "fresh=", 6) == 0 && strncmp(b, "fresh=", 6) == 0;
        if (!skip && (an != bn || memcmp(a, b, an) != 0)) {
            copy_line(la, la_size, a, ae);
            copy_line(lb, lb_size, b, be);
            if (an == 0 && *ae == '\0')
                oracle_text(la, la_size, "(end of text)");
            if (bn == 0 && *be == '\0')
                oracle_text(lb, lb_size, "(end of text)");
            return line;
        }
        if (*ae == '\0' && *be == '\0')
            return 0;
        a = *ae != '\0' ? ae + 1 : ae;
        b = *be != '\0' ? be + 1 : be;
        line++;
    }
}
