#include "runners.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

vmbsave_runner *vt_runner_open(const char *path)
{
    char err[256];
    vmbsave_runner *r = vmbsave_runner_open_path(path, err, sizeof err);
    if (r == NULL)
        fail_msg("vmbsave_runner_open_path(%s): %s", path, err);
    return r;
}

vmbsave_runner *vt_runner_open_reference(void)
{
    const char *p = getenv("VMBSAVE_PLUGIN");
    if (p == NULL || *p == '\0')
        fail_msg("VMBSAVE_PLUGIN is not set (ctest sets it to the reference plug-in)");
    return vt_runner_open(p);
}

vmbsave_runner *vt_runner_open_variant(const char *name)
{
    const char *dir = getenv("VMBSAVE_VARIANT_DIR");
    if (dir == NULL || *dir == '\0')
        fail_msg("VMBSAVE_VARIANT_DIR is not set (ctest sets it)");
    char path[4096];
    if (snprintf(path, sizeof path, "%s/libvmbsave_variant_%s.so", dir, name) >= (int)sizeof path)
        fail_msg("VMBSAVE_VARIANT_DIR is longer than %zu bytes", sizeof path - 64u);
    return vt_runner_open(path);
}
