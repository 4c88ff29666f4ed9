/* Programs: a call sequence against the ABI as data. A program is a list of steps (lifecycle
 * operations, the save protocol, restores of captured images with edits, and fault directives)
 * that can be decoded from any byte string, encoded back, printed as text one step per line,
 * parsed again, mutated and minimised. The fault schedule is part of the program, so a crash
 * file replays identically under every engine and the plain replay driver.
 *
 * Byte form: VMBSAVE_STEP_BYTES bytes per step, no header:
 *   op u8, ch u8, mode u8, slot u8, a u32 LE, b u32 LE, c u32 LE
 * Decoding is total: every byte string is a program. Each field is reduced into its op's range
 * (vmbsave_step_normalize), a trailing partial step is padded with zero bytes, and bytes past
 * VMBSAVE_PROGRAM_MAX_STEPS steps are ignored. A decoded program is normalised; encoding a
 * normalised program and decoding it gives the same program. */
#ifndef VMBSAVE_HARNESS_PROGRAM_H
#define VMBSAVE_HARNESS_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMBSAVE_STEP_BYTES 16u
#define VMBSAVE_PROGRAM_MAX_STEPS 256u
#define VMBSAVE_PROGRAM_MAX_BYTES (VMBSAVE_STEP_BYTES * VMBSAVE_PROGRAM_MAX_STEPS)
#define VMBSAVE_PROGRAM_CHANNELS 3u /* channel slots a program addresses */
#define VMBSAVE_PROGRAM_IMAGES 4u   /* image slots CAPTURE fills and RESTORE reads */
#define VMBSAVE_PROGRAM_TEXT_MAX_BYTES (VMBSAVE_PROGRAM_MAX_STEPS * 160u) /* text form bound */

/* Ids are drawn from small ranges so that programs collide on them (duplicates, look-ups);
 * 0 is in every range because id 0 is a case the contract covers. A step's id field holds a
 * *code*: codes up to the small range's top are those ids, and the few codes above it name
 * edge ids, the values at the edges of the id's type (2^32 - 1, 2^32, UINT64_MAX, ...;
 * vmbsave_program_packet_id, vmbsave_program_gpadl_id), so programs also reach ids no small
 * range holds. Programs written before the edge codes existed keep their meaning: their id
 * fields are normalised into the small range already. */
#define VMBSAVE_PROGRAM_GPADL_SMALL_IDS 9u   /* codes 0..8: ids 0..8 */
#define VMBSAVE_PROGRAM_GPADL_EDGE_IDS 6u    /* codes 9..14: edge ids */
#define VMBSAVE_PROGRAM_PACKET_SMALL_IDS 17u /* codes 0..16: ids 0..16 */
#define VMBSAVE_PROGRAM_PACKET_EDGE_IDS 8u   /* codes 17..24: edge ids */
#define VMBSAVE_PROGRAM_GPADL_IDS (VMBSAVE_PROGRAM_GPADL_SMALL_IDS + VMBSAVE_PROGRAM_GPADL_EDGE_IDS)
#define VMBSAVE_PROGRAM_PACKET_IDS \
    (VMBSAVE_PROGRAM_PACKET_SMALL_IDS + VMBSAVE_PROGRAM_PACKET_EDGE_IDS)

/* The id a code names (a code out of range names what its normal form names). */
uint32_t vmbsave_program_gpadl_id(uint32_t code);
uint64_t vmbsave_program_packet_id(uint32_t code);

typedef enum vmbsave_op {
    VMBSAVE_OP_OFFER = 0,            /* init_set_offer; mode vmbsave_offer_mode, a salt */
    VMBSAVE_OP_ENABLE,
    VMBSAVE_OP_DISABLE,
    VMBSAVE_OP_OPEN,                 /* guest_open; mode vmbsave_open_mode, a ring GPADL id,
                                        b incoming ring pages, c outgoing ring pages */
    VMBSAVE_OP_CLOSE,
    VMBSAVE_OP_START,
    VMBSAVE_OP_PAUSE,
    VMBSAVE_OP_GPADL_CREATE,         /* mode vmbsave_gpadl_mode, a id, b pfn count, c salt */
    VMBSAVE_OP_GPADL_TEARDOWN_BEGIN, /* a id */
    VMBSAVE_OP_GPADL_TEARDOWN_COMPLETE, /* a id */
    VMBSAVE_OP_PACKET_SEND,          /* mode vmbsave_payload_mode, a packet id, b GPADL id,
                                        c payload bytes (within the mode's range) */
    VMBSAVE_OP_PACKET_COMPLETE,      /* a packet id */
    VMBSAVE_OP_RING_WRITE,           /* mode direction (0 in, 1 out), a bytes, c salt */
    VMBSAVE_OP_RING_READ,            /* mode direction, a bytes */
    VMBSAVE_OP_SAVE_BEGIN,
    VMBSAVE_OP_SAVE_CONTINUE,        /* mode vmbsave_size_mode, a explicit size */
    VMBSAVE_OP_SAVE_END,
    VMBSAVE_OP_CAPTURE,              /* a whole session (checked) of ch into image `slot` */
    VMBSAVE_OP_RESTORE,              /* image `slot`, edited by mode vmbsave_edit_mode with
                                        a, b, c, into channel ch */
    VMBSAVE_OP_CLEANUP,              /* disable + channel_cleanup; the slot is empty after */
    VMBSAVE_OP_FAULT_ALLOC,          /* mode vmbsave_fault_mode; fail allocation call a+1
                                        counted from this step (a < 64) */
    VMBSAVE_OP_FAULT_SAVE_PACKET,    /* mode vmbsave_save_packet_mode (harness/host/host.h);
                                        a packet id it applies to (0: every packet) */
    VMBSAVE_OP_FAULT_RESTORE_PACKET, /* fail the a-th restore_packet call from now (1..16) */
    VMBSAVE_OP_COUNT
} vmbsave_op;

typedef enum vmbsave_offer_mode {
    VMBSAVE_OFFER_VALID = 0,
    VMBSAVE_OFFER_BAD_FLAGS,      /* a flag bit outside VMBSAVE_OFFER_FLAGS_VALID */
    VMBSAVE_OFFER_OVER_LIMIT,     /* subchannel index above its limit */
    VMBSAVE_OFFER_NULL,           /* NULL offer pointer */
    VMBSAVE_OFFER_MODE_COUNT
} vmbsave_offer_mode;

typedef enum vmbsave_open_mode {
    VMBSAVE_OPEN_VALID = 0,       /* ring sizes b, c pages in [2, 65] */
    VMBSAVE_OPEN_UNALIGNED,       /* incoming ring size not a page multiple */
    VMBSAVE_OPEN_OVER_LIMIT,      /* incoming ring above VMBSAVE_MAX_RING_BYTES */
    VMBSAVE_OPEN_ZERO_CONNECTION, /* connection id 0 */
    VMBSAVE_OPEN_NULL,            /* NULL params */
    VMBSAVE_OPEN_MODE_COUNT
} vmbsave_open_mode;

typedef enum vmbsave_gpadl_mode {
    VMBSAVE_GPADL_VALID = 0,      /* b pfns in [1, 16] */
    VMBSAVE_GPADL_MAX_PFNS,       /* exactly VMBSAVE_MAX_GPADL_PFNS */
    VMBSAVE_GPADL_OVER_LIMIT,     /* VMBSAVE_MAX_GPADL_PFNS + 1 */
    VMBSAVE_GPADL_ZERO_PFNS,      /* count 0 */
    VMBSAVE_GPADL_BAD_PFN,        /* a pfn above VMBSAVE_MAX_PFN */
    VMBSAVE_GPADL_NULL,           /* NULL pfns */
    VMBSAVE_GPADL_MODE_COUNT
} vmbsave_gpadl_mode;

typedef enum vmbsave_payload_mode {
    VMBSAVE_PAYLOAD_SMALL = 0,    /* c in [0, 64] */
    VMBSAVE_PAYLOAD_MEDIUM,       /* c in [0, 4096] */
    VMBSAVE_PAYLOAD_MAX,          /* VMBSAVE_MAX_PACKET_PAYLOAD */
    VMBSAVE_PAYLOAD_OVER_LIMIT,   /* VMBSAVE_MAX_PACKET_PAYLOAD + 1 */
    VMBSAVE_PAYLOAD_NULL,         /* NULL payload with c in [1, 64] bytes */
    VMBSAVE_PAYLOAD_MODE_COUNT
} vmbsave_payload_mode;

/* Ring op sizes: a in [0, 65536]. */
#define VMBSAVE_PROGRAM_MAX_RING_OP_BYTES 65536u

/* Buffer sizes for SAVE_CONTINUE. "required" is the BytesRequired the channel's session last
 * reported (1 if none yet). */
typedef enum vmbsave_size_mode {
    VMBSAVE_SIZE_ZERO_NULL = 0,   /* size 0, NULL buffer: a size query */
    VMBSAVE_SIZE_ZERO,            /* size 0, non-NULL buffer */
    VMBSAVE_SIZE_ONE,
    VMBSAVE_SIZE_REQUIRED_MINUS_ONE,
    VMBSAVE_SIZE_REQUIRED,
    VMBSAVE_SIZE_REQUIRED_PLUS_ONE,
    VMBSAVE_SIZE_MAX_CHUNK,       /* VMBSAVE_MAX_CHUNK_BYTES */
    VMBSAVE_SIZE_LARGE,           /* 1 MiB */
    VMBSAVE_SIZE_EXPLICIT,        /* a, in [0, 2 * VMBSAVE_MAX_CHUNK_BYTES] */
    VMBSAVE_SIZE_NULL_FILLED,     /* a valid size, NULL bytes_filled */
    VMBSAVE_SIZE_NULL_REQUIRED,   /* a valid size, NULL bytes_required */
    VMBSAVE_SIZE_NULL_BUFFER,     /* NULL buffer with size a (>= 1) */
    VMBSAVE_SIZE_MODE_COUNT
} vmbsave_size_mode;

/* How RESTORE edits the image before feeding it. Chunk indexes are reduced modulo the image's
 * chunk count at run time (the count is not known when the program is decoded). */
typedef enum vmbsave_edit_mode {
    VMBSAVE_EDIT_WHOLE = 0,       /* unedited; c chunks per call (0: all in one call) */
    VMBSAVE_EDIT_TRUNCATE,        /* cut at byte a (mod image size); c chunks per call */
    VMBSAVE_EDIT_BIT_FLIP,        /* flip bit a (mod image bits) */
    VMBSAVE_EDIT_DROP_CHUNK,      /* drop chunk a */
    VMBSAVE_EDIT_DUPLICATE_CHUNK, /* chunk a twice in a row */
    VMBSAVE_EDIT_SWAP_CHUNKS,     /* swap chunks a and b */
    VMBSAVE_EDIT_FOREIGN_CHUNK,   /* chunk a replaced by chunk a of image slot b */
    VMBSAVE_EDIT_SPLIT_INSIDE,    /* whole chunks, but one call boundary inside chunk a */
    VMBSAVE_EDIT_CHUNKS,          /* only chunks a .. a+b-1 (b = 0: to the end), c per call:
                                     with another step for the rest, a restore that stays in
                                     progress while other channels' steps run */
    VMBSAVE_EDIT_MODE_COUNT
} vmbsave_edit_mode;

typedef enum vmbsave_fault_mode {
    VMBSAVE_FAULT_ONCE = 0,       /* fail one allocation */
    VMBSAVE_FAULT_FROM,           /* fail every allocation from then on */
    VMBSAVE_FAULT_OFF,            /* cancel any allocation fault */
    VMBSAVE_FAULT_MODE_COUNT
} vmbsave_fault_mode;

typedef struct vmbsave_step {
    uint8_t op;   /* vmbsave_op */
    uint8_t ch;   /* channel slot, < VMBSAVE_PROGRAM_CHANNELS */
    uint8_t mode; /* per op, see above; 0 where the op has none */
    uint8_t slot; /* image slot, < VMBSAVE_PROGRAM_IMAGES; 0 where unused */
    uint32_t a, b, c;
} vmbsave_step;

typedef struct vmbsave_program {
    uint32_t count;
    vmbsave_step steps[VMBSAVE_PROGRAM_MAX_STEPS];
} vmbsave_program;

/* The fields of a step after its op, for code that walks them generically (normalisation, the
 * text form, the mutator, the minimiser, tests). The order is the byte form's. The mutator
 * walks fields in it, so its seeded choices depend on it: append, do not reorder. */
typedef enum vmbsave_step_field {
    VMBSAVE_STEP_FIELD_CH = 0,
    VMBSAVE_STEP_FIELD_MODE,
    VMBSAVE_STEP_FIELD_SLOT,
    VMBSAVE_STEP_FIELD_A,
    VMBSAVE_STEP_FIELD_B,
    VMBSAVE_STEP_FIELD_C,
    VMBSAVE_STEP_FIELD_COUNT
} vmbsave_step_field;

/* A field's value; a field out of range reads as c. */
uint32_t vmbsave_step_field_get(const vmbsave_step *step, vmbsave_step_field field);
/* Sets a field; the u8 fields (ch, mode, slot) keep v's low byte, so callers pass values
 * already in range. A field out of range writes c. */
void vmbsave_step_field_set(vmbsave_step *step, vmbsave_step_field field, uint32_t v);

/* Reduces every field of `step` into its op's range, and zeroes fields the op does not use.
 * Idempotent. */
void vmbsave_step_normalize(vmbsave_step *step);

/* Any byte string to a (normalised) program. Never fails. */
void vmbsave_program_decode(const uint8_t *bytes, size_t size, vmbsave_program *out);

/* The byte form of a program: writes count * VMBSAVE_STEP_BYTES bytes, returns that count,
 * or 0 if `cap` is too small (then nothing is written). */
size_t vmbsave_program_encode(const vmbsave_program *program, uint8_t *out, size_t cap);

/* The text form: one step per line, "<op> key=value ..." with every field the op uses, in a
 * fixed order; a line may end in a comment "# ...". Returns the length written (without the
 * NUL), or 0 if `cap` is too small. VMBSAVE_PROGRAM_TEXT_MAX_BYTES always suffices. */
size_t vmbsave_program_print(const vmbsave_program *program, char *out, size_t cap);
/* One step's text (no newline), for traces. */
size_t vmbsave_step_print(const vmbsave_step *step, char *out, size_t cap);

/* Parses the text form back (blank lines and '#' comments ignored; values out of range are
 * normalised). Returns 0, or -1 with "line N: reason" in err. */
int vmbsave_program_parse(const char *text, vmbsave_program *out, char *err, size_t err_size);

/* Names for text and traces. */
const char *vmbsave_op_name(vmbsave_op op);

bool vmbsave_program_equal(const vmbsave_program *x, const vmbsave_program *y);

#endif
