"""Shared fixtures for the delivery tests: the repository root and the parsed workflows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = REPO_ROOT / ".github" / "workflows"


def load_workflow(path: Path) -> dict[str, Any]:
    """Parse a workflow; YAML 1.1 reads the `on` key as True, so put it back under 'on'."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path}: not a mapping"
    if True in document:
        document["on"] = document.pop(True)
    return document


@pytest.fixture(scope="session")
def workflow_paths() -> list[Path]:
    paths = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])
    assert paths, f"no workflows under {WORKFLOW_DIR}"
    return paths


@pytest.fixture(scope="session")
def workflows(workflow_paths: list[Path]) -> dict[str, dict[str, Any]]:
    return {path.name: load_workflow(path) for path in workflow_paths}


@pytest.fixture(scope="session")
def pinned_pulumi_version() -> str:
    """The pulumi SDK version requirements.txt pins; the CLI in CI must match it."""
    text = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(r"^pulumi==([0-9][^\s#]*)", text, flags=re.MULTILINE)
    assert match, "requirements.txt does not pin pulumi==<version>"
    return match.group(1)
