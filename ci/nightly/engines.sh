# shellcheck shell=bash disable=SC2154 # repo, impl: set by ci/main.sh
# Sourced by ci/main.sh (after procs.sh and ci/lib/fuzz-files.sh): both engines on one target,
# in parallel, for one slot of the budget, with a stats.csv row per engine every few seconds.
#
# Split of a slot's J cores (--jobs): libFuzzer gets L = max(1, J/2) workers (-fork=L); AFL++
# gets A = max(2, J - L) instances in one sync directory: a main (-M main), a secondary with
# CMPLOG (-S cmplog -c <fuzz-afl-cmplog build>), the rest plain secondaries. On 2 cores that is
# three fuzzing processes sharing two cores: AFL++'s CMPLOG instance always runs.

NIGHTLY_SAMPLE_SECONDS=5
NIGHTLY_GRACE_SECONDS=30

# nightly_lf_status LOG: the last libFuzzer status line's numbers as "EXECS EXEC_PER_S EDGES
# CORPUS" (fork mode: "#N: cov: E ft: F corp: C exec/s X ..."; plain: "#N ... cov: E ft: F
# corp: C/S ... exec/s: X ..."); "0 0 0 0" before the first.
nightly_lf_status() {
    local line
    line=$(grep -a -E '^#[0-9]+' "$1" 2>/dev/null | tail -n 1)
    awk -v l="$line" 'BEGIN {
        e = 0; x = 0; c = 0; k = 0
        if (match(l, /^#[0-9]+/)) e = substr(l, 2, RLENGTH - 1)
        if (match(l, /cov: [0-9]+/)) c = substr(l, RSTART + 5, RLENGTH - 5)
        if (match(l, /corp: [0-9]+/)) k = substr(l, RSTART + 6, RLENGTH - 6)
        if (match(l, /exec\/s:? [0-9]+/)) { s = substr(l, RSTART, RLENGTH); sub(/[^0-9]*/, "", s); x = s }
        print e + 0, x + 0, c + 0, k + 0
    }'
}

# nightly_afl_status SYNC_DIR: the instances' fuzzer_stats summed (executions, exec/s) or at
# their largest (edges, corpus), as "EXECS EXEC_PER_S EDGES CORPUS".
# afl-fuzz (4.x) writes fuzzer_stats once after its dry run, then once a minute
# (STATS_UPDATE_SEC) and at exit. The first write's execs_per_sec divides the calibration runs
# by the milliseconds since start: hundreds of thousands per second, held for the whole of a
# slot under a minute. So an instance's rate counts only from a write made at least
# NIGHTLY_AFL_MIN_RUN_SECONDS into its run (run_time); before that it adds its executions only.
# fuzzer_stats is rewritten in place (truncated, then written): a copy missing its last line
# (command_line) is half-written, and the instance's last whole copy (SYNC_DIR.stats/) is used.
NIGHTLY_AFL_MIN_RUN_SECONDS=5
nightly_afl_status() {
    local f name files=() cache=$1.stats
    for f in "$1"/*/fuzzer_stats; do
        [ -f "$f" ] || continue
        name=${f%/fuzzer_stats}
        name=${name##*/}
        mkdir -p "$cache"
        if grep -q '^command_line' "$f" 2>/dev/null; then
            cp "$f" "$cache/$name.tmp" && grep -q '^command_line' "$cache/$name.tmp" &&
                mv "$cache/$name.tmp" "$cache/$name"
        fi
        [ -f "$cache/$name" ] && files+=("$cache/$name")
    done
    [ "${#files[@]}" -gt 0 ] || { echo "0 0 0 0"; return; }
    awk -F' *: *' -v min="$NIGHTLY_AFL_MIN_RUN_SECONDS" '
        FNR == 1 { run = 0; eps = 0 }
        $1 == "run_time" { run = $2 }
        $1 == "execs_done" { e += $2 }
        $1 == "execs_per_sec" { eps = $2 }
        $1 == "edges_found" && $2 > c { c = $2 }
        $1 == "corpus_count" && $2 > k { k = $2 }
        $1 == "command_line" && run >= min { x += eps }
        END { printf "%d %d %d %d\n", e, x, c, k }' "${files[@]}"
}

# nightly_sample CSV TARGET WORK: one stats.csv row per engine (elapsed_s since the run began).
nightly_sample() {
    local csv=$1 target=$2 work=$3 s
    s=$(nightly_lf_status "$work/libfuzzer.log")
    echo "$SECONDS,$target,libfuzzer,${s// /,}" >>"$csv"
    s=$(nightly_afl_status "$work/afl")
    echo "$SECONDS,$target,afl,${s// /,}" >>"$csv"
}

# nightly_fuzz_target TARGET SECONDS JOBS WORK START_DIR CSV: runs both engines on TARGET from
# the inputs of START_DIR until SECONDS have passed (each engine stops itself; its group is
# killed NIGHTLY_GRACE_SECONDS later), then writes WORK/engines.json (the report's "engines"
# list, with each engine's cpu_seconds) and lists the engines that failed to start in
# WORK/broken (empty: none). Environment: impl (the plug-in, or empty), repo.
nightly_fuzz_target() {
    local target=$1 seconds=$2 jobs=$3 work=$4 start=$5 csv=$6
    local lf_workers=$((jobs / 2)) afl_n
    [ "$lf_workers" -ge 1 ] || lf_workers=1
    afl_n=$((jobs - lf_workers))
    [ "$afl_n" -ge 2 ] || afl_n=2
    local dict=$repo/corpus/$target.dict options=$repo/corpus/$target.options
    local before
    before=$(corpus_files "$start" | wc -l)
    : >"$work/broken"
    mkdir -p "$work/libfuzzer/corpus" "$work/libfuzzer/artifacts" "$work/afl"
    [ "$before" -eq 0 ] || cp "$start"/* "$work/libfuzzer/corpus/"

    # libFuzzer: fork mode, going on after crashes, timeouts and OOMs (each one an artifact),
    # leak detection on; it stops launching jobs a little before the slot ends, as a running
    # job finishes before it exits.
    local -a flags
    mapfile -t flags < <(vmbsave_libfuzzer_flags "$options")
    local lf_seconds=$((seconds - seconds / 10))
    [ "$lf_seconds" -ge 1 ] || lf_seconds=1
    local -a groups=()
    nightly_spawn "$work/libfuzzer.log" env VMBSAVE_FUZZ_IMPL="$impl" \
        ASAN_OPTIONS="detect_leaks=1:symbolize=1" \
        "$repo/ci/nightly/cpu-wrap.sh" "$work/libfuzzer.cpu" \
        "$repo/build/fuzz-libfuzzer/fuzzers/fuzz_$target" "${flags[@]}" -dict="$dict" \
        -fork="$lf_workers" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -detect_leaks=1 -max_total_time="$lf_seconds" -artifact_prefix="$work/libfuzzer/artifacts/" \
        -print_final_stats=1 "$work/libfuzzer/corpus"
    groups+=("$nightly_pid")
    local -A engine_of=([$nightly_pid]=libfuzzer)

    # AFL++: a main and secondaries in one sync directory, the structure-aware mutator on the
    # targets whose input is a program.
    local timeout_s
    timeout_s=$(vmbsave_libfuzzer_option "$options" timeout)
    local -a afl_env=(AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=1
        AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_IGNORE_UNKNOWN_ENVS=1 AFL_NO_CRASH_README=1
        VMBSAVE_FUZZ_IMPL="$impl"
        ASAN_OPTIONS="abort_on_error=1:symbolize=0:detect_leaks=0"
        UBSAN_OPTIONS="abort_on_error=1:symbolize=0:print_stacktrace=1")
    local -a not_program
    mapfile -t not_program < <(vmbsave_fuzz_cmake_list "$repo" VMBSAVE_FUZZ_NOT_PROGRAM_TARGETS)
    if ! vmbsave_one_of "$target" "${not_program[@]}"; then
        afl_env+=(AFL_CUSTOM_MUTATOR_LIBRARY="$repo/build/fuzz-afl/fuzzers/libvmbsave_afl_mutator.so"
            VMBSAVE_FUZZ_TARGET="$target")
    fi
    local i role
    if [ "$before" -gt 0 ]; then
        for ((i = 1; i <= afl_n; i++)); do
            local -a args=(-i "$start" -o "$work/afl" -x "$dict" -m none
                -t "$((${timeout_s:-10} * 1000))" -V "$seconds")
            if [ "$i" -eq 1 ]; then
                role=main
                args+=(-M main)
            elif [ "$i" -eq 2 ]; then
                role=cmplog
                args+=(-S cmplog -c "$repo/build/fuzz-afl-cmplog/fuzzers/fuzz_$target")
            else
                role=s$i
                args+=(-S "s$i")
            fi
            nightly_spawn "$work/afl-$role.log" env "${afl_env[@]}" \
                "$repo/ci/nightly/cpu-wrap.sh" "$work/afl-$role.cpu" \
                afl-fuzz "${args[@]}" -- "$repo/build/fuzz-afl/fuzzers/fuzz_$target"
            groups+=("$nightly_pid")
            engine_of[$nightly_pid]=afl-$role
        done
    else
        echo "no input to start from" >"$work/afl-skipped"
    fi

    # Wait for the engines, sampling; kill what runs past the slot and its grace.
    local t0=$SECONDS next=0 g alive lf_first=null afl_first=null
    while :; do
        # When each engine saved its first failing input (bench/nightly_first_finding.sh).
        if [ "$lf_first" = null ] && [ -n "$(nightly_artifacts "$work" | grep '^libfuzzer')" ]; then
            lf_first=$((SECONDS - t0))
        fi
        if [ "$afl_first" = null ] && [ -n "$(nightly_artifacts "$work" | grep '^afl')" ]; then
            afl_first=$((SECONDS - t0))
        fi
        alive=0
        for g in "${groups[@]}"; do kill -0 "$g" 2>/dev/null && alive=1; done
        if [ $((SECONDS - t0)) -ge "$next" ] || [ "$alive" -eq 0 ]; then
            nightly_sample "$csv" "$target" "$work"
            next=$((next + NIGHTLY_SAMPLE_SECONDS))
        fi
        [ "$alive" -eq 1 ] || break
        if [ $((SECONDS - t0)) -ge $((seconds + NIGHTLY_GRACE_SECONDS)) ]; then
            echo "fuzz: $target: an engine ran past its slot and its grace; it is interrupted" >&2
            break
        fi
        sleep 1
    done
    local wall=$((SECONDS - t0))
    # What still runs is interrupted first (SIGINT: libFuzzer and afl-fuzz stop cleanly and
    # cpu-wrap.sh still counts their CPU time), killed 10 s later.
    local -A stopped=()
    for g in "${groups[@]}"; do
        if kill -0 "$g" 2>/dev/null; then
            kill -INT -- "-$g" 2>/dev/null
            stopped[$g]=1
        fi
    done

    for _ in 1 2 3 4 5 6 7 8 9 10; do
        alive=0
        for g in "${groups[@]}"; do kill -0 "$g" 2>/dev/null && alive=1; done
        [ "$alive" -eq 1 ] || break
        sleep 1
    done
    # Still there: every process of the group but its leader (cpu-wrap.sh) is killed, so the
    # leader counts their CPU time before its group goes.
    for g in "${groups[@]}"; do
        kill -0 "$g" 2>/dev/null || continue
        local st line rest pgrp
        for st in /proc/[0-9]*/stat; do
            { read -r line <"$st"; } 2>/dev/null || continue
            rest=${line##*) }
            read -r _ _ pgrp _ <<<"$rest"
            [ "$pgrp" = "$g" ] && [ "${st//[^0-9]/}" != "$g" ] && kill -KILL "${st//[^0-9]/}" 2>/dev/null
        done
    done
    for _ in 1 2 3; do
        alive=0
        for g in "${groups[@]}"; do kill -0 "$g" 2>/dev/null && alive=1; done
        [ "$alive" -eq 1 ] || break
        sleep 1
    done
    local -A status_of=()
    for g in "${groups[@]}"; do
        local rc=0
        nightly_kill_group "$g"
        wait "$g" 2>/dev/null || rc=$?
        # Stopped here at the slot's end: it ran (137 is what the checks below expect).
        [ -z "${stopped[$g]:-}" ] || rc=137
        status_of[${engine_of[$g]}]=$rc
    done

    # An engine that did not start: one that stopped by itself (not killed here at the slot's
    # end: 137) with a failure and without a status line (libFuzzer) or fuzzer_stats (an AFL++
    # instance), or that could not load the plug-in. A slow start is no breakage (libFuzzer's
    # fork mode first merges the inputs, restarting after each that fails), nor an AFL++
    # instance refusing to start because every input fails.
    if grep -qa 'cannot open the implementation' "$work/libfuzzer.log" ||
        { [ "${status_of[libfuzzer]}" -ne 0 ] && [ "${status_of[libfuzzer]}" -ne 137 ] &&
            ! grep -qa -E '^#[0-9]+' "$work/libfuzzer.log"; }; then
        echo "libfuzzer (status ${status_of[libfuzzer]}; log $work/libfuzzer.log)" >>"$work/broken"
    fi
    local e
    for e in "${!status_of[@]}"; do
        [[ "$e" == afl-* ]] || continue
        local name=${e#afl-}
        if [ ! -f "$work/afl/$name/fuzzer_stats" ] && [ "${status_of[$e]}" -ne 137 ] &&
            ! grep -qa 'at least one valid input seed that does not crash' "$work/$e.log"; then
            echo "$e (status ${status_of[$e]}; log $work/$e.log)" >>"$work/broken"
        fi
    done

    # The report's engines list.
    local lf afl lf_cpu=0 afl_cpu=0 f
    read -r -a lf <<<"$(nightly_lf_status "$work/libfuzzer.log")"
    read -r -a afl <<<"$(nightly_afl_status "$work/afl")"
    [ -f "$work/libfuzzer.cpu" ] && lf_cpu=$(cat "$work/libfuzzer.cpu")
    for f in "$work"/afl-*.cpu; do
        [ -f "$f" ] && afl_cpu=$(awk -v a="$afl_cpu" -v b="$(cat "$f")" 'BEGIN { printf "%.3f", a + b }')
    done
    local lf_after afl_after lf_to lf_oom afl_to
    lf_after=$(corpus_files "$work/libfuzzer/corpus" | wc -l)
    afl_after=$(find "$work"/afl/*/queue -maxdepth 1 -type f -name 'id:*' 2>/dev/null | wc -l)
    lf_to=$(find "$work/libfuzzer/artifacts" -name 'timeout-*' | wc -l)
    lf_oom=$(find "$work/libfuzzer/artifacts" -name 'oom-*' | wc -l)
    afl_to=$(find "$work"/afl/*/hangs -maxdepth 1 -type f -name 'id:*' 2>/dev/null | wc -l)
    jq -n --argjson wall "$wall" --argjson before "$before" \
        --argjson lf "[${lf[0]},${lf[2]},${lf[3]}]" --argjson afl "[${afl[0]},${afl[2]},${afl[3]}]" \
        --argjson lf_after "$lf_after" --argjson afl_after "$afl_after" \
        --argjson lf_to "$lf_to" --argjson lf_oom "$lf_oom" --argjson afl_to "$afl_to" \
        --argjson lf_cpu "$lf_cpu" --argjson afl_cpu "$afl_cpu" \
        --argjson lf_workers "$lf_workers" --argjson afl_n "$afl_n" \
        --argjson lf_first "$lf_first" --argjson afl_first "$afl_first" \
        --argjson load "$(cut -d' ' -f1 /proc/loadavg)" '
        def rate(e): if $wall > 0 then ((e / $wall) * 10 | round) / 10 else 0 end;
        [ {engine: "libfuzzer", executions: $lf[0], exec_per_s: rate($lf[0]),
           corpus_before: $before, corpus_after: $lf_after, edges: $lf[1],
           timeouts: $lf_to, ooms: $lf_oom, processes: $lf_workers,
           cpu_seconds: $lf_cpu, wall_seconds: $wall, first_finding_s: $lf_first,
           load_average_1m: $load},
          {engine: "afl", executions: $afl[0], exec_per_s: rate($afl[0]),
           corpus_before: $before, corpus_after: $afl_after, edges: $afl[1],
           timeouts: $afl_to, ooms: 0, processes: $afl_n,
           cpu_seconds: $afl_cpu, wall_seconds: $wall, first_finding_s: $afl_first,
           load_average_1m: $load} ]' >"$work/engines.json"
}

# nightly_artifacts WORK: what the engines saved as failing, one "ENGINE<TAB>FILE" a line:
# libFuzzer's crash-, leak-, timeout- and oom- files, AFL++'s crashes/ and hangs/.
nightly_artifacts() {
    local f
    for f in "$1"/libfuzzer/artifacts/{crash,leak,timeout,oom}-*; do
        [ -f "$f" ] && printf 'libfuzzer\t%s\n' "$f"
    done
    for f in "$1"/afl/*/crashes/id:* "$1"/afl/*/hangs/id:*; do
        [ -f "$f" ] && printf 'afl\t%s\n' "$f"
    done
    return 0
}
