"""encryption.customerManagedKeys: off, the stack registers what it always did; on, each service encrypts with its own
key through its own identity, granted on that key alone before the service is created, and the keys rotate on the
secrets' schedule. Config refuses the combinations Azure (or this stack) cannot build, naming the keys."""

from __future__ import annotations

import collections
import datetime
from typing import Any

import pytest
from stackquery import one, stack_values

from components.encryption import CONSUMERS
from configuration.reader import ConfigError
from configuration.rotation import RotationSchedule
from configuration.stack import parse_settings
from offline.harness import ProgramRun
from policy.coa_policies.cmk import CMK_TAG, CRYPTO_SERVICE_ENCRYPTION_USER

KEY = "azure-native:keyvault:Key"
DES = "azure-native:compute:DiskEncryptionSet"
GRANT = "azure-native:authorization:RoleAssignment"
UAMI = "azure-native:managedidentity:UserAssignedIdentity"
ACCOUNT = "azure-native:storage:StorageAccount"
REGISTRY = "azure-native:containerregistry:Registry"
SERVER = "azure-native:dbforpostgresql:Server"
CLUSTER = "azure-native:containerservice:ManagedCluster"
VAULT = "azure-native:keyvault:Vault"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _types(run: ProgramRun) -> collections.Counter[str]:
    return collections.Counter(r.type for r in run.resources)


def test_off_registers_nothing_the_option_adds(dev: ProgramRun, dev_cmk: ProgramRun) -> None:
    added = _types(dev_cmk) - _types(dev)
    # Per consumer a key; an identity and a grant each for storage, the registry and PostgreSQL; for the disks a
    # disk encryption set, its grant, and the control plane's Reader on it; the component itself.
    assert added == {
        KEY: 4,
        UAMI: 3,
        GRANT: 5,
        DES: 1,
        "coa:security:CustomerKeys": 1,
    }
    assert not _types(dev) - _types(dev_cmk)
    assert {r.urn for r in dev.resources} <= {r.urn for r in dev_cmk.resources}
    off = {r.type: r.inputs for r in dev.resources if r.type in (ACCOUNT, REGISTRY, SERVER, CLUSTER)}
    assert off[ACCOUNT]["encryption"]["keySource"] == "Microsoft.Storage" and "identity" not in off[ACCOUNT]
    assert "encryption" not in off[REGISTRY] and "identity" not in off[REGISTRY]
    assert "dataEncryption" not in off[SERVER] and "identity" not in off[SERVER]
    assert "diskEncryptionSetID" not in off[CLUSTER]
    assert all(CMK_TAG not in (r.inputs.get("tags") or {}) for r in dev.resources)


def test_vault_lets_trusted_services_through_only_with_the_keys(dev: ProgramRun, dev_cmk: ProgramRun) -> None:
    assert one(dev, VAULT).inputs["properties"]["networkAcls"]["bypass"] == "None"
    on = one(dev_cmk, VAULT).inputs["properties"]
    assert on["networkAcls"] == {"bypass": "AzureServices", "defaultAction": "Deny", "ipRules": []}
    assert on["publicNetworkAccess"] == "Disabled"
    # What every service's customer-managed key requires of the vault.
    assert on["enablePurgeProtection"] is True and on["enableSoftDelete"] is True
    assert on["enableRbacAuthorization"] is True


def _key(run: ProgramRun, consumer: str) -> Any:
    return one(run, KEY, f"key-{consumer}")


def test_each_service_encrypts_with_its_own_versionless_key_and_identity(dev_cmk: ProgramRun) -> None:
    identity = {c: one(dev_cmk, UAMI, f"cmk-id-{c}") for c in ("storage", "registry", "postgres")}
    account = one(dev_cmk, ACCOUNT).inputs
    assert account["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert account["encryption"]["keyVaultProperties"] == {
        "keyName": "cmk-storage",
        "keyVaultUri": one(dev_cmk, VAULT).outputs["properties"]["vaultUri"],
    }
    assert account["encryption"]["encryptionIdentity"]["encryptionUserAssignedIdentity"] == identity["storage"].id
    assert account["encryption"]["requireInfrastructureEncryption"] is True
    assert account["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity["storage"].id]}

    registry = one(dev_cmk, REGISTRY).inputs
    assert registry["encryption"]["keyVaultProperties"] == {
        "identity": identity["registry"].outputs["clientId"],
        "keyIdentifier": _key(dev_cmk, "registry").outputs["keyUri"],
    }
    assert list(registry["identity"]["userAssignedIdentities"]) == [identity["registry"].id]
    assert registry["sku"]["name"] == "Premium"

    server = one(dev_cmk, SERVER).inputs
    assert server["dataEncryption"] == {
        "type": "AzureKeyVault",
        "primaryKeyURI": _key(dev_cmk, "postgres").outputs["keyUri"],
        "primaryUserAssignedIdentityId": identity["postgres"].id,
    }
    assert list(server["identity"]["userAssignedIdentities"]) == [identity["postgres"].id]

    des = one(dev_cmk, DES)
    assert one(dev_cmk, CLUSTER).inputs["diskEncryptionSetID"] == des.id
    assert des.inputs["activeKey"]["keyUrl"] == _key(dev_cmk, "disks").outputs["keyUriWithVersion"]
    assert des.inputs["rotationToLatestKeyVersionEnabled"] is True
    assert des.inputs["encryptionType"] == "EncryptionAtRestWithCustomerKey"
    # Versionless where the service follows rotation by itself.
    for consumer in ("registry", "postgres"):
        assert _key(dev_cmk, consumer).outputs["keyUri"].endswith(f"/keys/cmk-{consumer}")


def test_each_grant_is_crypto_service_encryption_user_on_one_key(dev_cmk: ProgramRun) -> None:
    principal = {
        c: one(dev_cmk, UAMI, f"cmk-id-{c}").outputs["principalId"] for c in ("storage", "registry", "postgres")
    }
    principal["disks"] = one(dev_cmk, DES).outputs["identity"]["principalId"]
    grants = {g.name: g.inputs for g in dev_cmk.of_type(GRANT) if "-key-user" in g.name}
    assert len(grants) == len(CONSUMERS)
    for consumer in CONSUMERS:
        grant = grants[f"coa-dev-cmk-{consumer}-key-user"]
        assert grant["scope"] == _key(dev_cmk, consumer).id
        assert grant["principalId"] == principal[consumer]
        assert grant["roleDefinitionId"].rsplit("/", 1)[-1] == CRYPTO_SERVICE_ENCRYPTION_USER


def test_each_service_is_created_after_its_grant(dev_cmk: ProgramRun) -> None:
    grants = {g.name: g.urn for g in dev_cmk.of_type(GRANT)}
    for token, consumer in ((ACCOUNT, "storage"), (REGISTRY, "registry"), (SERVER, "postgres")):
        assert grants[f"coa-dev-cmk-{consumer}-key-user"] in one(dev_cmk, token).dependencies, consumer
    cluster = one(dev_cmk, CLUSTER).dependencies
    assert grants["coa-dev-cmk-disks-key-user"] in cluster
    reader = one(dev_cmk, GRANT, "aks-cp-des")
    assert reader.urn in cluster and reader.inputs["scope"] == one(dev_cmk, DES).id
    assert reader.inputs["roleDefinitionId"].endswith(READER)


def test_keys_rotate_on_the_secrets_schedule(dev_cmk: ProgramRun) -> None:
    rotation = parse_settings(stack_values("dev")).secret_rotation
    schedule = RotationSchedule(
        period_days=rotation.period_days,
        grace_days=rotation.grace_days,
        today=datetime.datetime.now(datetime.UTC).date(),
    )
    for consumer in CONSUMERS:
        properties = _key(dev_cmk, consumer).inputs["properties"]
        assert (properties["kty"], properties["keySize"]) == ("RSA", 3072)
        assert properties["attributes"]["expires"] == schedule.expires()
        assert properties["rotationPolicy"] == {
            "attributes": {"expiryTime": f"P{rotation.period_days + rotation.grace_days}D"},
            "lifetimeActions": [
                {"action": {"type": "rotate"}, "trigger": {"timeBeforeExpiry": f"P{rotation.grace_days}D"}}
            ],
        }


def test_the_option_tags_every_resource_for_the_pack(dev_cmk: ProgramRun) -> None:
    tagged = [r for r in dev_cmk.resources if isinstance(r.inputs.get("tags"), dict)]
    assert tagged and all(r.inputs["tags"][CMK_TAG] == "customer-managed-keys" for r in tagged)


def _parse(stack: str, **changes: Any) -> ConfigError:
    raw = stack_values(stack)
    for key, value in changes.items():
        section, _, leaf = key.partition("__")
        raw[section] = {**raw.get(section, {}), leaf: value} if leaf else value
    with pytest.raises(ConfigError) as raised:
        parse_settings(raw, stack=stack)
    return raised.value


def test_keys_with_geo_redundant_backup_are_refused_naming_both() -> None:
    message = str(_parse("prod", encryption={"customerManagedKeys": True}))
    assert "coa-lockdown:encryption.customerManagedKeys" in message
    assert "coa-lockdown:postgres.geoRedundantBackup" in message


def test_keys_need_a_week_between_rotation_and_expiry() -> None:
    message = str(_parse("dev", encryption={"customerManagedKeys": True}, secrets={"expiryGraceDays": 6}))
    assert "coa-lockdown:secrets.expiryGraceDays: 6" in message and "at least 7" in message


def test_the_encryption_tag_is_the_stacks_own() -> None:
    assert "coa-lockdown:tags.encryption" in str(_parse("dev", tags={"encryption": "none"}))


def test_the_option_defaults_off_in_both_stacks() -> None:
    for stack in ("dev", "prod"):
        assert parse_settings(stack_values(stack), stack=stack).encryption.customer_managed_keys is False
    on = parse_settings({**stack_values("dev"), "encryption": {"customerManagedKeys": True}}, stack="dev")
    assert on.encryption.customer_managed_keys is True
