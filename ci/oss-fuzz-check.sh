#!/usr/bin/env bash
# The OSS-Fuzz / ClusterFuzzLite build, checked locally: .clusterfuzzlite/build.sh runs in the
# environment OSS-Fuzz's base images give it (Docker cannot run here, so the environment is
# rebuilt from their Dockerfiles under `env -i`), once per configuration below, and every
# built target then runs over its seed corpus the way OSS-Fuzz's runner starts it.
#
#   configuration          what is checked
#   libFuzzer + address    build.sh's $OUT (each target, its seed zip, .dict, .options), that
#   libFuzzer + undefined  it adds no -fsanitize= of its own and links with $CXX; each target
#                          runs -runs=N over its unzipped seeds with its options and dictionary,
#                          leak detection on: exit 0, the whole dictionary loaded, N runs done
#   AFL++ + address        each target replays every seed through libAFLDriver's main, then
#                          afl-fuzz runs it for a few seconds: executions > 0, no crash, and
#                          fuzzer_stats' target_mode shows persistent mode and the shared-memory
#                          test case
#   AFL++ CMPLOG + address compile_afl's CMPLOG branch: $OUT/afl_cmplog.txt, compare hooks in
#                          the binary, and one afl-fuzz -c run of the first target
#   coverage               the nightly coverage job's build (profile instrumentation only, no
#                          sanitizer or fuzzer-no-link): each target runs -runs=0 over its seeds
#                          as the coverage runner does, and writes a profile
#
# The environment reproduced (base-image, base-clang, base-builder Dockerfiles; compile,
# compile_libfuzzer, compile_afl in ci/lib/oss-fuzz-compile.sh; base-runner for the runs):
#   SRC OUT WORK; CC=clang CXX=clang++ CCC=clang++; CFLAGS (base-clang's -O1
#   -fno-omit-frame-pointer -gline-tables-only -Wno-error=... -DFUZZING_BUILD_MODE_UNSAFE_...);
#   CXXFLAGS_EXTRA, CXXFLAGS="$CFLAGS $CXXFLAGS_EXTRA"; SANITIZER_FLAGS_address,
#   SANITIZER_FLAGS_undefined, SANITIZER_FLAGS_memory, SANITIZER_FLAGS_coverage;
#   COVERAGE_FLAGS=-fsanitize=fuzzer-no-link, COVERAGE_FLAGS_coverage; SANITIZER;
#   FUZZING_ENGINE; ARCHITECTURE=x86_64; FUZZING_LANGUAGE=c (project.yaml);
#   LIB_FUZZING_ENGINE_DEPRECATED and LIB_FUZZING_ENGINE=/usr/lib/libFuzzingEngine.a (compile
#   then sets -fsanitize=fuzzer, or the AFL++ driver's path); UBSAN_OPTIONS; FUZZER_LDFLAGS="";
#   for AFL++ compile_afl's CC/CXX, AFL_QUIET, ASAN_OPTIONS, AFL_IGNORE_UNKNOWN_ENVS and its
#   option roulette; at run time base-runner's ASAN_OPTIONS, UBSAN_OPTIONS, FUZZER_ARGS and
#   AFL_FUZZER_ARGS, and run_fuzzer's reading of <target>.options.
# Deviations, all forced by Debian's toolchain (clang 14, afl++ 4.04c) instead of the image's:
#   - CXXFLAGS_EXTRA is empty, not -stdlib=libc++: Debian's libFuzzer is built against
#     libstdc++ and does not link with libc++ (the image's is built for libc++).
#   - -Wno-error=enum-constexpr-conversion and -Wno-error=vla-cxx-extension are dropped from
#     CFLAGS: clang 14 does not know them (newer clangs do).
#   - The AFL++ tools are Debian's: /usr/bin/afl-clang-fast(++) for $SRC/aflplusplus/...,
#     /usr/lib/afl/libAFLDriver.a used in place instead of copied to /usr/lib/libFuzzingEngine.a.
#   - compile_afl's roulette is drawn, not random: no CMPLOG, then CMPLOG; never CTX-2,
#     LAF-intel or the compile-time dictionary.
#   - libFuzzer's runtime is clang's own (-fsanitize=fuzzer), as in the image; the deprecated
#     copy to $LIB_FUZZING_ENGINE_DEPRECATED is not made (nothing here uses it).
#   - xxHash headers are Debian's libxxhash-dev, not the Dockerfile's pinned $SRC/xxhash.
#   - afl-fuzz runs with AFL_NO_UI, AFL_SKIP_CPUFREQ, AFL_NO_AFFINITY (CI shares its cores),
#     AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES and leak detection off (LeakSanitizer would only
#     run at the end of a persistent loop; leaks are libFuzzer's check here).
#
# usage: ci/oss-fuzz-check.sh [--keep]
#   --keep  leave the work directory (builds, $OUT, logs) for inspection; it is always kept
#           when a step fails
# Environment: VMBSAVE_OSS_FUZZ_RUNS (libFuzzer runs per target, default 300),
#   VMBSAVE_OSS_FUZZ_AFL_SECONDS (afl-fuzz seconds per target, default 10),
#   VMBSAVE_OSS_FUZZ_CMPLOG_SECONDS (the CMPLOG run, default 15).
# Exit status: 0 every step passed; 1 a step failed (FAIL: lines say which, with the log's
# tail); 2 usage, or a missing tool (ci/lib/deps.sh installs them all).
# About 3 minutes on 2 cores. A summary table (target, engine, runs, result) ends the output.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
# shellcheck source=ci/lib/fuzz-files.sh
. ci/lib/fuzz-files.sh

usage() {
    sed -n '/^# usage:/,/^# About/p' "$0" | sed 's/^# \{0,1\}//'
}

keep=0
while [ "$#" -gt 0 ]; do
    case "$1" in
    --keep) keep=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "oss-fuzz-check: unknown argument '$1'" >&2
        usage >&2
        exit 2
        ;;
    esac
    shift
done

runs=${VMBSAVE_OSS_FUZZ_RUNS:-300}
afl_seconds=${VMBSAVE_OSS_FUZZ_AFL_SECONDS:-10}
cmplog_seconds=${VMBSAVE_OSS_FUZZ_CMPLOG_SECONDS:-15}
for value in "$runs" "$afl_seconds" "$cmplog_seconds"; do
    if ! [[ "$value" =~ ^[1-9][0-9]{0,5}$ ]]; then
        echo "oss-fuzz-check: '$value' is not a count between 1 and 999999" >&2
        exit 2
    fi
done

missing=()
for tool in cmake clang clang++ afl-clang-fast afl-clang-fast++ afl-fuzz afl-showmap afl-tmin \
    zip unzip objdump; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -f /usr/lib/afl/libAFLDriver.a ] || missing+=(/usr/lib/afl/libAFLDriver.a)
if [ "${#missing[@]}" -ne 0 ]; then
    echo "oss-fuzz-check: missing ${missing[*]}: ci/lib/deps.sh installs them" \
        "(apt-get install afl++ clang zip unzip binutils)" >&2
    exit 2
fi

started=$SECONDS
root=$(mktemp -d "${TMPDIR:-/tmp}/vmbsave-oss-fuzz.XXXXXX")
failures=0
rows=()
finish() {
    local status=$1
    local group
    for group in "${afl_groups[@]}"; do
        kill -KILL -- "-$group" 2>/dev/null || true
    done
    kill_leftovers
    if [ "$status" -ne 0 ] && [ "$failures" -eq 0 ]; then
        # set -e stopped the script on a command no step expected to fail.
        echo "FAIL: oss-fuzz-check stopped on an unexpected error (status $status) above" >&2
        failures=1
    fi
    if [ "$failures" -eq 0 ] && [ "$keep" -eq 0 ]; then
        rm -rf "$root"
    else
        echo "oss-fuzz-check: work directory kept: $root"
    fi
    [ "$failures" -eq 0 ] || exit 1
}
# The process groups of the afl-fuzz runs, killed on every exit path (finish).
afl_groups=()
# Every process working inside $root: AFL++'s fork servers call setsid(), so a stopped one
# escapes afl-fuzz's group and would outlive the run, re-parented to init.
kill_leftovers() {
    local p pid cwd
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] || continue
        cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
        case $cwd in "$root" | "$root"/*) kill -KILL "$pid" 2>/dev/null || true ;; esac
    done
}
trap 'finish $?' EXIT

# One line of the summary table.
row() { # TARGET ENGINE RUNS RESULT
    rows+=("$(printf '%-14s %-22s %9s  %s' "$1" "$2" "$3" "$4")")
}
# A failed step: said at once, with the end of its log, and counted.
fail() { # WHAT LOG
    failures=$((failures + 1))
    echo "FAIL: $1" >&2
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        echo "---- last lines of $2 ----" >&2
        tail -n 30 "$2" >&2
        echo "----" >&2
    fi
}

# ---- The base images' environment ---------------------------------------------------------
# base-clang's CFLAGS, less the -Wno-error= options clang 14 does not know (see Deviations).
base_cflags=""
for flag in -O1 -fno-omit-frame-pointer -gline-tables-only \
    -Wno-error=enum-constexpr-conversion -Wno-error=incompatible-function-pointer-types \
    -Wno-error=int-conversion -Wno-error=deprecated-declarations \
    -Wno-error=implicit-function-declaration -Wno-error=implicit-int \
    -Wno-error=vla-cxx-extension -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION; do
    if [[ "$flag" == -Wno-error=* ]] &&
        ! clang -Werror=unknown-warning-option "$flag" -fsyntax-only -x c /dev/null 2>/dev/null; then
        continue
    fi
    base_cflags+="${base_cflags:+ }$flag"
done
ubsan_checks=array-bounds,bool,builtin,enum,function,integer-divide-by-zero,null,object-size
ubsan_checks+=,return,returns-nonnull-attribute,shift,signed-integer-overflow
ubsan_recover_checks=$ubsan_checks,unreachable,vla-bound,vptr
ubsan_checks+=,unsigned-integer-overflow,unreachable,vla-bound,vptr
# base-runner: what OSS-Fuzz's runner (and ClusterFuzz) run targets with.
runner_asan_options="alloc_dealloc_mismatch=0:allocator_may_return_null=1"
runner_asan_options+=":allocator_release_to_os_interval_ms=500:check_malloc_usable_size=0"
runner_asan_options+=":detect_container_overflow=1:detect_odr_violation=0:detect_leaks=1"
runner_asan_options+=":detect_stack_use_after_return=1:fast_unwind_on_fatal=0:handle_abort=1"
runner_asan_options+=":handle_segv=1:handle_sigill=1:max_uar_stack_size_log=16"
runner_asan_options+=":print_scariness=1:quarantine_size_mb=10:strict_memcmp=1:symbolize=1"
runner_asan_options+=":use_sigaltstack=1:dedup_token_length=3"
runner_ubsan_options="print_stacktrace=1:print_summary=1:silence_unsigned_overflow=1"
runner_ubsan_options+=":symbolize=1:dedup_token_length=3"
runner_fuzzer_args=(-rss_limit_mb=2560 -timeout=25)
runner_afl_fuzzer_args=(-m none)

# build NAME ENGINE SANITIZER CMPLOG: runs build.sh as OSS-Fuzz's compile would, in
# $root/NAME/{src,out,work}; returns non-zero after a FAIL line.
build() {
    local name=$1 engine=$2 sanitizer=$3 cmplog=$4
    local dir=$root/$name
    mkdir -p "$dir/src" "$dir/out" "$dir/work"
    ln -s "$repo" "$dir/src/vmbsave"
    cp .clusterfuzzlite/build.sh "$dir/src/build.sh"
    echo "==== $name: build.sh (FUZZING_ENGINE=$engine SANITIZER=$sanitizer) ===="
    local t0=$SECONDS
    if ! env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 \
        SRC="$dir/src" OUT="$dir/out" WORK="$dir/work" \
        CC=clang CXX=clang++ CCC=clang++ \
        CFLAGS="$base_cflags" CXXFLAGS_EXTRA="" CXXFLAGS="$base_cflags " \
        SANITIZER_FLAGS_address="-fsanitize=address -fsanitize-address-use-after-scope" \
        SANITIZER_FLAGS_undefined="-fsanitize=$ubsan_checks -fno-sanitize-recover=$ubsan_recover_checks" \
        SANITIZER_FLAGS_memory="-fsanitize=memory -fsanitize-memory-track-origins" \
        SANITIZER_FLAGS_coverage="" \
        UBSAN_OPTIONS=silence_unsigned_overflow=1 \
        COVERAGE_FLAGS=-fsanitize=fuzzer-no-link \
        COVERAGE_FLAGS_coverage="-fprofile-instr-generate -fcoverage-mapping -pthread -Wl,--no-as-needed -Wl,-ldl -Wl,-lm -Wno-unused-command-line-argument" \
        SANITIZER="$sanitizer" FUZZING_ENGINE="$engine" ARCHITECTURE=x86_64 \
        FUZZING_LANGUAGE=c \
        LIB_FUZZING_ENGINE_DEPRECATED=/usr/lib/libFuzzingEngine.a \
        LIB_FUZZING_ENGINE=/usr/lib/libFuzzingEngine.a \
        FUZZER_LDFLAGS="" \
        VMBSAVE_AFL_CMPLOG="$cmplog" \
        bash ci/lib/oss-fuzz-compile.sh >"$dir/build.log" 2>&1; then
        fail "$name: build.sh failed" "$dir/build.log"
        row "(all)" "$name" "-" "FAIL: build.sh"
        return 1
    fi
    echo "built in $((SECONDS - t0)) s"
    if ! check_out "$name"; then
        row "(all)" "$name" "-" "FAIL: \$OUT or the build breaks the contract"
        return 1
    fi
}

# built_compile_commands BUILD: the compile commands (compile_commands.json, which CMake writes
# one key a line, "directory" before "command") of the objects that exist (-o OBJECT), i.e. of
# what build.sh built.
built_compile_commands() {
    awk '
        /^ *"directory": / { dir = $0; sub(/^ *"directory": "/, "", dir); sub(/",?$/, "", dir) }
        /^ *"command": / {
            n = split($0, words, / +/)
            for (i = 1; i < n; i++) if (words[i] == "-o") obj = words[i + 1]
            if (obj !~ /^\//) obj = dir "/" obj
            if ((getline line < obj) >= 0) { print $0; close(obj) }
        }
    ' "$1/compile_commands.json"
}

# check_out NAME: what build.sh left in $OUT and how it built, against the contract.
check_out() {
    local name=$1 dir=$root/$1
    local out=$dir/out build=$dir/work/vmbsave-build bad=0
    local cflags cxx
    # The first match, by sed itself: `| head -n 1` can fail the pipeline (SIGPIPE, pipefail).
    cflags=$(sed -n '/^CFLAGS=/{s///p;q}' "$dir/build.log")
    cxx=$(sed -n '/^CXX=/{s///p;q}' "$dir/build.log")
    if [ ! -s "$build/fuzzers/fuzz_targets.txt" ]; then
        fail "$name: $build/fuzzers/fuzz_targets.txt is missing or empty" "$dir/build.log"
        return 1
    fi
    # The targets built must be the tree's list.
    if ! diff <(vmbsave_fuzz_targets "$repo") "$build/fuzzers/fuzz_targets.txt" >/dev/null; then
        fail "$name: the targets built differ from VMBSAVE_FUZZ_TARGETS"
        bad=1
    fi
    # No -fsanitize= of build.sh's or CMake's own: every one in the compile commands of the
    # objects built (those on disk: the targets' own, not the rest of the tree) is in CFLAGS.
    local extra
    extra=$(comm -23 \
        <(built_compile_commands "$build" | grep -oE -- '-f(no-)?sanitize=[^ "]+' | sort -u) \
        <(tr ' ' '\n' <<<"$cflags" | grep -E -- '^-f(no-)?sanitize=' | sort -u))
    if [ "$(built_compile_commands "$build" | wc -l)" -eq 0 ]; then
        fail "$name: no compile command of a built object in $build/compile_commands.json"
        bad=1
    fi
    if [ -n "$extra" ]; then
        fail "$name: the build adds sanitizer flags CFLAGS do not have: $(echo $extra)"
        bad=1
    fi
    while read -r target; do
        local fuzzer=fuzz_$target
        # Linked with $CXX (CMake's link line starts with the compiler that links).
        local linker
        linker=$(awk '{ print $1; exit }' "$build/fuzzers/CMakeFiles/$fuzzer.dir/link.txt")
        if [ "$(basename "$linker")" != "$(basename "$cxx")" ]; then
            fail "$name: $fuzzer is linked with $linker, not \$CXX ($cxx)"
            bad=1
        fi
        for file in "$fuzzer" "$fuzzer.dict" "$fuzzer.options" "${fuzzer}_seed_corpus.zip"; do
            if [ ! -s "$out/$file" ]; then
                fail "$name: \$OUT/$file is missing or empty"
                bad=1
            fi
        done
        [ -x "$out/$fuzzer" ] || { fail "$name: \$OUT/$fuzzer is not executable"; bad=1; }
        # The zip holds every seed and every regression input.
        local expected zipped
        expected=$(find "corpus/seeds/$target" "corpus/regressions/$target" -maxdepth 1 \
            -type f ! -name '.*' 2>/dev/null | wc -l)
        zipped=$(unzip -Z1 "$out/${fuzzer}_seed_corpus.zip" 2>/dev/null | wc -l)
        if [ "$zipped" -ne "$expected" ] || [ "$expected" -eq 0 ]; then
            fail "$name: ${fuzzer}_seed_corpus.zip holds $zipped inputs, corpus/ has $expected"
            bad=1
        fi
    done <"$build/fuzzers/fuzz_targets.txt"
    return "$bad"
}

# unzip_seeds NAME FUZZER DIR: the seed corpus as the runner unpacks it.
unzip_seeds() {
    rm -rf "$3"
    mkdir -p "$3"
    unzip -q -d "$3" "$root/$1/out/${2}_seed_corpus.zip"
}

# run_libfuzzer NAME SANITIZER: every target, -runs=N over its seeds, as run_fuzzer starts it.
run_libfuzzer() {
    local name=$1 sanitizer=$2 out=$root/$1/out
    while read -r target; do
        local fuzzer=fuzz_$target run=$root/$name/run/fuzz_$target
        local log=$run.log
        mkdir -p "$run.artifacts"
        unzip_seeds "$name" "$fuzzer" "$run/corpus"
        local -a flags
        mapfile -t flags < <(vmbsave_libfuzzer_flags "$out/$fuzzer.options")
        local rc=0
        (cd "$out" && ASAN_OPTIONS=$runner_asan_options UBSAN_OPTIONS=$runner_ubsan_options \
            "./$fuzzer" "${runner_fuzzer_args[@]}" "${flags[@]}" -dict="$fuzzer.dict" \
            -runs="$runs" -artifact_prefix="$run.artifacts/" -print_final_stats=1 \
            "$run/corpus") >"$log" 2>&1 || rc=$?
        local done_runs entries tokens corp
        done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
        entries=$(sed -n 's/^Dictionary: \([0-9]*\) entries.*/\1/p' "$log" | tail -n 1)
        corp=$(sed -n 's/.*INITED .* corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -n 1)
        tokens=$(vmbsave_dict_tokens "$out/$fuzzer.dict")
        local engine="libFuzzer/$sanitizer"
        if [ "$rc" -ne 0 ]; then
            fail "$name: $fuzzer exited with status $rc (a finding, or a bad option)" "$log"
            row "$target" "$engine" "${done_runs:--}" "FAIL: exit $rc"
        elif [ "${entries:-0}" -ne "$tokens" ]; then
            fail "$name: $fuzzer loaded ${entries:-no} dictionary entries of $tokens" "$log"
            row "$target" "$engine" "$done_runs" "FAIL: dictionary"
        elif [ -z "$done_runs" ] || [ "$done_runs" -lt "$runs" ] || [ "${corp:-0}" -lt 1 ]; then
            fail "$name: $fuzzer ran ${done_runs:-no} inputs of $runs, corpus ${corp:-none}" "$log"
            row "$target" "$engine" "${done_runs:--}" "FAIL: runs"
        else
            row "$target" "$engine" "$done_runs" "pass"
        fi
    done <"$root/$name/work/vmbsave-build/fuzzers/fuzz_targets.txt"
}

# afl_env: what afl-fuzz and the driver run with (base-runner's options; see Deviations).
afl_env_vars=(AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
    AFL_BENCH_UNTIL_CRASH=1 AFL_IGNORE_UNKNOWN_ENVS=1
    ASAN_OPTIONS="$runner_asan_options:abort_on_error=1:symbolize=0:detect_leaks=0"
    UBSAN_OPTIONS="$runner_ubsan_options:abort_on_error=1:symbolize=0")
afl_env() {
    env "${afl_env_vars[@]}" "$@"
}

# afl_fuzz NAME TARGET SECONDS LABEL [AFL ARGS...]: a short afl-fuzz run and its checks.
afl_fuzz() {
    local name=$1 target=$2 seconds=$3 label=$4
    shift 4
    local out=$root/$name/out fuzzer=fuzz_$target
    local run=$root/$name/run/$fuzzer.$label
    local log=$run.log
    unzip_seeds "$name" "$fuzzer" "$run.seeds"
    local timeout_s
    timeout_s=$(vmbsave_libfuzzer_option "$out/$fuzzer.options" timeout)
    local timeout_ms=$((${timeout_s:-25} * 1000))
    local rc=0
    # In a session of its own, killed as a group afterwards: afl-fuzz's fork server (and the
    # CMPLOG one) can outlive afl-fuzz, stopped and re-parented to init.
    (cd "$out" && exec env "${afl_env_vars[@]}" setsid timeout $((seconds + 60)) "./afl-fuzz" \
        "${runner_afl_fuzzer_args[@]}" -V "$seconds" -t "$timeout_ms" -x "$fuzzer.dict" \
        -i "$run.seeds" -o "$run.out" "$@" -- "./$fuzzer") >"$log" 2>&1 &
    local group=$!
    afl_groups+=("$group")
    wait "$group" || rc=$?
    kill -KILL -- "-$group" 2>/dev/null || true
    kill_leftovers
    local stats=$run.out/default/fuzzer_stats
    local execs crashes mode extras tokens
    extras=$(sed -n 's/.*Loaded \([0-9]*\) extra tokens.*/\1/p;T;q' "$log")
    tokens=$(vmbsave_dict_tokens "$out/$fuzzer.dict")
    execs=$(sed -n 's/^execs_done *: *//p' "$stats" 2>/dev/null)
    crashes=$(sed -n 's/^saved_crashes *: *//p' "$stats" 2>/dev/null)
    mode=$(sed -n 's/^target_mode *: *//p' "$stats" 2>/dev/null)
    local engine="AFL++ $label"
    if [ "$rc" -ne 0 ] || [ ! -f "$stats" ]; then
        fail "$name: afl-fuzz on $fuzzer exited with status $rc" "$log"
        row "$target" "$engine" "${execs:--}" "FAIL: afl-fuzz exit $rc"
    elif [ "${crashes:-1}" -ne 0 ] ||
        [ -n "$(ls "$run.out/default/crashes" 2>/dev/null | grep -v README)" ]; then
        fail "$name: afl-fuzz found a crash in $fuzzer ($run.out/default/crashes)" "$log"
        row "$target" "$engine" "$execs" "FAIL: crash"
    elif [ "${extras:-0}" -ne "$tokens" ]; then
        fail "$name: afl-fuzz loaded ${extras:-no} tokens of $fuzzer.dict's $tokens" "$log"
        row "$target" "$engine" "$execs" "FAIL: dictionary"
    elif [ "${execs:-0}" -le 0 ]; then
        fail "$name: afl-fuzz ran no input of $fuzzer" "$log"
        row "$target" "$engine" "0" "FAIL: no executions"
    elif [[ " $mode " != *" persistent "* ]] || [[ " $mode " != *" shmem_testcase "* ]]; then
        fail "$name: $fuzzer did not run in persistent mode with the shared-memory test case (target_mode: '$mode')" "$log"
        row "$target" "$engine" "$execs" "FAIL: target_mode '$mode'"
    else
        return 0
    fi
    return 1
}

# run_afl NAME: the driver's own main over every seed, then afl-fuzz, for every target.
run_afl() {
    local name=$1 out=$root/$1/out
    while read -r target; do
        local fuzzer=fuzz_$target run=$root/$name/run/fuzz_$target
        unzip_seeds "$name" "$fuzzer" "$run.replay"
        local -a seeds
        mapfile -t seeds < <(find "$run.replay" -type f | sort)
        local rc=0 ran
        (cd "$out" && afl_env "./$fuzzer" "${seeds[@]}") >"$run.replay.log" 2>&1 || rc=$?
        # libAFLDriver reports each file it ran; a file it could not read is silently skipped.
        ran=$(grep -c '^Execution successful' "$run.replay.log" || true)
        if [ "$rc" -ne 0 ] || [ "$ran" -ne "${#seeds[@]}" ]; then
            fail "$name: $fuzzer replayed $ran of ${#seeds[@]} seeds, status $rc" \
                "$run.replay.log"
            row "$target" "AFL++ driver replay" "$ran" "FAIL"
            continue
        fi
        row "$target" "AFL++ driver replay" "$ran" "pass"
        if afl_fuzz "$name" "$target" "$afl_seconds" "afl-fuzz"; then
            row "$target" "AFL++ afl-fuzz" \
                "$(sed -n 's/^execs_done *: *//p' "$run.afl-fuzz.out/default/fuzzer_stats")" \
                "pass ($(sed -n 's/^target_mode *: *//p' \
                    "$run.afl-fuzz.out/default/fuzzer_stats" | xargs))"
        fi
    done <"$root/$name/work/vmbsave-build/fuzzers/fuzz_targets.txt"
}

# run_cmplog NAME: compile_afl's CMPLOG build, checked, and one afl-fuzz -c run.
run_cmplog() {
    local name=$1 out=$root/$1/out
    local target
    target=$(head -n 1 "$root/$name/work/vmbsave-build/fuzzers/fuzz_targets.txt")
    local fuzzer=fuzz_$target
    if [ ! -f "$out/afl_cmplog.txt" ]; then
        fail "$name: \$OUT/afl_cmplog.txt is missing (ClusterFuzz would not pass -c)"
        row "$target" "AFL++ CMPLOG" "-" "FAIL: no afl_cmplog.txt"
        return
    fi
    local hooks
    hooks=$(objdump -d --no-show-raw-insn "$out/$fuzzer" | grep -cE 'call.*<__cmplog_' || true)
    if [ "$hooks" -eq 0 ]; then
        fail "$name: $fuzzer has no CMPLOG hooks: AFL_LLVM_CMPLOG did not reach the compiler"
        row "$target" "AFL++ CMPLOG" "-" "FAIL: not instrumented"
        return
    fi
    # ClusterFuzz passes the target itself as the CMPLOG binary when afl_cmplog.txt exists.
    if afl_fuzz "$name" "$target" "$cmplog_seconds" "cmplog" -c "./$fuzzer"; then
        local run=$root/$name/run/$fuzzer.cmplog
        if ! grep -q 'Cmplog forkserver successfully started' "$run.log"; then
            fail "$name: afl-fuzz -c did not start the CMPLOG forkserver" "$run.log"
            row "$target" "AFL++ CMPLOG" "-" "FAIL: no CMPLOG forkserver"
            return
        fi
        row "$target" "AFL++ CMPLOG (-c)" \
            "$(sed -n 's/^execs_done *: *//p' "$run.out/default/fuzzer_stats")" \
            "pass ($hooks compare hooks)"
    fi
}

# run_coverage NAME: every target over its seeds with -runs=0, as OSS-Fuzz's coverage runner
# runs it; each must exit 0 and write a non-empty profile.
run_coverage() {
    local name=$1 out=$root/$1/out
    while read -r target; do
        local fuzzer=fuzz_$target run=$root/$name/run/fuzz_$target
        unzip_seeds "$name" "$fuzzer" "$run/corpus"
        local rc=0 inputs
        inputs=$(find "$run/corpus" -type f | wc -l)
        (cd "$out" && LLVM_PROFILE_FILE="$run/$fuzzer.profraw" "./$fuzzer" -runs=0 \
            "$run/corpus") >"$run.log" 2>&1 || rc=$?
        if [ "$rc" -ne 0 ]; then
            fail "$name: $fuzzer -runs=0 exited with status $rc" "$run.log"
            row "$target" "coverage" "-" "FAIL: exit $rc"
        elif [ ! -s "$run/$fuzzer.profraw" ]; then
            fail "$name: $fuzzer wrote no profile ($run/$fuzzer.profraw)" "$run.log"
            row "$target" "coverage" "$inputs" "FAIL: no profile"
        else
            row "$target" "coverage" "$inputs" "pass (profile written)"
        fi
    done <"$root/$name/work/vmbsave-build/fuzzers/fuzz_targets.txt"
}

# ---- The configurations --------------------------------------------------------------------
if build libfuzzer-address libfuzzer address 0; then
    run_libfuzzer libfuzzer-address address
fi
if build libfuzzer-undefined libfuzzer undefined 0; then
    run_libfuzzer libfuzzer-undefined undefined
fi
if build afl-address afl address 0; then
    run_afl afl-address
fi
if build afl-cmplog afl address 1; then
    run_cmplog afl-cmplog
fi
if build coverage libfuzzer coverage 0; then
    run_coverage coverage
fi

echo
echo "==== OSS-Fuzz / ClusterFuzzLite check: summary ===="
printf '%-14s %-22s %9s  %s\n' target engine runs result
printf '%s\n' "${rows[@]}"
echo "total time: $((SECONDS - started)) s"
if [ "$failures" -ne 0 ]; then
    echo "FAIL: $failures step(s) failed (FAIL: lines above)" >&2
    exit 1
fi
echo "PASS: every target built as OSS-Fuzz builds it and ran on libFuzzer and AFL++"
