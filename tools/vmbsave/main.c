/* vmbsave: replay, explain, reproduce and convert harness programs (docs/vmbsave.1). This file
 * dispatches to the subcommands and holds the help texts. */
#include <stdio.h>
#include <string.h>

#include "certify.h"
#include "cli.h"

#ifndef VMBSAVE_VERSION_STRING
#error "VMBSAVE_VERSION_STRING is set by tools/vmbsave/CMakeLists.txt"
#endif

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
    const char *help; /* after the synopsis */
} subcommand;

static const subcommand subcommands[] = {
    {"run", cmd_run,
     "vmbsave run [--impl LIB.so] [--target NAME] [--text] [--timeout SECONDS] FILE|DIR...",
     "Replays each program (byte form: crash files, corpus files; a directory's regular files,\n"
     "one level, sorted by name) against the implementation, each in a child process, and\n"
     "prints one line per input and a summary.\n"
     "  --impl LIB.so        the plug-in to test (default: the built-in reference)\n"
     "  --target NAME        the inputs are fuzz_NAME's, replayed as that target expands them:\n"
     "                       save_session (default), differential, roundtrip, restore,\n"
     "                       restore_raw\n"
     "  --text               the inputs are in text form (save_session, differential only)\n"
     "  --timeout SECONDS    a run taking longer counts as a crash (default 60; 0: none)\n"},
    {"repro", cmd_repro,
     "vmbsave repro [--impl LIB.so] [--target NAME] [--text] [--timeout SECONDS]\n"
     "              [--emit-c OUT.c] [--minimize OUT] FILE",
     "Replays one program and prints every call as it is made (arguments, status, counts,\n"
     "faults injected, notes), then the verdict: the violated clause, step, expected and\n"
     "observed values, or the signal the implementation died of.\n"
     "  --impl LIB.so        the plug-in to test (default: the built-in reference)\n"
     "  --target NAME        FILE is fuzz_NAME's input (default save_session): the program\n"
     "                       the target runs for it is traced, reproduced and minimised\n"
     "  --text               FILE is in text form (default: byte form; not with --target\n"
     "                       roundtrip, restore, restore_raw)\n"
     "  --timeout SECONDS    as for run (default 60; 0: none)\n"
     "  --emit-c OUT.c       write a standalone C reproducer (cc -o repro OUT.c -ldl)\n"
     "  --minimize OUT       shrink the program while it fails the same way; write it to OUT\n"
     "                       (byte form: a bare program, replayed without --target) and print\n"
     "                       its text (not for restore_raw)\n"},
    {"certify", cmd_certify,
     "vmbsave certify --impl LIB.so [--budget SECONDS] [--seed N] [--case PATTERN]...\n"
     "                [--list] [--report DIR] [--jobs N] [--case-timeout SECONDS]\n"
     "                [--memory MIB] [--memcheck none] [--search-seconds S]",
     "Certifies an implementation: runs every case of the conformance suite (one per clause\n"
     "test of docs/SPEC.md, and the exhaustive checks), then every fuzz target's seeds and\n"
     "regressions, then images across it and the reference (INTEROP.*), each in a child\n"
     "process with a time and a memory limit, then searches with mutated programs for the\n"
     "rest of the budget (SEARCH.*), and grades each case:\n"
     "PASS, FAIL, CRASH, TIMEOUT, MEMORY_LIMIT, NOT_SUPPORTED, WARN, INFO, HARNESS_ERROR.\n"
     "The plug-in is only ever loaded in children.\n"
     "  --impl LIB.so        the plug-in (a path; a bare name means ./name)\n"
     "  --budget SECONDS     wall time for the whole run (default 120); cases not started by\n"
     "                       then are not run, and the run is incomplete\n"
     "  --seed N             master seed (default: from the clock; printed first); each\n"
     "                       case's seed derives from it and the case ID alone\n"
     "  --case PATTERN       only cases whose ID is PATTERN or starts with it at a segment\n"
     "                       boundary (SAVE.CONTINUE matches SAVE.CONTINUE.X, not\n"
     "                       SAVE.CONTINUED); repeatable\n"
     "  --list               print the cases (ID, stage, clause, level) and exit\n"
     "  --report DIR         write report.json, junit.xml, summary.md, report.html and\n"
     "                       repro/<case>/ for failures into DIR (each file atomically)\n"
     "  --jobs N             cases run at once (default 1)\n"
     "  --case-timeout S     seconds one case may take (default 20)\n"
     "  --memory MIB         how much one case may grow its address space (default 1024)\n"
     "  --search-seconds S   at most S seconds of search (0: none; default: the rest of the\n"
     "                       budget, less 5% for the report)\n"
     "  --memcheck none      how memory errors inside an uninstrumented plug-in are caught\n"
     "Exit status: 0 certified; 1 not conformant; 2 incomplete or a harness error; 3 usage.\n"},
    {"verify-report", cmd_verify_report, "vmbsave verify-report DIR [--impl LIB.so]",
     "Checks a certify report: report.json matches its own SHA-256, its counts, certified flag\n"
     "and result follow from its cases, junit.xml, summary.md and report.html are the ones it\n"
     "lists, and, with --impl, LIB.so is the library it is about (SHA-256).\n"
     "Exit status: 0 accepted; 1 rejected (each problem is printed); 3 usage or unreadable.\n"},
    {"print", cmd_print, "vmbsave print FILE",
     "Prints a byte-form program in text form, one step per line.\n"},
    {"encode", cmd_encode, "vmbsave encode TEXT [-o OUT]",
     "Converts a text-form program to byte form, written to OUT, or to standard output when\n"
     "that is not a terminal.\n"
     "  -o OUT               the output file (replaced only once complete)\n"},
};
#define SUBCOMMAND_COUNT (sizeof(subcommands) / sizeof(subcommands[0]))

static const char exit_status_help[] =
    "Exit status: 0 every program passed; 1 a contract violation or an implementation crash;\n"
    "2 a usage error, an unreadable or unwritable file, or a program that could not be run.\n";

static const subcommand *find_subcommand(const char *name)
{
    for (size_t i = 0; i < SUBCOMMAND_COUNT; i++) {
        if (strcmp(subcommands[i].name, name) == 0)
            return &subcommands[i];
    }
    return NULL;
}

void cli_print_help(const char *name)
{
    const subcommand *sc = name != NULL ? find_subcommand(name) : NULL;
    if (sc != NULL) {
        printf("usage: %s\n\n%s\n%s", sc->synopsis, sc->help,
               strstr(sc->help, "Exit status:") != NULL ? "" : exit_status_help);
        return;
    }
    printf("usage: vmbsave SUBCOMMAND [OPTIONS] ARGS...\n"
           "       vmbsave help [SUBCOMMAND] | --help | --version\n\n"
           "Replays, explains, reproduces and converts vmbsave harness programs: call sequences\n"
           "against the KMCL channel save/restore plug-in ABI, checked against docs/SPEC.md.\n\n"
           "Subcommands:\n");
    for (size_t i = 0; i < SUBCOMMAND_COUNT; i++)
        printf("  %s\n", subcommands[i].synopsis);
    printf("\n'vmbsave SUBCOMMAND --help' describes one. See also vmbsave(1).\n\n%s",
           exit_status_help);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error(NULL, "no subcommand given");
    const char *first = argv[1];
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0) {
        cli_print_help(NULL);
        return CLI_EXIT_CLEAN;
    }
    if (strcmp(first, "--version") == 0) {
        printf("vmbsave %s (plug-in ABI %u.%u)\n", VMBSAVE_VERSION_STRING, VMBSAVE_ABI_MAJOR,
               VMBSAVE_ABI_MINOR);
        return CLI_EXIT_CLEAN;
    }
    if (strcmp(first, "help") == 0) {
        if (argc > 3)
            return cli_usage_error(NULL, "help takes at most one subcommand");
        if (argc == 3 && find_subcommand(argv[2]) == NULL)
            return cli_usage_error(NULL, "unknown subcommand '%s'", argv[2]);
        cli_print_help(argc == 3 ? argv[2] : NULL);
        return CLI_EXIT_CLEAN;
    }
    const subcommand *sc = find_subcommand(first);
    if (sc == NULL) {
        if (first[0] == '-')
            return cli_usage_error(NULL, "unknown option '%s'", first);
        return cli_usage_error(NULL, "unknown subcommand '%s'", first);
    }
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_help(sc->name);
            return CLI_EXIT_CLEAN;
        }
    }
    return sc->run(argc - 1, argv + 1);
}
