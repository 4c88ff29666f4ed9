/* The vmbsave command (docs/vmbsave.1): subcommands, exit statuses and messages. */
#ifndef VMBSAVE_CLI_H
#define VMBSAVE_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "run/fuzz_input.h"
#include "program/program.h"
#include "run/runner.h"

/* Exit statuses (docs/vmbsave.1, EXIT STATUS). */
enum {
    CLI_EXIT_CLEAN = 0,   /* every input passed */
    CLI_EXIT_FINDING = 1, /* a contract violation or an implementation crash */
    CLI_EXIT_USAGE = 2    /* a usage error, an unreadable or unwritable file, an input that
                             could not be run */
};

/* The largest input file read (byte or text form); bigger ones are refused. The largest input
 * any fuzz target uses: a restore_raw header and a whole image (programs are far smaller; byte
 * decoding ignores everything past VMBSAVE_PROGRAM_MAX_BYTES). */
#define CLI_MAX_INPUT_BYTES (VMBSAVE_RAW_HEADER_BYTES + VMBSAVE_RUN_MAX_IMAGE_BYTES)
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

/* Checks --impl before anything runs: `impl` (NULL: the linked-in reference) must be a regular
 * file (a bare name means ./name; the resolved path goes into `path`) that a child process can
 * open as a plug-in. vmbsave's own process never loads it. 0, with the implementation's names
 * in probe (may be NULL); or -1 after printing one line saying why. */
struct child_outcome;
int cli_probe_implementation(const char *impl, char *path, size_t path_size,
                             struct child_outcome *probe);

/* Reads `path` as a program: byte form, or text form with `text`. Returns 0, or -1 with a
 * one-line reason in err. */
int cli_load_program(const char *path, bool text, vmbsave_program *out, char *err,
                     size_t err_size);
/* The same, printing "vmbsave: PATH: reason" on failure. */
int cli_read_program(const char *path, bool text, vmbsave_program *out);

/* --target NAME (run, repro): the fuzz target whose input a file is (harness/run/fuzz_input.h).
 * Sets *target, or returns CLI_EXIT_USAGE after a message listing the names (m: what
 * cli_option_value returned, nonzero). */
int cli_parse_target(const char *subcommand, int m, const char *value, int *target);
/* --text reads a program, which only save_session and differential take: CLI_EXIT_USAGE after
 * a message for another target, else 0. */
int cli_check_text_target(const char *subcommand, bool text, vmbsave_fuzz_target target);
/* For --target differential: says on standard output what a replay checks, and what not. */
void cli_differential_note(void);

/* Reads `path` as an input of fuzz target `target` and expands it as the target does into
 * `out` (harness/run/fuzz_input.h): a program and the images to preload. With `text` the file is a
 * program in text form (save_session, differential). Returns 0, or -1 with a one-line reason
 * in err (also for an input the target runs nothing for). */
int cli_load_input(const char *path, bool text, vmbsave_fuzz_target target,
                   vmbsave_fuzz_input *out, char *err, size_t err_size);

#endif
