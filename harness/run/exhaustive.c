/* Bounded exhaustive checks over the runner (harness/run/exhaustive.h).
 *
 * Every check builds programs as the canonical prefix plus a tail, runs each through
 * vmbsave_runner_run (the oracle judges it), and stops at the first one that does not PASS.
 * Besides the oracle's verdict, each check asserts, from the trace, that it exercised what it
 * claims to (a fault actually injected, a packet callback actually failed), because a sweep
 * that injects nothing passes whatever the implementation does. */
#include "run/exhaustive.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"

/* Channel slots: the canonical state lives in slot 0, restores go to slot 1 (fresh). */
#define CH_STATE 0u
#define CH_FRESH 1u

/* The largest allocation index FAULT_ALLOC can name (program.h: a < 64). */
#define FAULT_ALLOC_MAX_AFTER 63u
/* The most restore-packet calls FAULT_RESTORE_PACKET can name. */
#define FAULT_RESTORE_MAX_CALL 16u

static const uint8_t k_letter_sizes[VMBSAVE_EXHAUSTIVE_LETTERS - 2u] = {
    VMBSAVE_SIZE_ZERO_NULL, VMBSAVE_SIZE_ONE,       VMBSAVE_SIZE_REQUIRED_MINUS_ONE,
    VMBSAVE_SIZE_REQUIRED,  VMBSAVE_SIZE_MAX_CHUNK, VMBSAVE_SIZE_LARGE,
};

/* The state of one check: the runner, its report, and a trace buffer reused by every run. */
typedef struct check {
    vmbsave_runner *runner;
    vmbsave_exhaustive_report *report;
    vmbsave_trace_entry *trace; /* NULL when the check needs no trace */
    vmbsave_program *program;   /* the canonical state's prefix; each check appends to it */
    vmbsave_run_result result;
} check;

static void set_reason(vmbsave_exhaustive_report *report, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_reason(vmbsave_exhaustive_report *report, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(report->reason, sizeof report->reason, fmt, ap);
    va_end(ap);
}

/* Puts "<new>: <old reason>" in the report's reason, to say which program of a check failed. */
static void wrap_reason(vmbsave_exhaustive_report *report, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void wrap_reason(vmbsave_exhaustive_report *report, const char *fmt, ...)
{
    char inner[sizeof report->reason];
    memcpy(inner, report->reason, sizeof inner);
    char outer[sizeof report->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(outer, sizeof outer, fmt, ap);
    va_end(ap);
    /* Joined by hand: the two may not fit together, and the tail of `inner` is what goes. */
    size_t at = 0;
    const char *parts[3] = {outer, ": ", inner};
    for (int i = 0; i < 3; i++) {
        for (const char *q = parts[i]; *q != '\0' && at + 1 < sizeof report->reason; q++)
            report->reason[at++] = *q;
    }
    report->reason[at] = '\0';
}

static void report_reset(vmbsave_exhaustive_report *report)
{
    memset(report, 0, sizeof *report);
    report->status = VMBSAVE_EXHAUSTIVE_OK;
}

/* Marks the check HOLLOW for `program` (NULL: none), with a reason. Returns the status. */
static vmbsave_exhaustive_status hollow(check *c, const vmbsave_program *program, const char *fmt,
                                        ...) __attribute__((format(printf, 3, 4)));

static vmbsave_exhaustive_status hollow(check *c, const vmbsave_program *program, const char *fmt,
                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->report->reason, sizeof c->report->reason, fmt, ap);
    va_end(ap);
    c->report->status = VMBSAVE_EXHAUSTIVE_HOLLOW;
    if (program != NULL) {
        c->report->program = *program;
        c->report->result = c->result;
    } else {
        c->report->program.count = 0;
    }
    return VMBSAVE_EXHAUSTIVE_HOLLOW;
}

static void check_close(check *c)
{
    free(c->trace);
    c->trace = NULL;
    free(c->program);
    c->program = NULL;
}

/* The set-up every check shares: a report, an optional trace, and a program holding the
 * canonical state's prefix (c->program). On false the report says why and nothing is held. */
static bool check_open(check *c, vmbsave_runner *runner, vmbsave_exhaustive_report *report,
                       bool with_trace, vmbsave_canonical_id state)
{
    memset(c, 0, sizeof *c);
    c->runner = runner;
    c->report = report;
    report_reset(report);
    if (runner == NULL) {
        hollow(c, NULL, "no runner");
        return false;
    }
    if (with_trace) {
        c->trace = calloc(VMBSAVE_EXHAUSTIVE_TRACE_CAP, sizeof *c->trace);
        if (c->trace == NULL) {
            hollow(c, NULL, "out of memory for a trace of %u entries",
                   VMBSAVE_EXHAUSTIVE_TRACE_CAP);
            return false;
        }
    }
    c->program = malloc(sizeof *c->program);
    if (c->program == NULL) {
        hollow(c, NULL, "out of memory");
        check_close(c);
        return false;
    }
    if (!vmbsave_canonical_prefix(state, c->program)) {
        hollow(c, NULL, "no canonical state %d", (int)state);
        check_close(c);
        return false;
    }
    return true;
}

/* Runs one program. Returns true if it passed and, when traced, its whole trace was kept. On
 * false the report says why (FAILED or HOLLOW) and holds the program. */
static bool run(check *c, const vmbsave_program *program, const char *what)
{
    vmbsave_run_options options = {0};
    if (c->trace != NULL) {
        options.trace = c->trace;
        options.trace_cap = VMBSAVE_EXHAUSTIVE_TRACE_CAP;
    }
    memset(&c->result, 0, sizeof c->result);
    vmbsave_runner_run(c->runner, program, c->trace != NULL ? &options : NULL, &c->result);
    c->report->programs++;
    if (c->result.verdict != VMBSAVE_VERDICT_PASS) {
        c->report->status = VMBSAVE_EXHAUSTIVE_FAILED;
        c->report->program = *program;
        c->report->result = c->result;
        if (c->result.verdict == VMBSAVE_VERDICT_VIOLATION)
            set_reason(c->report, "%s: %s at step %" PRIu32 ": expected %s, observed %s", what,
                       c->result.violation.clause, c->result.violation.step,
                       c->result.violation.expected, c->result.violation.observed);
        else
            set_reason(c->report, "%s: %s: %s", what, vmbsave_verdict_name(c->result.verdict),
                       c->result.error);
        return false;
    }
    /* A full trace may have lost entries, and the sweeps read it: never guess. */
    if (c->trace != NULL &&
        (c->result.trace_count >= VMBSAVE_EXHAUSTIVE_TRACE_CAP || c->result.trace_count == 0)) {
        hollow(c, program, "%s: the trace holds %" PRIu32 " entries of %u (calls %" PRIu32 ")",
               what, c->result.trace_count, VMBSAVE_EXHAUSTIVE_TRACE_CAP, c->result.calls);
        return false;
    }
    return true;
}

/* Allocation faults injected by the calls of step `step` of the last run. */
static uint64_t faults_in_step(const check *c, uint32_t step)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < c->result.trace_count; i++) {
        if (c->trace[i].step == step)
            n += c->trace[i].faults_injected;
    }
    return n;
}

/* Allocation faults injected by every call of the last run. */
static uint64_t faults_in_run(const check *c)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < c->result.trace_count; i++)
        n += c->trace[i].faults_injected;
    return n;
}

/* Calls of step `step` that returned `status`. */
static uint32_t calls_with_status(const check *c, uint32_t step, NTSTATUS status)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->result.trace_count; i++) {
        const vmbsave_trace_entry *e = &c->trace[i];
        if (e->step == step && e->has_status && e->status == status)
            n++;
    }
    return n;
}

/* ---- program building ----------------------------------------------------------------------- */

static vmbsave_step make_step(vmbsave_op op, uint8_t ch, uint8_t mode, uint8_t slot, uint32_t a,
                              uint32_t b, uint32_t c)
{
    vmbsave_step s = {
        .op = (uint8_t)op, .ch = ch, .mode = mode, .slot = slot, .a = a, .b = b, .c = c};
    vmbsave_step_normalize(&s);
    return s;
}

/* Appends a step; false if the program is full. */
static bool push(vmbsave_program *p, vmbsave_step s)
{
    if (p->count >= VMBSAVE_PROGRAM_MAX_STEPS)
        return false;
    p->steps[p->count++] = s;
    return true;
}

static vmbsave_step capture(uint8_t ch, uint8_t slot)
{
    return make_step(VMBSAVE_OP_CAPTURE, ch, 0, slot, 0, 0, 0);
}

static vmbsave_step restore_whole(uint8_t slot, uint8_t ch, uint32_t per_call)
{
    return make_step(VMBSAVE_OP_RESTORE, ch, VMBSAVE_EDIT_WHOLE, slot, 0, 0, per_call);
}

static vmbsave_step fault_alloc(vmbsave_fault_mode mode, uint32_t after)
{
    return make_step(VMBSAVE_OP_FAULT_ALLOC, 0, (uint8_t)mode, 0, after, 0, 0);
}

/* Takes a channel into empty slot `ch` without changing it: `disable` of a fresh, DISABLED
 * channel is a no-op (SPEC.md, "fresh"). Done before a fault directive, so that the fault
 * lands in the restore and not in channel_allocate. */
static vmbsave_step touch_fresh(uint8_t ch)
{
    return make_step(VMBSAVE_OP_DISABLE, ch, 0, 0, 0, 0, 0);
}

/* ---- save protocol -------------------------------------------------------------------------- */

vmbsave_step vmbsave_exhaustive_letter(uint32_t letter, uint8_t ch)
{
    letter %= VMBSAVE_EXHAUSTIVE_LETTERS;
    if (letter == 0)
        return make_step(VMBSAVE_OP_SAVE_BEGIN, ch, 0, 0, 0, 0, 0);
    if (letter == 1)
        return make_step(VMBSAVE_OP_SAVE_END, ch, 0, 0, 0, 0, 0);
    return make_step(VMBSAVE_OP_SAVE_CONTINUE, ch, k_letter_sizes[letter - 2u], 0, 0, 0, 0);
}

bool vmbsave_exhaustive_length_bound(uint32_t *length)
{
    *length = VMBSAVE_EXHAUSTIVE_DEFAULT_LENGTH;
    const char *env = getenv(VMBSAVE_EXHAUSTIVE_LENGTH_ENV);
    if (env == NULL || *env == '\0')
        return true;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(env, &end, 10);
    if (errno != 0 || end == env || *end != '\0' || v < 1 || v > VMBSAVE_EXHAUSTIVE_MAX_LENGTH)
        return false;
    *length = (uint32_t)v;
    return true;
}

vmbsave_exhaustive_status vmbsave_exhaustive_save_protocol(vmbsave_runner *runner,
                                                           vmbsave_canonical_id state,
                                                           uint32_t max_length,
                                                           vmbsave_exhaustive_report *report)
{
    check c;
    if (!check_open(&c, runner, report, false, state))
        return report->status;
    if (max_length < 1)
        max_length = 1;
    if (max_length > VMBSAVE_EXHAUSTIVE_MAX_LENGTH)
        max_length = VMBSAVE_EXHAUSTIVE_MAX_LENGTH;
    vmbsave_program *p = c.program;
    const uint32_t prefix = p->count;
    uint64_t expected = 0;
    for (uint32_t length = 1; length <= max_length; length++) {
        uint32_t digits[VMBSAVE_EXHAUSTIVE_MAX_LENGTH] = {0};
        uint64_t sequences = 1;
        for (uint32_t i = 0; i < length; i++)
            sequences *= VMBSAVE_EXHAUSTIVE_LETTERS;
        expected += sequences;
        /* An odometer over the letters: digit 0 turns fastest. */
        for (uint64_t n = 0; n < sequences; n++) {
            p->count = prefix + length;
            for (uint32_t i = 0; i < length; i++)
                p->steps[prefix + i] = vmbsave_exhaustive_letter(digits[i], CH_STATE);
            if (!run(&c, p, "save protocol")) {
                wrap_reason(report, "from %s, a sequence of %" PRIu32,
                            vmbsave_canonical_name(state), length);
                check_close(&c);
                return report->status;
            }
            for (uint32_t i = 0; i < length && ++digits[i] == VMBSAVE_EXHAUSTIVE_LETTERS; i++)
                digits[i] = 0;
        }
    }
    check_close(&c);
    if (report->programs != expected)
        return hollow(&c, NULL, "ran %" PRIu64 " sequences, expected %" PRIu64, report->programs,
                      expected);
    return VMBSAVE_EXHAUSTIVE_OK;
}

/* ---- restore groupings ---------------------------------------------------------------------- */

vmbsave_exhaustive_status vmbsave_exhaustive_restore_groupings(vmbsave_runner *runner,
                                                               vmbsave_canonical_id state,
                                                               vmbsave_exhaustive_report *report)
{
    check c;
    if (!check_open(&c, runner, report, true, state))
        return report->status;
    const vmbsave_canonical_info *info = vmbsave_canonical_info_of(state);
    vmbsave_program *p = c.program;
    vmbsave_exhaustive_status status = VMBSAVE_EXHAUSTIVE_OK;
    const uint32_t chunks = info->image_chunks;
    if (!push(p, capture(CH_STATE, 0)) || !push(p, touch_fresh(CH_FRESH))) {
        status = hollow(&c, p, "program full");
        goto out;
    }
    const uint32_t base = p->count;
    const uint32_t restore_step = base;
    /* c = 1 first: it also counts the image's chunks. Then 0 (all at once), then 2.. chunks. */
    for (uint32_t i = 0; i <= chunks; i++) {
        uint32_t per_call = i == 0 ? 1u : i == 1 ? 0u : i;
        p->count = base;
        if (!push(p, restore_whole(0, CH_FRESH, per_call)) || !push(p, capture(CH_FRESH, 1))) {
            status = hollow(&c, p, "program full");
            goto out;
        }
        if (!run(&c, p, "restore grouping")) {
            wrap_reason(report, "restore of %s with %" PRIu32 " chunks per call", info->name,
                        per_call);
            status = report->status;
            goto out;
        }
        /* Whole chunks per call: every call but the last says MORE_PROCESSING_REQUIRED. */
        uint32_t calls = per_call == 0 ? 1u : (chunks + per_call - 1u) / per_call;
        uint32_t more = calls_with_status(&c, restore_step, STATUS_MORE_PROCESSING_REQUIRED);
        uint32_t done = calls_with_status(&c, restore_step, STATUS_SUCCESS);
        if (more != calls - 1u || done < 1u) {
            status = hollow(&c, p,
                            "restore of %s (%" PRIu32 " chunks, FORMAT.CHUNKING.CANONICAL) with "
                            "%" PRIu32 " per call: expected %" PRIu32
                            " MORE_PROCESSING_REQUIRED and a SUCCESS, the trace shows %" PRIu32
                            " and %" PRIu32,
                            info->name, chunks, per_call, calls - 1u, more, done);
            goto out;
        }
    }
out:
    check_close(&c);
    return status;
}

/* ---- channel interleavings ------------------------------------------------------------------ */

/* restore_from_buffer calls of step `step` that committed (the oracle's re-save after a commit
 * is traced under the same step). */
static uint32_t restores_committed(const check *c, uint32_t step)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->result.trace_count; i++) {
        const vmbsave_trace_entry *e = &c->trace[i];
        if (e->step == step && e->call.op == VMBSAVE_CALL_RESTORE_FROM_BUFFER && e->has_status &&
            e->status == STATUS_SUCCESS)
            n++;
    }
    return n;
}

/* Slots of the second restore and of the captures of the interleaving check. */
#define CH_SECOND 2u

static vmbsave_step restore_part(uint8_t ch, uint32_t first, uint32_t count)
{
    return make_step(VMBSAVE_OP_RESTORE, ch, VMBSAVE_EDIT_CHUNKS, 0, first, count, 1);
}

/* Walks every interleaving of the lanes' steps that keeps each lane's order (a multinomial
 * count), appending each to p after `base`, then `tail` steps; runs each. */
typedef struct interleave {
    check *c;
    vmbsave_program *p;
    const vmbsave_step *lane[VMBSAVE_EXHAUSTIVE_LANES];
    uint32_t len[VMBSAVE_EXHAUSTIVE_LANES];
    uint32_t at[VMBSAVE_EXHAUSTIVE_LANES];
    const vmbsave_step *tail;
    uint32_t tail_len;
    uint32_t restore_steps[VMBSAVE_PROGRAM_MAX_STEPS]; /* 1: the step is a restore */
    uint32_t successes; /* restores that must commit */
    const char *what;
} interleave;

static bool interleave_walk(interleave *w)
{
    bool any = false;
    for (uint32_t l = 0; l < VMBSAVE_EXHAUSTIVE_LANES; l++) {
        if (w->at[l] == w->len[l])
            continue;
        any = true;
        uint32_t here = w->p->count;
        w->restore_steps[here] = w->lane[l][w->at[l]].op == VMBSAVE_OP_RESTORE;
        if (!push(w->p, w->lane[l][w->at[l]]))
            return hollow(w->c, w->p, "program full") == VMBSAVE_EXHAUSTIVE_OK;
        w->at[l]++;
        bool ok = interleave_walk(w);
        w->at[l]--;
        w->p->count = here;
        if (!ok)
            return false;
    }
    if (any)
        return true;
    /* Every lane is placed: the tail, then the run. */
    uint32_t end = w->p->count;
    for (uint32_t i = 0; i < w->tail_len; i++) {
        w->restore_steps[w->p->count] = 0;
        if (!push(w->p, w->tail[i]))
            return hollow(w->c, w->p, "program full") == VMBSAVE_EXHAUSTIVE_OK;
    }
    bool ok = run(w->c, w->p, w->what);
    if (ok) {
        /* Each restore committed exactly where the lanes say: the interleaving really had two
         * restores (and a session) in progress at once, not one refused early. */
        uint32_t done = 0;
        for (uint32_t i = 0; i < end; i++) {
            if (w->restore_steps[i])
                done += restores_committed(w->c, i);
        }
        if (done != w->successes)
            ok = hollow(w->c, w->p,
                        "%s: %" PRIu32 " restores committed, expected %" PRIu32, w->what, done,
                        w->successes) == VMBSAVE_EXHAUSTIVE_OK;
    }
    w->p->count = end;
    return ok;
}

vmbsave_exhaustive_status vmbsave_exhaustive_channel_interleavings(
    vmbsave_runner *runner, vmbsave_canonical_id state, vmbsave_exhaustive_report *report)
{
    check c;
    if (!check_open(&c, runner, report, true, state))
        return report->status;
    const vmbsave_canonical_info *info = vmbsave_canonical_info_of(state);
    vmbsave_program *p = c.program;
    vmbsave_exhaustive_status status = VMBSAVE_EXHAUSTIVE_OK;
    const uint32_t chunks = info->image_chunks;
    interleave *w = calloc(1, sizeof *w);
    if (w == NULL) {
        status = hollow(&c, NULL, "out of memory");
        goto out;
    }
    if (chunks < 2u) {
        status = hollow(&c, NULL, "%s's image has %" PRIu32 " chunk(s)", info->name, chunks);
        goto out;
    }
    if (!push(p, capture(CH_STATE, 0)) || !push(p, touch_fresh(CH_FRESH)) ||
        !push(p, touch_fresh(CH_SECOND))) {
        status = hollow(&c, p, "program full");
        goto out;
    }
    /* Lane 0: a restore into slot 1 in three parts (two for a two-chunk image). Lane 1: a
     * restore into slot 2 in two parts, or its first chunk then the whole image again, which
     * must fail (a second HEADER) while slot 1's restore goes on. Lane 2: a save session of
     * the state's own channel, begun and read whole (the run's end ends it). Then each
     * restored channel is captured. */
    vmbsave_step first[3], second[2], session[2], tail[2];
    uint32_t first_len = 0;
    first[first_len++] = restore_part(CH_FRESH, 0, 1);
    if (chunks >= 3u)
        first[first_len++] = restore_part(CH_FRESH, 1, 1);
    const uint32_t rest = first_len;
    first[first_len++] = restore_part(CH_FRESH, rest, 0);
    session[0] = make_step(VMBSAVE_OP_SAVE_BEGIN, CH_STATE, 0, 0, 0, 0, 0);
    session[1] = make_step(VMBSAVE_OP_SAVE_CONTINUE, CH_STATE, VMBSAVE_SIZE_LARGE, 0, 0, 0, 0);
    tail[0] = capture(CH_FRESH, 1);
    tail[1] = capture(CH_SECOND, 2);
    for (uint32_t failing = 0; failing < 2u; failing++) {
        second[0] = restore_part(CH_SECOND, 0, 1);
        second[1] = failing ? restore_whole(0, CH_SECOND, 0) : restore_part(CH_SECOND, 1, 0);
        *w = (interleave){.c = &c, .p = p, .lane = {first, second, session},
                          .len = {first_len, 2u, 2u}, .tail = tail,
                          .tail_len = failing ? 1u : 2u, .successes = failing ? 1u : 2u,
                          .what = failing ? "channel interleaving, the second restore failing"
                                          : "channel interleaving"};
        if (!interleave_walk(w)) {
            if (report->status == VMBSAVE_EXHAUSTIVE_FAILED)
                wrap_reason(report, "from %s", info->name);
            status = report->status;
            goto out;
        }
    }
out:
    free(w);
    check_close(&c);
    return status;
}

/* ---- allocation fault sweeps ---------------------------------------------------------------- */

vmbsave_exhaustive_status vmbsave_exhaustive_fault_sweep(vmbsave_runner *runner,
                                                         vmbsave_canonical_id state,
                                                         vmbsave_sweep_target target,
                                                         vmbsave_fault_mode mode,
                                                         vmbsave_exhaustive_report *report)
{
    check c;
    if (!check_open(&c, runner, report, true, state))
        return report->status;
    vmbsave_exhaustive_status status = VMBSAVE_EXHAUSTIVE_OK;
    vmbsave_program *p = c.program;
    const char *what = target == VMBSAVE_SWEEP_SAVE ? "save" : "restore";
    const char *mode_name = mode == VMBSAVE_FAULT_ONCE ? "once" : "from";
    if (mode != VMBSAVE_FAULT_ONCE && mode != VMBSAVE_FAULT_FROM) {
        status = hollow(&c, NULL, "fault sweep mode %d is neither ONCE nor FROM", (int)mode);
        goto out;
    }
    if (target == VMBSAVE_SWEEP_RESTORE &&
        (!push(p, capture(CH_STATE, 0)) || !push(p, touch_fresh(CH_FRESH)))) {
        status = hollow(&c, p, "program full");
        goto out;
    }
    const uint32_t base = p->count;
    const uint32_t target_step = base + 1u; /* right after the FAULT_ALLOC */
    bool ended = false;
    for (uint32_t k = 0; k <= FAULT_ALLOC_MAX_AFTER; k++) {
        p->count = base;
        bool room = push(p, fault_alloc(mode, k));
        if (target == VMBSAVE_SWEEP_SAVE) {
            /* The faulted save, then (faults off, so a fault the save did not reach cannot
             * land later) a fault-free one that must yield the same image. */
            room = room && push(p, capture(CH_STATE, 1)) &&
                   push(p, fault_alloc(VMBSAVE_FAULT_OFF, 0)) && push(p, capture(CH_STATE, 2));
        } else {
            /* The faulted restore; a fault-free retry into the same channel (fresh again
             * after a failure, RESTORE.ATOMIC; refused after a success, RESTORE.NO_REPLAY);
             * and a capture of the result, which must be the original image. */
            room = room && push(p, restore_whole(0, CH_FRESH, 0)) &&
                   push(p, fault_alloc(VMBSAVE_FAULT_OFF, 0)) &&
                   push(p, restore_whole(0, CH_FRESH, 0)) && push(p, capture(CH_FRESH, 1));
        }
        if (!room) {
            status = hollow(&c, p, "program full");
            goto out;
        }
        if (!run(&c, p, "fault sweep")) {
            wrap_reason(report, "%s of %s, allocation fault %s at k = %" PRIu32, what,
                        vmbsave_canonical_name(state), mode_name, k);
            status = report->status;
            goto out;
        }
        uint64_t in_target = faults_in_step(&c, target_step);
        uint64_t in_run = faults_in_run(&c);
        if (in_run != in_target) {
            /* Only the target step may see the fault: the directive after it turns it off. */
            status = hollow(&c, p,
                            "%s of %s, fault %s at %" PRIu32 ": %" PRIu64
                            " faults outside step %" PRIu32 " (the FAULT_ALLOC off did not hold)",
                            what, vmbsave_canonical_name(state), mode_name, k, in_run - in_target,
                            target_step);
            goto out;
        }
        report->faults_injected += in_target;
        if (in_target == 0) {
            ended = true;
            break;
        }
        report->deepest_fault = k;
    }
    if (!ended) {
        status = hollow(&c, p,
                        "%s of %s, fault %s: every k up to %u injected a fault; the step makes "
                        "more allocations than FAULT_ALLOC can reach",
                        what, vmbsave_canonical_name(state), mode_name, FAULT_ALLOC_MAX_AFTER);
        goto out;
    }
    /* A sweep proves something only if the step allocated, so that k = 0 failed it. */
    if (report->faults_injected == 0) {
        status = hollow(&c, p,
                        "%s of %s, fault %s: no fault injected at k = 0: the step made "
                        "no allocation, or the fault did not reach it",
                        what, vmbsave_canonical_name(state), mode_name);
        goto out;
    }
out:
    check_close(&c);
    return status;
}

/* ---- packet callback faults ----------------------------------------------------------------- */

/* The status save_continue must fail with when the scripted driver plays `mode` on a packet
 * (SPEC.md section 9), or STATUS_SUCCESS for the modes that follow the protocol. Every failing
 * mode fails on every packet: the driver asks for 16 bytes where an id has no state. */
static NTSTATUS save_packet_failure(vmbsave_save_packet_mode mode)
{
    switch (mode) {
    case VMBSAVE_SAVE_PACKET_STATE:
    case VMBSAVE_SAVE_PACKET_NO_STATE: return STATUS_SUCCESS;
    case VMBSAVE_SAVE_PACKET_FAIL_SECOND: return STATUS_UNSUCCESSFUL;        /* SECOND_CALL_FAILS */
    case VMBSAVE_SAVE_PACKET_FAIL_FIRST_ZERO: return STATUS_UNSUCCESSFUL;    /* SECOND_CALL_FAILS */
    case VMBSAVE_SAVE_PACKET_OVER_LIMIT: return STATUS_IMPLEMENTATION_LIMIT; /* OVER_LIMIT */
    case VMBSAVE_SAVE_PACKET_ASKS_MORE: return STATUS_INTERNAL_ERROR;        /* ASKS_MORE */
    case VMBSAVE_SAVE_PACKET_TOO_SMALL_SECOND: return STATUS_UNSUCCESSFUL;   /* NOT_FORWARDED */
    }
    return STATUS_SUCCESS;
}

vmbsave_exhaustive_status vmbsave_exhaustive_save_packet_faults(vmbsave_runner *runner,
                                                                vmbsave_canonical_id state,
                                                                vmbsave_exhaustive_report *report)
{
    check c;
    if (!check_open(&c, runner, report, true, state))
        return report->status;
    vmbsave_exhaustive_status status = VMBSAVE_EXHAUSTIVE_OK;
    const vmbsave_canonical_info *info = vmbsave_canonical_info_of(state);
    vmbsave_program *p = c.program;
    if (info->packet_count == 0) {
        status = hollow(&c, NULL, "%s has no packets in flight: no callback to fault", info->name);
        goto out;
    }
    const uint32_t base = p->count;
    const uint32_t capture_step = base + 1u;
    uint32_t failures_seen = 0;
    for (uint32_t mode = 0; mode < VMBSAVE_SAVE_PACKET_MODE_COUNT; mode++) {
        /* Target 0 is every packet; then each packet in flight alone. STATE takes no id. */
        uint32_t targets = mode == VMBSAVE_SAVE_PACKET_STATE ? 1u : 1u + info->packet_count;
        for (uint32_t t = 0; t < targets; t++) {
            uint32_t packet = t == 0 ? 0u : info->packet_ids[t - 1u];
            p->count = base;
            bool room = push(p, make_step(VMBSAVE_OP_FAULT_SAVE_PACKET, 0, (uint8_t)mode, 0, packet,
                                          0, 0)) &&
                        push(p, capture(CH_STATE, 0)) &&
                        push(p, make_step(VMBSAVE_OP_FAULT_SAVE_PACKET, 0,
                                          VMBSAVE_SAVE_PACKET_STATE, 0, 0, 0, 0)) &&
                        push(p, capture(CH_STATE, 1)) && push(p, restore_whole(1, CH_FRESH, 0)) &&
                        push(p, capture(CH_FRESH, 2));
            if (!room) {
                status = hollow(&c, p, "program full");
                goto out;
            }
            if (!run(&c, p, "save-packet fault")) {
                wrap_reason(report, "save of %s, driver mode %" PRIu32 " on packet %" PRIu32,
                            info->name, mode, packet);
                status = report->status;
                goto out;
            }
            NTSTATUS expect = save_packet_failure((vmbsave_save_packet_mode)mode);
            if (expect != STATUS_SUCCESS) {
                if (calls_with_status(&c, capture_step, expect) == 0) {
                    status = hollow(&c, p,
                                    "save of %s, driver mode %" PRIu32 " on packet %" PRIu32
                                    ": no call of the capture returned 0x%08" PRIX32
                                    "; the fault did not reach the save",
                                    info->name, mode, packet, (uint32_t)expect);
                    goto out;
                }
                failures_seen++;
            }
        }
    }
    if (failures_seen == 0) {
        status = hollow(&c, NULL, "no save-packet mode made a save fail");
        goto out;
    }
out:
    check_close(&c);
    return status;
}

vmbsave_exhaustive_status
vmbsave_exhaustive_restore_packet_faults(vmbsave_runner *runner, vmbsave_canonical_id state,
                                         vmbsave_exhaustive_report *report)
{
    check c;
    if (!check_open(&c, runner, report, true, state))
        return report->status;
    vmbsave_exhaustive_status status = VMBSAVE_EXHAUSTIVE_OK;
    const vmbsave_canonical_info *info = vmbsave_canonical_info_of(state);
    vmbsave_program *p = c.program;
    if (info->packet_count == 0 || info->packet_count >= FAULT_RESTORE_MAX_CALL) {
        status = hollow(&c, NULL, "%s has %" PRIu32 " packets in flight: need 1..%u", info->name,
                        info->packet_count, FAULT_RESTORE_MAX_CALL - 1u);
        goto out;
    }
    if (!push(p, capture(CH_STATE, 0)) || !push(p, touch_fresh(CH_FRESH))) {
        status = hollow(&c, p, "program full");
        goto out;
    }
    const uint32_t base = p->count;
    const uint32_t restore_step = base + 1u;
    /* n = packets + 1 names a call that never comes: the restore must succeed. */
    for (uint32_t n = 1; n <= info->packet_count + 1u; n++) {
        p->count = base;
        bool room = push(p, make_step(VMBSAVE_OP_FAULT_RESTORE_PACKET, 0, 0, 0, n, 0, 0)) &&
                    push(p, restore_whole(0, CH_FRESH, 0)) &&
                    push(p, restore_whole(0, CH_FRESH, 0)) && push(p, capture(CH_FRESH, 1));
        if (!room) {
            status = hollow(&c, p, "program full");
            goto out;
        }
        if (!run(&c, p, "restore-packet fault")) {
            wrap_reason(report, "restore of %s, restore_packet call %" PRIu32 " failing",
                        info->name, n);
            status = report->status;
            goto out;
        }
        bool failed = calls_with_status(&c, restore_step, STATUS_UNSUCCESSFUL) != 0;
        bool should_fail = n <= info->packet_count;
        if (failed != should_fail) {
            status = hollow(&c, p,
                            "restore of %s, restore_packet call %" PRIu32 " failing: the restore "
                            "%s, expected it to %s (PACKET.RESTORE.FAILURE_ATOMIC)",
                            info->name, n, failed ? "failed" : "did not fail",
                            should_fail ? "fail" : "succeed");
            goto out;
        }
    }
out:
    check_close(&c);
    return status;
}

/* ---- reporting ------------------------------------------------------------------------------ */

const char *vmbsave_exhaustive_status_name(vmbsave_exhaustive_status status)
{
    switch (status) {
    case VMBSAVE_EXHAUSTIVE_OK: return "OK";
    case VMBSAVE_EXHAUSTIVE_FAILED: return "FAILED";
    case VMBSAVE_EXHAUSTIVE_HOLLOW: return "HOLLOW";
    }
    return "?";
}

void vmbsave_exhaustive_report_print(const vmbsave_exhaustive_report *report, FILE *out)
{
    fprintf(out, "exhaustive check %s after %" PRIu64 " programs: %s\n",
            vmbsave_exhaustive_status_name(report->status), report->programs, report->reason);
    if (report->program.count == 0)
        return;
    char *text = malloc(VMBSAVE_PROGRAM_TEXT_MAX_BYTES);
    if (text != NULL &&
        vmbsave_program_print(&report->program, text, VMBSAVE_PROGRAM_TEXT_MAX_BYTES) != 0)
        fprintf(out, "program (%" PRIu32 " steps):\n%s", report->program.count, text);
    else
        fprintf(out, "program (%" PRIu32 " steps): could not print\n", report->program.count);
    free(text);
    const vmbsave_run_result *r = &report->result;
    fprintf(out, "verdict: %s (steps run %" PRIu32 ", calls %" PRIu32 ")\n",
            vmbsave_verdict_name(r->verdict), r->steps_run, r->calls);
    if (r->verdict == VMBSAVE_VERDICT_VIOLATION) {
        const vmbsave_violation *v = &r->violation;
        fprintf(out, "violation: clause %s at step %" PRIu32 " (call %" PRIu32 "), check %s\n",
                v->clause, v->step, v->call, vmbsave_check_kind_name(v->kind));
        fprintf(out, "  expected: %s\n  observed: %s\n", v->expected, v->observed);
    } else if (r->verdict == VMBSAVE_VERDICT_ERROR) {
        fprintf(out, "error: %s\n", r->error);
    }
}
