/* Variant begin_while_running: save_begin on an OPEN_RUNNING channel pauses it for the
 * session and succeeds (save_end starts it again), instead of refusing: the image then races
 * with traffic the caller believes is flowing.
 * Caught by SAVE.BEGIN.REFUSED_STATES. */
#include <stdbool.h>

#include "variant.h"

typedef struct running_state {
    bool resume; /* the session paused a running channel: start it at save_end */
} running_state;

static NTSTATUS bug_save_begin(vmbsave_channel *channel)
{
    NTSTATUS st = variant_base.save_begin(channel);
    if (st != STATUS_INVALID_DEVICE_STATE || variant_in_call(channel) ||
        variant_session_active(channel)) {
        return st;
    }
    /* Refused with no session and no callback: the state is wrong. pause succeeds only on an
     * open channel, and an OPEN_PAUSED one would not have been refused: it was running. */
    if (variant_base.pause(channel) != STATUS_SUCCESS) {
        return st;
    }
    NTSTATUS begun = variant_base.save_begin(channel);
    if (begun != STATUS_SUCCESS) {
        (void)variant_base.start(channel);
        return begun;
    }
    running_state *s = variant_channel_state(channel);
    s->resume = true;
    return STATUS_SUCCESS;
}

static void bug_save_end(vmbsave_channel *channel)
{
    bool ignored = variant_in_call(channel);
    variant_base.save_end(channel);
    running_state *s = variant_channel_state(channel);
    if (s != NULL && !ignored && s->resume) {
        s->resume = false;
        (void)variant_base.start(channel);
    }
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_begin = bug_save_begin;
    table->save_end = bug_save_end;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-begin_while_running",
    .channel_state_bytes = sizeof(running_state),
    .configure = configure,
};

VARIANT_ENTRY(def)
