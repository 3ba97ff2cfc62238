"""Shared keys are mandatory-off in production only (and how production is recognised); PostgreSQL firewall ranges."""

from __future__ import annotations

import ipaddress

import pytest
from policy_fixtures import DELETE, compliant, mutate

from policy.coa_policies import all_policies
from policy.coa_policies._core import UNKNOWN, Rule
from policy.coa_policies.postgres import address_range

RULES = {p.name: p for p in all_policies() if isinstance(p, Rule)}
ST = "azure-native:storage:StorageAccount"
PGFW = "azure-native:dbforpostgresql:FirewallRule"
PROD_RULE = RULES["storage-account-shared-key-disabled-production"]
ADVISORY_RULE = RULES["storage-account-shared-key-disabled"]
FIREWALL_RULE = RULES["postgres-firewall-no-wide-ranges"]
DIGEST_RULE = RULES["k8s-image-digest-pinned-production"]
DEP = "kubernetes:apps/v1:Deployment"


def account(tags: object = DELETE, shared_key: object = True) -> dict[str, object]:
    return mutate(compliant(ST), {"tags": tags, "allowSharedKeyAccess": shared_key})


def urn(stack: str) -> str:
    return f"urn:pulumi:{stack}::coa::{ST}::st"


# --- storage-account-shared-key-disabled-production -------------------------------------------------------------


def test_levels_mandatory_in_production_advisory_elsewhere() -> None:
    assert PROD_RULE.enforcement_level is not None and PROD_RULE.enforcement_level.value == "mandatory"
    assert ADVISORY_RULE.enforcement_level is not None and ADVISORY_RULE.enforcement_level.value == "advisory"


def test_silent_on_dev_tagged_account_with_shared_keys_fires_on_prod_tagged() -> None:
    dev = account({"environment": "dev", "workload": "cromwell-on-azure"})
    prod = account({"environment": "prod", "workload": "cromwell-on-azure"})
    assert PROD_RULE.evaluate(dev, urn=urn("dev")) == []
    assert ADVISORY_RULE.evaluate(dev) != []  # outside production shared keys still warn
    (message,) = PROD_RULE.evaluate(prod, urn=urn("dev"))
    assert "allowSharedKeyAccess is true" in message and "environment='prod'" in message


def test_unset_shared_key_access_is_azure_default_true() -> None:
    (message,) = PROD_RULE.evaluate(account({"environment": "production"}, DELETE))
    assert "not set (Azure's default is true)" in message


@pytest.mark.parametrize("shared_key", [False, None])  # None: computed during preview
def test_disabled_or_computed_shared_key_access_passes(shared_key: object) -> None:
    assert PROD_RULE.evaluate(account({"environment": "prod"}, shared_key)) == []


def test_untagged_account_outside_production_stacks_is_not_production() -> None:
    assert PROD_RULE.evaluate(account()) == []
    assert PROD_RULE.evaluate(account(), urn=urn("dev")) == []
    assert PROD_RULE.evaluate(account({"workload": "x"}), urn=urn("staging")) == []


def test_computed_tags_are_judged_at_update() -> None:
    assert PROD_RULE.evaluate(account(None)) == []
    assert PROD_RULE.evaluate(account({"environment": None})) == []
    # ...unless another signal already says production.
    assert PROD_RULE.evaluate(account(None), urn=urn("prod"))


def test_tag_name_and_value_compare_case_insensitively() -> None:
    assert PROD_RULE.evaluate(account({"Environment": "PROD"}))


@pytest.mark.parametrize(
    ("tags", "stack", "config", "fires"),
    [
        # The stack name (URN) counts, with the same globs as stateful-resources-protected-in-production.
        ({"environment": "dev"}, "prod", {}, True),
        ({"environment": "dev"}, "prod-westeurope", {}, True),
        ({"environment": "dev"}, "prod", {"productionStacks": []}, False),
        ({"environment": "dev"}, "live", {"productionStacks": ["live"]}, True),
        # The tag values are configurable (globs)...
        ({"environment": "prod"}, "dev", {"productionTagValues": ["live"]}, False),
        ({"environment": "live"}, "dev", {"productionTagValues": ["live"]}, True),
        ({"environment": "prod-eu"}, "dev", {"productionTagValues": ["prod-*"]}, True),
        # ...and so is the tag name.
        ({"environment": "prod"}, "dev", {"productionTag": "stage"}, False),
        ({"stage": "production"}, "dev", {"productionTag": "stage"}, True),
        # production: true (the production stack's policy config) makes every account production.
        ({"environment": "dev"}, "dev", {"production": True}, True),
        (DELETE, "", {"production": True}, True),
        ({"environment": "prod"}, "dev", {"production": False}, True),
    ],
)
def test_production_recognition_is_configurable(
    tags: object, stack: str, config: dict[str, object], fires: bool
) -> None:
    found = PROD_RULE.evaluate(account(tags), urn=urn(stack) if stack else "", config=config)
    assert bool(found) is fires, found


def test_message_names_the_production_signal() -> None:
    (by_stack,) = PROD_RULE.evaluate(account(), urn=urn("prod"))
    assert "stack 'prod'" in by_stack
    (by_flag,) = PROD_RULE.evaluate(account(), config={"production": True})
    assert "production: true" in by_flag


# --- postgres-firewall-no-wide-ranges ----------------------------------------------------------------------------


def firewall(start: object, end: object, **config: object) -> list[str]:
    props = mutate(compliant(PGFW), {"startIpAddress": start, "endIpAddress": end})
    return FIREWALL_RULE.evaluate(props, type=PGFW, config=config)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("10.0.0.0", "10.0.0.255", None),  # exactly a /24: 256 addresses
        ("10.0.0.1", "10.0.1.0", None),  # 256 addresses, not aligned
        ("203.0.113.7", "203.0.113.7", None),  # one address
        (" 203.0.113.1 ", "203.0.113.9", None),  # surrounding blanks
        ("10.0.0.9", "10.0.0.1", None),  # reversed but narrow
        ("10.0.0.0", "10.0.1.255", "admits 512 addresses; at most 256"),  # a /23
        ("10.0.0.0", "10.0.1.0", "admits 257 addresses"),  # one over
        ("10.0.1.255", "10.0.0.0", "10.0.0.0-10.0.1.255 (given end first) admits 512"),  # reversed /23
        ("0.0.0.0", "0.0.0.0", "any Azure service"),
        ("0.0.0.0", "255.255.255.255", "whole Internet"),
        ("255.255.255.255", "0.0.0.0", "whole Internet"),
        ("10.0.0.256", "10.0.1.0", "startIpAddress '10.0.0.256' is not an IPv4 address"),
        ("10.0.0.0", "10.0.0.0/24", "endIpAddress '10.0.0.0/24' is not an IPv4 address"),
        ("10.0.0.0", "::1", "endIpAddress '::1' is not an IPv4 address"),
        ("010.0.0.1", "10.0.0.2", "not an IPv4 address"),  # leading zeros are ambiguous (octal)
        ("", "10.0.0.2", "startIpAddress '' is not an IPv4 address"),
        (167772160, "10.0.0.2", "startIpAddress is 167772160, not an IPv4 address"),
        (DELETE, "10.0.0.2", "startIpAddress is not set"),
    ],
)
def test_firewall_range(start: object, end: object, expected: str | None) -> None:
    found = firewall(start, end)
    if expected is None:
        assert found == []
    else:
        (message,) = found
        assert expected in message, message


def test_azure_services_rule_says_why_it_is_too_wide() -> None:
    (message,) = firewall("0.0.0.0", "0.0.0.0")
    assert "0.0.0.0-0.0.0.0" in message and "every tenant" in message


@pytest.mark.parametrize(("start", "end"), [(None, "10.0.0.0"), ("0.0.0.0", None), (None, None)])
def test_computed_addresses_are_judged_at_update(start: object, end: object) -> None:
    assert firewall(start, end) == []


def test_limit_is_configurable_but_special_ranges_are_not() -> None:
    assert firewall("10.0.0.0", "10.0.255.255") != []
    assert firewall("10.0.0.0", "10.0.255.255", maxAddressesPerRule=65536) == []
    assert firewall("10.0.0.0", "10.0.0.1", maxAddressesPerRule=1) != []
    assert firewall("0.0.0.0", "0.0.0.0", maxAddressesPerRule=2**32) != []
    assert firewall("0.0.0.0", "255.255.255.255", maxAddressesPerRule=2**32) != []


def test_address_range() -> None:
    span = address_range("10.0.1.255", "10.0.0.0")
    assert (span.low, span.high, span.size, span.reversed) == (
        ipaddress.IPv4Address("10.0.0.0"),
        ipaddress.IPv4Address("10.0.1.255"),
        512,
        True,
    )
    assert address_range("0.0.0.0", "255.255.255.255").size == 2**32
    with pytest.raises(ValueError, match="endIpAddress"):
        address_range("10.0.0.0", UNKNOWN)


# --- k8s-image-digest-pinned-production --------------------------------------------------------------------------


def deployment(*images: str) -> dict[str, object]:
    spec = compliant(DEP)
    template = spec["spec"]["template"]["spec"]  # type: ignore[index]
    first = template["containers"][0]
    template["containers"] = [{**first, "name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return spec


def dep_urn(stack: str) -> str:
    return f"urn:pulumi:{stack}::coa::{DEP}::coa"


@pytest.mark.parametrize(
    "image",
    ["crcoa.azurecr.io/tes:6.0.0", "crcoa.azurecr.io/tes", "crcoa.azurecr.io/tes:6.0.0@sha256:abc"],
)
def test_production_refuses_an_image_without_a_full_digest(image: str) -> None:
    pinned = "crcoa.azurecr.io/cromwell:87@sha256:" + "b" * 64
    (message,) = DIGEST_RULE.evaluate(deployment(pinned, image), type=DEP, urn=dep_urn("prod"))
    assert f"image {image!r} is not pinned by a sha256 digest; production (stack 'prod')" in message
    assert "'c1'" in message
    assert DIGEST_RULE.evaluate(deployment(pinned, image), type=DEP, config={"production": True})


def test_digest_pinned_images_pass_and_tags_pass_outside_production() -> None:
    pinned = deployment("crcoa.azurecr.io/tes@sha256:" + "c" * 64, "crcoa.azurecr.io/ts:6.0.0@sha256:" + "d" * 64)
    assert DIGEST_RULE.evaluate(pinned, type=DEP, urn=dep_urn("prod")) == []
    assert DIGEST_RULE.evaluate(deployment("crcoa.azurecr.io/tes:6.0.0"), type=DEP, urn=dep_urn("dev")) == []
    assert DIGEST_RULE.enforcement_level is not None and DIGEST_RULE.enforcement_level.value == "mandatory"


# --- keyvault-secrets-and-keys-expire-production ----------------------------------------------------------------

EXPIRY_RULE = RULES["keyvault-secrets-and-keys-expire-production"]
SECRET = "azure-native:keyvault:Secret"


def secret(tags: object, expires: object = DELETE) -> dict[str, object]:
    return mutate(compliant(SECRET), {"tags": tags, "properties.attributes.expires": expires})


def test_a_production_secret_without_expiry_is_refused() -> None:
    (message,) = EXPIRY_RULE.evaluate(secret({"environment": "prod"}), type=SECRET)
    assert "has no expiry" in message and "environment='prod'" in message
    assert EXPIRY_RULE.evaluate(secret({"environment": "dev"}), type=SECRET, urn=f"urn:pulumi:prod::coa::{SECRET}::s")
    assert EXPIRY_RULE.enforcement_level is not None and EXPIRY_RULE.enforcement_level.value == "mandatory"


def test_an_expiring_or_non_production_secret_passes() -> None:
    assert EXPIRY_RULE.evaluate(secret({"environment": "prod"}, 1_800_000_000), type=SECRET) == []
    assert (
        EXPIRY_RULE.evaluate(secret({"environment": "dev"}), type=SECRET, urn=f"urn:pulumi:dev::coa::{SECRET}::s") == []
    )
