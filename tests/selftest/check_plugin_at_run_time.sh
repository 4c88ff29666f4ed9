#!/usr/bin/env bash
# HARNESS.CONFORMANCE.PLUGIN_AT_RUN_TIME: the conformance suite tests the plug-in named by
# VMBSAVE_PLUGIN when it runs, with no reconfiguring, and the reference when it is unset or empty;
# the selftests test vmbsave against the reference whatever VMBSAVE_PLUGIN says.
#
# usage: check_plugin_at_run_time.sh CTEST BUILD_DIR REFERENCE.so VARIANT_DIR
#
# Reads the tests from `ctest -N -V` of BUILD_DIR (no test is run through ctest, so nothing of
# the running ctest is disturbed), then:
#   - no conformance test gets VMBSAVE_PLUGIN from ctest (it would override the caller's), and
#     every selftest executable gets the reference;
#   - runs a few conformance tests' commands, each with its ctest environment, as ctest would
#     with VMBSAVE_PLUGIN set by the caller: a broken variant of VARIANT_DIR fails the clause it
#     breaks (variants/README.md); the reference, an unset and an empty VMBSAVE_PLUGIN pass it;
#     a plug-in that does not exist fails every way the suite loads a plug-in, naming the path.
# Exit status: 0 every case behaved; 1 a case did not (FAIL: lines say which); 2 usage.
set -uo pipefail

if [ "$#" -ne 4 ]; then
    echo "usage: $0 CTEST BUILD_DIR REFERENCE.so VARIANT_DIR" >&2
    exit 2
fi
ctest_cmd=$1
build=$2
reference=$3
variant_dir=$4
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- What ctest would run --------------------------------------------------------------------
# describe LABEL_ARGS...: `ctest -N -V` of the build, one line per test:
#   NAME<TAB>WORKING_DIR<TAB>COMMAND<TAB>ENV1<US>ENV2...   (US: the unit separator, \037)
describe() {
    "$ctest_cmd" --test-dir "$build" -N -V "$@" | awk '
        /^[0-9]+: Test command: / {
            cmd = $0; sub(/^[0-9]+: Test command: /, "", cmd); wd = ""; env = ""; inenv = 0; next
        }
        /^[0-9]+: Working Directory: / { wd = $0; sub(/^[0-9]+: Working Directory: /, "", wd); next }
        /^[0-9]+: Environment variables: *$/ { inenv = 1; next }
        inenv && /^[0-9]+:  [A-Za-z_][A-Za-z0-9_]*=/ {
            v = $0; sub(/^[0-9]+:  /, "", v); env = env (env == "" ? "" : "\037") v; next
        }
        /^ *Test *#[0-9]+: / {
            name = $0; sub(/^ *Test *#[0-9]+: /, "", name); print name "\t" wd "\t" cmd "\t" env; next
        }
        { inenv = 0 }
    '
}
if ! describe -L conformance >"$tmp/conformance" || ! describe -LE conformance >"$tmp/others"; then
    echo "FAIL: $ctest_cmd --test-dir $build -N -V failed" >&2
    exit 1
fi
[ -s "$tmp/conformance" ] || fail "no test labelled conformance in $build"

# ---- ctest leaves VMBSAVE_PLUGIN to the caller in the conformance suite only ------------------
while IFS=$'\t' read -r name _ _ env; do
    case $'\037'"$env"$'\037' in
    *$'\037'VMBSAVE_PLUGIN=*) fail "$name: ctest sets VMBSAVE_PLUGIN, overriding the caller's" ;;
    esac
done <"$tmp/conformance"
selftest_exes=0
while IFS=$'\t' read -r name _ cmd env; do
    exe=${cmd%% *}
    case "${exe##*/}" in test_*) ;; *) continue ;; esac
    selftest_exes=$((selftest_exes + 1))
    case $'\037'"$env"$'\037' in
    *$'\037'VMBSAVE_PLUGIN="$reference"$'\037'*) ;;
    *) fail "$name (selftest): ctest does not give it VMBSAVE_PLUGIN=$reference" ;;
    esac
done <"$tmp/others"
[ "$selftest_exes" -gt 0 ] || fail "no selftest executable among the tests not labelled conformance"

# ---- Conformance tests' commands, run as ctest runs them, VMBSAVE_PLUGIN from outside ----------
# run_test NAME PLUGIN|--unset: runs test NAME's command in its working directory with its ctest
# environment and VMBSAVE_PLUGIN=PLUGIN (or unset); output in $tmp/out, status in $rc.
run_test() {
    local name=$1 plugin=$2 line wd cmd env
    line=$(awk -F '\t' -v n="$name" '$1 == n' "$tmp/conformance")
    if [ -z "$line" ]; then
        fail "no conformance test named $name"
        rc=-1
        return
    fi
    IFS=$'\t' read -r _ wd cmd env <<<"$line"
    # ctest prints the command as "arg" "arg" ... (the executable bare): no eval.
    local args=() rest=$cmd
    while [[ $rest =~ ^[[:space:]]*(\"([^\"]*)\"|([^[:space:]\"]+)) ]]; do
        args+=("${BASH_REMATCH[2]}${BASH_REMATCH[3]}")
        rest=${rest:${#BASH_REMATCH[0]}}
    done
    local envs=()
    [ -n "$env" ] && IFS=$'\037' read -r -a envs <<<"$env"
    [ "$plugin" = --unset ] || envs+=("VMBSAVE_PLUGIN=$plugin")
    (cd "$wd" && env -u VMBSAVE_PLUGIN "${envs[@]}" "${args[@]}") >"$tmp/out" 2>&1
    rc=$?
}
# expect_pass NAME PLUGIN|--unset
expect_pass() {
    run_test "$1" "$2"
    [ "$rc" -eq -1 ] && return
    if [ "$rc" -ne 0 ] || grep -qE '\[  (FAILED|SKIPPED) \]|0 test\(s\) run' "$tmp/out"; then
        fail "$1 with VMBSAVE_PLUGIN=$2: exit $rc, expected a pass; output:"
        sed 's/^/    /' "$tmp/out" >&2
    fi
}
# expect_fail NAME PLUGIN PATTERN: fails, and the output matches the extended regexp PATTERN.
expect_fail() {
    run_test "$1" "$2"
    [ "$rc" -eq -1 ] && return
    if [ "$rc" -eq 0 ] || ! grep -qE -- "$3" "$tmp/out"; then
        fail "$1 with VMBSAVE_PLUGIN=$2: exit $rc, expected a failure matching '$3'; output:"
        sed 's/^/    /' "$tmp/out" >&2
    fi
}

# A broken variant fails the clause it breaks; the reference passes it, named, by default
# (VMBSAVE_PLUGIN unset), or with VMBSAVE_PLUGIN empty.
pairs=(
    "wrong_bytes_required SAVE.CONTINUE.OVERFLOW.PROGRESS"
    "non_sticky_error SAVE.CONTINUE.STICKY_ERROR"
)
for pair in "${pairs[@]}"; do
    read -r variant clause <<<"$pair"
    so=$variant_dir/libvmbsave_variant_$variant.so
    [ -f "$so" ] || { fail "$so does not exist"; continue; }
    expect_fail "$clause" "$so" "\[  FAILED  \] ${clause//./\\.}"
    expect_pass "$clause" "$reference"
    expect_pass "$clause" --unset
    expect_pass "$clause" ""
done

# A plug-in that does not exist fails, naming it, wherever the suite loads the plug-in: the
# fixture, test_abi.c's dlopen, test_exhaustive.c's runner, test_resources.c's nm, and
# check_exports.sh. Each passes by default.
missing=$tmp/no-such-dir/libvmbsave_missing.so
for clause in STATUS.VALUES ABI.TABLE.RELEASE HARNESS.EXHAUSTIVE.CANONICAL_STATES \
    RESOURCES.HOST_ALLOCATOR_ONLY ABI.ENTRY.ONLY_EXPORT; do
    expect_fail "$clause" "$missing" "${missing//./\\.}"
    expect_pass "$clause" --unset
done

if [ "$failures" -ne 0 ]; then
    echo "FAIL: $failures case(s)" >&2
    exit 1
fi
echo "PASS: the conformance suite tests the plug-in VMBSAVE_PLUGIN names at run time (the" \
    "reference by default); the selftests always get the reference"
