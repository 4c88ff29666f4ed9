/* HARNESS.RUNNER.*: the runner and its contract oracle (harness/run/runner.h, docs/ORACLE.md).
 *
 * The reference must pass hand-written programs that use every op, size mode, edit and fault
 * directive, and each program's trace must show the status the contract gives at the steps
 * that matter (so a runner that skipped calls or an oracle that accepted anything cannot pass).
 * The oracle's teeth are shown with bugs injected by a wrapper around the reference's table:
 * each must be reported as a VIOLATION of the right clause. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clause_test.h"
#include "support/fixture.h"
#include "support/util.h"

#include "program/canonical.h"
#include "program/program.h"
#include "run/fuzz_input.h"
#include "run/runner.h"
#include "vmbsave/abi.h"

#define TRACE_CAP 8192u

/* ---- Plumbing ------------------------------------------------------------------------------ */

static const char *plugin_path(void)
{
    const char *p = getenv("VMBSAVE_PLUGIN");
    if (p == NULL || *p == '\0')
        fail_msg("VMBSAVE_PLUGIN is not set (ctest sets it to the reference plug-in)");
    return p;
}

static vmbsave_runner *open_reference(void)
{
    char err[256];
    vmbsave_runner *r = vmbsave_runner_open_path(plugin_path(), err, sizeof err);
    if (r == NULL)
        fail_msg("vmbsave_runner_open_path: %s", err);
    return r;
}

static void parse(const char *text, vmbsave_program *p)
{
    char err[256];
    if (vmbsave_program_parse(text, p, err, sizeof err) != 0)
        fail_msg("program does not parse: %s", err);
}

typedef struct run {
    vmbsave_program program;
    vmbsave_trace_entry trace[TRACE_CAP];
    vmbsave_run_result result;
} run;

static run *run_text(vmbsave_runner *r, const char *text)
{
    run *x = calloc(1, sizeof *x);
    assert_non_null(x);
    parse(text, &x->program);
    vmbsave_run_options opt = {.trace = x->trace, .trace_cap = TRACE_CAP};
    vmbsave_runner_run(r, &x->program, &opt, &x->result);
    return x;
}

static void print_trace(const run *x)
{
    for (uint32_t i = 0; i < x->result.trace_count; i++) {
        const vmbsave_trace_entry *e = &x->trace[i];
        const char *s = e->has_status ? vmbsave_status_name(e->status) : "-";
        char call[192];
        vmbsave_call_text(&e->call, call, sizeof call);
        print_message("  [%" PRIu32 "] step %" PRIu32 " %s -> %s %s\n", i, e->step, call,
                      s != NULL ? s : "?", e->note);
    }
}

static void expect_pass(const run *x, const char *what)
{
    const vmbsave_run_result *res = &x->result;
    if (res->verdict == VMBSAVE_VERDICT_PASS)
        return;
    print_trace(x);
    if (res->verdict == VMBSAVE_VERDICT_VIOLATION)
        fail_msg("%s: VIOLATION of %s at step %" PRIu32 " call %" PRIu32 " (%s): expected %s, "
                 "observed %s",
                 what, res->violation.clause, res->violation.step, res->violation.call,
                 vmbsave_check_kind_name(res->violation.kind), res->violation.expected,
                 res->violation.observed);
    fail_msg("%s: %s: %s", what, vmbsave_verdict_name(res->verdict), res->error);
}

/* The status of the first traced call of `step` whose text starts with `call`. */
typedef struct expect_call {
    uint32_t step;
    const char *call;
    NTSTATUS status;
} expect_call;

static void expect_calls(const run *x, const expect_call *want, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const vmbsave_trace_entry *found = NULL;
        for (uint32_t i = 0; i < x->result.trace_count && found == NULL; i++) {
            const vmbsave_trace_entry *e = &x->trace[i];
            char call[192];
            vmbsave_call_text(&e->call, call, sizeof call);
            if (e->step == want[k].step && strncmp(call, want[k].call, strlen(want[k].call)) == 0)
                found = e;
        }
        if (found == NULL) {
            print_trace(x);
            fail_msg("no %s call at step %" PRIu32, want[k].call, want[k].step);
        }
        if (!found->has_status || found->status != want[k].status) {
            print_trace(x);
            fail_msg("step %" PRIu32 " %s: expected %s, the trace shows %s", want[k].step,
                     vmbsave_call_desc_of(found->call.op)->name, vt_status_str(want[k].status),
                     found->has_status ? vt_status_str(found->status) : "no status");
        }
    }
}

/* ---- The reference passes every op, size mode, edit and fault directive -------------------- */

static const char lifecycle_program[] =
    "offer ch=0 mode=null\n"                                          /* 0 IP */
    "offer ch=0 mode=bad-flags salt=1\n"                              /* 1 IP */
    "offer ch=0 mode=over-limit salt=1\n"                             /* 2 IL */
    "enable ch=0\n"                                                   /* 3 IDS: no offer */
    "gpadl_create ch=0 mode=valid id=1 pfns=2 salt=1\n"               /* 4 IDS: disabled */
    "offer ch=0 mode=valid salt=1\n"                                  /* 5 */
    "offer ch=0 mode=valid salt=2\n"                                  /* 6 repeat: last wins */
    "enable ch=0\n"                                                   /* 7 */
    "offer ch=0 mode=valid salt=3\n"                                  /* 8 IDS: init over */
    "gpadl_create ch=0 mode=valid id=0 pfns=2 salt=1\n"               /* 9 IP: id 0 */
    "gpadl_create ch=0 mode=null id=2 pfns=2\n"                       /* 10 IP */
    "gpadl_create ch=0 mode=zero-pfns id=2\n"                         /* 11 IP */
    "gpadl_create ch=0 mode=bad-pfn id=2 pfns=4 salt=3\n"             /* 12 IP */
    "gpadl_create ch=0 mode=over-limit id=2 salt=3\n"                 /* 13 IL */
    "gpadl_create ch=0 mode=max-pfns id=2 salt=3\n"                   /* 14 */
    "gpadl_create ch=0 mode=valid id=2 pfns=1 salt=4\n"               /* 15 DUPLICATE */
    "gpadl_create ch=0 mode=valid id=3 pfns=3 salt=5\n"               /* 16 */
    "gpadl_teardown_complete ch=0 id=3\n"                             /* 17 IDS */
    "gpadl_teardown_begin ch=0 id=7\n"                                /* 18 NOT_FOUND */
    "open ch=0 mode=null\n"                                           /* 19 IP */
    "open ch=0 mode=unaligned gpadl=2 in_pages=2 out_pages=2\n"       /* 20 IP */
    "open ch=0 mode=over-limit gpadl=2 out_pages=2\n"                 /* 21 IL */
    "open ch=0 mode=zero-connection gpadl=2 in_pages=2 out_pages=2\n" /* 22 IP */
    "open ch=0 mode=valid gpadl=5 in_pages=2 out_pages=2\n"           /* 23 NOT_FOUND */
    "gpadl_teardown_begin ch=0 id=3\n"                                /* 24 */
    "open ch=0 mode=valid gpadl=3 in_pages=2 out_pages=2\n"           /* 25 IDS: tearing down */
    "open ch=0 mode=valid gpadl=2 in_pages=3 out_pages=4\n"           /* 26 */
    "gpadl_teardown_begin ch=0 id=2\n"                                /* 27 IDS: the ring's */
    "packet_send ch=0 payload=small id=1 gpadl=0 bytes=5\n"           /* 28 IDS: paused */
    "ring_write ch=0 dir=in bytes=10 salt=1\n"                        /* 29 IDS */
    "start ch=0\n"                                                    /* 30 */
    "start ch=0\n"                                                    /* 31 no-op */
    "packet_send ch=0 payload=small id=0 gpadl=0 bytes=5\n"           /* 32 IP: id 0 */
    "packet_send ch=0 payload=null id=1 gpadl=0 bytes=5\n"            /* 33 IP */
    "packet_send ch=0 payload=over-limit id=1 gpadl=0\n"              /* 34 IL */
    "packet_send ch=0 payload=small id=1 gpadl=7 bytes=5\n"           /* 35 NOT_FOUND */
    "packet_send ch=0 payload=small id=1 gpadl=3 bytes=5\n"           /* 36 IDS: tearing down */
    "packet_send ch=0 payload=max id=1 gpadl=2\n"                     /* 37 */
    "packet_send ch=0 payload=medium id=1 gpadl=0 bytes=100\n"        /* 38 DUPLICATE */
    "packet_send ch=0 payload=small id=2 gpadl=0 bytes=0\n"           /* 39 */
    "packet_complete ch=0 id=9\n"                                     /* 40 NOT_FOUND */
    "packet_complete ch=0 id=2\n"                                     /* 41 */
    "ring_write ch=0 dir=in bytes=12288 salt=1\n"                     /* 42 fills the ring */
    "ring_write ch=0 dir=in bytes=1 salt=2\n"                         /* 43 INVALID_BUFFER_SIZE */
    "ring_read ch=0 dir=in bytes=100\n"                               /* 44 */
    "ring_write ch=0 dir=out bytes=0 salt=3\n"                        /* 45 */
    "ring_read ch=0 dir=out bytes=10\n"                               /* 46 reads nothing */
    "gpadl_teardown_complete ch=0 id=3\n"                             /* 47 */
    "pause ch=0\n"                                                    /* 48 */
    "pause ch=0\n"                                                    /* 49 no-op */
    "close ch=0\n"                                                    /* 50 */
    "close ch=0\n"                                                    /* 51 IDS */
    "disable ch=0\n"                                                  /* 52 */
    "disable ch=0\n"                                                  /* 53 no-op */
    "enable ch=0\n"                                                   /* 54 re-enable */
    "cleanup ch=0\n";                                                 /* 55 */

static void reference_passes_lifecycle(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    run *x = run_text(r, lifecycle_program);
    expect_pass(x, "lifecycle program");
    static const expect_call want[] = {
        {0, "init_set_offer", STATUS_INVALID_PARAMETER},
        {1, "init_set_offer", STATUS_INVALID_PARAMETER},
        {2, "init_set_offer", STATUS_IMPLEMENTATION_LIMIT},
        {3, "enable", STATUS_INVALID_DEVICE_STATE},
        {4, "gpadl_create", STATUS_INVALID_DEVICE_STATE},
        {6, "init_set_offer", STATUS_SUCCESS},
        {8, "init_set_offer", STATUS_INVALID_DEVICE_STATE},
        {9, "gpadl_create", STATUS_INVALID_PARAMETER},
        {12, "gpadl_create", STATUS_INVALID_PARAMETER},
        {13, "gpadl_create", STATUS_IMPLEMENTATION_LIMIT},
        {14, "gpadl_create", STATUS_SUCCESS},
        {15, "gpadl_create", STATUS_DUPLICATE_OBJECTID},
        {17, "gpadl_teardown_complete", STATUS_INVALID_DEVICE_STATE},
        {18, "gpadl_teardown_begin", STATUS_NOT_FOUND},
        {21, "guest_open", STATUS_IMPLEMENTATION_LIMIT},
        {23, "guest_open", STATUS_NOT_FOUND},
        {25, "guest_open", STATUS_INVALID_DEVICE_STATE},
        {26, "guest_open", STATUS_SUCCESS},
        {27, "gpadl_teardown_begin", STATUS_INVALID_DEVICE_STATE},
        {28, "packet_send", STATUS_INVALID_DEVICE_STATE},
        {34, "packet_send", STATUS_IMPLEMENTATION_LIMIT},
        {35, "packet_send", STATUS_NOT_FOUND},
        {36, "packet_send", STATUS_INVALID_DEVICE_STATE},
        {37, "packet_send", STATUS_SUCCESS},
        {38, "packet_send", STATUS_DUPLICATE_OBJECTID},
        {40, "packet_complete", STATUS_NOT_FOUND},
        {43, "ring_write", STATUS_INVALID_BUFFER_SIZE},
        {44, "ring_read", STATUS_SUCCESS},
        {47, "gpadl_teardown_complete", STATUS_SUCCESS},
        {51, "guest_close", STATUS_INVALID_DEVICE_STATE},
        {54, "enable", STATUS_SUCCESS},
        {55, "channel_cleanup", STATUS_SUCCESS},
    };
    expect_calls(x, want, sizeof want / sizeof want[0]);
    /* ring_read returned the count the model says: 100 bytes in, nothing out. */
    for (uint32_t i = 0; i < x->result.trace_count; i++) {
        const vmbsave_trace_entry *e = &x->trace[i];
        if (e->step == 44 && e->call.op == VMBSAVE_CALL_RING_READ)
            assert_int_equal(e->filled, 100);
        if (e->step == 46 && e->call.op == VMBSAVE_CALL_RING_READ)
            assert_int_equal(e->filled, 0);
    }
    free(x);
    vmbsave_runner_close(r);
}

/* A channel with packets (some with driver state), GPADLs and ring bytes (the canonical
 * paused_packets state), then every size mode and every scripted-driver failure. */
static const char save_program_suffix[] =
    "save_continue ch=0 size=max-chunk\n"                /* +0 IDS: no session */
    "save_end ch=0\n"                                    /* +1 no-op */
    "save_begin ch=0\n"                                  /* +2 */
    "save_begin ch=0\n"                                  /* +3 IDS: active */
    "disable ch=0\n"                                     /* +4 IDS: frozen */
    "save_continue ch=0 size=null-filled bytes=100\n"    /* +5 IP */
    "save_continue ch=0 size=null-required bytes=100\n"  /* +6 IP */
    "save_continue ch=0 size=null-buffer bytes=100\n"    /* +7 IP */
    "save_continue ch=0 size=zero-null\n"                /* +8 TOO_SMALL: size query */
    "save_continue ch=0 size=zero\n"                     /* +9 TOO_SMALL */
    "save_continue ch=0 size=one\n"                      /* +10 TOO_SMALL */
    "save_continue ch=0 size=required-1\n"               /* +11 TOO_SMALL */
    "save_continue ch=0 size=required\n"                 /* +12 OVERFLOW: the HEADER */
    "save_continue ch=0 size=required+1\n"               /* +13 OVERFLOW */
    "save_continue ch=0 size=explicit bytes=40\n"        /* +14 TOO_SMALL */
    "save_continue ch=0 size=large\n"                    /* +15 SUCCESS */
    "save_continue ch=0 size=max-chunk\n"                /* +16 IDS: after success */
    "save_end ch=0\n"                                    /* +17 and the one-shot check */
    "fault_save_packet mode=fail-second packet=0\n"      /* +18 */
    "save_begin ch=0\n"                                  /* +19 */
    "save_continue ch=0 size=max-chunk\n"                /* +20 UNSUCCESSFUL */
    "save_continue ch=0 size=zero-null\n"                /* +21 UNSUCCESSFUL, sticky */
    "save_end ch=0\n"                                    /* +22 */
    "fault_save_packet mode=over-limit packet=0\n"       /* +23 */
    "capture ch=0 image=0\n"                             /* +24 IMPLEMENTATION_LIMIT */
    "fault_save_packet mode=asks-more packet=0\n"        /* +25 */
    "capture ch=0 image=0\n"                             /* +26 INTERNAL_ERROR */
    "fault_save_packet mode=fail-first-zero packet=0\n"  /* +27 */
    "capture ch=0 image=0\n"                             /* +28 UNSUCCESSFUL */
    "fault_save_packet mode=too-small-second packet=0\n" /* +29 */
    "capture ch=0 image=0\n"                             /* +30 UNSUCCESSFUL */
    "fault_save_packet mode=no-state packet=0\n"         /* +31 */
    "capture ch=0 image=0\n"                             /* +32 SUCCESS, no driver state */
    "fault_save_packet mode=normal\n"                    /* +33 */
    "capture ch=0 image=1\n"                             /* +34 SUCCESS */
    "start ch=0\n"                                       /* +35 */
    "save_begin ch=0\n";                                 /* +36 IDS: running */

static uint32_t prefix_program(vmbsave_canonical_id id, vmbsave_program *p)
{
    assert_true(vmbsave_canonical_prefix(id, p));
    return p->count;
}

/* Appends the text's steps to p. */
static void append_text(vmbsave_program *p, const char *text)
{
    vmbsave_program more;
    parse(text, &more);
    assert_true(p->count + more.count <= VMBSAVE_PROGRAM_MAX_STEPS);
    memcpy(&p->steps[p->count], more.steps, more.count * sizeof more.steps[0]);
    p->count += more.count;
}

static run *run_program(vmbsave_runner *r, const vmbsave_program *p)
{
    run *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->program = *p;
    vmbsave_run_options opt = {.trace = x->trace, .trace_cap = TRACE_CAP};
    vmbsave_runner_run(r, &x->program, &opt, &x->result);
    return x;
}

static void reference_passes_save(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    vmbsave_program p;
    uint32_t b = prefix_program(VMBSAVE_CANONICAL_PAUSED_PACKETS, &p);
    append_text(&p, save_program_suffix);
    run *x = run_program(r, &p);
    expect_pass(x, "save program");
    const expect_call want[] = {
        {b + 0, "save_continue", STATUS_INVALID_DEVICE_STATE},
        {b + 2, "save_begin", STATUS_SUCCESS},
        {b + 3, "save_begin", STATUS_INVALID_DEVICE_STATE},
        {b + 4, "disable", STATUS_INVALID_DEVICE_STATE},
        {b + 5, "save_continue", STATUS_INVALID_PARAMETER},
        {b + 6, "save_continue", STATUS_INVALID_PARAMETER},
        {b + 7, "save_continue", STATUS_INVALID_PARAMETER},
        {b + 8, "save_continue", STATUS_BUFFER_TOO_SMALL},
        {b + 9, "save_continue", STATUS_BUFFER_TOO_SMALL},
        {b + 10, "save_continue", STATUS_BUFFER_TOO_SMALL},
        {b + 11, "save_continue", STATUS_BUFFER_TOO_SMALL},
        {b + 12, "save_continue", STATUS_BUFFER_OVERFLOW},
        {b + 13, "save_continue", STATUS_BUFFER_OVERFLOW},
        {b + 14, "save_continue", STATUS_BUFFER_TOO_SMALL},
        {b + 15, "save_continue", STATUS_SUCCESS},
        {b + 16, "save_continue", STATUS_INVALID_DEVICE_STATE},
        {b + 20, "save_continue", STATUS_UNSUCCESSFUL},
        {b + 21, "save_continue", STATUS_UNSUCCESSFUL},
        {b + 24, "save_continue", STATUS_IMPLEMENTATION_LIMIT},
        {b + 26, "save_continue", STATUS_INTERNAL_ERROR},
        {b + 28, "save_continue", STATUS_UNSUCCESSFUL},
        {b + 30, "save_continue", STATUS_UNSUCCESSFUL},
        {b + 32, "save_continue", STATUS_SUCCESS},
        {b + 34, "save_continue", STATUS_SUCCESS},
        {b + 36, "save_begin", STATUS_INVALID_DEVICE_STATE},
    };
    expect_calls(x, want, sizeof want / sizeof want[0]);
    /* The one-shot check after the completed session ran, and ended in SUCCESS. */
    bool one_shot = false;
    for (uint32_t i = 0; i < x->result.trace_count; i++) {
        const vmbsave_trace_entry *e = &x->trace[i];
        one_shot =
            one_shot || (e->step == b + 17 && strstr(e->note, "one-shot") != NULL &&
                         e->call.op == VMBSAVE_CALL_SAVE_CONTINUE && e->status == STATUS_SUCCESS);
    }
    assert_true(one_shot);
    free(x);
    vmbsave_runner_close(r);
}

/* Every edit of a captured image, each with the status FORMAT.md's reader order gives it. The
 * image of paused_packets: HEADER, GPADLS, PACKETS, RING(in), RING(out), END. */
static const char restore_program_suffix[] =
    "capture ch=0 image=0\n"                                         /* +0 */
    "restore ch=1 image=0 edit=whole per_call=0\n"                   /* +1 SUCCESS */
    "restore ch=1 image=0 edit=whole per_call=0\n"                   /* +2 IDS: restored */
    "cleanup ch=1\n"                                                 /* +3 */
    "restore ch=1 image=0 edit=whole per_call=1\n"                   /* +4 MPR ... SUCCESS */
    "cleanup ch=1\n"                                                 /* +5 */
    "restore ch=1 image=0 edit=truncate at=100 per_call=0\n"         /* +6 IBS */
    "restore ch=1 image=0 edit=truncate at=248 per_call=0\n"         /* +7 MPR: unfinished */
    "restore ch=1 image=0 edit=drop-chunk chunk=0\n"                 /* +8 the rest: SUCCESS */
    "cleanup ch=1\n"                                                 /* +9 */
    "restore ch=1 image=0 edit=bit-flip bit=5\n"                     /* +10 magic */
    "restore ch=1 image=0 edit=bit-flip bit=33\n"                    /* +11 major */
    "restore ch=1 image=0 edit=bit-flip bit=159\n"                   /* +12 payload_bytes */
    "restore ch=1 image=0 edit=bit-flip bit=800\n"                   /* +13 payload */
    "restore ch=1 image=0 edit=drop-chunk chunk=1\n"                 /* +14 OOS */
    "restore ch=1 image=0 edit=duplicate-chunk chunk=1\n"            /* +15 OOS */
    "restore ch=1 image=0 edit=duplicate-chunk chunk=5\n"            /* +16 OOS: after END */
    "restore ch=1 image=0 edit=swap-chunks chunk=1 with=2\n"         /* +17 OOS */
    "restore ch=1 image=0 edit=split-inside chunk=2\n"               /* +18 IBS */
    "restore ch=1 image=0 edit=foreign-chunk chunk=1 from_image=3\n" /* +19 empty: SUCCESS */
    "cleanup ch=1\n"                                                 /* +20 */
    "restore ch=1 image=2 edit=whole per_call=0\n"                   /* +21 skipped: empty */
    "fault_restore_packet call=2\n"                                  /* +22 */
    "restore ch=1 image=0 edit=whole per_call=0\n";                  /* +23 UNSUCCESSFUL */

static void reference_passes_restore(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    vmbsave_program p;
    uint32_t b = prefix_program(VMBSAVE_CANONICAL_PAUSED_PACKETS, &p);
    append_text(&p, restore_program_suffix);
    run *x = run_program(r, &p);
    expect_pass(x, "restore program");
    const expect_call want[] = {
        {b + 1, "restore_from_buffer", STATUS_SUCCESS},
        {b + 2, "restore_from_buffer", STATUS_INVALID_DEVICE_STATE},
        {b + 4, "restore_from_buffer", STATUS_MORE_PROCESSING_REQUIRED},
        {b + 6, "restore_from_buffer", STATUS_INVALID_BUFFER_SIZE},
        {b + 7, "restore_from_buffer", STATUS_MORE_PROCESSING_REQUIRED},
        {b + 8, "restore_from_buffer", STATUS_SUCCESS},
        {b + 10, "restore_from_buffer", STATUS_FILE_CORRUPT_ERROR},
        {b + 11, "restore_from_buffer", STATUS_UNKNOWN_REVISION},
        {b + 12, "restore_from_buffer", STATUS_IMPLEMENTATION_LIMIT},
        {b + 13, "restore_from_buffer", STATUS_DATA_ERROR},
        {b + 14, "restore_from_buffer", STATUS_REQUEST_OUT_OF_SEQUENCE},
        {b + 15, "restore_from_buffer", STATUS_REQUEST_OUT_OF_SEQUENCE},
        {b + 16, "restore_from_buffer", STATUS_REQUEST_OUT_OF_SEQUENCE},
        {b + 17, "restore_from_buffer", STATUS_REQUEST_OUT_OF_SEQUENCE},
        {b + 18, "restore_from_buffer", STATUS_INVALID_BUFFER_SIZE},
        {b + 19, "restore_from_buffer", STATUS_SUCCESS},
        {b + 23, "restore_from_buffer", STATUS_UNSUCCESSFUL},
    };
    expect_calls(x, want, sizeof want / sizeof want[0]);
    assert_int_equal(x->result.steps_skipped, 1); /* the restore of the empty slot */
    /* One call per chunk with per_call=1: six chunks, five MORE_PROCESSING_REQUIRED. */
    uint32_t more = 0;
    for (uint32_t i = 0; i < x->result.trace_count; i++)
        more += x->trace[i].step == b + 4 && x->trace[i].status == STATUS_MORE_PROCESSING_REQUIRED;
    assert_int_equal(more, 5);
    free(x);
    vmbsave_runner_close(r);
}

/* Images of two channels that differ only in GPADL pfns share an image id: a chunk of one in
 * the other is caught at END (FORMAT.md step 12), and a restore left unfinished can be
 * completed from an image whose chunks agree. */
static const char foreign_program[] =
    "offer ch=0 mode=valid salt=1\n"                                 /* 0 */
    "enable ch=0\n"                                                  /* 1 */
    "gpadl_create ch=0 mode=valid id=1 pfns=2 salt=5\n"              /* 2 */
    "capture ch=0 image=0\n"                                         /* 3 */
    "offer ch=1 mode=valid salt=1\n"                                 /* 4 */
    "enable ch=1\n"                                                  /* 5 */
    "gpadl_create ch=1 mode=valid id=1 pfns=2 salt=6\n"              /* 6 */
    "capture ch=1 image=1\n"                                         /* 7 */
    "restore ch=2 image=0 edit=foreign-chunk chunk=1 from_image=1\n" /* 8 REVISION_MISMATCH */
    "restore ch=2 image=0 edit=truncate at=248 per_call=0\n"         /* 9 MPR */
    "restore ch=2 image=1 edit=drop-chunk chunk=0\n"                 /* 10 SUCCESS: image 1 */
    "gpadl_create ch=2 mode=valid id=1 pfns=2 salt=6\n";             /* 11 DUPLICATE */

static void reference_passes_foreign(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    run *x = run_text(r, foreign_program);
    expect_pass(x, "foreign-chunk program");
    static const expect_call want[] = {
        {8, "restore_from_buffer", STATUS_REVISION_MISMATCH},
        {9, "restore_from_buffer", STATUS_MORE_PROCESSING_REQUIRED},
        {10, "restore_from_buffer", STATUS_SUCCESS},
        {11, "gpadl_create", STATUS_DUPLICATE_OBJECTID},
    };
    expect_calls(x, want, sizeof want / sizeof want[0]);
    free(x);
    vmbsave_runner_close(r);
}

/* Allocation faults: once and from-then-on, on allocation, lifecycle calls, save and restore. */
static const char fault_program[] =
    "fault_alloc mode=once after=0\n"                   /* 0 */
    "offer ch=0 mode=valid salt=1\n"                    /* 1 channel_allocate fails */
    "offer ch=0 mode=valid salt=1\n"                    /* 2 */
    "enable ch=0\n"                                     /* 3 */
    "fault_alloc mode=once after=0\n"                   /* 4 */
    "gpadl_create ch=0 mode=valid id=1 pfns=4 salt=1\n" /* 5 INSUFFICIENT_RESOURCES */
    "gpadl_create ch=0 mode=valid id=1 pfns=4 salt=1\n" /* 6 */
    "fault_alloc mode=from after=0\n"                   /* 7 */
    "save_begin ch=0\n"                                 /* 8 INSUFFICIENT_RESOURCES */
    "save_continue ch=0 size=max-chunk\n"               /* 9 IDS: no session */
    "save_end ch=0\n"                                   /* 10 */
    "fault_alloc mode=off\n"                            /* 11 */
    "capture ch=0 image=0\n"                            /* 12 */
    "fault_alloc mode=once after=1\n"                   /* 13 the restore's 2nd allocation */
    "restore ch=1 image=0 edit=whole per_call=0\n"      /* 14 allocate, then restore fails */
    "restore ch=1 image=0 edit=whole per_call=0\n"      /* 15 */
    "fault_alloc mode=once after=1\n"                   /* 16 */
    "save_begin ch=0\n"                                 /* 17 */
    "save_continue ch=0 size=max-chunk\n"               /* 18 */
    "save_end ch=0\n";                                  /* 19 */

static void reference_passes_faults(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    run *x = run_text(r, fault_program);
    expect_pass(x, "fault program");
    static const expect_call want[] = {
        {1, "channel_allocate", STATUS_INSUFFICIENT_RESOURCES},
        {2, "init_set_offer", STATUS_SUCCESS},
        {5, "gpadl_create", STATUS_INSUFFICIENT_RESOURCES},
        {6, "gpadl_create", STATUS_SUCCESS},
        {8, "save_begin", STATUS_INSUFFICIENT_RESOURCES},
        {9, "save_continue", STATUS_INVALID_DEVICE_STATE},
        {12, "save_continue", STATUS_SUCCESS},
        {14, "restore_from_buffer", STATUS_INSUFFICIENT_RESOURCES},
        {15, "restore_from_buffer", STATUS_SUCCESS},
    };
    expect_calls(x, want, sizeof want / sizeof want[0]);
    /* The trace says which calls had a fault injected. */
    uint32_t faulted = 0;
    for (uint32_t i = 0; i < x->result.trace_count; i++) {
        const vmbsave_trace_entry *e = &x->trace[i];
        if (e->faults_injected != 0) {
            faulted++;
            assert_non_null(strstr(e->note, "fault: allocation #"));
            assert_int_equal(e->status, STATUS_INSUFFICIENT_RESOURCES);
        }
    }
    assert_true(faulted >= 4);
    free(x);
    vmbsave_runner_close(r);
}

/* ---- ERROR verdicts ------------------------------------------------------------------------- */

static void error_verdicts(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    vmbsave_program empty = {0};
    vmbsave_run_result res;
    vmbsave_runner_run(r, &empty, NULL, &res);
    assert_int_equal(res.verdict, VMBSAVE_VERDICT_ERROR);
    assert_non_null(strstr(res.error, "no step"));

    /* Steps that make no call: a restore of an empty slot and fault directives. */
    run *x = run_text(r, "restore ch=0 image=1 edit=whole per_call=0\nfault_alloc mode=off\n");
    assert_int_equal(x->result.verdict, VMBSAVE_VERDICT_ERROR);
    assert_non_null(strstr(x->result.error, "no call"));
    free(x);

    /* A runner cannot be opened on something that is not a plug-in. */
    char err[256] = "";
    assert_null(vmbsave_runner_open_path("/nonexistent/libnothing.so", err, sizeof err));
    assert_true(strlen(err) > 0);
    vmbsave_runner_close(r);
}

/* ---- Determinism and the call stream --------------------------------------------------------- */

typedef struct sink_log {
    uint32_t api_statements;
    uint32_t host_statements;
    uint32_t violations;
    uint32_t violation_call;
    bool bad_statement;
    char names[256][32];
    uint32_t name_count;
    bool repeated_name;
    vmbsave_call first_calls[64]; /* the first calls passed */
} sink_log;

static void sink_call(void *context, uint32_t step, const vmbsave_call *call)
{
    (void)step;
    sink_log *l = context;
    char s[1024];
    vmbsave_call_c_statement(call, s, sizeof s);
    const char *a = strstr(s, "api->");
    if (!vmbsave_call_desc_of(call->op)->traced) {
        /* A host setting: a statement on `host`, no call. */
        l->bad_statement = l->bad_statement || a != NULL || strstr(s, "host") == NULL;
        l->host_statements++;
        return;
    }
    /* One operation per statement (api->context, the channel_allocate and release argument,
     * is not one), and the descriptor's. */
    if (a == NULL || strncmp(a + 5, vmbsave_call_desc_of(call->op)->name,
                             strlen(vmbsave_call_desc_of(call->op)->name)) != 0)
        l->bad_statement = true;
    for (const char *b = a != NULL ? strstr(a + 5, "api->") : NULL; b != NULL;
         b = strstr(b + 5, "api->")) {
        if (strncmp(b, "api->context", 12) != 0)
            l->bad_statement = true;
    }
    if (l->api_statements < 64)
        l->first_calls[l->api_statements] = *call;
    l->api_statements++;
}

static void sink_data(void *context, const char *name, const void *bytes, size_t size)
{
    (void)bytes;
    (void)size;
    sink_log *l = context;
    for (uint32_t i = 0; i < l->name_count; i++)
        l->repeated_name = l->repeated_name || strcmp(l->names[i], name) == 0;
    if (l->name_count < 256)
        snprintf(l->names[l->name_count++], 32, "%s", name);
}

static void sink_violation(void *context, const vmbsave_violation *v)
{
    sink_log *l = context;
    l->violations++;
    l->violation_call = v->call;
}

static void trace_and_sink(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    vmbsave_program p;
    uint32_t b = prefix_program(VMBSAVE_CANONICAL_PAUSED_PACKETS, &p);
    (void)b;
    append_text(&p, restore_program_suffix);
    run *x = calloc(1, sizeof *x);
    sink_log *l = calloc(1, sizeof *l);
    assert_non_null(x);
    assert_non_null(l);
    x->program = p;
    vmbsave_call_sink sink = {l, sink_call, sink_data, sink_violation};
    vmbsave_run_options opt = {.trace = x->trace, .trace_cap = TRACE_CAP, .sink = &sink};
    vmbsave_runner_run(r, &x->program, &opt, &x->result);
    expect_pass(x, "restore program with a sink");
    /* One statement with api-> per traced call, in trace order, naming the same function. */
    assert_false(l->bad_statement);
    assert_int_equal(l->api_statements, x->result.calls);
    assert_int_equal(x->result.trace_count, x->result.calls);
    assert_true(l->host_statements >= 1); /* the fault directive */
    for (uint32_t i = 0; i < 64 && i < x->result.trace_count; i++) {
        if (!vmbsave_call_equal(&x->trace[i].call, &l->first_calls[i]))
            fail_msg("trace entry %" PRIu32 " is %s, call %" PRIu32 " passed is %s", i,
                     vmbsave_call_desc_of(x->trace[i].call.op)->name, i,
                     vmbsave_call_desc_of(l->first_calls[i].op)->name);
    }
    assert_false(l->repeated_name);
    assert_true(l->name_count > 0);
    assert_int_equal(l->violations, 0);

    /* The same program again: the same calls and statuses (a run starts from scratch). */
    run *y = run_program(r, &p);
    assert_int_equal(y->result.calls, x->result.calls);
    for (uint32_t i = 0; i < x->result.trace_count; i++) {
        assert_true(vmbsave_call_equal(&y->trace[i].call, &x->trace[i].call));
        assert_int_equal(y->trace[i].status, x->trace[i].status);
        assert_int_equal(y->trace[i].filled, x->trace[i].filled);
        assert_int_equal(y->trace[i].required, x->trace[i].required);
    }
    free(y);
    free(x);
    free(l);
    vmbsave_runner_close(r);
}

/* A capped trace keeps its first entries; calls counts them all. */
static void trace_cap(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    vmbsave_program p;
    parse(lifecycle_program, &p);
    vmbsave_trace_entry small[5];
    vmbsave_run_options opt = {.trace = small, .trace_cap = 5};
    vmbsave_run_result res;
    vmbsave_runner_run(r, &p, &opt, &res);
    assert_int_equal(res.verdict, VMBSAVE_VERDICT_PASS);
    assert_int_equal(res.trace_count, 5);
    assert_true(res.calls > 5);
    char call[192];
    vmbsave_call_text(&small[0].call, call, sizeof call);
    assert_string_equal(call, "channel_allocate(ch0)");
    vmbsave_runner_close(r);
}

/* ---- The oracle's teeth: bugs injected around the reference -------------------------------- */

typedef enum bug {
    BUG_NONE = 0,
    BUG_REQUIRED_PLUS_ONE,  /* TOO_SMALL reports one byte more than the next chunk */
    BUG_OVERRUN,            /* a save_continue that makes progress writes one byte past */
    BUG_ENABLE_NO_OFFER,    /* enable succeeds without an offer */
    BUG_CHECK_ORDER,        /* gpadl_create with id 0 answers with the state check */
    BUG_EARLY_SUCCESS,      /* restore says SUCCESS before END */
    BUG_DESCRIBE_NOT_FRESH, /* describe says fresh=0 on a fresh channel */
    BUG_SESSION_LEAK,       /* save_begin allocates a block nobody frees */
    BUG_WRONG_PFN,          /* a GPADL record carries a wrong pfn (resealed: the checksum holds) */
    BUG_RING_READ_COUNT,    /* ring_read reports one byte less than it read */
    BUG_TEARDOWN_LOOKUP_FIRST, /* teardown looks the id up before checking the state */
} bug;

static bug g_bug;
static vmbsave_get_interface_fn g_real_entry;
static vmbsave_interface_v1 g_real;
static vmbsave_host_v1 g_host;
static void *g_leaked[64];
static unsigned g_leaked_count;

static NTSTATUS bug_save_continue(vmbsave_channel *ch, void *buf, uint32_t size, uint32_t *filled,
                                  uint32_t *required)
{
    NTSTATUS st = g_real.save_continue(ch, buf, size, filled, required);
    if (g_bug == BUG_REQUIRED_PLUS_ONE && st == STATUS_BUFFER_TOO_SMALL && required != NULL)
        (*required)++;
    if (g_bug == BUG_OVERRUN && (st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW))
        ((uint8_t *)buf)[size] ^= 0xFFu;
    if (g_bug == BUG_WRONG_PFN && (st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW)) {
        uint8_t *p = buf;
        for (uint32_t off = 0; off + VT_CHUNK_HEADER_BYTES <= *filled;) {
            uint32_t payload = vt_get32(p + off + 16);
            if (vt_get16(p + off + 8) == 2 /* GPADLS */) {
                p[off + VT_CHUNK_HEADER_BYTES + 4 + 16] ^=
                    0x01u; /* first pfn of the first record */
                vt_chunk_reseal(p + off);
            }
            off += VT_CHUNK_HEADER_BYTES + payload;
        }
    }
    return st;
}

static NTSTATUS bug_enable(vmbsave_channel *ch)
{
    NTSTATUS st = g_real.enable(ch);
    return st == STATUS_INVALID_DEVICE_STATE ? STATUS_SUCCESS : st;
}

static NTSTATUS bug_gpadl_create(vmbsave_channel *ch, uint32_t id, const uint64_t *pfns, uint32_t n)
{
    NTSTATUS st = g_real.gpadl_create(ch, id, pfns, n);
    return id == 0 && st == STATUS_INVALID_PARAMETER ? STATUS_INVALID_DEVICE_STATE : st;
}

static NTSTATUS bug_restore(vmbsave_channel *ch, const void *buf, uint32_t size)
{
    NTSTATUS st = g_real.restore_from_buffer(ch, buf, size);
    return st == STATUS_MORE_PROCESSING_REQUIRED ? STATUS_SUCCESS : st;
}

static NTSTATUS bug_describe(vmbsave_channel *ch, char *buf, uint32_t size, uint32_t *required)
{
    NTSTATUS st = g_real.describe(ch, buf, size, required);
    char *f = st == STATUS_SUCCESS ? strstr(buf, "fresh=1") : NULL;
    if (f != NULL)
        f[6] = '0';
    return st;
}

static NTSTATUS bug_save_begin(vmbsave_channel *ch)
{
    NTSTATUS st = g_real.save_begin(ch);
    if (st == STATUS_SUCCESS && g_leaked_count < 64) {
        void *p = g_host.alloc(g_host.context, 16);
        if (p != NULL)
            g_leaked[g_leaked_count++] = p;
    }
    return st;
}

static NTSTATUS bug_ring_read(vmbsave_channel *ch, vmbsave_ring_direction d, void *data,
                              uint32_t bytes, uint32_t *read)
{
    NTSTATUS st = g_real.ring_read(ch, d, data, bytes, read);
    if (st == STATUS_SUCCESS && *read > 0)
        (*read)--;
    return st;
}

static NTSTATUS bug_gpadl_teardown_begin(vmbsave_channel *ch, uint32_t id)
{
    NTSTATUS st = g_real.gpadl_teardown_begin(ch, id);
    return st == STATUS_INVALID_DEVICE_STATE ? STATUS_NOT_FOUND : st;
}

/* The leaked blocks go back before the interface does, so the process itself leaks nothing. */
static void bug_release(void *context)
{
    for (unsigned i = 0; i < g_leaked_count; i++)
        g_host.free(g_host.context, g_leaked[i]);
    g_leaked_count = 0;
    g_real.release(context);
}

static NTSTATUS bug_entry(const char *name, uint32_t major, const vmbsave_host_v1 *host,
                          vmbsave_interface_v1 *out, uint32_t out_size)
{
    NTSTATUS st = g_real_entry(name, major, host, &g_real, sizeof g_real);
    if (st != STATUS_SUCCESS || out == NULL || out_size < sizeof *out)
        return st;
    g_host = *host;
    *out = g_real;
    out->save_continue = bug_save_continue;
    out->release = bug_release;
    switch (g_bug) {
    case BUG_ENABLE_NO_OFFER: out->enable = bug_enable; break;
    case BUG_CHECK_ORDER: out->gpadl_create = bug_gpadl_create; break;
    case BUG_EARLY_SUCCESS: out->restore_from_buffer = bug_restore; break;
    case BUG_DESCRIBE_NOT_FRESH: out->describe = bug_describe; break;
    case BUG_SESSION_LEAK: out->save_begin = bug_save_begin; break;
    case BUG_RING_READ_COUNT: out->ring_read = bug_ring_read; break;
    case BUG_TEARDOWN_LOOKUP_FIRST: out->gpadl_teardown_begin = bug_gpadl_teardown_begin; break;
    default: break;
    }
    return STATUS_SUCCESS;
}

static void *g_dl;

static vmbsave_runner *open_wrapped(void)
{
    if (g_dl == NULL) {
        g_dl = dlopen(plugin_path(), RTLD_NOW | RTLD_LOCAL);
        if (g_dl == NULL)
            fail_msg("dlopen %s: %s", plugin_path(), dlerror());
        void *sym = dlsym(g_dl, VMBSAVE_ENTRY_POINT);
        assert_non_null(sym);
        memcpy(&g_real_entry, &sym, sizeof g_real_entry);
    }
    char err[256];
    vmbsave_runner *r = vmbsave_runner_open_entry(bug_entry, err, sizeof err);
    if (r == NULL)
        fail_msg("vmbsave_runner_open_entry: %s", err);
    return r;
}

typedef struct teeth_case {
    bug bug;
    const char *program;
    const char *clause;
    vmbsave_check_kind kind;
    uint32_t step;
} teeth_case;

static const char offered_save[] = "offer ch=0 mode=valid salt=1\n"
                                   "enable ch=0\n"
                                   "save_begin ch=0\n"
                                   "save_continue ch=0 size=one\n"
                                   "save_continue ch=0 size=max-chunk\n"
                                   "save_end ch=0\n";

static const teeth_case teeth_cases[] = {
    {BUG_REQUIRED_PLUS_ONE, offered_save, "SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS",
     VMBSAVE_CHECK_COUNTS, 3},
    {BUG_REQUIRED_PLUS_ONE,
     "offer ch=0 mode=valid salt=1\nenable ch=0\nsave_begin ch=0\n"
     "save_continue ch=0 size=zero-null\n",
     "SAVE.CONTINUE.SIZE_QUERY", VMBSAVE_CHECK_COUNTS, 3},
    {BUG_OVERRUN, offered_save, "SAVE.CONTINUE.NO_OVERRUN", VMBSAVE_CHECK_GUARD, 4},
    {BUG_ENABLE_NO_OFFER, "enable ch=0\n", "LIFECYCLE.ENABLE.REQUIRES_OFFER", VMBSAVE_CHECK_STATUS,
     0},
    {BUG_CHECK_ORDER, "gpadl_create ch=0 mode=valid id=0 pfns=1 salt=1\n", "LIFECYCLE.CHECK_ORDER",
     VMBSAVE_CHECK_STATUS, 0},
    {BUG_EARLY_SUCCESS,
     "offer ch=0 mode=valid salt=1\nenable ch=0\ncapture ch=0 image=0\n"
     "restore ch=1 image=0 edit=whole per_call=1\n",
     "RESTORE.MORE_PROCESSING", VMBSAVE_CHECK_STATUS, 3},
    {BUG_DESCRIBE_NOT_FRESH, "enable ch=0\n", "LIFECYCLE.ALLOCATE.DISABLED_FRESH",
     VMBSAVE_CHECK_DESCRIBE, 0},
    {BUG_SESSION_LEAK, offered_save, "SAVE.END.FREES_SESSION", VMBSAVE_CHECK_LEAK, 5},
    {BUG_WRONG_PFN,
     "offer ch=0 mode=valid salt=1\nenable ch=0\n"
     "gpadl_create ch=0 mode=valid id=1 pfns=2 salt=5\ncapture ch=0 image=0\n",
     "SAVE.IMAGE.COMPLETE", VMBSAVE_CHECK_IMAGE, 3},
    {BUG_RING_READ_COUNT,
     "offer ch=0 mode=valid salt=1\nenable ch=0\n"
     "gpadl_create ch=0 mode=valid id=1 pfns=2 salt=5\n"
     "open ch=0 mode=valid gpadl=1 in_pages=2 out_pages=2\nstart ch=0\n"
     "ring_write ch=0 dir=in bytes=10 salt=1\nring_read ch=0 dir=in bytes=4\n",
     "LIFECYCLE.RING.FIFO", VMBSAVE_CHECK_COUNTS, 6},
    /* A DISABLED channel has no GPADL, but the state is checked first: not NOT_FOUND. */
    {BUG_TEARDOWN_LOOKUP_FIRST, "gpadl_teardown_begin ch=0 id=1\n", "LIFECYCLE.GPADL.TEARDOWN",
     VMBSAVE_CHECK_STATUS, 0},
};

static void oracle_teeth(void **state)
{
    (void)state;
    vmbsave_runner *r = open_wrapped();
    for (size_t i = 0; i < sizeof teeth_cases / sizeof teeth_cases[0]; i++) {
        const teeth_case *t = &teeth_cases[i];
        /* Without the bug the same program passes: the wrapper itself is transparent. */
        g_bug = BUG_NONE;
        run *x = run_text(r, t->program);
        expect_pass(x, "the wrapper without a bug");
        free(x);
        g_bug = t->bug;
        x = run_text(r, t->program);
        const vmbsave_run_result *res = &x->result;
        if (res->verdict != VMBSAVE_VERDICT_VIOLATION ||
            strcmp(res->violation.clause, t->clause) != 0 || res->violation.kind != t->kind ||
            res->violation.step != t->step) {
            print_trace(x);
            fail_msg("bug %d: expected a VIOLATION of %s (%s) at step %" PRIu32
                     ", got %s %s (%s) at "
                     "step %" PRIu32 ": expected %s, observed %s %s",
                     (int)t->bug, t->clause, vmbsave_check_kind_name(t->kind), t->step,
                     vmbsave_verdict_name(res->verdict), res->violation.clause,
                     vmbsave_check_kind_name(res->violation.kind), res->violation.step,
                     res->violation.expected, res->violation.observed, res->error);
        }
        /* The violation names a traced call, and the reproducer texts are there. */
        assert_true(res->violation.call < res->calls);
        assert_true(strlen(res->violation.expected) > 0);
        assert_true(strlen(res->violation.observed) > 0);
        free(x);
    }
    g_bug = BUG_NONE;
    vmbsave_runner_close(r);
}

/* A violation reaches the sink once, after the expected data the reproducer needs. */
static void violation_sink(void **state)
{
    (void)state;
    vmbsave_runner *r = open_wrapped();
    g_bug = BUG_WRONG_PFN;
    sink_log *l = calloc(1, sizeof *l);
    run *x = calloc(1, sizeof *x);
    assert_non_null(l);
    assert_non_null(x);
    parse(teeth_cases[8].program, &x->program);
    vmbsave_call_sink sink = {l, sink_call, sink_data, sink_violation};
    vmbsave_run_options opt = {.trace = x->trace, .trace_cap = TRACE_CAP, .sink = &sink};
    vmbsave_runner_run(r, &x->program, &opt, &x->result);
    g_bug = BUG_NONE;
    assert_int_equal(x->result.verdict, VMBSAVE_VERDICT_VIOLATION);
    assert_int_equal(l->violations, 1);
    assert_int_equal(l->violation_call, x->result.violation.call);
    bool image = false;
    for (uint32_t i = 0; i < l->name_count; i++)
        image = image || strcmp(l->names[i], "expected_image") == 0;
    assert_true(image);
    assert_false(l->repeated_name);
    free(x);
    free(l);
    vmbsave_runner_close(r);
}

/* ---- A short random smoke: the reference passes decoded and canonical-prefixed programs ---- */

static uint64_t smoke_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void random_programs(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    uint64_t seed = 0x9E3779B97F4A7C15u;
    static uint8_t bytes[VMBSAVE_PROGRAM_MAX_BYTES];
    vmbsave_program *p = calloc(1, sizeof *p);
    assert_non_null(p);
    uint32_t passed = 0;
    for (uint32_t i = 0; i < 300; i++) {
        size_t len = (size_t)(smoke_next(&seed) % (40u * VMBSAVE_STEP_BYTES)) + 1u;
        for (size_t k = 0; k < len; k++)
            bytes[k] = (uint8_t)smoke_next(&seed);
        vmbsave_program_decode(bytes, len, p);
        if (i % 2 == 0) {
            /* A canonical state first, so the steps reach sessions, packets and restores. */
            vmbsave_program q = {0};
            vmbsave_canonical_append((vmbsave_canonical_id)(i / 2 % VMBSAVE_CANONICAL_COUNT), 0,
                                     &q);
            for (uint32_t k = 0; k < p->count && q.count < VMBSAVE_PROGRAM_MAX_STEPS; k++)
                q.steps[q.count++] = p->steps[k];
            *p = q;
        }
        vmbsave_run_result res;
        vmbsave_runner_run(r, p, NULL, &res);
        if (res.verdict == VMBSAVE_VERDICT_VIOLATION) {
            static char text[VMBSAVE_PROGRAM_TEXT_MAX_BYTES];
            vmbsave_program_print(p, text, sizeof text);
            fail_msg("program %" PRIu32 ": VIOLATION of %s at step %" PRIu32 ": expected %s, "
                     "observed %s\n%s",
                     i, res.violation.clause, res.violation.step, res.violation.expected,
                     res.violation.observed, text);
        }
        /* ERROR only for a program that made no call. */
        if (res.verdict == VMBSAVE_VERDICT_ERROR && strstr(res.error, "no call") == NULL)
            fail_msg("program %" PRIu32 ": ERROR %s", i, res.error);
        passed += res.verdict == VMBSAVE_VERDICT_PASS;
    }
    assert_true(passed > 250);
    free(p);
    vmbsave_runner_close(r);
}

/* ---- Bare runs (options.bare): the same calls without the oracle ---------------------------- */

/* Runs `program` with `options` (a copy; trace added) normally and bare, and fails unless both
 * traces hold the same calls (op, slot, flags, arguments) with the same statuses, the normal run
 * passed and the bare one did too. Returns the calls made. */
static uint32_t expect_bare_same_calls(vmbsave_runner *r, const vmbsave_program *program,
                                       const vmbsave_run_options *options, const char *what)
{
    static vmbsave_trace_entry normal[TRACE_CAP], bare[TRACE_CAP];
    vmbsave_run_options opt = options != NULL ? *options : (vmbsave_run_options){0};
    vmbsave_run_result rn, rb;
    opt.trace = normal;
    opt.trace_cap = TRACE_CAP;
    opt.bare = false;
    vmbsave_runner_run(r, program, &opt, &rn);
    if (rn.verdict != VMBSAVE_VERDICT_PASS)
        fail_msg("%s: the normal run is %s (%s%s)", what, vmbsave_verdict_name(rn.verdict),
                 rn.error, rn.violation.clause);
    opt.trace = bare;
    opt.bare = true;
    vmbsave_runner_run(r, program, &opt, &rb);
    if (rb.verdict != VMBSAVE_VERDICT_PASS)
        fail_msg("%s: the bare run is %s (%s)", what, vmbsave_verdict_name(rb.verdict), rb.error);
    uint32_t n = rn.trace_count < rb.trace_count ? rn.trace_count : rb.trace_count;
    for (uint32_t i = 0; i < n; i++) {
        const vmbsave_trace_entry *a = &normal[i], *b = &bare[i];
        if (a->step != b->step || !vmbsave_call_equal(&a->call, &b->call) ||
            a->has_status != b->has_status || (a->has_status && a->status != b->status)) {
            char ta[192], tb[192];
            vmbsave_call_text(&a->call, ta, sizeof ta);
            vmbsave_call_text(&b->call, tb, sizeof tb);
            fail_msg("%s: call %" PRIu32 " differs: normal step %" PRIu32 " %s -> 0x%08" PRIx32
                     ", bare step %" PRIu32 " %s -> 0x%08" PRIx32,
                     what, i, a->step, ta, (uint32_t)a->status, b->step, tb,
                     (uint32_t)b->status);
        }
    }
    if (rn.calls != rb.calls || rn.trace_count != rb.trace_count)
        fail_msg("%s: the normal run made %" PRIu32 " calls (%" PRIu32 " traced), the bare run %"
                 PRIu32 " (%" PRIu32 " traced)",
                 what, rn.calls, rn.trace_count, rb.calls, rb.trace_count);
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++) {
        if (rn.image_size[i] != rb.image_size[i])
            fail_msg("%s: image slot %" PRIu32 " holds %" PRIu32 " bytes, bare %" PRIu32, what,
                     i, rn.image_size[i], rb.image_size[i]);
    }
    return rn.calls;
}

/* Every seed of corpus/seeds/<target> (VMBSAVE_CORPUS_DIR), expanded as the target does;
 * returns how many were compared. */
static uint32_t bare_seeds(vmbsave_runner *r, vmbsave_fuzz_target target,
                           vmbsave_fuzz_input *input, uint8_t *bytes, size_t cap)
{
    const char *corpus = getenv("VMBSAVE_CORPUS_DIR");
    if (corpus == NULL || corpus[0] == '\0')
        fail_msg("VMBSAVE_CORPUS_DIR is not set (ctest sets it to corpus/)");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/seeds/%s", corpus, vmbsave_fuzz_target_name(target));
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("cannot open %s", dir);
    uint32_t compared = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        size_t size = fread(bytes, 1, cap, f);
        fclose(f);
        if (!vmbsave_fuzz_input_build(target, bytes, size, input, NULL, 0))
            continue;
        if (target == VMBSAVE_FUZZ_TARGET_DIFFERENTIAL)
            vmbsave_fuzz_differential_program(&input->program);
        expect_bare_same_calls(r, &input->program, &input->options, path);
        compared++;
    }
    closedir(d);
    return compared;
}

static void bare_same_calls(void **state)
{
    (void)state;
    vmbsave_runner *r = open_reference();
    vmbsave_program *p = calloc(1, sizeof *p);
    assert_non_null(p);
    /* The hand-written programs above (every op, size mode, edit, driver answer and fault),
     * the save and restore ones after each canonical state. */
    static const char *const standalone[] = {lifecycle_program, foreign_program, fault_program};
    for (size_t i = 0; i < sizeof standalone / sizeof standalone[0]; i++) {
        memset(p, 0, sizeof *p);
        append_text(p, standalone[i]);
        expect_bare_same_calls(r, p, NULL, "a hand-written program");
    }
    for (int i = 0; i < VMBSAVE_CANONICAL_COUNT; i++) {
        static const char *const suffixes[] = {save_program_suffix, restore_program_suffix};
        for (size_t k = 0; k < 2; k++) {
            prefix_program((vmbsave_canonical_id)i, p);
            append_text(p, suffixes[k]);
            char what[128];
            snprintf(what, sizeof what, "%s + the %s program",
                     vmbsave_canonical_name((vmbsave_canonical_id)i), k == 0 ? "save" : "restore");
            expect_bare_same_calls(r, p, NULL, what);
        }
    }
    /* Every seed of every target, as the target expands it. */
    vmbsave_fuzz_input *input = malloc(sizeof *input);
    size_t cap = VMBSAVE_RUN_MAX_IMAGE_BYTES + VMBSAVE_PROGRAM_MAX_BYTES;
    uint8_t *bytes = malloc(cap);
    assert_non_null(input);
    assert_non_null(bytes);
    for (int t = 0; t < VMBSAVE_FUZZ_TARGET_COUNT; t++) {
        uint32_t n = bare_seeds(r, (vmbsave_fuzz_target)t, input, bytes, cap);
        print_message("  %s: %" PRIu32 " seeds, same calls bare\n",
                      vmbsave_fuzz_target_name((vmbsave_fuzz_target)t), n);
        assert_true(n > 0);
    }
    free(bytes);
    free(input);
    free(p);
    vmbsave_runner_close(r);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.RUNNER.REFERENCE_LIFECYCLE", reference_passes_lifecycle),
    CLAUSE_TEST("HARNESS.RUNNER.REFERENCE_SAVE", reference_passes_save),
    CLAUSE_TEST("HARNESS.RUNNER.REFERENCE_RESTORE_EDITS", reference_passes_restore),
    CLAUSE_TEST("HARNESS.RUNNER.REFERENCE_FOREIGN_CHUNK", reference_passes_foreign),
    CLAUSE_TEST("HARNESS.RUNNER.REFERENCE_FAULTS", reference_passes_faults),
    CLAUSE_TEST("HARNESS.RUNNER.ERROR_VERDICTS", error_verdicts),
    CLAUSE_TEST("HARNESS.RUNNER.TRACE_AND_SINK", trace_and_sink),
    CLAUSE_TEST("HARNESS.RUNNER.TRACE_CAP", trace_cap),
    CLAUSE_TEST("HARNESS.RUNNER.ORACLE_TEETH", oracle_teeth),
    CLAUSE_TEST("HARNESS.RUNNER.VIOLATION_SINK", violation_sink),
    CLAUSE_TEST("HARNESS.RUNNER.RANDOM_PROGRAMS", random_programs),
    CLAUSE_TEST("HARNESS.RUNNER.BARE_SAME_CALLS", bare_same_calls),
};

CLAUSE_TEST_MAIN("runner", tests)
