/* Conformant variant alt_one_chunk_per_call: NOT a bug. save_continue writes exactly one chunk per
 * call, however large the buffer, where the reference writes every whole chunk that fits. The
 * contract allows both: a call writes "zero or more whole chunks" (SAVE.CONTINUE.WHOLE_CHUNKS),
 * BUFFER_OVERFLOW means "at least one chunk was written and more remain"
 * (SAVE.CONTINUE.OVERFLOW.PROGRESS), and the image does not depend on how it was read
 * (SAVE.IMAGE.BUFFER_INDEPENDENT). So the oracle passes it (HARNESS.DIFFERENTIAL.ALT_CONFORMS),
 * and only the differential target tells it from the reference: a 1 MiB buffer on a two-chunk
 * state gets SUCCESS from the reference and BUFFER_OVERFLOW here
 * (impl-vs-reference-SAVE.CONTINUE.WHOLE_CHUNKS, tests/differential/). */
#include "variant.h"

static NTSTATUS alt_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    if (channel == NULL || variant_in_call(channel) || bytes_filled == NULL ||
        bytes_required == NULL || (save_buffer == NULL && save_buffer_size != 0)) {
        return variant_base.save_continue(channel, save_buffer, save_buffer_size, bytes_filled,
                                          bytes_required);
    }
    /* The size query says how big the next chunk is (and makes, once, the packet callbacks it
     * needs: the reference keeps the chunk staged for the call that writes it). Without a
     * session, after SUCCESS or after a sticky failure it answers no size: the caller's call
     * then gets the reference's answer as it is. */
    uint32_t none = 0, next = 0;
    NTSTATUS st = variant_base.save_continue(channel, NULL, 0, &none, &next);
    if (st == STATUS_BUFFER_TOO_SMALL && next != 0 && next < save_buffer_size) {
        save_buffer_size = next; /* room for the next chunk and no more */
    }
    return variant_base.save_continue(channel, save_buffer, save_buffer_size, bytes_filled,
                                      bytes_required);
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_continue = alt_save_continue;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-alt_one_chunk_per_call",
    .configure = configure,
};

VARIANT_ENTRY(def)
