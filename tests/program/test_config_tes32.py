"""taskDatabase cosmosdb (CoA 3.2, the reduced-assurance generation): everything it needs is stated, each weakening is a
named guardrail (refused in production without its override, warned in dev), and what cannot work is refused by key
with the reference line that proves it."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest
from stackquery import resolved_lock, stack_values, tes32_config

from configuration.reader import ConfigError
from configuration.settings import Settings
from configuration.stack import parse_settings
from configuration.tes32 import WEAKENINGS

TODAY = datetime.date(2026, 6, 1)
PINNED = resolved_lock()


def cosmosdb(stack: str) -> tuple[dict[str, Any], frozenset[str]]:
    """The stack's raw keys turned to the 3.2 generation, and which of them Pulumi holds as secrets."""
    values = stack_values(stack)
    secrets = set()
    for full_key, value in tes32_config(stack).items():
        key = full_key.split(":", 1)[1]
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.add(key)
            value = "client-secret-value"
        values[key] = copy.deepcopy(value)
    for app in values["applicationCredentials"].values():
        app["secretExpiresOn"] = "2027-03-31"  # ten months after TODAY
    # These tests start from a fully pinned lock: nothing is left for unpinnedImages to accept.
    values.get("guardrailOverrides", {}).pop("unpinnedImages", None)
    return values, frozenset(secrets)


def parse(values: dict[str, Any], stack: str, secrets: frozenset[str]) -> Settings:
    return parse_settings(values, stack=stack, secret_keys=secrets, images=PINNED, today=TODAY)


def errors(values: dict[str, Any], stack: str = "dev", secrets: frozenset[str] | None = None) -> list[str]:
    secrets = cosmosdb(stack)[1] if secrets is None else secrets
    with pytest.raises(ConfigError) as caught:
        parse(values, stack, secrets)
    assert all(len(line) <= 200 for line in caught.value.errors), caught.value.errors
    return list(caught.value.errors)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stated_generation_parses(stack: str) -> None:
    values, secrets = cosmosdb(stack)
    settings = parse(values, stack, secrets)
    assert settings.task_database == "cosmosdb" and settings.generation == "tes32"
    assert settings.tes32 is not None
    cosmos = settings.tes32.cosmos
    assert cosmos.account_name == f"cosmos-coa-{stack}-{values['nameSuffix']}"
    assert cosmos.local_auth_enabled is True
    # Production keeps 30 days of point-in-time restore across zones; dev 7 days in one zone.
    assert (cosmos.backup_tier, cosmos.zone_redundant) == (
        ("Continuous30Days", True) if stack == "prod" else ("Continuous7Days", False)
    )
    tes, trigger = settings.tes32.credentials["tes"], settings.tes32.credentials["triggerservice"]
    assert (tes.secret_key, trigger.secret_key) == ("tesClientSecret", "triggerServiceClientSecret")
    assert tes.secret_expires_on == datetime.date(2027, 3, 31)
    # The lock's 3.2 view: CoA 3.2.0's images from MCR through the cache, and the blobxfer the nodes run.
    assert settings.images["tes"].key == "tes32" and settings.images["tes"].tag == "3"
    assert settings.images["triggerservice"].key == "triggerservice32"
    assert "blobxfer" in settings.images.keys
    assert settings.storage_shared_key_access is True


def test_dev_runs_every_weakening_unacknowledged_and_says_so() -> None:
    values, secrets = cosmosdb("dev")
    settings = parse(values, "dev", secrets)
    assert settings.unacknowledged_weakenings == WEAKENINGS
    assert settings.guardrail_overrides == {}


def test_prod_accepts_each_weakening_only_by_name() -> None:
    values, secrets = cosmosdb("prod")
    settings = parse(values, "prod", secrets)
    assert set(WEAKENINGS) <= set(settings.guardrail_overrides)
    assert settings.unacknowledged_weakenings == {}
    for name in WEAKENINGS:
        without = copy.deepcopy(values)
        del without["guardrailOverrides"][name]
        (line,) = [e for e in errors(without, "prod", secrets) if f"guardrailOverrides.{name}" in e]
        assert "is refused in production" in line


def test_a_dev_override_of_a_weakening_is_recorded_not_warned() -> None:
    values, secrets = cosmosdb("dev")
    values["guardrailOverrides"] = {"cosmosLocalAuth": "accepted for the migration rehearsal (SEC-2101)"}
    settings = parse(values, "dev", secrets)
    assert settings.guardrail_overrides == {"cosmosLocalAuth": "accepted for the migration rehearsal (SEC-2101)"}
    assert "cosmosLocalAuth" not in settings.unacknowledged_weakenings


REFUSED: list[tuple[str, Any, list[str]]] = [
    # Stated, not defaulted: TES 3.2 opens its store with the key.
    ("cosmos", {}, ["coa-lockdown:cosmos.localAuthEnabled: must be stated true", "AzureProxy.cs:145"]),
    ("cosmos", {"localAuthEnabled": False}, ["coa-lockdown:cosmos.localAuthEnabled: false cannot work"]),
    ("cosmos", {"localAuthEnabled": True, "maxAutoscaleThroughput": 4500}, ["maxAutoscaleThroughput", "1000"]),
    ("cosmos", {"localAuthEnabled": True, "accountName": "Cosmos_Bad"}, ["cosmos.accountName", "3-44 lowercase"]),
    ("cosmos", {"localAuthEnabled": True, "backupTier": "Periodic"}, ["cosmos.backupTier", "Continuous7Days"]),
    ("storage", {"allowSharedKeyAccess": False}, ["storage.allowSharedKeyAccess: must be true", "160-167"]),
    (
        "dataStorageAccounts",
        [
            {
                "id": "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg/providers/"
                "Microsoft.Storage/storageAccounts/stseq01",
                "containers": [{"name": "runs", "access": "read"}],
                "allowBlobPublicAccess": False,
                "roleAssignments": "stack",
                "endpointApproval": "automatic",
            }
        ],
        ["coa-lockdown:dataStorageAccounts: is refused", "AzureProxy.cs:601-608", "per-container access"],
    ),
    (
        "batch",
        {"maxNodes": 200, "images": {"gen1": {"sku": "2204"}}},
        ["coa-lockdown:batch.images.gen1: is not read", "BatchScheduler.cs:91-95"],
    ),
    # A generation-1-only family: TES 3.2 would start it on its one (generation 2) image.
    (
        "batch",
        {"maxNodes": 200, "allowedVmSizes": ["standardDv3Family"]},
        ["batch.allowedVmSizes", "covers Standard_D16_v3, which TES 3.2 starts on batch.images.gen2", "V2, not V1"],
    ),
]


@pytest.mark.parametrize(("key", "value", "expected"), REFUSED, ids=[f"{k}={v!r}"[:60] for k, v, _ in REFUSED])
def test_what_cannot_work_is_refused_by_key(key: str, value: Any, expected: list[str]) -> None:
    values, _ = cosmosdb("dev")
    values[key] = value
    found = errors(values)
    assert any(all(part in line for part in expected) for line in found), found


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda a: a["tes"].pop("objectId"), "applicationCredentials.tes.objectId: is required"),
        (lambda a: a["tes"].update(clientId="tes-app"), "applicationCredentials.tes.clientId: 'tes-app' is not a GUID"),
        (lambda a: a["triggerservice"].pop("secretExpiresOn"), "triggerservice.secretExpiresOn: is required"),
        (lambda a: a["tes"].update(secretExpiresOn="2026-05-31"), "tes.secretExpiresOn: 2026-05-31 has passed"),
        # Key Vault secrets here expire within a year (keyvault-secret-expiry-bounded).
        (lambda a: a["tes"].update(secretExpiresOn="2027-06-02"), "more than 365 days away"),
        # TriggerService stops when any account its application sees refuses it its keys.
        (lambda a: a.update(triggerservice=dict(a["tes"])), "applicationCredentials.triggerservice: names TES's"),
        (lambda a: a.pop("triggerservice"), "applicationCredentials.triggerservice: is required"),
    ],
    ids=["no-object-id", "client-id", "no-expiry", "expired", "too-long", "shared-app", "missing-app"],
)
def test_each_application_credential_is_complete_and_current(change: Any, expected: str) -> None:
    values, _ = cosmosdb("dev")
    change(values["applicationCredentials"])
    found = errors(values)
    assert any(expected in line for line in found), found


def test_client_secrets_come_only_from_the_secret_store() -> None:
    values, secrets = cosmosdb("dev")
    found = errors(values, secrets=secrets - {"tesClientSecret"})
    assert any(
        line.startswith("coa-lockdown:tesClientSecret: is in plain text; set it with pulumi config set --secret")
        for line in found
    ), found
    del values["triggerServiceClientSecret"]
    assert any("triggerServiceClientSecret: is required" in line for line in errors(values))
    values, _ = cosmosdb("dev")
    values["tesClientSecret"] = "abc;AppKey=other"  # would end the connection string early
    assert any("tesClientSecret: is blank or holds ';'" in line for line in errors(values))


def test_the_generations_keys_are_refused_in_a_tes6_stack() -> None:
    values, secrets = cosmosdb("dev")
    values["taskDatabase"] = "postgresql"
    found = errors(values, secrets=secrets)
    for key in ("cosmos", "applicationCredentials", "tesClientSecret", "triggerServiceClientSecret"):
        assert f"coa-lockdown:{key}: is only read with taskDatabase cosmosdb (the CoA 3.2 generation); remove it" in (
            found
        )


def test_the_cosmos_zone_is_a_hub_zone_only_where_cosmos_runs() -> None:
    zone = (
        "/subscriptions/00000000-0000-4000-8000-00000000beef/resourceGroups/rg-hub/providers/Microsoft.Network/"
        "privateDnsZones/privatelink.documents.azure.com"
    )
    tes6 = stack_values("dev")
    tes6["dns"] = {"existingZoneIds": {"documents": zone}, "hubZoneResolution": "linkedByHub"}
    with pytest.raises(
        ConfigError, match=r"dns.existingZoneIds.documents: is only resolved with taskDatabase cosmosdb"
    ):
        parse_settings(tes6, stack="dev", images=PINNED, today=TODAY)
    values, secrets = cosmosdb("dev")
    values["dns"] = {"existingZoneIds": {"documents": zone}, "hubZoneResolution": "linkedByHub"}
    assert parse(values, "dev", secrets).dns.existing_zone_ids == {"documents": zone}
