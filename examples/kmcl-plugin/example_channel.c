/* The example library: KMCL-shaped functions (vmbsave/kmcl.h) over a stand-in implementation.
 *
 * A vendor's real functions hold their own channel state. This example has none of its own:
 * each VMBCHANNEL owns an instance of vmbsave's reference (vmbsave::reference, through its
 * vmbsave_interface_v1) and forwards to it, so the example certifies and shows the shapes.
 * What a vendor copies is the outside of each function (names, parameters, how the packet
 * callbacks are kept and called, allocation through the DEVICE_OBJECT); the bodies are theirs.
 *
 * The packet callbacks go the KMCL way: the driver (here the adapter, standing in for the
 * harness) registers them with VmbServerChannelInitSetSaveRestorePacketCallbacks; the channel
 * keeps them and calls them from VmbChannelSaveContinue / VmbChannelRestoreFromBuffer. */
#include <string.h>

#include <vmbsave/kmcl.h>
#include <vmbsave/reference.h>

#include "example_channel.h"

struct VMBCHANNEL__ {
    PDEVICE_OBJECT Device; /* allocate and free through it */
    PFN_VMB_CHANNEL_SAVE_PACKET SavePacket;       /* the driver's; NULL: none registered */
    PFN_VMB_CHANNEL_RESTORE_PACKET RestorePacket; /* the driver's; NULL: none registered */
    /* The stand-in: this channel's own reference instance and channel. */
    vmbsave_interface_v1 Impl;
    vmbsave_channel *ImplChannel;
};

/* ---- The stand-in's host: memory from the device, callbacks to the driver's ---------------- */

static void *impl_alloc(void *context, size_t bytes)
{
    VMBCHANNEL Channel = context;
    return VmbsaveKmclAllocate(Channel->Device, bytes);
}

static void impl_free(void *context, void *ptr)
{
    VMBCHANNEL Channel = context;
    VmbsaveKmclFree(Channel->Device, ptr);
}

/* EVT_VMB_CHANNEL_SAVE_PACKET for each packet in flight, as the library calls it. */
static NTSTATUS impl_save_packet(void *context, vmbsave_channel *impl_channel, uint64_t packet_id,
                                 void *save_buf, uint32_t save_buf_size, uint32_t *bytes_needed)
{
    (void)impl_channel;
    VMBCHANNEL Channel = context;
    if (Channel->SavePacket == NULL) {
        *bytes_needed = 0; /* no driver callback: no driver state */
        return STATUS_SUCCESS;
    }
    return Channel->SavePacket(Channel, VMBSAVE_KMCL_PACKET_FROM_ID(packet_id), save_buf,
                               save_buf_size, bytes_needed);
}

/* EVT_VMB_CHANNEL_RESTORE_PACKET: KMCL passes no packet, only its library buffer. */
static NTSTATUS impl_restore_packet(void *context, vmbsave_channel *impl_channel,
                                    uint64_t packet_id, const void *lib_buf,
                                    uint32_t lib_buf_size, const void *save_buf,
                                    uint32_t save_buf_size)
{
    (void)impl_channel;
    (void)packet_id;
    VMBCHANNEL Channel = context;
    if (Channel->RestorePacket == NULL) {
        return STATUS_SUCCESS;
    }
    return Channel->RestorePacket(Channel, (PVOID)lib_buf, lib_buf_size, (PVOID)save_buf,
                                  save_buf_size);
}

/* ---- KMCL_CLIENT_INTERFACE_V1 --------------------------------------------------------------- */

NTSTATUS VmbChannelAllocate(PDEVICE_OBJECT ParentDeviceObject, BOOLEAN IsServer,
                            VMBCHANNEL *Channel)
{
    if (ParentDeviceObject == NULL || Channel == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (!IsServer) {
        return STATUS_NOT_SUPPORTED; /* save/restore is server-only */
    }
    VMBCHANNEL channel = VmbsaveKmclAllocate(ParentDeviceObject, sizeof *channel);
    if (channel == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(channel, 0, sizeof *channel);
    channel->Device = ParentDeviceObject;

    const vmbsave_host_v1 host = {
        .size = sizeof host,
        .abi_major = VMBSAVE_ABI_MAJOR,
        .context = channel,
        .alloc = impl_alloc,
        .free = impl_free,
        .save_packet = impl_save_packet,
        .restore_packet = impl_restore_packet,
    };
    NTSTATUS status = vmbsave_reference_get_interface(VMBSAVE_INTERFACE_NAME, VMBSAVE_ABI_MAJOR,
                                                      &host, &channel->Impl,
                                                      sizeof channel->Impl);
    if (status == STATUS_SUCCESS) {
        status = channel->Impl.channel_allocate(channel->Impl.context, &channel->ImplChannel);
        if (status != STATUS_SUCCESS) {
            channel->Impl.release(channel->Impl.context);
        }
    }
    if (status != STATUS_SUCCESS) {
        VmbsaveKmclFree(ParentDeviceObject, channel);
        return status;
    }
    *Channel = channel;
    return STATUS_SUCCESS;
}

NTSTATUS VmbChannelCleanup(VMBCHANNEL Channel)
{
    NTSTATUS status = Channel->Impl.channel_cleanup(Channel->ImplChannel);
    if (status != STATUS_SUCCESS) {
        return status; /* not disabled: nothing freed */
    }
    Channel->Impl.release(Channel->Impl.context);
    VmbsaveKmclFree(Channel->Device, Channel);
    return STATUS_SUCCESS;
}

NTSTATUS VmbChannelDisable(VMBCHANNEL Channel)
{
    return Channel->Impl.disable(Channel->ImplChannel);
}

NTSTATUS VmbChannelEnable(VMBCHANNEL Channel)
{
    return Channel->Impl.enable(Channel->ImplChannel);
}

NTSTATUS VmbChannelPause(VMBCHANNEL Channel)
{
    return Channel->Impl.pause(Channel->ImplChannel);
}

NTSTATUS VmbChannelStart(VMBCHANNEL Channel)
{
    return Channel->Impl.start(Channel->ImplChannel);
}

/* ---- KMCL_SERVER_ONLY_METHODS --------------------------------------------------------------- */

NTSTATUS VmbChannelRestoreFromBuffer(VMBCHANNEL Channel, PVOID Buffer, ULONG BufferSize)
{
    return Channel->Impl.restore_from_buffer(Channel->ImplChannel, Buffer, BufferSize);
}

NTSTATUS VmbChannelSaveBegin(VMBCHANNEL Channel)
{
    return Channel->Impl.save_begin(Channel->ImplChannel);
}

NTSTATUS VmbChannelSaveContinue(VMBCHANNEL Channel, PVOID SaveBuffer, ULONG SaveBufferSize,
                                PULONG BytesFilled, PULONG BytesRequired)
{
    return Channel->Impl.save_continue(Channel->ImplChannel, SaveBuffer, SaveBufferSize,
                                       BytesFilled, BytesRequired);
}

VOID VmbChannelSaveEnd(VMBCHANNEL Channel)
{
    Channel->Impl.save_end(Channel->ImplChannel);
}

NTSTATUS VmbServerChannelInitSetSaveRestorePacketCallbacks(
    VMBCHANNEL Channel, PFN_VMB_CHANNEL_SAVE_PACKET SavePacketCallback,
    PFN_VMB_CHANNEL_RESTORE_PACKET RestorePacketCallback)
{
    Channel->SavePacket = SavePacketCallback;
    Channel->RestorePacket = RestorePacketCallback;
    return STATUS_SUCCESS;
}

/* ---- vmbsave's model ------------------------------------------------------------------------ */

NTSTATUS VmbServerChannelInitSetOffer(VMBCHANNEL Channel, PCVMBSAVE_OFFER Offer)
{
    return Channel->Impl.init_set_offer(Channel->ImplChannel, Offer);
}

NTSTATUS VmbsaveGuestOpen(VMBCHANNEL Channel, PCVMBSAVE_OPEN_PARAMETERS Params)
{
    return Channel->Impl.guest_open(Channel->ImplChannel, Params);
}

NTSTATUS VmbsaveGuestClose(VMBCHANNEL Channel)
{
    return Channel->Impl.guest_close(Channel->ImplChannel);
}

NTSTATUS VmbsaveGuestGpadlCreate(VMBCHANNEL Channel, UINT32 GpadlId, const UINT64 *Pfns,
                                 UINT32 PfnCount)
{
    return Channel->Impl.gpadl_create(Channel->ImplChannel, GpadlId, Pfns, PfnCount);
}

NTSTATUS VmbsaveGuestGpadlTeardownBegin(VMBCHANNEL Channel, UINT32 GpadlId)
{
    return Channel->Impl.gpadl_teardown_begin(Channel->ImplChannel, GpadlId);
}

NTSTATUS VmbsaveGuestGpadlTeardownComplete(VMBCHANNEL Channel, UINT32 GpadlId)
{
    return Channel->Impl.gpadl_teardown_complete(Channel->ImplChannel, GpadlId);
}

NTSTATUS VmbPacketSend(VMBCHANNEL Channel, VMBPACKET PacketObject, UINT32 GpadlId, PVOID Buffer,
                       UINT32 BufferSize)
{
    return Channel->Impl.packet_send(Channel->ImplChannel, VMBSAVE_KMCL_PACKET_ID(PacketObject),
                                     GpadlId, Buffer, BufferSize);
}

NTSTATUS VmbsaveGuestPacketComplete(VMBCHANNEL Channel, VMBPACKET PacketObject)
{
    return Channel->Impl.packet_complete(Channel->ImplChannel,
                                         VMBSAVE_KMCL_PACKET_ID(PacketObject));
}

NTSTATUS VmbsaveRingWrite(VMBCHANNEL Channel, VMBSAVE_RING_DIRECTION Direction, PVOID Data,
                          UINT32 Bytes)
{
    return Channel->Impl.ring_write(Channel->ImplChannel, Direction, Data, Bytes);
}

NTSTATUS VmbsaveRingRead(VMBCHANNEL Channel, VMBSAVE_RING_DIRECTION Direction, PVOID Data,
                         UINT32 Bytes, PUINT32 BytesRead)
{
    return Channel->Impl.ring_read(Channel->ImplChannel, Direction, Data, Bytes, BytesRead);
}

NTSTATUS VmbsaveChannelDescribe(VMBCHANNEL Channel, PCHAR Buffer, ULONG BufferSize,
                                PULONG BytesRequired)
{
    return Channel->Impl.describe(Channel->ImplChannel, Buffer, BufferSize, BytesRequired);
}
