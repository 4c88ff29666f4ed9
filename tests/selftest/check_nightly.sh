#!/usr/bin/env bash
# HARNESS.NIGHTLY.*: the nightly pipeline (ci/main.sh) end to end, in short runs of one target.
#
# usage: check_nightly.sh SOURCE_DIR WORK_DIR CASE
#   usage        bad arguments: status 2, a message, and the verdict line last; nothing built
#   known-bad    --impl a broken variant (accepts_second_begin: SAVE.BEGIN.ACTIVE_SESSION, its
#                witness is a seed): status 1, the finding new, reliable, minimized, with a
#                trace and a C reproducer, and its command, run from a fresh shell (env -i),
#                reproduces the clause; certify ran (SAVE.BEGIN's cases, NIGHTLY_CERTIFY_CASE):
#                report.json's certify "not conformant"
#                with the clause a new failing case, the clause in index.html's certify table
#                and in the verdict line. Leaves WORK_DIR/bad-1 for the next case
#   previous     the same plug-in again with --previous WORK_DIR/bad-1: the finding is known,
#                status 0; and with --no-fuzz --certify (SAVE.BEGIN's cases only): certify's
#                failure of the clause is known, status 0
#   clean-no-leftover  the reference, every target fuzzed (--budget 50): status 0, no certify,
#                report.json and stats.csv filled by both engines on every target, stats.csv's samples in line with report.json (executions never
#                going down, exec/s within 10 times the engine's rate), the corpus stored, and
#                no process carrying the run's marker is left
#   kill-merge   a run paused at the corpus merge (VMBSAVE_NIGHTLY_PAUSE_AT=merge) is killed
#                with SIGKILL, its whole process group: the stored corpus is the previous one,
#                byte for byte, and no process of the run is left
# Exit status: 0 the case passed; 1 it failed (FAIL: lines say why); 2 usage.
set -uo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 SOURCE_DIR WORK_DIR CASE" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
mkdir -p "$2"
work=$(cd "$2" && pwd)
case_name=$3
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# The variant is built in the fuzzers' build: clang ASan, as the engines want a plug-in.
variant=accepts_second_begin
clause=SAVE.BEGIN.ACTIVE_SESSION
variant_so=$src/build/fuzz-libfuzzer/variants/libvmbsave_variant_$variant.so

# run NAME ARGS...: ci/main.sh with ARGS, output to WORK_DIR/NAME.log, status in $rc; the run's
# processes carry a marker of this test's own.
run() {
    local name=$1
    shift
    marker=check-nightly-$case_name-$$-$RANDOM
    rc=0
    VMBSAVE_NIGHTLY_RUN=$marker "$src/ci/main.sh" "$@" >"$work/$name.log" 2>&1 || rc=$?
    echo "---- ci/main.sh $* (status $rc): last lines ----"
    tail -n 15 "$work/$name.log"
}
# left_over: pids of processes whose environment carries $marker.
left_over() {
    local p
    for p in /proc/[0-9]*; do
        { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "VMBSAVE_NIGHTLY_RUN=$marker" &&
            echo "${p#/proc/}"
    done
    return 0
}
check_no_leftover() {
    local left
    left=$(left_over | xargs)
    if [ -n "$left" ]; then
        fail "processes of the run are left: $left"
        # shellcheck disable=SC2086
        ps -o pid,pgid,stat,cmd -p ${left// /,} >&2 || true
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
    fi
}
last_line_is_verdict() { # LOG VERDICT
    local last
    last=$(tail -n 1 "$1")
    [[ "$last" == "ci/main.sh: VERDICT $2"* ]] || fail "last line is not the '$2' verdict: '$last'"
}
# check_stats_agree OUT: OUT/stats.csv's samples agree with OUT/report.json. Per target and
# engine, executions never go down, and no exec/s sample is over 10 times that engine's rate in
# report.json (its executions over the slot's wall time; +50 for rates near zero). Both engines
# give an average since their own start, which in a short slot can be a few times the slot's
# average (libFuzzer's fork mode first merges its inputs: 3.6 times once); afl-fuzz's first
# fuzzer_stats (calibration runs over a few milliseconds) read as 225 times.
check_stats_agree() {
    local bad
    bad=$(jq -r '.targets[] | .name as $t | .engines[] | "\($t),\(.engine),\(.exec_per_s)"' "$1/report.json" |
        awk -F, 'NR == FNR { rate[$1 FS $2] = $3; next }
            FNR == 1 { next }
            { k = $2 FS $3 }
            !(k in rate) { print "a sample of " k ", which report.json does not list"; next }
            $4 + 0 < last[k] { print k ": executions went down from " last[k] " to " $4 " at " $1 " s" }
            { last[k] = $4 + 0 }
            $5 + 0 > 10 * rate[k] + 50 { print k ": " $5 " exec/s at " $1 " s, report.json says " rate[k] }' - "$1/stats.csv")
    [ -z "$bad" ] || fail "stats.csv disagrees with report.json: $(head -n 5 <<<"$bad" | paste -sd';')"
}
store_digest() { # STORE TARGET: the stored inputs, name and content
    (cd "$1/$2/" 2>/dev/null && find . -type f -exec sha256sum {} + | sort)
}
build_variant() {
    if ! { cmake --preset fuzz-libfuzzer -S "$src" >/dev/null &&
        cmake --build "$src/build/fuzz-libfuzzer" --target "vmbsave_variant_$variant" >/dev/null; } 2>&1; then
        fail "could not build the variant $variant in build/fuzz-libfuzzer"
        exit 1
    fi
}

case "$case_name" in
usage)
    expect_usage() { # PATTERN ARGS...
        local pattern=$1
        shift
        run usage "$@"
        [ "$rc" -eq 2 ] || fail "ci/main.sh $*: status $rc, expected 2"
        grep -qE -- "$pattern" "$work/usage.log" || fail "ci/main.sh $*: no '$pattern' in the output"
        last_line_is_verdict "$work/usage.log" "broken: usage"
    }
    expect_usage "--budget takes a whole number of seconds from 10 to 604800, got '5'" --budget 5
    expect_usage "--budget takes a whole number" --budget 1h
    expect_usage "unknown target 'nope'" --targets save_session,nope
    expect_usage "--jobs takes a whole number from 1 to 256" --jobs 0
    expect_usage "--impl /nonexistent.so: no such file" --impl /nonexistent.so
    expect_usage "--previous $work/none: no report.json there" --previous "$work/none"
    expect_usage "--bench-mib is gone" --bench-mib 4
    expect_usage "unknown argument '--fast'" --fast
    expect_usage "--mutants takes a whole number from 0 to 1000, got '1001'" --mutants 1001
    expect_usage "--mutants takes a whole number" --mutants some
    # ci/nightly/mutants.sh, the step --mutants runs: bad input exits 2 and touches nothing.
    mkdir -p "$work/mut-out" && echo '{"schema": "x"}' >"$work/mut-out/report.json"
    for bad in "" "$work/mut-out 0" "$work/mut-out 1001" "$work/mut-out x" "$work/none 3" \
        "$work/mut-out 3 --seed -1" "$work/mut-out 3 --jobs 0" "$work/mut-out 3 --timeout 5" \
        "$work/mut-out 3 --fast 1"; do
        rc=0
        # shellcheck disable=SC2086 # the arguments are split on purpose
        "$src/ci/nightly/mutants.sh" $bad >"$work/mut.log" 2>&1 || rc=$?
        [ "$rc" -eq 2 ] || fail "ci/nightly/mutants.sh $bad: status $rc, expected 2"
        grep -q '^ci/nightly/mutants.sh: ' "$work/mut.log" || fail "ci/nightly/mutants.sh $bad: no message"
    done
    [ "$(cat "$work/mut-out/report.json")" = '{"schema": "x"}' ] || fail "mutants.sh changed report.json on bad input"
    [ ! -e "$work/mut-out/mutation" ] || fail "mutants.sh made OUT/mutation on bad input"
    mkdir -p "$work/not-a-report" && touch "$work/not-a-report/precious"
    expect_usage "holds files but no report.json" --out "$work/not-a-report"
    [ -f "$work/not-a-report/precious" ] || fail "--out emptied a folder that was no report"
    run usage --help
    [ "$rc" -eq 0 ] && grep -q '^usage: ci/main.sh' "$work/usage.log" || fail "--help: status $rc"
    ;;
known-bad)
    build_variant
    rm -rf "$work/bad-1" "$work/bad-store"
    # certify runs SAVE.BEGIN's cases only (test hook): the whole suite is HARNESS.CERTIFY.*'s,
    # and would add a minute and more to CI.
    NIGHTLY_CERTIFY_CASE=SAVE.BEGIN run bad-1 --targets save_session --budget 10 --impl "$variant_so" \
        --out "$work/bad-1" --corpus "$work/bad-store"
    report=$work/bad-1/report.json
    [ "$rc" -eq 1 ] || fail "status $rc, expected 1 (a new reliable finding)"
    last_line_is_verdict "$work/bad-1.log" new-findings
    [ -f "$report" ] || { fail "no report.json"; exit 1; }
    f=$(jq -c --arg c "$clause" '[.findings[] | select(.clause == $c)][0] // empty' "$report")
    [ -n "$f" ] || { fail "no finding with clause $clause in report.json"; jq .findings "$report" >&2; exit 1; }
    for want in 'status == "new"' 'reliability == "reliable"' 'reproduced == "3/3"' \
        'kind == "violation"' "signature == \"$clause\"" '.minimized != null' '.c_reproducer != null'; do
        jq -e ".$want" <<<"$f" >/dev/null 2>&1 || jq -e "$want" <<<"$f" >/dev/null 2>&1 ||
            fail "the finding fails '$want': $f"
    done
    for key in file minimized trace c_reproducer; do
        path=$(jq -r ".$key" <<<"$f")
        [ -s "$work/bad-1/$path" ] || fail "the finding's $key ($path) is missing or empty"
    done
    grep -q "violation $clause" "$work/bad-1/$(jq -r .trace <<<"$f")" || fail "the trace does not end on $clause"
    # certify ran on the plug-in (the default with --impl): not certified, the clause among its
    # new failing cases, in the dashboard's certify table, and in the verdict line.
    c=$(jq -c '.certify' "$report")
    jq -e --arg c "$clause" '.verdict == "not conformant" and .certified == false and .exit_status == 1
        and .report == "certify/report.json" and .fail >= 1 and .new >= 1
        and any(.failed[]; .clause == $c and .status == "new")' <<<"$c" >/dev/null ||
        fail "report.json's certify is not a new failure of $clause: $c"
    [ -f "$work/bad-1/certify/report.json" ] || fail "no certify/report.json in the report folder"
    sed -n '/<table id="certify">/,/<\/table>/p' "$work/bad-1/index.html" | grep -qF "$clause" ||
        fail "index.html's certify table does not name $clause"
    line=$(tail -n 1 "$work/bad-1.log")
    [[ "$line" == *"; certify "*"$clause"* ]] || fail "the verdict line does not name certify's $clause: $line"
    [ "$(jq -r '.impl.sha256' "$report")" = "$(sha256sum <"$variant_so" | cut -d' ' -f1)" ] ||
        fail "report.json's impl.sha256 is not the plug-in's"
    # The command, from a fresh shell: no variable of this environment, from the checkout.
    cmd=$(jq -r .command <<<"$f")
    rc2=0
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="${HOME:-/root}" \
        bash -c "cd '$src' && $cmd" >"$work/bad-1-command.log" 2>&1 || rc2=$?
    [ "$rc2" -eq 1 ] || fail "the command '$cmd' exited $rc2, expected 1 (reproduced)"
    grep -q "^violation $clause at step" "$work/bad-1-command.log" ||
        fail "the command '$cmd' does not print 'violation $clause at step'"
    check_no_leftover
    ;;
previous)
    [ -f "$work/bad-1/report.json" ] || { fail "no $work/bad-1 (HARNESS.NIGHTLY.KNOWN_BAD makes it)"; exit 1; }
    build_variant
    rm -rf "$work/bad-2"
    run bad-2 --targets save_session --no-fuzz --impl "$variant_so" --out "$work/bad-2" \
        --corpus "$work/bad-store" --previous "$work/bad-1"
    report=$work/bad-2/report.json
    [ "$rc" -eq 0 ] || fail "status $rc, expected 0 (the finding is known)"
    last_line_is_verdict "$work/bad-2.log" clean
    status=$(jq -r --arg c "$clause" '[.findings[] | select(.clause == $c)][0].status' "$report" 2>/dev/null)
    [ "$status" = known ] || fail "the $clause finding is '$status', expected known"
    # A night without fuzzing has no series: the trend is drawn all the same.
    ! grep -q 'the report step failed' "$work/bad-2.log" && [ -s "$work/bad-2/index.html" ] ||
        fail "the report step failed on a --no-fuzz night with --previous"
    check_no_leftover
    # --certify with --no-fuzz, only the cases of SAVE.BEGIN (a test hook, for speed): the
    # clause failed in bad-1's certify too, so the failure is known and the run clean.
    rm -rf "$work/bad-3"
    NIGHTLY_CERTIFY_CASE=SAVE.BEGIN run bad-3 --targets save_session --no-fuzz --certify \
        --impl "$variant_so" --out "$work/bad-3" --corpus "$work/bad-store" --previous "$work/bad-1"
    [ "$rc" -eq 0 ] || fail "--certify --previous: status $rc, expected 0 (certify's failure is known)"
    last_line_is_verdict "$work/bad-3.log" clean
    jq -e --arg c "$clause" '.certify.verdict == "not conformant" and .certify.new == 0
        and any(.certify.failed[]; .clause == $c and .status == "known")' "$work/bad-3/report.json" >/dev/null ||
        fail "certify's $clause is not a known failure: $(jq -c '.certify | del(.counts)' "$work/bad-3/report.json")"
    check_no_leftover
    ;;
clean-no-leftover)
    # Every target, 10 s each: the short run ci/test.sh had as a section of its own (its
    # dashboard is HARNESS.NIGHTLY.DASHBOARD_RUN's).
    rm -rf "$work/clean" "$work/clean-store"
    run clean --budget 50 --out "$work/clean" --corpus "$work/clean-store"
    report=$work/clean/report.json
    [ "$rc" -eq 0 ] || fail "status $rc, expected 0"
    last_line_is_verdict "$work/clean.log" clean
    jq -e '.schema == "vmbsave-nightly/1" and .verdict == "clean" and .exit_status == 0
           and (.findings | length) == 0 and .utilisation.fuzz_core_seconds > 0
           and .utilisation.budget_core_seconds > 0
           and (.targets | length) == 5 and .certify == null
           and all(.targets[]; ([.engines[].engine] | sort) == ["afl", "libfuzzer"]
                   and all(.engines[]; .executions > 0 and .edges > 0 and .corpus_after > 0)
                   and .corpus_after > 0)' "$report" >/dev/null ||
        fail "report.json lacks what a clean fuzzed run gives: $(jq -c '{verdict, utilisation, targets}' "$report" 2>&1)"
    head -n 1 "$work/clean/stats.csv" | grep -qx 'elapsed_s,target,engine,executions,exec_per_s,edges,corpus' ||
        fail "stats.csv has no header"
    for t in $(jq -r '.targets[].name' "$report"); do
        for e in libfuzzer afl; do
            awk -F, -v t="$t" -v e="$e" '$2 == t && $3 == e && $4 > 0' "$work/clean/stats.csv" | grep -q . ||
                fail "stats.csv has no row of $t/$e with executions"
        done
    done
    check_stats_agree "$work/clean"
    [ -n "$(store_digest "$work/clean-store" save_session)" ] || fail "no corpus stored"
    check_no_leftover
    ;;
kill-merge)
    rm -rf "$work/km-1" "$work/km-2" "$work/km-store"
    run km-1 --targets save_session --no-fuzz --out "$work/km-1" --corpus "$work/km-store"
    [ "$rc" -eq 0 ] || fail "the first run: status $rc"
    before=$(store_digest "$work/km-store" save_session)
    [ -n "$before" ] || { fail "the first run stored no corpus"; exit 1; }
    # The second run in a session of its own, paused once the new corpus is written and the
    # old not yet replaced; then its whole group gets SIGKILL, as a CI runner kills a job.
    marker=check-nightly-kill-merge-$$-$RANDOM
    VMBSAVE_NIGHTLY_RUN=$marker VMBSAVE_NIGHTLY_PAUSE_AT=merge setsid "$src/ci/main.sh" \
        --targets save_session --no-fuzz --out "$work/km-2" --corpus "$work/km-store" \
        >"$work/km-2.log" 2>&1 &
    group=$!
    # Bounded wait for the pause (no timing asserted: the bound only ends a hung run).
    for _ in $(seq 600); do
        [ -f "$work/km-2/.paused-at-merge" ] && break
        kill -0 "$group" 2>/dev/null || break
        sleep 1
    done
    if [ ! -f "$work/km-2/.paused-at-merge" ]; then
        fail "the run never reached the merge pause"
        tail -n 20 "$work/km-2.log" >&2
    fi
    gens=$(find "$work/km-store/.gen" -mindepth 1 -maxdepth 1 -type d | wc -l)
    [ "$gens" -ge 2 ] || fail "no new generation was being written at the pause ($gens in .gen)"
    kill -KILL -- "-$group"
    wait "$group" 2>/dev/null
    sleep 1
    after=$(store_digest "$work/km-store" save_session)
    [ "$after" = "$before" ] || fail "the stored corpus changed: $(diff <(echo "$before") <(echo "$after") | head -n 5)"
    check_no_leftover
    # The next run tidies the half-written generation away and goes on from the old corpus.
    run km-3 --targets save_session --no-fuzz --out "$work/km-3" --corpus "$work/km-store"
    [ "$rc" -eq 0 ] || fail "the run after the kill: status $rc"
    gens=$(find "$work/km-store/.gen" -mindepth 1 -maxdepth 1 -type d | wc -l)
    [ "$gens" -eq 1 ] || fail "$gens generations in .gen after the next run, expected 1"
    ;;
*)
    echo "$0: unknown case '$case_name'" >&2
    exit 2
    ;;
esac

if [ "$failures" -ne 0 ]; then
    echo "check_nightly.sh $case_name: $failures failure(s)" >&2
    exit 1
fi
echo "check_nightly.sh $case_name: pass"
