"""Key Vault vaults, secrets and keys."""

from __future__ import annotations

import time
from collections.abc import Iterable

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, is_world, items, same
from ._production import DECLARE_PRODUCTION, PRODUCTION_CONFIG, in_production

VAULT = ("azure-native:keyvault:Vault",)
SECRET_OR_KEY = ("azure-native:keyvault:Secret", "azure-native:keyvault:Key")


def _purge_protection(s: Subject) -> Iterable[str]:
    if get(s.props, "properties", "enablePurgeProtection") not in (True, UNKNOWN):
        yield "properties.enablePurgeProtection is not true: deleted secrets can be purged before retention ends."


def _soft_delete(s: Subject) -> Iterable[str]:
    # Soft delete is on by default and can no longer be turned off; an explicit false is a stale template.
    if get(s.props, "properties", "enableSoftDelete") is False:
        yield "properties.enableSoftDelete is false."


def _rbac(s: Subject) -> Iterable[str]:
    if get(s.props, "properties", "enableRbacAuthorization") not in (True, UNKNOWN):
        yield "properties.enableRbacAuthorization is not true: access policies grant vault-wide permissions."


def _network(s: Subject) -> Iterable[str]:
    props = get(s.props, "properties")
    public = get(props, "publicNetworkAccess")
    if public is UNKNOWN or same(public, "Disabled"):
        return
    acls = get(props, "networkAcls")
    action = get(acls, "defaultAction")
    if action is UNKNOWN:
        return
    if not same(action, "Deny"):
        yield "properties.publicNetworkAccess is not Disabled and networkAcls.defaultAction is not Deny."
        return
    for rule in items(get(acls, "ipRules")):
        if is_world(get(rule, "value")):
            yield f"networkAcls.ipRules admits {get(rule, 'value')!r}, the whole Internet."


DAY_SECONDS = 86400


def _expiry_bounded(s: Subject) -> Iterable[str]:
    expires = get(s.props, "properties", "attributes", "expires")
    if not isinstance(expires, (int, float)) or isinstance(expires, bool):
        return  # absent (keyvault-secrets-and-keys-expire*) or computed
    limit = int(s.config["maxExpiryDays"])
    days = (expires - time.time()) / DAY_SECONDS
    if days > limit:
        kind = "key" if s.type.endswith(":Key") else "secret"
        when = time.strftime("%Y-%m-%d", time.gmtime(expires))
        yield f"the {kind} expires {when}, {days:.0f} days from now; at most {limit} days are allowed."


def _expiry(s: Subject) -> Iterable[str]:
    if get(s.props, "properties", "attributes", "expires") is MISSING:
        kind = "key" if s.type.endswith(":Key") else "secret"
        yield f"the {kind} has no expiry (properties.attributes.expires)."


POLICIES = [
    Rule(
        name="keyvault-purge-protection",
        types=VAULT,
        check=_purge_protection,
        description="Key Vaults have purge protection.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Set properties.enablePurgeProtection: true (irreversible).",
        anchor="CKV_AZURE_110, CKV_AZURE_42",
    ),
    Rule(
        name="keyvault-soft-delete",
        types=VAULT,
        check=_soft_delete,
        description="Key Vaults keep deleted objects recoverable (soft delete).",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Remove enableSoftDelete: false.",
        anchor="CKV_AZURE_111",
    ),
    Rule(
        name="keyvault-rbac-authorization",
        types=VAULT,
        check=_rbac,
        description="Key Vault data access is authorised with Azure RBAC, not access policies.",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Set properties.enableRbacAuthorization: true.",
        anchor="Azure Policy: Azure Key Vault should use RBAC permission model",
    ),
    Rule(
        name="keyvault-public-network-disabled",
        types=VAULT,
        check=_network,
        description="Key Vaults are private (public access disabled, or default Deny without world-open rules).",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set properties.publicNetworkAccess: Disabled and add a vault private endpoint.",
        anchor="CKV_AZURE_189, CKV_AZURE_109",
    ),
    Rule(
        name="keyvault-secrets-and-keys-expire",
        types=SECRET_OR_KEY,
        check=_expiry,
        mandatory=False,
        description="Key Vault secrets and keys carry an expiry date.",
        severity=Severity.LOW,
        safeguard="access",
        remediation="Set properties.attributes.expires (epoch seconds) and rotate before it.",
        anchor="CKV_AZURE_41, CKV_AZURE_40",
    ),
    Rule(
        name="keyvault-secret-expiry-bounded",
        types=SECRET_OR_KEY,
        check=_expiry_bounded,
        description="Key Vault secrets and keys expire within the configured number of days (default 365).",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Set properties.attributes.expires no further than maxExpiryDays ahead and rotate before it "
        "(this project: secrets.rotationDays and expiryGraceDays, imageScanner.credentialsExpireOn).",
        anchor="Azure Policy: Secrets should have the specified maximum validity period; Keys should have the "
        "specified maximum validity period",
        config={"maxExpiryDays": {"type": "integer", "minimum": 1, "default": 365}},
    ),
    Rule(
        name="keyvault-secrets-and-keys-expire-production",
        types=SECRET_OR_KEY,
        check=in_production(_expiry, "nothing forces its rotation, and a leaked value stays valid for ever."),
        description="Production Key Vault secrets and keys carry an expiry date.",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Set properties.attributes.expires (epoch seconds) and rotate before it (this project: config "
        "secrets.rotationDays). " + DECLARE_PRODUCTION,
        anchor="CKV_AZURE_41, CKV_AZURE_40",
        config=PRODUCTION_CONFIG,
    ),
]
