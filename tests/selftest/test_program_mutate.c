/* FUZZ.MUTATOR.*: the structure-aware mutator (harness/program/program_mutate.h, fuzzers/input_mutate.h),
 * its libFuzzer hooks (fuzzers/custom_mutator.c, compiled into this test for target
 * "roundtrip" with a stand-in LLVMFuzzerMutate) and the AFL++ library built from it
 * (libvmbsave_afl_mutator.so, loaded with dlopen as afl-fuzz loads it). Inputs come from the
 * canonical states and a seeded generator, so every run is the same. */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/clause_test.h"

#include "input_layout.h"
#include "input_mutate.h"
#include "program/canonical.h"
#include "program/program.h"
#include "program/program_mutate.h"

#ifndef VMBSAVE_AFL_MUTATOR_PATH
#error "VMBSAVE_AFL_MUTATOR_PATH (the built libvmbsave_afl_mutator.so) must be defined"
#endif
#ifndef VMBSAVE_TEST_FUZZ_TARGETS
#error "VMBSAVE_TEST_FUZZ_TARGETS (CMake's fuzz targets, space-separated) must be defined"
#endif
#ifndef VMBSAVE_TEST_NOT_PROGRAM_TARGETS
#error "VMBSAVE_TEST_NOT_PROGRAM_TARGETS (CMake's non-program targets) must be defined"
#endif

/* ---- Helpers ------------------------------------------------------------------------------ */

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

#define INPUT_CAP (VMBSAVE_FUZZ_MAX_HEADER_BYTES + VMBSAVE_PROGRAM_MAX_BYTES + 64u)

static vmbsave_fuzz_scratch scratch;
static vmbsave_program prog_a, prog_b, prog_c;

static const vmbsave_fuzz_layout *layout_of(const char *target)
{
    const vmbsave_fuzz_layout *l = vmbsave_fuzz_layout_find(target);
    if (l == NULL)
        fail_msg("no layout for %s", target);
    return l;
}

/* A starting input for `layout`: a canonical prefix (with a few extra steps), random bytes of
 * any length, or nothing. Returns its size. */
static size_t starting_input(rng *r, const vmbsave_fuzz_layout *layout, uint8_t *out)
{
    size_t h = layout->header_bytes;
    for (size_t i = 0; i < h; i++)
        out[i] = (uint8_t)rng_next(r);
    switch (rng_below(r, 4)) {
    case 0:
    case 1: {
        vmbsave_canonical_prefix((vmbsave_canonical_id)rng_below(r, VMBSAVE_CANONICAL_COUNT),
                                 &prog_a);
        size_t n = vmbsave_program_encode(&prog_a, out + h, INPUT_CAP - h);
        assert_true(n > 0);
        return h + n;
    }
    case 2: {
        size_t n = rng_below(r, 600);
        for (size_t i = 0; i < n; i++)
            out[h + i] = (uint8_t)rng_next(r);
        return h + n;
    }
    default:
        return rng_below(r, (uint32_t)h + 1u); /* empty, or a short header */
    }
}

/* The bytes after the header are whole normalised steps: decoding and encoding them gives the
 * same bytes. */
static void assert_program_bytes(const uint8_t *bytes, size_t n, size_t header)
{
    static uint8_t again[VMBSAVE_PROGRAM_MAX_BYTES];
    assert_true(n >= header + VMBSAVE_STEP_BYTES);
    assert_int_equal((n - header) % VMBSAVE_STEP_BYTES, 0);
    assert_true(n - header <= VMBSAVE_PROGRAM_MAX_BYTES);
    vmbsave_program_decode(bytes + header, n - header, &prog_c);
    size_t m = vmbsave_program_encode(&prog_c, again, sizeof(again));
    assert_int_equal(m, n - header);
    assert_memory_equal(again, bytes + header, m);
}

static void assert_normalised(const vmbsave_program *p, uint32_t max_steps)
{
    assert_true(p->count <= max_steps);
    for (uint32_t i = 0; i < p->count; i++) {
        vmbsave_step s = p->steps[i];
        vmbsave_step_normalize(&s);
        assert_memory_equal(&s, &p->steps[i], sizeof(s));
    }
}

static uint32_t fault_count(const vmbsave_program *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->count; i++)
        n += p->steps[i].op >= VMBSAVE_OP_FAULT_ALLOC;
    return n;
}

/* ---- FUZZ.MUTATOR.KEEPS_DECODABLE --------------------------------------------------------- */

/* Chains of mutations and crossovers, from many starting inputs, into buffers of many sizes:
 * every result fits, keeps the header's length (and bytes, unless the log says a byte was
 * replaced) and is whole normalised steps. */
static void keeps_decodable(void **state)
{
    (void)state;
    static uint8_t data[INPUT_CAP], other[INPUT_CAP], out[INPUT_CAP], before[INPUT_CAP];
    static const char *const targets[] = {"save_session", "roundtrip", "restore"};
    rng r = {0x9d2c5680u};
    unsigned results = 0;
    for (unsigned chain = 0; chain < 300; chain++) {
        const vmbsave_fuzz_layout *layout = layout_of(targets[chain % 3]);
        size_t h = layout->header_bytes;
        size_t size = starting_input(&r, layout, data);
        size_t other_size = starting_input(&r, layout, other);
        for (unsigned step = 0; step < 30; step++) {
            /* Mostly roomy buffers; sometimes barely a step, sometimes smaller than the input. */
            size_t max = rng_below(&r, 4) != 0 ? h + VMBSAVE_PROGRAM_MAX_BYTES
                                                : h + rng_below(&r, 40 * VMBSAVE_STEP_BYTES);
            if (max < size)
                size = max; /* an engine never passes an input larger than max_size */
            memcpy(before, data, size);
            vmbsave_fuzz_mutation_log log;
            size_t n;
            if (rng_below(&r, 5) == 0) {
                n = vmbsave_fuzz_crossover_input(layout, data, size, other, other_size, out, max,
                                                 rng_next(&r), &scratch, &log);
                if (n == 0)
                    continue; /* an empty parent or no room for two steps */
                assert_true(log.crossover != VMBSAVE_CROSSOVER_NONE);
                memcpy(data, out, n);
            } else {
                n = vmbsave_fuzz_mutate_input(layout, data, size, max, rng_next(&r),
                                              1u + rng_below(&r, VMBSAVE_FUZZ_MAX_STACKED), &scratch,
                                              &log);
                if (max < h + VMBSAVE_STEP_BYTES) {
                    assert_int_equal(n, 0); /* no room for one step: declined, untouched */
                    assert_memory_equal(data, before, size);
                    continue;
                }
                assert_true(log.count >= 1);
                if (!log.header_changed && size >= h)
                    assert_memory_equal(data, before, h);
            }
            assert_true(n <= max);
            assert_program_bytes(data, n, h);
            size = n;
            results++;
        }
    }
    assert_true(results > 5000); /* the loop really exercised the mutator */

    /* The program-level call: normalised, within max_steps, also from unnormalised steps. */
    for (unsigned i = 0; i < 3000; i++) {
        prog_a.count = rng_below(&r, VMBSAVE_PROGRAM_MAX_STEPS + 1u);
        for (uint32_t k = 0; k < prog_a.count; k++) {
            prog_a.steps[k] = (vmbsave_step){(uint8_t)rng_next(&r), (uint8_t)rng_next(&r),
                                             (uint8_t)rng_next(&r), (uint8_t)rng_next(&r),
                                             (uint32_t)rng_next(&r), (uint32_t)rng_next(&r),
                                             (uint32_t)rng_next(&r)};
        }
        uint32_t max_steps = rng_below(&r, 3) == 0 ? rng_below(&r, 5) : VMBSAVE_PROGRAM_MAX_STEPS;
        vmbsave_mutation kind = vmbsave_program_mutate(&prog_a, max_steps, rng_next(&r));
        assert_normalised(&prog_a, max_steps);
        assert_true(kind <= VMBSAVE_MUTATE_NONE);
        assert_true((kind == VMBSAVE_MUTATE_NONE) == (max_steps == 0));
        if (max_steps > 0)
            assert_true(prog_a.count >= 1); /* never deletes the last step */
    }
}

/* ---- FUZZ.MUTATOR.DETERMINISTIC ----------------------------------------------------------- */

static void deterministic(void **state)
{
    (void)state;
    static uint8_t input[INPUT_CAP], x[INPUT_CAP], y[INPUT_CAP];
    const vmbsave_fuzz_layout *layout = layout_of("roundtrip");
    rng r = {12345u};
    unsigned differ_from_previous_seed = 0;
    size_t previous_n = 0;
    static uint8_t previous[INPUT_CAP];
    for (unsigned i = 0; i < 500; i++) {
        size_t size = starting_input(&r, layout, input);
        uint64_t seed = rng_next(&r);
        uint32_t stacked = 1u + rng_below(&r, VMBSAVE_FUZZ_MAX_STACKED);
        vmbsave_fuzz_mutation_log lx, ly;
        memcpy(x, input, size);
        memcpy(y, input, size);
        size_t nx = vmbsave_fuzz_mutate_input(layout, x, size, sizeof(x), seed, stacked, &scratch,
                                              &lx);
        /* The scratch space is not state: dirty it before the second call. */
        memset(&scratch, 0xA5, sizeof(scratch));
        size_t ny = vmbsave_fuzz_mutate_input(layout, y, size, sizeof(y), seed, stacked, &scratch,
                                              &ly);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx);
        assert_int_equal(lx.count, ly.count);
        assert_memory_equal(lx.kinds, ly.kinds, lx.count * sizeof(lx.kinds[0]));
        assert_int_equal(lx.header_changed, ly.header_changed);

        /* Another seed on the same input gives, at least sometimes, another output. */
        memcpy(y, input, size);
        ny = vmbsave_fuzz_mutate_input(layout, y, size, sizeof(y), seed + 1u, stacked, &scratch,
                                       NULL);
        differ_from_previous_seed += nx != ny || memcmp(x, y, nx) != 0;

        /* Crossover, twice with the same seed. */
        nx = vmbsave_fuzz_crossover_input(layout, input, size, previous, previous_n, x, sizeof(x),
                                          seed, &scratch, NULL);
        ny = vmbsave_fuzz_crossover_input(layout, input, size, previous, previous_n, y, sizeof(y),
                                          seed, &scratch, NULL);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx);
        memcpy(previous, input, size);
        previous_n = size;
    }
    assert_true(differ_from_previous_seed > 400);
}

/* ---- FUZZ.MUTATOR.EVERY_KIND -------------------------------------------------------------- */

/* Each kind is drawn, does what its name says to the step count and the fault directives, and
 * changes the program at least sometimes. A kind that never applies fails the test. */
static void every_kind(void **state)
{
    (void)state;
    unsigned applied[VMBSAVE_MUTATE_KIND_COUNT] = {0}, changed[VMBSAVE_MUTATE_KIND_COUNT] = {0};
    rng r = {777u};
    for (unsigned i = 0; i < 20000; i++) {
        /* A canonical state, often with a fault directive and a save session after it. */
        vmbsave_canonical_prefix((vmbsave_canonical_id)(i % VMBSAVE_CANONICAL_COUNT), &prog_a);
        if (rng_below(&r, 2) == 0) {
            prog_a.steps[prog_a.count++] =
                (vmbsave_step){.op = VMBSAVE_OP_FAULT_ALLOC, .mode = VMBSAVE_FAULT_ONCE, .a = 2};
            prog_a.steps[prog_a.count++] = (vmbsave_step){.op = VMBSAVE_OP_SAVE_BEGIN};
            prog_a.steps[prog_a.count++] = (vmbsave_step){.op = VMBSAVE_OP_SAVE_CONTINUE,
                                                          .mode = VMBSAVE_SIZE_REQUIRED};
        }
        prog_b = prog_a;
        vmbsave_mutation kind =
            vmbsave_program_mutate(&prog_a, VMBSAVE_PROGRAM_MAX_STEPS, rng_next(&r));
        assert_true(kind < VMBSAVE_MUTATE_KIND_COUNT);
        applied[kind]++;
        changed[kind] += !vmbsave_program_equal(&prog_a, &prog_b);
        int64_t grew = (int64_t)prog_a.count - (int64_t)prog_b.count;
        int64_t faults = (int64_t)fault_count(&prog_a) - (int64_t)fault_count(&prog_b);
        switch (kind) {
        case VMBSAVE_MUTATE_INSERT_RANDOM:
        case VMBSAVE_MUTATE_INSERT_COPY:
        case VMBSAVE_MUTATE_INSERT_INTERESTING:
            assert_int_equal(grew, 1);
            break;
        case VMBSAVE_MUTATE_INSERT_SAVE_SESSION:
            assert_true(grew >= 3 && grew <= 7); /* 2 more: a restore on another channel */
            assert_int_equal(faults, 0);
            break;
        case VMBSAVE_MUTATE_DELETE:
            assert_true(grew <= -1 && grew >= -8);
            break;
        case VMBSAVE_MUTATE_DUPLICATE_RUN:
            assert_true(grew >= 1 && grew <= 8);
            break;
        case VMBSAVE_MUTATE_ADD_FAULT:
            assert_int_equal(grew, 1);
            assert_int_equal(faults, 1);
            break;
        case VMBSAVE_MUTATE_MOVE_FAULT:
            assert_int_equal(grew, 0);
            assert_int_equal(faults, 0);
            assert_true(fault_count(&prog_b) > 0);
            break;
        default: /* swap, change_field, boundary */
            assert_int_equal(grew, 0);
            break;
        }
    }
    for (unsigned k = 0; k < VMBSAVE_MUTATE_KIND_COUNT; k++) {
        printf("  %-20s applied %5u, changed the program %5u\n",
               vmbsave_mutation_name((vmbsave_mutation)k), applied[k], changed[k]);
        if (applied[k] < 200 || changed[k] < applied[k] / 2)
            fail_msg("mutation kind %s is (nearly) dead: applied %u, changed %u",
                     vmbsave_mutation_name((vmbsave_mutation)k), applied[k], changed[k]);
    }

    /* Boundary values really are the edges: a save_continue becomes one of the boundary sizes,
     * a small payload goes to the limit or over it, or a field to an edge of its range. */
    unsigned at_limit = 0;
    for (unsigned i = 0; i < 2000; i++) {
        prog_a.count = 1;
        prog_a.steps[0] = (vmbsave_step){.op = VMBSAVE_OP_PACKET_SEND,
                                         .mode = VMBSAVE_PAYLOAD_MEDIUM, .a = 3, .b = 4, .c = 100};
        if (vmbsave_program_mutate(&prog_a, 1, rng_next(&r)) != VMBSAVE_MUTATE_BOUNDARY)
            continue;
        const vmbsave_step *s = &prog_a.steps[0];
        bool edge = s->mode == VMBSAVE_PAYLOAD_MAX || s->mode == VMBSAVE_PAYLOAD_OVER_LIMIT ||
                    (s->mode == VMBSAVE_PAYLOAD_MEDIUM &&
                     (s->a == 0 || s->a == 1 || s->a == VMBSAVE_PROGRAM_PACKET_IDS - 2u ||
                      s->a == VMBSAVE_PROGRAM_PACKET_IDS - 1u || s->b == 0 || s->b == 1 ||
                      s->b == VMBSAVE_PROGRAM_GPADL_IDS - 2u ||
                      s->b == VMBSAVE_PROGRAM_GPADL_IDS - 1u || s->c == 0 || s->c == 1 ||
                      s->c == 4095 || s->c == 4096));
        if (!edge)
            fail_msg("boundary gave a non-edge packet_send: mode %u a %u b %u c %u", s->mode,
                     s->a, s->b, s->c);
        at_limit += s->mode == VMBSAVE_PAYLOAD_OVER_LIMIT;
    }
    assert_true(at_limit > 0);

    /* Both crossover kinds occur. */
    unsigned crossovers[VMBSAVE_CROSSOVER_KIND_COUNT] = {0};
    vmbsave_canonical_prefix(VMBSAVE_CANONICAL_PAUSED_PACKETS, &prog_a);
    vmbsave_canonical_prefix(VMBSAVE_CANONICAL_OPEN_GPADLS, &prog_b);
    for (unsigned i = 0; i < 200; i++) {
        vmbsave_crossover kind = vmbsave_program_crossover(&prog_a, &prog_b,
                                                           VMBSAVE_PROGRAM_MAX_STEPS, i, &prog_c);
        assert_true(kind < VMBSAVE_CROSSOVER_KIND_COUNT);
        crossovers[kind]++;
    }
    for (unsigned k = 0; k < VMBSAVE_CROSSOVER_KIND_COUNT; k++)
        if (crossovers[k] == 0)
            fail_msg("crossover kind %s never occurs", vmbsave_crossover_name((vmbsave_crossover)k));
}

/* ---- FUZZ.MUTATOR.CROSSOVER --------------------------------------------------------------- */

/* Parents whose every step is unique and tells which parent it is from (offer salts 1000+i and
 * 2000+i): a child holds steps of both, nothing else, in the parents' order. */
static void make_parent(vmbsave_program *p, uint32_t count, uint32_t salt_base)
{
    p->count = count;
    for (uint32_t i = 0; i < count; i++)
        p->steps[i] = (vmbsave_step){.op = VMBSAVE_OP_OFFER, .ch = (uint8_t)(i % 3u),
                                     .a = salt_base + i};
}

static void crossover_mixes_parents(void **state)
{
    (void)state;
    rng r = {4242u};
    for (unsigned i = 0; i < 5000; i++) {
        uint32_t na = 1u + rng_below(&r, VMBSAVE_PROGRAM_MAX_STEPS);
        uint32_t nb = 1u + rng_below(&r, VMBSAVE_PROGRAM_MAX_STEPS);
        uint32_t max_steps = rng_below(&r, 3) == 0 ? 2u + rng_below(&r, 20)
                                                    : VMBSAVE_PROGRAM_MAX_STEPS;
        make_parent(&prog_a, na, 1000u);
        make_parent(&prog_b, nb, 2000u);
        vmbsave_crossover kind =
            vmbsave_program_crossover(&prog_a, &prog_b, max_steps, rng_next(&r), &prog_c);
        assert_true(kind < VMBSAVE_CROSSOVER_KIND_COUNT);
        assert_normalised(&prog_c, max_steps);
        unsigned from_a = 0, from_b = 0;
        uint32_t last_a = 0, last_b = 0;
        bool b_seen = false, a_after_b = false;
        for (uint32_t k = 0; k < prog_c.count; k++) {
            uint32_t salt = prog_c.steps[k].a;
            if (salt >= 1000u && salt < 1000u + na) {
                /* A's steps in A's order (consecutive: only B's run comes in between). */
                assert_true(from_a == 0 || salt == last_a + 1u);
                last_a = salt;
                from_a++;
                a_after_b |= b_seen;
            } else if (salt >= 2000u && salt < 2000u + nb) {
                assert_true(from_b == 0 || salt == last_b + 1u); /* one run of B, in order */
                last_b = salt;
                from_b++;
                b_seen = true;
            } else {
                fail_msg("crossover made a step of neither parent (salt %u)", salt);
            }
        }
        assert_true(from_a >= 1 && from_b >= 1);
        if (kind == VMBSAVE_CROSSOVER_SPLICE) {
            assert_false(a_after_b);             /* prefix of A, then suffix of B */
            assert_int_equal(prog_c.steps[0].a, 1000u); /* the prefix starts at A's start */
            /* The suffix runs to B's end unless max_steps cut it. */
            assert_true(last_b == 2000u + nb - 1u || prog_c.count == max_steps);
        } else {
            assert_int_equal(from_a, na);        /* all of A, a run of B inside */
        }
    }
    /* An empty parent: no crossover, the first parent as it is. */
    make_parent(&prog_a, 5, 1000u);
    prog_b.count = 0;
    assert_int_equal(vmbsave_program_crossover(&prog_a, &prog_b, 256, 1, &prog_c),
                     VMBSAVE_CROSSOVER_NONE);
    assert_true(vmbsave_program_equal(&prog_a, &prog_c));
}

/* ---- FUZZ.MUTATOR.LAYOUT ------------------------------------------------------------------ */

static bool word_in(const char *word, const char *words)
{
    size_t n = strlen(word);
    for (const char *p = words; *p != '\0';) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, " ;");
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* Every target CMake builds has a layout, and CMake's "not a program" list (the targets the
 * libFuzzer hooks are not linked into) is exactly the table's. */
static void layout_matches_cmake(void **state)
{
    (void)state;
    char targets[1024];
    snprintf(targets, sizeof(targets), "%s", VMBSAVE_TEST_FUZZ_TARGETS);
    unsigned seen = 0;
    for (char *save = NULL, *t = strtok_r(targets, " ;", &save); t != NULL;
         t = strtok_r(NULL, " ;", &save)) {
        const vmbsave_fuzz_layout *l = vmbsave_fuzz_layout_find(t);
        if (l == NULL)
            fail_msg("fuzz target %s has no row in fuzzers/input_layout.c", t);
        if (l->is_program == word_in(t, VMBSAVE_TEST_NOT_PROGRAM_TARGETS))
            fail_msg("fuzz target %s: input_layout.c says %s, CMake's "
                     "VMBSAVE_FUZZ_NOT_PROGRAM_TARGETS disagrees",
                     t, l->is_program ? "a program" : "not a program");
        seen++;
    }
    assert_true(seen >= 3);
    for (size_t i = 0; i < vmbsave_fuzz_layout_count(); i++) {
        const vmbsave_fuzz_layout *l = vmbsave_fuzz_layout_at(i);
        assert_true(l->header_bytes <= VMBSAVE_FUZZ_MAX_HEADER_BYTES);
        if (!l->is_program && !word_in(l->target, VMBSAVE_TEST_NOT_PROGRAM_TARGETS))
            fail_msg("%s is not a program in input_layout.c but CMake would link the mutator",
                     l->target);
    }
    assert_null(vmbsave_fuzz_layout_at(vmbsave_fuzz_layout_count()));
    assert_null(vmbsave_fuzz_layout_find("no_such_target"));
    assert_null(vmbsave_fuzz_layout_find(NULL));
    /* A non-program layout is refused, whatever the input. */
    static uint8_t buf[64];
    const vmbsave_fuzz_layout raw = {"raw", false, 0};
    assert_int_equal(vmbsave_fuzz_mutate_input(&raw, buf, 16, sizeof(buf), 1, 1, &scratch, NULL),
                     0);
}

/* ---- FUZZ.MUTATOR.LIBFUZZER_HOOKS --------------------------------------------------------- */

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1, const uint8_t *data2,
                                 size_t size2, uint8_t *out, size_t max_out_size,
                                 unsigned int seed);

/* Stand-in for libFuzzer's byte-level mutator: counts calls and leaves a mark. */
static unsigned byte_level_calls;
#define BYTE_LEVEL_MARK 0xEEu

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size)
{
    (void)max_size;
    byte_level_calls++;
    data[0] = BYTE_LEVEL_MARK;
    return size > 0 ? size : 1u;
}

/* In a child process (the hooks read the switch once per process): runs the hooks with the
 * environment variable at `value` (NULL: unset) and exits 0 if they behaved as documented for
 * `expect_on`, 1 if not. A value the hooks refuse exits 2 from inside them. */
static int run_hooks_child(const char *value, bool expect_on)
{
    static uint8_t input[INPUT_CAP], data[INPUT_CAP], other[INPUT_CAP], out[INPUT_CAP];
    if (value != NULL)
        setenv("VMBSAVE_FUZZ_MUTATOR", value, 1);
    else
        unsetenv("VMBSAVE_FUZZ_MUTATOR");
    input[0] = 2; /* roundtrip: the canonical state pick */
    vmbsave_canonical_prefix(VMBSAVE_CANONICAL_PAUSED_PACKETS, &prog_a);
    size_t size = 1u + vmbsave_program_encode(&prog_a, input + 1, sizeof(input) - 1);
    other[0] = 0;
    vmbsave_canonical_prefix(VMBSAVE_CANONICAL_OPEN_GPADLS, &prog_b);
    size_t other_size = 1u + vmbsave_program_encode(&prog_b, other + 1, sizeof(other) - 1);
    const size_t max = 1u + VMBSAVE_PROGRAM_MAX_BYTES;
    for (unsigned seed = 0; seed < 400; seed++) {
        memcpy(data, input, size);
        unsigned before = byte_level_calls;
        size_t n = LLVMFuzzerCustomMutator(data, size, max, seed);
        bool delegated = byte_level_calls == before + 1u;
        bool want_delegated = !expect_on || seed % 4u == 0;
        if (delegated != want_delegated || n == 0 || n > max)
            return 1;
        if (!delegated) {
            if ((n - 1u) % VMBSAVE_STEP_BYTES != 0 || n < 1u + VMBSAVE_STEP_BYTES)
                return 1;
            vmbsave_program_decode(data + 1, n - 1u, &prog_c);
            uint8_t again[VMBSAVE_PROGRAM_MAX_BYTES];
            if (vmbsave_program_encode(&prog_c, again, sizeof(again)) != n - 1u ||
                memcmp(again, data + 1, n - 1u) != 0)
                return 1;
        }
        size_t c = LLVMFuzzerCustomCrossOver(input, size, other, other_size, out, max, seed);
        if (expect_on ? (c == 0 || c > max) : c != 0)
            return 1;
    }
    return 0;
}

static int child_status(const char *value, bool expect_on)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork failed");
    if (pid == 0)
        _exit(run_hooks_child(value, expect_on));
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        fail_msg("hook child did not exit normally (status %d)", status);
    return WEXITSTATUS(status);
}

static void libfuzzer_hooks(void **state)
{
    (void)state;
    assert_int_equal(child_status(NULL, true), 0);
    assert_int_equal(child_status("on", true), 0);
    assert_int_equal(child_status("1", true), 0);
    assert_int_equal(child_status("off", false), 0);
    assert_int_equal(child_status("0", false), 0);
    /* The checks can fail: "on" behaviour is not what "off" gives, and the reverse. */
    assert_int_equal(child_status("off", true), 1);
    assert_int_equal(child_status(NULL, false), 1);
    assert_int_equal(child_status("maybe", true), 2); /* refused with exit status 2 */
}

/* ---- FUZZ.MUTATOR.AFL_LIBRARY ------------------------------------------------------------- */

typedef void *(*afl_init_fn)(void *afl, unsigned int seed);
typedef size_t (*afl_fuzz_fn)(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                              uint8_t *add_buf, size_t add_buf_size, size_t max_size);
typedef const char *(*afl_describe_fn)(void *data, size_t max_description_len);
typedef void (*afl_deinit_fn)(void *data);

static void *must_dlsym(void *lib, const char *name)
{
    void *sym = dlsym(lib, name);
    if (sym == NULL)
        fail_msg("%s does not export %s", VMBSAVE_AFL_MUTATOR_PATH, name);
    return sym;
}

static void afl_library(void **state)
{
    (void)state;
    static uint8_t buf[INPUT_CAP], add[INPUT_CAP];
    void *lib = dlopen(VMBSAVE_AFL_MUTATOR_PATH, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        fail_msg("dlopen %s: %s", VMBSAVE_AFL_MUTATOR_PATH, dlerror());
    /* The function pointer casts are how dlsym results are used (POSIX). */
    afl_init_fn init;
    afl_fuzz_fn fuzz;
    afl_describe_fn describe;
    afl_deinit_fn deinit;
    *(void **)&init = must_dlsym(lib, "afl_custom_init");
    *(void **)&fuzz = must_dlsym(lib, "afl_custom_fuzz");
    *(void **)&describe = must_dlsym(lib, "afl_custom_describe");
    *(void **)&deinit = must_dlsym(lib, "afl_custom_deinit");
    /* Nothing else is exported: the harness's symbols must not clash with afl-fuzz's. */
    assert_null(dlsym(lib, "vmbsave_program_decode"));
    assert_null(dlsym(lib, "vmbsave_fuzz_mutate_input"));

    int fake_afl_state = 0; /* the library never looks at it */
    unsetenv("AFL_CUSTOM_MUTATOR_LIBRARY"); /* not inside afl-fuzz: failures return NULL */
    unsetenv("VMBSAVE_FUZZ_TARGET");
    assert_null(init(&fake_afl_state, 1));
    setenv("VMBSAVE_FUZZ_TARGET", "no_such_target", 1);
    assert_null(init(&fake_afl_state, 1));
    setenv("VMBSAVE_FUZZ_TARGET", "restore_raw", 1); /* raw bytes: no mutator for it */
    assert_null(init(&fake_afl_state, 1));

    /* afl-fuzz 4.04c goes on after a NULL from init. Loaded by afl-fuzz
     * (AFL_CUSTOM_MUTATOR_LIBRARY set), init itself exits with status 1; elsewhere, fuzz given
     * the NULL does. Never a crash. */
    for (int in_afl = 0; in_afl < 2; in_afl++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            uint8_t in[16] = {0}, *out = NULL;
            unsetenv("VMBSAVE_FUZZ_TARGET");
            if (in_afl)
                setenv("AFL_CUSTOM_MUTATOR_LIBRARY", VMBSAVE_AFL_MUTATOR_PATH, 1);
            void *none = init(&fake_afl_state, 1);
            if (none != NULL || in_afl)
                _exit(3); /* in afl-fuzz, init must not return */
            fuzz(none, in, sizeof(in), &out, NULL, 0, 4096);
            _exit(0); /* not reached if the library stops as documented */
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 1);
    }

    setenv("VMBSAVE_FUZZ_TARGET", "roundtrip", 1);
    void *m = init(&fake_afl_state, 99);
    assert_non_null(m);
    buf[0] = 1;
    vmbsave_canonical_prefix(VMBSAVE_CANONICAL_PAUSED_PACKETS, &prog_a);
    size_t size = 1u + vmbsave_program_encode(&prog_a, buf + 1, sizeof(buf) - 1);
    add[0] = 3;
    vmbsave_canonical_prefix(VMBSAVE_CANONICAL_LARGE_RING, &prog_b);
    size_t add_size = 1u + vmbsave_program_encode(&prog_b, add + 1, sizeof(add) - 1);
    unsigned crossovers = 0, changed = 0;
    for (unsigned i = 0; i < 2000; i++) {
        uint8_t *out = NULL;
        size_t max = i % 10u == 9u ? 1u + 5u * VMBSAVE_STEP_BYTES : 1024u * 1024u;
        size_t n = fuzz(m, buf, size, &out, i % 2u ? add : NULL, i % 2u ? add_size : 0, max);
        assert_non_null(out);
        assert_true(n > 0 && n <= max);
        assert_program_bytes(out, n, 1);
        changed += n != size || memcmp(out, buf, n) != 0;
        const char *d = describe(m, 200);
        assert_non_null(d);
        assert_true(strncmp(d, "vmbsave-", 8) == 0 && strlen(d) <= 200);
        assert_null(strpbrk(d, "/,: "));
        crossovers += strstr(d, "crossover_") != NULL;
        if (i % 100u == 0 && n < INPUT_CAP) { /* continue from a mutated input now and then */
            memcpy(buf, out, n);
            size = n;
        }
    }
    assert_true(crossovers > 50);
    assert_true(changed > 1800);
    /* A description cut to a tiny length stays a terminated string within it. */
    assert_true(strlen(describe(m, 5)) <= 5);
    deinit(m);
    unsetenv("VMBSAVE_FUZZ_TARGET");
    dlclose(lib);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("FUZZ.MUTATOR.KEEPS_DECODABLE", keeps_decodable),
    CLAUSE_TEST("FUZZ.MUTATOR.DETERMINISTIC", deterministic),
    CLAUSE_TEST("FUZZ.MUTATOR.EVERY_KIND", every_kind),
    CLAUSE_TEST("FUZZ.MUTATOR.CROSSOVER", crossover_mixes_parents),
    CLAUSE_TEST("FUZZ.MUTATOR.LAYOUT", layout_matches_cmake),
    CLAUSE_TEST("FUZZ.MUTATOR.LIBFUZZER_HOOKS", libfuzzer_hooks),
    CLAUSE_TEST("FUZZ.MUTATOR.AFL_LIBRARY", afl_library),
};

CLAUSE_TEST_MAIN("program_mutate", tests)
