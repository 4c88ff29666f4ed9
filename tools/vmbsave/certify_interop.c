/* certify's interoperability stage (docs/vmbsave.1, "certify", INTEROP): an image the
 * implementation saved from a canonical state (harness/program/canonical.h) is restored by the
 * reference, and the reverse. Each case runs in a sandboxed child (cmd_certify.c); this file
 * is the child's work and the grading of what it hands back.
 *
 * The saving side brings channel 0 to the state, saves it twice (the second session's image is
 * the one handed over: a writer must not depend on being the interface's first session) and
 * keeps its description. The restoring side restores that image into a fresh channel, one chunk
 * per call, describes the channel and saves it again. Both runs are under the oracle. Then:
 * the restore must succeed (FORMAT.LAYOUT: every conforming reader reads a conforming writer's
 * image), the restored description must equal the saved one (IMPL_TO_REF: SAVE.IMAGE.COMPLETE,
 * the image held the state; REF_TO_IMPL: RESTORE.RESULT.SAVED_STATE, the restore rebuilt it),
 * and the re-saved image must be byte-identical to the one handed over (FORMAT.LAYOUT with
 * FORMAT.CHUNKING.CANONICAL and SAVE.IMAGE.DETERMINISTIC fix every byte of an image from the
 * state, so two conforming writers agree). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certify.h"

#include "image/chunks.h"
#include "program/canonical.h"
#include "reference.h"
#include "run/runner.h"

/* The trace kept of the restoring run: enough for a restore fed one chunk per call of the
 * largest canonical image, and the save after it. */
#define INTEROP_TRACE 4096u

typedef struct interop_arg {
    const char *plugin;
    int state;          /* vmbsave_canonical_id */
    bool ref_to_impl;
} interop_arg;

/* What the child hands back (fixed size: sandbox_run_function's report). */
typedef struct certify_interop_report {
    int setup_failed;
    int impl_refused;
    char error[256];
    /* A run the oracle failed: 1 the saving run, 2 the restoring run. */
    int violation_in;
    char clause[64];
    uint32_t step;
    char check[32];
    char expected[256];
    char observed[256];
    /* The comparison. */
    int restore_status_known;
    int32_t restore_status;
    uint32_t image_bytes, resaved_bytes;
    int64_t first_difference; /* -1: the images are identical */
    uint8_t image_byte, resaved_byte;
    uint64_t saved_description, restored_description; /* XXH3 digests (runner.h) */
    uint32_t saved_description_bytes, restored_description_bytes;
    int descriptions_known;
} certify_interop_report;

size_t certify_interop_report_size(void)
{
    return sizeof(certify_interop_report);
}

static void note_violation(certify_interop_report *r, int where, const vmbsave_run_result *res)
{
    r->violation_in = where;
    snprintf(r->clause, sizeof(r->clause), "%s", res->violation.clause);
    r->step = res->violation.step;
    snprintf(r->check, sizeof(r->check), "%s", vmbsave_check_kind_name(res->violation.kind));
    snprintf(r->expected, sizeof(r->expected), "%s", res->violation.expected);
    snprintf(r->observed, sizeof(r->observed), "%s", res->violation.observed);
}

int certify_interop_child(void *arg_, void *report, size_t size)
{
    (void)size;
    const interop_arg *arg = arg_;
    certify_interop_report *r = report;
    r->first_difference = -1;
    vmbsave_runner *impl = vmbsave_runner_open_path(arg->plugin, r->error, sizeof(r->error));
    if (impl == NULL) {
        r->impl_refused = 1;
        return 0;
    }
    vmbsave_runner *ref = vmbsave_runner_open_entry(vmbsave_reference_get_interface, r->error,
                                                    sizeof(r->error));
    /* Images up to the runner's limit, and the restoring run's trace: not on the stack. */
    static uint8_t image[VMBSAVE_RUN_MAX_IMAGE_BYTES], resaved[VMBSAVE_RUN_MAX_IMAGE_BYTES];
    static vmbsave_trace_entry trace[INTEROP_TRACE];
    static vmbsave_program saving, restoring;
    if (ref == NULL || !vmbsave_canonical_prefix((vmbsave_canonical_id)arg->state, &saving)) {
        r->setup_failed = 1;
        if (r->error[0] == '\0')
            snprintf(r->error, sizeof(r->error), "no canonical state %d", arg->state);
        return 0;
    }
    vmbsave_runner *saver = arg->ref_to_impl ? ref : impl;
    vmbsave_runner *restorer = arg->ref_to_impl ? impl : ref;

    saving.steps[saving.count++] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 1};
    saving.steps[saving.count++] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 0};
    vmbsave_run_options o1;
    memset(&o1, 0, sizeof(o1));
    o1.digests = true;
    o1.export_image[0] = image;
    o1.export_image_cap[0] = sizeof(image);
    static vmbsave_run_result res;
    vmbsave_runner_run(saver, &saving, &o1, &res);
    if (res.verdict == VMBSAVE_VERDICT_VIOLATION) {
        note_violation(r, 1, &res);
        return 0;
    }
    if (res.verdict != VMBSAVE_VERDICT_PASS || !res.has_descriptions || res.image_size[0] == 0 ||
        res.image_size[0] > sizeof(image)) {
        r->setup_failed = 1;
        snprintf(r->error, sizeof(r->error), "the saving run gave no image: %.200s", res.error);
        return 0;
    }
    r->image_bytes = res.image_size[0];
    r->saved_description = res.descriptions[0].digest;
    r->saved_description_bytes = res.descriptions[0].bytes;

    memset(&restoring, 0, sizeof(restoring));
    restoring.steps[restoring.count++] =
        (vmbsave_step){.op = VMBSAVE_OP_RESTORE, .ch = 0, .slot = 0, .mode = VMBSAVE_EDIT_WHOLE, .c = 1};
    restoring.steps[restoring.count++] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 1};
    vmbsave_run_options o2;
    memset(&o2, 0, sizeof(o2));
    o2.digests = true;
    o2.trace = trace;
    o2.trace_cap = INTEROP_TRACE;
    o2.preload_image[0] = image;
    o2.preload_image_size[0] = r->image_bytes;
    o2.export_image[1] = resaved;
    o2.export_image_cap[1] = sizeof(resaved);
    vmbsave_runner_run(restorer, &restoring, &o2, &res);
    if (res.verdict == VMBSAVE_VERDICT_VIOLATION) {
        note_violation(r, 2, &res);
        return 0;
    }
    if (res.verdict != VMBSAVE_VERDICT_PASS) {
        r->setup_failed = 1;
        snprintf(r->error, sizeof(r->error), "the restoring run: %.200s", res.error);
        return 0;
    }
    /* The last restore call's status says whether the image was taken. */
    for (uint32_t i = 0; i < res.trace_count && i < INTEROP_TRACE; i++) {
        if (trace[i].call.op == VMBSAVE_CALL_RESTORE_FROM_BUFFER && trace[i].has_status) {
            r->restore_status_known = 1;
            r->restore_status = trace[i].status;
        }
    }
    if (res.has_descriptions && res.descriptions[0].described) {
        r->descriptions_known = 1;
        r->restored_description = res.descriptions[0].digest;
        r->restored_description_bytes = res.descriptions[0].bytes;
    }
    r->resaved_bytes = res.image_size[1] <= sizeof(resaved) ? res.image_size[1] : 0;
    uint32_t n = r->image_bytes < r->resaved_bytes ? r->image_bytes : r->resaved_bytes;
    for (uint32_t i = 0; i < n; i++) {
        if (image[i] != resaved[i]) {
            r->first_difference = i;
            r->image_byte = image[i];
            r->resaved_byte = resaved[i];
            break;
        }
    }
    if (r->first_difference < 0 && r->image_bytes != r->resaved_bytes)
        r->first_difference = n;
    return 0;
}

void *certify_interop_arg_new(const char *plugin, int state, bool ref_to_impl)
{
    interop_arg *a = calloc(1, sizeof(*a));
    if (a != NULL) {
        a->plugin = plugin;
        a->state = state;
        a->ref_to_impl = ref_to_impl;
    }
    return a;
}

/* Grades a finished child's report into c (clause, verdict, detail, expected, observed). */
void certify_interop_grade(const void *report, bool ref_to_impl, certify_case *c)
{
    const certify_interop_report *r = report;
    const char *saver = ref_to_impl ? "the reference" : "the implementation";
    const char *restorer = ref_to_impl ? "the implementation" : "the reference";
    if (r->impl_refused) {
        c->verdict = CV_FAIL;
        snprintf(c->clause, sizeof(c->clause), "ABI.TABLE.COMPLETE");
        snprintf(c->detail, sizeof(c->detail), "the implementation's table is unusable: %s", r->error);
        return;
    }
    if (r->setup_failed) {
        c->verdict = CV_HARNESS_ERROR;
        snprintf(c->detail, sizeof(c->detail), "%s", r->error);
        return;
    }
    if (r->violation_in != 0) {
        /* The reference broke a clause: vmbsave's bug, or the oracle's disagreement with it
         * about the implementation's image. */
        bool impl_side = (r->violation_in == 1) != ref_to_impl;
        snprintf(c->clause, sizeof(c->clause), "%s", r->clause);
        c->verdict = impl_side ? CV_FAIL : CV_HARNESS_ERROR;
        snprintf(c->detail, sizeof(c->detail), "%s %s broke %s at step %u (%s): expected %s, observed %s",
                 r->violation_in == 1 ? "saving," : "restoring,",
                 r->violation_in == 1 ? saver : restorer, r->clause, r->step, r->check, r->expected,
                 r->observed);
        c->expected = json_pack("{s:s, s:s, s:s}", "kind", "oracle", "check", r->check, "text", r->expected);
        c->observed = json_pack("{s:s, s:s, s:s, s:i}", "kind", "oracle", "check", r->check, "text",
                                r->observed, "step", (int)r->step);
        return;
    }
    char digest_a[24], digest_b[24];
    snprintf(digest_a, sizeof(digest_a), "%016llx", (unsigned long long)r->saved_description);
    snprintf(digest_b, sizeof(digest_b), "%016llx", (unsigned long long)r->restored_description);
    if (!r->restore_status_known || r->restore_status != 0) {
        c->verdict = CV_FAIL;
        snprintf(c->clause, sizeof(c->clause), ref_to_impl ? "RESTORE.RESULT.SAVED_STATE" : "FORMAT.LAYOUT");
        snprintf(c->detail, sizeof(c->detail), "%s did not restore the %u-byte image %s saved (status 0x%08x)",
                 restorer, r->image_bytes, saver, (unsigned)r->restore_status);
        c->expected = json_pack("{s:s, s:s}", "kind", "status", "status", "STATUS_SUCCESS");
        c->observed = json_pack("{s:s, s:I, s:b}", "kind", "status", "code",
                                (json_int_t)(uint32_t)r->restore_status, "known", r->restore_status_known);
    } else if (!r->descriptions_known || r->saved_description != r->restored_description ||
               r->saved_description_bytes != r->restored_description_bytes) {
        c->verdict = CV_FAIL;
        snprintf(c->clause, sizeof(c->clause), ref_to_impl ? "RESTORE.RESULT.SAVED_STATE" : "SAVE.IMAGE.COMPLETE");
        snprintf(c->detail, sizeof(c->detail),
                 "the channel %s restored describes itself otherwise than the one %s saved "
                 "(%u-byte description, digest %s; restored: %u bytes, digest %s)",
                 restorer, saver, r->saved_description_bytes, digest_a,
                 r->restored_description_bytes, digest_b);
        c->expected = json_pack("{s:s, s:I, s:s}", "kind", "description", "bytes",
                                (json_int_t)r->saved_description_bytes, "xxh3", digest_a);
        c->observed = json_pack("{s:s, s:I, s:s}", "kind", "description", "bytes",
                                (json_int_t)r->restored_description_bytes, "xxh3", digest_b);
    } else if (r->first_difference >= 0) {
        c->verdict = CV_FAIL;
        snprintf(c->clause, sizeof(c->clause), "FORMAT.LAYOUT");
        snprintf(c->detail, sizeof(c->detail),
                 "%s saved the restored state as another image than %s's: %u and %u bytes, first "
                 "difference at byte %lld",
                 restorer, saver, r->resaved_bytes, r->image_bytes, (long long)r->first_difference);
        const certify_interop_report *x = r;
        json_t *ref_side = json_pack("{s:s, s:I, s:I, s:i}", "kind", "byte", "size",
                                     (json_int_t)(ref_to_impl ? x->image_bytes : x->resaved_bytes),
                                     "offset", (json_int_t)x->first_difference, "value",
                                     ref_to_impl ? x->image_byte : x->resaved_byte);
        json_t *impl_side = json_pack("{s:s, s:I, s:I, s:i}", "kind", "byte", "size",
                                      (json_int_t)(ref_to_impl ? x->resaved_bytes : x->image_bytes),
                                      "offset", (json_int_t)x->first_difference, "value",
                                      ref_to_impl ? x->resaved_byte : x->image_byte);
        c->expected = ref_side; /* the reference's image is FORMAT.md's */
        c->observed = impl_side;
    } else {
        c->verdict = CV_PASS;
        snprintf(c->detail, sizeof(c->detail), "%u-byte image, restored and re-saved identically",
                 r->image_bytes);
    }
}
