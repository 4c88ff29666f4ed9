/* Fuzz target over raw image bytes: the input is the image, so every byte of the implementation's
 * image reader is reachable, beyond the edits of the restore target (fuzzers/restore.c).
 *
 * Input: byte 0 flags, byte 1 split, then the image (cut at VMBSAVE_RUN_MAX_IMAGE_BYTES).
 *   flags bits 0-1: reseal before restoring (harness/image_reseal.h): bit 0 every framed chunk's
 *     checksum, bit 1 also the image id and END's digest, so mutations get past FORMAT.md's
 *     hash checks (steps 6, 8, 12) to the structure and content behind them;
 *   flags bit 2: feed the image with one call boundary inside chunk `split` (mod the chunks),
 *     else `split` mod 17 whole chunks per call (0: the whole image in one call);
 *   other bits: ignored.
 * The image is preloaded into image slot 0 (runner option preload_image); the program restores
 * it into a fresh channel 1 and captures that channel into slot 1. The oracle reads the image as
 * FORMAT.md's reader must (harness/oracle_reader.c), so it predicts every call's status; a
 * failure must leave the channel fresh with nothing held (RESTORE.ATOMIC), and a success must
 * re-save to the model's image (RESTORE.FIXED_POINT). A violation aborts with the clause
 * (fuzzers/fuzz_common.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "harness/image_reseal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Static: the image may be 4 MiB, and a run allocates nothing. */
    static uint8_t image[VMBSAVE_RUN_MAX_IMAGE_BYTES];
    static vmbsave_program program;
    static vmbsave_run_options options;
    if (size <= VMBSAVE_RAW_HEADER_BYTES)
        return 0;
    uint8_t flags = data[0], split = data[1];
    size_t n = size - VMBSAVE_RAW_HEADER_BYTES;
    if (n > sizeof image)
        n = sizeof image;
    memcpy(image, data + VMBSAVE_RAW_HEADER_BYTES, n);
    vmbsave_image_reseal(image, (uint32_t)n, flags & VMBSAVE_RAW_RESEAL_MASK);

    vmbsave_step restore = {.op = VMBSAVE_OP_RESTORE, .ch = 1, .slot = 0};
    if (flags & VMBSAVE_RAW_SPLIT_INSIDE) {
        restore.mode = VMBSAVE_EDIT_SPLIT_INSIDE;
        restore.a = split;
    } else {
        restore.mode = VMBSAVE_EDIT_WHOLE;
        restore.c = split % VMBSAVE_RAW_PER_CALL_MODULUS;
    }
    program.count = 2;
    program.steps[0] = restore;
    program.steps[1] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 1, .slot = 1};
    options.preload_image[0] = image;
    options.preload_image_size[0] = (uint32_t)n;
    vmbsave_fuzz_run_with(&program, &options);
    return 0;
}
