/* Variant overrun_one_byte: a save_continue that writes chunks also writes the byte just past
 * SaveBufferSize (an off-by-one in a bounds check). The byte written is the complement of the
 * one found there, so the change shows whatever the caller's guard pattern is.
 * Caught by SAVE.CONTINUE.NO_OVERRUN. */
#include "variant.h"

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
    if ((st == STATUS_SUCCESS || st == STATUS_BUFFER_OVERFLOW) && save_buffer != NULL) {
        unsigned char *past = (unsigned char *)save_buffer + save_buffer_size;
        *past = (unsigned char)~*past;
    }
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_continue = bug_save_continue;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-overrun_one_byte",
    .configure = configure,
};

VARIANT_ENTRY(def)
