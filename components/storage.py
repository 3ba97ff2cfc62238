"""The CoA storage account: blob only, reachable only through its private endpoint, recoverable after deletes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import storage

from components.encryption import CustomerKey
from components.monitoring import diagnostics
from components.placement import Placement
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec
from components.protection import Protection

# The containers Cromwell on Azure 6.0.0 creates (its deployer; TES creates none): tes-internal holds TES's runner
# and per-pool scripts (components/contracts/tes_6_0_0.py).
COA_CONTAINERS = (
    "configuration",
    "cromwell-executions",
    "cromwell-workflow-logs",
    "inputs",
    "outputs",
    "tes-internal",
    "workflows",
)


@dataclass(frozen=True, kw_only=True)
class StorageArgs:
    placement: Placement
    account_name: str
    private_endpoint: PrivateEndpointSpec
    diagnostics_workspace_id: pulumi.Input[str]
    containers: Sequence[str] = COA_CONTAINERS
    # Shared keys stay off unless the stack runs Cromwell's blob filesystem, which signs SAS with the account key.
    allow_shared_key_access: bool = False
    # Standard_<redundancy>: ZRS, or geo-redundant GZRS / RAGZRS (production, PHI); ZRS <-> GZRS converts in place.
    redundancy: str = "ZRS"
    soft_delete_days: int = 14
    protection: Protection = field(default_factory=Protection)
    # The account's key in the stack's vault (components/encryption.py); None: Microsoft-managed keys.
    customer_key: CustomerKey | None = None


class Storage(pulumi.ComponentResource):
    """StorageV2 with HTTPS/TLS 1.2 only, no public access of any kind, double encryption, soft delete and versions."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:storage:Storage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cmk = args.customer_key
        account = storage.StorageAccount(
            f"{name}-st",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            account_name=args.account_name,  # globally unique, 3-24 lowercase alphanumerics (checked in config)
            kind="StorageV2",
            sku=storage.SkuArgs(name=f"Standard_{args.redundancy}"),
            access_tier=storage.AccessTier.HOT,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=args.allow_shared_key_access,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            allowed_copy_scope="PrivateLink",
            public_network_access="Disabled",
            network_rule_set=storage.NetworkRuleSetArgs(
                default_action=storage.DefaultAction.DENY,
                # Batch auto-storage and Network Watcher write through the trusted-services path.
                bypass="AzureServices,Logging,Metrics",
                ip_rules=[],
                virtual_network_rules=[],
            ),
            identity=storage.IdentityArgs(type="UserAssigned", user_assigned_identities=[cmk.identity.id])
            if cmk
            else None,
            encryption=storage.EncryptionArgs(
                key_source="Microsoft.Keyvault" if cmk else "Microsoft.Storage",
                # No key version: the account checks the vault for a new version and follows rotation by itself.
                key_vault_properties=storage.KeyVaultPropertiesArgs(key_name=cmk.key_name, key_vault_uri=cmk.vault_uri)
                if cmk
                else None,
                encryption_identity=storage.EncryptionIdentityArgs(encryption_user_assigned_identity=cmk.identity.id)
                if cmk
                else None,
                # Infrastructure encryption can only be chosen when the account is created.
                require_infrastructure_encryption=True,
                services=storage.EncryptionServicesArgs(
                    blob=storage.EncryptionServiceArgs(enabled=True, key_type="Account"),
                    file=storage.EncryptionServiceArgs(enabled=True, key_type="Account"),
                ),
            ),
            # Any SAS that is still issued (user delegation) must be short-lived.
            sas_policy=storage.SasPolicyArgs(expiration_action="Log", sas_expiration_period="1.00:00:00"),
            tags=dict(args.placement.tags),
            # The identity must hold its grant on the key before the account is created with it.
            opts=args.protection.options(self, depends_on=[cmk.grant] if cmk else None),
        )
        args.protection.lock(f"{name}-st", account, self, "CoA storage account")
        blob_service = storage.BlobServiceProperties(
            f"{name}-blob",
            resource_group_name=args.placement.resource_group_name,
            account_name=account.name,
            blob_services_name="default",  # the only blob service name Azure accepts
            is_versioning_enabled=True,
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=args.soft_delete_days),
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(
                enabled=True, days=args.soft_delete_days
            ),
            change_feed=storage.ChangeFeedArgs(enabled=True, retention_in_days=args.soft_delete_days),
            opts=child,
        )
        self.container_names: dict[str, pulumi.Output[str]] = {}
        # What pods need before they start: every container (blob CSI mounts, TES) and the private endpoint.
        self.workload_needs: list[pulumi.Resource] = []
        for container in args.containers:
            created = storage.BlobContainer(
                f"{name}-{container}",
                resource_group_name=args.placement.resource_group_name,
                account_name=account.name,
                container_name=container,
                public_access=storage.PublicAccess.NONE,
                opts=args.protection.options(self, depends_on=[blob_service]),
            )
            self.container_names[container] = created.name
            self.workload_needs.append(created)

        endpoint = PrivateEndpoint(
            f"{name}-blob",
            PrivateEndpointArgs(
                spec=args.private_endpoint, target_resource_id=account.id, group_id="blob", zone_key="blob"
            ),
            opts=child,
        )
        self.workload_needs.append(endpoint)
        self.private_endpoints = [endpoint]
        # Storage accounts emit no logs at account level, only transaction metrics.
        diagnostics(
            f"{name}-st",
            resource_id=account.id,
            workspace_id=args.diagnostics_workspace_id,
            parent=self,
            category_groups=(),
            metric_categories=("Transaction",),
        )
        # Read, write and delete audit records are emitted by the blob service, not the account.
        diagnostics(
            f"{name}-blob",
            resource_id=pulumi.Output.concat(account.id, "/blobServices/default"),
            workspace_id=args.diagnostics_workspace_id,
            parent=self,
            category_groups=("allLogs",),
            metric_categories=("Transaction",),
        )

        self.account_id = account.id
        self.account_name = account.name
        self.blob_endpoint = account.primary_endpoints.apply(lambda endpoints: endpoints.blob)
        self.register_outputs({"account_id": self.account_id, "account_name": self.account_name})
