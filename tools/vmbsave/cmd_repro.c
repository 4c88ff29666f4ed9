/* vmbsave repro [--impl LIB.so] [--target NAME] [--text] [--timeout SECONDS] [--emit-c OUT.c]
 * [--minimize OUT] FILE: replays one program (or a fuzz target's input, expanded to the program
 * the target runs: harness/run/fuzz_input.h) in a child process, printing each call as the child
 * reports it, then the verdict; optionally writes a C reproducer and a minimised program. */
#define _XOPEN_SOURCE 700 /* realpath */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "cli.h"
#include "repro/emit_c.h"
#include "program/minimize.h"
#include "diff_replay.h"
#include "io.h"

typedef struct repro_options {
    const char *impl;
    const char *file;
    const char *emit_c;
    const char *minimize;
    bool text;
    vmbsave_fuzz_target target;
    unsigned timeout;
} repro_options;

/* What the parent hears from the child, and prints. */
typedef struct repro_listener {
    const vmbsave_program *program;
    vmbsave_emitter *emitter; /* NULL without --emit-c */
    uint32_t shown_step;      /* step of the last trace line, UINT32_MAX before the first */
    uint32_t traced;          /* trace entries shown */
    uint32_t calls_announced; /* call statements received */
    vmbsave_call last_call;   /* the last call announced, for a crash inside it */
    uint32_t last_call_step;
    vmbsave_trace_entry *entries; /* every entry, to find the violating call's */
    uint32_t entry_count;
} repro_listener;

static void show_step(repro_listener *r, uint32_t step)
{
    if (step == r->shown_step)
        return;
    r->shown_step = step;
    char text[256] = "";
    if (step < r->program->count)
        vmbsave_step_print(&r->program->steps[step], text, sizeof(text));
    printf("step %lu: %s\n", (unsigned long)step, text);
}

static void on_trace(void *context, uint32_t index, const vmbsave_trace_entry *e)
{
    repro_listener *r = context;
    show_step(r, e->step);
    char call[256];
    vmbsave_call_text(&e->call, call, sizeof(call));
    printf("  #%-4lu %s", (unsigned long)index, call);
    if (e->has_status) {
        const char *name = vmbsave_status_name(e->status);
        if (name != NULL)
            printf(" -> %s", name);
        else
            printf(" -> 0x%08lX", (unsigned long)(uint32_t)e->status);
    }
    if (e->has_counts)
        printf("  filled=%lu required=%lu", (unsigned long)e->filled,
               (unsigned long)e->required);
    if (e->faults_injected != 0)
        printf("  faults=%lu", (unsigned long)e->faults_injected);
    if (e->note[0] != '\0')
        printf("  # %s", e->note);
    printf("\n");
    fflush(stdout);
    r->traced = index + 1u;
    if (r->entries != NULL && r->entry_count < CLI_MAX_TRACE && index == r->entry_count)
        r->entries[r->entry_count++] = *e;
}

static void on_statement(void *context, uint32_t step, const vmbsave_call *call)
{
    repro_listener *r = context;
    if (vmbsave_call_desc_of(call->op)->traced) {
        r->calls_announced++;
        r->last_call_step = step;
        r->last_call = *call;
    }
    if (r->emitter != NULL)
        (void)vmbsave_emitter_add_call(r->emitter, step, call);
}

static void on_data(void *context, const char *name, const void *bytes, size_t size)
{
    repro_listener *r = context;
    if (r->emitter != NULL)
        (void)vmbsave_emitter_add_data(r->emitter, name, bytes, size);
}

static void on_violation(void *context, const vmbsave_violation *violation)
{
    repro_listener *r = context;
    if (r->emitter != NULL)
        vmbsave_emitter_set_violation(r->emitter, violation, NULL);
}

/* The crashing call: the last one announced that no trace entry covers. */
static void show_crashed_call(repro_listener *r)
{
    if (r->calls_announced == 0 || r->calls_announced <= r->traced)
        return;
    show_step(r, r->last_call_step);
    char call[256];
    vmbsave_call_text(&r->last_call, call, sizeof(call));
    printf("  #%-4lu %s -> (did not return)\n", (unsigned long)(r->calls_announced - 1u), call);
}

static int write_reproducer(const repro_options *o, repro_listener *r,
                            const child_outcome *outcome)
{
    if (outcome->status == CHILD_FINISHED &&
        outcome->result.verdict == VMBSAVE_VERDICT_VIOLATION) {
        const vmbsave_violation *v = &outcome->result.violation;
        const vmbsave_trace_entry *entry =
            v->call < r->entry_count ? &r->entries[v->call] : NULL;
        vmbsave_emitter_set_violation(r->emitter, v, entry);
    } else if (outcome->status == CHILD_SIGNALLED) {
        vmbsave_emitter_set_crash(r->emitter, outcome->signal_number);
    } else {
        cli_error("--emit-c: the run neither violated a clause nor died of a signal; %s not "
                  "written", o->emit_c);
        return -1;
    }
    char resolved[PATH_MAX];
    const char *plugin = NULL;
    if (o->impl != NULL)
        plugin = realpath(o->impl, resolved) != NULL ? resolved : o->impl;

    io_atomic a;
    char err[512];
    if (io_atomic_begin(&a, o->emit_c, err, sizeof(err)) != 0) {
        cli_error("%s: %s", o->emit_c, err);
        return -1;
    }
    if (vmbsave_emitter_write(r->emitter, a.file, vmbsave_emitter_runtime_text(),
                              plugin, err, sizeof(err)) != 0) {
        io_atomic_abort(&a);
        cli_error("%s: %s", o->emit_c, err);
        return -1;
    }
    if (io_atomic_commit(&a, err, sizeof(err)) != 0) {
        cli_error("%s: %s", o->emit_c, err);
        return -1;
    }
    printf("reproducer written to %s (cc -o repro %s -ldl)\n", o->emit_c, o->emit_c);
    return 0;
}

/* Minimisation judges each candidate in its own child: shrinking can make a program crash. */
typedef struct minimize_target {
    const char *plugin;
    const vmbsave_run_options *preload;
    const child_outcome *original;
    unsigned timeout;
} minimize_target;

static bool fails_the_same_way(void *context, const vmbsave_program *candidate)
{
    const minimize_target *t = context;
    child_outcome outcome;
    child_run(t->plugin, candidate, t->preload, t->timeout, NULL, &outcome);
    return child_outcome_same_failure(t->original, &outcome);
}

static int write_minimized(const repro_options *o, const char *plugin,
                           const vmbsave_fuzz_input *input, const child_outcome *outcome)
{
    if (!child_outcome_is_failure(outcome)) {
        cli_error("--minimize: the program does not fail; %s not written", o->minimize);
        return -1;
    }
    const vmbsave_program *program = &input->program;
    minimize_target target = {plugin, &input->options, outcome, o->timeout};
    vmbsave_program smaller;
    vmbsave_minimize_stats stats;
    vmbsave_minimize(program, fails_the_same_way, &target, 0, &smaller, &stats);

    static uint8_t bytes[VMBSAVE_PROGRAM_MAX_BYTES];
    size_t size = vmbsave_program_encode(&smaller, bytes, sizeof(bytes));
    char err[512];
    if (io_write_atomic(o->minimize, bytes, size, err, sizeof(err)) != 0) {
        cli_error("%s: %s", o->minimize, err);
        return -1;
    }
    char *text = malloc(VMBSAVE_PROGRAM_TEXT_MAX_BYTES + 1u);
    if (text == NULL) {
        cli_error("out of memory");
        return -1;
    }
    size_t len = vmbsave_program_print(&smaller, text, VMBSAVE_PROGRAM_TEXT_MAX_BYTES + 1u);
    printf("minimized: %lu steps (from %lu; %lu candidates tried%s), written to %s%s:\n",
           (unsigned long)smaller.count, (unsigned long)program->count,
           (unsigned long)stats.candidates,
           stats.budget_exhausted ? ", budget exhausted" : "", o->minimize,
           o->target != VMBSAVE_FUZZ_TARGET_SAVE_SESSION
               ? " (a bare program, the expanded one shrunk: replay it without --target)"
               : "");
    fwrite(text, 1, len, stdout);
    free(text);
    return 0;
}

static int parse_options(int argc, char **argv, repro_options *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout = CLI_DEFAULT_TIMEOUT;
    int target = VMBSAVE_FUZZ_TARGET_SAVE_SESSION;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        int m;
        if (options_done || argv[i][0] != '-' || argv[i][1] == '\0') {
            if (o->file != NULL)
                return cli_usage_error("repro", "takes one FILE");
            o->file = argv[i];
        } else if (strcmp(argv[i], "--") == 0) {
            options_done = true;
        } else if (strcmp(argv[i], "--text") == 0) {
            o->text = true;
        } else if ((m = cli_option_value(argc, argv, &i, "--target", &value)) != 0) {
            if (cli_parse_target("repro", m, value, &target) != 0)
                return CLI_EXIT_USAGE;
        } else if ((m = cli_option_value(argc, argv, &i, "--impl", &value)) != 0) {
            if (m < 0 || value[0] == '\0')
                return cli_usage_error("repro", "--impl needs a plug-in path");
            o->impl = value;
        } else if ((m = cli_option_value(argc, argv, &i, "--emit-c", &value)) != 0) {
            if (m < 0 || value[0] == '\0')
                return cli_usage_error("repro", "--emit-c needs an output file");
            o->emit_c = value;
        } else if ((m = cli_option_value(argc, argv, &i, "--minimize", &value)) != 0) {
            if (m < 0 || value[0] == '\0')
                return cli_usage_error("repro", "--minimize needs an output file");
            o->minimize = value;
        } else if ((m = cli_option_value(argc, argv, &i, "--timeout", &value)) != 0) {
            if (m < 0 || !cli_parse_timeout(value, &o->timeout))
                return cli_usage_error("repro", "--timeout needs a number of seconds, 0..%u",
                                       CLI_MAX_TIMEOUT);
        } else {
            return cli_usage_error("repro", "unknown option '%s'", argv[i]);
        }
    }
    o->target = (vmbsave_fuzz_target)target;
    if (o->file == NULL)
        return cli_usage_error("repro", "no FILE given");
    if (cli_check_text_target("repro", o->text, o->target) != 0)
        return CLI_EXIT_USAGE;
    /* Its program is one RESTORE of the input's image: the image is what would need shrinking,
     * and a bare program cannot carry it. */
    if (o->minimize != NULL && o->target == VMBSAVE_FUZZ_TARGET_RESTORE_RAW)
        return cli_usage_error("repro", "--minimize does not shrink restore_raw inputs (their "
                                        "program is one restore of the input's image)");
    if (o->emit_c != NULL && o->minimize != NULL && strcmp(o->emit_c, o->minimize) == 0)
        return cli_usage_error("repro", "--emit-c and --minimize name the same file");
    return 0;
}

int cmd_repro(int argc, char **argv)
{
    repro_options o;
    if (parse_options(argc, argv, &o) != 0)
        return CLI_EXIT_USAGE;

    /* 4 MiB (room for restore_raw's image): allocated once. */
    vmbsave_fuzz_input *input = malloc(sizeof(*input));
    if (input == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    char err[512];
    if (cli_load_input(o.file, o.text, o.target, input, err, sizeof(err)) != 0) {
        cli_error("%s: %s", o.file, err);
        free(input);
        return CLI_EXIT_USAGE;
    }
    const vmbsave_program *program = &input->program;
    char plugin_path[4096];
    child_outcome probe;
    if (cli_probe_implementation(o.impl, plugin_path, sizeof(plugin_path), &probe) != 0) {
        free(input);
        return CLI_EXIT_USAGE;
    }
    const char *plugin = o.impl != NULL ? plugin_path : NULL;

    repro_listener r;
    memset(&r, 0, sizeof(r));
    r.program = program;
    r.shown_step = UINT32_MAX;
    r.entries = calloc(CLI_MAX_TRACE, sizeof(*r.entries));
    if (o.emit_c != NULL)
        r.emitter = vmbsave_emitter_new(program);
    if (r.entries == NULL || (o.emit_c != NULL && r.emitter == NULL)) {
        cli_error("out of memory");
        free(r.entries);
        vmbsave_emitter_free(r.emitter);
        free(input);
        return CLI_EXIT_USAGE;
    }
    if (o.target == VMBSAVE_FUZZ_TARGET_SAVE_SESSION)
        printf("%s: %lu steps, against %s %s\n", o.file, (unsigned long)program->count,
               probe.impl_name, probe.impl_version);
    else
        printf("%s: a fuzz_%s input, expanded to the %lu steps the target runs, against %s %s\n",
               o.file, vmbsave_fuzz_target_name(o.target), (unsigned long)program->count,
               probe.impl_name, probe.impl_version);
    for (uint32_t i = 0; i < VMBSAVE_PROGRAM_IMAGES; i++)
        if (input->options.preload_image_size[i] != 0)
            printf("image %lu preloaded: %lu bytes of the input\n", (unsigned long)i,
                   (unsigned long)input->options.preload_image_size[i]);
    if (o.target == VMBSAVE_FUZZ_TARGET_DIFFERENTIAL)
        cli_differential_note();

    child_listener listener = {&r, on_trace, on_statement, on_data, on_violation};
    child_outcome outcome;
    child_run(plugin, program, &input->options, o.timeout, &listener, &outcome);
    if (outcome.status != CHILD_FINISHED)
        show_crashed_call(&r);
    char verdict[1024];
    child_outcome_text(&outcome, verdict, sizeof(verdict));
    printf("%s\n", verdict);
    if (outcome.status == CHILD_FINISHED && outcome.result.trace_count > CLI_MAX_TRACE)
        printf("(the trace shows the first %u calls)\n", CLI_MAX_TRACE);

    int rc = child_outcome_exit(&outcome);
    if (o.target == VMBSAVE_FUZZ_TARGET_DIFFERENTIAL && outcome.status == CHILD_FINISHED &&
        outcome.result.verdict == VMBSAVE_VERDICT_PASS) {
        /* The implementation passed the oracle: now both sides, each in its own child, compared
         * call by call; the first difference, and whether the contract allows it. */
        static diff_replay d;
        diff_replay_run(plugin, program, o.timeout, &d);
        printf("against the reference: %s\n", d.line);
        if (d.compared && d.result.outcome == VMBSAVE_DIFFERENTIAL_DISAGREE)
            printf("  first difference: step %u, call #%u %s\n  %s: reference %s\n  %s: implementation %s\n"
                   "  clause %s allows both (docs/DIFFERENTIAL.md): recorded as INFO, not a failure\n",
                   d.result.disagreement.step, d.result.disagreement.call, d.result.disagreement.call_text,
                   vmbsave_differential_field_name(d.result.disagreement.field), d.result.disagreement.reference,
                   vmbsave_differential_field_name(d.result.disagreement.field),
                   d.result.disagreement.implementation, d.result.disagreement.clause);
        if (d.exit != CLI_EXIT_CLEAN)
            rc = d.exit;
    }
    if (o.emit_c != NULL && write_reproducer(&o, &r, &outcome) != 0)
        rc = CLI_EXIT_USAGE;
    if (o.minimize != NULL && write_minimized(&o, plugin, input, &outcome) != 0)
        rc = CLI_EXIT_USAGE;

    free(r.entries);
    vmbsave_emitter_free(r.emitter);
    free(input);
    if (fflush(stdout) != 0) {
        cli_error("cannot write to standard output");
        return CLI_EXIT_USAGE;
    }
    return rc;
}
