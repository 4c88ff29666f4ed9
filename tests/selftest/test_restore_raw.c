/* HARNESS.RUNNER.PRELOAD_IMAGE and HARNESS.RUNNER.PRELOAD_STATUSES: images handed to the runner
 * as bytes (run options preload_image / export_image, harness/run/runner.h), the input of the
 * restore_raw fuzz target (fuzzers/restore_raw.c). The oracle reads a preloaded image as
 * FORMAT.md's reader (harness/oracle/oracle_reader.c) to predict what a restore of it must return; here
 * the reference must pass, and the trace must show the status FORMAT.md gives each raw edit (so
 * an oracle that accepted anything, or a runner that made no call, cannot pass). The oracle's
 * teeth on such images are shown with the deliberately broken variants.
 * FUZZ.RESTORE_RAW.FINDS_VIOLATION (tests/CMakeLists.txt) checks the fuzz target's abort. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/runners.h"
#include "support/util.h"

#include "program/canonical.h"
#include "image/chunks.h"
#include "image/image_reseal.h"
#include "program/program.h"
#include "run/runner.h"
#include "vmbsave/abi.h"

#define TRACE_CAP 1024u
#define IMAGE_CAP VMBSAVE_RUN_MAX_IMAGE_BYTES

/* ---- Plumbing ------------------------------------------------------------------------------ */

typedef struct run {
    vmbsave_program program;
    vmbsave_trace_entry trace[TRACE_CAP];
    vmbsave_run_result result;
    uint8_t exported[IMAGE_CAP]; /* image slot 1 after the run */
} run;

static void print_trace(const run *x)
{
    for (uint32_t i = 0; i < x->result.trace_count; i++) {
        const vmbsave_trace_entry *e = &x->trace[i];
        char call[192];
        vmbsave_call_text(&e->call, call, sizeof call);
        print_message("  [%" PRIu32 "] step %" PRIu32 " %s -> %s %s\n", i, e->step, call,
                      e->has_status ? vt_status_str(e->status) : "-", e->note);
    }
}

static void expect_pass(const run *x, const char *what)
{
    const vmbsave_run_result *res = &x->result;
    if (res->verdict == VMBSAVE_VERDICT_PASS)
        return;
    print_trace(x);
    if (res->verdict == VMBSAVE_VERDICT_VIOLATION)
        fail_msg("%s: VIOLATION of %s at step %" PRIu32 ": expected %s, observed %s", what,
                 res->violation.clause, res->violation.step, res->violation.expected,
                 res->violation.observed);
    fail_msg("%s: %s: %s", what, vmbsave_verdict_name(res->verdict), res->error);
}

/* The canonical state's image as the implementation saves it (export_image of a CAPTURE). */
static uint8_t *capture(vmbsave_runner *r, vmbsave_canonical_id id, uint32_t *size)
{
    run *x = vt_xmalloc(sizeof *x);
    memset(&x->result, 0, sizeof x->result);
    uint8_t *image = vt_xmalloc(IMAGE_CAP + 1u);
    vmbsave_run_options opt = {0};
    opt.export_image[2] = image;
    opt.export_image_cap[2] = IMAGE_CAP;
    assert_true(vmbsave_canonical_prefix(id, &x->program));
    x->program.steps[x->program.count++] =
        (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 2};
    vmbsave_runner_run(r, &x->program, &opt, &x->result);
    expect_pass(x, vmbsave_canonical_name(id));
    *size = x->result.image_size[2];
    if (*size == 0)
        fail_msg("%s: no image exported", vmbsave_canonical_name(id));
    free(x);
    return image;
}

/* restore_raw's program: `image` preloaded into slot 0, restored into channel 1 (edit mode and
 * fields as given), channel 1 captured into slot 1, which is exported. */
static run *run_raw(vmbsave_runner *r, const uint8_t *image, uint32_t size, uint8_t mode,
                    uint32_t a, uint32_t c)
{
    run *x = vt_xmalloc(sizeof *x);
    memset(x, 0, offsetof(run, exported));
    x->program.count = 2;
    x->program.steps[0] =
        (vmbsave_step){.op = VMBSAVE_OP_RESTORE, .ch = 1, .slot = 0, .mode = mode, .a = a, .c = c};
    x->program.steps[1] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1};
    vmbsave_run_options opt = {.trace = x->trace, .trace_cap = TRACE_CAP};
    opt.preload_image[0] = image;
    opt.preload_image_size[0] = size;
    opt.export_image[1] = x->exported;
    opt.export_image_cap[1] = IMAGE_CAP;
    vmbsave_runner_run(r, &x->program, &opt, &x->result);
    return x;
}

/* The restore_from_buffer calls of step 0: their count, and the last one's status. */
static uint32_t restore_calls(const run *x, NTSTATUS *last)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < x->result.trace_count; i++) {
        const vmbsave_trace_entry *e = &x->trace[i];
        if (e->step == 0 && e->call.op == VMBSAVE_CALL_RESTORE_FROM_BUFFER) {
            n++;
            *last = e->status;
        }
    }
    return n;
}

static void expect_restore(const run *x, const char *what, NTSTATUS want)
{
    expect_pass(x, what);
    NTSTATUS last = 0;
    if (restore_calls(x, &last) == 0) {
        print_trace(x);
        fail_msg("%s: no restore_from_buffer call", what);
    }
    if (last != want) {
        print_trace(x);
        fail_msg("%s: the restore ended with %s, FORMAT.md gives %s", what, vt_status_str(last),
                 vt_status_str(want));
    }
}

/* The chunk offsets of a well-formed image; returns the count. */
static uint32_t chunks_of(const uint8_t *image, uint32_t size, uint32_t *off, uint32_t cap)
{
    uint32_t n = 0, pos = 0;
    vmbsave_chunk h;
    while (pos < size && n < cap && vmbsave_chunk_read(image + pos, size - pos, &h) &&
           h.size <= size - pos) {
        off[n++] = pos;
        pos += h.size;
    }
    return n;
}

/* ---- HARNESS.RUNNER.PRELOAD_IMAGE ---------------------------------------------------------- */

static void preload_image(void **state)
{
    (void)state;
    vmbsave_runner *r = vt_runner_open_reference();

    /* Every canonical image, unedited, restores, and its re-save is the same bytes: the oracle
     * decoded it into the state the reference restored (description, fixed point). */
    for (int i = 0; i < VMBSAVE_CANONICAL_COUNT; i++) {
        uint32_t size;
        uint8_t *image = capture(r, (vmbsave_canonical_id)i, &size);
        run *x = run_raw(r, image, size, VMBSAVE_EDIT_WHOLE, 0, 0);
        expect_restore(x, vmbsave_canonical_name((vmbsave_canonical_id)i), STATUS_SUCCESS);
        if (x->result.image_size[0] != size || x->result.image_size[1] != size ||
            memcmp(x->exported, image, size) != 0)
            fail_msg("%s: slot 0 holds %" PRIu32 " bytes, the re-save %" PRIu32
                     " bytes, not the preloaded %" PRIu32 " bytes",
                     vmbsave_canonical_name((vmbsave_canonical_id)i), x->result.image_size[0],
                     x->result.image_size[1], size);
        free(x);
        free(image);
    }

    uint32_t size;
    uint8_t *image = capture(r, VMBSAVE_CANONICAL_PAUSED_PACKETS, &size);
    uint32_t off[64];
    uint32_t n = chunks_of(image, size, off, 64);
    assert_true(n >= 4);

    /* One chunk per call: MORE_PROCESSING_REQUIRED for each but the last. */
    run *x = run_raw(r, image, size, VMBSAVE_EDIT_WHOLE, 0, 1);
    expect_restore(x, "one chunk per call", STATUS_SUCCESS);
    NTSTATUS last;
    assert_int_equal(restore_calls(x, &last), n);
    free(x);

    /* One flipped byte in chunk 1's payload: DATA_ERROR (the checksum, FORMAT.md step 6), and
     * the channel stays fresh: its capture is refused as a DISABLED channel's. */
    image[off[1] + VMBSAVE_CHUNK_HEADER_BYTES + 3u] ^= 0x01u;
    x = run_raw(r, image, size, VMBSAVE_EDIT_WHOLE, 0, 0);
    expect_restore(x, "one flipped byte", STATUS_DATA_ERROR);
    assert_int_equal(x->result.image_size[1], 0);
    free(x);
    image[off[1] + VMBSAVE_CHUNK_HEADER_BYTES + 3u] ^= 0x01u;

    /* Over the limit: an ERROR verdict before any call, never a silent cut. */
    uint8_t *big = vt_xmalloc(VMBSAVE_RUN_MAX_IMAGE_BYTES + 1u);
    memset(big, 0, VMBSAVE_RUN_MAX_IMAGE_BYTES + 1u);
    memcpy(big, image, size);
    x = run_raw(r, big, VMBSAVE_RUN_MAX_IMAGE_BYTES + 1u, VMBSAVE_EDIT_WHOLE, 0, 0);
    assert_int_equal(x->result.verdict, VMBSAVE_VERDICT_ERROR);
    assert_int_equal(x->result.calls, 0);
    if (strstr(x->result.error, "VMBSAVE_RUN_MAX_IMAGE_BYTES") == NULL)
        fail_msg("the error does not name the limit: %s", x->result.error);
    free(x);
    /* ... while exactly the limit is taken (the bytes after the image are trailing bytes). */
    x = run_raw(r, big, VMBSAVE_RUN_MAX_IMAGE_BYTES, VMBSAVE_EDIT_WHOLE, 0, 0);
    expect_restore(x, "an image of the maximum size", STATUS_REQUEST_OUT_OF_SEQUENCE);
    free(x);
    free(big);

    /* A valid image of a state the program steps cannot build (a ring of 128 pages, past
     * VMBSAVE_OPEN_VALID's 65): the model holds every state the contract allows, so it is
     * checked like any other (HARNESS.ORACLE.MODEL_LIMITS takes every limit at once). */
    uint8_t *wide = vt_xmalloc(size);
    memcpy(wide, image, size);
    vmbsave_put_u32(wide + VMBSAVE_CHUNK_HEADER_BYTES + 168u, 128u * VMBSAVE_PAGE_BYTES);
    vmbsave_image_reseal(wide, size, VMBSAVE_RESEAL_CHECKSUMS | VMBSAVE_RESEAL_IDENTITY);
    x = run_raw(r, wide, size, VMBSAVE_EDIT_WHOLE, 0, 0);
    expect_restore(x, "a ring of 128 pages", STATUS_SUCCESS);
    free(x);
    free(wide);

    free(image);
    vmbsave_runner_close(r);
}

/* ---- HARNESS.RUNNER.PRELOAD_STATUSES -------------------------------------------------------- */

typedef void (*edit_fn)(uint8_t *image, uint32_t *size, const uint32_t *off, uint32_t n);

static void hdr_put(uint8_t *image, uint32_t field, uint32_t value)
{
    vmbsave_put_u32(image + VMBSAVE_CHUNK_HEADER_BYTES + field, value);
}

static void bad_state(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s, (void)o, (void)n;
    hdr_put(im, 0, 7);
}
static void gpadls_over_limit(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s, (void)o, (void)n;
    hdr_put(im, 192, VMBSAVE_MAX_GPADLS + 1u);
}
static void one_gpadl_more(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s, (void)o, (void)n;
    hdr_put(im, 192, vmbsave_get_u32(im + VMBSAVE_CHUNK_HEADER_BYTES + 192) + 1u);
}
static void ring_gpadl_missing(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s, (void)o, (void)n;
    hdr_put(im, 164, 99);
}
static void ring_too_large(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s, (void)o, (void)n;
    hdr_put(im, 168, VMBSAVE_MAX_RING_BYTES + VMBSAVE_PAGE_BYTES);
}
static void enabled_with_open_fields(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s, (void)o, (void)n;
    hdr_put(im, 176, 1); /* target VP of an ENABLED channel */
}
static void pending_one_less(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s, (void)o, (void)n;
    hdr_put(im, 200, vmbsave_get_u32(im + VMBSAVE_CHUNK_HEADER_BYTES + 200) - 1u);
}
static void newer_minor(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s;
    for (uint32_t i = 0; i < n; i++)
        vmbsave_put_u16(im + o[i] + 6, 3);
}
static void end_digest(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s;
    im[o[n - 1u] + VMBSAVE_CHUNK_HEADER_BYTES + 16u] ^= 0x80u;
}
static void end_reserved(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s;
    im[o[n - 1u] + VMBSAVE_CHUNK_HEADER_BYTES + 4u] = 1;
}
static void trailing_byte(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)o, (void)n;
    im[(*s)++] = 0;
}
static void first_gpadl_id_0(uint8_t *im, uint32_t *s, const uint32_t *o, uint32_t n)
{
    (void)s, (void)n;
    /* open_gpadls: chunk 1 is GPADLS; its first record starts after the count. */
    uint8_t *rec = im + o[1] + VMBSAVE_CHUNK_HEADER_BYTES + 4u;
    vmbsave_put_u32(rec + 4, 0);
}

typedef struct status_case {
    const char *name;
    vmbsave_canonical_id state;
    edit_fn edit;
    unsigned reseal;
    NTSTATUS status;          /* of the restore, whole or a chunk per call */
    NTSTATUS status_per_call; /* when a chunk per call ends otherwise (0: the same) */
} status_case;

#define RESEAL_ALL (VMBSAVE_RESEAL_CHECKSUMS | VMBSAVE_RESEAL_IDENTITY)

static const status_case status_cases[] = {
    {"HEADER state 7", VMBSAVE_CANONICAL_EMPTY_OFFER, bad_state, RESEAL_ALL,
     STATUS_FILE_CORRUPT_ERROR, 0},
    {"HEADER state 7, no reseal", VMBSAVE_CANONICAL_EMPTY_OFFER, bad_state, 0, STATUS_DATA_ERROR,
     0},
    {"HEADER state 7, checksums only", VMBSAVE_CANONICAL_EMPTY_OFFER, bad_state,
     VMBSAVE_RESEAL_CHECKSUMS, STATUS_FILE_CORRUPT_ERROR /* step 8: image id */, 0},
    {"GPADL count above the limit", VMBSAVE_CANONICAL_OPEN_GPADLS, gpadls_over_limit, RESEAL_ALL,
     STATUS_IMPLEMENTATION_LIMIT, 0},
    {"one GPADL more than the image holds", VMBSAVE_CANONICAL_OPEN_GPADLS, one_gpadl_more,
     RESEAL_ALL, STATUS_FILE_CORRUPT_ERROR, 0},
    {"GPADL id 0", VMBSAVE_CANONICAL_OPEN_GPADLS, first_gpadl_id_0, RESEAL_ALL,
     STATUS_FILE_CORRUPT_ERROR, 0},
    {"ring GPADL missing", VMBSAVE_CANONICAL_OPEN_GPADLS, ring_gpadl_missing, RESEAL_ALL,
     STATUS_NOT_FOUND, 0},
    {"ring above VMBSAVE_MAX_RING_BYTES", VMBSAVE_CANONICAL_OPEN_GPADLS, ring_too_large,
     RESEAL_ALL, STATUS_IMPLEMENTATION_LIMIT, 0},
    {"ENABLED with a target VP", VMBSAVE_CANONICAL_EMPTY_OFFER, enabled_with_open_fields,
     RESEAL_ALL, STATUS_FILE_CORRUPT_ERROR, 0},
    {"one pending byte fewer declared", VMBSAVE_CANONICAL_LARGE_RING, pending_one_less,
     RESEAL_ALL, STATUS_FILE_CORRUPT_ERROR, 0},
    /* Every checksum changes, so END's digest must be resealed too. */
    {"a newer minor", VMBSAVE_CANONICAL_PAUSED_PACKETS, newer_minor, RESEAL_ALL, STATUS_SUCCESS,
     0},
    {"a newer minor, checksums only", VMBSAVE_CANONICAL_PAUSED_PACKETS, newer_minor,
     VMBSAVE_RESEAL_CHECKSUMS, STATUS_REVISION_MISMATCH, 0},
    {"END digest", VMBSAVE_CANONICAL_PAUSED_PACKETS, end_digest, VMBSAVE_RESEAL_CHECKSUMS,
     STATUS_REVISION_MISMATCH, 0},
    {"END reserved", VMBSAVE_CANONICAL_PAUSED_PACKETS, end_reserved, VMBSAVE_RESEAL_CHECKSUMS,
     STATUS_FILE_CORRUPT_ERROR, 0},
    /* A chunk per call puts the byte in a call of its own, after the one that committed. */
    {"a byte after END", VMBSAVE_CANONICAL_OPEN_GPADLS, trailing_byte, 0,
     STATUS_REQUEST_OUT_OF_SEQUENCE, STATUS_INVALID_DEVICE_STATE},
};

static void preload_statuses(void **state)
{
    (void)state;
    vmbsave_runner *r = vt_runner_open_reference();
    uint8_t *images[VMBSAVE_CANONICAL_COUNT];
    uint32_t sizes[VMBSAVE_CANONICAL_COUNT];
    for (int i = 0; i < VMBSAVE_CANONICAL_COUNT; i++)
        images[i] = capture(r, (vmbsave_canonical_id)i, &sizes[i]);
    uint8_t *edited = vt_xmalloc(IMAGE_CAP + 1u);
    for (size_t k = 0; k < sizeof status_cases / sizeof status_cases[0]; k++) {
        const status_case *t = &status_cases[k];
        uint32_t size = sizes[t->state];
        memcpy(edited, images[t->state], size);
        uint32_t off[256];
        uint32_t n = chunks_of(edited, size, off, 256);
        t->edit(edited, &size, off, n);
        vmbsave_image_reseal(edited, size, t->reseal);
        /* Whole, then one chunk per call: the same final status, at the same chunk. */
        for (uint32_t per_call = 0; per_call < 2; per_call++) {
            run *x = run_raw(r, edited, size, VMBSAVE_EDIT_WHOLE, 0, per_call);
            char what[160];
            snprintf(what, sizeof what, "%s (%s, %s)", t->name,
                     vmbsave_canonical_name(t->state), per_call ? "a chunk per call" : "whole");
            expect_restore(x, what,
                           per_call && t->status_per_call != 0 ? t->status_per_call : t->status);
            free(x);
        }
        /* A call boundary inside a chunk before the edit: a partial chunk comes first. */
        run *x = run_raw(r, edited, size, VMBSAVE_EDIT_SPLIT_INSIDE, 0, 0);
        expect_restore(x, t->name, STATUS_INVALID_BUFFER_SIZE);
        free(x);
    }
    free(edited);
    for (int i = 0; i < VMBSAVE_CANONICAL_COUNT; i++)
        free(images[i]);
    vmbsave_runner_close(r);
}

/* ---- The oracle's teeth on preloaded images ------------------------------------------------ */

static void expect_violation(const run *x, const char *what, const char *clause)
{
    if (x->result.verdict != VMBSAVE_VERDICT_VIOLATION ||
        strcmp(x->result.violation.clause, clause) != 0) {
        print_trace(x);
        fail_msg("%s: expected a violation of %s, got %s %s (%s)", what, clause,
                 vmbsave_verdict_name(x->result.verdict), x->result.violation.clause,
                 x->result.error);
    }
}

static void preload_finds_violations(void **state)
{
    (void)state;
    vmbsave_runner *ref = vt_runner_open_reference();
    uint32_t size;
    uint8_t *image = capture(ref, VMBSAVE_CANONICAL_PAUSED_PACKETS, &size);
    vmbsave_runner_close(ref);

    /* A failed restore that leaves state behind: RESTORE.ATOMIC. */
    vmbsave_runner *r = vt_runner_open_variant("restore_partial_state");
    image[size / 2u] ^= 0x01u;
    run *x = run_raw(r, image, size, VMBSAVE_EDIT_WHOLE, 0, 0);
    expect_violation(x, "restore_partial_state", "RESTORE.ATOMIC");
    free(x);
    image[size / 2u] ^= 0x01u;
    vmbsave_runner_close(r);

    /* SUCCESS for a call that has not reached END: RESTORE.MORE_PROCESSING. */
    r = vt_runner_open_variant("more_processing_as_success");
    x = run_raw(r, image, size, VMBSAVE_EDIT_WHOLE, 0, 1);
    expect_violation(x, "more_processing_as_success", "RESTORE.MORE_PROCESSING");
    free(x);
    vmbsave_runner_close(r);
    free(image);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.RUNNER.PRELOAD_IMAGE", preload_image),
    CLAUSE_TEST("HARNESS.RUNNER.PRELOAD_STATUSES", preload_statuses),
    CLAUSE_TEST("HARNESS.RUNNER.PRELOAD_FINDS_VIOLATIONS", preload_finds_violations),
};

CLAUSE_TEST_MAIN("restore_raw", tests)
