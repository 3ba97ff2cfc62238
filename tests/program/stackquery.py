"""Small queries over a ProgramRun used by the program tests."""

from __future__ import annotations

import datetime
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


# A contract's scope kind (components/contracts Need.scope) and the resource in a stack that it names.
SCOPE_RESOURCES = {
    "storage-account": ("azure-native:storage:StorageAccount", ""),
    "batch-account": ("azure-native:batch:BatchAccount", ""),
    "batch-subnet": ("azure-native:network:Subnet", "snet-batch"),
    "workload-identity": ("azure-native:managedidentity:UserAssignedIdentity", "coa-workload"),
    "key-vault": ("azure-native:keyvault:Vault", ""),
    "registry": ("azure-native:containerregistry:Registry", ""),
    "cosmos-account": ("azure-native:cosmosdb:DatabaseAccount", ""),
}


def scope_resource(run: ProgramRun, scope: str) -> ResourceRecord:
    token, name_part = SCOPE_RESOURCES[scope]
    return one(run, token, name_part)


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


# When the test applications' client secrets expire: half a year from the day the tests run (config refuses a passed
# date, and more than a year away).
TES32_SECRET_EXPIRY = (datetime.date.today() + datetime.timedelta(days=180)).isoformat()
# The Entra applications a taskDatabase cosmosdb stack names (made-up ids: test data).
TES32_APPLICATIONS = {
    "tes": {
        "clientId": "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "objectId": "8d2f3e4a-5b6c-4d7e-9f8a-0b1c2d3e4f5a",
        "tenantId": "9e3a4f5b-6c7d-4e8f-8a9b-1c2d3e4f5a6b",
        "secretExpiresOn": TES32_SECRET_EXPIRY,
    },
    "triggerservice": {
        "clientId": "af4b5a6c-7d8e-4f9a-8b0c-2d3e4f5a6b7c",
        "objectId": "b05c6b7d-8e9f-4a0b-9c1d-3e4f5a6b7c8d",
        "tenantId": "9e3a4f5b-6c7d-4e8f-8a9b-1c2d3e4f5a6b",
        "secretExpiresOn": TES32_SECRET_EXPIRY,
    },
}
# Why a production stack accepts each weakening of the reduced-assurance generation (its guardrail overrides).
TES32_REASONS = {
    "sharedKeyAccess": "TES 3.2 signs SAS with the account key; accepted until the TES 6 migration (SEC-2101)",
    "cosmosLocalAuth": "TES 3.2 opens Cosmos DB with the account key; accepted until the TES 6 migration (SEC-2101)",
    "applicationCredential": "TES 3.2 has no workload identity flow; secrets rotate every 90 days (SEC-2101)",
    "outOfSupportRuntime": ".NET 6 images until the TES 6 migration, scanned on every pull (SEC-2101)",
}


def tes32_config(stack: str) -> dict[str, Any]:
    """The stack file's keys changed to run the CoA 3.2 generation (taskDatabase cosmosdb), with what it must state;
    production accepts each weakening by name."""
    doc = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    overrides: dict[str, Any] = {
        "coa-lockdown:taskDatabase": "cosmosdb",
        "coa-lockdown:cosmos": {"localAuthEnabled": True},
        "coa-lockdown:storage": {**doc["coa-lockdown:storage"], "allowSharedKeyAccess": True},
        "coa-lockdown:applicationCredentials": TES32_APPLICATIONS,
        "coa-lockdown:tesClientSecret": {"secure": "v1:tes-client-secret"},
        "coa-lockdown:triggerServiceClientSecret": {"secure": "v1:triggerservice-client-secret"},
    }
    if stack == "prod":
        overrides["coa-lockdown:guardrailOverrides"] = {**doc["coa-lockdown:guardrailOverrides"], **TES32_REASONS}
    return overrides
