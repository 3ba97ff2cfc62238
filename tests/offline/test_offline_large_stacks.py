"""Large stacks: the bench's synthetic copies of prod, and the real pack analysing 20 copies over gRPC."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offline.analyzer import PolicyPackAnalyzer, Violation
from offline.bench import synthetic_stack
from offline.harness import ProgramRun, run_program
from policy.coa_policies import all_policies
from policy.coa_policies._core import StackRule

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "policy"
COPIES = 20
_COPY = re.compile(r"-c(\d+)$")
STACK_RULES = {p.name for p in all_policies() if isinstance(p, StackRule)}


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(REPO, "prod")


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackAnalyzer]:
    config = json.loads((PACK / "config" / "prod.json").read_text(encoding="utf-8"))
    # Without its per-image waiver the digest rule reports prod's pending digests: findings for the copies to repeat.
    config["k8s-image-digest-pinned-production"].pop("waivers")
    with PolicyPackAnalyzer(PACK, config=config, timeout=120) as analyzer:
        yield analyzer


def _copy_of(urn: str) -> int:
    match = _COPY.search(urn)
    return int(match.group(1)) if match else 0


def test_synthetic_stack_is_n_independent_copies_with_unique_urns_and_ids(prod: ProgramRun) -> None:
    records = prod.resources
    copies = synthetic_stack(records, 5)
    stacks = [r for r in copies if r.type == "pulumi:pulumi:Stack"]
    assert len(stacks) == 1 and len(copies) == 1 + 5 * (len(records) - 1)
    assert len({r.urn for r in copies}) == len(copies)
    ids = [r.id for r in copies if r.id]
    assert len(set(ids)) == len(ids) and len(ids) == 5 * sum(1 for r in records if r.id)
    assert Counter(r.type for r in copies) == Counter(
        {t: (1 if t == "pulumi:pulumi:Stack" else 5 * n) for t, n in Counter(r.type for r in records).items()}
    )
    # Every edge of copy k stays inside copy k (or reaches the one stack, or a default provider outside the run).
    by_urn = {r.urn: r for r in copies}
    for r in copies:
        if r.type == "pulumi:pulumi:Stack":
            continue
        edges = [r.parent, *r.dependencies, *(u for v in r.property_dependencies.values() for u in v)]
        if r.provider:
            edges.append(r.provider.rsplit("::", 1)[0])
        for urn in edges:
            target = by_urn.get(urn)
            if target is not None and target.type != "pulumi:pulumi:Stack":
                assert _copy_of(target.urn) == _copy_of(r.urn), (r.urn, urn)
    # Copy 3's private endpoint of the storage account names copy 3's account by id, not the original's.
    account = next(r for r in copies if r.type.endswith(":StorageAccount") and r.name.endswith("-c3"))
    endpoint = next(
        r for r in copies if r.type.endswith(":PrivateEndpoint") and account.urn in r.dependencies and r.custom
    )
    assert endpoint.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"] == account.id
    with pytest.raises(ValueError, match="at least 1"):
        synthetic_stack(records, 0)


def _key(v: Violation, copy: int) -> tuple[str, str, str]:
    urn = v.urn if not v.urn or copy == 0 else f"{v.urn}-c{copy}"
    return v.policy_name, urn, v.enforcement_level


def test_the_pack_analyzes_20_copies_of_prod_with_bounded_calls_in_flight(
    prod: ProgramRun, pack: PolicyPackAnalyzer
) -> None:
    stack = synthetic_stack(prod.resources, COPIES)
    assert len(stack) > 2600
    expected_one = pack.analyze(prod.resources)
    assert expected_one, "prod has findings (pending digests) whose copies the big stack must show again"

    # Count the Analyze calls outstanding at any moment: all of them at once is what made the pack cancel calls.
    in_flight = {"now": 0, "peak": 0, "sent": 0}
    send = pack._call_future

    def counted(method: str, request: Any) -> Any:
        future = send(method, request)
        in_flight["now"] += 1
        in_flight["sent"] += 1
        in_flight["peak"] = max(in_flight["peak"], in_flight["now"])

        def finished(_: Any) -> None:
            in_flight["now"] -= 1

        future.add_done_callback(finished)
        return future

    pack._call_future = counted  # type: ignore[method-assign]
    try:
        found = pack.analyze(stack)
    finally:
        del pack._call_future
    assert in_flight["sent"] == len(stack)
    assert 1 < in_flight["peak"] <= 64, in_flight

    expected = Counter(_key(v, k) for k in range(COPIES) for v in expected_one if v.urn or k == 0)
    assert Counter(_key(v, 0) for v in found) == expected
    # Per-resource results come back in resource order, whatever order the pack answered in.
    position = {r.urn: i for i, r in enumerate(stack)}
    order = [position[v.urn] for v in found if v.policy_name not in STACK_RULES]
    assert order == sorted(order)
