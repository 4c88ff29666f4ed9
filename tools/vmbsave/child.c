/* Running one program in a forked child (child.h).
 *
 * The child writes frames to a pipe: a type byte, a u32 length (host order: both ends are
 * the same binary), then the payload. Trace entry n is sent when the runner announces call
 * n + 1 (its checks are done by then) or at the end, so the parent shows every finished call
 * even if a later one kills the child. */
#define _GNU_SOURCE /* prctl */

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "reference.h"
#include "sandbox.h"

/* The largest frame the parent accepts: a data array (an image is at most
 * VMBSAVE_RUN_MAX_IMAGE_BYTES) plus its name. */
#define FRAME_MAX (VMBSAVE_RUN_MAX_IMAGE_BYTES + 4096u)

enum frame_type {
    FRAME_RESULT = 'R',    /* vmbsave_run_result */
    FRAME_TRACE = 'T',     /* u32 index, vmbsave_trace_entry */
    FRAME_STATEMENT = 'S', /* u32 step, vmbsave_call (a call or a host setting) */
    FRAME_DATA = 'D',      /* u32 name length, the name, the bytes */
    FRAME_VIOLATION = 'V', /* vmbsave_violation */
    FRAME_IMPL = 'I',      /* the implementation's name and version, 128 bytes each */
    FRAME_ERROR = 'E'      /* the implementation could not be opened: why */
};

/* Grace the parent gives a child past its own alarm before killing its group. */
#define CHILD_GRACE_SECONDS 5u

/* ---- Child side ------------------------------------------------------------------------- */
typedef struct relay {
    int fd;
    bool broken; /* the parent went away */
    vmbsave_trace_entry *trace;
    uint32_t trace_cap;
    uint32_t sent;  /* trace entries sent */
    uint32_t calls; /* calls announced */
} relay;

static void write_all(relay *r, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0 && !r->broken) {
        ssize_t w = write(r->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            r->broken = true;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void send_frame(relay *r, uint8_t type, const void *a, size_t a_size, const void *b,
                       size_t b_size)
{
    if (a_size + b_size > FRAME_MAX)
        return; /* never happens within the runner's limits; the parent would refuse it */
    uint8_t header[5];
    uint32_t len = (uint32_t)(a_size + b_size);
    header[0] = type;
    memcpy(header + 1, &len, sizeof(len));
    write_all(r, header, sizeof(header));
    if (a_size > 0)
        write_all(r, a, a_size);
    if (b_size > 0)
        write_all(r, b, b_size);
}

static void send_trace_upto(relay *r, uint32_t end)
{
    if (end > r->trace_cap)
        end = r->trace_cap;
    for (; r->sent < end; r->sent++)
        send_frame(r, FRAME_TRACE, &r->sent, sizeof(r->sent), &r->trace[r->sent],
                   sizeof(r->trace[r->sent]));
}

static void relay_on_call(void *context, uint32_t step, const vmbsave_call *call)
{
    relay *r = context;
    if (vmbsave_call_desc_of(call->op)->traced) {
        send_trace_upto(r, r->calls);
        r->calls++;
    }
    send_frame(r, FRAME_STATEMENT, &step, sizeof(step), call, sizeof(*call));
}

static void relay_on_data(void *context, const char *name, const void *bytes, size_t size)
{
    relay *r = context;
    size_t name_len = strlen(name);
    if (name_len > 255u || size > FRAME_MAX - 4096u)
        return;
    uint8_t head[4 + 256];
    uint32_t n = (uint32_t)name_len;
    memcpy(head, &n, sizeof(n));
    memcpy(head + 4, name, name_len);
    send_frame(r, FRAME_DATA, head, 4u + name_len, bytes, size);
}

static void relay_on_violation(void *context, const vmbsave_violation *violation)
{
    send_frame(context, FRAME_VIOLATION, violation, sizeof(*violation), NULL, 0);
}

static _Noreturn void child_main(int fd, pid_t parent, const char *plugin_path,
                                 const vmbsave_program *program,
                                 const vmbsave_run_options *preload, unsigned timeout_seconds,
                                 bool listen)
{
    /* Its own group, so the parent's kill reaches whatever the implementation starts; gone
     * with vmbsave even if vmbsave is killed outright. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(4);
    /* A parent that went away shows up as a failed write, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (timeout_seconds != 0)
        alarm(timeout_seconds);
    relay r = {.fd = fd};
    char err[512] = "";
    vmbsave_runner *runner =
        plugin_path != NULL
            ? vmbsave_runner_open_path(plugin_path, err, sizeof(err))
            : vmbsave_runner_open_entry(vmbsave_reference_get_interface, err, sizeof(err));
    if (runner == NULL) {
        if (err[0] == '\0')
            snprintf(err, sizeof(err), "cannot open the implementation");
        send_frame(&r, FRAME_ERROR, err, strlen(err), NULL, 0);
        _exit(0);
    }
    char names[256];
    memset(names, 0, sizeof(names));
    snprintf(names, 128, "%s", vmbsave_runner_impl_name(runner));
    snprintf(names + 128, 128, "%s", vmbsave_runner_impl_version(runner));
    send_frame(&r, FRAME_IMPL, names, sizeof(names), NULL, 0);
    if (program == NULL)
        _exit(r.broken ? 3 : 0);
    vmbsave_call_sink sink = {0};
    vmbsave_run_options options = {0};
    if (preload != NULL) {
        memcpy(options.preload_image, preload->preload_image, sizeof(options.preload_image));
        memcpy(options.preload_image_size, preload->preload_image_size,
               sizeof(options.preload_image_size));
        options.digests = preload->digests; /* a differential replay compares digests */
    }
    if (listen) {
        r.trace = calloc(CLI_MAX_TRACE, sizeof(*r.trace));
        if (r.trace != NULL)
            r.trace_cap = CLI_MAX_TRACE;
        options.trace = r.trace;
        options.trace_cap = r.trace_cap;
        sink.context = &r;
        sink.on_call = relay_on_call;
        sink.on_data = relay_on_data;
        sink.on_violation = relay_on_violation;
        options.sink = &sink;
    }
    vmbsave_run_result result;
    memset(&result, 0, sizeof(result));
    vmbsave_runner_run(runner, program, &options, &result);
    if (listen)
        send_trace_upto(&r, result.trace_count);
    send_frame(&r, FRAME_RESULT, &result, sizeof(result), NULL, 0);
    _exit(r.broken ? 3 : 0); /* no atexit handlers: they belong to the parent */
}

/* ---- Parent side ------------------------------------------------------------------------ */
/* Dispatches one frame. Returns false if it is malformed. */
static bool dispatch(const child_listener *l, uint8_t type, const uint8_t *p, uint32_t len,
                     child_outcome *out, bool *have_result, bool *open_failed)
{
    switch (type) {
    case FRAME_IMPL:
        if (len != 256u)
            return false;
        memcpy(out->impl_name, p, 128);
        memcpy(out->impl_version, p + 128, 128);
        out->impl_name[127] = '\0';
        out->impl_version[127] = '\0';
        return true;
    case FRAME_ERROR:
        if (len >= sizeof(out->error))
            len = sizeof(out->error) - 1u;
        memcpy(out->error, p, len);
        out->error[len] = '\0';
        *open_failed = true;
        return true;
    case FRAME_RESULT:
        if (len != sizeof(out->result))
            return false;
        memcpy(&out->result, p, sizeof(out->result));
        *have_result = true;
        return true;
    case FRAME_TRACE: {
        uint32_t index;
        vmbsave_trace_entry entry;
        if (len != sizeof(index) + sizeof(entry))
            return false;
        memcpy(&index, p, sizeof(index));
        memcpy(&entry, p + sizeof(index), sizeof(entry));
        entry.note[sizeof(entry.note) - 1u] = '\0';
        if (l != NULL && l->on_trace != NULL)
            l->on_trace(l->context, index, &entry);
        return true;
    }
    case FRAME_STATEMENT: {
        uint32_t step;
        vmbsave_call call;
        if (len != sizeof(step) + sizeof(call))
            return false;
        memcpy(&step, p, sizeof(step));
        memcpy(&call, p + sizeof(step), sizeof(call));
        if (l != NULL && l->on_statement != NULL)
            l->on_statement(l->context, step, &call);
        return true;
    }
    case FRAME_DATA: {
        uint32_t name_len;
        char name[256];
        if (len < sizeof(name_len))
            return false;
        memcpy(&name_len, p, sizeof(name_len));
        if (name_len > 255u || name_len > len - sizeof(name_len))
            return false;
        memcpy(name, p + sizeof(name_len), name_len);
        name[name_len] = '\0';
        const uint8_t *bytes = p + sizeof(name_len) + name_len;
        if (l != NULL && l->on_data != NULL)
            l->on_data(l->context, name, bytes, len - sizeof(name_len) - name_len);
        return true;
    }
    case FRAME_VIOLATION: {
        vmbsave_violation v;
        if (len != sizeof(v))
            return false;
        memcpy(&v, p, sizeof(v));
        v.clause[sizeof(v.clause) - 1u] = '\0';
        v.expected[sizeof(v.expected) - 1u] = '\0';
        v.observed[sizeof(v.observed) - 1u] = '\0';
        if (l != NULL && l->on_violation != NULL)
            l->on_violation(l->context, &v);
        return true;
    }
    default: return false;
    }
}

/* Reads n bytes before the deadline (0: none). 1 read, 0 end of file before any byte, -1 an
 * error, an end mid-frame, or the deadline. */
static int read_until(int fd, void *data, size_t n, uint64_t deadline)
{
    uint8_t *p = data;
    size_t have = 0;
    while (have < n) {
        if (deadline != 0) {
            uint64_t now = sandbox_now_ms();
            if (now >= deadline)
                return -1;
            struct pollfd pfd = {fd, POLLIN, 0};
            int ready = poll(&pfd, 1, (int)(deadline - now > 1000u ? 1000u : deadline - now));
            if (ready < 0 && errno != EINTR)
                return -1;
            if (ready <= 0)
                continue;
        }
        ssize_t r = read(fd, p + have, n - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return have == 0 ? 0 : -1; /* EOF between frames is the normal end */
        have += (size_t)r;
    }
    return 1;
}

void child_run(const char *plugin_path, const vmbsave_program *program,
               const vmbsave_run_options *preload, unsigned timeout_seconds,
               const child_listener *listener, child_outcome *out)
{
    memset(out, 0, sizeof(*out));
    sandbox_install_signal_handlers();
    int fds[2];
    if (pipe(fds) != 0) {
        out->status = CHILD_FAILED;
        snprintf(out->error, sizeof(out->error), "cannot create a pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        out->status = CHILD_FAILED;
        snprintf(out->error, sizeof(out->error), "cannot fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], parent, plugin_path, program, preload, timeout_seconds,
                   listener != NULL);
    }
    setpgid(pid, pid); /* also here, in case the child has not done it yet */
    sandbox_track_group(pid);
    close(fds[1]);
    /* The child's alarm ends a hung run; the parent's deadline ends a run that blocks it. */
    uint64_t deadline =
        timeout_seconds != 0 ? sandbox_now_ms() + (uint64_t)(timeout_seconds + CHILD_GRACE_SECONDS) * 1000u : 0;

    bool have_result = false;
    bool garbage = false;
    bool open_failed = false;
    bool overdue = false;
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (;;) {
        uint8_t header[5];
        int r = read_until(fds[0], header, sizeof(header), deadline);
        if (r == 0)
            break;
        uint32_t len;
        memcpy(&len, header + 1, sizeof(len));
        if (r < 0 || len > FRAME_MAX) {
            garbage = r > 0;
            overdue = r < 0 && deadline != 0 && sandbox_now_ms() >= deadline;
            break;
        }
        if (len + 1u > cap) {
            uint8_t *grown = realloc(buf, (size_t)len + 1u);
            if (grown == NULL) {
                garbage = true;
                break;
            }
            buf = grown;
            cap = (size_t)len + 1u;
        }
        if (len > 0 && read_until(fds[0], buf, len, deadline) != 1) {
            overdue = deadline != 0 && sandbox_now_ms() >= deadline;
            break; /* the child died mid-frame: its status says why */
        }
        if (!dispatch(listener, header[0], buf, len, out, &have_result, &open_failed)) {
            garbage = true;
            break;
        }
    }
    free(buf);
    /* Whatever is left of the child's group goes now: a stuck child, or what it started. */
    if (garbage || overdue)
        kill(-pid, SIGKILL);
    close(fds[0]);

    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            kill(-pid, SIGKILL);
            sandbox_untrack_group(pid);
            out->status = CHILD_FAILED;
            snprintf(out->error, sizeof(out->error), "cannot wait for the run: %s",
                     strerror(errno));
            return;
        }
    }
    kill(-pid, SIGKILL);
    sandbox_untrack_group(pid);
    if (open_failed) {
        out->status = CHILD_FAILED;
    } else if (overdue) {
        out->status = CHILD_TIMED_OUT;
        out->timeout = timeout_seconds;
    } else if (garbage) {
        out->status = CHILD_FAILED;
        snprintf(out->error, sizeof(out->error), "the run's process sent malformed data");
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGALRM && timeout_seconds != 0) {
            out->status = CHILD_TIMED_OUT;
            out->timeout = timeout_seconds;
        } else {
            out->status = CHILD_SIGNALLED;
            out->signal_number = sig;
        }
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
               (have_result || (program == NULL && out->impl_name[0] != '\0'))) {
        out->status = CHILD_FINISHED;
    } else {
        out->status = CHILD_EXITED;
        out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
}

const char *child_signal_name(int signal_number)
{
    switch (signal_number) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "signal";
    }
}

/* Copies `s` with control characters (a newline from an implementation's text) as spaces, so
 * that every report stays one line. */
static void one_line(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] != '\0' && i + 1u < cap; i++)
        dst[i] = ((unsigned char)s[i] < 0x20u || s[i] == 0x7F) ? ' ' : s[i];
    if (cap > 0)
        dst[i] = '\0';
}

void child_outcome_text(const child_outcome *o, char *buf, size_t cap)
{
    switch (o->status) {
    case CHILD_FINISHED: {
        const vmbsave_run_result *r = &o->result;
        if (r->verdict == VMBSAVE_VERDICT_PASS) {
            snprintf(buf, cap, "pass (%lu steps)", (unsigned long)r->steps_run);
        } else if (r->verdict == VMBSAVE_VERDICT_VIOLATION) {
            char clause[64], expected[256], observed[256];
            one_line(clause, sizeof(clause), r->violation.clause);
            one_line(expected, sizeof(expected), r->violation.expected);
            one_line(observed, sizeof(observed), r->violation.observed);
            snprintf(buf, cap, "violation %s at step %lu: expected %s, observed %s", clause,
                     (unsigned long)r->violation.step, expected, observed);
        } else {
            char error[256];
            one_line(error, sizeof(error), r->error);
            snprintf(buf, cap, "error: %s", error[0] != '\0' ? error : "the run failed");
        }
        return;
    }
    case CHILD_SIGNALLED:
        snprintf(buf, cap, "crash: signal %d (%s)", o->signal_number,
                 child_signal_name(o->signal_number));
        return;
    case CHILD_TIMED_OUT:
        snprintf(buf, cap, "crash: timed out after %u s", o->timeout);
        return;
    case CHILD_EXITED:
        snprintf(buf, cap, "crash: exited with status %d before the run finished",
                 o->exit_code);
        return;
    case CHILD_FAILED: snprintf(buf, cap, "error: %s", o->error); return;
    }
    snprintf(buf, cap, "error: unknown outcome");
}

int child_outcome_exit(const child_outcome *o)
{
    switch (o->status) {
    case CHILD_FINISHED:
        switch (o->result.verdict) {
        case VMBSAVE_VERDICT_PASS: return CLI_EXIT_CLEAN;
        case VMBSAVE_VERDICT_VIOLATION: return CLI_EXIT_FINDING;
        case VMBSAVE_VERDICT_ERROR: return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_USAGE;
    case CHILD_SIGNALLED:
    case CHILD_TIMED_OUT:
    case CHILD_EXITED: return CLI_EXIT_FINDING;
    case CHILD_FAILED: return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_USAGE;
}

bool child_outcome_is_failure(const child_outcome *o)
{
    return child_outcome_exit(o) == CLI_EXIT_FINDING;
}

bool child_outcome_same_failure(const child_outcome *a, const child_outcome *b)
{
    if (a->status != b->status || !child_outcome_is_failure(a))
        return false;
    switch (a->status) {
    case CHILD_FINISHED:
        return b->result.verdict == VMBSAVE_VERDICT_VIOLATION &&
               strcmp(a->result.violation.clause, b->result.violation.clause) == 0;
    case CHILD_SIGNALLED: return a->signal_number == b->signal_number;
    case CHILD_EXITED: return a->exit_code == b->exit_code;
    case CHILD_TIMED_OUT: return true;
    case CHILD_FAILED: return false;
    }
    return false;
}
