"""coa-lockdown: composes the components for one stack. All configuration is validated before anything is created."""

import calendar
import dataclasses
import datetime

import pulumi
from pulumi_azure_native import authorization, resources

from components.access import Access, AccessArgs
from components.admission import AdmissionArgs, ImageAdmission
from components.aks import Aks, AksArgs
from components.batch import Batch, BatchArgs, scanner_settings
from components.batch_governance import BatchGovernance, BatchGovernanceArgs
from components.contracts import contracts_for, derive
from components.contracts.roles import CUSTOM_ROLES
from components.cosmosdb import CosmosDb, CosmosDbArgs
from components.custom_roles import CustomRoles, CustomRolesArgs
from components.data_storage import DataStorageLinks, DataStorageLinksArgs
from components.encryption import CustomerKeys, CustomerKeysArgs
from components.identity import Identities, IdentitiesArgs
from components.image_build import ImageBuild, ImageBuildArgs
from components.keyvault import KeyVault, KeyVaultArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import FlowLogArgs, Network, NetworkArgs, VnetFlowLog
from components.placement import Placement
from components.postgres import CROMWELL_USER, TES_USER, Postgres, PostgresArgs
from components.private_dns import PrivateDns, PrivateDnsArgs
from components.private_endpoint import PrivateEndpointSpec
from components.protection import Protection
from components.registry import (
    DOCKER_HUB_CREDENTIAL_SET,
    BuildAgentPoolSpec,
    Registry,
    RegistryArgs,
    cache_rules_for,
)
from components.storage import Storage, StorageArgs
from components.workload import (
    NAMESPACE,
    SERVICE_ACCOUNTS,
    ChartInputs,
    ChartOptions,
    CromwellOnAzure,
    CromwellOnAzureArgs,
)
from configuration.batch import retired_node_agents
from configuration.preflight import core_needs, host, registry_data_endpoint
from configuration.private_dns_zones import zone_name, zones_for
from configuration.rotation import RotationSchedule
from configuration.stack import load_settings
from configuration.tes32 import CONNECTION_STRING_SECRETS

settings = load_settings()
# What this stack runs: TES 6 (taskDatabase postgresql) or the reduced-assurance CoA 3.2 generation (cosmosdb).
contracts = contracts_for(settings.generation)
tes32 = settings.tes32
# Options that switch runtime-contract entries on (components/contracts/__init__.py Condition).
conditions = set(
    derive.stack_conditions(
        generation=settings.generation,
        shared_key_access=settings.storage_shared_key_access,
        image_scanner=settings.image_scanner is not None,
    )
)
grants = derive.grants(contracts, conditions)
# How TES starts the Batch start task, and whether the start task must log the node's Docker in to the registry: the
# TES contract says (TES 3.2: `/bin/sh <path>`, and pulls that carry no credentials of TES's).
tes_contract = next(c for c in contracts if c.workload == "tes")
start_task_runner = tes_contract.start_task.runner if tes_contract.start_task else "shebang"
node_registry_login = any(
    a.principal == "batch-node" and a.via == "start-task" and a.scope == "registry" for a in tes_contract.azure_actions
)
# The day decides which rotation period the generated passwords belong to (configuration/rotation.py).
rotation = RotationSchedule(
    period_days=settings.secret_rotation.period_days,
    grace_days=settings.secret_rotation.grace_days,
    today=datetime.datetime.now(datetime.UTC).date(),
)
secrets = pulumi.Config()
client = authorization.get_client_config_output()
tags = dict(settings.tags)
prefix = f"{settings.workload}-{settings.environment}"

# protect in Pulumi's state for every data-bearing resource, and CanNotDelete locks on the stateful ones (production).
protection = Protection(protect=settings.protect_stateful_resources, locks=settings.resource_locks)
if settings.resource_group_name:
    resource_group_name: pulumi.Input[str] = settings.resource_group_name
else:
    # Never locked (a group lock would stop TES deleting Batch pools); its stateful resources are.
    resource_group_name = resources.ResourceGroup(
        f"{prefix}-rg",
        location=settings.location,
        tags=tags,
        opts=pulumi.ResourceOptions(protect=protection.protect),
    ).name
# Where every component puts its resources.
placement = Placement(resource_group_name=resource_group_name, location=settings.location, tags=tags)

monitoring = Monitoring(
    f"{prefix}-mon",
    MonitoringArgs(
        placement=placement,
        retention_days=settings.log_retention_days,
        protection=protection,
    ),
)
network = Network(
    f"{prefix}-net",
    NetworkArgs(
        placement=placement,
        address_space=settings.network.address_space,
        subnets=settings.network.subnets,
        egress=settings.network.egress,
        firewall_private_ip=settings.network.firewall_private_ip,
        trusted_source_cidrs=settings.network.trusted_source_cidrs,
        dns_servers=settings.dns.servers,
    ),
)
dns = PrivateDns(
    f"{prefix}-dns",
    PrivateDnsArgs(
        placement=placement,
        virtual_network_id=network.vnet_id,
        existing_zone_ids=settings.dns.existing_zone_ids,
        link_existing_zones=settings.dns.hub_zone_resolution == "linkHere",
        zone_keys=zones_for(settings.task_database),
    ),
)
endpoints = PrivateEndpointSpec(
    placement=placement,
    subnet_id=network.subnet_ids["privateEndpoints"],
    zone_ids=dns.zone_ids,
    zone_group_managed_by_policy=settings.dns.zone_groups_managed_by_policy,
)
monitoring.connect_private_link(endpoints)
vault = KeyVault(
    f"{prefix}-vault",
    KeyVaultArgs(
        placement=placement,
        tenant_id=client.tenant_id,
        vault_name=settings.names.key_vault,
        private_endpoint=endpoints,
        diagnostics_workspace_id=monitoring.workspace_id,
        protection=protection,
        trusted_services_bypass=settings.encryption.customer_managed_keys,
    ),
)
# encryption.customerManagedKeys: storage, the registry, PostgreSQL and the node disks under keys in our vault.
customer_keys = (
    CustomerKeys(
        f"{prefix}-cmk",
        CustomerKeysArgs(
            placement=placement,
            vault=vault,
            subscription_id=client.subscription_id,
            rotation=rotation,
            protection=protection,
        ),
    )
    if settings.encryption.customer_managed_keys
    else None
)
customer_key = customer_keys.keys.get if customer_keys else lambda _consumer: None
storage = Storage(
    f"{prefix}-storage",
    StorageArgs(
        placement=placement,
        account_name=settings.names.storage_account,
        private_endpoint=endpoints,
        diagnostics_workspace_id=monitoring.workspace_id,
        # The containers the workloads need, from their runtime contracts.
        containers=derive.containers(contracts),
        allow_shared_key_access=settings.storage_shared_key_access,
        redundancy=settings.storage_redundancy,
        protection=protection,
        customer_key=customer_key("storage"),
    ),
)
if settings.image_scanner:
    scanner = settings.image_scanner
    scanner_expiry = (
        calendar.timegm(scanner.credentials_expire_on.timetuple()) if scanner.credentials_expire_on else None
    )
    vault.add_secret(
        "scanner-username",
        scanner.username_secret_name,
        secrets.require_secret("imageScannerUsername"),
        expires=scanner_expiry,
    )
    vault.add_secret(
        "scanner-password",
        scanner.password_secret_name,
        secrets.require_secret("imageScannerPassword"),
        expires=scanner_expiry,
    )
if tes32:
    # Each 3.2 pod's AzureServicesAuthConnectionString (RunAs=App with its client secret), expiring with the secret.
    for workload, credential in tes32.credentials.items():
        vault.add_secret(
            f"{workload}-azure-services-auth",
            CONNECTION_STRING_SECRETS[workload],
            pulumi.Output.concat(
                f"RunAs=App;AppId={credential.client_id};TenantId={credential.tenant_id};AppKey=",
                secrets.require_secret(credential.secret_key),
            ),
            expires=calendar.timegm(credential.secret_expires_on.timetuple()),
        )
identities = Identities(
    f"{prefix}-identity",
    IdentitiesArgs(placement=placement),
)

registry = Registry(
    f"{prefix}-registry",
    RegistryArgs(
        placement=placement,
        registry_name=settings.names.registry,
        private_endpoint=endpoints,
        diagnostics_workspace_id=monitoring.workspace_id,
        # A zonal stack (AKS across zones) gets a zone-redundant registry; it can only be chosen at creation.
        zone_redundant=bool(settings.aks.availability_zones),
        cache_rules=cache_rules_for(settings.images),
        build_agent_pool=BuildAgentPoolSpec(
            subnet_id=network.subnet_ids["acrTasks"], tier=settings.image_build.agent_pool_tier
        )
        if settings.image_build.enabled and settings.images.built()
        else None,
        customer_key=customer_key("registry"),
        docker_hub=settings.docker_hub,
        subscription_id=client.subscription_id,
    ),
)
# TES and TriggerService are not on MCR: built from their pinned source into the registry, before the release needs them.
image_build = ImageBuild(
    f"{prefix}-build",
    ImageBuildArgs(
        images=settings.images,
        registry_name=registry.registry_name,
        registry_id=registry.id,
        agent_pool_name=registry.agent_pool_name or "",
        depends_on=[*registry.build_needs, *dns.links.values()],
    ),
)
postgres = Postgres(
    f"{prefix}-postgres",
    PostgresArgs(
        placement=placement,
        server_name=settings.names.postgres_server,
        tenant_id=client.tenant_id,
        delegated_subnet_id=network.subnet_ids["postgres"],
        private_dns_zone_id=dns.zone_ids["postgres"],
        private_dns_zone_link=dns.links.get("postgres"),
        vault=vault,
        rotation=rotation,
        diagnostics_workspace_id=monitoring.workspace_id,
        version=settings.postgres.version,
        sku_name=settings.postgres.sku_name,
        sku_tier=settings.postgres.sku_tier,
        storage_size_gb=settings.postgres.storage_size_gb,
        backup_retention_days=settings.postgres.backup_retention_days,
        high_availability=settings.postgres.high_availability,
        geo_redundant_backup=settings.postgres.geo_redundant_backup,
        # TES 3.2 keeps its tasks in Cosmos DB: only Cromwell's database then.
        users=(CROMWELL_USER, TES_USER) if settings.generation == "tes6" else (CROMWELL_USER,),
        entra_admin=settings.postgres.entra_admin,
        protection=protection,
        customer_key=customer_key("postgres"),
    ),
)
batch = Batch(
    f"{prefix}-batch",
    BatchArgs(
        placement=placement,
        account_name=settings.names.batch_account,
        private_endpoint=endpoints,
        diagnostics_workspace_id=monitoring.workspace_id,
        identity_id=identities.workload.id,
        identity_client_id=identities.workload.client_id,
        storage_account_id=storage.account_id,
        configuration_container_name=storage.container_names["configuration"],
        batch_subnet_id=network.subnet_ids["batch"],
        scanner=scanner_settings(settings.image_scanner, settings.names.key_vault),
        start_task_runner=start_task_runner,
        registry_login_server=registry.login_server if node_registry_login else None,
    ),
)
# TES creates its pools through ARM after `pulumi up`, where the policy pack never looks: Azure Policy on the account
# denies a pool with public IPs, outside the Batch subnet, on a retired node agent or with classic node communication.
batch_governance = BatchGovernance(
    f"{prefix}-batch-governance",
    BatchGovernanceArgs(
        batch_account_id=batch.id,
        batch_subnet_ids=[network.subnet_ids["batch"]],
        # Fixed on the day of `pulumi up`: a later `up` adds agents that have retired since.
        retired_node_agents=sorted(retired_node_agents(datetime.datetime.now(datetime.UTC).date())),
        name_prefix=prefix,
        # TES 3.2 leaves the pool's node communication mode to Batch: audited, not denied (reduced assurance).
        effect_overrides={"batch-pool-simplified-communication": "Audit"} if settings.generation == "tes32" else {},
    ),
)

aks = Aks(
    f"{prefix}-aks",
    AksArgs(
        placement=placement,
        cluster_name=settings.names.cluster,
        settings=settings.aks,
        subscription_id=client.subscription_id,
        subnet_id=network.subnet_ids["aks"],
        egress=settings.network.egress,
        route_table_id=network.route_table_id,
        private_dns_zone_id=dns.zone_ids["aks"],
        workspace_id=monitoring.workspace_id,
        control_plane=identities.control_plane,
        kubelet=identities.kubelet,
        # Uptime SLA for the production API server.
        sku_tier="Standard" if settings.is_production else "Free",
        disk_encryption=customer_keys.disk_encryption if customer_keys else None,
    ),
)
# The monitoring add-on authenticates with Entra ID: it needs a DCR and a private configuration endpoint on the cluster.
monitoring.collect_container_insights(aks.id, settings.location)
cosmos = (
    CosmosDb(
        f"{prefix}-cosmos",
        CosmosDbArgs(
            placement=placement,
            account_name=tes32.cosmos.account_name,
            private_endpoint=endpoints,
            diagnostics_workspace_id=monitoring.workspace_id,
            # Stated in the stack file and overridden by name in production (guardrail cosmosLocalAuth).
            local_auth_enabled=tes32.cosmos.local_auth_enabled,
            backup_tier=tes32.cosmos.backup_tier,
            zone_redundant=tes32.cosmos.zone_redundant,
            max_autoscale_throughput=tes32.cosmos.max_autoscale_throughput,
            protection=protection,
        ),
    )
    if tes32
    else None
)
subscription_scope = pulumi.Output.concat("/subscriptions/", client.subscription_id)
resource_group_scope = pulumi.Output.concat(subscription_scope, "/resourceGroups/", resource_group_name)
# Roles no built-in covers narrowly (components/contracts/roles.py CUSTOM_ROLES), defined where they are assigned.
custom_roles = (
    CustomRoles(
        f"{prefix}-roles",
        CustomRolesArgs(
            assignable_scopes={
                role: subscription_scope if scope == "subscription" else resource_group_scope
                for role, scope in sorted({(g.role, g.scope) for g in grants if g.role in CUSTOM_ROLES})
            },
            label=f"{pulumi.get_project()} {pulumi.get_stack()}",
        ),
    )
    if any(g.role in CUSTOM_ROLES for g in grants)
    else None
)
# Every role grant is what the runtime contracts need, on the resource each scope names (components/contracts/).
access = Access(
    f"{prefix}-access",
    AccessArgs(
        subscription_id=client.subscription_id,
        workload=identities.workload,
        kubelet=identities.kubelet,
        oidc_issuer_url=aks.oidc_issuer_url,
        service_accounts=SERVICE_ACCOUNTS,
        grants=grants,
        scopes={
            "storage-account": storage.account_id,
            "batch-account": batch.id,
            "batch-subnet": network.subnet_ids["batch"],
            "workload-identity": identities.workload.id,
            "key-vault": vault.vault_id,
            "registry": registry.id,
            **({"cosmos-account": cosmos.account_id, "subscription": subscription_scope} if cosmos else {}),
        },
        # The 3.2 pods' Entra applications (operator-created; their client secrets are in Key Vault).
        applications={f"{c.workload}-app": c.object_id for c in tes32.credentials.values()} if tes32 else {},
        custom_role_guids=custom_roles.guids if custom_roles else {},
    ),
)
# Existing accounts outside the VNet (sequencer output) that workflows read or write.
data_links = DataStorageLinks(
    f"{prefix}-data",
    DataStorageLinksArgs(
        accounts=settings.data_storage_accounts,
        workload=identities.workload,
        private_endpoint=endpoints,
        grants=grants,
        requester=f"coa-lockdown stack {pulumi.get_stack()}",
    ),
)
# Production runs images by digest only (guardrail unpinnedImages): the chart schema and the admission policy hold it.
require_image_digests = settings.production and "unpinnedImages" not in settings.guardrail_overrides
ImageAdmission(
    f"{prefix}-admission",
    AdmissionArgs(
        cluster_id=aks.id,
        registry_login_server=registry.login_server,
        namespaces=[NAMESPACE],
        require_digest=require_image_digests,
    ),
)
coa = CromwellOnAzure(
    f"{prefix}-coa",
    CromwellOnAzureArgs(
        provider=aks.provider,
        inputs=ChartInputs[pulumi.Input[str]](
            tenant_id=client.tenant_id,
            subscription_id=client.subscription_id,
            resource_group_name=resource_group_name,
            workload_client_id=identities.workload.client_id,
            workload_resource_id=identities.workload.id,
            storage_account_name=storage.account_name,
            storage_blob_endpoint=storage.blob_endpoint,
            batch_account_name=batch.account_name,
            batch_endpoint=batch.endpoint,
            batch_subnet_id=batch.batch_subnet_id,
            global_start_task=batch.global_start_task_path,
            start_task_script=batch.start_task_script,
            key_vault_name=vault.vault_name,
            postgres_fqdn=postgres.fqdn,
            postgres_admin_login=postgres.admin_login,
            cromwell_db_password_secret=postgres.password_secret_names["cromwell"],
            db_admin_password_secret=postgres.password_secret_names["admin"],
            tes_db_password_secret=postgres.password_secret_names.get("tes", ""),
            registry_login_server=registry.login_server,
            **(
                {
                    "cosmos_account_name": cosmos.account_name,
                    "tes_auth_secret": vault.secret_names["tes-azure-services-auth"],
                    "triggerservice_auth_secret": vault.secret_names["triggerservice-azure-services-auth"],
                }
                if cosmos
                else {}
            ),
        ),
        options=ChartOptions(
            kubernetes_version=settings.aks.kubernetes_version,
            cache_rules=registry.cache_sources,
            images=settings.images,
            require_image_digests=require_image_digests,
            private_endpoints_cidr=str(settings.network.subnets.private_endpoints),
            postgres_cidr=str(settings.network.subnets.postgres),
            batch_prefix=f"{settings.workload}{settings.environment}",
            batch_images=settings.batch_images,
            batch_allowed_vm_sizes=settings.batch_allowed_vm_sizes,
            data_storage_accounts=settings.data_storage_accounts,
            storage_shared_key_access=settings.storage_shared_key_access,
            contract_conditions=frozenset(conditions),
            cromwell_login=postgres.logins["cromwell"],
            database_logins=postgres.all_logins,
            tes_login=postgres.logins.get("tes", "tes"),
            generation=settings.generation,
        ),
        built_digests=image_build.digests,
        # Only what the pods use (a component as a whole would also wait for its diagnostics and the like).
        depends_on=[
            *access.workload_needs,
            *data_links.workload_needs,
            *storage.workload_needs,
            *vault.workload_needs,
            *postgres.workload_needs,
            *batch.workload_needs,
            # TES may create a pool as soon as its pod runs; the deny must already be assigned.
            *batch_governance.assignments.values(),
            *registry.workload_needs,
            *image_build.builds,
            *(cosmos.workload_needs if cosmos else []),
            aks.user_pool,
        ],
    ),
)
if settings.network.flow_logs:
    VnetFlowLog(
        f"{prefix}-flowlog",
        FlowLogArgs(
            placement=dataclasses.replace(
                placement, resource_group_name=settings.network.flow_logs.network_watcher_resource_group
            ),
            network_watcher_name=settings.network.flow_logs.network_watcher_name,
            virtual_network_id=network.vnet_id,
            storage_account_id=storage.account_id,
            workspace_id=monitoring.workspace_id,
            workspace_customer_id=monitoring.workspace_customer_id,
            workspace_region=settings.location,
            retention_days=settings.network.flow_logs.retention_days,
        ),
    )

pulumi.export("resourceGroupName", resource_group_name)
pulumi.export("vnetId", network.vnet_id)
pulumi.export("storageAccountName", storage.account_name)
pulumi.export("keyVaultUri", vault.vault_uri)
pulumi.export("logAnalyticsWorkspaceId", monitoring.workspace_id)
pulumi.export("registryLoginServer", registry.login_server)
pulumi.export("batchAccountName", batch.account_name)
pulumi.export("postgresFqdn", postgres.fqdn)
pulumi.export("aksClusterName", aks.cluster_name)
# Secret: the exec-plugin kubeconfig for the private API server (needs kubelogin and line of sight).
pulumi.export("kubeconfig", aks.kubeconfig)
pulumi.export("cromwellUrl", coa.cromwell_url)
pulumi.export("tesUrl", coa.tes_url)
# When the next `pulumi up` replaces the generated passwords, and which login slot the pods use now.
pulumi.export(
    "secretRotation",
    {
        "periodDays": rotation.period_days,
        "activeSlot": rotation.active_slot,
        "nextRotation": rotation.next_rotation().isoformat(),
    },
)
# What each data account's owner must do by hand (approve our endpoint, create the grants), as az commands.
if settings.data_storage_accounts:
    pulumi.export("dataAccountOwnerSteps", data_links.owner_steps(identities.workload.principal_id))
# What scripts/preflight.sh checks on the real subscription (docs/preflight.md): names, ids and numbers only.
needs = core_needs(settings.location, settings.batch_allowed_vm_sizes)
hub_resolution = settings.dns.hub_zone_resolution
pulumi.export(
    "preflight",
    {
        "stack": pulumi.get_stack(),
        "subscriptionId": client.subscription_id,
        "resourceGroup": resource_group_name,
        "registry": {
            "name": registry.registry_name,
            # Credential sets whose Key Vault secrets the cache must read (docs/deploying.md, Docker Hub credentials).
            "credentialSets": [DOCKER_HUB_CREDENTIAL_SET] if settings.docker_hub else [],
            "images": [
                {
                    "key": key,
                    "repository": settings.images[key].repository,
                    "tag": settings.images[key].tag,
                    "digest": image_build.digests.get(key, settings.images[key].digest),
                    "source": settings.images[key].source,
                }
                for key in settings.images.keys
            ],
        },
        "aks": {
            "name": aks.cluster_name,
            "resourceGroup": resource_group_name,
            "blobCsiMinVersion": "1.27.0",
            "namespace": NAMESPACE,
            "probeDeployment": "cromwell",
        },
        "batch": {
            "accountName": batch.account_name,
            "resourceGroup": resource_group_name,
            "dedicatedCoresNeeded": dict(needs.dedicated),
            "lowPriorityCoresNeeded": needs.low_priority,
        },
        "privateEndpoints": [
            {"name": endpoint.endpoint_name, "id": endpoint.endpoint_id}
            for component in (storage, vault, registry, batch, monitoring, *([cosmos] if cosmos else []))
            for endpoint in component.private_endpoints
        ],
        "dataAccounts": [
            {
                "name": account.name,
                "id": account.id,
                "privateEndpointId": data_links.endpoints[account.name].endpoint_id
                if account.name in data_links.endpoints
                else None,
                "rolesGrantedBy": account.role_assignments,
                "principalId": identities.workload.principal_id,
                "containers": [{"name": c.name, "access": c.access} for c in account.containers],
            }
            for account in settings.data_storage_accounts
        ],
        "privateNames": [
            storage.blob_endpoint.apply(host),
            registry.login_server,
            registry.login_server.apply(lambda server: registry_data_endpoint(server, settings.location)),
            vault.vault_uri.apply(host),
            batch.endpoint.apply(host),
            postgres.fqdn,
            *([cosmos.document_endpoint.apply(host)] if cosmos else []),
        ],
        # Zones the VNet must be linked to: ours, and the hub's unless a hub resolver answers for them.
        "dnsZones": [
            {"name": zone_name(key, settings.location), "id": zone_id}
            for key, zone_id in dns.zone_ids.items()
            if key not in settings.dns.existing_zone_ids or hub_resolution in ("linkedByHub", "linkHere")
        ],
        "vnetId": network.vnet_id,
        # The CoA 3.2 generation's Entra applications: their client secrets must outlive the planned rotation.
        "applications": [
            {"workload": workload, "clientId": c.client_id, "secretExpiresOn": c.secret_expires_on.isoformat()}
            for workload, c in (tes32.credentials.items() if tes32 else ())
        ],
    },
)
# What the hub firewall must allow for this stack (prod egress: firewall), derived from the runtime contracts: one row
# per host or service tag and port, with who needs it. docs/deploying.md's table is the checked-in stacks' copy.
pulumi.export(
    "firewallAllowList",
    [
        {
            "destination": rule.destination,
            "port": rule.port,
            "consumers": list(rule.consumers),
            "required": rule.required,
            "why": rule.why,
        }
        for rule in derive.firewall_allow_list(
            contracts,
            conditions=conditions,
            image_build=settings.image_build.enabled and bool(settings.images.built()),
        )
    ],
)
# Production guardrails this stack relaxes on purpose, with the stack file's reasons: every preview shows them.
if settings.guardrail_overrides:
    pulumi.export("guardrailOverrides", dict(settings.guardrail_overrides))
    for override, reason in settings.guardrail_overrides.items():
        pulumi.log.warn(f"production guardrail overridden: {override}: {reason}")
# The reduced-assurance generation's weakenings a non-production stack runs without naming them: warned every preview.
for weakening, why in settings.unacknowledged_weakenings.items():
    pulumi.log.warn(f"reduced assurance (taskDatabase cosmosdb): {weakening}: {why}")
