/* Variant save_begin_ignores_no_memory: save_begin reports STATUS_SUCCESS when its allocation
 * failed. No session exists afterwards, so the caller's save_continue then fails with
 * STATUS_INVALID_DEVICE_STATE.
 * Caught by SAVE.BEGIN.NO_MEMORY (the save_begin case of RESOURCES.ALLOC_FAILURE.STATUS). */
#include "variant.h"

static NTSTATUS bug_save_begin(vmbsave_channel *channel)
{
    NTSTATUS st = variant_base.save_begin(channel);
    return st == STATUS_INSUFFICIENT_RESOURCES ? STATUS_SUCCESS : st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->save_begin = bug_save_begin;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-save_begin_ignores_no_memory",
    .configure = configure,
};

VARIANT_ENTRY(def)
