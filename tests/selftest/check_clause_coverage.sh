#!/usr/bin/env bash
# SPEC.CLAUSES.ALL_TESTED: every clause of docs/SPEC.md has a test.
#
# usage: check_clause_coverage.sh [--spec docs/SPEC.md] [--ctest CTEST --build-dir DIR]
#
# Clause IDs are the backquoted dotted upper-case identifiers in level-3 headings of SPEC.md:
#     ### `SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS`
# With --ctest/--build-dir (how ctest runs it), a clause is tested when a ctest test of that
# build is named exactly after it (or `<ID>#N`): the tests CMake registered from CLAUSE_TEST(...)
# lines of tests/test_*.c, plus those registered in CMake (ABI.ENTRY.ONLY_EXPORT, this one).
# Without them (a quick source-only check), a clause is tested when a file under tests/ has a
# CLAUSE_TEST("<ID>" line, or a CMakeLists.txt names the ID in double quotes.
# Clauses whose level is WITHDRAWN need no test. Fails listing every untested clause, and fails
# if SPEC.md has no clause at all.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
spec="$repo_root/docs/SPEC.md"
ctest_cmd=""
build_dir=""

while [ "$#" -gt 0 ]; do
    case "$1" in
        --spec) spec=$2; shift 2 ;;
        --ctest) ctest_cmd=$2; shift 2 ;;
        --build-dir) build_dir=$2; shift 2 ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
if { [ -n "$ctest_cmd" ] && [ -z "$build_dir" ]; } || { [ -z "$ctest_cmd" ] && [ -n "$build_dir" ]; }; then
    echo "--ctest and --build-dir go together" >&2
    exit 2
fi

if [ ! -f "$spec" ]; then
    echo "FAIL: $spec does not exist" >&2
    exit 1
fi

id_re='[A-Z][A-Z0-9_]*([.][A-Z0-9_]+)+'
# IDs of "### `ID`" headings, except clauses whose "- Level:" line says WITHDRAWN.
mapfile -t clauses < <(
    awk -v re="\`${id_re}\`" '
        function flush() { for (id in cur) if (!withdrawn) print id; delete cur; withdrawn = 0 }
        /^#+ / { flush() }
        /^### / {
            line = $0
            while (match(line, re)) {
                cur[substr(line, RSTART + 1, RLENGTH - 2)] = 1
                line = substr(line, RSTART + RLENGTH)
            }
        }
        /^- Level:/ && /WITHDRAWN/ { withdrawn = 1 }
        END { flush() }
    ' "$spec" | sort -u
)

if [ "${#clauses[@]}" -eq 0 ]; then
    echo "FAIL: no clause IDs found in $spec (expected headings like: ### \`AREA.CLAUSE.NAME\`)" >&2
    exit 1
fi

declare -A tested=()
if [ -n "$ctest_cmd" ]; then
    # "  Test  #12: SAVE.CONTINUE.TOO_SMALL.NO_PROGRESS"
    if ! listing=$(cd "$build_dir" && "$ctest_cmd" -N); then
        echo "FAIL: '$ctest_cmd -N' failed in $build_dir" >&2
        exit 1
    fi
    while read -r name; do
        [ -n "$name" ] && tested["${name%%#*}"]=1
    done < <(printf '%s\n' "$listing" | sed -n 's/^ *Test *#[0-9]*: *//p')
    source_desc="ctest tests registered in $build_dir"
else
    while read -r name; do
        [ -n "$name" ] && tested["$name"]=1
    done < <(
        { grep -rhE "CLAUSE_TEST[[:space:]]*\([[:space:]]*\"${id_re}\"" "$repo_root/tests" 2>/dev/null || true; } |
            { grep -vE '^[[:space:]]*(//|/\*|\*)' || true; } |
            grep -oE "CLAUSE_TEST[[:space:]]*\([[:space:]]*\"${id_re}\"" | grep -oE "\"${id_re}\"" | tr -d '"'
        find "$repo_root" -name CMakeLists.txt -not -path "$repo_root/build/*" -print0 |
            xargs -0 -r grep -hoE "\"${id_re}\"" | tr -d '"' || true
    )
    source_desc="CLAUSE_TEST lines under tests/ and IDs named in CMakeLists.txt files"
fi

missing=()
for id in "${clauses[@]}"; do
    [ -n "${tested[$id]:-}" ] || missing+=("$id")
done

# Tests naming a clause-like ID that the spec does not have: likely a typo or a stale test.
declare -A in_spec=()
for id in "${clauses[@]}"; do in_spec["$id"]=1; done
orphans=()
for name in "${!tested[@]}"; do
    [ "$name" = SPEC.CLAUSES.ALL_TESTED ] && continue # this check itself
    if [[ "$name" =~ ^${id_re}$ ]] && [ -z "${in_spec[$name]:-}" ]; then
        orphans+=("$name")
    fi
done
if [ "${#orphans[@]}" -ne 0 ]; then
    echo "warning: ${#orphans[@]} test(s) name an ID that is not a clause of $spec:"
    printf '%s\n' "${orphans[@]}" | sort | sed 's/^/    /'
fi

total=${#clauses[@]}
if [ "${#missing[@]}" -ne 0 ]; then
    echo "FAIL: ${#missing[@]} of $total clause(s) of $spec have no test (looked at: $source_desc):" >&2
    printf '    %s\n' "${missing[@]}" >&2
    exit 1
fi
echo "PASS: all $total clause(s) of $spec have a test ($source_desc)"
