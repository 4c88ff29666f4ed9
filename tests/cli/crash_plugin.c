/* A test-only plug-in for HARNESS.CLI.*: the reference, except that save_begin dies of
 * SIGSEGV, or with VMBSAVE_CLI_HANG set in the environment never returns. The default action
 * is restored first, so the death is a plain SIGSEGV even when a sanitizer has installed its
 * own handler (it would report and abort instead). */
#define _POSIX_C_SOURCE 200809L /* pause */

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "reference.h"
#include "vmbsave/abi.h"

static NTSTATUS crash_save_begin(vmbsave_channel *channel)
{
    (void)channel;
    if (getenv("VMBSAVE_CLI_HANG") != NULL) {
        for (;;)
            pause(); /* until the harness's timeout kills the process */
    }
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return STATUS_UNSUCCESSFUL; /* not reached */
}

VMBSAVE_EXPORT NTSTATUS vmbsave_get_interface(const char *name, uint32_t abi_major,
                                              const vmbsave_host_v1 *host,
                                              vmbsave_interface_v1 *out, uint32_t out_size)
{
    NTSTATUS status = vmbsave_reference_get_interface(name, abi_major, host, out, out_size);
    if (status == STATUS_SUCCESS)
        out->save_begin = crash_save_begin;
    return status;
}
