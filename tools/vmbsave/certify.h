/* vmbsave certify (docs/vmbsave.1, "certify"): a verdict per case for one implementation, with
 * evidence. This header holds what the stages, the report writers and verify-report share. */
#ifndef VMBSAVE_CLI_CERTIFY_H
#define VMBSAVE_CLI_CERTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Limits (docs/vmbsave.1, "certify", LIMITS). */
#define CERTIFY_MAX_CASES 20000u
#define CERTIFY_MAX_ID 128u
#define CERTIFY_MAX_DETAIL 1024u
#define CERTIFY_DEFAULT_BUDGET 120u     /* seconds for the whole run */
#define CERTIFY_MAX_BUDGET 86400u
#define CERTIFY_DEFAULT_CASE_TIMEOUT 20u /* seconds one case may take */
#define CERTIFY_DEFAULT_MEMORY_MIB 1024u /* address space one case may grow by */
#define CERTIFY_MAX_MEMORY_MIB 65536u
#define CERTIFY_MAX_MANIFEST_BYTES (4u * 1024u * 1024u)
/* A conformance case's structured report (VMBSAVE_CASE_REPORT, tests/support/check.c). */
#define CERTIFY_MAX_CASE_REPORT (64u * 1024u)

/* Exit statuses of certify (and verify-report). */
enum {
    CERTIFY_EXIT_CERTIFIED = 0,
    CERTIFY_EXIT_NOT_CONFORMANT = 1,
    CERTIFY_EXIT_INCOMPLETE = 2, /* a must-pass case did not run, or a harness error */
    CERTIFY_EXIT_USAGE = 3
};

typedef enum certify_verdict {
    CV_PASS = 0,
    CV_FAIL,          /* a MUST clause broken: expected and observed say how */
    CV_CRASH,         /* a signal, a sanitizer or guard-page report, or an exit mid-case */
    CV_TIMEOUT,
    CV_MEMORY_LIMIT,
    CV_NOT_SUPPORTED, /* needs a capability the implementation does not declare */
    CV_WARN,          /* a SHOULD clause broken */
    CV_INFO,          /* behaviour the contract leaves open, recorded (never failing) */
    CV_HARNESS_ERROR, /* vmbsave could not run the case */
    CV_COUNT
} certify_verdict;

typedef enum certify_level { LEVEL_MUST = 0, LEVEL_SHOULD, LEVEL_MAY } certify_level;

typedef enum certify_stage {
    STAGE_CONFORMANCE = 0, /* the clause suite and the exhaustive checks (tests/conformance) */
    STAGE_SEEDS,           /* every fuzz target's seeds and regressions */
    STAGE_INTEROP,         /* images of canonical states across implementation and reference */
    STAGE_SEARCH,          /* what the search for the rest of the budget found (SEARCH.<clause>) */
    STAGE_COUNT
} certify_stage;

typedef struct certify_case {
    char id[CERTIFY_MAX_ID];
    char clause[CERTIFY_MAX_ID];
    certify_level level;
    certify_stage stage;
    uint64_t seed;
    /* How to run it. Conformance: the suite executable and its test name. Seeds: the fuzz
     * target and the input file. */
    char *program;
    char *argument;
    int target;
    unsigned min_timeout_seconds; /* the case's own need (exhaustive checks take longer) */

    /* What came of it. */
    bool ran;
    certify_verdict verdict;
    char detail[CERTIFY_MAX_DETAIL]; /* one line for a person */
    char crash_type[64];             /* CRASH: "SIGSEGV", "heap-buffer-overflow", "exit" */
    json_t *expected;                /* structured, where the check gives it (owned) */
    json_t *observed;
    uint32_t elapsed_ms;
    uint32_t faults_injected;
    char *output;                    /* what the case printed, for the reproducer folder */
    char reproducer[512];            /* DIR-relative path of its reproducer folder, or "" */
    /* A search finding: the program (byte form, owned) and the fuzz target whose input it is
     * (its reproducer folder holds it as input.bin; the rerun command replays it). */
    unsigned char *input;
    size_t input_size;
    const char *input_target;
} certify_case;

typedef struct certify_run {
    /* What was tested. */
    char impl_path[4096]; /* absolute */
    char impl_sha256[65];
    char impl_name[128];
    char impl_version[128];
    unsigned abi_major, abi_minor;
    uint64_t capabilities;
    /* How. */
    uint64_t master_seed;
    unsigned budget_seconds;
    unsigned case_timeout_seconds;
    unsigned memory_mib;
    const char *memcheck; /* "none" today */
    char started[32];     /* UTC, ISO 8601 */
    uint32_t elapsed_ms;
    /* The cases, in run order. */
    certify_case *cases;
    size_t case_count;
    bool budget_exhausted;
    /* The search stage: whether it ran, its batches, the programs run, and for how long. */
    bool search_ran;
    uint32_t search_batches;
    uint64_t search_programs;
    uint32_t search_ms;
} certify_run;

const char *certify_verdict_name(certify_verdict v);
bool certify_verdict_from_name(const char *name, certify_verdict *out);
const char *certify_level_name(certify_level l);
const char *certify_stage_name(certify_stage s);
/* A case's seed: from the master seed and the case ID alone, so filtering shifts none. */
uint64_t certify_case_seed(uint64_t master_seed, const char *case_id);
/* --case PATTERN: an exact ID, or a prefix made of whole dot-separated segments
 * ("SAVE.CONTINUE" matches SAVE.CONTINUE.X, never SAVE.CONTINUED). */
bool certify_case_matches(const char *case_id, const char *pattern);
/* Whether a verdict keeps an implementation from being certified (for a MUST case). */
bool certify_verdict_blocks(certify_verdict v);

/* Counts per verdict, and the overall result: CERTIFY_EXIT_CERTIFIED only when at least one
 * case ran, every case ran, and none failed, crashed, timed out, hit the memory limit or was a
 * harness error. */
void certify_count(const certify_run *run, size_t counts[CV_COUNT]);
int certify_overall(const certify_run *run);

/* The SHA-256 of a file, as 64 lowercase hex digits. Returns 0, or -1 with a reason. */
int certify_sha256_file(const char *path, char hex[65], char *err, size_t err_size);

/* Writes report.json, junit.xml, summary.md and report.html into dir (created if missing),
 * each atomically, and the reproducer folders of failing cases. Returns 0, or -1 with a
 * reason. */
int certify_write_report(const certify_run *run, const char *dir, char *err, size_t err_size);

/* The SHA-256 that report.json carries of itself: over its compact, key-sorted JSON without
 * the "report_sha256" member. Returns 0, or -1. */
int certify_report_digest(json_t *report, char hex[65]);

/* The interoperability stage (certify_interop.c). The child (a sandbox_function) takes an
 * argument from certify_interop_arg_new (free() it) and fills a report of
 * certify_interop_report_size() bytes, which certify_interop_grade turns into c's verdict,
 * clause, detail, expected and observed. */
size_t certify_interop_report_size(void);
void *certify_interop_arg_new(const char *plugin, int state, bool ref_to_impl);
int certify_interop_child(void *arg, void *report, size_t size);
void certify_interop_grade(const void *report, bool ref_to_impl, certify_case *c);

/* The search stage (certify_search.c): a batch is a sandbox_function taking an argument from
 * certify_search_arg_new (free() it), filling a certify_search_report. */
#define CERTIFY_SEARCH_MAX_INPUT 4096u /* a program's byte form (VMBSAVE_PROGRAM_MAX_BYTES) */
#define CERTIFY_SEARCH_MAX_INFO 8u     /* differences kept per batch, one per clause */
enum { CERTIFY_SEARCH_NOTHING = 0, CERTIFY_SEARCH_IMPL_VIOLATION, CERTIFY_SEARCH_REFERENCE_VIOLATION };
typedef struct certify_search_finding {
    char clause[64];
    uint32_t step;
    char check[32];      /* the oracle's check kind, or the differential field */
    char expected[256];
    char observed[256];
    char call[192];      /* a difference: the call */
    uint32_t steps, unminimized_steps;
    bool differential;   /* found by the differential run (else the implementation alone) */
    uint32_t input_size;
    unsigned char input[CERTIFY_SEARCH_MAX_INPUT];
} certify_search_finding;
typedef struct certify_search_report {
    int setup_failed, impl_refused;
    char error[256];
    uint64_t programs;   /* programs run */
    uint64_t alone;      /* of them, on the implementation alone (fault_alloc steps) */
    uint64_t errors;     /* differential runs the harness could not compare */
    int found;           /* CERTIFY_SEARCH_* */
    certify_search_finding finding;
    uint32_t info_count;
    certify_search_finding info[CERTIFY_SEARCH_MAX_INFO];
    /* The program being run, written before each: when a batch is stopped for its time, the
     * parent replays it alone to tell a hang of the implementation from a slow machine. */
    uint32_t in_flight_size;
    unsigned char in_flight[CERTIFY_SEARCH_MAX_INPUT];
} certify_search_report;
void *certify_search_arg_new(const char *plugin, uint64_t seed, uint32_t time_ms);
int certify_search_child(void *arg, void *report, size_t size);
/* Replays one program (byte form) on the implementation alone: the arg of
 * certify_search_replay_arg_new (free() it); the report is unused. */
void *certify_search_replay_arg_new(const char *plugin, const unsigned char *program, uint32_t size);
int certify_search_replay_child(void *arg, void *report, size_t size);

int cmd_certify(int argc, char **argv);
int cmd_verify_report(int argc, char **argv);

#endif
