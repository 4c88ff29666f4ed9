#!/usr/bin/env bash
# usage: ci/nightly/build.sh LOG_DIR TARGET...
# Builds what a nightly run needs, each preset of CMakePresets.json into build/<preset>/:
#   fuzz-libfuzzer   fuzz_<target> (libFuzzer, ASan+UBSan, leak detection) and the vmbsave
#                    command of the same clang ASan build, which replays findings: a plug-in
#                    the fuzzers loaded loads there too (README: plug-ins are built without a
#                    sanitizer or with clang's ASan)
#   fuzz-afl         fuzz_<target> (AFL++ persistent mode) and libvmbsave_afl_mutator.so
#   fuzz-afl-cmplog  fuzz_<target>, the CMPLOG build for afl-fuzz -c
# Each build's output goes to LOG_DIR/build-<preset>.log. Exit status: 0 built; 1 a build
# failed (the log's tail is printed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
logs=$1
shift
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$logs"
fuzzers=()
for t in "$@"; do fuzzers+=("fuzz_$t"); done
build() { # PRESET CMAKE_TARGET...
    local preset=$1 log=$logs/build-$1.log
    shift
    echo "build: $preset ($*)"
    if ! { cmake --preset "$preset" && cmake --build "build/$preset" --parallel "$jobs" --target "$@"; } \
        >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "build: the $preset build failed (log: $log)" >&2
        exit 1
    fi
}
build fuzz-libfuzzer "${fuzzers[@]}" vmbsave
build fuzz-afl "${fuzzers[@]}" vmbsave_afl_mutator
build fuzz-afl-cmplog "${fuzzers[@]}"
