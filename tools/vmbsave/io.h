/* File input and output for the vmbsave command: bounded reads, and writes that replace a
 * file only once the new content is complete (temporary file in the same directory, fsync,
 * rename), so a failed write never loses or truncates what was there. */
#ifndef VMBSAVE_CLI_IO_H
#define VMBSAVE_CLI_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Reads the whole regular file `path` into a malloc'd buffer (plus a NUL, not counted).
 * Refuses a file larger than `max` bytes. Returns 0, or -1 with a one-line reason in err. */
int io_read_file(const char *path, size_t max, uint8_t **bytes, size_t *size, char *err,
                 size_t err_size);

/* True if `path` names a directory. */
bool io_is_directory(const char *path);

/* The regular files directly inside `dir` (not its subdirectories), as malloc'd paths
 * "dir/name", sorted by name. At most `max` of them. Returns 0, or -1 with a reason. */
int io_list_directory(const char *dir, size_t max, char ***paths, size_t *count, char *err,
                      size_t err_size);
void io_free_list(char **paths, size_t count);

/* Replaces `path` with `size` bytes, atomically. An existing `path` must be a regular file
 * (or a symbolic link to one, whose target is replaced). Returns 0, or -1 with a reason. */
int io_write_atomic(const char *path, const void *bytes, size_t size, char *err,
                    size_t err_size);

/* The same for content written through a FILE: io_atomic_begin opens a temporary file beside
 * `path`; io_atomic_commit flushes, syncs and renames it over `path`; io_atomic_abort removes
 * it. Exactly one of commit or abort follows a successful begin. */
typedef struct io_atomic {
    FILE *file;
    char *temp_path;
    char *path;
} io_atomic;
int io_atomic_begin(io_atomic *a, const char *path, char *err, size_t err_size);
int io_atomic_commit(io_atomic *a, char *err, size_t err_size);
void io_atomic_abort(io_atomic *a);

#endif
