/* vmbsave encode TEXT [-o OUT]: a text-form program to byte form. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "io.h"

int cmd_encode(int argc, char **argv)
{
    const char *file = NULL;
    const char *output = NULL;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (!options_done && strcmp(arg, "-o") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("encode", "-o needs a file name");
            if (output != NULL)
                return cli_usage_error("encode", "-o given twice");
            output = argv[++i];
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            return cli_usage_error("encode", "unknown option '%s'", arg);
        } else if (file != NULL) {
            return cli_usage_error("encode", "takes one TEXT file");
        } else {
            file = arg;
        }
    }
    if (file == NULL)
        return cli_usage_error("encode", "no TEXT file given");
    if (output == NULL && isatty(STDOUT_FILENO))
        return cli_usage_error("encode", "standard output is a terminal; use -o OUT or "
                                         "redirect it");

    vmbsave_program program;
    if (cli_read_program(file, true, &program) != 0)
        return CLI_EXIT_USAGE;
    static uint8_t bytes[VMBSAVE_PROGRAM_MAX_BYTES];
    size_t size = vmbsave_program_encode(&program, bytes, sizeof(bytes));
    if (program.count > 0 && size == 0) {
        cli_error("%s: the byte form does not fit in %u bytes", file, VMBSAVE_PROGRAM_MAX_BYTES);
        return CLI_EXIT_USAGE;
    }
    if (output != NULL) {
        char err[512];
        if (io_write_atomic(output, bytes, size, err, sizeof(err)) != 0) {
            cli_error("%s: %s", output, err);
            return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_CLEAN;
    }
    if (fwrite(bytes, 1, size, stdout) != size || fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_CLEAN;
}
