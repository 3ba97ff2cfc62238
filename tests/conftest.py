"""Session-wide runs of the real program: each stack runs once per test session and every test directory shares it."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.harness import ProgramRun, run_program

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def dev() -> ProgramRun:
    return run_program(REPO, "dev")


@pytest.fixture(scope="session")
def prod() -> ProgramRun:
    return run_program(REPO, "prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> ProgramRun:
    return request.getfixturevalue(request.param)
