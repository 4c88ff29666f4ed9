/* Structure-aware mutation of whole fuzz inputs (input_mutate.h). */
#include "input_mutate.h"

#include <string.h>

/* splitmix64: the per-call choices here and the seeds of the stacked program mutations. */
static uint64_t next_seed(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* One header byte in this many calls is replaced: rarely, since a new canonical state makes
 * the rest of the program mean something else. */
#define HEADER_CHANGE_ONE_IN 16u

/* Steps that fit after the header in `cap` bytes. */
static uint32_t steps_that_fit(const vmbsave_fuzz_layout *layout, size_t cap)
{
    if (cap < layout->header_bytes)
        return 0;
    size_t steps = (cap - layout->header_bytes) / VMBSAVE_STEP_BYTES;
    return steps < VMBSAVE_PROGRAM_MAX_STEPS ? (uint32_t)steps : VMBSAVE_PROGRAM_MAX_STEPS;
}

/* The input's header bytes, completed with random ones if the input is shorter. */
static void read_header(const vmbsave_fuzz_layout *layout, const uint8_t *data, size_t size,
                        uint64_t *rng, uint8_t *header)
{
    for (size_t i = 0; i < layout->header_bytes; i++)
        header[i] = i < size ? data[i] : (uint8_t)next_seed(rng);
}

/* The program after the header (empty if the input is no longer than the header). */
static void read_program(const vmbsave_fuzz_layout *layout, const uint8_t *data, size_t size,
                         vmbsave_program *out)
{
    size_t skip = size < layout->header_bytes ? size : layout->header_bytes;
    vmbsave_program_decode(data + skip, size - skip, out);
}

static bool usable(const vmbsave_fuzz_layout *layout)
{
    return layout != NULL && layout->is_program &&
           layout->header_bytes <= VMBSAVE_FUZZ_MAX_HEADER_BYTES;
}

static size_t write_input(const vmbsave_fuzz_layout *layout, const uint8_t *header,
                          const vmbsave_program *program, uint8_t *out, size_t cap)
{
    memcpy(out, header, layout->header_bytes);
    size_t n = vmbsave_program_encode(program, out + layout->header_bytes,
                                      cap - layout->header_bytes);
    return layout->header_bytes + n;
}

static void log_reset(vmbsave_fuzz_mutation_log *log)
{
    if (log != NULL) {
        log->header_changed = false;
        log->crossover = VMBSAVE_CROSSOVER_NONE;
        log->count = 0;
    }
}

size_t vmbsave_fuzz_mutate_input(const vmbsave_fuzz_layout *layout, uint8_t *data, size_t size,
                                 size_t max_size, uint64_t seed, uint32_t mutations,
                                 vmbsave_fuzz_scratch *scratch, vmbsave_fuzz_mutation_log *log)
{
    log_reset(log);
    if (!usable(layout) || data == NULL)
        return 0;
    uint32_t max_steps = steps_that_fit(layout, max_size);
    if (max_steps == 0)
        return 0;
    if (mutations < 1u)
        mutations = 1u;
    if (mutations > VMBSAVE_FUZZ_MAX_STACKED)
        mutations = VMBSAVE_FUZZ_MAX_STACKED;

    uint64_t rng = seed;
    uint8_t header[VMBSAVE_FUZZ_MAX_HEADER_BYTES];
    read_header(layout, data, size, &rng, header);
    read_program(layout, data, size, &scratch->out);
    if (layout->header_bytes > 0 && next_seed(&rng) % HEADER_CHANGE_ONE_IN == 0) {
        header[next_seed(&rng) % layout->header_bytes] = (uint8_t)next_seed(&rng);
        if (log != NULL)
            log->header_changed = true;
    }
    for (uint32_t i = 0; i < mutations; i++) {
        vmbsave_mutation kind = vmbsave_program_mutate(&scratch->out, max_steps, next_seed(&rng));
        if (log != NULL)
            log->kinds[log->count++] = kind;
    }
    return write_input(layout, header, &scratch->out, data, max_size);
}

size_t vmbsave_fuzz_crossover_input(const vmbsave_fuzz_layout *layout, const uint8_t *first,
                                    size_t first_size, const uint8_t *second, size_t second_size,
                                    uint8_t *out, size_t max_out, uint64_t seed,
                                    vmbsave_fuzz_scratch *scratch, vmbsave_fuzz_mutation_log *log)
{
    log_reset(log);
    if (!usable(layout) || first == NULL || second == NULL || out == NULL)
        return 0;
    uint32_t max_steps = steps_that_fit(layout, max_out);
    uint64_t rng = seed;
    uint8_t header[VMBSAVE_FUZZ_MAX_HEADER_BYTES];
    bool second_header = second_size >= layout->header_bytes && next_seed(&rng) % 4u == 0;
    if (second_header)
        read_header(layout, second, second_size, &rng, header);
    else
        read_header(layout, first, first_size, &rng, header);
    read_program(layout, first, first_size, &scratch->first);
    read_program(layout, second, second_size, &scratch->second);
    vmbsave_crossover kind = vmbsave_program_crossover(&scratch->first, &scratch->second,
                                                       max_steps, next_seed(&rng), &scratch->out);
    if (kind == VMBSAVE_CROSSOVER_NONE)
        return 0;
    if (log != NULL) {
        log->crossover = kind;
        log->header_changed = second_header;
    }
    return write_input(layout, header, &scratch->out, out, max_out);
}
