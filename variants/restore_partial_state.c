/* Variant restore_partial_state: a restore that fails on a corrupt or incomplete image leaves
 * an offer applied to the channel (as if the HEADER had been applied before the rest was
 * checked), so the channel is no longer fresh and cannot be restored again.
 * Caught by RESTORE.ATOMIC. */
#include "variant.h"

static NTSTATUS bug_restore_from_buffer(vmbsave_channel *channel, const void *buffer,
                                        uint32_t buffer_size)
{
    NTSTATUS st = variant_base.restore_from_buffer(channel, buffer, buffer_size);
    /* Failures of the image itself; argument and state errors happen before any of it is
     * read. */
    if (st != STATUS_SUCCESS && st != STATUS_MORE_PROCESSING_REQUIRED &&
        st != STATUS_INVALID_PARAMETER && st != STATUS_INVALID_DEVICE_STATE &&
        !variant_in_call(channel)) {
        static const vmbsave_offer leftover = {.subchannel_index = 0};
        (void)variant_base.init_set_offer(channel, &leftover);
    }
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->restore_from_buffer = bug_restore_from_buffer;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-restore_partial_state",
    .configure = configure,
};

VARIANT_ENTRY(def)
