#!/usr/bin/env bash
# HARNESS.NIGHTLY.REPORT_* and HARNESS.NIGHTLY.DASHBOARD_SCREENSHOT: ci/nightly/report.sh over
# the fixture tests/data/nightly/ (a nightly OUT folder and two nights before it).
#
# usage: check_nightly_report.sh MODE SOURCE_DIR BUILD_DIR
#   junit       junit.xml is well-formed XML (xmllint) with a testsuite per target and engine and
#               each finding in its class: F1 failure, F3 error, F2 F4 F5 skipped; escaping
#   sarif       results.sarif has SARIF 2.1.0's required fields (checked with jq), a rule for
#               every ruleId, a result per finding, F1 located at its clause's heading in
#               docs/SPEC.md, baselineState and level from new/known and reliable/flaky
#   html        index.html holds no external URL and no script, the findings table with every
#               finding and its command HTML-escaped, the certify verdicts, the coverage link,
#               the mutation sample's score and survivors (escaped),
#               three plots over time and three trend plots
#   history     --previous: the trend carries over through history.json (naming only last
#               night's folder keeps every night), a broken previous night is skipped with a
#               warning, a missing folder is an error
#   errors      --help prints the usage (status 0); bad input exits 2 with a message and
#               replaces nothing in OUT: no arguments, no folder, no or
#               invalid report.json, another schema, a bad stats.csv header, a report.json over
#               the 16 MiB limit, an unknown option; no temporary folder is left behind
#   coverage    ci/nightly/coverage.sh (its build in the checkout's build/coverage, the one
#               ci/main.sh's coverage step makes, so that CI builds it once): over
#               the checkout's seeds it writes OUT/coverage/index.html of reference/ and harness/
#               only, and report.json's coverage from llvm-cov's summary, the rest of report.json
#               unchanged; OUT/corpus (linked generations followed) is the default corpus, and
#               a smaller one gives less coverage; report.sh shows and links it;
#               bad arguments exit 2
#   screenshot  index.html opened in headless Chromium: the rendered page has the findings and
#               the plots, each over-time plot has series of many points, and the screenshot is
#               not blank; kept as BUILD_DIR/nightly/dashboard.png (and in
#               $VMBSAVE_SCREENSHOT_DIR if set). With VMBSAVE_NIGHTLY_OUT=DIR, the check runs on
#               that real output folder instead of the fixture (HARNESS.NIGHTLY.DASHBOARD_RUN:
#               the short run HARNESS.NIGHTLY.CLEAN_NO_LEFTOVER leaves), kept as
#               BUILD_DIR/nightly/dashboard-run.png, and
#               asks for every target/engine of its report.json drawn with at least 3 points
#               (the fixture: all 10 with at least 30)
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 MODE SOURCE_DIR BUILD_DIR" >&2
    exit 2
fi
mode=$1
src=$2
build=$3
report_sh=$src/ci/nightly/report.sh
fixture=$src/tests/data/nightly
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

# A fresh copy of the fixture's OUT folder, reported on with both previous nights.
make_report() {
    cp -R "$fixture/out" "$tmp/out"
    "$report_sh" "$tmp/out" --previous "$fixture/night-05" --previous "$fixture/night-06" >"$tmp/report.log" 2>&1 ||
        { cat "$tmp/report.log"; fail "report.sh failed on the fixture"; }
}

# FILE PLOT: for each series of that plot in index.html, the number of points it draws.
plot_points() {
    awk -v id="plot-$2" '
        index($0, "id=\"" id "\"") { on = 1 }
        on && /<\/figure>/ { if (g) print n; on = 0; exit }
        on && /id="[a-z_]*-gnuplot_plot_[0-9]+"/ { if (g) print n; g = 1; n = -1 }
        on && g { n += gsub(/[ \t]L[0-9.]+,[0-9.]+/, "&") }' "$1"
}

case $mode in
junit)
    make_report
    j=$tmp/out/junit.xml
    command -v xmllint >/dev/null || fail "xmllint not found (apt-get install libxml2-utils)"
    xmllint --noout "$j" || fail "junit.xml is not well-formed XML"
    n=$(xmllint --xpath 'count(//testsuite)' "$j")
    [ "$n" = 10 ] || fail "$n testsuites, expected 10 (5 targets x 2 engines)"
    for want in "F1:failure" "F3:error" "F2:skipped" "F4:skipped" "F5:skipped"; do
        id=${want%%:*}
        class=${want#*:}
        got=$(xmllint --xpath "count(//testcase[starts-with(@name, '$id ')]/$class)" "$j")
        [ "$got" = 1 ] || fail "$id has $got <$class>, expected 1"
    done
    [ "$(xmllint --xpath 'string(/testsuites/@failures)' "$j")" = 1 ] || fail "testsuites failures is not 1"
    [ "$(xmllint --xpath 'string(/testsuites/@errors)' "$j")" = 1 ] || fail "testsuites errors is not 1"
    [ "$(xmllint --xpath 'string(/testsuites/@skipped)' "$j")" = 3 ] || fail "testsuites skipped is not 3"
    [ "$(xmllint --xpath 'string(/testsuites/@tests)' "$j")" = 15 ] || fail "testsuites tests is not 15"
    suite=$(xmllint --xpath "string(//testcase[starts-with(@name, 'F1 ')]/../@name)" "$j")
    [ "$suite" = save_session/libfuzzer ] || fail "F1 is in testsuite '$suite'"
    grep -q 'ref_restore_from_buffer &amp; &lt;inlined&gt;' "$j" || fail "F2's signature is not escaped"
    cmd=$(xmllint --xpath "string(//testcase[starts-with(@name, 'F4 ')]/system-out)" "$j")
    want=$(jq -r '.findings[] | select(.id == "F4") | .command' "$fixture/out/report.json")
    [ "$cmd" = "$want" ] || fail "F4's system-out is '$cmd', not its command"
    execs=$(xmllint --xpath "string(//testsuite[@name='restore/afl']/properties/property[@name='executions']/@value)" "$j")
    [ "$execs" = 1549284 ] || fail "restore/afl's executions property is '$execs'"
    echo "PASS: junit.xml well-formed, 10 suites, findings in their classes, escaped"
    ;;
sarif)
    make_report
    s=$tmp/out/results.sarif
    # SARIF 2.1.0's required properties (sarifLog: version, runs; run: tool.driver.name;
    # result: message with text or id; reportingDescriptor: id; physicalLocation's
    # artifactLocation; region.startLine >= 1; level among the four) and vmbsave's own promises.
    jq -e '
        .version == "2.1.0" and (."$schema" | test("sarif-2\\.1\\.0"))
        and (.runs | type == "array" and length == 1)
        and (.runs[0] | (.tool.driver.name | type == "string")
             and ([.tool.driver.rules[].id] | length == (unique | length))
             and (.tool.driver.rules | all(.id and .shortDescription.text))
             and ([.tool.driver.rules[].id] as $ids
                  | .results | all(.ruleId as $r | ($ids | index($r)) as $i | $i != null and .ruleIndex == $i))
             and (.results | all((.message.text | type == "string")
                    and (.level | IN("none", "note", "warning", "error"))
                    and (.baselineState | IN("new", "unchanged"))
                    and (.locations | length >= 1)
                    and (.locations | all(.physicalLocation.artifactLocation.uri | type == "string"))
                    and ([.locations[].physicalLocation.region.startLine // 1] | all(. >= 1))
                    and (.relatedLocations | all(.id >= 1 and (.physicalLocation.artifactLocation.uri | type == "string"))))))
        ' "$s" >/dev/null || fail "results.sarif lacks a field SARIF 2.1.0 requires"
    n=$(jq '.runs[0].results | length' "$s")
    [ "$n" = 5 ] || fail "$n results, expected one per finding (5)"
    [ "$(jq '.runs[0].tool.driver.rules | length' "$s")" = 5 ] || fail "not one rule per clause or signature"
    f1=$(jq -c '.runs[0].results[] | select(.properties.id == "F1")' "$s")
    [ "$(jq -r '.ruleId' <<<"$f1")" = SAVE.CONTINUE.NO_OVERRUN ] || fail "F1's rule is not its clause"
    [ "$(jq -r '.locations[0].physicalLocation.artifactLocation.uri' <<<"$f1")" = docs/SPEC.md ] || fail "F1 is not located in docs/SPEC.md"
    line=$(jq -r '.locations[0].physicalLocation.region.startLine' <<<"$f1")
    [ "$(sed -n "${line}p" "$src/docs/SPEC.md")" = '### `SAVE.CONTINUE.NO_OVERRUN`' ] ||
        fail "F1's line $line of docs/SPEC.md is not its clause's heading"
    [ "$(jq -r '.level + " " + .baselineState' <<<"$f1")" = "error new" ] || fail "F1 is not a new error"
    [ "$(jq -r '.runs[0].results[] | select(.properties.id == "F2") | .level + " " + .baselineState' "$s")" = "note unchanged" ] ||
        fail "the known F2 is not an unchanged note"
    [ "$(jq -r '.runs[0].results[] | select(.properties.id == "F4") | .level' "$s")" = warning ] || fail "the flaky F4 is not a warning"
    f3=$(jq -r '.runs[0].results[] | select(.properties.id == "F3") | .locations[0].physicalLocation.artifactLocation | .uriBaseId + ":" + .uri' "$s")
    [ "$f3" = NIGHTLY_OUT:findings/F3/input ] || fail "F3, without a clause, is located at '$f3', not its input"
    echo "PASS: results.sarif has SARIF 2.1.0's required fields, 5 results, locations and levels"
    ;;
html)
    make_report
    h=$tmp/out/index.html
    if grep -Eo "(src|href)=[\"'][a-z]+:[^\"']*|url\([^)#][^)]*\)|@import|<script|<link|<iframe" "$h"; then
        fail "index.html loads something from outside or runs a script"
    fi
    rows=$(grep -o '<tr class="c-[a-z]*"><td class="c-[a-z]*">F[0-9]' "$h" | wc -l)
    [ "$rows" = 5 ] || fail "$rows findings rows, expected 5"
    grep -q '&lt;inlined&gt;' "$h" || fail "F2's signature is not HTML-escaped"
    grep -q '<inlined>' "$h" && fail "a raw <inlined> is in the page"
    grep -q -- '--impl &quot;$PWD/build/asan/variants/libvmbsave_variant_overrun_one_byte.so&quot; findings/F4/minimized' "$h" ||
        fail "F4's command is not in the page, escaped"
    grep -q '<td class="c-failure">F1</td>' "$h" || fail "F1 is not marked a failure"
    grep -q '<td class="c-known">F2</td>' "$h" || fail "F2 is not marked known"
    grep -q '<td class="c-flaky">F4</td>' "$h" || fail "F4 is not marked flaky"
    grep -q '<table id="certify">' "$h" || fail "no certify verdict table"
    grep -q 'NOT CONFORMANT' "$h" || fail "certify's result is not shown"
    grep -q '<td class="CRASH">CRASH</td>' "$h" || fail "certify's CRASH case is not in the table"
    grep -q '<a href="coverage/index.html">' "$h" || fail "no link to the coverage report"
    grep -q '78.4 %</b> of lines, <b>61.9 %</b> of branches' "$h" || fail "no coverage percentages"
    grep -q '<b>9 killed</b> (1 by timeout), 1 survived, 1 listed equivalent, 1 stillborn; score <b>90 %</b>' "$h" ||
        fail "the mutation sample's figures are not shown"
    grep -q '<td>reference/restore.c</td><td class="n">348</td><td><code>col 16: &apos;STATUS_FILE_CORRUPT_ERROR&apos; -&gt; &apos;&lt;STATUS_SUCCESS&gt;&apos;</code>' "$h" ||
        fail "the surviving mutant is not listed, escaped"
    for p in edges execs corpus trend_edges trend_findings trend_coverage; do
        grep -q "id=\"plot-$p\"" "$h" || fail "no $p plot"
    done
    nights=$(sed -n '/<table id="history">/,/<\/table>/p' "$h" | grep -o '<tr><td>2026-12-0[567]' | wc -l)
    [ "$nights" = 3 ] || fail "the trend table has $nights nights, expected 3"
    echo "PASS: index.html self-contained, findings escaped, certify, coverage, mutation, 6 plots, 3 nights"
    ;;
history)
    # Night 5 alone, then night 6 naming night 5, then night 7 naming only night 6.
    for d in night-05 night-06; do
        mkdir -p "$tmp/$d"
        cp "$fixture/$d/report.json" "$tmp/$d/"
    done
    cp -R "$fixture/out" "$tmp/night-07"
    "$report_sh" "$tmp/night-05" >/dev/null
    [ "$(jq length "$tmp/night-05/history.json")" = 1 ] || fail "a first night's history is not 1 night"
    "$report_sh" "$tmp/night-06" --previous "$tmp/night-05" >/dev/null
    "$report_sh" "$tmp/night-07" --previous "$tmp/night-06" >/dev/null
    got=$(jq -r 'map(.started[0:10]) | join(" ")' "$tmp/night-07/history.json")
    [ "$got" = "2026-12-05 2026-12-06 2026-12-07" ] || fail "history through --previous of last night only: '$got'"
    [ "$(jq -r '.[0].findings_new, .[2].findings_new_reliable, .[2].line_percent' "$tmp/night-07/history.json" | paste -sd' ')" = "2 2 78.4" ] ||
        fail "the nights' summaries are wrong: $(jq -c . "$tmp/night-07/history.json")"
    # The same night given twice counts once.
    "$report_sh" "$tmp/night-07" --previous "$tmp/night-06" --previous "$tmp/night-05" >/dev/null
    [ "$(jq length "$tmp/night-07/history.json")" = 3 ] || fail "a night given twice is counted twice"
    # A broken previous night is skipped, with a warning, and said on the page.
    mkdir -p "$tmp/broken"
    echo '{"schema": "something-else"}' >"$tmp/broken/report.json"
    "$report_sh" "$tmp/night-07" --previous "$tmp/night-06" --previous "$tmp/broken" >"$tmp/log" 2>&1 ||
        { cat "$tmp/log"; fail "a broken previous night stopped the report"; }
    grep -q "warning: skipped $tmp/broken/report.json" "$tmp/log" || fail "no warning for the broken night"
    grep -q "skipped $tmp/broken/report.json" "$tmp/night-07/index.html" || fail "the page does not say a night was skipped"
    rc=0
    "$report_sh" "$tmp/night-07" --previous "$tmp/no-such-night" >"$tmp/log" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "a missing --previous folder exited $rc, not 2"
    grep -q 'no such folder' "$tmp/log" || fail "no message for a missing --previous folder"
    echo "PASS: the trend carries over through history.json; broken nights skipped, missing ones refused"
    ;;
errors)
    # CASE-NAME EXPECTED-MESSAGE ARGS...: report.sh exits 2, says so, and leaves OUT's files.
    expect_error() {
        local name=$1 message=$2 rc=0
        shift 2
        "$report_sh" "$@" >"$tmp/$name.log" 2>&1 || rc=$?
        [ "$rc" = 2 ] || { cat "$tmp/$name.log"; fail "$name: exit $rc, expected 2"; }
        grep -q -- "$message" "$tmp/$name.log" || { cat "$tmp/$name.log"; fail "$name: no message '$message'"; }
        echo "ok: $name: $(head -n 1 "$tmp/$name.log")"
    }
    expect_error no-args "usage"
    "$report_sh" --help | grep -q '^usage: ci/nightly/report.sh OUT' || fail "--help does not print the usage with status 0"
    expect_error no-folder "no such folder" "$tmp/nothing"
    mkdir -p "$tmp/o"
    expect_error no-report "report.json: missing" "$tmp/o"
    echo 'not json' >"$tmp/o/report.json"
    expect_error not-json "not valid JSON" "$tmp/o"
    echo '{"schema": "vmbsave-nightly/2"}' >"$tmp/o/report.json"
    expect_error schema 'expected "vmbsave-nightly/1"' "$tmp/o"
    jq '.findings[0].status = "maybe"' "$fixture/out/report.json" >"$tmp/o/report.json"
    expect_error shape 'findings\[F1\].status: "maybe"' "$tmp/o"
    cp "$fixture/out/report.json" "$tmp/o/report.json"
    echo 'time,target' >"$tmp/o/stats.csv"
    expect_error stats-header "header is 'time,target'" "$tmp/o"
    rm "$tmp/o/stats.csv"
    truncate -s $((16 * 1024 * 1024 + 1)) "$tmp/o/big.json"
    mkdir -p "$tmp/big" && mv "$tmp/o/big.json" "$tmp/big/report.json"
    expect_error too-big "more than the limit" "$tmp/big"
    expect_error unknown-option "unknown argument --frobnicate" "$tmp/o" --frobnicate
    for f in junit.xml results.sarif index.html history.json; do
        [ ! -e "$tmp/o/$f" ] || fail "$f was written by a run that failed"
    done
    # A good run, then a bad one: the good files stay as they were.
    cp -R "$fixture/out" "$tmp/good"
    "$report_sh" "$tmp/good" >/dev/null
    sum=$(cat "$tmp/good"/{junit.xml,results.sarif,index.html} | md5sum)
    echo 'elapsed_s,target' >"$tmp/good/stats.csv"
    expect_error stats-after-good "header is" "$tmp/good"
    [ "$(cat "$tmp/good"/{junit.xml,results.sarif,index.html} | md5sum)" = "$sum" ] || fail "a failed run changed the files of a good one"
    leftovers=$(find "$tmp/o" "$tmp/good" -name '.report.*' | wc -l)
    [ "$leftovers" = 0 ] || fail "$leftovers temporary folders left in OUT"
    echo "PASS: bad input exits 2 with a message and leaves OUT as it was"
    ;;
coverage)
    cov_sh=$src/ci/nightly/coverage.sh
    cp -R "$fixture/out" "$tmp/out"
    jq 'del(.coverage)' "$tmp/out/report.json" >"$tmp/before.json"
    "$cov_sh" "$tmp/out" --build-dir "$src/build/coverage" --jobs 2 >"$tmp/cov.log" 2>&1 ||
        { cat "$tmp/cov.log"; fail "coverage.sh failed"; }
    tail -n 1 "$tmp/cov.log"
    c=$tmp/out/coverage
    [ -s "$c/index.html" ] || fail "no coverage/index.html"
    grep -q 'reference/save.c' "$c/index.html" || fail "the report does not cover reference/save.c"
    grep -q 'harness/oracle/oracle.c' "$c/index.html" || fail "the report does not cover harness/oracle/oracle.c"
    if grep -Eo "[a-z_]+/[a-z_]+\.c\.html" "$c/index.html" | grep -Ev '^(reference|harness|image|oracle|program|host|run|repro)/' | head -n 3 | grep .; then
        fail "the report covers files outside reference/ and harness/"
    fi
    want=$(jq -c '.data[0].totals | [(.lines.percent * 100 | round / 100), (.branches.percent * 100 | round / 100)]' "$c/summary.json")
    got=$(jq -c '.coverage | [.line_percent, .branch_percent]' "$tmp/out/report.json")
    [ "$got" = "$want" ] || fail "report.json's coverage $got is not llvm-cov's summary $want"
    [ "$(jq -r '.coverage.html' "$tmp/out/report.json")" = coverage/index.html ] || fail "coverage.html is not coverage/index.html"
    jq -e '.coverage.line_percent > 10 and .coverage.line_percent <= 100 and .coverage.branch_percent > 5' \
        "$tmp/out/report.json" >/dev/null || fail "implausible coverage: $got"
    [ "$(jq -c 'del(.coverage)' "$tmp/out/report.json")" = "$(jq -c . "$tmp/before.json")" ] ||
        fail "coverage.sh changed more of report.json than its coverage"
    # One seed of one target, in OUT/corpus (the default) as ci/main.sh's store keeps it
    # (OUT/corpus/<target> a link to a generation): less coverage.
    cp -R "$fixture/out" "$tmp/out2"
    mkdir -p "$tmp/out2/corpus/.gen/restore-1"
    cp "$(find "$src/corpus/seeds/restore" -type f | sort | head -n 1)" "$tmp/out2/corpus/.gen/restore-1/"
    ln -s .gen/restore-1 "$tmp/out2/corpus/restore"
    "$cov_sh" "$tmp/out2" --build-dir "$src/build/coverage" --jobs 2 >"$tmp/cov2.log" 2>&1 ||
        { cat "$tmp/cov2.log"; fail "coverage.sh failed on a one-input corpus"; }
    grep -q '1 inputs over 1 targets' "$tmp/cov2.log" || { cat "$tmp/cov2.log"; fail "OUT/corpus was not the default, or its link not followed"; }
    small=$(jq '.coverage.line_percent' "$tmp/out2/report.json")
    full=$(jq '.coverage.line_percent' "$tmp/out/report.json")
    jq -n -e --argjson s "$small" --argjson f "$full" '$s < $f' >/dev/null ||
        fail "one input covers $small % of lines, all the seeds $full %"
    echo "ok: one input: $small % of lines; the seeds: $full %"
    "$report_sh" "$tmp/out" >/dev/null
    grep -q "<b>$(jq -r '.coverage.line_percent' "$tmp/out/report.json") %</b> of lines" "$tmp/out/index.html" ||
        fail "the dashboard does not show the new line coverage"
    rc=0
    "$cov_sh" "$tmp/out" --corpus "$tmp/no-such-corpus" >"$tmp/err.log" 2>&1 || rc=$?
    [ "$rc" = 2 ] && grep -q 'no such folder' "$tmp/err.log" || fail "a missing --corpus exited $rc"
    mkdir -p "$tmp/empty"
    rc=0
    "$cov_sh" "$tmp/empty" >"$tmp/err.log" 2>&1 || rc=$?
    [ "$rc" = 2 ] && grep -q 'report.json: missing' "$tmp/err.log" || fail "an OUT without report.json exited $rc"
    [ -z "$(find "$tmp/out" -maxdepth 1 -name '.coverage*')" ] || fail "coverage.sh left temporary files in OUT"
    echo "PASS: coverage of reference/ and harness/ from the corpora, in report.json and on the dashboard"
    ;;
screenshot)
    chromium=$(command -v chromium || command -v chromium-browser || true)
    [ -n "$chromium" ] || fail "chromium not found (apt-get install chromium)"
    if [ -n "${VMBSAVE_NIGHTLY_OUT:-}" ]; then
        out=$VMBSAVE_NIGHTLY_OUT
        [ -f "$out/report.json" ] || fail "VMBSAVE_NIGHTLY_OUT=$out has no report.json"
        [ -f "$out/index.html" ] || "$report_sh" "$out" || fail "report.sh failed on $out"
        # A one-minute run samples each target's short slot a few times: every target and
        # engine of the run drawn with at least 3 samples.
        min_points=3
        min_series=$(jq '[.targets[].engines[]] | length' "$out/report.json")
    else
        make_report
        out=$tmp/out
        min_points=30
        min_series=10
    fi
    h=$out/index.html
    for p in edges execs corpus; do
        points=$(plot_points "$h" "$p" | paste -sd' ')
        many=$(plot_points "$h" "$p" | awk -v m="$min_points" '$1 >= m' | wc -l)
        [ "$many" -ge "$min_series" ] ||
            fail "the $p plot has $many series of at least $min_points points (points per series: ${points:-none})"
        echo "ok: $p plot: points per series: $points"
    done
    flags=(--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$tmp/profile")
    timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$h" >"$tmp/dom.html" 2>/dev/null ||
        fail "chromium could not render index.html"
    grep -q 'id="verdict"' "$tmp/dom.html" || fail "the rendered page has no verdict"
    grep -q 'id="engines"' "$tmp/dom.html" || fail "the rendered page has no fuzzing table"
    grep -q 'id="plot-edges"' "$tmp/dom.html" || fail "the rendered page has no coverage plot"
    mkdir -p "$build/nightly"
    shot=$build/nightly/dashboard.png
    [ -z "${VMBSAVE_NIGHTLY_OUT:-}" ] || shot=$build/nightly/dashboard-run.png
    timeout 120 "$chromium" "${flags[@]}" --window-size=1280,2600 --screenshot="$shot" "file://$h" \
        >/dev/null 2>&1 || fail "chromium could not take a screenshot"
    size=$(stat -c %s "$shot")
    # A blank 1280x2600 page is about 10 KiB; tables and six plots make it well over 100 KiB.
    [ "$size" -gt 100000 ] || fail "the screenshot is $size bytes: nothing rendered?"
    if [ -n "${VMBSAVE_SCREENSHOT_DIR:-}" ]; then
        mkdir -p "$VMBSAVE_SCREENSHOT_DIR"
        cp "$shot" "$VMBSAVE_SCREENSHOT_DIR/dashboard.png"
    fi
    echo "PASS: index.html of $out rendered in $($chromium --version 2>/dev/null | head -n 1); screenshot $shot ($size bytes)"
    ;;
*)
    echo "$0: unknown mode $mode" >&2
    exit 2
    ;;
esac
