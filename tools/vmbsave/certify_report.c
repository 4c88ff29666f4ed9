/* certify's evidence (certify.h): report.json is the record; junit.xml, summary.md and
 * report.html are views of it. Every file is written atomically (io.h), so a run killed while
 * writing leaves the previous report whole. */
#include "certify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "io.h"

#ifndef VMBSAVE_VERSION_STRING
#error "VMBSAVE_VERSION_STRING is set by tools/vmbsave/CMakeLists.txt"
#endif

/* ---- Text buffers -------------------------------------------------------------------------- */

typedef struct text {
    char *bytes;
    size_t size, cap;
    bool failed;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->size + n + 1 > t->cap) {
        size_t want = t->cap == 0 ? 8192 : t->cap;
        while (want < t->size + n + 1)
            want *= 2;
        char *grown = realloc(t->bytes, want);
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->bytes = grown;
        t->cap = want;
    }
    memcpy(t->bytes + t->size, s, n);
    t->size += n;
    t->bytes[t->size] = '\0';
}

static void puts_(text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void printf_(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(text *t, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* XML and HTML share the same five escapes; control characters other than tab and newline
 * are not allowed in XML 1.0 at all, so they become '?'. */
static void put_escaped(text *t, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&': puts_(t, "&amp;"); break;
        case '<': puts_(t, "&lt;"); break;
        case '>': puts_(t, "&gt;"); break;
        case '"': puts_(t, "&quot;"); break;
        case '\'': puts_(t, "&#39;"); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                put(t, "?", 1);
            else
                put(t, s, 1);
        }
    }
}

/* ---- report.json --------------------------------------------------------------------------- */

/* The one-line command that reruns one case. */
static void rerun_command(const certify_run *run, const certify_case *c, char *buf, size_t cap)
{
    /* A search finding: its program, replayed (the path is relative to the report folder). */
    if (c->input != NULL && c->reproducer[0] != '\0') {
        int n = snprintf(buf, cap, "vmbsave repro --impl %s --target %s %s/input.bin", run->impl_path,
                         c->input_target, c->reproducer);
        if (n < 0 || (size_t)n >= cap)
            buf[0] = '\0'; /* no command rather than a wrong one */
        return;
    }
    snprintf(buf, cap, "vmbsave certify --impl %s --seed 0x%016" PRIx64 " --case '%s'",
             run->impl_path, run->master_seed, c->id);
}

static json_t *case_json(const certify_run *run, const certify_case *c)
{
    char rerun[4096 + 256];
    rerun_command(run, c, rerun, sizeof(rerun));
    char seed[24];
    snprintf(seed, sizeof(seed), "0x%016" PRIx64, c->seed);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
                          "id", c->id, "clause", c->clause, "level", certify_level_name(c->level),
                          "stage", certify_stage_name(c->stage), "seed", seed,
                          "verdict", c->ran ? certify_verdict_name(c->verdict) : "NOT_RUN",
                          "detail", c->detail, "elapsed_ms", (json_int_t)c->elapsed_ms,
                          "faults_injected", (json_int_t)c->faults_injected, "rerun", rerun);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "expected", c->expected != NULL ? json_deep_copy(c->expected) : json_null());
    json_object_set_new(o, "observed", c->observed != NULL ? json_deep_copy(c->observed) : json_null());
    json_object_set_new(o, "crash_type", c->crash_type[0] != '\0' ? json_string(c->crash_type) : json_null());
    json_object_set_new(o, "reproducer", c->reproducer[0] != '\0' ? json_string(c->reproducer) : json_null());
    return o;
}

static const char *result_name(int overall)
{
    switch (overall) {
    case CERTIFY_EXIT_CERTIFIED: return "certified";
    case CERTIFY_EXIT_NOT_CONFORMANT: return "not conformant";
    default: return "incomplete";
    }
}

/* report.json without its own hash and the hashes of the views. */
static json_t *report_json(const certify_run *run)
{
    size_t counts[CV_COUNT];
    certify_count(run, counts);
    json_t *jc = json_object();
    size_t ran = 0;
    for (unsigned v = 0; v < CV_COUNT; v++) {
        json_object_set_new(jc, certify_verdict_name((certify_verdict)v), json_integer((json_int_t)counts[v]));
        ran += counts[v];
    }
    json_object_set_new(jc, "ran", json_integer((json_int_t)ran));
    json_object_set_new(jc, "total", json_integer((json_int_t)run->case_count));
    char seed[24], abi[32];
    snprintf(seed, sizeof(seed), "0x%016" PRIx64, run->master_seed);
    snprintf(abi, sizeof(abi), "%u.%u", run->abi_major, run->abi_minor);
    const char *base = strrchr(run->impl_path, '/');
    json_t *cases = json_array();
    for (size_t i = 0; i < run->case_count; i++)
        json_array_append_new(cases, case_json(run, &run->cases[i]));
    int overall = certify_overall(run);
    json_t *search = json_pack("{s:b, s:I, s:I, s:I}", "ran", run->search_ran, "programs",
                               (json_int_t)run->search_programs, "batches", (json_int_t)run->search_batches,
                               "elapsed_ms", (json_int_t)run->search_ms);
    return json_pack(
        "{s:s, s:i, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:I}, "
        "s:{s:s, s:i, s:i, s:i, s:s, s:s, s:I, s:b, s:o}, s:o, s:b, s:s, s:o}",
        "format", "vmbsave-certify-report", "format_version", 1,
        "suite", "name", "vmbsave", "version", VMBSAVE_VERSION_STRING,
        "implementation", "path", run->impl_path, "file", base != NULL ? base + 1 : run->impl_path,
        "sha256", run->impl_sha256, "name", run->impl_name, "version", run->impl_version,
        "abi", abi, "capabilities", (json_int_t)run->capabilities,
        "run", "master_seed", seed, "budget_seconds", (int)run->budget_seconds,
        "case_timeout_seconds", (int)run->case_timeout_seconds, "memory_mib", (int)run->memory_mib,
        "memcheck", run->memcheck, "started", run->started, "elapsed_ms", (json_int_t)run->elapsed_ms,
        "budget_exhausted", run->budget_exhausted, "search", search,
        "counts", jc, "certified", overall == CERTIFY_EXIT_CERTIFIED, "result", result_name(overall),
        "cases", cases);
}

/* The hash verify-report recomputes: SHA-256 of the compact, key-sorted dump of the report
 * without "report_sha256". It proves the file is internally whole, not who wrote it. */
int certify_report_digest(json_t *report, char hex[65])
{
    json_t *copy = json_deep_copy(report);
    if (copy == NULL)
        return -1;
    json_object_del(copy, "report_sha256");
    char *dump = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(copy);
    if (dump == NULL)
        return -1;
    unsigned char digest[32];
    unsigned int len = 0;
    int ok = EVP_Digest(dump, strlen(dump), digest, &len, EVP_sha256(), NULL) == 1 && len == 32;
    free(dump);
    if (!ok)
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

static int sha256_text(const text *t, char hex[65])
{
    unsigned char digest[32];
    unsigned int len = 0;
    if (EVP_Digest(t->bytes != NULL ? t->bytes : "", t->size, digest, &len, EVP_sha256(), NULL) != 1)
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

/* ---- junit.xml ----------------------------------------------------------------------------- */

static void write_junit(const certify_run *run, text *t)
{
    size_t counts[CV_COUNT];
    certify_count(run, counts);
    size_t failures = counts[CV_FAIL];
    size_t errors = counts[CV_CRASH] + counts[CV_TIMEOUT] + counts[CV_MEMORY_LIMIT] +
                    counts[CV_HARNESS_ERROR];
    size_t skipped = counts[CV_NOT_SUPPORTED] + (run->case_count - counts[CV_PASS] - failures -
                                                 errors - counts[CV_NOT_SUPPORTED] -
                                                 counts[CV_WARN] - counts[CV_INFO]);
    puts_(t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    printf_(t, "<testsuites name=\"vmbsave certify\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
               "skipped=\"%zu\" time=\"%.3f\">\n",
            run->case_count, failures, errors, skipped, run->elapsed_ms / 1000.0);
    for (unsigned s = 0; s < STAGE_COUNT; s++) {
        size_t n = 0;
        for (size_t i = 0; i < run->case_count; i++)
            n += run->cases[i].stage == (certify_stage)s;
        if (n == 0)
            continue;
        printf_(t, "  <testsuite name=\"%s\" tests=\"%zu\">\n", certify_stage_name((certify_stage)s), n);
        for (size_t i = 0; i < run->case_count; i++) {
            const certify_case *c = &run->cases[i];
            if (c->stage != (certify_stage)s)
                continue;
            puts_(t, "    <testcase classname=\"");
            put_escaped(t, c->clause);
            puts_(t, "\" name=\"");
            put_escaped(t, c->id);
            printf_(t, "\" time=\"%.3f\"", c->elapsed_ms / 1000.0);
            const char *verdict = c->ran ? certify_verdict_name(c->verdict) : "NOT_RUN";
            if (!c->ran || c->verdict == CV_NOT_SUPPORTED) {
                puts_(t, ">\n      <skipped message=\"");
                put_escaped(t, c->ran ? c->detail : "not run: the budget ran out first");
                puts_(t, "\"/>\n    </testcase>\n");
            } else if (c->verdict == CV_FAIL || certify_verdict_blocks(c->verdict)) {
                printf_(t, ">\n      <%s type=\"%s\" message=\"", c->verdict == CV_FAIL ? "failure" : "error", verdict);
                put_escaped(t, c->detail);
                puts_(t, "\">");
                put_escaped(t, c->output != NULL ? c->output : "");
                printf_(t, "</%s>\n    </testcase>\n", c->verdict == CV_FAIL ? "failure" : "error");
            } else if (c->verdict == CV_WARN || c->verdict == CV_INFO) {
                printf_(t, ">\n      <system-out>%s: ", verdict);
                put_escaped(t, c->detail);
                puts_(t, "</system-out>\n    </testcase>\n");
            } else {
                puts_(t, "/>\n");
            }
        }
        puts_(t, "  </testsuite>\n");
    }
    puts_(t, "</testsuites>\n");
}

/* ---- summary.md ---------------------------------------------------------------------------- */

static void write_summary(const certify_run *run, text *t)
{
    size_t counts[CV_COUNT];
    certify_count(run, counts);
    int overall = certify_overall(run);
    printf_(t, "# vmbsave certify: %s\n\n", result_name(overall));
    printf_(t, "- Implementation: `%s` (%s %s, ABI %u.%u)\n", run->impl_path, run->impl_name,
            run->impl_version, run->abi_major, run->abi_minor);
    printf_(t, "- SHA-256: `%s`\n", run->impl_sha256);
    printf_(t, "- vmbsave %s, master seed `0x%016" PRIx64 "`, budget %u s, memcheck %s, started %s\n\n",
            VMBSAVE_VERSION_STRING, run->master_seed, run->budget_seconds, run->memcheck,
            run->started);
    puts_(t, "| verdict | cases |\n|---|---:|\n");
    for (unsigned v = 0; v < CV_COUNT; v++) {
        if (counts[v] != 0)
            printf_(t, "| %s | %zu |\n", certify_verdict_name((certify_verdict)v), counts[v]);
    }
    size_t ran = 0;
    for (unsigned v = 0; v < CV_COUNT; v++)
        ran += counts[v];
    if (ran < run->case_count)
        printf_(t, "| not run | %zu |\n", run->case_count - ran);
    puts_(t, "\n");
    bool any = false;
    for (size_t i = 0; i < run->case_count; i++) {
        const certify_case *c = &run->cases[i];
        if (!c->ran || !certify_verdict_blocks(c->verdict))
            continue;
        if (!any)
            puts_(t, "## Failures\n\n");
        any = true;
        char rerun[4096 + 256];
        rerun_command(run, c, rerun, sizeof(rerun));
        printf_(t, "- **%s** `%s` (clause `%s`): %s\n  - rerun: `%s`\n", certify_verdict_name(c->verdict),
                c->id, c->clause, c->detail, rerun);
        if (c->reproducer[0] != '\0')
            printf_(t, "  - reproducer: `%s`\n", c->reproducer);
    }
    if (!any)
        puts_(t, "No case failed.\n");
}

/* ---- report.html --------------------------------------------------------------------------- */

static const char *verdict_colour(certify_verdict v)
{
    switch (v) {
    case CV_PASS: return "#1a7f37";
    case CV_WARN:
    case CV_NOT_SUPPORTED: return "#9a6700";
    case CV_INFO: return "#0969da";
    default: return "#cf222e";
    }
}

static void html_case_row(const certify_run *run, const certify_case *c, text *t)
{
    const char *verdict = c->ran ? certify_verdict_name(c->verdict) : "NOT_RUN";
    printf_(t, "<tr><td style=\"color:%s;font-weight:bold\">%s</td><td><code>",
            c->ran ? verdict_colour(c->verdict) : "#57606a", verdict);
    put_escaped(t, c->id);
    puts_(t, "</code></td><td>");
    puts_(t, certify_level_name(c->level));
    puts_(t, "</td><td>");
    put_escaped(t, c->detail);
    if (c->ran && certify_verdict_blocks(c->verdict)) {
        char rerun[4096 + 256];
        rerun_command(run, c, rerun, sizeof(rerun));
        puts_(t, "<br><code class=\"cmd\">");
        put_escaped(t, rerun);
        puts_(t, "</code>");
    }
    puts_(t, "</td></tr>\n");
}

static void write_html(const certify_run *run, text *t)
{
    size_t counts[CV_COUNT];
    certify_count(run, counts);
    int overall = certify_overall(run);
    puts_(t, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<title>vmbsave certify</title><style>"
             "body{font-family:sans-serif;margin:2em;color:#1f2328}"
             "table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}"
             "th{background:#f6f8fa}code.cmd{font-size:85%;color:#57606a}"
             ".result{font-size:140%;font-weight:bold}</style></head><body>\n");
    printf_(t, "<h1>vmbsave certify</h1>\n<p class=\"result\" id=\"result\" style=\"color:%s\">%s</p>\n",
            overall == CERTIFY_EXIT_CERTIFIED ? "#1a7f37" : "#cf222e", result_name(overall));
    puts_(t, "<table><tr><th>implementation</th><td><code>");
    put_escaped(t, run->impl_path);
    puts_(t, "</code> (");
    put_escaped(t, run->impl_name);
    puts_(t, " ");
    put_escaped(t, run->impl_version);
    printf_(t, ", ABI %u.%u)</td></tr>\n<tr><th>SHA-256</th><td><code>%s</code></td></tr>\n",
            run->abi_major, run->abi_minor, run->impl_sha256);
    printf_(t, "<tr><th>run</th><td>vmbsave %s, master seed 0x%016" PRIx64 ", budget %u s, "
               "memcheck %s, started %s, %.1f s</td></tr></table>\n",
            VMBSAVE_VERSION_STRING, run->master_seed, run->budget_seconds, run->memcheck,
            run->started, run->elapsed_ms / 1000.0);
    puts_(t, "<h2>Verdicts</h2>\n<table id=\"verdicts\"><tr><th>verdict</th><th>cases</th></tr>\n");
    for (unsigned v = 0; v < CV_COUNT; v++) {
        printf_(t, "<tr><td style=\"color:%s\">%s</td><td>%zu</td></tr>\n",
                verdict_colour((certify_verdict)v), certify_verdict_name((certify_verdict)v), counts[v]);
    }
    puts_(t, "</table>\n<h2>Failures by clause</h2>\n");
    bool any = false;
    for (size_t i = 0; i < run->case_count; i++) {
        const certify_case *c = &run->cases[i];
        if (!c->ran || !certify_verdict_blocks(c->verdict))
            continue;
        /* The first failing case of each clause opens its group. */
        bool first = true;
        for (size_t j = 0; j < i && first; j++) {
            const certify_case *d = &run->cases[j];
            first = !(d->ran && certify_verdict_blocks(d->verdict) && strcmp(d->clause, c->clause) == 0);
        }
        if (!first)
            continue;
        any = true;
        puts_(t, "<h3><code>");
        put_escaped(t, c->clause);
        puts_(t, "</code></h3>\n<table><tr><th>verdict</th><th>case</th><th>level</th><th>detail and rerun</th></tr>\n");
        for (size_t j = i; j < run->case_count; j++) {
            const certify_case *d = &run->cases[j];
            if (d->ran && certify_verdict_blocks(d->verdict) && strcmp(d->clause, c->clause) == 0)
                html_case_row(run, d, t);
        }
        puts_(t, "</table>\n");
    }
    if (!any)
        puts_(t, "<p>No case failed.</p>\n");
    puts_(t, "<h2>All cases</h2>\n<table id=\"cases\"><tr><th>verdict</th><th>case</th><th>level</th><th>detail</th></tr>\n");
    for (size_t i = 0; i < run->case_count; i++)
        html_case_row(run, &run->cases[i], t);
    puts_(t, "</table>\n</body></html>\n");
}

/* ---- Writing ------------------------------------------------------------------------------- */

static int write_text(const char *dir, const char *name, const text *t, char *err, size_t err_size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (t->failed) {
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    char why[512];
    if (io_write_atomic(path, t->bytes != NULL ? t->bytes : "", t->size, why, sizeof(why)) != 0) {
        snprintf(err, err_size, "%s: %s", path, why);
        return -1;
    }
    return 0;
}

static int make_dir(const char *path, char *err, size_t err_size)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* DIR/repro/<case-id>/output.txt for each blocking case, with what it printed. */
static int write_reproducers(const certify_run *run, const char *dir, char *err, size_t err_size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/repro", dir);
    bool made = false;
    for (size_t i = 0; i < run->case_count; i++) {
        const certify_case *c = &run->cases[i];
        if (!c->ran || c->reproducer[0] == '\0')
            continue;
        if (!made && make_dir(path, err, err_size) != 0)
            return -1;
        made = true;
        char case_dir[4096];
        snprintf(case_dir, sizeof(case_dir), "%s/%s", dir, c->reproducer);
        if (make_dir(case_dir, err, err_size) != 0)
            return -1;
        text t = {0};
        char rerun[4096 + 256];
        rerun_command(run, c, rerun, sizeof(rerun));
        printf_(&t, "# %s %s (clause %s)\n# %s\n# rerun: %s\n\n", certify_verdict_name(c->verdict),
                c->id, c->clause, c->detail, rerun);
        if (c->output != NULL)
            puts_(&t, c->output);
        int rc = write_text(case_dir, "output.txt", &t, err, err_size);
        free(t.bytes);
        if (rc != 0)
            return -1;
        if (c->input != NULL) {
            text in = {0};
            put(&in, (const char *)c->input, c->input_size);
            rc = write_text(case_dir, "input.bin", &in, err, err_size);
            free(in.bytes);
            if (rc != 0)
                return -1;
        }
    }
    return 0;
}

int certify_write_report(const certify_run *run, const char *dir, char *err, size_t err_size)
{
    if (make_dir(dir, err, err_size) != 0)
        return -1;
    if (write_reproducers(run, dir, err, err_size) != 0)
        return -1;
    text views[3] = {{0}, {0}, {0}};
    static const char *const names[3] = {"junit.xml", "summary.md", "report.html"};
    write_junit(run, &views[0]);
    write_summary(run, &views[1]);
    write_html(run, &views[2]);
    int rc = 0;
    json_t *report = report_json(run);
    json_t *files = json_object();
    for (int i = 0; i < 3 && rc == 0; i++) {
        char hex[65];
        rc = write_text(dir, names[i], &views[i], err, err_size);
        if (rc == 0 && sha256_text(&views[i], hex) == 0)
            json_object_set_new(files, names[i], json_string(hex));
    }
    if (rc == 0 && report != NULL) {
        json_object_set_new(report, "files", files);
        files = NULL;
        char hex[65];
        if (certify_report_digest(report, hex) == 0)
            json_object_set_new(report, "report_sha256", json_string(hex));
        char *dump = json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        text t = {dump, dump != NULL ? strlen(dump) : 0, 0, dump == NULL};
        if (dump != NULL)
            t.cap = t.size + 1;
        puts_(&t, "\n");
        rc = write_text(dir, "report.json", &t, err, err_size);
        free(t.bytes);
    } else if (report == NULL) {
        snprintf(err, err_size, "cannot build report.json");
        rc = -1;
    }
    json_decref(files);
    json_decref(report);
    for (int i = 0; i < 3; i++)
        free(views[i].bytes);
    return rc;
}
