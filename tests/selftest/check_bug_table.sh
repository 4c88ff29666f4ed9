#!/usr/bin/env bash
# FUZZ.BENCH.BUG_TABLE: bench/bug_targets.tsv, the table the fuzzing benchmark times each
# deliberate bug by, agrees with the tree: it lists every variant of variants/README.md once,
# only fuzz targets this tree builds, and bench/fuzz_bench.sh accepts it (--dry-run: it checks
# each clause against variants/README.md). Copies with one fault each (a wrong clause, an "also"
# clause the README does not give, a missing column) are refused with status 2 and a message.
#
# usage: check_bug_table.sh SOURCE_DIR
# Exit status: 0 every check held; 1 one did not (FAIL: lines say which); 2 usage.
set -uo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 SOURCE_DIR" >&2
    exit 2
fi
src=$1
tsv=$src/bench/bug_targets.tsv
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The broken variants: the rows of variants/README.md's first table (it ends at the control).
sed -n '/^| Variant | Bug | Clause |/,/^$/p' "$src/variants/README.md" |
    sed -n 's/^| `\([a-z0-9_]*\)` |.*/\1/p' | sort >"$work/readme"
grep -v -e '^#' -e '^variant' -e '^$' "$tsv" | cut -f1 | sort >"$work/table"
[ -s "$work/readme" ] || fail "no variant found in variants/README.md"
if ! diff -u "$work/readme" "$work/table" >"$work/diff"; then
    fail "bench/bug_targets.tsv and variants/README.md list different variants:"
    sed 's/^/    /' "$work/diff" >&2
fi
dups=$(uniq -d "$work/table")
[ -z "$dups" ] || fail "bench/bug_targets.tsv lists more than once: $dups"

# bench/fuzz_bench.sh over a tree: its plan, or its refusal.
dry_run() { # TREE OUT
    bash "$1/bench/fuzz_bench.sh" --dry-run --measure find --engines libfuzzer \
        --build-root "$work/never" >"$2" 2>&1
}
dry_run "$src" "$work/plan"
rc=$?
if [ "$rc" -ne 0 ]; then
    fail "bench/fuzz_bench.sh --dry-run exited $rc:"
    sed 's/^/    /' "$work/plan" >&2
elif grep -q 'names targets this tree does not build' "$work/plan"; then
    fail "$(grep 'names targets' "$work/plan")"
elif ! grep -qE 'find: [1-9][0-9]* \(variant, target\) pairs' "$work/plan"; then
    fail "the plan times no (variant, target) pair: $(grep 'find:' "$work/plan")"
fi

# refused NAME PATTERN SED_SCRIPT: a copy of the files the benchmark reads, the table edited by
# SED_SCRIPT, must make it exit 2 with output matching PATTERN.
refused() {
    local name=$1 pattern=$2 script=$3 tree=$work/$1
    mkdir -p "$tree/fuzzers" "$tree/variants"
    cp -r "$src/bench" "$src/ci" "$tree/"
    cp "$src/fuzzers/CMakeLists.txt" "$tree/fuzzers/"
    cp "$src/variants/README.md" "$tree/variants/"
    sed -i -e "$script" "$tree/bench/bug_targets.tsv"
    dry_run "$tree" "$work/$name.out"
    local got=$?
    if [ "$got" -ne 2 ] || ! grep -qE -- "$pattern" "$work/$name.out"; then
        fail "$name: exit $got (expected 2) or no '$pattern' in:"
        sed 's/^/    /' "$work/$name.out" >&2
    fi
}
tab=$'\t'
refused wrong_clause "leak_on_abort has clause SAVE.BEGIN.NO_MEMORY, variants/README.md says" \
    "s/^leak_on_abort${tab}[^${tab}]*${tab}/leak_on_abort${tab}SAVE.BEGIN.NO_MEMORY${tab}/"
refused undocumented_also "leak_on_abort also breaks SAVE.CONTINUE.STICKY_ERROR" \
    "s/^\\(leak_on_abort${tab}[^${tab}]*${tab}\\)-${tab}/\\1SAVE.CONTINUE.STICKY_ERROR${tab}/"
refused missing_column "bad line for 'leak_on_abort' \\(5 tab-separated fields\\)" \
    "s/^\\(leak_on_abort${tab}[^${tab}]*${tab}\\)-${tab}/\\1/"

if [ "$failures" -ne 0 ]; then
    echo "FAIL: $failures check(s)" >&2
    exit 1
fi
echo "PASS: bench/bug_targets.tsv lists each of the $(wc -l <"$work/table") variants once, and the benchmark refuses a broken table"
