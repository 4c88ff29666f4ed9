/* The vmbsave command (docs/vmbsave.1): subcommands, exit statuses and messages. */
#ifndef VMBSAVE_CLI_H
#define VMBSAVE_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "harness/program.h"
#include "harness/runner.h"

/* Exit statuses (docs/vmbsave.1, EXIT STATUS). */
enum {
    CLI_EXIT_CLEAN = 0,   /* every input passed */
    CLI_EXIT_FINDING = 1, /* a contract violation or an implementation crash */
    CLI_EXIT_USAGE = 2    /* a usage error, an unreadable or unwritable file, an input that
                             could not be run */
};

/* The largest input file read (byte or text form); bigger ones are refused. Byte-form
 * decoding ignores everything past VMBSAVE_PROGRAM_MAX_BYTES anyway. */
#define CLI_MAX_INPUT_BYTES (1024u * 1024u)
/* Files `run` takes from one directory. */
#define CLI_MAX_DIR_ENTRIES 100000u
/* Calls `repro` traces; later calls still run and are checked, but are not shown. */
#define CLI_MAX_TRACE 32768u
/* Seconds one run of one program may take before it counts as hung (--timeout). */
#define CLI_DEFAULT_TIMEOUT 60u
#define CLI_MAX_TIMEOUT 86400u

/* One line on stderr: "vmbsave: " + the message, control characters replaced. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Each returns the exit status. argv[0] is the subcommand's name. */
int cmd_run(int argc, char **argv);
int cmd_repro(int argc, char **argv);
int cmd_print(int argc, char **argv);
int cmd_encode(int argc, char **argv);

/* Usage text of one subcommand (NULL: the whole command), for --help. */
void cli_print_help(const char *subcommand);
/* "vmbsave: <msg>" plus a hint to run --help, returning CLI_EXIT_USAGE. */
int cli_usage_error(const char *subcommand, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Matches argv[*i] against option `name` taking a value ("--name VALUE" or "--name=VALUE"):
 * 1 and *value set (advancing *i past a separate value), 0 if it is another argument, -1 if
 * the value is missing. */
int cli_option_value(int argc, char **argv, int *i, const char *name, const char **value);

/* Parses --timeout's value: 0..CLI_MAX_TIMEOUT (0: none). */
bool cli_parse_timeout(const char *text, unsigned *out);

/* Opens the implementation: the plug-in at `plugin_path`, or the linked-in reference if NULL.
 * NULL after printing the reason. */
vmbsave_runner *cli_open_runner(const char *plugin_path);

/* Reads `path` as a program: byte form, or text form with `text`. Returns 0, or -1 with a
 * one-line reason in err. */
int cli_load_program(const char *path, bool text, vmbsave_program *out, char *err,
                     size_t err_size);
/* The same, printing "vmbsave: PATH: reason" on failure. */
int cli_read_program(const char *path, bool text, vmbsave_program *out);

#endif
