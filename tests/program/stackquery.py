"""Small queries over a ProgramRun used by the program tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from configuration.image_lock import ImageLock, parse_lock
from offline.harness import ProgramRun, run_program
from offline.records import ResourceRecord

REPO = Path(__file__).resolve().parents[2]


def stack_values(stack: str) -> dict[str, Any]:
    """The `coa-lockdown:*` keys of Pulumi.<stack>.yaml, without the namespace, as parse_settings takes them."""
    doc = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())
    return {k.split(":", 1)[1]: v for k, v in doc["config"].items() if k.startswith("coa-lockdown:")}


def resolved_lock_document(**changes: dict[str, Any]) -> dict[str, Any]:
    """images.lock.json as it reads once every digest is recorded (distinct made-up digests: test data), with
    per-image changes applied, e.g. `tes={"digest": None}` for one still pending."""
    lock = json.loads((REPO / "images.lock.json").read_text())
    for index, entry in enumerate(lock["images"].values()):
        entry.update(digest="sha256:" + f"{index + 1:x}" * 64, resolved="test fixture: a resolved lock")
    for key, change in changes.items():
        lock["images"][key].update(change)
    return lock


def resolved_lock(**changes: dict[str, Any]) -> ImageLock:
    return parse_lock(resolved_lock_document(**changes))


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


def run_variant(
    root: Path, base_stack: str, overrides: dict[str, Any], files: dict[str, str] | None = None
) -> ProgramRun:
    """Run the real program for `base_stack` with some config keys replaced, in a scratch copy of the repo; `files`
    replaces top-level files (name -> text), e.g. a resolved images.lock.json."""
    for entry in REPO.iterdir():
        if files and entry.name in files:
            (root / entry.name).write_text(files[entry.name])
        elif not (entry.name.startswith("Pulumi.") and entry.name != "Pulumi.yaml"):
            (root / entry.name).symlink_to(entry)
    doc = yaml.safe_load((REPO / f"Pulumi.{base_stack}.yaml").read_text())
    doc["config"].update(overrides)
    (root / f"Pulumi.{base_stack}.yaml").write_text(yaml.safe_dump(doc))
    return run_program(root, base_stack)
