#!/usr/bin/env bash
# usage: ci/nightly/cpu-wrap.sh CPU_FILE CMD...
# Runs CMD (killed by the kernel should this wrapper die: parent-death signal), then writes to
# CPU_FILE the CPU seconds, user + system, that CMD and all its descendants used: the fuzzing
# core-seconds of ci/main.sh's utilisation figure. Exit status: CMD's.
# The wrapper makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER, via perl, on
# x86_64): a descendant whose parent dies without waiting for it (afl-fuzz kills its fork
# server and leaves it unreaped; the fork server's last persistent child is orphaned, stopped)
# is re-parented here, killed and reaped, so its CPU time is counted too. Elsewhere only the
# descendants waited for count (a lower bound).
if [ -z "${VMBSAVE_CPU_WRAP_REAPER:-}" ] && [ "$(uname -m)" = x86_64 ] &&
    command -v perl >/dev/null 2>&1; then
    # 157: prctl on x86_64; 36: PR_SET_CHILD_SUBREAPER, kept across execve.
    VMBSAVE_CPU_WRAP_REAPER=1 exec perl -e 'syscall(157, 36, 1, 0, 0, 0); exec @ARGV' \
        bash "$0" "$@"
fi
unset VMBSAVE_CPU_WRAP_REAPER
out=$1
shift
pd=()
command -v setpriv >/dev/null 2>&1 && pd=(setpriv --pdeathsig KILL --)
# SIGINT stops CMD (ci/nightly/engines.sh at a slot's end); the wrapper goes on to count.
trap ':' INT
"${pd[@]}" "$@"
rc=$?
trap - INT
# What was re-parented here and still lives: killed, then reaped by bash (SIGCHLD).
for stat in /proc/[0-9]*/stat; do
    { read -r line <"$stat"; } 2>/dev/null || continue
    rest=${line##*) }
    read -r _ ppid _ <<<"$rest"
    [ "$ppid" = "$$" ] && kill -KILL "${stat//[^0-9]/}" 2>/dev/null
done
sleep 0.3
wait
# Not `times | awk`: a pipeline runs times in a subshell, which has no children.
times >"$out.times"
# times: line 2 is the children's user and system time, as "1m2.345s 0m0.678s".
awk 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
    printf "%.3f\n", t
}' "$out.times" >"$out.tmp" && mv "$out.tmp" "$out"
rm -f "$out.times"
exit "$rc"
