/* Chunks of the image format (docs/FORMAT.md), read and written from that document alone, so the
 * oracle never trusts the code under test: it writes the images it expects with these helpers,
 * and splits and validates observed images and restore streams with them. */
#ifndef VMBSAVE_HARNESS_CHUNKS_H
#define VMBSAVE_HARNESS_CHUNKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbsave/abi.h"

/* Limits of a captured image in one run (documented in docs/ORACLE.md, "Limits"). */
#define VMBSAVE_RUN_MAX_IMAGE_BYTES (4u * 1024u * 1024u) /* a captured image; a program's
                                                            state stays far below this */
#define VMBSAVE_RUN_MAX_CHUNKS 4096u

#define VMBSAVE_CHUNK_HEADER_BYTES 40u
#define VMBSAVE_CHUNK_MAGIC 0x53424D56u
#define VMBSAVE_CHUNK_MAJOR 1u
#define VMBSAVE_CHUNK_MINOR 0u
#define VMBSAVE_CHUNK_FLAG_OPTIONAL 0x1u
#define VMBSAVE_CHUNK_MAX_PAYLOAD (VMBSAVE_MAX_CHUNK_BYTES - VMBSAVE_CHUNK_HEADER_BYTES)

enum {
    VMBSAVE_CHUNK_HEADER = 1,
    VMBSAVE_CHUNK_GPADLS = 2,
    VMBSAVE_CHUNK_PACKETS = 3,
    VMBSAVE_CHUNK_RING = 4,
    VMBSAVE_CHUNK_END = 0xFFFF
};

/* HEADER payload offsets of version 1.0 (FORMAT.md, "HEADER"): the oracle's writer and reader. */
enum {
    VMBSAVE_HDR_STATE = 0,
    VMBSAVE_HDR_INTERFACE_TYPE = 4,
    VMBSAVE_HDR_INTERFACE_INSTANCE = 20,
    VMBSAVE_HDR_SUBCHANNEL = 36,
    VMBSAVE_HDR_MMIO = 38,
    VMBSAVE_HDR_OFFER_FLAGS = 40,
    VMBSAVE_HDR_USER_DEFINED = 44,
    VMBSAVE_HDR_RING_GPADL = 164,
    VMBSAVE_HDR_IN_BYTES = 168,
    VMBSAVE_HDR_OUT_BYTES = 172,
    VMBSAVE_HDR_TARGET_VP = 176,
    VMBSAVE_HDR_CONNECTION = 180,
    VMBSAVE_HDR_NEXT_SEQ = 184,
    VMBSAVE_HDR_GPADLS = 192,
    VMBSAVE_HDR_PACKETS = 196,
    VMBSAVE_HDR_PENDING = 200 /* u32 per ring direction: incoming, then outgoing */
};

/* Payload sizes and record layouts of version 1.0. */
#define VMBSAVE_HEADER_PAYLOAD_BYTES 208u
#define VMBSAVE_END_PAYLOAD_BYTES 24u
#define VMBSAVE_GPADL_RECORD_FIXED 16u  /* before the pfns */
#define VMBSAVE_PACKET_RECORD_FIXED 32u /* before the payload */
#define VMBSAVE_RING_PIECE_FIXED 8u     /* before the ring bytes */
#define VMBSAVE_RECORD_COUNT_BYTES 4u

/* XXH3-64 with a seed: FORMAT.md's hash. `data` may be NULL when len is 0. */
uint64_t vmbsave_hash(const void *data, size_t len, uint64_t seed);
/* One step of END's digest: d = hash(checksum as u64 LE, d). */
uint64_t vmbsave_digest_step(uint64_t digest, uint64_t checksum);

void vmbsave_put_u16(uint8_t *p, uint16_t v);
void vmbsave_put_u32(uint8_t *p, uint32_t v);
void vmbsave_put_u64(uint8_t *p, uint64_t v);
uint16_t vmbsave_get_u16(const uint8_t *p);
uint32_t vmbsave_get_u32(const uint8_t *p);
uint64_t vmbsave_get_u64(const uint8_t *p);

/* A chunk's header fields as read (nothing checked). */
typedef struct vmbsave_chunk {
    uint32_t magic;
    uint16_t major, minor, type, flags;
    uint32_t sequence, payload_bytes, reserved;
    uint64_t image_id, checksum;
    uint32_t size; /* 40 + payload_bytes, saturated at UINT32_MAX */
} vmbsave_chunk;

/* Which of FORMAT.md's reader steps 1-7 failed. */
typedef enum vmbsave_chunk_fault {
    VMBSAVE_CHUNK_OK = 0,
    VMBSAVE_CHUNK_SHORT_HEADER,  /* 1: fewer than 40 bytes: INVALID_BUFFER_SIZE */
    VMBSAVE_CHUNK_BAD_MAGIC,     /* 2: FILE_CORRUPT_ERROR */
    VMBSAVE_CHUNK_BAD_MAJOR,     /* 3: UNKNOWN_REVISION */
    VMBSAVE_CHUNK_TOO_LARGE,     /* 4: IMPLEMENTATION_LIMIT */
    VMBSAVE_CHUNK_SHORT_PAYLOAD, /* 5: INVALID_BUFFER_SIZE */
    VMBSAVE_CHUNK_BAD_CHECKSUM,  /* 6: DATA_ERROR */
    VMBSAVE_CHUNK_BAD_RESERVED   /* 7: reserved or unknown flags: FILE_CORRUPT_ERROR */
} vmbsave_chunk_fault;

/* Reads the header at p (needs avail >= 40; else every field is 0 and false). */
bool vmbsave_chunk_read(const uint8_t *p, size_t avail, vmbsave_chunk *out);
/* FORMAT.md's reader steps 1-7 on the chunk at p with avail bytes left in the buffer. */
vmbsave_chunk_fault vmbsave_chunk_check(const uint8_t *p, size_t avail, vmbsave_chunk *out);
/* The status FORMAT.md gives a fault (STATUS_SUCCESS for VMBSAVE_CHUNK_OK). */
NTSTATUS vmbsave_chunk_fault_status(vmbsave_chunk_fault fault);
const char *vmbsave_chunk_fault_name(vmbsave_chunk_fault fault);
/* The checksum the header at p should carry for its payload (payload_bytes must fit). */
uint64_t vmbsave_chunk_expected_checksum(const uint8_t *p, uint32_t payload_bytes);

/* Writes the 40-byte header of a chunk whose payload is already at chunk + 40 (flags 0,
 * minor 0), with its checksum. Returns the checksum. */
uint64_t vmbsave_chunk_seal(uint8_t *chunk, uint16_t type, uint32_t sequence,
                            uint32_t payload_bytes, uint64_t image_id);

/* Position of a known chunk type in FORMAT.md's fixed order (HEADER 1 ... END 5); 0 for an
 * unknown type. */
unsigned vmbsave_chunk_rank(uint16_t type);
const char *vmbsave_chunk_type_name(uint16_t type);

#endif
