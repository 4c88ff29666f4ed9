#!/usr/bin/env bash
# The fuzzing benchmark (bench/README.md, "fuzz_bench.sh"): for libFuzzer + ASan/UBSan and for
# AFL++ persistent mode + ASan/UBSan, in builds made here, it measures
#   exec   executions per second of every fuzz target over its seed corpus, and of fuzz_empty
#          (bench/empty_target.c: a target that does nothing, linked the same way) from the same
#          seed files for the same time in the same run; reported as the ratio target / empty;
#   find   the time each deliberately broken variant (variants/) takes to be found by each target
#          bench/bug_targets.tsv lists for it: --seeds runs with engine seeds 1..N, each with a
#          budget, stopping at the first crash, which counts only if its first line names a
#          clause the variant's bug breaks (bug_targets.tsv: the clause or an "also") and the
#          reference passes the same input; the median over the seeds, a run that found
#          nothing counting as +infinity. Runs start from corpus/seeds/<target> WITHOUT its variant-* files (each of
#          those is a witness of one bug); a pair whose seeds already show the bug is reported as
#          found_by_seed, not fuzzed;
#   cov    coverage against the reference after a fixed number of executions (libFuzzer's final
#          cov/ft after -runs=N; AFL++'s edges_found after -E N), median over the seeds;
# each with the structure-aware mutator (fuzzers/custom_mutator.c, afl_mutator.c) on, off, or
# both (--mutator). Results: one JSON object per measurement in a JSONL file, and a Markdown
# summary next to it (also printed).
#
# usage: bench/fuzz_bench.sh [options]
#   --engines LIST        libfuzzer,afl (default: both)
#   --measure LIST        exec,find,cov (default: all three)
#   --targets LIST        fuzz targets to measure (default: every one of fuzzers/CMakeLists.txt)
#   --variants LIST       variants for "find" (default: every line of bench/bug_targets.tsv)
#   --mutator on|off|both structure-aware mutator for targets that take a program (default both;
#                         "off": libFuzzer with VMBSAVE_FUZZ_MUTATOR=off, AFL++
#                         without AFL_CUSTOM_MUTATOR_LIBRARY)
#   --exec-seconds N      length of each exec/s run (default 20; 1..3600)
#   --budget N            seconds per "find" run (default 60; 1..86400)
#   --seeds N             engine seeds 1..N per find/cov cell (default 3; 1..99)
#   --cov-runs N          executions per coverage run (default 20000; 1..100000000)
#   --jobs N              fuzz runs at once (default 2, at most the number of CPUs)
#   --build-root DIR      builds go to DIR/bench-libfuzzer and DIR/bench-afl (default build)
#   --no-build            use those builds as they are (they must hold every binary needed)
#   --no-dict             do not pass corpus/<target>.dict to the engines
#   --out FILE.jsonl      results (default DIR/fuzz-bench/<UTC time>-<commit>.jsonl); the
#                         summary goes to FILE.md, findings and failed runs' logs to FILE.d/
#   --dry-run             print the plan and an upper bound of its time, run nothing
#   --keep-work           keep the scratch directory (logs of every run)
#   -h, --help            this text
# Exit status: 0 everything measured; 1 something could not be measured (a build that failed,
# an engine not installed, a run that failed or executed nothing: each is in the output, as an
# "error" record, and never as a measurement); 2 usage, or a configuration error found before
# any measurement.
set -uo pipefail

readonly SCHEMA=1
readonly AFL_ENV=(AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
                  AFL_NO_AFFINITY=1 AFL_NO_CRASH_README=1)
# Environment the benchmark sets itself: inherited values would change what is measured.
readonly CLEAN_ENV=(-u VMBSAVE_FUZZ_IMPL -u VMBSAVE_FUZZ_MUTATOR -u VMBSAVE_FUZZ_TARGET
                    -u AFL_CUSTOM_MUTATOR_LIBRARY -u AFL_CUSTOM_MUTATOR_ONLY -u AFL_PRELOAD
                    -u LD_PRELOAD -u AFL_BENCH_UNTIL_CRASH -u ASAN_OPTIONS -u UBSAN_OPTIONS
                    -u LSAN_OPTIONS)
# A run gets this many seconds past its own limit before it is killed and reported as an error.
readonly GRACE_SECONDS=120
# First line of a finding on a target's stderr: the harness's line, a sanitizer's or libFuzzer's
# report, or AFL++'s driver refusing to run.
readonly FINDING_RE='^vmbsave: |^==[0-9]+== ?ERROR: |: runtime error: |^\[-\] FATAL'

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prog=bench/fuzz_bench.sh

usage_error() {
    echo "$prog: $*" >&2
    echo "run '$prog --help' for usage" >&2
    exit 2
}

# ---- Options ---------------------------------------------------------------------------------
engines_arg=libfuzzer,afl measure_arg=exec,find,cov targets_arg="" variants_arg=""
mutator_arg=both exec_seconds=20 budget=60 seeds=3 cov_runs=20000 jobs=""
build_root=$repo/build do_build=1 use_dict=1 out="" dry_run=0 keep_work=0

while [ "$#" -gt 0 ]; do
    opt=$1 val="" has_val=0
    case "$opt" in
        --*=*) val=${opt#*=}; opt=${opt%%=*}; has_val=1 ;;
    esac
    case "$opt" in
        --engines | --measure | --targets | --variants | --mutator | --exec-seconds | --budget | \
        --seeds | --cov-runs | --jobs | --build-root | --out)
            if [ "$has_val" -eq 0 ]; then
                [ "$#" -ge 2 ] && [[ "$2" != --* ]] || usage_error "$opt needs a value"
                val=$2
                shift
            fi
            ;;
        --no-build | --no-dict | --dry-run | --keep-work | -h | --help)
            [ "$has_val" -eq 0 ] || usage_error "$opt takes no value"
            ;;
        *) usage_error "unknown argument: $1" ;;
    esac
    shift
    case "$opt" in
        --engines) engines_arg=$val ;;
        --measure) measure_arg=$val ;;
        --targets) targets_arg=$val ;;
        --variants) variants_arg=$val ;;
        --mutator) mutator_arg=$val ;;
        --exec-seconds) exec_seconds=$val ;;
        --budget) budget=$val ;;
        --seeds) seeds=$val ;;
        --cov-runs) cov_runs=$val ;;
        --jobs) jobs=$val ;;
        --build-root) build_root=$val ;;
        --out) out=$val ;;
        --no-build) do_build=0 ;;
        --no-dict) use_dict=0 ;;
        --dry-run) dry_run=1 ;;
        --keep-work) keep_work=1 ;;
        -h | --help)
            sed -n '2,/^set -uo pipefail/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
    esac
done

check_int() { # NAME VALUE MIN MAX
    if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "${#2}" -gt 10 ] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
        usage_error "$1 takes an integer in $3..$4, got '$2'"
    fi
}
ncpu=$(nproc 2>/dev/null || echo 1)
[ -n "$jobs" ] || jobs=$((ncpu < 2 ? ncpu : 2))
check_int --exec-seconds "$exec_seconds" 1 3600
check_int --budget "$budget" 1 86400
check_int --seeds "$seeds" 1 99
check_int --cov-runs "$cov_runs" 1 100000000
check_int --jobs "$jobs" 1 "$ncpu"

in_list() { # WORD LIST...: is WORD one of LIST?
    local w=$1
    shift
    while [ "$#" -gt 0 ]; do
        [ "$1" = "$w" ] && return 0
        shift
    done
    return 1
}
# split_list NAME LIST ALLOWED...: the comma-separated LIST into the array NAME, each word one
# of ALLOWED (no check if none given), without duplicates.
split_list() {
    local -n into=$1
    local list=$2 word words
    shift 2
    into=()
    [ -n "$list" ] || usage_error "an empty list"
    IFS=, read -r -a words <<<"$list"
    for word in "${words[@]}"; do
        [[ "$word" =~ ^[a-z0-9_]+$ ]] || usage_error "'$word' is not a name"
        if [ "$#" -gt 0 ] && ! in_list "$word" "$@"; then
            usage_error "'$word' is not one of: $*"
        fi
        in_list "$word" "${into[@]}" || into+=("$word")
    done
}
engines=() measures=() targets=() variants=()
split_list engines "$engines_arg" libfuzzer afl
split_list measures "$measure_arg" exec find cov
case "$mutator_arg" in
    on | off) arms_wanted=("$mutator_arg") ;;
    both) arms_wanted=(on off) ;;
    *) usage_error "--mutator takes on, off or both, got '$mutator_arg'" ;;
esac
wants() { in_list "$1" "${measures[@]}"; }

# ---- What there is to measure ------------------------------------------------------------------
# shellcheck source=../ci/lib/fuzz-files.sh
. "$repo/ci/lib/fuzz-files.sh" # vmbsave_fuzz_targets, vmbsave_libfuzzer_flags
mapfile -t all_targets < <(vmbsave_fuzz_targets "$repo")
[ "${#all_targets[@]}" -gt 0 ] ||
    usage_error "no set(VMBSAVE_FUZZ_TARGETS ...) in fuzzers/CMakeLists.txt"
# Targets whose input is not a program: no structure-aware mutator (fuzzers/CMakeLists.txt).
not_program=$(sed -n 's/^[[:space:]]*set(VMBSAVE_FUZZ_NOT_PROGRAM_TARGETS[[:space:]]*\([^)]*\))/\1/p' \
              "$repo/fuzzers/CMakeLists.txt")
if [ -n "$targets_arg" ]; then
    split_list targets "$targets_arg" "${all_targets[@]}"
else
    targets=("${all_targets[@]}")
fi
# shellcheck disable=SC2086 # the words of the list
takes_program() { ! in_list "$1" $not_program; }
# The mutator arms of a target: on/off as asked, or n/a when it takes no program.
arms_of() { if takes_program "$1"; then echo "${arms_wanted[@]}"; else echo n/a; fi; }

# bench/bug_targets.tsv, checked against variants/README.md (the clause of each variant).
declare -A tsv_clause=() tsv_also=() tsv_targets=()
tsv_order=()
while IFS=$'\t' read -r v clause also tlist why extra; do
    case "$v" in '' | '#'* | variant) continue ;; esac
    if [ -z "$why" ] || [ -n "${extra:-}" ] || ! [[ "$v" =~ ^[a-z0-9_]+$ ]]; then
        usage_error "bench/bug_targets.tsv: bad line for '$v' (5 tab-separated fields)"
    fi
    readme=$(grep -F "| \`$v\` |" "$repo/variants/README.md" | sed -n 's/.*| `\([A-Z0-9_.]*\)` |[[:space:]]*$/\1/p')
    [ "$readme" = "$clause" ] ||
        usage_error "bench/bug_targets.tsv: $v has clause $clause, variants/README.md says '${readme}'"
    [ "$also" = - ] && also=""
    for c in ${also//,/ }; do
        grep -qF -- "- \`$v\` also breaks \`$c\`" "$repo/variants/README.md" ||
            usage_error "bench/bug_targets.tsv: $v also breaks $c, which variants/README.md does not say"
    done
    tsv_clause[$v]=$clause tsv_also[$v]=${also//,/ } tsv_targets[$v]=$tlist
    tsv_order+=("$v")
done <"$repo/bench/bug_targets.tsv"
[ "${#tsv_order[@]}" -gt 0 ] || usage_error "bench/bug_targets.tsv lists no variant"
if [ -n "$variants_arg" ]; then
    split_list variants "$variants_arg" "${tsv_order[@]}"
else
    variants=("${tsv_order[@]}")
fi

# The (variant, target) pairs of "find": the listed targets that are measured here. A listed
# target the build does not have is reported, and its pairs count as not measured.
pairs=()
missing_targets=()
for v in "${variants[@]}"; do
    IFS=, read -r -a vts <<<"${tsv_targets[$v]}"
    for t in "${vts[@]}"; do
        if ! in_list "$t" "${all_targets[@]}"; then
            in_list "$t" "${missing_targets[@]}" || missing_targets+=("$t")
            continue
        fi
        in_list "$t" "${targets[@]}" && pairs+=("$v:$t")
    done
done

# ---- Plan ----------------------------------------------------------------------------------------
commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=false
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ] || dirty=true
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [ -z "$out" ]; then
    out=$build_root/fuzz-bench/$(date -u +%Y%m%dT%H%M%SZ)-${commit:0:12}.jsonl
fi
case "$out" in *.jsonl) ;; *) usage_error "--out must name a .jsonl file, got '$out'" ;; esac
summary=${out%.jsonl}.md
keep_dir=${out%.jsonl}.d

n_exec=0 n_find=0 n_cov=0
for t in "${targets[@]}"; do
    read -r -a arms <<<"$(arms_of "$t")"
    n_exec=$((n_exec + 1 + ${#arms[@]}))
    n_cov=$((n_cov + ${#arms[@]} * seeds))
done
for p in "${pairs[@]}"; do
    read -r -a arms <<<"$(arms_of "${p#*:}")"
    n_find=$((n_find + ${#arms[@]} * seeds))
done
wants exec || n_exec=0
wants find || n_find=0
wants cov || n_cov=0
n_eng=${#engines[@]}
bound=$(((n_exec * exec_seconds + n_find * budget) * n_eng))
plan() {
    echo "fuzz_bench: commit ${commit:0:12}$([ "$dirty" = true ] && echo ' (uncommitted changes)'), $started"
    echo "  engines: ${engines[*]}; targets: ${targets[*]}; mutator: ${arms_wanted[*]}; jobs: $jobs"
    echo "  exec: $((n_exec * n_eng)) runs of ${exec_seconds}s"
    echo "  find: ${#pairs[@]} (variant, target) pairs x arms x $seeds seeds x $n_eng engines =" \
         "$((n_find * n_eng)) runs of at most ${budget}s (fewer: pairs found by a seed are not fuzzed)"
    echo "  cov:  $((n_cov * n_eng)) runs of $cov_runs executions (time depends on the target's speed)"
    echo "  upper bound of exec + find: $bound s of fuzzing, $(( (bound + jobs - 1) / jobs )) s" \
         "(~$(( (bound + jobs - 1) / jobs / 60 )) min) of wall time with $jobs job(s), plus cov and builds"
    if [ "${#missing_targets[@]}" -gt 0 ]; then
        echo "  bench/bug_targets.tsv names targets this tree does not build: ${missing_targets[*]}"
    fi
}
plan
if [ "$dry_run" -eq 1 ]; then
    exit 0
fi

# ---- Tools -----------------------------------------------------------------------------------------
if ! command -v jq >/dev/null 2>&1; then
    # shellcheck source=../ci/lib/deps.sh
    . "$repo/ci/lib/deps.sh"
    vmbsave_install_cmds jq:jq || exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-bench.XXXXXX") || exit 2
mkdir -p "$work/rec" "$work/seeds" "$work/pairs" "$(dirname "$out")" "$keep_dir" || exit 2
cleanup() {
    if [ "$keep_work" -eq 1 ]; then
        echo "scratch directory kept: $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

base_json=$(jq -n -c --arg commit "$commit" --argjson dirty "$dirty" --arg started "$started" \
    --argjson nproc "$ncpu" --argjson schema "$SCHEMA" \
    '{bench: "fuzz", schema: $schema, commit: $commit, dirty: $dirty, run_started: $started,
      machine: {nproc: $nproc}}') || exit 2

# emit FILE FIELD...: appends one record to FILE. A FIELD is name:=string or name=JSON.
emit() {
    local file=$1 kv
    shift
    local args=()
    for kv in "$@"; do
        case "$kv" in
            *:=*) args+=(--arg "${kv%%:=*}" "${kv#*:=}") ;;
            *=*) args+=(--argjson "${kv%%=*}" "${kv#*=}") ;;
        esac
    done
    if ! jq -n -c --argjson base_ "$base_json" "${args[@]}" \
        '$base_ + ($ARGS.named | del(.base_)) + {date: (now | todate)}' >>"$file"; then
        # Never lose a result silently: a field that is not valid JSON becomes an error record.
        echo "$prog: internal error: cannot write the record $*" >&2
        jq -n -c --argjson base_ "$base_json" --arg r "internal error: cannot write the record $*" \
            '$base_ + {measure: "run", result: "error", reason: $r, date: (now | todate)}' >>"$file"
    fi
}
# Setup failures (builds, engines) are records too, so the output says what is missing.
setup_rec=$work/rec/000-setup.jsonl
: >"$setup_rec"
for t in "${missing_targets[@]}"; do
    emit "$setup_rec" measure:=time_to_find engine=null target:="$t" variant=null mutator:=n/a \
        result:=error reason:="bench/bug_targets.tsv lists $t, which fuzzers/CMakeLists.txt does not build"
done

# ---- Builds ------------------------------------------------------------------------------------------
declare -A build_dir=() engine_ok=() binary_ok=()
has_preset() { grep -q "\"name\": \"$1\"" "$repo/CMakePresets.json"; }

# configure ENGINE DIR LOG
configure() {
    local engine=$1 dir=$2 log=$3 preset=fuzz-$1
    local extra=(-DVMBSAVE_BUILD_BENCH=ON -DVMBSAVE_BUILD_TESTS=OFF)
    if has_preset "$preset"; then
        (cd "$repo" && cmake --preset "$preset" -B "$dir" "${extra[@]}") >"$log" 2>&1
    elif [ "$engine" = libfuzzer ]; then
        cmake -S "$repo" -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMBSAVE_SANITIZE=ON \
            -DLIB_FUZZING_ENGINE=-fsanitize=fuzzer "${extra[@]}" >"$log" 2>&1
    else
        cmake -S "$repo" -B "$dir" -DCMAKE_C_COMPILER=afl-clang-fast \
            -DCMAKE_CXX_COMPILER=afl-clang-fast++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DVMBSAVE_SANITIZE=ON -DLIB_FUZZING_ENGINE=/usr/lib/afl/libAFLDriver.a \
            "${extra[@]}" >"$log" 2>&1
    fi
}

# build_target ENGINE CMAKE_TARGET: records whether it built.
build_target() {
    local engine=$1 target=$2 log=$work/build-$1-$2.log
    # AFL++ compilers read the coverage ignorelist from the environment (fuzzers/CMakeLists.txt).
    if env AFL_LLVM_DENYLIST="$repo/fuzzers/coverage_ignorelist.txt" AFL_QUIET=1 \
        cmake --build "${build_dir[$engine]}" -j "$jobs" --target "$target" >"$log" 2>&1; then
        return 0
    fi
    cp "$log" "$keep_dir/"
    emit "$setup_rec" measure:=build engine:="$engine" target:="$target" result:=error \
        reason:="cmake --build failed: $(grep -m1 -E 'error|Error' "$log" | cut -c1-300)" \
        log:="$keep_dir/$(basename "$log")"
    echo "  $engine: $target did not build (log: $keep_dir/$(basename "$log"))" >&2
    return 1
}

# The binaries each engine needs: targets, fuzz_empty, variants, the AFL++ mutator library.
needed_variants=()
for p in "${pairs[@]}"; do
    v=${p%%:*}
    in_list "$v" "${needed_variants[@]}" || needed_variants+=("$v")
done
wants find || needed_variants=()

for engine in "${engines[@]}"; do
    dir=$build_root/bench-$engine
    build_dir[$engine]=$dir
    engine_ok[$engine]=1
    case "$engine" in
        libfuzzer) tools=(clang clang++) ;;
        afl) tools=(afl-fuzz afl-clang-fast afl-clang-fast++) ;;
    esac
    if [ "$do_build" -eq 1 ] && [ "$engine" = afl ] && ! command -v afl-fuzz >/dev/null 2>&1 &&
        [ "$(id -u)" -eq 0 ]; then
        . "$repo/ci/lib/deps.sh"
        vmbsave_install_cmds afl-fuzz:afl++ || true
    fi
    for tool in "${tools[@]}"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            engine_ok[$engine]=0
            emit "$setup_rec" measure:=build engine:="$engine" target=null result:=error \
                reason:="$tool is not installed (Debian: apt-get install $([ "$engine" = afl ] && echo afl++ || echo clang))"
            echo "  $engine: $tool is not installed: engine skipped" >&2
            break
        fi
    done
    [ "${engine_ok[$engine]}" -eq 1 ] || continue
    cmake_targets=()
    for t in "${targets[@]}"; do cmake_targets+=("fuzz_$t"); done
    wants exec && cmake_targets+=(fuzz_empty)
    for v in "${needed_variants[@]}"; do cmake_targets+=("vmbsave_variant_$v"); done
    [ "$engine" = afl ] && in_list on "${arms_wanted[@]}" &&
        cmake_targets+=(vmbsave_afl_mutator)
    if [ "$do_build" -eq 1 ]; then
        echo "building $engine in $dir"
        if ! configure "$engine" "$dir" "$work/configure-$engine.log"; then
            cp "$work/configure-$engine.log" "$keep_dir/"
            engine_ok[$engine]=0
            emit "$setup_rec" measure:=build engine:="$engine" target=null result:=error \
                reason:="cmake configure failed" log:="$keep_dir/configure-$engine.log"
            echo "  $engine: configure failed (log: $keep_dir/configure-$engine.log): engine skipped" >&2
            continue
        fi
        for ct in "${cmake_targets[@]}"; do
            build_target "$engine" "$ct" && binary_ok[$engine/$ct]=1
        done
    else
        for ct in "${cmake_targets[@]}"; do
            case "$ct" in
                fuzz_empty) f=$dir/bench/fuzz_empty ;;
                fuzz_*) f=$dir/fuzzers/$ct ;;
                vmbsave_variant_*) f=$dir/variants/lib$ct.so ;;
                vmbsave_afl_mutator) f=$dir/fuzzers/libvmbsave_afl_mutator.so ;;
            esac
            if [ -f "$f" ]; then
                binary_ok[$engine/$ct]=1
            else
                emit "$setup_rec" measure:=build engine:="$engine" target:="$ct" result:=error \
                    reason:="--no-build: $f does not exist"
                echo "  $engine: $f does not exist (--no-build)" >&2
            fi
        done
    fi
done
have() { [ "${engine_ok[$1]:-0}" -eq 1 ] && [ -n "${binary_ok[$1/$2]:-}" ]; }

# ---- Seeds and engine options --------------------------------------------------------------------------
# $work/seeds/<target>/all: corpus/seeds/<target>; .../plain: the same without variant-* files.
declare -A seed_note=()
for t in "${targets[@]}"; do
    src=$repo/corpus/seeds/$t note="corpus/seeds/$t"
    # differential takes the same input as save_session (fuzzers/input_layout.c) and has no
    # seed directory of its own yet.
    if [ ! -d "$src" ] && [ "$t" = differential ] && [ -d "$repo/corpus/seeds/save_session" ]; then
        src=$repo/corpus/seeds/save_session note="corpus/seeds/save_session (differential has none)"
    fi
    mkdir -p "$work/seeds/$t/all" "$work/seeds/$t/plain"
    for f in "$src"/*; do
        [ -f "$f" ] || continue
        cp "$f" "$work/seeds/$t/all/"
        case "$(basename "$f")" in variant-*) ;; *) cp "$f" "$work/seeds/$t/plain/" ;; esac
    done
    seed_note[$t]=$note
    if [ -z "$(ls -A "$work/seeds/$t/plain")" ]; then
        emit "$setup_rec" measure:=seeds engine=null target:="$t" result:=error \
            reason:="no seed inputs in $note (regenerate them: ci/make_seeds.sh)"
        echo "  $t: no seeds in $note: not measured" >&2
        seed_note[$t]=""
    fi
done

# libfuzzer_flags TARGET: the [libfuzzer] options of corpus/<target>.options, and its dictionary.
libfuzzer_flags() {
    local f=$repo/corpus/$1.options
    [ -f "$f" ] && vmbsave_libfuzzer_flags "$f"
    [ "$use_dict" -eq 1 ] && [ -f "$repo/corpus/$1.dict" ] && echo "-dict=$repo/corpus/$1.dict"
    return 0
}
# afl_flags TARGET: the same timeout (ms) and dictionary for afl-fuzz.
afl_flags() {
    local f=$repo/corpus/$1.options timeout=""
    [ -f "$f" ] && timeout=$(vmbsave_libfuzzer_option "$f" timeout)
    [[ "$timeout" =~ ^[0-9]+$ ]] || timeout=10
    echo "-t"
    echo "$((timeout * 1000))"
    if [ "$use_dict" -eq 1 ] && [ -f "$repo/corpus/$1.dict" ]; then
        echo "-x"
        echo "$repo/corpus/$1.dict"
    fi
}

binary_of() { # ENGINE TARGET
    if [ "$2" = empty ]; then echo "${build_dir[$1]}/bench/fuzz_empty"; else echo "${build_dir[$1]}/fuzzers/fuzz_$2"; fi
}
variant_so() { echo "${build_dir[$1]}/variants/libvmbsave_variant_$2.so"; }

# libFuzzer with the hooks linked in (VMBSAVE_FUZZ_MUTATOR=ON)? Else its arms are n/a.
declare -A lf_hooks=()
lf_has_hooks() { # TARGET
    if [ -z "${lf_hooks[$1]:-}" ]; then
        mkdir -p "$work/probe"
        # Into a file first: grep -q stopping early would fail the pipeline (pipefail).
        env "${CLEAN_ENV[@]}" "$(binary_of libfuzzer "$1")" -runs=0 "$work/probe" \
            >"$work/probe.log" 2>&1 </dev/null
        if grep -q "found LLVMFuzzerCustomMutator" "$work/probe.log"; then
            lf_hooks[$1]=1
        else
            lf_hooks[$1]=0
        fi
    fi
    [ "${lf_hooks[$1]}" -eq 1 ]
}

# ---- Running one fuzzer ----------------------------------------------------------------------------------
# Prefixes each line with the time it was read (bash's EPOCHREALTIME), so the time of the
# finding's first line is known, not only when the process ended.
stamp_lines() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        printf '%s %s\n' "$EPOCHREALTIME" "$line"
    done
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
clause_of() { # FIRST_LINE: the clause of a "vmbsave: <CLAUSE> at step N" line, else empty
    sed -n 's/^vmbsave: \([^ ]*\) at step .*/\1/p' <<<"$1"
}
# shellcheck disable=SC2086 # the words of the list
breaks() { # VARIANT CLAUSE: is CLAUSE one the variant's bug breaks (its clause or an "also")?
    [ -n "$2" ] && in_list "$2" "${tsv_clause[$1]}" ${tsv_also[$1]}
}

# arm_env ENGINE TARGET ARM: the environment of an arm (both arms get the options file's flags,
# len_control included, so the mutator is the only difference).
arm_env() {
    case "$1/$3" in
        libfuzzer/on) echo VMBSAVE_FUZZ_MUTATOR=on ;;
        libfuzzer/off) echo VMBSAVE_FUZZ_MUTATOR=off ;;
        afl/on) echo AFL_CUSTOM_MUTATOR_LIBRARY="${build_dir[afl]}/fuzzers/libvmbsave_afl_mutator.so"
                echo VMBSAVE_FUZZ_TARGET="$2" ;;
    esac
}

# lf_run RUNDIR SECONDS_CAP [env NAME=V...] -- BINARY ARGS...: one libFuzzer run in RUNDIR
# (corpus/, artifacts/, log). Sets: r_rc r_wall r_execs r_first r_first_t r_artifact r_cov r_ft
# r_corp r_done r_loop_execs r_loop_seconds.
lf_run() {
    local rundir=$1 cap=$2
    shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local bin=$1
    shift
    mkdir -p "$rundir/corpus" "$rundir/artifacts"
    local t0 t1
    t0=$EPOCHREALTIME
    (cd "$rundir" && exec env "${CLEAN_ENV[@]}" "${envs[@]}" timeout --foreground -k 10 "$cap" "$bin" \
        -print_final_stats=1 -artifact_prefix="$rundir/artifacts/" "$@" \
        "$rundir/corpus" "$rundir/seeds") 2>&1 </dev/null | stamp_lines >"$rundir/log"
    r_rc=${PIPESTATUS[0]}
    t1=$EPOCHREALTIME
    r_wall=$(elapsed "$t0" "$t1")
    r_execs=$(sed -n 's/^[0-9.]* stat::number_of_executed_units: \([0-9]*\)$/\1/p' "$rundir/log" | tail -n1)
    local first
    # The first match: every stage reads all its input (grep -m1 stopping early fails the
    # pipeline under pipefail, SIGPIPE to cut).
    first=$(cut -d' ' -f2- "$rundir/log" | grep -nE "$FINDING_RE" | sed -n 1p || true)
    r_first="" r_first_t=""
    if [ -n "$first" ]; then
        r_first=${first#*:}
        r_first_t=$(elapsed "$t0" "$(sed -n "${first%%:*}p" "$rundir/log" | cut -d' ' -f1)")
    fi
    local a
    r_artifact=""
    for a in "$rundir"/artifacts/{crash,leak,timeout,oom}-*; do
        if [ -f "$a" ]; then r_artifact=$(basename "$a"); break; fi
    done
    local done_line
    done_line=$(grep -E '^[0-9.]+ #[0-9]+[[:space:]]+DONE ' "$rundir/log" | tail -n1)
    r_done=$([ -n "$done_line" ] && echo 1 || echo 0)
    # The fuzzing loop's own rate: from the INITED line (seeds loaded and run) to the DONE line,
    # so process start, seed loading and the exit's leak check are not counted.
    local inited
    inited=$(grep -m1 -E '^[0-9.]+ #[0-9]+[[:space:]]+INITED ' "$rundir/log")
    r_loop_execs="" r_loop_seconds=""
    if [ -n "$inited" ] && [ -n "$done_line" ]; then
        r_loop_execs=$(awk '{ a = substr($2, 2) } END { print a }' <<<"$done_line")
        r_loop_execs=$((r_loop_execs - $(awk '{ print substr($2, 2) }' <<<"$inited")))
        r_loop_seconds=$(elapsed "${inited%% *}" "${done_line%% *}")
    fi
    local last_cov
    last_cov=$(grep -E ' cov: [0-9]+' "$rundir/log" | tail -n1)
    r_cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last_cov")
    r_ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last_cov")
    r_corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last_cov")
}

# afl_run RUNDIR SECONDS_CAP [env NAME=V...] -- BINARY AFL-ARGS...: one afl-fuzz run (seeds/,
# out/, log). Sets: r_rc r_wall r_execs r_engine_eps r_edges r_total_edges r_crash r_crash_ms
# r_crash_execs r_abort.
afl_run() {
    local rundir=$1 cap=$2
    shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local bin=$1
    shift
    local t0 t1
    t0=$EPOCHREALTIME
    (cd "$rundir" && exec env "${CLEAN_ENV[@]}" "${AFL_ENV[@]}" "${envs[@]}" timeout --foreground -k 10 "$cap" \
        afl-fuzz -i "$rundir/seeds" -o "$rundir/out" "$@" -- "$bin") >"$rundir/log" 2>&1 </dev/null
    r_rc=$?
    t1=$EPOCHREALTIME
    r_wall=$(elapsed "$t0" "$t1")
    local stats=$rundir/out/default/fuzzer_stats
    stat_of() { [ -f "$stats" ] && sed -n "s/^$1 *: *\([0-9.]*\).*/\1/p" "$stats"; }
    r_execs=$(stat_of execs_done)
    r_engine_eps=$(stat_of execs_per_sec)
    r_edges=$(stat_of edges_found)
    r_total_edges=$(stat_of total_edges)
    local a
    r_crash="" # the first, id:000000: AFL_BENCH_UNTIL_CRASH stops there
    for a in "$rundir"/out/default/crashes/id:*; do
        if [ -f "$a" ]; then r_crash=$(basename "$a"); break; fi
    done
    r_crash_ms=$(sed -n 's/.*,time:\([0-9]*\).*/\1/p' <<<"$r_crash")
    r_crash_execs=$(sed -n 's/.*,execs:\([0-9]*\).*/\1/p' <<<"$r_crash")
    r_abort=$(sed 's/\x1b\[[0-9;]*m//g' "$rundir/log" | grep -E 'PROGRAM ABORT|^\[-\] ' | sed -n 1p | cut -c1-300 || true)
}

# replay ENGINE TARGET VARIANT FILE LOG: runs one input once (the engine's own binary; AFL++'s
# driver needs the variant preloaded, since an instrumented library loaded after its fork server
# starts is refused). Sets r_rc and r_first (the first finding line, empty if none).
replay() {
    local engine=$1 target=$2 variant=$3 file=$4 log=$5
    local envs=() preload=()
    if [ -n "$variant" ]; then
        envs+=(VMBSAVE_FUZZ_IMPL="$(variant_so "$engine" "$variant")")
        # Preloaded into the target only: timeout itself cannot load an instrumented library.
        [ "$engine" = afl ] && preload=(env LD_PRELOAD="$(variant_so "$engine" "$variant")")
    fi
    # In a subshell that is not replaced by the command (the "exit"), so bash's "Aborted" notice
    # for a target killed by its abort() goes to the log, after the target's own lines.
    (env "${CLEAN_ENV[@]}" "${envs[@]}" timeout --foreground -k 10 120 "${preload[@]}" \
        "$(binary_of "$engine" "$target")" "$file"; exit $?) >/dev/null 2>"$log" </dev/null
    r_rc=$?
    r_first=$(grep -m1 -E "$FINDING_RE" "$log" || true)
    if [ -z "$r_first" ] && [ "$r_rc" -ne 0 ]; then
        r_first="exit status $r_rc: $(grep -v '^INFO:' "$log" | tail -n1)"
    fi
    r_first=${r_first:0:300}
}

num() { [[ "${1:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]] && echo "$1" || echo null; }
keep_log() { # RUNDIR NAME: keeps a failed run's log in the output directory (NAME has no '/')
    cp "$1/log" "$keep_dir/$2.log" 2>/dev/null && echo "$keep_dir/$2.log"
}

# ---- Jobs ---------------------------------------------------------------------------------------------------
# Each job writes its records to $work/rec/<job number>.jsonl; the output is their
# concatenation in job order, whatever order the jobs finished in.

# job_exec N ENGINE TARGET ARM: exec/s of TARGET (or "empty" for fuzz_empty, ARM n/a) over
# TARGET's seeds (all of them, variant-* included: every one passes against the reference).
job_exec() {
    local n=$1 engine=$2 target=$3 arm=$4 of=${5:-}
    local rec=$work/rec/$n.jsonl rundir=$work/run/$n bin
    local compared=${of:-$target}
    bin=$(binary_of "$engine" "$target")
    mkdir -p "$rundir"
    cp -r "$work/seeds/$compared/all" "$rundir/seeds"
    local envs flags
    mapfile -t envs < <(arm_env "$engine" "$compared" "$arm")
    local fields=(measure:=exec_per_sec engine:="$engine" target:="$target" variant=null seed=1
                  mutator:="$arm" seconds_asked="$exec_seconds"
                  seeds:="${seed_note[$compared]} ($(ls "$rundir/seeds" | wc -l) files)")
    [ "$target" = empty ] && fields+=(compared_with:="$compared")
    if [ "$engine" = libfuzzer ]; then
        mapfile -t flags < <(libfuzzer_flags "$compared")
        lf_run "$rundir" $((exec_seconds + GRACE_SECONDS)) "${envs[@]}" -- "$bin" -seed=1 \
            -max_total_time="$exec_seconds" "${flags[@]}"
        if [ -n "$r_artifact" ] || ! [[ "${r_loop_execs:-}" =~ ^[1-9][0-9]*$ ]] ||
            [ "$(awk -v s="${r_loop_seconds:-0}" 'BEGIN { print (s > 0) }')" -ne 1 ]; then
            emit "$rec" "${fields[@]}" result:=error \
                reason:="no measurement: exit status $r_rc, executions '${r_loop_execs:-none}' between INITED and DONE, finding '${r_first:-none}'" \
                log:="$(keep_log "$rundir" "exec-$engine-$target-${arm/\//}-$compared")"
        else
            emit "$rec" "${fields[@]}" result:=measured seconds="$r_loop_seconds" \
                timing:="libFuzzer's INITED line to its DONE line" \
                execs="$r_loop_execs" wall_seconds="$r_wall" total_execs="$(num "$r_execs")" \
                exec_per_sec="$(awk -v e="$r_loop_execs" -v s="$r_loop_seconds" 'BEGIN { printf "%.1f", e / s }')"
        fi
    else
        mapfile -t flags < <(afl_flags "$compared")
        afl_run "$rundir" $((exec_seconds + GRACE_SECONDS)) "${envs[@]}" -- "$bin" -s 1 \
            -V "$exec_seconds" "${flags[@]}"
        if [ -n "$r_crash" ] || ! [[ "${r_execs:-}" =~ ^[1-9][0-9]*$ ]]; then
            emit "$rec" "${fields[@]}" result:=error \
                reason:="no measurement: exit status $r_rc, executions '${r_execs:-none}', crash '${r_crash:-none}', ${r_abort:-no abort message}" \
                log:="$(keep_log "$rundir" "exec-$engine-$target-${arm/\//}-$compared")"
        else
            emit "$rec" "${fields[@]}" result:=measured seconds="$r_wall" execs="$r_execs" \
                timing:="afl-fuzz's wall clock, start to exit (execs_done of fuzzer_stats)" \
                exec_per_sec="$(awk -v e="$r_execs" -v s="$r_wall" 'BEGIN { printf "%.1f", e / s }')" \
                engine_exec_per_sec="$(num "$r_engine_eps")"
        fi
    fi
    rm -rf "$rundir"
}

# job_cov N ENGINE TARGET ARM SEED: coverage against the reference after cov_runs executions,
# from the seeds without variant-* (so what the mutator adds is not hidden by the witnesses).
job_cov() {
    local n=$1 engine=$2 target=$3 arm=$4 seed=$5
    local rec=$work/rec/$n.jsonl rundir=$work/run/$n bin
    bin=$(binary_of "$engine" "$target")
    mkdir -p "$rundir"
    cp -r "$work/seeds/$target/plain" "$rundir/seeds"
    local envs flags
    mapfile -t envs < <(arm_env "$engine" "$target" "$arm")
    local fields=(measure:=coverage engine:="$engine" target:="$target" variant=null seed="$seed"
                  mutator:="$arm" runs="$cov_runs"
                  seeds:="${seed_note[$target]} without variant-* ($(ls "$rundir/seeds" | wc -l) files)")
    # A fixed number of executions, not a time: the cap allows 5 executions a second (the
    # slowest target with the mutator on makes about 50 on a loaded 2-CPU machine).
    local cap=$((cov_runs / 5 + GRACE_SECONDS))
    if [ "$engine" = libfuzzer ]; then
        mapfile -t flags < <(libfuzzer_flags "$target")
        lf_run "$rundir" "$cap" "${envs[@]}" -- "$bin" -seed="$seed" -runs="$cov_runs" "${flags[@]}"
        if [ -n "$r_artifact" ] || [ "$r_done" -ne 1 ] || [ -z "$r_cov" ]; then
            emit "$rec" "${fields[@]}" result:=error \
                reason:="no measurement: exit status $r_rc, DONE line $([ "$r_done" -eq 1 ] && echo seen || echo missing), finding against the reference '${r_first:-none}'" \
                log:="$(keep_log "$rundir" "cov-$engine-$target-${arm/\//}-s$seed")"
        else
            emit "$rec" "${fields[@]}" result:=measured seconds="$r_wall" execs="$(num "$r_execs")" \
                cov="$r_cov" ft="$(num "$r_ft")" corpus="$(num "$r_corp")"
        fi
    else
        mapfile -t flags < <(afl_flags "$target")
        afl_run "$rundir" "$cap" "${envs[@]}" -- "$bin" -s "$seed" -E "$cov_runs" "${flags[@]}"
        if [ -n "$r_crash" ] || ! [[ "${r_execs:-}" =~ ^[1-9][0-9]*$ ]] || [ -z "$r_edges" ]; then
            emit "$rec" "${fields[@]}" result:=error \
                reason:="no measurement: exit status $r_rc, executions '${r_execs:-none}', crash against the reference '${r_crash:-none}', ${r_abort:-no abort message}" \
                log:="$(keep_log "$rundir" "cov-$engine-$target-${arm/\//}-s$seed")"
        else
            emit "$rec" "${fields[@]}" result:=measured seconds="$r_wall" execs="$r_execs" \
                edges_found="$r_edges" total_edges="$(num "$r_total_edges")"
        fi
    fi
    rm -rf "$rundir"
}

# job_seedcheck N ENGINE VARIANT TARGET: replays the seeds (without variant-*) against the
# variant one by one. A seed that fails under a clause the bug breaks makes the pair
# found_by_seed; a seed that fails otherwise is left out of the pair's fuzzing seeds (an engine stops on it at once).
# Writes $work/pairs/<engine>-<variant>-<target>/{status,seeds/}.
job_seedcheck() {
    local n=$1 engine=$2 variant=$3 target=$4
    local rec=$work/rec/$n.jsonl pd=$work/pairs/$engine-$variant-$target
    local clause=${tsv_clause[$variant]} f excluded=() witness="" witness_line=""
    mkdir -p "$pd/seeds"
    for f in "$work/seeds/$target/plain"/*; do
        replay "$engine" "$target" "$variant" "$f" "$pd/replay.log"
        if [ -z "$r_first" ]; then
            cp "$f" "$pd/seeds/"
        elif breaks "$variant" "$(clause_of "$r_first")"; then
            witness=$(basename "$f") witness_line=$r_first
            break
        elif ! grep -qE "$FINDING_RE" "$pd/replay.log"; then
            # Not a finding: the target could not run the input at all.
            emit "$rec" measure:=time_to_find engine:="$engine" target:="$target" \
                variant:="$variant" clause:="$clause" seed=null mutator:=n/a result:=error \
                reason:="the target could not run seed $(basename "$f"): $r_first"
            echo error >"$pd/status"
            return
        else
            excluded+=("$(basename "$f"): $r_first")
        fi
    done
    local excl_json
    excl_json=$(printf '%s\n' "${excluded[@]}" | jq -R -s -c 'split("\n") | map(select(. != ""))')
    if [ -n "$witness" ]; then
        emit "$rec" measure:=time_to_find engine:="$engine" target:="$target" variant:="$variant" \
            clause:="$clause" seed=null budget_s=null mutator:=n/a result:=found_by_seed seconds=0 \
            clause_found:="$(clause_of "$witness_line")" first_line:="$witness_line" \
            witness_seed:="$witness" \
            seeds:="${seed_note[$target]} without variant-*"
        echo found_by_seed >"$pd/status"
    elif [ -z "$(ls -A "$pd/seeds")" ]; then
        emit "$rec" measure:=time_to_find engine:="$engine" target:="$target" variant:="$variant" \
            clause:="$clause" seed=null mutator:=n/a result:=error \
            reason:="every seed fails against the variant under another clause" \
            seeds_excluded="$excl_json"
        echo error >"$pd/status"
    else
        echo "$excl_json" >"$pd/excluded.json"
        echo fuzz >"$pd/status"
    fi
}

# job_find N ENGINE VARIANT TARGET ARM SEED: fuzz TARGET against VARIANT until its first crash or
# the budget, from the pair's seeds.
job_find() {
    local n=$1 engine=$2 variant=$3 target=$4 arm=$5 seed=$6
    local rec=$work/rec/$n.jsonl rundir=$work/run/$n pd=$work/pairs/$engine-$variant-$target
    local clause=${tsv_clause[$variant]} bin so
    bin=$(binary_of "$engine" "$target")
    so=$(variant_so "$engine" "$variant")
    mkdir -p "$rundir"
    cp -r "$pd/seeds" "$rundir/seeds"
    local envs flags
    mapfile -t envs < <(arm_env "$engine" "$target" "$arm")
    envs+=(VMBSAVE_FUZZ_IMPL="$so")
    local fields=(measure:=time_to_find engine:="$engine" target:="$target" variant:="$variant"
                  clause:="$clause" seed="$seed" budget_s="$budget" mutator:="$arm"
                  seeds:="${seed_note[$target]} without variant-* ($(ls "$rundir/seeds" | wc -l) files)"
                  seeds_excluded="$(cat "$pd/excluded.json")")
    local name=find-$engine-$variant-$target-${arm/\//}-s$seed
    local found_t="" found_execs="" total_execs="" first="" art="" failed=""
    if [ "$engine" = libfuzzer ]; then
        mapfile -t flags < <(libfuzzer_flags "$target")
        lf_run "$rundir" $((budget + GRACE_SECONDS)) "${envs[@]}" -- "$bin" -seed="$seed" \
            -max_total_time="$budget" "${flags[@]}"
        total_execs=$r_execs first=$r_first
        if [ -n "$r_artifact" ]; then
            found_t=${r_first_t:-$r_wall} found_execs=$r_execs art=$rundir/artifacts/$r_artifact
        elif [ "$r_done" -ne 1 ] && ! grep -q ' Done [0-9]* runs in ' "$rundir/log"; then
            failed="the run ended without a finding or libFuzzer's end of run (exit status $r_rc)"
        fi
    else
        mapfile -t flags < <(afl_flags "$target")
        afl_run "$rundir" $((budget + GRACE_SECONDS)) "${envs[@]}" AFL_PRELOAD="$so" \
            AFL_BENCH_UNTIL_CRASH=1 -- "$bin" -s "$seed" -V "$budget" "${flags[@]}"
        total_execs=$r_execs
        if [ -n "$r_crash" ]; then
            art=$rundir/out/default/crashes/$r_crash
            found_execs=$r_crash_execs
            found_t=$([ -n "$r_crash_ms" ] && awk -v m="$r_crash_ms" 'BEGIN { printf "%.3f", m / 1000 }')
            replay "$engine" "$target" "$variant" "$art" "$rundir/replay.log"
            first=$r_first
            [ -n "$first" ] || first="(no finding when replayed: exit status $r_rc)"
        elif [ -n "$r_abort" ] || [ "$r_rc" -ne 0 ]; then
            failed="afl-fuzz failed (exit status $r_rc): ${r_abort:-see the log}"
        fi
    fi
    if [ -n "$failed" ] || { [ -z "$art" ] && ! [[ "${total_execs:-}" =~ ^[1-9][0-9]*$ ]]; }; then
        emit "$rec" "${fields[@]}" result:=error \
            reason:="${failed:-no measurement: the run executed nothing}" \
            log:="$(keep_log "$rundir" "$name")"
    elif [ -n "$art" ]; then
        local got result reference="" kept=$keep_dir/$name.input
        got=$(clause_of "$first")
        cp "$art" "$kept"
        result=other_clause
        if breaks "$variant" "$got"; then
            # A finding is the variant's only if the reference passes the same input.
            replay "$engine" "$target" "" "$kept" "$rundir/reference.log"
            reference=${r_first:-pass}
            if [ -z "$r_first" ]; then result=found; else result=reference_fails; fi
        fi
        emit "$rec" "${fields[@]}" result:="$result" \
            seconds="$(num "$found_t")" execs="$(num "$found_execs")" \
            clause_found:="${got:-none}" first_line:="${first:0:300}" input:="$kept" \
            reference:="${reference:-not run}" wall_seconds="$r_wall"
        [ "$result" = found ] || keep_log "$rundir" "$name" >/dev/null
    else
        emit "$rec" "${fields[@]}" result:=not_found seconds=null execs="$total_execs" \
            wall_seconds="$r_wall"
    fi
    rm -rf "$rundir"
}

# ---- Scheduler ------------------------------------------------------------------------------------------------
# Job control on: each job is its own process group, so an interrupt can stop a job's whole
# tree (subshell, timeout, fuzzer) by its id.
# (timeout runs with --foreground so that it stays in the job's group.)
set -m
interrupted=0
stopped_groups=()
on_interrupt() {
    interrupted=1
    local pid
    for pid in $(jobs -p); do
        stopped_groups+=("$pid")
        kill -TERM -- "-$pid" 2>/dev/null
    done
}
trap on_interrupt INT TERM
# After an interrupt: waits (at most 30 s) until no process of any job's group is left, so
# nothing writes into the scratch directory while it is removed.
wait_groups_gone() {
    local pgid tries
    for pgid in "${stopped_groups[@]}"; do
        for ((tries = 0; tries < 300; tries++)); do
            kill -0 -- "-$pgid" 2>/dev/null || continue 2
            sleep 0.1
        done
        kill -KILL -- "-$pgid" 2>/dev/null
    done
}

job_no=0
# run_phase NAME FILE: runs the jobs of FILE (one "function args..." a line), $jobs at once.
run_phase() {
    local name=$1 file=$2 total running=0 line
    total=$(wc -l <"$file")
    [ "$total" -gt 0 ] || return 0
    echo "$name: $total run(s)"
    while IFS= read -r line; do
        [ "$interrupted" -eq 0 ] || break
        while [ "$running" -ge "$jobs" ]; do
            wait -n 2>/dev/null
            running=$((running - 1))
        done
        # shellcheck disable=SC2086
        ( $line ) &
        running=$((running + 1))
    done <"$file"
    wait
}

add_job() { # FILE FUNCTION ARGS...
    local file=$1
    shift
    job_no=$((job_no + 1))
    printf '%s %s %s\n' "$1" "$(printf '%06d' "$job_no")" "${*:2}" >>"$file"
}

mkdir -p "$work/run"
# Phase 1: exec/s, each target next to its fuzz_empty (with 2 jobs they run side by side).
: >"$work/phase-exec"
if wants exec; then
    for engine in "${engines[@]}"; do
        for t in "${targets[@]}"; do
            [ -n "${seed_note[$t]}" ] && have "$engine" "fuzz_$t" || continue
            have "$engine" fuzz_empty && add_job "$work/phase-exec" job_exec "$engine" empty n/a "$t"
            for arm in $(arms_of "$t"); do
                if [ "$engine" = libfuzzer ] && [ "$arm" != n/a ] && ! lf_has_hooks "$t"; then
                    [ "$arm" = on ] || continue
                    arm=n/a # built without the mutator: one run, as it is
                fi
                add_job "$work/phase-exec" job_exec "$engine" "$t" "$arm"
            done
        done
    done
fi
run_phase "exec/s" "$work/phase-exec"

# Phase 2: coverage against the reference.
: >"$work/phase-cov"
if wants cov && [ "$interrupted" -eq 0 ]; then
    for engine in "${engines[@]}"; do
        for t in "${targets[@]}"; do
            [ -n "${seed_note[$t]}" ] && have "$engine" "fuzz_$t" || continue
            for arm in $(arms_of "$t"); do
                if [ "$engine" = libfuzzer ] && [ "$arm" != n/a ] && ! lf_has_hooks "$t"; then
                    [ "$arm" = on ] || continue
                    arm=n/a
                fi
                for ((s = 1; s <= seeds; s++)); do
                    add_job "$work/phase-cov" job_cov "$engine" "$t" "$arm" "$s"
                done
            done
        done
    done
fi
run_phase "coverage" "$work/phase-cov"

# Phases 3 and 4: time to find, after checking which pairs the seeds already find.
: >"$work/phase-seedcheck"
: >"$work/phase-find"
if wants find && [ "$interrupted" -eq 0 ]; then
    for engine in "${engines[@]}"; do
        for p in "${pairs[@]}"; do
            v=${p%%:*} t=${p#*:}
            [ -n "${seed_note[$t]}" ] && have "$engine" "fuzz_$t" && have "$engine" "vmbsave_variant_$v" ||
                continue
            add_job "$work/phase-seedcheck" job_seedcheck "$engine" "$v" "$t"
        done
    done
    run_phase "seed check" "$work/phase-seedcheck"
    for engine in "${engines[@]}"; do
        for p in "${pairs[@]}"; do
            v=${p%%:*} t=${p#*:}
            [ "$(cat "$work/pairs/$engine-$v-$t/status" 2>/dev/null)" = fuzz ] || continue
            for arm in $(arms_of "$t"); do
                if [ "$engine" = libfuzzer ] && [ "$arm" != n/a ] && ! lf_has_hooks "$t"; then
                    [ "$arm" = on ] || continue
                    arm=n/a
                fi
                if [ "$engine" = afl ] && [ "$arm" = on ] && ! have afl vmbsave_afl_mutator; then
                    continue # reported with the build
                fi
                for ((s = 1; s <= seeds; s++)); do
                    add_job "$work/phase-find" job_find "$engine" "$v" "$t" "$arm" "$s"
                done
            done
        done
    done
    [ "$interrupted" -eq 0 ] && run_phase "time to find" "$work/phase-find"
fi
set +m
[ "$interrupted" -eq 0 ] || wait_groups_gone

# ---- Results ------------------------------------------------------------------------------------------------------
# exec/s records get the ratio to their fuzz_empty run.
all=$work/all.jsonl
cat "$work"/rec/*.jsonl >"$all" 2>/dev/null || : >"$all"
jq -c -s '
    (map(select(.measure == "exec_per_sec" and .target == "empty" and .result == "measured")
         | {key: "\(.engine)/\(.compared_with)", value: .exec_per_sec}) | from_entries) as $empty
    | .[]
    | if .measure == "exec_per_sec" and .target != "empty" and .result == "measured" then
          . + {empty_exec_per_sec: $empty["\(.engine)/\(.target)"]}
          | .ratio = (if .empty_exec_per_sec then
                          (.exec_per_sec / .empty_exec_per_sec * 10000 | round / 10000)
                      else null end)
      else . end' "$all" >"$work/final.jsonl" || { echo "$prog: jq failed on the records" >&2; exit 1; }
if [ "$interrupted" -eq 1 ]; then
    emit "$work/final.jsonl" measure:=run result:=error reason:="interrupted: the results are partial"
fi

# The Markdown summary, from the records.
jq -r -s --arg budget "$budget" --arg seeds "$seeds" --arg exec_s "$exec_seconds" \
    --arg runs "$cov_runs" --arg interrupted "$interrupted" '
    def r1: . * 10 | round / 10;
    def median: sort | length as $n
        | if $n == 0 then null elif $n % 2 == 1 then .[($n - 1) / 2]
          else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;
    def cell($rs):
        if ($rs | map(select(.result == "found_by_seed")) | length) > 0 then "seed"
        elif ($rs | length) == 0 then "-"
        else ($rs | map(select(.result != "error"))) as $ok
            | ($rs | length - ($ok | length)) as $err
            | ($ok | map(select(.result == "found")) | length) as $k
            | ($ok | map(if .result == "found" then .seconds else infinite end) | median) as $m
            | ($ok | map(if .result == "found" then .execs // infinite else infinite end)
                   | median) as $x
            | (if ($ok | length) == 0 then "error"
               elif $m == infinite or $m == null then "not found"
               else "\($m | r1) s" + (if $x == infinite then "" else ", \($x | round) ex" end) end)
              + (if ($ok | length) > 0 then " (\($k)/\($ok | length))" else "" end)
              + (if $err > 0 then ", \($err) error(s)" else "" end)
        end;
    . as $all
    | ($all | map(select(.commit)) | first // {}) as $h
    | "## Fuzzing benchmark",
      "",
      "Commit `\($h.commit // "?")`\(if $h.dirty then " (with uncommitted changes)" else "" end), started \($h.run_started // "?"), \($h.machine.nproc // "?") CPU(s).\(if $interrupted == "1" then " **Interrupted: partial results.**" else "" end)",
      "",
      ( $all | map(select(.measure == "exec_per_sec" and .target != "empty")) as $ex
        | if ($ex | length) == 0 then empty else
          "### Executions per second (\($exec_s) s each, engine seed 1, from all of the target'"'"'s seeds)",
          "",
          "ratio = target exec/s / fuzz_empty exec/s (same engine, build, seeds and time, same run).",
          "",
          "| engine | target | mutator | target exec/s | empty exec/s | ratio |",
          "|---|---|---|---:|---:|---:|",
          ($ex[] | "| \(.engine) | \(.target) | \(.mutator) | \(if .result == "measured" then (.exec_per_sec | round) else "error" end) | \(.empty_exec_per_sec // "-" | if type == "number" then round else . end) | \(.ratio // "-") |"),
          "" end ),
      ( $all | map(select(.measure == "time_to_find")) as $tf
        | if ($tf | length) == 0 then empty else
          ($tf | map(select(.engine != null)) | map("\(.engine)/\(.mutator)") | unique
               | map(select(endswith("/n/a") | not))
               | sort_by([split("/")[0], (if endswith("/on") then 0 else 1 end)])) as $cols0
          | (if ($cols0 | length) == 0 then ($tf | map(select(.engine != null)) | map("\(.engine)/n/a") | unique) else $cols0 end) as $cols
          | "### Time to find each deliberate bug (median of \($seeds) engine seeds, \($budget) s budget each)",
            "",
            "From the target'"'"'s seeds without its variant-* files (each is a witness of one bug). A cell: median time to the first crash naming the variant'"'"'s clause and median executions until then (ex), not found counting as +infinity, then (runs that found it / runs). \"seed\": a seed input already shows the bug (no fuzzing needed). A crash counts when its first line names a clause the bug breaks (bench/bug_targets.tsv: the witness'"'"'s or an \"also\") and the reference passes the same input; any other crash counts as not found (its record says why).",
            "",
            "| variant | clause | target | \($cols | join(" | ")) |",
            "|---|---|---|\($cols | map("---:") | join("|"))|",
            ( $tf | map(select(.variant != null)) | group_by([.variant, .target])[]
              | . as $g
              | "| \($g[0].variant) | \($g[0].clause) | \($g[0].target) | \([$cols[] as $c
                    | ($c | split("/")) as [$e, $m]
                    | cell($g | map(select(.engine == $e and (.mutator == $m or .mutator == "n/a" or $m == "n/a"))))]
                  | join(" | ")) |" ),
            "",
            ( $tf | map(select((.result == "found" or .result == "found_by_seed") and .clause_found != .clause))
              | group_by([.variant, .target, .clause_found])[]
              | "Found under \(.[0].clause_found), which the bug also breaks: \(.[0].variant) by \(.[0].target) (\(length) of the records: \(map(.engine) | unique | join(", ")))." ),
            "" end ),
      ( $all | map(select(.measure == "coverage")) as $cv
        | if ($cv | length) == 0 then empty else
          "### Coverage against the reference after \($runs) executions (median of \($seeds) engine seeds)",
          "",
          "libFuzzer: final cov (edges) and ft (features); AFL++: edges_found of total_edges. From the seeds without variant-*.",
          "",
          "| engine | target | mutator | cov / edges | ft | runs ok |",
          "|---|---|---|---:|---:|---:|",
          ( $cv | group_by([.engine, .target, .mutator])[]
            | map(select(.result == "measured")) as $ok
            | "| \(.[0].engine) | \(.[0].target) | \(.[0].mutator) | \($ok | map(.cov // .edges_found) | median // "error") | \($ok | map(.ft) | map(select(. != null)) | median // "-") | \($ok | length)/\(length) |" ),
          "" end ),
      ( $all | map(select(.result == "error")) as $errs
        | if ($errs | length) == 0 then empty else
          "### Not measured",
          "",
          ($errs[] | "- \(.measure) \(.engine // "") \(.target // "") \(.variant // "") \(.mutator // "") seed \(.seed // "-"): \(.reason)\(if .log then " (log: \(.log))" else "" end)"),
          "" end )
    ' "$work/final.jsonl" >"$work/summary.md" || { echo "$prog: jq failed on the summary" >&2; exit 1; }

# Both files whole or not at all: temp file next to the destination, then rename.
cp "$work/final.jsonl" "$out.tmp" && mv "$out.tmp" "$out" || { echo "$prog: cannot write $out" >&2; exit 1; }
cp "$work/summary.md" "$summary.tmp" && mv "$summary.tmp" "$summary" ||
    { echo "$prog: cannot write $summary" >&2; exit 1; }
rmdir "$keep_dir" 2>/dev/null # only if nothing was kept

echo
cat "$summary"
echo "records: $out; summary: $summary$([ -d "$keep_dir" ] && echo "; inputs and logs: $keep_dir")"
errors=$(jq -s 'map(select(.result == "error")) | length' "$work/final.jsonl")
if [ "$errors" -gt 0 ] || [ "$interrupted" -eq 1 ]; then
    echo "$prog: $errors measurement(s) could not be made (see \"Not measured\")" >&2
    exit 1
fi
exit 0
