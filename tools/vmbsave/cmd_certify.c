/* vmbsave certify (docs/vmbsave.1): every case of the conformance suite, then every fuzz
 * target's seeds and regressions, each in a sandboxed child (sandbox.h), graded, and written
 * up as evidence (certify_report.c). The implementation is never loaded into this process. */
#define _GNU_SOURCE /* dlopen's RTLD_LOCAL is POSIX; realpath, strsep */

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certify.h"
#include "child.h"
#include "cli.h"
#include "io.h"
#include "sandbox.h"

#include "host/host.h"
#include "host/loader.h"
#include "program/canonical.h"
#include "program/program.h"
#include "reference.h"
#include "run/differential.h"
#include "run/fuzz_input.h"
#include "run/runner.h"

#ifndef VMBSAVE_CONFORMANCE_MANIFEST
#define VMBSAVE_CONFORMANCE_MANIFEST ""
#endif
#ifndef VMBSAVE_CORPUS_DIR
#define VMBSAVE_CORPUS_DIR ""
#endif
/* An installed suite's folder, relative to the folder of the installed vmbsave (CMake computes
 * it from the install directories: ../share/vmbsave by default). */
#ifndef VMBSAVE_INSTALLED_DATA_RELDIR
#define VMBSAVE_INSTALLED_DATA_RELDIR "../share/vmbsave"
#endif

#define CERTIFY_MAX_PATTERNS 64u
#define CERTIFY_MAX_JOBS 64u

typedef struct certify_options {
    const char *impl;
    unsigned budget;
    uint64_t seed;
    bool seed_given;
    const char *patterns[CERTIFY_MAX_PATTERNS];
    size_t pattern_count;
    bool list;
    const char *report_dir;
    unsigned jobs;
    const char *memcheck;
    unsigned case_timeout;
    unsigned memory_mib;
    const char *manifest;
    const char *corpus;
    /* The search stage: at most this long (--search-seconds; default the rest of the budget). */
    unsigned search_seconds;
    bool search_seconds_given;
    /* --memcheck guard: the guard-page allocator preloaded into every case's process;
     * --memcheck valgrind: every case's process under valgrind memcheck. */
    char preload_env[4200];
    char valgrind[4096];
    /* --run-seed TARGET FILE: the hidden per-case mode memcheck runs seeds in. */
    const char *run_seed_target;
    const char *run_seed_file;
} certify_options;

/* Where Debian's afl++ puts AFL++'s guard-page allocator. */
#define CERTIFY_DISLOCATOR "/usr/lib/afl/libdislocator.so"
/* valgrind's exit status when it found an error (chosen: no test exits with it). */
#define CERTIFY_VALGRIND_EXIT 86
/* A case under valgrind runs this many times longer. */
#define CERTIFY_VALGRIND_SLOWDOWN 20u

/* ---- Options ------------------------------------------------------------------------------- */

static bool parse_unsigned(const char *text, unsigned long long max, unsigned long long *out)
{
    if (text == NULL || text[0] == '\0' || text[0] == '-')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* The first executable `name` on PATH, into out. */
static bool find_in_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/bin:/bin";
    while (*path != '\0') {
        size_t n = strcspn(path, ":");
        if (n > 0 && (size_t)snprintf(out, cap, "%.*s/%s", (int)n, path, name) < cap &&
            access(out, X_OK) == 0)
            return true;
        path += n;
        if (*path == ':')
            path++;
    }
    return false;
}

/* Where the conformance suite and the corpus are. VMBSAVE_CONFORMANCE_MANIFEST and
 * VMBSAVE_CORPUS_DIR, when set, say. Otherwise an installed suite, if this vmbsave has one
 * beside it (<bindir>/../share/vmbsave/conformance-cases.tsv, corpus/, testdata/): then the
 * tests' children get VMBSAVE_TEST_DATA=<that>/testdata unless it is set. Otherwise the build
 * and source trees this vmbsave was built in. */
static void locate_suite(certify_options *o)
{
    static char manifest[4096], corpus[4096], testdata[4096 + 32];
    const char *env_manifest = getenv("VMBSAVE_CONFORMANCE_MANIFEST");
    const char *env_corpus = getenv("VMBSAVE_CORPUS_DIR");
    o->manifest = env_manifest != NULL && env_manifest[0] != '\0' ? env_manifest : NULL;
    o->corpus = env_corpus != NULL && env_corpus[0] != '\0' ? env_corpus : NULL;
    char self[4096];
    ssize_t n = o->manifest != NULL && o->corpus != NULL
                    ? -1
                    : readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash = n > 0 ? memrchr(self, '/', (size_t)n) : NULL;
    if (slash != NULL) {
        *slash = '\0';
        const char *data = VMBSAVE_INSTALLED_DATA_RELDIR;
        int m = snprintf(manifest, sizeof(manifest), "%s/%s/conformance-cases.tsv", self, data);
        int c = snprintf(corpus, sizeof(corpus), "%s/%s/corpus", self, data);
        int t = snprintf(testdata, sizeof(testdata), "VMBSAVE_TEST_DATA=%s/%s/testdata", self, data);
        struct stat sb;
        bool installed = m > 0 && (size_t)m < sizeof(manifest) && c > 0 &&
                         (size_t)c < sizeof(corpus) && t > 0 && (size_t)t < sizeof(testdata) &&
                         stat(manifest, &sb) == 0 && S_ISREG(sb.st_mode);
        if (installed && o->manifest == NULL) {
            o->manifest = manifest;
            const char *given = getenv("VMBSAVE_TEST_DATA");
            if (given == NULL || given[0] == '\0')
                putenv(testdata); /* inherited by every child */
        }
        if (installed && o->corpus == NULL)
            o->corpus = corpus;
    }
    if (o->manifest == NULL)
        o->manifest = VMBSAVE_CONFORMANCE_MANIFEST;
    if (o->corpus == NULL)
        o->corpus = VMBSAVE_CORPUS_DIR;
}

static int parse_options(int argc, char **argv, certify_options *o)
{
    memset(o, 0, sizeof(*o));
    o->budget = CERTIFY_DEFAULT_BUDGET;
    o->jobs = 1;
    o->memcheck = "none";
    o->case_timeout = CERTIFY_DEFAULT_CASE_TIMEOUT;
    o->memory_mib = CERTIFY_DEFAULT_MEMORY_MIB;
    locate_suite(o);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        unsigned long long n;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_help("certify");
            return -2;
        } else if (strcmp(argv[i], "--list") == 0) {
            o->list = true;
        } else if ((m = cli_option_value(argc, argv, &i, "--impl", &v)) != 0) {
            if (m < 0)
                return cli_usage_error("certify", "--impl needs a path"), -1;
            o->impl = v;
        } else if ((m = cli_option_value(argc, argv, &i, "--budget", &v)) != 0) {
            if (m < 0 || !parse_unsigned(v, CERTIFY_MAX_BUDGET, &n) || n == 0)
                return cli_usage_error("certify", "--budget takes seconds, 1 to %u", CERTIFY_MAX_BUDGET), -1;
            o->budget = (unsigned)n;
        } else if ((m = cli_option_value(argc, argv, &i, "--seed", &v)) != 0) {
            if (m < 0 || !parse_unsigned(v, UINT64_MAX, &n))
                return cli_usage_error("certify", "--seed takes a number (decimal or 0x hex)"), -1;
            o->seed = n;
            o->seed_given = true;
        } else if ((m = cli_option_value(argc, argv, &i, "--case", &v)) != 0) {
            if (m < 0 || v[0] == '\0')
                return cli_usage_error("certify", "--case needs a case ID or a prefix of whole segments"), -1;
            if (o->pattern_count == CERTIFY_MAX_PATTERNS)
                return cli_usage_error("certify", "at most %u --case options", CERTIFY_MAX_PATTERNS), -1;
            o->patterns[o->pattern_count++] = v;
        } else if ((m = cli_option_value(argc, argv, &i, "--report", &v)) != 0) {
            if (m < 0 || v[0] == '\0')
                return cli_usage_error("certify", "--report needs a directory"), -1;
            o->report_dir = v;
        } else if ((m = cli_option_value(argc, argv, &i, "--jobs", &v)) != 0) {
            if (m < 0 || !parse_unsigned(v, CERTIFY_MAX_JOBS, &n) || n == 0)
                return cli_usage_error("certify", "--jobs takes 1 to %u", CERTIFY_MAX_JOBS), -1;
            o->jobs = (unsigned)n;
        } else if ((m = cli_option_value(argc, argv, &i, "--memcheck", &v)) != 0) {
            if (m < 0 || (strcmp(v, "none") != 0 && strcmp(v, "guard") != 0 && strcmp(v, "valgrind") != 0))
                return cli_usage_error("certify", "--memcheck takes none, guard or valgrind"), -1;
            o->memcheck = v;
        } else if (strcmp(argv[i], "--run-seed") == 0 && i + 2 < argc) {
            o->run_seed_target = argv[i + 1];
            o->run_seed_file = argv[i + 2];
            i += 2;
        } else if ((m = cli_option_value(argc, argv, &i, "--case-timeout", &v)) != 0) {
            if (m < 0 || !parse_unsigned(v, CLI_MAX_TIMEOUT, &n) || n == 0)
                return cli_usage_error("certify", "--case-timeout takes seconds, 1 to %u", CLI_MAX_TIMEOUT), -1;
            o->case_timeout = (unsigned)n;
        } else if ((m = cli_option_value(argc, argv, &i, "--search-seconds", &v)) != 0) {
            if (m < 0 || !parse_unsigned(v, CERTIFY_MAX_BUDGET, &n))
                return cli_usage_error("certify", "--search-seconds takes seconds, 0 to %u", CERTIFY_MAX_BUDGET), -1;
            o->search_seconds = (unsigned)n;
            o->search_seconds_given = true;
        } else if ((m = cli_option_value(argc, argv, &i, "--memory", &v)) != 0) {
            if (m < 0 || !parse_unsigned(v, CERTIFY_MAX_MEMORY_MIB, &n) || n < 16)
                return cli_usage_error("certify", "--memory takes MiB, 16 to %u", CERTIFY_MAX_MEMORY_MIB), -1;
            o->memory_mib = (unsigned)n;
        } else {
            return cli_usage_error("certify", "unknown argument '%s'", argv[i]), -1;
        }
    }
    if (o->impl == NULL && !o->list)
        return cli_usage_error("certify", "--impl LIB.so is required"), -1;
    if (strcmp(o->memcheck, "none") != 0 && sandbox_sanitized())
        return cli_usage_error("certify", "--memcheck %s needs a vmbsave built without sanitizers "
                                          "(the release or debug preset)", o->memcheck), -1;
    if (strcmp(o->memcheck, "guard") == 0) {
        const char *lib = getenv("VMBSAVE_DISLOCATOR");
        if (lib == NULL || lib[0] == '\0')
            lib = CERTIFY_DISLOCATOR;
        if (access(lib, R_OK) != 0)
            return cli_usage_error("certify", "--memcheck guard needs AFL++'s libdislocator.so (%s; "
                                              "apt-get install afl++, or set VMBSAVE_DISLOCATOR)", lib), -1;
        snprintf(o->preload_env, sizeof(o->preload_env), "LD_PRELOAD=%s", lib);
    } else if (strcmp(o->memcheck, "valgrind") == 0) {
        if (!find_in_path("valgrind", o->valgrind, sizeof(o->valgrind)))
            return cli_usage_error("certify", "--memcheck valgrind needs valgrind (apt-get install valgrind)"), -1;
    }
    if (!o->seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
    }
    return 0;
}

/* ---- The implementation, looked at from a child ------------------------------------------- */

typedef struct preflight_report {
    int loadable;       /* dlopen and dlsym worked */
    int queried;        /* the query succeeded and the table passed the loader's checks */
    char name[128];
    char version[128];
    unsigned abi_major, abi_minor;
    uint64_t capabilities;
    char error[512];
} preflight_report;

static int preflight(void *arg, void *report, size_t size)
{
    (void)size;
    const char *path = arg;
    preflight_report *r = report;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *why = dlerror();
        snprintf(r->error, sizeof(r->error), "%s", why != NULL ? why : "dlopen failed");
        return 0;
    }
    if (dlsym(dl, "vmbsave_get_interface") == NULL) {
        snprintf(r->error, sizeof(r->error), "it does not export vmbsave_get_interface");
        return 0;
    }
    r->loadable = 1;
    vmbsave_fault_host host;
    vmbsave_fault_host_init(&host);
    vmbsave_impl impl;
    if (vmbsave_impl_load(path, &host.host, &impl, r->error, sizeof(r->error)) != 0)
        return 0;
    r->queried = 1;
    snprintf(r->name, sizeof(r->name), "%s", impl.iface.impl_name);
    snprintf(r->version, sizeof(r->version), "%s", impl.iface.impl_version);
    r->abi_major = impl.iface.abi_major;
    r->abi_minor = impl.iface.abi_minor;
    r->capabilities = impl.iface.capabilities;
    vmbsave_impl_unload(&impl); /* releases the interface too */
    return 0;
}

/* ---- The cases ---------------------------------------------------------------------------- */

typedef struct case_list {
    certify_case *items;
    size_t count, cap;
} case_list;

static certify_case *add_case(case_list *l, const char *id, const char *clause, certify_level level,
                              certify_stage stage, const char *program, const char *argument,
                              int target)
{
    if (l->count == CERTIFY_MAX_CASES)
        return NULL;
    if (l->count == l->cap) {
        size_t want = l->cap == 0 ? 256 : l->cap * 2;
        certify_case *grown = realloc(l->items, want * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        l->items = grown;
        l->cap = want;
    }
    certify_case *c = &l->items[l->count++];
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(c->clause, sizeof(c->clause), "%s", clause);
    c->level = level;
    c->stage = stage;
    c->program = strdup(program);
    c->argument = strdup(argument);
    c->target = target;
    return c;
}

/* The conformance suite's manifest (tests/CMakeLists.txt writes it): one case a line,
 * "ID<TAB>CLAUSE<TAB>LEVEL<TAB>TIMEOUT<TAB>EXECUTABLE<TAB>TEST NAME"; TIMEOUT is the seconds the
 * case needs at least (0: --case-timeout decides). A relative EXECUTABLE is relative to the
 * manifest's folder (the installed manifest's are). */
static int load_manifest(const char *path, case_list *l, char *err, size_t err_size)
{
    uint8_t *bytes;
    size_t size;
    char why[512];
    if (path[0] == '\0') {
        snprintf(err, err_size, "this vmbsave was built without the conformance suite "
                                "(VMBSAVE_BUILD_TESTS=OFF); set VMBSAVE_CONFORMANCE_MANIFEST");
        return -1;
    }
    if (io_read_file(path, CERTIFY_MAX_MANIFEST_BYTES, &bytes, &size, why, sizeof(why)) != 0) {
        snprintf(err, err_size, "conformance manifest %s: %s", path, why);
        return -1;
    }
    char *cursor = (char *)bytes;
    unsigned line_no = 0;
    int rc = 0;
    for (char *line; (line = strsep(&cursor, "\n")) != NULL;) {
        line_no++;
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *fields[6];
        size_t n = 0;
        for (char *f; n < 6 && (f = strsep(&line, "\t")) != NULL;)
            fields[n++] = f;
        certify_level level = LEVEL_MUST;
        if (n == 6 && strcmp(fields[2], "SHOULD") == 0)
            level = LEVEL_SHOULD;
        else if (n == 6 && strcmp(fields[2], "MAY") == 0)
            level = LEVEL_MAY;
        unsigned long long timeout = 0;
        certify_case *c = NULL;
        char program[8192];
        int p = -1;
        if (n == 6) {
            const char *slash = strrchr(path, '/');
            p = fields[4][0] == '/' ? snprintf(program, sizeof(program), "%s", fields[4])
                : slash != NULL     ? snprintf(program, sizeof(program), "%.*s/%s",
                                               (int)(slash - path), path, fields[4])
                                    : snprintf(program, sizeof(program), "./%s", fields[4]);
        }
        if (n == 6 && line == NULL && strlen(fields[0]) < CERTIFY_MAX_ID && p > 0 &&
            (size_t)p < sizeof(program) && parse_unsigned(fields[3], CLI_MAX_TIMEOUT, &timeout))
            c = add_case(l, fields[0], fields[1], level, STAGE_CONFORMANCE, program, fields[5], -1);
        if (c != NULL)
            c->min_timeout_seconds = (unsigned)timeout;
        if (c == NULL) {
            snprintf(err, err_size, "conformance manifest %s:%u: malformed line", path, line_no);
            rc = -1;
            break;
        }
    }
    free(bytes);
    return rc;
}

/* Every target's seeds and regressions, as SEEDS.<target>.<file>. */
static int load_seeds(const char *corpus, case_list *l, char *err, size_t err_size)
{
    if (corpus[0] == '\0' || !io_is_directory(corpus)) {
        snprintf(err, err_size, "corpus directory '%s' not found; set VMBSAVE_CORPUS_DIR", corpus);
        return -1;
    }
    static const char *const kinds[] = {"seeds", "regressions"};
    for (int t = 0; t < VMBSAVE_FUZZ_TARGET_COUNT; t++) {
        const char *name = vmbsave_fuzz_target_name((vmbsave_fuzz_target)t);
        for (size_t k = 0; k < 2; k++) {
            char dir[4096];
            snprintf(dir, sizeof(dir), "%s/%s/%s", corpus, kinds[k], name);
            if (!io_is_directory(dir))
                continue;
            char **paths;
            size_t count;
            char why[512];
            if (io_list_directory(dir, CLI_MAX_DIR_ENTRIES, &paths, &count, why, sizeof(why)) != 0) {
                snprintf(err, err_size, "%.400s: %s", dir, why);
                return -1;
            }
            for (size_t i = 0; i < count; i++) {
                const char *base = strrchr(paths[i], '/');
                char id[CERTIFY_MAX_ID];
                snprintf(id, sizeof(id), "%s.%s.%s", k == 0 ? "SEEDS" : "REGRESSIONS", name,
                         base != NULL ? base + 1 : paths[i]);
                if (add_case(l, id, "-", LEVEL_MUST, STAGE_SEEDS, paths[i], "", t) == NULL) {
                    io_free_list(paths, count);
                    snprintf(err, err_size, "more than %u cases", CERTIFY_MAX_CASES);
                    return -1;
                }
            }
            io_free_list(paths, count);
        }
    }
    return 0;
}

/* The interoperability stage: per canonical state, INTEROP.<STATE>.IMPL_TO_REF and
 * .REF_TO_IMPL (certify_interop.c). */
static int load_interop(case_list *l, char *err, size_t err_size)
{
    for (int s = 0; s < (int)VMBSAVE_CANONICAL_COUNT; s++) {
        char upper[64];
        snprintf(upper, sizeof(upper), "%s", vmbsave_canonical_name((vmbsave_canonical_id)s));
        for (char *p = upper; *p != '\0'; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        static const char *const directions[] = {"IMPL_TO_REF", "REF_TO_IMPL"};
        for (size_t d = 0; d < 2; d++) {
            char id[CERTIFY_MAX_ID];
            snprintf(id, sizeof(id), "INTEROP.%s.%s", upper, directions[d]);
            if (add_case(l, id, "FORMAT.LAYOUT", LEVEL_MUST, STAGE_INTEROP, "", directions[d], s) == NULL) {
                snprintf(err, err_size, "more than %u cases", CERTIFY_MAX_CASES);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- Running one case ---------------------------------------------------------------------- */

typedef struct context {
    const certify_options *options;
    char self_path[4096]; /* this executable, for --run-seed */
    certify_run *run;
    char plugin_env[4096 + 32];
    pthread_mutex_t lock;
    size_t next; /* the next case to start */
    size_t done;
    size_t failed;
    uint64_t deadline_ms;
    bool tty;
    FILE *log; /* progress.log in the report folder, or NULL */
    char scratch[64]; /* a private temporary folder: the cases' structured reports */
    /* Clauses whose level is not MUST (from the manifest), for grading what the oracle names. */
    char (*lenient)[CERTIFY_MAX_ID];
    certify_level *lenient_level;
    size_t lenient_count;
} context;

/* The level of a clause the oracle named: SPEC.md's, as the manifest carries it. */
static certify_level clause_level(const context *x, const char *clause)
{
    for (size_t i = 0; i < x->lenient_count; i++) {
        if (strcmp(x->lenient[i], clause) == 0)
            return x->lenient_level[i];
    }
    return LEVEL_MUST;
}

/* The type a sanitizer names in its report ("heap-buffer-overflow", "SEGV", "stack-overflow",
 * "undefined-behavior"), or "" if the output has none. Leak reports are not counted here: after
 * a failed check, the test's own unwound allocations show as leaks. Sanitizer reports are the
 * sanitizer's format, read as such. */
static void sanitizer_type(const char *output, char *out, size_t cap)
{
    out[0] = '\0';
    const char *p = output != NULL ? strstr(output, "ERROR: AddressSanitizer: ") : NULL;
    if (p != NULL) {
        p += strlen("ERROR: AddressSanitizer: ");
        size_t n = strcspn(p, " \n:");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    } else if (output != NULL && strstr(output, "runtime error: ") != NULL) {
        snprintf(out, cap, "undefined-behavior");
    }
}

/* Grades what the sandbox saw for an end that is not a finished run (the case's output is
 * already in c->output). True if it did. */
static bool grade_abnormal(certify_case *c, const sandbox_result *r)
{
    char what[256];
    sandbox_describe(r, what, sizeof(what));
    switch (r->end) {
    case SANDBOX_TIMED_OUT:
        c->verdict = CV_TIMEOUT;
        snprintf(c->detail, sizeof(c->detail), "%s", what);
        return true;
    case SANDBOX_MEMORY_LIMIT:
        c->verdict = CV_MEMORY_LIMIT;
        snprintf(c->detail, sizeof(c->detail), "%s", what);
        return true;
    case SANDBOX_FAILED:
        c->verdict = CV_HARNESS_ERROR;
        snprintf(c->detail, sizeof(c->detail), "%s", what);
        return true;
    case SANDBOX_SIGNALLED:
        c->verdict = CV_CRASH;
        sanitizer_type(c->output, c->crash_type, sizeof(c->crash_type));
        if (c->crash_type[0] == '\0')
            snprintf(c->crash_type, sizeof(c->crash_type), "%s", child_signal_name(r->signal_number));
        snprintf(c->detail, sizeof(c->detail), "crash: %s (%s)", what, c->crash_type);
        return true;
    case SANDBOX_EXITED: break;
    }
    char type[64];
    sanitizer_type(c->output, type, sizeof(type));
    if (type[0] != '\0') {
        c->verdict = CV_CRASH;
        snprintf(c->crash_type, sizeof(c->crash_type), "%s", type);
        snprintf(c->detail, sizeof(c->detail), "crash: sanitizer report %s (%s)", type, what);
        return true;
    }
    return false;
}

/* What a cmocka failure says was wrong: its message lines, up to the test's end or a
 * sanitizer's report (a leak report after a failed check is the test's, not the verdict's). */
static void failure_lines(const char *output, char *out, size_t cap)
{
    out[0] = '\0';
    size_t used = 0;
    for (const char *line = output; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t n = end != NULL ? (size_t)(end - line) : strlen(line);
        if (strncmp(line, "[  FAILED  ]", 12) == 0 || strncmp(line, "[  SKIPPED ]", 12) == 0 ||
            strncmp(line, "==", 2) == 0)
            break;
        bool wanted = n > 0 && line[0] != '[';
        if (wanted && used + n + 4 < cap && used < 600) {
            used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used != 0 ? " | " : "",
                                     (int)n, line);
        }
        line = end != NULL ? end + 1 : NULL;
    }
}

/* Runs one case's process: under valgrind with --memcheck valgrind, with the guard-page
 * allocator preloaded with --memcheck guard, the plug-in named in its environment. */
static void run_case_process(context *x, const certify_case *c, char *const argv[],
                             char *extra_env, sandbox_result *r)
{
    const certify_options *o = x->options;
    unsigned seconds = o->case_timeout > c->min_timeout_seconds ? o->case_timeout
                                                                : c->min_timeout_seconds;
    char *full[16];
    size_t n = 0;
    static char error_exit[] = "--error-exitcode=86";
    static char quiet[] = "--quiet";
    static char no_leaks[] = "--leak-check=no"; /* leaks are RESOURCES.NO_LEAK's, counted */
    if (o->valgrind[0] != '\0') {
        full[n++] = (char *)o->valgrind;
        full[n++] = quiet;
        full[n++] = error_exit;
        full[n++] = no_leaks;
        seconds *= CERTIFY_VALGRIND_SLOWDOWN;
    }
    for (size_t i = 0; argv[i] != NULL && n + 1 < sizeof(full) / sizeof(full[0]); i++)
        full[n++] = argv[i];
    full[n] = NULL;
    static char exact_env[] = "VMBSAVE_EXACT_BUFFERS=1"; /* harness/run/runner.c */
    char *env[5] = {x->plugin_env, NULL, NULL, NULL, NULL};
    size_t e = 1;
    if (extra_env != NULL)
        env[e++] = extra_env;
    if (o->preload_env[0] != '\0')
        env[e++] = (char *)o->preload_env;
    if (strcmp(o->memcheck, "none") != 0)
        env[e++] = exact_env;
    sandbox_limits limits = {seconds * 1000u, (uint64_t)o->memory_mib << 20};
    if (o->valgrind[0] != '\0')
        limits.memory_bytes = 0; /* valgrind's own address space is far larger than the case's */
    sandbox_run_exec(full, env, &limits, r);
}

/* What a memory checker said, if it said anything: "guard-page (SIGSEGV)" for a fault under
 * the guard-page allocator, "valgrind: Invalid read of size 1" for valgrind's first error. */
static bool memcheck_finding(const certify_options *o, const sandbox_result *r, const char *output,
                             char *type, size_t cap)
{
    if (o->preload_env[0] != '\0' && r->end == SANDBOX_SIGNALLED &&
        (r->signal_number == SIGSEGV || r->signal_number == SIGBUS)) {
        snprintf(type, cap, "guard-page (%s)", child_signal_name(r->signal_number));
        return true;
    }
    if (o->valgrind[0] != '\0' && r->end == SANDBOX_EXITED && r->exit_code == CERTIFY_VALGRIND_EXIT) {
        /* valgrind's report lines start "==PID== "; its first error names the kind. */
        const char *p = output != NULL ? strstr(output, "== Invalid ") : NULL;
        if (p == NULL && output != NULL)
            p = strstr(output, "== Conditional jump");
        if (p == NULL && output != NULL)
            p = strstr(output, "== Syscall param");
        if (p != NULL) {
            p += 3;
            size_t len = strcspn(p, "\n");
            snprintf(type, cap, "valgrind: %.*s", (int)(len < 48 ? len : 48), p);
        } else {
            snprintf(type, cap, "valgrind");
        }
        return true;
    }
    return false;
}

/* Moves the case's time and output out of the sandbox's result, and grades a memory checker's
 * finding: true when that decided the verdict. */
static bool take_result(context *x, certify_case *c, sandbox_result *r)
{
    c->elapsed_ms = r->elapsed_ms;
    c->output = r->output;
    r->output = NULL;
    if (!memcheck_finding(x->options, r, c->output, c->crash_type, sizeof(c->crash_type)))
        return false;
    c->verdict = CV_CRASH;
    snprintf(c->detail, sizeof(c->detail), "memory error caught by --memcheck %s: %s",
             x->options->memcheck, c->crash_type);
    return true;
}

/* The structured report a failing conformance case wrote (tests/support/check.c), into the
 * case's expected and observed; without one (the process ended before its first failing
 * assertion reported), the clause and cmocka's text. */
static void take_case_report(certify_case *c, const char *path)
{
    struct stat sb;
    json_t *report = NULL;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size <= (off_t)CERTIFY_MAX_CASE_REPORT)
        report = json_load_file(path, 0, NULL);
    unlink(path);
    if (c->verdict != CV_FAIL && c->verdict != CV_WARN) {
        json_decref(report);
        return;
    }
    json_t *expected = json_object_get(report, "expected");
    json_t *observed = json_object_get(report, "observed");
    if (json_is_object(expected) && json_is_object(observed)) {
        c->expected = json_incref(expected);
        c->observed = json_incref(observed);
        json_t *source = json_pack("{s:O?, s:O?, s:O?}", "assertion", json_object_get(report, "assertion"),
                                   "file", json_object_get(report, "file"), "line",
                                   json_object_get(report, "line"));
        json_object_set_new(c->observed, "source", source != NULL ? source : json_null());
    } else {
        c->expected = json_pack("{s:s, s:s}", "kind", "rule", "clause", c->clause);
        c->observed = json_pack("{s:s, s:s}", "kind", "message", "text", c->detail);
    }
    json_decref(report);
}

/* Grades a conformance case's process from its end and cmocka's output; frees r. */
static void run_conformance_verdict(context *x, certify_case *c, sandbox_result *r)
{
    if (take_result(x, c, r)) {
        sandbox_result_free(r);
        return;
    }
    if (grade_abnormal(c, r)) {
        sandbox_result_free(r);
        return;
    }
    const char *out = c->output != NULL ? c->output : "";
    /* cmocka catches a signal in a test and reports it as a failure: it is a crash. */
    const char *exception = strstr(out, "Test failed with exception: ");
    if (exception != NULL) {
        exception += strlen("Test failed with exception: ");
        const char *paren = strchr(exception, '(');
        int sig = paren != NULL ? atoi(paren + 1) : 0;
        c->verdict = CV_CRASH;
        if (x->options->preload_env[0] != '\0' && (sig == SIGSEGV || sig == SIGBUS))
            snprintf(c->crash_type, sizeof(c->crash_type), "guard-page (%s)", child_signal_name(sig));
        else
            snprintf(c->crash_type, sizeof(c->crash_type), "%s", sig > 0 ? child_signal_name(sig) : "signal");
        snprintf(c->detail, sizeof(c->detail), "crash in the test: %s%s", c->crash_type,
                 x->options->preload_env[0] != '\0' ? ", caught by --memcheck guard" : "");
    } else if (strstr(out, "[  SKIPPED ]") != NULL) {
        c->verdict = CV_NOT_SUPPORTED;
        failure_lines(out, c->detail, sizeof(c->detail));
    } else if (strstr(out, "[  FAILED  ]") != NULL) {
        /* A SHOULD clause broken warns; a MUST fails. */
        c->verdict = c->level == LEVEL_MUST ? CV_FAIL : CV_WARN;
        failure_lines(out, c->detail, sizeof(c->detail));
    } else if (r->exit_code == 0 && strstr(out, "[  PASSED  ] 1 test(s).") != NULL) {
        c->verdict = CV_PASS;
    } else if (strstr(out, "ERROR: LeakSanitizer:") != NULL) {
        /* The check passed, but memory was lost outside the host's counted allocator. */
        c->verdict = CV_CRASH;
        snprintf(c->crash_type, sizeof(c->crash_type), "memory-leak");
        snprintf(c->detail, sizeof(c->detail), "LeakSanitizer: memory allocated outside the host "
                                               "allocator was never freed");
    } else {
        /* The test started and the process ended without its verdict: the implementation
         * ended it (exit() in a call). A test that never started is vmbsave's problem. */
        char what[128];
        sandbox_describe(r, what, sizeof(what));
        bool started = strstr(out, "[ RUN      ]") != NULL;
        c->verdict = started ? CV_CRASH : CV_HARNESS_ERROR;
        if (started)
            snprintf(c->crash_type, sizeof(c->crash_type), "exit");
        snprintf(c->detail, sizeof(c->detail), "%s (%s) without a cmocka verdict",
                 started ? "the process ended mid-test" : "the test did not start", what);
    }
    sandbox_result_free(r);
}

static void run_conformance_case(context *x, certify_case *c)
{
    char *argv[] = {c->program, c->argument, NULL};
    sandbox_result r;
    char env[4200], path[4096];
    snprintf(path, sizeof(path), "%s/case-%zu.json", x->scratch, (size_t)(c - x->run->cases));
    snprintf(env, sizeof(env), "VMBSAVE_CASE_REPORT=%s", path);
    run_case_process(x, c, argv, env, &r);
    run_conformance_verdict(x, c, &r);
    take_case_report(c, path);
}

/* What a seed run hands back from the child. */
typedef struct seed_report {
    int setup_failed;
    int impl_refused; /* the runner could not use the implementation's table */
    char error[512];
    int verdict;   /* vmbsave_verdict */
    int differential; /* vmbsave_differential_outcome + 1, 0: not a differential run */
    char clause[64];
    uint32_t step;
    char check[32];
    char expected[256];
    char observed[256];
    char disagreement[512];
    uint32_t faults;
} seed_report;

typedef struct seed_arg {
    const char *plugin;
    const certify_case *c;
} seed_arg;

static int run_seed_child(void *arg, void *report, size_t size)
{
    (void)size;
    const seed_arg *a = arg;
    seed_report *r = report;
    static vmbsave_fuzz_input input; /* 4 MiB: not on the stack */
    if (cli_load_input(a->c->program, false, (vmbsave_fuzz_target)a->c->target, &input, r->error,
                       sizeof(r->error)) != 0) {
        r->setup_failed = 1;
        return 0;
    }
    vmbsave_runner *impl = vmbsave_runner_open_path(a->plugin, r->error, sizeof(r->error));
    if (impl == NULL) {
        r->impl_refused = 1;
        return 0;
    }
    vmbsave_run_result result;
    if (a->c->target == VMBSAVE_FUZZ_TARGET_DIFFERENTIAL) {
        vmbsave_runner *ref = vmbsave_runner_open_entry(vmbsave_reference_get_interface, r->error,
                                                        sizeof(r->error));
        vmbsave_differential *diff = ref != NULL ? vmbsave_differential_new(r->error, sizeof(r->error)) : NULL;
        if (diff == NULL) {
            r->setup_failed = 1;
            return 0;
        }
        static vmbsave_differential_result d;
        vmbsave_differential_run(diff, ref, impl, &input.program, &d);
        r->differential = (int)d.outcome + 1;
        result = d.impl;
        if (d.outcome == VMBSAVE_DIFFERENTIAL_DISAGREE) {
            snprintf(r->clause, sizeof(r->clause), "%s", d.disagreement.clause);
            snprintf(r->disagreement, sizeof(r->disagreement),
                     "step %u, %.100s: %s: reference %.150s, implementation %.150s", d.disagreement.step,
                     d.disagreement.call_text, vmbsave_differential_field_name(d.disagreement.field),
                     d.disagreement.reference, d.disagreement.implementation);
        } else if (d.outcome == VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION) {
            result = d.reference;
        } else if (d.outcome == VMBSAVE_DIFFERENTIAL_ERROR) {
            snprintf(r->error, sizeof(r->error), "%s", d.error);
        }
    } else {
        vmbsave_runner_run(impl, &input.program, &input.options, &result);
    }
    r->verdict = (int)result.verdict;
    if (result.verdict == VMBSAVE_VERDICT_VIOLATION) {
        snprintf(r->clause, sizeof(r->clause), "%s", result.violation.clause);
        r->step = result.violation.step;
        snprintf(r->check, sizeof(r->check), "%s", vmbsave_check_kind_name(result.violation.kind));
        snprintf(r->expected, sizeof(r->expected), "%s", result.violation.expected);
        snprintf(r->observed, sizeof(r->observed), "%s", result.violation.observed);
    } else if (result.verdict == VMBSAVE_VERDICT_ERROR && r->error[0] == '\0') {
        snprintf(r->error, sizeof(r->error), "%s", result.error);
    }
    return 0;
}

/* The line the --run-seed mode ends with: its report as JSON. */
#define SEED_REPORT_PREFIX "vmbsave-seed-report "

static json_t *seed_report_json(const seed_report *s)
{
    return json_pack("{s:i, s:i, s:s, s:i, s:i, s:s, s:i, s:s, s:s, s:s, s:s, s:i}", "setup_failed",
                     s->setup_failed, "impl_refused", s->impl_refused, "error", s->error, "verdict",
                     s->verdict, "differential", s->differential, "clause", s->clause, "step",
                     (int)s->step, "check", s->check, "expected", s->expected, "observed",
                     s->observed, "disagreement", s->disagreement, "faults", (int)s->faults);
}

static bool seed_report_from_json(json_t *j, seed_report *s)
{
    memset(s, 0, sizeof(*s));
    const char *error, *clause, *check, *expected, *observed, *disagreement;
    int step, faults;
    if (json_unpack(j, "{s:i, s:i, s:s, s:i, s:i, s:s, s:i, s:s, s:s, s:s, s:s, s:i}", "setup_failed",
                    &s->setup_failed, "impl_refused", &s->impl_refused, "error", &error, "verdict",
                    &s->verdict, "differential", &s->differential, "clause", &clause, "step", &step,
                    "check", &check, "expected", &expected, "observed", &observed, "disagreement",
                    &disagreement, "faults", &faults) != 0)
        return false;
    snprintf(s->error, sizeof(s->error), "%s", error);
    snprintf(s->clause, sizeof(s->clause), "%s", clause);
    snprintf(s->check, sizeof(s->check), "%s", check);
    snprintf(s->expected, sizeof(s->expected), "%s", expected);
    snprintf(s->observed, sizeof(s->observed), "%s", observed);
    snprintf(s->disagreement, sizeof(s->disagreement), "%s", disagreement);
    s->step = (uint32_t)step;
    s->faults = (uint32_t)faults;
    return true;
}

/* vmbsave certify --impl P --run-seed TARGET FILE: one seed case in this process (which the
 * parent runs under a memory checker), its report printed as the last line. */
static int run_seed_mode(const certify_options *o)
{
    int target = vmbsave_fuzz_target_find(o->run_seed_target);
    if (target < 0)
        return cli_usage_error("certify", "--run-seed: unknown target %s", o->run_seed_target), CERTIFY_EXIT_USAGE;
    certify_case c;
    memset(&c, 0, sizeof(c));
    c.program = (char *)o->run_seed_file;
    c.target = target;
    seed_arg a = {o->impl, &c};
    static seed_report s;
    run_seed_child(&a, &s, sizeof(s));
    json_t *j = seed_report_json(&s);
    char *line = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    if (line == NULL)
        return CERTIFY_EXIT_INCOMPLETE;
    printf("\n" SEED_REPORT_PREFIX "%s\n", line);
    free(line);
    fflush(stdout);
    return 0;
}

static void run_seed_case(context *x, certify_case *c)
{
    sandbox_result r;
    static _Thread_local seed_report parsed;
    if (strcmp(x->options->memcheck, "none") == 0) {
        seed_arg a = {x->run->impl_path, c};
        sandbox_limits limits = {x->options->case_timeout * 1000u,
                                 (uint64_t)x->options->memory_mib << 20};
        sandbox_run_function(run_seed_child, &a, sizeof(seed_report), &limits, &r);
    } else {
        /* The checker must see the whole process: a fresh one, exec'd. */
        static char certify_word[] = "certify", impl_flag[] = "--impl", seed_flag[] = "--run-seed";
        char target_name[32];
        snprintf(target_name, sizeof(target_name), "%s", vmbsave_fuzz_target_name((vmbsave_fuzz_target)c->target));
        char *argv[] = {x->self_path, certify_word, impl_flag, x->run->impl_path, seed_flag,
                        target_name, c->program, NULL};
        run_case_process(x, c, argv, NULL, &r);
        const char *line = r.output != NULL ? strstr(r.output, "\n" SEED_REPORT_PREFIX) : NULL;
        json_t *j = line != NULL ? json_loads(line + 1 + strlen(SEED_REPORT_PREFIX), JSON_DISABLE_EOF_CHECK, NULL) : NULL;
        if (j != NULL && seed_report_from_json(j, &parsed) && r.end == SANDBOX_EXITED && r.exit_code == 0) {
            r.finished = true;
            r.report = malloc(sizeof(parsed));
            if (r.report != NULL)
                memcpy(r.report, &parsed, sizeof(parsed));
        }
        json_decref(j);
    }
    if (take_result(x, c, &r)) {
        sandbox_result_free(&r);
        return;
    }
    const seed_report *s = r.report;
    if (!r.finished || s == NULL) {
        if (!grade_abnormal(c, &r)) {
            c->verdict = CV_CRASH;
            snprintf(c->crash_type, sizeof(c->crash_type), "exit");
            snprintf(c->detail, sizeof(c->detail), "the implementation ended the process (exit %d) mid-case",
                     r.exit_code);
        }
    } else if (s->impl_refused) {
        /* It loaded in the preflight: what the runner refuses is its table. */
        c->verdict = CV_FAIL;
        snprintf(c->clause, sizeof(c->clause), "ABI.TABLE.COMPLETE");
        snprintf(c->detail, sizeof(c->detail), "the implementation's table is unusable: %s", s->error);
    } else if (s->setup_failed) {
        c->verdict = CV_HARNESS_ERROR;
        snprintf(c->detail, sizeof(c->detail), "%s", s->error);
    } else if (s->differential == VMBSAVE_DIFFERENTIAL_DISAGREE + 1) {
        /* Both runs passed the oracle: the contract allows either; recorded, never failing. */
        c->verdict = CV_INFO;
        snprintf(c->clause, sizeof(c->clause), "%s", s->clause);
        snprintf(c->detail, sizeof(c->detail), "differs from the reference where the contract allows it: %s",
                 s->disagreement);
    } else if (s->differential == VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION + 1) {
        c->verdict = CV_HARNESS_ERROR;
        snprintf(c->detail, sizeof(c->detail), "the reference broke %s on this input (a bug of vmbsave's)",
                 s->clause);
    } else if (s->verdict == VMBSAVE_VERDICT_VIOLATION) {
        snprintf(c->clause, sizeof(c->clause), "%s", s->clause);
        c->level = clause_level(x, s->clause);
        c->verdict = c->level == LEVEL_MUST ? CV_FAIL : CV_WARN;
        snprintf(c->detail, sizeof(c->detail), "%s at step %u (%s): expected %s, observed %s", s->clause,
                 s->step, s->check, s->expected, s->observed);
        c->expected = json_pack("{s:s, s:s}", "check", s->check, "text", s->expected);
        c->observed = json_pack("{s:s, s:s}", "check", s->check, "text", s->observed);
    } else if (s->verdict == VMBSAVE_VERDICT_ERROR) {
        c->verdict = CV_HARNESS_ERROR;
        snprintf(c->detail, sizeof(c->detail), "%s", s->error);
    } else {
        c->verdict = CV_PASS;
    }
    sandbox_result_free(&r);
}

/* An interoperability case: in a child, like a seed case (a memory checker does not run it). */
static void run_interop_case(context *x, certify_case *c)
{
    bool ref_to_impl = strcmp(c->argument, "REF_TO_IMPL") == 0;
    void *arg = certify_interop_arg_new(x->run->impl_path, c->target, ref_to_impl);
    sandbox_result r;
    sandbox_limits limits = {x->options->case_timeout * 1000u, (uint64_t)x->options->memory_mib << 20};
    if (arg == NULL) {
        c->verdict = CV_HARNESS_ERROR;
        snprintf(c->detail, sizeof(c->detail), "out of memory");
        return;
    }
    sandbox_run_function(certify_interop_child, arg, certify_interop_report_size(), &limits, &r);
    free(arg);
    c->elapsed_ms = r.elapsed_ms;
    c->output = r.output;
    r.output = NULL;
    if (!r.finished || r.report == NULL) {
        if (!grade_abnormal(c, &r)) {
            c->verdict = CV_CRASH;
            snprintf(c->crash_type, sizeof(c->crash_type), "exit");
            snprintf(c->detail, sizeof(c->detail), "the implementation ended the process (exit %d) mid-case",
                     r.exit_code);
        }
    } else {
        certify_interop_grade(r.report, ref_to_impl, c);
        if (c->verdict == CV_FAIL)
            c->level = clause_level(x, c->clause);
        if (c->verdict == CV_FAIL && c->level != LEVEL_MUST)
            c->verdict = CV_WARN;
    }
    sandbox_result_free(&r);
}

/* ---- The search stage ---------------------------------------------------------------------- */

static void progress_line(context *x, const certify_case *c);

/* One batch's child runs at most this long (then its findings are graded and a new batch
 * starts: a crash loses one batch, not the stage). */
#define SEARCH_BATCH_MS 10000u

typedef struct search_state {
    context *x;
    case_list found; /* SEARCH.<clause> cases, one per clause (or per abnormal end) */
    uint64_t end_ms;
    uint32_t next_batch;
} search_state;

/* The SEARCH case `id`, added if new. NULL if it exists already (first finding kept). */
static certify_case *search_case(search_state *st, const char *id, const char *clause, uint64_t seed)
{
    for (size_t i = 0; i < st->found.count; i++) {
        if (strcmp(st->found.items[i].id, id) == 0)
            return NULL;
    }
    certify_case *c = add_case(&st->found, id, clause, clause_level(st->x, clause), STAGE_SEARCH, "", "", -1);
    if (c != NULL) {
        c->seed = seed;
        c->ran = true;
    }
    return c;
}

/* A finding's program into the case: its byte form, and its text in the case's output. */
static void search_take_program(certify_case *c, const certify_search_finding *f, const char *how)
{
    c->input = malloc(f->input_size > 0 ? f->input_size : 1);
    if (c->input != NULL) {
        memcpy(c->input, f->input, f->input_size);
        c->input_size = f->input_size;
    }
    c->input_target = f->differential ? "differential" : "save_session";
    static _Thread_local vmbsave_program p;
    static _Thread_local char text[VMBSAVE_PROGRAM_TEXT_MAX_BYTES];
    vmbsave_program_decode(f->input, f->input_size, &p);
    vmbsave_program_print(&p, text, sizeof(text));
    size_t cap = strlen(text) + 1024;
    c->output = malloc(cap);
    if (c->output != NULL)
        snprintf(c->output, cap, "%s; replay: vmbsave repro --target %s input.bin\n# program (%u steps%s):\n%s",
                 how, c->input_target, f->steps,
                 f->unminimized_steps > f->steps ? ", minimised" : "", text);
}

/* A batch stopped for its time: the program it was running, replayed alone in a child of its
 * own with the case limit, tells a hang of the implementation (TIMEOUT again) from a batch that
 * overran because the machine was slow (the replay ends: not the implementation's fault). */
static bool search_overran_only(search_state *st, const sandbox_result *r, uint32_t *replay_ms)
{
    const certify_search_report *partial = r->report;
    if (r->end != SANDBOX_TIMED_OUT || partial == NULL || partial->in_flight_size == 0 ||
        partial->in_flight_size > CERTIFY_SEARCH_MAX_INPUT)
        return false;
    void *a = certify_search_replay_arg_new(st->x->run->impl_path, partial->in_flight,
                                            partial->in_flight_size);
    if (a == NULL)
        return false;
    sandbox_limits limits = {st->x->options->case_timeout * 1000u, (uint64_t)st->x->options->memory_mib << 20};
    sandbox_result again;
    sandbox_run_function(certify_search_replay_child, a, 0, &limits, &again);
    free(a);
    bool ended = again.end == SANDBOX_EXITED && again.exit_code == 0;
    *replay_ms = again.elapsed_ms;
    sandbox_result_free(&again);
    return ended;
}

static void search_record(search_state *st, uint64_t seed, sandbox_result *r)
{
    context *x = st->x;
    const certify_search_report *rep = r->finished ? r->report : NULL;
    char id[CERTIFY_MAX_ID];
    certify_case *c = NULL;
    x->run->search_batches++;
    x->run->search_ms += r->elapsed_ms;
    uint32_t replay_ms = 0;
    if (rep == NULL && search_overran_only(st, r, &replay_ms)) {
        c = search_case(st, "SEARCH.BATCH_OVERRAN", "-", seed);
        if (c != NULL) {
            c->verdict = CV_INFO;
            snprintf(c->detail, sizeof(c->detail),
                     "a search batch (seed 0x%016" PRIx64 ") outran its time limit (%u ms); the "
                     "program it was running, replayed alone, ended in %u ms: a slow machine, "
                     "not a hang of the implementation", seed, r->elapsed_ms, replay_ms);
        }
    } else if (rep == NULL) {
        /* The batch died: the implementation crashed, hung or ran out of memory on a program
         * of it (which one is lost with the child; certify's other stages localise it). */
        certify_case tmp;
        memset(&tmp, 0, sizeof(tmp));
        if (!grade_abnormal(&tmp, r)) {
            tmp.verdict = CV_CRASH;
            snprintf(tmp.crash_type, sizeof(tmp.crash_type), "exit");
            snprintf(tmp.detail, sizeof(tmp.detail), "the implementation ended the process (exit %d)", r->exit_code);
        }
        snprintf(id, sizeof(id), "SEARCH.%s", certify_verdict_name(tmp.verdict));
        c = search_case(st, id, "-", seed);
        if (c != NULL) {
            c->verdict = tmp.verdict;
            memcpy(c->crash_type, tmp.crash_type, sizeof(c->crash_type));
            snprintf(c->detail, sizeof(c->detail), "a search batch (seed 0x%016" PRIx64 "): %.900s", seed, tmp.detail);
            c->output = r->output;
            r->output = NULL;
        }
    } else {
        x->run->search_programs += rep->programs;
        if (rep->impl_refused || rep->setup_failed) {
            c = search_case(st, "SEARCH.HARNESS_ERROR", "-", seed);
            if (c != NULL) {
                c->verdict = rep->impl_refused ? CV_FAIL : CV_HARNESS_ERROR;
                if (rep->impl_refused)
                    snprintf(c->clause, sizeof(c->clause), "ABI.TABLE.COMPLETE");
                snprintf(c->detail, sizeof(c->detail), "%s", rep->error);
            }
        }
        if (rep->found != CERTIFY_SEARCH_NOTHING) {
            const certify_search_finding *f = &rep->finding;
            bool impl = rep->found == CERTIFY_SEARCH_IMPL_VIOLATION;
            snprintf(id, sizeof(id), "SEARCH.%s", f->clause);
            c = search_case(st, id, f->clause, seed);
            if (c != NULL) {
                c->verdict = !impl ? CV_HARNESS_ERROR : c->level == LEVEL_MUST ? CV_FAIL : CV_WARN;
                snprintf(c->detail, sizeof(c->detail), "%s%s at step %u (%s) of a %u-step program: expected %s, observed %s",
                         impl ? "" : "the reference broke ", f->clause, f->step, f->check, f->steps, f->expected,
                         f->observed);
                c->expected = json_pack("{s:s, s:s, s:s}", "kind", "oracle", "check", f->check, "text", f->expected);
                c->observed = json_pack("{s:s, s:s, s:s, s:i}", "kind", "oracle", "check", f->check, "text",
                                        f->observed, "step", (int)f->step);
                search_take_program(c, f, f->differential ? "found differentially" : "found on the implementation alone");
            }
        }
        for (uint32_t i = 0; i < rep->info_count && i < CERTIFY_SEARCH_MAX_INFO; i++) {
            const certify_search_finding *f = &rep->info[i];
            snprintf(id, sizeof(id), "SEARCH.%s", f->clause);
            certify_case *info = search_case(st, id, f->clause, seed);
            if (info == NULL)
                continue;
            info->verdict = CV_INFO;
            snprintf(info->detail, sizeof(info->detail),
                     "differs from the reference where the contract allows it: step %u, %.150s: %s: %s, %s",
                     f->step, f->call, f->check, f->expected, f->observed);
            search_take_program(info, f, "a difference the oracle accepts");
            progress_line(x, info);
        }
    }
    if (c != NULL) {
        x->done++;
        if (certify_verdict_blocks(c->verdict))
            x->failed++;
        progress_line(x, c);
    }
}

static void *search_worker(void *arg)
{
    search_state *st = arg;
    context *x = st->x;
    for (;;) {
        pthread_mutex_lock(&x->lock);
        uint64_t now = sandbox_now_ms();
        uint32_t batch = st->next_batch++;
        pthread_mutex_unlock(&x->lock);
        if (now + 500u >= st->end_ms)
            return NULL;
        uint64_t left = st->end_ms - now;
        uint32_t time_ms = left < SEARCH_BATCH_MS ? (uint32_t)left : SEARCH_BATCH_MS;
        char name[64];
        snprintf(name, sizeof(name), "SEARCH#%u", batch);
        uint64_t seed = certify_case_seed(x->run->master_seed, name);
        void *a = certify_search_arg_new(x->run->impl_path, seed, time_ms);
        if (a == NULL)
            return NULL;
        /* Time for the batch, and for minimising what it found. */
        sandbox_limits limits = {time_ms + x->options->case_timeout * 1000u, (uint64_t)x->options->memory_mib << 20};
        sandbox_result r;
        sandbox_run_function(certify_search_child, a, sizeof(certify_search_report), &limits, &r);
        free(a);
        pthread_mutex_lock(&x->lock);
        search_record(st, seed, &r);
        pthread_mutex_unlock(&x->lock);
        sandbox_result_free(&r);
    }
}

/* Runs the search until end_ms on `jobs` threads; its cases go to st->found. */
static void run_search(search_state *st, unsigned jobs)
{
    if (st->x->log != NULL) {
        fprintf(st->x->log, "start SEARCH\n");
        fflush(st->x->log);
    }
    st->x->run->search_ran = true;
    pthread_t threads[CERTIFY_MAX_JOBS];
    unsigned started = 0;
    for (unsigned j = 1; j < jobs; j++) {
        if (pthread_create(&threads[started], NULL, search_worker, st) == 0)
            started++;
    }
    search_worker(st);
    for (unsigned j = 0; j < started; j++)
        pthread_join(threads[j], NULL);
    if (st->x->log != NULL) {
        fprintf(st->x->log, "end SEARCH %" PRIu64 " programs\n", st->x->run->search_programs);
        fflush(st->x->log);
    }
}

/* ---- The run ------------------------------------------------------------------------------- */

static void progress_line(context *x, const certify_case *c)
{
    size_t total = x->run->case_count;
    if (x->tty) {
        uint64_t now = sandbox_now_ms();
        unsigned left = x->deadline_ms > now ? (unsigned)((x->deadline_ms - now) / 1000u) : 0;
        fprintf(stderr, "\r\033[K[%zu/%zu] %zu failed, %u s left  %s %s", x->done, total, x->failed,
                left, certify_verdict_name(c->verdict), c->id);
        if (certify_verdict_blocks(c->verdict))
            fprintf(stderr, "\n  %s\n", c->detail);
    } else {
        printf("[%zu/%zu] %-13s %s (%u ms)%s%s\n", x->done, total, certify_verdict_name(c->verdict),
               c->id, c->elapsed_ms, certify_verdict_blocks(c->verdict) ? ": " : "",
               certify_verdict_blocks(c->verdict) ? c->detail : "");
    }
    fflush(stdout);
    fflush(stderr);
}

static void *worker(void *arg)
{
    context *x = arg;
    for (;;) {
        pthread_mutex_lock(&x->lock);
        if (x->next == x->run->case_count || sandbox_now_ms() >= x->deadline_ms) {
            if (x->next != x->run->case_count)
                x->run->budget_exhausted = true;
            pthread_mutex_unlock(&x->lock);
            return NULL;
        }
        certify_case *c = &x->run->cases[x->next++];
        /* Where it was, written before the case: a run killed from outside still says. */
        if (x->log != NULL) {
            fprintf(x->log, "start %s\n", c->id);
            fflush(x->log);
        }
        pthread_mutex_unlock(&x->lock);

        if (c->stage == STAGE_CONFORMANCE)
            run_conformance_case(x, c);
        else if (c->stage == STAGE_INTEROP)
            run_interop_case(x, c);
        else
            run_seed_case(x, c);

        pthread_mutex_lock(&x->lock);
        c->ran = true;
        x->done++;
        if (certify_verdict_blocks(c->verdict))
            x->failed++;
        if (x->log != NULL) {
            fprintf(x->log, "end %s %s\n", c->id, certify_verdict_name(c->verdict));
            fflush(x->log);
        }
        progress_line(x, c);
        pthread_mutex_unlock(&x->lock);
    }
}

/* A reproducer folder name for each blocking case: repro/<case id with '/' replaced>. */
static void name_reproducers(certify_run *run)
{
    for (size_t i = 0; i < run->case_count; i++) {
        certify_case *c = &run->cases[i];
        if (!c->ran || (!certify_verdict_blocks(c->verdict) && c->input == NULL))
            continue;
        char safe[CERTIFY_MAX_ID];
        snprintf(safe, sizeof(safe), "%s", c->id);
        for (char *p = safe; *p != '\0'; p++) {
            if (*p == '/' || *p == '\'' || *p == ' ')
                *p = '_';
        }
        snprintf(c->reproducer, sizeof(c->reproducer), "repro/%s", safe);
    }
}

static void free_cases(case_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].program);
        free(l->items[i].argument);
        free(l->items[i].output);
        free(l->items[i].input);
        json_decref(l->items[i].expected);
        json_decref(l->items[i].observed);
    }
    free(l->items);
}

static bool selected(const certify_options *o, const char *id)
{
    if (o->pattern_count == 0)
        return true;
    for (size_t i = 0; i < o->pattern_count; i++) {
        if (certify_case_matches(id, o->patterns[i]))
            return true;
    }
    return false;
}

int cmd_certify(int argc, char **argv)
{
    certify_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc == -2)
        return CERTIFY_EXIT_CERTIFIED;
    if (rc != 0)
        return CERTIFY_EXIT_USAGE;
    if (o.run_seed_target != NULL)
        return run_seed_mode(&o);
    sandbox_install_signal_handlers();

    char err[1024];
    case_list all = {0};
    if (load_manifest(o.manifest, &all, err, sizeof(err)) != 0 ||
        load_seeds(o.corpus, &all, err, sizeof(err)) != 0 || load_interop(&all, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        free_cases(&all);
        return CERTIFY_EXIT_INCOMPLETE;
    }
    /* The selection, in run order, with each case's seed from its ID alone. */
    case_list chosen = {0};
    for (size_t i = 0; i < all.count; i++) {
        certify_case *c = &all.items[i];
        if (!selected(&o, c->id))
            continue;
        certify_case *d = add_case(&chosen, c->id, c->clause, c->level, c->stage, c->program,
                                   c->argument, c->target);
        if (d != NULL)
            d->min_timeout_seconds = c->min_timeout_seconds;
        if (d == NULL) {
            cli_error("out of memory");
            free_cases(&all);
            free_cases(&chosen);
            return CERTIFY_EXIT_INCOMPLETE;
        }
        d->seed = certify_case_seed(o.seed, d->id);
    }
    /* Keep the levels that are not MUST before the full list goes. */
    static context x;
    memset(&x, 0, sizeof(x));
    x.lenient = calloc(all.count + 1, sizeof(*x.lenient));
    x.lenient_level = calloc(all.count + 1, sizeof(*x.lenient_level));
    for (size_t i = 0; x.lenient != NULL && x.lenient_level != NULL && i < all.count; i++) {
        if (all.items[i].level != LEVEL_MUST) {
            memcpy(x.lenient[x.lenient_count], all.items[i].clause, CERTIFY_MAX_ID);
            x.lenient_level[x.lenient_count++] = all.items[i].level;
        }
    }
    free_cases(&all);
    if (o.list) {
        for (size_t i = 0; i < chosen.count; i++) {
            const certify_case *c = &chosen.items[i];
            printf("%s\t%s\t%s\t%s\n", c->id, certify_stage_name(c->stage), c->clause,
                   certify_level_name(c->level));
        }
        /* The search's cases are what it finds: SEARCH.<clause>. */
        bool search = o.pattern_count == 0;
        for (size_t i = 0; i < o.pattern_count; i++)
            search = search || certify_case_matches("SEARCH", o.patterns[i]);
        if (search && !(o.search_seconds_given && o.search_seconds == 0))
            printf("SEARCH\tsearch\t-\tMUST\n");
        free_cases(&chosen);
        return CERTIFY_EXIT_CERTIFIED;
    }
    bool search_asked = false;
    for (size_t i = 0; i < o.pattern_count; i++)
        search_asked = search_asked || certify_case_matches("SEARCH", o.patterns[i]);
    if (chosen.count == 0 && !search_asked) {
        cli_error("no case matches the --case patterns given");
        free_cases(&chosen);
        return CERTIFY_EXIT_USAGE;
    }

    static certify_run run;
    memset(&run, 0, sizeof(run));
    printf("master seed 0x%016" PRIx64 "\n", o.seed);
    fflush(stdout);
    /* The implementation is a path: a bare name means ./name (never the library search). */
    char given[4096];
    snprintf(given, sizeof(given), "%s%s", strchr(o.impl, '/') != NULL ? "" : "./", o.impl);
    struct stat sb;
    if (stat(given, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        cli_error("--impl %s: %s", o.impl, stat(given, &sb) != 0 ? strerror(errno) : "not a regular file");
        free_cases(&chosen);
        return CERTIFY_EXIT_USAGE;
    }
    if (realpath(given, run.impl_path) == NULL) {
        cli_error("--impl %s: %s", o.impl, strerror(errno));
        free_cases(&chosen);
        return CERTIFY_EXIT_USAGE;
    }
    if (certify_sha256_file(run.impl_path, run.impl_sha256, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        free_cases(&chosen);
        return CERTIFY_EXIT_USAGE;
    }
    sandbox_limits pre_limits = {o.case_timeout * 1000u, (uint64_t)o.memory_mib << 20};
    sandbox_result pre;
    sandbox_run_function(preflight, run.impl_path, sizeof(preflight_report), &pre_limits, &pre);
    const preflight_report *p = pre.report;
    if (pre.finished && p != NULL && !p->loadable) {
        cli_error("--impl %s is not a loadable plug-in: %s", o.impl, p->error);
        sandbox_result_free(&pre);
        free_cases(&chosen);
        return CERTIFY_EXIT_USAGE;
    }
    if (pre.finished && p != NULL && p->queried) {
        snprintf(run.impl_name, sizeof(run.impl_name), "%s", p->name);
        snprintf(run.impl_version, sizeof(run.impl_version), "%s", p->version);
        run.abi_major = p->abi_major;
        run.abi_minor = p->abi_minor;
        run.capabilities = p->capabilities;
    } else {
        char what[256];
        sandbox_describe(&pre, what, sizeof(what));
        snprintf(run.impl_name, sizeof(run.impl_name), "(unknown: %.100s)",
                 pre.finished && p != NULL ? p->error : what);
        if (getenv("VMBSAVE_CERTIFY_DEBUG") != NULL && pre.output != NULL)
            fprintf(stderr, "%s\n", pre.output);
        snprintf(run.impl_version, sizeof(run.impl_version), "?");
    }
    sandbox_result_free(&pre);
    printf("implementation %s: %s %s, sha256 %s\n", run.impl_path, run.impl_name, run.impl_version,
           run.impl_sha256);
    printf("suite %s, corpus %s\n", o.manifest, o.corpus);

    run.cases = chosen.items;
    run.case_count = chosen.count;
    run.master_seed = o.seed;
    run.budget_seconds = o.budget;
    run.case_timeout_seconds = o.case_timeout;
    run.memory_mib = o.memory_mib;
    run.memcheck = o.memcheck;
    time_t wall = time(NULL);
    struct tm tm;
    gmtime_r(&wall, &tm);
    strftime(run.started, sizeof(run.started), "%Y-%m-%dT%H:%M:%SZ", &tm);

    x.options = &o;
    x.run = &run;
    snprintf(x.plugin_env, sizeof(x.plugin_env), "VMBSAVE_PLUGIN=%s", run.impl_path);
    ssize_t self_len = readlink("/proc/self/exe", x.self_path, sizeof(x.self_path) - 1);
    x.self_path[self_len > 0 ? self_len : 0] = '\0';
    snprintf(x.scratch, sizeof(x.scratch), "%s", "/tmp/vmbsave-certify-XXXXXX");
    const char *tmpdir = getenv("TMPDIR");
    if (tmpdir != NULL && tmpdir[0] == '/' && strlen(tmpdir) < sizeof(x.scratch) - 24)
        snprintf(x.scratch, sizeof(x.scratch), "%s/vmbsave-certify-XXXXXX", tmpdir);
    if (mkdtemp(x.scratch) == NULL) {
        cli_error("cannot create a temporary folder %s: %s", x.scratch, strerror(errno));
        free_cases(&chosen);
        return CERTIFY_EXIT_INCOMPLETE;
    }
    pthread_mutex_init(&x.lock, NULL);
    uint64_t start = sandbox_now_ms();
    x.deadline_ms = start + (uint64_t)o.budget * 1000u;
    x.tty = isatty(STDERR_FILENO) == 1;
    if (o.report_dir != NULL) {
        if (mkdir(o.report_dir, 0777) != 0 && errno != EEXIST) {
            cli_error("%s: cannot create: %s", o.report_dir, strerror(errno));
            rmdir(x.scratch);
            free_cases(&chosen);
            return CERTIFY_EXIT_USAGE;
        }
        char log_path[4096];
        snprintf(log_path, sizeof(log_path), "%s/progress.log", o.report_dir);
        x.log = fopen(log_path, "w");
    }
    printf("%zu cases, %u job(s), budget %u s, %u s and %u MiB per case\n", run.case_count, o.jobs,
           o.budget, o.case_timeout, o.memory_mib);
    fflush(stdout);

    pthread_t threads[CERTIFY_MAX_JOBS];
    unsigned started_threads = 0;
    for (unsigned j = 1; j < o.jobs; j++) {
        if (pthread_create(&threads[started_threads], NULL, worker, &x) == 0)
            started_threads++;
    }
    worker(&x);
    for (unsigned j = 0; j < started_threads; j++)
        pthread_join(threads[j], NULL);
    bool search = o.search_seconds_given ? o.search_seconds > 0 : true;
    if (o.pattern_count > 0) {
        bool asked = false;
        for (size_t i = 0; i < o.pattern_count; i++)
            asked = asked || certify_case_matches("SEARCH", o.patterns[i]);
        search = search && asked;
    }
    if (search && !run.budget_exhausted) {
        /* The rest of the budget, but for time to write the report. */
        static search_state st;
        memset(&st, 0, sizeof(st));
        st.x = &x;
        uint64_t margin = (uint64_t)o.budget * 1000u / 20u;
        margin = margin < 3000u ? 3000u : margin;
        st.end_ms = x.deadline_ms > margin ? x.deadline_ms - margin : 0;
        uint64_t now = sandbox_now_ms();
        if (o.search_seconds_given && now + (uint64_t)o.search_seconds * 1000u < st.end_ms)
            st.end_ms = now + (uint64_t)o.search_seconds * 1000u;
        printf("search: %s, until %u s from now\n", "random programs and the structure-aware mutator, differential against the reference",
               st.end_ms > now ? (unsigned)((st.end_ms - now) / 1000u) : 0);
        fflush(stdout);
        run_search(&st, o.jobs);
        for (size_t i = 0; i < st.found.count; i++) {
            certify_case *f = &st.found.items[i];
            certify_case *d = add_case(&chosen, f->id, f->clause, f->level, f->stage, "", "", -1);
            if (d == NULL)
                break;
            /* The case moves over whole: its owned pointers go with it. */
            char *program = d->program, *argument = d->argument;
            *d = *f;
            free(program == f->program ? NULL : program);
            free(argument == f->argument ? NULL : argument);
            memset(f, 0, sizeof(*f));
        }
        size_t findings = st.found.count;
        /* The stage itself: how much it ran (its findings are the SEARCH.<clause> cases). */
        certify_case *sc = add_case(&chosen, "SEARCH.PROGRAMS", "-", LEVEL_MUST, STAGE_SEARCH, "", "", -1);
        if (sc != NULL) {
            sc->ran = true;
            sc->verdict = CV_PASS;
            sc->seed = certify_case_seed(o.seed, "SEARCH#0");
            sc->elapsed_ms = run.search_ms;
            snprintf(sc->detail, sizeof(sc->detail), "%" PRIu64 " programs in %u batch(es), %zu finding(s)",
                     run.search_programs, run.search_batches, findings);
        }
        free_cases(&st.found);
        run.cases = chosen.items;
        run.case_count = chosen.count;
        printf("search: %" PRIu64 " programs in %u batch(es), %zu finding(s)\n", run.search_programs,
               run.search_batches, findings);
    }
    run.elapsed_ms = (uint32_t)(sandbox_now_ms() - start);
    if (x.tty)
        fprintf(stderr, "\r\033[K");
    if (x.log != NULL)
        fclose(x.log);
    rmdir(x.scratch); /* each case removed its own report */
    name_reproducers(&run);

    int overall = certify_overall(&run);
    size_t counts[CV_COUNT];
    certify_count(&run, counts);
    if (o.report_dir != NULL) {
        if (certify_write_report(&run, o.report_dir, err, sizeof(err)) != 0) {
            cli_error("%s", err);
            overall = CERTIFY_EXIT_INCOMPLETE;
        } else {
            printf("report: %s/report.json, junit.xml, summary.md, report.html\n", o.report_dir);
        }
    }
    size_t ran = 0;
    for (unsigned v = 0; v < CV_COUNT; v++)
        ran += counts[v];
    printf("%zu of %zu cases ran:", ran, run.case_count);
    for (unsigned v = 0; v < CV_COUNT; v++) {
        if (counts[v] != 0)
            printf(" %zu %s", counts[v], certify_verdict_name((certify_verdict)v));
    }
    printf("\n");
    if (run.budget_exhausted)
        printf("the budget of %u s ran out before every case ran (--budget)\n", o.budget);
    printf("%s: %s\n", overall == CERTIFY_EXIT_CERTIFIED     ? "CERTIFIED"
                       : overall == CERTIFY_EXIT_NOT_CONFORMANT ? "NOT CONFORMANT"
                                                                : "INCOMPLETE",
           run.impl_path);
    pthread_mutex_destroy(&x.lock);
    free(x.lenient);
    free(x.lenient_level);
    free_cases(&chosen);
    return overall;
}
