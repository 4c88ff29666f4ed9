/* Variant continue_after_success: once a session has returned STATUS_SUCCESS, further
 * save_continue calls return STATUS_SUCCESS with nothing filled ("nothing left") instead of
 * STATUS_INVALID_DEVICE_STATE, so a caller that lost count never finds out.
 * Caught by SAVE.CONTINUE.AFTER_SUCCESS. */
#include <stdbool.h>

#include "variant.h"

typedef struct after_state {
    bool completed; /* the active session returned SUCCESS */
} after_state;

static NTSTATUS bug_save_begin(vmbsave_channel *channel)
{
    NTSTATUS st = variant_base.save_begin(channel);
    if (st == STATUS_SUCCESS) {
        after_state *s = variant_channel_state(channel);
        s->completed = false;
    }
    return st;
}

static NTSTATUS bug_save_continue(vmbsave_channel *channel, void *save_buffer,
                                  uint32_t save_buffer_size, uint32_t *bytes_filled,
                                  uint32_t *bytes_required)
{
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
    after_state *s = variant_channel_state(channel);
    if (s == NULL || variant_in_call(channel)) {
        return st;
    }
    if (st == STATUS_SUCCESS) {
        s->completed = true;
    } else if (st == STATUS_INVALID_DEVICE_STATE && s->completed &&
               variant_session_active(channel)) {
        return STATUS_SUCCESS; /* counts are 0 already */
    }
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_begin = bug_save_begin;
    table->save_continue = bug_save_continue;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-continue_after_success",
    .channel_state_bytes = sizeof(after_state),
    .configure = configure,
};

VARIANT_ENTRY(def)
