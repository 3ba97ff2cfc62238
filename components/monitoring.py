"""Log Analytics, workspace-based Application Insights, and the one way diagnostics are attached to anything."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import applicationinsights, monitor, operationalinsights

from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    retention_days: int
    # Audit trail: the workspace is stateful and protected with the other data stores in production.
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


class Monitoring(pulumi.ComponentResource):
    """A workspace that accepts Entra ID ingestion only, and Application Insights that never stores client IPs."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workspace = operationalinsights.Workspace(
            f"{name}-log",
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=args.retention_days,
            # Shared-key ingestion off: agents and apps must authenticate with Entra ID.
            features=operationalinsights.WorkspaceFeaturesArgs(disable_local_auth=True),
            # Ingestion and queries only through the Azure Monitor Private Link Scope (connect_private_link).
            public_network_access_for_ingestion="Disabled",
            public_network_access_for_query="Disabled",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        insights = applicationinsights.Component(
            f"{name}-appi",
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="web",
            application_type="web",
            ingestion_mode="LogAnalytics",
            workspace_resource_id=workspace.id,
            # Instrumentation keys alone cannot write telemetry; the apps use their managed identity.
            disable_local_auth=True,
            # Keep Azure's IP masking: client IPs in telemetry are personal data.
            disable_ip_masking=False,
            public_network_access_for_ingestion="Disabled",
            public_network_access_for_query="Disabled",
            tags=dict(args.tags),
            opts=child,
        )
        self._name = name
        self._args = args
        self._workspace = workspace
        self._insights = insights
        self.workspace_id = workspace.id
        self.workspace_customer_id = workspace.customer_id
        self.app_insights_id = insights.id
        self.app_insights_name = insights.name
        self.app_insights_connection_string = pulumi.Output.secret(insights.connection_string)
        self.register_outputs(
            {
                "workspace_id": self.workspace_id,
                "app_insights_id": self.app_insights_id,
                "app_insights_connection_string": self.app_insights_connection_string,
            }
        )

    def connect_private_link(self, endpoint: PrivateEndpointSpec) -> None:
        """Put the workspace and Application Insights behind an Azure Monitor Private Link Scope (AMPLS) with a
        private endpoint, so telemetry and queries never cross a public network.

        An AMPLS changes DNS for every Azure Monitor resource resolved through the linked zones; tenants with a
        hub AMPLS should pass its zones in `dns.existingZoneIds` and link these resources to that scope instead."""
        child = pulumi.ResourceOptions(parent=self)
        scope = monitor.PrivateLinkScope(
            f"{self._name}-ampls",
            resource_group_name=self._args.resource_group_name,
            location="global",  # AMPLS is a global resource
            access_mode_settings=monitor.AccessModeSettingsArgs(
                ingestion_access_mode="PrivateOnly", query_access_mode="PrivateOnly"
            ),
            tags=dict(self._args.tags),
            opts=child,
        )
        for key, resource in (("log", self._workspace), ("appi", self._insights)):
            monitor.PrivateLinkScopedResource(
                f"{self._name}-ampls-{key}",
                resource_group_name=self._args.resource_group_name,
                scope_name=scope.name,
                linked_resource_id=resource.id,
                opts=child,
            )
        PrivateEndpoint(
            f"{self._name}-ampls",
            PrivateEndpointArgs(
                spec=endpoint,
                target_resource_id=scope.id,
                group_id="azuremonitor",
                zone_key="monitor",
                # Agents also resolve per-workspace names in these zones and download solution packs from blob.
                extra_zone_keys=("omsOpinsights", "odsOpinsights", "agentSvc", "blob"),
            ),
            opts=child,
        )


def diagnostics(
    name: str,
    *,
    resource_id: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    parent: pulumi.Resource,
    category_groups: Sequence[str] = ("allLogs",),
    categories: Sequence[str] = (),
    metric_categories: Sequence[str] = ("AllMetrics",),
) -> monitor.DiagnosticSetting:
    """Send a resource's logs (category groups `allLogs`/`audit`, or named categories) and metrics to the workspace."""
    logs = [monitor.DiagnosticsLogSettingsArgs(category_group=group, enabled=True) for group in category_groups]
    logs += [monitor.DiagnosticsLogSettingsArgs(category=category, enabled=True) for category in categories]
    return monitor.DiagnosticSetting(
        f"{name}-diag",
        resource_uri=resource_id,
        name="to-log-analytics",
        workspace_id=workspace_id,
        # Resource-specific tables instead of AzureDiagnostics where the service supports them.
        log_analytics_destination_type="Dedicated",
        logs=logs,
        metrics=[
            monitor.DiagnosticsMetricSettingsArgs(category=category, enabled=True) for category in metric_categories
        ],
        opts=pulumi.ResourceOptions(parent=parent),
    )
