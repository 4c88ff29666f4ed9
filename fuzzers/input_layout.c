/* The fuzz targets' input layouts (input_layout.h), from the one list of targets
 * (harness/run/fuzz_input.h: a macro, so this file still compiles without the harness library, as
 * the AFL++ mutator builds it). FUZZ.MUTATOR.LAYOUT checks that every target CMake builds is
 * here, and that the targets CMake treats as "not a program" are the ones marked so here. */
#include "input_layout.h"

#include <string.h>

#include "run/fuzz_input.h"

static const vmbsave_fuzz_layout layouts[] = {
#define LAYOUT_(id, name, is_program, header_bytes) {name, is_program, header_bytes},
    VMBSAVE_FUZZ_TARGET_TABLE(LAYOUT_)
#undef LAYOUT_
};

const vmbsave_fuzz_layout *vmbsave_fuzz_layout_find(const char *target)
{
    for (size_t i = 0; target != NULL && i < sizeof(layouts) / sizeof(layouts[0]); i++)
        if (strcmp(layouts[i].target, target) == 0)
            return &layouts[i];
    return NULL;
}

size_t vmbsave_fuzz_layout_count(void)
{
    return sizeof(layouts) / sizeof(layouts[0]);
}

const vmbsave_fuzz_layout *vmbsave_fuzz_layout_at(size_t i)
{
    return i < vmbsave_fuzz_layout_count() ? &layouts[i] : NULL;
}
