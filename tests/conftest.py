"""Session-wide runs of the real program: each stack runs once per test session and every test directory shares it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from offline.harness import ProgramRun, run_program

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def dev() -> ProgramRun:
    return run_program(REPO, "dev")


@pytest.fixture(scope="session")
def prod() -> ProgramRun:
    return run_program(REPO, "prod")


# dev with customer-managed keys on: the option's program tests and its threat rows (policy/THREATS.md) share one run.
CMK_ON = {"coa-lockdown:encryption": {"customerManagedKeys": True}}


@pytest.fixture(scope="session")
def dev_cmk(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    root = tmp_path_factory.mktemp("dev-cmk")
    for entry in REPO.iterdir():
        if not (entry.name.startswith("Pulumi.") and entry.name != "Pulumi.yaml"):
            (root / entry.name).symlink_to(entry)
    doc = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    doc["config"].update(CMK_ON)
    (root / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    return run_program(root, "dev")


@pytest.fixture(scope="session", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> ProgramRun:
    return request.getfixturevalue(request.param)


# The reduced-assurance generation (taskDatabase cosmosdb) on each checked-in stack: the whole program, once per session.
@pytest.fixture(scope="session")
def tes32_dev(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return _tes32(tmp_path_factory, "dev")


@pytest.fixture(scope="session")
def tes32_prod(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return _tes32(tmp_path_factory, "prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def tes32_stack(request: pytest.FixtureRequest) -> ProgramRun:
    return request.getfixturevalue(f"tes32_{request.param}")


def _tes32(tmp_path_factory: pytest.TempPathFactory, stack: str) -> ProgramRun:
    import sys

    sys.path.insert(0, str(REPO / "tests" / "program"))
    from stackquery import run_variant, tes32_config

    return run_variant(tmp_path_factory.mktemp(f"tes32-{stack}"), stack, tes32_config(stack))
