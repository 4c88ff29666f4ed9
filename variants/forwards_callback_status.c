/* Variant forwards_callback_status: when the driver's second save-packet call fails with
 * STATUS_BUFFER_TOO_SMALL, STATUS_BUFFER_OVERFLOW or STATUS_MORE_PROCESSING_REQUIRED,
 * save_continue passes that status on instead of failing with STATUS_UNSUCCESSFUL, which
 * sends a caller into a retry loop.
 * Caught by PACKET.SAVE.STATUS_NOT_FORWARDED. */
#include "variant.h"

typedef struct forward_state {
    NTSTATUS second_call; /* the driver's status on its last second call, 0 if none */
} forward_state;

static NTSTATUS noting_save_packet(const vmbsave_host_v1 *host, vmbsave_channel *channel,
                                   uint64_t packet_id, void *save_buf, uint32_t save_buf_size,
                                   uint32_t *bytes_needed)
{
    NTSTATUS st = host->save_packet(host->context, channel, packet_id, save_buf, save_buf_size,
                                    bytes_needed);
    forward_state *s = variant_channel_state(channel);
    if (s != NULL && save_buf_size != 0) {
        s->second_call = st;
    }
    return st;
}

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    forward_state *s = variant_channel_state(channel);
    if (s == NULL || variant_in_call(channel)) {
        return variant_base.save_continue(channel, save_buffer, save_buffer_size, bytes_filled,
                                          bytes_required);
    }
    s->second_call = 0;
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
    if (st == STATUS_UNSUCCESSFUL &&
        (s->second_call == STATUS_BUFFER_TOO_SMALL || s->second_call == STATUS_BUFFER_OVERFLOW ||
         s->second_call == STATUS_MORE_PROCESSING_REQUIRED)) {
        return s->second_call;
    }
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_continue = bug_save_continue;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-forwards_callback_status",
    .channel_state_bytes = sizeof(forward_state),
    .configure = configure,
    .save_packet = noting_save_packet,
};

VARIANT_ENTRY(def)
