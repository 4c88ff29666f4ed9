/* Resealing a raw image: recomputes the hashes FORMAT.md puts in an image (each chunk's
 * checksum, the image id, END's digest) after its bytes were changed, so that a reader gets past
 * those checks to the structure and content behind them. Used by the restore_raw fuzz target
 * (fuzzers/restore_raw.c), whose inputs are images mutated byte by byte, and by its seed tool. */
#ifndef VMBSAVE_HARNESS_IMAGE_RESEAL_H
#define VMBSAVE_HARNESS_IMAGE_RESEAL_H

#include <stdint.h>

/* What to reseal (bits). */
#define VMBSAVE_RESEAL_CHECKSUMS 0x1u /* every framed chunk's checksum (FORMAT.md step 6) */
#define VMBSAVE_RESEAL_IDENTITY 0x2u  /* first every framed chunk's image_id := the hash of the
                                         first chunk's payload (step 8), END's digest over the
                                         chunks before it (step 12); implies CHECKSUMS */

/* Reseals, in place, the chunks of `bytes` that their headers frame: from the start, while 40
 * header bytes and the payload they declare fit in what is left; bytes from the first chunk
 * that does not fit on are left alone. Only hash fields change (image_id, checksum, END's
 * digest, which needs a payload of at least 24 bytes). Returns the number of chunks framed. */
uint32_t vmbsave_image_reseal(uint8_t *bytes, uint32_t size, unsigned what);

#endif
