/* Fuzz target over raw image bytes: the input is the image, so every byte of the implementation's
 * image reader is reachable, beyond the edits of the restore target (fuzzers/restore.c).
 *
 * Input: byte 0 flags, byte 1 split, then the image (cut at VMBSAVE_RUN_MAX_IMAGE_BYTES);
 * nothing runs without an image byte.
 *   flags bits 0-1: reseal before restoring (harness/image/image_reseal.h): bit 0 every framed chunk's
 *     checksum, bit 1 also the image id and END's digest, so mutations get past FORMAT.md's
 *     hash checks (steps 6, 8, 12) to the structure and content behind them;
 *   flags bit 2: feed the image with one call boundary inside chunk `split` (mod the chunks),
 *     else `split` mod 17 whole chunks per call (0: the whole image in one call);
 *   other bits: ignored.
 * The image is preloaded into image slot 0 (runner option preload_image); the program restores
 * it into a fresh channel 1 and captures that channel into slot 1. The oracle reads the image as
 * FORMAT.md's reader must (harness/oracle/oracle_reader.c), so it predicts every call's status; a
 * failure must leave the channel fresh with nothing held (RESTORE.ATOMIC), and a success must
 * re-save to the model's image (RESTORE.FIXED_POINT). A violation aborts with the clause
 * (fuzzers/fuzz_common.h). The expansion is harness/run/fuzz_input.h's, which `vmbsave repro
 * --target restore_raw` replays. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmbsave_fuzz_run_input(VMBSAVE_FUZZ_TARGET_RESTORE_RAW, data, size);
    return 0;
}
