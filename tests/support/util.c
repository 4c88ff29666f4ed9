/* Small helpers shared by the test files (util.h). */
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

const char *vt_status_str(NTSTATUS s)
{
    static _Thread_local char hex[4][16];
    static _Thread_local unsigned next;
    const char *n = vmbsave_status_name(s);
    if (n != NULL)
        return n;
    next = (next + 1u) % 4u;
    snprintf(hex[next], sizeof(hex[next]), "0x%08x", (unsigned)(uint32_t)s);
    return hex[next];
}

void *vt_xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);
    if (p == NULL)
        fail_msg("test-side malloc(%zu) failed", n);
    return p;
}

vmbsave_channel *vt_channel_new(vt_env *e)
{
    vmbsave_channel *ch = NULL;
    NTSTATUS s = e->v->channel_allocate(e->v->context, &ch);
    if (s != STATUS_SUCCESS || ch == NULL)
        fail_msg("channel_allocate returned %s", vt_status_str(s));
    return ch;
}

NTSTATUS vt_call_restore(vt_env *e, vmbsave_channel *ch, const void *p, size_t n)
{
    vmbsave_host_enter(&e->host);
    NTSTATUS s = e->v->restore_from_buffer(ch, p, (uint32_t)n);
    vmbsave_host_leave(&e->host);
    return s;
}

void vt_save_end(vt_env *e, vmbsave_channel *ch)
{
    vmbsave_host_enter(&e->host);
    e->v->save_end(ch);
    vmbsave_host_leave(&e->host);
}
