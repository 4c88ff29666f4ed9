/* The KMCL adapter: vmbsave_get_interface for a KMCL-shaped method table (vmbsave/kmcl.h).
 *
 * Three things cross it:
 *  1. Operations, harness to library. Each vmbsave_interface_v1 operation checks its handle
 *     (ABI.NULL_CHANNEL), unwraps it and calls the table member of the same meaning. Statuses
 *     and out-parameters pass through untouched: ULONG is uint32_t, so SaveBufferSize,
 *     BytesFilled and BytesRequired are the caller's own variables.
 *  2. Packet callbacks, library to harness. KMCL's driver registers its callbacks with the
 *     library's VmbServerChannelInitSetSaveRestorePacketCallbacks. Here the harness is the driver
 *     but knows nothing of KMCL, so the adapter registers, on each new channel, two KMCL-shaped
 *     trampolines (save_packet_trampoline, restore_packet_trampoline) that find the channel's
 *     host and forward to its save_packet / restore_packet, translating VMBPACKET to the packet
 *     id and the VMBCHANNEL back to the handle the harness was given.
 *  3. Memory, library to harness: VmbsaveKmclAllocate / VmbsaveKmclFree are the host's alloc and
 *     free, reached through the DEVICE_OBJECT the library got in VmbChannelAllocate.
 *
 * KMCL's callbacks carry no context pointer, so a trampoline finds its channel's host through a
 * registry: a process-wide list of the live handles, keyed by the library's VMBCHANNEL (handles
 * are linked into it for their life; a lock keeps it right when distinct channels are used from
 * distinct threads, CONTEXT.THREADS.DISTINCT_CHANNELS). A callback naming a VMBCHANNEL that is
 * not live (a library bug) is forwarded to the host of the call in progress on this thread,
 * with the foreign pointer as its channel, so the harness reports the wrong handle instead of
 * the adapter hiding it.
 *
 * Harness-independent: includes only the public headers of include/vmbsave/. */
#include <stdatomic.h>
#include <string.h>

#include "vmbsave/kmcl.h"

/* A DEVICE_OBJECT is one interface: the host it was created for and the vendor's table. */
struct _DEVICE_OBJECT {
    const VMBSAVE_KMCL_METHODS *methods;
    vmbsave_host_v1 host; /* copied (ABI.ENTRY.HOST) */
};

/* The handle the harness sees for one channel. */
typedef struct kmcl_handle {
    VMBCHANNEL channel; /* the library's */
    DEVICE_OBJECT *device;
    struct kmcl_handle *prev, *next; /* the registry */
} kmcl_handle;

/* ---- The registry -------------------------------------------------------------------------- */

static atomic_flag registry_lock = ATOMIC_FLAG_INIT;
static kmcl_handle *registry_head;

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&registry_lock, memory_order_acquire)) {
        /* Held for a few pointer moves only. */
    }
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&registry_lock, memory_order_release);
}

static void registry_add(kmcl_handle *h)
{
    lock();
    h->prev = NULL;
    h->next = registry_head;
    if (registry_head != NULL) {
        registry_head->prev = h;
    }
    registry_head = h;
    unlock();
}

static void registry_remove(kmcl_handle *h)
{
    lock();
    if (h->prev != NULL) {
        h->prev->next = h->next;
    } else {
        registry_head = h->next;
    }
    if (h->next != NULL) {
        h->next->prev = h->prev;
    }
    h->prev = h->next = NULL;
    unlock();
}

static kmcl_handle *registry_find(VMBCHANNEL channel)
{
    lock();
    kmcl_handle *h = registry_head;
    while (h != NULL && h->channel != channel) {
        h = h->next;
    }
    unlock();
    return h;
}

/* The handle whose operation is in progress on this thread (for the fallback above). */
static _Thread_local kmcl_handle *tl_current;

/* ---- Memory for the library ---------------------------------------------------------------- */

PVOID VmbsaveKmclAllocate(PDEVICE_OBJECT Device, SIZE_T NumberOfBytes)
{
    if (Device == NULL) {
        return NULL;
    }
    return Device->host.alloc(Device->host.context, NumberOfBytes);
}

VOID VmbsaveKmclFree(PDEVICE_OBJECT Device, PVOID P)
{
    if (Device != NULL && P != NULL) {
        Device->host.free(Device->host.context, P);
    }
}

/* ---- Packet callbacks: KMCL shapes in, host callbacks out ---------------------------------- */

/* The handle for a callback's channel, and the channel the harness is to see. */
static kmcl_handle *callback_handle(VMBCHANNEL channel, vmbsave_channel **seen)
{
    kmcl_handle *h = registry_find(channel);
    if (h != NULL) {
        *seen = (vmbsave_channel *)(void *)h;
        return h;
    }
    *seen = (vmbsave_channel *)(void *)channel;
    return tl_current;
}

static NTSTATUS save_packet_trampoline(VMBCHANNEL Channel, VMBPACKET Packet, PVOID SaveBuf,
                                       UINT32 SaveBufSize, PUINT32 BytesNeeded)
{
    vmbsave_channel *seen = NULL;
    kmcl_handle *h = callback_handle(Channel, &seen);
    if (h == NULL || h->device->host.save_packet == NULL) {
        return STATUS_INVALID_PARAMETER_1; /* no host to forward to */
    }
    const vmbsave_host_v1 *host = &h->device->host;
    return host->save_packet(host->context, seen, VMBSAVE_KMCL_PACKET_ID(Packet), SaveBuf,
                             SaveBufSize, BytesNeeded);
}

/* FORMAT.md PACKETS record: u32 record_bytes, u64 packet id at offset 4, little-endian. */
static UINT64 lib_buf_packet_id(const void *lib_buf, UINT32 lib_buf_size)
{
    if (lib_buf == NULL || lib_buf_size < 12u) {
        return 0;
    }
    const unsigned char *p = (const unsigned char *)lib_buf + 4;
    UINT64 id = 0;
    for (int i = 7; i >= 0; i--) {
        id = (id << 8) | p[i];
    }
    return id;
}

static NTSTATUS restore_packet_trampoline(VMBCHANNEL Channel, PVOID LibBuf, UINT32 LibBufSize,
                                          PVOID SaveBuf, UINT32 SaveBufSize)
{
    vmbsave_channel *seen = NULL;
    kmcl_handle *h = callback_handle(Channel, &seen);
    if (h == NULL || h->device->host.restore_packet == NULL) {
        return STATUS_INVALID_PARAMETER_1;
    }
    const vmbsave_host_v1 *host = &h->device->host;
    return host->restore_packet(host->context, seen, lib_buf_packet_id(LibBuf, LibBufSize), LibBuf,
                                LibBufSize, SaveBuf, SaveBufSize);
}

/* ---- Operations: vmbsave in, KMCL shapes out ----------------------------------------------- */

static kmcl_handle *handle_of(vmbsave_channel *channel)
{
    return (kmcl_handle *)(void *)channel;
}

/* Calls methods->MEMBER ARGS for the handle `channel` (ARGS may use `h`): a NULL handle gets
 * STATUS_INVALID_PARAMETER (ABI.NULL_CHANNEL), a member the table lacks STATUS_NOT_SUPPORTED. */
#define FORWARD(channel, member, args)                                                          \
    do {                                                                                        \
        if ((channel) == NULL) {                                                                \
            return STATUS_INVALID_PARAMETER;                                                    \
        }                                                                                       \
        kmcl_handle *const h = handle_of(channel);                                              \
        if (h->device->methods->member == NULL) {                                               \
            return STATUS_NOT_SUPPORTED;                                                        \
        }                                                                                       \
        kmcl_handle *const saved_ = tl_current;                                                 \
        tl_current = h;                                                                         \
        NTSTATUS const st_ = h->device->methods->member args;                                   \
        tl_current = saved_;                                                                    \
        return st_;                                                                             \
    } while (0)

static void adapter_release(void *context)
{
    DEVICE_OBJECT *device = context;
    if (device == NULL) {
        return;
    }
    void (*host_free)(void *, void *) = device->host.free;
    void *host_context = device->host.context;
    host_free(host_context, device);
}

static NTSTATUS adapter_channel_allocate(void *context, vmbsave_channel **channel)
{
    if (channel != NULL) {
        *channel = NULL;
    }
    DEVICE_OBJECT *device = context;
    if (device == NULL || channel == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    const VMBSAVE_KMCL_METHODS *m = device->methods;
    if (m->VmbChannelAllocate == NULL) {
        return STATUS_NOT_SUPPORTED;
    }
    kmcl_handle *h = device->host.alloc(device->host.context, sizeof *h);
    if (h == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(h, 0, sizeof *h);
    h->device = device;

    VMBCHANNEL vendor_channel = NULL;
    NTSTATUS st = m->VmbChannelAllocate(device, TRUE, &vendor_channel);
    if (st != STATUS_SUCCESS || vendor_channel == NULL) {
        device->host.free(device->host.context, h);
        return st != STATUS_SUCCESS ? st : STATUS_INTERNAL_ERROR;
    }
    h->channel = vendor_channel;
    registry_add(h);

    /* The driver's part: register its packet callbacks while the channel is new (Init phase). */
    const vmbsave_host_v1 *host = &device->host;
    if ((host->save_packet != NULL || host->restore_packet != NULL) &&
        m->VmbServerChannelInitSetSaveRestorePacketCallbacks != NULL) {
        kmcl_handle *const saved = tl_current;
        tl_current = h;
        st = m->VmbServerChannelInitSetSaveRestorePacketCallbacks(
            vendor_channel, host->save_packet != NULL ? save_packet_trampoline : NULL,
            host->restore_packet != NULL ? restore_packet_trampoline : NULL);
        tl_current = saved;
        if (st != STATUS_SUCCESS) {
            registry_remove(h);
            if (m->VmbChannelCleanup != NULL) {
                (void)m->VmbChannelCleanup(vendor_channel);
            }
            device->host.free(device->host.context, h);
            return st;
        }
    }
    *channel = (vmbsave_channel *)(void *)h;
    return STATUS_SUCCESS;
}

static NTSTATUS adapter_channel_cleanup(vmbsave_channel *channel)
{
    if (channel == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    kmcl_handle *h = handle_of(channel);
    DEVICE_OBJECT *device = h->device;
    if (device->methods->VmbChannelCleanup == NULL) {
        return STATUS_NOT_SUPPORTED;
    }
    /* Out of the registry first: once the library has freed its channel, another thread's new
     * channel may get the same address. Cleanup makes no callbacks. */
    registry_remove(h);
    kmcl_handle *const saved = tl_current;
    tl_current = h;
    NTSTATUS st = device->methods->VmbChannelCleanup(h->channel);
    tl_current = saved;
    if (st != STATUS_SUCCESS) {
        registry_add(h);
        return st;
    }
    device->host.free(device->host.context, h);
    return STATUS_SUCCESS;
}

static NTSTATUS adapter_init_set_offer(vmbsave_channel *channel, const vmbsave_offer *offer)
{
    FORWARD(channel, VmbServerChannelInitSetOffer, (h->channel, offer));
}

static NTSTATUS adapter_enable(vmbsave_channel *channel)
{
    FORWARD(channel, VmbChannelEnable, (h->channel));
}

static NTSTATUS adapter_disable(vmbsave_channel *channel)
{
    FORWARD(channel, VmbChannelDisable, (h->channel));
}

static NTSTATUS adapter_guest_open(vmbsave_channel *channel, const vmbsave_open_params *params)
{
    FORWARD(channel, VmbsaveGuestOpen, (h->channel, params));
}

static NTSTATUS adapter_guest_close(vmbsave_channel *channel)
{
    FORWARD(channel, VmbsaveGuestClose, (h->channel));
}

static NTSTATUS adapter_start(vmbsave_channel *channel)
{
    FORWARD(channel, VmbChannelStart, (h->channel));
}

static NTSTATUS adapter_pause(vmbsave_channel *channel)
{
    FORWARD(channel, VmbChannelPause, (h->channel));
}

static NTSTATUS adapter_gpadl_create(vmbsave_channel *channel, uint32_t gpadl_id,
                                     const uint64_t *pfns, uint32_t pfn_count)
{
    FORWARD(channel, VmbsaveGuestGpadlCreate, (h->channel, gpadl_id, pfns, pfn_count));
}

static NTSTATUS adapter_gpadl_teardown_begin(vmbsave_channel *channel, uint32_t gpadl_id)
{
    FORWARD(channel, VmbsaveGuestGpadlTeardownBegin, (h->channel, gpadl_id));
}

static NTSTATUS adapter_gpadl_teardown_complete(vmbsave_channel *channel, uint32_t gpadl_id)
{
    FORWARD(channel, VmbsaveGuestGpadlTeardownComplete, (h->channel, gpadl_id));
}

static NTSTATUS adapter_packet_send(vmbsave_channel *channel, uint64_t packet_id,
                                    uint32_t gpadl_id, const void *payload,
                                    uint32_t payload_bytes)
{
    FORWARD(channel, VmbPacketSend,
            (h->channel, VMBSAVE_KMCL_PACKET_FROM_ID(packet_id), gpadl_id, (PVOID)payload,
             payload_bytes));
}

static NTSTATUS adapter_packet_complete(vmbsave_channel *channel, uint64_t packet_id)
{
    FORWARD(channel, VmbsaveGuestPacketComplete,
            (h->channel, VMBSAVE_KMCL_PACKET_FROM_ID(packet_id)));
}

static NTSTATUS adapter_ring_write(vmbsave_channel *channel, vmbsave_ring_direction direction,
                                   const void *data, uint32_t bytes)
{
    FORWARD(channel, VmbsaveRingWrite, (h->channel, direction, (PVOID)data, bytes));
}

static NTSTATUS adapter_ring_read(vmbsave_channel *channel, vmbsave_ring_direction direction,
                                  void *data, uint32_t bytes, uint32_t *bytes_read)
{
    if (channel == NULL && bytes_read != NULL) {
        *bytes_read = 0; /* as the reference does (LIFECYCLE.RING.*: permitted) */
    }
    FORWARD(channel, VmbsaveRingRead, (h->channel, direction, data, bytes, bytes_read));
}

static NTSTATUS adapter_save_begin(vmbsave_channel *channel)
{
    FORWARD(channel, VmbChannelSaveBegin, (h->channel));
}

static NTSTATUS adapter_save_continue(vmbsave_channel *channel, void *save_buffer,
                                      uint32_t save_buffer_size, uint32_t *bytes_filled,
                                      uint32_t *bytes_required)
{
    if (channel == NULL) {
        /* SAVE.CONTINUE.PARAMS: 0 in whichever out-pointers are not NULL. */
        if (bytes_filled != NULL) {
            *bytes_filled = 0;
        }
        if (bytes_required != NULL) {
            *bytes_required = 0;
        }
    }
    FORWARD(channel, VmbChannelSaveContinue,
            (h->channel, save_buffer, save_buffer_size, bytes_filled, bytes_required));
}

static void adapter_save_end(vmbsave_channel *channel)
{
    if (channel == NULL) {
        return; /* ABI.NULL_CHANNEL: ignored */
    }
    kmcl_handle *h = handle_of(channel);
    if (h->device->methods->VmbChannelSaveEnd == NULL) {
        return;
    }
    kmcl_handle *const saved = tl_current;
    tl_current = h;
    h->device->methods->VmbChannelSaveEnd(h->channel);
    tl_current = saved;
}

static NTSTATUS adapter_restore_from_buffer(vmbsave_channel *channel, const void *buffer,
                                            uint32_t buffer_size)
{
    FORWARD(channel, VmbChannelRestoreFromBuffer, (h->channel, (PVOID)buffer, buffer_size));
}

static NTSTATUS adapter_describe(vmbsave_channel *channel, char *buffer, uint32_t buffer_size,
                                 uint32_t *bytes_required)
{
    if (channel == NULL && bytes_required != NULL) {
        *bytes_required = 0; /* as the reference does (ABI.DESCRIBE.SIZE_QUERY: permitted) */
    }
    FORWARD(channel, VmbsaveChannelDescribe, (h->channel, buffer, buffer_size, bytes_required));
}

/* ---- The entry point ----------------------------------------------------------------------- */

NTSTATUS vmbsave_kmcl_get_interface(const VMBSAVE_KMCL_METHODS *methods, const char *name,
                                    uint32_t abi_major, const vmbsave_host_v1 *host,
                                    vmbsave_interface_v1 *out, uint32_t out_size)
{
    if (methods == NULL || methods->Size < sizeof *methods ||
        methods->Version != VMBSAVE_KMCL_METHODS_VERSION_V1) {
        return STATUS_NOT_SUPPORTED;
    }
    /* ABI.ENTRY.*, in the reference's order. */
    if (name == NULL || strcmp(name, VMBSAVE_INTERFACE_NAME) != 0) {
        return STATUS_NOT_SUPPORTED;
    }
    if (abi_major != VMBSAVE_ABI_MAJOR) {
        return STATUS_REVISION_MISMATCH;
    }
    if (host == NULL || host->size < sizeof(vmbsave_host_v1) ||
        host->abi_major != VMBSAVE_ABI_MAJOR || host->alloc == NULL || host->free == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (out == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (out_size < sizeof(vmbsave_interface_v1)) {
        return STATUS_INVALID_BUFFER_SIZE;
    }

    DEVICE_OBJECT *device = host->alloc(host->context, sizeof *device);
    if (device == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(device, 0, sizeof *device);
    device->methods = methods;
    memcpy(&device->host, host, sizeof device->host);
    device->host.size = (uint32_t)sizeof device->host;

    memset(out, 0, sizeof *out);
    out->size = (uint32_t)sizeof *out;
    out->abi_major = (uint16_t)VMBSAVE_ABI_MAJOR;
    out->abi_minor = (uint16_t)VMBSAVE_ABI_MINOR;
    out->impl_name = methods->ImplName;
    out->impl_version = methods->ImplVersion;
    out->capabilities = methods->Capabilities;
    out->context = device;
    out->release = adapter_release;
    out->channel_allocate = adapter_channel_allocate;
    out->channel_cleanup = adapter_channel_cleanup;
    out->init_set_offer = adapter_init_set_offer;
    out->enable = adapter_enable;
    out->disable = adapter_disable;
    out->guest_open = adapter_guest_open;
    out->guest_close = adapter_guest_close;
    out->start = adapter_start;
    out->pause = adapter_pause;
    out->gpadl_create = adapter_gpadl_create;
    out->gpadl_teardown_begin = adapter_gpadl_teardown_begin;
    out->gpadl_teardown_complete = adapter_gpadl_teardown_complete;
    out->packet_send = adapter_packet_send;
    out->packet_complete = adapter_packet_complete;
    out->ring_write = adapter_ring_write;
    out->ring_read = adapter_ring_read;
    out->save_begin = adapter_save_begin;
    out->save_continue = adapter_save_continue;
    out->save_end = adapter_save_end;
    out->restore_from_buffer = adapter_restore_from_buffer;
    out->describe = adapter_describe;
    return STATUS_SUCCESS;
}
