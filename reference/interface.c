/* vmbsave_reference_get_interface: hands out the operation table (clauses ABI.*). */
#include <string.h>

#include "internal.h"
#include "reference.h"

static void ref_release(void *context)
{
    ref_instance *inst = context;
    if (inst == NULL) {
        return;
    }
    /* Copy the free function out first: the instance is the memory being freed. */
    void (*host_free)(void *, void *) = inst->host.free;
    void *host_context = inst->host.context;
    host_free(host_context, inst);
}

NTSTATUS vmbsave_reference_get_interface(const char *name, uint32_t abi_major,
                                         const vmbsave_host_v1 *host, vmbsave_interface_v1 *out,
                                         uint32_t out_size)
{
    if (name == NULL || strcmp(name, VMBSAVE_INTERFACE_NAME) != 0) {
        return STATUS_NOT_SUPPORTED;
    }
    if (abi_major != VMBSAVE_ABI_MAJOR) {
        return STATUS_REVISION_MISMATCH;
    }
    /* size first: a smaller (older) host struct may not even have the later members. */
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

    ref_instance *inst = host->alloc(host->context, sizeof *inst);
    if (inst == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(inst, 0, sizeof *inst);
    memcpy(&inst->host, host, sizeof inst->host);
    inst->host.size = (uint32_t)sizeof inst->host;

    memset(out, 0, sizeof *out);
    out->size = (uint32_t)sizeof *out;
    out->abi_major = (uint16_t)VMBSAVE_ABI_MAJOR;
    out->abi_minor = (uint16_t)VMBSAVE_ABI_MINOR;
    out->impl_name = "vmbsave-reference";
    out->impl_version = "1.0.0";
    out->capabilities =
        VMBSAVE_CAP_DESCRIBE | VMBSAVE_CAP_PACKET_CALLBACKS | VMBSAVE_CAP_CHANNELS_THREAD_SAFE;
    out->context = inst;
    out->release = ref_release;
    out->channel_allocate = ref_channel_allocate;
    out->channel_cleanup = ref_channel_cleanup;
    out->init_set_offer = ref_init_set_offer;
    out->enable = ref_enable;
    out->disable = ref_disable;
    out->guest_open = ref_guest_open;
    out->guest_close = ref_guest_close;
    out->start = ref_start;
    out->pause = ref_pause;
    out->gpadl_create = ref_gpadl_create;
    out->gpadl_teardown_begin = ref_gpadl_teardown_begin;
    out->gpadl_teardown_complete = ref_gpadl_teardown_complete;
    out->packet_send = ref_packet_send;
    out->packet_complete = ref_packet_complete;
    out->ring_write = ref_ring_write;
    out->ring_read = ref_ring_read;
    out->save_begin = ref_save_begin;
    out->save_continue = ref_save_continue;
    out->save_end = ref_save_end;
    out->restore_from_buffer = ref_restore_from_buffer;
    out->describe = ref_describe;
    return STATUS_SUCCESS;
}
