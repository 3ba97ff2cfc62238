"""Log Analytics, workspace-based Application Insights, and the one way diagnostics are attached to anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import applicationinsights, monitor, operationalinsights

from components.placement import Placement
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec
from components.protection import Protection

# Container Insights with Entra ID (managed identity) ingestion, as Microsoft's own onboarding template builds it
# (microsoft/Docker-Provider scripts/onboarding/aks/onboarding-using-msi-auth/existingClusterOnboarding.json):
# a Linux DCR whose `ContainerInsights` extension data source feeds the workspace, associated with the cluster under
# the name `ContainerInsightsExtension`; behind an AMPLS also a Linux DCE with public network access disabled, linked
# to the scope and associated with the cluster under the fixed name `configurationAccessEndpoint` (the agent fetches
# its DCR through that endpoint). Azure names every endpoint association `configurationAccessEndpoint`; the rule
# association's name is Microsoft's tooling convention.
CONTAINER_INSIGHTS_EXTENSION = "ContainerInsights"
CONTAINER_INSIGHTS_ASSOCIATION = "ContainerInsightsExtension"
CONFIGURATION_ENDPOINT_ASSOCIATION = "configurationAccessEndpoint"
# The grouped stream for the default table set (ContainerLogV2, KubeEvents, KubePodInventory, ...), as the portal's
# presets write it; Microsoft's onboarding template lists the same tables one by one instead.
CONTAINER_INSIGHTS_STREAMS = ("Microsoft-ContainerInsights-Group-Default",)
CONTAINER_INSIGHTS_SETTINGS = {
    "dataCollectionSettings": {
        "interval": "1m",
        "namespaceFilteringMode": "Off",
        # ContainerLogV2 carries pod/namespace columns for access reviews; ContainerLog retires on 30 September 2026
        # (learn.microsoft.com/azure/azure-monitor/containers/container-insights-logs-schema).
        "enableContainerLogV2": True,
    }
}


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    placement: Placement
    retention_days: int
    # Audit trail: the workspace is stateful and protected with the other data stores in production.
    protection: Protection = field(default_factory=Protection)


class Monitoring(pulumi.ComponentResource):
    """A workspace that accepts Entra ID ingestion only, and Application Insights that never stores client IPs."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:monitoring:Monitoring", name, None, opts)
        # The AMPLS endpoint, once connect_private_link made it.
        self.private_endpoints: list[PrivateEndpoint] = []
        child = pulumi.ResourceOptions(parent=self)
        workspace = operationalinsights.Workspace(
            f"{name}-log",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=args.retention_days,
            # Shared-key ingestion off: agents and apps must authenticate with Entra ID.
            features=operationalinsights.WorkspaceFeaturesArgs(disable_local_auth=True),
            # Ingestion and queries only through the Azure Monitor Private Link Scope (connect_private_link).
            public_network_access_for_ingestion="Disabled",
            public_network_access_for_query="Disabled",
            tags=dict(args.placement.tags),
            opts=args.protection.options(self),
        )
        args.protection.lock(f"{name}-log", workspace, self, "Log Analytics workspace (audit trail)")
        insights = applicationinsights.Component(
            f"{name}-appi",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
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
            tags=dict(args.placement.tags),
            opts=child,
        )
        self._name = name
        self._args = args
        self._workspace = workspace
        self._insights = insights
        self._scope: monitor.PrivateLinkScope | None = None
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
            resource_group_name=self._args.placement.resource_group_name,
            location="global",  # AMPLS is a global resource
            access_mode_settings=monitor.AccessModeSettingsArgs(
                ingestion_access_mode="PrivateOnly", query_access_mode="PrivateOnly"
            ),
            tags=dict(self._args.placement.tags),
            opts=child,
        )
        self._scope = scope
        for key, resource in (("log", self._workspace), ("appi", self._insights)):
            monitor.PrivateLinkScopedResource(
                f"{self._name}-ampls-{key}",
                resource_group_name=self._args.placement.resource_group_name,
                scope_name=scope.name,
                linked_resource_id=resource.id,
                opts=child,
            )
        self.private_endpoints = [
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
        ]

    def collect_container_insights(self, cluster_id: pulumi.Input[str], cluster_location: pulumi.Input[str]) -> None:
        """Give the AKS monitoring add-on (omsagent with `useAADAuth`) what Entra ID ingestion needs through ARM: a
        data collection rule to the workspace, and a private configuration endpoint in the AMPLS, both associated
        with the cluster. Without them the agent runs but ingests nothing, since the workspace takes neither shared
        keys nor public traffic."""
        if self._scope is None:
            # The workspace only accepts private ingestion: a DCE outside an AMPLS would be unreachable.
            raise ValueError(f"monitoring {self._name}: call connect_private_link before collect_container_insights")
        child = pulumi.ResourceOptions(parent=self)
        rg = self._args.placement.resource_group_name
        endpoint = monitor.DataCollectionEndpoint(
            f"{self._name}-dce-ci",
            resource_group_name=rg,
            # The configuration endpoint lives in the cluster's region (Microsoft's template: clusterLocation).
            location=cluster_location,
            kind=monitor.KnownDataCollectionEndpointResourceKind.LINUX,
            description="Container Insights configuration access, reachable only through the AMPLS",
            network_acls=monitor.DataCollectionEndpointNetworkAclsArgs(
                public_network_access=monitor.KnownPublicNetworkAccessOptions.DISABLED
            ),
            tags=dict(self._args.placement.tags),
            opts=child,
        )
        # "When using AMA with AMPLS ... DCEs must be added to the AMPLS configuration" (Azure Monitor docs,
        # kubernetes-monitoring-firewall); its handler.control.monitor.azure.com name then resolves in the scope's
        # privatelink.monitor.azure.com zone.
        monitor.PrivateLinkScopedResource(
            f"{self._name}-ampls-dce-ci",
            resource_group_name=rg,
            scope_name=self._scope.name,
            linked_resource_id=endpoint.id,
            opts=child,
        )
        destination = "ciworkspace"
        rule = monitor.DataCollectionRule(
            f"{self._name}-dcr-ci",
            resource_group_name=rg,
            # A DCR lives in its destination workspace's region (Microsoft's template: workspaceRegion).
            location=self._args.placement.location,
            kind=monitor.KnownDataCollectionRuleResourceKind.LINUX,
            description="Container Insights: AKS logs, events and inventory to the workspace (Entra ID ingestion)",
            data_sources=monitor.DataCollectionRuleDataSourcesArgs(
                extensions=[
                    monitor.ExtensionDataSourceArgs(
                        name=CONTAINER_INSIGHTS_ASSOCIATION,
                        extension_name=CONTAINER_INSIGHTS_EXTENSION,
                        streams=list(CONTAINER_INSIGHTS_STREAMS),
                        extension_settings=CONTAINER_INSIGHTS_SETTINGS,
                    )
                ]
            ),
            destinations=monitor.DataCollectionRuleDestinationsArgs(
                log_analytics=[
                    monitor.LogAnalyticsDestinationArgs(name=destination, workspace_resource_id=self._workspace.id)
                ]
            ),
            data_flows=[monitor.DataFlowArgs(streams=list(CONTAINER_INSIGHTS_STREAMS), destinations=[destination])],
            tags=dict(self._args.placement.tags),
            opts=child,
        )
        # Association names are fixed: an association carries either a rule or an endpoint, never both.
        monitor.DataCollectionRuleAssociation(
            f"{self._name}-dcra-ci",
            resource_uri=cluster_id,
            association_name=CONTAINER_INSIGHTS_ASSOCIATION,
            data_collection_rule_id=rule.id,
            description="Container Insights data collection; deleting it stops ingestion for this cluster.",
            opts=child,
        )
        monitor.DataCollectionRuleAssociation(
            f"{self._name}-dcea-ci",
            resource_uri=cluster_id,
            association_name=CONFIGURATION_ENDPOINT_ASSOCIATION,
            data_collection_endpoint_id=endpoint.id,
            description="Container Insights configuration endpoint; deleting it cuts the agent off from its rule.",
            opts=child,
        )
        self.container_insights_rule_id = rule.id
        self.container_insights_endpoint_id = endpoint.id


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
