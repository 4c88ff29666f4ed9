/* Variant replay_restore_callback: the committing restore delivers every packet to the
 * driver's restore-packet callback twice (a retry loop that replays a delivery that had
 * succeeded).
 * Caught by RESTORE.NO_REPLAY ("one restore-packet callback per packet"; the broader
 * PACKET.RESTORE.ONCE_AT_COMMIT says the same among its other rules). */
#include "variant.h"

static NTSTATUS twice_restore_packet(const vmbsave_host_v1 *host, vmbsave_channel *channel,
                                     uint64_t packet_id, const void *lib_buf,
                                     uint32_t lib_buf_size, const void *save_buf,
                                     uint32_t save_buf_size)
{
    NTSTATUS st = host->restore_packet(host->context, channel, packet_id, lib_buf, lib_buf_size,
                                       save_buf, save_buf_size);
    if (NT_SUCCESS(st)) {
        st = host->restore_packet(host->context, channel, packet_id, lib_buf, lib_buf_size,
                                  save_buf, save_buf_size);
    }
    return st;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-replay_restore_callback",
    .restore_packet = twice_restore_packet,
};

VARIANT_ENTRY(def)
