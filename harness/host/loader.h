/* Loading an implementation through the plug-in ABI: dlopen a shared object, look up
 * VMBSAVE_ENTRY_POINT, query the interface. The harness reaches every implementation, the
 * reference included, only through this. */
#ifndef VMBSAVE_HARNESS_LOADER_H
#define VMBSAVE_HARNESS_LOADER_H

#include <stddef.h>

#include "vmbsave/abi.h"

typedef struct vmbsave_impl {
    void *dl_handle;             /* from dlopen; NULL for a linked-in entry point */
    vmbsave_interface_v1 iface;  /* the table the implementation filled in */
} vmbsave_impl;

/* Loads `path` and queries VMBSAVE_INTERFACE_NAME at VMBSAVE_ABI_MAJOR with `host`.
 * Returns 0, or -1 with a one-line reason in `err` (dlopen failure, missing entry point,
 * refused query with its status name, incomplete table). */
int vmbsave_impl_load(const char *path, const vmbsave_host_v1 *host, vmbsave_impl *out,
                      char *err, size_t err_size);

/* Same, for an entry point already linked into the process (fuzz targets, benchmarks). */
int vmbsave_impl_from_entry(vmbsave_get_interface_fn entry, const vmbsave_host_v1 *host,
                            vmbsave_impl *out, char *err, size_t err_size);

/* Releases the interface and closes the shared object. Safe on a zeroed struct. */
void vmbsave_impl_unload(vmbsave_impl *impl);

#endif
