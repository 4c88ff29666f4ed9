#!/usr/bin/env bash
# FUZZ.SCRIPTS.USAGE_ERRORS: ci/fuzz.sh and ci/oss-fuzz-check.sh refuse bad arguments before
# building anything: exit status 2 and a message naming the problem (an unknown engine lists the
# engines, an unknown target lists the targets, afl-lto refuses a plug-in); --help prints the
# usage with status 0.
#
# usage: check_fuzz_scripts_usage.sh SOURCE_DIR
# Exit status: 0 every case behaved; 1 a case did not (FAIL: lines say which); 2 usage.
set -uo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 SOURCE_DIR" >&2
    exit 2
fi
src=$1
failures=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# expect STATUS PATTERN SCRIPT ARGS...: the script exits with STATUS and its output matches the
# extended regular expression PATTERN. Nothing may be built: the build root is a path that
# cannot be created.
expect() {
    local status=$1 pattern=$2 script=$3
    shift 3
    VMBSAVE_FUZZ_BUILD_ROOT=/dev/null/never VMBSAVE_FUZZ_WORK_DIR=/dev/null/never \
        bash "$src/ci/$script" "$@" >"$out" 2>&1
    local rc=$?
    if [ "$rc" -ne "$status" ] || ! grep -qE -- "$pattern" "$out"; then
        echo "FAIL: ci/$script $*: exit $rc (expected $status), output:" >&2
        sed 's/^/    /' "$out" >&2
        failures=$((failures + 1))
    fi
}

expect 2 'expected ENGINE TARGET \[SECONDS\], got 0' fuzz.sh
expect 2 'expected ENGINE TARGET \[SECONDS\], got 1' fuzz.sh libfuzzer
expect 2 'expected ENGINE TARGET \[SECONDS\], got 4' fuzz.sh libfuzzer save_session 5 extra
expect 2 "unknown engine 'honggfuzz' \(one of: libfuzzer, afl, afl-cmplog, afl-lto, replay\)" \
    fuzz.sh honggfuzz save_session
VMBSAVE_FUZZ_IMPL=/nonexistent/libplugin.so \
    expect 2 "engine afl-lto fuzzes the built-in reference only; fuzz a plug-in" \
    fuzz.sh afl-lto save_session 5
expect 2 "unknown target 'no_such_target' \(one of: save_session " \
    fuzz.sh libfuzzer no_such_target
expect 2 "unknown target 'fuzz_save_session'" fuzz.sh afl fuzz_save_session
expect 2 "SECONDS must be a whole number from 1 to 604800, got '0'" \
    fuzz.sh replay save_session 0
expect 2 "SECONDS must be a whole number from 1 to 604800, got '-5'" \
    fuzz.sh replay save_session -5
expect 2 "SECONDS must be a whole number from 1 to 604800, got '604801'" \
    fuzz.sh afl-cmplog save_session 604801
expect 2 "SECONDS must be a whole number from 1 to 604800, got '10s'" \
    fuzz.sh libfuzzer save_session 10s
expect 0 '^usage: ci/fuzz.sh ENGINE TARGET \[SECONDS\]' fuzz.sh --help
expect 2 "unknown argument '--fast'" oss-fuzz-check.sh --fast
VMBSAVE_OSS_FUZZ_RUNS=0 expect 2 "'0' is not a count" oss-fuzz-check.sh
expect 0 '^usage: ci/oss-fuzz-check.sh \[--keep\]' oss-fuzz-check.sh --help

if [ "$failures" -ne 0 ]; then
    echo "FAIL: $failures case(s)" >&2
    exit 1
fi
echo "PASS: both scripts refuse every bad argument with status 2 and say why"
