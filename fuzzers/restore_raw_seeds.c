/* Writes the restore_raw seeds (fuzzers/restore_raw.c) to OUT_DIR, for ci/make_seeds.sh: each
 * canonical state's image (harness/program/canonical.h) as the linked-in reference saves it (a CAPTURE,
 * handed back by the runner option export_image), behind the target's two header bytes, as-is
 * and with a few raw edits, each named after what it exercises:
 *   <state>-whole           the image in one call              (SUCCESS)
 *   <state>-per_call        one chunk per call                 (MORE_PROCESSING..., SUCCESS)
 *   <state>-split_inside    a call boundary inside chunk 1     (INVALID_BUFFER_SIZE)
 *   <state>-bit_flip        one byte flipped, not resealed     (DATA_ERROR)
 *   <state>-offer_edit      an offer byte changed, resealed    (SUCCESS: another valid image)
 *   <state>-bad_state       HEADER state 3, resealed           (FILE_CORRUPT_ERROR)
 *   <state>-gpadl_count     HEADER GPADL count + 1, resealed   (FILE_CORRUPT_ERROR at END)
 *   <state>-newer_minor     minor 1 in every chunk, resealed   (SUCCESS: FORMAT.COMPAT)
 *   <state>-trailing_byte   one byte after END                 (REQUEST_OUT_OF_SEQUENCE)
 * The large_ring image (about 200 KiB) is written once, whole; the other states get every seed.
 * Besides, limits-whole: the limits state (harness/program/limits_state.h: 64 GPADLs, 4,096
 * packets, a 32 MiB ring, ...; about 235 KiB), built and saved through the reference's own
 * calls, since no program can build it (SUCCESS: the oracle models every limit).
 * The same tree writes the same bytes. Exit status: 0 all written; 1 a run or a file failed;
 * 2 usage. Files are written whole (temp file, then rename). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "host/host.h"
#include "host/loader.h"
#include "program/canonical.h"
#include "program/limits_state.h"
#include "image/chunks.h"
#include "run/fuzz_input.h"
#include "image/image_reseal.h"
#include "run/runner.h"
#include "reference.h"

/* The largest seed: the large_ring image is about 200 KiB. */
#define SEED_CAP (VMBSAVE_RAW_HEADER_BYTES + 512u * 1024u)

static uint8_t image[VMBSAVE_RUN_MAX_IMAGE_BYTES];
static uint8_t seed[SEED_CAP];

static int write_whole(const char *dir, const char *name, const uint8_t *bytes, size_t size)
{
    char path[4096], tmp[4200];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        fprintf(stderr, "restore_raw_seeds: path too long: %s/%s\n", dir, name);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        fprintf(stderr, "restore_raw_seeds: cannot create %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    int bad = fwrite(bytes, 1, size, f) != size;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "restore_raw_seeds: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* The state's image, as the reference saves it; its size, or 0 after a message. */
static uint32_t capture(vmbsave_runner *runner, vmbsave_canonical_id id)
{
    static vmbsave_program program;
    static vmbsave_run_result result;
    vmbsave_run_options options;
    memset(&options, 0, sizeof options);
    options.export_image[0] = image;
    options.export_image_cap[0] = sizeof image;
    vmbsave_canonical_prefix(id, &program);
    program.steps[program.count++] = (vmbsave_step){.op = VMBSAVE_OP_CAPTURE, .ch = 0, .slot = 0};
    vmbsave_runner_run(runner, &program, &options, &result);
    if (result.verdict != VMBSAVE_VERDICT_PASS || result.image_size[0] == 0 ||
        result.image_size[0] > SEED_CAP - VMBSAVE_RAW_HEADER_BYTES) {
        fprintf(stderr, "restore_raw_seeds: %s: verdict %s, image of %" PRIu32 " bytes: %s%s\n",
                vmbsave_canonical_name(id), vmbsave_verdict_name(result.verdict),
                result.image_size[0], result.error, result.violation.clause);
        return 0;
    }
    return result.image_size[0];
}

/* The limits state's image as the reference saves it (64 KiB buffers, the scripted driver's
 * states), into `image`; its size, or 0 after a message. */
static uint32_t capture_limits(void)
{
    static vmbsave_fault_host host; /* its call logs make it large */
    vmbsave_fault_host_init(&host);
    vmbsave_impl impl;
    char err[256];
    if (vmbsave_impl_from_entry(vmbsave_reference_get_interface, &host.host, &impl, err,
                                sizeof err) != 0) {
        fprintf(stderr, "restore_raw_seeds: limits: %s\n", err);
        return 0;
    }
    const vmbsave_interface_v1 *v = &impl.iface;
    vmbsave_channel *ch = NULL;
    const char *call = "channel_allocate";
    NTSTATUS st = v->channel_allocate(v->context, &ch);
    if (st == STATUS_SUCCESS)
        st = vmbsave_limits_build(v, ch, 7, &call);
    uint32_t size = 0;
    if (st == STATUS_SUCCESS) {
        call = "save_begin";
        st = v->save_begin(ch);
    }
    if (st == STATUS_SUCCESS) {
        call = "save_continue";
        do {
            uint32_t room = (uint32_t)sizeof image - size, filled = 0, required = 0;
            if (room > VMBSAVE_MAX_CHUNK_BYTES)
                room = VMBSAVE_MAX_CHUNK_BYTES;
            st = v->save_continue(ch, image + size, room, &filled, &required);
            size += filled;
        } while (st == STATUS_BUFFER_OVERFLOW && size < sizeof image);
        v->save_end(ch);
    }
    if (ch != NULL) {
        v->disable(ch);
        v->channel_cleanup(ch);
    }
    vmbsave_impl_unload(&impl);
    if (st != STATUS_SUCCESS || size > SEED_CAP - VMBSAVE_RAW_HEADER_BYTES) {
        fprintf(stderr, "restore_raw_seeds: limits: %s returned 0x%08" PRIx32 " (%" PRIu32
                        " bytes saved)\n",
                call, (uint32_t)st, size);
        return 0;
    }
    return size;
}

/* Writes <state>-<name>: flags, split, the image with `edit` applied (NULL: none). */
typedef void (*edit_fn)(uint8_t *img, uint32_t *size);

static int emit(const char *dir, const char *state, const char *name, uint8_t flags,
                uint8_t split, uint32_t size, edit_fn edit)
{
    seed[0] = flags;
    seed[1] = split;
    uint8_t *img = seed + VMBSAVE_RAW_HEADER_BYTES;
    memcpy(img, image, size);
    if (edit != NULL)
        edit(img, &size);
    char file[256];
    snprintf(file, sizeof file, "%s-%s", state, name);
    return write_whole(dir, file, seed, VMBSAVE_RAW_HEADER_BYTES + (size_t)size);
}

static void flip_middle(uint8_t *img, uint32_t *size)
{
    img[*size / 2u] ^= 0x10u;
}

static void offer_edit(uint8_t *img, uint32_t *size)
{
    (void)size;
    img[VMBSAVE_CHUNK_HEADER_BYTES + 44u + 7u] ^= 0x5Au; /* a user-defined byte of the offer */
}

static void bad_state(uint8_t *img, uint32_t *size)
{
    (void)size;
    vmbsave_put_u32(img + VMBSAVE_CHUNK_HEADER_BYTES, VMBSAVE_STATE_OPEN_RUNNING);
}

static void gpadl_count(uint8_t *img, uint32_t *size)
{
    (void)size;
    uint8_t *count = img + VMBSAVE_CHUNK_HEADER_BYTES + 192u;
    vmbsave_put_u32(count, vmbsave_get_u32(count) + 1u);
}

static void newer_minor(uint8_t *img, uint32_t *size)
{
    vmbsave_chunk h;
    for (uint32_t pos = 0; pos < *size && vmbsave_chunk_read(img + pos, *size - pos, &h);
         pos += h.size)
        vmbsave_put_u16(img + pos + 6, 1);
}

static void trailing_byte(uint8_t *img, uint32_t *size)
{
    img[(*size)++] = 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char err[256];
    vmbsave_runner *runner =
        vmbsave_runner_open_entry(vmbsave_reference_get_interface, err, sizeof err);
    if (runner == NULL) {
        fprintf(stderr, "restore_raw_seeds: cannot open the reference: %s\n", err);
        return 1;
    }
    const uint8_t reseal_all = VMBSAVE_RESEAL_CHECKSUMS | VMBSAVE_RESEAL_IDENTITY;
    int failed = 0;
    for (int i = 0; i < VMBSAVE_CANONICAL_COUNT && !failed; i++) {
        vmbsave_canonical_id id = (vmbsave_canonical_id)i;
        const char *state = vmbsave_canonical_name(id);
        uint32_t size = capture(runner, id);
        if (size == 0) {
            failed = 1;
            break;
        }
        failed |= emit(dir, state, "whole", 0, 0, size, NULL) != 0;
        if (id == VMBSAVE_CANONICAL_LARGE_RING)
            continue; /* once is enough for ~200 KiB */
        failed |= emit(dir, state, "per_call", 0, 1, size, NULL) != 0;
        failed |= emit(dir, state, "split_inside", VMBSAVE_RAW_SPLIT_INSIDE, 1, size, NULL) != 0;
        failed |= emit(dir, state, "bit_flip", 0, 0, size, flip_middle) != 0;
        failed |= emit(dir, state, "offer_edit", reseal_all, 0, size, offer_edit) != 0;
        failed |= emit(dir, state, "bad_state", reseal_all, 0, size, bad_state) != 0;
        failed |= emit(dir, state, "gpadl_count", reseal_all, 0, size, gpadl_count) != 0;
        failed |= emit(dir, state, "newer_minor", reseal_all, 0, size, newer_minor) != 0;
        failed |= emit(dir, state, "trailing_byte", 0, 0, size, trailing_byte) != 0;
    }
    vmbsave_runner_close(runner);
    if (!failed) {
        uint32_t size = capture_limits();
        failed = size == 0 || emit(dir, "limits", "whole", 0, 0, size, NULL) != 0;
    }
    return failed ? 1 : 0;
}
