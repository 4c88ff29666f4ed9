/* One descriptor per operation: every call the runner makes into an implementation (one per
 * operation of vmbsave_interface_v1) and every host statement a reproducer replays, as a typed
 * value (vmbsave_call) and a table entry giving its name, its arguments, the clauses its
 * statuses fall under, and the two printers of it: the trace text ("save_continue(ch0,
 * size=40)") and the C statement of a reproducer (harness/repro/emit_c.h). The runner, the
 * oracle, the differential comparison and the C writer all read this table.
 *
 * In the oracle layer, the lowest that needs it (the oracle takes the clause of a lifecycle
 * call's success from it). */
#ifndef VMBSAVE_HARNESS_OPS_H
#define VMBSAVE_HARNESS_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program/program.h"

typedef enum vmbsave_call_op {
    /* Operations of vmbsave_interface_v1, in its order. */
    VMBSAVE_CALL_CHANNEL_ALLOCATE = 0,
    VMBSAVE_CALL_CHANNEL_CLEANUP,
    VMBSAVE_CALL_INIT_SET_OFFER,      /* arg subchannel, mmio, flags; NULL_ARG; data: the offer */
    VMBSAVE_CALL_ENABLE,
    VMBSAVE_CALL_DISABLE,
    VMBSAVE_CALL_GUEST_OPEN,          /* arg gpadl, in, out, vp, conn; NULL_ARG */
    VMBSAVE_CALL_GUEST_CLOSE,
    VMBSAVE_CALL_START,
    VMBSAVE_CALL_PAUSE,
    VMBSAVE_CALL_GPADL_CREATE,        /* arg id, pfns; NULL_ARG; data: pfns as u64 LE */
    VMBSAVE_CALL_GPADL_TEARDOWN_BEGIN,    /* arg id */
    VMBSAVE_CALL_GPADL_TEARDOWN_COMPLETE, /* arg id */
    VMBSAVE_CALL_PACKET_SEND,         /* arg id, gpadl, bytes, id_high (the id's high half);
                                         NULL_ARG; data: the payload */
    VMBSAVE_CALL_PACKET_COMPLETE,     /* arg id, id_high */
    VMBSAVE_CALL_RING_WRITE,          /* arg dir, bytes; data: the bytes */
    VMBSAVE_CALL_RING_READ,           /* arg dir, bytes */
    VMBSAVE_CALL_SAVE_BEGIN,
    VMBSAVE_CALL_SAVE_CONTINUE,       /* arg size; NULL_BUFFER, NULL_FILLED, NULL_REQUIRED */
    VMBSAVE_CALL_SAVE_END,
    VMBSAVE_CALL_RESTORE_FROM_BUFFER, /* arg from, to, total; data: the stream */
    VMBSAVE_CALL_DESCRIBE,            /* arg size; the oracle's looks are never traced */
    VMBSAVE_CALL_RELEASE,
    /* Host statements: settings of the fault host, not calls (never traced). */
    VMBSAVE_CALL_HOST_FILL_BYTE,          /* arg value */
    VMBSAVE_CALL_HOST_FAULT_ALLOC,        /* arg every (0 once, 1 from then on), after */
    VMBSAVE_CALL_HOST_FAULT_OFF,
    VMBSAVE_CALL_HOST_SAVE_PACKET_MODE,   /* arg mode (vmbsave_save_packet_mode), packet,
                                             packet_high */
    VMBSAVE_CALL_HOST_RESTORE_PACKET_FAIL, /* arg nth restore_packet call from now */
    VMBSAVE_CALL_HOST_TRIM_LOGS,          /* the callback logs cleared (runner's trim_logs) */
    VMBSAVE_CALL_HOST_RESET,              /* every fault off before the final clean-up */
    VMBSAVE_CALL_OP_COUNT
} vmbsave_call_op;

/* vmbsave_call.flags: pointers the call passes as NULL. */
#define VMBSAVE_CALL_NULL_ARG 0x1u      /* the offer, open params, pfns or payload */
#define VMBSAVE_CALL_NULL_BUFFER 0x2u   /* save_continue's buffer */
#define VMBSAVE_CALL_NULL_FILLED 0x4u   /* ... bytes_filled */
#define VMBSAVE_CALL_NULL_REQUIRED 0x8u /* ... bytes_required */
#define VMBSAVE_CALL_NO_DATA UINT32_MAX
#define VMBSAVE_CALL_MAX_ARGS 5u

/* One call (or host statement) with its arguments. A plain value: it crosses processes. */
typedef struct vmbsave_call {
    uint8_t op;    /* vmbsave_call_op */
    uint8_t slot;  /* channel slot (0 where the op takes no channel) */
    uint8_t flags; /* VMBSAVE_CALL_NULL_* */
    uint32_t arg[VMBSAVE_CALL_MAX_ARGS]; /* as the descriptor names them */
    uint32_t data; /* the on_data array the call reads is "d<data>"; VMBSAVE_CALL_NO_DATA */
} vmbsave_call;

/* What a status of the call means, for the differential's clauses (docs/DIFFERENTIAL.md). */
typedef enum vmbsave_call_family {
    VMBSAVE_FAMILY_LIFECYCLE = 0, /* one status, fixed by LIFECYCLE.CHECK_ORDER */
    VMBSAVE_FAMILY_SAVE_BEGIN,
    VMBSAVE_FAMILY_SAVE_CONTINUE,
    VMBSAVE_FAMILY_SAVE_END,
    VMBSAVE_FAMILY_RESTORE,
    VMBSAVE_FAMILY_RELEASE,
    VMBSAVE_FAMILY_DESCRIBE,
    VMBSAVE_FAMILY_HOST,
} vmbsave_call_family;

typedef struct vmbsave_call_desc {
    const char *name; /* the member of vmbsave_interface_v1, or "host.<setting>" */
    vmbsave_call_family family;
    bool traced;      /* a call into the implementation: one trace entry */
    bool channel;     /* takes a channel slot */
    const char *args[VMBSAVE_CALL_MAX_ARGS]; /* names of arg[i] (NULL: unused) */
    /* Clauses (SPEC.md IDs; NULL for host statements): the call's own (SUCCESS, state and
     * look-up statuses), STATUS_INVALID_PARAMETER's, STATUS_IMPLEMENTATION_LIMIT's. */
    const char *clause, *params_clause, *limit_clause;
    /* Printers: the trace text, and the reproducer's C statement (emit_c.h conventions). Each
     * returns the length it wanted (snprintf's rule). */
    size_t (*text)(const vmbsave_call *call, char *buf, size_t n);
    size_t (*c_statement)(const vmbsave_call *call, char *buf, size_t n);
} vmbsave_call_desc;

/* The descriptor of `op` (an op out of range gets a descriptor named "?" with no clause). */
const vmbsave_call_desc *vmbsave_call_desc_of(unsigned op);
/* The trace text and the C statement of a call. */
size_t vmbsave_call_text(const vmbsave_call *call, char *buf, size_t n);
size_t vmbsave_call_c_statement(const vmbsave_call *call, char *buf, size_t n);
/* Same op, slot, flags and arguments (the data name is not compared). */
bool vmbsave_call_equal(const vmbsave_call *a, const vmbsave_call *b);
/* The call a lifecycle step of a program makes (VMBSAVE_OP_OFFER .. VMBSAVE_OP_RING_READ). */
vmbsave_call_op vmbsave_call_op_of_step(vmbsave_op op);

#endif
