/* Variant shared_restore_state: the restore state is kept per library, not per channel, so
 * only one restore can be in progress in an interface at a time: while one channel's restore
 * waits for more chunks (MORE_PROCESSING_REQUIRED), a restore into another channel of the
 * same interface is refused with INVALID_DEVICE_STATE, as if that channel were busy. One
 * channel at a time, every program passes; it takes two channels interleaved (or two
 * threads, CONTEXT.THREADS.DISTINCT_CHANNELS) to see it.
 * Caught by RESTORE.WHOLE_CHUNKS (the refused restore's first call, a whole HEADER chunk) in
 * tests/variants/shared_restore_state.prog, and by the exhaustive channel interleavings. */
#include <stdatomic.h>

#include "variant.h"

/* The interface's one restore slot: the channel whose restore is in progress, or NULL.
 * Atomic, so the threaded test sees a refusal, not a data race. */
typedef struct shared_state {
    _Atomic(vmbsave_channel *) owner;
} shared_state;

static NTSTATUS bug_restore_from_buffer(vmbsave_channel *channel, const void *buffer,
                                        uint32_t buffer_size)
{
    shared_state *s = variant_instance_state(channel);
    if (s == NULL || variant_in_call(channel))
        return variant_base.restore_from_buffer(channel, buffer, buffer_size);
    vmbsave_channel *expected = NULL;
    if (!atomic_compare_exchange_strong(&s->owner, &expected, channel) && expected != channel)
        return STATUS_INVALID_DEVICE_STATE; /* "busy": another channel holds the slot */
    NTSTATUS st = variant_base.restore_from_buffer(channel, buffer, buffer_size);
    if (st != STATUS_MORE_PROCESSING_REQUIRED)
        atomic_store(&s->owner, NULL); /* the restore ended (committed or failed) */
    return st;
}

/* A channel freed mid-restore gives the slot back. */
static void release_slot(vmbsave_channel *channel)
{
    shared_state *s = variant_instance_state(channel);
    vmbsave_channel *self = channel;
    if (s != NULL)
        (void)atomic_compare_exchange_strong(&s->owner, &self, NULL);
}

static void configure(vmbsave_interface_v1 *table)
{
    table->restore_from_buffer = bug_restore_from_buffer;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-shared_restore_state",
    .instance_state_bytes = sizeof(shared_state),
    .configure = configure,
    .on_channel_freed = release_slot,
};

VARIANT_ENTRY(def)
