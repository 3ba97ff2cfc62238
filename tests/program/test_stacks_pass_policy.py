"""The whole dev and prod stacks, sent to the real policy pack over its gRPC protocol, pass every mandatory rule."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from configuration.image_lock import load_lock
from offline.analyzer import PolicyPackAnalyzer, Violation
from offline.harness import ProgramRun

PACK = Path(__file__).resolve().parents[2] / "policy"


PROD_CONFIG = json.loads((PACK / "config" / "prod.json").read_text())


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackAnalyzer]:
    with PolicyPackAnalyzer(PACK, timeout=60) as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def prod_pack() -> Iterator[PolicyPackAnalyzer]:
    """The pack configured as the prod workflow runs it (--policy-pack-config policy/config/prod.json)."""
    with PolicyPackAnalyzer(PACK, config=PROD_CONFIG, timeout=60) as analyzer:
        yield analyzer


def _mandatory(violations: list[Violation]) -> list[str]:
    return [f"{v.policy_name} on {v.urn}: {v.message}" for v in violations if v.enforcement_level == "mandatory"]


def test_prod_has_no_mandatory_violation(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    assert _mandatory(prod_pack.analyze(prod.resources)) == []


def test_without_its_waiver_prod_fails_only_on_the_pending_image_digests(
    pack: PolicyPackAnalyzer, prod: ProgramRun
) -> None:
    """The one rule prod.json lowers catches exactly the images whose digest images.lock.json still lacks."""
    pending = load_lock().unpinned()
    failed = [v for v in pack.analyze(prod.resources) if v.enforcement_level == "mandatory"]
    assert {v.policy_name for v in failed} == ({"k8s-image-digest-pinned-production"} if pending else set())
    lock = load_lock()
    named = {key for v in failed for key in pending if f"/{lock[key].repository}:{lock[key].tag}'" in v.message}
    # Every container of every pod is judged (smokeTestTask is a Batch task image, not a container).
    assert named == set(pending) - {"smokeTestTask"}


def test_dev_has_no_mandatory_violation_and_no_waiver(pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    """dev is a small prod: it passes the same pack without any waiver."""
    assert json.loads((PACK / "config" / "dev.json").read_text()) == {}
    assert _mandatory(pack.analyze(dev.resources)) == []


def test_pack_would_catch_a_regression_in_the_stack(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    """The same run with one secure setting flipped fails: the zero above is not vacuous."""
    flipped = []
    for record in prod.resources:
        if record.type == "azure-native:storage:StorageAccount":
            record = dataclasses.replace(record, inputs={**record.inputs, "allowBlobPublicAccess": True})
        flipped.append(record)
    names = {v.policy_name for v in prod_pack.analyze(flipped) if v.enforcement_level == "mandatory"}
    assert names == {"storage-account-blob-public-access-disabled"}
