/* Variant success_after_alloc_failure: gpadl_create reports STATUS_SUCCESS when its allocation
 * (the GPADL's page list) failed: the status of the allocation is dropped on the floor, and the
 * caller believes in a GPADL the channel does not hold.
 * Caught by RESOURCES.ALLOC_FAILURE.STATUS. (The same bug in save_begin breaks the more
 * specific SAVE.BEGIN.NO_MEMORY first: variant save_begin_ignores_no_memory.) */
#include "variant.h"

static NTSTATUS bug_gpadl_create(vmbsave_channel *channel, uint32_t gpadl_id,
                                 const uint64_t *pfns, uint32_t pfn_count)
{
    NTSTATUS st = variant_base.gpadl_create(channel, gpadl_id, pfns, pfn_count);
    return st == STATUS_INSUFFICIENT_RESOURCES ? STATUS_SUCCESS : st;
}

static void configure(vmbsave_interface_v1 *table)
{
    table->gpadl_create = bug_gpadl_create;
}

static const variant_def def = {
    .impl_name = "vmbsave-variant-success_after_alloc_failure",
    .configure = configure,
};

VARIANT_ENTRY(def)
