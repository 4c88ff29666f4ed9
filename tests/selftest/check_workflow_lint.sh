#!/usr/bin/env bash
# HARNESS.WORKFLOWS.LINT: ci/lint-workflows.sh (actionlint) passes .github/workflows/*.yml and
# fails a workflow with known mistakes, naming each, so a clean result means something.
# usage: check_workflow_lint.sh SOURCE_DIR
set -euo pipefail

src=${1:?usage: $0 SOURCE_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

"$src/ci/lint-workflows.sh" >"$tmp/ok.log" 2>&1 || { cat "$tmp/ok.log"; fail "the workflows have problems"; }
grep -q ', 0 problem(s)' "$tmp/ok.log" || { cat "$tmp/ok.log"; fail "no summary line"; }
cat "$tmp/ok.log"
# An undefined matrix key, an unknown input of a known action, a bad cron line.
cat >"$tmp/bad.yml" <<'YML'
name: bad
on:
  schedule:
    - cron: '0 25 * * *'
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ matrix.nothing }}
      - uses: actions/checkout@v3
        with:
          no-such-input: 1
YML
rc=0
"$src/ci/lint-workflows.sh" "$tmp/bad.yml" >"$tmp/bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$tmp/bad.log"; fail "a bad workflow exited $rc, not 1"; }
for want in 'matrix\|"nothing"' 'no-such-input' 'cron'; do
    grep -qi "$want" "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "the linter missed: $want"; }
done
echo "PASS: the workflows lint clean; a bad workflow is caught ($(grep -c ': .*\[' "$tmp/bad.log") problems)"
