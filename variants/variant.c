/* The pass-through wrapper shared by every variant (variant.h). */
#include "variant.h"

#include <stdalign.h>
#include <stdbool.h>
#include <string.h>

#include "reference.h"

typedef struct variant_instance {
    const variant_def *def;
    vmbsave_host_v1 host;        /* the harness's host, copied (ABI.ENTRY.HOST) */
    vmbsave_interface_v1 inner;  /* the reference's table */
    alignas(max_align_t) unsigned char state[]; /* def->instance_state_bytes */
} variant_instance;

typedef struct variant_handle {
    vmbsave_channel *inner;
    variant_instance *inst;
    uint32_t depth;      /* calls into the reference on this handle in progress */
    bool session_active; /* save_begin succeeded and save_end has not run since */
    alignas(max_align_t) unsigned char state[]; /* def->channel_state_bytes */
} variant_handle;

/* The handle whose call is in progress on this thread. The reference makes its packet
 * callbacks synchronously inside a call on that channel (CONTEXT.IRQL.PASSIVE), so this is
 * how a callback's channel is translated back to the handle the host knows. Saved and restored
 * around every call, so a callback that calls into another channel nests correctly. */
static _Thread_local variant_handle *tl_current;

static variant_handle *handle_of(vmbsave_channel *channel)
{
    return (variant_handle *)(void *)channel;
}

void *variant_channel_state(vmbsave_channel *channel)
{
    return channel == NULL ? NULL : handle_of(channel)->state;
}

void *variant_instance_state(vmbsave_channel *channel)
{
    return channel == NULL ? NULL : handle_of(channel)->inst->state;
}

const vmbsave_host_v1 *variant_host(vmbsave_channel *channel)
{
    return channel == NULL ? NULL : &handle_of(channel)->inst->host;
}

bool variant_session_active(vmbsave_channel *channel)
{
    return channel != NULL && handle_of(channel)->session_active;
}

bool variant_in_call(vmbsave_channel *channel)
{
    return channel != NULL && handle_of(channel)->depth != 0;
}

/* ---- The host the reference sees: the harness's, with callbacks translated ---------------- */

static void *fwd_alloc(void *context, size_t bytes)
{
    const variant_instance *inst = context;
    return inst->host.alloc(inst->host.context, bytes);
}

static void fwd_free(void *context, void *ptr)
{
    const variant_instance *inst = context;
    inst->host.free(inst->host.context, ptr);
}

static void fwd_log(void *context, vmbsave_log_level level, const char *message)
{
    const variant_instance *inst = context;
    inst->host.log(inst->host.context, level, message);
}

/* The handle for a channel the reference passes to a callback. The reference only ever
 * passes the channel of the call in progress; anything else is passed on unchanged, so the
 * harness reports the wrong handle instead of the wrapper hiding it. */
static vmbsave_channel *outer_of(vmbsave_channel *inner)
{
    variant_handle *cur = tl_current;
    return cur != NULL && cur->inner == inner ? (vmbsave_channel *)(void *)cur : inner;
}

static NTSTATUS fwd_save_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                                void *save_buf, uint32_t save_buf_size, uint32_t *bytes_needed)
{
    const variant_instance *inst = context;
    vmbsave_channel *outer = outer_of(channel);
    if (inst->def->save_packet != NULL) {
        return inst->def->save_packet(&inst->host, outer, packet_id, save_buf, save_buf_size,
                                      bytes_needed);
    }
    return inst->host.save_packet(inst->host.context, outer, packet_id, save_buf, save_buf_size,
                                  bytes_needed);
}

static NTSTATUS fwd_restore_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                                   const void *lib_buf, uint32_t lib_buf_size,
                                   const void *save_buf, uint32_t save_buf_size)
{
    const variant_instance *inst = context;
    vmbsave_channel *outer = outer_of(channel);
    if (inst->def->restore_packet != NULL) {
        return inst->def->restore_packet(&inst->host, outer, packet_id, lib_buf, lib_buf_size,
                                         save_buf, save_buf_size);
    }
    return inst->host.restore_packet(inst->host.context, outer, packet_id, lib_buf,
                                     lib_buf_size, save_buf, save_buf_size);
}

/* ---- Pass-through operations -------------------------------------------------------------- */

/* Calls the reference's `op` on the handle's channel with the handle marked current. A NULL
 * handle gets STATUS_INVALID_PARAMETER, the reference's answer (ABI.NULL_CHANNEL). */
/* Marks the span of a call into the reference, so packet callbacks made inside it are handed
 * this wrapper's channel handle (and re-entry is visible through depth). */
static variant_handle *enter_inner(variant_handle *h)
{
    variant_handle *saved = tl_current;
    tl_current = h;
    h->depth++;
    return saved;
}

static void leave_inner(variant_handle *h, variant_handle *saved)
{
    h->depth--;
    tl_current = saved;
}

#define PASS(channel, op, ...)                                                                 \
    do {                                                                                       \
        if ((channel) == NULL) {                                                               \
            return STATUS_INVALID_PARAMETER;                                                   \
        }                                                                                      \
        variant_handle *h_ = handle_of(channel);                                               \
        variant_handle *saved_ = enter_inner(h_);                                              \
        NTSTATUS st_ = h_->inst->inner.op(h_->inner, __VA_ARGS__);                             \
        leave_inner(h_, saved_);                                                               \
        return st_;                                                                            \
    } while (0)

#define PASS0(channel, op)                                                                     \
    do {                                                                                       \
        if ((channel) == NULL) {                                                               \
            return STATUS_INVALID_PARAMETER;                                                   \
        }                                                                                      \
        variant_handle *h_ = handle_of(channel);                                               \
        variant_handle *saved_ = enter_inner(h_);                                              \
        NTSTATUS st_ = h_->inst->inner.op(h_->inner);                                          \
        leave_inner(h_, saved_);                                                               \
        return st_;                                                                            \
    } while (0)

static NTSTATUS pass_channel_allocate(void *context, vmbsave_channel **channel)
{
    if (channel != NULL) {
        *channel = NULL;
    }
    variant_instance *inst = context;
    if (inst == NULL || channel == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    variant_handle *h = inst->host.alloc(inst->host.context,
                                         sizeof *h + inst->def->channel_state_bytes);
    if (h == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(h, 0, sizeof *h + inst->def->channel_state_bytes);
    h->inst = inst;
    NTSTATUS st = inst->inner.channel_allocate(inst->inner.context, &h->inner);
    if (st != STATUS_SUCCESS) {
        inst->host.free(inst->host.context, h);
        return st;
    }
    *channel = (vmbsave_channel *)(void *)h;
    return STATUS_SUCCESS;
}

static NTSTATUS pass_channel_cleanup(vmbsave_channel *channel)
{
    if (channel == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    variant_handle *h = handle_of(channel);
    variant_handle *saved = enter_inner(h);
    NTSTATUS st = h->inst->inner.channel_cleanup(h->inner);
    leave_inner(h, saved);
    if (st == STATUS_SUCCESS) {
        variant_instance *inst = h->inst;
        if (inst->def->on_channel_freed != NULL) {
            inst->def->on_channel_freed(channel);
        }
        inst->host.free(inst->host.context, h);
    }
    return st;
}

static NTSTATUS pass_init_set_offer(vmbsave_channel *channel, const vmbsave_offer *offer)
{
    PASS(channel, init_set_offer, offer);
}

static NTSTATUS pass_enable(vmbsave_channel *channel)
{
    PASS0(channel, enable);
}

static NTSTATUS pass_disable(vmbsave_channel *channel)
{
    PASS0(channel, disable);
}

static NTSTATUS pass_guest_open(vmbsave_channel *channel, const vmbsave_open_params *params)
{
    PASS(channel, guest_open, params);
}

static NTSTATUS pass_guest_close(vmbsave_channel *channel)
{
    PASS0(channel, guest_close);
}

static NTSTATUS pass_start(vmbsave_channel *channel)
{
    PASS0(channel, start);
}

static NTSTATUS pass_pause(vmbsave_channel *channel)
{
    PASS0(channel, pause);
}

static NTSTATUS pass_gpadl_create(vmbsave_channel *channel, uint32_t gpadl_id,
                                  const uint64_t *pfns, uint32_t pfn_count)
{
    PASS(channel, gpadl_create, gpadl_id, pfns, pfn_count);
}

static NTSTATUS pass_gpadl_teardown_begin(vmbsave_channel *channel, uint32_t gpadl_id)
{
    PASS(channel, gpadl_teardown_begin, gpadl_id);
}

static NTSTATUS pass_gpadl_teardown_complete(vmbsave_channel *channel, uint32_t gpadl_id)
{
    PASS(channel, gpadl_teardown_complete, gpadl_id);
}

static NTSTATUS pass_packet_send(vmbsave_channel *channel, uint64_t packet_id, uint32_t gpadl_id,
                                 const void *payload, uint32_t payload_bytes)
{
    PASS(channel, packet_send, packet_id, gpadl_id, payload, payload_bytes);
}

static NTSTATUS pass_packet_complete(vmbsave_channel *channel, uint64_t packet_id)
{
    PASS(channel, packet_complete, packet_id);
}

static NTSTATUS pass_ring_write(vmbsave_channel *channel, vmbsave_ring_direction direction,
                                const void *data, uint32_t bytes)
{
    PASS(channel, ring_write, direction, data, bytes);
}

static NTSTATUS pass_ring_read(vmbsave_channel *channel, vmbsave_ring_direction direction,
                               void *data, uint32_t bytes, uint32_t *bytes_read)
{
    if (channel == NULL && bytes_read != NULL) {
        *bytes_read = 0; /* as the reference does for any call it refuses */
    }
    PASS(channel, ring_read, direction, data, bytes, bytes_read);
}

static NTSTATUS pass_save_begin(vmbsave_channel *channel)
{
    if (channel == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    variant_handle *h = handle_of(channel);
    variant_handle *saved = enter_inner(h);
    NTSTATUS st = h->inst->inner.save_begin(h->inner);
    leave_inner(h, saved);
    if (st == STATUS_SUCCESS) {
        h->session_active = true;
    }
    return st;
}

static NTSTATUS pass_save_continue(vmbsave_channel *channel, void *save_buffer,
                                   uint32_t save_buffer_size, uint32_t *bytes_filled,
                                   uint32_t *bytes_required)
{
    if (channel == NULL) {
        /* The reference writes 0 to the counts it was given (SAVE.CONTINUE.PARAMS). */
        if (bytes_filled != NULL) {
            *bytes_filled = 0;
        }
        if (bytes_required != NULL) {
            *bytes_required = 0;
        }
        return STATUS_INVALID_PARAMETER;
    }
    PASS(channel, save_continue, save_buffer, save_buffer_size, bytes_filled, bytes_required);
}

static void pass_save_end(vmbsave_channel *channel)
{
    if (channel == NULL) {
        return;
    }
    variant_handle *h = handle_of(channel);
    /* From inside a packet callback (a call on this handle in progress) save_end is ignored
     * (PACKET.CALLBACKS.NO_REENTRY): the session stays. */
    if (h->depth == 0) {
        h->session_active = false;
    }
    variant_handle *saved = enter_inner(h);
    h->inst->inner.save_end(h->inner);
    leave_inner(h, saved);
}

static NTSTATUS pass_restore_from_buffer(vmbsave_channel *channel, const void *buffer,
                                         uint32_t buffer_size)
{
    PASS(channel, restore_from_buffer, buffer, buffer_size);
}

static NTSTATUS pass_describe(vmbsave_channel *channel, char *buffer, uint32_t buffer_size,
                              uint32_t *bytes_required)
{
    if (channel == NULL) {
        if (bytes_required != NULL) {
            *bytes_required = 0; /* as the reference does for any call it refuses */
        }
        return STATUS_INVALID_PARAMETER;
    }
    variant_handle *h = handle_of(channel);
    return h->inst->inner.describe(h->inner, buffer, buffer_size, bytes_required);
}

static void pass_release(void *context)
{
    variant_instance *inst = context;
    if (inst == NULL) {
        return;
    }
    inst->inner.release(inst->inner.context);
    /* Copy the free function out first: the instance is the memory being freed. */
    void (*host_free)(void *, void *) = inst->host.free;
    void *host_context = inst->host.context;
    host_free(host_context, inst);
}

const vmbsave_interface_v1 variant_base = {
    .size = (uint32_t)sizeof(vmbsave_interface_v1),
    .abi_major = (uint16_t)VMBSAVE_ABI_MAJOR,
    .abi_minor = (uint16_t)VMBSAVE_ABI_MINOR,
    .release = pass_release,
    .channel_allocate = pass_channel_allocate,
    .channel_cleanup = pass_channel_cleanup,
    .init_set_offer = pass_init_set_offer,
    .enable = pass_enable,
    .disable = pass_disable,
    .guest_open = pass_guest_open,
    .guest_close = pass_guest_close,
    .start = pass_start,
    .pause = pass_pause,
    .gpadl_create = pass_gpadl_create,
    .gpadl_teardown_begin = pass_gpadl_teardown_begin,
    .gpadl_teardown_complete = pass_gpadl_teardown_complete,
    .packet_send = pass_packet_send,
    .packet_complete = pass_packet_complete,
    .ring_write = pass_ring_write,
    .ring_read = pass_ring_read,
    .save_begin = pass_save_begin,
    .save_continue = pass_save_continue,
    .save_end = pass_save_end,
    .restore_from_buffer = pass_restore_from_buffer,
    .describe = pass_describe,
};

/* ---- Entry ------------------------------------------------------------------------------ */

NTSTATUS variant_get_interface(const variant_def *def, const char *name, uint32_t abi_major,
                               const vmbsave_host_v1 *host, vmbsave_interface_v1 *out,
                               uint32_t out_size)
{
    /* The checks of abi.h, in its order, before anything is allocated. */
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

    size_t bytes = sizeof(variant_instance) + def->instance_state_bytes;
    variant_instance *inst = host->alloc(host->context, bytes);
    if (inst == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(inst, 0, bytes);
    inst->def = def;
    memcpy(&inst->host, host, sizeof inst->host);
    inst->host.size = (uint32_t)sizeof inst->host;

    vmbsave_host_v1 fwd = {
        .size = (uint32_t)sizeof fwd,
        .abi_major = VMBSAVE_ABI_MAJOR,
        .context = inst,
        .alloc = fwd_alloc,
        .free = fwd_free,
        .log = host->log != NULL ? fwd_log : NULL,
        /* A NULL callback stays NULL (PACKET.CALLBACKS.OPTIONAL). */
        .save_packet = host->save_packet != NULL ? fwd_save_packet : NULL,
        .restore_packet = host->restore_packet != NULL ? fwd_restore_packet : NULL,
    };
    NTSTATUS st = vmbsave_reference_get_interface(name, abi_major, &fwd, &inst->inner,
                                                  (uint32_t)sizeof inst->inner);
    if (st != STATUS_SUCCESS) {
        host->free(host->context, inst);
        return st;
    }

    vmbsave_interface_v1 table = variant_base;
    table.impl_name = def->impl_name;
    table.impl_version = inst->inner.impl_version;
    table.capabilities = inst->inner.capabilities;
    table.context = inst;
    if (def->configure != NULL) {
        def->configure(&table);
    }
    memcpy(out, &table, sizeof table);
    return STATUS_SUCCESS;
}
