"""Azure Batch for TES: a private, Entra-ID-only account and the global start task every pool node runs first."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import batch

from components.monitoring import diagnostics
from components.placement import Placement
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec
from components.start_task import GLOBAL_START_TASK_PATH, ImageScannerSettings, StartTaskSettings, render_start_task
from configuration import settings

# TES's BatchNodes:GlobalStartTask default resolves to this blob in its default storage account.
START_TASK_CONTAINER, START_TASK_BLOB = GLOBAL_START_TASK_PATH.strip("/").split("/", 1)


def _start_task_path(container_name: str) -> str:
    if container_name != START_TASK_CONTAINER:
        raise ValueError(
            f"configuration_container_name={container_name!r}: TES reads its global start task from "
            f"{GLOBAL_START_TASK_PATH}, so the container must be {START_TASK_CONTAINER!r}"
        )
    return GLOBAL_START_TASK_PATH


def scanner_settings(scanner: settings.ImageScannerSettings | None, key_vault_name: str) -> ImageScannerSettings | None:
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
    placement: Placement
    account_name: str
    private_endpoint: PrivateEndpointSpec
    diagnostics_workspace_id: pulumi.Input[str]
    # The CoA workload identity: the account's identity for auto-storage, and the identity TES attaches to pools.
    identity_id: pulumi.Input[str]
    identity_client_id: pulumi.Input[str]
    storage_account_id: pulumi.Input[str]
    # The `configuration` container's name output: the start-task path resolves only once the container exists,
    # so whatever writes or reads the script there (the chart's upload hook, TES) waits for it.
    configuration_container_name: pulumi.Input[str]
    # Subnet TES puts its pools in (BatchNodes:SubnetId); nodes there get no public IP addresses.
    batch_subnet_id: pulumi.Input[str]
    scanner: ImageScannerSettings | None = None
    # How TES starts the start task (the TES contract's StartTaskRun.runner): executed, or `/bin/sh <path>` (TES 3.2).
    start_task_runner: str = "shebang"
    # The registry the node's Docker logs in to as the pool identity before any task (TES 3.2, which pulls without
    # credentials of its own); None: no login.
    registry_login_server: pulumi.Input[str] | None = None


class Batch(pulumi.ComponentResource):
    """A Batch account with no public network path and Entra ID as the only authentication, auto-storage through
    the workload identity, private endpoints for the account API and simplified node management, and the rendered
    start-task script with the path TES reads it from.

    The script is not uploaded here: the azure-native Blob resource writes through the storage data plane with account
    keys (no shared keys in prod) and from wherever `pulumi up` runs. The workload chart's pre-install/pre-upgrade hook
    writes it through a keyless blob CSI mount inside the cluster, before TES starts."""

    def __init__(self, name: str, args: BatchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:batch:Batch", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = batch.BatchAccount(
            f"{name}-ba",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
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
            tags=dict(args.placement.tags),
            opts=child,
        )
        # Both endpoints share privatelink.batch.azure.com: `batchAccount` carries the API TES calls,
        # `nodeManagement` the outbound-only node traffic of simplified communication (no inbound ports on nodes).
        # What TES needs before it starts: the account and the private path to its API; pool nodes need the other.
        self.workload_needs: list[pulumi.Resource] = [account]
        self.private_endpoints: list[PrivateEndpoint] = []
        for group_id in ("batchAccount", "nodeManagement"):
            endpoint = PrivateEndpoint(
                f"{name}-{group_id.lower()}",
                PrivateEndpointArgs(
                    spec=args.private_endpoint, target_resource_id=account.id, group_id=group_id, zone_key="batch"
                ),
                opts=child,
            )
            self.workload_needs.append(endpoint)
            self.private_endpoints.append(endpoint)
        diagnostics(f"{name}-ba", resource_id=account.id, workspace_id=args.diagnostics_workspace_id, parent=self)

        scanner = args.scanner
        # TES skips a missing global start task silently, so there is always a script (with no scanner it only says
        # so). It carries Key Vault secret names, never secret values.
        runner = args.start_task_runner
        self.start_task_script: pulumi.Output[str] = pulumi.Output.all(
            args.identity_client_id, args.registry_login_server
        ).apply(
            lambda values: render_start_task(
                StartTaskSettings(
                    managed_identity_client_id=str(values[0]),
                    scanner=scanner,
                    runner=runner,
                    registry_login_server=values[1],
                )
            )
        )
        self.id = account.id
        self.account_name = account.name
        self.endpoint = account.account_endpoint
        self.batch_subnet_id = args.batch_subnet_id
        self.disable_public_ip_addresses = True
        self.pool_identity_id = args.identity_id
        self.global_start_task_path: pulumi.Output[str] = pulumi.Output.from_input(
            args.configuration_container_name
        ).apply(_start_task_path)
        self.register_outputs(
            {
                "id": self.id,
                "account_name": self.account_name,
                "endpoint": self.endpoint,
                "batch_subnet_id": self.batch_subnet_id,
                "disable_public_ip_addresses": self.disable_public_ip_addresses,
                "pool_identity_id": self.pool_identity_id,
                "global_start_task_path": self.global_start_task_path,
                "start_task_script": self.start_task_script,
            }
        )
