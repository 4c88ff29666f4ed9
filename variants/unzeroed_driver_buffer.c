/* Variant unzeroed_driver_buffer: the buffer of the second save-packet call is handed to the
 * driver as found (here: left-over 0xA5 bytes), not zeroed. A driver that writes every byte
 * hides it; one that leaves a byte alone puts garbage into the image.
 * Caught by PACKET.SAVE.SIZE_QUERY_FIRST. */
#include <string.h>

#include "variant.h"

static NTSTATUS dirty_save_packet(const vmbsave_host_v1 *host, vmbsave_channel *channel,
                                  uint64_t packet_id, void *save_buf, uint32_t save_buf_size,
                                  uint32_t *bytes_needed)
{
    if (save_buf != NULL && save_buf_size != 0) {
        memset(save_buf, 0xA5, save_buf_size);
    }
    return host->save_packet(host->context, channel, packet_id, save_buf, save_buf_size,
                             bytes_needed);
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-unzeroed_driver_buffer",
    .save_packet = dirty_save_packet,
};

VARIANT_ENTRY(def)
