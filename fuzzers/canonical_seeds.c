/* Writes each canonical state's prefix (harness/program/canonical.h) in program byte form to
 * OUT_DIR/<name>.bin, for ci/make_seeds.sh. Exit status: 0 all written; 1 a file could not be
 * written; 2 usage. Files are written whole (temp file, then rename). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "program/canonical.h"
#include "program/program.h"

static int write_whole(const char *path, const uint8_t *bytes, size_t size)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "canonical_seeds: path too long: %s\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        fprintf(stderr, "canonical_seeds: cannot create %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    int bad = fwrite(bytes, 1, size, f) != size;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "canonical_seeds: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    static vmbsave_program program;
    static uint8_t bytes[VMBSAVE_PROGRAM_MAX_BYTES];
    for (int id = 0; id < VMBSAVE_CANONICAL_COUNT; id++) {
        char path[4096];
        if (!vmbsave_canonical_prefix((vmbsave_canonical_id)id, &program) ||
            snprintf(path, sizeof path, "%s/%s.bin", argv[1],
                     vmbsave_canonical_name((vmbsave_canonical_id)id)) >= (int)sizeof path) {
            fprintf(stderr, "canonical_seeds: state %d: no prefix, or path too long\n", id);
            return 1;
        }
        size_t size = vmbsave_program_encode(&program, bytes, sizeof bytes);
        if (size == 0 || write_whole(path, bytes, size) != 0)
            return 1;
    }
    return 0;
}
