/* Variant more_processing_as_success: a restore call that took its chunks without reaching END
 * returns STATUS_SUCCESS instead of STATUS_MORE_PROCESSING_REQUIRED (the warning-vs-error
 * severity trap of STATUS.NT_SUCCESS.TRAP, "fixed" the wrong way). The restore itself still
 * completes when the rest is fed.
 * Caught by RESTORE.MORE_PROCESSING. */
#include "variant.h"

static NTSTATUS bug_restore_from_buffer(vmbsave_channel *channel, const void *buffer,
                                        uint32_t buffer_size)
{
    NTSTATUS st = variant_base.restore_from_buffer(channel, buffer, buffer_size);
    return st == STATUS_MORE_PROCESSING_REQUIRED ? STATUS_SUCCESS : st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->restore_from_buffer = bug_restore_from_buffer;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-more_processing_as_success",
    .configure = configure,
};

VARIANT_ENTRY(def)
