/* An in-memory chunk editor for saved images, written from docs/FORMAT.md alone (like the
 * fixture's parser, it does not trust the code under test). An image is parsed into a list of
 * chunks, edited, and serialised again with every checksum recomputed and, after
 * vt_edit_fix(), every derived field consistent again (sequences, image ids, END totals and
 * digest), so a corrupt image can break exactly one validation step of FORMAT.md. Helpers at
 * the end restore a serialised image in groups of whole chunks. Every function fails the
 * current cmocka test rather than return an error. */
#ifndef VMBSAVE_TESTS_IMAGE_EDIT_H
#define VMBSAVE_TESTS_IMAGE_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "fixture.h"

/* ---- FORMAT.md layout (1.0) --------------------------------------------------------------- */

#define VT_CHUNK_MAGIC 0x53424D56u
#define VT_FLAG_OPTIONAL 0x1u

enum {
    VT_TYPE_HEADER = 1,
    VT_TYPE_GPADLS = 2,
    VT_TYPE_PACKETS = 3,
    VT_TYPE_RING = 4,
    VT_TYPE_END = 0xFFFF
};

/* HEADER payload offsets, and its 1.0 size. */
#define VT_HEADER_STATE 0u
#define VT_HEADER_OFFER_FLAGS 40u
#define VT_HEADER_RING_GPADL 164u
#define VT_HEADER_IN_RING 168u
#define VT_HEADER_OUT_RING 172u
#define VT_HEADER_CONNECTION 180u
#define VT_HEADER_GPADLS 192u
#define VT_HEADER_PACKETS 196u
#define VT_HEADER_IN_PENDING 200u
#define VT_HEADER_OUT_PENDING 204u
#define VT_HEADER_PAYLOAD_BYTES 208u
/* GPADL record (offsets from the record's start; FIXED: before the pfns). */
#define VT_GPADL_ID 4u
#define VT_GPADL_STATE 8u
#define VT_GPADL_PFNS 12u
#define VT_GPADL_FIXED 16u
/* Packet record (FIXED: before the payload). */
#define VT_PACKET_ID 4u
#define VT_PACKET_SEQ 12u
#define VT_PACKET_GPADL 20u
#define VT_PACKET_PAYLOAD 24u
#define VT_PACKET_DSTATE 28u
#define VT_PACKET_FIXED 32u
/* RING payload (FIXED: before the ring bytes). */
#define VT_RING_DIR 0u
#define VT_RING_OFFSET 4u
#define VT_RING_FIXED 8u
/* END payload, and its 1.0 size. */
#define VT_END_COUNT 0u
#define VT_END_RESERVED 4u
#define VT_END_TOTAL 8u
#define VT_END_DIGEST 16u
#define VT_END_PAYLOAD_BYTES 24u

/* ---- the editor --------------------------------------------------------------------------- */

/* One chunk: every header field but the checksum (recomputed on serialising) and an owned
 * copy of the payload. */
typedef struct vt_edit_chunk {
    uint32_t magic;
    uint16_t major, minor, type, flags;
    uint32_t sequence, reserved;
    uint64_t image_id;
    uint8_t *p; /* payload; its length is written as payload_bytes */
    uint32_t n;
} vt_edit_chunk;

typedef struct vt_edit_image {
    vt_edit_chunk *c;
    size_t count;
} vt_edit_image;

/* A serialised image and where each chunk starts (start[count] == size). */
typedef struct vt_edit_bytes {
    uint8_t *b;
    size_t size;
    size_t *start;
    size_t count;
} vt_edit_bytes;

/* Parses a saved image (at least two whole chunks, else the test fails). */
void vt_edit_parse(vt_edit_image *ed, const uint8_t *b, size_t size);
void vt_edit_free(vt_edit_image *ed);
/* Deep copies (the payload too). */
void vt_edit_chunk_copy(vt_edit_chunk *dst, const vt_edit_chunk *src);
void vt_edit_copy(vt_edit_image *dst, const vt_edit_image *src);
/* Inserts a copy of `src` before index `at`. */
void vt_edit_insert(vt_edit_image *ed, size_t at, const vt_edit_chunk *src);
void vt_edit_remove(vt_edit_image *ed, size_t at);
void vt_edit_swap(vt_edit_image *ed, size_t a, size_t b);
/* Replaces payload bytes [off, off + del) by `ins` (zeros if NULL) of `insn` bytes. */
void vt_edit_splice(vt_edit_chunk *c, uint32_t off, uint32_t del, const uint8_t *ins,
                    uint32_t insn);
/* Index of the nth (0-based) chunk of `type`; fails the test if there is none. */
size_t vt_edit_find(const vt_edit_image *ed, uint16_t type, size_t nth);
/* The first RING chunk of a direction. */
size_t vt_edit_find_ring(const vt_edit_image *ed, uint32_t dir);
/* Makes every derived field consistent again: sequences 0.., every image id the hash of the
 * (first) HEADER payload, and END's chunk_count, total_bytes and digest (over the chunks
 * before it). Checksums are always recomputed by vt_edit_serialize(). */
void vt_edit_fix(vt_edit_image *ed);
void vt_edit_serialize(const vt_edit_image *ed, vt_edit_bytes *out);
void vt_edit_bytes_free(vt_edit_bytes *b);

/* Records of GPADLS and PACKETS chunks: a u32 count, then records led by their u32 size. */
uint32_t vt_edit_rec_count(const vt_edit_chunk *c);
/* Payload offset of record k (steps over record_bytes; the records are not checked). */
uint32_t vt_edit_rec_off(const vt_edit_chunk *c, uint32_t k);

/* ---- restoring a serialised image ---------------------------------------------------------- */

typedef struct vt_edit_feed_out {
    NTSTATUS status; /* of the last call made */
    size_t first;    /* index of the first chunk of that call */
    size_t next;     /* index after its last chunk */
} vt_edit_feed_out;

/* Restores `b` in calls of groups[k] whole chunks (cycled; 0: the rest), stopping at the
 * first call that does not return MORE_PROCESSING_REQUIRED. */
vt_edit_feed_out vt_edit_feed(vt_env *e, vmbsave_channel *ch, const vt_edit_bytes *b,
                              const size_t *groups, size_t ngroups);
/* The same with `per_call` chunks in every call (0: all in one). */
vt_edit_feed_out vt_edit_feed_n(vt_env *e, vmbsave_channel *ch, const vt_edit_bytes *b,
                                size_t per_call);
/* Restores `b` into a fresh channel with the given grouping; expects SUCCESS from the call
 * that carries END and MORE_PROCESSING_REQUIRED from every call before. */
vmbsave_channel *vt_edit_restore_ok(vt_env *e, const vt_edit_bytes *b, size_t per_call,
                                    const char *what);

#endif
