/* Variant leak_on_abort: save_begin allocates a block of session scratch that save_end frees
 * only when the session completed (save_continue returned SUCCESS). An aborted or failed
 * session's block stays allocated after save_end. (It is freed at channel_cleanup, so the
 * process itself leaks nothing and sanitizers stay quiet; the harness must see the count.)
 * Caught by SAVE.END.FREES_SESSION. */
#include <stdbool.h>

#include "variant.h"

#define LEAK_SCRATCH_BYTES 64u

typedef struct leak_block {
    struct leak_block *next;
    unsigned char scratch[LEAK_SCRATCH_BYTES];
} leak_block;

typedef struct leak_state {
    leak_block *session; /* the active session's block */
    bool completed;      /* the active session returned SUCCESS */
    leak_block *kept;    /* blocks of aborted sessions, freed at channel_cleanup */
} leak_state;

static NTSTATUS bug_save_begin(vmbsave_channel *channel)
{
    NTSTATUS st = variant_base.save_begin(channel);
    if (st != STATUS_SUCCESS) {
        return st;
    }
    const vmbsave_host_v1 *host = variant_host(channel);
    leak_state *s = variant_channel_state(channel);
    s->session = host->alloc(host->context, sizeof *s->session);
    if (s->session == NULL) {
        variant_base.save_end(channel);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    s->session->next = NULL;
    s->completed = false;
    return STATUS_SUCCESS;
}

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
    if (st == STATUS_SUCCESS) {
        leak_state *s = variant_channel_state(channel);
        s->completed = true;
    }
    return st;
}

static void bug_save_end(vmbsave_channel *channel)
{
    /* From a packet callback save_end is ignored (PACKET.CALLBACKS.NO_REENTRY). */
    bool ignored = variant_in_call(channel);
    variant_base.save_end(channel);
    if (channel == NULL || ignored) {
        return;
    }
    leak_state *s = variant_channel_state(channel);
    if (s->session == NULL) {
        return;
    }
    if (s->completed) {
        const vmbsave_host_v1 *host = variant_host(channel);
        host->free(host->context, s->session);
    } else {
        s->session->next = s->kept; /* the bug: an aborted session's block is not freed */
        s->kept = s->session;
    }
    s->session = NULL;
    s->completed = false;
}

static void free_kept(vmbsave_channel *channel)
{
    const vmbsave_host_v1 *host = variant_host(channel);
    leak_state *s = variant_channel_state(channel);
    while (s->kept != NULL) {
        leak_block *next = s->kept->next;
        host->free(host->context, s->kept);
        s->kept = next;
    }
    host->free(host->context, s->session);
    s->session = NULL;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_begin = bug_save_begin;
    table->save_continue = bug_save_continue;
    table->save_end = bug_save_end;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-leak_on_abort",
    .channel_state_bytes = sizeof(leak_state),
    .configure = configure,
    .on_channel_freed = free_kept,
};

VARIANT_ENTRY(def)
