/* Variant unfrozen_during_save: disable during a save session succeeds: it abandons the
 * session (as save_end would) and tears the channel down, instead of refusing while the state
 * is being saved.
 * Caught by LIFECYCLE.FROZEN_DURING_SAVE. */
#include "variant.h"

static NTSTATUS bug_disable(vmbsave_channel *channel)
{
    NTSTATUS st = variant_base.disable(channel);
    if (st == STATUS_INVALID_DEVICE_STATE && variant_session_active(channel) &&
        !variant_in_call(channel)) {
        variant_base.save_end(channel);
        st = variant_base.disable(channel);
    }
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->disable = bug_disable;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-unfrozen_during_save",
    .configure = configure,
};

VARIANT_ENTRY(def)
