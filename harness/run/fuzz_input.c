/* The fuzz targets' inputs expanded to what the targets run (fuzz_input.h). The code of each
 * builder is what fuzzers/<target>.c did inline before it moved here, unchanged in effect:
 * corpora and crash files keep their meaning. */
#include "run/fuzz_input.h"

#include <stdio.h>
#include <string.h>

#include "program/canonical.h"
#include "image/image_reseal.h"

typedef struct target_info {
    const char *name;
    bool is_program;
    uint8_t header_bytes;
} target_info;

static const target_info targets[VMBSAVE_FUZZ_TARGET_COUNT] = {
#define TARGET_INFO_(id, name, is_program, header_bytes) {name, is_program, header_bytes},
    VMBSAVE_FUZZ_TARGET_TABLE(TARGET_INFO_)
#undef TARGET_INFO_
};

int vmbsave_fuzz_target_find(const char *name)
{
    for (int i = 0; name != NULL && i < (int)VMBSAVE_FUZZ_TARGET_COUNT; i++)
        if (strcmp(targets[i].name, name) == 0)
            return i;
    return -1;
}

const char *vmbsave_fuzz_target_name(vmbsave_fuzz_target target)
{
    return (unsigned)target < VMBSAVE_FUZZ_TARGET_COUNT ? targets[target].name : "?";
}

const char *vmbsave_fuzz_target_names(void)
{
#define TARGET_NAME_(id, name, is_program, header_bytes) ", " name
    /* The list's first ", " skipped: a constant string, no buffer to fill. */
    return (VMBSAVE_FUZZ_TARGET_TABLE(TARGET_NAME_)) + 2;
#undef TARGET_NAME_
}

/* The canonical state a target starts from, chosen by one input byte. */
static vmbsave_canonical_id pick_canonical(uint8_t byte)
{
    return (vmbsave_canonical_id)(byte % VMBSAVE_CANONICAL_COUNT);
}

/* Steps roundtrip appends after the decoded program: CAPTURE, CLEANUP, RESTORE, CAPTURE. */
#define ROUNDTRIP_SUFFIX_STEPS 4u
/* How the round trip's restore is fed, from data[0] / VMBSAVE_CANONICAL_COUNT: 0 the whole
 * image in one call, k (1..3) whole chunks per call. Header bytes below the state count (every
 * seed written before this existed) keep the one-call restore. */
#define ROUNDTRIP_PER_CALL_CHOICES 4u

static void build_roundtrip(const uint8_t *data, size_t size, vmbsave_fuzz_input *out)
{
    vmbsave_program *program = &out->program;
    vmbsave_canonical_prefix(pick_canonical(data[0]), program);
    vmbsave_program_decode(data + 1, size - 1, &out->body);
    /* Room for the suffix: body steps past it are dropped. */
    uint32_t room = VMBSAVE_PROGRAM_MAX_STEPS - ROUNDTRIP_SUFFIX_STEPS - program->count;
    for (uint32_t i = 0; i < out->body.count && i < room; i++)
        program->steps[program->count++] = out->body.steps[i];
    const vmbsave_step suffix[ROUNDTRIP_SUFFIX_STEPS] = {
        {.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 0},
        {.op = VMBSAVE_OP_CLEANUP, .ch = 1}, /* the body may have used channel 1 */
        {.op = VMBSAVE_OP_RESTORE, .ch = 1, .slot = 0, .mode = VMBSAVE_EDIT_WHOLE,
         .c = (uint32_t)(data[0] / VMBSAVE_CANONICAL_COUNT) % ROUNDTRIP_PER_CALL_CHOICES},
        {.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1},
    };
    for (uint32_t i = 0; i < ROUNDTRIP_SUFFIX_STEPS; i++)
        program->steps[program->count++] = suffix[i];
}

static void build_restore(const uint8_t *data, size_t size, vmbsave_fuzz_input *out)
{
    vmbsave_program *program = &out->program;
    vmbsave_canonical_prefix(pick_canonical(data[0]), program);
    program->steps[program->count++] =
        (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 0};
    vmbsave_program_decode(data + 1, size - 1, &out->body);
    /* Two steps (CLEANUP, RESTORE) per body step, while they fit. */
    for (uint32_t i = 0; i < out->body.count && program->count + 2u <= VMBSAVE_PROGRAM_MAX_STEPS;
         i++) {
        const vmbsave_step *s = &out->body.steps[i];
        uint8_t ch = (uint8_t)(1u + s->ch % 2u);
        program->steps[program->count++] = (vmbsave_step){.op = VMBSAVE_OP_CLEANUP, .ch = ch};
        vmbsave_step restore = {.op = VMBSAVE_OP_RESTORE, .ch = ch, .slot = 0,
                                .mode = s->mode, .a = s->a, .b = s->b, .c = s->c};
        vmbsave_step_normalize(&restore); /* the step's fields into RESTORE's ranges */
        program->steps[program->count++] = restore;
    }
}

/* "fault_alloc mode=off" injects nothing, so the step numbers stay the input's. */
void vmbsave_fuzz_differential_program(vmbsave_program *program)
{
    for (uint32_t i = 0; i < program->count; i++) {
        vmbsave_step s = program->steps[i];
        vmbsave_step_normalize(&s); /* the op the runner would see */
        if (s.op == VMBSAVE_OP_FAULT_ALLOC) {
            program->steps[i] = (vmbsave_step){.op = VMBSAVE_OP_FAULT_ALLOC,
                                               .mode = VMBSAVE_FAULT_OFF};
        }
    }
}

static void build_differential(const uint8_t *data, size_t size, vmbsave_fuzz_input *out)
{
    vmbsave_program_decode(data, size, &out->program);
    vmbsave_fuzz_differential_program(&out->program);
}

static void build_restore_raw(const uint8_t *data, size_t size, vmbsave_fuzz_input *out)
{
    uint8_t flags = data[0], split = data[1];
    size_t n = size - VMBSAVE_RAW_HEADER_BYTES;
    if (n > sizeof(out->image))
        n = sizeof(out->image);
    memcpy(out->image, data + VMBSAVE_RAW_HEADER_BYTES, n);
    vmbsave_image_reseal(out->image, (uint32_t)n, flags & VMBSAVE_RAW_RESEAL_MASK);

    vmbsave_step restore = {.op = VMBSAVE_OP_RESTORE, .ch = 1, .slot = 0};
    if (flags & VMBSAVE_RAW_SPLIT_INSIDE) {
        restore.mode = VMBSAVE_EDIT_SPLIT_INSIDE;
        restore.a = split;
    } else {
        restore.mode = VMBSAVE_EDIT_WHOLE;
        restore.c = split % VMBSAVE_RAW_PER_CALL_MODULUS;
    }
    out->program.count = 2;
    out->program.steps[0] = restore;
    out->program.steps[1] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1};
    out->options.preload_image[0] = out->image;
    out->options.preload_image_size[0] = (uint32_t)n;
}

bool vmbsave_fuzz_input_build(vmbsave_fuzz_target target, const uint8_t *data, size_t size,
                              vmbsave_fuzz_input *out, char *err, size_t err_size)
{
    /* Only what a target sets is reset: the 4 MiB image is overwritten, never cleared. */
    memset(&out->options, 0, sizeof(out->options));
    out->program.count = 0;
    if ((unsigned)target >= VMBSAVE_FUZZ_TARGET_COUNT) {
        if (err != NULL && err_size > 0)
            snprintf(err, err_size, "no such fuzz target");
        return false;
    }
    /* A target with a header runs nothing without it; restore_raw nothing without an image
     * byte either. */
    size_t least = targets[target].header_bytes + (targets[target].is_program ? 0u : 1u);
    if (size < least) {
        if (err != NULL && err_size > 0)
            snprintf(err, err_size,
                     "%zu bytes: fuzz_%s runs nothing for an input shorter than %zu bytes", size,
                     targets[target].name, least);
        return false;
    }
    switch (target) {
    case VMBSAVE_FUZZ_TARGET_SAVE_SESSION: vmbsave_program_decode(data, size, &out->program); break;
    case VMBSAVE_FUZZ_TARGET_DIFFERENTIAL: build_differential(data, size, out); break;
    case VMBSAVE_FUZZ_TARGET_ROUNDTRIP: build_roundtrip(data, size, out); break;
    case VMBSAVE_FUZZ_TARGET_RESTORE: build_restore(data, size, out); break;
    case VMBSAVE_FUZZ_TARGET_RESTORE_RAW: build_restore_raw(data, size, out); break;
    case VMBSAVE_FUZZ_TARGET_COUNT: return false;
    }
    return true;
}
