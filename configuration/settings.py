"""The typed model of a stack's configuration: frozen objects that components receive, already validated."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from configuration.image_lock import ImageLock
from configuration.upstreams import DockerHubCredentials

EgressMode = Literal["natGateway", "firewall"]
# Where TES keeps its tasks, which decides the generation that runs: PostgreSQL (TES 6.0.0, the default) or Cosmos DB
# (CoA 3.2.0's TES and TriggerService, the reduced-assurance option: configuration/tes32.py).
TaskDatabaseKind = Literal["postgresql", "cosmosdb"]
# The runtime contracts each generation runs (components/contracts/__init__.py contracts_for).
Generation = Literal["tes6", "tes32"]
GENERATION_OF_DATABASE: dict[str, Generation] = {"postgresql": "tes6", "cosmosdb": "tes32"}
# AKS node OS disk: ephemeral, on the VM's local temporary disk (config checks the known sizes hold it).
OS_DISK_SIZE_GB = 128


@dataclass(frozen=True, kw_only=True)
class SubnetPlan:
    aks: ipaddress.IPv4Network
    batch: ipaddress.IPv4Network
    private_endpoints: ipaddress.IPv4Network
    postgres: ipaddress.IPv4Network
    # The ACR Tasks agent pool that builds TES and TriggerService (only when the stack builds them).
    acr_tasks: ipaddress.IPv4Network | None = None

    def items(self) -> list[tuple[str, ipaddress.IPv4Network]]:
        planned = [
            ("aks", self.aks),
            ("batch", self.batch),
            ("privateEndpoints", self.private_endpoints),
            ("postgres", self.postgres),
        ]
        return planned + ([("acrTasks", self.acr_tasks)] if self.acr_tasks else [])


@dataclass(frozen=True, kw_only=True)
class ImageBuildSettings:
    """TES and TriggerService built from their pinned source by ACR Tasks during `pulumi up` (components/image_build.py),
    on an agent pool in the acrTasks subnet; disabled, they come through their registry cache rule instead."""

    enabled: bool = True
    agent_pool_tier: str = "S2"


@dataclass(frozen=True, kw_only=True)
class FlowLogSettings:
    network_watcher_name: str
    network_watcher_resource_group: str
    retention_days: int


@dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    address_space: ipaddress.IPv4Network
    subnets: SubnetPlan
    egress: EgressMode
    firewall_private_ip: str | None
    trusted_source_cidrs: tuple[str, ...]
    flow_logs: FlowLogSettings | None


@dataclass(frozen=True, kw_only=True)
class NodePoolSettings:
    vm_size: str
    min_count: int
    max_count: int


@dataclass(frozen=True, kw_only=True)
class AksSettings:
    kubernetes_version: str
    service_cidr: ipaddress.IPv4Network
    dns_service_ip: str
    pod_cidr: ipaddress.IPv4Network
    system_pool: NodePoolSettings
    user_pool: NodePoolSettings
    availability_zones: tuple[str, ...]
    admin_group_object_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class EntraAdminGroup:
    """An Entra ID group made administrator of a PostgreSQL server (its members log in with Entra tokens)."""

    object_id: str
    display_name: str


@dataclass(frozen=True, kw_only=True)
class PostgresSettings:
    version: str
    sku_name: str
    sku_tier: str
    storage_size_gb: int
    backup_retention_days: int
    high_availability: bool
    geo_redundant_backup: bool
    entra_admin: EntraAdminGroup | None = None


@dataclass(frozen=True, kw_only=True)
class BatchNodeImage:
    """A Marketplace image for Batch pool nodes and the node agent that matches it (TES BatchImageGen1/Gen2)."""

    publisher: str
    offer: str
    sku: str
    version: str
    node_agent_sku_id: str


@dataclass(frozen=True, kw_only=True)
class BatchNodeImages:
    # TES picks gen2 for VM sizes that list Hyper-V generation V2, gen1 for the others.
    gen1: BatchNodeImage
    gen2: BatchNodeImage


DataAccess = Literal["read", "readWrite"]


@dataclass(frozen=True, kw_only=True)
class DataContainer:
    name: str
    access: DataAccess


# Who creates the workload identity's role assignments on an account the stack does not own: this stack (its deploy
# identity then needs roleAssignments/write on the account) or the account's owner (the stack lists what to grant).
RoleGrantor = Literal["stack", "owner"]
# Who approves the private endpoint connection: Azure at once, when the deploy identity holds
# privateEndpointConnectionsApproval/action on the account, or the owner (the connection waits Pending until then).
EndpointApproval = Literal["automatic", "owner"]


@dataclass(frozen=True, kw_only=True)
class DataStorageAccount:
    """An existing storage account outside the VNet (e.g. sequencer output) that workflows read or write.

    The program cannot see the account's own settings; the stack file states them (checked by scripts/preflight.sh)."""

    id: str
    subscription_id: str
    resource_group: str
    name: str
    containers: tuple[DataContainer, ...]
    # create: a blob private endpoint in our endpoint subnet; existing: the hub already has one, with DNS.
    private_endpoint: Literal["create", "existing"]
    role_assignments: RoleGrantor = "stack"
    endpoint_approval: EndpointApproval = "automatic"


@dataclass(frozen=True, kw_only=True)
class ImageScannerSettings:
    image: str
    registry_server: str
    username_secret_name: str
    password_secret_name: str
    # Operator-issued credentials: their Key Vault secrets expire when the operator says they do.
    credentials_expire_on: datetime.date | None = None


@dataclass(frozen=True, kw_only=True)
class EncryptionSettings:
    """Customer-managed keys in the stack's Key Vault for storage, node disks, PostgreSQL and the registry
    (configuration/encryption.py)."""

    customer_managed_keys: bool = False


@dataclass(frozen=True, kw_only=True)
class SecretRotation:
    """Generated passwords are replaced every `period_days`; each secret version expires `grace_days` after its
    successor is due (configuration/rotation.py)."""

    period_days: int = 90
    grace_days: int = 14


# How this VNet resolves the hub's existing zones: the hub links them to this VNet (outside the program's sight),
# this stack links them, or the VNet uses custom DNS servers (a hub resolver) that resolve them.
HubZoneResolution = Literal["linkedByHub", "linkHere", "dnsServers"]


@dataclass(frozen=True, kw_only=True)
class DnsSettings:
    # Existing hub zone ids keyed by the catalogue key (configuration.private_dns_zones.ZONES); empty: we create the zones.
    existing_zone_ids: Mapping[str, str]
    zone_groups_managed_by_policy: bool
    # Required with existing_zone_ids; None when every zone is created (and linked) here.
    hub_zone_resolution: HubZoneResolution | None = None
    # The VNet's DNS servers (private addresses of a hub resolver), with hub_zone_resolution dnsServers only.
    servers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CosmosSettings:
    """The Cosmos DB account of the TES 3.2 task store (components/cosmosdb.py)."""

    account_name: str
    # Stated in the stack file: TES 3.2 and TriggerService 3.2 open the store with the account key.
    local_auth_enabled: bool
    backup_tier: Literal["Continuous7Days", "Continuous30Days"]
    zone_redundant: bool
    max_autoscale_throughput: int


@dataclass(frozen=True, kw_only=True)
class ApplicationCredential:
    """An Entra ID application a 3.2 pod signs in as (AzureServicesAuthConnectionString RunAs=App): the operator
    creates it and its client secret; the stack stores the secret in Key Vault and grants the service principal."""

    # tes or triggerservice: the workload (Deployment) that uses it.
    workload: str
    client_id: str
    # Object id of the application's service principal (what role assignments name).
    object_id: str
    tenant_id: str
    # Config key holding the client secret (`pulumi config set --secret`).
    secret_key: str
    # The day the client secret expires in Entra ID; its Key Vault secret expires with it.
    secret_expires_on: datetime.date


@dataclass(frozen=True, kw_only=True)
class Tes32Settings:
    """What the CoA 3.2 generation needs stated (taskDatabase cosmosdb)."""

    cosmos: CosmosSettings
    # By workload: tes, triggerservice.
    credentials: Mapping[str, ApplicationCredential]


@dataclass(frozen=True, kw_only=True)
class Names:
    storage_account: str
    batch_account: str
    key_vault: str
    registry: str
    postgres_server: str
    cluster: str


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str
    location: str
    workload: str
    resource_group_name: str | None
    names: Names
    network: NetworkSettings
    dns: DnsSettings
    aks: AksSettings
    batch_max_nodes: int
    batch_images: BatchNodeImages
    # VM sizes or families TES may choose (tes-internal/configuration/allowed-vm-sizes), each offered in the region
    # and booting the node image of its Hyper-V generation.
    batch_allowed_vm_sizes: tuple[str, ...]
    data_storage_accounts: tuple[DataStorageAccount, ...]
    task_database: TaskDatabaseKind
    postgres: PostgresSettings
    log_retention_days: int
    image_scanner: ImageScannerSettings | None
    protect_stateful_resources: bool
    # CanNotDelete locks on the stateful resources (components/protection.py).
    resource_locks: bool
    # Production by environment or by stack name (configuration/guardrails.py).
    production: bool
    # Storage SKU Standard_<redundancy>: ZRS, GZRS or RAGZRS.
    storage_redundancy: str
    # Every image the chart runs, with the digest that pins it (images.lock.json); build entries come from the stack's
    # own build when image_build is enabled, from their cache rule otherwise.
    images: ImageLock
    image_build: ImageBuildSettings
    secret_rotation: SecretRotation
    # Guardrails this production stack accepts on purpose, with the stack file's reason.
    guardrail_overrides: Mapping[str, str]
    # Shared-key access on the CoA storage account; off unless the stack file says so.
    storage_shared_key_access: bool
    tags: Mapping[str, str] = field(default_factory=dict)
    # Only with task_database cosmosdb.
    tes32: Tes32Settings | None = None
    # The reduced-assurance generation's weakenings that a non-production stack runs without an override (each is
    # warned in every preview): override name -> what it weakens.
    unacknowledged_weakenings: Mapping[str, str] = field(default_factory=dict)
    encryption: EncryptionSettings = field(default_factory=EncryptionSettings)
    # The Key Vault secrets the Docker Hub cache rules authenticate with (configuration/upstreams.py); None when no
    # image comes from Docker Hub.
    docker_hub: DockerHubCredentials | None = None

    @property
    def is_production(self) -> bool:
        return self.production

    @property
    def generation(self) -> Generation:
        return GENERATION_OF_DATABASE[self.task_database]
