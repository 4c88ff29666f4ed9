/* Variant non_sticky_error: after save_continue fails (a packet-callback failure, say), the
 * session is treated as gone: the next save_continue returns STATUS_INVALID_DEVICE_STATE
 * instead of repeating the failure.
 * Caught by SAVE.CONTINUE.STICKY_ERROR. */
#include <stdbool.h>

#include "variant.h"

typedef struct sticky_state {
    NTSTATUS failed; /* the session's failure, 0 while none */
} sticky_state;

/* The statuses SAVE.CONTINUE.STICKY_ERROR makes sticky: every failure but these. */
static int is_sticky_failure(NTSTATUS st)
{
    return st != STATUS_SUCCESS && st != STATUS_BUFFER_OVERFLOW && st != STATUS_BUFFER_TOO_SMALL &&
           st != STATUS_INVALID_PARAMETER && st != STATUS_INVALID_DEVICE_STATE;
}

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
    sticky_state *s = variant_channel_state(channel);
    if (s == NULL || variant_in_call(channel)) {
        return st;
    }
    if (s->failed != 0 && st == s->failed) {
        return STATUS_INVALID_DEVICE_STATE; /* the bug: the failure was reported once */
    }
    if (is_sticky_failure(st)) {
        s->failed = st;
    }
    return st;
}

static void bug_save_end(vmbsave_channel *channel)
{
    bool ignored = variant_in_call(channel);
    variant_base.save_end(channel);
    if (channel != NULL && !ignored) {
        sticky_state *s = variant_channel_state(channel);
        s->failed = 0;
    }
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_continue = bug_save_continue;
    table->save_end = bug_save_end;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-non_sticky_error",
    .channel_state_bytes = sizeof(sticky_state),
    .configure = configure,
};

VARIANT_ENTRY(def)
