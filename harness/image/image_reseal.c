/* Resealing a raw image (harness/image/image_reseal.h), with FORMAT.md's layout from chunks.h. */
#include "image/image_reseal.h"

#include "image/chunks.h"

/* The size of the chunk at `pos` if its header frames one that fits, else 0. */
static uint32_t framed(const uint8_t *bytes, uint32_t size, uint32_t pos)
{
    vmbsave_chunk h;
    if (!vmbsave_chunk_read(bytes + pos, size - pos, &h) || h.size > size - pos)
        return 0;
    return h.size;
}

uint32_t vmbsave_image_reseal(uint8_t *bytes, uint32_t size, unsigned what)
{
    if (bytes == NULL || (what & (VMBSAVE_RESEAL_CHECKSUMS | VMBSAVE_RESEAL_IDENTITY)) == 0)
        return 0;
    uint32_t chunks = 0;
    if ((what & VMBSAVE_RESEAL_IDENTITY) != 0) {
        uint32_t first = framed(bytes, size, 0);
        uint64_t image_id = first != 0 ? vmbsave_hash(bytes + VMBSAVE_CHUNK_HEADER_BYTES,
                                                      first - VMBSAVE_CHUNK_HEADER_BYTES, 0)
                                       : 0;
        for (uint32_t pos = 0, n; pos < size && (n = framed(bytes, size, pos)) != 0; pos += n)
            vmbsave_put_u64(bytes + pos + 24, image_id);
    }
    /* Checksums in order, each END's digest over the (resealed) checksums before it first. */
    uint64_t digest = 0;
    for (uint32_t pos = 0, n; pos < size && (n = framed(bytes, size, pos)) != 0; pos += n) {
        uint8_t *c = bytes + pos;
        uint32_t payload = n - VMBSAVE_CHUNK_HEADER_BYTES;
        if ((what & VMBSAVE_RESEAL_IDENTITY) != 0 && vmbsave_get_u16(c + 8) == VMBSAVE_CHUNK_END &&
            payload >= VMBSAVE_END_PAYLOAD_BYTES)
            vmbsave_put_u64(c + VMBSAVE_CHUNK_HEADER_BYTES + 16, digest);
        uint64_t checksum = vmbsave_chunk_expected_checksum(c, payload);
        vmbsave_put_u64(c + 32, checksum);
        digest = vmbsave_digest_step(digest, checksum);
        chunks++;
    }
    return chunks;
}
