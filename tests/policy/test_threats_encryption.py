"""Threat model (policy/THREATS.md), customer-managed keys: each test makes one row's change to dev with
encryption.customerManagedKeys on (its tag declares the keys to the pack) and expects the row's rule to report it."""

from __future__ import annotations

from stack_edits import DELETE, added, caught, edited, one

from offline.analyzer import PolicyPackAnalyzer
from offline.harness import ProgramRun

ACCOUNT = "azure-native:storage:StorageAccount"
CLUSTER = "azure-native:containerservice:ManagedCluster"
DES = "azure-native:compute:DiskEncryptionSet"
GRANT = "azure-native:authorization:RoleAssignment"
KEY = "azure-native:keyvault:Key"
REGISTRY = "azure-native:containerregistry:Registry"
SERVER = "azure-native:dbforpostgresql:Server"
CRYPTO_OFFICER = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"


def test_storage_back_on_microsoft_keys(dev_pack: PolicyPackAnalyzer, dev_cmk: ProgramRun) -> None:
    records = edited(
        dev_cmk.resources, one(dev_cmk.resources, ACCOUNT, "storage-st"), {"encryption.keySource": "Microsoft.Storage"}
    )
    assert "not Microsoft.Keyvault" in caught(dev_pack, records, "storage-customer-managed-key")[0]


def test_registry_key_pinned_to_a_version(dev_pack: PolicyPackAnalyzer, dev_cmk: ProgramRun) -> None:
    registry = one(dev_cmk.resources, REGISTRY, "registry-cr")
    uri = registry.inputs["encryption"]["keyVaultProperties"]["keyIdentifier"]
    records = edited(dev_cmk.resources, registry, {"encryption.keyVaultProperties.keyIdentifier": f"{uri}/{'a' * 32}"})
    assert "names a key version" in caught(dev_pack, records, "acr-customer-managed-key")[0]


def test_postgres_created_with_service_keys(dev_pack: PolicyPackAnalyzer, dev_cmk: ProgramRun) -> None:
    records = edited(
        dev_cmk.resources, one(dev_cmk.resources, SERVER, "psql"), {"dataEncryption.type": "SystemAssigned"}
    )
    assert "not AzureKeyVault" in caught(dev_pack, records, "postgres-customer-managed-key")[0]


def test_cluster_without_disk_encryption_set(dev_pack: PolicyPackAnalyzer, dev_cmk: ProgramRun) -> None:
    records = edited(dev_cmk.resources, one(dev_cmk.resources, CLUSTER), {"diskEncryptionSetID": DELETE})
    assert "platform-managed keys" in caught(dev_pack, records, "aks-disk-customer-managed-key")[0]


def test_disk_encryption_set_stops_following_rotation(dev_pack: PolicyPackAnalyzer, dev_cmk: ProgramRun) -> None:
    records = edited(dev_cmk.resources, one(dev_cmk.resources, DES), {"rotationToLatestKeyVersionEnabled": False})
    assert "stay on the key version" in caught(dev_pack, records, "disk-encryption-set-follows-rotation")[0]


def test_key_rotation_policy_removed(dev_pack: PolicyPackAnalyzer, dev_cmk: ProgramRun) -> None:
    key = one(dev_cmk.resources, KEY, "key-postgres")
    records = edited(dev_cmk.resources, key, {"properties.rotationPolicy": DELETE})
    messages = caught(dev_pack, records, "keyvault-key-rotation-policy")
    assert any("never rotates" in m for m in messages)


def test_key_grant_widened_to_the_vault(dev_pack: PolicyPackAnalyzer, dev_cmk: ProgramRun) -> None:
    grant = one(dev_cmk.resources, GRANT, "storage-key-user")
    vault = grant.inputs["scope"].rsplit("/keys/", 1)[0]
    records = edited(dev_cmk.resources, grant, {"scope": vault})
    assert "not on one key" in caught(dev_pack, records, "customer-key-grants-least-privilege")[0]


def test_encryption_identity_made_crypto_officer(dev_pack: PolicyPackAnalyzer, dev_cmk: ProgramRun) -> None:
    grant = one(dev_cmk.resources, GRANT, "registry-key-user")
    role = grant.inputs["roleDefinitionId"].rsplit("/", 1)[0]
    records = added(
        dev_cmk.resources,
        GRANT,
        "registry-key-officer",
        {**grant.inputs, "roleDefinitionId": f"{role}/{CRYPTO_OFFICER}"},
        property_dependencies={k: list(v) for k, v in grant.property_dependencies.items()},
    )
    assert CRYPTO_OFFICER in caught(dev_pack, records, "customer-key-grants-least-privilege")[0]
