"""PostgreSQL flexible servers (Cromwell database), their server parameters and firewall rules."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, known, same
from ._production import DECLARE_PRODUCTION, PRODUCTION_CONFIG, in_production

POSTGRES = ("azure-native:dbforpostgresql:Server",)
POSTGRES_CONFIG = ("azure-native:dbforpostgresql:Configuration",)
POSTGRES_FIREWALL = (
    "azure-native:dbforpostgresql:FirewallRule",  # flexible server
    "azure-native:dbforpostgresql:SingleServerFirewallRule",  # single server (azure-native v3)
    "azure-native:dbforpostgresql/v20171201:FirewallRule",  # single server (versioned token, an alias in v3)
    "azure-native:dbforpostgresql:ServerGroupFirewallRule",  # Cosmos DB for PostgreSQL clusters
)


def _pg_network(s: Subject) -> Iterable[str]:
    network = get(s.props, "network")
    public = get(network, "publicNetworkAccess")
    subnet = get(network, "delegatedSubnetResourceId")
    if same(public, "Enabled"):
        yield "network.publicNetworkAccess is Enabled."
    elif public is MISSING and subnet is MISSING:
        yield "the server is neither VNet-integrated (network.delegatedSubnetResourceId) nor publicNetworkAccess: Disabled."


_WEAK_TLS = {"tlsv1", "tlsv1.0", "tlsv1.1"}


def _pg_tls(s: Subject) -> Iterable[str]:
    # Flexible server TLS lives in server parameters; judge them where the program sets them.
    name = get(s.props, "configurationName")
    value = get(s.props, "value")
    if not (isinstance(name, str) and isinstance(value, str)):
        return
    if name.lower() == "require_secure_transport" and value.lower() in ("off", "0", "false"):
        yield "require_secure_transport is off: clients may connect without TLS."
    if name.lower() == "ssl_min_protocol_version" and value.lower() in _WEAK_TLS:
        yield f"ssl_min_protocol_version is {value!r}; use TLSv1.2 or later."


def _pg_backup(s: Subject) -> Iterable[str]:
    minimum = int(s.config["minBackupRetentionDays"])
    days = get(s.props, "backup", "backupRetentionDays")
    if days is UNKNOWN:
        return
    effective = 7 if days is MISSING else days  # Azure's default
    if effective < minimum:
        yield f"backup.backupRetentionDays is {effective:g}; at least {minimum} required."


def _pg_geo_backup(s: Subject) -> Iterable[str]:
    value = get(s.props, "backup", "geoRedundantBackup")
    if value is not UNKNOWN and not same(value, "Enabled"):
        yield f"backup.geoRedundantBackup is {value if known(value) else 'not set (Disabled)'}."


def _pg_entra(s: Subject) -> Iterable[str]:
    value = get(s.props, "authConfig", "activeDirectoryAuth")
    if value is not UNKNOWN and not same(value, "Enabled"):
        shown = value if known(value) else "not set (Disabled)"
        yield f"authConfig.activeDirectoryAuth is {shown}: only passwords authenticate to the server."


def _ipv4(field: str, value: Any) -> ipaddress.IPv4Address:
    if value is MISSING:
        raise ValueError(f"{field} is not set")
    if not isinstance(value, str):
        raise ValueError(f"{field} is {value!r}, not an IPv4 address")
    try:
        return ipaddress.IPv4Address(value.strip())
    except ValueError:
        raise ValueError(f"{field} {value!r} is not an IPv4 address") from None


@dataclass(frozen=True)
class AddressRange:
    """A firewall rule's range, normalised: ``low`` <= ``high`` whichever order start and end came in."""

    low: ipaddress.IPv4Address
    high: ipaddress.IPv4Address
    reversed: bool

    @property
    def size(self) -> int:
        return int(self.high) - int(self.low) + 1

    def __str__(self) -> str:
        return f"{self.low}-{self.high}" + (" (given end first)" if self.reversed else "")


def address_range(start: Any, end: Any) -> AddressRange:
    """Parse startIpAddress/endIpAddress; ValueError names the field that is missing or not IPv4."""
    first, last = _ipv4("startIpAddress", start), _ipv4("endIpAddress", end)
    return AddressRange(min(first, last), max(first, last), first > last)


_ZERO = ipaddress.IPv4Address("0.0.0.0")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def _pg_firewall(s: Subject) -> Iterable[str]:
    start, end = get(s.props, "startIpAddress"), get(s.props, "endIpAddress")
    if start is UNKNOWN or end is UNKNOWN:
        return
    try:
        span = address_range(start, end)
    except ValueError as exc:
        yield f"{exc}: the rule's range cannot be checked (Azure takes IPv4 addresses only)."
        return
    limit = int(s.config["maxAddressesPerRule"])
    if span.low == _ZERO and span.high == _ZERO:
        yield (
            "0.0.0.0-0.0.0.0 is Azure's 'allow public access from any Azure service' rule: it admits every "
            "Azure resource of every tenant, not only yours; reach the server privately instead."
        )
    elif span.low == _ZERO and span.high == _BROADCAST:
        yield f"{span} admits the whole Internet."
    elif span.size > limit:
        yield f"{span} admits {span.size:,} addresses; at most {limit:,} per rule are allowed."


POLICIES = [
    Rule(
        name="postgres-public-network-disabled",
        types=POSTGRES,
        check=_pg_network,
        description="PostgreSQL flexible servers are VNet-integrated or have public network access disabled.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set network.delegatedSubnetResourceId and privateDnsZoneArmResourceId, or "
        "network.publicNetworkAccess: Disabled with a private endpoint.",
        anchor="Azure Policy: Public network access should be disabled for PostgreSQL flexible servers",
    ),
    Rule(
        name="postgres-tls-enforced",
        types=POSTGRES_CONFIG,
        check=_pg_tls,
        description="PostgreSQL server parameters keep TLS mandatory (require_secure_transport on, TLS >= 1.2).",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation="Leave require_secure_transport on and ssl_min_protocol_version at TLSv1.2 or TLSv1.3.",
        anchor="Azure Policy: Enforce SSL connection should be enabled for PostgreSQL flexible servers; PostgreSQL flexible servers should be running TLS version 1.2 or newer",
    ),
    Rule(
        name="postgres-backup-retention",
        types=POSTGRES,
        check=_pg_backup,
        description="PostgreSQL backups are kept at least the configured number of days.",
        severity=Severity.MEDIUM,
        safeguard="integrity",
        remediation="Set backup.backupRetentionDays (7-35).",
        anchor="none: gap in existing scanners",
        config={"minBackupRetentionDays": {"type": "integer", "minimum": 7, "maximum": 35, "default": 14}},
    ),
    Rule(
        name="postgres-geo-redundant-backup-production",
        types=POSTGRES,
        check=in_production(_pg_geo_backup, "losing the region loses the workflow database."),
        description="Production PostgreSQL servers keep geo-redundant backups.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Set backup.geoRedundantBackup: Enabled (at creation; this project: postgres.geoRedundantBackup). "
        + DECLARE_PRODUCTION,
        anchor="Azure Policy: Geo-redundant backup should be enabled for Azure Database for PostgreSQL",
        config=PRODUCTION_CONFIG,
    ),
    Rule(
        name="postgres-entra-auth-enabled",
        types=POSTGRES,
        check=_pg_entra,
        description="PostgreSQL flexible servers accept Microsoft Entra ID authentication (not passwords only).",
        severity=Severity.HIGH,
        safeguard="authentication",
        remediation="Set authConfig.activeDirectoryAuth: Enabled and name an Entra administrator group "
        "(AdministratorsMicrosoftEntra).",
        anchor="Azure Policy: A Microsoft Entra administrator should be provisioned for PostgreSQL servers (analogue)",
    ),
    Rule(
        name="postgres-firewall-no-wide-ranges",
        types=POSTGRES_FIREWALL,
        check=_pg_firewall,
        description="PostgreSQL firewall rules (flexible server, single server, Cosmos DB for PostgreSQL) open the "
        "server to narrow address ranges only, never to all of Azure (0.0.0.0-0.0.0.0) or the Internet.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Delete the rule and reach the server through its delegated subnet or private endpoint, or "
        "list the client's public addresses (at most maxAddressesPerRule per rule, default 256 = a /24).",
        anchor="CKV2_AZURE_26 (flexible server), CKV_AZURE_11 (single server)",
        config={"maxAddressesPerRule": {"type": "integer", "minimum": 1, "default": 256}},
    ),
]
