/* HARNESS.DIFFERENTIAL.*: differential runs (harness/run/differential.h, docs/DIFFERENTIAL.md) on
 * runners in this process: the reference agrees with itself, a conformant variant that picks
 * another allowed outcome passes the oracle everywhere yet is told apart under the right clause,
 * the oracle speaks first, FAULT_ALLOC steps are dropped with steps mapped back, descriptions
 * are compared, the clause table names real clauses, and the runner's digests are right.
 *
 * Environment (tests/CMakeLists.txt): VMBSAVE_DIFF_REFERENCE (the reference plug-in, whatever
 * VMBSAVE_PLUGIN names) and VMBSAVE_DIFF_VARIANT_DIR (libvmbsave_variant_<name>.so). */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clause_test.h"
#include "program/canonical.h"
#include "image/chunks.h"
#include "run/differential.h"
#include "run/exhaustive.h"
#include "host/host.h"
#include "program/program.h"
#include "run/runner.h"
#include "program/step_args.h"

#if !defined(VMBSAVE_VARIANT_PROGRAM_DIR) || !defined(VMBSAVE_DIFFERENTIAL_PROGRAM_DIR) ||        \
    !defined(VMBSAVE_SPEC_PATH)
#error "tests/CMakeLists.txt defines the program directories and VMBSAVE_SPEC_PATH"
#endif

/* The conformant variant (variants/alt_one_chunk_per_call.c) and what tells it apart. */
#define ALT_VARIANT "alt_one_chunk_per_call"
#define ALT_CLAUSE "SAVE.CONTINUE.WHOLE_CHUNKS"
/* The save-protocol bound for the alternative: every sequence of up to 3 calls from every
 * canonical state (2,336 programs), where HARNESS.EXHAUSTIVE.SAVE_PROTOCOL goes to 4 for the
 * implementation under test. */
#define ALT_SAVE_PROTOCOL_LENGTH 3u

/* ---- Helpers ----------------------------------------------------------------------------- */

static const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        fail_msg("$%s is not set (ctest sets it: run the tests through ctest)", name);
    return v;
}

static vmbsave_runner *open_plugin(const char *path)
{
    char err[256] = "";
    vmbsave_runner *runner = vmbsave_runner_open_path(path, err, sizeof err);
    if (runner == NULL)
        fail_msg("cannot open %s: %s", path, err);
    return runner;
}

static vmbsave_runner *open_reference(void)
{
    return open_plugin(env_or_fail("VMBSAVE_DIFF_REFERENCE"));
}

static vmbsave_runner *open_variant(const char *name)
{
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/libvmbsave_variant_%s.so",
                     env_or_fail("VMBSAVE_DIFF_VARIANT_DIR"), name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    return open_plugin(path);
}

static vmbsave_differential *new_differential(void)
{
    char err[256] = "";
    vmbsave_differential *d = vmbsave_differential_new(err, sizeof err);
    if (d == NULL)
        fail_msg("%s", err);
    return d;
}

static void parse_text(const char *text, vmbsave_program *out)
{
    char err[256];
    if (vmbsave_program_parse(text, out, err, sizeof err) != 0)
        fail_msg("%s\n%s", err, text);
}

/* Reads and parses <dir>/<name> into *out. */
static void load_program(const char *dir, const char *name, vmbsave_program *out)
{
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open", path);
    static char text[VMBSAVE_PROGRAM_TEXT_MAX_BYTES + 1];
    size_t len = fread(text, 1, sizeof text, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error || len == sizeof text)
        fail_msg("%s: read error, or longer than %u bytes", path,
                 (unsigned)VMBSAVE_PROGRAM_TEXT_MAX_BYTES);
    text[len] = '\0';
    parse_text(text, out);
    assert_true(out->count > 0);
}

/* The names of the *.prog files in `dir`, sorted; returns how many (at most `cap`). */
static size_t list_programs(const char *dir, char names[][128], size_t cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("%s: cannot open", dir);
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".prog") != 0 || len >= 128)
            continue;
        if (count == cap)
            fail_msg("%s: more than %zu programs", dir, cap);
        memcpy(names[count++], e->d_name, len + 1);
    }
    closedir(d);
    qsort(names, count, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    return count;
}

#define MAX_PROGRAMS 64u

/* A canonical state's prefix, then CAPTURE, RESTORE into a fresh channel, CAPTURE. */
static void canonical_round_trip(vmbsave_canonical_id id, vmbsave_program *p)
{
    assert_true(vmbsave_canonical_prefix(id, p));
    const vmbsave_step tail[] = {
        {.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 0},
        {.op = VMBSAVE_OP_RESTORE, .ch = 1, .slot = 0, .mode = VMBSAVE_EDIT_WHOLE},
        {.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1},
    };
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        p->steps[p->count++] = tail[i];
}

static void print_outcome(const vmbsave_differential_result *r)
{
    print_message("    %s", vmbsave_differential_outcome_name(r->outcome));
    if (r->outcome == VMBSAVE_DIFFERENTIAL_DISAGREE) {
        const vmbsave_differential_disagreement *g = &r->disagreement;
        const char *field = vmbsave_differential_field_name(g->field);
        print_message(": %s at step %u, call %u (%s): reference %s=%s, implementation %s=%s",
                      g->clause, (unsigned)g->step, (unsigned)g->call, g->call_text, field,
                      g->reference, field, g->implementation);
    } else if (r->outcome == VMBSAVE_DIFFERENTIAL_IMPL_VIOLATION) {
        print_message(": %s at step %u", r->impl.violation.clause, (unsigned)r->impl.violation.step);
    } else if (r->outcome == VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION) {
        print_message(": %s at step %u", r->reference.violation.clause,
                      (unsigned)r->reference.violation.step);
    } else if (r->outcome == VMBSAVE_DIFFERENTIAL_ERROR) {
        print_message(": %s", r->error);
    }
    print_message("\n");
}

static void expect_agree(vmbsave_differential *d, vmbsave_runner *reference,
                         vmbsave_runner *impl, const vmbsave_program *p, const char *what)
{
    static vmbsave_differential_result r;
    vmbsave_differential_run(d, reference, impl, p, &r);
    if (r.outcome != VMBSAVE_DIFFERENTIAL_AGREE) {
        print_outcome(&r);
        fail_msg("%s: the runs must agree", what);
    }
    /* An agreement that compared nothing proves nothing. */
    assert_int_equal(r.impl.verdict, VMBSAVE_VERDICT_PASS);
    assert_int_equal(r.reference.verdict, VMBSAVE_VERDICT_PASS);
    assert_true(r.reference.trace_count > 0);
    assert_int_equal(r.reference.trace_count, r.impl.trace_count);
    assert_true(r.reference.has_descriptions && r.impl.has_descriptions);
}

/* ---- The reference against itself -------------------------------------------------------- */

/* Two independent reference runners agree on every canonical round trip and every program of
 * tests/variants/ and tests/differential/ (the determinism check the fuzz target makes when
 * VMBSAVE_FUZZ_IMPL is unset), and so does the bug-free wrapper (variants/passthrough.c). */
static void reference_agrees(void **state)
{
    (void)state;
    vmbsave_runner *a = open_reference(), *b = open_reference(), *pass = open_variant("passthrough");
    vmbsave_differential *d = new_differential();
    static vmbsave_program p;
    unsigned programs = 0;
    for (int id = 0; id < (int)VMBSAVE_CANONICAL_COUNT; id++) {
        canonical_round_trip(id, &p);
        expect_agree(d, a, b, &p, vmbsave_canonical_name(id));
        expect_agree(d, a, pass, &p, vmbsave_canonical_name(id));
        programs++;
    }
    static char names[MAX_PROGRAMS][128];
    const char *dirs[] = {VMBSAVE_VARIANT_PROGRAM_DIR, VMBSAVE_DIFFERENTIAL_PROGRAM_DIR};
    for (size_t k = 0; k < 2; k++) {
        size_t n = list_programs(dirs[k], names, MAX_PROGRAMS);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            load_program(dirs[k], names[i], &p);
            expect_agree(d, a, b, &p, names[i]);
            expect_agree(d, a, pass, &p, names[i]);
            programs++;
        }
    }
    print_message("%u programs agree\n", programs);
    assert_true(programs >= VMBSAVE_CANONICAL_COUNT + 19u + 1u);
    vmbsave_differential_free(d);
    vmbsave_runner_close(pass);
    vmbsave_runner_close(b);
    vmbsave_runner_close(a);
}

/* ---- The conformant variant -------------------------------------------------------------- */

static vmbsave_exhaustive_report *new_report(void)
{
    vmbsave_exhaustive_report *report = calloc(1, sizeof *report);
    if (report == NULL)
        fail_msg("out of memory");
    return report;
}

static void expect_exhaustive_ok(vmbsave_exhaustive_status st, vmbsave_exhaustive_report *report,
                                 const char *check, vmbsave_canonical_id id)
{
    if (st == VMBSAVE_EXHAUSTIVE_OK && report->status == VMBSAVE_EXHAUSTIVE_OK)
        return;
    vmbsave_exhaustive_report_print(report, stderr);
    fail_msg("%s from %s on %s: %s: %s", check, vmbsave_canonical_name(id), ALT_VARIANT,
             vmbsave_exhaustive_status_name(st), report->reason);
}

/* The oracle passes the conformant variant wherever it passes the reference: every program the
 * broken variants are caught with (tests/variants/, so HARNESS.VARIANT.* would not flag it),
 * every canonical round trip, every save-protocol sequence up to ALT_SAVE_PROTOCOL_LENGTH
 * calls, every restore grouping, the allocation-fault sweeps over a save and a restore, and
 * every packet-callback fault. It is not a broken variant: it never shows a violation. */
static void alt_conforms(void **state)
{
    (void)state;
    vmbsave_runner *alt = open_variant(ALT_VARIANT);
    static vmbsave_program p;
    static vmbsave_run_result r;
    static char names[MAX_PROGRAMS][128];
    size_t n = list_programs(VMBSAVE_VARIANT_PROGRAM_DIR, names, MAX_PROGRAMS);
    assert_true(n >= 19u);
    for (size_t i = 0; i < n; i++) {
        load_program(VMBSAVE_VARIANT_PROGRAM_DIR, names[i], &p);
        vmbsave_runner_run(alt, &p, NULL, &r);
        if (r.verdict != VMBSAVE_VERDICT_PASS)
            fail_msg("%s on %s: %s %s at step %u: expected %s, observed %s %s", names[i],
                     ALT_VARIANT, vmbsave_verdict_name(r.verdict), r.violation.clause,
                     (unsigned)r.violation.step, r.violation.expected, r.violation.observed,
                     r.error);
        assert_int_equal(r.steps_run + r.steps_skipped, p.count);
    }
    vmbsave_exhaustive_report *report = new_report();
    uint64_t programs = 0;
    for (int id = 0; id < (int)VMBSAVE_CANONICAL_COUNT; id++) {
        canonical_round_trip(id, &p);
        vmbsave_runner_run(alt, &p, NULL, &r);
        if (r.verdict != VMBSAVE_VERDICT_PASS)
            fail_msg("%s round trip on %s: %s %s", vmbsave_canonical_name(id), ALT_VARIANT,
                     vmbsave_verdict_name(r.verdict), r.violation.clause);
        expect_exhaustive_ok(vmbsave_exhaustive_save_protocol(alt, id, ALT_SAVE_PROTOCOL_LENGTH,
                                                              report),
                             report, "save protocol", id);
        programs += report->programs;
        expect_exhaustive_ok(vmbsave_exhaustive_restore_groupings(alt, id, report), report,
                             "restore groupings", id);
        programs += report->programs;
        for (int target = 0; target < 2; target++) {
            for (int mode = 0; mode < 2; mode++) {
                expect_exhaustive_ok(
                    vmbsave_exhaustive_fault_sweep(alt, id, (vmbsave_sweep_target)target,
                                                   mode == 0 ? VMBSAVE_FAULT_ONCE
                                                             : VMBSAVE_FAULT_FROM,
                                                   report),
                    report, target == 0 ? "save fault sweep" : "restore fault sweep", id);
                programs += report->programs;
            }
        }
    }
    const vmbsave_canonical_id packets = VMBSAVE_CANONICAL_PAUSED_PACKETS;
    expect_exhaustive_ok(vmbsave_exhaustive_save_packet_faults(alt, packets, report), report,
                         "save-packet faults", packets);
    programs += report->programs;
    expect_exhaustive_ok(vmbsave_exhaustive_restore_packet_faults(alt, packets, report), report,
                         "restore-packet faults", packets);
    programs += report->programs;
    print_message("%s: %zu variant programs and %" PRIu64 " exhaustive programs pass\n",
                  ALT_VARIANT, n, programs);
    assert_true(programs >= VMBSAVE_CANONICAL_COUNT * (8u + 64u + 512u));
    free(report);
    vmbsave_runner_close(alt);
}

/* What only the differential sees: on its witness the conformant variant passes the oracle and
 * differs from the reference at the save_continue whose 1 MiB buffer holds both chunks, under
 * SAVE.CONTINUE.WHOLE_CHUNKS; the bug-free wrapper on the same program agrees. */
static void finds_conformant_difference(void **state)
{
    (void)state;
    vmbsave_runner *ref = open_reference(), *alt = open_variant(ALT_VARIANT),
                   *pass = open_variant("passthrough");
    vmbsave_differential *d = new_differential();
    static vmbsave_program p;
    static vmbsave_differential_result r;
    load_program(VMBSAVE_DIFFERENTIAL_PROGRAM_DIR, ALT_VARIANT ".prog", &p);
    expect_agree(d, ref, pass, &p, "passthrough");

    vmbsave_differential_run(d, ref, alt, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_DISAGREE);
    assert_int_equal(r.impl.verdict, VMBSAVE_VERDICT_PASS);
    assert_int_equal(r.reference.verdict, VMBSAVE_VERDICT_PASS);
    const vmbsave_differential_disagreement *g = &r.disagreement;
    assert_string_equal(g->clause, ALT_CLAUSE);
    assert_int_equal(g->field, VMBSAVE_DIFF_FIELD_STATUS);
    assert_int_equal(g->step, 3);
    /* channel_allocate, init_set_offer, enable, save_begin, then this call. */
    assert_int_equal(g->call, 4);
    assert_string_equal(g->call_text, "save_continue(ch0, size=1048576)");
    assert_string_equal(g->reference, "STATUS_SUCCESS");
    assert_string_equal(g->implementation, "STATUS_BUFFER_OVERFLOW");

    /* A buffer with room for two of the three chunks (HEADER 248 bytes, GPADLS 92, END 64):
     * both progress, with different BytesFilled; the same clause. */
    static const char two_chunks[] = "offer ch=0 mode=valid salt=1\n"
                                     "enable ch=0\n"
                                     "gpadl_create ch=0 mode=valid id=3 pfns=4 salt=7\n"
                                     "save_begin ch=0\n"
                                     "save_continue ch=0 size=explicit bytes=350\n";
    parse_text(two_chunks, &p);
    vmbsave_differential_run(d, ref, alt, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_DISAGREE);
    assert_string_equal(r.disagreement.clause, ALT_CLAUSE);
    assert_int_equal(r.disagreement.field, VMBSAVE_DIFF_FIELD_FILLED);
    assert_int_equal(r.disagreement.step, 4);
    assert_string_equal(r.disagreement.reference, "340");
    assert_string_equal(r.disagreement.implementation, "248");

    /* A consequence of the same freedom: a call that writes fewer chunks reaches the packets,
     * and the driver's failure, later. With a packet whose save-packet query fails with
     * BytesNeeded 0, the reference's first 64 KiB call fails (it reaches the PACKETS chunk);
     * the variant's returns the HEADER alone. */
    static const char packet_fault[] = "offer ch=0 mode=valid salt=1\n"
                                       "enable ch=0\n"
                                       "gpadl_create ch=0 mode=valid id=1 pfns=4 salt=2\n"
                                       "open ch=0 mode=valid gpadl=1 in_pages=2 out_pages=2\n"
                                       "start ch=0\n"
                                       "packet_send ch=0 payload=small id=5 gpadl=0 bytes=8\n"
                                       "pause ch=0\n"
                                       "fault_save_packet mode=fail-first-zero packet=0\n"
                                       "capture ch=0 image=0\n";
    parse_text(packet_fault, &p);
    vmbsave_differential_run(d, ref, alt, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_DISAGREE);
    assert_string_equal(r.disagreement.clause, "PACKET.SAVE.SECOND_CALL_FAILS");
    assert_int_equal(r.disagreement.step, 8);
    assert_string_equal(r.disagreement.reference, "STATUS_UNSUCCESSFUL");
    assert_string_equal(r.disagreement.implementation, "STATUS_BUFFER_OVERFLOW");

    vmbsave_differential_free(d);
    vmbsave_runner_close(pass);
    vmbsave_runner_close(alt);
    vmbsave_runner_close(ref);
}

/* ---- The oracle first -------------------------------------------------------------------- */

/* A broken implementation is reported by the oracle, under its clause, before anything is
 * compared, and the reference is not even run; a violation on the reference's side is its own
 * outcome. */
static void oracle_first(void **state)
{
    (void)state;
    vmbsave_runner *ref = open_reference(), *broken = open_variant("overrun_one_byte");
    vmbsave_differential *d = new_differential();
    static vmbsave_program p;
    static vmbsave_differential_result r;
    load_program(VMBSAVE_VARIANT_PROGRAM_DIR, "overrun_one_byte.prog", &p);

    vmbsave_differential_run(d, ref, broken, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_IMPL_VIOLATION);
    assert_string_equal(r.impl.violation.clause, "SAVE.CONTINUE.NO_OVERRUN");
    assert_int_equal(r.impl.violation.step, 3);
    assert_int_equal(r.reference.calls, 0);
    assert_int_equal(r.reference.steps_run, 0);

    /* The broken one in the reference's place. */
    vmbsave_differential_run(d, broken, ref, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION);
    assert_int_equal(r.impl.verdict, VMBSAVE_VERDICT_PASS);
    assert_string_equal(r.reference.violation.clause, "SAVE.CONTINUE.NO_OVERRUN");

    vmbsave_differential_free(d);
    vmbsave_runner_close(broken);
    vmbsave_runner_close(ref);
}

/* ---- FAULT_ALLOC ------------------------------------------------------------------------- */

/* FAULT_ALLOC steps are dropped before both runs, and steps are reported as the input's: a
 * disagreement and a violation after dropped steps keep their input step numbers; a program of
 * fault directives alone runs nothing (ERROR, never AGREE). */
static void fault_alloc_dropped(void **state)
{
    (void)state;
    vmbsave_runner *ref = open_reference(), *alt = open_variant(ALT_VARIANT),
                   *broken = open_variant("overrun_one_byte");
    vmbsave_differential *d = new_differential();
    static vmbsave_program p;
    static vmbsave_differential_result r;

    static const char witness[] = "fault_alloc mode=once after=0\n"
                                  "offer ch=0 mode=valid salt=1\n"
                                  "enable ch=0\n"
                                  "fault_alloc mode=from after=1\n"
                                  "save_begin ch=0\n"
                                  "save_continue ch=0 size=large\n"
                                  "save_end ch=0\n";
    parse_text(witness, &p);
    vmbsave_differential_run(d, ref, alt, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.dropped_steps, 2);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_DISAGREE);
    assert_string_equal(r.disagreement.clause, ALT_CLAUSE);
    assert_int_equal(r.disagreement.step, 5);
    assert_int_equal(r.disagreement.call, 4);

    static const char overrun[] = "fault_alloc mode=once after=5\n"
                                  "offer ch=0 mode=valid salt=1\n"
                                  "enable ch=0\n"
                                  "save_begin ch=0\n"
                                  "save_continue ch=0 size=explicit bytes=300\n";
    parse_text(overrun, &p);
    vmbsave_differential_run(d, ref, broken, &p, &r);
    assert_int_equal(r.dropped_steps, 1);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_IMPL_VIOLATION);
    assert_string_equal(r.impl.violation.clause, "SAVE.CONTINUE.NO_OVERRUN");
    assert_int_equal(r.impl.violation.step, 4);

    parse_text("fault_alloc mode=once after=1\nfault_alloc mode=off\n", &p);
    vmbsave_differential_run(d, ref, alt, &p, &r);
    assert_int_equal(r.dropped_steps, 2);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_ERROR);

    /* Packet-callback directives stay: the same save fails in both runs of the reference, and
     * against the conformant variant the failure is what differs (dropped, the HEADER-only call
     * would differ under SAVE.CONTINUE.WHOLE_CHUNKS instead). */
    static const char packet_fault[] = "offer ch=0 mode=valid salt=1\n"
                                       "enable ch=0\n"
                                       "gpadl_create ch=0 mode=valid id=1 pfns=4 salt=2\n"
                                       "open ch=0 mode=valid gpadl=1 in_pages=2 out_pages=2\n"
                                       "start ch=0\n"
                                       "packet_send ch=0 payload=small id=5 gpadl=0 bytes=8\n"
                                       "pause ch=0\n"
                                       "fault_save_packet mode=fail-first-zero packet=0\n"
                                       "capture ch=0 image=0\n";
    parse_text(packet_fault, &p);
    vmbsave_differential_run(d, ref, ref, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.dropped_steps, 0);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_AGREE);
    vmbsave_differential_run(d, ref, alt, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.dropped_steps, 0);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_DISAGREE);
    assert_string_equal(r.disagreement.reference, "STATUS_UNSUCCESSFUL");

    vmbsave_differential_free(d);
    vmbsave_runner_close(broken);
    vmbsave_runner_close(alt);
    vmbsave_runner_close(ref);
}

/* ---- Descriptions ------------------------------------------------------------------------ */

/* The reference's entry point without VMBSAVE_CAP_DESCRIBE, so that the oracle checks no
 * description, and with describe() replaced: refusing (an implementation that does not
 * describe), or the reference's text with its first letter capitalised (one that describes
 * otherwise). Everything the calls show still agrees with the reference. */
static vmbsave_get_interface_fn reference_entry;
static NTSTATUS (*reference_describe)(vmbsave_channel *, char *, uint32_t, uint32_t *);

static NTSTATUS describe_refused(vmbsave_channel *channel, char *buffer, uint32_t size,
                                 uint32_t *required)
{
    (void)channel;
    (void)buffer;
    (void)size;
    (void)required;
    return STATUS_NOT_SUPPORTED;
}

static NTSTATUS describe_otherwise(vmbsave_channel *channel, char *buffer, uint32_t size,
                                   uint32_t *required)
{
    NTSTATUS st = reference_describe(channel, buffer, size, required);
    if (st == STATUS_SUCCESS && buffer != NULL && size > 0 && buffer[0] >= 'a' && buffer[0] <= 'z')
        buffer[0] = (char)(buffer[0] - 'a' + 'A');
    return st;
}

static NTSTATUS entry_with(const char *name, uint32_t abi_major, const vmbsave_host_v1 *host,
                           vmbsave_interface_v1 *out, uint32_t out_size, bool refuse)
{
    NTSTATUS st = reference_entry(name, abi_major, host, out, out_size);
    if (st == STATUS_SUCCESS) {
        out->capabilities &= ~(uint64_t)VMBSAVE_CAP_DESCRIBE;
        reference_describe = out->describe;
        out->describe = refuse ? describe_refused : describe_otherwise;
    }
    return st;
}

static NTSTATUS entry_refusing(const char *name, uint32_t abi_major, const vmbsave_host_v1 *host,
                               vmbsave_interface_v1 *out, uint32_t out_size)
{
    return entry_with(name, abi_major, host, out, out_size, true);
}

static NTSTATUS entry_otherwise(const char *name, uint32_t abi_major, const vmbsave_host_v1 *host,
                                vmbsave_interface_v1 *out, uint32_t out_size)
{
    return entry_with(name, abi_major, host, out, out_size, false);
}

static vmbsave_runner *open_entry(vmbsave_get_interface_fn entry)
{
    char err[256] = "";
    vmbsave_runner *runner = vmbsave_runner_open_entry(entry, err, sizeof err);
    if (runner == NULL)
        fail_msg("%s", err);
    return runner;
}

/* Final descriptions are compared per channel slot where both runs describe: a channel that
 * describes otherwise is a disagreement under ABI.DESCRIBE.FORMAT at the end of the program;
 * an implementation that does not describe (the capability is optional) is not one, and with
 * every channel cleaned up there is nothing to compare. */
static void descriptions_compared(void **state)
{
    (void)state;
    void *dl = dlopen(env_or_fail("VMBSAVE_DIFF_REFERENCE"), RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL)
        fail_msg("dlopen: %s", dlerror());
    void *sym = dlsym(dl, VMBSAVE_ENTRY_POINT);
    assert_non_null(sym);
    memcpy(&reference_entry, &sym, sizeof reference_entry);
    vmbsave_runner *otherwise = open_entry(entry_otherwise);
    vmbsave_runner *refusing = open_entry(entry_refusing);
    vmbsave_runner *ref = open_reference();
    vmbsave_differential *d = new_differential();
    static vmbsave_program p;
    static vmbsave_differential_result r;

    parse_text("offer ch=0 mode=valid salt=1\nenable ch=0\noffer ch=2 mode=valid salt=5\n", &p);
    vmbsave_differential_run(d, ref, otherwise, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_DISAGREE);
    const vmbsave_differential_disagreement *g = &r.disagreement;
    assert_int_equal(g->field, VMBSAVE_DIFF_FIELD_DESCRIPTION);
    assert_string_equal(g->clause, "ABI.DESCRIBE.FORMAT");
    assert_int_equal(g->step, 3);
    assert_int_equal(g->call, r.reference.trace_count);
    assert_true(strncmp(g->reference, "ch0 ", 4) == 0 && strstr(g->reference, " bytes (xxh3 "));
    assert_true(strncmp(g->implementation, "ch0 ", 4) == 0);
    assert_string_not_equal(g->reference, g->implementation);
    assert_true(r.reference.descriptions[0].live && r.reference.descriptions[0].described);
    assert_int_equal(r.reference.descriptions[0].bytes, r.impl.descriptions[0].bytes);
    assert_false(r.reference.descriptions[1].live);
    assert_true(r.reference.descriptions[2].live);
    /* Two different channels describe differently. */
    assert_true(r.reference.descriptions[0].digest != r.reference.descriptions[2].digest);

    vmbsave_differential_run(d, ref, refusing, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_AGREE);
    assert_true(r.impl.descriptions[0].live && !r.impl.descriptions[0].described);

    parse_text("offer ch=0 mode=valid salt=1\nenable ch=0\ncleanup ch=0\n", &p);
    vmbsave_differential_run(d, ref, otherwise, &p, &r);
    print_outcome(&r);
    assert_int_equal(r.outcome, VMBSAVE_DIFFERENTIAL_AGREE);
    assert_false(r.impl.descriptions[0].live);

    vmbsave_differential_free(d);
    vmbsave_runner_close(ref);
    vmbsave_runner_close(refusing);
    vmbsave_runner_close(otherwise);
    dlclose(dl);
}

/* ---- The clause table -------------------------------------------------------------------- */

static char *read_spec(void)
{
    FILE *f = fopen(VMBSAVE_SPEC_PATH, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open", VMBSAVE_SPEC_PATH);
    size_t cap = 1u << 20;
    char *text = malloc(cap + 1);
    assert_non_null(text);
    size_t len = fread(text, 1, cap, f);
    fclose(f);
    assert_true(len > 0 && len < cap);
    text[len] = '\0';
    return text;
}

/* Whether SPEC.md has a clause headed "### `id`". */
static bool spec_has(const char *spec, const char *id)
{
    char heading[96];
    snprintf(heading, sizeof heading, "### `%s`\n", id);
    return strstr(spec, heading) != NULL;
}

/* Every call a run makes (canonical round trips, every variant program, and a program that
 * makes each lifecycle call) is in the clause table, every clause the table can give is a
 * clause of SPEC.md, and the choices documented in docs/DIFFERENTIAL.md hold. */
static void clause_table(void **state)
{
    (void)state;
    char *spec = read_spec();
    vmbsave_runner *ref = open_reference();
    static vmbsave_trace_entry trace[4096];
    static vmbsave_program p;
    static vmbsave_run_result r;
    static char names[MAX_PROGRAMS][128];
    static const NTSTATUS statuses[] = {
        STATUS_SUCCESS, STATUS_BUFFER_OVERFLOW, STATUS_MORE_PROCESSING_REQUIRED,
        STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_PARAMETER, STATUS_INVALID_DEVICE_STATE,
        STATUS_IMPLEMENTATION_LIMIT, STATUS_NOT_FOUND, STATUS_DUPLICATE_OBJECTID,
        STATUS_INSUFFICIENT_RESOURCES, STATUS_UNSUCCESSFUL, STATUS_INTERNAL_ERROR,
        STATUS_DATA_ERROR, STATUS_FILE_CORRUPT_ERROR, STATUS_UNKNOWN_REVISION,
        STATUS_REQUEST_OUT_OF_SEQUENCE, STATUS_REVISION_MISMATCH, STATUS_NOT_SUPPORTED,
        STATUS_INVALID_BUFFER_SIZE};
    const size_t nstatus = sizeof statuses / sizeof statuses[0];
    static const char every_call[] = "offer ch=0 mode=valid salt=1\n"
                                     "enable ch=0\n"
                                     "gpadl_create ch=0 mode=valid id=1 pfns=4 salt=2\n"
                                     "gpadl_create ch=0 mode=valid id=2 pfns=1 salt=3\n"
                                     "open ch=0 mode=valid gpadl=1 in_pages=2 out_pages=2\n"
                                     "start ch=0\n"
                                     "packet_send ch=0 payload=small id=5 gpadl=0 bytes=8\n"
                                     "packet_complete ch=0 id=5\n"
                                     "ring_write ch=0 dir=in bytes=40 salt=7\n"
                                     "ring_read ch=0 dir=in bytes=40\n"
                                     "pause ch=0\n"
                                     "gpadl_teardown_begin ch=0 id=2\n"
                                     "gpadl_teardown_complete ch=0 id=2\n"
                                     "close ch=0\n"
                                     "capture ch=0 image=0\n"
                                     "restore ch=1 image=0 edit=whole per_call=0\n"
                                     "disable ch=0\n"
                                     "cleanup ch=0\n";
    size_t nprog = list_programs(VMBSAVE_VARIANT_PROGRAM_DIR, names, MAX_PROGRAMS);
    unsigned calls_checked = 0;
    /* Each operation's clauses are checked once, at its first call. */
    bool seen[VMBSAVE_CALL_OP_COUNT] = {false};
    size_t nseen = 0;
    for (size_t k = 0; k < nprog + VMBSAVE_CANONICAL_COUNT + 1u; k++) {
        if (k < nprog)
            load_program(VMBSAVE_VARIANT_PROGRAM_DIR, names[k], &p);
        else if (k < nprog + VMBSAVE_CANONICAL_COUNT)
            canonical_round_trip((vmbsave_canonical_id)(k - nprog), &p);
        else
            parse_text(every_call, &p);
        vmbsave_run_options opt = {.trace = trace, .trace_cap = 4096};
        vmbsave_runner_run(ref, &p, &opt, &r);
        assert_int_equal(r.verdict, VMBSAVE_VERDICT_PASS);
        assert_int_equal(r.trace_count, r.calls);
        for (uint32_t i = 0; i < r.trace_count; i++) {
            const vmbsave_call *call = &trace[i].call;
            const vmbsave_call_desc *d = vmbsave_call_desc_of(call->op);
            char text[192];
            vmbsave_call_text(call, text, sizeof text);
            if (call->op >= VMBSAVE_CALL_OP_COUNT || !d->traced || d->clause == NULL ||
                d->params_clause == NULL || d->limit_clause == NULL)
                fail_msg("the descriptor of the traced call %s has no clauses", text);
            calls_checked++;
            if (seen[call->op])
                continue;
            seen[call->op] = true;
            nseen++;
            for (int f = 0; f < (int)VMBSAVE_DIFF_FIELD_COUNT; f++) {
                for (size_t x = 0; x < nstatus; x++) {
                    for (size_t y = 0; y < nstatus; y++) {
                        const char *c = vmbsave_differential_clause(
                            call, (vmbsave_differential_field)f, true, statuses[x], statuses[y]);
                        if (!spec_has(spec, c))
                            fail_msg("%s, %s: %s is not a clause of SPEC.md", text,
                                     vmbsave_differential_field_name(f), c);
                    }
                }
            }
        }
    }
    print_message("%u calls checked, %zu functions\n", calls_checked, nseen);
    assert_true(calls_checked > 100);
    /* Every function the runner calls through the table: 21 (describe is never traced). */
    assert_int_equal(nseen, 21);
    assert_false(vmbsave_call_desc_of(VMBSAVE_CALL_DESCRIBE)->traced);
    assert_false(vmbsave_call_desc_of(VMBSAVE_CALL_HOST_FILL_BYTE)->traced);
    assert_null(vmbsave_call_desc_of(VMBSAVE_CALL_OP_COUNT)->clause);

    /* The choices docs/DIFFERENTIAL.md documents. */
    static const vmbsave_call
        save_large = {.op = VMBSAVE_CALL_SAVE_CONTINUE, .arg = {1048576}},
        save_40 = {.op = VMBSAVE_CALL_SAVE_CONTINUE, .arg = {40}},
        teardown = {.op = VMBSAVE_CALL_GPADL_TEARDOWN_BEGIN, .arg = {3}},
        offer_null = {.op = VMBSAVE_CALL_INIT_SET_OFFER, .flags = VMBSAVE_CALL_NULL_ARG},
        enable = {.op = VMBSAVE_CALL_ENABLE},
        ring_read = {.op = VMBSAVE_CALL_RING_READ, .arg = {0, 40}},
        save_begin = {.op = VMBSAVE_CALL_SAVE_BEGIN},
        restore = {.op = VMBSAVE_CALL_RESTORE_FROM_BUFFER, .slot = 1, .arg = {0, 10, 10}},
        allocate = {.op = VMBSAVE_CALL_CHANNEL_ALLOCATE};
    struct {
        const vmbsave_call *call;
        vmbsave_differential_field field;
        NTSTATUS ref, impl;
        const char *clause;
    } choices[] = {
        {&save_large, VMBSAVE_DIFF_FIELD_STATUS, STATUS_SUCCESS,
         STATUS_BUFFER_OVERFLOW, "SAVE.CONTINUE.WHOLE_CHUNKS"},
        {&save_40, VMBSAVE_DIFF_FIELD_STATUS, STATUS_BUFFER_OVERFLOW,
         STATUS_BUFFER_TOO_SMALL, "SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS"},
        {&save_40, VMBSAVE_DIFF_FIELD_STATUS, STATUS_UNSUCCESSFUL,
         STATUS_INTERNAL_ERROR, "PACKET.SAVE.SECOND_CALL_FAILS"},
        {&save_40, VMBSAVE_DIFF_FIELD_STATUS, STATUS_BUFFER_OVERFLOW,
         STATUS_INSUFFICIENT_RESOURCES, "RESOURCES.ALLOC_FAILURE.STATUS"},
        {&save_40, VMBSAVE_DIFF_FIELD_FILLED, STATUS_BUFFER_OVERFLOW,
         STATUS_BUFFER_OVERFLOW, "SAVE.CONTINUE.WHOLE_CHUNKS"},
        {&save_40, VMBSAVE_DIFF_FIELD_REQUIRED, STATUS_BUFFER_TOO_SMALL,
         STATUS_BUFFER_TOO_SMALL, "SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS"},
        {&save_40, VMBSAVE_DIFF_FIELD_OUTPUT, STATUS_BUFFER_OVERFLOW,
         STATUS_BUFFER_OVERFLOW, "SAVE.IMAGE.COMPLETE"},
        {&teardown, VMBSAVE_DIFF_FIELD_STATUS,
         STATUS_INVALID_DEVICE_STATE, STATUS_NOT_FOUND, "LIFECYCLE.CHECK_ORDER"},
        {&offer_null, VMBSAVE_DIFF_FIELD_STATUS, STATUS_SUCCESS,
         STATUS_IMPLEMENTATION_LIMIT, "LIMIT.OFFER"},
        {&offer_null, VMBSAVE_DIFF_FIELD_STATUS, STATUS_INVALID_PARAMETER,
         STATUS_SUCCESS, "LIFECYCLE.OFFER.VALIDATION"},
        {&enable, VMBSAVE_DIFF_FIELD_STATUS, STATUS_SUCCESS, STATUS_INVALID_DEVICE_STATE,
         "LIFECYCLE.ENABLE.REQUIRES_OFFER"},
        {&ring_read, VMBSAVE_DIFF_FIELD_OUTPUT, STATUS_SUCCESS,
         STATUS_SUCCESS, "LIFECYCLE.RING.FIFO"},
        {&save_begin, VMBSAVE_DIFF_FIELD_STATUS, STATUS_SUCCESS,
         STATUS_INVALID_DEVICE_STATE, "SAVE.BEGIN.REFUSED_STATES"},
        {&restore, VMBSAVE_DIFF_FIELD_STATUS,
         STATUS_DATA_ERROR, STATUS_FILE_CORRUPT_ERROR, "RESTORE.CORRUPT.CHECKSUM"},
        {&restore, VMBSAVE_DIFF_FIELD_STATUS,
         STATUS_SUCCESS, STATUS_REVISION_MISMATCH, "RESTORE.FOREIGN_CHUNK"},
        {&restore, VMBSAVE_DIFF_FIELD_STATUS,
         STATUS_SUCCESS, STATUS_MORE_PROCESSING_REQUIRED, "RESTORE.MORE_PROCESSING"},
        {&allocate, VMBSAVE_DIFF_FIELD_CALLS, STATUS_SUCCESS, STATUS_SUCCESS,
         "LIFECYCLE.ALLOCATE.DISABLED_FRESH"},
        {NULL, VMBSAVE_DIFF_FIELD_DESCRIPTION, 0, 0, "ABI.DESCRIBE.FORMAT"},
    };
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
        const char *c = vmbsave_differential_clause(choices[i].call, choices[i].field, true,
                                                    choices[i].ref, choices[i].impl);
        char text[192] = "(end)";
        if (choices[i].call != NULL)
            vmbsave_call_text(choices[i].call, text, sizeof text);
        if (strcmp(c, choices[i].clause) != 0)
            fail_msg("%s, %s: %s, documented %s", text,
                     vmbsave_differential_field_name(choices[i].field), c, choices[i].clause);
    }
    vmbsave_runner_close(ref);
    free(spec);
}

/* ---- The runner's digests ---------------------------------------------------------------- */

/* With options->digests the trace carries a digest of what each call wrote for the caller, and
 * the result each live channel's final description; without, neither (the other fuzz targets
 * pay nothing). ring_read's digest is that of the bytes ring_write put in; save_continue's
 * covers BytesFilled bytes and changes with the state saved. */
static void runner_digests(void **state)
{
    (void)state;
    vmbsave_runner *ref = open_reference();
    static vmbsave_trace_entry trace[256];
    static vmbsave_program p;
    static vmbsave_run_result r;
    static const char ring[] = "offer ch=0 mode=valid salt=1\n"
                               "enable ch=0\n"
                               "gpadl_create ch=0 mode=valid id=1 pfns=4 salt=2\n"
                               "open ch=0 mode=valid gpadl=1 in_pages=2 out_pages=2\n"
                               "start ch=0\n"
                               "ring_write ch=0 dir=in bytes=40 salt=7\n"
                               "ring_read ch=0 dir=in bytes=100\n"
                               "ring_read ch=0 dir=in bytes=100\n"
                               "pause ch=0\n"
                               "save_begin ch=0\n"
                               "save_continue ch=0 size=large\n"
                               "save_continue ch=0 size=large\n";
    parse_text(ring, &p);
    vmbsave_run_options opt = {.trace = trace, .trace_cap = 256, .digests = true};
    vmbsave_runner_run(ref, &p, &opt, &r);
    assert_int_equal(r.verdict, VMBSAVE_VERDICT_PASS);
    uint8_t written[40];
    vmbsave_args_bytes(vmbsave_args_ring_seed(7), written, sizeof written);
    int reads = 0, saves = 0;
    uint64_t image_digest = 0;
    for (uint32_t i = 0; i < r.trace_count; i++) {
        const vmbsave_trace_entry *e = &trace[i];
        if (e->call.op == VMBSAVE_CALL_RING_READ) {
            assert_true(e->has_output);
            uint32_t want = reads == 0 ? 40u : 0u; /* then the ring is empty */
            assert_int_equal(e->output_bytes, want);
            assert_int_equal(e->filled, want);
            assert_true(e->output_digest == vmbsave_hash(written, want, 0));
            reads++;
        } else if (e->call.op == VMBSAVE_CALL_SAVE_CONTINUE && e->step == 10) {
            assert_true(e->has_output);
            assert_int_equal(e->status, STATUS_SUCCESS);
            assert_int_equal(e->output_bytes, e->filled);
            image_digest = e->output_digest;
            saves++;
        } else if (e->call.op == VMBSAVE_CALL_SAVE_CONTINUE && e->step == 11) {
            /* After SUCCESS: INVALID_DEVICE_STATE, nothing written. */
            assert_false(e->has_output);
            saves++;
        } else if (e->call.op != VMBSAVE_CALL_SAVE_CONTINUE) {
            assert_false(e->has_output);
        }
    }
    assert_int_equal(reads, 2);
    assert_int_equal(saves, 2);
    assert_true(r.has_descriptions);
    assert_true(r.descriptions[0].live && r.descriptions[0].described);
    assert_true(r.descriptions[0].bytes > 100);
    assert_false(r.descriptions[1].live || r.descriptions[2].live);

    /* The same program again: the same digests. Another offer: another image. */
    uint64_t description = r.descriptions[0].digest;
    vmbsave_runner_run(ref, &p, &opt, &r);
    assert_true(r.descriptions[0].digest == description);
    p.steps[0].a = 2; /* offer salt */
    vmbsave_runner_run(ref, &p, &opt, &r);
    assert_int_equal(r.verdict, VMBSAVE_VERDICT_PASS);
    assert_true(r.descriptions[0].digest != description);
    bool found = false;
    for (uint32_t i = 0; i < r.trace_count; i++) {
        if (trace[i].step == 10 && trace[i].has_output) {
            assert_true(trace[i].output_digest != image_digest);
            found = true;
        }
    }
    assert_true(found);

    /* Digests off: none kept. */
    opt.digests = false;
    vmbsave_runner_run(ref, &p, &opt, &r);
    assert_int_equal(r.verdict, VMBSAVE_VERDICT_PASS);
    assert_false(r.has_descriptions);
    for (uint32_t i = 0; i < r.trace_count; i++)
        assert_false(trace[i].has_output);
    vmbsave_runner_close(ref);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.DIFFERENTIAL.REFERENCE_AGREES", reference_agrees),
    CLAUSE_TEST("HARNESS.DIFFERENTIAL.ALT_CONFORMS", alt_conforms),
    CLAUSE_TEST("HARNESS.DIFFERENTIAL.FINDS_CONFORMANT_DIFFERENCE", finds_conformant_difference),
    CLAUSE_TEST("HARNESS.DIFFERENTIAL.ORACLE_FIRST", oracle_first),
    CLAUSE_TEST("HARNESS.DIFFERENTIAL.FAULT_ALLOC_DROPPED", fault_alloc_dropped),
    CLAUSE_TEST("HARNESS.DIFFERENTIAL.DESCRIPTIONS_COMPARED", descriptions_compared),
    CLAUSE_TEST("HARNESS.DIFFERENTIAL.CLAUSE_TABLE", clause_table),
    CLAUSE_TEST("HARNESS.DIFFERENTIAL.RUNNER_DIGESTS", runner_digests),
};

CLAUSE_TEST_MAIN("differential", tests)
