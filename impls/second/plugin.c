/* The entry point and the operation table (ABI.ENTRY.*, ABI.TABLE.*), and the host allocator
 * every other file goes through (RESOURCES.HOST_ALLOCATOR_ONLY). */
#include <string.h>

#include "second.h"

void *sv_alloc(const sv_iface *iface, size_t bytes)
{
    return iface->host.alloc(iface->host.context, bytes);
}

void sv_free(const sv_iface *iface, void *ptr)
{
    if (ptr != NULL)
        iface->host.free(iface->host.context, ptr);
}

static void sv_release(void *context)
{
    sv_iface *iface = context;
    if (iface == NULL)
        return;
    /* The free function lives in the block being freed: copy it out first. */
    vmbsave_host_v1 host = iface->host;
    host.free(host.context, iface);
}

VMBSAVE_EXPORT NTSTATUS vmbsave_get_interface(const char *name, uint32_t abi_major,
                                              const vmbsave_host_v1 *host,
                                              vmbsave_interface_v1 *out, uint32_t out_size)
{
    if (name == NULL || strcmp(name, VMBSAVE_INTERFACE_NAME) != 0)
        return STATUS_NOT_SUPPORTED;
    if (abi_major != VMBSAVE_ABI_MAJOR)
        return STATUS_REVISION_MISMATCH;
    if (host == NULL || host->size < sizeof(vmbsave_host_v1) ||
        host->abi_major != VMBSAVE_ABI_MAJOR || host->alloc == NULL || host->free == NULL)
        return STATUS_INVALID_PARAMETER;
    if (out == NULL)
        return STATUS_INVALID_PARAMETER;
    if (out_size < sizeof(vmbsave_interface_v1))
        return STATUS_INVALID_BUFFER_SIZE;

    sv_iface *iface = host->alloc(host->context, sizeof *iface);
    if (iface == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    /* Only the members this ABI minor knows; a larger host struct has more we ignore. */
    memcpy(&iface->host, host, sizeof iface->host);
    iface->host.size = sizeof iface->host;

    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    out->abi_major = VMBSAVE_ABI_MAJOR;
    out->abi_minor = VMBSAVE_ABI_MINOR;
    out->impl_name = "vmbsave-second";
    out->impl_version = "1.0.0";
    /* Channels share only the read-only interface, so distinct channels are independent. */
    out->capabilities =
        VMBSAVE_CAP_DESCRIBE | VMBSAVE_CAP_PACKET_CALLBACKS | VMBSAVE_CAP_CHANNELS_THREAD_SAFE;
    out->context = iface;
    out->release = sv_release;
    out->channel_allocate = sv_channel_allocate;
    out->channel_cleanup = sv_channel_cleanup;
    out->init_set_offer = sv_init_set_offer;
    out->enable = sv_enable;
    out->disable = sv_disable;
    out->guest_open = sv_guest_open;
    out->guest_close = sv_guest_close;
    out->start = sv_start;
    out->pause = sv_pause;
    out->gpadl_create = sv_gpadl_create;
    out->gpadl_teardown_begin = sv_gpadl_teardown_begin;
    out->gpadl_teardown_complete = sv_gpadl_teardown_complete;
    out->packet_send = sv_packet_send;
    out->packet_complete = sv_packet_complete;
    out->ring_write = sv_ring_write;
    out->ring_read = sv_ring_read;
    out->save_begin = sv_save_begin;
    out->save_continue = sv_save_continue;
    out->save_end = sv_save_end;
    out->restore_from_buffer = sv_restore_from_buffer;
    out->describe = sv_describe;
    return STATUS_SUCCESS;
}
