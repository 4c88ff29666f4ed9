/* Variant too_small_writes: when the next chunk does not fit, save_continue has already
 * started writing its header: the first bytes of the magic ("VMBS") are in the caller's buffer
 * although it returns STATUS_BUFFER_TOO_SMALL with nothing filled.
 * Caught by SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS. */
#include <string.h>

#include "variant.h"

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
    if (st == STATUS_BUFFER_TOO_SMALL && save_buffer != NULL && save_buffer_size != 0) {
        static const char magic[4] = {'V', 'M', 'B', 'S'};
        memcpy(save_buffer, magic, save_buffer_size < sizeof magic ? save_buffer_size
                                                                   : sizeof magic);
    }
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_continue = bug_save_continue;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-too_small_writes",
    .configure = configure,
};

VARIANT_ENTRY(def)
