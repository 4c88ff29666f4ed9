/* HARNESS.CLI.*: the vmbsave command (docs/vmbsave.1), run as a separate process the way a user
 * runs it: exit statuses, one-line messages, run/repro against the reference, a broken variant
 * and a plug-in that crashes, the C reproducers compiled with plain cc, minimisation, and the
 * byte/text conversions. Paths come from the environment tests/CMakeLists.txt sets:
 *   VMBSAVE_CLI                   the vmbsave binary
 *   VMBSAVE_CLI_REFERENCE_PLUGIN  the reference plug-in
 *   VMBSAVE_CLI_CRASH_PLUGIN      a plug-in whose save_begin dies of SIGSEGV
 *   VMBSAVE_CLI_VARIANT_DIR       where libvmbsave_variant_<name>.so are
 *   VMBSAVE_CLI_VARIANT_PROGRAMS  tests/variants (<name>.prog: a program each variant fails)
 *   VMBSAVE_CLI_FUZZ_DIR          where the fuzz_<target> binaries are (the replay driver's)
 *   VMBSAVE_CLI_SEEDS             corpus/seeds (<target>/<seed>: inputs of each fuzz target)
 *   VMBSAVE_CLI_PRELOAD           sanitizer runtime a plain-cc reproducer needs to load
 *                                 sanitized plug-ins (empty in plain builds) */
#define _XOPEN_SOURCE 700 /* posix_spawn, mkdtemp, nftw, posix_openpt */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/clause_test.h"

/* docs/vmbsave.1, LIMITS: the largest input file (a restore_raw header and a 4 MiB image). */
#define CLI_TEST_MAX_INPUT_BYTES (4u * 1024u * 1024u + 2u)

extern char **environ;

/* ---- Processes ---------------------------------------------------------------------------- */

typedef struct proc_result {
    int status; /* exit status, or 128 + signal */
    char *out;  /* standard output, NUL-terminated */
    char *err;  /* standard error */
} proc_result;

static const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        fail_msg("%s is not set (tests/CMakeLists.txt sets it)", name);
    return v;
}

static char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1u, f)) > 0) {
        n += got;
        if (cap - n - 1u == 0) {
            cap *= 2u;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The current environment with `extra` ("NAME=value" strings) replacing or adding entries. */
static char **make_env(const char *const *extra)
{
    size_t n = 0, k = 0;
    while (environ[n] != NULL)
        n++;
    while (extra != NULL && extra[k] != NULL)
        k++;
    char **env = calloc(n + k + 1u, sizeof(*env));
    assert_non_null(env);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < k; j++) {
            size_t len = strcspn(extra[j], "=");
            if (strncmp(environ[i], extra[j], len + 1u) == 0)
                replaced = true;
        }
        if (!replaced)
            env[m++] = environ[i];
    }
    for (size_t j = 0; j < k; j++)
        env[m++] = (char *)extra[j];
    env[m] = NULL;
    return env;
}

/* Runs argv (argv[0] looked up in PATH) in `dir`'s files: stdin from /dev/null, or from a
 * terminal when stdout_fd >= 0 is given for stdout. */
static void spawn_full(proc_result *r, const char *dir, const char *const *argv,
                       const char *const *extra_env, int stdout_fd)
{
    char out_path[4096], err_path[4096];
    static unsigned counter;
    counter++;
    snprintf(out_path, sizeof(out_path), "%s/.out%u", dir, counter);
    snprintf(err_path, sizeof(err_path), "%s/.err%u", dir, counter);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (stdout_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char **env = make_env(extra_env);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (rc != 0)
        fail_msg("cannot run %s: %s", argv[0], strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));
    }
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (stdout_fd >= 0) {
        r->out = calloc(1, 1);
        assert_non_null(r->out);
    } else {
        r->out = read_text_file(out_path);
        unlink(out_path);
    }
    r->err = read_text_file(err_path);
    unlink(err_path);
}

/* vmbsave with the given arguments (NULL-terminated, without argv[0]) and extra environment
 * ("NAME=value", NULL-terminated; NULL for none). */
static void vmbsave_env(proc_result *r, const char *dir, const char *const *args,
                        const char *const *extra_env)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = env_or_fail("VMBSAVE_CLI");
    for (size_t i = 0; args[i] != NULL; i++) {
        assert_true(n + 1u < sizeof(argv) / sizeof(argv[0]));
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    spawn_full(r, dir, argv, extra_env, -1);
}

#define VMBSAVE(r, dir, ...) \
    vmbsave_env((r), (dir), (const char *const[]){__VA_ARGS__, NULL}, NULL)

static void proc_free(proc_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

static void expect_status(const proc_result *r, int status)
{
    if (r->status != status)
        fail_msg("exit status %d, expected %d\n--- stdout:\n%s--- stderr:\n%s", r->status,
                 status, r->out, r->err);
}

static void expect_contains(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("expected to find \"%s\" in:\n%s", needle, text);
}

/* Exactly one line, "vmbsave: ..." (docs/vmbsave.1: every message one line). */
static void expect_one_message(const char *err)
{
    const char *nl = strchr(err, '\n');
    if (strncmp(err, "vmbsave: ", 9) != 0 || nl == NULL || nl[1] != '\0')
        fail_msg("expected one line \"vmbsave: ...\" on stderr, got:\n%s", err);
}

/* ---- Files -------------------------------------------------------------------------------- */

static char *temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/vmbsave-cli-XXXXXX", base != NULL ? base : "/tmp");
    char *dir = strdup(path);
    assert_non_null(dir);
    if (mkdtemp(dir) == NULL)
        fail_msg("mkdtemp: %s", strerror(errno));
    return dir;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static void remove_dir(char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2u;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(bytes, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static size_t file_size(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        fail_msg("cannot stat %s: %s", path, strerror(errno));
    return (size_t)sb.st_size;
}

/* Writes `text` to dir/<name>.txt and encodes it to dir/<name>.bin; returns the .bin path. */
static char *encode_program(const char *dir, const char *name, const char *text)
{
    char txt_name[256], bin_name[256];
    snprintf(txt_name, sizeof(txt_name), "%s.txt", name);
    snprintf(bin_name, sizeof(bin_name), "%s.bin", name);
    char *txt = path_in(dir, txt_name);
    char *bin = path_in(dir, bin_name);
    write_file(txt, text, strlen(text));
    proc_result r;
    VMBSAVE(&r, dir, "encode", txt, "-o", bin);
    expect_status(&r, 0);
    proc_free(&r);
    free(txt);
    return bin;
}

static char *variant_plugin(const char *name)
{
    char file[256];
    snprintf(file, sizeof(file), "libvmbsave_variant_%s.so", name);
    return path_in(env_or_fail("VMBSAVE_CLI_VARIANT_DIR"), file);
}

/* ---- Programs ----------------------------------------------------------------------------- */

/* Passes on every correct implementation. */
static const char passing_program[] = "offer ch=0 mode=valid salt=1\n"
                                      "enable ch=0\n"
                                      "capture ch=0 image=0\n";

/* Against overrun_one_byte: the HEADER chunk goes into a 300-byte buffer and byte 300 changes
 * (SAVE.CONTINUE.NO_OVERRUN at step 3). Passes on the reference. */
static const char overrun_program[] = "offer ch=0 mode=valid salt=1\n"
                                      "enable ch=0\n"
                                      "save_begin ch=0\n"
                                      "save_continue ch=0 size=explicit bytes=300\n";

/* Makes no save: passes on the reference and on overrun_one_byte alike. */
static const char no_save_program[] = "offer ch=0 mode=valid salt=1\n"
                                      "enable ch=0\n";

/* The overrun with steps that have nothing to do with it, for the minimiser. */
static const char padded_overrun_program[] = "offer ch=1 mode=valid salt=9\n"
                                             "fault_alloc mode=off\n"
                                             "offer ch=0 mode=valid salt=77\n"
                                             "enable ch=1\n"
                                             "enable ch=0\n"
                                             "gpadl_create ch=1 mode=valid id=3 pfns=4 salt=5\n"
                                             "save_begin ch=0\n"
                                             "save_continue ch=0 size=explicit bytes=300\n"
                                             "save_end ch=0\n";

/* Against the crash plug-in: save_begin dies of SIGSEGV at step 2. */
static const char crashing_program[] = "offer ch=0 mode=valid salt=1\n"
                                       "enable ch=0\n"
                                       "save_begin ch=0\n"
                                       "save_end ch=0\n";

/* ---- Tests -------------------------------------------------------------------------------- */

static void usage_errors_exit_2_with_one_line(void **state)
{
    (void)state;
    char *dir = temp_dir();
    static const char *const cases[][6] = {
        {NULL},
        {"frobnicate", NULL},
        {"--bogus", NULL},
        {"help", "frobnicate", NULL},
        {"run", NULL},
        {"run", "--bogus", "x", NULL},
        {"run", "--timeout", "soon", "x", NULL},
        {"run", "--impl", NULL},
        {"repro", NULL},
        {"repro", "a", "b", NULL},
        {"repro", "--emit-c", "same", "--minimize", "same", "x"},
        {"print", NULL},
        {"print", "a", "b", NULL},
        {"encode", NULL},
        {"encode", "x", "-o", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[8];
        size_t n = 0;
        argv[n++] = env_or_fail("VMBSAVE_CLI");
        for (size_t j = 0; j < 6 && cases[i][j] != NULL; j++)
            argv[n++] = cases[i][j];
        argv[n] = NULL;
        proc_result r;
        spawn_full(&r, dir, argv, NULL, -1);
        if (r.status != 2)
            fail_msg("case %zu (%s ...): exit status %d, expected 2", i,
                     argv[1] != NULL ? argv[1] : "(none)", r.status);
        expect_one_message(r.err);
        assert_string_equal(r.out, "");
        proc_free(&r);
    }
    remove_dir(dir);
}

static void help_and_version(void **state)
{
    (void)state;
    char *dir = temp_dir();
    proc_result r;
    VMBSAVE(&r, dir, "--help");
    expect_status(&r, 0);
    const char *subs[] = {"run", "repro", "print", "encode", "Exit status"};
    for (size_t i = 0; i < 5; i++)
        expect_contains(r.out, subs[i]);
    proc_free(&r);

    VMBSAVE(&r, dir, "help", "repro");
    expect_status(&r, 0);
    expect_contains(r.out, "--emit-c");
    expect_contains(r.out, "--minimize");
    proc_free(&r);

    VMBSAVE(&r, dir, "run", "--help");
    expect_status(&r, 0);
    expect_contains(r.out, "--impl");
    proc_free(&r);

    VMBSAVE(&r, dir, "encode", "--help");
    expect_status(&r, 0);
    expect_contains(r.out, "-o OUT");
    proc_free(&r);

    VMBSAVE(&r, dir, "--version");
    expect_status(&r, 0);
    assert_int_equal(strncmp(r.out, "vmbsave 1.", 10), 0);
    proc_free(&r);
    remove_dir(dir);
}

static void unreadable_or_too_large_input_exits_2(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *missing = path_in(dir, "missing.bin");
    proc_result r;

    VMBSAVE(&r, dir, "run", missing);
    expect_status(&r, 2);
    expect_contains(r.out, "missing.bin: error: cannot open");
    expect_contains(r.out, "0 passed, 0 failed, 1 errors");
    proc_free(&r);

    VMBSAVE(&r, dir, "print", missing);
    expect_status(&r, 2);
    expect_one_message(r.err);
    proc_free(&r);

    VMBSAVE(&r, dir, "repro", missing);
    expect_status(&r, 2);
    expect_one_message(r.err);
    proc_free(&r);

    VMBSAVE(&r, dir, "print", dir); /* a directory is not a program */
    expect_status(&r, 2);
    expect_one_message(r.err);
    proc_free(&r);

    /* One byte over the documented limit (a restore_raw header and a whole image). */
    char *big = path_in(dir, "big.bin");
    size_t big_size = CLI_TEST_MAX_INPUT_BYTES + 1u;
    char *zeros = calloc(1, big_size);
    assert_non_null(zeros);
    write_file(big, zeros, big_size);
    free(zeros);
    VMBSAVE(&r, dir, "run", big);
    expect_status(&r, 2);
    expect_contains(r.out, "big.bin: error: too large");
    proc_free(&r);

    /* The plug-in itself missing. */
    char *bin = encode_program(dir, "pass", passing_program);
    VMBSAVE(&r, dir, "run", "--impl", missing, bin);
    expect_status(&r, 2);
    expect_one_message(r.err);
    proc_free(&r);

    free(bin);
    free(big);
    free(missing);
    remove_dir(dir);
}

static void run_passing_program_exits_0(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *bin = encode_program(dir, "pass", passing_program);
    proc_result r;
    VMBSAVE(&r, dir, "run", bin);
    expect_status(&r, 0);
    expect_contains(r.out, "pass.bin: pass (3 steps)");
    expect_contains(r.out, "1 passed, 0 failed\n");
    proc_free(&r);

    /* The reference as a plug-in gives the same. */
    VMBSAVE(&r, dir, "run", "--impl", env_or_fail("VMBSAVE_CLI_REFERENCE_PLUGIN"), bin);
    expect_status(&r, 0);
    expect_contains(r.out, "pass.bin: pass (3 steps)");
    proc_free(&r);

    /* --text reads the text form directly. */
    char *txt = path_in(dir, "pass.txt");
    VMBSAVE(&r, dir, "run", "--text", txt);
    expect_status(&r, 0);
    expect_contains(r.out, "pass.txt: pass (3 steps)");
    proc_free(&r);
    free(txt);
    free(bin);
    remove_dir(dir);
}

static void run_violation_exits_1_naming_the_clause(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *bin = encode_program(dir, "overrun", overrun_program);
    char *variant = variant_plugin("overrun_one_byte");
    proc_result r;
    VMBSAVE(&r, dir, "run", "--impl", variant, bin);
    expect_status(&r, 1);
    expect_contains(r.out, "overrun.bin: violation SAVE.CONTINUE.NO_OVERRUN at step 3: expected ");
    expect_contains(r.out, ", observed ");
    expect_contains(r.out, "0 passed, 1 failed\n");
    proc_free(&r);

    /* The same program passes on the reference: the verdict is the implementation's. */
    VMBSAVE(&r, dir, "run", bin);
    expect_status(&r, 0);
    proc_free(&r);
    free(variant);
    free(bin);
    remove_dir(dir);
}

static void run_crashing_implementation_exits_1(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *bin = encode_program(dir, "crash", crashing_program);
    proc_result r;
    VMBSAVE(&r, dir, "run", "--impl", env_or_fail("VMBSAVE_CLI_CRASH_PLUGIN"), bin);
    expect_status(&r, 1); /* vmbsave itself survived and reported */
    expect_contains(r.out, "crash.bin: crash: signal 11 (SIGSEGV)\n");
    expect_contains(r.out, "0 passed, 1 failed\n");
    proc_free(&r);
    free(bin);
    remove_dir(dir);
}

static void run_hanging_implementation_times_out(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *bin = encode_program(dir, "hang", crashing_program);
    proc_result r;
    vmbsave_env(&r, dir,
                (const char *const[]){"run", "--timeout", "1", "--impl",
                                      env_or_fail("VMBSAVE_CLI_CRASH_PLUGIN"), bin, NULL},
                (const char *const[]){"VMBSAVE_CLI_HANG=1", NULL});
    expect_status(&r, 1);
    expect_contains(r.out, "hang.bin: crash: timed out after 1 s\n");
    expect_contains(r.out, "0 passed, 1 failed\n");
    proc_free(&r);
    free(bin);
    remove_dir(dir);
}

static void run_directory_one_level_sorted(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *inputs = path_in(dir, "inputs");
    assert_int_equal(mkdir(inputs, 0700), 0);
    char *sub = path_in(inputs, "sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    char *pass_bin = encode_program(dir, "pass", no_save_program);
    char *overrun_bin = encode_program(dir, "overrun", overrun_program);
    char *b = path_in(inputs, "b-overrun.bin");
    char *a = path_in(inputs, "a-pass.bin");
    char *nested = path_in(sub, "c-nested.bin");
    assert_int_equal(rename(overrun_bin, b), 0);
    assert_int_equal(rename(pass_bin, a), 0);
    write_file(nested, "", 0); /* would be an error if it were read */

    char *variant = variant_plugin("overrun_one_byte");
    proc_result r;
    VMBSAVE(&r, dir, "run", "--impl", variant, inputs);
    expect_status(&r, 1);
    const char *pa = strstr(r.out, "a-pass.bin: pass");
    const char *pb = strstr(r.out, "b-overrun.bin: violation SAVE.CONTINUE.NO_OVERRUN");
    if (pa == NULL || pb == NULL || pa > pb)
        fail_msg("expected a-pass then b-overrun:\n%s", r.out);
    assert_null(strstr(r.out, "c-nested"));
    expect_contains(r.out, "1 passed, 1 failed\n");
    proc_free(&r);

    /* A directory with no file at all is an error, not a pass. */
    char *empty = path_in(dir, "empty");
    assert_int_equal(mkdir(empty, 0700), 0);
    VMBSAVE(&r, dir, "run", empty);
    expect_status(&r, 2);
    expect_one_message(r.err);
    expect_contains(r.out, "0 passed, 0 failed\n");
    proc_free(&r);
    free(empty);

    free(variant);
    free(nested);
    free(a);
    free(b);
    free(pass_bin);
    free(overrun_bin);
    free(sub);
    free(inputs);
    remove_dir(dir);
}

static void repro_prints_trace_and_clause(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *bin = encode_program(dir, "overrun", overrun_program);
    char *variant = variant_plugin("overrun_one_byte");
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--impl", variant, bin);
    expect_status(&r, 1);
    expect_contains(r.out, "step 0: offer ch=0 mode=valid salt=1\n");
    expect_contains(r.out, "step 3: save_continue ch=0 size=explicit bytes=300\n");
    expect_contains(r.out, " -> STATUS_SUCCESS");
    expect_contains(r.out, " -> STATUS_BUFFER_OVERFLOW");
    expect_contains(r.out, "filled=");
    /* The verdict is the last line. */
    size_t len = strlen(r.out);
    assert_true(len > 1 && r.out[len - 1] == '\n');
    const char *last = r.out + len - 1;
    while (last > r.out && last[-1] != '\n')
        last--;
    static const char verdict[] = "violation SAVE.CONTINUE.NO_OVERRUN at step 3: expected ";
    if (strncmp(last, verdict, strlen(verdict)) != 0)
        fail_msg("the last line is not the verdict:\n%s", r.out);
    proc_free(&r);
    free(variant);
    free(bin);
    remove_dir(dir);
}

static void repro_shows_trace_up_to_a_crash(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *bin = encode_program(dir, "crash", crashing_program);
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--impl", env_or_fail("VMBSAVE_CLI_CRASH_PLUGIN"), bin);
    expect_status(&r, 1);
    const char *enable = strstr(r.out, "step 1: enable ch=0\n");
    const char *begin = strstr(r.out, "step 2: save_begin ch=0\n");
    const char *in_flight = strstr(r.out, "(did not return)\n");
    const char *verdict = strstr(r.out, "crash: signal 11 (SIGSEGV)\n");
    if (enable == NULL || begin == NULL || in_flight == NULL || verdict == NULL ||
        !(enable < begin && begin < in_flight && in_flight < verdict))
        fail_msg("expected the trace up to save_begin, then the crash:\n%s", r.out);
    expect_contains(enable, " -> STATUS_SUCCESS"); /* enable's call was shown before */
    assert_null(strstr(r.out, "step 3:")); /* nothing after the crash */
    proc_free(&r);
    free(bin);
    remove_dir(dir);
}

/* The sanitizer runtime, when plug-ins are sanitized, so a plain-cc reproducer can load them. */
static void reproducer_env(const char *env[3], char *preload_buf, size_t cap)
{
    const char *preload = getenv("VMBSAVE_CLI_PRELOAD");
    size_t n = 0;
    if (preload != NULL && preload[0] != '\0') {
        snprintf(preload_buf, cap, "LD_PRELOAD=%s", preload);
        env[n++] = preload_buf;
        env[n++] = "ASAN_OPTIONS=detect_leaks=0"; /* the reproducer frees nothing at exit */
    }
    env[n] = NULL;
}

static void compile_reproducer(const char *dir, const char *c_file, const char *exe)
{
    proc_result r;
    const char *argv[] = {"cc", "-o", exe, c_file, "-ldl", NULL};
    spawn_full(&r, dir, argv, (const char *const[]){"LD_PRELOAD=", NULL}, -1);
    if (r.status != 0)
        fail_msg("cc -o %s %s -ldl failed (%d):\n%s", exe, c_file, r.status, r.err);
    proc_free(&r);
}

/* The clause in "violation CLAUSE at step" of repro's output. */
static void violation_clause(const char *out, char *clause, size_t cap)
{
    const char *v = strstr(out, "\nviolation ");
    if (v == NULL)
        fail_msg("no violation line in:\n%s", out);
    v += strlen("\nviolation ");
    size_t len = strcspn(v, " ");
    assert_true(len > 0 && len < cap);
    memcpy(clause, v, len);
    clause[len] = '\0';
}

static void emit_c_reproduces_every_variant(void **state)
{
    (void)state;
    char *dir = temp_dir();
    const char *programs = env_or_fail("VMBSAVE_CLI_VARIANT_PROGRAMS");
    DIR *d = opendir(programs);
    if (d == NULL)
        fail_msg("cannot open %s: %s", programs, strerror(errno));
    char preload[4200];
    const char *env[3];
    reproducer_env(env, preload, sizeof(preload));
    unsigned checked = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len < 6 || strcmp(ent->d_name + len - 5, ".prog") != 0)
            continue;
        char name[200];
        snprintf(name, sizeof(name), "%.*s", (int)(len - 5), ent->d_name);
        char *prog = path_in(programs, ent->d_name);
        char *bin = path_in(dir, "p.bin");
        char *c_file = path_in(dir, "repro.c");
        char *exe = path_in(dir, "repro");
        char *variant = variant_plugin(name);
        proc_result r;
        VMBSAVE(&r, dir, "encode", prog, "-o", bin);
        expect_status(&r, 0);
        proc_free(&r);

        VMBSAVE(&r, dir, "repro", "--impl", variant, "--emit-c", c_file, bin);
        if (r.status != 1)
            fail_msg("%s: repro exit %d:\n%s%s", name, r.status, r.out, r.err);
        char clause[128];
        violation_clause(r.out, clause, sizeof(clause));
        proc_free(&r);

        compile_reproducer(dir, c_file, exe);
        const char *run_variant[] = {exe, variant, NULL};
        spawn_full(&r, dir, run_variant, env, -1);
        char want[200];
        snprintf(want, sizeof(want), "REPRODUCED %s: expected ", clause);
        if (r.status != 1 || strncmp(r.out, want, strlen(want)) != 0)
            fail_msg("%s: the reproducer against the variant exited %d, expected 1 and "
                     "\"%s\":\n%s%s", name, r.status, want, r.out, r.err);
        proc_free(&r);

        /* Against the reference the same calls keep the contract. */
        const char *run_reference[] = {exe, env_or_fail("VMBSAVE_CLI_REFERENCE_PLUGIN"), NULL};
        spawn_full(&r, dir, run_reference, env, -1);
        if (r.status != 0 || strncmp(r.out, "NOT REPRODUCED", 14) != 0)
            fail_msg("%s: the reproducer against the reference exited %d:\n%s%s", name,
                     r.status, r.out, r.err);
        proc_free(&r);
        checked++;
        free(variant);
        free(exe);
        free(c_file);
        free(bin);
        free(prog);
    }
    closedir(d);
    if (checked < 10)
        fail_msg("only %u variant programs found in %s", checked, programs);
    remove_dir(dir);
}

/* Found by fuzzing the reproducers: the allocation the fault step fails is the variant's
 * save_begin allocation (its channel handles add allocations), but in the reference it falls
 * in another call. The reproducer must not blame the reference for the variant's bug. */
static const char fault_elsewhere_program[] =
    "offer ch=0 mode=valid salt=1\n"
    "enable ch=0\n"
    "gpadl_create ch=0 mode=valid id=1 pfns=2 salt=1\n"
    "open ch=0 mode=valid gpadl=1 in_pages=2 out_pages=2\n"
    "save_continue ch=1 size=explicit bytes=1120\n"
    "gpadl_create ch=0 mode=valid id=3 pfns=3 salt=8\n"
    "close ch=0\n"
    "capture ch=1 image=1\n"
    "fault_alloc mode=once after=2\n"
    "capture ch=2 image=1\n"
    "capture ch=0 image=0\n";

static void emit_c_needs_the_fault_in_the_same_call(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *bin = encode_program(dir, "elsewhere", fault_elsewhere_program);
    char *c_file = path_in(dir, "elsewhere.c");
    char *exe = path_in(dir, "elsewhere");
    char *variant = variant_plugin("save_begin_ignores_no_memory");
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--impl", variant, "--emit-c", c_file, bin);
    expect_status(&r, 1);
    expect_contains(r.out, "\nviolation SAVE.BEGIN.NO_MEMORY at step 10");
    proc_free(&r);
    compile_reproducer(dir, c_file, exe);
    char preload[4200];
    const char *env[3];
    reproducer_env(env, preload, sizeof(preload));
    const char *against_variant[] = {exe, variant, NULL};
    spawn_full(&r, dir, against_variant, env, -1);
    expect_status(&r, 1);
    expect_contains(r.out, "REPRODUCED SAVE.BEGIN.NO_MEMORY: ");
    proc_free(&r);
    const char *against_reference[] = {exe, env_or_fail("VMBSAVE_CLI_REFERENCE_PLUGIN"), NULL};
    spawn_full(&r, dir, against_reference, env, -1);
    expect_status(&r, 0);
    expect_contains(r.out, "NOT REPRODUCED (SAVE.BEGIN.NO_MEMORY: in the run 1 allocation(s) "
                           "failed during the call, now 0");
    proc_free(&r);
    free(variant);
    free(exe);
    free(c_file);
    free(bin);
    remove_dir(dir);
}

static void emit_c_reproduces_a_crash(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *bin = encode_program(dir, "crash", crashing_program);
    char *c_file = path_in(dir, "crash.c");
    char *exe = path_in(dir, "crash-repro");
    const char *plugin = env_or_fail("VMBSAVE_CLI_CRASH_PLUGIN");
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--impl", plugin, "--emit-c", c_file, bin);
    expect_status(&r, 1);
    proc_free(&r);
    compile_reproducer(dir, c_file, exe);
    char preload[4200];
    const char *env[3];
    reproducer_env(env, preload, sizeof(preload));
    /* No argument: the --impl path is the default. */
    const char *argv[] = {exe, NULL};
    spawn_full(&r, dir, argv, env, -1);
    if (r.status != 128 + SIGSEGV)
        fail_msg("the crash reproducer exited %d, expected death by SIGSEGV:\n%s%s", r.status,
                 r.out, r.err);
    proc_free(&r);
    free(exe);
    free(c_file);
    free(bin);
    remove_dir(dir);
}

static void minimize_keeps_the_clause_and_never_grows(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *bin = encode_program(dir, "padded", padded_overrun_program);
    char *small = path_in(dir, "small.bin");
    char *variant = variant_plugin("overrun_one_byte");
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--impl", variant, "--minimize", small, bin);
    expect_status(&r, 1);
    expect_contains(r.out, "minimized: ");
    expect_contains(r.out, "\nsave_continue ");
    proc_free(&r);
    size_t before = file_size(bin), after = file_size(small);
    assert_true(after % 16u == 0);
    if (!(after > 0 && after < before))
        fail_msg("minimized %zu bytes from %zu: expected fewer", after, before);

    VMBSAVE(&r, dir, "run", "--impl", variant, small);
    expect_status(&r, 1);
    expect_contains(r.out, "violation SAVE.CONTINUE.NO_OVERRUN");
    proc_free(&r);

    /* A crash is minimised by its signal. */
    char *crash_bin = encode_program(dir, "crash", crashing_program);
    char *crash_small = path_in(dir, "crash-small.bin");
    const char *crash_plugin = env_or_fail("VMBSAVE_CLI_CRASH_PLUGIN");
    VMBSAVE(&r, dir, "repro", "--impl", crash_plugin, "--minimize", crash_small, crash_bin);
    expect_status(&r, 1);
    proc_free(&r);
    assert_true(file_size(crash_small) <= file_size(crash_bin));
    VMBSAVE(&r, dir, "run", "--impl", crash_plugin, crash_small);
    expect_status(&r, 1);
    expect_contains(r.out, "crash: signal 11 (SIGSEGV)");
    proc_free(&r);

    /* A program that passes is not "minimised": nothing is written. */
    char *pass_bin = encode_program(dir, "pass", passing_program);
    char *pass_small = path_in(dir, "pass-small.bin");
    VMBSAVE(&r, dir, "repro", "--minimize", pass_small, pass_bin);
    expect_status(&r, 2);
    expect_one_message(r.err);
    assert_int_equal(access(pass_small, F_OK), -1);
    proc_free(&r);

    free(pass_small);
    free(pass_bin);
    free(crash_small);
    free(crash_bin);
    free(variant);
    free(small);
    free(bin);
    remove_dir(dir);
}

static void print_encode_round_trip(void **state)
{
    (void)state;
    char *dir = temp_dir();
    /* Arbitrary bytes decode to some program; its text encodes back to the same program. */
    uint8_t noise[16 * 40 + 7];
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < sizeof(noise); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise[i] = (uint8_t)x;
    }
    char *noise_bin = path_in(dir, "noise.bin");
    write_file(noise_bin, noise, sizeof(noise));
    proc_result r;
    VMBSAVE(&r, dir, "print", noise_bin);
    expect_status(&r, 0);
    char *text1 = r.out;
    r.out = NULL;
    proc_free(&r);
    assert_true(strlen(text1) > 0);

    char *t1 = path_in(dir, "t1.txt");
    char *b1 = path_in(dir, "b1.bin");
    write_file(t1, text1, strlen(text1));
    VMBSAVE(&r, dir, "encode", t1, "-o", b1);
    expect_status(&r, 0);
    proc_free(&r);
    /* 41 steps: 40 whole and one padded partial step. */
    assert_int_equal(file_size(b1), 16u * 41u);

    VMBSAVE(&r, dir, "print", b1);
    expect_status(&r, 0);
    assert_string_equal(r.out, text1);
    proc_free(&r);

    /* encode to a pipe (standard output that is not a terminal). */
    char *b2 = path_in(dir, "b2.bin");
    int fd = open(b2, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const char *argv[] = {env_or_fail("VMBSAVE_CLI"), "encode", t1, NULL};
    spawn_full(&r, dir, argv, NULL, fd);
    close(fd);
    expect_status(&r, 0);
    proc_free(&r);
    char *one = read_text_file(b1), *two = read_text_file(b2);
    assert_int_equal(file_size(b1), file_size(b2));
    assert_memory_equal(one, two, file_size(b1));
    free(one);
    free(two);

    free(b2);
    free(b1);
    free(t1);
    free(text1);
    free(noise_bin);
    remove_dir(dir);
}

static void outputs_are_replaced_only_when_complete(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *out = path_in(dir, "out.bin");
    write_file(out, "keep", 4);
    char *bad = path_in(dir, "bad.txt");
    static const char bad_text[] = "offer ch=0 mode=valid salt=1\nno_such_op ch=1\n";
    write_file(bad, bad_text, strlen(bad_text));
    proc_result r;
    VMBSAVE(&r, dir, "encode", bad, "-o", out);
    expect_status(&r, 2);
    expect_one_message(r.err);
    expect_contains(r.err, "line 2");
    proc_free(&r);
    char *kept = read_text_file(out);
    assert_string_equal(kept, "keep");
    free(kept);

    /* A directory that does not exist: exit 2, nothing left behind. */
    char *good = path_in(dir, "good.txt");
    write_file(good, passing_program, strlen(passing_program));
    char *nowhere = path_in(dir, "no/such/dir/out.bin");
    VMBSAVE(&r, dir, "encode", good, "-o", nowhere);
    expect_status(&r, 2);
    expect_one_message(r.err);
    proc_free(&r);

    /* Only regular files are replaced: not a directory (nor a device). */
    VMBSAVE(&r, dir, "encode", good, "-o", dir);
    expect_status(&r, 2);
    expect_one_message(r.err);
    expect_contains(r.err, "not a regular file");
    proc_free(&r);

    /* Through a symbolic link, the target is replaced and the link stays. */
    char *target = path_in(dir, "target.bin");
    char *link = path_in(dir, "link.bin");
    write_file(target, "old", 3);
    assert_int_equal(symlink("target.bin", link), 0);
    VMBSAVE(&r, dir, "encode", good, "-o", link);
    expect_status(&r, 0);
    proc_free(&r);
    struct stat lsb;
    assert_int_equal(lstat(link, &lsb), 0);
    assert_true(S_ISLNK(lsb.st_mode));
    assert_int_equal(file_size(target), 48u);
    free(link);
    free(target);

    /* A successful encode replaces the file, and leaves no temporary file. */
    VMBSAVE(&r, dir, "encode", good, "-o", out);
    expect_status(&r, 0);
    proc_free(&r);
    assert_int_equal(file_size(out), 48u);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strstr(ent->d_name, "tmp") != NULL)
            fail_msg("temporary file %s left in %s", ent->d_name, dir);
    }
    closedir(d);

    free(nowhere);
    free(good);
    free(bad);
    free(out);
    remove_dir(dir);
}

/* A pseudo-terminal's slave side, open, or -1 (and *master -1) where this machine has none
 * (a container without /dev/pts, say): then `why` says which call failed. */
static int open_pty_slave(int *master, char *why, size_t why_size)
{
    const char *step = "posix_openpt";
    *master = posix_openpt(O_RDWR | O_NOCTTY);
    if (*master >= 0) {
        step = "grantpt";
        if (grantpt(*master) == 0) {
            step = "unlockpt";
            if (unlockpt(*master) == 0) {
                step = "ptsname";
                const char *name = ptsname(*master);
                if (name != NULL) {
                    int slave = open(name, O_RDWR | O_NOCTTY);
                    if (slave >= 0)
                        return slave;
                    step = name;
                }
            }
        }
    }
    snprintf(why, why_size, "%s: %s", step, strerror(errno));
    if (*master >= 0)
        close(*master);
    *master = -1;
    return -1;
}

static void encode_refuses_a_terminal(void **state)
{
    (void)state;
    /* Before anything is allocated: a skip leaves nothing behind. */
    int master;
    char why[512];
    int slave = open_pty_slave(&master, why, sizeof(why));
    if (slave < 0) {
        print_message("no pseudo-terminal on this machine (%s): nothing to test\n", why);
        skip();
    }
    char *dir = temp_dir();
    char *txt = path_in(dir, "p.txt");
    write_file(txt, passing_program, strlen(passing_program));
    proc_result r;
    const char *argv[] = {env_or_fail("VMBSAVE_CLI"), "encode", txt, NULL};
    spawn_full(&r, dir, argv, NULL, slave);
    close(slave);
    close(master);
    expect_status(&r, 2);
    expect_one_message(r.err);
    expect_contains(r.err, "terminal");
    proc_free(&r);
    free(txt);
    remove_dir(dir);
}

/* ---- --target: a fuzz target's crash file replayed as the target runs it --------------------- */

static char *seed_path(const char *target, const char *seed)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "%s/%s", target, seed);
    return path_in(env_or_fail("VMBSAVE_CLI_SEEDS"), rel);
}

/* "CLAUSE at step N" from the first "vmbsave: " line fuzz_<target> prints for `input` against
 * `plugin`, which must fail (abort: the engines' crash). */
static void fuzz_target_finding(const char *dir, const char *target, const char *plugin,
                                const char *input, char *finding, size_t cap)
{
    char exe_name[128], impl_env[4200];
    snprintf(exe_name, sizeof(exe_name), "fuzz_%s", target);
    char *exe = path_in(env_or_fail("VMBSAVE_CLI_FUZZ_DIR"), exe_name);
    snprintf(impl_env, sizeof(impl_env), "VMBSAVE_FUZZ_IMPL=%s", plugin);
    proc_result r;
    const char *argv[] = {exe, input, NULL};
    spawn_full(&r, dir, argv, (const char *const[]){impl_env, NULL}, -1);
    /* The replay driver dies of SIGABRT; an engine build's binary may report it its way. */
    if (r.status == 0)
        fail_msg("%s %s: exit 0, expected a finding:\n%s", exe, input, r.err);
    const char *line = strncmp(r.err, "vmbsave: ", 9) == 0 ? r.err : strstr(r.err, "\nvmbsave: ");
    if (line == NULL)
        fail_msg("%s printed no \"vmbsave: \" line:\n%s", exe, r.err);
    line += line[0] == '\n' ? 10 : 9;
    const char *colon = strstr(line, ": expected ");
    if (colon == NULL || (size_t)(colon - line) >= cap)
        fail_msg("no \"CLAUSE at step N: expected\" in %s's line:\n%s", exe, r.err);
    memcpy(finding, line, (size_t)(colon - line));
    finding[colon - line] = '\0';
    proc_free(&r);
    free(exe);
}

/* `repro --target` and `run --target` on a seed of `target` that `variant` fails: the verdict
 * names the clause and step fuzz_<target> itself prints first; the reference passes it. */
static void repro_target_matches_the_fuzz_target(const char *target, const char *seed,
                                                 const char *variant_name)
{
    char *dir = temp_dir();
    char *input = seed_path(target, seed);
    char *variant = variant_plugin(variant_name);
    char finding[256], want[300];
    fuzz_target_finding(dir, target, variant, input, finding, sizeof(finding));
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--target", target, "--impl", variant, input);
    expect_status(&r, 1);
    snprintf(want, sizeof(want), "\nviolation %s: expected ", finding);
    expect_contains(r.out, want);
    char header[128];
    snprintf(header, sizeof(header), ": a fuzz_%s input, expanded to the ", target);
    expect_contains(r.out, header);
    proc_free(&r);

    VMBSAVE(&r, dir, "run", "--target", target, "--impl", variant, input);
    expect_status(&r, 1);
    snprintf(want, sizeof(want), ": violation %s: expected ", finding);
    expect_contains(r.out, want);
    expect_contains(r.out, "0 passed, 1 failed\n");
    proc_free(&r);

    /* The verdict is the implementation's: the reference passes the same input. */
    VMBSAVE(&r, dir, "repro", "--target", target, input);
    expect_status(&r, 0);
    proc_free(&r);
    free(variant);
    free(input);
    remove_dir(dir);
}

static void repro_target_roundtrip(void **state)
{
    (void)state;
    repro_target_matches_the_fuzz_target("roundtrip", "open_gpadls-traffic",
                                         "replay_restore_callback");
}

static void repro_target_restore(void **state)
{
    (void)state;
    repro_target_matches_the_fuzz_target("restore", "empty_offer-every_edit",
                                         "more_processing_as_success");
}

static void repro_target_restore_raw(void **state)
{
    (void)state;
    repro_target_matches_the_fuzz_target("restore_raw", "empty_offer-bit_flip",
                                         "restore_partial_state");
}

static void target_usage_errors_exit_2(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *input = seed_path("restore_raw", "empty_offer-bit_flip");
    char *empty = path_in(dir, "empty");
    write_file(empty, "", 0);
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--target", "nosuch", input);
    expect_status(&r, 2);
    expect_one_message(r.err);
    expect_contains(r.err, "'nosuch': one of save_session, differential, roundtrip, restore, "
                           "restore_raw");
    assert_string_equal(r.out, "");
    proc_free(&r);

    VMBSAVE(&r, dir, "run", "--target", "nosuch", input);
    expect_status(&r, 2);
    expect_one_message(r.err);
    proc_free(&r);

    VMBSAVE(&r, dir, "run", "--target", input); /* the value missing: the file taken for it */
    expect_status(&r, 2);
    expect_one_message(r.err);
    proc_free(&r);

    /* --text is a program: not for the targets that expand their input. */
    VMBSAVE(&r, dir, "repro", "--target", "roundtrip", "--text", input);
    expect_status(&r, 2);
    expect_one_message(r.err);
    expect_contains(r.err, "byte form only");
    proc_free(&r);

    char *small = path_in(dir, "small.bin");
    VMBSAVE(&r, dir, "repro", "--target", "restore_raw", "--minimize", small, input);
    expect_status(&r, 2);
    expect_one_message(r.err);
    assert_int_equal(access(small, F_OK), -1);
    proc_free(&r);

    /* An input the target runs nothing for is an error, not a pass. */
    VMBSAVE(&r, dir, "repro", "--target", "roundtrip", empty);
    expect_status(&r, 2);
    expect_one_message(r.err);
    expect_contains(r.err, "runs nothing");
    proc_free(&r);
    VMBSAVE(&r, dir, "run", "--target", "restore_raw", empty);
    expect_status(&r, 2);
    expect_contains(r.out, "empty: error: 0 bytes: fuzz_restore_raw runs nothing");
    proc_free(&r);

    free(small);
    free(empty);
    free(input);
    remove_dir(dir);
}

/* --emit-c on an expanded input: the reproducer carries everything the target set up (for
 * restore_raw the image, preloaded, not made by any call) and reproduces on its own. */
static void emit_c_reproduces_target_inputs(void **state)
{
    (void)state;
    static const char *const cases[][4] = {
        {"restore_raw", "empty_offer-bit_flip", "restore_partial_state", "RESTORE.ATOMIC"},
        {"roundtrip", "open_gpadls-traffic", "replay_restore_callback", "RESTORE.NO_REPLAY"},
        {"differential", "faults-each_call", "accepts_second_begin", "SAVE.BEGIN.ACTIVE_SESSION"},
    };
    char *dir = temp_dir();
    char preload[4200];
    const char *env[3];
    reproducer_env(env, preload, sizeof(preload));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *input = seed_path(cases[i][0], cases[i][1]);
        char *variant = variant_plugin(cases[i][2]);
        char *c_file = path_in(dir, "repro.c");
        char *exe = path_in(dir, "repro");
        proc_result r;
        VMBSAVE(&r, dir, "repro", "--target", cases[i][0], "--impl", variant, "--emit-c",
                c_file, input);
        expect_status(&r, 1);
        proc_free(&r);
        compile_reproducer(dir, c_file, exe);
        const char *against_variant[] = {exe, variant, NULL};
        spawn_full(&r, dir, against_variant, env, -1);
        char want[128];
        snprintf(want, sizeof(want), "REPRODUCED %s: expected ", cases[i][3]);
        if (r.status != 1 || strncmp(r.out, want, strlen(want)) != 0)
            fail_msg("%s: the reproducer exited %d, expected 1 and \"%s\":\n%s%s",
                     cases[i][0], r.status, want, r.out, r.err);
        proc_free(&r);
        const char *against_reference[] = {exe, env_or_fail("VMBSAVE_CLI_REFERENCE_PLUGIN"),
                                           NULL};
        spawn_full(&r, dir, against_reference, env, -1);
        if (r.status != 0 || strncmp(r.out, "NOT REPRODUCED", 14) != 0)
            fail_msg("%s: the reproducer against the reference exited %d:\n%s%s", cases[i][0],
                     r.status, r.out, r.err);
        proc_free(&r);
        free(exe);
        free(c_file);
        free(variant);
        free(input);
    }
    remove_dir(dir);
}

/* --minimize on an expanded input writes a bare program that fails the same way replayed with
 * the default target. */
static void minimize_target_input_is_a_bare_program(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *input = seed_path("restore", "empty_offer-every_edit");
    char *variant = variant_plugin("more_processing_as_success");
    char *small = path_in(dir, "small.bin");
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--target", "restore", "--impl", variant, "--minimize", small,
            input);
    expect_status(&r, 1);
    expect_contains(r.out, "a bare program");
    expect_contains(r.out, "replay it without --target");
    proc_free(&r);
    VMBSAVE(&r, dir, "run", "--impl", variant, small);
    expect_status(&r, 1);
    expect_contains(r.out, "violation RESTORE.MORE_PROCESSING at step ");
    proc_free(&r);
    free(small);
    free(variant);
    free(input);
    remove_dir(dir);
}

/* differential inputs are programs: run against the implementation and the reference, with a
 * note that says so; a violation of the implementation is the oracle's, exit 1. */
static void differential_target_notes_what_it_checks(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *input = seed_path("differential", "variant-overrun_one_byte");
    char *variant = variant_plugin("overrun_one_byte");
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--target", "differential", "--impl", variant, input);
    expect_status(&r, 1);
    expect_contains(r.out, "note: --target differential runs the program (its fault_alloc steps "
                           "dropped, as the target drops them) against the implementation and "
                           "against the reference");
    expect_contains(r.out, "\nviolation SAVE.CONTINUE.NO_OVERRUN at step 3: ");
    proc_free(&r);
    VMBSAVE(&r, dir, "run", "--target", "differential", "--impl", variant, input);
    expect_status(&r, 1);
    expect_contains(r.out, ": violation SAVE.CONTINUE.NO_OVERRUN at step 3: ");
    proc_free(&r);
    free(variant);
    free(input);
    remove_dir(dir);
}

/* fuzz_differential drops fault_alloc steps; without them this seed's two save_begin calls
 * (the first was to fail for want of memory) meet, and a variant that accepts a second
 * save_begin is caught. repro/run --target differential (byte or text form) show the same
 * clause at the same step; without --target, faults kept, the program passes. */
static void repro_target_differential(void **state)
{
    (void)state;
    repro_target_matches_the_fuzz_target("differential", "faults-each_call",
                                         "accepts_second_begin");
    char *dir = temp_dir();
    char *input = seed_path("differential", "faults-each_call");
    char *variant = variant_plugin("accepts_second_begin");
    char *text = path_in(dir, "p.txt");
    proc_result r;
    VMBSAVE(&r, dir, "run", "--impl", variant, input);
    expect_status(&r, 0);
    proc_free(&r);
    VMBSAVE(&r, dir, "print", input);
    expect_status(&r, 0);
    write_file(text, r.out, strlen(r.out));
    proc_free(&r);
    VMBSAVE(&r, dir, "repro", "--target", "differential", "--text", "--impl", variant, text);
    expect_status(&r, 1);
    expect_contains(r.out, "its fault_alloc steps dropped");
    expect_contains(r.out, "\nviolation SAVE.BEGIN.ACTIVE_SESSION at step 15: ");
    proc_free(&r);
    free(text);
    free(variant);
    free(input);
    remove_dir(dir);
}

/* A difference the contract allows (docs/DIFFERENTIAL.md): the conformant variant that writes
 * one chunk per call, on its witness. repro and run --target differential run both sides,
 * each in a child, show the first difference (step, call, both statuses) and say INFO with
 * exit 0; the reference against itself agrees. */
static void repro_differential_info(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *input = seed_path("differential", "differential-alt_one_chunk_per_call");
    char *variant = variant_plugin("alt_one_chunk_per_call");
    proc_result r;
    VMBSAVE(&r, dir, "repro", "--target", "differential", "--impl", variant, input);
    expect_status(&r, 0);
    expect_contains(r.out, "\npass (");
    expect_contains(r.out, "against the reference: INFO: differs from the reference where the "
                           "contract allows it (SAVE.CONTINUE.WHOLE_CHUNKS): step 3, call #4 "
                           "save_continue(ch0, size=1048576): status: ");
    expect_contains(r.out, "  first difference: step 3, call #4 save_continue(ch0, size=1048576)\n"
                           "  status: reference STATUS_SUCCESS\n"
                           "  status: implementation STATUS_BUFFER_OVERFLOW\n");
    proc_free(&r);
    VMBSAVE(&r, dir, "run", "--target", "differential", "--impl", variant, input);
    expect_status(&r, 0);
    expect_contains(r.out, ": INFO: differs from the reference where the contract allows it "
                           "(SAVE.CONTINUE.WHOLE_CHUNKS)");
    expect_contains(r.out, "1 passed, 0 failed");
    proc_free(&r);
    /* The same program without --target: the implementation alone, no comparison. */
    VMBSAVE(&r, dir, "run", "--impl", variant, input);
    expect_status(&r, 0);
    assert_null(strstr(r.out, "INFO"));
    proc_free(&r);
    /* The reference against itself. */
    VMBSAVE(&r, dir, "run", "--target", "differential", input);
    expect_status(&r, 0);
    expect_contains(r.out, ": pass: agrees with the reference (");
    proc_free(&r);
    free(variant);
    free(input);
    remove_dir(dir);
}

static const struct CMUnitTest tests[] = {
    CLAUSE_TEST("HARNESS.CLI.USAGE_ERRORS", usage_errors_exit_2_with_one_line),
    CLAUSE_TEST("HARNESS.CLI.REPRO_DIFFERENTIAL_INFO", repro_differential_info),
    CLAUSE_TEST("HARNESS.CLI.HELP_VERSION", help_and_version),
    CLAUSE_TEST("HARNESS.CLI.UNREADABLE_INPUT", unreadable_or_too_large_input_exits_2),
    CLAUSE_TEST("HARNESS.CLI.RUN_PASS", run_passing_program_exits_0),
    CLAUSE_TEST("HARNESS.CLI.RUN_VIOLATION", run_violation_exits_1_naming_the_clause),
    CLAUSE_TEST("HARNESS.CLI.RUN_CRASH", run_crashing_implementation_exits_1),
    CLAUSE_TEST("HARNESS.CLI.RUN_TIMEOUT", run_hanging_implementation_times_out),
    CLAUSE_TEST("HARNESS.CLI.RUN_DIRECTORY", run_directory_one_level_sorted),
    CLAUSE_TEST("HARNESS.CLI.REPRO_TRACE", repro_prints_trace_and_clause),
    CLAUSE_TEST("HARNESS.CLI.REPRO_CRASH_TRACE", repro_shows_trace_up_to_a_crash),
    CLAUSE_TEST("HARNESS.CLI.EMIT_C_VARIANTS", emit_c_reproduces_every_variant),
    CLAUSE_TEST("HARNESS.CLI.EMIT_C_FAULT_ELSEWHERE", emit_c_needs_the_fault_in_the_same_call),
    CLAUSE_TEST("HARNESS.CLI.EMIT_C_CRASH", emit_c_reproduces_a_crash),
    CLAUSE_TEST("HARNESS.CLI.MINIMIZE", minimize_keeps_the_clause_and_never_grows),
    CLAUSE_TEST("HARNESS.CLI.PRINT_ENCODE_ROUND_TRIP", print_encode_round_trip),
    CLAUSE_TEST("HARNESS.CLI.ATOMIC_OUTPUT", outputs_are_replaced_only_when_complete),
    CLAUSE_TEST("HARNESS.CLI.ENCODE_TERMINAL", encode_refuses_a_terminal),
    CLAUSE_TEST("HARNESS.CLI.REPRO_TARGET_ROUNDTRIP", repro_target_roundtrip),
    CLAUSE_TEST("HARNESS.CLI.REPRO_TARGET_RESTORE", repro_target_restore),
    CLAUSE_TEST("HARNESS.CLI.REPRO_TARGET_RESTORE_RAW", repro_target_restore_raw),
    CLAUSE_TEST("HARNESS.CLI.TARGET_USAGE_ERRORS", target_usage_errors_exit_2),
    CLAUSE_TEST("HARNESS.CLI.EMIT_C_TARGET", emit_c_reproduces_target_inputs),
    CLAUSE_TEST("HARNESS.CLI.MINIMIZE_TARGET", minimize_target_input_is_a_bare_program),
    CLAUSE_TEST("HARNESS.CLI.REPRO_TARGET_DIFFERENTIAL", differential_target_notes_what_it_checks),
    CLAUSE_TEST("HARNESS.CLI.REPRO_TARGET_DIFFERENTIAL_FAULTS", repro_target_differential),
};

CLAUSE_TEST_MAIN("cli", tests)
