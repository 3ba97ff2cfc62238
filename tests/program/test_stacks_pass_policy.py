"""The whole dev and prod stacks, sent to the real policy pack over its gRPC protocol, pass every mandatory rule."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline.analyzer import PolicyPackAnalyzer, Violation
from offline.harness import ProgramRun

PACK = Path(__file__).resolve().parents[2] / "policy"


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackAnalyzer]:
    with PolicyPackAnalyzer(PACK, timeout=60) as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def dev_pack() -> Iterator[PolicyPackAnalyzer]:
    """Dev runs TES 3.2, which needs Cosmos DB keys: policy/config/dev.json waives that one rule to advisory."""
    config = json.loads((PACK / "config" / "dev.json").read_text())
    with PolicyPackAnalyzer(PACK, config=config, timeout=60) as analyzer:
        yield analyzer


def _mandatory(violations: list[Violation]) -> list[str]:
    return [f"{v.policy_name} on {v.urn}: {v.message}" for v in violations if v.enforcement_level == "mandatory"]


def test_prod_has_no_mandatory_violation(pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    assert _mandatory(pack.analyze(prod.resources)) == []


def test_dev_has_no_mandatory_violation_with_its_declared_waiver(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    violations = dev_pack.analyze(dev.resources)
    assert _mandatory(violations) == []
    # The waiver is visible, not silent: the key-auth finding is still reported, as advisory.
    assert any(
        v.policy_name == "cosmosdb-local-auth-disabled" and v.enforcement_level == "advisory" for v in violations
    )


def test_dev_without_its_waiver_fails_on_cosmos_keys(pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    assert {v.policy_name for v in pack.analyze(dev.resources) if v.enforcement_level == "mandatory"} == {
        "cosmosdb-local-auth-disabled"
    }


def test_pack_would_catch_a_regression_in_the_stack(pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    """The same run with one secure setting flipped fails: the zero above is not vacuous."""
    flipped = []
    for record in prod.resources:
        if record.type == "azure-native:storage:StorageAccount":
            record = dataclasses.replace(record, inputs={**record.inputs, "allowBlobPublicAccess": True})
        flipped.append(record)
    names = {v.policy_name for v in pack.analyze(flipped) if v.enforcement_level == "mandatory"}
    assert names == {"storage-account-blob-public-access-disabled"}
