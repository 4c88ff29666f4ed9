#!/usr/bin/env bash
# Fuzzes one target locally with one engine, in one command: configures the engine's preset
# (CMakePresets.json), builds the target, prepares a writable corpus from its seeds and
# regressions, and runs the engine with the target's dictionary and options
# (corpus/<target>.dict, corpus/<target>.options).
#
# usage: ci/fuzz.sh ENGINE TARGET [SECONDS]
#   ENGINE   libfuzzer   libFuzzer, ASan+UBSan, leak detection (preset fuzz-libfuzzer)
#            afl         AFL++ afl-fuzz, persistent mode, shared-memory input (fuzz-afl)
#            afl-cmplog  the same with a CMPLOG build for -c (fuzz-afl and fuzz-afl-cmplog)
#            afl-lto     the same as afl built in AFL++'s LTO mode, afl-clang-lto: collision-free
#                        edge ids (fuzz-afl-lto); the built-in reference only, no VMBSAVE_FUZZ_IMPL
#            replay      the plain replay driver over the seeds and regressions (fuzz-replay)
#   TARGET   a fuzz target of VMBSAVE_FUZZ_TARGETS (fuzzers/CMakeLists.txt): save_session, ...
#   SECONDS  how long to fuzz, 1 to 604800 (default 60); replay runs every input once
# Builds go to build/<preset>/ (VMBSAVE_FUZZ_BUILD_ROOT=DIR: DIR/<preset>/). The corpus and the
# findings go to build/fuzz/<engine>-<target>/ (VMBSAVE_FUZZ_WORK_DIR=DIR: DIR/), kept between
# runs so the next one goes on from there; libFuzzer writes findings to findings/, AFL++ to
# afl/default/crashes/. VMBSAVE_FUZZ_IMPL=LIB.so fuzzes a plug-in instead of the reference.
# AFL++ runs with the structure-aware mutator (libvmbsave_afl_mutator.so, corpus/README.md) on
# targets whose input is a program; VMBSAVE_FUZZ_AFL_MUTATOR=off leaves it out.
# Exit status: 0 no finding; 1 a finding, or the build or the engine failed; 2 usage, an unknown
# engine or target, a missing tool, or afl-lto with VMBSAVE_FUZZ_IMPL.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=ci/lib/fuzz-files.sh
. ci/lib/fuzz-files.sh

usage() {
    sed -n '/^# usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'
}
die_usage() {
    echo "fuzz.sh: $*" >&2
    echo "usage: ci/fuzz.sh ENGINE TARGET [SECONDS]  (ci/fuzz.sh --help for more)" >&2
    exit 2
}

if [ "$#" -eq 1 ] && { [ "$1" = -h ] || [ "$1" = --help ]; }; then
    usage
    exit 0
fi
if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
    die_usage "expected ENGINE TARGET [SECONDS], got $# argument(s)"
fi
engine=$1
target=$2
seconds=${3:-60}

case "$engine" in
libfuzzer) presets=(fuzz-libfuzzer) ;;
afl) presets=(fuzz-afl) ;;
afl-cmplog) presets=(fuzz-afl fuzz-afl-cmplog) ;;
afl-lto) presets=(fuzz-afl-lto) ;;
replay) presets=(fuzz-replay) ;;
*) die_usage "unknown engine '$engine' (one of: libfuzzer, afl, afl-cmplog, afl-lto, replay)" ;;
esac
# The build afl-fuzz runs (and the AFL++ mutator's): the first preset.
afl_preset=${presets[0]}
# AFL++'s LTO mode numbers a shared library's edges from 1 again, over the target's own
# (AFL++ README.lto.md, "Instrumenting shared libraries"), and a library built with
# afl-clang-fast aborts an LTO target that dlopen()s it: plug-ins are fuzzed with engine afl.
if [ "$engine" = afl-lto ] && [ -n "${VMBSAVE_FUZZ_IMPL:-}" ]; then
    die_usage "engine afl-lto fuzzes the built-in reference only; fuzz a plug-in" \
        "(VMBSAVE_FUZZ_IMPL) with engine afl"
fi
mapfile -t targets < <(vmbsave_fuzz_targets .)
if [ "${#targets[@]}" -eq 0 ]; then
    die_usage "no fuzz target found in fuzzers/CMakeLists.txt (set(VMBSAVE_FUZZ_TARGETS ...))"
fi
if ! vmbsave_one_of "$target" "${targets[@]}"; then
    die_usage "unknown target '$target' (one of: ${targets[*]})"
fi
if ! [[ "$seconds" =~ ^[1-9][0-9]{0,5}$ ]] || [ "$seconds" -gt 604800 ]; then
    die_usage "SECONDS must be a whole number from 1 to 604800, got '$seconds'"
fi

# ---- Tools ------------------------------------------------------------------------------------
need=(cmake)
case "$engine" in
libfuzzer) need+=(clang clang++) ;;
afl | afl-cmplog) need+=(afl-clang-fast afl-clang-fast++ afl-fuzz) ;;
afl-lto) need+=(afl-clang-lto afl-clang-lto++ afl-fuzz ld.lld) ;; # afl-clang-lto links with lld
esac
for tool in "${need[@]}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "fuzz.sh: $tool not found (apt-get install cmake clang afl++ lld, or run" \
            "ci/test.sh once as root: ci/lib/deps.sh installs them)" >&2
        exit 2
    fi
done
if [[ "$engine" == afl* ]] && [ ! -f /usr/lib/afl/libAFLDriver.a ]; then
    echo "fuzz.sh: /usr/lib/afl/libAFLDriver.a not found (apt-get install afl++)" >&2
    exit 2
fi

# ---- Build ------------------------------------------------------------------------------------
build_root=${VMBSAVE_FUZZ_BUILD_ROOT:-build}
work=${VMBSAVE_FUZZ_WORK_DIR:-build/fuzz/$engine-$target}
mkdir -p "$work"
declare -A binary
for preset in "${presets[@]}"; do
    dir=$build_root/$preset
    log=$work/build-$preset.log
    echo "fuzz.sh: building fuzz_$target ($preset) in $dir"
    if ! { cmake --preset "$preset" -B "$dir" &&
        cmake --build "$dir" --target "fuzz_$target" --parallel "$(nproc 2>/dev/null || echo 2)"; } \
        >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "fuzz.sh: the $preset build failed (log: $log)" >&2
        exit 1
    fi
    binary[$preset]=$dir/fuzzers/fuzz_$target
done

# AFL++'s structure-aware mutator: for targets whose input is a program (not those listed in
# VMBSAVE_FUZZ_NOT_PROGRAM_TARGETS), built in the plain AFL++ build, fuzz-afl or fuzz-afl-lto
# (without sanitizers or instrumentation: afl-fuzz loads it).
mutator=
mapfile -t not_program_targets < <(vmbsave_fuzz_cmake_list . VMBSAVE_FUZZ_NOT_PROGRAM_TARGETS)
if [[ "$engine" == afl* ]] && [ "${VMBSAVE_FUZZ_AFL_MUTATOR:-on}" != off ] &&
    ! vmbsave_one_of "$target" "${not_program_targets[@]}"; then
    log=$work/build-afl-mutator.log
    if ! cmake --build "$build_root/$afl_preset" --target vmbsave_afl_mutator >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "fuzz.sh: the AFL++ mutator did not build (log: $log);" \
            "VMBSAVE_FUZZ_AFL_MUTATOR=off runs without it" >&2
        exit 1
    fi
    mutator=$build_root/$afl_preset/fuzzers/libvmbsave_afl_mutator.so
fi

# ---- Corpus: seeds and regressions, copied so the engine may add to it ------------------------
corpus=$work/corpus
mkdir -p "$corpus"
for source in "corpus/seeds/$target" "corpus/regressions/$target"; do
    [ -d "$source" ] || continue
    prefix=
    [[ "$source" == corpus/regressions/* ]] && prefix=regression-
    find "$source" -maxdepth 1 -type f ! -name '.*' -print0 |
        while IFS= read -r -d '' file; do
            cp -n "$file" "$corpus/$prefix${file##*/}"
        done
done
if [ -z "$(ls -A "$corpus")" ]; then
    echo "fuzz.sh: corpus/seeds/$target has no seed (ci/make_seeds.sh writes them)" >&2
    exit 1
fi
dict=corpus/$target.dict
options=corpus/$target.options
for file in "$dict" "$options"; do
    if [ ! -f "$file" ]; then
        echo "fuzz.sh: $file is missing (ci/make_engine_files.sh writes it)" >&2
        exit 1
    fi
done

# ---- Run ----------------------------------------------------------------------------------------
# Nothing of the run outlives it: its processes carry a marker in their environment and those
# left at exit are killed (AFL++'s fork servers call setsid() and can outlive afl-fuzz, stopped).
# shellcheck source=ci/nightly/procs.sh
. ci/nightly/procs.sh
VMBSAVE_NIGHTLY_RUN=vmbsave-fuzz-sh-$$-$RANDOM
nightly_marker_init
trap nightly_cleanup EXIT
trap 'exit 130' INT TERM HUP
case "$engine" in
replay)
    echo "fuzz.sh: replaying $(ls "$corpus" | wc -l) inputs of $corpus"
    if ! "${binary[fuzz-replay]}" "$corpus"; then
        echo "fuzz.sh: an input failed; the first stderr line names the clause" >&2
        exit 1
    fi
    ;;
libfuzzer)
    mapfile -t flags < <(vmbsave_libfuzzer_flags "$options")
    mkdir -p "$work/findings"
    # The findings directory keeps earlier runs' files: this run's are those not there before.
    list_findings() { find "$work/findings" -maxdepth 1 -type f | sort; }
    list_findings >"$work/findings.before"
    echo "fuzz.sh: libFuzzer on fuzz_$target for $seconds s; corpus $corpus," \
        "findings $work/findings/"
    rc=0
    "${binary[fuzz-libfuzzer]}" "${flags[@]}" -dict="$dict" -max_total_time="$seconds" \
        -artifact_prefix="$work/findings/" -print_final_stats=1 "$corpus" || rc=$?
    mapfile -t new_findings < <(list_findings | comm -13 "$work/findings.before" -)
    if [ "${#new_findings[@]}" -gt 0 ]; then
        # The replay runs the same plug-in: VMBSAVE_FUZZ_IMPL in the command itself.
        impl_env=
        [ -z "${VMBSAVE_FUZZ_IMPL:-}" ] || impl_env="VMBSAVE_FUZZ_IMPL=$(realpath "$VMBSAVE_FUZZ_IMPL") "
        for f in "${new_findings[@]}"; do
            echo "fuzz.sh: finding $f" >&2
            echo "  replay: $impl_env${binary[fuzz-libfuzzer]} $f" >&2
        done
        exit 1
    fi
    if [ "$rc" -ne 0 ]; then
        echo "fuzz.sh: libFuzzer exited with status $rc and saved no finding (killed, or it" \
            "could not run; see its output above)" >&2
        exit 1
    fi
    ;;
afl | afl-cmplog | afl-lto)
    timeout_s=$(vmbsave_libfuzzer_option "$options" timeout)
    args=(-i "$corpus" -o "$work/afl" -x "$dict" -t "$((${timeout_s:-10} * 1000))"
        -V "$seconds")
    if [ "$engine" = afl-cmplog ]; then
        # The CMPLOG build logs comparisons for afl-fuzz's input-to-state stage; the plain
        # build does the fuzzing.
        args+=(-c "${binary[fuzz-afl-cmplog]}")
    fi
    afl_env=()
    [ -t 1 ] || afl_env=(AFL_NO_UI=1)
    if [ -n "$mutator" ]; then
        afl_env+=(AFL_CUSTOM_MUTATOR_LIBRARY="$(realpath "$mutator")" VMBSAVE_FUZZ_TARGET="$target")
        echo "fuzz.sh: with the structure-aware mutator $mutator"
    fi
    count_crashes() {
        [ -d "$work/afl/default/crashes" ] || { echo 0; return; }
        find "$work/afl/default/crashes" -type f -name 'id:*' | wc -l
    }
    crashes_before=$(count_crashes)
    echo "fuzz.sh: afl-fuzz on fuzz_$target for $seconds s; corpus $corpus," \
        "output $work/afl/"
    # AFL++ wants ASan to abort and not symbolise; leaks are left to the libFuzzer engine
    # (LeakSanitizer would only run when the persistent loop ends).
    env "${afl_env[@]}" AFL_AUTORESUME=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
        ASAN_OPTIONS="abort_on_error=1:symbolize=0:detect_leaks=0" \
        UBSAN_OPTIONS="abort_on_error=1:symbolize=0:print_stacktrace=1" \
        afl-fuzz "${args[@]}" -- "${binary[$afl_preset]}" || {
        echo "fuzz.sh: afl-fuzz failed" >&2
        exit 1
    }
    crashes=$(($(count_crashes) - crashes_before))
    if [ "$crashes" -ne 0 ]; then
        impl_env=
        [ -z "${VMBSAVE_FUZZ_IMPL:-}" ] || impl_env="VMBSAVE_FUZZ_IMPL=$(realpath "$VMBSAVE_FUZZ_IMPL") "
        echo "fuzz.sh: $crashes new finding(s) in $work/afl/default/crashes/" \
            "(replay: ${impl_env}${binary[$afl_preset]} FILE)" >&2
        exit 1
    fi
    ;;
esac
echo "fuzz.sh: no finding"
