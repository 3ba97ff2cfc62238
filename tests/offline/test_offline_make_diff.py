"""`make diff` never passes on stale input: it previews both sides itself, and `python -m offline diff` refuses a
default head preview older than the sources it was made from.

The scenario of issue #20: a developer edits `nameSuffix` in Pulumi.prod.yaml after their last `make preview` and
runs `make diff` without previewing again. The storage account, Key Vault and PostgreSQL server are named from the
suffix, so the edit replaces protected resources; the diff must say so, not PASS on the preview of the old file.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from offline import cli, report
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
# What a checkout needs to preview and diff a stack; tests, docs and state stay behind.
NOT_COPIED = {".git", ".venv", ".venv-scan", "out", "tests", "docs", ".github"}


def checkout(root: Path) -> Path:
    """A copy of the repository, as a developer's clone: its own Makefile, program and stack files."""
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name in NOT_COPIED:
            continue
        if entry.is_dir():
            shutil.copytree(entry, root / entry.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(entry, root / entry.name)
    return root


def edit_stack(path: Path, **config: object) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["config"].update({f"coa-lockdown:{key}": value for key, value in config.items()})
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


def write_preview(out: Path, run: ProgramRun) -> Path:
    """out/<stack>/resources.json as `make preview` leaves it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.resources_document(run.project, run.stack, run.resources), default=str))
    return out


def make(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    venv = Path(sys.prefix)
    # -o: the test's own interpreter already has every dependency and finds the checkout it runs in; make must not
    # reinstall it or point it at this copy.
    kept = [f"{venv}/.installed", f"{venv}/lib/python3.11/site-packages/coa-lockdown.pth"]
    command = ["make", "--no-print-directory", "-C", str(directory), *(f"-o{path}" for path in kept), f"VENV={venv}"]
    command += args
    return subprocess.run(command, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def test_make_diff_previews_the_edited_stack_instead_of_trusting_the_last_preview(
    tmp_path: Path, prod: ProgramRun
) -> None:
    head = checkout(tmp_path / "clone")
    write_preview(head / "out" / "prod" / "resources.json", prod)  # the last `make preview`, before the edit
    time.sleep(0.01)
    edit_stack(head / "Pulumi.prod.yaml", nameSuffix="q8z3")

    result = make(head, "diff", "STACK=prod", f"BASE_SRC={REPO}", "DIFF_FORMAT=json")

    assert result.returncode != 0, result.stdout + result.stderr  # make reports the diff's exit 1 as its own 2
    document = json.loads(result.stdout)
    replaced = {f["type"] for f in document["findings"] if f["protected"] and f["action"] == "replace"}
    assert {
        "azure-native:storage:StorageAccount",
        "azure-native:keyvault:Vault",
        "azure-native:dbforpostgresql:Server",
    } <= replaced
    assert {"key": "nameSuffix", "base": "p4m9", "head": "q8z3"} in document["configChanges"]
    assert document["passed"] is False
    # The head preview is this checkout's, written where `make preview` writes it.
    written = json.loads((head / "out" / "prod" / "resources.json").read_text(encoding="utf-8"))
    accounts = [r for r in written["resources"] if r["type"] == "azure-native:storage:StorageAccount"]
    assert accounts[0]["inputs"]["accountName"].endswith("q8z3")


def test_the_diff_refuses_a_default_head_older_than_the_stack_file(
    tmp_path: Path, prod: ProgramRun, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "clone"
    program.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy2(REPO / name, program / name)
    monkeypatch.chdir(tmp_path)
    base = write_preview(tmp_path / "base" / "resources.json", prod)
    head = write_preview(tmp_path / "out" / "prod" / "resources.json", prod)
    args = ["diff", "--stack", "prod", "--base", str(base), "--program", str(program)]

    older = head.stat().st_mtime - 60
    for path in program.iterdir():
        os.utime(path, (older, older))
    assert cli.main(args, stdout=io.StringIO()) == 0

    edit_stack(program / "Pulumi.prod.yaml", nameSuffix="q8z3")
    assert cli.main(args) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: --head {Path('out') / 'prod' / 'resources.json'}: older than Pulumi.prod.yaml")
    assert "make diff STACK=prod" in error
    assert "\n" not in error
