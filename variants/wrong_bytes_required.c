/* Variant wrong_bytes_required: on STATUS_BUFFER_OVERFLOW, BytesRequired is one more than the
 * size of the next chunk (an off-by-one in the size arithmetic). A caller that sizes its next
 * buffer from it still makes progress, so only the count itself shows the bug.
 * Caught by SAVE.CONTINUE.OVERFLOW.PROGRESS. */
#include "variant.h"

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
    if (st == STATUS_BUFFER_OVERFLOW) {
        *bytes_required += 1u;
    }
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_continue = bug_save_continue;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-wrong_bytes_required",
    .configure = configure,
};

VARIANT_ENTRY(def)
