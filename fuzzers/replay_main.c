/* The plain replay driver: links with a fuzz target in place of a fuzzing engine and runs
 * LLVMFuzzerTestOneInput once over each input, so corpora and crash files replay with any
 * compiler and no engine (ctest FUZZ.REPLAY.*).
 *
 * usage: fuzz_<target> [-seconds=S] FILE|DIR...
 * A directory contributes its regular files, one level, sorted by name, except those whose
 * names start with '.' (.gitkeep in an empty regressions directory). Prints
 * "replayed N inputs". Exit status: 0 every input ran; 1 an input could not be read or is
 * larger than REPLAY_MAX_INPUT_BYTES, or no input was replayed at all (a run that executed
 * nothing is never a pass). An input that finds a bug aborts, as under an engine.
 *
 * -seconds=S (bench/oracle_cost.sh): after that pass, which warms up, run the inputs again, in
 * the same order, from memory (each from an exact-size copy, as before), pass after pass until
 * S seconds have gone by (the clock is read between passes), and print
 * "timed: E executions (P passes over N inputs) in T s: R exec/s". Reading the files is not
 * timed, so the rate is the target's own. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzz_common.h" /* program/program.h and run/runner.h: the sizes below */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input accepted: the biggest program plus room for a target's own prefix bytes, or
 * the biggest image a run holds plus restore_raw's header; anything bigger is not an input
 * these targets produce. */
#define REPLAY_MAX_INPUT_BYTES (VMBSAVE_RUN_MAX_IMAGE_BYTES + VMBSAVE_PROGRAM_MAX_BYTES)
/* Most entries read from one directory (a corpus is far smaller). */
#define REPLAY_MAX_DIR_ENTRIES 100000u

static uint8_t input[REPLAY_MAX_INPUT_BYTES + 1];
static unsigned long replayed;

/* -seconds=S: the inputs kept for the timed passes. */
static double timed_seconds;
typedef struct kept_input {
    uint8_t *bytes;
    size_t size;
} kept_input;
static kept_input *kept;
static size_t kept_count, kept_cap;

/* Keeps a copy of an input for the timed passes; -1 after a message. */
static int keep(const uint8_t *bytes, size_t size)
{
    if (kept_count == kept_cap) {
        size_t new_cap = kept_cap ? kept_cap * 2 : 64;
        kept_input *grown = realloc(kept, new_cap * sizeof *kept);
        if (grown == NULL)
            return -1;
        kept = grown;
        kept_cap = new_cap;
    }
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, bytes, size);
    kept[kept_count++] = (kept_input){copy, size};
    return 0;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The timed passes over the kept inputs; 0, or 1 after a message. */
static int timed_passes(void)
{
    unsigned long executions = 0, passes = 0;
    double start = now_seconds(), elapsed = 0;
    while (elapsed < timed_seconds) {
        for (size_t i = 0; i < kept_count; i++) {
            uint8_t *copy = malloc(kept[i].size > 0 ? kept[i].size : 1);
            if (copy == NULL) {
                fprintf(stderr, "replay: out of memory\n");
                return 1;
            }
            memcpy(copy, kept[i].bytes, kept[i].size);
            LLVMFuzzerTestOneInput(copy, kept[i].size);
            free(copy);
        }
        executions += kept_count;
        passes++;
        elapsed = now_seconds() - start;
    }
    printf("timed: %lu executions (%lu passes over %zu inputs) in %.3f s: %.1f exec/s\n",
           executions, passes, kept_count, elapsed,
           elapsed > 0 ? (double)executions / elapsed : 0.0);
    return 0;
}

/* Reads and runs one file; returns 0, or -1 after a message. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t size = fread(input, 1, sizeof(input), f);
    int read_failed = ferror(f);
    fclose(f);
    if (read_failed) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    if (size > REPLAY_MAX_INPUT_BYTES) {
        fprintf(stderr, "replay: %s is larger than %u bytes, the most an input may be\n", path,
                (unsigned)REPLAY_MAX_INPUT_BYTES);
        return -1;
    }
    /* A copy of exactly `size` bytes, so ASan sees any read past the input's end. */
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) {
        fprintf(stderr, "replay: out of memory for %s\n", path);
        return -1;
    }
    memcpy(copy, input, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
    replayed++;
    if (timed_seconds > 0 && keep(input, size) != 0) {
        fprintf(stderr, "replay: out of memory keeping %s\n", path);
        return -1;
    }
    return 0;
}

static int compare_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Runs every regular file directly in `dir`, in name order; returns the failures. */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot open directory %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char **paths = NULL;
    size_t count = 0, cap = 0;
    int failures = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", and hidden files (.gitkeep, editor leftovers) */
        if (count == REPLAY_MAX_DIR_ENTRIES) {
            fprintf(stderr, "replay: %s has more than %u entries\n", dir,
                    REPLAY_MAX_DIR_ENTRIES);
            failures++;
            break;
        }
        if (count == cap) {
            size_t new_cap = cap ? cap * 2 : 64;
            char **grown = realloc(paths, new_cap * sizeof(*paths));
            if (grown == NULL) {
                fprintf(stderr, "replay: out of memory listing %s\n", dir);
                failures++;
                break;
            }
            paths = grown;
            cap = new_cap;
        }
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        char *path = malloc(len);
        if (path == NULL) {
            fprintf(stderr, "replay: out of memory listing %s\n", dir);
            failures++;
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        paths[count++] = path;
    }
    closedir(d);
    if (count > 0)
        qsort(paths, count, sizeof(*paths), compare_names);
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        /* Regular files only: subdirectories are not descended into. */
        if (stat(paths[i], &st) == 0 && S_ISREG(st.st_mode) && replay_file(paths[i]) != 0)
            failures++;
        free(paths[i]);
    }
    free(paths);
    return failures;
}

int main(int argc, char **argv)
{
    int first = 1;
    if (argc > 1 && strncmp(argv[1], "-seconds=", 9) == 0) {
        char *end;
        timed_seconds = strtod(argv[1] + 9, &end);
        if (*end != '\0' || !(timed_seconds > 0 && timed_seconds <= 86400)) {
            fprintf(stderr, "replay: %s: want -seconds=S with 0 < S <= 86400\n", argv[1]);
            return 1;
        }
        first = 2;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: %s [-seconds=S] FILE|DIR...\n", argv[0]);
        return 1;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    int failures = 0;
    for (int i = first; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: cannot open %s: %s\n", argv[i], strerror(errno));
            failures++;
        } else if (S_ISDIR(st.st_mode)) {
            failures += replay_dir(argv[i]);
        } else if (replay_file(argv[i]) != 0) {
            failures++;
        }
    }
    printf("replayed %lu inputs\n", replayed);
    if (replayed == 0) {
        fprintf(stderr, "replay: no input was replayed\n");
        return 1;
    }
    if (failures == 0 && timed_seconds > 0)
        failures += timed_passes();
    for (size_t i = 0; i < kept_count; i++)
        free(kept[i].bytes);
    free(kept);
    return failures > 0 ? 1 : 0;
}
