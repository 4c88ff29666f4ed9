/* Small helpers shared by the test files. Like the fixture, each fails the current cmocka test
 * instead of returning an error the caller would have to check. */
#ifndef VMBSAVE_TESTS_UTIL_H
#define VMBSAVE_TESTS_UTIL_H

#include <stddef.h>

#include "fixture.h"

/* vmbsave_status_name(), or for a status without a name its value as "0x%08x": never NULL,
 * so it can go straight into a fail_msg %s. The hex text lives in one of four per-thread
 * buffers, so up to four may be used in one message. */
const char *vt_status_str(NTSTATUS s);
/* The test's own malloc (never the host's, so the host's allocation counts stay the
 * implementation's); fails the test on NULL. n == 0 still gives a pointer to free. */
void *vt_xmalloc(size_t n);
/* A fresh channel from channel_allocate; fails the test if there is none. */
vmbsave_channel *vt_channel_new(vt_env *e);
/* One restore_from_buffer call inside vmbsave_host_enter/leave, as every fixture call is. */
NTSTATUS vt_call_restore(vt_env *e, vmbsave_channel *ch, const void *p, size_t n);
/* save_end inside vmbsave_host_enter/leave. */
void vt_save_end(vt_env *e, vmbsave_channel *ch);

#endif
