/* File input and output for the vmbsave command (io.h). */
#define _XOPEN_SOURCE 700 /* realpath */

#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int io_read_file(const char *path, size_t max, uint8_t **bytes, size_t *size, char *err,
                 size_t err_size)
{
    *bytes = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; the type is
     * checked right after, on what was opened. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, err_size, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, err_size, "cannot stat: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, err_size, "is a directory");
        close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, err_size, "not a regular file");
        close(fd);
        return -1;
    }
    if ((uintmax_t)sb.st_size > max) {
        snprintf(err, err_size, "too large (%jd bytes; the maximum is %zu)",
                 (intmax_t)sb.st_size, max);
        close(fd);
        return -1;
    }
    /* Read up to max + 1 bytes: a file that grew since fstat is still caught. */
    uint8_t *buf = malloc(max + 2u);
    if (buf == NULL) {
        snprintf(err, err_size, "out of memory");
        close(fd);
        return -1;
    }
    size_t have = 0;
    while (have <= max) {
        ssize_t n = read(fd, buf + have, max + 1u - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_size, "cannot read: %s", strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        have += (size_t)n;
    }
    close(fd);
    if (have > max) {
        snprintf(err, err_size, "too large (more than %zu bytes)", max);
        free(buf);
        return -1;
    }
    buf[have] = 0;
    *bytes = buf;
    *size = have;
    return 0;
}

bool io_is_directory(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void io_free_list(char **paths, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(paths[i]);
    free(paths);
}

int io_list_directory(const char *dir, size_t max, char ***paths, size_t *count, char *err,
                      size_t err_size)
{
    *paths = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err, err_size, "cannot open directory: %s", strerror(errno));
        return -1;
    }
    char **list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    size_t dir_len = strlen(dir);
    bool slash = dir_len > 0 && dir[dir_len - 1u] == '/';
    for (;;) {
        errno = 0;
        struct dirent *ent = readdir(d);
        if (ent == NULL) {
            if (errno != 0) {
                snprintf(err, err_size, "cannot read directory: %s", strerror(errno));
                rc = -1;
            }
            break;
        }
        /* Dot files (.gitkeep in an empty corpus folder, editors' files) are not inputs. */
        if (ent->d_name[0] == '.')
            continue;
        size_t len = dir_len + 1u + strlen(ent->d_name) + 1u;
        char *path = malloc(len);
        if (path == NULL) {
            snprintf(err, err_size, "out of memory");
            rc = -1;
            break;
        }
        snprintf(path, len, "%s%s%s", dir, slash ? "" : "/", ent->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(path); /* one level only: subdirectories and special files are not inputs */
            continue;
        }
        if (n >= max) {
            snprintf(err, err_size, "more than %zu files", max);
            free(path);
            rc = -1;
            break;
        }
        if (n == cap) {
            size_t new_cap = cap != 0 ? cap * 2u : 64u;
            char **grown = realloc(list, new_cap * sizeof(*list));
            if (grown == NULL) {
                snprintf(err, err_size, "out of memory");
                free(path);
                rc = -1;
                break;
            }
            list = grown;
            cap = new_cap;
        }
        list[n++] = path;
    }
    closedir(d);
    if (rc != 0) {
        io_free_list(list, n);
        return -1;
    }
    if (n > 0)
        qsort(list, n, sizeof(*list), compare_paths);
    *paths = list;
    *count = n;
    return 0;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1u;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

int io_atomic_begin(io_atomic *a, const char *path, char *err, size_t err_size)
{
    memset(a, 0, sizeof(*a));
    /* Replace only regular files (renaming over /dev/null would replace the device), and
     * through a symbolic link replace its target, not the link. */
    struct stat sb;
    char *resolved = NULL;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            snprintf(err, err_size, "exists and is not a regular file");
            return -1;
        }
        resolved = realpath(path, NULL);
        if (resolved == NULL) {
            snprintf(err, err_size, "cannot resolve: %s", strerror(errno));
            return -1;
        }
        path = resolved;
    }
    static const char suffix[] = ".vmbsave-tmp-XXXXXX";
    size_t len = strlen(path) + sizeof(suffix);
    a->temp_path = malloc(len);
    a->path = dup_string(path);
    free(resolved);
    if (a->temp_path == NULL || a->path == NULL) {
        snprintf(err, err_size, "out of memory");
        free(a->temp_path);
        free(a->path);
        return -1;
    }
    snprintf(a->temp_path, len, "%s%s", a->path, suffix);
    int fd = mkstemp(a->temp_path);
    if (fd < 0) {
        snprintf(err, err_size, "cannot create a file beside it: %s", strerror(errno));
        free(a->temp_path);
        free(a->path);
        return -1;
    }
    /* mkstemp makes the file 0600; give it the mode a plain create would have. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    a->file = fdopen(fd, "wb");
    if (a->file == NULL) {
        snprintf(err, err_size, "cannot open the temporary file: %s", strerror(errno));
        close(fd);
        unlink(a->temp_path);
        free(a->temp_path);
        free(a->path);
        return -1;
    }
    return 0;
}

void io_atomic_abort(io_atomic *a)
{
    if (a->file != NULL)
        fclose(a->file);
    if (a->temp_path != NULL)
        unlink(a->temp_path);
    free(a->temp_path);
    free(a->path);
    memset(a, 0, sizeof(*a));
}

int io_atomic_commit(io_atomic *a, char *err, size_t err_size)
{
    int rc = 0;
    if (fflush(a->file) != 0 || ferror(a->file)) {
        snprintf(err, err_size, "cannot write: %s", strerror(errno));
        rc = -1;
    } else if (fsync(fileno(a->file)) != 0) {
        snprintf(err, err_size, "cannot sync: %s", strerror(errno));
        rc = -1;
    }
    if (fclose(a->file) != 0 && rc == 0) {
        snprintf(err, err_size, "cannot write: %s", strerror(errno));
        rc = -1;
    }
    a->file = NULL;
    if (rc == 0 && rename(a->temp_path, a->path) != 0) {
        snprintf(err, err_size, "cannot rename into place: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(a->temp_path);
    free(a->temp_path);
    free(a->path);
    memset(a, 0, sizeof(*a));
    return rc;
}

int io_write_atomic(const char *path, const void *bytes, size_t size, char *err,
                    size_t err_size)
{
    io_atomic a;
    if (io_atomic_begin(&a, path, err, err_size) != 0)
        return -1;
    if (size > 0 && fwrite(bytes, 1, size, a.file) != size) {
        snprintf(err, err_size, "cannot write: %s", strerror(errno));
        io_atomic_abort(&a);
        return -1;
    }
    return io_atomic_commit(&a, err, err_size);
}
