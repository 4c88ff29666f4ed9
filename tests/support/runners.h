/* Opening plug-ins as runners in the selftests, failing the current cmocka test on an error:
 * the plug-in under test ($VMBSAVE_PLUGIN, the reference under ctest) and the deliberately
 * broken variants ($VMBSAVE_VARIANT_DIR/libvmbsave_variant_<name>.so). */
#ifndef VMBSAVE_TESTS_RUNNERS_H
#define VMBSAVE_TESTS_RUNNERS_H

#include "run/runner.h"

vmbsave_runner *vt_runner_open(const char *path);
vmbsave_runner *vt_runner_open_reference(void);
vmbsave_runner *vt_runner_open_variant(const char *name);

#endif
