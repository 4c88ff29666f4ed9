/* certify's search stage (docs/vmbsave.1, "certify", SEARCH): for the rest of the budget,
 * programs from the canonical states, changed by the structure-aware mutator
 * (harness/program/program_mutate.h), run against the implementation in batches, each batch in
 * a sandboxed child (cmd_certify.c). This file is the child's work.
 *
 * A program with a fault_alloc step runs on the implementation alone, under the oracle (the
 * differential run drops those steps: which allocation a fault lands on is the implementation's
 * business). Every other program runs differentially against the reference (both under the
 * oracle, then compared call by call, harness/run/differential.h). A batch stops at the first
 * violation, minimised in the child (harness/run/minimize_clause.h); differences the oracle
 * accepts are collected (one per clause) and the batch goes on. Programs that pass join the
 * batch's pool, so later mutations build on them. Everything follows from the batch's seed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certify.h"

#include "program/canonical.h"
#include "program/program_mutate.h"
#include "reference.h"
#include "run/differential.h"
#include "run/minimize_clause.h"
#include "run/runner.h"
#include "sandbox.h"

_Static_assert(CERTIFY_SEARCH_MAX_INPUT >= VMBSAVE_PROGRAM_MAX_BYTES, "a program fits a finding");

#define SEARCH_POOL 64u
#define SEARCH_MAX_STEPS 64u       /* programs stay short: fast, and short to read */
#define SEARCH_MINIMIZE_CANDIDATES 2000u

typedef struct search_arg {
    const char *plugin;
    uint64_t seed;
    uint32_t time_ms;
} search_arg;

static uint64_t next_random(uint64_t *state) /* splitmix64 */
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool has_fault_alloc(const vmbsave_program *p)
{
    for (uint32_t i = 0; i < p->count; i++) {
        if (p->steps[i].op == VMBSAVE_OP_FAULT_ALLOC)
            return true;
    }
    return false;
}

/* The program without its fault_alloc steps: what the differential run executed. */
static void without_fault_alloc(const vmbsave_program *in, vmbsave_program *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < in->count; i++) {
        if (in->steps[i].op != VMBSAVE_OP_FAULT_ALLOC)
            out->steps[out->count++] = in->steps[i];
    }
}

static void keep_program(certify_search_finding *f, const vmbsave_program *p, bool differential)
{
    f->input_size = (uint32_t)vmbsave_program_encode(p, f->input, sizeof(f->input));
    f->differential = differential;
}

static void note_violation(certify_search_finding *f, const vmbsave_violation *v)
{
    snprintf(f->clause, sizeof(f->clause), "%s", v->clause);
    f->step = v->step;
    snprintf(f->check, sizeof(f->check), "%s", vmbsave_check_kind_name(v->kind));
    snprintf(f->expected, sizeof(f->expected), "%s", v->expected);
    snprintf(f->observed, sizeof(f->observed), "%s", v->observed);
}

/* The violation as the minimised program shows it (its step numbers are that program's). */
static void refresh_step(vmbsave_runner *impl, const vmbsave_program *minimized, certify_search_finding *f)
{
    static vmbsave_run_result again;
    if (minimized->count == 0)
        return;
    vmbsave_runner_run(impl, minimized, NULL, &again);
    if (again.verdict == VMBSAVE_VERDICT_VIOLATION && strcmp(again.violation.clause, f->clause) == 0)
        note_violation(f, &again.violation);
}

int certify_search_child(void *arg_, void *report, size_t size)
{
    (void)size;
    const search_arg *arg = arg_;
    certify_search_report *r = report;
    vmbsave_runner *impl = vmbsave_runner_open_path(arg->plugin, r->error, sizeof(r->error));
    if (impl == NULL) {
        r->impl_refused = 1;
        return 0;
    }
    vmbsave_runner *ref = vmbsave_runner_open_entry(vmbsave_reference_get_interface, r->error,
                                                    sizeof(r->error));
    vmbsave_differential *diff = ref != NULL ? vmbsave_differential_new(r->error, sizeof(r->error)) : NULL;
    if (diff == NULL) {
        r->setup_failed = 1;
        return 0;
    }
    static vmbsave_program pool[SEARCH_POOL], candidate, filtered, minimized;
    static vmbsave_differential_result d;
    static vmbsave_run_result alone;
    uint32_t pool_count = 0;
    for (int s = 0; s < (int)VMBSAVE_CANONICAL_COUNT && pool_count < SEARCH_POOL; s++) {
        if (vmbsave_canonical_prefix((vmbsave_canonical_id)s, &pool[pool_count]))
            pool_count++;
    }
    uint64_t rng = arg->seed;
    uint64_t end = sandbox_now_ms() + arg->time_ms;
    while (sandbox_now_ms() < end) {
        /* A pool program, or two crossed, then one to four mutations. */
        const vmbsave_program *parent = &pool[next_random(&rng) % pool_count];
        if (pool_count > 1 && next_random(&rng) % 8u == 0) {
            const vmbsave_program *other = &pool[next_random(&rng) % pool_count];
            vmbsave_program_crossover(parent, other, SEARCH_MAX_STEPS, next_random(&rng), &candidate);
        } else {
            candidate = *parent;
        }
        unsigned mutations = 1u + (unsigned)(next_random(&rng) % 4u);
        for (unsigned m = 0; m < mutations; m++)
            vmbsave_program_mutate(&candidate, SEARCH_MAX_STEPS, next_random(&rng));
        r->programs++;
        r->in_flight_size = (uint32_t)vmbsave_program_encode(&candidate, r->in_flight, sizeof(r->in_flight));

        bool passed = false;
        if (has_fault_alloc(&candidate)) {
            r->alone++;
            vmbsave_runner_run(impl, &candidate, NULL, &alone);
            if (alone.verdict == VMBSAVE_VERDICT_VIOLATION) {
                r->found = CERTIFY_SEARCH_IMPL_VIOLATION;
                note_violation(&r->finding, &alone.violation);
                keep_program(&r->finding, &candidate, false);
                r->finding.unminimized_steps = candidate.count;
                /* The smallest program that still breaks the clause (in this child). */
                vmbsave_minimize_stats stats;
                vmbsave_minimize_clause(impl, &candidate, r->finding.clause, SEARCH_MINIMIZE_CANDIDATES,
                                        &minimized, &stats);
                if (minimized.count > 0)
                    keep_program(&r->finding, &minimized, false);
                refresh_step(impl, &minimized, &r->finding);
                r->finding.steps = minimized.count > 0 ? minimized.count : candidate.count;
                break;
            }
            passed = alone.verdict == VMBSAVE_VERDICT_PASS;
        } else {
            vmbsave_differential_run(diff, ref, impl, &candidate, &d);
            if (d.outcome == VMBSAVE_DIFFERENTIAL_IMPL_VIOLATION) {
                r->found = CERTIFY_SEARCH_IMPL_VIOLATION;
                note_violation(&r->finding, &d.impl.violation);
                r->finding.unminimized_steps = candidate.count;
                keep_program(&r->finding, &candidate, true);
                without_fault_alloc(&candidate, &filtered);
                vmbsave_minimize_stats stats;
                vmbsave_minimize_clause(impl, &filtered, r->finding.clause, SEARCH_MINIMIZE_CANDIDATES,
                                        &minimized, &stats);
                if (minimized.count > 0)
                    keep_program(&r->finding, &minimized, true);
                refresh_step(impl, &minimized, &r->finding);
                r->finding.steps = minimized.count > 0 ? minimized.count : candidate.count;
                break;
            }
            if (d.outcome == VMBSAVE_DIFFERENTIAL_REFERENCE_VIOLATION) {
                r->found = CERTIFY_SEARCH_REFERENCE_VIOLATION;
                note_violation(&r->finding, &d.reference.violation);
                keep_program(&r->finding, &candidate, true);
                r->finding.steps = candidate.count;
                break;
            }
            if (d.outcome == VMBSAVE_DIFFERENTIAL_DISAGREE) {
                /* Allowed by the contract: one per clause, recorded. */
                bool known = false;
                for (uint32_t i = 0; i < r->info_count; i++)
                    known = known || strcmp(r->info[i].clause, d.disagreement.clause) == 0;
                if (!known && r->info_count < CERTIFY_SEARCH_MAX_INFO) {
                    certify_search_finding *f = &r->info[r->info_count++];
                    snprintf(f->clause, sizeof(f->clause), "%s", d.disagreement.clause);
                    f->step = d.disagreement.step;
                    snprintf(f->check, sizeof(f->check), "%s",
                             vmbsave_differential_field_name(d.disagreement.field));
                    snprintf(f->expected, sizeof(f->expected), "reference: %.200s", d.disagreement.reference);
                    snprintf(f->observed, sizeof(f->observed), "implementation: %.200s",
                             d.disagreement.implementation);
                    snprintf(f->call, sizeof(f->call), "%s", d.disagreement.call_text);
                    keep_program(f, &candidate, true);
                    f->steps = candidate.count;
                }
            }
            if (d.outcome == VMBSAVE_DIFFERENTIAL_ERROR)
                r->errors++;
            passed = d.outcome == VMBSAVE_DIFFERENTIAL_AGREE || d.outcome == VMBSAVE_DIFFERENTIAL_DISAGREE;
        }
        /* A passing program joins the pool (replacing a random one when it is full). */
        if (passed && candidate.count > 0) {
            if (pool_count < SEARCH_POOL)
                pool[pool_count++] = candidate;
            else
                pool[next_random(&rng) % SEARCH_POOL] = candidate;
        }
    }
    vmbsave_differential_free(diff);
    vmbsave_runner_close(ref);
    vmbsave_runner_close(impl);
    return 0;
}

typedef struct replay_arg {
    const char *plugin;
    uint32_t size;
    unsigned char program[CERTIFY_SEARCH_MAX_INPUT];
} replay_arg;

void *certify_search_replay_arg_new(const char *plugin, const unsigned char *program, uint32_t size)
{
    replay_arg *a = calloc(1, sizeof(*a));
    if (a != NULL && size <= sizeof(a->program)) {
        a->plugin = plugin;
        a->size = size;
        memcpy(a->program, program, size);
    }
    return a;
}

int certify_search_replay_child(void *arg_, void *report, size_t size)
{
    (void)report;
    (void)size;
    const replay_arg *a = arg_;
    static vmbsave_program p;
    static vmbsave_run_result res;
    char error[256];
    vmbsave_runner *impl = vmbsave_runner_open_path(a->plugin, error, sizeof(error));
    if (impl == NULL)
        return 2;
    vmbsave_program_decode(a->program, a->size, &p);
    vmbsave_runner_run(impl, &p, NULL, &res);
    return 0;
}

void *certify_search_arg_new(const char *plugin, uint64_t seed, uint32_t time_ms)
{
    search_arg *a = calloc(1, sizeof(*a));
    if (a != NULL) {
        a->plugin = plugin;
        a->seed = seed;
        a->time_ms = time_ms;
    }
    return a;
}
