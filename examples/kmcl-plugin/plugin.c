/* A KMCL-shaped vmbsave plug-in: the library's functions have KMCL's names and prototypes
 * (example_channel.c); this file lists them in the method table and adds the one line that
 * makes the table a plug-in. */
#include <vmbsave/kmcl.h>

#include "example_channel.h"

static const VMBSAVE_KMCL_METHODS example_methods = {
    EXAMPLE_KMCL_METHODS_INIT("vmbsave-kmcl-example", VmbChannelSaveContinue),
};

VMBSAVE_KMCL_PLUGIN(&example_methods)
