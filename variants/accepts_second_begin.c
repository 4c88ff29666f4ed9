/* Variant accepts_second_begin: save_begin while a session is active succeeds by starting the
 * session over (it ends the old one first), instead of refusing and leaving it untouched.
 * Caught by SAVE.BEGIN.ACTIVE_SESSION. */
#include "variant.h"

static NTSTATUS bug_save_begin(vmbsave_channel *channel)
{
    NTSTATUS st = variant_base.save_begin(channel);
    if (st == STATUS_INVALID_DEVICE_STATE && variant_session_active(channel) &&
        !variant_in_call(channel)) {
        variant_base.save_end(channel);
        st = variant_base.save_begin(channel);
    }
    return st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_begin = bug_save_begin;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-accepts_second_begin",
    .configure = configure,
};

VARIANT_ENTRY(def)
