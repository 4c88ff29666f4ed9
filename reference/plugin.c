/* The plug-in's one exported symbol (clause ABI.ENTRY.ONLY_EXPORT); everything else lives in
 * the static library, hidden. */
#include "reference.h"

VMBSAVE_EXPORT NTSTATUS vmbsave_get_interface(const char *name, uint32_t abi_major,
                                              const vmbsave_host_v1 *host,
                                              vmbsave_interface_v1 *out, uint32_t out_size)
{
    return vmbsave_reference_get_interface(name, abi_major, host, out, out_size);
}
