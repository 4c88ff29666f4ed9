/* Byte-level pieces of the image format (docs/FORMAT.md): little-endian access, the chunk
 * header, checksums. Shared by the writer (save.c), the reader (restore.c) and describe.c. */
#ifndef VMBSAVE_REFERENCE_IMAGE_H
#define VMBSAVE_REFERENCE_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmbsave/abi.h"

#define REF_MAGIC 0x53424D56u /* "VMBS" read as a little-endian u32 */
#define REF_FORMAT_MAJOR 1u
#define REF_FORMAT_MINOR 0u

#define REF_CHUNK_HEADER_BYTES 40u
#define REF_CHUNK_MAX_PAYLOAD (VMBSAVE_MAX_CHUNK_BYTES - REF_CHUNK_HEADER_BYTES)
#define REF_CHUNK_FLAG_OPTIONAL 0x1u

#define REF_CHUNK_HEADER 1u
#define REF_CHUNK_GPADLS 2u
#define REF_CHUNK_PACKETS 3u
#define REF_CHUNK_RING 4u
#define REF_CHUNK_END 0xFFFFu

/* Chunk header field offsets. */
#define REF_CH_MAGIC 0u
#define REF_CH_MAJOR 4u
#define REF_CH_MINOR 6u
#define REF_CH_TYPE 8u
#define REF_CH_FLAGS 10u
#define REF_CH_SEQUENCE 12u
#define REF_CH_PAYLOAD_BYTES 16u
#define REF_CH_RESERVED 20u
#define REF_CH_IMAGE_ID 24u
#define REF_CH_CHECKSUM 32u
#define REF_CH_HASHED_BYTES 32u /* header bytes 0..31 seed the payload checksum */

/* HEADER payload (version 1.0). */
#define REF_HDR_STATE 0u
#define REF_HDR_INTERFACE_TYPE 4u
#define REF_HDR_INTERFACE_INSTANCE 20u
#define REF_HDR_SUBCHANNEL_INDEX 36u
#define REF_HDR_MMIO_MEGABYTES 38u
#define REF_HDR_OFFER_FLAGS 40u
#define REF_HDR_USER_DEFINED 44u
#define REF_HDR_RING_GPADL_ID 164u
#define REF_HDR_INCOMING_RING_BYTES 168u
#define REF_HDR_OUTGOING_RING_BYTES 172u
#define REF_HDR_TARGET_VP 176u
#define REF_HDR_CONNECTION_ID 180u
#define REF_HDR_NEXT_SEND_SEQUENCE 184u
#define REF_HDR_GPADL_COUNT 192u
#define REF_HDR_PACKET_COUNT 196u
#define REF_HDR_INCOMING_PENDING 200u
#define REF_HDR_OUTGOING_PENDING 204u
#define REF_HDR_PAYLOAD_BYTES 208u

/* GPADLS and PACKETS payloads start with a u32 record count. */
#define REF_RECORD_COUNT_BYTES 4u

/* GPADL record. */
#define REF_GR_RECORD_BYTES 0u
#define REF_GR_ID 4u
#define REF_GR_STATE 8u
#define REF_GR_PFN_COUNT 12u
#define REF_GR_PFNS 16u
#define REF_GPADL_STATE_CREATED 1u
#define REF_GPADL_STATE_TEARING_DOWN 2u

/* PACKET record. */
#define REF_PR_RECORD_BYTES 0u
#define REF_PR_ID 4u
#define REF_PR_SEND_SEQUENCE 12u
#define REF_PR_GPADL_ID 20u
#define REF_PR_PAYLOAD_BYTES 24u
#define REF_PR_DRIVER_STATE_BYTES 28u
#define REF_PR_PAYLOAD 32u

/* RING payload. */
#define REF_RING_DIRECTION 0u
#define REF_RING_OFFSET 4u
#define REF_RING_DATA 8u
#define REF_RING_MAX_PIECE (REF_CHUNK_MAX_PAYLOAD - REF_RING_DATA)

/* END payload (version 1.0). */
#define REF_END_CHUNK_COUNT 0u
#define REF_END_RESERVED 4u
#define REF_END_TOTAL_BYTES 8u
#define REF_END_DIGEST 16u
#define REF_END_PAYLOAD_BYTES 24u
#define REF_END_CHUNK_BYTES (REF_CHUNK_HEADER_BYTES + REF_END_PAYLOAD_BYTES)

/* ---- Little-endian, unaligned access: memcpy plus a swap on big-endian hosts. ---- */
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) &&                                    \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define REF_LE16(v) __builtin_bswap16(v)
#define REF_LE32(v) __builtin_bswap32(v)
#define REF_LE64(v) __builtin_bswap64(v)
#else
#define REF_LE16(v) (v)
#define REF_LE32(v) (v)
#define REF_LE64(v) (v)
#endif

static inline void ref_put_u16(uint8_t *p, uint16_t v)
{
    v = (uint16_t)REF_LE16(v);
    memcpy(p, &v, sizeof v);
}

static inline void ref_put_u32(uint8_t *p, uint32_t v)
{
    v = REF_LE32(v);
    memcpy(p, &v, sizeof v);
}

static inline void ref_put_u64(uint8_t *p, uint64_t v)
{
    v = REF_LE64(v);
    memcpy(p, &v, sizeof v);
}

static inline uint16_t ref_get_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return (uint16_t)REF_LE16(v);
}

static inline uint32_t ref_get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return REF_LE32(v);
}

static inline uint64_t ref_get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return REF_LE64(v);
}

/* memcpy that tolerates (NULL, 0): passing NULL to memcpy is undefined even for 0 bytes. */
static inline void ref_copy(void *dst, const void *src, size_t n)
{
    if (n != 0) {
        memcpy(dst, src, n);
    }
}

/* ---- Hashing (XXH3-64, FORMAT.md "hash"). ---- */

/* hash(bytes, seed); data may be NULL when len is 0. */
uint64_t ref_hash(const void *data, size_t len, uint64_t seed);
/* hash(a || b, 0) without concatenating: for ring bytes stored in two pieces. */
uint64_t ref_hash_2(const void *a, size_t a_len, const void *b, size_t b_len);
/* One step of END's digest: d = hash(checksum as u64 LE, d). */
uint64_t ref_digest_step(uint64_t digest, uint64_t checksum);

/* ---- Chunks. ---- */

/* Writes the 40-byte header at chunk[0..40) for a payload already in place at chunk + 40,
 * computing the checksum over it. Returns the checksum (for END's digest). */
uint64_t ref_chunk_seal(uint8_t *chunk, uint16_t type, uint32_t sequence, uint32_t payload_bytes,
                        uint64_t image_id);

typedef struct ref_chunk_view {
    uint16_t type;
    uint16_t flags;
    uint32_t sequence;
    uint32_t payload_bytes;
    uint64_t image_id;
    uint64_t checksum;
    const uint8_t *payload;
} ref_chunk_view;

/* Steps 1-7 of FORMAT.md "How a reader validates each chunk" on the chunk at p, with avail
 * bytes left in the caller's buffer. On success fills *out. */
NTSTATUS ref_chunk_open(const uint8_t *p, size_t avail, ref_chunk_view *out);

#endif /* VMBSAVE_REFERENCE_IMAGE_H */
