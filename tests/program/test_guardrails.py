"""Production guardrails and the one validation pass: refused before any resource with key, value, rule and fix;
accepted on purpose only through a named override with a reason; every error reported at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from stackquery import resolved_lock, stack_values

from configuration.image_lock import ImageLock
from configuration.reader import ConfigError
from configuration.settings import Settings
from configuration.stack import parse_settings

REPO = Path(__file__).resolve().parents[2]


PINNED = resolved_lock()


def parse(values: dict[str, Any], *, stack: str, images: ImageLock = PINNED) -> Settings:
    return parse_settings(values, stack=stack, images=images)


def raw(stack: str) -> dict[str, Any]:
    values = stack_values(stack)
    # The checked-in prod stack accepts the pending image digests; these tests start from a fully pinned lock.
    values.pop("guardrailOverrides", None)
    return values


def changed(stack: str, **changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(raw(stack))
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = values
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return values


DELETE = object()


BREACHES = [
    # (override name, change to the prod stack, key named in the error)
    ("unprotectedState", {"protectStatefulResources": False}, "protectStatefulResources"),
    ("unprotectedState", {"resourceLocks": False}, "protectStatefulResources"),
    ("sharedKeyAccess", {"storage__allowSharedKeyAccess": True}, "storage.allowSharedKeyAccess"),
    ("noClusterAdminGroups", {"kubernetes__adminGroupObjectIds": []}, "kubernetes.adminGroupObjectIds"),
    ("locallyRedundantStorage", {"storage__redundancy": "ZRS"}, "storage.redundancy"),
]


@pytest.mark.parametrize(("override", "change", "key"), BREACHES, ids=[f"{b[0]}-{next(iter(b[1]))}" for b in BREACHES])
def test_production_refuses_each_breach_and_accepts_it_only_by_name(
    override: str, change: dict[str, Any], key: str
) -> None:
    values = changed("prod", **change)
    with pytest.raises(ConfigError) as refused:
        parse(values, stack="prod")
    (message,) = refused.value.errors
    assert message.startswith(f"coa-lockdown:{key}: ") and len(message) <= 200, message
    assert "refused in production" in message and f"guardrailOverrides.{override}: <reason>" in message
    values["guardrailOverrides"] = {override: "accepted for the migration window, ticket SEC-1234"}
    settings = parse(values, stack="prod")
    assert settings.guardrail_overrides == {override: "accepted for the migration window, ticket SEC-1234"}


def test_the_same_changes_are_fine_outside_production() -> None:
    for _, change, _ in BREACHES:
        settings = parse(changed("dev", **change), stack="dev")
        assert settings.production is False and settings.guardrail_overrides == {}


def test_a_production_named_stack_with_a_dev_environment_is_refused() -> None:
    for stack in ("prod", "production", "genomics-prod", "prod-eastus2"):
        with pytest.raises(
            ConfigError,
            match=r"coa-lockdown:environment: dev is refused in production \(a production-named stack runs as prod\)",
        ):
            parse(changed("prod", environment="dev"), stack=stack)
    # Not production by name: a dev environment is just dev.
    assert parse(changed("dev"), stack="products-dev").production is False


def test_an_override_needs_a_known_name_and_a_real_reason() -> None:
    with pytest.raises(
        ConfigError, match=r"guardrailOverrides.sharedKeyAcess: unknown key; did you mean 'sharedKeyAccess'\?"
    ):
        parse(changed("prod", guardrailOverrides={"sharedKeyAcess": "because we need it for now"}), stack="prod")
    with pytest.raises(ConfigError, match=r"guardrailOverrides\.sharedKeyAccess: 'ok' is not a reason"):
        parse(
            changed("prod", storage__allowSharedKeyAccess=True, guardrailOverrides={"sharedKeyAccess": "ok"}),
            stack="prod",
        )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_override_that_overrides_nothing_is_refused(stack: str) -> None:
    """A standing pre-approval would let the breach through unseen the day it happens."""
    values = changed(stack, guardrailOverrides={"sharedKeyAccess": "kept from an earlier migration"})
    with pytest.raises(ConfigError, match=r"guardrailOverrides.sharedKeyAccess: overrides nothing .*; remove it"):
        parse(values, stack=stack)


def test_production_defaults_protect_lock_and_geo_replicate() -> None:
    prod = parse(raw("prod"), stack="prod")
    assert (prod.protect_stateful_resources, prod.resource_locks, prod.storage_redundancy) == (True, True, "GZRS")
    dev = parse(raw("dev"), stack="dev")
    assert (dev.protect_stateful_resources, dev.resource_locks, dev.storage_redundancy) == (False, False, "ZRS")


# --- one pass, every error, named keys -------------------------------------------------------------------------------


def test_errors_in_several_sections_are_reported_together() -> None:
    values = changed(
        "prod",
        location="mars",
        network__egress="carrierPigeon",
        postgres__backupRetentionDays=99,
        storage__allowSharedKeyAccess=True,
        tags="a=b",
    )
    with pytest.raises(ConfigError) as refused:
        parse(values, stack="prod")
    message = str(refused.value)
    assert message.startswith("5 configuration errors:")
    for key in ("location", "network.egress", "postgres.backupRetentionDays", "storage.allowSharedKeyAccess", "tags"):
        assert f"coa-lockdown:{key}:" in message, key


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"names": {"storage_account": "stmine01"}},
            "coa-lockdown:names.storage_account: unknown key; did you mean 'storageAccount'?",
        ),
        ({"kubernetes__adminGroupObjectIDs": []}, "did you mean 'adminGroupObjectIds'?"),
        (
            {"protectStatefulResource": True},
            "coa-lockdown:protectStatefulResource: unknown key; did you mean 'protectStatefulResources'?",
        ),
        (
            {"network__trustedSourceCidrs": "10.0.0.0/22"},
            "coa-lockdown:network.trustedSourceCidrs: must be a list of strings, got '10.0.0.0/22'; write [10.0.0.0/22]",
        ),
        ({"tags": "a=b"}, "coa-lockdown:tags: must be a map of strings"),
        (
            {"kubernetes__adminGroupObjectIds": "[not json"},
            "coa-lockdown:kubernetes.adminGroupObjectIds: must be a list of strings",
        ),
        (
            {"storage__redundancy": "LRS"},
            "coa-lockdown:storage.redundancy: 'LRS' is not valid; use one of GZRS, RAGZRS, ZRS",
        ),
    ],
)
def test_shape_errors_name_the_key(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse(changed("dev", **change), stack="dev")
    assert expected in str(refused.value)


# --- Azure's own rules, before Azure rejects them halfway through a deployment ------------------------------------------

AZURE_RULES = [
    ("prod", {"network__firewallPrivateIp": "20.50.1.4"}, "network.firewallPrivateIp", "public address"),
    ("prod", {"network__firewallPrivateIp": "10.9.1.4"}, "network.firewallPrivateIp", "outside the hub ranges"),
    (
        "prod",
        {"kubernetes__serviceCidr": "10.0.0.0/16", "kubernetes__dnsServiceIp": "10.0.0.10"},
        "kubernetes.serviceCidr",
        "overlaps the hub range",
    ),
    ("dev", {"kubernetes__dnsServiceIp": "10.2.0.0"}, "kubernetes.dnsServiceIp", "reserved"),
    ("dev", {"kubernetes__dnsServiceIp": "10.2.0.1"}, "kubernetes.dnsServiceIp", "reserved"),
    ("dev", {"kubernetes__podCidr": "172.31.0.0/16"}, "kubernetes.podCidr", "AKS reserves"),
    (
        "dev",
        {"kubernetes__serviceCidr": "169.254.0.0/16", "kubernetes__dnsServiceIp": "169.254.0.10"},
        "kubernetes.serviceCidr",
        "AKS reserves",
    ),
    ("dev", {"postgres__storageSizeGb": 100}, "postgres.storageSizeGb", "not a size Azure offers"),
    ("dev", {"postgres__storageSizeGb": 65536}, "postgres.storageSizeGb", "out of range"),
    ("dev", {"postgres__skuTier": "GeneralPurpose"}, "postgres.skuTier", "Burstable SKU"),
    ("prod", {"postgres__skuName": "Standard_E4ds_v5"}, "postgres.skuTier", "MemoryOptimized SKU"),
    ("dev", {"location": "westus"}, "location", "has no availability zones"),
    ("dev", {"location": "westeuropa"}, "location", "did you mean 'westeurope'?"),
]


@pytest.mark.parametrize(
    ("stack", "change", "key", "words"), AZURE_RULES, ids=[f"{r[2]}-{i}" for i, r in enumerate(AZURE_RULES)]
)
def test_azure_rules_are_checked_before_any_resource(stack: str, change: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse(changed(stack, **change), stack=stack)
    assert f"coa-lockdown:{key}:" in str(refused.value) and words in str(refused.value), str(refused.value)


@pytest.mark.parametrize(
    "change",
    [
        {"postgres__storageSizeGb": 32767},
        {"postgres__skuName": "Standard_E4ds_v5", "postgres__skuTier": "MemoryOptimized"},
        {"kubernetes__serviceCidr": "10.3.0.0/16", "kubernetes__dnsServiceIp": "10.3.0.10"},
        {"network__firewallPrivateIp": "10.0.2.4"},
        {"kubernetes__userPool": {"vmSize": "Standard_D16ds_v5", "minCount": 3, "maxCount": 100}},
        # A region without ACR Tasks agent pools, with TES and TriggerService built elsewhere and recorded.
        {"location": "swedencentral", "imageBuild": {"enabled": False}, "network__subnets__acrTasks": DELETE},
        {"resourceGroupName": "rg-genomics-shared"},
        {"names": {"storageAccount": "stgenomicsphi01", "keyVault": "kv-genomics-phi-01", "cluster": "aks_genomics"}},
        {"batch": {"maxNodes": 30000}, "network__subnets__batch": "10.20.128.0/17"},
    ],
)
def test_unusual_but_valid_values_are_accepted(change: dict[str, Any]) -> None:
    assert parse(changed("prod", **change), stack="prod").production


def test_firewall_egress_in_dev_is_accepted() -> None:
    values = changed("dev", network__egress="firewall", network__firewallPrivateIp="10.0.1.4")
    values["network"]["trustedSourceCidrs"] = ["10.0.0.0/22"]
    settings = parse(values, stack="dev")
    assert settings.network.egress == "firewall" and settings.network.firewall_private_ip == "10.0.1.4"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("names", {"storageAccount": 123}, "coa-lockdown:names.storageAccount: must be a non-empty string, got 123"),
        ("network", "", "coa-lockdown:network: must be an object"),
        ("postgres", [], "coa-lockdown:postgres: must be an object"),
        ("batch", {"maxNodes": "many"}, "coa-lockdown:batch.maxNodes: must be a whole number, got 'many'"),
        ("guardrailOverrides", "yes", "coa-lockdown:guardrailOverrides: must be an object"),
        ("dataStorageAccounts", "", "coa-lockdown:dataStorageAccounts: must be a list of objects"),
    ],
)
def test_a_wrong_shape_never_crashes_and_names_the_key(key: str, value: Any, expected: str) -> None:
    values = changed("prod")
    values[key] = value
    with pytest.raises(ConfigError) as refused:
        parse(values, stack="prod")
    assert expected in str(refused.value)


def test_an_invalid_environment_is_one_error_not_two() -> None:
    with pytest.raises(ConfigError) as refused:
        parse(changed("prod", environment=1), stack="prod")
    assert str(refused.value) == "coa-lockdown:environment: must be a non-empty string, got 1"


def test_production_refuses_pending_image_digests_unless_accepted_by_name() -> None:
    values = raw("prod")
    with pytest.raises(ConfigError) as refused:
        parse(values, stack="prod", images=resolved_lock(cromwell={"digest": None}, smokeTestTask={"digest": None}))
    message = str(refused.value)
    assert "images.lock.json" in message and "cromwell, smokeTestTask" in message
    assert "guardrailOverrides.unpinnedImages" in message and "dbClient" not in message
    values["guardrailOverrides"] = {"unpinnedImages": "registry unreachable from the build host, SEC-77"}
    settings = parse(values, stack="prod", images=resolved_lock(cromwell={"digest": None}))
    assert settings.guardrail_overrides == {"unpinnedImages": "registry unreachable from the build host, SEC-77"}
    # Outside production a pending digest is allowed (the chart falls back to the tag).
    dev = parse(raw("dev"), stack="dev", images=resolved_lock(cromwell={"digest": None}))
    assert dev.images.unpinned() == ["cromwell"]


def test_an_image_the_stack_builds_is_never_pending() -> None:
    """TES without a recorded digest is built during `pulumi up` and run by the digest the build prints."""
    settings = parse(raw("prod"), stack="prod", images=resolved_lock(tes={"digest": None}))
    assert settings.images.unpinned() == [] and settings.images.built() == ["tes"]
    # Pulled through MCR's cache rule instead (imageBuild disabled), the same entry is a pending pin again.
    values = raw("prod")
    values["imageBuild"] = {"enabled": False}
    values["network"]["subnets"].pop("acrTasks")
    with pytest.raises(ConfigError, match="digests pending for tes"):
        parse(values, stack="prod", images=resolved_lock(tes={"digest": None}))
