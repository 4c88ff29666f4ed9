/* Helpers every subcommand uses: messages, opening the implementation, reading programs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "child.h"
#include "cli.h"
#include "io.h"
#include "reference.h"

static void vprint_error(const char *fmt, va_list ap)
{
    char text[1024];
    vsnprintf(text, sizeof(text), fmt, ap);
    for (char *p = text; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20u || *p == 0x7F)
            *p = ' '; /* one line, whatever a file name or a dlerror() holds */
    }
    fflush(stdout);
    fprintf(stderr, "vmbsave: %s\n", text);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_error(fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *subcommand, const char *fmt, ...)
{
    char text[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (subcommand != NULL)
        cli_error("%s: %s (see 'vmbsave %s --help')", subcommand, text, subcommand);
    else
        cli_error("%s (see 'vmbsave --help')", text);
    return CLI_EXIT_USAGE;
}

bool cli_parse_timeout(const char *text, unsigned *out)
{
    if (text[0] < '0' || text[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > CLI_MAX_TIMEOUT)
        return false;
    *out = (unsigned)v;
    return true;
}

int cli_probe_implementation(const char *impl, char *path, size_t path_size,
                             child_outcome *probe)
{
    child_outcome local;
    child_outcome *o = probe != NULL ? probe : &local;
    const char *plugin = NULL;
    if (impl != NULL) {
        /* A path: a bare name means ./name, never the library search (which would find
         * libc.so.6 and load the C library). */
        if ((size_t)snprintf(path, path_size, "%s%s", strchr(impl, '/') != NULL ? "" : "./", impl) >=
            path_size) {
            cli_error("--impl %s: path too long", impl);
            return -1;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) {
            cli_error("--impl %s: %s", impl, strerror(errno));
            return -1;
        }
        if (!S_ISREG(sb.st_mode)) {
            cli_error("--impl %s: not a regular file", impl);
            return -1;
        }
        plugin = path;
    }
    child_run(plugin, NULL, NULL, CLI_DEFAULT_TIMEOUT, NULL, o);
    if (o->status == CHILD_FINISHED)
        return 0;
    char why[1024];
    child_outcome_text(o, why, sizeof(why));
    cli_error("%s is not a usable plug-in: %s", impl != NULL ? impl : "the built-in reference",
              o->status == CHILD_FAILED ? o->error : why);
    return -1;
}

int cli_load_program(const char *path, bool text, vmbsave_program *out, char *err,
                     size_t err_size)
{
    uint8_t *bytes;
    size_t size;
    if (io_read_file(path, CLI_MAX_INPUT_BYTES, &bytes, &size, err, err_size) != 0)
        return -1;
    int rc = 0;
    if (text) {
        if (memchr(bytes, '\0', size) != NULL) {
            snprintf(err, err_size, "a NUL byte in a text-form program (is it byte form?)");
            rc = -1;
        } else if (vmbsave_program_parse((const char *)bytes, out, err, err_size) != 0) {
            rc = -1;
        }
    } else {
        vmbsave_program_decode(bytes, size, out);
    }
    free(bytes);
    return rc;
}

int cli_read_program(const char *path, bool text, vmbsave_program *out)
{
    char err[512];
    if (cli_load_program(path, text, out, err, sizeof(err)) != 0) {
        cli_error("%s: %s", path, err);
        return -1;
    }
    return 0;
}

int cli_parse_target(const char *subcommand, int m, const char *value, int *target)
{
    int t = m > 0 ? vmbsave_fuzz_target_find(value) : -1;
    if (t < 0) {
        if (m < 0)
            return cli_usage_error(subcommand, "--target needs a fuzz target: one of %s",
                                   vmbsave_fuzz_target_names());
        return cli_usage_error(subcommand, "unknown fuzz target '%s': one of %s", value,
                               vmbsave_fuzz_target_names());
    }
    *target = t;
    return 0;
}

int cli_check_text_target(const char *subcommand, bool text, vmbsave_fuzz_target target)
{
    if (text && !(target == VMBSAVE_FUZZ_TARGET_SAVE_SESSION ||
                  target == VMBSAVE_FUZZ_TARGET_DIFFERENTIAL))
        return cli_usage_error(subcommand,
                               "--text reads a program: fuzz_%s's inputs are byte form only",
                               vmbsave_fuzz_target_name(target));
    return 0;
}

void cli_differential_note(void)
{
    printf("note: --target differential runs the program (its fault_alloc steps dropped, as the "
           "target drops them) against the implementation and against the reference, each in a "
           "child of its own, and compares them call by call (docs/DIFFERENTIAL.md)\n");
}

int cli_load_input(const char *path, bool text, vmbsave_fuzz_target target,
                   vmbsave_fuzz_input *out, char *err, size_t err_size)
{
    if (text) {
        memset(&out->options, 0, sizeof(out->options));
        int rc = cli_load_program(path, true, &out->program, err, err_size);
        if (rc == 0 && target == VMBSAVE_FUZZ_TARGET_DIFFERENTIAL)
            vmbsave_fuzz_differential_program(&out->program);
        return rc;
    }
    uint8_t *bytes;
    size_t size;
    if (io_read_file(path, CLI_MAX_INPUT_BYTES, &bytes, &size, err, err_size) != 0)
        return -1;
    bool built = vmbsave_fuzz_input_build(target, bytes, size, out, err, err_size);
    free(bytes);
    return built ? 0 : -1;
}

int cli_option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0)
        return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}
