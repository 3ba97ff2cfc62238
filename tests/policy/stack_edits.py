"""Changes applied to a real stack's registrations, as an attacker or a hurried operator would make them in the program:
edit a resource's inputs, drop a resource, add one, rename the stack. The pack reads inputs per resource (Analyze)
and the state (outputs, else inputs) for the whole stack (AnalyzeStack), so an edit changes both."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from policy_fixtures import DELETE, mutate

from offline.analyzer import PolicyPackAnalyzer
from offline.records import ResourceRecord

__all__ = ["DELETE", "added", "caught", "dropped", "edited", "one", "renamed_stack", "retagged"]


def one(records: Iterable[ResourceRecord], token: str, name_part: str = "") -> ResourceRecord:
    found = [r for r in records if r.type == token and name_part in r.name]
    assert len(found) == 1, f"expected one {token} named *{name_part}*, found {[r.name for r in found]}"
    return found[0]


def edited(
    records: Sequence[ResourceRecord], target: ResourceRecord, changes: Mapping[str, Any]
) -> list[ResourceRecord]:
    """`records` with dotted-path `changes` (DELETE removes a key) applied to `target`'s inputs and state."""

    def edit(r: ResourceRecord) -> ResourceRecord:
        if r.urn != target.urn:
            return r
        outputs = mutate(r.outputs, dict(changes)) if r.outputs else {}
        return dataclasses.replace(r, inputs=mutate(r.inputs, dict(changes)), outputs=outputs)

    return [edit(r) for r in records]


def dropped(records: Sequence[ResourceRecord], drop: Callable[[ResourceRecord], bool]) -> list[ResourceRecord]:
    gone = [r for r in records if drop(r)]
    assert gone, "the change drops nothing"
    return [r for r in records if not drop(r)]


def added(
    records: Sequence[ResourceRecord],
    token: str,
    name: str,
    inputs: Mapping[str, Any],
    *,
    arm_id: str = "",
    property_dependencies: Mapping[str, Sequence[str]] | None = None,
) -> list[ResourceRecord]:
    """`records` plus a resource of `token` registered at the stack's root, as a new line in the program would."""
    stack_urn = next(r.urn for r in records if r.type == "pulumi:pulumi:Stack")
    prefix, _, _ = stack_urn.partition("::pulumi:pulumi:Stack::")
    deps = {k: tuple(v) for k, v in (property_dependencies or {}).items()}
    record = ResourceRecord(
        urn=f"{prefix}::{token}::{name}",
        type=token,
        name=name,
        custom=True,
        inputs=dict(inputs),
        outputs={**inputs, **({"id": arm_id} if arm_id else {})},
        id=arm_id,
        parent=stack_urn,
        dependencies=tuple(sorted({u for v in deps.values() for u in v})),
        property_dependencies=deps,
    )
    return [*records, record]


def _swap(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, (list, tuple)):
        return type(value)(_swap(v, old, new) for v in value)
    if isinstance(value, dict):
        return {k: _swap(v, old, new) for k, v in value.items()}
    return value


def renamed_stack(records: Sequence[ResourceRecord], old: str, new: str) -> list[ResourceRecord]:
    """The same registrations under another stack name (every URN and URN reference)."""
    before, after = f"urn:pulumi:{old}::", f"urn:pulumi:{new}::"
    return [
        dataclasses.replace(
            r,
            urn=_swap(r.urn, before, after),
            parent=_swap(r.parent, before, after),
            dependencies=_swap(r.dependencies, before, after),
            property_dependencies=_swap(r.property_dependencies, before, after),
            provider=_swap(r.provider, before, after),
        )
        for r in records
    ]


def retagged(records: Sequence[ResourceRecord], tags: Mapping[str, str]) -> list[ResourceRecord]:
    """Every tagged resource with `tags` merged over its own (as a user tag in the stack file would be)."""

    def retag(r: ResourceRecord) -> ResourceRecord:
        if not isinstance(r.inputs.get("tags"), dict):
            return r
        inputs = {**r.inputs, "tags": {**r.inputs["tags"], **tags}}
        outputs = {**r.outputs, "tags": {**r.outputs.get("tags", {}), **tags}} if r.outputs else {}
        return dataclasses.replace(r, inputs=inputs, outputs=outputs)

    return [retag(r) for r in records]


def caught(
    pack: PolicyPackAnalyzer, records: Sequence[ResourceRecord], rule: str, level: str = "mandatory"
) -> list[str]:
    """The messages of `rule` on the changed stack; fails unless it reports at `level` (the unchanged stacks pass
    every rule: test_threats_baseline.py)."""
    found = [v for v in pack.analyze(records) if v.policy_name == rule]
    assert found, f"{rule} did not catch the change"
    assert {v.enforcement_level for v in found} == {level}, [(v.enforcement_level, v.message) for v in found]
    return [v.message for v in found]
