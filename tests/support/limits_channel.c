/* The limits channel (support/limits_channel.h). */
#include "support/limits_channel.h"

#include "support/check.h"
#include "support/util.h"

#include "program/limits_state.h"

vmbsave_channel *vt_make_limits_channel(vt_env *e)
{
    vmbsave_channel *ch = vt_channel_new(e);
    const char *call = NULL;
    NTSTATUS st = vmbsave_limits_build(e->v, ch, 7, &call);
    if (st != STATUS_SUCCESS)
        fail_msg("the limits channel: %s returned %s", call, vt_status_str(st));
    return ch;
}
