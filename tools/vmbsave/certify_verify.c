/* vmbsave verify-report DIR [--impl LIB.so] (docs/vmbsave.1): checks that a certify report is
 * complete, consistent with itself and its views, and, given the library, about that exact
 * file. It proves the files were not edited after certify wrote them (or were edited
 * consistently everywhere, which --impl and a rerun of the listed commands then expose); it
 * cannot prove who ran certify. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certify.h"
#include "cli.h"
#include "io.h"

#define VERIFY_MAX_REPORT_BYTES (64u * 1024u * 1024u)

typedef struct problems {
    unsigned count;
} problems;

static void problem(problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(problems *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("verify-report: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    p->count++;
}

static const char *string_at(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void check_views(json_t *report, const char *dir, problems *p)
{
    json_t *files = json_object_get(report, "files");
    static const char *const names[] = {"junit.xml", "summary.md", "report.html"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *want = string_at(files, names[i]);
        if (want == NULL) {
            problem(p, "report.json lists no hash for %s", names[i]);
            continue;
        }
        char path[4096], hex[65], err[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (certify_sha256_file(path, hex, err, sizeof(err)) != 0)
            problem(p, "%s", err);
        else if (strcmp(hex, want) != 0)
            problem(p, "%s does not match the hash report.json gives it (edited after the run)", names[i]);
    }
}

/* Counts, the certified flag and the result, recomputed from the cases. */
static void check_cases(json_t *report, problems *p)
{
    json_t *cases = json_object_get(report, "cases");
    if (!json_is_array(cases) || json_array_size(cases) == 0) {
        problem(p, "report.json has no cases");
        return;
    }
    size_t counts[CV_COUNT] = {0};
    size_t not_run = 0;
    bool blocking = false, harness_error = false;
    size_t n = json_array_size(cases);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cases, i);
        const char *id = string_at(c, "id");
        const char *verdict = string_at(c, "verdict");
        if (id == NULL || verdict == NULL || string_at(c, "clause") == NULL) {
            problem(p, "case %zu lacks an id, clause or verdict", i);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const char *other = string_at(json_array_get(cases, j), "id");
            if (other != NULL && strcmp(other, id) == 0)
                problem(p, "case %s is listed twice", id);
        }
        certify_verdict v;
        if (strcmp(verdict, "NOT_RUN") == 0) {
            not_run++;
        } else if (!certify_verdict_from_name(verdict, &v)) {
            problem(p, "case %s has the unknown verdict %s", id, verdict);
        } else {
            counts[v]++;
            if (v == CV_HARNESS_ERROR)
                harness_error = true;
            else if (certify_verdict_blocks(v))
                blocking = true;
            if (certify_verdict_blocks(v) && (string_at(c, "rerun") == NULL || string_at(c, "detail") == NULL))
                problem(p, "failing case %s has no detail or rerun command", id);
        }
    }
    json_t *jc = json_object_get(report, "counts");
    size_t ran = 0;
    for (unsigned v = 0; v < CV_COUNT; v++) {
        json_t *x = json_object_get(jc, certify_verdict_name((certify_verdict)v));
        ran += counts[v];
        if (!json_is_integer(x) || (size_t)json_integer_value(x) != counts[v])
            problem(p, "counts.%s is not the number of %s cases (%zu)",
                    certify_verdict_name((certify_verdict)v), certify_verdict_name((certify_verdict)v), counts[v]);
    }
    json_t *total = json_object_get(jc, "total");
    if (!json_is_integer(total) || (size_t)json_integer_value(total) != n)
        problem(p, "counts.total is not the number of cases (%zu)", n);
    json_t *jran = json_object_get(jc, "ran");
    if (!json_is_integer(jran) || (size_t)json_integer_value(jran) != ran)
        problem(p, "counts.ran is not the number of cases that ran (%zu)", ran);
    bool certified = !blocking && !harness_error && not_run == 0 && ran > 0;
    json_t *jcert = json_object_get(report, "certified");
    if (!json_is_boolean(jcert) || json_boolean_value(jcert) != certified)
        problem(p, "\"certified\" is %s, but the cases say %s",
                json_is_true(jcert) ? "true" : "not true", certified ? "certified" : "not certified");
    const char *result = string_at(report, "result");
    const char *want = blocking ? "not conformant" : certified ? "certified" : "incomplete";
    if (result == NULL || strcmp(result, want) != 0)
        problem(p, "\"result\" is \"%s\", but the cases say \"%s\"", result != NULL ? result : "", want);
}

int cmd_verify_report(int argc, char **argv)
{
    const char *dir = NULL, *impl = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_help("verify-report");
            return 0;
        } else if ((m = cli_option_value(argc, argv, &i, "--impl", &v)) != 0) {
            if (m < 0)
                return cli_usage_error("verify-report", "--impl needs a path"), CERTIFY_EXIT_USAGE;
            impl = v;
        } else if (argv[i][0] == '-' || dir != NULL) {
            return cli_usage_error("verify-report", "unexpected argument '%s'", argv[i]), CERTIFY_EXIT_USAGE;
        } else {
            dir = argv[i];
        }
    }
    if (dir == NULL)
        return cli_usage_error("verify-report", "give the report directory"), CERTIFY_EXIT_USAGE;

    char path[4096], err[512];
    snprintf(path, sizeof(path), "%s/report.json", dir);
    uint8_t *bytes;
    size_t size;
    if (io_read_file(path, VERIFY_MAX_REPORT_BYTES, &bytes, &size, err, sizeof(err)) != 0) {
        cli_error("%s: %s", path, err);
        return CERTIFY_EXIT_USAGE;
    }
    json_error_t jerr;
    json_t *report = json_loadb((const char *)bytes, size, 0, &jerr);
    free(bytes);
    if (report == NULL) {
        cli_error("%s: not JSON: %s (line %d)", path, jerr.text, jerr.line);
        return CERTIFY_EXIT_NOT_CONFORMANT;
    }
    problems p = {0};
    const char *format = string_at(report, "format");
    if (format == NULL || strcmp(format, "vmbsave-certify-report") != 0 ||
        json_integer_value(json_object_get(report, "format_version")) != 1)
        problem(&p, "not a vmbsave certify report of format version 1");
    const char *stored = string_at(report, "report_sha256");
    char hex[65];
    if (stored == NULL || certify_report_digest(report, hex) != 0 || strcmp(hex, stored) != 0)
        problem(&p, "report.json does not match its own report_sha256 (edited after the run)");
    check_cases(report, &p);
    check_views(report, dir, &p);
    json_t *implementation = json_object_get(report, "implementation");
    const char *want_sha = string_at(implementation, "sha256");
    if (impl != NULL) {
        if (certify_sha256_file(impl, hex, err, sizeof(err)) != 0)
            problem(&p, "%s", err);
        else if (want_sha == NULL || strcmp(hex, want_sha) != 0)
            problem(&p, "%s is not the library this report is about (SHA-256 %s, report says %s)", impl,
                    hex, want_sha != NULL ? want_sha : "nothing");
    }
    const char *result = string_at(report, "result");
    if (p.count == 0) {
        printf("verify-report: %s is complete and consistent: %s, %s (%s)\n", dir,
               result != NULL ? result : "?", string_at(implementation, "file") != NULL ? string_at(implementation, "file") : "?",
               impl != NULL ? "the library matches" : "library not checked: give --impl");
    } else {
        printf("verify-report: %s: %u problem(s): REJECTED\n", dir, p.count);
    }
    json_decref(report);
    return p.count == 0 ? 0 : CERTIFY_EXIT_NOT_CONFORMANT;
}
