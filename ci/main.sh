#!/usr/bin/env bash
# The main job: the nightly pipeline. Unattended, within a time budget, it fuzzes every fuzz
# target with libFuzzer and AFL++ at once across the cores, starting from corpus/ and the stored
# corpus of the last run, keeps and improves that corpus (merged, minimized, replaced
# atomically), triages what failed (reproduced 3 times, deduplicated by signature, new or
# known, minimized, with a trace, a C reproducer and a one-line command), and leaves a report
# folder. Its pieces are ci/nightly/*.sh, one purpose each. README.md, "The main command".
set -uo pipefail

usage() {
    cat <<'TXT'
usage: ci/main.sh [options]
  --budget SECONDS   fuzzing time in all, wall clock (10..604800, default 180), split evenly
                     over the targets, one after the other; within a target's slot both
                     engines run at once on --jobs cores (ci/nightly/engines.sh: libFuzzer
                     -fork=max(1,J/2); AFL++ max(2,J-J/2) instances: -M main, -S cmplog with
                     -c, the rest -S). Builds, replay, merge, triage and the report come on top
                     and are reported as fixed costs
  --targets LIST     comma-separated fuzz targets (default: all of fuzzers/CMakeLists.txt)
  --impl LIB.so      fuzz this plug-in instead of the reference (the differential target
                     compares it with the reference); build it without a sanitizer or with
                     clang's ASan. A copy goes to OUT/impl/ for the reproduce commands
  --jobs N           cores to use (1..256, default: nproc)
  --corpus DIR       the stored corpus, read at the start and replaced atomically at the end
                     (default build/nightly/corpus; DIR/<target> links to DIR/.gen/...)
  --out DIR          the report folder (default build/nightly/out); emptied first, so it must
                     be absent, empty, or an earlier report folder (holding report.json)
  --previous DIR     an earlier run's report folder (repeatable, newest first): its findings
                     are known, its corpus (DIR/corpus/<target>) is an input, and the report
                     step draws the history from it
  --no-fuzz          replay seeds and regressions and triage them, no engine (a quick check)
  --certify          also run `vmbsave certify` without --impl (on the reference, a
                     self-check) or with --no-fuzz
  --no-certify       never run `vmbsave certify` (by default it runs when --impl is given and
                     the engines run: after the fuzzing, with min(budget/6, 30) seconds of
                     search, its report in OUT/certify/; ci/nightly/certify.sh)
  --keep-work        keep the work folder (OUT.work: engine logs, raw artifacts, corpora)
  --mutants N        also sample N mutants of reference/ (0..1000, default 0) and judge them
                     with the quick detection (ci/nightly/mutants.sh, ci/mutation.sh; the draw's
                     seed is the date, so nights differ): the harness's own mutation score, in
                     report.json's "mutation"; survivors are listed, not findings. Builds the
                     asan preset; each mutant takes from seconds to --timeout (900 s)
  -h, --help         this text
Old options: --fuzz-seconds N is --budget (N times the number of targets); --no-bench and
--bench-mib are gone (the benchmarks are bench/'s); the clause suite is ctest's
(ci/test.sh) or `vmbsave certify`'s.
Exit status: 0 clean (no new reliable finding); 1 a new reliable finding, or certify's verdict
"not conformant" with a failing clause that no --previous run's certify had failed; 2 the run
broke (usage, a build failure, an engine that did not start, certify incomplete). The last line
printed is the verdict; it names certify's failing clauses when certify was not certified.
TXT
}

die_usage() {
    echo "ci/main.sh: $*" >&2
    echo "ci/main.sh: VERDICT broken: usage (ci/main.sh --help)"
    exit 2
}

budget=180
targets_arg=""
impl=""
jobs=$(nproc 2>/dev/null || echo 2)
store=build/nightly/corpus
out=build/nightly/out
previous=()
run_fuzz=1
keep_work=0
mutants=0
certify_mode=auto
while [ $# -gt 0 ]; do
    case "$1" in
    --budget | --targets | --impl | --jobs | --corpus | --out | --previous | --fuzz-seconds | --mutants)
        [ $# -ge 2 ] || die_usage "$1 needs a value"
        case "$1" in
        --mutants) mutants=$2 ;;
        --budget) budget=$2 ;;
        --targets) targets_arg=$2 ;;
        --impl) impl=$2 ;;
        --jobs) jobs=$2 ;;
        --corpus) store=$2 ;;
        --out) out=$2 ;;
        --previous) previous+=("$2") ;;
        --fuzz-seconds) fuzz_seconds=$2 ;;
        esac
        shift 2
        ;;
    --no-fuzz) run_fuzz=0; shift ;;
    --certify) certify_mode=on; shift ;;
    --no-certify) certify_mode=off; shift ;;
    --keep-work) keep_work=1; shift ;;
    --no-bench | --bench-mib)
        die_usage "$1 is gone: the benchmarks are bench/'s (bench/README.md)" ;;
    -h | --help) usage; exit 0 ;;
    *) die_usage "unknown argument '$1' (see --help)" ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
repo=$(pwd)
# shellcheck source=ci/lib/fuzz-files.sh
. ci/lib/fuzz-files.sh
mapfile -t all_targets < <(vmbsave_fuzz_targets .)
targets=()
if [ -n "$targets_arg" ]; then
    IFS=, read -r -a wanted <<<"$targets_arg"
    for t in "${wanted[@]}"; do
        vmbsave_one_of "$t" "${all_targets[@]}" || die_usage "unknown target '$t' (one of: ${all_targets[*]})"
        vmbsave_one_of "$t" "${targets[@]}" || targets+=("$t")
    done
else
    targets=("${all_targets[@]}")
fi
[ "${#targets[@]}" -gt 0 ] || die_usage "no target"
if [ -n "${fuzz_seconds:-}" ]; then
    [[ "$fuzz_seconds" =~ ^[0-9]{1,6}$ ]] || die_usage "--fuzz-seconds takes a whole number"
    budget=$((fuzz_seconds * ${#targets[@]}))
fi
[[ "$budget" =~ ^[0-9]{1,6}$ ]] && [ "$budget" -ge 10 ] && [ "$budget" -le 604800 ] ||
    die_usage "--budget takes a whole number of seconds from 10 to 604800, got '$budget'"
[[ "$jobs" =~ ^[0-9]{1,3}$ ]] && [ "$jobs" -ge 1 ] && [ "$jobs" -le 256 ] ||
    die_usage "--jobs takes a whole number from 1 to 256, got '$jobs'"
[[ "$mutants" =~ ^[0-9]{1,4}$ ]] && [ "$mutants" -le 1000 ] ||
    die_usage "--mutants takes a whole number from 0 to 1000, got '$mutants'"
slot=$((budget / ${#targets[@]}))
run_certify=0
case "$certify_mode" in
on) run_certify=1 ;;
auto) [ -z "$impl" ] || [ "$run_fuzz" -eq 0 ] || run_certify=1 ;;
esac
[ "$run_fuzz" -eq 0 ] || [ "$slot" -ge 5 ] ||
    die_usage "--budget $budget gives each of ${#targets[@]} targets less than 5 seconds"
abs() { # PATH made absolute (its folder must exist)
    echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}
if [ -n "$impl" ]; then
    [ -f "$impl" ] || die_usage "--impl $impl: no such file"
    impl=$(abs "$impl")
fi
for p in "${previous[@]}"; do
    [ -f "$p/report.json" ] || die_usage "--previous $p: no report.json there"
done
mkdir -p "$(dirname "$out")" "$store" || die_usage "cannot make $out or $store"
out=$(abs "$out")
store=$(abs "$store")
for p in "${previous[@]}"; do
    [ "$(abs "$p")" != "$out" ] || die_usage "--previous $p is --out too: give the new run another folder"
done
# .vmbsave-nightly marks a report folder from its first moment: a killed run's is one too.
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$out/report.json" ] &&
    [ ! -f "$out/.vmbsave-nightly" ]; then
    die_usage "--out $out holds files but no report.json: not emptied (give an empty or new folder)"
fi
rm -rf "$out"
mkdir -p "$out/findings" "$out/logs"
: >"$out/.vmbsave-nightly"
# Paths in the reproduce commands: relative to the checkout when OUT is inside it.
case "$out" in "$repo"/*) out_ref=${out#"$repo"/} ;; *) out_ref=$out ;; esac
# The work folder sits next to OUT (one per OUT, so runs with different OUTs do not meet);
# a killed run's is deleted by the next run with the same OUT.
work=$out.work
rm -rf "$work"
mkdir -p "$work"
: >"$work/findings.jsonl"
: >"$work/allowed.jsonl"
: >"$work/targets.jsonl"

# ---- Processes: nothing outlives the run --------------------------------------------------------
. ci/nightly/procs.sh
. ci/nightly/corpus.sh
. ci/nightly/engines.sh
. ci/nightly/merge.sh
. ci/nightly/triage.sh
. ci/nightly/certify.sh
nightly_marker_init
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
section() { printf '\n==== %s ====\n' "$*"; }
finished=0
on_exit() {
    local rc=$?
    nightly_cleanup
    [ "$keep_work" -eq 1 ] || rm -rf "$work"
    if [ "$finished" -eq 0 ]; then
        echo "ci/main.sh: VERDICT broken: the run stopped early (status $rc)"
        exit 2
    fi
}
trap on_exit EXIT
trap 'echo "ci/main.sh: interrupted" >&2; exit 2' INT TERM HUP

declare -A cost=([build]=0 [replay]=0 [merge]=0 [triage]=0 [certify]=0 [coverage]=0 [mutation]=0 [report]=0)
impl_json=null

# write_report VERDICT EXIT_STATUS VERDICT_LINE: OUT/report.json (temp file, then rename).
write_report() {
    local util
    util=$(jq -n --argjson f "${fuzz_core_seconds:-0}" --argjson b "${budget_core_seconds:-0}" \
        --argjson w "$(((${fuzz_wall_ms:-0} * jobs + 500) / 1000))" \
        '{fuzz_core_seconds: $f, budget_core_seconds: $b, phase_core_seconds: $w,
          fraction: (if $w > 0 then (($f / $w) * 1000 | round) / 1000 else 0 end)}')
    local costs="{" k
    for k in "${!cost[@]}"; do costs+="\"$k\": ${cost[$k]},"; done
    costs="${costs%,}}"
    local coverage=${coverage_json:-null} certify=${certify_json:-null} mutation=${mutation_json:-null}
    jq -n --arg started "$started" --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        --argjson budget "$budget" --argjson cores "$jobs" --argjson impl "$impl_json" \
        --arg verdict "$1" --argjson status "$2" --arg line "$3" --argjson util "$util" \
        --argjson costs "$costs" --argjson coverage "$coverage" --argjson certify "$certify" \
        --argjson mutation "$mutation" \
        --slurpfile targets "$work/targets.jsonl" --slurpfile findings "$work/findings.jsonl" \
        --slurpfile allowed "$work/allowed.jsonl" \
        '{schema: "vmbsave-nightly/1", started: $started, finished: $finished,
          budget_seconds: $budget, cores: $cores, impl: $impl, verdict: $verdict,
          exit_status: $status, verdict_line: $line, utilisation: $util,
          fixed_costs_seconds: $costs, targets: $targets, findings: $findings,
          allowed_differences: $allowed, coverage: $coverage, certify: $certify,
          mutation: $mutation}' \
        >"$out/report.json.tmp" && mv "$out/report.json.tmp" "$out/report.json"
}

# finish VERDICT STATUS LINE: the report, the report step, the verdict line last; exits.
finish() {
    write_report "$1" "$2" "$3"
    if [ -x ci/nightly/report.sh ]; then
        section "report (ci/nightly/report.sh)"
        local t0=$SECONDS prev_args=() p
        for p in "${previous[@]}"; do prev_args+=(--previous "$p"); done
        ci/nightly/report.sh "$out" "${prev_args[@]}" || echo "ci/main.sh: the report step failed" >&2
        cost[report]=$((SECONDS - t0))
        write_report "$1" "$2" "$3"
    fi
    finished=1
    echo
    echo "$3"
    exit "$2"
}

broken() { # WHY
    finish broken 2 "ci/main.sh: VERDICT broken: $1 (report: $out/report.json)"
}

# ---- Dependencies and builds ------------------------------------------------------------------
section "dependencies"
t0=$SECONDS
# shellcheck source=ci/lib/deps.sh
(. ci/lib/deps.sh && vmbsave_install_deps) || broken "missing dependencies"
section "build (fuzz-libfuzzer, fuzz-afl, fuzz-afl-cmplog)"
ci/nightly/build.sh "$out/logs" "${targets[@]}" || { cost[build]=$((SECONDS - t0)); broken "a build failed (logs in $out/logs)"; }
if [ "$run_certify" -eq 1 ]; then
    nightly_certify_build "$out/logs" || { cost[build]=$((SECONDS - t0)); broken "the certify build failed (logs in $out/logs)"; }
fi
cost[build]=$((SECONDS - t0))
if [ -n "$impl" ]; then
    mkdir -p "$out/impl"
    cp "$impl" "$out/impl/"
    impl_json=$(jq -n --arg p "$impl" --arg s "$(sha256sum <"$impl" | cut -d' ' -f1)" '{path: $p, sha256: $s}')
    impl_ref=$out_ref/impl/$(basename "$impl")
fi
vmbsave_bin=$(triage_vmbsave)

# ---- Known signatures: the previous runs' findings and allowed differences ----------------------
: >"$work/known"
for p in "${previous[@]}"; do
    jq -r '(.findings[], .allowed_differences[]) | "\(.target)\t\(.signature)"' "$p/report.json" \
        >>"$work/known" 2>/dev/null || true
done

csv=$out/stats.csv
echo "elapsed_s,target,engine,executions,exec_per_s,edges,corpus" >"$csv"
fuzz_core_seconds=0
budget_core_seconds=0
fuzz_wall_ms=0
next_finding=1
next_allowed=1
corpus_tidy "$store"

# add_result TARGET ENGINE FILE KIND SIG CLAUSE METHOD: one triaged input (deduplicated by
# target, kind and signature: the smallest input of each stays) into WORK/triage.tsv.
add_result() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" \
        "$(stat -c %s "$3")" >>"$work/triage.tsv"
}

for target in "${targets[@]}"; do
    tw=$work/$target
    mkdir -p "$tw/replay" "$tw/start" "$out/logs/$target"
    : >"$work/triage.tsv"

    # ---- Seeds and regressions, replayed ------------------------------------------------------
    section "$target: replay of seeds and regressions"
    t0=$SECONDS
    mapfile -t seeds < <(corpus_files "corpus/seeds/$target")
    mapfile -t regressions < <(corpus_files "corpus/regressions/$target")
    corpus_add_files "$tw/replay" "${seeds[@]}" >/dev/null
    corpus_add_files "$tw/replay" "${regressions[@]}" >"$tw/regression-names"
    to=$(triage_timeout "$target")
    "$vmbsave_bin" run --target "$target" ${impl:+--impl "$impl"} --timeout "$to" "$tw/replay" \
        >"$tw/replay.log" 2>/dev/null
    [ -s "$tw/replay.log" ] || broken "vmbsave run did not replay $target's seeds ($vmbsave_bin)"
    failing=0
    while IFS= read -r f; do
        v=$(grep -F "$f: " "$tw/replay.log" | head -n 1)
        v=${v#"$f: "}
        if [[ "$v" == pass* ]]; then
            cp "$f" "$tw/start/"
        else
            failing=$((failing + 1))
            echo "$f" >>"$tw/replay-failing"
        fi
    done < <(corpus_files "$tw/replay")
    echo "$(corpus_files "$tw/replay" | wc -l) inputs replayed, $failing failing"
    replay_seconds=$((SECONDS - t0))
    cost[replay]=$((cost[replay] + replay_seconds))

    # The stored corpus and the previous runs' go in after the replay: engines skip an input
    # that crashes, and the merge drops it.
    # Both are merge outputs, named by content already: one cp each.
    for d in "$store/$target" "${previous[@]/%//corpus/$target}"; do
        [ -n "$(corpus_files "$d")" ] || continue
        find -L "$d" -maxdepth 1 -type f ! -name '.*' -exec cp -n -t "$tw/start" -- {} +
    done
    before=$(corpus_files "$tw/start" | wc -l)

    # ---- Fuzzing -------------------------------------------------------------------------------
    if [ "$run_fuzz" -eq 1 ]; then
        section "$target: libFuzzer and AFL++ for $slot s on $jobs cores (corpus: $before inputs)"
        fuzz_t0=$(date +%s%N)
        nightly_fuzz_target "$target" "$slot" "$jobs" "$tw" "$tw/start" "$csv"
        # Engines start and stop around their slot, so the phase outlasts it a little: the
        # utilisation is over the phase's wall time, the budget is recorded beside it.
        fuzz_wall_ms=$((fuzz_wall_ms + ($(date +%s%N) - fuzz_t0) / 1000000))
        cp "$tw"/*.log "$out/logs/$target/" 2>/dev/null
        if [ -s "$tw/broken" ]; then
            broken "an engine did not start on $target: $(paste -sd ';' "$tw/broken")"
        fi
        jq -r '.[] | "\(.engine): \(.executions) executions, \(.exec_per_s) exec/s, \(.edges) edges, corpus \(.corpus_before) -> \(.corpus_after), \(.cpu_seconds) CPU s"' "$tw/engines.json"
        cpu=$(jq '[.[].cpu_seconds] | add' "$tw/engines.json")
        fuzz_core_seconds=$(jq -n "$fuzz_core_seconds + $cpu")
        budget_core_seconds=$((budget_core_seconds + slot * jobs))
    else
        echo "[]" >"$tw/engines.json"
    fi

    # ---- Merge and minimize, replace the stored corpus ----------------------------------------
    section "$target: corpus merge"
    t0=$SECONDS
    gen=$(corpus_new_generation "$store" "$target")
    # In the background: a signal's trap runs at once, not when the merge is done.
    nightly_merge "$target" "$tw" "$gen" &
    wait $! || true
    after=$(corpus_files "$gen" | wc -l)
    if [ "${VMBSAVE_NIGHTLY_PAUSE_AT:-}" = merge ]; then
        # Test hook (HARNESS.NIGHTLY.KILL_MERGE): the new generation is written, the
        # old corpus not yet replaced. The test kills the run here.
        touch "$out/.paused-at-merge"
        sleep 600
    fi
    if [ "$after" -eq 0 ] && [ -n "$(corpus_files "$store/$target" 2>/dev/null)" ]; then
        echo "merge: $target: the merge kept no input; the stored corpus stays as it was" >&2
        rm -rf "$gen"
    else
        corpus_commit "$store" "$target" "$gen"
    fi
    mkdir -p "$out/corpus/$target"
    [ -d "$store/$target" ] && cp "$store/$target"/* "$out/corpus/$target/" 2>/dev/null
    echo "corpus: $before inputs at the start, $after after merge and minimization ($store/$target)"
    cost[merge]=$((cost[merge] + SECONDS - t0))
    jq -c --arg name "$target" --argjson before "$before" --argjson after "$after" \
        --argjson replayed "$(corpus_files "$tw/replay" | wc -l)" --argjson failing "$failing" \
        --argjson replay_s "$replay_seconds" \
        '{name: $name, corpus_before: $before, corpus_after: $after,
          replay: {inputs: $replayed, failing: $failing, seconds: $replay_s}, engines: .}' \
        "$tw/engines.json" >>"$work/targets.jsonl"

    # ---- Triage --------------------------------------------------------------------------------
    section "$target: triage"
    t0=$SECONDS
    : >"$tw/candidates"
    [ -f "$tw/replay-failing" ] && sed 's/^/replay\t/' "$tw/replay-failing" >>"$tw/candidates"
    nightly_artifacts "$tw" >>"$tw/candidates"
    # At most NIGHTLY_TRIAGE_MAX inputs per target are classified, the smallest first.
    NIGHTLY_TRIAGE_MAX=${NIGHTLY_TRIAGE_MAX:-40}
    total=$(wc -l <"$tw/candidates")
    while IFS=$'\t' read -r engine f; do
        name=${f##*/}
        hint=crash
        case "$name" in timeout-*) hint=timeout ;; oom-*) hint=oom ;; leak-*) hint=leak ;; esac
        [[ "$f" == */hangs/* ]] && hint=hang
        IFS=$'\t' read -r kind sig clause method < <(triage_classify "$target" "$f" "$hint")
        [ "$kind" = pass ] && continue
        add_result "$target" "$engine" "$f" "$kind" "$sig" "$clause" "$method"
    done < <(while IFS=$'\t' read -r e f; do printf '%s\t%s\t%s\n' "$(stat -c %s "$f")" "$e" "$f"; done <"$tw/candidates" |
        sort -n | head -n "$NIGHTLY_TRIAGE_MAX" | cut -f2-)
    [ "$total" -le "$NIGHTLY_TRIAGE_MAX" ] ||
        echo "triage: $total failing inputs, the $NIGHTLY_TRIAGE_MAX smallest classified"
    # Regressions that fail make their signature known.
    while IFS=$'\t' read -r t e f kind sig rest; do
        grep -qxF "${f##*/}" "$tw/regression-names" && printf '%s\t%s\n' "$t" "$sig" >>"$work/known"
    done <"$work/triage.tsv"
    # One finding per signature: the smallest input.
    sort -t$'\t' -k1,1 -k4,4 -k5,5 -k8,8n "$work/triage.tsv" | awk -F'\t' '!seen[$1 FS $4 FS $5]++' |
        while IFS=$'\t' read -r t engine f kind sig clause method _; do
            count=$(awk -F'\t' -v t="$t" -v k="$kind" -v s="$sig" '$1 == t && $4 == k && $5 == s' "$work/triage.tsv" | wc -l)
            n=$(triage_reproduce "$t" "$f" "$kind" "$sig" "$method")
            if [ "$kind" = differential ]; then
                id=A$next_allowed
                next_allowed=$((next_allowed + 1))
                mkdir -p "$out/allowed/$id"
                cp "$f" "$out/allowed/$id/input"
                fuzzer_flag=""
                [ "$method" = vmbsave ] || fuzzer_flag=" --fuzzer"
                cmd="ci/repro.sh $out_ref/allowed/$id/input --target $t${impl:+ --impl $impl_ref}$fuzzer_flag"
                jq -nc --arg t "$t" --arg s "$sig" --arg f "allowed/$id/input" --arg c "$cmd" \
                    --arg e "$engine" --argjson n "$count" \
                    '{target: $t, signature: $s, file: $f, engine: $e, inputs: $n, command: $c}' >>"$work/allowed.jsonl"
                echo "allowed difference $id: $t $sig (INFO, never a failure): $cmd"
                continue
            fi
            id=F$next_finding
            next_finding=$((next_finding + 1))
            d=$out/findings/$id
            mkdir -p "$d"
            cp "$f" "$d/input"
            status=new
            grep -qxF "$t"$'\t'"$sig" "$work/known" && status=known
            reliability=flaky
            [ "$n" -eq 3 ] && reliability=reliable
            minimized=null c_repro=null
            fuzzer_flag=""
            if [ "$method" = vmbsave ]; then
                args=(--target "$t" ${impl:+--impl "$impl"} --emit-c "$d/repro.c")
                [ "$t" = restore_raw ] || args+=(--minimize "$d/minimized")
                timeout -k 5 300 "$vmbsave_bin" repro "${args[@]}" "$d/input" >"$d/trace.txt" 2>&1
                [ -s "$d/minimized" ] && minimized="\"findings/$id/minimized\""
                [ -s "$d/repro.c" ] && c_repro="\"findings/$id/repro.c\""
            else
                fuzzer_flag=" --fuzzer"
                triage_run_fuzzer "$t" "$d/input" "$d/trace.txt" || true
            fi
            cmd="ci/repro.sh $out_ref/findings/$id/input --target $t${impl:+ --impl $impl_ref}$fuzzer_flag"
            jq -nc --arg id "$id" --arg t "$t" --arg e "$engine" --arg k "$kind" --arg s "$sig" \
                --arg c "$clause" --arg st "$status" --arg r "$reliability" --arg rep "$n/3" \
                --arg cmd "$cmd" --argjson min "$minimized" --argjson crepro "$c_repro" \
                --argjson inputs "$count" \
                '{id: $id, target: $t, engine: $e, kind: $k, signature: $s,
                  clause: (if $c == "-" then null else $c end), status: $st, reliability: $r,
                  reproduced: $rep, inputs: $inputs, file: "findings/\($id)/input",
                  minimized: $min, trace: "findings/\($id)/trace.txt", c_reproducer: $crepro,
                  command: $cmd}' >>"$work/findings.jsonl"
            echo "finding $id ($status, $reliability $n/3): $t $kind $sig"
            echo "  reproduce: $cmd"
        done
    # The counters advanced in the pipeline's subshell: recount from the files.
    next_finding=$(($(wc -l <"$work/findings.jsonl") + 1))
    next_allowed=$(($(wc -l <"$work/allowed.jsonl") + 1))
    cost[triage]=$((cost[triage] + SECONDS - t0))
done

# ---- Certify (ci/nightly/certify.sh) -----------------------------------------------------------
if [ "$run_certify" -eq 1 ]; then
    search=$(nightly_certify_search_seconds "$budget")
    cert_lib=${impl:-$repo/build/clang-asan/reference/libvmbsave_reference.so}
    cert_ref=${impl:+$impl_ref}
    cert_ref=${cert_ref:-build/clang-asan/reference/libvmbsave_reference.so}
    section "certify ($cert_ref, $search s of search)"
    t0=$SECONDS
    : >"$work/certify-known"
    for p in "${previous[@]}"; do
        jq -r '.certify.failed // [] | .[].clause' "$p/report.json" >>"$work/certify-known" 2>/dev/null || true
    done
    # Not in $(...): certify's group must be the main shell's to kill on an exit path.
    nightly_certify "$cert_lib" "$search" "$work/certify-known" "$cert_ref" >"$work/certify.json"
    certify_json=$(cat "$work/certify.json")
    cost[certify]=$((SECONDS - t0))
    jq -r '"certify: \(.verdict) (status \(.exit_status)), \(.failed | length) failing cases, \(.new) new"
           + ([.failed[] | "\n  \(.verdict) \(.case) (\(.clause)): \(.status)"] | join(""))' <<<"$certify_json"
fi

# ---- Coverage (ci/nightly/coverage.sh, when there) ---------------------------------------------
if [ -x ci/nightly/coverage.sh ]; then
    section "coverage (ci/nightly/coverage.sh)"
    t0=$SECONDS
    # coverage.sh adds its figures to OUT/report.json, so a provisional one goes first; the
    # figures are then carried into the final report.
    write_report running 0 "ci/main.sh: running"
    if ci/nightly/coverage.sh "$out"; then
        coverage_json=$(jq -c '.coverage // null' "$out/report.json")
    else
        echo "ci/main.sh: the coverage step failed" >&2
    fi
    cost[coverage]=$((SECONDS - t0))
fi

# ---- Mutation sample (--mutants N; ci/nightly/mutants.sh) ------------------------------------------
if [ "$mutants" -gt 0 ]; then
    section "mutation sample: $mutants mutants of reference/ (ci/nightly/mutants.sh)"
    t0=$SECONDS
    write_report running 0 "ci/main.sh: running"
    if ci/nightly/mutants.sh "$out" "$mutants"; then
        mutation_json=$(jq -c '.mutation // null' "$out/report.json")
    else
        echo "ci/main.sh: the mutation sample failed" >&2
    fi
    cost[mutation]=$((SECONDS - t0))
fi

# ---- Verdict ---------------------------------------------------------------------------------------
new=$(jq -s '[.[] | select(.status == "new" and .reliability == "reliable")] | length' "$work/findings.jsonl")
all=$(jq -s 'length' "$work/findings.jsonl")
allowed=$(jq -s 'length' "$work/allowed.jsonl")
if [ "$run_fuzz" -eq 1 ]; then
    phase_core=$(((fuzz_wall_ms * jobs + 500) / 1000))
    util=$(jq -n "if $phase_core > 0 then ($fuzz_core_seconds / $phase_core * 100 | round) else 0 end")
    fuzzed="$budget s x $jobs cores fuzzed, utilisation ${util}%"
else
    fuzzed="no fuzzing (--no-fuzz)"
fi
certified=""
cert_new=0
if [ -n "${certify_json:-}" ]; then
    certified=", certify $(jq -r '.verdict + (if .failed | length > 0 then " (" + ([.failed[] | .clause + (if .status == "known" then " known" else "" end)] | unique | join(", ")) + ")" else "" end)' <<<"$certify_json")"
    cert_new=$(jq '.new' <<<"$certify_json")
fi
summary="${#targets[@]} targets, $fuzzed, $all findings ($new new and reliable), $allowed allowed differences$certified; report $out_ref/report.json"
if [ -n "${certify_json:-}" ] && [ "$(jq -r .verdict <<<"$certify_json")" = incomplete ]; then
    broken "certify did not finish (status $(jq .exit_status <<<"$certify_json"); $out_ref/logs/certify.log). $summary"
fi
if [ "$new" -gt 0 ] || [ "$cert_new" -gt 0 ]; then
    names=$(jq -rs '[.[] | select(.status == "new" and .reliability == "reliable") | "\(.id) \(.target) \(.signature)"] | join("; ")' "$work/findings.jsonl")
    if [ "$cert_new" -gt 0 ]; then
        names+="${names:+; }certify $(jq -r '[.failed[] | select(.status == "new") | .clause] | unique | join(", ")' <<<"$certify_json")"
    fi
    finish new-findings 1 "ci/main.sh: VERDICT new-findings: $names. $summary"
fi
finish clean 0 "ci/main.sh: VERDICT clean: $summary"
