/* Private to the runner (harness/run/runner*.c): the runner object, its buffers' sizes, and
 * the functions one part of the runner calls in another. Only the runner's own files include
 * this; the public interface is harness/run/runner.h.
 *
 * Everything a run needs is allocated by vmbsave_runner_open_*: a run allocates nothing of its
 * own. Describe calls the oracle makes to look at a channel are not traced (emit_c.h rule 1). */
#ifndef VMBSAVE_HARNESS_RUNNER_INTERNAL_H
#define VMBSAVE_HARNESS_RUNNER_INTERNAL_H

#include "run/runner.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/host.h"
#include "host/loader.h"
#include "image/chunks.h"
#include "image/image_edit.h"
#include "oracle/oracle.h"
#include "program/step_args.h"

#define GUARD_BYTES 64u
#define SAVE_BUFFER_CAP (1024u * 1024u) /* VMBSAVE_SIZE_LARGE, the largest size mode */
#define SAVE_LARGE_BYTES (1024u * 1024u)
#define RING_BUFFER_CAP VMBSAVE_PROGRAM_MAX_RING_OP_BYTES
#define OUT_SENTINEL 0xA5A5A5A5u /* out-parameters before a call */
#define RUN_FILL_BYTE 0xA5       /* what new allocations hold (host fill_byte) */
#define DIAG_FILL_BYTE 0x5A      /* ... for the second diagnosis read */
/* Logs are cleared between steps once this full, so they never reach their cap mid-step. */
#define LOG_CLEAR_THRESHOLD (VMBSAVE_HOST_MAX_CALL_LOG / 2u)

/* options->bare: what the runner's own control flow needs of a channel, learnt from the
 * statuses the implementation returns rather than from the oracle's model. For a conforming
 * implementation each field equals the oracle's (oracle_channel's m.state, s.phase, s.purpose,
 * s.required), so a bare run makes the same calls (HARNESS.RUNNER.BARE_SAME_CALLS). */
typedef struct bare_channel {
    vmbsave_channel_state state;
    oracle_session_phase phase;
    oracle_purpose purpose;
    uint32_t required; /* last non-zero BytesRequired of the session (0: none) */
} bare_channel;

/* options->bare: an image slot, as CAPTURE (or preload_image) filled it, framed into chunks for
 * the restore edits like the oracle's (oracle_image). */
typedef struct bare_image {
    bool full;
    uint32_t size;
    uint32_t chunk_count;
    uint32_t chunk_off[VMBSAVE_RUN_MAX_CHUNKS + 1u];
    uint8_t *bytes; /* VMBSAVE_RUN_MAX_IMAGE_BYTES, allocated by the first bare run */
} bare_image;

struct vmbsave_runner {
    void *dl_handle;
    vmbsave_get_interface_fn entry;
    char impl_name[128];
    char impl_version[64];
    vmbsave_fault_host host;
    vmbsave_impl impl;
    vmbsave_oracle *oracle;

    /* Buffers, allocated once. */
    uint8_t *save_area;    /* GUARD | SAVE_BUFFER_CAP | GUARD */
    uint8_t *save_pattern; /* what save_area holds before every call */
    uint8_t *ring_area;    /* GUARD | RING_BUFFER_CAP | GUARD, same pattern */
    uint8_t *data;         /* payloads and ring data (RING_BUFFER_CAP) */
    uint64_t *pfns;        /* VMBSAVE_ARGS_MAX_PFNS */
    uint8_t *stream;       /* an edited image (VMBSAVE_EDIT_MAX_BYTES) */
    vmbsave_edit_result *edit;
    char *desc;       /* ORACLE_DESC_CAP */
    char *desc_short; /* ORACLE_DESC_CAP, for the size protocol */
    vmbsave_call call; /* the next call, typed: the trace and the sink get it as it is */

    /* The run. */
    const vmbsave_run_options *opt;
    vmbsave_run_result *res;
    vmbsave_channel *ch[VMBSAVE_PROGRAM_CHANNELS];
    uint32_t step;
    uint32_t last_call; /* trace index of the last traced call */
    uint32_t steps_with_calls;
    bool step_made_call;
    bool stop;            /* a violation or an error: run no further step */
    bool quiet;           /* clean-up after a stop: no trace, no sink, no checks */
    bool want_digests;    /* options->digests: outputs and final descriptions hashed */
    /* VMBSAVE_EXACT_BUFFERS set at open: each restore call's bytes are passed in a heap block
     * of exactly their size, so a read past them leaves the block where a memory checker (a
     * guard-page allocator, valgrind) sees it. Off by default: it costs a copy per call. */
    bool exact_buffers;
    size_t save_dirty;    /* bytes at the start of save_area that may differ from the pattern */
    /* options->bare: no oracle, no describe checks; the runner's own record instead. */
    bool bare;
    bare_channel bare_ch[VMBSAVE_PROGRAM_CHANNELS];
    bare_image bare_img[VMBSAVE_PROGRAM_IMAGES];
    uint8_t *bare_capture;     /* the CAPTURE session's bytes so far (swapped into its slot) */
    uint32_t bare_capture_len;
    bool bare_capture_overflow;
    const char *note;     /* the next traced call's note */
    char fault_note[128]; /* a fault directive since the last traced call, for its note */
};

/* runner_calls.c */
const vmbsave_interface_v1 *runner_api(const vmbsave_runner *r);
void runner_call_begin(vmbsave_runner *r, oracle_obs *obs);
void runner_call_end(vmbsave_runner *r, oracle_obs *obs, bool has_status, NTSTATUS status);
bool runner_checked(vmbsave_runner *r, bool ok);
uint32_t runner_emit_data(vmbsave_runner *r, const void *bytes, size_t size);
void runner_emit_host(vmbsave_runner *r, vmbsave_call_op op, uint32_t a0, uint32_t a1);
void runner_emit_host3(vmbsave_runner *r, vmbsave_call_op op, uint32_t a0, uint32_t a1,
                       uint32_t a2);
void runner_harness_error(vmbsave_runner *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
vmbsave_call *runner_next_call(vmbsave_runner *r, vmbsave_call_op op, uint32_t slot);
void runner_set_text(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void runner_trace_counts(vmbsave_runner *r, uint32_t filled, uint32_t required);
void runner_trace_output(vmbsave_runner *r, const uint8_t *bytes, uint32_t size);
void runner_violation(vmbsave_runner *r, uint32_t call);

/* runner_view.c */
void runner_bare_frame(bare_image *img);
void runner_bare_lifecycle(vmbsave_runner *r, uint32_t slot, uint32_t op);
void runner_bare_reset_channel(vmbsave_runner *r, uint32_t slot);
bool runner_channel_disabled(const vmbsave_runner *r, uint32_t slot);
bool runner_check_describe_size(vmbsave_runner *r, uint32_t slot);
bool runner_check_description(vmbsave_runner *r, uint32_t slot);
void runner_final_descriptions(vmbsave_runner *r);
bool runner_image_view(const vmbsave_runner *r, uint32_t slot, vmbsave_edit_image *out);
oracle_session_phase runner_session_phase(const vmbsave_runner *r, uint32_t slot);
oracle_purpose runner_session_purpose(const vmbsave_runner *r, uint32_t slot);
uint32_t runner_session_required(const vmbsave_runner *r, uint32_t slot);

/* runner_lifecycle.c */
bool runner_close_channel(vmbsave_runner *r, uint32_t slot);
bool runner_ensure_channel(vmbsave_runner *r, uint32_t slot);
void runner_run_cleanup(vmbsave_runner *r, const vmbsave_step *s);
void runner_run_lifecycle(vmbsave_runner *r, const vmbsave_step *s);

/* runner_save.c */
bool runner_do_save_begin(vmbsave_runner *r, uint32_t slot, oracle_purpose purpose, NTSTATUS *out);
bool runner_end_session(vmbsave_runner *r, uint32_t slot);
void runner_run_capture(vmbsave_runner *r, const vmbsave_step *s);
void runner_run_save_continue(vmbsave_runner *r, const vmbsave_step *s);
bool runner_whole_session(vmbsave_runner *r, uint32_t slot, oracle_purpose purpose,
                          const char *note);

/* runner_restore.c */
void runner_run_restore(vmbsave_runner *r, const vmbsave_step *s);

/* runner_faults.c */
void runner_run_fault(vmbsave_runner *r, const vmbsave_step *s);
void runner_trim_logs(vmbsave_runner *r);

#endif
