/* vmbsave run [--impl LIB.so] [--target NAME] [--text] [--timeout SECONDS] FILE|DIR...:
 * replays inputs (programs, or any fuzz target's inputs expanded as it runs them), each in a
 * child process, one result line per input and a summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "cli.h"
#include "diff_replay.h"
#include "io.h"

typedef struct run_totals {
    unsigned long passed, failed, errors;
} run_totals;

/* What one input is read as, and the room to expand it in (4 MiB: allocated once). */
typedef struct run_input {
    bool text;
    vmbsave_fuzz_target target;
    vmbsave_fuzz_input *expanded;
} run_input;

static void run_one(const char *plugin, const char *path, const run_input *in,
                    unsigned timeout, run_totals *totals)
{
    char err[512];
    if (cli_load_input(path, in->text, in->target, in->expanded, err, sizeof(err)) != 0) {
        printf("%s: error: %s\n", path, err);
        totals->errors++;
        return;
    }
    child_outcome outcome;
    char line[1024];
    int rc;
    if (in->target == VMBSAVE_FUZZ_TARGET_DIFFERENTIAL) {
        /* Both sides, each in its own child, compared (diff_replay.h). */
        static diff_replay d;
        diff_replay_run(plugin, &in->expanded->program, timeout, &d);
        snprintf(line, sizeof(line), "%s", d.line);
        rc = d.exit;
    } else {
        child_run(plugin, &in->expanded->program, &in->expanded->options, timeout, NULL, &outcome);
        child_outcome_text(&outcome, line, sizeof(line));
        rc = child_outcome_exit(&outcome);
    }
    printf("%s: %s\n", path, line);
    switch (rc) {
    case CLI_EXIT_CLEAN: totals->passed++; break;
    case CLI_EXIT_FINDING: totals->failed++; break;
    default: totals->errors++; break;
    }
}

int cmd_run(int argc, char **argv)
{
    const char *impl = NULL;
    run_input in = {.text = false, .target = VMBSAVE_FUZZ_TARGET_SAVE_SESSION, .expanded = NULL};
    int target = VMBSAVE_FUZZ_TARGET_SAVE_SESSION;
    unsigned timeout = CLI_DEFAULT_TIMEOUT;
    char **inputs = calloc((size_t)argc, sizeof(*inputs));
    if (inputs == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    size_t input_count = 0;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        int m;
        if (options_done || argv[i][0] != '-' || argv[i][1] == '\0') {
            inputs[input_count++] = argv[i];
        } else if (strcmp(argv[i], "--") == 0) {
            options_done = true;
        } else if (strcmp(argv[i], "--text") == 0) {
            in.text = true;
        } else if ((m = cli_option_value(argc, argv, &i, "--target", &value)) != 0) {
            if (cli_parse_target("run", m, value, &target) != 0) {
                free(inputs);
                return CLI_EXIT_USAGE;
            }
        } else if ((m = cli_option_value(argc, argv, &i, "--impl", &value)) != 0) {
            if (m < 0 || value[0] == '\0') {
                free(inputs);
                return cli_usage_error("run", "--impl needs a plug-in path");
            }
            impl = value;
        } else if ((m = cli_option_value(argc, argv, &i, "--timeout", &value)) != 0) {
            if (m < 0 || !cli_parse_timeout(value, &timeout)) {
                free(inputs);
                return cli_usage_error("run", "--timeout needs a number of seconds, 0..%u",
                                       CLI_MAX_TIMEOUT);
            }
        } else {
            int rc = cli_usage_error("run", "unknown option '%s'", argv[i]);
            free(inputs);
            return rc;
        }
    }
    in.target = (vmbsave_fuzz_target)target;
    if (input_count == 0) {
        free(inputs);
        return cli_usage_error("run", "no FILE or DIR given");
    }
    if (cli_check_text_target("run", in.text, in.target) != 0) {
        free(inputs);
        return CLI_EXIT_USAGE;
    }
    in.expanded = malloc(sizeof(*in.expanded));
    if (in.expanded == NULL) {
        free(inputs);
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }

    char plugin[4096];
    if (cli_probe_implementation(impl, plugin, sizeof(plugin), NULL) != 0) {
        free(in.expanded);
        free(inputs);
        return CLI_EXIT_USAGE;
    }
    const char *plugin_or_reference = impl != NULL ? plugin : NULL;
    if (in.target == VMBSAVE_FUZZ_TARGET_DIFFERENTIAL)
        cli_differential_note();
    run_totals totals = {0, 0, 0};
    for (size_t k = 0; k < input_count; k++) {
        const char *input = inputs[k];
        if (!io_is_directory(input)) {
            run_one(plugin_or_reference, input, &in, timeout, &totals);
            continue;
        }
        char **files;
        size_t count;
        char err[512];
        if (io_list_directory(input, CLI_MAX_DIR_ENTRIES, &files, &count, err, sizeof(err)) !=
            0) {
            printf("%s: error: %s\n", input, err);
            totals.errors++;
            continue;
        }
        for (size_t j = 0; j < count; j++)
            run_one(plugin_or_reference, files[j], &in, timeout, &totals);
        io_free_list(files, count);
    }
    free(in.expanded);
    free(inputs);

    printf("%lu passed, %lu failed", totals.passed, totals.failed);
    if (totals.errors > 0)
        printf(", %lu errors", totals.errors);
    printf("\n");
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        return CLI_EXIT_USAGE;
    }
    if (totals.failed > 0)
        return CLI_EXIT_FINDING;
    if (totals.errors > 0)
        return CLI_EXIT_USAGE;
    if (totals.passed == 0) {
        cli_error("run: no input file found");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_CLEAN;
}
