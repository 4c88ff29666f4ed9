/* Untrusted code in a child process (sandbox.h). */
#define _GNU_SOURCE /* prctl, pipe2, wait4 */

#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif
#ifndef SANDBOX_ASAN
#define SANDBOX_ASAN 0
#endif

/* Exit status of a child whose set-up failed before the code under test ran. */
#define SANDBOX_SETUP_EXIT 126
/* Poll period while a child runs: bounds how late a time limit or an exit is noticed. */
#define SANDBOX_POLL_MS 20

/* Process groups of the children running now, for the signal handlers. One at a time today;
 * room for parallel runs. */
#define SANDBOX_MAX_LIVE 64
static int live_groups[SANDBOX_MAX_LIVE]; /* atomics: certify's workers add and remove */

static void live_add(pid_t pgid)
{
    for (int i = 0; i < SANDBOX_MAX_LIVE; i++) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&live_groups[i], &expected, (int)pgid, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return;
    }
}

static void live_remove(pid_t pgid)
{
    for (int i = 0; i < SANDBOX_MAX_LIVE; i++) {
        int expected = (int)pgid;
        __atomic_compare_exchange_n(&live_groups[i], &expected, 0, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
    }
}

static void kill_live_and_die(int sig)
{
    for (int i = 0; i < SANDBOX_MAX_LIVE; i++) {
        int pgid = __atomic_load_n(&live_groups[i], __ATOMIC_SEQ_CST);
        if (pgid > 0)
            kill(-(pid_t)pgid, SIGKILL);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void sandbox_track_group(int pgid)
{
    live_add((pid_t)pgid);
}

void sandbox_untrack_group(int pgid)
{
    live_remove((pid_t)pgid);
}

void sandbox_install_signal_handlers(void)
{
    static int installed;
    if (installed)
        return;
    installed = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kill_live_and_die;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

uint64_t sandbox_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The address space this process has now, in bytes (0 if unknown). */
static uint64_t current_vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long pages = 0;
    int n = fscanf(f, "%lu", &pages);
    fclose(f);
    return n == 1 ? (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* In the child, before the code under test runs. Returns 0, or -1 (the child then exits). */
static int child_setup(int out_fd, pid_t parent, const sandbox_limits *limits, bool for_exec)
{
    /* Own group first, so the parent's kill(-pid) reaches everything this child starts. */
    if (setpgid(0, 0) != 0)
        return -1;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return -1;
    if (getppid() != parent) /* the parent died before PDEATHSIG was armed */
        return -1;
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (limits->memory_bytes != 0 && !(for_exec && SANDBOX_ASAN)) {
        /* After exec the new image starts from nothing; before exec (a forked copy of this
         * process, perhaps with a sanitizer's shadow already reserved) only growth counts. */
        uint64_t base = for_exec ? 0 : current_vm_bytes();
        struct rlimit as = {(rlim_t)(base + limits->memory_bytes),
                            (rlim_t)(base + limits->memory_bytes)};
        if (setrlimit(RLIMIT_AS, &as) != 0)
            return -1;
    }
    if (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0)
        return -1;
    if (out_fd != STDOUT_FILENO && out_fd != STDERR_FILENO)
        close(out_fd);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        if (devnull != STDIN_FILENO)
            close(devnull);
    }
    /* The parent's handlers are not the child's. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    return 0;
}

static void append_output(sandbox_result *out, size_t *cap, const char *bytes, size_t n)
{
    size_t room = SANDBOX_MAX_OUTPUT - out->output_size;
    if (n > room) {
        out->output_truncated = true;
        n = room;
    }
    if (n == 0)
        return;
    if (out->output_size + n + 1 > *cap) {
        size_t want = *cap == 0 ? 4096 : *cap;
        while (want < out->output_size + n + 1)
            want *= 2;
        if (want > SANDBOX_MAX_OUTPUT + 1)
            want = SANDBOX_MAX_OUTPUT + 1;
        char *grown = realloc(out->output, want);
        if (grown == NULL) {
            out->output_truncated = true;
            return;
        }
        out->output = grown;
        *cap = want;
    }
    memcpy(out->output + out->output_size, bytes, n);
    out->output_size += n;
    out->output[out->output_size] = '\0';
}

/* Reads what is there without blocking; true at end of file. */
static bool drain(int fd, sandbox_result *out, size_t *cap)
{
    char buf[4096];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r > 0) {
            append_output(out, cap, buf, (size_t)r);
            continue;
        }
        if (r == 0)
            return true;
        if (errno == EINTR)
            continue;
        return false; /* EAGAIN: nothing more now */
    }
}

/* A sanitizer's or the host's own words that memory ran out. */
static bool says_out_of_memory(const char *text)
{
    static const char *const phrases[] = {
        "out of memory",          /* ASan: "allocator is out of memory", LSan, libFuzzer */
        "out-of-memory",          /* libFuzzer's -rss_limit_mb, ASan's report type */
        "rss limit exhausted",    /* ASan's hard_rss_limit_mb */
        "allocation-size-too-big" /* ASan: a request larger than it can ever give */,
        "vmbsave: memory limit",  /* the fault host: a real allocation failed */
    };
    if (text == NULL)
        return false;
    for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++) {
        if (strstr(text, phrases[i]) != NULL)
            return true;
    }
    return false;
}

/* The page shared with a function's child: a flag it sets after fn returns, then the report. */
typedef struct shared_header {
    volatile uint32_t finished;
    uint32_t pad[15];
} shared_header;

static int sandbox_run(sandbox_function fn, void *arg, size_t report_size, char *const argv[],
                       char *const env_add[], const sandbox_limits *limits_in,
                       sandbox_result *out)
{
    memset(out, 0, sizeof(*out));
    sandbox_limits limits = limits_in != NULL ? *limits_in : (sandbox_limits){0, 0};
    if (limits.memory_bytes > SANDBOX_MAX_MEMORY_BYTES || limits.timeout_ms > SANDBOX_MAX_TIMEOUT_MS) {
        out->end = SANDBOX_FAILED;
        snprintf(out->error, sizeof(out->error), "limit out of range");
        return -1;
    }
    if (report_size > SANDBOX_MAX_REPORT) {
        out->end = SANDBOX_FAILED;
        snprintf(out->error, sizeof(out->error), "report size out of range");
        return -1;
    }
    size_t shared_size = sizeof(shared_header) + report_size;
    shared_header *shared = NULL;
    if (argv == NULL) {
        void *m = mmap(NULL, shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
        if (m == MAP_FAILED) {
            out->end = SANDBOX_FAILED;
            snprintf(out->error, sizeof(out->error), "cannot map shared memory: %s",
                     strerror(errno));
            return -1;
        }
        shared = m;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        out->end = SANDBOX_FAILED;
        snprintf(out->error, sizeof(out->error), "cannot create a pipe: %s", strerror(errno));
        if (shared != NULL)
            munmap(shared, shared_size);
        return -1;
    }
    /* Block the handlers' signals across fork, so a child is never left out of the list. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    uint64_t start = sandbox_now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        out->end = SANDBOX_FAILED;
        snprintf(out->error, sizeof(out->error), "cannot fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        if (shared != NULL)
            munmap(shared, shared_size);
        return -1;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(fds[0]);
        if (child_setup(fds[1], parent, &limits, argv != NULL) != 0)
            _exit(SANDBOX_SETUP_EXIT);
        if (argv == NULL) {
            int rc = fn(arg, shared + 1, report_size);
            shared->finished = 1;
            fflush(NULL);
            _exit(rc & 0xff);
        }
        for (size_t i = 0; env_add != NULL && env_add[i] != NULL; i++)
            putenv(env_add[i]);
        if (SANDBOX_ASAN && limits.memory_bytes != 0) {
            /* An ASan image reserves terabytes of shadow: RLIMIT_AS cannot apply; its own RSS
             * limit does. Appended, so the caller's options stay. */
            static char asan_env[1024];
            const char *prev = getenv("ASAN_OPTIONS");
            snprintf(asan_env, sizeof(asan_env), "ASAN_OPTIONS=%s%shard_rss_limit_mb=%llu",
                     prev != NULL ? prev : "", prev != NULL && prev[0] != '\0' ? ":" : "",
                     (unsigned long long)(limits.memory_bytes >> 20));
            putenv(asan_env);
        }
        execv(argv[0], argv);
        fprintf(stderr, "vmbsave: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    /* Also from here, in case the child has not reached its own setpgid yet. */
    setpgid(pid, pid);
    live_add(pid);
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);

    size_t cap = 0;
    bool eof = false;
    bool timed_out = false;
    int status = 0;
    struct rusage usage;
    memset(&usage, 0, sizeof(usage));
    for (;;) {
        pid_t w = wait4(pid, &status, WNOHANG, &usage);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        uint64_t elapsed = sandbox_now_ms() - start;
        if (limits.timeout_ms != 0 && elapsed >= limits.timeout_ms) {
            timed_out = true;
            kill(-pid, SIGKILL);
            while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
            }
            break;
        }
        if (!eof) {
            struct pollfd p = {fds[0], POLLIN, 0};
            if (poll(&p, 1, SANDBOX_POLL_MS) > 0)
                eof = drain(fds[0], out, &cap);
        } else {
            struct timespec ts = {0, SANDBOX_POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    out->elapsed_ms = (uint32_t)(sandbox_now_ms() - start);
    /* Whatever the child left behind in its group goes too; then what it wrote last. */
    kill(-pid, SIGKILL);
    live_remove(pid);
    drain(fds[0], out, &cap);
    close(fds[0]);
    out->max_rss_bytes = (uint64_t)usage.ru_maxrss * 1024u;
    if (shared != NULL) {
        out->finished = shared->finished == 1;
        /* A child stopped half way hands back what it had written too (certify's search
         * records the program in flight); `finished` says which it is. */
        if (report_size != 0) {
            out->report = malloc(report_size);
            if (out->report != NULL) {
                memcpy(out->report, shared + 1, report_size);
                out->report_size = report_size;
            }
        }
        munmap(shared, shared_size);
    }

    if (timed_out) {
        out->end = SANDBOX_TIMED_OUT;
    } else if (WIFSIGNALED(status)) {
        out->end = SANDBOX_SIGNALLED;
        out->signal_number = WTERMSIG(status);
    } else {
        out->end = SANDBOX_EXITED;
        out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (limits.memory_bytes != 0 && !out->finished) {
        /* Out of memory shows as the allocator's words (a sanitizer's report may then hang,
         * out of memory itself, until the time limit), or as a death at the cap (the kernel's
         * SIGKILL, a NULL dereference after a failed malloc). */
        bool at_cap = out->max_rss_bytes >= limits.memory_bytes / 10u * 9u;
        bool died = out->end == SANDBOX_SIGNALLED ||
                    (out->end == SANDBOX_EXITED && out->exit_code != 0);
        if (says_out_of_memory(out->output) || (died && at_cap))
            out->end = SANDBOX_MEMORY_LIMIT;
    }
    if (out->end == SANDBOX_EXITED && out->exit_code == SANDBOX_SETUP_EXIT && out->output_size == 0) {
        out->end = SANDBOX_FAILED;
        snprintf(out->error, sizeof(out->error), "the child's set-up failed");
        return -1;
    }
    return 0;
}

int sandbox_run_function(sandbox_function fn, void *arg, size_t report_size,
                         const sandbox_limits *limits, sandbox_result *out)
{
    return sandbox_run(fn, arg, report_size, NULL, NULL, limits, out);
}

int sandbox_run_exec(char *const argv[], char *const env_add[], const sandbox_limits *limits,
                     sandbox_result *out)
{
    if (argv == NULL || argv[0] == NULL) {
        memset(out, 0, sizeof(*out));
        out->end = SANDBOX_FAILED;
        snprintf(out->error, sizeof(out->error), "no program to run");
        return -1;
    }
    return sandbox_run(NULL, NULL, 0, argv, env_add, limits, out);
}

bool sandbox_sanitized(void)
{
    return SANDBOX_ASAN != 0;
}

void sandbox_result_free(sandbox_result *r)
{
    free(r->output);
    free(r->report);
    r->output = NULL;
    r->output_size = 0;
    r->report = NULL;
    r->report_size = 0;
}

void sandbox_describe(const sandbox_result *r, char *buf, size_t cap)
{
    switch (r->end) {
    case SANDBOX_EXITED: snprintf(buf, cap, "exit %d", r->exit_code); return;
    case SANDBOX_SIGNALLED:
        snprintf(buf, cap, "signal %d (%s)", r->signal_number, strsignal(r->signal_number));
        return;
    case SANDBOX_TIMED_OUT: snprintf(buf, cap, "timed out after %u ms", r->elapsed_ms); return;
    case SANDBOX_MEMORY_LIMIT:
        snprintf(buf, cap, "memory limit (peak resident %llu MiB)",
                 (unsigned long long)(r->max_rss_bytes >> 20));
        return;
    case SANDBOX_FAILED: snprintf(buf, cap, "not started: %s", r->error); return;
    }
    snprintf(buf, cap, "?");
}
