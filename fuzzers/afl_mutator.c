/* AFL++ custom mutator library (libvmbsave_afl_mutator.so): the structure-aware mutator
 * (input_mutate.h) behind the custom mutator API of AFL++ 4.04c (afl++-doc,
 * custom_mutators.md): afl_custom_init, afl_custom_fuzz, afl_custom_describe,
 * afl_custom_deinit. Built with the plain C compiler and no sanitizer, since it is loaded into
 * afl-fuzz, not into the target.
 *
 *   AFL_CUSTOM_MUTATOR_LIBRARY=/path/libvmbsave_afl_mutator.so VMBSAVE_FUZZ_TARGET=save_session \
 *       afl-fuzz -i corpus/seeds/save_session -o out -- ./fuzz_save_session
 *
 * VMBSAVE_FUZZ_TARGET names the fuzz target afl-fuzz runs (fuzzers/<target>.c), whose input
 * layout (input_layout.c) says what the header bytes and the program are. Missing, unknown, or
 * a target whose input is not a program: afl_custom_init prints why to stderr. afl-fuzz 4.04c
 * does not check afl_custom_init's result (it would call afl_custom_fuzz with NULL), so when
 * AFL_CUSTOM_MUTATOR_LIBRARY is set, i.e. afl-fuzz is loading the library, afl_custom_init
 * exits with status 1 right there, before afl-fuzz starts the target (an exit later would
 * leave its stopped persistent-mode child behind). Otherwise (another host, the tests) it
 * returns NULL, the API's failure value; afl_custom_fuzz given that NULL prints the reason
 * and exits with status 1 too.
 *
 * Each afl_custom_fuzz call either crosses the input with the other queue entry AFL++ passes
 * (add_buf; one call in CROSSOVER_ONE_IN) or stacks 1-4 step-level mutations. AFL++ runs its
 * own havoc and splice stages as well unless AFL_CUSTOM_MUTATOR_ONLY is set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input_layout.h"
#include "input_mutate.h"

#define TARGET_ENV "VMBSAVE_FUZZ_TARGET"
#define CROSSOVER_ONE_IN 5u
#define MAX_STACKED_PER_CALL 4u
#define DESCRIPTION_BYTES 256u
#define INIT_ERROR_BYTES 512u

#define AFL_EXPORT __attribute__((visibility("default")))

struct afl_state; /* afl-fuzz's state: opaque, unused */

typedef struct vmbsave_afl_mutator {
    const vmbsave_fuzz_layout *layout;
    uint64_t rng;
    uint8_t *out; /* the mutated input handed to afl-fuzz; ours, never afl_realloc'd */
    size_t out_cap;
    vmbsave_fuzz_scratch scratch;
    vmbsave_fuzz_mutation_log log;
    char description[DESCRIPTION_BYTES];
} vmbsave_afl_mutator;

AFL_EXPORT void *afl_custom_init(struct afl_state *afl, unsigned int seed);
AFL_EXPORT size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                                  uint8_t *add_buf, size_t add_buf_size, size_t max_size);
AFL_EXPORT const char *afl_custom_describe(void *data, size_t max_description_len);
AFL_EXPORT void afl_custom_deinit(void *data);

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Why afl_custom_init failed, for afl_custom_fuzz to repeat (afl-fuzz 4.04c ignores the NULL). */
static char init_error[INIT_ERROR_BYTES];

/* Writes the reason to init_error and stderr; exits inside afl-fuzz, else returns NULL for
 * afl_custom_init to return. */
static void *init_failed(const char *target, const vmbsave_fuzz_layout *layout)
{
    size_t len = 0;
    if (layout != NULL)
        len = (size_t)snprintf(init_error, sizeof(init_error),
                               "vmbsave afl mutator: %s=%s takes raw bytes, not a program: fuzz "
                               "it without AFL_CUSTOM_MUTATOR_LIBRARY", TARGET_ENV, target);
    else if (target == NULL || target[0] == '\0')
        len = (size_t)snprintf(init_error, sizeof(init_error),
                               "vmbsave afl mutator: %s is not set", TARGET_ENV);
    else
        len = (size_t)snprintf(init_error, sizeof(init_error),
                               "vmbsave afl mutator: %s=%s is not a fuzz target", TARGET_ENV,
                               target);
    if (layout == NULL) {
        const char *sep = "; set it to the target afl-fuzz runs, one of: ";
        for (size_t i = 0; i < vmbsave_fuzz_layout_count() && len < sizeof(init_error); i++) {
            const vmbsave_fuzz_layout *l = vmbsave_fuzz_layout_at(i);
            if (l->is_program) {
                len += (size_t)snprintf(init_error + len, sizeof(init_error) - len, "%s%s", sep,
                                        l->target);
                sep = ", ";
            }
        }
    }
    fprintf(stderr, "%s\n", init_error);
    if (getenv("AFL_CUSTOM_MUTATOR_LIBRARY") != NULL)
        exit(1); /* inside afl-fuzz, which would go on with a NULL mutator */
    return NULL;
}

void *afl_custom_init(struct afl_state *afl, unsigned int seed)
{
    (void)afl;
    const char *target = getenv(TARGET_ENV);
    const vmbsave_fuzz_layout *layout = vmbsave_fuzz_layout_find(target);
    if (layout == NULL || !layout->is_program)
        return init_failed(target, layout);
    vmbsave_afl_mutator *m = calloc(1, sizeof(*m));
    size_t out_cap = layout->header_bytes + (size_t)VMBSAVE_PROGRAM_MAX_BYTES;
    uint8_t *out = malloc(out_cap);
    if (m == NULL || out == NULL) {
        free(m);
        free(out);
        snprintf(init_error, sizeof(init_error), "vmbsave afl mutator: out of memory");
        fprintf(stderr, "%s\n", init_error);
        if (getenv("AFL_CUSTOM_MUTATOR_LIBRARY") != NULL)
            exit(1);
        return NULL;
    }
    m->layout = layout;
    m->rng = seed;
    m->out = out;
    m->out_cap = out_cap;
    return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                       uint8_t *add_buf, size_t add_buf_size, size_t max_size)
{
    vmbsave_afl_mutator *m = data;
    if (m == NULL) { /* afl_custom_init failed and afl-fuzz went on regardless */
        fprintf(stderr, "%s\n", init_error[0] != '\0' ? init_error
                                                      : "vmbsave afl mutator: not initialised");
        exit(1);
    }
    size_t cap = max_size < m->out_cap ? max_size : m->out_cap;
    uint64_t seed = next_random(&m->rng);
    size_t n = 0;
    *out_buf = m->out;
    if (add_buf != NULL && add_buf_size > 0 && seed % CROSSOVER_ONE_IN == 0)
        n = vmbsave_fuzz_crossover_input(m->layout, buf, buf_size, add_buf, add_buf_size, m->out,
                                         cap, next_random(&m->rng), &m->scratch, &m->log);
    if (n == 0) {
        /* Bytes of the input past what fits are dropped: decoding ignores them anyway. */
        size_t size = buf_size < cap ? buf_size : cap;
        memcpy(m->out, buf, size);
        uint32_t stacked = 1u + (uint32_t)(next_random(&m->rng) % MAX_STACKED_PER_CALL);
        n = vmbsave_fuzz_mutate_input(m->layout, m->out, size, cap, next_random(&m->rng),
                                      stacked, &m->scratch, &m->log);
        if (n == 0) { /* max_size below the header and one step: the input, cut to fit */
            n = size;
            if (n == 0 && cap > 0) { /* afl-fuzz wants a non-empty result */
                m->out[0] = 0;
                n = 1;
            }
        }
    }
    return n;
}

/* "vmbsave-<what>.<what>...", for crash and queue file names: no '/', ',' or ':'. */
const char *afl_custom_describe(void *data, size_t max_description_len)
{
    vmbsave_afl_mutator *m = data;
    if (m == NULL)
        return "vmbsave-uninitialised";
    const vmbsave_fuzz_mutation_log *log = &m->log;
    size_t cap = max_description_len + 1u < sizeof(m->description) ? max_description_len + 1u
                                                                    : sizeof(m->description);
    int len = snprintf(m->description, cap, "vmbsave");
    if (log->crossover != VMBSAVE_CROSSOVER_NONE && len >= 0 && (size_t)len < cap)
        len += snprintf(m->description + len, cap - (size_t)len, "-crossover_%s",
                        vmbsave_crossover_name(log->crossover));
    if (log->header_changed && len >= 0 && (size_t)len < cap)
        len += snprintf(m->description + len, cap - (size_t)len, "-header");
    for (uint32_t i = 0; i < log->count && len >= 0 && (size_t)len < cap; i++)
        len += snprintf(m->description + len, cap - (size_t)len, "%s%s", i == 0 ? "-" : ".",
                        vmbsave_mutation_name(log->kinds[i]));
    return m->description;
}

void afl_custom_deinit(void *data)
{
    vmbsave_afl_mutator *m = data;
    if (m != NULL) {
        free(m->out);
        free(m);
    }
}
