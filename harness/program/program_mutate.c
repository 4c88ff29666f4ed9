/* Structure-aware mutation and crossover of programs (harness/program/program_mutate.h).
 *
 * Field ranges are not copied from program.c: they are read off vmbsave_step_normalize by
 * probing (field_range), so the mutator follows any change to the step tables. What the
 * mutator knows on top of the tables is which fields name the same thing across ops (channel
 * slots, GPADL ids, packet ids, image slots): new values are mostly taken from ones the program
 * already uses, so a mutated program talks about the channels, GPADLs and packets it created
 * instead of empty slots. */
#include "program/program_mutate.h"

#include <stdbool.h>
#include <string.h>

#include "vmbsave/abi.h"

/* ---- Random numbers: splitmix64, state in the caller's frame ------------------------------ */

typedef struct mut_rng {
    uint64_t state;
} mut_rng;

static uint64_t rng_next(mut_rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform enough in [0, n) for the small n used here; 0 when n is 0. */
static uint32_t rng_below(mut_rng *r, uint64_t n)
{
    return n == 0 ? 0u : (uint32_t)(rng_next(r) % n);
}

static bool rng_one_in(mut_rng *r, uint32_t n)
{
    return rng_below(r, n) == 0;
}

static uint32_t min_u32(uint32_t x, uint32_t y)
{
    return x < y ? x : y;
}

/* ---- Step fields -------------------------------------------------------------------------- */

/* Fields are walked in vmbsave_step_field order (program.h): the mutator's deterministic
 * choices, and so the seeds ci/make_seeds.sh writes, depend on it. */

static uint32_t field_max(vmbsave_step_field f)
{
    bool u8 = f == VMBSAVE_STEP_FIELD_CH || f == VMBSAVE_STEP_FIELD_MODE ||
              f == VMBSAVE_STEP_FIELD_SLOT;
    return u8 ? UINT8_MAX : UINT32_MAX;
}

/* Whether normalisation leaves value v of field f unchanged, the rest of `step` as it is. */
static bool field_keeps(const vmbsave_step *step, vmbsave_step_field f, uint32_t v)
{
    vmbsave_step probe = *step;
    vmbsave_step_field_set(&probe, f, v);
    vmbsave_step_normalize(&probe);
    return vmbsave_step_field_get(&probe, f) == v;
}

/* The range [lo, hi] of field f in (normalised) `step`'s op and mode. Normalisation keeps a
 * value exactly when it is in the range and maps 0 to lo, so lo is one probe and hi a binary
 * search. Returns false when the field is constant there (unused, or implied by the mode). */
static bool field_range(const vmbsave_step *step, vmbsave_step_field f, uint32_t *lo, uint32_t *hi)
{
    vmbsave_step probe = *step;
    vmbsave_step_field_set(&probe, f, 0);
    vmbsave_step_normalize(&probe);
    uint32_t low = vmbsave_step_field_get(&probe, f);
    uint32_t max = field_max(f);
    if (low == max || !field_keeps(step, f, low + 1u))
        return false;
    uint32_t kept = low + 1u, dropped = max;
    if (field_keeps(step, f, max)) {
        kept = max;
    } else {
        while (dropped - kept > 1u) {
            uint32_t mid = kept + (dropped - kept) / 2u;
            if (field_keeps(step, f, mid))
                kept = mid;
            else
                dropped = mid;
        }
    }
    *lo = low;
    *hi = kept;
    return true;
}

static bool op_uses_channel(uint8_t op)
{
    return op < VMBSAVE_OP_FAULT_ALLOC;
}

static bool op_is_fault(uint8_t op)
{
    return op >= VMBSAVE_OP_FAULT_ALLOC && op < VMBSAVE_OP_COUNT;
}

/* Fields that name the same kind of thing across ops. */
enum id_kind { ID_NONE, ID_CHANNEL, ID_GPADL, ID_PACKET, ID_IMAGE };

static enum id_kind id_kind_of(const vmbsave_step *s, vmbsave_step_field f)
{
    if (f == VMBSAVE_STEP_FIELD_CH)
        return op_uses_channel(s->op) ? ID_CHANNEL : ID_NONE;
    switch (s->op) {
    case VMBSAVE_OP_GPADL_CREATE:
    case VMBSAVE_OP_GPADL_TEARDOWN_BEGIN:
    case VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE:
        return f == VMBSAVE_STEP_FIELD_A ? ID_GPADL : ID_NONE;
    case VMBSAVE_OP_OPEN:
        return f == VMBSAVE_STEP_FIELD_A && s->mode != VMBSAVE_OPEN_NULL ? ID_GPADL : ID_NONE;
    case VMBSAVE_OP_PACKET_SEND:
        return f == VMBSAVE_STEP_FIELD_A   ? ID_PACKET
               : f == VMBSAVE_STEP_FIELD_B ? ID_GPADL
                                           : ID_NONE;
    case VMBSAVE_OP_PACKET_COMPLETE:
        return f == VMBSAVE_STEP_FIELD_A ? ID_PACKET : ID_NONE;
    case VMBSAVE_OP_FAULT_SAVE_PACKET:
        /* mode 0: no packet */
        return f == VMBSAVE_STEP_FIELD_A && s->mode != 0 ? ID_PACKET : ID_NONE;
    case VMBSAVE_OP_CAPTURE:
        return f == VMBSAVE_STEP_FIELD_SLOT ? ID_IMAGE : ID_NONE;
    case VMBSAVE_OP_RESTORE:
        if (f == VMBSAVE_STEP_FIELD_SLOT ||
            (f == VMBSAVE_STEP_FIELD_B && s->mode == VMBSAVE_EDIT_FOREIGN_CHUNK))
            return ID_IMAGE;
        return ID_NONE;
    default:
        return ID_NONE;
    }
}

/* A value some step of `p` uses for an id of kind `kind`, chosen uniformly among all such
 * uses; false if there is none. */
static bool pick_used_id(const vmbsave_program *p, enum id_kind kind, mut_rng *r, uint32_t *out)
{
    uint32_t uses = 0;
    for (uint32_t i = 0; i < p->count; i++)
        for (vmbsave_step_field f = 0; f < VMBSAVE_STEP_FIELD_COUNT; f++)
            uses += f != VMBSAVE_STEP_FIELD_MODE && id_kind_of(&p->steps[i], f) == kind;
    if (uses == 0)
        return false;
    uint32_t target = rng_below(r, uses);
    for (uint32_t i = 0; i < p->count; i++) {
        for (vmbsave_step_field f = 0; f < VMBSAVE_STEP_FIELD_COUNT; f++) {
            if (f == VMBSAVE_STEP_FIELD_MODE || id_kind_of(&p->steps[i], f) != kind)
                continue;
            if (target-- == 0) {
                *out = vmbsave_step_field_get(&p->steps[i], f);
                return true;
            }
        }
    }
    return false;
}

/* Mostly a channel the program already uses: a step on an empty slot mostly fails early. */
static uint8_t pick_channel(const vmbsave_program *p, mut_rng *r)
{
    uint32_t ch;
    if (!rng_one_in(r, 4) && pick_used_id(p, ID_CHANNEL, r, &ch))
        return (uint8_t)ch;
    return (uint8_t)rng_below(r, VMBSAVE_PROGRAM_CHANNELS);
}

/* A value for field f of `s` in [lo, hi]: for an id field mostly one the program uses,
 * otherwise uniform. */
static uint32_t pick_value(const vmbsave_program *p, const vmbsave_step *s, vmbsave_step_field f,
                           uint32_t lo, uint32_t hi, mut_rng *r)
{
    enum id_kind kind = id_kind_of(s, f);
    uint32_t v;
    if (kind != ID_NONE && !rng_one_in(r, 4) && pick_used_id(p, kind, r, &v) && v >= lo &&
        v <= hi)
        return v;
    return (uint32_t)(lo + rng_next(r) % ((uint64_t)hi - lo + 1u));
}

/* ---- Building steps ----------------------------------------------------------------------- */

/* Gives every id field of `s` (normalised) mostly a value the program uses, then normalises. */
static void adopt_ids(const vmbsave_program *p, vmbsave_step *s, mut_rng *r)
{
    if (op_uses_channel(s->op))
        s->ch = pick_channel(p, r);
    static const vmbsave_step_field id_fields[] = {VMBSAVE_STEP_FIELD_SLOT, VMBSAVE_STEP_FIELD_A,
                                                   VMBSAVE_STEP_FIELD_B};
    for (unsigned i = 0; i < sizeof(id_fields) / sizeof(id_fields[0]); i++) {
        uint32_t v;
        enum id_kind kind = id_kind_of(s, id_fields[i]);
        if (kind != ID_NONE && !rng_one_in(r, 4) && pick_used_id(p, kind, r, &v))
            vmbsave_step_field_set(s, id_fields[i], v);
    }
    vmbsave_step_normalize(s);
}

static vmbsave_step random_step(const vmbsave_program *p, mut_rng *r)
{
    vmbsave_step s = {
        .op = (uint8_t)rng_below(r, VMBSAVE_OP_COUNT),
        .mode = (uint8_t)rng_next(r),
        .slot = (uint8_t)rng_next(r),
        .a = (uint32_t)rng_next(r),
        .b = (uint32_t)rng_next(r),
        .c = (uint32_t)rng_next(r),
    };
    vmbsave_step_normalize(&s);
    adopt_ids(p, &s, r);
    return s;
}

/* Buffer sizes of save_continue at the edges the contract cares about: a size query, tiny
 * buffers, one either side of what the session asked for, the chunk limit and over it. Entry k
 * of SAVE_CONTINUE_BOUNDARIES: the modes first, then explicit sizes. */
static const uint8_t save_continue_boundary_modes[] = {
    VMBSAVE_SIZE_ZERO_NULL,          VMBSAVE_SIZE_ZERO,     VMBSAVE_SIZE_ONE,
    VMBSAVE_SIZE_REQUIRED_MINUS_ONE, VMBSAVE_SIZE_REQUIRED, VMBSAVE_SIZE_REQUIRED_PLUS_ONE,
    VMBSAVE_SIZE_MAX_CHUNK,          VMBSAVE_SIZE_LARGE,
};
static const uint32_t save_continue_boundary_sizes[] = {
    0u, 1u, VMBSAVE_MAX_CHUNK_BYTES - 1u, VMBSAVE_MAX_CHUNK_BYTES, VMBSAVE_MAX_CHUNK_BYTES + 1u,
    2u * VMBSAVE_MAX_CHUNK_BYTES,
};
#define SAVE_CONTINUE_BOUNDARY_MODES \
    (sizeof(save_continue_boundary_modes) / sizeof(save_continue_boundary_modes[0]))
#define SAVE_CONTINUE_BOUNDARIES \
    (SAVE_CONTINUE_BOUNDARY_MODES + \
     sizeof(save_continue_boundary_sizes) / sizeof(save_continue_boundary_sizes[0]))

static vmbsave_step save_continue_boundary(uint8_t ch, uint32_t k)
{
    vmbsave_step s = {.op = VMBSAVE_OP_SAVE_CONTINUE, .ch = ch};
    if (k < SAVE_CONTINUE_BOUNDARY_MODES) {
        s.mode = save_continue_boundary_modes[k];
    } else {
        s.mode = VMBSAVE_SIZE_EXPLICIT;
        s.a = save_continue_boundary_sizes[k - SAVE_CONTINUE_BOUNDARY_MODES];
    }
    vmbsave_step_normalize(&s);
    return s;
}

static vmbsave_step boundary_save_continue(uint8_t ch, mut_rng *r)
{
    return save_continue_boundary(ch, rng_below(r, SAVE_CONTINUE_BOUNDARIES));
}

/* The state changes a save session depends on: save_begin's allowed and refused states, and the
 * calls a channel must refuse while a session freezes it (LIFECYCLE.FROZEN_DURING_SAVE). */
static const uint8_t lifecycle_transitions[] = {VMBSAVE_OP_ENABLE, VMBSAVE_OP_DISABLE,
                                                VMBSAVE_OP_CLOSE, VMBSAVE_OP_START,
                                                VMBSAVE_OP_PAUSE};

static vmbsave_step interesting_step(const vmbsave_program *p, mut_rng *r)
{
    uint8_t ch = pick_channel(p, r);
    vmbsave_step s = {.ch = ch};
    switch (rng_below(r, 7)) {
    case 0: s.op = VMBSAVE_OP_SAVE_BEGIN; break;
    case 1: return boundary_save_continue(ch, r);
    case 2: s.op = VMBSAVE_OP_SAVE_END; break;
    case 3:
        s.op = VMBSAVE_OP_CAPTURE;
        s.slot = (uint8_t)rng_below(r, VMBSAVE_PROGRAM_IMAGES);
        break;
    case 4:
        s.op = VMBSAVE_OP_RESTORE;
        s.mode = (uint8_t)rng_below(r, VMBSAVE_EDIT_MODE_COUNT);
        s.a = (uint32_t)rng_next(r);
        s.b = (uint32_t)rng_next(r);
        s.c = (uint32_t)rng_next(r);
        if (rng_one_in(r, 2)) {
            /* A part of an image: the restore stays in progress while the steps around it
             * run on other channels (several channels of one interface at once). */
            s.mode = VMBSAVE_EDIT_CHUNKS;
            s.a = rng_below(r, 3);
            s.b = rng_below(r, 3);
            s.c = rng_below(r, 3);
        }
        vmbsave_step_normalize(&s);
        adopt_ids(p, &s, r); /* restore from an image the program captured */
        s.ch = ch;
        break;
    case 5:
        s.op = lifecycle_transitions[rng_below(r, sizeof lifecycle_transitions)];
        break;
    default: s.op = VMBSAVE_OP_CLEANUP; break;
    }
    vmbsave_step_normalize(&s);
    return s;
}

static vmbsave_step fault_step(const vmbsave_program *p, mut_rng *r)
{
    vmbsave_step s = {0};
    switch (rng_below(r, 3)) {
    case 0:
        s.op = VMBSAVE_OP_FAULT_ALLOC;
        /* once: the case that finds most; off: cancel one already in the program. */
        s.mode = (uint8_t)(rng_one_in(r, 2) ? VMBSAVE_FAULT_ONCE
                           : rng_one_in(r, 2) ? VMBSAVE_FAULT_FROM : VMBSAVE_FAULT_OFF);
        s.a = rng_one_in(r, 2) ? rng_below(r, 8) : rng_below(r, 64); /* early calls mostly */
        break;
    case 1: {
        s.op = VMBSAVE_OP_FAULT_SAVE_PACKET;
        uint32_t lo = 0, hi = 0;
        s.mode = 1; /* a mode that names a packet, to probe the mode range with */
        vmbsave_step_normalize(&s);
        if (field_range(&s, VMBSAVE_STEP_FIELD_MODE, &lo, &hi))
            s.mode = (uint8_t)(lo + rng_below(r, (uint64_t)hi - lo + 1u));
        s.a = rng_below(r, VMBSAVE_PROGRAM_PACKET_IDS);
        vmbsave_step_normalize(&s);
        adopt_ids(p, &s, r); /* a packet the program sends */
        break;
    }
    default:
        s.op = VMBSAVE_OP_FAULT_RESTORE_PACKET;
        s.a = 1u + (rng_one_in(r, 2) ? rng_below(r, 4) : rng_below(r, 16));
        break;
    }
    vmbsave_step_normalize(&s);
    return s;
}

/* ---- Editing the step list ---------------------------------------------------------------- */

/* Inserts n steps at pos; the caller checked the room. */
static void insert_steps(vmbsave_program *p, uint32_t pos, const vmbsave_step *steps, uint32_t n)
{
    memmove(&p->steps[pos + n], &p->steps[pos], (size_t)(p->count - pos) * sizeof(p->steps[0]));
    memcpy(&p->steps[pos], steps, (size_t)n * sizeof(steps[0]));
    p->count += n;
}

static void delete_steps(vmbsave_program *p, uint32_t pos, uint32_t n)
{
    memmove(&p->steps[pos], &p->steps[pos + n],
            (size_t)(p->count - pos - n) * sizeof(p->steps[0]));
    p->count -= n;
}

/* A position to insert a fault directive at: half of the time right before a save or restore
 * step (where faults change what is saved or restored), otherwise anywhere. */
static uint32_t fault_position(const vmbsave_program *p, mut_rng *r)
{
    if (rng_one_in(r, 2)) {
        uint32_t start = rng_below(r, p->count);
        for (uint32_t k = 0; k < p->count; k++) {
            uint32_t i = (start + k) % p->count;
            uint8_t op = p->steps[i].op;
            if (op == VMBSAVE_OP_SAVE_BEGIN || op == VMBSAVE_OP_SAVE_CONTINUE ||
                op == VMBSAVE_OP_SAVE_END || op == VMBSAVE_OP_CAPTURE || op == VMBSAVE_OP_RESTORE)
                return i;
        }
    }
    return rng_below(r, p->count + 1u);
}

/* Candidate boundary versions of step i, written to out[]; returns how many. */
#define MAX_BOUNDARY_CANDIDATES 40u

static uint32_t add_candidate(vmbsave_step *out, uint32_t n, const vmbsave_step *current,
                              vmbsave_step candidate)
{
    vmbsave_step_normalize(&candidate);
    if (n >= MAX_BOUNDARY_CANDIDATES || memcmp(&candidate, current, sizeof(candidate)) == 0)
        return n;
    for (uint32_t k = 0; k < n; k++)
        if (memcmp(&out[k], &candidate, sizeof(candidate)) == 0)
            return n;
    out[n] = candidate;
    return n + 1u;
}

/* The ring size in bytes that the last open of `ch` before step i gave direction `dir`, or 0. */
static uint32_t ring_bytes_before(const vmbsave_program *p, uint32_t i, uint8_t ch, uint8_t dir)
{
    while (i-- > 0) {
        const vmbsave_step *s = &p->steps[i];
        if (s->op == VMBSAVE_OP_OPEN && s->ch == ch)
            return (dir == 0 ? s->b : s->c) * VMBSAVE_PAGE_BYTES;
    }
    return 0;
}

static uint32_t boundary_candidates(const vmbsave_program *p, uint32_t i, vmbsave_step *out)
{
    const vmbsave_step *s = &p->steps[i];
    uint32_t n = 0;
    vmbsave_step c = *s;
    /* Modes that are themselves a limit or just over it. */
    switch (s->op) {
    case VMBSAVE_OP_SAVE_CONTINUE:
        for (uint32_t k = 0; k < SAVE_CONTINUE_BOUNDARIES; k++)
            n = add_candidate(out, n, s, save_continue_boundary(s->ch, k));
        break;
    case VMBSAVE_OP_PACKET_SEND:
        c.mode = VMBSAVE_PAYLOAD_MAX;
        n = add_candidate(out, n, s, c);
        c.mode = VMBSAVE_PAYLOAD_OVER_LIMIT;
        n = add_candidate(out, n, s, c);
        break;
    case VMBSAVE_OP_GPADL_CREATE:
        c.mode = VMBSAVE_GPADL_MAX_PFNS;
        n = add_candidate(out, n, s, c);
        c.mode = VMBSAVE_GPADL_OVER_LIMIT;
        n = add_candidate(out, n, s, c);
        c.mode = VMBSAVE_GPADL_ZERO_PFNS;
        n = add_candidate(out, n, s, c);
        break;
    case VMBSAVE_OP_OPEN:
        c.mode = VMBSAVE_OPEN_OVER_LIMIT;
        n = add_candidate(out, n, s, c);
        break;
    case VMBSAVE_OP_OFFER:
        c.mode = VMBSAVE_OFFER_OVER_LIMIT;
        n = add_candidate(out, n, s, c);
        break;
    case VMBSAVE_OP_RING_WRITE:
    case VMBSAVE_OP_RING_READ: {
        /* Around the ring's size, if the program opened the channel. */
        uint32_t ring = ring_bytes_before(p, i, s->ch, s->mode);
        for (uint32_t d = 0; ring != 0 && d < 3u; d++) {
            c = *s;
            c.a = ring - 1u + d;
            if (c.a <= VMBSAVE_PROGRAM_MAX_RING_OP_BYTES)
                n = add_candidate(out, n, s, c);
        }
        break;
    }
    default:
        break;
    }
    /* Every size, count or id at its range's edges and one inside them. Values past a range
     * cannot be written in a program (normalisation would wrap them): the modes above are how
     * a program goes over a limit. */
    static const vmbsave_step_field value_fields[] = {VMBSAVE_STEP_FIELD_A, VMBSAVE_STEP_FIELD_B,
                                                      VMBSAVE_STEP_FIELD_C};
    for (unsigned k = 0; k < sizeof(value_fields) / sizeof(value_fields[0]); k++) {
        uint32_t lo, hi;
        if (!field_range(s, value_fields[k], &lo, &hi))
            continue;
        const uint32_t edges[4] = {lo, lo + 1u, hi - 1u, hi};
        for (unsigned e = 0; e < 4u; e++) {
            c = *s;
            vmbsave_step_field_set(&c, value_fields[k], edges[e]);
            n = add_candidate(out, n, s, c);
        }
    }
    return n;
}

/* ---- The mutations ------------------------------------------------------------------------ */

static bool insert_one(vmbsave_program *p, uint32_t max_steps, vmbsave_step s, mut_rng *r)
{
    if (p->count >= max_steps)
        return false;
    insert_steps(p, rng_below(r, p->count + 1u), &s, 1);
    return true;
}

static bool mutate_insert_save_session(vmbsave_program *p, uint32_t max_steps, mut_rng *r)
{
    if (p->count + 3u > max_steps)
        return false;
    uint32_t continues = min_u32(1u + rng_below(r, 3), max_steps - p->count - 2u);
    vmbsave_step run[7];
    uint32_t n = 0;
    uint8_t ch = pick_channel(p, r);
    /* Half of the time, when there is room, interleaved with a restore into another channel
     * of the interface: its first chunk before the session's first continue, the rest after
     * save_end (a session beside a restore in progress). */
    bool beside = p->count + continues + 4u <= max_steps && rng_one_in(r, 2);
    vmbsave_step part = {.op = VMBSAVE_OP_RESTORE,
                         .ch = (uint8_t)((ch + 1u + rng_below(r, 2)) % VMBSAVE_PROGRAM_CHANNELS),
                         .mode = VMBSAVE_EDIT_CHUNKS,
                         .slot = (uint8_t)rng_below(r, VMBSAVE_PROGRAM_IMAGES),
                         .a = 0, .b = 1, .c = 0};
    run[n++] = (vmbsave_step){.op = VMBSAVE_OP_SAVE_BEGIN, .ch = ch};
    if (beside)
        run[n++] = part;
    for (uint32_t k = 0; k < continues; k++)
        run[n++] = boundary_save_continue(ch, r);
    run[n++] = (vmbsave_step){.op = VMBSAVE_OP_SAVE_END, .ch = ch};
    if (beside) {
        part.a = 1;
        part.b = 0;
        part.c = rng_below(r, 2);
        run[n++] = part;
    }
    insert_steps(p, rng_below(r, p->count + 1u), run, n);
    return true;
}

/* Half of the time one step, otherwise a run of 2-8, mirroring duplicate_run. */
static bool mutate_delete(vmbsave_program *p, mut_rng *r)
{
    if (p->count < 2u)
        return false;
    uint32_t n = rng_one_in(r, 2) ? 1u : 2u + rng_below(r, 7);
    n = min_u32(n, p->count - 1u);
    delete_steps(p, rng_below(r, p->count - n + 1u), n);
    return true;
}

static bool mutate_swap(vmbsave_program *p, mut_rng *r)
{
    if (p->count < 2u)
        return false;
    uint32_t i = rng_below(r, p->count), j;
    if (rng_one_in(r, 2))
        j = i + 1u < p->count ? i + 1u : i - 1u;
    else
        j = (i + 1u + rng_below(r, p->count - 1u)) % p->count; /* any other step */
    vmbsave_step t = p->steps[i];
    p->steps[i] = p->steps[j];
    p->steps[j] = t;
    return true;
}

static bool mutate_duplicate_run(vmbsave_program *p, uint32_t max_steps, mut_rng *r)
{
    if (p->count == 0 || p->count >= max_steps)
        return false;
    uint32_t i = rng_below(r, p->count);
    uint32_t n = 1u + rng_below(r, min_u32(min_u32(8u, p->count - i), max_steps - p->count));
    vmbsave_step run[8];
    memcpy(run, &p->steps[i], (size_t)n * sizeof(run[0]));
    insert_steps(p, i + n, run, n);
    return true;
}

static bool mutate_change_field(vmbsave_program *p, mut_rng *r)
{
    if (p->count == 0)
        return false;
    vmbsave_step *s = &p->steps[rng_below(r, p->count)];
    /* Candidates: the op, and every field with more than one value in this op and mode. */
    int fields[VMBSAVE_STEP_FIELD_COUNT + 1]; /* -1: the op */
    uint32_t los[VMBSAVE_STEP_FIELD_COUNT + 1], his[VMBSAVE_STEP_FIELD_COUNT + 1];
    uint32_t n = 0;
    fields[n++] = -1; /* the op */
    for (vmbsave_step_field f = 0; f < VMBSAVE_STEP_FIELD_COUNT; f++)
        if (field_range(s, f, &los[n], &his[n]))
            fields[n++] = f;
    uint32_t k = rng_below(r, n);
    if (fields[k] < 0) {
        bool had_channel = op_uses_channel(s->op);
        s->op = (uint8_t)((s->op + 1u + rng_below(r, VMBSAVE_OP_COUNT - 1u)) % VMBSAVE_OP_COUNT);
        vmbsave_step_normalize(s); /* fields in the new op's range are kept, others wrap */
        if (!had_channel && op_uses_channel(s->op))
            s->ch = pick_channel(p, r);
        return true;
    }
    vmbsave_step_field f = (vmbsave_step_field)fields[k];
    uint32_t lo = los[k], hi = his[k], v = vmbsave_step_field_get(s, f);
    if (f != VMBSAVE_STEP_FIELD_MODE && rng_one_in(r, 2)) {
        /* A small step from the current value, wrapping inside the range. */
        uint64_t span = (uint64_t)hi - lo + 1u;
        uint64_t delta = 1u + rng_below(r, 16);
        uint64_t off = (uint64_t)(v - lo);
        off = rng_one_in(r, 2) ? (off + delta) % span : (off + span - delta % span) % span;
        v = (uint32_t)(lo + off);
    } else {
        v = pick_value(p, s, f, lo, hi, r);
    }
    vmbsave_step_field_set(s, f, v);
    vmbsave_step_normalize(s); /* a new mode may change which fields are used */
    return true;
}

static bool mutate_boundary(vmbsave_program *p, mut_rng *r)
{
    vmbsave_step candidates[MAX_BOUNDARY_CANDIDATES];
    /* A few random steps: programs of enable/disable steps alone have no sizes. */
    for (uint32_t tries = 0; p->count > 0 && tries < 8u; tries++) {
        uint32_t i = rng_below(r, p->count);
        uint32_t n = boundary_candidates(p, i, candidates);
        if (n > 0) {
            p->steps[i] = candidates[rng_below(r, n)];
            return true;
        }
    }
    return false;
}

static bool mutate_move_fault(vmbsave_program *p, mut_rng *r)
{
    uint32_t faults = 0;
    for (uint32_t i = 0; i < p->count; i++)
        faults += op_is_fault(p->steps[i].op);
    if (faults == 0 || p->count < 2u)
        return false;
    uint32_t nth = rng_below(r, faults), from = 0;
    for (uint32_t i = 0, seen = 0; i < p->count; i++) {
        if (op_is_fault(p->steps[i].op) && seen++ == nth) {
            from = i;
            break;
        }
    }
    vmbsave_step fault = p->steps[from];
    delete_steps(p, from, 1);
    /* Any of the count (>= 1) other positions, not the one it came from. */
    uint32_t to = rng_below(r, p->count);
    if (to >= from)
        to++;
    insert_steps(p, to, &fault, 1);
    return true;
}

static bool apply(vmbsave_mutation kind, vmbsave_program *p, uint32_t max_steps, mut_rng *r)
{
    switch (kind) {
    case VMBSAVE_MUTATE_INSERT_RANDOM: return insert_one(p, max_steps, random_step(p, r), r);
    case VMBSAVE_MUTATE_INSERT_COPY:
        return p->count > 0 && insert_one(p, max_steps, p->steps[rng_below(r, p->count)], r);
    case VMBSAVE_MUTATE_INSERT_INTERESTING:
        return insert_one(p, max_steps, interesting_step(p, r), r);
    case VMBSAVE_MUTATE_INSERT_SAVE_SESSION: return mutate_insert_save_session(p, max_steps, r);
    case VMBSAVE_MUTATE_DELETE: return mutate_delete(p, r);
    case VMBSAVE_MUTATE_SWAP: return mutate_swap(p, r);
    case VMBSAVE_MUTATE_DUPLICATE_RUN: return mutate_duplicate_run(p, max_steps, r);
    case VMBSAVE_MUTATE_CHANGE_FIELD: return mutate_change_field(p, r);
    case VMBSAVE_MUTATE_BOUNDARY: return mutate_boundary(p, r);
    case VMBSAVE_MUTATE_ADD_FAULT:
        if (p->count >= max_steps)
            return false;
        {
            vmbsave_step fault = fault_step(p, r);
            insert_steps(p, fault_position(p, r), &fault, 1);
        }
        return true;
    case VMBSAVE_MUTATE_MOVE_FAULT: return mutate_move_fault(p, r);
    default: return false;
    }
}

/* How often each kind is drawn, relative to the others. Six kinds add steps and one removes
 * them; deletion is weighted so that, on average, steps added and removed balance (an insert
 * adds 1, insert_save_session 3-5, duplicate_run and delete 1-8): otherwise programs would grow
 * with every mutation, whatever they cover, and each execution costs time linear in steps. */
static const uint8_t kind_weights[VMBSAVE_MUTATE_KIND_COUNT] = {
    [VMBSAVE_MUTATE_INSERT_RANDOM] = 1,
    [VMBSAVE_MUTATE_INSERT_COPY] = 1,
    [VMBSAVE_MUTATE_INSERT_INTERESTING] = 1,
    [VMBSAVE_MUTATE_INSERT_SAVE_SESSION] = 1,
    [VMBSAVE_MUTATE_DELETE] = 4,
    [VMBSAVE_MUTATE_SWAP] = 1,
    [VMBSAVE_MUTATE_DUPLICATE_RUN] = 1,
    [VMBSAVE_MUTATE_CHANGE_FIELD] = 2,
    [VMBSAVE_MUTATE_BOUNDARY] = 2,
    [VMBSAVE_MUTATE_ADD_FAULT] = 1,
    [VMBSAVE_MUTATE_MOVE_FAULT] = 1,
};
static uint32_t pick_kind(mut_rng *r)
{
    uint32_t total = 0;
    for (uint32_t k = 0; k < VMBSAVE_MUTATE_KIND_COUNT; k++)
        total += kind_weights[k];
    uint32_t x = rng_below(r, total);
    uint32_t k = 0;
    while (x >= kind_weights[k]) {
        x -= kind_weights[k];
        k++;
    }
    return k;
}

static uint32_t clamp_steps(uint32_t max_steps)
{
    return min_u32(max_steps, VMBSAVE_PROGRAM_MAX_STEPS);
}

static void normalize_all(vmbsave_program *p)
{
    for (uint32_t i = 0; i < p->count; i++)
        vmbsave_step_normalize(&p->steps[i]);
}

vmbsave_mutation vmbsave_program_mutate(vmbsave_program *program, uint32_t max_steps,
                                        uint64_t seed)
{
    max_steps = clamp_steps(max_steps);
    if (program->count > max_steps)
        program->count = max_steps;
    /* Steps that arrive unnormalised would make field_range's probes lie. */
    normalize_all(program);
    mut_rng r = {seed};
    vmbsave_mutation applied = VMBSAVE_MUTATE_NONE;
    uint32_t first = pick_kind(&r);
    for (uint32_t k = 0; max_steps > 0 && k < VMBSAVE_MUTATE_KIND_COUNT; k++) {
        vmbsave_mutation kind = (vmbsave_mutation)((first + k) % VMBSAVE_MUTATE_KIND_COUNT);
        if (apply(kind, program, max_steps, &r)) {
            applied = kind;
            break;
        }
    }
    normalize_all(program);
    return applied;
}

vmbsave_crossover vmbsave_program_crossover(const vmbsave_program *first,
                                            const vmbsave_program *second, uint32_t max_steps,
                                            uint64_t seed, vmbsave_program *out)
{
    max_steps = clamp_steps(max_steps);
    uint32_t na = min_u32(first->count, max_steps);
    uint32_t nb = min_u32(second->count, VMBSAVE_PROGRAM_MAX_STEPS);
    mut_rng r = {seed};
    vmbsave_crossover kind = (vmbsave_crossover)rng_below(&r, VMBSAVE_CROSSOVER_KIND_COUNT);
    out->count = 0;
    if (na == 0 || nb == 0 || max_steps < 2u) {
        memcpy(out->steps, first->steps, (size_t)na * sizeof(out->steps[0]));
        out->count = na;
        kind = VMBSAVE_CROSSOVER_NONE;
    } else {
        if (kind == VMBSAVE_CROSSOVER_INSERT_RUN && na >= max_steps)
            kind = VMBSAVE_CROSSOVER_SPLICE; /* no room to insert */
        uint32_t from = rng_below(&r, nb); /* where the second parent's part starts */
        if (kind == VMBSAVE_CROSSOVER_SPLICE) {
            uint32_t prefix = 1u + rng_below(&r, min_u32(na, max_steps - 1u));
            uint32_t suffix = min_u32(nb - from, max_steps - prefix);
            memcpy(out->steps, first->steps, (size_t)prefix * sizeof(out->steps[0]));
            memcpy(&out->steps[prefix], &second->steps[from],
                   (size_t)suffix * sizeof(out->steps[0]));
            out->count = prefix + suffix;
        } else {
            uint32_t at = rng_below(&r, na + 1u);
            uint32_t run = 1u + rng_below(&r, min_u32(min_u32(nb - from, max_steps - na), 16u));
            memcpy(out->steps, first->steps, (size_t)at * sizeof(out->steps[0]));
            memcpy(&out->steps[at], &second->steps[from], (size_t)run * sizeof(out->steps[0]));
            memcpy(&out->steps[at + run], &first->steps[at],
                   (size_t)(na - at) * sizeof(out->steps[0]));
            out->count = na + run;
        }
    }
    normalize_all(out);
    return kind;
}

const char *vmbsave_mutation_name(vmbsave_mutation kind)
{
    static const char *const names[VMBSAVE_MUTATE_KIND_COUNT] = {
        "insert_random", "insert_copy", "insert_interesting", "insert_save_session", "delete",
        "swap", "duplicate_run", "change_field", "boundary", "add_fault", "move_fault",
    };
    return (unsigned)kind < VMBSAVE_MUTATE_KIND_COUNT ? names[kind] : "none";
}

const char *vmbsave_crossover_name(vmbsave_crossover kind)
{
    static const char *const names[VMBSAVE_CROSSOVER_KIND_COUNT] = {"splice", "insert_run"};
    return (unsigned)kind < VMBSAVE_CROSSOVER_KIND_COUNT ? names[kind] : "none";
}
