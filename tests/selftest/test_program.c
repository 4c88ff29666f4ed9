/* HARNESS.PROGRAM.*: programs as data (harness/program/program.h, docs/PROGRAMS.md). Decoding is
 * total, normalisation puts every field in the range docs/PROGRAMS.md documents (checked here
 * against a table written from the document, not from program.c), and the byte and text forms
 * round-trip. Random inputs come from a seeded xorshift generator, so every run is the same. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"

#include "program/program.h"
#include "vmbsave/abi.h"

/* ---- Deterministic random numbers --------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x;
}

static uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(rng_next(r) % n);
}

/* Mostly small numbers and range edges, where the interesting cases are, some huge ones. */
static uint32_t rng_value(rng *r)
{
    static const uint32_t edges[] = {0,     1,     2,     3,     8,     9,          16,
                                     17,    63,    64,    65,    66,    4096,       4097,
                                     16384, 16385, 65536, 65537, 131072, 131073, UINT32_MAX};
    switch (rng_below(r, 4)) {
    case 0: return rng_below(r, 20);
    case 1: return edges[rng_below(r, sizeof(edges) / sizeof(edges[0]))];
    case 2: return rng_below(r, 200000);
    default: return (uint32_t)rng_next(r);
    }
}

/* A step with any field values, normalised or not. */
static vmbsave_step random_step(rng *r)
{
    vmbsave_step s;
    s.op = (uint8_t)(rng_below(r, 3) == 0 ? rng_next(r) : rng_below(r, VMBSAVE_OP_COUNT));
    s.ch = (uint8_t)(rng_below(r, 2) == 0 ? rng_next(r) : rng_below(r, 4));
    s.mode = (uint8_t)(rng_below(r, 3) == 0 ? rng_next(r) : rng_below(r, 13));
    s.slot = (uint8_t)(rng_below(r, 2) == 0 ? rng_next(r) : rng_below(r, 5));
    s.a = rng_value(r);
    s.b = rng_value(r);
    s.c = rng_value(r);
    return s;
}

static void random_program(rng *r, vmbsave_program *p, bool normalised)
{
    memset(p, 0, sizeof(*p));
    switch (rng_below(r, 4)) {
    case 0: p->count = rng_below(r, 4); break;
    case 1: p->count = VMBSAVE_PROGRAM_MAX_STEPS; break;
    default: p->count = rng_below(r, VMBSAVE_PROGRAM_MAX_STEPS + 1); break;
    }
    for (uint32_t i = 0; i < p->count; i++) {
        p->steps[i] = random_step(r);
        if (normalised)
            vmbsave_step_normalize(&p->steps[i]);
    }
}

static void random_bytes(rng *r, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)rng_next(r);
}

/* ---- The ranges of docs/PROGRAMS.md, written from the document ----------------------------- */

/* The fields that have documented ranges (the mode's are doc_mode_count's), in the order the
 * tests draw random values for them. */
static const vmbsave_step_field k_value_fields[] = {
    VMBSAVE_STEP_FIELD_CH, VMBSAVE_STEP_FIELD_SLOT, VMBSAVE_STEP_FIELD_A, VMBSAVE_STEP_FIELD_B,
    VMBSAVE_STEP_FIELD_C};
#define VALUE_FIELDS (sizeof(k_value_fields) / sizeof(k_value_fields[0]))
#define FULL 0u, UINT32_MAX

typedef struct doc_range {
    bool used;
    uint32_t lo, hi;
} doc_range;

static doc_range used(uint32_t lo, uint32_t hi)
{
    return (doc_range){true, lo, hi};
}

static const doc_range unused = {false, 0, 0};

static unsigned doc_mode_count(unsigned op)
{
    switch (op) {
    case VMBSAVE_OP_OFFER: return 4;
    case VMBSAVE_OP_OPEN: return 5;
    case VMBSAVE_OP_GPADL_CREATE: return 6;
    case VMBSAVE_OP_PACKET_SEND: return 5;
    case VMBSAVE_OP_RING_WRITE:
    case VMBSAVE_OP_RING_READ: return 2;
    case VMBSAVE_OP_SAVE_CONTINUE: return 12;
    case VMBSAVE_OP_RESTORE: return 9;
    case VMBSAVE_OP_FAULT_ALLOC: return 3;
    case VMBSAVE_OP_FAULT_SAVE_PACKET: return 7;
    default: return 0;
    }
}

/* The documented range of `field` for a step of op `op` in mode `m` (both already valid). */
static doc_range doc_field_range(unsigned op, unsigned m, vmbsave_step_field field)
{
    const doc_range ch = used(0, 2), gpadl_id = used(0, 14), packet_id = used(0, 24);
    bool fault = op == VMBSAVE_OP_FAULT_ALLOC || op == VMBSAVE_OP_FAULT_SAVE_PACKET ||
                 op == VMBSAVE_OP_FAULT_RESTORE_PACKET;
    if (field == VMBSAVE_STEP_FIELD_CH)
        return fault ? unused : ch;
    if (field == VMBSAVE_STEP_FIELD_SLOT)
        return op == VMBSAVE_OP_CAPTURE || op == VMBSAVE_OP_RESTORE ? used(0, 3) : unused;
    switch (op) {
    case VMBSAVE_OP_OFFER:
        return field == VMBSAVE_STEP_FIELD_A && m != VMBSAVE_OFFER_NULL ? used(FULL) : unused;
    case VMBSAVE_OP_OPEN:
        if (m == VMBSAVE_OPEN_NULL)
            return unused;
        if (field == VMBSAVE_STEP_FIELD_A)
            return gpadl_id;
        if (field == VMBSAVE_STEP_FIELD_B)
            return m == VMBSAVE_OPEN_OVER_LIMIT ? used(8193, 8193) : used(2, 65);
        return used(2, 65);
    case VMBSAVE_OP_GPADL_CREATE:
        if (field == VMBSAVE_STEP_FIELD_A)
            return gpadl_id;
        if (field == VMBSAVE_STEP_FIELD_B) {
            switch (m) {
            case VMBSAVE_GPADL_MAX_PFNS: return used(4096, 4096);
            case VMBSAVE_GPADL_OVER_LIMIT: return used(4097, 4097);
            case VMBSAVE_GPADL_ZERO_PFNS: return unused;
            default: return used(1, 16);
            }
        }
        return m == VMBSAVE_GPADL_ZERO_PFNS || m == VMBSAVE_GPADL_NULL ? unused : used(FULL);
    case VMBSAVE_OP_GPADL_TEARDOWN_BEGIN:
    case VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE:
        return field == VMBSAVE_STEP_FIELD_A ? gpadl_id : unused;
    case VMBSAVE_OP_PACKET_SEND:
        if (field == VMBSAVE_STEP_FIELD_A)
            return packet_id;
        if (field == VMBSAVE_STEP_FIELD_B)
            return gpadl_id;
        switch (m) {
        case VMBSAVE_PAYLOAD_SMALL: return used(0, 64);
        case VMBSAVE_PAYLOAD_MEDIUM: return used(0, 4096);
        case VMBSAVE_PAYLOAD_MAX: return used(16384, 16384);
        case VMBSAVE_PAYLOAD_OVER_LIMIT: return used(16385, 16385);
        default: return used(1, 64);
        }
    case VMBSAVE_OP_PACKET_COMPLETE:
        return field == VMBSAVE_STEP_FIELD_A ? packet_id : unused;
    case VMBSAVE_OP_RING_WRITE:
        if (field == VMBSAVE_STEP_FIELD_A)
            return used(0, 65536);
        return field == VMBSAVE_STEP_FIELD_C ? used(FULL) : unused;
    case VMBSAVE_OP_RING_READ:
        return field == VMBSAVE_STEP_FIELD_A ? used(0, 65536) : unused;
    case VMBSAVE_OP_SAVE_CONTINUE:
        if (field != VMBSAVE_STEP_FIELD_A)
            return unused;
        if (m == VMBSAVE_SIZE_EXPLICIT || m == VMBSAVE_SIZE_NULL_FILLED ||
            m == VMBSAVE_SIZE_NULL_REQUIRED)
            return used(0, 131072);
        return m == VMBSAVE_SIZE_NULL_BUFFER ? used(1, 131072) : unused;
    case VMBSAVE_OP_RESTORE:
        if (field == VMBSAVE_STEP_FIELD_A)
            return m == VMBSAVE_EDIT_WHOLE ? unused : used(FULL);
        if (field == VMBSAVE_STEP_FIELD_B)
            return m == VMBSAVE_EDIT_SWAP_CHUNKS || m == VMBSAVE_EDIT_CHUNKS ? used(FULL)
                   : m == VMBSAVE_EDIT_FOREIGN_CHUNK                   ? used(0, 3)
                                                                       : unused;
        return m == VMBSAVE_EDIT_WHOLE || m == VMBSAVE_EDIT_TRUNCATE || m == VMBSAVE_EDIT_CHUNKS
                   ? used(0, 16)
                   : unused;
    case VMBSAVE_OP_FAULT_ALLOC:
        return field == VMBSAVE_STEP_FIELD_A && m != VMBSAVE_FAULT_OFF ? used(0, 63) : unused;
    case VMBSAVE_OP_FAULT_SAVE_PACKET:
        return field == VMBSAVE_STEP_FIELD_A && m != 0 ? packet_id : unused;
    case VMBSAVE_OP_FAULT_RESTORE_PACKET:
        return field == VMBSAVE_STEP_FIELD_A ? used(1, 16) : unused;
    default:
        return unused; /* ch-only ops */
    }
}

static const char *const field_names[VMBSAVE_STEP_FIELD_COUNT] = {"ch", "mode", "slot",
                                                                   "a",  "b",    "c"};

/* Fails unless every field of `s` is in its documented range and unused fields are 0. */
static void assert_documented(const vmbsave_step *s)
{
    if (s->op >= VMBSAVE_OP_COUNT)
        fail_msg("op %u not below VMBSAVE_OP_COUNT", (unsigned)s->op);
    unsigned modes = doc_mode_count(s->op);
    if (modes == 0 ? s->mode != 0 : s->mode >= modes)
        fail_msg("%s: mode %u outside [0, %u)", vmbsave_op_name((vmbsave_op)s->op),
                 (unsigned)s->mode, modes == 0 ? 1u : modes);
    for (unsigned k = 0; k < VALUE_FIELDS; k++) {
        vmbsave_step_field f = k_value_fields[k];
        doc_range r = doc_field_range(s->op, s->mode, f);
        uint32_t v = vmbsave_step_field_get(s, f);
        if (!r.used && v != 0)
            fail_msg("%s mode %u: unused field %s is %" PRIu32 ", not 0",
                     vmbsave_op_name((vmbsave_op)s->op), (unsigned)s->mode, field_names[f], v);
        if (r.used && (v < r.lo || v > r.hi))
            fail_msg("%s mode %u: %s = %" PRIu32 " outside [%" PRIu32 ", %" PRIu32 "]",
                     vmbsave_op_name((vmbsave_op)s->op), (unsigned)s->mode, field_names[f], v,
                     r.lo, r.hi);
    }
}

static bool step_equal(const vmbsave_step *x, const vmbsave_step *y)
{
    return x->op == y->op && x->ch == y->ch && x->mode == y->mode && x->slot == y->slot &&
           x->a == y->a && x->b == y->b && x->c == y->c;
}

static void assert_normalised(const vmbsave_program *p)
{
    for (uint32_t i = 0; i < p->count; i++) {
        vmbsave_step s = p->steps[i];
        vmbsave_step_normalize(&s);
        if (!step_equal(&s, &p->steps[i]))
            fail_msg("step %" PRIu32 " changes when normalised again", i);
        assert_documented(&p->steps[i]);
    }
}

/* ---- HARNESS.PROGRAM.NORMALIZE_IDEMPOTENT ------------------------------------------------- */

static void normalize_idempotent(void **state)
{
    (void)state;
    rng r = {0x9e3779b97f4a7c15u};
    /* Every op byte and mode byte, with field values at and around range edges. */
    for (unsigned op = 0; op < 256; op++) {
        for (unsigned mode = 0; mode < 256; mode++) {
            vmbsave_step s = {(uint8_t)op, (uint8_t)rng_next(&r), (uint8_t)mode,
                              (uint8_t)rng_next(&r), rng_value(&r), rng_value(&r),
                              rng_value(&r)};
            vmbsave_step once = s, twice;
            vmbsave_step_normalize(&once);
            twice = once;
            vmbsave_step_normalize(&twice);
            assert_true(step_equal(&once, &twice));
            assert_int_equal(once.op, op % VMBSAVE_OP_COUNT);
            unsigned modes = doc_mode_count(once.op);
            assert_int_equal(once.mode, modes == 0 ? 0 : mode % modes);
            assert_documented(&once);
        }
    }
    for (unsigned i = 0; i < 200000; i++) {
        vmbsave_step once = random_step(&r), twice;
        vmbsave_step_normalize(&once);
        twice = once;
        vmbsave_step_normalize(&twice);
        assert_true(step_equal(&once, &twice));
    }
}

/* ---- HARNESS.PROGRAM.NORMALIZE_RANGES ----------------------------------------------------- */

/* In-range values are kept and others map to lo + x mod (hi - lo + 1), as documented. */
static void normalize_ranges(void **state)
{
    (void)state;
    rng r = {12345};
    for (unsigned op = 0; op < VMBSAVE_OP_COUNT; op++) {
        unsigned modes = doc_mode_count(op);
        for (unsigned m = 0; m < (modes == 0 ? 1u : modes); m++) {
            for (unsigned trial = 0; trial < 2000; trial++) {
                vmbsave_step s = {(uint8_t)op, 0, (uint8_t)m, 0, 0, 0, 0}, want = s;
                for (unsigned k = 0; k < VALUE_FIELDS; k++) {
                    vmbsave_step_field f = k_value_fields[k];
                    doc_range dr = doc_field_range(op, m, f);
                    uint32_t v = f == VMBSAVE_STEP_FIELD_CH || f == VMBSAVE_STEP_FIELD_SLOT
                                     ? (uint32_t)(uint8_t)rng_next(&r)
                                     : rng_value(&r);
                    vmbsave_step_field_set(&s, f, v);
                    uint32_t expect = 0;
                    if (dr.used) {
                        uint64_t span = (uint64_t)dr.hi - dr.lo + 1u;
                        expect = v >= dr.lo && v <= dr.hi ? v : (uint32_t)(dr.lo + v % span);
                    }
                    vmbsave_step_field_set(&want, f, expect);
                }
                vmbsave_step got = s;
                vmbsave_step_normalize(&got);
                if (!step_equal(&got, &want))
                    fail_msg("%s mode %u: (ch %u slot %u a %" PRIu32 " b %" PRIu32 " c %" PRIu32
                             ") normalised to (ch %u slot %u a %" PRIu32 " b %" PRIu32
                             " c %" PRIu32 "), documented (ch %u slot %u a %" PRIu32
                             " b %" PRIu32 " c %" PRIu32 ")",
                             vmbsave_op_name((vmbsave_op)op), m, s.ch, s.slot, s.a, s.b, s.c,
                             got.ch, got.slot, got.a, got.b, got.c, want.ch, want.slot, want.a,
                             want.b, want.c);
            }
        }
    }
}

/* ---- HARNESS.PROGRAM.DECODE_TOTAL --------------------------------------------------------- */

static void decode_exact(const uint8_t *bytes, size_t n, vmbsave_program *out, int garbage)
{
    memset(out, garbage, sizeof(*out));
    vmbsave_program_decode(bytes, n, out);
}

static void decode_total(void **state)
{
    (void)state;
    rng r = {42};
    static vmbsave_program p, q, padded_p;
    const size_t max = VMBSAVE_PROGRAM_MAX_BYTES;
    size_t lengths[64] = {0, 1, 15, 16, 17, 31, 32, 33, 255, 1000, max - 1, max, max + 1,
                          max + 15, max + 16, max + 100};
    size_t nlengths = 16;
    while (nlengths < sizeof(lengths) / sizeof(lengths[0]))
        lengths[nlengths++] = rng_below(&r, (uint32_t)max + 200);

    for (unsigned round = 0; round < 8; round++) {
        for (size_t li = 0; li < nlengths; li++) {
            size_t n = lengths[li];
            /* Exactly n bytes on the heap: ASan reports any read past them. */
            uint8_t *bytes = malloc(n != 0 ? n : 1);
            assert_non_null(bytes);
            random_bytes(&r, bytes, n);

            decode_exact(bytes, n, &p, 0xAA);
            size_t steps = (n + VMBSAVE_STEP_BYTES - 1) / VMBSAVE_STEP_BYTES;
            assert_int_equal(p.count, steps < VMBSAVE_PROGRAM_MAX_STEPS ? steps
                                                                        : VMBSAVE_PROGRAM_MAX_STEPS);
            assert_normalised(&p);

            /* Deterministic, whatever the output held before. */
            decode_exact(bytes, n, &q, 0x55);
            assert_true(vmbsave_program_equal(&p, &q));

            /* A partial last step reads as if padded with zero bytes; bytes past the maximum
             * are ignored. */
            size_t padded_n = steps * VMBSAVE_STEP_BYTES;
            uint8_t *padded = calloc(padded_n != 0 ? padded_n : 1, 1);
            assert_non_null(padded);
            memcpy(padded, bytes, n);
            decode_exact(padded, padded_n < max ? padded_n : max, &padded_p, 0x11);
            assert_true(vmbsave_program_equal(&p, &padded_p));
            free(padded);
            free(bytes);
        }
    }

    /* NULL with size 0 is the empty program. */
    decode_exact(NULL, 0, &p, 0x77);
    assert_int_equal(p.count, 0);

    /* One step, by hand: op 46 % 23 = OFFER, ch 5 % 3 = 2, mode 6 % 4 = OVER_LIMIT, slot
     * unused, a (salt) kept, b and c unused. */
    const uint8_t one[16] = {46, 5, 6, 9, 0x04, 0x03, 0x02, 0x01, 7, 7, 7, 7, 8, 8, 8, 8};
    decode_exact(one, sizeof(one), &p, 0);
    assert_int_equal(p.count, 1);
    vmbsave_step want = {VMBSAVE_OP_OFFER, 2, VMBSAVE_OFFER_OVER_LIMIT, 0, 0x01020304u, 0, 0};
    assert_true(step_equal(&p.steps[0], &want));
    /* Two bytes: a SAVE_CONTINUE (op 15) on channel 1, the rest zero. */
    const uint8_t two[2] = {15, 1};
    decode_exact(two, sizeof(two), &p, 0);
    assert_int_equal(p.count, 1);
    vmbsave_step want2 = {VMBSAVE_OP_SAVE_CONTINUE, 1, VMBSAVE_SIZE_ZERO_NULL, 0, 0, 0, 0};
    assert_true(step_equal(&p.steps[0], &want2));
}

/* ---- HARNESS.PROGRAM.ENCODE_ROUNDTRIP ----------------------------------------------------- */

static void encode_roundtrip(void **state)
{
    (void)state;
    rng r = {7};
    static vmbsave_program p, q;
    static uint8_t buf[VMBSAVE_PROGRAM_MAX_BYTES + 16], again[VMBSAVE_PROGRAM_MAX_BYTES];

    /* The byte layout: op ch mode slot, then a b c as u32 little-endian. */
    memset(&p, 0, sizeof(p));
    p.count = 1;
    p.steps[0] = (vmbsave_step){VMBSAVE_OP_RESTORE, 1, VMBSAVE_EDIT_SWAP_CHUNKS, 3,
                                0x11223344u, 0xA0B0C0D0u, 0};
    const uint8_t layout[16] = {VMBSAVE_OP_RESTORE, 1, VMBSAVE_EDIT_SWAP_CHUNKS, 3,
                                0x44, 0x33, 0x22, 0x11, 0xD0, 0xC0, 0xB0, 0xA0, 0, 0, 0, 0};
    assert_int_equal(vmbsave_program_encode(&p, buf, sizeof(buf)), 16);
    assert_memory_equal(buf, layout, 16);

    for (unsigned i = 0; i < 3000; i++) {
        random_program(&r, &p, true);
        size_t need = (size_t)p.count * VMBSAVE_STEP_BYTES;

        /* Too small by one byte: nothing written. */
        if (need != 0) {
            memset(buf, 0xEE, sizeof(buf));
            assert_int_equal(vmbsave_program_encode(&p, buf, need - 1), 0);
            for (size_t k = 0; k < sizeof(buf); k++)
                assert_int_equal(buf[k], 0xEE);
        }
        memset(buf, 0xEE, sizeof(buf));
        assert_int_equal(vmbsave_program_encode(&p, buf, need), need);
        assert_int_equal(buf[need], 0xEE); /* nothing past the count */

        /* decode(encode(p)) == p */
        decode_exact(buf, need, &q, 0x33);
        assert_true(vmbsave_program_equal(&p, &q));

        /* Bytes that are already normalised: encode(decode(bytes)) == bytes. */
        assert_int_equal(vmbsave_program_encode(&q, again, sizeof(again)), need);
        assert_memory_equal(buf, again, need);
    }

    /* Any bytes: decode -> encode -> decode is a fixed point. */
    for (unsigned i = 0; i < 500; i++) {
        size_t n = rng_below(&r, VMBSAVE_PROGRAM_MAX_BYTES + 1);
        random_bytes(&r, buf, n);
        decode_exact(buf, n, &p, 0);
        size_t m = vmbsave_program_encode(&p, again, sizeof(again));
        assert_int_equal(m, (size_t)p.count * VMBSAVE_STEP_BYTES);
        decode_exact(again, m, &q, 0xFF);
        assert_true(vmbsave_program_equal(&p, &q));
    }
}

/* ---- HARNESS.PROGRAM.EQUAL ---------------------------------------------------------------- */

static void program_equal(void **state)
{
    (void)state;
    rng r = {99};
    static vmbsave_program p, q;
    for (unsigned i = 0; i < 500; i++) {
        do
            random_program(&r, &p, true);
        while (p.count == 0);
        q = p;
        assert_true(vmbsave_program_equal(&p, &q));
        /* Steps past the count do not matter. */
        if (q.count < VMBSAVE_PROGRAM_MAX_STEPS)
            q.steps[q.count].a ^= 1u;
        assert_true(vmbsave_program_equal(&p, &q));
        q = p;
        q.count--;
        assert_false(vmbsave_program_equal(&p, &q));
        /* Any one field of any one step. */
        uint32_t k = rng_below(&r, p.count);
        for (unsigned f = 0; f < 7; f++) {
            q = p;
            vmbsave_step *s = &q.steps[k];
            switch (f) {
            case 0: s->op ^= 1u; break;
            case 1: s->ch ^= 1u; break;
            case 2: s->mode ^= 1u; break;
            case 3: s->slot ^= 1u; break;
            case 4: s->a ^= 1u; break;
            case 5: s->b ^= 1u; break;
            default: s->c ^= 1u; break;
            }
            assert_false(vmbsave_program_equal(&p, &q));
        }
    }
}

/* ---- HARNESS.PROGRAM.TEXT_ROUNDTRIP ------------------------------------------------------- */

static char text[VMBSAVE_PROGRAM_TEXT_MAX_BYTES], text2[VMBSAVE_PROGRAM_TEXT_MAX_BYTES];

static void text_roundtrip(void **state)
{
    (void)state;
    rng r = {2024};
    static vmbsave_program p, normal, q;
    char err[256];

    for (unsigned i = 0; i < 1500; i++) {
        random_program(&r, &p, i % 2 == 0); /* raw programs print their normalised form */
        normal = p;
        for (uint32_t k = 0; k < normal.count; k++)
            vmbsave_step_normalize(&normal.steps[k]);

        size_t len = vmbsave_program_print(&p, text, sizeof(text));
        assert_true(len > 0);
        assert_int_equal(strlen(text), len);
        int rc = vmbsave_program_parse(text, &q, err, sizeof(err));
        if (rc != 0)
            fail_msg("parse of printed program failed: %s\n%s", err, text);
        assert_true(vmbsave_program_equal(&normal, &q));

        /* Stable: printing the parsed program, or the normalised one, gives the same text. */
        assert_int_equal(vmbsave_program_print(&q, text2, sizeof(text2)), len);
        assert_string_equal(text, text2);
        assert_int_equal(vmbsave_program_print(&normal, text2, sizeof(text2)), len);
        assert_string_equal(text, text2);

        /* Each step's line is vmbsave_step_print's text. */
        const char *line = strchr(text, '\n') + 1; /* after the header comment */
        for (uint32_t k = 0; k < p.count; k++) {
            char one[160];
            size_t n = vmbsave_step_print(&p.steps[k], one, sizeof(one));
            assert_true(n > 0);
            assert_memory_equal(line, one, n);
            assert_int_equal(line[n], '\n');
            line += n + 1;
        }
        assert_int_equal(*line, '\0');
    }

    /* Too small a buffer: 0 and an empty string, at every size short of the text. */
    random_program(&r, &p, true);
    p.count = 5;
    size_t len = vmbsave_program_print(&p, text, sizeof(text));
    for (size_t cap = 0; cap <= len; cap++) {
        memset(text2, 'x', sizeof(text2));
        assert_int_equal(vmbsave_program_print(&p, text2, cap), 0);
        if (cap > 0)
            assert_int_equal(text2[0], '\0');
        assert_int_equal(text2[cap], 'x'); /* nothing written past cap */
    }
    assert_int_equal(vmbsave_program_print(&p, text2, len + 1), len);

    /* VMBSAVE_PROGRAM_TEXT_MAX_BYTES suffices: the longest line of every op and mode, with
     * full-width values, 256 times. */
    vmbsave_step longest = {0};
    size_t longest_len = 0;
    for (unsigned op = 0; op < VMBSAVE_OP_COUNT; op++) {
        for (unsigned m = 0; m < 16; m++) {
            vmbsave_step s = {(uint8_t)op, 2, (uint8_t)m, 3, 3999999999u, 3999999999u,
                              3999999999u};
            char one[160];
            size_t n = vmbsave_step_print(&s, one, sizeof(one));
            assert_true(n > 0);
            if (n > longest_len) {
                longest_len = n;
                longest = s;
            }
        }
    }
    p.count = VMBSAVE_PROGRAM_MAX_STEPS;
    for (uint32_t k = 0; k < p.count; k++)
        p.steps[k] = longest;
    len = vmbsave_program_print(&p, text, sizeof(text));
    assert_true(len > 0);
    assert_true(len < VMBSAVE_PROGRAM_TEXT_MAX_BYTES);
    assert_int_equal(vmbsave_program_parse(text, &q, err, sizeof(err)), 0);
}

/* ---- HARNESS.PROGRAM.TEXT_FORM ------------------------------------------------------------ */

static vmbsave_step step_of(unsigned op, unsigned ch, unsigned mode, unsigned slot, uint32_t a,
                            uint32_t b, uint32_t c)
{
    return (vmbsave_step){(uint8_t)op, (uint8_t)ch, (uint8_t)mode, (uint8_t)slot, a, b, c};
}

static void assert_prints(vmbsave_step s, const char *want)
{
    char got[160];
    size_t n = vmbsave_step_print(&s, got, sizeof(got));
    assert_int_equal(n, strlen(want));
    assert_string_equal(got, want);
}

static void assert_parses_to(const char *source, const vmbsave_step *want, uint32_t count)
{
    static vmbsave_program p;
    char err[256];
    if (vmbsave_program_parse(source, &p, err, sizeof(err)) != 0)
        fail_msg("parse failed: %s\n%s", err, source);
    assert_int_equal(p.count, count);
    for (uint32_t i = 0; i < count; i++) {
        if (!step_equal(&p.steps[i], &want[i]))
            fail_msg("step %" PRIu32 ": got op %u ch %u mode %u slot %u a %" PRIu32 " b %" PRIu32
                     " c %" PRIu32,
                     i, p.steps[i].op, p.steps[i].ch, p.steps[i].mode, p.steps[i].slot,
                     p.steps[i].a, p.steps[i].b, p.steps[i].c);
    }
}

static void text_form(void **state)
{
    (void)state;
    /* The examples of docs/PROGRAMS.md. */
    assert_prints(step_of(VMBSAVE_OP_SAVE_CONTINUE, 0, VMBSAVE_SIZE_REQUIRED_MINUS_ONE, 0, 0, 0, 0),
                  "save_continue ch=0 size=required-1");
    assert_prints(step_of(VMBSAVE_OP_SAVE_CONTINUE, 2, VMBSAVE_SIZE_EXPLICIT, 0, 40, 0, 0),
                  "save_continue ch=2 size=explicit bytes=40");
    assert_prints(step_of(VMBSAVE_OP_RESTORE, 1, VMBSAVE_EDIT_BIT_FLIP, 0, 1234, 0, 0),
                  "restore ch=1 image=0 edit=bit-flip bit=1234");
    assert_prints(step_of(VMBSAVE_OP_RESTORE, 0, VMBSAVE_EDIT_FOREIGN_CHUNK, 2, 5, 1, 0),
                  "restore ch=0 image=2 edit=foreign-chunk chunk=5 from_image=1");
    assert_prints(step_of(VMBSAVE_OP_FAULT_ALLOC, 0, VMBSAVE_FAULT_ONCE, 0, 3, 0, 0),
                  "fault_alloc mode=once after=3");
    assert_prints(step_of(VMBSAVE_OP_GPADL_CREATE, 0, VMBSAVE_GPADL_VALID, 0, 3, 4, 7),
                  "gpadl_create ch=0 mode=valid id=3 pfns=4 salt=7");
    assert_prints(step_of(VMBSAVE_OP_OPEN, 1, VMBSAVE_OPEN_VALID, 0, 3, 2, 4),
                  "open ch=1 mode=valid gpadl=3 in_pages=2 out_pages=4");
    assert_prints(step_of(VMBSAVE_OP_PACKET_SEND, 2, VMBSAVE_PAYLOAD_MAX, 0, 5, 1, VMBSAVE_MAX_PACKET_PAYLOAD),
                  "packet_send ch=2 payload=max id=5 gpadl=1");
    assert_prints(step_of(VMBSAVE_OP_RING_WRITE, 0, 1, 0, 100, 0, 9),
                  "ring_write ch=0 dir=out bytes=100 salt=9");
    assert_prints(step_of(VMBSAVE_OP_FAULT_SAVE_PACKET, 0, 2, 0, 4, 0, 0),
                  "fault_save_packet mode=fail-second packet=4");
    assert_prints(step_of(VMBSAVE_OP_FAULT_RESTORE_PACKET, 0, 0, 0, 2, 0, 0),
                  "fault_restore_packet call=2");
    assert_prints(step_of(VMBSAVE_OP_CLEANUP, 1, 0, 0, 0, 0, 0), "cleanup ch=1");
    /* A step is printed as normalised: unused fields do not show. */
    assert_prints(step_of(VMBSAVE_OP_SAVE_BEGIN, 4, 9, 9, 9, 9, 9), "save_begin ch=1");

    static vmbsave_program empty;
    assert_int_equal(vmbsave_program_print(&empty, text, sizeof(text)),
                     strlen("# vmbsave program: 0 steps\n"));
    assert_string_equal(text, "# vmbsave program: 0 steps\n");

    /* Comments, blank lines, tabs and CRLF; a missing mode key means mode 0; values out of
     * range are normalised; implied fields are set from the mode. */
    const char *source = "# a comment\n"
                         "\n"
                         "   \t\n"
                         "gpadl_create ch=0 id=3 pfns=4 salt=7   # the brief's example\r\n"
                         "\topen  mode=valid ch=7 gpadl=12 in_pages=1 out_pages=100\n"
                         "packet_send ch=0 payload=max id=1 gpadl=0\n"
                         "fault_alloc after=3#no space before the comment\n"
                         "restore ch=1 image=0 edit=bit-flip bit=1234";
    const vmbsave_step want[] = {
        {VMBSAVE_OP_GPADL_CREATE, 0, VMBSAVE_GPADL_VALID, 0, 3, 4, 7},
        {VMBSAVE_OP_OPEN, 1, VMBSAVE_OPEN_VALID, 0, 12 % 9, 2 + 1 % 64, 2 + 100 % 64},
        {VMBSAVE_OP_PACKET_SEND, 0, VMBSAVE_PAYLOAD_MAX, 0, 1, 0, VMBSAVE_MAX_PACKET_PAYLOAD},
        {VMBSAVE_OP_FAULT_ALLOC, 0, VMBSAVE_FAULT_ONCE, 0, 3, 0, 0},
        {VMBSAVE_OP_RESTORE, 1, VMBSAVE_EDIT_BIT_FLIP, 0, 1234, 0, 0},
    };
    assert_parses_to(source, want, 5);
    assert_parses_to("", want, 0);
    assert_parses_to("# only a comment", want, 0);
    /* A u8 field is reduced from the full number, not from its low byte. */
    const vmbsave_step ch300 = {VMBSAVE_OP_CAPTURE, 300 % 3, 0, 1, 0, 0, 0};
    assert_parses_to("capture ch=300 image=1", &ch300, 1);

    /* The example program of docs/PROGRAMS.md prints back exactly. */
    static const char doc_example[] = "# vmbsave program: 9 steps\n"
                                      "offer ch=0 mode=valid salt=1\n"
                                      "enable ch=0\n"
                                      "gpadl_create ch=0 mode=valid id=3 pfns=4 salt=7\n"
                                      "open ch=0 mode=valid gpadl=3 in_pages=2 out_pages=2\n"
                                      "start ch=0\n"
                                      "packet_send ch=0 payload=small id=1 gpadl=3 bytes=10\n"
                                      "capture ch=0 image=0\n"
                                      "fault_alloc mode=once after=3\n"
                                      "restore ch=1 image=0 edit=bit-flip bit=1234\n";
    static vmbsave_program example;
    char err[256];
    if (vmbsave_program_parse(doc_example, &example, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(example.count, 9);
    assert_int_equal(vmbsave_program_print(&example, text, sizeof(text)), strlen(doc_example));
    assert_string_equal(text, doc_example);

    /* Op names: distinct, and what the text form uses. */
    for (unsigned op = 0; op < VMBSAVE_OP_COUNT; op++) {
        const char *name = vmbsave_op_name((vmbsave_op)op);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        for (unsigned other = 0; other < op; other++)
            assert_string_not_equal(name, vmbsave_op_name((vmbsave_op)other));
    }
    assert_string_equal(vmbsave_op_name(VMBSAVE_OP_SAVE_CONTINUE), "save_continue");
    assert_non_null(vmbsave_op_name(VMBSAVE_OP_COUNT));
}

/* ---- HARNESS.PROGRAM.PARSE_ERRORS --------------------------------------------------------- */

static void parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *error; /* the whole message */
    } cases[] = {
        {"save_begin ch=0\nbogus ch=0\n", "line 2: unknown op 'bogus'"},
        {"save_begin ch=0 size=3", "line 1: unknown key 'size': save_begin takes ch"},
        {"restore ch=0 image=0 edit=whole bit=3",
         "line 1: unknown key 'bit': restore edit=whole takes ch, image, edit, per_call"},
        {"packet_send ch=0 payload=max id=1 gpadl=0 bytes=5",
         "line 1: unknown key 'bytes': packet_send payload=max takes ch, payload, id, gpadl"},
        {"fault_alloc ch=0 mode=once after=1",
         "line 1: unknown key 'ch': fault_alloc takes mode, after"},
        {"\n\n# comment\nrestore ch=0 image=0 edit=bit-flip",
         "line 4: missing key 'bit' for restore"},
        {"capture image=0", "line 1: missing key 'ch' for capture"},
        {"capture ch=x image=0",
         "line 1: bad number 'x' for ch (a decimal number below 2^32)"},
        {"capture ch=-1 image=0",
         "line 1: bad number '-1' for ch (a decimal number below 2^32)"},
        {"capture ch= image=0", "line 1: bad number '' for ch (a decimal number below 2^32)"},
        {"capture ch=0 image=4294967296",
         "line 1: bad number '4294967296' for image (a decimal number below 2^32)"},
        {"capture ch=0x1 image=0",
         "line 1: bad number '0x1' for ch (a decimal number below 2^32)"},
        {"capture ch=0 ch=1 image=0", "line 1: duplicate key 'ch'"},
        {"restore ch=0 image=0 edit=whole edit=whole per_call=0",
         "line 1: duplicate key 'edit'"},
        {"restore ch=0 image=0 edit=melt",
         "line 1: unknown edit 'melt' for restore (one of: whole, truncate, bit-flip, "
         "drop-chunk, duplicate-chunk, swap-chunks, foreign-chunk, split-inside, chunks)"},
        {"capture ch0 image=0", "line 1: expected key=value, got 'ch0'"},
        {"enable ch=0 a b c d e f g h i j k l m n o p q",
         "line 1: more than 16 words"},
    };
    static vmbsave_program out, before;
    char err[512];
    rng r = {5};
    random_program(&r, &before, true);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out = before;
        memset(err, 'x', sizeof(err));
        int rc = vmbsave_program_parse(cases[i].text, &out, err, sizeof(err));
        if (rc != -1)
            fail_msg("case %zu: parse returned %d for:\n%s", i, rc, cases[i].text);
        if (strcmp(err, cases[i].error) != 0)
            fail_msg("case %zu: error\n  '%s'\nexpected\n  '%s'", i, err, cases[i].error);
        /* A failed parse leaves the output as it was. */
        assert_true(vmbsave_program_equal(&out, &before));
        /* No error buffer, or a tiny one: still -1, still a terminated string. */
        assert_int_equal(vmbsave_program_parse(cases[i].text, &out, NULL, 0), -1);
        char tiny[8];
        assert_int_equal(vmbsave_program_parse(cases[i].text, &out, tiny, sizeof(tiny)), -1);
        assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
        assert_true(strncmp(tiny, cases[i].error, sizeof(tiny) - 1) == 0);
    }

    /* Too many steps: 257 lines of one step each. */
    static char many[(VMBSAVE_PROGRAM_MAX_STEPS + 1) * 16 + 1];
    size_t len = 0;
    for (unsigned i = 0; i <= VMBSAVE_PROGRAM_MAX_STEPS; i++)
        len += (size_t)snprintf(many + len, sizeof(many) - len, "enable ch=%u\n", i % 3);
    assert_int_equal(vmbsave_program_parse(many, &out, err, sizeof(err)), -1);
    assert_string_equal(err, "line 257: more than 256 steps");
    /* ... and 256 of them are fine. */
    many[len - strlen("enable ch=0\n")] = '\0';
    assert_int_equal(vmbsave_program_parse(many, &out, err, sizeof(err)), 0);
    assert_int_equal(out.count, VMBSAVE_PROGRAM_MAX_STEPS);

    /* A line over 1024 bytes, even a comment. */
    static char longline[1100];
    memset(longline, ' ', sizeof(longline) - 1);
    memcpy(longline, "enable ch=0\n#", 13);
    longline[sizeof(longline) - 1] = '\0';
    assert_int_equal(vmbsave_program_parse(longline, &out, err, sizeof(err)), -1);
    assert_string_equal(err, "line 2: longer than 1024 bytes");

    assert_int_equal(vmbsave_program_parse(NULL, &out, err, sizeof(err)), -1);
    assert_true(strncmp(err, "line 0: ", 8) == 0);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.PROGRAM.NORMALIZE_IDEMPOTENT", normalize_idempotent),
    CLAUSE_TEST("HARNESS.PROGRAM.NORMALIZE_RANGES", normalize_ranges),
    CLAUSE_TEST("HARNESS.PROGRAM.DECODE_TOTAL", decode_total),
    CLAUSE_TEST("HARNESS.PROGRAM.ENCODE_ROUNDTRIP", encode_roundtrip),
    CLAUSE_TEST("HARNESS.PROGRAM.EQUAL", program_equal),
    CLAUSE_TEST("HARNESS.PROGRAM.TEXT_ROUNDTRIP", text_roundtrip),
    CLAUSE_TEST("HARNESS.PROGRAM.TEXT_FORM", text_form),
    CLAUSE_TEST("HARNESS.PROGRAM.PARSE_ERRORS", parse_errors),
};

CLAUSE_TEST_MAIN("program", tests)
