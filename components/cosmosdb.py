"""Cosmos DB (API for NoSQL) account for the TES 3.2 task store: private, TLS 1.2, continuously backed up, audited."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
from pulumi_azure_native import cosmosdb

from components.monitoring import diagnostics
from components.placement import Placement
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec
from components.protection import Protection

# Fixed by TES 3.2, not configurable there (microsoft/CromwellOnAzure@3.2.0: src/Common/Constants.cs:10-12 database
# "TES" and container "Tasks"; src/Tes/Repository/RepositoryItem.cs:22 partition key field "_partitionKey"). TES stops
# at start when the container exists with another partition key path (src/Tes/Repository/CosmosDbRepository.cs:146-155).
TES_DATABASE = "TES"
TES_CONTAINER = "Tasks"
TES_PARTITION_KEY_PATH = "/_partitionKey"
# TES creates the database, when missing, with shared autoscale throughput of this maximum
# (CosmosDbRepository.cs:20, :134-135); the stack pre-creates it the same way so TES only reads it.
TES_MAX_AUTOSCALE_THROUGHPUT = 4000

# Catalogue key (components/private_dns.py ZONES) of privatelink.documents.azure.com, where the `Sql` endpoint
# registers the account's global and regional names.
ZONE_KEY = "documents"
# Resource logs of an API for NoSQL account (Azure Monitor "Supported logs for Microsoft.DocumentDB/DatabaseAccounts");
# the Mongo, Cassandra, Gremlin and Table categories never carry data for this API. Metrics: the one category, Requests.
LOG_CATEGORIES = (
    "DataPlaneRequests",
    "ControlPlaneRequests",
    "QueryRuntimeStatistics",
    "PartitionKeyStatistics",
    "PartitionKeyRUConsumption",
)
METRIC_CATEGORIES = ("Requests",)

# Built-in data-plane role definitions every account has (learn.microsoft.com "Configure role-based access control
# with Microsoft Entra ID for your Azure Cosmos DB account"); assigned under the account, not through Azure RBAC.
DATA_ROLES: dict[str, str] = {
    "reader": "00000000-0000-0000-0000-000000000001",  # Cosmos DB Built-in Data Reader
    "contributor": "00000000-0000-0000-0000-000000000002",  # Cosmos DB Built-in Data Contributor
}

# 3-44 lowercase letters, digits and hyphens, starting and ending with a letter or digit (the first label of
# <name>.documents.azure.com, globally unique).
_ACCOUNT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,42})[a-z0-9]$")
# Autoscale maxima are set in steps of 1000 RU/s from 1000 (Azure Cosmos DB "Provisioned throughput" limits).
_AUTOSCALE_STEP = 1000
# Fixed namespace for the data-plane role assignment ids (a GUID name Azure requires): the same account and key give
# the same id on every run, so an assignment is never replaced by accident.
_ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("6f1f1a5e-3c55-4d0c-9a57-27a1b0c6c0de")


@dataclass(frozen=True, kw_only=True)
class CosmosDataRoleAssignment:
    """A data-plane role on the TES database for an Entra principal, for clients that authenticate with Entra ID.
    TES 3.2 cannot use one: it opens the store with the account key (CosmosDbRepository.cs:37)."""

    key: str  # logical name part, unique per component
    principal_id: pulumi.Input[str]
    role: Literal["reader", "contributor"] = "reader"


@dataclass(frozen=True, kw_only=True)
class CosmosDbArgs:
    placement: Placement
    account_name: str
    private_endpoint: PrivateEndpointSpec
    diagnostics_workspace_id: pulumi.Input[str]
    # Account keys (local auth) are off unless the caller says otherwise: TES 3.2 lists the primary key through ARM and
    # has no Entra ID data-plane path, so its generation turns this on as a named, visible weakening.
    local_auth_enabled: bool = False
    # Point-in-time restore window; the continuous mode cannot go back to periodic backups afterwards.
    backup_tier: Literal["Continuous7Days", "Continuous30Days"] = "Continuous7Days"
    zone_redundant: bool = False
    max_autoscale_throughput: int = TES_MAX_AUTOSCALE_THROUGHPUT
    data_role_assignments: Sequence[CosmosDataRoleAssignment] = ()
    protection: Protection = field(default_factory=Protection)

    def __post_init__(self) -> None:
        if not _ACCOUNT_NAME.fullmatch(self.account_name):
            raise ValueError(
                f"account_name {self.account_name!r}: 3-44 lowercase letters, digits and hyphens, starting and ending "
                "with a letter or digit"
            )
        maximum = self.max_autoscale_throughput
        if maximum < _AUTOSCALE_STEP or maximum % _AUTOSCALE_STEP:
            raise ValueError(f"max_autoscale_throughput {maximum}: a multiple of 1000 RU/s, at least 1000")
        if self.backup_tier not in ("Continuous7Days", "Continuous30Days"):
            raise ValueError(f"backup_tier {self.backup_tier!r}: Continuous7Days or Continuous30Days")
        keys = [a.key for a in self.data_role_assignments]
        if duplicates := sorted({k for k in keys if keys.count(k) > 1}):
            raise ValueError(f"data_role_assignments: keys {duplicates} are used more than once")
        if unknown := sorted({a.role for a in self.data_role_assignments} - set(DATA_ROLES)):
            raise ValueError(f"data_role_assignments: roles {unknown} are not one of {sorted(DATA_ROLES)}")


class CosmosDb(pulumi.ComponentResource):
    """A Cosmos DB account for API for NoSQL that is reachable only through its `Sql` private endpoint (public network
    access disabled, no IP or VNet rules, no trusted-service bypass), refuses TLS below 1.2, keeps continuous backups
    for point-in-time restore, sends its data- and control-plane logs to Log Analytics, and never lets account keys
    change databases or containers. Account keys read or write items only when `local_auth_enabled` says so. The TES
    database and container are created here with the partition key TES expects, so TES only reads them."""

    def __init__(self, name: str, args: CosmosDbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:data:CosmosDb", name, None, opts)
        account = cosmosdb.DatabaseAccount(
            f"{name}-cosmos",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            account_name=args.account_name,
            kind=cosmosdb.DatabaseAccountKind.GLOBAL_DOCUMENT_DB,
            database_account_offer_type=cosmosdb.DatabaseAccountOfferType.STANDARD,
            locations=[
                cosmosdb.LocationArgs(
                    location_name=args.placement.location, failover_priority=0, is_zone_redundant=args.zone_redundant
                )
            ],
            # TES reads its own writes within a session; CoA 3.2's deployer creates the account with Session too
            # (src/deploy-cromwell-on-azure/Deployer.cs:1677).
            consistency_policy=cosmosdb.ConsistencyPolicyArgs(
                default_consistency_level=cosmosdb.DefaultConsistencyLevel.SESSION
            ),
            public_network_access=cosmosdb.PublicNetworkAccess.DISABLED,
            is_virtual_network_filter_enabled=False,
            virtual_network_rules=[],
            ip_rules=[],
            # No path around the network rules for "trusted" Azure services.
            network_acl_bypass=cosmosdb.NetworkAclBypass.NONE,
            network_acl_bypass_resource_ids=[],
            minimal_tls_version=cosmosdb.MinimalTlsVersion.TLS12,
            # Keys (where still enabled) can read and write items, never change databases or containers.
            disable_key_based_metadata_write_access=True,
            disable_local_auth=not args.local_auth_enabled,
            backup_policy=cosmosdb.ContinuousModeBackupPolicyArgs(
                type="Continuous",
                continuous_mode_properties=cosmosdb.ContinuousModePropertiesArgs(tier=args.backup_tier),
            ),
            enable_free_tier=False,
            enable_analytical_storage=False,
            enable_multiple_write_locations=False,
            tags=dict(args.placement.tags),
            opts=args.protection.options(self),
        )
        args.protection.lock(f"{name}-cosmos", account, self, "Cosmos DB account (TES task store)")
        database = cosmosdb.SqlResourceSqlDatabase(
            f"{name}-tes",
            resource_group_name=args.placement.resource_group_name,
            account_name=account.name,
            database_name=TES_DATABASE,
            resource=cosmosdb.SqlDatabaseResourceArgs(id=TES_DATABASE),
            # Shared database throughput, as TES would create it; the container has none of its own.
            options=cosmosdb.CreateUpdateOptionsArgs(
                autoscale_settings=cosmosdb.AutoscaleSettingsArgs(max_throughput=args.max_autoscale_throughput)
            ),
            opts=args.protection.options(self),
        )
        container = cosmosdb.SqlResourceSqlContainer(
            f"{name}-tasks",
            resource_group_name=args.placement.resource_group_name,
            account_name=account.name,
            database_name=database.name,
            container_name=TES_CONTAINER,
            resource=cosmosdb.SqlContainerResourceArgs(
                id=TES_CONTAINER,
                partition_key=cosmosdb.ContainerPartitionKeyArgs(
                    paths=[TES_PARTITION_KEY_PATH], kind=cosmosdb.PartitionKind.HASH
                ),
            ),
            opts=args.protection.options(self),
        )
        endpoint = PrivateEndpoint(
            f"{name}-sql",
            PrivateEndpointArgs(
                spec=args.private_endpoint, target_resource_id=account.id, group_id="Sql", zone_key=ZONE_KEY
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.private_endpoints = [endpoint]
        diagnostics(
            f"{name}-cosmos",
            resource_id=account.id,
            workspace_id=args.diagnostics_workspace_id,
            parent=self,
            category_groups=(),
            categories=LOG_CATEGORIES,
            metric_categories=METRIC_CATEGORIES,
        )
        # Scoped to the TES database (its containers included), not the account.
        database_scope = pulumi.Output.concat(account.id, "/dbs/", TES_DATABASE)
        self.data_role_assignments = [
            cosmosdb.SqlResourceSqlRoleAssignment(
                f"{name}-data-{assignment.key}",
                resource_group_name=args.placement.resource_group_name,
                account_name=account.name,
                role_assignment_id=str(
                    uuid.uuid5(_ROLE_ASSIGNMENT_NAMESPACE, f"{args.account_name}/{assignment.key}/{assignment.role}")
                ),
                role_definition_id=pulumi.Output.concat(
                    account.id, "/sqlRoleDefinitions/", DATA_ROLES[assignment.role]
                ),
                principal_id=assignment.principal_id,
                scope=database_scope,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[database]),
            )
            for assignment in args.data_role_assignments
        ]

        self.account_id = account.id
        self.account_name = account.name
        self.document_endpoint = account.document_endpoint
        self.database_name = database.name
        self.container_name = container.name
        # What pods need before they start: the database and container TES reads, and the private path to them.
        self.workload_needs: list[pulumi.Resource] = [database, container, endpoint]
        self.register_outputs(
            {
                "account_id": self.account_id,
                "account_name": self.account_name,
                "document_endpoint": self.document_endpoint,
            }
        )
