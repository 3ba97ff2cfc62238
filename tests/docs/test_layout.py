"""The repository root holds the design card's layout and the files a user opens first, nothing a stray shell
redirect or a scratch file left behind (one such file was committed once and lived for a day)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Design card: Pulumi.yaml, Pulumi.<stack>.yaml, __main__.py, components/, policy/, tests/; plus charts/, README and CI.
ROOT_ENTRIES = {
    # the Pulumi project
    "Pulumi.yaml",
    "Pulumi.dev.yaml",
    "Pulumi.prod.yaml",
    "__main__.py",
    "components",
    "configuration",
    "charts",
    "images.lock.json",
    "retirement.yaml",
    "workloads",
    # the pack, its offline twins and the independent scan
    "policy",
    "offline",
    "scan",
    "scripts",
    "tests",
    # how to build and run it
    "Makefile",
    "pyproject.toml",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-scan.txt",
    "constraints.txt",
    "constraints-scan.txt",
    ".ci",
    ".github",
    ".gitignore",
    # what a reader opens first
    "README.md",
    "docs",
    "SECURITY.md",
    "LICENSE",
    "THIRD_PARTY_NOTICES.md",
}


def _tracked_root_entries() -> set[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return {path.split("/", 1)[0] for path in listed.splitlines()}


def test_the_root_holds_only_the_layout() -> None:
    unexpected = sorted(_tracked_root_entries() - ROOT_ENTRIES)
    assert unexpected == [], (
        f"tracked at the root but not part of the layout (add it here on purpose, or remove it): {unexpected}"
    )


def test_every_layout_entry_is_tracked() -> None:
    assert sorted(ROOT_ENTRIES - _tracked_root_entries()) == []
