"""Small queries over a ProgramRun used by the program tests."""

from __future__ import annotations

from offline.harness import ProgramRun
from offline.records import ResourceRecord


def one(run: ProgramRun, token: str, name_part: str = "") -> ResourceRecord:
    found = [r for r in run.of_type(token) if name_part in r.name]
    assert len(found) == 1, f"expected one {token} named *{name_part}*, found {[r.name for r in found]}"
    return found[0]


def by_id(run: ProgramRun, arm_id: str) -> ResourceRecord:
    found = [r for r in run.resources if r.id == arm_id]
    assert found, f"no resource has id {arm_id}"
    return found[0]


def ancestors(run: ProgramRun, record: ResourceRecord) -> list[str]:
    urns = run.by_urn()
    chain, parent = [], record.parent
    while parent in urns:
        chain.append(urns[parent].type)
        parent = urns[parent].parent
    return chain
