#!/usr/bin/env bash
# HARNESS.MUTATION.SMOKE: ci/mutation.sh still works end to end, on three `return` mutants of
# reference/ with a partial detection (test_restore only, no seeds), so it cannot rot between
# the nightly runs that score the harness:
#   - restore.c, restore_from_buffer's refusal of a channel that is not fresh made SUCCESS:
#     killed (RESTORE.REQUIRES_FRESH);
#   - restore.c, restore_packets' early SUCCESS without a callback made UNSUCCESSFUL: listed in
#     an equivalents file of this test's own, so not run;
#   - describe.c, describe's argument check made SUCCESS: test_restore never calls describe
#     with bad arguments, so it survives, and is reported with its file and line.
# Mutants are named by line numbers found here from the statements, so the test follows the
# reference's edits. Checks the verdicts, the score (1 of 2), summary.json, and that the run
# left no temporary file and no process behind (every step of a mutant runs in its folder).
#
# usage: check_mutation_smoke.sh SOURCE_DIR BUILD_DIR
# Exit status: 0 every check held; 1 one did not (FAIL: lines say which); 2 usage.
set -uo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2
    exit 2
fi
src=$1
build=$2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# line_after FILE PATTERN: the number of the line after the first line matching PATTERN.
line_after() {
    local n
    n=$(grep -n -m1 -F -- "$2" "$1" | cut -d: -f1)
    [ -n "$n" ] || { echo "FAIL: '$2' not found in $1: update this test" >&2; exit 1; }
    echo $((n + 1))
}
killed=restore.c:$(line_after "$src/reference/restore.c" 'if (ch->save != NULL || !ch->fresh) {'):16:return
equivalent_line=$(line_after "$src/reference/restore.c" 'if (h->restore_packet == NULL) {')
equivalent=restore.c:$equivalent_line:16:return
survivor_line=$(line_after "$src/reference/describe.c" 'if (ch == NULL || bytes_required == NULL')
survivor=describe.c:$survivor_line:16:return
printf "restore.c\t%s\tcol 16: 'STATUS_SUCCESS' -> 'STATUS_UNSUCCESSFUL'\tsmoke test: listed here\n" \
    "$equivalent_line" >"$tmp/equivalent.tsv"

mkdir "$tmp/t" "$tmp/out"
rc=0
TMPDIR=$tmp/t bash "$src/ci/mutation.sh" --build "$build" --only-exe test_restore --no-seeds \
    --equivalent "$tmp/equivalent.tsv" --mutant "$killed" --mutant "$equivalent" \
    --mutant "$survivor" --out "$tmp/out" >"$tmp/log" 2>&1 || rc=$?
cat "$tmp/log"
[ "$rc" = 0 ] || fail "ci/mutation.sh exited $rc"

verdict() { awk -F'\t' -v id="$1" '$1 == id { print $6 }' "$tmp/out/mutants.tsv"; }
[ "$(verdict "$killed")" = killed ] || fail "$killed: '$(verdict "$killed")', expected killed"
[ "$(verdict "$equivalent")" = equivalent ] ||
    fail "$equivalent: '$(verdict "$equivalent")', expected equivalent"
[ "$(verdict "$survivor")" = survived ] || fail "$survivor: '$(verdict "$survivor")', expected survived"
grep -q "^mutation score: 1 killed of 2 (50.0 %); 3 mutants: 1 survived, 1 equivalent" "$tmp/log" ||
    fail "no score line '1 killed of 2 (50.0 %)'"
grep -qF "reference/describe.c:$survivor_line: return:" "$tmp/log" ||
    fail "the survivor is not listed with its file and line"
jq -e --arg id "$survivor" '.score == 0.5 and .partial_detection == true and
    (.survivors | length == 1 and .[0].id == $id)' "$tmp/out/summary.json" >/dev/null ||
    fail "summary.json does not say score 0.5 with the one survivor"
left=$(find "$tmp/t" -mindepth 1 | head -n 5)
[ -z "$left" ] || fail "temporary files left behind: $left"
for p in /proc/[0-9]*; do
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    case "$cwd" in "$tmp/t"*) fail "process ${p#/proc/} left behind in $cwd" ;; esac
done

[ "$failures" = 0 ] || exit 1
echo "PASS: ci/mutation.sh killed, skipped and kept the three mutants as expected"
