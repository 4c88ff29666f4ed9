# shellcheck shell=bash disable=SC2154 # repo, out, work, jobs: set by ci/main.sh
# Sourced by ci/main.sh (after procs.sh): `vmbsave certify` of the plug-in (or, with --certify
# and no --impl, of the reference) as a step of the nightly run, in a process group of its own.
#
# The build: preset clang-asan, target vmbsave_certify_suite (vmbsave, the conformance suite,
# the reference plug-in). clang's ASan, as the plug-ins the engines load are built without a
# sanitizer or with clang's ASan (README), and a gcc-built vmbsave cannot load the latter.
# The search's share of the budget: min(budget / 6, 30) seconds (NIGHTLY_CERTIFY_SEARCH_SECONDS
# overrides it); certify's own --budget is that plus 600 s for the suite, so that only a
# hung run is cut short. Its report goes to OUT/certify/, its output to OUT/logs/certify.log.
# Test hook: NIGHTLY_CERTIFY_CASE=PATTERN runs only those cases (certify --case), so that
# HARNESS.NIGHTLY.PREVIOUS checks known failures in seconds.

nightly_certify_build() { # LOG_DIR: status 0 built
    echo "build: clang-asan (vmbsave_certify_suite)"
    if ! { cmake --preset clang-asan && cmake --build build/clang-asan --parallel "$jobs" \
        --target vmbsave_certify_suite; } >"$1/build-clang-asan.log" 2>&1; then
        tail -n 30 "$1/build-clang-asan.log" >&2
        echo "build: the clang-asan build failed (log: $1/build-clang-asan.log)" >&2
        return 1
    fi
}

nightly_certify_search_seconds() { # BUDGET
    local s=$(($1 / 6))
    [ "$s" -le 30 ] || s=30
    echo "${NIGHTLY_CERTIFY_SEARCH_SECONDS:-$s}"
}

# nightly_certify LIB.so SEARCH_SECONDS KNOWN_FILE LIB_REF: runs certify and prints report.json's
# "certify" object on one line. KNOWN_FILE lists the clauses (or case IDs) that failed in the
# --previous runs' certify, one a line: a failing case whose clause is there is known, else new.
# verdict is certify's result ("certified", "not conformant", "incomplete"); exit_status its
# exit status (0 certified, 1 not conformant, 2 incomplete, 3 usage); command reruns it from the
# checkout's root, naming the plug-in as LIB_REF.
nightly_certify() {
    local lib=$1 search=$2 known=$3 lib_ref=$4 rc=0
    local bin=$repo/build/clang-asan/tools/vmbsave/vmbsave
    rm -rf "$out/certify"
    nightly_spawn "$out/logs/certify.log" "$bin" certify --impl "$lib" --report "$out/certify" \
        --search-seconds "$search" --budget $((search + 600)) --jobs "$jobs" \
        ${NIGHTLY_CERTIFY_CASE:+--case "$NIGHTLY_CERTIFY_CASE"}
    # In the background (nightly_spawn): a signal's trap runs at once, not when certify ends.
    wait "$nightly_pid" || rc=$?
    nightly_kill_group "$nightly_pid"
    local cmd="build/clang-asan/tools/vmbsave/vmbsave certify --impl $lib_ref --search-seconds $search"
    if [ ! -f "$out/certify/report.json" ]; then
        jq -nc --argjson rc "$rc" --arg cmd "$cmd" --argjson s "$search" \
            '{verdict: "incomplete", certified: false, exit_status: $rc, search_seconds: $s,
              counts: null, failed: [], new: 0, report: null, log: "logs/certify.log",
              command: $cmd}'
        return
    fi
    jq -c --argjson rc "$rc" --arg cmd "$cmd" --argjson s "$search" \
        --rawfile known "$known" '
        ($known | split("\n") | map(select(length > 0))) as $k
        | [.cases[] | select(.verdict | IN("FAIL", "CRASH", "TIMEOUT", "MEMORY_LIMIT", "HARNESS_ERROR"))
           | {case: .id, clause: (.clause // .id), verdict,
              status: (if ((.clause // .id) as $c | $k | index($c)) then "known" else "new" end)}] as $failed
        | {verdict: .result, certified: .certified, exit_status: $rc, search_seconds: $s,
           pass: .counts.PASS, fail: .counts.FAIL, crash: .counts.CRASH, timeout: .counts.TIMEOUT,
           counts: .counts, failed: $failed, new: ([$failed[] | select(.status == "new")] | length),
           report: "certify/report.json", log: "logs/certify.log", command: $cmd}' \
        "$out/certify/report.json"
}
