"""Application Insights and Log Analytics."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, known, same

# insights is the provider's older module name for Application Insights (an alias in the SDK).
APP_INSIGHTS = ("azure-native:applicationinsights:Component", "azure-native:insights:Component")
WORKSPACE = ("azure-native:operationalinsights:Workspace",)
TABLE = ("azure-native:operationalinsights:Table",)


def _workspace_based(s: Subject) -> Iterable[str]:
    if get(s.props, "workspaceResourceId") is MISSING:
        yield "workspaceResourceId is not set: telemetry is stored outside your Log Analytics workspace."
    if same(get(s.props, "ingestionMode"), "ApplicationInsights"):
        yield "ingestionMode is ApplicationInsights (classic); use LogAnalytics."


def _ai_local_auth(s: Subject) -> Iterable[str]:
    if get(s.props, "disableLocalAuth") not in (True, UNKNOWN):
        yield "disableLocalAuth is not true: anyone with the instrumentation key can write telemetry."


def _ip_masking(s: Subject) -> Iterable[str]:
    if get(s.props, "disableIpMasking") is True:
        yield "disableIpMasking is true: client IP addresses (identifiers under HIPAA) are stored."


def _ai_public(s: Subject) -> Iterable[str]:
    wanted = (
        ("publicNetworkAccessForIngestion", s.config["requireIngestionDisabled"]),
        ("publicNetworkAccessForQuery", s.config["requireQueryDisabled"]),
    )
    for key, required in wanted:
        value = get(s.props, key)
        if required and value is not UNKNOWN and not same(value, "Disabled"):
            yield f"{key} is {value if known(value) else 'not set (Enabled)'}; set Disabled (needs Azure Monitor Private Link Scope)."


def _la_retention(s: Subject) -> Iterable[str]:
    minimum = int(s.config["minRetentionDays"])
    days = get(s.props, "retentionInDays")
    if days is UNKNOWN:
        return
    effective = 30 if days is MISSING else days  # Azure's default for PerGB2018
    if effective < minimum:
        yield f"retentionInDays is {effective:g}; at least {minimum} required."
    # Either undoes the retention: the first purges data after 30 days whatever retentionInDays says, the second
    # stops ingestion (the audit trail) for the rest of the day once the cap is reached.
    if get(s.props, "features", "immediatePurgeDataOn30Days") is True:
        yield "features.immediatePurgeDataOn30Days is true: data is purged after 30 days, whatever the retention."
    cap = get(s.props, "workspaceCapping", "dailyQuotaGb")
    if isinstance(cap, (int, float)) and not isinstance(cap, bool) and cap >= 0:
        yield f"workspaceCapping.dailyQuotaGb is {cap:g}: ingestion, audit logs included, stops for the day at the cap."


def _table_retention(s: Subject) -> Iterable[str]:
    minimum = int(s.config["minRetentionDays"])
    for key in ("retentionInDays", "totalRetentionInDays"):
        days = get(s.props, key)
        # -1 (or unset) means the workspace's retention.
        if isinstance(days, (int, float)) and not isinstance(days, bool) and 0 <= days < minimum:
            yield f"table {get(s.props, 'tableName')!r} {key} is {days:g}; at least {minimum} required."


def _la_public(s: Subject) -> Iterable[str]:
    wanted = (
        ("publicNetworkAccessForIngestion", True),
        ("publicNetworkAccessForQuery", s.config["requireQueryDisabled"]),
    )
    for key, required in wanted:
        value = get(s.props, key)
        if required and value is not UNKNOWN and not same(value, "Disabled"):
            shown = value if known(value) else "not set (Enabled)"
            yield f"{key} is {shown}: anyone on the Internet holding a token can reach the workspace; set Disabled."


def _la_local_auth(s: Subject) -> Iterable[str]:
    if get(s.props, "features", "disableLocalAuth") not in (True, UNKNOWN):
        yield "features.disableLocalAuth is not true: shared keys can ingest and query logs."


POLICIES = [
    Rule(
        name="appinsights-workspace-based",
        types=APP_INSIGHTS,
        check=_workspace_based,
        description="Application Insights stores telemetry in a Log Analytics workspace.",
        severity=Severity.MEDIUM,
        safeguard="audit",
        remediation="Set workspaceResourceId and ingestionMode: LogAnalytics.",
        anchor="Azure Policy: Azure Monitor Logs for Application Insights should be linked to a Log Analytics workspace",
    ),
    Rule(
        name="appinsights-local-auth-disabled",
        types=APP_INSIGHTS,
        check=_ai_local_auth,
        description="Application Insights accepts only Entra ID authenticated telemetry.",
        severity=Severity.MEDIUM,
        safeguard="authentication",
        remediation="Set disableLocalAuth: true.",
        anchor="Azure Policy: Application Insights components should block non-Azure Active Directory based ingestion.",
    ),
    Rule(
        name="appinsights-ip-masking-enabled",
        types=APP_INSIGHTS,
        check=_ip_masking,
        description="Application Insights masks client IP addresses.",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Remove disableIpMasking: true.",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="appinsights-public-access-disabled",
        types=APP_INSIGHTS,
        check=_ai_public,
        description="Application Insights blocks ingestion and queries from public networks.",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Set publicNetworkAccessForIngestion/ForQuery: Disabled behind an AMPLS, or relax with "
        "requireIngestionDisabled/requireQueryDisabled: false.",
        anchor="Azure Policy: Application Insights components should block log ingestion and querying from public networks",
        config={
            "requireIngestionDisabled": {"type": "boolean", "default": True},
            "requireQueryDisabled": {"type": "boolean", "default": True},
        },
    ),
    Rule(
        name="log-analytics-retention-minimum",
        types=WORKSPACE,
        check=_la_retention,
        description="Log Analytics keeps logs at least the configured number of days, with no daily cap and no "
        "early purge.",
        severity=Severity.MEDIUM,
        safeguard="audit",
        remediation="Set retentionInDays >= minRetentionDays; leave workspaceCapping.dailyQuotaGb at -1 and "
        "features.immediatePurgeDataOn30Days unset.",
        anchor="none: gap in existing scanners",
        config={"minRetentionDays": {"type": "integer", "minimum": 30, "maximum": 730, "default": 90}},
    ),
    Rule(
        name="log-analytics-table-retention-minimum",
        types=TABLE,
        check=_table_retention,
        description="No Log Analytics table keeps its logs for less than the configured number of days.",
        severity=Severity.MEDIUM,
        safeguard="audit",
        remediation="Leave the table's retentionInDays and totalRetentionInDays unset (-1: the workspace's) or at "
        "least minRetentionDays.",
        anchor="none: gap in existing scanners",
        config={"minRetentionDays": {"type": "integer", "minimum": 30, "maximum": 730, "default": 90}},
    ),
    Rule(
        name="log-analytics-public-access-disabled",
        types=WORKSPACE,
        check=_la_public,
        description="Log Analytics accepts ingestion (and, by default, queries) only through its private link "
        "scope, never from public networks.",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation="Set publicNetworkAccessForIngestion and publicNetworkAccessForQuery: Disabled and reach the "
        "workspace through an Azure Monitor Private Link Scope (requireQueryDisabled: false keeps queries public).",
        anchor="Azure Policy: Log Analytics workspaces should block log ingestion and querying from public networks",
        config={"requireQueryDisabled": {"type": "boolean", "default": True}},
    ),
    Rule(
        name="log-analytics-local-auth-disabled",
        types=WORKSPACE,
        check=_la_local_auth,
        description="Log Analytics accepts only Entra ID authenticated ingestion and queries.",
        severity=Severity.MEDIUM,
        safeguard="authentication",
        remediation="Set features.disableLocalAuth: true.",
        anchor="Azure Policy: Log Analytics Workspaces should block non-Azure Active Directory based ingestion.",
    ),
]
