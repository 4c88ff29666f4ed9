/* Shrinking failing programs (harness/program/minimize.h).
 *
 * Every accepted candidate is smaller in a well-founded order (fewer steps, or the same steps
 * with one step lexicographically smaller in (mode, ch, slot, a, b, c)), so the loop ends even
 * without the candidate budget. */
#include "program/minimize.h"

#include <string.h>

typedef struct shrinker {
    vmbsave_minimize_predicate still_fails;
    void *context;
    uint32_t budget;
    vmbsave_minimize_stats stats;
    vmbsave_program current;   /* the smallest failing program so far */
    vmbsave_program candidate; /* scratch */
} shrinker;

/* Runs the predicate on m->candidate; on success it becomes m->current. */
static bool try_candidate(shrinker *m)
{
    if (m->candidate.count == 0)
        return false; /* a program that runs no step never fails a clause */
    if (m->stats.candidates >= m->budget) {
        m->stats.budget_exhausted = true;
        return false;
    }
    m->stats.candidates++;
    if (!m->still_fails(m->context, &m->candidate))
        return false;
    m->stats.accepted++;
    m->current = m->candidate;
    return true;
}

static void without_range(const vmbsave_program *in, uint32_t from, uint32_t n,
                          vmbsave_program *out)
{
    out->count = 0;
    for (uint32_t i = 0; i < in->count; i++) {
        if (i < from || i >= from + n)
            out->steps[out->count++] = in->steps[i];
    }
}

/* Delta debugging over steps: remove chunks of halving size, down to one step at a time. */
static bool drop_steps(shrinker *m)
{
    bool changed = false;
    for (uint32_t chunk = m->current.count / 2u; chunk >= 1u; chunk /= 2u) {
        uint32_t at = 0;
        while (at < m->current.count && !m->stats.budget_exhausted) {
            without_range(&m->current, at, chunk, &m->candidate);
            if (try_candidate(m))
                changed = true; /* the next chunk moved to `at` */
            else
                at += chunk;
        }
    }
    return changed;
}

static bool is_fault_step(const vmbsave_step *s)
{
    return s->op == VMBSAVE_OP_FAULT_ALLOC || s->op == VMBSAVE_OP_FAULT_SAVE_PACKET ||
           s->op == VMBSAVE_OP_FAULT_RESTORE_PACKET;
}

/* All fault steps at once (one at a time is drop_steps' last round). */
static bool drop_fault_steps(shrinker *m)
{
    m->candidate.count = 0;
    for (uint32_t i = 0; i < m->current.count; i++) {
        if (!is_fault_step(&m->current.steps[i]))
            m->candidate.steps[m->candidate.count++] = m->current.steps[i];
    }
    if (m->candidate.count == m->current.count)
        return false;
    return try_candidate(m);
}

/* The order fields shrink in and compare by: mode first, as a smaller mode is the simpler
 * call. Fixed: minimised outputs (and the tests that pin them) depend on it. */
static const vmbsave_step_field k_shrink_order[] = {
    VMBSAVE_STEP_FIELD_MODE, VMBSAVE_STEP_FIELD_CH, VMBSAVE_STEP_FIELD_SLOT,
    VMBSAVE_STEP_FIELD_A,    VMBSAVE_STEP_FIELD_B,  VMBSAVE_STEP_FIELD_C};
#define SHRINK_FIELDS (sizeof(k_shrink_order) / sizeof(k_shrink_order[0]))

/* x < y in the order (mode, ch, slot, a, b, c); the op never changes. */
static bool step_smaller(const vmbsave_step *x, const vmbsave_step *y)
{
    for (unsigned k = 0; k < SHRINK_FIELDS; k++) {
        uint32_t a = vmbsave_step_field_get(x, k_shrink_order[k]);
        uint32_t b = vmbsave_step_field_get(y, k_shrink_order[k]);
        if (a != b)
            return a < b;
    }
    return false;
}

/* Every field of every step toward 0: 0, 1, half, one less, smallest first. */
static bool shrink_fields(shrinker *m)
{
    bool changed = false;
    for (uint32_t i = 0; i < m->current.count && !m->stats.budget_exhausted; i++) {
        for (unsigned k = 0; k < SHRINK_FIELDS && !m->stats.budget_exhausted; k++) {
            vmbsave_step_field f = k_shrink_order[k];
            bool progressed = true;
            while (progressed && !m->stats.budget_exhausted) {
                progressed = false;
                uint32_t v = vmbsave_step_field_get(&m->current.steps[i], f);
                if (v == 0)
                    break;
                const uint32_t tries[4] = {0u, 1u, v / 2u, v - 1u};
                for (int t = 0; t < 4 && !progressed; t++) {
                    if (tries[t] >= v || (t > 0 && tries[t] <= tries[t - 1]))
                        continue;
                    m->candidate = m->current;
                    vmbsave_step *s = &m->candidate.steps[i];
                    vmbsave_step_field_set(s, f, tries[t]);
                    vmbsave_step_normalize(s);
                    if (!step_smaller(s, &m->current.steps[i]))
                        continue;
                    if (try_candidate(m))
                        progressed = changed = true;
                }
            }
        }
    }
    return changed;
}

void vmbsave_minimize(const vmbsave_program *program, vmbsave_minimize_predicate still_fails,
                      void *context, uint32_t max_candidates, vmbsave_program *out,
                      vmbsave_minimize_stats *stats)
{
    shrinker m; /* two programs, about 8 KiB */
    memset(&m.stats, 0, sizeof(m.stats));
    m.still_fails = still_fails;
    m.context = context;
    m.budget = max_candidates != 0 && max_candidates < VMBSAVE_MINIMIZE_MAX_CANDIDATES
                   ? max_candidates
                   : VMBSAVE_MINIMIZE_MAX_CANDIDATES;
    m.current = *program;
    if (m.current.count > VMBSAVE_PROGRAM_MAX_STEPS)
        m.current.count = VMBSAVE_PROGRAM_MAX_STEPS;
    for (uint32_t i = 0; i < m.current.count; i++)
        vmbsave_step_normalize(&m.current.steps[i]);

    bool changed = true;
    while (changed && !m.stats.budget_exhausted) {
        changed = drop_fault_steps(&m);
        changed = drop_steps(&m) || changed;
        changed = shrink_fields(&m) || changed;
    }
    *out = m.current;
    if (stats != NULL)
        *stats = m.stats;
}
