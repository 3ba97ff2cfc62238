"""Run Checkov (from its own venv) on one target and read back what it found.

Checkov decides nothing here: it runs with --soft-fail and the waiver file decides what fails `make scan`.
It runs offline: --skip-download (no platform, no policy download) and BC_SKIP_MAPPING (no guideline lookup).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Framework = Literal["arm", "kubernetes"]
DEFAULT_CHECKOV = Path(".venv-scan/bin/checkov")
JSON_REPORT = "results_json.json"
SARIF_REPORT = "results_sarif.sarif"
CLI_REPORT = "results_cli.txt"


class CheckovError(RuntimeError):
    """Checkov is missing, crashed, or wrote no results."""


@dataclass(frozen=True)
class Finding:
    """One check evaluated on one resource."""

    stack: str
    framework: str
    check_id: str
    check_name: str
    # Checkov's resource id: "Microsoft.Storage/storageAccounts.stname", "Deployment.coa.tes".
    resource: str
    file: str
    start_line: int
    passed: bool


def checkov_command(checkov: Path, framework: Framework, target: Path, output_dir: Path) -> list[str]:
    where = ["-d", str(target)] if target.is_dir() else ["-f", str(target)]
    return [
        str(checkov),
        "--framework",
        framework,
        *where,
        "--skip-download",
        "--soft-fail",
        "--compact",
        "-o",
        "cli",
        "-o",
        "sarif",
        "-o",
        "json",
        "--output-file-path",
        str(output_dir),
    ]


def checkov_version(checkov: Path) -> str:
    """What `checkov --version` prints (the report names the scanner that produced it)."""
    if not checkov.is_file():
        raise CheckovError(f"{checkov} not found: run `make .venv-scan/.installed` (or `make scan`) first")
    result = subprocess.run([str(checkov), "--version"], capture_output=True, text=True, check=False, timeout=120)
    version = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not version:
        raise CheckovError(f"{checkov} --version failed: {result.stderr.strip()[-500:]}")
    return version


def run_checkov(checkov: Path, framework: Framework, target: Path, output_dir: Path, cwd: Path) -> Path:
    """Run Checkov; returns the JSON report's path (SARIF and CLI text beside it)."""
    if not checkov.is_file():
        raise CheckovError(f"{checkov} not found: run `make .venv-scan/.installed` (or `make scan`) first")
    output_dir.mkdir(parents=True, exist_ok=True)
    for stale in (JSON_REPORT, SARIF_REPORT, CLI_REPORT):
        (output_dir / stale).unlink(missing_ok=True)
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        checkov_command(checkov, framework, target, output_dir),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    report = output_dir / JSON_REPORT
    if result.returncode != 0 or not report.is_file():
        raise CheckovError(
            f"checkov --framework {framework} on {target} exited {result.returncode} without results:\n"
            f"{result.stderr[-4000:]}"
        )
    return report


def _reports(document: Any) -> list[dict[str, Any]]:
    # One framework gives an object; several, or none with results, a list.
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        return [item for item in document if isinstance(item, dict)]
    raise CheckovError(f"unexpected Checkov JSON report shape: {type(document).__name__}")


def read_findings(report: Path, stack: str, framework: str) -> list[Finding]:
    findings: list[Finding] = []
    for section in _reports(json.loads(report.read_text(encoding="utf-8"))):
        if section.get("check_type") not in (None, framework):
            continue
        if section.get("summary", {}).get("parsing_errors"):
            raise CheckovError(f"{report}: Checkov could not parse part of the {framework} input")
        results = section.get("results", {})
        for key, passed in (("passed_checks", True), ("failed_checks", False)):
            for item in results.get(key, []):
                line_range = item.get("file_line_range") or [0, 0]
                findings.append(
                    Finding(
                        stack=stack,
                        framework=framework,
                        check_id=str(item["check_id"]),
                        check_name=str(item.get("check_name", "")),
                        resource=str(item.get("resource", "")),
                        file=str(item.get("file_path", "")),
                        start_line=int(line_range[0]),
                        passed=passed,
                    )
                )
    return findings
