"""Azure Batch for TES: a private, Entra-ID-only account and the global start task every pool node runs first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import batch, storage

from components import config
from components.monitoring import diagnostics
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec
from components.start_task import GLOBAL_START_TASK_PATH, ImageScannerSettings, StartTaskSettings, render_start_task

# TES's BatchNodes:GlobalStartTask default resolves to this blob in its default storage account.
START_TASK_CONTAINER, START_TASK_BLOB = GLOBAL_START_TASK_PATH.strip("/").split("/", 1)


def scanner_settings(scanner: config.ImageScannerSettings | None, key_vault_name: str) -> ImageScannerSettings | None:
    """The stack's image-scanner configuration as the start task needs it (credentials stay in Key Vault)."""
    if scanner is None:
        return None
    return ImageScannerSettings(
        image=scanner.image,
        registry_server=scanner.registry_server,
        key_vault_name=key_vault_name,
        username_secret_name=scanner.username_secret_name,
        password_secret_name=scanner.password_secret_name,
    )


@dataclass(frozen=True, kw_only=True)
class BatchArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    account_name: str
    private_endpoint: PrivateEndpointSpec
    diagnostics_workspace_id: pulumi.Input[str]
    # The CoA workload identity: the account's identity for auto-storage, and the identity TES attaches to pools.
    identity_id: pulumi.Input[str]
    identity_client_id: pulumi.Input[str]
    storage_account_id: pulumi.Input[str]
    storage_account_name: pulumi.Input[str]
    # The `configuration` container's name output, so the blob waits for the container.
    configuration_container_name: pulumi.Input[str]
    # Subnet TES puts its pools in (BatchNodes:SubnetId); nodes there get no public IP addresses.
    batch_subnet_id: pulumi.Input[str]
    scanner: ImageScannerSettings | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class Batch(pulumi.ComponentResource):
    """A Batch account with no public network path and Entra ID as the only authentication, auto-storage through
    the workload identity, private endpoints for the account API and simplified node management, and the start-task
    script uploaded where TES looks for it."""

    def __init__(self, name: str, args: BatchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:batch:Batch", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = batch.BatchAccount(
            f"{name}-ba",
            resource_group_name=args.resource_group_name,
            location=args.location,
            account_name=args.account_name,  # globally unique per region, 3-24 lowercase alphanumerics (config)
            # Pool VMs live in Batch-managed subscriptions: the account's core quota applies, not ours.
            pool_allocation_mode=batch.PoolAllocationMode.BATCH_SERVICE,
            public_network_access=batch.PublicNetworkAccessType.DISABLED,
            # TES authenticates with its managed identity (BatchTokenCredentials); shared keys are never issued.
            allowed_authentication_modes=[batch.AuthenticationMode.AAD],
            identity=batch.BatchAccountIdentityArgs(
                type=batch.ResourceIdentityType.USER_ASSIGNED, user_assigned_identities=[args.identity_id]
            ),
            # Omitting authentication_mode means StorageKeys; the identity needs blob data access on the account.
            auto_storage=batch.AutoStorageBasePropertiesArgs(
                storage_account_id=args.storage_account_id,
                authentication_mode=batch.AutoStorageAuthenticationMode.BATCH_ACCOUNT_MANAGED_IDENTITY,
                node_identity_reference=batch.ComputeNodeIdentityReferenceArgs(resource_id=args.identity_id),
            ),
            tags=dict(args.tags),
            opts=child,
        )
        # Both endpoints share privatelink.batch.azure.com: `batchAccount` carries the API TES calls,
        # `nodeManagement` the outbound-only node traffic of simplified communication (no inbound ports on nodes).
        for group_id in ("batchAccount", "nodeManagement"):
            PrivateEndpoint(
                f"{name}-{group_id.lower()}",
                PrivateEndpointArgs(
                    spec=args.private_endpoint, target_resource_id=account.id, group_id=group_id, zone_key="batch"
                ),
                opts=child,
            )
        diagnostics(f"{name}-ba", resource_id=account.id, workspace_id=args.diagnostics_workspace_id, parent=self)

        scanner = args.scanner
        script = pulumi.Output.all(args.identity_client_id).apply(
            lambda values: render_start_task(
                StartTaskSettings(managed_identity_client_id=str(values[0]), scanner=scanner)
            )
        )
        # TES skips a missing global start task silently, so the blob is always uploaded (with no scanner it only
        # says so). The provider writes blobs through the data plane: the deployment must reach the storage
        # account's private endpoint.
        blob = storage.Blob(
            f"{name}-start-task",
            resource_group_name=args.resource_group_name,
            account_name=args.storage_account_name,
            container_name=args.configuration_container_name,
            blob_name=START_TASK_BLOB,
            type=storage.BlobType.BLOCK,
            content_type="text/x-shellscript",
            source=script.apply(lambda text: pulumi.StringAsset(text)),
            opts=child,
        )

        self.id = account.id
        self.account_name = account.name
        self.endpoint = account.account_endpoint
        self.batch_subnet_id = args.batch_subnet_id
        self.disable_public_ip_addresses = True
        self.pool_identity_id = args.identity_id
        # Resolves only once the blob is uploaded: whatever configures TES with it starts after the script exists.
        self.global_start_task_path: pulumi.Output[str] = blob.id.apply(lambda _: GLOBAL_START_TASK_PATH)
        self.start_task_blob_url = blob.url
        self.register_outputs(
            {
                "id": self.id,
                "account_name": self.account_name,
                "endpoint": self.endpoint,
                "batch_subnet_id": self.batch_subnet_id,
                "disable_public_ip_addresses": self.disable_public_ip_addresses,
                "pool_identity_id": self.pool_identity_id,
                "global_start_task_path": self.global_start_task_path,
            }
        )
