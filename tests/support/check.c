/* Assertion helpers shared by the test files (check.h). */
#include "check.h"

char vt_where[256];

NTSTATUS vt_left(vt_env *e, NTSTATUS s)
{
    vmbsave_host_leave(&e->host);
    return s;
}
