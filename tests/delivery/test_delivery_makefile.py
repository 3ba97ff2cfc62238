"""The Makefile is the newcomer's front door: `make` alone says what it can do, and `make help` lists every target."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAKEFILE = REPO / "Makefile"


def rule_targets() -> set[str]:
    """Every target a user can name: rules whose target is a plain word (not a file such as $(STAMP))."""
    text = MAKEFILE.read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z-]*):(?!=)", text, flags=re.MULTILINE))


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args], capture_output=True, text=True, timeout=60
    )


def listed(output: str) -> dict[str, str]:
    return dict(re.findall(r"^  ([a-z][a-z-]*) +(\S.*)$", output, flags=re.MULTILINE))


def test_help_lists_every_target_with_one_line_each() -> None:
    result = make("help")
    assert result.returncode == 0, result.stderr
    shown = listed(result.stdout)
    assert set(shown) == rule_targets()
    phony = re.findall(r"^\.PHONY:(.*)$", MAKEFILE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert rule_targets() <= {word for line in phony for word in line.split()}, "every target is phony"
    assert all(len(line) <= 120 for line in result.stdout.splitlines())
    assert "diff" in shown and "previews both sides" in shown["diff"]


def test_make_without_a_target_prints_the_help_and_installs_nothing() -> None:
    result = make("-n")
    assert result.returncode == 0, result.stderr
    assert "pip install" not in result.stdout and "venv" not in result.stdout
    assert make().stdout == make("help").stdout


def test_make_from_another_directory_says_to_run_it_from_the_root() -> None:
    result = subprocess.run(
        ["make", "-f", str(MAKEFILE), "preview"], cwd=REPO / "components", capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"*** run make from the repository root: make -C {REPO.resolve()} preview.  Stop." in result.stderr
    assert not (REPO / "components" / ".venv").exists()


def test_a_new_venv_finds_the_checkout_from_any_directory(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    lines = make("-n", "preview", f"VENV={venv}").stdout.splitlines()
    pth = f'echo "{REPO.resolve()}" > {venv}/lib/python3.11/site-packages/coa-lockdown.pth'
    assert lines.index(pth) > lines.index(f"touch {venv}/.installed"), "after the install, which makes the venv"
