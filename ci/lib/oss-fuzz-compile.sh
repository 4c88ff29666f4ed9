#!/usr/bin/env bash
# OSS-Fuzz's `compile` (infra/base-images/base-builder/compile, with compile_libfuzzer and
# compile_afl), reproduced for a Debian machine: from the environment the base images set (see
# ci/oss-fuzz-check.sh, which starts this under `env -i` with exactly those variables), it
# derives CC, CXX, CFLAGS, CXXFLAGS and LIB_FUZZING_ENGINE the way compile does, then runs
# `bash -eux $SRC/build.sh` in $SRC/vmbsave. The steps are compile's, in its order; the
# differences are the Debian paths, each marked "Debian:".
#
# Extra input: VMBSAVE_AFL_CMPLOG=1 takes compile_afl's CMPLOG branch of its option roulette
# (which OSS-Fuzz draws at random); unset or 0, the branch without CMPLOG.
# Exit status: build.sh's (non-zero: the build failed), or 2 for an unsupported setting.
set -euo pipefail

case "$FUZZING_ENGINE" in
libfuzzer | afl) ;;
*)
    echo "oss-fuzz-compile: FUZZING_ENGINE=$FUZZING_ENGINE is not reproduced here" >&2
    exit 2
    ;;
esac

echo "---------------------------------------------------------------"
# compile: the sanitizer's flags, unless SANITIZER_FLAGS is set already.
if [ -z "${SANITIZER_FLAGS-}" ]; then
    flags_var="SANITIZER_FLAGS_${SANITIZER}"
    export SANITIZER_FLAGS=${!flags_var-}
fi

# compile: `. compile_${FUZZING_ENGINE}`.
if [ "$FUZZING_ENGINE" = libfuzzer ]; then
    # compile_libfuzzer: link with clang's libFuzzer. It also copies libclang_rt.fuzzer.a to
    # $LIB_FUZZING_ENGINE_DEPRECATED; nothing here uses that path, so it is not written.
    export LIB_FUZZING_ENGINE="-fsanitize=fuzzer"
else
    # compile_afl: the driver library becomes $LIB_FUZZING_ENGINE (/usr/lib/libFuzzingEngine.a).
    # Debian: it is used where the afl++ package installs it instead of being copied there.
    export LIB_FUZZING_ENGINE=/usr/lib/afl/libAFLDriver.a
    # compile_afl copies AFL++'s tools to $OUT, so the runner finds afl-fuzz next to the
    # targets. Debian: from /usr/bin.
    cp /usr/bin/afl-fuzz /usr/bin/afl-showmap /usr/bin/afl-tmin "$OUT/"
    # Debian: /usr/bin/afl-clang-fast(++) for $SRC/aflplusplus/afl-clang-fast(++).
    export CC=afl-clang-fast
    export CXX=afl-clang-fast++
    export AFL_QUIET=1
    export ASAN_OPTIONS="detect_leaks=0:symbolize=0:detect_odr_violation=0:abort_on_error=1"
    export AFL_IGNORE_UNKNOWN_ENVS=1
    export AFL_LLVM_MODE_WORKAROUND=0
    export AFL_ENABLE_DICTIONARY=0
    export AFL_ENABLE_CMPLOG=1
    export AFL_LAF_CHANCE=5
    # The roulette, drawn: CMPLOG (60% in OSS-Fuzz) or not; never CTX-2 or LAF-intel.
    rm -f "$OUT/afl_cmplog.txt"
    if [ "${VMBSAVE_AFL_CMPLOG:-0}" = 1 ]; then
        export AFL_LLVM_CMPLOG=1
        touch "$OUT/afl_cmplog.txt"
    fi
    echo
    echo "AFL++ target compilation setup:"
    env | grep -E '^AFL_' | sort | tee "$OUT/afl_options.txt"
    echo
fi

# compile: COVERAGE_FLAGS_<sanitizer> overrides COVERAGE_FLAGS (coverage builds); AFL++ and
# engine-less builds get none (afl-clang-fast instruments by itself).
coverage_var="COVERAGE_FLAGS_${SANITIZER}"
if [ -n "${!coverage_var+x}" ]; then
    export COVERAGE_FLAGS="${!coverage_var}"
fi
if [ "$FUZZING_ENGINE" = afl ]; then
    export COVERAGE_FLAGS=
fi

export CFLAGS="$CFLAGS $SANITIZER_FLAGS $COVERAGE_FLAGS"
export CXXFLAGS="$CFLAGS $CXXFLAGS_EXTRA"

# compile: llvm-symbolizer goes to $OUT for the runner. Debian: whichever is on PATH.
if command -v llvm-symbolizer >/dev/null 2>&1; then
    cp "$(command -v llvm-symbolizer)" "$OUT/"
fi

echo "---------------------------------------------------------------"
echo "CC=$CC"
echo "CXX=$CXX"
echo "CFLAGS=$CFLAGS"
echo "CXXFLAGS=$CXXFLAGS"
echo "LIB_FUZZING_ENGINE=$LIB_FUZZING_ENGINE"
echo "---------------------------------------------------------------"

cd "$SRC/vmbsave"
exec bash -eux "$SRC/build.sh"
