# shellcheck shell=bash disable=SC2154 # repo, impl: set by ci/main.sh
# Sourced by ci/main.sh: the processes of a nightly run, so that none outlives it.
# Every process the run starts inherits VMBSAVE_NIGHTLY_RUN=<id> (set here unless the caller
# set it, as the tests do to find leftovers). Engines run each in a session and process group
# of their own (setsid) with a parent-death signal (setpriv --pdeathsig KILL), so a killed run
# takes them along; nightly_cleanup kills every group, then every process whose environment
# carries the marker: AFL++'s fork servers call setsid() and would escape their group.

nightly_groups=()

nightly_marker_init() {
    : "${VMBSAVE_NIGHTLY_RUN:=vmbsave-nightly-$$-$(date +%s)-$RANDOM}"
    export VMBSAVE_NIGHTLY_RUN
}

# nightly_spawn LOG CMD...: CMD in a new session, output to LOG, stdin closed; its group id
# (= its pid) in nightly_pid and in the list nightly_cleanup kills.
nightly_spawn() {
    local log=$1
    shift
    local -a pd=()
    command -v setpriv >/dev/null 2>&1 && pd=(setpriv --pdeathsig KILL --)
    # A background job of a non-interactive shell is no group leader, so setsid(1) calls
    # setsid() itself without forking: $! is the new group's id.
    setsid "${pd[@]}" "$@" >"$log" 2>&1 </dev/null &
    nightly_pid=$!
    nightly_groups+=("$nightly_pid")
}

# nightly_kill_group PID: the group and everything in it, at once.
nightly_kill_group() {
    kill -KILL -- "-$1" 2>/dev/null || true
}

# nightly_marked_pids: the processes whose environment carries this run's marker, but this
# shell and its ancestors' copies of it.
nightly_marked_pids() {
    local p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] || continue
        # tr: environ is NUL-separated; grep -x matches one whole variable.
        if { tr "\\0" "\\n" <"$p/environ"; } 2>/dev/null | grep -qxF "VMBSAVE_NIGHTLY_RUN=$VMBSAVE_NIGHTLY_RUN"; then
            echo "$pid"
        fi
    done
}

nightly_cleanup() {
    local g pid
    for g in "${nightly_groups[@]}"; do
        nightly_kill_group "$g"
    done
    # A fork server may fork once more while being killed: a few rounds.
    for _ in 1 2 3; do
        local -a left=()
        mapfile -t left < <(nightly_marked_pids)
        [ "${#left[@]}" -gt 0 ] || break
        for pid in "${left[@]}"; do
            kill -KILL "$pid" 2>/dev/null || true
        done
        sleep 0.2
    done
}
