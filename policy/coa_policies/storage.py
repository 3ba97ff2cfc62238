"""Azure Storage: accounts, blob service properties and containers."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, is_world, items, known, same
from ._production import DECLARE_PRODUCTION, PRODUCTION_CONFIG, in_production

ACCOUNT = ("azure-native:storage:StorageAccount",)
BLOB_SERVICE = ("azure-native:storage:BlobServiceProperties",)
CONTAINER = ("azure-native:storage:BlobContainer",)


def _https_only(s: Subject) -> Iterable[str]:
    # ARM default is true since API 2019-04-01; only an explicit false is a violation.
    if get(s.props, "enableHttpsTrafficOnly") is False:
        yield "enableHttpsTrafficOnly is false: the account accepts plain HTTP."


def _tls(s: Subject) -> Iterable[str]:
    version = get(s.props, "minimumTlsVersion")
    if version is MISSING:
        yield "minimumTlsVersion is not set: older API versions default to TLS1_0; set TLS1_2."
    elif known(version) and not (same(version, "TLS1_2") or same(version, "TLS1_3")):
        yield f"minimumTlsVersion is {version!r}; it must be TLS1_2 or later."


def _no_blob_public_access(s: Subject) -> Iterable[str]:
    # The default changed across API versions; require the explicit setting so intent is visible.
    value = get(s.props, "allowBlobPublicAccess")
    if value is MISSING:
        yield "allowBlobPublicAccess is not set; set it to false."
    elif value is True:
        yield "allowBlobPublicAccess is true: containers can be made anonymously readable."


def world_ip_rules(rules: object, key: str) -> list[str]:
    return [get(r, key) for r in items(rules) if is_world(get(r, key))]


def _network_restricted(s: Subject) -> Iterable[str]:
    public = get(s.props, "publicNetworkAccess")
    if public is UNKNOWN or same(public, "Disabled"):
        return
    rules = get(s.props, "networkRuleSet")
    default_action = get(rules, "defaultAction")
    if default_action is UNKNOWN:
        return
    if not same(default_action, "Deny"):
        yield (
            f"publicNetworkAccess is {public if known(public) else 'not set (Enabled)'} and "
            f"networkRuleSet.defaultAction is {default_action if known(default_action) else 'not set (Allow)'}."
        )
        return
    for prefix in world_ip_rules(get(rules, "ipRules"), "iPAddressOrRange"):
        yield f"networkRuleSet.ipRules admits {prefix!r}, which is the whole Internet."


def _shared_key_off(s: Subject) -> Iterable[str]:
    value = get(s.props, "allowSharedKeyAccess")
    if value is MISSING or value is True:
        setting = "not set (Azure's default is true)" if value is MISSING else "true"
        yield f"allowSharedKeyAccess is {setting}: account keys and account SAS still work."


def _cross_tenant(s: Subject) -> Iterable[str]:
    # The default changed to false for accounts created after 2023-12-15; require the explicit setting.
    value = get(s.props, "allowCrossTenantReplication")
    if value is not UNKNOWN and value is not False:
        shown = "true" if value is True else "not set (true for accounts created before December 2023)"
        yield f"allowCrossTenantReplication is {shown}: object replication can copy blobs to another tenant."


def _infrastructure_encryption(s: Subject) -> Iterable[str]:
    value = get(s.props, "encryption", "requireInfrastructureEncryption")
    if value is not UNKNOWN and value is not True:
        yield "encryption.requireInfrastructureEncryption is not true (it can only be set at creation)."


def _sas_expiry(s: Subject) -> Iterable[str]:
    period = get(s.props, "sasPolicy", "sasExpirationPeriod")
    if period is MISSING:
        yield "sasPolicy.sasExpirationPeriod is not set: SAS tokens may be issued without an upper lifetime."


def _soft_delete(s: Subject) -> Iterable[str]:
    min_days = int(s.config["minSoftDeleteDays"])
    for policy in ("deleteRetentionPolicy", "containerDeleteRetentionPolicy"):
        enabled = get(s.props, policy, "enabled")
        days = get(s.props, policy, "days")
        if enabled is UNKNOWN:
            continue
        if enabled is not True:
            yield f"{policy}.enabled is not true."
        elif known(days) and isinstance(days, (int, float)) and days < min_days:
            yield f"{policy}.days is {days:g}; at least {min_days} required."
    versioning = get(s.props, "isVersioningEnabled")
    if versioning is not UNKNOWN and versioning is not True:
        yield "isVersioningEnabled is not true: overwritten blobs cannot be recovered."


def _container_private(s: Subject) -> Iterable[str]:
    access = get(s.props, "publicAccess")
    if known(access) and not same(access, "None"):
        yield f"publicAccess is {access!r}; containers must be private (None)."


POLICIES = [
    Rule(
        name="storage-account-https-only",
        types=ACCOUNT,
        check=_https_only,
        description="Storage accounts accept HTTPS only.",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation="Set enableHttpsTrafficOnly: true (or leave it unset).",
        anchor="CKV_AZURE_3",
    ),
    Rule(
        name="storage-account-tls-1-2-minimum",
        types=ACCOUNT,
        check=_tls,
        description="Storage accounts refuse TLS versions older than 1.2.",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation="Set minimumTlsVersion: TLS1_2.",
        anchor="CKV_AZURE_44",
    ),
    Rule(
        name="storage-account-blob-public-access-disabled",
        types=ACCOUNT,
        check=_no_blob_public_access,
        description="Storage accounts forbid anonymous blob access.",
        severity=Severity.CRITICAL,
        safeguard="access",
        remediation="Set allowBlobPublicAccess: false.",
        anchor="CKV_AZURE_190",
    ),
    Rule(
        name="storage-account-public-network-restricted",
        types=ACCOUNT,
        check=_network_restricted,
        description="Storage accounts are unreachable from public networks (access disabled, or default-Deny "
        "firewall with no rule opening it to the world).",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set publicNetworkAccess: Disabled and reach the account through its private endpoint; or "
        "networkRuleSet.defaultAction: Deny without 0.0.0.0/0 IP rules.",
        anchor="CKV_AZURE_59, CKV_AZURE_35",
    ),
    Rule(
        name="storage-account-shared-key-disabled",
        types=ACCOUNT,
        check=_shared_key_off,
        mandatory=False,
        description="Storage accounts authorise with Entra ID only (shared keys off).",
        severity=Severity.MEDIUM,
        safeguard="authentication",
        remediation="Set allowSharedKeyAccess: false once every client (blob CSI driver, Batch, TES) uses "
        "managed identity.",
        anchor="CKV2_AZURE_40",
    ),
    Rule(
        name="storage-account-shared-key-disabled-production",
        types=ACCOUNT,
        check=in_production(_shared_key_off, "anyone holding a key reads PHI without Entra ID."),
        description="Production storage accounts authorise with Entra ID only (shared keys off).",
        severity=Severity.HIGH,
        safeguard="authentication",
        remediation="Set allowSharedKeyAccess: false (clients use managed identity). " + DECLARE_PRODUCTION,
        anchor="CKV2_AZURE_40; Azure Policy: Storage accounts should prevent shared key access",
        config=PRODUCTION_CONFIG,
    ),
    Rule(
        name="storage-account-cross-tenant-replication-disabled",
        types=ACCOUNT,
        check=_cross_tenant,
        description="Storage accounts refuse object replication to accounts in other Entra ID tenants.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set allowCrossTenantReplication: false.",
        anchor="Azure Policy: Storage accounts should prevent cross tenant object replication",
    ),
    Rule(
        name="storage-account-infrastructure-encryption",
        types=ACCOUNT,
        check=_infrastructure_encryption,
        description="Storage accounts encrypt data twice (service and infrastructure layer).",
        severity=Severity.MEDIUM,
        safeguard="encryption",
        remediation="Set encryption.requireInfrastructureEncryption: true (requires recreating the account).",
        anchor="Azure Policy: Storage accounts should have infrastructure encryption",
    ),
    Rule(
        name="storage-account-sas-expiry-policy",
        types=ACCOUNT,
        check=_sas_expiry,
        description="Storage accounts bound the lifetime of SAS tokens.",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Set sasPolicy: {sasExpirationPeriod: '0.01:00:00', expirationAction: Log}.",
        anchor="CKV2_AZURE_41",
    ),
    Rule(
        name="storage-blob-soft-delete-and-versioning",
        types=BLOB_SERVICE,
        check=_soft_delete,
        description="Blob services keep deleted blobs and containers and previous blob versions.",
        severity=Severity.MEDIUM,
        safeguard="integrity",
        remediation="On BlobServiceProperties set deleteRetentionPolicy and containerDeleteRetentionPolicy "
        "{enabled: true, days: >= minSoftDeleteDays} and isVersioningEnabled: true.",
        anchor="CKV2_AZURE_38",
        config={"minSoftDeleteDays": {"type": "integer", "minimum": 1, "maximum": 365, "default": 7}},
    ),
    Rule(
        name="storage-container-private",
        types=CONTAINER,
        check=_container_private,
        description="Blob containers are never anonymously readable.",
        severity=Severity.CRITICAL,
        safeguard="access",
        remediation="Set publicAccess: None (or leave it unset).",
        anchor="CKV_AZURE_34",
    ),
]
