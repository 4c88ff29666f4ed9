/* Standalone C reproducers (harness/repro/emit_c.h). The emitter keeps the run's statements and data
 * in memory, bounded, and writes the file once the outcome is known: the statements up to the
 * violating call, then the check for its vmbsave_check_kind. */
#include "repro/emit_c.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmbsave/ntstatus.h"
#include "repro/repro_runtime_text.h" /* generated: vmbsave_repro_runtime_text */

typedef struct emit_statement {
    uint32_t step;
    vmbsave_call call; /* its C text is made when the file is written */
} emit_statement;

typedef struct emit_data {
    char name[VMBSAVE_EMIT_MAX_NAME + 1u];
    size_t at;   /* offset into emitter->data */
    size_t size;
} emit_data;

struct vmbsave_emitter {
    vmbsave_program program;

    emit_statement *statements;
    size_t statement_count, statement_cap;
    size_t call_count;

    uint8_t *data;
    size_t data_size, data_cap;
    emit_data *datas;
    size_t data_count, datas_cap;

    bool failed;
    char error[256];

    bool has_violation;
    vmbsave_violation violation;
    bool has_entry;
    vmbsave_trace_entry entry;
    bool crashed;
    int signal_number;
};

static int fail(vmbsave_emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(vmbsave_emitter *e, const char *fmt, ...)
{
    if (!e->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->error, sizeof(e->error), fmt, ap);
        va_end(ap);
        e->failed = true;
    }
    return -1;
}

/* Grows *buf (elements of `elem` bytes) to hold `need` elements, at most `max`. */
static int grow(void **buf, size_t *cap, size_t need, size_t elem, size_t max)
{
    if (need <= *cap)
        return 0;
    if (need > max)
        return -1;
    size_t n = *cap != 0 ? *cap : 64u;
    while (n < need)
        n = n > max / 2u ? max : n * 2u;
    void *p = realloc(*buf, n * elem);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

vmbsave_emitter *vmbsave_emitter_new(const vmbsave_program *program)
{
    vmbsave_emitter *e = calloc(1, sizeof(*e));
    if (e != NULL && program != NULL)
        e->program = *program;
    return e;
}

void vmbsave_emitter_free(vmbsave_emitter *e)
{
    if (e == NULL)
        return;
    free(e->statements);
    free(e->data);
    free(e->datas);
    free(e);
}

const char *vmbsave_emitter_error(const vmbsave_emitter *e)
{
    return e->failed ? e->error : "";
}

int vmbsave_emitter_add_call(vmbsave_emitter *e, uint32_t step, const vmbsave_call *call)
{
    if (e->failed)
        return -1;
    if (call == NULL || call->op >= VMBSAVE_CALL_OP_COUNT)
        return fail(e, "an unknown operation");
    if (e->statement_count >= VMBSAVE_EMIT_MAX_STATEMENTS ||
        grow((void **)&e->statements, &e->statement_cap, e->statement_count + 1u,
             sizeof(*e->statements), VMBSAVE_EMIT_MAX_STATEMENTS) != 0)
        return fail(e, "more than %u statements", VMBSAVE_EMIT_MAX_STATEMENTS);
    emit_statement *s = &e->statements[e->statement_count++];
    s->step = step;
    s->call = *call;
    if (vmbsave_call_desc_of(call->op)->traced)
        e->call_count++;
    return 0;
}

static const emit_data *find_data(const vmbsave_emitter *e, const char *name)
{
    for (size_t i = 0; i < e->data_count; i++) {
        if (strcmp(e->datas[i].name, name) == 0)
            return &e->datas[i];
    }
    return NULL;
}

static bool is_identifier(const char *s)
{
    if (s[0] == '\0' || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    }
    return true;
}

int vmbsave_emitter_add_data(vmbsave_emitter *e, const char *name, const void *bytes,
                             size_t size)
{
    if (e->failed)
        return -1;
    if (name == NULL || strlen(name) > VMBSAVE_EMIT_MAX_NAME || !is_identifier(name) ||
        strncmp(name, "vb_", 3) == 0)
        return fail(e, "data name '%.64s' is not a C identifier of at most %u characters "
                       "outside vb_", name != NULL ? name : "(null)", VMBSAVE_EMIT_MAX_NAME);
    if (find_data(e, name) != NULL)
        return fail(e, "data name '%s' given twice", name);
    if (size > 0 && bytes == NULL)
        return fail(e, "data '%s' has no bytes", name);
    if (size > VMBSAVE_EMIT_MAX_DATA_BYTES - e->data_size ||
        grow((void **)&e->data, &e->data_cap, e->data_size + size, 1u,
             VMBSAVE_EMIT_MAX_DATA_BYTES) != 0)
        return fail(e, "more than %u bytes of data", VMBSAVE_EMIT_MAX_DATA_BYTES);
    if (grow((void **)&e->datas, &e->datas_cap, e->data_count + 1u, sizeof(*e->datas),
             SIZE_MAX / sizeof(*e->datas)) != 0)
        return fail(e, "out of memory");
    emit_data *d = &e->datas[e->data_count++];
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->at = e->data_size;
    d->size = size;
    if (size > 0)
        memcpy(e->data + e->data_size, bytes, size);
    e->data_size += size;
    return 0;
}

void vmbsave_emitter_set_violation(vmbsave_emitter *e, const vmbsave_violation *violation,
                                   const vmbsave_trace_entry *call_entry)
{
    e->has_violation = true;
    e->violation = *violation;
    e->has_entry = call_entry != NULL;
    if (call_entry != NULL)
        e->entry = *call_entry;
}

void vmbsave_emitter_set_crash(vmbsave_emitter *e, int signal_number)
{
    e->crashed = true;
    e->signal_number = signal_number;
}

/* ---- Writing ---------------------------------------------------------------------------- */
/* A C string literal of `s`. */
static void put_c_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '?' && p[1] == '?')
            fputs("\\?", f); /* no trigraphs */
        else if (isprint(*p))
            fputc(*p, f);
        else
            fprintf(f, "\\%03o", *p);
    }
    fputc('"', f);
}

/* Text inside a C comment: no "*" followed by "/", one line. */
static void put_comment_text(FILE *f, const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '*' && p[1] == '/')
            fputs("* ", f);
        else if (*p == '\n' || *p == '\r')
            fputc(' ', f);
        else
            fputc(*p, f);
    }
}

/* The runtime text, minus #include lines of vmbsave/ headers (their text is already in it). */
static void put_runtime(FILE *f, const char *runtime)
{
    const char *line = runtime;
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) + 1u : strlen(line);
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        bool drop = strncmp(p, "#include \"vmbsave/", 18) == 0;
        if (!drop)
            fwrite(line, 1, len, f);
        line += len;
    }
    if (line != runtime && line[-1] != '\n')
        fputc('\n', f);
}

static void put_data(FILE *f, const vmbsave_emitter *e, const emit_data *d)
{
    fprintf(f, "_Alignas(16) static const uint8_t %s[%zu] = {", d->name,
            d->size != 0 ? d->size : (size_t)1);
    if (d->size == 0)
        fputs("0", f);
    for (size_t i = 0; i < d->size; i++)
        fprintf(f, "%s0x%02x,", i % 16u == 0 ? "\n    " : "", e->data[d->at + i]);
    fputs("\n};\n", f);
}

static void put_statement(FILE *f, const vmbsave_call *call)
{
    char text[1024];
    vmbsave_call_c_statement(call, text, sizeof text);
    fputs("    ", f);
    for (const char *p = text; *p != '\0'; p++) {
        fputc(*p, f);
        if (*p == '\n' && p[1] != '\0')
            fputs("    ", f);
    }
    fputc('\n', f);
}

static void put_step_comment(FILE *f, const vmbsave_emitter *e, uint32_t step)
{
    fprintf(f, "    /* step %" PRIu32, step);
    if (step < e->program.count) {
        char text[256];
        if (vmbsave_step_print(&e->program.steps[step], text, sizeof(text)) > 0) {
            fputs(": ", f);
            put_comment_text(f, text);
        }
    }
    fputs(" */\n", f);
}

/* The statuses a STATUS violation re-checks: the allowed set (st must be none of them), or, if
 * the violation names none, the status seen (st must be it again). */
static int put_check_status(FILE *f, const vmbsave_emitter *e, char *err, size_t err_size)
{
    const vmbsave_violation *v = &e->violation;
    const vmbsave_value *want = &v->want;
    if ((want->kind == VMBSAVE_VALUE_STATUS_SET || want->kind == VMBSAVE_VALUE_STATUS) &&
        want->u.status.n > 0) {
        unsigned n = want->u.status.n < VMBSAVE_VALUE_MAX_STATUSES ? want->u.status.n
                                                                   : VMBSAVE_VALUE_MAX_STATUSES;
        fputs("vb_check_status(vb_clause, vb_expected, (const NTSTATUS[]){", f);
        for (unsigned i = 0; i < n; i++)
            fprintf(f, "%sVMBSAVE_NTSTATUS_VALUE(0x%08" PRIX32 "u)", i != 0 ? ", " : "",
                    (uint32_t)want->u.status.s[i]);
        fprintf(f, "}, %u, %s);\n", n, want->u.status.negate ? "true" : "false");
        return 0;
    }
    const vmbsave_value *seen = &v->seen;
    bool has_seen = (seen->kind == VMBSAVE_VALUE_STATUS || seen->kind == VMBSAVE_VALUE_STATUS_SET) &&
                    seen->u.status.n > 0;
    if (has_seen || (e->has_entry && e->entry.has_status)) {
        NTSTATUS st = has_seen ? seen->u.status.s[0] : e->entry.status;
        fprintf(f, "vb_check_status_same(vb_clause, vb_expected, "
                   "VMBSAVE_NTSTATUS_VALUE(0x%08" PRIX32 "u));\n", (uint32_t)st);
        return 0;
    }
    char text[128];
    vmbsave_violation_format_expected(v, text, sizeof text);
    snprintf(err, err_size, "cannot tell the statuses: the expected '%.100s' is a %s value",
             text, vmbsave_value_kind_name((vmbsave_value_kind)want->kind));
    return -1;
}

/* The counts a COUNTS violation re-checks: outside the allowed ranges, or, if the violation
 * has none, the counts seen (the run's trace entry's when the violation has neither). */
static int put_check_counts(FILE *f, const vmbsave_emitter *e, char *err, size_t err_size)
{
    const vmbsave_violation *v = &e->violation;
    bool outside = v->want.kind == VMBSAVE_VALUE_COUNTS;
    const vmbsave_value *c = outside ? &v->want : v->seen.kind == VMBSAVE_VALUE_COUNTS ? &v->seen : NULL;
    bool has_f = false, has_r = false;
    uint32_t flo = 0, fhi = 0, rlo = 0, rhi = 0;
    if (c != NULL) {
        has_f = c->u.counts.has_filled;
        has_r = c->u.counts.has_required;
        flo = c->u.counts.filled_lo;
        fhi = c->u.counts.filled_hi;
        rlo = c->u.counts.required_lo;
        rhi = c->u.counts.required_hi;
    } else if (e->has_entry && e->entry.has_counts) {
        has_f = has_r = true;
        flo = fhi = e->entry.filled;
        rlo = rhi = e->entry.required;
    }
    if (!has_f && !has_r) {
        char text[128];
        vmbsave_violation_format_expected(v, text, sizeof text);
        snprintf(err, err_size, "cannot tell the counts: the expected '%.100s' is a %s value",
                 text, vmbsave_value_kind_name((vmbsave_value_kind)v->want.kind));
        return -1;
    }
    fprintf(f,
            "vb_check_counts(vb_clause, vb_expected, %s, %" PRIu32 "u, %" PRIu32
            "u, %s, %" PRIu32 "u, %" PRIu32 "u, %s);\n",
            has_f ? "true" : "false", flo, fhi, has_r ? "true" : "false", rlo, rhi,
            outside ? "true" : "false");
    return 0;
}

/* A LEAK violation: the live count expected after the call, and the change the run expected
 * the call to make (expected - (seen - the change seen)) when the violation knows it. */
static int put_check_leak(FILE *f, const vmbsave_emitter *e, char *err, size_t err_size)
{
    const vmbsave_violation *v = &e->violation;
    if (v->want.kind != VMBSAVE_VALUE_LIVE || v->want.u.live.lo < 0) {
        char text[128];
        vmbsave_violation_format_expected(v, text, sizeof text);
        snprintf(err, err_size, "cannot tell the allocation count: the expected '%.100s' is a %s "
                 "value", text, vmbsave_value_kind_name((vmbsave_value_kind)v->want.kind));
        return -1;
    }
    uint64_t live = (uint64_t)v->want.u.live.lo;
    bool has_delta = v->seen.kind == VMBSAVE_VALUE_LIVE && v->seen.u.live.has_delta;
    int64_t run_delta =
        has_delta ? (int64_t)live - (v->seen.u.live.lo - v->seen.u.live.delta) : 0;
    fprintf(f, "vb_check_leak(vb_clause, vb_expected, %" PRIu64 "u, %s, %" PRId64 ");\n", live,
            has_delta ? "true" : "false", run_delta);
    return 0;
}

/* The final `return vb_check_...;` for the violation, from its typed values. Returns 0, or -1
 * with err set. */
static int put_check(FILE *f, const vmbsave_emitter *e, char *err, size_t err_size)
{
    const vmbsave_violation *v = &e->violation;
    fputs("    return ", f);
    switch (v->kind) {
    case VMBSAVE_CHECK_STATUS: return put_check_status(f, e, err, err_size);
    case VMBSAVE_CHECK_COUNTS: return put_check_counts(f, e, err, err_size);
    case VMBSAVE_CHECK_GUARD: fputs("vb_check_guard(vb_clause, vb_expected);\n", f); return 0;
    case VMBSAVE_CHECK_CHUNKS: fputs("vb_check_chunks(vb_clause, vb_expected);\n", f); return 0;
    case VMBSAVE_CHECK_CALLBACK:
        fputs("vb_check_callback(vb_clause, vb_expected);\n", f);
        return 0;
    case VMBSAVE_CHECK_IMAGE:
        if (find_data(e, "expected_image") != NULL)
            fputs("vb_check_image(vb_clause, vb_expected, expected_image, "
                  "sizeof(expected_image));\n", f);
        else
            fputs("vb_check_image(vb_clause, vb_expected, NULL, 0);\n", f);
        return 0;
    case VMBSAVE_CHECK_DESCRIBE: {
        const emit_data *d = find_data(e, "expected_description");
        bool except_fresh = false;
        if (d == NULL) {
            d = find_data(e, "expected_description_except_fresh");
            except_fresh = d != NULL;
        }
        if (d != NULL) {
            size_t len = d->size;
            while (len > 0 && e->data[d->at + len - 1u] == 0)
                len--; /* the text without its NUL */
            fprintf(f, "vb_check_describe(vb_clause, vb_expected, (const char *)%s, %zu, %s);\n",
                    d->name, len, except_fresh ? "true" : "false");
        } else {
            fputs("vb_check_describe(vb_clause, vb_expected, NULL, 0, false);\n", f);
        }
        return 0;
    }
    case VMBSAVE_CHECK_LEAK: return put_check_leak(f, e, err, err_size);
    case VMBSAVE_CHECK_KIND_COUNT: break;
    }
    snprintf(err, err_size, "no reproducer check for check kind %d", (int)v->kind);
    return -1;
}

int vmbsave_emitter_write(const vmbsave_emitter *e, FILE *f, const char *runtime_text,
                          const char *default_plugin, char *err, size_t err_size)
{
    if (e->failed) {
        snprintf(err, err_size, "the reproducer could not be recorded: %s", e->error);
        return -1;
    }
    if (!e->has_violation && !e->crashed) {
        snprintf(err, err_size, "the run neither violated a clause nor crashed");
        return -1;
    }
    if (e->call_count == 0) {
        snprintf(err, err_size, "the run passed no call to the reproducer");
        return -1;
    }
    const vmbsave_violation *v = &e->violation;
    /* The text of the violation's values (the comment and vb_expected say it to people). */
    char expected[256], observed[256];
    vmbsave_violation_format_expected(v, expected, sizeof expected);
    vmbsave_violation_format_observed(v, observed, sizeof observed);

    /* Statements up to and including the call the violation names (all, for a crash). */
    size_t last = e->statement_count;
    if (e->has_violation && !e->crashed) {
        size_t calls = 0;
        for (size_t i = 0; i < e->statement_count; i++) {
            if (vmbsave_call_desc_of(e->statements[i].call.op)->traced && calls++ == v->call) {
                last = i + 1u;
                break;
            }
        }
    }

    fputs("/* A standalone reproducer written by `vmbsave repro --emit-c`.\n"
          " *\n"
          " *     cc -o repro this_file.c -ldl && ./repro path/to/implementation.so\n"
          " *\n"
          " * It makes the run's calls through the plug-in ABI with an inline fault host and\n"
          " * re-checks the observation that broke the contract: it prints \"REPRODUCED <clause>\"\n"
          " * and exits 1, or \"NOT REPRODUCED\" and exits 0 (2: it could not load the plug-in).\n"
          " * VMBSAVE_REPRO_VERBOSE=1 prints every call.\n *\n",
          f);
    if (e->crashed) {
        fprintf(f, " * Outcome: the implementation died with signal %d in the last call.\n",
                e->signal_number);
    } else {
        fputs(" * Violation: ", f);
        put_comment_text(f, v->clause);
        fprintf(f, " (%s) at step %" PRIu32 ", call %" PRIu32 "\n", vmbsave_check_kind_name(v->kind),
                v->step, v->call);
        fputs(" *   expected ", f);
        put_comment_text(f, expected);
        fputs("\n *   observed ", f);
        put_comment_text(f, observed);
        fputc('\n', f);
    }
    fputs(" *\n * Program (vmbsave text form):\n", f);
    for (uint32_t i = 0; i < e->program.count && i < VMBSAVE_PROGRAM_MAX_STEPS; i++) {
        char text[256];
        if (vmbsave_step_print(&e->program.steps[i], text, sizeof(text)) > 0) {
            fprintf(f, " *   %3" PRIu32 "  ", i);
            put_comment_text(f, text);
            fputc('\n', f);
        }
    }
    fputs(" */\n\n", f);

    put_runtime(f, runtime_text);
    fputs("\n/* ---- The run's data ---- */\n", f);
    for (size_t i = 0; i < e->data_count; i++)
        put_data(f, e, &e->datas[i]);

    fputs("\nstatic const char *const vb_default_plugin = ", f);
    if (default_plugin != NULL)
        put_c_string(f, default_plugin);
    else
        fputs("NULL", f);
    fputs(";\nstatic const char vb_clause[] = ", f);
    put_c_string(f, e->crashed ? "crash" : v->clause);
    fputs(";\nstatic const char vb_expected[] = ", f);
    put_c_string(f, e->crashed ? "no crash" : expected);
    fputs(";\n\n"
          "int main(int argc, char **argv)\n"
          "{\n"
          "    const char *plugin = argc > 1 ? argv[1] : vb_default_plugin;\n"
          "    if (plugin == NULL || argc > 2) {\n"
          "        fprintf(stderr, \"usage: %s IMPLEMENTATION.so\\n\", argv[0]);\n"
          "        return 2;\n"
          "    }\n",
          f);
    if (e->has_violation && !e->crashed) {
        fprintf(f, "    vb_watch = %" PRIu32 "u;\n", v->call);
        if (e->has_entry)
            fprintf(f, "    vb_run_faults = %" PRIu32 ";\n", e->entry.faults_injected);
    }
    fputs("    if (vb_load(plugin) != 0)\n        return 2;\n\n", f);

    uint32_t shown_step = UINT32_MAX;
    for (size_t i = 0; i < last; i++) {
        const emit_statement *s = &e->statements[i];
        if (s->step != shown_step) {
            put_step_comment(f, e, s->step);
            shown_step = s->step;
        }
        put_statement(f, &s->call);
    }
    if (last < e->statement_count)
        fprintf(f, "    /* %zu later statements left out: the violation shows at the call "
                   "above */\n", e->statement_count - last);
    fputc('\n', f);

    int rc = 0;
    if (e->crashed)
        fprintf(f, "    return vb_check_crash(%d);\n", e->signal_number);
    else
        rc = put_check(f, e, err, err_size);
    fputs("}\n", f);
    if (rc != 0)
        return -1;
    if (ferror(f)) {
        snprintf(err, err_size, "writing the reproducer failed");
        return -1;
    }
    return 0;
}

const char *vmbsave_emitter_runtime_text(void)
{
    return (const char *)vmbsave_repro_runtime_text;
}
