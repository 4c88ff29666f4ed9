/* The one function a vmbsave plug-in exports (include/vmbsave/abi.h). It hands the host's
 * services to the implementation and fills in the operation table. Here the implementation is
 * vmbsave's reference (vmbsave::reference); a vendor calls their own instead. */
#include <stdint.h>

#include <vmbsave/abi.h>
#include <vmbsave/reference.h>

VMBSAVE_EXPORT NTSTATUS vmbsave_get_interface(const char *name, uint32_t abi_major,
                                              const vmbsave_host_v1 *host,
                                              vmbsave_interface_v1 *out, uint32_t out_size)
{
    return vmbsave_reference_get_interface(name, abi_major, host, out, out_size);
}
