/* Hostile plug-ins: implementations that misbehave in every way a process can, so the tests
 * can show that vmbsave gives each case a verdict and never dies (docs/vmbsave.1, certify).
 * Built once per behaviour, as libvmbsave_hostile_<name>.so, with -DHOSTILE_<NAME>. Each wraps
 * the reference (variants/variant.h) and breaks in one place:
 *   entry_crash      vmbsave_get_interface dereferences NULL
 *   load_thread      a thread started at load time crashes 300 ms later
 *   null_ops         the table's save/restore operations are NULL
 *   absurd_size      the table claims size 0xFFFFFFFF
 *   call_crash       save_begin dereferences NULL
 *   hang             save_begin never returns
 *   exits            save_begin calls exit(0)
 *   aborts           save_begin calls abort()
 *   eats_memory      save_begin allocates (and touches) memory without bound
 *   stack_overflow   save_begin recurses without bound
 *   writes_far       save_continue writes 1 MiB past the caller's buffer
 *   huge_filled      save_continue reports BytesFilled 0xFFFFFFF0
 *   reads_past       restore_from_buffer reads the byte just past the caller's buffer, as an
 *                    off-by-one in a parser would; built without sanitizers, so only a memory
 *                    checker (certify --memcheck guard|valgrind) can see it */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "variant.h"

/* The compiler must not see through these: each really happens at run time. */
static volatile uintptr_t hostile_null;

__attribute__((unused)) static void crash_now(void)
{
    *(volatile int *)hostile_null = 1;
}

#if defined(HOSTILE_STACK_OVERFLOW)
static unsigned recurse(volatile unsigned depth)
{
    volatile char frame[4096];
    frame[0] = (char)depth;
    return recurse(depth + 1u) + (unsigned)frame[0];
}
#endif

#if defined(HOSTILE_LOAD_THREAD)
/* Set by the first save_begin: the thread started at load crashes while that call is still in
 * progress, so the crash lands inside a case however fast the machine is. */
static volatile int first_call_seen;

static void *later(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&first_call_seen, __ATOMIC_SEQ_CST)) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    crash_now();
    return NULL;
}

__attribute__((constructor)) static void start_thread_at_load(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, later, NULL) == 0)
        pthread_detach(t);
}
#endif

static NTSTATUS hostile_save_begin(vmbsave_channel *channel)
{
#if defined(HOSTILE_LOAD_THREAD)
    __atomic_store_n(&first_call_seen, 1, __ATOMIC_SEQ_CST);
    struct timespec wait = {2, 0};
    nanosleep(&wait, NULL); /* the other thread crashes meanwhile */
#elif defined(HOSTILE_CALL_CRASH)
    crash_now();
#elif defined(HOSTILE_HANG)
    for (;;) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
#elif defined(HOSTILE_EXITS)
    exit(0);
#elif defined(HOSTILE_ABORTS)
    abort();
#elif defined(HOSTILE_EATS_MEMORY)
    for (;;) {
        char *p = malloc(16u << 20);
        if (p == NULL)
            crash_now(); /* as careless code would */
        memset(p, 1, 16u << 20);
    }
#elif defined(HOSTILE_STACK_OVERFLOW)
    if (recurse(0) == 1u)
        return STATUS_UNSUCCESSFUL;
#endif
    return variant_base.save_begin(channel);
}

static NTSTATUS hostile_save_continue(vmbsave_channel *channel, void *save_buffer,
                                      uint32_t save_buffer_size, uint32_t *bytes_filled,
                                      uint32_t *bytes_required)
{
    NTSTATUS st = variant_base.save_continue(channel, save_buffer, save_buffer_size,
                                             bytes_filled, bytes_required);
#if defined(HOSTILE_WRITES_FAR)
    if (save_buffer != NULL)
        memset((char *)save_buffer + save_buffer_size, 0x5A, 1u << 20);
#elif defined(HOSTILE_HUGE_FILLED)
    if (bytes_filled != NULL)
        *bytes_filled = 0xFFFFFFF0u;
#endif
    return st;
}

#if defined(HOSTILE_READS_PAST)
static volatile unsigned char hostile_sink;
#endif

static NTSTATUS hostile_restore(vmbsave_channel *channel, const void *buffer, uint32_t buffer_size)
{
#if defined(HOSTILE_READS_PAST)
    if (buffer != NULL && buffer_size != 0)
        hostile_sink = ((const volatile unsigned char *)buffer)[buffer_size];
#endif
    return variant_base.restore_from_buffer(channel, buffer, buffer_size);
}

static void configure(vmbsave_interface_v1 *table)
{
    table->restore_from_buffer = hostile_restore;
    table->save_begin = hostile_save_begin;
    table->save_continue = hostile_save_continue;
#if defined(HOSTILE_NULL_OPS)
    table->save_begin = NULL;
    table->save_continue = NULL;
    table->save_end = NULL;
    table->restore_from_buffer = NULL;
#endif
}

static const variant_def def = {
    .impl_name = "vmbsave-hostile",
    .configure = configure,
};

VMBSAVE_EXPORT NTSTATUS vmbsave_get_interface(const char *name, uint32_t abi_major,
                                              const vmbsave_host_v1 *host,
                                              vmbsave_interface_v1 *out, uint32_t out_size)
{
#if defined(HOSTILE_ENTRY_CRASH)
    crash_now();
#endif
    NTSTATUS st = variant_get_interface(&def, name, abi_major, host, out, out_size);
#if defined(HOSTILE_ABSURD_SIZE)
    if (st == STATUS_SUCCESS)
        out->size = 0xFFFFFFFFu;
#endif
    return st;
}
