"""Nothing is lost in production: every data-bearing resource is protected in Pulumi's state, the stateful ones carry
Azure CanNotDelete locks, and PHI storage is geo-redundant. Dev keeps none of that (it is torn down freely)."""

from __future__ import annotations

import pytest
from stackquery import one

from offline.harness import ProgramRun

DATA_BEARING = (
    "azure-native:resources:ResourceGroup",
    "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobContainer",
    "azure-native:keyvault:Vault",
    "azure-native:keyvault:Secret",
    "azure-native:dbforpostgresql:Server",
    "azure-native:dbforpostgresql:Database",
    "azure-native:operationalinsights:Workspace",
)
LOCKED = {
    "azure-native:storage:StorageAccount": "storage-st",
    "azure-native:keyvault:Vault": "vault-kv",
    "azure-native:dbforpostgresql:Server": "postgres-psql",
    "azure-native:operationalinsights:Workspace": "mon-log",
}
LOCK = "azure-native:authorization:ManagementLockByScope"


@pytest.mark.parametrize("token", DATA_BEARING)
def test_every_data_bearing_resource_is_protected_in_prod_only(prod: ProgramRun, dev: ProgramRun, token: str) -> None:
    assert prod.of_type(token), token
    assert all(r.protect for r in prod.of_type(token)), [r.name for r in prod.of_type(token) if not r.protect]
    assert not any(r.protect for r in dev.of_type(token)), token


def test_stateful_resources_carry_can_not_delete_locks_in_prod(prod: ProgramRun, dev: ProgramRun) -> None:
    locks = prod.of_type(LOCK)
    scopes = {lock.inputs["scope"]: lock for lock in locks}
    assert len(locks) == len(LOCKED)
    for token, name_part in LOCKED.items():
        target = one(prod, token, name_part)
        lock = scopes[target.id]
        assert lock.inputs["level"] == "CanNotDelete" and lock.protect
        assert "docs/deploying.md" in lock.inputs["notes"]
    # Never the resource group: its lock would be inherited by the Batch pools TES deletes through ARM.
    group = one(prod, "azure-native:resources:ResourceGroup")
    assert group.id not in scopes
    assert dev.of_type(LOCK) == []


def test_phi_storage_is_geo_redundant_in_prod(prod: ProgramRun, dev: ProgramRun) -> None:
    assert one(prod, "azure-native:storage:StorageAccount").inputs["sku"]["name"] == "Standard_GZRS"
    assert one(dev, "azure-native:storage:StorageAccount").inputs["sku"]["name"] == "Standard_ZRS"
