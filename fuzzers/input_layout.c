/* The fuzz targets' input layouts (input_layout.h). Keep in step with fuzzers/<target>.c and
 * the table in corpus/README.md; FUZZ.MUTATOR.LAYOUT checks that every target CMake builds is
 * here, and that the targets CMake treats as "not a program" are the ones marked so here. */
#include "input_layout.h"

#include <string.h>

static const vmbsave_fuzz_layout layouts[] = {
    {"save_session", true, 0},  /* a program */
    {"differential", true, 0},  /* a program, run against two implementations */
    {"roundtrip", true, 1},     /* canonical state pick, then a program */
    {"restore", true, 1},       /* canonical state pick, then steps read as restore edits */
    {"restore_raw", false, 2},  /* flags and split bytes, then raw image bytes */
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
