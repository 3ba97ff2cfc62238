"""Runs the real program for each stack under the mock engine, once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Importlib mode: make the sibling helper module (stackquery) importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from offline.harness import ProgramRun, run_program

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def dev() -> ProgramRun:
    return run_program(REPO, "dev")


@pytest.fixture(scope="session")
def prod() -> ProgramRun:
    return run_program(REPO, "prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> ProgramRun:
    return request.getfixturevalue(request.param)
