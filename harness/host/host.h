/* The fault-injecting host: the services the harness hands an implementation. It counts
 * every allocation, fails allocations on a schedule (the Nth call once, or every call from the
 * Nth on, as SQLite's fault simulation does), and plays a scripted driver behind the
 * save-packet and restore-packet callbacks, recording what the implementation did.
 * C reproducers embed this header and host.c as they are (harness/repro/repro_runtime.c), and
 * the runner writes statements on its fields into them (`host.fill_byte = ...`): renaming a
 * field breaks reproducers. */
#ifndef VMBSAVE_HARNESS_HOST_H
#define VMBSAVE_HARNESS_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/driver_script.h" /* vmbsave_save_packet_mode, vmbsave_driver_state() */
#include "vmbsave/abi.h"

typedef enum vmbsave_alloc_fault_mode {
    VMBSAVE_ALLOC_FAULT_NONE = 0,
    VMBSAVE_ALLOC_FAULT_ONCE = 1, /* fail only allocation call number fault_at */
    VMBSAVE_ALLOC_FAULT_FROM = 2  /* fail every allocation call from number fault_at on */
} vmbsave_alloc_fault_mode;

#define VMBSAVE_HOST_MAX_CALL_LOG 8192u

typedef struct vmbsave_packet_call {
    uint64_t packet_id;
    uint32_t buf_size;   /* save: size passed; restore: save_buf_size */
    uint32_t lib_size;   /* restore only */
    bool buf_was_zeroed; /* save second call: every byte of the buffer was 0 on entry */
    bool on_calling_thread; /* made on the thread inside a call marked by vmbsave_host_enter */
    const vmbsave_channel *channel;
} vmbsave_packet_call;

typedef struct vmbsave_fault_host {
    vmbsave_host_v1 host; /* pass &h->host to the implementation; context points at h */

    /* Allocator accounting. */
    uint64_t alloc_calls;       /* every call to alloc, failed ones included */
    uint64_t live_allocations;  /* allocated and not yet freed */
    uint64_t live_bytes;
    uint64_t largest_request;   /* the largest size ever asked for */
    uint64_t faults_injected;
    vmbsave_alloc_fault_mode fault_mode;
    uint64_t fault_at;          /* 1-based allocation call number */
    int fill_byte;              /* new allocations are filled with this byte (-1: left as is) */

    /* Scripted driver. */
    vmbsave_save_packet_mode save_mode;
    uint64_t save_mode_packet_id; /* 0: the mode applies to every packet; else only to this id */
    uint64_t restore_fail_at;     /* fail the Nth restore_packet call (1-based); 0 never */
    bool enable_callbacks;        /* false: host.save_packet / restore_packet are NULL */

    /* What the implementation did. */
    vmbsave_packet_call save_calls[VMBSAVE_HOST_MAX_CALL_LOG];
    uint32_t save_call_count;
    vmbsave_packet_call restore_calls[VMBSAVE_HOST_MAX_CALL_LOG];
    uint32_t restore_call_count;
    uint32_t restore_state_mismatches; /* restore_packet got driver state other than expected */
    /* Callbacks made while their log was full (since init; clear_logs keeps it): what they did
     * was not recorded, so the run's callbacks cannot be checked (a harness ERROR). One session
     * of 4,096 packets makes at most 8,192 save calls; a step with several such sessions can
     * pass the cap. */
    uint32_t calls_unlogged;

    /* Thread and nesting tracking for CONTEXT.IRQL.PASSIVE. */
    int in_call_depth;
    uintptr_t call_thread;
} vmbsave_fault_host;

/* Initialises a host with callbacks on, no faults, fill byte -1. */
void vmbsave_fault_host_init(vmbsave_fault_host *h);
/* Re-binds host.save_packet / restore_packet after changing enable_callbacks. */
void vmbsave_fault_host_apply(vmbsave_fault_host *h);
/* Clears the call logs (not the allocation counters). */
void vmbsave_fault_host_clear_logs(vmbsave_fault_host *h);
/* Marks the start and end of a call into the implementation, so callbacks can tell whether
 * they run on the calling thread during a call. */
void vmbsave_host_enter(vmbsave_fault_host *h);
void vmbsave_host_leave(vmbsave_fault_host *h);

#endif
