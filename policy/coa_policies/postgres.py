"""PostgreSQL flexible servers (Cromwell database) and their server parameters."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, same

POSTGRES = ("azure-native:dbforpostgresql:Server",)
POSTGRES_CONFIG = ("azure-native:dbforpostgresql:Configuration",)


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
]
