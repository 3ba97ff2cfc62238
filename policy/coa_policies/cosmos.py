"""Cosmos DB accounts (TES task store)."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, is_world, items, known, same

# documentdb is the provider's older module name for the same resource (an alias in the SDK).
COSMOS = ("azure-native:cosmosdb:DatabaseAccount", "azure-native:documentdb:DatabaseAccount")


def _cosmos_network(s: Subject) -> Iterable[str]:
    public = get(s.props, "publicNetworkAccess")
    if public is UNKNOWN or same(public, "Disabled"):
        return
    vnet_filter = get(s.props, "isVirtualNetworkFilterEnabled")
    if vnet_filter is UNKNOWN:
        return
    if vnet_filter is not True:
        yield "publicNetworkAccess is not Disabled and isVirtualNetworkFilterEnabled is not true."
        return
    for rule in items(get(s.props, "ipRules")):
        if is_world(get(rule, "ipAddressOrRange")):
            yield f"ipRules admits {get(rule, 'ipAddressOrRange')!r} (all of the Internet or all of Azure)."


def _cosmos_local_auth(s: Subject) -> Iterable[str]:
    if get(s.props, "disableLocalAuth") not in (True, UNKNOWN):
        yield "disableLocalAuth is not true: primary/secondary keys can read and write data."


def _cosmos_metadata(s: Subject) -> Iterable[str]:
    if get(s.props, "disableKeyBasedMetadataWriteAccess") not in (True, UNKNOWN):
        yield "disableKeyBasedMetadataWriteAccess is not true: keys can change databases and containers."


def _cosmos_tls(s: Subject) -> Iterable[str]:
    version = get(s.props, "minimalTlsVersion")
    if version is MISSING:
        yield "minimalTlsVersion is not set; set Tls12."
    elif known(version) and not same(version, "Tls12"):
        yield f"minimalTlsVersion is {version!r}; it must be Tls12."


POLICIES = [
    Rule(
        name="cosmosdb-public-network-disabled",
        types=COSMOS,
        check=_cosmos_network,
        description="Cosmos DB accounts are private (public access disabled, or VNet filter without world-open "
        "IP rules).",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set publicNetworkAccess: Disabled and add a Sql private endpoint.",
        anchor="CKV_AZURE_101, CKV_AZURE_99",
    ),
    Rule(
        name="cosmosdb-local-auth-disabled",
        types=COSMOS,
        check=_cosmos_local_auth,
        description="Cosmos DB data access uses Entra ID only (account keys disabled).",
        severity=Severity.HIGH,
        safeguard="authentication",
        remediation="Set disableLocalAuth: true and grant data-plane roles; waive with enforcementLevel advisory "
        "while a client still needs keys.",
        anchor="CKV_AZURE_140",
    ),
    Rule(
        name="cosmosdb-key-based-metadata-write-disabled",
        types=COSMOS,
        check=_cosmos_metadata,
        description="Account keys cannot change Cosmos DB databases and containers.",
        severity=Severity.MEDIUM,
        safeguard="integrity",
        remediation="Set disableKeyBasedMetadataWriteAccess: true.",
        anchor="CKV_AZURE_132",
    ),
    Rule(
        name="cosmosdb-tls-1-2-minimum",
        types=COSMOS,
        check=_cosmos_tls,
        description="Cosmos DB refuses TLS versions older than 1.2.",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation="Set minimalTlsVersion: Tls12.",
        anchor="none: gap in existing scanners",
    ),
]
