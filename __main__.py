"""coa-lockdown: composes the components for one stack. All configuration is validated before anything is created."""

import pulumi
from pulumi_azure_native import authorization, resources

from components.config import load_settings
from components.identity import Identities, IdentitiesArgs
from components.keyvault import KeyVault, KeyVaultArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import FlowLogArgs, Network, NetworkArgs, VnetFlowLog
from components.private_dns import PrivateDns, PrivateDnsArgs
from components.private_endpoint import PrivateEndpointSpec
from components.storage import Storage, StorageArgs

settings = load_settings()
secrets = pulumi.Config()
client = authorization.get_client_config_output()
tags = dict(settings.tags)
prefix = f"{settings.workload}-{settings.environment}"

if settings.resource_group_name:
    resource_group_name: pulumi.Input[str] = settings.resource_group_name
else:
    resource_group_name = resources.ResourceGroup(f"{prefix}-rg", location=settings.location, tags=tags).name

monitoring = Monitoring(
    f"{prefix}-mon",
    MonitoringArgs(
        resource_group_name=resource_group_name,
        location=settings.location,
        retention_days=settings.log_retention_days,
        tags=tags,
    ),
)
network = Network(
    f"{prefix}-net",
    NetworkArgs(
        resource_group_name=resource_group_name,
        location=settings.location,
        address_space=settings.network.address_space,
        subnets=settings.network.subnets,
        egress=settings.network.egress,
        firewall_private_ip=settings.network.firewall_private_ip,
        trusted_source_cidrs=settings.network.trusted_source_cidrs,
        tags=tags,
    ),
)
dns = PrivateDns(
    f"{prefix}-dns",
    PrivateDnsArgs(
        resource_group_name=resource_group_name,
        location=settings.location,
        virtual_network_id=network.vnet_id,
        existing_zone_ids=settings.dns.existing_zone_ids,
        tags=tags,
    ),
)
endpoints = PrivateEndpointSpec(
    resource_group_name=resource_group_name,
    location=settings.location,
    subnet_id=network.subnet_ids["privateEndpoints"],
    zone_ids=dns.zone_ids,
    zone_group_managed_by_policy=settings.dns.zone_groups_managed_by_policy,
    tags=tags,
)
monitoring.connect_private_link(endpoints)
storage = Storage(
    f"{prefix}-storage",
    StorageArgs(
        resource_group_name=resource_group_name,
        location=settings.location,
        account_name=settings.names.storage_account,
        private_endpoint=endpoints,
        diagnostics_workspace_id=monitoring.workspace_id,
        allow_shared_key_access=settings.storage_shared_key_access,
        protect=settings.protect_stateful_resources,
        tags=tags,
    ),
)
vault = KeyVault(
    f"{prefix}-vault",
    KeyVaultArgs(
        resource_group_name=resource_group_name,
        location=settings.location,
        tenant_id=client.tenant_id,
        vault_name=settings.names.key_vault,
        private_endpoint=endpoints,
        diagnostics_workspace_id=monitoring.workspace_id,
        protect=settings.protect_stateful_resources,
        tags=tags,
    ),
)
if settings.image_scanner:
    vault.add_secret(
        "scanner-username", settings.image_scanner.username_secret_name, secrets.require_secret("imageScannerUsername")
    )
    vault.add_secret(
        "scanner-password", settings.image_scanner.password_secret_name, secrets.require_secret("imageScannerPassword")
    )
identities = Identities(
    f"{prefix}-identity",
    IdentitiesArgs(resource_group_name=resource_group_name, location=settings.location, tags=tags),
)

# --- platform services (data): registry, Cosmos DB, PostgreSQL, Batch ---

# --- platform services (compute and access): AKS, federated credentials, role assignments ---

if settings.network.flow_logs:
    VnetFlowLog(
        f"{prefix}-flowlog",
        FlowLogArgs(
            network_watcher_name=settings.network.flow_logs.network_watcher_name,
            network_watcher_resource_group=settings.network.flow_logs.network_watcher_resource_group,
            location=settings.location,
            virtual_network_id=network.vnet_id,
            storage_account_id=storage.account_id,
            workspace_id=monitoring.workspace_id,
            workspace_customer_id=monitoring.workspace_customer_id,
            workspace_region=settings.location,
            retention_days=settings.network.flow_logs.retention_days,
            tags=tags,
        ),
    )

pulumi.export("resourceGroupName", resource_group_name)
pulumi.export("vnetId", network.vnet_id)
pulumi.export("storageAccountName", storage.account_name)
pulumi.export("keyVaultUri", vault.vault_uri)
pulumi.export("logAnalyticsWorkspaceId", monitoring.workspace_id)
