/* HARNESS.VIOLATION.STRUCTURED, HARNESS.CLAUSES.GENERATED, HARNESS.OPS.DESCRIPTORS: what the
 * oracle reports and names is typed.
 *
 * Every violation carries its expected and observed values as typed fields
 * (harness/oracle/violation.h), from which the text is rendered: run every program of
 * tests/variants/ against every deliberately broken plug-in of variants/, alone and after each
 * canonical state's prefix, and check each violation they produce. The clause IDs the code
 * names are generated from docs/SPEC.md (oracle/spec_clauses.h): the list equals SPEC.md's.
 * Every operation has a descriptor (oracle/ops.h) whose printers give the trace's texts.
 *
 * Paths: the programs and SPEC.md from VMBSAVE_TEST_DATA_DIR (tests/data), the plug-ins from
 * $VMBSAVE_VARIANT_DIR, or else the build's variants/ folder beside this executable's. */
#define _POSIX_C_SOURCE 200809L /* readlink */

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clause_test.h"
#include "oracle/ops.h"
#include "oracle/spec_clauses.h"
#include "program/canonical.h"
#include "program/program.h"
#include "run/runner.h"

#define PROGRAM_DIR VMBSAVE_TEST_DATA_DIR "/../variants"
#define SPEC_PATH VMBSAVE_TEST_DATA_DIR "/../../docs/SPEC.md"
#define MAX_NAMES 64

/* ---- Helpers ------------------------------------------------------------------------------- */

/* snprintf that fails the test rather than cut a path. */
#define FORMAT(buf, ...) assert_true((size_t)snprintf(buf, sizeof buf, __VA_ARGS__) < sizeof buf)

static void variant_dir(char *out, size_t cap)
{
    const char *env = getenv("VMBSAVE_VARIANT_DIR");
    if (env != NULL && env[0] != '\0') {
        assert_true((size_t)snprintf(out, cap, "%s", env) < cap);
        return;
    }
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1u);
    assert_true(n > 0);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    assert_non_null(slash);
    *slash = '\0';
    /* build/<preset>/tests -> build/<preset>/variants */
    assert_true((size_t)snprintf(out, cap, "%s/../variants", self) < cap);
}

/* The names of the .prog files of tests/variants/ (each named after its variant). */
static size_t program_names(char names[][64], size_t cap)
{
    DIR *d = opendir(PROGRAM_DIR);
    if (d == NULL)
        fail_msg("%s: cannot open", PROGRAM_DIR);
    size_t n = 0;
    for (struct dirent *e = readdir(d); e != NULL && n < cap; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (len > 5 && len < 64 && strcmp(e->d_name + len - 5, ".prog") == 0) {
            memcpy(names[n], e->d_name, len - 5);
            names[n++][len - 5] = '\0';
        }
    }
    closedir(d);
    return n;
}

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open", path);
    size_t cap = 1u << 20, len = 0;
    char *text = malloc(cap + 1u);
    assert_non_null(text);
    len = fread(text, 1, cap, f);
    assert_true(len < cap);
    fclose(f);
    text[len] = '\0';
    if (size != NULL)
        *size = len;
    return text;
}

static void load_program(const char *name, vmbsave_program *out)
{
    char path[1024];
    FORMAT(path, "%s/%s.prog", PROGRAM_DIR, name);
    char *text = read_file(path, NULL);
    char err[256];
    if (vmbsave_program_parse(text, out, err, sizeof err) != 0)
        fail_msg("%s: %s", path, err);
    free(text);
}

/* ---- HARNESS.VIOLATION.STRUCTURED ------------------------------------------------------------ */

static bool has_statuses(const vmbsave_value *v)
{
    return (v->kind == VMBSAVE_VALUE_STATUS_SET || v->kind == VMBSAVE_VALUE_STATUS) &&
           v->u.status.n > 0 && v->u.status.n <= VMBSAVE_VALUE_MAX_STATUSES;
}

/* What each check kind's values must hold: what a reproducer or a test reads from them. */
static void check_violation(const char *what, const vmbsave_violation *v)
{
    char ex[256], ob[256];
    vmbsave_violation_format_expected(v, ex, sizeof ex);
    vmbsave_violation_format_observed(v, ob, sizeof ob);
    const char *why = NULL;
    if (v->want.kind == VMBSAVE_VALUE_NONE || v->want.kind >= VMBSAVE_VALUE_KIND_COUNT)
        why = "no expected value";
    else if (v->seen.kind == VMBSAVE_VALUE_NONE || v->seen.kind >= VMBSAVE_VALUE_KIND_COUNT)
        why = "no observed value";
    else if (ex[0] == '\0' || ob[0] == '\0')
        why = "an empty rendered text";
    else if (strcmp(ex, v->expected) != 0 || strcmp(ob, v->observed) != 0)
        why = "the result's text is not the values' rendering";
    else {
        switch (v->kind) {
        case VMBSAVE_CHECK_STATUS:
            if (!has_statuses(&v->want) || !has_statuses(&v->seen))
                why = "a STATUS check without a status set and the status seen";
            break;
        case VMBSAVE_CHECK_COUNTS:
            if (v->want.kind != VMBSAVE_VALUE_COUNTS && v->want.kind != VMBSAVE_VALUE_BYTE)
                why = "a COUNTS check expecting neither counts nor bytes";
            else if (v->want.kind == VMBSAVE_VALUE_COUNTS &&
                     !v->want.u.counts.has_filled && !v->want.u.counts.has_required)
                why = "a COUNTS value with no count";
            break;
        case VMBSAVE_CHECK_LEAK:
            if (v->want.kind != VMBSAVE_VALUE_LIVE && v->want.kind != VMBSAVE_VALUE_NUMBER)
                why = "a LEAK check without a live count";
            else if (v->want.kind == VMBSAVE_VALUE_LIVE && v->seen.kind != VMBSAVE_VALUE_LIVE)
                why = "a LEAK check without the live count seen";
            break;
        case VMBSAVE_CHECK_GUARD:
            if (v->want.kind != VMBSAVE_VALUE_EXTENT || v->seen.kind != VMBSAVE_VALUE_BYTE)
                why = "a GUARD check without the writable extent and the byte changed";
            break;
        case VMBSAVE_CHECK_CHUNKS:
        case VMBSAVE_CHECK_IMAGE:
            if (v->want.kind != VMBSAVE_VALUE_CHUNK)
                why = "a CHUNKS/IMAGE check without the chunk";
            break;
        case VMBSAVE_CHECK_DESCRIBE:
            if (v->want.kind != VMBSAVE_VALUE_LINE || v->seen.kind != VMBSAVE_VALUE_LINE)
                why = "a DESCRIBE check without the line";
            break;
        case VMBSAVE_CHECK_CALLBACK: break;
        case VMBSAVE_CHECK_KIND_COUNT: why = "no check kind"; break;
        }
    }
    if (why != NULL)
        fail_msg("%s: %s at step %u (%s check, values %s / %s): %s\n  expected %s\n  observed %s",
                 what, v->clause, (unsigned)v->step, vmbsave_check_kind_name(v->kind),
                 vmbsave_value_kind_name((vmbsave_value_kind)v->want.kind),
                 vmbsave_value_kind_name((vmbsave_value_kind)v->seen.kind), why, ex, ob);
}

/* After a canonical state: a session in every size mode, a capture, restores with edits. */
static const char tail[] = "save_begin ch=0\n"
                           "save_continue ch=0 size=zero-null\n"
                           "save_continue ch=0 size=one\n"
                           "save_continue ch=0 size=required\n"
                           "save_continue ch=0 size=null-filled bytes=64\n"
                           "save_continue ch=0 size=max-chunk\n"
                           "save_continue ch=0 size=large\n"
                           "save_continue ch=0 size=large\n"
                           "save_end ch=0\n"
                           "save_begin ch=0\n"
                           "save_begin ch=0\n"
                           "save_end ch=0\n"
                           "capture ch=0 image=0\n"
                           "restore ch=1 image=0 edit=whole per_call=1\n"
                           "restore ch=2 image=0 edit=bit-flip bit=777\n"
                           "cleanup ch=2\n"
                           "restore ch=2 image=0 edit=truncate at=100 per_call=0\n"
                           "capture ch=1 image=1\n"
                           "enable ch=1\n"
                           "cleanup ch=1\n"
                           "cleanup ch=0\n";

static void violations_are_structured(void **state)
{
    (void)state;
    static char names[MAX_NAMES][64];
    size_t n = program_names(names, MAX_NAMES);
    assert_true(n >= 10);
    char dir[1024];
    variant_dir(dir, sizeof dir);
    vmbsave_program tail_program;
    char err[256];
    if (vmbsave_program_parse(tail, &tail_program, err, sizeof err) != 0)
        fail_msg("tail: %s", err);
    static vmbsave_program p;
    static vmbsave_run_result r;
    unsigned violations = 0, runs = 0;
    unsigned kinds[VMBSAVE_CHECK_KIND_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        char path[1200];
        FORMAT(path, "%s/libvmbsave_variant_%s.so", dir, names[i]);
        vmbsave_runner *runner = vmbsave_runner_open_path(path, err, sizeof err);
        if (runner == NULL)
            fail_msg("%s: %s", path, err);
        for (int k = -1; k < (int)VMBSAVE_CANONICAL_COUNT; k++) {
            char what[256];
            if (k < 0) {
                load_program(names[i], &p);
                FORMAT(what, "%s.prog on its variant", names[i]);
            } else {
                assert_true(vmbsave_canonical_prefix((vmbsave_canonical_id)k, &p));
                for (uint32_t s = 0; s < tail_program.count && p.count < VMBSAVE_PROGRAM_MAX_STEPS;
                     s++)
                    p.steps[p.count++] = tail_program.steps[s];
                FORMAT(what, "%s after %s", names[i],
                       vmbsave_canonical_name((vmbsave_canonical_id)k));
            }
            vmbsave_runner_run(runner, &p, NULL, &r);
            runs++;
            if (k < 0 && r.verdict != VMBSAVE_VERDICT_VIOLATION)
                fail_msg("%s: %s, expected a violation", what, vmbsave_verdict_name(r.verdict));
            if (r.verdict != VMBSAVE_VERDICT_VIOLATION)
                continue;
            check_violation(what, &r.violation);
            violations++;
            kinds[r.violation.kind]++;
        }
        vmbsave_runner_close(runner);
    }
    print_message("%u runs, %u violations:", runs, violations);
    for (unsigned k = 0; k < VMBSAVE_CHECK_KIND_COUNT; k++)
        print_message(" %s %u", vmbsave_check_kind_name((vmbsave_check_kind)k), kinds[k]);
    print_message("\n");
    assert_true(violations >= n);
}

/* ---- HARNESS.CLAUSES.GENERATED --------------------------------------------------------------- */

/* The IDs of SPEC.md as tests/selftest/check_clause_coverage.sh reads them: backquoted dotted
 * upper-case IDs in "### " headings, except WITHDRAWN clauses. */
static size_t spec_ids(const char *spec, char ids[][96], size_t cap)
{
    size_t n = 0;
    char pending[8][96];
    size_t npending = 0;
    bool withdrawn = false;
    const char *line = spec;
    for (;;) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        bool heading = len > 0 && line[0] == '#';
        if (heading || end == NULL) {
            for (size_t i = 0; i < npending && !withdrawn && n < cap; i++)
                memcpy(ids[n++], pending[i], sizeof pending[i]);
            npending = 0;
            withdrawn = false;
        }
        if (len > 4 && strncmp(line, "### ", 4) == 0) {
            for (const char *p = line; p < line + len; p++) {
                if (*p != '`')
                    continue;
                const char *q = memchr(p + 1, '`', (size_t)(line + len - p - 1));
                if (q == NULL)
                    break;
                size_t idlen = (size_t)(q - p - 1);
                bool ok = idlen > 0 && idlen < 96 && p[1] >= 'A' && p[1] <= 'Z' &&
                          memchr(p + 1, '.', idlen) != NULL;
                for (const char *c = p + 1; c < q && ok; c++)
                    ok = (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                         (*c == '.' && c[1] != '.' && c + 1 < q);
                if (ok && npending < 8) {
                    memcpy(pending[npending], p + 1, idlen);
                    pending[npending++][idlen] = '\0';
                }
                p = q;
            }
        }
        if (len > 8 && strncmp(line, "- Level:", 8) == 0 && strstr(line, "WITHDRAWN") != NULL &&
            (size_t)(strstr(line, "WITHDRAWN") - line) < len)
            withdrawn = true;
        if (end == NULL)
            break;
        line = end + 1;
    }
    return n;
}

#define AS_STRING(id) id,
static const char *const generated[] = {VMBSAVE_SPEC_CLAUSES(AS_STRING)};

static void clause_list_is_specs(void **state)
{
    (void)state;
    char *spec = read_file(SPEC_PATH, NULL);
    static char ids[512][96];
    size_t n = spec_ids(spec, ids, 512);
    free(spec);
    size_t count = sizeof generated / sizeof generated[0];
    assert_int_equal(count, VMBSAVE_SPEC_CLAUSE_COUNT);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < count && !found; j++)
            found = strcmp(ids[i], generated[j]) == 0;
        if (!found)
            fail_msg("%s is a clause of SPEC.md, not in oracle/spec_clauses.h", ids[i]);
    }
    for (size_t j = 0; j < count; j++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(ids[i], generated[j]) == 0;
        if (!found)
            fail_msg("%s is in oracle/spec_clauses.h, not a clause of SPEC.md", generated[j]);
    }
    /* A macro names its ID. */
    assert_string_equal(CLAUSE(SAVE_CONTINUE_TOO_SMALL_NO_PROGRESS),
                        "SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS");
    print_message("%zu clause IDs\n", count);
}

/* ---- HARNESS.OPS.DESCRIPTORS ---------------------------------------------------------------- */

static bool in_generated(const char *id)
{
    for (size_t j = 0; j < sizeof generated / sizeof generated[0]; j++) {
        if (strcmp(id, generated[j]) == 0)
            return true;
    }
    return false;
}

static void every_op_has_a_descriptor(void **state)
{
    (void)state;
    for (unsigned op = 0; op < VMBSAVE_CALL_OP_COUNT; op++) {
        const vmbsave_call_desc *d = vmbsave_call_desc_of(op);
        vmbsave_call c = {.op = (uint8_t)op, .data = 3};
        char text[256], stmt[1024];
        assert_non_null(d->name);
        assert_true(strcmp(d->name, "?") != 0);
        assert_true(d->text(&c, text, sizeof text) > 0);
        assert_true(d->c_statement(&c, stmt, sizeof stmt) > 0);
        /* A call into the implementation names it once in C; a host setting never. */
        bool host = d->family == VMBSAVE_FAMILY_HOST;
        if (host != (strstr(stmt, "api->") == NULL))
            fail_msg("%s: statement %s", d->name, stmt);
        if (!host && (d->clause == NULL || !in_generated(d->clause) ||
                      !in_generated(d->params_clause) || !in_generated(d->limit_clause)))
            fail_msg("%s: a clause missing or not in SPEC.md", d->name);
        if (d->traced && host)
            fail_msg("%s: a host setting cannot be traced", d->name);
    }
    /* The texts the trace always showed. */
    static const struct {
        vmbsave_call call;
        const char *text;
    } texts[] = {
        {{.op = VMBSAVE_CALL_CHANNEL_ALLOCATE}, "channel_allocate(ch0)"},
        {{.op = VMBSAVE_CALL_SAVE_CONTINUE, .slot = 1, .arg = {40}}, "save_continue(ch1, size=40)"},
        {{.op = VMBSAVE_CALL_SAVE_CONTINUE, .flags = VMBSAVE_CALL_NULL_BUFFER | VMBSAVE_CALL_NULL_FILLED,
          .arg = {7}},
         "save_continue(ch0, NULL, size=7, NULL filled)"},
        {{.op = VMBSAVE_CALL_RING_READ, .arg = {1, 100}}, "ring_read(ch0, out, 100 bytes)"},
        {{.op = VMBSAVE_CALL_GPADL_CREATE, .flags = VMBSAVE_CALL_NULL_ARG, .arg = {2, 4}},
         "gpadl_create(ch0, id=2, NULL, 4 pfns)"},
        {{.op = VMBSAVE_CALL_RESTORE_FROM_BUFFER, .slot = 2, .arg = {0, 10, 30}},
         "restore_from_buffer(ch2, bytes 0..10 of 30)"},
        {{.op = VMBSAVE_CALL_RELEASE}, "release()"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char text[256];
        vmbsave_call_text(&texts[i].call, text, sizeof text);
        assert_string_equal(text, texts[i].text);
    }
    vmbsave_call a = {.op = VMBSAVE_CALL_PACKET_SEND, .arg = {1, 2, 3}, .data = 4};
    vmbsave_call b = a;
    b.data = 9; /* the data's name is not part of the call */
    assert_true(vmbsave_call_equal(&a, &b));
    b.arg[2] = 4;
    assert_false(vmbsave_call_equal(&a, &b));
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.VIOLATION.STRUCTURED", violations_are_structured),
    CLAUSE_TEST("HARNESS.CLAUSES.GENERATED", clause_list_is_specs),
    CLAUSE_TEST("HARNESS.OPS.DESCRIPTORS", every_op_has_a_descriptor),
};

CLAUSE_TEST_MAIN("violation", tests)
