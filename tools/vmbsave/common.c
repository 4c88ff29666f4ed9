/* Helpers every subcommand uses: messages, opening the implementation, reading programs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

vmbsave_runner *cli_open_runner(const char *plugin_path)
{
    char err[512] = "";
    vmbsave_runner *runner =
        plugin_path != NULL
            ? vmbsave_runner_open_path(plugin_path, err, sizeof(err))
            : vmbsave_runner_open_entry(vmbsave_reference_get_interface, err, sizeof(err));
    if (runner == NULL)
        cli_error("%s: %s", plugin_path != NULL ? plugin_path : "the built-in reference",
                  err[0] != '\0' ? err : "cannot open the implementation");
    return runner;
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
