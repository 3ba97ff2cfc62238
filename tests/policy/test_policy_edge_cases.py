"""Edge cases: unknown values during preview, case, lists vs single values, port parsing, config."""

from __future__ import annotations

import pytest
from policy_fixtures import compliant, mutate
from pulumi_policy import ResourceValidationArgs
from pulumi_policy.proxy import (
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_STRING_VALUE,
    unknown_checking_proxy,
)

from policy.coa_policies import all_policies
from policy.coa_policies._core import UNKNOWN, Rule, to_plain
from policy.coa_policies.kubernetes import split_image
from policy.coa_policies.network import covers

RULES = {p.name: p for p in all_policies() if isinstance(p, Rule)}
ST = "azure-native:storage:StorageAccount"
SR = "azure-native:network:SecurityRule"


@pytest.mark.parametrize(
    ("ranges", "port", "expected"),
    [
        ({"destinationPortRange": "22"}, 22, True),
        ({"destinationPortRange": "20-30"}, 22, True),
        ({"destinationPortRange": "23-30"}, 22, False),
        ({"destinationPortRange": "*"}, 3389, True),
        ({"destinationPortRanges": ["80", "443"]}, 22, False),
        ({"destinationPortRanges": ["80,22"]}, 22, True),
        ({"destinationPortRanges": ["1000-2000", " 21 - 23 "]}, 22, True),
        ({"destinationPortRange": UNKNOWN}, 22, False),
    ],
)
def test_port_ranges(ranges: dict[str, object], port: int, expected: bool) -> None:
    assert covers(ranges, port) is expected


def test_enum_values_compare_case_insensitively() -> None:
    props = mutate(compliant(ST), {"publicNetworkAccess": "disabled", "minimumTlsVersion": "tls1_2"})
    assert RULES["storage-account-public-network-restricted"].evaluate(props) == []
    assert RULES["storage-account-tls-1-2-minimum"].evaluate(props) == []
    rule = mutate(
        compliant(SR),
        {
            "access": "allow",
            "direction": "inbound",
            "protocol": "TCP",
            "sourceAddressPrefix": "INTERNET",
            "destinationPortRange": "22",
        },
    )
    assert RULES["nsg-no-ssh-from-internet"].evaluate(rule, type=SR)


def test_single_value_and_list_are_both_read() -> None:
    single = mutate(compliant(SR), {"sourceAddressPrefix": "*"})
    listed = mutate(compliant(SR), {"sourceAddressPrefixes": ["10.0.0.0/8", "*"]})
    for props in (single, listed):
        assert RULES["nsg-no-inbound-from-internet"].evaluate(props, type=SR)


def test_udp_only_rule_does_not_expose_ssh() -> None:
    props = mutate(compliant(SR), {"sourceAddressPrefix": "*", "protocol": "Udp", "destinationPortRange": "22"})
    assert RULES["nsg-no-ssh-from-internet"].evaluate(props, type=SR) == []
    assert RULES["nsg-no-inbound-from-internet"].evaluate(props, type=SR)


def test_forbidden_subnets_need_no_nsg_and_exemptions_are_configurable() -> None:
    vnet = compliant("azure-native:network:VirtualNetwork")
    rule = RULES["subnet-has-nsg"]
    assert rule.evaluate(vnet, type="azure-native:network:VirtualNetwork") == []
    assert rule.evaluate(vnet, type="azure-native:network:VirtualNetwork", config={"exemptSubnets": []})


@pytest.mark.parametrize("engine_unknown", [None, UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE])
def test_computed_values_never_violate(engine_unknown: object) -> None:
    props = mutate(
        compliant(ST),
        {
            "allowBlobPublicAccess": engine_unknown,
            "publicNetworkAccess": engine_unknown,
            "encryption": engine_unknown,
            "minimumTlsVersion": engine_unknown,
        },
    )
    for name in (
        "storage-account-blob-public-access-disabled",
        "storage-account-public-network-restricted",
        "storage-account-infrastructure-encryption",
        "storage-account-tls-1-2-minimum",
    ):
        assert RULES[name].evaluate(props) == [], name


def test_unknown_is_not_missing() -> None:
    pool = "azure-native:batch:Pool"
    computed = mutate(compliant(pool), {"networkConfiguration.subnetId": None})
    assert RULES["batch-pool-in-subnet"].evaluate(computed, type=pool) == []
    absent = compliant(pool)
    del absent["networkConfiguration"]["subnetId"]
    assert RULES["batch-pool-in-subnet"].evaluate(absent, type=pool)


def test_validate_through_the_sdk_proxy_reports_and_tolerates_unknowns() -> None:
    """The same path the pack takes: SDK proxy props, ResourceValidationArgs, report callback."""
    reported: list[str] = []
    rule = RULES["storage-account-https-only"]
    for value, expected in ((False, 1), (UNKNOWN_BOOLEAN_VALUE, 0), (True, 0)):
        reported.clear()
        props = unknown_checking_proxy(mutate(compliant(ST), {"enableHttpsTrafficOnly": value}))
        args = ResourceValidationArgs(ST, props, "urn:x", "st", None, None)  # type: ignore[arg-type]
        rule.validate(args, lambda message, urn=None: reported.append(message))
        assert len(reported) == expected, value


def test_to_plain_unwraps_nested_unknowns() -> None:
    proxied = unknown_checking_proxy({"a": {"b": [UNKNOWN_STRING_VALUE, "x"]}, "c": None})
    assert to_plain(proxied) == {"a": {"b": [UNKNOWN, "x"]}, "c": UNKNOWN}


def test_config_overrides_defaults() -> None:
    log = "azure-native:operationalinsights:Workspace"
    rule = RULES["log-analytics-retention-minimum"]
    assert rule.evaluate({"retentionInDays": 90}, type=log) == []
    assert rule.evaluate({"retentionInDays": 90}, type=log, config={"minRetentionDays": 365})
    ai = RULES["appinsights-public-access-disabled"]
    open_query = mutate(
        compliant("azure-native:applicationinsights:Component"), {"publicNetworkAccessForQuery": "Enabled"}
    )
    assert ai.evaluate(open_query)
    assert ai.evaluate(open_query, config={"requireQueryDisabled": False}) == []
    dep = "kubernetes:apps/v1:Deployment"
    writable = mutate(compliant(dep), {"spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem": False})
    assert (
        RULES["k8s-read-only-root-filesystem"].evaluate(writable, type=dep, config={"exemptContainers": ["app"]}) == []
    )
    docker_hub = mutate(compliant(dep), {"spec.template.spec.containers.0.image": "busybox:1.36"})
    registry = RULES["k8s-image-from-allowed-registry"]
    assert registry.evaluate(docker_hub, type=dep)
    assert registry.evaluate(docker_hub, type=dep, config={"allowedRegistries": ["docker.io"]}) == []


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("busybox", ("docker.io", "busybox", "")),
        ("library/busybox:1.36", ("docker.io", "library/busybox", "1.36")),
        ("coacr.azurecr.io/tes:5.0.1", ("coacr.azurecr.io", "tes", "5.0.1")),
        ("localhost:5000/x", ("localhost:5000", "x", "")),
        ("mcr.microsoft.com/a/b@sha256:abc", ("mcr.microsoft.com", "a/b", "sha256:abc")),
    ],
)
def test_split_image(image: str, expected: tuple[str, str, str]) -> None:
    assert split_image(image) == expected


def test_addon_profile_key_is_case_insensitive() -> None:
    aks = "azure-native:containerservice:ManagedCluster"
    props = mutate(compliant(aks), {"addonProfiles": {"AzurePolicy": {"enabled": True}}})
    assert RULES["aks-azure-policy-addon"].evaluate(props, type=aks) == []
