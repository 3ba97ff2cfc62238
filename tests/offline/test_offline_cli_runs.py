"""`python -m offline preview` end to end, in subprocesses: the error cases and a deliberately insecure program."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


def _offline(*args: str, out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "offline", "preview", "--out", str(out), *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--program", str(FIXTURES / "insecure_program"), "--stack", "nope"],
            "error: stack configuration: unknown stack 'nope': no Pulumi.nope.yaml in",
        ),
        (
            ["--program", str(FIXTURES / "bad_config_program"), "--stack", "test"],
            "bad_config_program/Pulumi.test.yaml: not valid YAML",
        ),
        (
            ["--program", str(FIXTURES / "raising_program"), "--stack", "test"],
            "error: the program raised: ValueError: config 'raising-fixture:size' is 'huge'; use 'small' or 'large'",
        ),
        (
            [
                "--program",
                str(FIXTURES / "tiny_program"),
                "--stack",
                "test",
                "--policy-pack",
                str(FIXTURES / "not_a_pack"),
            ],
            "error: the policy pack failed: ",
        ),
    ],
    ids=["unknown-stack", "unparsable-config", "program-raises", "pack-fails-to-start"],
)
def test_errors_exit_2_with_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = _offline(*args, out=tmp_path / "out")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_insecure_program_fails_naming_rules_and_resources(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _offline("--program", str(FIXTURES / "insecure_program"), "--stack", "test", out=out)
    assert result.returncode == 1, result.stderr
    # Registration order depends on which outputs resolve first, so the account may be the last branch.
    assert re.search(r"^ \+   [├└]─ azure-native:storage:StorageAccount +insecure-st +create$", result.stdout, re.M)
    policy = json.loads((out / "policy.json").read_text())
    mandatory = [v for v in policy["violations"] if v["enforcement_level"] == "mandatory"]
    flagged = {v["resource_name"] for v in mandatory}
    assert {"insecure-st", "insecure-nsg"} <= flagged
    for violation in mandatory:
        line = f"✗ {violation['rule']}  on  {violation['resource_type']} {violation['resource_name']}"
        assert line in result.stdout
    assert "FAILED:" in result.stdout
    sarif = json.loads((out / "policy.sarif").read_text())
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(sarif)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "error"} == {v["rule"] for v in mandatory}
    resources = json.loads((out / "resources.json").read_text())["resources"]
    subnet = next(r for r in resources if r["type"] == "azure-native:network:Subnet")
    nsg = next(r for r in resources if r["type"] == "azure-native:network:NetworkSecurityGroup")
    assert subnet["inputs"]["networkSecurityGroup"]["id"] == nsg["id"] and nsg["urn"] in subnet["dependencies"]


@pytest.mark.parametrize("subdirectory", ["components", "tests"])
def test_run_from_a_subdirectory_it_says_to_run_from_the_root(subdirectory: str) -> None:
    # The venv's coa-lockdown.pth (make) puts the repository on the path, as PYTHONPATH does here: from tests/,
    # `offline` would otherwise be the test directory tests/offline.
    result = subprocess.run(
        [sys.executable, "-m", "offline", "preview", "--stack", "dev"],
        cwd=REPO / subdirectory,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"error: run `python -m offline` from the repository root, {REPO.resolve()} (not {(REPO / subdirectory).resolve()})\n"
    )
    assert not (REPO / subdirectory / "out").exists()
