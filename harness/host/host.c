/* The fault-injecting host (harness/host/host.h).
 *
 * Also pasted, with host.h, into every C reproducer (harness/repro/repro_runtime.c): so it
 * includes nothing but host.h and libc, and its own names stay static or vmbsave_-prefixed. */
#include "host/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every block carries its size in front, so free() can account for it. The header is a whole
 * number of max_align_t, so the block after it keeps malloc's alignment. */
typedef union alloc_header {
    max_align_t align;
    size_t bytes;
} alloc_header;

/* Which host this thread is inside (vmbsave_host_enter), and how deep. Per thread, so a
 * callback can tell it runs on the thread that made the call. */
static _Thread_local const vmbsave_fault_host *tl_host;
static _Thread_local int tl_depth;
static _Thread_local char tl_marker; /* its address identifies the thread */

static void *host_alloc(void *context, size_t bytes)
{
    vmbsave_fault_host *h = context;
    h->alloc_calls++;
    if (bytes > h->largest_request)
        h->largest_request = bytes;

    bool fail = false;
    switch (h->fault_mode) {
    case VMBSAVE_ALLOC_FAULT_ONCE: fail = h->alloc_calls == h->fault_at; break;
    case VMBSAVE_ALLOC_FAULT_FROM: fail = h->fault_at != 0 && h->alloc_calls >= h->fault_at; break;
    case VMBSAVE_ALLOC_FAULT_NONE: break;
    }
    if (fail) {
        h->faults_injected++;
        return NULL;
    }
    if (bytes > SIZE_MAX - sizeof(alloc_header))
        return NULL; /* a real failure: no malloc can satisfy it */

    alloc_header *hdr = malloc(sizeof(alloc_header) + bytes);
    if (hdr == NULL)
        return NULL;
    hdr->bytes = bytes;
    void *block = hdr + 1;
    if (h->fill_byte >= 0)
        memset(block, h->fill_byte & 0xFF, bytes);
    h->live_allocations++;
    h->live_bytes += bytes;
    return block;
}

static void host_free(void *context, void *ptr)
{
    vmbsave_fault_host *h = context;
    if (ptr == NULL)
        return;
    alloc_header *hdr = (alloc_header *)ptr - 1;
    h->live_allocations--;
    h->live_bytes -= hdr->bytes;
    free(hdr);
}

static void host_log(void *context, vmbsave_log_level level, const char *message)
{
    (void)context;
    /* Quiet unless asked: the implementation's log is diagnostic, not checked. */
    if (getenv("VMBSAVE_HOST_LOG") != NULL)
        fprintf(stderr, "[vmbsave log %d] %s\n", (int)level, message != NULL ? message : "(null)");
}

static bool on_calling_thread(const vmbsave_fault_host *h)
{
    return h->in_call_depth > 0 && tl_host == h && tl_depth > 0 &&
           h->call_thread == (uintptr_t)&tl_marker;
}

static vmbsave_packet_call *log_call(vmbsave_fault_host *h, vmbsave_packet_call *calls,
                                     uint32_t *count, const vmbsave_channel *channel,
                                     uint64_t packet_id)
{
    vmbsave_packet_call *c = NULL;
    if (*count < VMBSAVE_HOST_MAX_CALL_LOG) {
        c = &calls[*count];
        (*count)++;
        memset(c, 0, sizeof(*c));
        c->packet_id = packet_id;
        c->channel = channel;
        c->on_calling_thread = on_calling_thread(h);
    } else {
        h->calls_unlogged++;
    }
    return c;
}

static vmbsave_save_packet_mode effective_mode(const vmbsave_fault_host *h, uint64_t packet_id)
{
    return vmbsave_driver_mode(h->save_mode, h->save_mode_packet_id, packet_id);
}

static NTSTATUS host_save_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                                 void *save_buf, uint32_t save_buf_size, uint32_t *bytes_needed)
{
    vmbsave_fault_host *h = context;
    vmbsave_packet_call *c = log_call(h, h->save_calls, &h->save_call_count, channel, packet_id);
    if (c != NULL)
        c->buf_size = save_buf_size;

    vmbsave_save_packet_mode mode = effective_mode(h, packet_id);

    if (save_buf_size == 0) {
        /* First call: the size query. */
        if (bytes_needed == NULL)
            return STATUS_INVALID_PARAMETER;
        vmbsave_driver_answer a = vmbsave_driver_save(mode, packet_id, 0);
        *bytes_needed = a.bytes_needed;
        return a.status;
    }

    /* Second call. */
    if (c != NULL && save_buf != NULL) {
        const uint8_t *p = save_buf;
        bool zero = true;
        for (uint32_t i = 0; i < save_buf_size; i++) {
            if (p[i] != 0) {
                zero = false;
                break;
            }
        }
        c->buf_was_zeroed = zero;
    }
    if (save_buf == NULL || bytes_needed == NULL)
        return STATUS_INVALID_PARAMETER;
    vmbsave_driver_answer a = vmbsave_driver_save(mode, packet_id, save_buf_size);
    *bytes_needed = a.bytes_needed;
    vmbsave_driver_state(packet_id, save_buf, a.state_bytes);
    return a.status;
}

static NTSTATUS host_restore_packet(void *context, vmbsave_channel *channel, uint64_t packet_id,
                                    const void *lib_buf, uint32_t lib_buf_size,
                                    const void *save_buf, uint32_t save_buf_size)
{
    vmbsave_fault_host *h = context;
    (void)lib_buf;
    vmbsave_packet_call *c =
        log_call(h, h->restore_calls, &h->restore_call_count, channel, packet_id);
    if (c != NULL) {
        c->buf_size = save_buf_size;
        c->lib_size = lib_buf_size;
    }

    /* What this driver saved for the packet: nothing in NO_STATE mode, else its state. */
    uint8_t expected[64];
    uint32_t n = vmbsave_driver_saved_state(effective_mode(h, packet_id), packet_id, expected,
                                            sizeof(expected));
    bool ok;
    if (n == 0)
        ok = save_buf_size == 0 && save_buf == NULL; /* "NULL and 0 if none" */
    else
        ok = save_buf_size == n && save_buf != NULL && memcmp(save_buf, expected, n) == 0;
    if (!ok)
        h->restore_state_mismatches++;

    if (h->restore_fail_at != 0 && h->restore_call_count == h->restore_fail_at)
        return STATUS_UNSUCCESSFUL;
    return STATUS_SUCCESS;
}

void vmbsave_fault_host_init(vmbsave_fault_host *h)
{
    memset(h, 0, sizeof(*h));
    h->host.size = (uint32_t)sizeof(h->host);
    h->host.abi_major = VMBSAVE_ABI_MAJOR;
    h->host.context = h;
    h->host.alloc = host_alloc;
    h->host.free = host_free;
    h->host.log = host_log;
    h->fault_mode = VMBSAVE_ALLOC_FAULT_NONE;
    h->fill_byte = -1;
    h->save_mode = VMBSAVE_SAVE_PACKET_STATE;
    h->enable_callbacks = true;
    vmbsave_fault_host_apply(h);
}

void vmbsave_fault_host_apply(vmbsave_fault_host *h)
{
    h->host.save_packet = h->enable_callbacks ? host_save_packet : NULL;
    h->host.restore_packet = h->enable_callbacks ? host_restore_packet : NULL;
}

void vmbsave_fault_host_clear_logs(vmbsave_fault_host *h)
{
    h->save_call_count = 0;
    h->restore_call_count = 0;
    h->restore_state_mismatches = 0;
}

void vmbsave_host_enter(vmbsave_fault_host *h)
{
    if (h->in_call_depth == 0)
        h->call_thread = (uintptr_t)&tl_marker;
    h->in_call_depth++;
    tl_host = h;
    tl_depth++;
}

void vmbsave_host_leave(vmbsave_fault_host *h)
{
    if (h->in_call_depth > 0)
        h->in_call_depth--;
    if (tl_depth > 0)
        tl_depth--;
    if (tl_depth == 0)
        tl_host = NULL;
    if (h->in_call_depth == 0)
        h->call_thread = 0;
}
