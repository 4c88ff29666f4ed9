/* Programs: normalisation, the byte form and the text form (harness/program/program.h).
 *
 * One table (op_specs) says, for every op, which step fields it uses, under which key, in which
 * modes and with which range. Normalisation, printing and parsing all read that table, so the
 * three cannot disagree; docs/PROGRAMS.md is the same table in prose. Nothing here allocates:
 * fuzz targets decode and print millions of programs. */
#include "program/program.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "host/host.h"
#include "vmbsave/abi.h"

/* Short names for the table below. */
#define F_CH VMBSAVE_STEP_FIELD_CH
#define F_MODE VMBSAVE_STEP_FIELD_MODE
#define F_SLOT VMBSAVE_STEP_FIELD_SLOT
#define F_A VMBSAVE_STEP_FIELD_A
#define F_B VMBSAVE_STEP_FIELD_B
#define F_C VMBSAVE_STEP_FIELD_C

#define ALL_MODES UINT32_MAX
#define M(mode) (UINT32_C(1) << (mode))
#define FULL_U32 0u, UINT32_MAX

/* One key of an op's text form: the step field it sets, the modes it applies in, and its
 * range. A spec whose range is a single value is implied by the mode: it is set by
 * normalisation and never written or read as text. An (op, mode) pair has at most one spec per
 * field and per key. */
typedef struct field_spec {
    const char *key;
    uint8_t field;  /* vmbsave_step_field */
    uint32_t modes; /* bit m: used in mode m */
    uint32_t lo, hi;
} field_spec;

/* Fields holding an id code, whose text is the id it names (field_ids). */
enum { ID_NONE = 0, ID_GPADL, ID_PACKET };

/* The edge ids, in code order after the small ranges (program.h). Append only: a code's id
 * must not change, or saved programs would change meaning. */
static const uint32_t gpadl_edge_ids[VMBSAVE_PROGRAM_GPADL_EDGE_IDS] = {
    UINT32_C(0x100),        /* past a u8 */
    UINT32_C(0x10000),      /* past a u16 */
    UINT32_C(0x7FFFFFFF),   /* the largest i32 */
    UINT32_C(0x80000000),   /* its sign bit */
    UINT32_C(0xFFFFFFFE),
    UINT32_C(0xFFFFFFFF),   /* UINT32_MAX */
};
static const uint64_t packet_edge_ids[VMBSAVE_PROGRAM_PACKET_EDGE_IDS] = {
    UINT64_C(0xFFFFFFFF),          /* UINT32_MAX */
    UINT64_C(0x100000000),         /* 2^32: 0 in 32 bits */
    UINT64_C(0x100000005),         /* 5 in 32 bits: collides with small id 5 */
    UINT64_C(0x7FFFFFFFFFFFFFFF),  /* the largest i64 */
    UINT64_C(0x8000000000000000),  /* its sign bit */
    UINT64_C(0xFFFFFFFF00000001),  /* 1 in 32 bits, high half all ones */
    UINT64_C(0xFFFFFFFFFFFFFFFE),
    UINT64_C(0xFFFFFFFFFFFFFFFF),  /* UINT64_MAX */
};

uint32_t vmbsave_program_gpadl_id(uint32_t code)
{
    code %= VMBSAVE_PROGRAM_GPADL_IDS;
    return code < VMBSAVE_PROGRAM_GPADL_SMALL_IDS
               ? code
               : gpadl_edge_ids[code - VMBSAVE_PROGRAM_GPADL_SMALL_IDS];
}

uint64_t vmbsave_program_packet_id(uint32_t code)
{
    code %= VMBSAVE_PROGRAM_PACKET_IDS;
    return code < VMBSAVE_PROGRAM_PACKET_SMALL_IDS
               ? code
               : packet_edge_ids[code - VMBSAVE_PROGRAM_PACKET_SMALL_IDS];
}

/* The text of an id field's value, and back: an id in the small range or an edge id is its
 * code; any other number is reduced into the small range. */
static uint64_t id_of_code(uint8_t ids, uint32_t code)
{
    return ids == ID_GPADL ? vmbsave_program_gpadl_id(code) : vmbsave_program_packet_id(code);
}

static uint32_t code_of_id(uint8_t ids, uint64_t id)
{
    uint32_t small = ids == ID_GPADL ? VMBSAVE_PROGRAM_GPADL_SMALL_IDS
                                     : VMBSAVE_PROGRAM_PACKET_SMALL_IDS;
    uint32_t codes = ids == ID_GPADL ? VMBSAVE_PROGRAM_GPADL_IDS : VMBSAVE_PROGRAM_PACKET_IDS;
    if (id < small)
        return (uint32_t)id;
    for (uint32_t code = small; code < codes; code++) {
        if (id_of_code(ids, code) == id)
            return code;
    }
    return (uint32_t)(id % small);
}

#define OP_MAX_SPECS 10u

typedef struct op_spec {
    const char *name;
    const char *const *mode_names; /* NULL: the op has no mode */
    uint8_t mode_count;
    uint8_t spec_count;
    field_spec specs[OP_MAX_SPECS]; /* in text order */
} op_spec;

/* The scripted driver's modes (harness/host/host.h); the names array below must list them all. */
#define SAVE_PACKET_MODE_COUNT ((unsigned)VMBSAVE_SAVE_PACKET_MODE_COUNT)

static const char *const offer_mode_names[VMBSAVE_OFFER_MODE_COUNT] = {
    "valid", "bad-flags", "over-limit", "null"};
static const char *const open_mode_names[VMBSAVE_OPEN_MODE_COUNT] = {
    "valid", "unaligned", "over-limit", "zero-connection", "null"};
static const char *const gpadl_mode_names[VMBSAVE_GPADL_MODE_COUNT] = {
    "valid", "max-pfns", "over-limit", "zero-pfns", "bad-pfn", "null"};
static const char *const payload_mode_names[VMBSAVE_PAYLOAD_MODE_COUNT] = {
    "small", "medium", "max", "over-limit", "null"};
static const char *const direction_names[2] = {"in", "out"};
static const char *const size_mode_names[VMBSAVE_SIZE_MODE_COUNT] = {
    "zero-null", "zero", "one", "required-1", "required", "required+1",
    "max-chunk", "large", "explicit", "null-filled", "null-required", "null-buffer"};
static const char *const edit_mode_names[VMBSAVE_EDIT_MODE_COUNT] = {
    "whole", "truncate", "bit-flip", "drop-chunk", "duplicate-chunk", "swap-chunks",
    "foreign-chunk", "split-inside", "chunks"};
static const char *const fault_mode_names[VMBSAVE_FAULT_MODE_COUNT] = {"once", "from", "off"};
static const char *const save_packet_mode_names[SAVE_PACKET_MODE_COUNT] = {
    "normal", "no-state", "fail-second", "fail-first-zero", "over-limit", "asks-more",
    "too-small-second"};

#define CH_SPEC {"ch", F_CH, ALL_MODES, 0u, VMBSAVE_PROGRAM_CHANNELS - 1u}
#define IMAGE_SPEC(key, field, modes) {key, field, modes, 0u, VMBSAVE_PROGRAM_IMAGES - 1u}
#define MODE_SPEC(key, count) {key, F_MODE, ALL_MODES, 0u, (count) - 1u}
#define GPADL_ID_SPEC(key, field, modes) {key, field, modes, 0u, VMBSAVE_PROGRAM_GPADL_IDS - 1u}
#define PACKET_ID_SPEC(key, field, modes) \
    {key, field, modes, 0u, VMBSAVE_PROGRAM_PACKET_IDS - 1u}
#define CH_ONLY(op_name) {op_name, NULL, 0, 1, {CH_SPEC}}

/* Open ring sizes in pages; OVER_LIMIT is one page above the ABI's maximum. */
#define RING_PAGES_MIN 2u
#define RING_PAGES_MAX 65u
#define RING_PAGES_OVER_LIMIT (VMBSAVE_MAX_RING_BYTES / VMBSAVE_PAGE_BYTES + 1u)
#define GPADL_PFNS_MAX_SMALL 16u
#define SAVE_EXPLICIT_MAX (2u * VMBSAVE_MAX_CHUNK_BYTES)
#define RESTORE_PER_CALL_MAX 16u
#define FAULT_ALLOC_AFTER_MAX 63u
#define FAULT_RESTORE_CALL_MAX 16u

static const op_spec op_specs[VMBSAVE_OP_COUNT] = {
    [VMBSAVE_OP_OFFER] = {"offer", offer_mode_names, VMBSAVE_OFFER_MODE_COUNT, 3, {
        CH_SPEC,
        MODE_SPEC("mode", VMBSAVE_OFFER_MODE_COUNT),
        {"salt", F_A, ALL_MODES & ~M(VMBSAVE_OFFER_NULL), FULL_U32},
    }},
    [VMBSAVE_OP_ENABLE] = CH_ONLY("enable"),
    [VMBSAVE_OP_DISABLE] = CH_ONLY("disable"),
    [VMBSAVE_OP_OPEN] = {"open", open_mode_names, VMBSAVE_OPEN_MODE_COUNT, 6, {
        CH_SPEC,
        MODE_SPEC("mode", VMBSAVE_OPEN_MODE_COUNT),
        GPADL_ID_SPEC("gpadl", F_A, ALL_MODES & ~M(VMBSAVE_OPEN_NULL)),
        {"in_pages", F_B, M(VMBSAVE_OPEN_VALID) | M(VMBSAVE_OPEN_UNALIGNED) |
                              M(VMBSAVE_OPEN_ZERO_CONNECTION),
         RING_PAGES_MIN, RING_PAGES_MAX},
        {"in_pages", F_B, M(VMBSAVE_OPEN_OVER_LIMIT), RING_PAGES_OVER_LIMIT,
         RING_PAGES_OVER_LIMIT},
        {"out_pages", F_C, ALL_MODES & ~M(VMBSAVE_OPEN_NULL), RING_PAGES_MIN, RING_PAGES_MAX},
    }},
    [VMBSAVE_OP_CLOSE] = CH_ONLY("close"),
    [VMBSAVE_OP_START] = CH_ONLY("start"),
    [VMBSAVE_OP_PAUSE] = CH_ONLY("pause"),
    [VMBSAVE_OP_GPADL_CREATE] = {"gpadl_create", gpadl_mode_names, VMBSAVE_GPADL_MODE_COUNT, 7, {
        CH_SPEC,
        MODE_SPEC("mode", VMBSAVE_GPADL_MODE_COUNT),
        GPADL_ID_SPEC("id", F_A, ALL_MODES),
        {"pfns", F_B, M(VMBSAVE_GPADL_VALID) | M(VMBSAVE_GPADL_BAD_PFN) | M(VMBSAVE_GPADL_NULL),
         1u, GPADL_PFNS_MAX_SMALL},
        {"pfns", F_B, M(VMBSAVE_GPADL_MAX_PFNS), VMBSAVE_MAX_GPADL_PFNS,
         VMBSAVE_MAX_GPADL_PFNS},
        {"pfns", F_B, M(VMBSAVE_GPADL_OVER_LIMIT), VMBSAVE_MAX_GPADL_PFNS + 1u,
         VMBSAVE_MAX_GPADL_PFNS + 1u},
        {"salt", F_C, ALL_MODES & ~M(VMBSAVE_GPADL_ZERO_PFNS) & ~M(VMBSAVE_GPADL_NULL),
         FULL_U32},
    }},
    [VMBSAVE_OP_GPADL_TEARDOWN_BEGIN] = {"gpadl_teardown_begin", NULL, 0, 2, {
        CH_SPEC,
        GPADL_ID_SPEC("id", F_A, ALL_MODES),
    }},
    [VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE] = {"gpadl_teardown_complete", NULL, 0, 2, {
        CH_SPEC,
        GPADL_ID_SPEC("id", F_A, ALL_MODES),
    }},
    [VMBSAVE_OP_PACKET_SEND] = {"packet_send", payload_mode_names, VMBSAVE_PAYLOAD_MODE_COUNT, 9, {
        CH_SPEC,
        MODE_SPEC("payload", VMBSAVE_PAYLOAD_MODE_COUNT),
        PACKET_ID_SPEC("id", F_A, ALL_MODES),
        GPADL_ID_SPEC("gpadl", F_B, ALL_MODES),
        {"bytes", F_C, M(VMBSAVE_PAYLOAD_SMALL), 0u, 64u},
        {"bytes", F_C, M(VMBSAVE_PAYLOAD_MEDIUM), 0u, 4096u},
        {"bytes", F_C, M(VMBSAVE_PAYLOAD_MAX), VMBSAVE_MAX_PACKET_PAYLOAD,
         VMBSAVE_MAX_PACKET_PAYLOAD},
        {"bytes", F_C, M(VMBSAVE_PAYLOAD_OVER_LIMIT), VMBSAVE_MAX_PACKET_PAYLOAD + 1u,
         VMBSAVE_MAX_PACKET_PAYLOAD + 1u},
        {"bytes", F_C, M(VMBSAVE_PAYLOAD_NULL), 1u, 64u},
    }},
    [VMBSAVE_OP_PACKET_COMPLETE] = {"packet_complete", NULL, 0, 2, {
        CH_SPEC,
        PACKET_ID_SPEC("id", F_A, ALL_MODES),
    }},
    [VMBSAVE_OP_RING_WRITE] = {"ring_write", direction_names, 2, 4, {
        CH_SPEC,
        MODE_SPEC("dir", 2u),
        {"bytes", F_A, ALL_MODES, 0u, VMBSAVE_PROGRAM_MAX_RING_OP_BYTES},
        {"salt", F_C, ALL_MODES, FULL_U32},
    }},
    [VMBSAVE_OP_RING_READ] = {"ring_read", direction_names, 2, 3, {
        CH_SPEC,
        MODE_SPEC("dir", 2u),
        {"bytes", F_A, ALL_MODES, 0u, VMBSAVE_PROGRAM_MAX_RING_OP_BYTES},
    }},
    [VMBSAVE_OP_SAVE_BEGIN] = CH_ONLY("save_begin"),
    [VMBSAVE_OP_SAVE_CONTINUE] = {"save_continue", size_mode_names, VMBSAVE_SIZE_MODE_COUNT, 4, {
        CH_SPEC,
        MODE_SPEC("size", VMBSAVE_SIZE_MODE_COUNT),
        {"bytes", F_A, M(VMBSAVE_SIZE_EXPLICIT) | M(VMBSAVE_SIZE_NULL_FILLED) |
                           M(VMBSAVE_SIZE_NULL_REQUIRED),
         0u, SAVE_EXPLICIT_MAX},
        {"bytes", F_A, M(VMBSAVE_SIZE_NULL_BUFFER), 1u, SAVE_EXPLICIT_MAX},
    }},
    [VMBSAVE_OP_SAVE_END] = CH_ONLY("save_end"),
    [VMBSAVE_OP_CAPTURE] = {"capture", NULL, 0, 2, {
        CH_SPEC,
        IMAGE_SPEC("image", F_SLOT, ALL_MODES),
    }},
    [VMBSAVE_OP_RESTORE] = {"restore", edit_mode_names, VMBSAVE_EDIT_MODE_COUNT, 10, {
        CH_SPEC,
        IMAGE_SPEC("image", F_SLOT, ALL_MODES),
        MODE_SPEC("edit", VMBSAVE_EDIT_MODE_COUNT),
        {"at", F_A, M(VMBSAVE_EDIT_TRUNCATE), FULL_U32},
        {"bit", F_A, M(VMBSAVE_EDIT_BIT_FLIP), FULL_U32},
        {"chunk", F_A, M(VMBSAVE_EDIT_DROP_CHUNK) | M(VMBSAVE_EDIT_DUPLICATE_CHUNK) |
                           M(VMBSAVE_EDIT_SWAP_CHUNKS) | M(VMBSAVE_EDIT_FOREIGN_CHUNK) |
                           M(VMBSAVE_EDIT_SPLIT_INSIDE) | M(VMBSAVE_EDIT_CHUNKS),
         FULL_U32},
        {"with", F_B, M(VMBSAVE_EDIT_SWAP_CHUNKS), FULL_U32},
        IMAGE_SPEC("from_image", F_B, M(VMBSAVE_EDIT_FOREIGN_CHUNK)),
        {"count", F_B, M(VMBSAVE_EDIT_CHUNKS), FULL_U32},
        {"per_call", F_C, M(VMBSAVE_EDIT_WHOLE) | M(VMBSAVE_EDIT_TRUNCATE) |
                              M(VMBSAVE_EDIT_CHUNKS),
         0u, RESTORE_PER_CALL_MAX},
    }},
    [VMBSAVE_OP_CLEANUP] = CH_ONLY("cleanup"),
    [VMBSAVE_OP_FAULT_ALLOC] = {"fault_alloc", fault_mode_names, VMBSAVE_FAULT_MODE_COUNT, 2, {
        MODE_SPEC("mode", VMBSAVE_FAULT_MODE_COUNT),
        {"after", F_A, M(VMBSAVE_FAULT_ONCE) | M(VMBSAVE_FAULT_FROM), 0u, FAULT_ALLOC_AFTER_MAX},
    }},
    [VMBSAVE_OP_FAULT_SAVE_PACKET] = {"fault_save_packet", save_packet_mode_names,
                                      SAVE_PACKET_MODE_COUNT, 2, {
        MODE_SPEC("mode", SAVE_PACKET_MODE_COUNT),
        PACKET_ID_SPEC("packet", F_A, ALL_MODES & ~M(VMBSAVE_SAVE_PACKET_STATE)),
    }},
    [VMBSAVE_OP_FAULT_RESTORE_PACKET] = {"fault_restore_packet", NULL, 0, 1, {
        {"call", F_A, ALL_MODES, 1u, FAULT_RESTORE_CALL_MAX},
    }},
};

/* Which fields hold id codes: those of the GPADL_ID_SPEC and PACKET_ID_SPEC entries above. */
static uint8_t field_ids(unsigned op, unsigned field)
{
    switch (op) {
    case VMBSAVE_OP_OPEN:
    case VMBSAVE_OP_GPADL_CREATE:
    case VMBSAVE_OP_GPADL_TEARDOWN_BEGIN:
    case VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE: return field == F_A ? ID_GPADL : ID_NONE;
    case VMBSAVE_OP_PACKET_SEND:
        return field == F_A ? ID_PACKET : field == F_B ? ID_GPADL : ID_NONE;
    case VMBSAVE_OP_PACKET_COMPLETE:
    case VMBSAVE_OP_FAULT_SAVE_PACKET: return field == F_A ? ID_PACKET : ID_NONE;
    default: return ID_NONE;
    }
}

static bool spec_implied(const field_spec *spec)
{
    return spec->lo == spec->hi;
}

static bool spec_applies(const field_spec *spec, unsigned mode)
{
    return mode < 32u && (spec->modes & M(mode)) != 0;
}

/* The spec that sets `field` of op `o` in `mode`, or NULL if the field is unused there. */
static const field_spec *spec_for_field(const op_spec *o, unsigned mode, unsigned field)
{
    for (unsigned i = 0; i < o->spec_count && i < OP_MAX_SPECS; i++) {
        const field_spec *spec = &o->specs[i];
        if (spec->field == field && spec_applies(spec, mode))
            return spec;
    }
    return NULL;
}

/* Values already in [lo, hi] stay (so normalising twice changes nothing); others map to
 * lo + x mod span, which spreads decoded bytes over the whole range. */
static uint32_t reduce(uint32_t x, uint32_t lo, uint32_t hi)
{
    if (x >= lo && x <= hi)
        return x;
    uint64_t span = (uint64_t)hi - lo + 1u;
    return (uint32_t)(lo + (uint64_t)x % span);
}

uint32_t vmbsave_step_field_get(const vmbsave_step *s, vmbsave_step_field field)
{
    switch (field) {
    case VMBSAVE_STEP_FIELD_CH: return s->ch;
    case VMBSAVE_STEP_FIELD_MODE: return s->mode;
    case VMBSAVE_STEP_FIELD_SLOT: return s->slot;
    case VMBSAVE_STEP_FIELD_A: return s->a;
    case VMBSAVE_STEP_FIELD_B: return s->b;
    default: return s->c;
    }
}

/* Values reaching here from the table fit their field: u8 fields have ranges below 256. */
void vmbsave_step_field_set(vmbsave_step *s, vmbsave_step_field field, uint32_t v)
{
    switch (field) {
    case VMBSAVE_STEP_FIELD_CH: s->ch = (uint8_t)v; break;
    case VMBSAVE_STEP_FIELD_MODE: s->mode = (uint8_t)v; break;
    case VMBSAVE_STEP_FIELD_SLOT: s->slot = (uint8_t)v; break;
    case VMBSAVE_STEP_FIELD_A: s->a = v; break;
    case VMBSAVE_STEP_FIELD_B: s->b = v; break;
    default: s->c = v; break;
    }
}

void vmbsave_step_normalize(vmbsave_step *step)
{
    step->op = (uint8_t)(step->op % VMBSAVE_OP_COUNT);
    const op_spec *o = &op_specs[step->op];
    step->mode = o->mode_count != 0 ? (uint8_t)(step->mode % o->mode_count) : 0;
    static const vmbsave_step_field value_fields[] = {F_CH, F_SLOT, F_A, F_B, F_C};
    for (unsigned i = 0; i < sizeof(value_fields) / sizeof(value_fields[0]); i++) {
        const field_spec *spec = spec_for_field(o, step->mode, value_fields[i]);
        uint32_t v = spec != NULL ? reduce(vmbsave_step_field_get(step, value_fields[i]),
                                           spec->lo, spec->hi)
                                  : 0u;
        vmbsave_step_field_set(step, value_fields[i], v);
    }
}

static uint32_t load_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void vmbsave_program_decode(const uint8_t *bytes, size_t size, vmbsave_program *out)
{
    memset(out, 0, sizeof(*out));
    if (bytes == NULL)
        size = 0;
    if (size > VMBSAVE_PROGRAM_MAX_BYTES)
        size = VMBSAVE_PROGRAM_MAX_BYTES;
    uint32_t count = (uint32_t)((size + VMBSAVE_STEP_BYTES - 1u) / VMBSAVE_STEP_BYTES);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t raw[VMBSAVE_STEP_BYTES] = {0}; /* the zero padding of a partial last step */
        size_t offset = (size_t)i * VMBSAVE_STEP_BYTES;
        size_t n = size - offset < VMBSAVE_STEP_BYTES ? size - offset : VMBSAVE_STEP_BYTES;
        memcpy(raw, bytes + offset, n);
        vmbsave_step *s = &out->steps[i];
        s->op = raw[0];
        s->ch = raw[1];
        s->mode = raw[2];
        s->slot = raw[3];
        s->a = load_u32le(raw + 4);
        s->b = load_u32le(raw + 8);
        s->c = load_u32le(raw + 12);
        vmbsave_step_normalize(s);
    }
    out->count = count;
}

static uint32_t clamped_count(const vmbsave_program *program)
{
    return program->count < VMBSAVE_PROGRAM_MAX_STEPS ? program->count
                                                      : VMBSAVE_PROGRAM_MAX_STEPS;
}

size_t vmbsave_program_encode(const vmbsave_program *program, uint8_t *out, size_t cap)
{
    if (program == NULL)
        return 0;
    uint32_t count = clamped_count(program);
    size_t need = (size_t)count * VMBSAVE_STEP_BYTES;
    if (out == NULL || need > cap)
        return 0;
    for (uint32_t i = 0; i < count; i++) {
        const vmbsave_step *s = &program->steps[i];
        uint8_t *p = out + (size_t)i * VMBSAVE_STEP_BYTES;
        p[0] = s->op;
        p[1] = s->ch;
        p[2] = s->mode;
        p[3] = s->slot;
        store_u32le(p + 4, s->a);
        store_u32le(p + 8, s->b);
        store_u32le(p + 12, s->c);
    }
    return need;
}

const char *vmbsave_op_name(vmbsave_op op)
{
    if ((unsigned)op >= VMBSAVE_OP_COUNT)
        return "(unknown op)";
    return op_specs[op].name;
}

bool vmbsave_program_equal(const vmbsave_program *x, const vmbsave_program *y)
{
    if (x->count != y->count)
        return false;
    uint32_t count = clamped_count(x);
    for (uint32_t i = 0; i < count; i++) {
        const vmbsave_step *s = &x->steps[i], *t = &y->steps[i];
        if (s->op != t->op || s->ch != t->ch || s->mode != t->mode || s->slot != t->slot ||
            s->a != t->a || s->b != t->b || s->c != t->c)
            return false;
    }
    return true;
}

/* ---- Text form ------------------------------------------------------------------------------ */

/* An output buffer that remembers whether anything did not fit. */
typedef struct text_out {
    char *buf;
    size_t cap, len;
    bool overflow;
} text_out;

static void out_printf(text_out *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(text_out *t, const char *fmt, ...)
{
    if (t->overflow)
        return;
    size_t room = t->cap - t->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        t->overflow = true;
        return;
    }
    t->len += (size_t)n;
}

/* Writes the step's text; the step is normalised first (a copy), so any step prints. */
static void print_step(text_out *t, const vmbsave_step *step)
{
    vmbsave_step s = *step;
    vmbsave_step_normalize(&s);
    const op_spec *o = &op_specs[s.op];
    out_printf(t, "%s", o->name);
    for (unsigned i = 0; i < o->spec_count && i < OP_MAX_SPECS; i++) {
        const field_spec *spec = &o->specs[i];
        if (!spec_applies(spec, s.mode) || spec_implied(spec))
            continue;
        if (spec->field == F_MODE)
            out_printf(t, " %s=%s", spec->key, o->mode_names[s.mode]);
        else if (field_ids(s.op, spec->field) != ID_NONE)
            out_printf(t, " %s=%" PRIu64, spec->key,
                       id_of_code(field_ids(s.op, spec->field),
                                  vmbsave_step_field_get(&s, (vmbsave_step_field)spec->field)));
        else
            out_printf(t, " %s=%" PRIu32, spec->key,
                       vmbsave_step_field_get(&s, (vmbsave_step_field)spec->field));
    }
}

static size_t finish(text_out *t)
{
    if (t->overflow || t->cap == 0) {
        if (t->cap != 0)
            t->buf[0] = '\0';
        return 0;
    }
    return t->len;
}

size_t vmbsave_step_print(const vmbsave_step *step, char *out, size_t cap)
{
    text_out t = {out, out != NULL ? cap : 0, 0, false};
    if (t.cap == 0)
        return 0;
    print_step(&t, step);
    return finish(&t);
}

size_t vmbsave_program_print(const vmbsave_program *program, char *out, size_t cap)
{
    text_out t = {out, out != NULL ? cap : 0, 0, false};
    if (t.cap == 0)
        return 0;
    if (program == NULL) {
        t.buf[0] = '\0';
        return 0;
    }
    uint32_t count = clamped_count(program);
    /* The header line makes the text of an empty program non-empty, so 0 always means "did
     * not fit". */
    out_printf(&t, "# vmbsave program: %" PRIu32 " step%s\n", count, count == 1 ? "" : "s");
    for (uint32_t i = 0; i < count; i++) {
        print_step(&t, &program->steps[i]);
        out_printf(&t, "\n");
    }
    return finish(&t);
}

/* ---- Parsing -------------------------------------------------------------------------------- */

#define PARSE_MAX_LINE_BYTES 1024u
#define PARSE_MAX_TOKENS 16u

static int parse_error(char *err, size_t err_size, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int parse_error(char *err, size_t err_size, uint32_t line, const char *fmt, ...)
{
    if (err != NULL && err_size != 0) {
        int n = snprintf(err, err_size, "line %" PRIu32 ": ", line);
        if (n >= 0 && (size_t)n < err_size) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, err_size - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A decimal number that fits 32 bits: digits only, no sign. */
static bool parse_u32(const char *s, uint32_t *out)
{
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    for (unsigned i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10u + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* A decimal number that fits 64 bits (id fields). */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    for (unsigned i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

static int find_op(const char *name)
{
    for (unsigned op = 0; op < VMBSAVE_OP_COUNT; op++) {
        if (strcmp(op_specs[op].name, name) == 0)
            return (int)op;
    }
    return -1;
}

static const field_spec *spec_for_key(const op_spec *o, unsigned mode, const char *key,
                                      bool *known_in_other_mode)
{
    *known_in_other_mode = false;
    for (unsigned i = 0; i < o->spec_count && i < OP_MAX_SPECS; i++) {
        const field_spec *spec = &o->specs[i];
        if (strcmp(spec->key, key) != 0)
            continue;
        if (spec_applies(spec, mode) && !spec_implied(spec))
            return spec;
        *known_in_other_mode = true;
    }
    return NULL;
}

/* "ch, mode, salt": the keys the op takes in this mode, for error messages. */
static void list_keys(const op_spec *o, unsigned mode, char *buf, size_t cap)
{
    text_out t = {buf, cap, 0, false};
    buf[0] = '\0';
    for (unsigned i = 0; i < o->spec_count && i < OP_MAX_SPECS; i++) {
        const field_spec *spec = &o->specs[i];
        if (spec_applies(spec, mode) && !spec_implied(spec))
            out_printf(&t, "%s%s", t.len != 0 ? ", " : "", spec->key);
    }
    if (t.len == 0)
        out_printf(&t, "none");
}

static void list_modes(const op_spec *o, char *buf, size_t cap)
{
    text_out t = {buf, cap, 0, false};
    buf[0] = '\0';
    for (unsigned m = 0; m < o->mode_count; m++)
        out_printf(&t, "%s%s", m != 0 ? ", " : "", o->mode_names[m]);
}

/* Parses one line (comment and newline removed, NUL-terminated, writable). Returns 1 with a
 * step in *step, 0 for a blank line, -1 on error. */
static int parse_line(char *line, uint32_t line_no, vmbsave_step *step, char *err,
                      size_t err_size)
{
    char *tokens[PARSE_MAX_TOKENS];
    unsigned ntokens = 0;
    char *p = line;
    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            break;
        if (ntokens == PARSE_MAX_TOKENS)
            return parse_error(err, err_size, line_no, "more than %u words",
                               PARSE_MAX_TOKENS);
        tokens[ntokens++] = p;
        while (*p != '\0' && !is_blank(*p))
            p++;
        if (*p != '\0')
            *p++ = '\0';
    }
    if (ntokens == 0)
        return 0;

    int op = find_op(tokens[0]);
    if (op < 0)
        return parse_error(err, err_size, line_no, "unknown op '%.40s'", tokens[0]);
    const op_spec *o = &op_specs[op];

    /* Split key=value. */
    const char *values[PARSE_MAX_TOKENS] = {NULL};
    for (unsigned i = 1; i < ntokens; i++) {
        char *eq = strchr(tokens[i], '=');
        if (eq == NULL)
            return parse_error(err, err_size, line_no, "expected key=value, got '%.40s'",
                               tokens[i]);
        *eq = '\0';
        values[i] = eq + 1;
    }

    /* The mode decides which keys the op takes, so it is read first; left out, it is mode 0. */
    vmbsave_step s = {.op = (uint8_t)op};
    const field_spec *mode_spec = spec_for_field(o, 0, F_MODE);
    if (mode_spec != NULL) {
        for (unsigned i = 1; i < ntokens; i++) {
            if (strcmp(tokens[i], mode_spec->key) != 0)
                continue;
            unsigned m = 0;
            while (m < o->mode_count && strcmp(o->mode_names[m], values[i]) != 0)
                m++;
            if (m == o->mode_count) {
                char modes[256];
                list_modes(o, modes, sizeof(modes));
                return parse_error(err, err_size, line_no,
                                   "unknown %s '%.40s' for %s (one of: %s)", mode_spec->key,
                                   values[i], o->name, modes);
            }
            s.mode = (uint8_t)m;
            break;
        }
    }

    bool seen[OP_MAX_SPECS] = {false};
    for (unsigned i = 1; i < ntokens; i++) {
        bool other_mode;
        const field_spec *spec = spec_for_key(o, s.mode, tokens[i], &other_mode);
        if (spec == NULL) {
            char keys[256];
            list_keys(o, s.mode, keys, sizeof(keys));
            if (other_mode && mode_spec != NULL)
                return parse_error(err, err_size, line_no,
                                   "unknown key '%.40s': %s %s=%s takes %s", tokens[i],
                                   o->name, mode_spec->key, o->mode_names[s.mode], keys);
            return parse_error(err, err_size, line_no, "unknown key '%.40s': %s takes %s",
                               tokens[i], o->name, keys);
        }
        unsigned index = (unsigned)(spec - o->specs);
        if (seen[index])
            return parse_error(err, err_size, line_no, "duplicate key '%s'", spec->key);
        seen[index] = true;
        if (spec->field == F_MODE)
            continue; /* read above */
        uint8_t ids = field_ids(s.op, spec->field);
        if (ids != ID_NONE) {
            uint64_t id;
            if (!parse_u64(values[i], &id))
                return parse_error(err, err_size, line_no,
                                   "bad number '%.40s' for %s (a decimal number below 2^64)",
                                   values[i], spec->key);
            vmbsave_step_field_set(&s, (vmbsave_step_field)spec->field, code_of_id(ids, id));
            continue;
        }
        uint32_t v;
        if (!parse_u32(values[i], &v))
            return parse_error(err, err_size, line_no,
                               "bad number '%.40s' for %s (a decimal number below 2^32)",
                               values[i], spec->key);
        /* Reduced as normalisation would (the mode is known), before a u8 field cuts it. */
        vmbsave_step_field_set(&s, (vmbsave_step_field)spec->field,
                               reduce(v, spec->lo, spec->hi));
    }
    for (unsigned i = 0; i < o->spec_count && i < OP_MAX_SPECS; i++) {
        const field_spec *spec = &o->specs[i];
        if (spec->field != F_MODE && !seen[i] && spec_applies(spec, s.mode) &&
            !spec_implied(spec))
            return parse_error(err, err_size, line_no, "missing key '%s' for %s", spec->key,
                               o->name);
    }
    vmbsave_step_normalize(&s);
    *step = s;
    return 1;
}

int vmbsave_program_parse(const char *text, vmbsave_program *out, char *err, size_t err_size)
{
    static const vmbsave_program empty;
    vmbsave_program program = empty; /* `out` is written only on success */
    if (err != NULL && err_size != 0)
        err[0] = '\0';
    if (text == NULL)
        return parse_error(err, err_size, 0, "no text");

    const char *p = text;
    /* Every iteration consumes a line (at least its newline or the final NUL). */
    for (uint32_t line_no = 1; *p != '\0'; line_no++) {
        size_t len = strcspn(p, "\n");
        const char *next = p[len] == '\n' ? p + len + 1 : p + len;
        if (len > PARSE_MAX_LINE_BYTES)
            return parse_error(err, err_size, line_no, "longer than %u bytes",
                               PARSE_MAX_LINE_BYTES);
        char line[PARSE_MAX_LINE_BYTES + 1];
        size_t code = strcspn(p, "#\n"); /* a comment runs to the end of the line */
        memcpy(line, p, code);
        line[code] = '\0';
        p = next;

        vmbsave_step step;
        int r = parse_line(line, line_no, &step, err, err_size);
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        if (program.count == VMBSAVE_PROGRAM_MAX_STEPS)
            return parse_error(err, err_size, line_no, "more than %u steps",
                               VMBSAVE_PROGRAM_MAX_STEPS);
        program.steps[program.count++] = step;
    }
    *out = program;
    return 0;
}
