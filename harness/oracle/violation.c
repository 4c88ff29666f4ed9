/* Verdicts and violations (harness/oracle/violation.h): names, the values' setters, and the one
 * place their text is made. */
#include "oracle/violation.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "image/chunks.h"

const char *vmbsave_verdict_name(vmbsave_verdict verdict)
{
    switch (verdict) {
    case VMBSAVE_VERDICT_PASS: return "PASS";
    case VMBSAVE_VERDICT_VIOLATION: return "VIOLATION";
    case VMBSAVE_VERDICT_ERROR: return "ERROR";
    }
    return "?";
}

const char *vmbsave_check_kind_name(vmbsave_check_kind kind)
{
    switch (kind) {
    case VMBSAVE_CHECK_STATUS: return "STATUS";
    case VMBSAVE_CHECK_COUNTS: return "COUNTS";
    case VMBSAVE_CHECK_GUARD: return "GUARD";
    case VMBSAVE_CHECK_CHUNKS: return "CHUNKS";
    case VMBSAVE_CHECK_IMAGE: return "IMAGE";
    case VMBSAVE_CHECK_DESCRIBE: return "DESCRIBE";
    case VMBSAVE_CHECK_LEAK: return "LEAK";
    case VMBSAVE_CHECK_CALLBACK: return "CALLBACK";
    case VMBSAVE_CHECK_KIND_COUNT: break;
    }
    return "?";
}

const char *vmbsave_value_kind_name(vmbsave_value_kind kind)
{
    switch (kind) {
    case VMBSAVE_VALUE_NONE: return "NONE";
    case VMBSAVE_VALUE_STATUS_SET: return "STATUS_SET";
    case VMBSAVE_VALUE_STATUS: return "STATUS";
    case VMBSAVE_VALUE_COUNTS: return "COUNTS";
    case VMBSAVE_VALUE_LIVE: return "LIVE";
    case VMBSAVE_VALUE_NUMBER: return "NUMBER";
    case VMBSAVE_VALUE_BYTE: return "BYTE";
    case VMBSAVE_VALUE_EXTENT: return "EXTENT";
    case VMBSAVE_VALUE_CHUNK: return "CHUNK";
    case VMBSAVE_VALUE_LINE: return "LINE";
    case VMBSAVE_VALUE_CALLBACK: return "CALLBACK";
    case VMBSAVE_VALUE_RULE: return "RULE";
    case VMBSAVE_VALUE_KIND_COUNT: break;
    }
    return "?";
}

/* ---- Text ---------------------------------------------------------------------------------- */

/* The note's length; it may come unterminated from another process (the CLI's child). */
static size_t note_len(const vmbsave_value *v)
{
    const char *end = memchr(v->note, '\0', sizeof v->note);
    return end != NULL ? (size_t)(end - v->note) : sizeof v->note;
}

/* A bounded appender: the text is cut at the buffer's end, the length still counts. */
typedef struct text_out {
    char *buf;
    size_t cap, len;
} text_out;

static void put(text_out *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_out *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->len < t->cap ? t->cap - t->len : 0;
    int w = vsnprintf(room != 0 ? t->buf + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (w > 0)
        t->len += (size_t)w;
}

static void put_status(text_out *t, NTSTATUS s)
{
    const char *name = vmbsave_status_name(s);
    if (name != NULL)
        put(t, "%s", name);
    else
        put(t, "0x%08" PRIx32, (uint32_t)s);
}

static void put_range_u(text_out *t, uint64_t lo, uint64_t hi)
{
    if (lo == hi)
        put(t, "%" PRIu64, lo);
    else
        put(t, "%" PRIu64 "..%" PRIu64, lo, hi);
}

static void put_core(text_out *t, const vmbsave_value *v)
{
    switch ((vmbsave_value_kind)v->kind) {
    case VMBSAVE_VALUE_STATUS_SET:
    case VMBSAVE_VALUE_STATUS: {
        unsigned n = v->u.status.n < VMBSAVE_VALUE_MAX_STATUSES ? v->u.status.n
                                                                : VMBSAVE_VALUE_MAX_STATUSES;
        if (v->u.status.negate)
            put(t, "not ");
        for (unsigned i = 0; i < n; i++) {
            if (i != 0)
                put(t, " or ");
            put_status(t, v->u.status.s[i]);
        }
        break;
    }
    case VMBSAVE_VALUE_COUNTS:
        if (v->u.counts.has_filled) {
            put(t, "filled=");
            put_range_u(t, v->u.counts.filled_lo, v->u.counts.filled_hi);
        }
        if (v->u.counts.has_required) {
            put(t, "%srequired=", v->u.counts.has_filled ? " " : "");
            put_range_u(t, v->u.counts.required_lo, v->u.counts.required_hi);
        }
        break;
    case VMBSAVE_VALUE_LIVE:
        if (v->u.live.lo == v->u.live.hi)
            put(t, "live_allocations=%" PRId64, v->u.live.lo);
        else
            put(t, "live_allocations=%" PRId64 "..%" PRId64, v->u.live.lo, v->u.live.hi);
        if (v->u.live.has_delta)
            put(t, " (%+" PRId64 " across the call%s)", v->u.live.delta,
                v->u.live.at_end ? "; still not 0 at the end" : "");
        break;
    case VMBSAVE_VALUE_NUMBER: put_range_u(t, v->u.number.lo, v->u.number.hi); break;
    case VMBSAVE_VALUE_BYTE:
        put(t, "byte %" PRId64 "%s", v->u.byte.at,
            v->u.byte.where == VMBSAVE_BYTE_IN_CHUNK  ? " of the chunk"
            : v->u.byte.where == VMBSAVE_BYTE_IN_DATA ? " of the data"
                                                      : "");
        if (v->u.byte.has_value)
            put(t, " is 0x%02x", (unsigned)v->u.byte.value);
        break;
    case VMBSAVE_VALUE_EXTENT:
        put(t, "no byte written outside [0, %" PRIu32 ") of the %" PRIu32 "-byte buffer",
            v->u.extent.writable, v->u.extent.size);
        break;
    case VMBSAVE_VALUE_CHUNK:
        put(t, "chunk %" PRIu32, v->u.chunk.index);
        if (v->u.chunk.has_shape)
            put(t, " (%s, %" PRIu32 " bytes at image offset %" PRIu32 ")",
                vmbsave_chunk_type_name(v->u.chunk.type), v->u.chunk.size, v->u.chunk.offset);
        break;
    case VMBSAVE_VALUE_LINE: put(t, "line %" PRIu32, v->u.line.line); break;
    case VMBSAVE_VALUE_CALLBACK: {
        const char *fn = v->u.callback.restore ? "restore_packet" : "save_packet";
        if (!v->u.callback.is_count)
            put(t, "%s(packet %" PRIu64 ", size %" PRIu32 ")", fn, v->u.callback.packet,
                v->u.callback.size);
        else if (v->u.callback.count == 0)
            put(t, "no %s call", fn);
        else
            put(t, "%" PRIu32 " %s call(s), the first for packet %" PRIu64 " size %" PRIu32,
                v->u.callback.count, fn, v->u.callback.packet, v->u.callback.size);
        break;
    }
    case VMBSAVE_VALUE_NONE:
    case VMBSAVE_VALUE_RULE:
    case VMBSAVE_VALUE_KIND_COUNT: break;
    }
}

size_t vmbsave_value_format(const vmbsave_value *v, char *buf, size_t n)
{
    text_out t = {buf, n, 0};
    if (n != 0)
        buf[0] = '\0';
    int len = (int)note_len(v);
    if (v->note_first)
        put(&t, "%.*s", len, v->note);
    put_core(&t, v);
    if (!v->note_first)
        put(&t, "%.*s", len, v->note);
    return t.len < n ? t.len : (n != 0 ? n - 1u : 0);
}

size_t vmbsave_violation_format_expected(const vmbsave_violation *v, char *buf, size_t n)
{
    return vmbsave_value_format(&v->want, buf, n);
}

size_t vmbsave_violation_format_observed(const vmbsave_violation *v, char *buf, size_t n)
{
    return vmbsave_value_format(&v->seen, buf, n);
}

void vmbsave_violation_render(vmbsave_violation *v)
{
    vmbsave_violation_format_expected(v, v->expected, sizeof v->expected);
    vmbsave_violation_format_observed(v, v->observed, sizeof v->observed);
}

/* ---- Setting values ------------------------------------------------------------------------ */

void vmbsave_value_set_statuses(vmbsave_value *v, const NTSTATUS *statuses, unsigned n)
{
    v->kind = VMBSAVE_VALUE_STATUS_SET;
    v->u.status.negate = false;
    v->u.status.n = (uint8_t)(n < VMBSAVE_VALUE_MAX_STATUSES ? n : VMBSAVE_VALUE_MAX_STATUSES);
    memcpy(v->u.status.s, statuses, v->u.status.n * sizeof statuses[0]);
}

void vmbsave_value_set_status(vmbsave_value *v, NTSTATUS status)
{
    v->kind = VMBSAVE_VALUE_STATUS;
    v->u.status.negate = false;
    v->u.status.n = 1;
    v->u.status.s[0] = status;
}

void vmbsave_value_set_filled(vmbsave_value *v, uint32_t lo, uint32_t hi)
{
    if (v->kind != VMBSAVE_VALUE_COUNTS)
        memset(&v->u.counts, 0, sizeof v->u.counts);
    v->kind = VMBSAVE_VALUE_COUNTS;
    v->u.counts.has_filled = true;
    v->u.counts.filled_lo = lo;
    v->u.counts.filled_hi = hi;
}

void vmbsave_value_set_required(vmbsave_value *v, uint32_t lo, uint32_t hi)
{
    if (v->kind != VMBSAVE_VALUE_COUNTS)
        memset(&v->u.counts, 0, sizeof v->u.counts);
    v->kind = VMBSAVE_VALUE_COUNTS;
    v->u.counts.has_required = true;
    v->u.counts.required_lo = lo;
    v->u.counts.required_hi = hi;
}

void vmbsave_value_set_live(vmbsave_value *v, int64_t live)
{
    v->kind = VMBSAVE_VALUE_LIVE;
    memset(&v->u.live, 0, sizeof v->u.live);
    v->u.live.lo = v->u.live.hi = live;
}

void vmbsave_value_set_live_delta(vmbsave_value *v, int64_t live, int64_t delta, bool at_end)
{
    vmbsave_value_set_live(v, live);
    v->u.live.has_delta = true;
    v->u.live.delta = delta;
    v->u.live.at_end = at_end;
}

void vmbsave_value_set_number(vmbsave_value *v, uint64_t n)
{
    v->kind = VMBSAVE_VALUE_NUMBER;
    v->u.number.lo = v->u.number.hi = n;
}

void vmbsave_value_set_byte(vmbsave_value *v, int64_t at, vmbsave_byte_where where)
{
    v->kind = VMBSAVE_VALUE_BYTE;
    memset(&v->u.byte, 0, sizeof v->u.byte);
    v->u.byte.at = at;
    v->u.byte.where = (uint8_t)where;
}

void vmbsave_value_set_byte_value(vmbsave_value *v, int64_t at, vmbsave_byte_where where,
                                  uint8_t value)
{
    vmbsave_value_set_byte(v, at, where);
    v->u.byte.has_value = true;
    v->u.byte.value = value;
}

void vmbsave_value_set_extent(vmbsave_value *v, uint32_t writable, uint32_t size)
{
    v->kind = VMBSAVE_VALUE_EXTENT;
    v->u.extent.writable = writable;
    v->u.extent.size = size;
}

void vmbsave_value_set_chunk(vmbsave_value *v, uint32_t index)
{
    v->kind = VMBSAVE_VALUE_CHUNK;
    memset(&v->u.chunk, 0, sizeof v->u.chunk);
    v->u.chunk.index = index;
}

void vmbsave_value_set_chunk_shape(vmbsave_value *v, uint32_t index, uint16_t type,
                                   uint32_t size, uint32_t offset)
{
    vmbsave_value_set_chunk(v, index);
    v->u.chunk.has_shape = true;
    v->u.chunk.type = type;
    v->u.chunk.size = size;
    v->u.chunk.offset = offset;
}

void vmbsave_value_set_line(vmbsave_value *v, uint32_t line, uint32_t offset, uint32_t length)
{
    v->kind = VMBSAVE_VALUE_LINE;
    v->u.line.line = line;
    v->u.line.offset = offset;
    v->u.line.length = length;
}

void vmbsave_value_set_callback(vmbsave_value *v, bool restore, uint64_t packet, uint32_t size)
{
    v->kind = VMBSAVE_VALUE_CALLBACK;
    memset(&v->u.callback, 0, sizeof v->u.callback);
    v->u.callback.restore = restore;
    v->u.callback.packet = packet;
    v->u.callback.size = size;
}

void vmbsave_value_set_callbacks(vmbsave_value *v, bool restore, uint32_t count,
                                 uint64_t first_packet, uint32_t first_size)
{
    vmbsave_value_set_callback(v, restore, first_packet, first_size);
    v->u.callback.is_count = true;
    v->u.callback.count = count;
}

void vmbsave_value_set_rule(vmbsave_value *v, const char *words)
{
    v->kind = VMBSAVE_VALUE_RULE;
    v->note[0] = '\0';
    vmbsave_value_note(v, "%s", words);
}

void vmbsave_value_note(vmbsave_value *v, const char *fmt, ...)
{
    size_t len = note_len(v);
    if (len + 1u >= sizeof v->note)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->note + len, sizeof v->note - len, fmt, ap);
    va_end(ap);
}
