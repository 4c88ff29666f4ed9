/* The edits a RESTORE step applies to a captured image before feeding it (program.h
 * vmbsave_edit_mode), and how the result is split into restore_from_buffer calls. Edits work on
 * raw bytes and never reseal a chunk: each one breaks exactly what it names (a cut, a flipped
 * bit, a missing, repeated, reordered or foreign chunk, a call boundary inside a chunk), and the
 * oracle works out from FORMAT.md what a reader must answer. */
#ifndef VMBSAVE_HARNESS_IMAGE_EDIT_H
#define VMBSAVE_HARNESS_IMAGE_EDIT_H

#include <stdint.h>

#include "image/chunks.h"

/* Most calls one restore step makes: one per chunk, plus the call of a cut. */
#define VMBSAVE_EDIT_MAX_CALLS (VMBSAVE_RUN_MAX_CHUNKS + 2u)
/* The edited stream is at most an image plus one chunk (a duplicate). */
#define VMBSAVE_EDIT_MAX_BYTES (VMBSAVE_RUN_MAX_IMAGE_BYTES + VMBSAVE_MAX_CHUNK_BYTES)

/* An image and where its chunks start (chunk_off[chunks] == size). */
typedef struct vmbsave_edit_image {
    const uint8_t *bytes;
    uint32_t size;
    const uint32_t *chunk_off;
    uint32_t chunks;
} vmbsave_edit_image;

typedef struct vmbsave_edit_result {
    uint32_t size;                             /* bytes of the edited stream */
    uint32_t calls;                            /* restore_from_buffer calls, at least 1 */
    uint32_t call_end[VMBSAVE_EDIT_MAX_CALLS]; /* end offset of each call in the stream */
    char note[128];                            /* what was edited, for the trace */
} vmbsave_edit_result;

/* Applies edit `mode` with the step's a, b, c to `image` (`foreign` is image slot b's for
 * VMBSAVE_EDIT_FOREIGN_CHUNK; NULL if that slot is empty, which leaves the image unedited).
 * Writes the stream to out (VMBSAVE_EDIT_MAX_BYTES). Returns 0, or -1 if the image has no chunk
 * or the result would not fit (never for an image within the run's limits). */
int vmbsave_image_edit(const vmbsave_edit_image *image, uint32_t mode, uint32_t a, uint32_t b,
                       uint32_t c, const vmbsave_edit_image *foreign, uint8_t *out,
                       vmbsave_edit_result *res);

#endif
