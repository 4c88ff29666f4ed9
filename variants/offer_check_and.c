/* Variant offer_check_and: the reference whose restore reader checks a HEADER's offer with one
 * "||" turned into "&&" (issue 12's surviving mutant of reference/restore.c): a subchannel index
 * above VMBSAVE_MAX_SUBCHANNEL_INDEX is refused only when the MMIO size is also above
 * VMBSAVE_MAX_MMIO_MEGABYTES, so a HEADER with only one of them out of range restores with
 * SUCCESS. One condition of a multi-condition reader rule dropped: programs cannot reach it
 * (their restore edits never reseal), the suite's one-bad-value test breaks both at once.
 * Caught by the image-format suite (HARNESS.FORMAT_SUITE.HEADER, under
 * RESTORE.CORRUPT.OFFER_RANGE).
 *
 * Not a variant.c wrapper: the bug sits inside the reader, so the plug-in is the reference
 * built with a copy of reference/restore.c in which variants/CMakeLists.txt made exactly that
 * change (the configure step fails if the line is gone), included here in place of restore.c. */
#include "offer_check_and_restore.c"

#include "reference.h"

VMBSAVE_EXPORT NTSTATUS vmbsave_get_interface(const char *name, uint32_t abi_major,
                                              const vmbsave_host_v1 *host,
                                              vmbsave_interface_v1 *out, uint32_t out_size)
{
    NTSTATUS st = vmbsave_reference_get_interface(name, abi_major, host, out, out_size);
    if (NT_SUCCESS(st) && out != NULL && out_size >= sizeof *out)
        out->impl_name = "vmbsave-variant-offer_check_and";
    return st;
}
