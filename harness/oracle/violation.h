/* The verdict of a run and the violation that decided it: what the oracle fills and every
 * layer above reads.
 *
 * A violation carries what was expected and what was observed as typed values
 * (vmbsave_value: a status set, counts, a live-allocation count, a byte offset, a chunk, ...),
 * so that a reader (the C reproducer writer, tests) takes numbers from fields. The text
 * `expected` / `observed` is rendered from them (vmbsave_violation_render) for people, and a
 * value's `note` adds human context around its number; neither is ever parsed. */
#ifndef VMBSAVE_HARNESS_VIOLATION_H
#define VMBSAVE_HARNESS_VIOLATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbsave/ntstatus.h"

typedef enum vmbsave_verdict {
    VMBSAVE_VERDICT_PASS = 0,      /* every step ran and every check held */
    VMBSAVE_VERDICT_VIOLATION = 1, /* the implementation broke a clause */
    VMBSAVE_VERDICT_ERROR = 2,     /* the harness could not run the program (setup failed,
                                      or the program executed no step) */
} vmbsave_verdict;

/* What kind of observation broke the contract: tells a reproducer what to re-check. */
typedef enum vmbsave_check_kind {
    VMBSAVE_CHECK_STATUS = 0, /* a status the contract does not allow at this point */
    VMBSAVE_CHECK_COUNTS,     /* BytesFilled / BytesRequired (or describe's size) wrong */
    VMBSAVE_CHECK_GUARD,      /* bytes changed outside what the call may write */
    VMBSAVE_CHECK_CHUNKS,     /* written bytes are not the expected whole chunks */
    VMBSAVE_CHECK_IMAGE,      /* two images that must be byte-identical differ */
    VMBSAVE_CHECK_DESCRIBE,   /* a description changed where it must not, or differs */
    VMBSAVE_CHECK_LEAK,       /* live allocations not back where they must be */
    VMBSAVE_CHECK_CALLBACK,   /* the packet-callback protocol was broken */
    VMBSAVE_CHECK_KIND_COUNT
} vmbsave_check_kind;

/* What a value holds. */
typedef enum vmbsave_value_kind {
    VMBSAVE_VALUE_NONE = 0,
    VMBSAVE_VALUE_STATUS_SET, /* one of status.s[0..n) (negate: none of them) */
    VMBSAVE_VALUE_STATUS,     /* exactly status.s[0] */
    VMBSAVE_VALUE_COUNTS,     /* BytesFilled and/or BytesRequired (ring_read's count as filled,
                                 describe's bytes_required as required), each a range */
    VMBSAVE_VALUE_LIVE,       /* the host's live allocation count (a range), and its change
                                 across the call */
    VMBSAVE_VALUE_NUMBER,     /* a count of what the note names (calls, allocation calls) */
    VMBSAVE_VALUE_BYTE,       /* a byte offset in a buffer, a chunk or a text; maybe its value */
    VMBSAVE_VALUE_EXTENT,     /* bytes [0, writable) of a size-byte buffer: what may be written */
    VMBSAVE_VALUE_CHUNK,      /* an image chunk: its index; maybe type, size and image offset */
    VMBSAVE_VALUE_LINE,       /* the first description line that differs, where, and the length */
    VMBSAVE_VALUE_CALLBACK,   /* a packet callback (packet id, buffer size), or a number of them */
    VMBSAVE_VALUE_RULE,       /* a protocol rule that no number states: the note says it */
    VMBSAVE_VALUE_KIND_COUNT
} vmbsave_value_kind;

/* Where a VMBSAVE_VALUE_BYTE offset counts from. */
typedef enum vmbsave_byte_where {
    VMBSAVE_BYTE_IN_BUFFER = 0, /* the caller's buffer (negative: the guard before it) */
    VMBSAVE_BYTE_IN_CHUNK,      /* the chunk the value's note or the other value names */
    VMBSAVE_BYTE_IN_DATA,       /* the data a call returned (ring_read's bytes) */
} vmbsave_byte_where;

#define VMBSAVE_VALUE_MAX_STATUSES 8u
#define VMBSAVE_VALUE_NOTE_BYTES 160u

typedef struct vmbsave_value {
    uint8_t kind;    /* vmbsave_value_kind */
    bool note_first; /* the note goes before the value ("payload_bytes" 70000), not after */
    union {
        struct {
            uint8_t n;
            bool negate;
            NTSTATUS s[VMBSAVE_VALUE_MAX_STATUSES];
        } status;
        struct {
            bool has_filled, has_required;
            uint32_t filled_lo, filled_hi, required_lo, required_hi;
        } counts;
        struct {
            int64_t lo, hi;
            bool has_delta; /* the change across the call is known */
            bool at_end;    /* a suspect: the count was not back to 0 after the release */
            int64_t delta;
        } live;
        struct {
            uint64_t lo, hi;
        } number;
        struct {
            int64_t at;
            uint8_t where; /* vmbsave_byte_where */
            bool has_value;
            uint8_t value;
        } byte;
        struct {
            uint32_t writable, size;
        } extent;
        struct {
            uint32_t index;
            bool has_shape; /* type, size and offset are set */
            uint16_t type;  /* VMBSAVE_CHUNK_* */
            uint32_t size, offset;
        } chunk;
        struct {
            uint32_t line;   /* 1-based */
            uint32_t offset; /* of the first byte that differs */
            uint32_t length; /* of the whole text */
        } line;
        struct {
            bool restore;  /* restore_packet, else save_packet */
            bool is_count; /* `count` calls (the first for packet/size when count != 0) */
            uint32_t count;
            uint64_t packet;
            uint32_t size;
        } callback;
    } u;
    char note[VMBSAVE_VALUE_NOTE_BYTES]; /* human context; never parsed */
} vmbsave_value;

typedef struct vmbsave_violation {
    char clause[64];           /* a clause ID of docs/SPEC.md */
    uint32_t step;             /* program step index (0-based) */
    uint32_t call;             /* trace entry index of the call that showed it */
    vmbsave_check_kind kind;
    vmbsave_value want;        /* what the contract allows */
    vmbsave_value seen;        /* what the implementation did */
    /* want and seen as text (vmbsave_violation_render), for people only. */
    char expected[256];
    char observed[256];
} vmbsave_violation;

const char *vmbsave_verdict_name(vmbsave_verdict verdict);
const char *vmbsave_check_kind_name(vmbsave_check_kind kind);
const char *vmbsave_value_kind_name(vmbsave_value_kind kind);

/* A value as text (always NUL-terminated when n > 0); returns its length. */
size_t vmbsave_value_format(const vmbsave_value *value, char *buf, size_t n);
/* The expected and observed text of a violation, from its values. */
size_t vmbsave_violation_format_expected(const vmbsave_violation *v, char *buf, size_t n);
size_t vmbsave_violation_format_observed(const vmbsave_violation *v, char *buf, size_t n);
/* Fills v->expected and v->observed from v->want and v->seen. */
void vmbsave_violation_render(vmbsave_violation *v);

/* Setting a value (each sets the kind; the note is left as it is). */
void vmbsave_value_set_statuses(vmbsave_value *v, const NTSTATUS *statuses, unsigned n);
void vmbsave_value_set_status(vmbsave_value *v, NTSTATUS status);
void vmbsave_value_set_filled(vmbsave_value *v, uint32_t lo, uint32_t hi);
void vmbsave_value_set_required(vmbsave_value *v, uint32_t lo, uint32_t hi);
void vmbsave_value_set_live(vmbsave_value *v, int64_t live);
void vmbsave_value_set_live_delta(vmbsave_value *v, int64_t live, int64_t delta, bool at_end);
void vmbsave_value_set_number(vmbsave_value *v, uint64_t n);
void vmbsave_value_set_byte(vmbsave_value *v, int64_t at, vmbsave_byte_where where);
void vmbsave_value_set_byte_value(vmbsave_value *v, int64_t at, vmbsave_byte_where where,
                                  uint8_t value);
void vmbsave_value_set_extent(vmbsave_value *v, uint32_t writable, uint32_t size);
void vmbsave_value_set_chunk(vmbsave_value *v, uint32_t index);
void vmbsave_value_set_chunk_shape(vmbsave_value *v, uint32_t index, uint16_t type,
                                   uint32_t size, uint32_t offset);
void vmbsave_value_set_line(vmbsave_value *v, uint32_t line, uint32_t offset, uint32_t length);
void vmbsave_value_set_callback(vmbsave_value *v, bool restore, uint64_t packet, uint32_t size);
void vmbsave_value_set_callbacks(vmbsave_value *v, bool restore, uint32_t count,
                                 uint64_t first_packet, uint32_t first_size);
void vmbsave_value_set_rule(vmbsave_value *v, const char *words);
/* Appends to the note. */
void vmbsave_value_note(vmbsave_value *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
