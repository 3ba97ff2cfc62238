"""Cosmos DB (SQL API) task store for TES 3.2, the generation of the article: private, TLS 1.2, continuous backup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import cosmosdb

from components.monitoring import diagnostics
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec

# Fixed by TES 3.2 (src/Common/Constants.cs, src/Tes/Repository/RepositoryItem.cs): not configurable there, and TES
# refuses to start when an existing container has another partition key path.
TES_DATABASE = "TES"
TES_CONTAINER = "Tasks"
TES_PARTITION_KEY_PATH = "/_partitionKey"
# TES creates the database with shared autoscale throughput of this maximum (CosmosDbRepository.MaxAutoScaleThroughput).
TES_MAX_AUTOSCALE_THROUGHPUT = 4000


@dataclass(frozen=True, kw_only=True)
class CosmosDbArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    account_name: str
    private_endpoint: PrivateEndpointSpec
    diagnostics_workspace_id: pulumi.Input[str]
    # TES 3.2 reads the account key through ARM listKeys and has no Entra ID data-plane support; the stack file has
    # to say so (config: cosmos.localAuthEnabled). Newer clients run with keys off.
    local_auth_enabled: bool = False
    zone_redundant: bool = False
    max_autoscale_throughput: int = TES_MAX_AUTOSCALE_THROUGHPUT
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


class CosmosDb(pulumi.ComponentResource):
    """A Cosmos DB SQL account reachable only through its private endpoint, with the database and container TES
    expects pre-created (so key-based metadata writes can stay off)."""

    def __init__(self, name: str, args: CosmosDbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:data:CosmosDb", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = cosmosdb.DatabaseAccount(
            f"{name}-cosmos",
            resource_group_name=args.resource_group_name,
            location=args.location,
            account_name=args.account_name,  # globally unique, 3-44 characters (checked in config)
            kind=cosmosdb.DatabaseAccountKind.GLOBAL_DOCUMENT_DB,
            database_account_offer_type=cosmosdb.DatabaseAccountOfferType.STANDARD,
            locations=[
                cosmosdb.LocationArgs(
                    location_name=args.location, failover_priority=0, is_zone_redundant=args.zone_redundant
                )
            ],
            # TES reads its own writes within a session; CoA's deployer uses Session as well.
            consistency_policy=cosmosdb.ConsistencyPolicyArgs(
                default_consistency_level=cosmosdb.DefaultConsistencyLevel.SESSION
            ),
            public_network_access=cosmosdb.PublicNetworkAccess.DISABLED,
            is_virtual_network_filter_enabled=False,
            ip_rules=[],
            minimal_tls_version=cosmosdb.MinimalTlsVersion.TLS12,
            # Keys (where still enabled for TES 3.2) can read and write items, never change databases or containers.
            disable_key_based_metadata_write_access=True,
            disable_local_auth=not args.local_auth_enabled,
            # Point-in-time restore of the task store; the backup mode cannot go back to periodic afterwards.
            backup_policy=cosmosdb.ContinuousModeBackupPolicyArgs(
                type="Continuous",
                continuous_mode_properties=cosmosdb.ContinuousModePropertiesArgs(
                    tier=cosmosdb.ContinuousTier.CONTINUOUS7_DAYS
                ),
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        database = cosmosdb.SqlResourceSqlDatabase(
            f"{name}-tes",
            resource_group_name=args.resource_group_name,
            account_name=account.name,
            database_name=TES_DATABASE,
            resource=cosmosdb.SqlDatabaseResourceArgs(id=TES_DATABASE),
            # Shared database throughput, as TES would create it; the container gets none of its own.
            options=cosmosdb.CreateUpdateOptionsArgs(
                autoscale_settings=cosmosdb.AutoscaleSettingsArgs(max_throughput=args.max_autoscale_throughput)
            ),
            opts=child,
        )
        cosmosdb.SqlResourceSqlContainer(
            f"{name}-tasks",
            resource_group_name=args.resource_group_name,
            account_name=account.name,
            database_name=database.name,
            container_name=TES_CONTAINER,
            resource=cosmosdb.SqlContainerResourceArgs(
                id=TES_CONTAINER,
                partition_key=cosmosdb.ContainerPartitionKeyArgs(
                    paths=[TES_PARTITION_KEY_PATH], kind=cosmosdb.PartitionKind.HASH
                ),
            ),
            opts=child,
        )
        PrivateEndpoint(
            f"{name}-sql",
            PrivateEndpointArgs(
                spec=args.private_endpoint, target_resource_id=account.id, group_id="Sql", zone_key="cosmosSql"
            ),
            opts=child,
        )
        diagnostics(f"{name}-cosmos", resource_id=account.id, workspace_id=args.diagnostics_workspace_id, parent=self)

        self.id = account.id
        self.account_name = account.name
        self.endpoint = account.document_endpoint
        self.database_name = database.name
        self.register_outputs({"id": self.id, "account_name": self.account_name, "endpoint": self.endpoint})
