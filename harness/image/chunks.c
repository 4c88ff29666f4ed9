/* Chunks of the image format (harness/image/chunks.h), from docs/FORMAT.md. */
#include "image/chunks.h"

#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* xxHash never reads the pointer for zero bytes, but NULL + 0 is still not a valid pointer. */
static const uint8_t empty_input[1] = {0};

uint64_t vmbsave_hash(const void *data, size_t len, uint64_t seed)
{
    if (len == 0)
        data = empty_input;
    return (uint64_t)XXH3_64bits_withSeed(data, len, (XXH64_hash_t)seed);
}

uint64_t vmbsave_digest_step(uint64_t digest, uint64_t checksum)
{
    uint8_t le[8];
    vmbsave_put_u64(le, checksum);
    return vmbsave_hash(le, sizeof le, digest);
}

/* Byte by byte, so the code is the same on every host byte order. */
void vmbsave_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void vmbsave_put_u32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void vmbsave_put_u64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t vmbsave_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

uint32_t vmbsave_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t vmbsave_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

bool vmbsave_chunk_read(const uint8_t *p, size_t avail, vmbsave_chunk *out)
{
    memset(out, 0, sizeof *out);
    if (p == NULL || avail < VMBSAVE_CHUNK_HEADER_BYTES)
        return false;
    out->magic = vmbsave_get_u32(p + 0);
    out->major = vmbsave_get_u16(p + 4);
    out->minor = vmbsave_get_u16(p + 6);
    out->type = vmbsave_get_u16(p + 8);
    out->flags = vmbsave_get_u16(p + 10);
    out->sequence = vmbsave_get_u32(p + 12);
    out->payload_bytes = vmbsave_get_u32(p + 16);
    out->reserved = vmbsave_get_u32(p + 20);
    out->image_id = vmbsave_get_u64(p + 24);
    out->checksum = vmbsave_get_u64(p + 32);
    out->size = out->payload_bytes > UINT32_MAX - VMBSAVE_CHUNK_HEADER_BYTES
                    ? UINT32_MAX
                    : out->payload_bytes + VMBSAVE_CHUNK_HEADER_BYTES;
    return true;
}

uint64_t vmbsave_chunk_expected_checksum(const uint8_t *p, uint32_t payload_bytes)
{
    uint64_t seed = vmbsave_hash(p, 32, 0);
    return vmbsave_hash(p + VMBSAVE_CHUNK_HEADER_BYTES, payload_bytes, seed);
}

vmbsave_chunk_fault vmbsave_chunk_check(const uint8_t *p, size_t avail, vmbsave_chunk *out)
{
    if (!vmbsave_chunk_read(p, avail, out))
        return VMBSAVE_CHUNK_SHORT_HEADER;
    if (out->magic != VMBSAVE_CHUNK_MAGIC)
        return VMBSAVE_CHUNK_BAD_MAGIC;
    if (out->major != VMBSAVE_CHUNK_MAJOR)
        return VMBSAVE_CHUNK_BAD_MAJOR;
    if (out->payload_bytes > VMBSAVE_CHUNK_MAX_PAYLOAD)
        return VMBSAVE_CHUNK_TOO_LARGE;
    if ((size_t)out->size > avail)
        return VMBSAVE_CHUNK_SHORT_PAYLOAD;
    if (vmbsave_chunk_expected_checksum(p, out->payload_bytes) != out->checksum)
        return VMBSAVE_CHUNK_BAD_CHECKSUM;
    if (out->reserved != 0 || (out->flags & ~VMBSAVE_CHUNK_FLAG_OPTIONAL) != 0)
        return VMBSAVE_CHUNK_BAD_RESERVED;
    return VMBSAVE_CHUNK_OK;
}

NTSTATUS vmbsave_chunk_fault_status(vmbsave_chunk_fault fault)
{
    switch (fault) {
    case VMBSAVE_CHUNK_OK: return STATUS_SUCCESS;
    case VMBSAVE_CHUNK_SHORT_HEADER: return STATUS_INVALID_BUFFER_SIZE;
    case VMBSAVE_CHUNK_BAD_MAGIC: return STATUS_FILE_CORRUPT_ERROR;
    case VMBSAVE_CHUNK_BAD_MAJOR: return STATUS_UNKNOWN_REVISION;
    case VMBSAVE_CHUNK_TOO_LARGE: return STATUS_IMPLEMENTATION_LIMIT;
    case VMBSAVE_CHUNK_SHORT_PAYLOAD: return STATUS_INVALID_BUFFER_SIZE;
    case VMBSAVE_CHUNK_BAD_CHECKSUM: return STATUS_DATA_ERROR;
    case VMBSAVE_CHUNK_BAD_RESERVED: return STATUS_FILE_CORRUPT_ERROR;
    }
    return STATUS_INTERNAL_ERROR;
}

const char *vmbsave_chunk_fault_name(vmbsave_chunk_fault fault)
{
    switch (fault) {
    case VMBSAVE_CHUNK_OK: return "a valid chunk";
    case VMBSAVE_CHUNK_SHORT_HEADER: return "fewer than 40 bytes (a partial chunk header)";
    case VMBSAVE_CHUNK_BAD_MAGIC: return "a wrong magic";
    case VMBSAVE_CHUNK_BAD_MAJOR: return "an unknown major version";
    case VMBSAVE_CHUNK_TOO_LARGE: return "payload_bytes above 65,496";
    case VMBSAVE_CHUNK_SHORT_PAYLOAD: return "a payload running past the buffer (a partial chunk)";
    case VMBSAVE_CHUNK_BAD_CHECKSUM: return "a checksum that does not verify";
    case VMBSAVE_CHUNK_BAD_RESERVED: return "a non-zero reserved field or unknown flag";
    }
    return "?";
}

uint64_t vmbsave_chunk_seal(uint8_t *chunk, uint16_t type, uint32_t sequence,
                            uint32_t payload_bytes, uint64_t image_id)
{
    vmbsave_put_u32(chunk + 0, VMBSAVE_CHUNK_MAGIC);
    vmbsave_put_u16(chunk + 4, (uint16_t)VMBSAVE_CHUNK_MAJOR);
    vmbsave_put_u16(chunk + 6, (uint16_t)VMBSAVE_CHUNK_MINOR);
    vmbsave_put_u16(chunk + 8, type);
    vmbsave_put_u16(chunk + 10, 0);
    vmbsave_put_u32(chunk + 12, sequence);
    vmbsave_put_u32(chunk + 16, payload_bytes);
    vmbsave_put_u32(chunk + 20, 0);
    vmbsave_put_u64(chunk + 24, image_id);
    uint64_t checksum = vmbsave_chunk_expected_checksum(chunk, payload_bytes);
    vmbsave_put_u64(chunk + 32, checksum);
    return checksum;
}

unsigned vmbsave_chunk_rank(uint16_t type)
{
    switch (type) {
    case VMBSAVE_CHUNK_HEADER: return 1;
    case VMBSAVE_CHUNK_GPADLS: return 2;
    case VMBSAVE_CHUNK_PACKETS: return 3;
    case VMBSAVE_CHUNK_RING: return 4;
    case VMBSAVE_CHUNK_END: return 5;
    default: return 0;
    }
}

const char *vmbsave_chunk_type_name(uint16_t type)
{
    switch (type) {
    case VMBSAVE_CHUNK_HEADER: return "HEADER";
    case VMBSAVE_CHUNK_GPADLS: return "GPADLS";
    case VMBSAVE_CHUNK_PACKETS: return "PACKETS";
    case VMBSAVE_CHUNK_RING: return "RING";
    case VMBSAVE_CHUNK_END: return "END";
    default: return "unknown";
    }
}
