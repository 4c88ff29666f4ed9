#!/usr/bin/env bash
# HARNESS.CERTIFY.*: vmbsave certify end to end (docs/vmbsave.1, "certify").
#
# usage: check_certify.sh MODE VMBSAVE BUILD_DIR SOURCE_DIR
#   reference  the reference plug-in certifies (every case, --jobs 2, 20 s of search): exit 0,
#              every case PASS or INFO, the interop and search stages ran, and verify-report
#              accepts the report with --impl
#   second     the same for impls/second, written independently from the documents
#   variants   every deliberately broken plug-in of bench/bug_targets.tsv is rejected (exit 1)
#              with a blocking verdict on a case of its clause, run on that clause's cases and
#              its witness seeds only
#   exact      (builds without sanitizers: slow) each variant of bench/bug_targets.tsv, certified
#              whole (no search), fails exactly the clauses tests/selftest/certify_variants.tsv
#              lists for it, which include its own clause, and every other case passes: the bug
#              is caught and nothing else is blamed. A failing case's clause is the one its
#              structured expected value names (a check of the fixture), else its own
#   hostile    every hostile plug-in (tests/hostile) gets a verdict on each case and a report;
#              vmbsave itself ends with status 1 (never a signal); the expected verdict class
#              shows for each
#   memcheck   (builds without sanitizers) a plug-in built without sanitizers that reads one
#              byte past a restore buffer certifies without a memory checker, and is caught
#              (CRASH) by --memcheck guard and --memcheck valgrind, in clause and seed cases
#   html       report.html, opened in headless Chromium, shows the verdict table: the rendered
#              page holds the table and a failing case, and a screenshot is written
#              ($VMBSAVE_SCREENSHOT_DIR/report.png if set, kept for a person to look at)
#   structured the FAIL cases of known-bad variants carry structured expected and observed
#              values in report.json (tests/support/check.c's case report): typed values, not
#              cmocka's text alone, for the fixture's save checks and cmocka's assertions
#   interop    the interoperability stage: the reference and impls/second pass every INTEROP
#              case (their images cross both ways), and variants that write a wrong byte or a
#              wrong chunk fail it with their clause
#   report     the report's files exist and are consistent; verify-report rejects a tampered
#              report.json, a tampered view, and the wrong library; usage errors exit 3
set -euo pipefail

if [ "$#" -ne 4 ]; then
    echo "usage: $0 MODE VMBSAVE BUILD_DIR SOURCE_DIR" >&2
    exit 2
fi
mode=$1
vmbsave=$2
build=$3
src=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
reference="$build/reference/libvmbsave_reference.so"
fail() {
    echo "FAIL: $*"
    exit 1
}

# Prints the verdicts of report.json's cases, "ID VERDICT" a line.
verdicts() {
    jq -r '.cases[] | "\(.id) \(.verdict)"' "$1/report.json"
}

case $mode in
reference | second)
    lib=$reference
    [ "$mode" = reference ] || lib="$build/impls/second/libvmbsave_second.so"
    rc=0
    "$vmbsave" certify --impl "$lib" --jobs 2 --budget 900 --search-seconds 20 --seed 1 --report "$tmp/r" \
        >"$tmp/log" 2>&1 || rc=$?
    tail -n 3 "$tmp/log"
    [ "$rc" -eq 0 ] || { grep -v ' PASS ' "$tmp/log" | head -n 30; fail "certify of $lib exited $rc"; }
    bad=$(verdicts "$tmp/r" | awk '$2 != "PASS" && $2 != "INFO"' | head -n 10)
    [ -z "$bad" ] || fail "cases of $lib that did not pass: $bad"
    n=$(jq '.counts.ran' "$tmp/r/report.json")
    [ "$n" -gt 100 ] || fail "only $n cases ran"
    # Every stage ran: the interoperability cases, and the search (which found nothing false).
    i=$(jq '[.cases[] | select(.stage == "interop")] | length' "$tmp/r/report.json")
    [ "$i" -ge 8 ] || fail "only $i INTEROP cases"
    p=$(jq '.run.search.programs' "$tmp/r/report.json")
    [ "$(jq -r '.run.search.ran' "$tmp/r/report.json")" = true ] && [ "$p" -gt 0 ] ||
        fail "the search did not run ($p programs)"
    echo "search: $p programs"
    "$vmbsave" verify-report "$tmp/r" --impl "$lib" || fail "verify-report rejected a good report"
    jq -r '.cases[] | select(.verdict == "INFO") | "INFO \(.id): \(.detail)"' "$tmp/r/report.json"
    echo "PASS: $lib certified on $n cases"
    ;;
variants)
    failures=0
    while IFS=$'\t' read -r variant clause also _targets _why; do
        case $variant in '#'* | variant | '') continue ;; esac
        lib="$build/variants/libvmbsave_variant_$variant.so"
        args=(--case "$clause")
        [ "$also" = "-" ] || args+=(--case "$also")
        # Its witness inputs (corpus/{seeds,regressions}/<target>/variant-<name>*).
        while IFS= read -r seed; do
            target=$(basename "$(dirname "$seed")")
            kind=$(basename "$(dirname "$(dirname "$seed")")")
            args+=(--case "$(tr '[:lower:]' '[:upper:]' <<<"$kind").$target.$(basename "$seed")")
        done < <(find "$src/corpus/seeds" "$src/corpus/regressions" -name "variant-$variant*" -type f | sort)
        rc=0
        "$vmbsave" certify --impl "$lib" "${args[@]}" --seed 2 --report "$tmp/$variant" \
            >"$tmp/$variant.log" 2>&1 || rc=$?
        blocking=$(jq -r --arg c "$clause" --arg a "$also" \
            '[.cases[] | select((.clause == $c or .clause == $a)
                                and (.verdict | IN("FAIL","CRASH","TIMEOUT","MEMORY_LIMIT")))] | length' \
            "$tmp/$variant/report.json")
        if [ "$rc" -ne 1 ] || [ "$blocking" -eq 0 ]; then
            echo "FAIL: $variant: exit $rc, $blocking blocking case(s) on $clause"
            tail -n 5 "$tmp/$variant.log"
            failures=$((failures + 1))
        else
            echo "ok: $variant rejected: $blocking blocking case(s) on $clause"
        fi
    done <"$src/bench/bug_targets.tsv"
    [ "$failures" -eq 0 ] || fail "$failures variant(s) not rejected with their clause"
    echo "PASS: every variant rejected with its clause"
    ;;
hostile)
    # name, then the verdicts at least one case must have
    expectations="entry_crash CRASH
load_thread CRASH
null_ops FAIL
absurd_size FAIL
call_crash CRASH
hang TIMEOUT
exits CRASH
aborts CRASH
eats_memory MEMORY_LIMIT
stack_overflow CRASH
writes_far CRASH|FAIL
huge_filled FAIL"
    failures=0
    while read -r name want; do
        lib="$build/tests/hostile/libvmbsave_hostile_$name.so"
        rc=0
        # Time enough for a loaded machine; only the hanging one waits it out. Filling 128 MiB
        # under ASan takes well under a second alone, several seconds beside other builds.
        timeout=60
        [ "$name" != hang ] || timeout=3
        "$vmbsave" certify --impl "$lib" --case ABI.TABLE.COMPLETE --case SAVE.CONTINUE.PARAMS \
            --case SEEDS.save_session.canonical-paused_packets --case-timeout "$timeout" --memory 128 \
            --seed 3 --report "$tmp/$name" >"$tmp/$name.log" 2>&1 || rc=$?
        if [ "$rc" -ne 1 ]; then
            echo "FAIL: $name: vmbsave exited $rc (expected 1: not conformant)"
            tail -n 5 "$tmp/$name.log"
            failures=$((failures + 1))
            continue
        fi
        not_run=$(jq '[.cases[] | select(.verdict == "NOT_RUN")] | length' "$tmp/$name/report.json")
        got=$(jq -r '[.cases[].verdict] | unique | join(",")' "$tmp/$name/report.json")
        if [ "$not_run" -ne 0 ] || ! grep -qE "(^|,)($want)(,|$)" <<<"$got"; then
            echo "FAIL: $name: verdicts $got, $not_run not run; expected one of $want"
            failures=$((failures + 1))
        else
            echo "ok: $name: $got"
        fi
    done <<<"$expectations"
    [ "$failures" -eq 0 ] || fail "$failures hostile plug-in(s) without the expected verdicts"
    echo "PASS: every hostile plug-in got verdicts and vmbsave survived"
    ;;
memcheck)
    lib="$build/tests/hostile/libvmbsave_hostile_reads_past.so"
    cases=(--case RESTORE.SEQUENCE --case SEEDS.restore.paused_packets-whole)
    "$vmbsave" certify --impl "$lib" "${cases[@]}" --seed 5 --report "$tmp/none" >"$tmp/none.log" 2>&1 ||
        { tail -n 5 "$tmp/none.log"; fail "without a memory checker the overread is invisible, yet certify failed"; }
    for mode in guard valgrind; do
        rc=0
        "$vmbsave" certify --impl "$lib" "${cases[@]}" --memcheck "$mode" --seed 5 --report "$tmp/$mode" \
            >"$tmp/$mode.log" 2>&1 || rc=$?
        [ "$rc" -eq 1 ] || { tail -n 5 "$tmp/$mode.log"; fail "--memcheck $mode exited $rc, not 1"; }
        [ "$(jq -r '.run.memcheck' "$tmp/$mode/report.json")" = "$mode" ] || fail "the report does not say --memcheck $mode ran"
        crashes=$(jq '[.cases[] | select(.verdict == "CRASH")] | length' "$tmp/$mode/report.json")
        [ "$crashes" -eq 2 ] || { cat "$tmp/$mode.log"; fail "--memcheck $mode caught $crashes of 2 cases"; }
        echo "ok: --memcheck $mode: $(jq -r '[.cases[].crash_type] | join("; ")' "$tmp/$mode/report.json")"
    done
    echo "PASS: the out-of-bounds read in an uninstrumented plug-in is caught by both memory checkers"
    ;;
html)
    chromium=$(command -v chromium || command -v chromium-browser || true)
    [ -n "$chromium" ] || fail "chromium not found (apt-get install chromium)"
    rc=0
    "$vmbsave" certify --impl "$build/variants/libvmbsave_variant_overrun_one_byte.so" \
        --case SAVE.CONTINUE --case ABI --jobs 2 --seed 6 --report "$tmp/r" >"$tmp/log" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] || fail "certify exited $rc"
    shots=${VMBSAVE_SCREENSHOT_DIR:-$tmp}
    mkdir -p "$shots"
    # A private profile folder, so no user's or earlier run's state is read.
    flags=(--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$tmp/profile")
    timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$tmp/r/report.html" >"$tmp/dom.html" 2>/dev/null ||
        fail "chromium could not render report.html"
    grep -q 'id="verdicts"' "$tmp/dom.html" || fail "the rendered page has no verdict table"
    grep -q '>FAIL<' "$tmp/dom.html" || fail "the rendered page shows no FAIL verdict"
    grep -q "SAVE.CONTINUE.NO_OVERRUN" "$tmp/dom.html" || fail "the rendered page does not name the failing clause"
    timeout 120 "$chromium" "${flags[@]}" --window-size=1280,1000 --screenshot="$shots/report.png" \
        "file://$tmp/r/report.html" >/dev/null 2>&1 || fail "chromium could not take a screenshot"
    size=$(stat -c %s "$shots/report.png")
    # A blank page is a few KiB; the verdict table and failures make it far larger.
    [ "$size" -gt 30000 ] || fail "the screenshot is $size bytes: nothing rendered?"
    echo "PASS: report.html rendered in $($chromium --version 2>/dev/null | head -n 1); screenshot $shots/report.png ($size bytes)"
    ;;
interop)
    for lib in "$reference" "$build/impls/second/libvmbsave_second.so"; do
        rc=0
        "$vmbsave" certify --impl "$lib" --case INTEROP --jobs 2 --seed 8 --report "$tmp/i" >"$tmp/i.log" 2>&1 || rc=$?
        [ "$rc" -eq 0 ] || { tail -n 12 "$tmp/i.log"; fail "INTEROP of $lib exited $rc"; }
        n=$(jq '[.cases[] | select(.stage == "interop" and .verdict == "PASS")] | length' "$tmp/i/report.json")
        # Two directions per canonical state (harness/program/canonical.h has four).
        [ "$n" -ge 8 ] || fail "only $n INTEROP cases passed for $lib"
        echo "ok: $lib: $n INTEROP cases PASS"
    done
    # variant, the clause its INTEROP failures must name
    while read -r variant clause; do
        rc=0
        "$vmbsave" certify --impl "$build/variants/libvmbsave_variant_$variant.so" --case INTEROP --jobs 2 \
            --seed 8 --report "$tmp/$variant" >"$tmp/$variant.log" 2>&1 || rc=$?
        [ "$rc" -eq 1 ] || fail "$variant: INTEROP exited $rc, not 1"
        got=$(jq -r '[.cases[] | select(.verdict == "FAIL") | .clause] | unique | join(",")' "$tmp/$variant/report.json")
        [ "$got" = "$clause" ] || fail "$variant: INTEROP failures name $got, not $clause"
        echo "ok: $variant fails INTEROP with $clause"
    done <<'EOF'
nondeterministic_byte SAVE.IMAGE.DETERMINISTIC
overrun_one_byte SAVE.CONTINUE.NO_OVERRUN
split_chunk SAVE.CONTINUE.WHOLE_CHUNKS
replay_restore_callback RESTORE.NO_REPLAY
more_processing_as_success RESTORE.MORE_PROCESSING
EOF
    echo "PASS: images cross between implementation and reference both ways; wrong writers fail"
    ;;
exact)
    table="$src/tests/selftest/certify_variants.tsv"
    failures=0
    while IFS=$'\t' read -r variant clause _also _targets _why; do
        case $variant in '#'* | variant | '') continue ;; esac
        want=$(awk -F'\t' -v v="$variant" '$1 == v { print $2 }' "$table")
        [ -n "$want" ] || { echo "FAIL: $variant has no line in $table"; failures=$((failures + 1)); continue; }
        [[ ",$want," == *",$clause,"* ]] || { echo "FAIL: $table: $variant's clauses lack its own, $clause"; failures=$((failures + 1)); }
        rc=0
        "$vmbsave" certify --impl "$build/variants/libvmbsave_variant_$variant.so" --search-seconds 0 \
            --budget 3600 --jobs 2 --seed 11 --report "$tmp/$variant" >"$tmp/$variant.log" 2>&1 || rc=$?
        got=$(jq -r '[.cases[] | select(.verdict | IN("PASS","INFO","NOT_SUPPORTED") | not)
                      | (.expected.clause // .clause)] | unique | join(",")' "$tmp/$variant/report.json")
        if [ "$rc" -ne 1 ] || [ "$got" != "$want" ]; then
            echo "FAIL: $variant: exit $rc; failing clauses"
            echo "  got:      $got"
            echo "  expected: $want"
            failures=$((failures + 1))
        else
            echo "ok: $variant: fails exactly $(tr ',' '\n' <<<"$want" | wc -l) clause(s), its own $clause among them"
        fi
    done <"$src/bench/bug_targets.tsv"
    [ "$failures" -eq 0 ] || fail "$failures variant(s) failed other clauses than listed"
    echo "PASS: every known-bad variant fails exactly its listed clauses and passes everything else"
    ;;
structured)
    # variant, the cases certified, the kind of value its failures must show
    while read -r variant cases kind; do
        lib="$build/variants/libvmbsave_variant_$variant.so"
        args=()
        for c in ${cases//,/ }; do args+=(--case "$c"); done
        rc=0
        "$vmbsave" certify --impl "$lib" "${args[@]}" --jobs 2 --seed 7 --report "$tmp/$variant" \
            >"$tmp/$variant.log" 2>&1 || rc=$?
        [ "$rc" -eq 1 ] || { tail -n 5 "$tmp/$variant.log"; fail "$variant: certify exited $rc, not 1"; }
        r="$tmp/$variant/report.json"
        fails=$(jq '[.cases[] | select(.verdict == "FAIL")] | length' "$r")
        [ "$fails" -gt 0 ] || fail "$variant: no FAIL case"
        # Every FAIL: expected and observed are objects with a kind and something beside it.
        bare=$(jq -r '.cases[] | select(.verdict == "FAIL")
                      | select(((.expected | type) != "object") or ((.observed | type) != "object")
                               or (.expected.kind == null) or (.observed.kind == null)
                               or ((.expected | keys | length) < 2) or ((.observed | keys | length) < 2))
                      | .id' "$r")
        [ -z "$bare" ] || fail "$variant: FAIL cases without structured expected/observed: $bare"
        # The conformance failures show typed values of the expected kind, not a message.
        typed=$(jq --arg k "$kind" '[.cases[] | select(.verdict == "FAIL" and .stage == "conformance"
                                     and .observed.kind == $k)] | length' "$r")
        [ "$typed" -gt 0 ] || { jq -c '.cases[] | select(.verdict == "FAIL") | .observed' "$r" | head -n 3;
                                fail "$variant: no conformance FAIL observed as $kind"; }
        echo "ok: $variant: $fails FAIL case(s), $typed with observed kind $kind; e.g.:"
        jq -c --arg k "$kind" 'first(.cases[] | select(.verdict == "FAIL" and .observed.kind == $k))
                               | {id, expected, observed: (.observed | del(.message))}' "$r"
    done <<'EOF'
overrun_one_byte SAVE.CONTINUE.NO_OVERRUN,SAVE.CONTINUE.PARAMS save_continue
restore_partial_state RESTORE.NO_REPLAY,RESTORE.REQUIRES_FRESH integer
accepts_second_begin SAVE.BEGIN.ACTIVE_SESSION status
EOF
    echo "PASS: known-bad variants' FAIL cases carry structured expected and observed values"
    ;;
report)
    rc=0
    "$vmbsave" certify --impl "$build/variants/libvmbsave_variant_overrun_one_byte.so" \
        --case SAVE.CONTINUE.NO_OVERRUN --case ABI.ENTRY.NAME --seed 4 --report "$tmp/r" \
        >"$tmp/log" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] || fail "a failing run exited $rc, not 1"
    head -n 1 "$tmp/log" | grep -q '^master seed 0x0000000000000004$' || fail "the master seed is not printed first"
    for f in report.json junit.xml summary.md report.html progress.log; do
        [ -s "$tmp/r/$f" ] || fail "$f missing or empty"
    done
    [ -s "$tmp/r/repro/SAVE.CONTINUE.NO_OVERRUN/output.txt" ] || fail "no reproducer folder for the failure"
    grep -q '<failure' "$tmp/r/junit.xml" || fail "junit.xml has no failure element"
    grep -q 'id="verdicts"' "$tmp/r/report.html" || fail "report.html has no verdict table"
    grep -q "vmbsave certify --impl .* --case 'SAVE.CONTINUE.NO_OVERRUN'" "$tmp/r/summary.md" ||
        fail "summary.md has no rerun command"
    lib="$build/variants/libvmbsave_variant_overrun_one_byte.so"
    "$vmbsave" verify-report "$tmp/r" --impl "$lib" || fail "verify-report rejected a good report"
    cp -R "$tmp/r" "$tmp/t1"
    sed -i 's/"verdict": "FAIL"/"verdict": "PASS"/' "$tmp/t1/report.json"
    if "$vmbsave" verify-report "$tmp/t1" >/dev/null; then fail "a tampered report.json was accepted"; fi
    cp -R "$tmp/r" "$tmp/t2"
    sed -i 's/FAIL/PASS/g' "$tmp/t2/summary.md"
    if "$vmbsave" verify-report "$tmp/t2" >/dev/null; then fail "a tampered summary.md was accepted"; fi
    if "$vmbsave" verify-report "$tmp/r" --impl "$reference" >/dev/null; then
        fail "a report was accepted for another library"
    fi
    # Usage errors: exit 3, one line.
    rc=0; "$vmbsave" certify --impl "$tmp/nothing.so" >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 3 ] || fail "a missing --impl exited $rc"
    echo 'not a library' >"$tmp/fake.so"
    rc=0; "$vmbsave" certify --impl "$tmp/fake.so" >"$tmp/fake.log" 2>&1 || rc=$?
    [ "$rc" -eq 3 ] || fail "a file that is not a plug-in exited $rc"
    grep -q 'not a loadable plug-in' "$tmp/fake.log" || fail "no clear message for a file that is not a plug-in"
    rc=0; "$vmbsave" certify --impl "$reference" --case NO.SUCH.CASE >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 3 ] || fail "a --case matching nothing exited $rc"
    rc=0; "$vmbsave" certify --impl "$reference" --budget 0 >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 3 ] || fail "--budget 0 exited $rc"
    # Segment prefixes: SAVE.CONTINUE never matches SAVE.CONTINUED...
    "$vmbsave" certify --list --case SAVE.CONTINUE | cut -f1 | grep -v '^SAVE\.CONTINUE\.' && fail "--case matched outside the segment"
    # ...and a filtered case keeps the seed it has in a full run.
    full=$(jq -r '.cases[] | select(.id == "ABI.ENTRY.NAME") | .seed' "$tmp/r/report.json")
    "$vmbsave" certify --impl "$reference" --case ABI.ENTRY.NAME --case ABI.ENTRY.MAJOR --seed 4 \
        --report "$tmp/s" >/dev/null
    again=$(jq -r '.cases[] | select(.id == "ABI.ENTRY.NAME") | .seed' "$tmp/s/report.json")
    [ "$full" = "$again" ] || fail "the case seed changed with the filter ($full, $again)"
    echo "PASS: report files, verify-report, usage errors, case filters and seeds"
    ;;
*)
    echo "$0: unknown mode $mode" >&2
    exit 2
    ;;
esac
