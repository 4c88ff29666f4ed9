/* The reference implementation's entry point for in-tree users (benchmark, fuzz targets) that
 * link the static library instead of loading the plug-in. Same contract as
 * vmbsave_get_interface in vmbsave/abi.h; the plug-in's exported symbol forwards here.
 * Deliberately not marked for export: the static library is built with hidden visibility and
 * only the plug-in exports anything. */
#ifndef VMBSAVE_REFERENCE_H
#define VMBSAVE_REFERENCE_H

#include <stdint.h>

#include "vmbsave/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

NTSTATUS vmbsave_reference_get_interface(const char *name, uint32_t abi_major,
                                         const vmbsave_host_v1 *host, vmbsave_interface_v1 *out,
                                         uint32_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* VMBSAVE_REFERENCE_H */
