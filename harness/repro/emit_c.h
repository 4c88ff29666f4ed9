/* Standalone C reproducers: turns the call stream of one run (vmbsave_call_sink, runner.h)
 * into a C file that loads an implementation with dlopen, makes the same calls with the same
 * data through a tiny inline host (the counting allocator with the same fault schedule and the
 * scripted packet driver of harness/host/host.c), and at the violating call re-checks the violated
 * observation: it prints "REPRODUCED <clause>: expected ..., observed ..." and exits 1, or
 * "NOT REPRODUCED" and exits 0. The file needs no harness code and no include path:
 *     cc -o repro repro.c -ldl && ./repro path/to/impl.so
 *
 * ==== Conventions for the runner's sink (runner.h), agreed with harness/run/runner_calls.c ======
 *
 * 1. One on_call per call into the implementation, made before the call, in trace order, for
 *    exactly the calls the trace shows, as a typed vmbsave_call (oracle/ops.h) whose descriptor
 *    says `traced`: the n-th (0-based) of them is trace entry n, the index
 *    vmbsave_violation.call names. That includes the clean-up at the end of a run (disable,
 *    channel_cleanup, release): a leak is re-checked after the same calls.
 *    Describe calls the oracle makes only to look (not traced) are not passed.
 * 2. Host set-up that is not a call (a FAULT_* step) is passed through on_call too, before the
 *    call it affects, as a VMBSAVE_CALL_HOST_* op (not traced): a statement on `host`.
 * 3. Each call's statement is its descriptor's C printer (vmbsave_call_c_statement); it may
 *    be a block, e.g.
 *        { vmbsave_offer o; memcpy(&o, d3, sizeof o); st = api->init_set_offer(ch[0], &o); }
 *    and names the data it reads "d<vmbsave_call.data>".
 * 4. on_data(name, bytes, size) declares, at file scope, _Alignas(16) static const uint8_t
 *    name[size] (a 1-byte array when size is 0), visible to every later statement. Names are
 *    C identifiers, unique within a run (e.g. "d<call index>"), not starting with "vb_"; a
 *    repeated name is an error.
 *
 * Names in scope for statements (declared by harness/repro/repro_runtime.c, pasted into
 * every reproducer):
 *    const vmbsave_interface_v1 *api;  the implementation's table, its operations wrapped so
 *                                      that the file can re-check observations; use
 *                                      api->context for channel_allocate and release.
 *    vmbsave_channel *ch[3];           channel slots (VMBSAVE_PROGRAM_CHANNELS), NULL at start.
 *    NTSTATUS st;                      assign every status to it: st = api->...(...);
 *    uint32_t filled, required;        out-parameters: save_continue's BytesFilled and
 *                                      BytesRequired, ring_read's bytes_read (&filled),
 *                                      describe's bytes_required (&required). The wrappers
 *                                      set them to 0xFFFFFFFF before each call (the runner
 *                                      should do the same with its own), so a count a call
 *                                      leaves unwritten reads the same in both.
 *    uint8_t *out;                     the buffer every call that writes caller memory uses
 *                                      (save_continue, ring_read, describe), VB_OUT_CAP
 *                                      (4 MiB) bytes, with guard zones; NULL where the program
 *                                      passes NULL.
 *    vmbsave_fault_host host;          a cut-down copy of harness/host/host.h's struct with the same
 *                                      field names and meaning: alloc_calls, live_allocations,
 *                                      live_bytes, faults_injected, fault_mode, fault_at,
 *                                      fill_byte, save_mode, save_mode_packet_id,
 *                                      restore_fail_at, save_call_count, restore_call_count;
 *                                      the enums of host.h (VMBSAVE_ALLOC_FAULT_*,
 *                                      VMBSAVE_SAVE_PACKET_*) and
 *                                      vmbsave_fault_host_clear_logs(&host) exist too. Set it
 *                                      as the runner sets its own host, e.g.
 *                                        host.fault_mode = VMBSAVE_ALLOC_FAULT_ONCE;
 *                                        host.fault_at = host.alloc_calls + 3;
 *    everything in vmbsave/abi.h and ntstatus.h, <string.h>, <stdint.h>, <stdlib.h>.
 *
 * What the reproducer re-checks after call vmbsave_violation.call, by vmbsave_check_kind, and
 * what it takes from the violation's typed values `want` and `seen` (oracle/violation.h; the
 * text is never read back):
 *    STATUS    st is none of the statuses of `want` (a STATUS_SET; negate: anything but them).
 *              If `want` holds none, st equals the status `seen` holds (else the trace
 *              entry's).
 *    COUNTS    `want` COUNTS (filled and/or required ranges): some count is outside its range.
 *              Otherwise the counts equal `seen`'s COUNTS, else the trace entry's.
 *    GUARD     a byte outside what the call may write changed: the 64 bytes before `out`, and
 *              past `out` + N, N being the count the call reported (BytesFilled, bytes read,
 *              describe's bytes_required) on success or BUFFER_OVERFLOW, the buffer size for
 *              save_continue's first sticky failure, and 0 otherwise.
 *    CHUNKS    the bytes save_continue wrote are not whole chunks (40-byte headers with the
 *              magic, payload within 65,536, tiling BytesFilled exactly, sequence numbers
 *              continuing the session's).
 *    IMAGE     the image the session on the call's channel has produced so far (bytes of
 *              every save_continue since its last successful save_begin) differs from the
 *              data named "expected_image", which the runner passes with on_data just before
 *              on_violation. Without it: from the bytes last restored into that channel if
 *              any, else from the channel's previous complete image.
 *    DESCRIBE  the channel's description after the call differs from the data named
 *              "expected_description" (its text; "expected_description_except_fresh" to
 *              ignore the fresh= line), passed with on_data just before on_violation.
 *              Without it: the description changed across the call.
 *    LEAK      host.live_allocations after the call differs from what it must be. Counts are
 *              the implementation's own, so the reproducer rebuilds the expectation from the
 *              allocations it saw, as the oracle does: 0 after release; no change across a
 *              call the run expected to keep nothing; everything the session held freed by
 *              save_end, everything the channel held by channel_cleanup, everything staged by a
 *              failed or abandoned restore. Otherwise `want`'s LIVE count. The run's expected
 *              change is that count minus (`seen`'s LIVE count minus its change across the
 *              call).
 *    CALLBACK  the inline driver saw the packet-callback protocol broken during the call (a
 *              callback outside a call or on another thread or for another channel; a second
 *              save_packet call not due, of the wrong size or not zeroed; a size query repeated
 *              in one session; restore_packet calls that are not the image's packets once
 *              each in order, all of them when the call commits; one after a failed one or
 *              from a call that did not commit; driver state other than what was saved).
 *    Whatever the kind: if the run's trace entry shows allocations failed during the call and
 *    none failed this time, or the other way round, it is NOT REPRODUCED. A fault step counts
 *    the implementation's own allocations, so in another implementation the failure falls
 *    elsewhere, and what the contract expects of the call is not the same.
 * ========================================================================================= */
#ifndef VMBSAVE_HARNESS_EMIT_C_H
#define VMBSAVE_HARNESS_EMIT_C_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "program/program.h"
#include "run/runner.h"

/* Bounds on what one reproducer may hold (checked before growing): statements and data
 * bytes. A program of VMBSAVE_PROGRAM_MAX_STEPS steps stays far below both. */
#define VMBSAVE_EMIT_MAX_DATA_BYTES (16u * 1024u * 1024u)
#define VMBSAVE_EMIT_MAX_STATEMENTS 1000000u
#define VMBSAVE_EMIT_MAX_NAME 63u /* longest data name */

typedef struct vmbsave_emitter vmbsave_emitter;

/* A new emitter for one run of `program` (copied; its text goes into the file's comments).
 * NULL if out of memory. */
vmbsave_emitter *vmbsave_emitter_new(const vmbsave_program *program);
void vmbsave_emitter_free(vmbsave_emitter *emitter);

/* The same events, fed one by one (a front end relaying them from a child process). Each
 * returns 0, or -1 once the emitter has failed (a bound reached, out of memory, a repeated or
 * malformed data name); vmbsave_emitter_error() says why. Events after a failure are ignored. */
int vmbsave_emitter_add_call(vmbsave_emitter *emitter, uint32_t step, const vmbsave_call *call);
int vmbsave_emitter_add_data(vmbsave_emitter *emitter, const char *name, const void *bytes,
                             size_t size);
/* The violation, and the trace entry of its call when known (NULL: not known). */
void vmbsave_emitter_set_violation(vmbsave_emitter *emitter, const vmbsave_violation *violation,
                                   const vmbsave_trace_entry *call_entry);
/* The implementation died with `signal_number` during the last call added. */
void vmbsave_emitter_set_crash(vmbsave_emitter *emitter, int signal_number);
const char *vmbsave_emitter_error(const vmbsave_emitter *emitter);

/* The runtime every reproducer starts with: the text of vmbsave/ntstatus.h, vmbsave/abi.h,
 * host/driver_script.h and .c (the scripted packet driver) and repro/repro_runtime.c (the
 * inline host, the recording wrappers behind `api` and the checks), embedded at build time. */
const char *vmbsave_emitter_runtime_text(void);

/* Writes the reproducer. `runtime_text` is what it starts with (normally
 * vmbsave_emitter_runtime_text()); #include lines of vmbsave/ headers in it are dropped. `default_plugin` is the plug-in the
 * file loads when given no argument (NULL: it then prints its usage and exits 2). Returns 0,
 * or -1 with a one-line reason in err (the emitter failed earlier, neither a violation nor a
 * crash was set, no call was recorded, the check cannot be derived from the violation, or
 * writing failed). */
int vmbsave_emitter_write(const vmbsave_emitter *emitter, FILE *out, const char *runtime_text,
                          const char *default_plugin, char *err, size_t err_size);

#endif
