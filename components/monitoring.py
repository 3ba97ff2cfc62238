"""Log Analytics, workspace-based Application Insights, and the one way diagnostics are attached to anything."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import applicationinsights, monitor, operationalinsights


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    retention_days: int
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
            tags=dict(args.tags),
            opts=child,
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
            tags=dict(args.tags),
            opts=child,
        )
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
