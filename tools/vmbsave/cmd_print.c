/* vmbsave print FILE: a byte-form program in text form on standard output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_print(int argc, char **argv)
{
    const char *file = NULL;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        if (!options_done && strcmp(argv[i], "--") == 0) {
            options_done = true;
        } else if (!options_done && argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("print", "unknown option '%s'", argv[i]);
        } else if (file != NULL) {
            return cli_usage_error("print", "takes one FILE");
        } else {
            file = argv[i];
        }
    }
    if (file == NULL)
        return cli_usage_error("print", "no FILE given");

    vmbsave_program program;
    if (cli_read_program(file, false, &program) != 0)
        return CLI_EXIT_USAGE;
    char *text = malloc(VMBSAVE_PROGRAM_TEXT_MAX_BYTES + 1u);
    if (text == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    size_t len = vmbsave_program_print(&program, text, VMBSAVE_PROGRAM_TEXT_MAX_BYTES + 1u);
    int rc = CLI_EXIT_CLEAN;
    if (program.count > 0 && len == 0) {
        cli_error("%s: the text form does not fit in %u bytes", file,
                  VMBSAVE_PROGRAM_TEXT_MAX_BYTES);
        rc = CLI_EXIT_USAGE;
    } else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        rc = CLI_EXIT_USAGE;
    }
    free(text);
    return rc;
}
