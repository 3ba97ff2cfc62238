"""Least-privilege access for the CoA identities: Azure role assignments scoped to single resources, and the
federated credentials that let Kubernetes service accounts act as the workload identity.

Every assignment names one built-in role (real GUID), one principal and one resource id as scope; nothing is ever
granted on a resource group or subscription. Assignment names are uuid5 GUIDs of scope, role and principal, so a
re-run finds the same assignment instead of failing with RoleAssignmentExists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, managedidentity

from components.identity import Identity

# Built-in role definition GUIDs (learn.microsoft.com "Azure built-in roles"; see research/platform.md §1b).
ROLES: dict[str, str] = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Azure Batch Data Contributor": "6aaa78f1-f7de-44ca-8722-c64a23943cae",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "Private DNS Zone Contributor": "b12aa53e-6015-4669-85d0-8515ebb3ae7f",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Reader and Data Access": "c12c1c16-33a1-487b-954d-41c89c60f349",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Delegator": "db58b8e5-c6ad-4a2a-8342-4190687cbf4a",
}
# What each role grants that the runtime contracts rely on (Actions and DataActions of the built-in definitions,
# learn.microsoft.com "Azure built-in roles"); fnmatch patterns. Tests match contract actions against these.
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "AcrPull": ("Microsoft.ContainerRegistry/registries/pull/read",),
    "Azure Batch Data Contributor": (
        "Microsoft.Batch/batchAccounts/pools/*",
        "Microsoft.Batch/batchAccounts/jobs/*",
        "Microsoft.Batch/batchAccounts/jobSchedules/*",
    ),
    "Key Vault Secrets User": (
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ),
    "Managed Identity Operator": (
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
    ),
    "Network Contributor": ("Microsoft.Network/*",),
    "Reader": ("*/read",),
    "Reader and Data Access": ("*/read", "Microsoft.Storage/storageAccounts/listKeys/action"),
    "Storage Blob Data Contributor": (
        "Microsoft.Storage/storageAccounts/blobServices/containers/*",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*",
    ),
    "Storage Blob Data Reader": (
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    ),
    "Storage Blob Delegator": ("Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",),
}
# The audience Entra ID expects in a Kubernetes service account token exchanged for an identity token.
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
_NAMESPACE = uuid.UUID("5b0c6c55-3c1f-4a49-9b7e-6f0b1c9d2a10")  # fixed: changing it renames every assignment


def role_definition_id(subscription_id: str, role: str) -> str:
    """Full id of a built-in role for the subscription; unknown role names fail loudly."""
    if role not in ROLES:
        raise KeyError(f"role {role!r} is not in components.access.ROLES; add its built-in GUID there")
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{ROLES[role]}"


def assignment_name(scope: str, role_guid: str, principal_id: str) -> str:
    """Deterministic GUID for (scope, role, principal), like Bicep's guid(); ARM requires a GUID name."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope.lower()}|{role_guid.lower()}|{principal_id.lower()}"))


def assign(
    name: str,
    *,
    role: str,
    scope: pulumi.Input[str],
    principal_id: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    reason: str,
    parent: pulumi.Resource,
) -> authorization.RoleAssignment:
    """One role on one resource for one managed identity; `reason` lands in the assignment's description."""
    guid = ROLES.get(role)
    if guid is None:
        raise KeyError(f"{name}: role {role!r} is not in components.access.ROLES")
    return authorization.RoleAssignment(
        name,
        scope=scope,
        principal_id=principal_id,
        # Managed identities: skips the Entra lookup that fails while a new principal is still replicating.
        principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=pulumi.Output.from_input(subscription_id).apply(lambda sub: role_definition_id(sub, role)),
        role_assignment_name=pulumi.Output.all(
            pulumi.Output.from_input(scope), pulumi.Output.from_input(principal_id)
        ).apply(lambda values: assignment_name(values[0], guid, values[1])),
        description=reason,
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass(frozen=True, kw_only=True)
class AccessArgs:
    subscription_id: pulumi.Input[str]
    # Resource group of the workload identity (federated credentials are its child resources).
    identity_resource_group_name: pulumi.Input[str]
    workload: Identity
    kubelet: Identity
    oidc_issuer_url: pulumi.Input[str]
    # Kubernetes service accounts (namespace, name) allowed to act as the workload identity.
    service_accounts: Sequence[tuple[str, str]]
    storage_account_id: pulumi.Input[str]
    key_vault_id: pulumi.Input[str]
    batch_subnet_id: pulumi.Input[str]
    # Optional while the data components are wired; None skips the grant.
    batch_account_id: pulumi.Input[str] | None = None
    registry_id: pulumi.Input[str] | None = None
    # Storage shared keys are on (Cromwell's blob filesystem, cromwell.executionsRoot: blob): the workload lists them.
    storage_key_access: bool = False


class Access(pulumi.ComponentResource):
    """Role assignments for the workload and kubelet identities, each scoped to the one resource it is needed on,
    and the workload identity's federated credentials for the cluster's service accounts."""

    def __init__(self, name: str, args: AccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:identity:Access", name, None, opts)
        workload = args.workload.principal_id
        sub = args.subscription_id
        self.role_assignments: list[authorization.RoleAssignment] = []

        def grant(key: str, role: str, scope: pulumi.Input[str], principal: pulumi.Input[str], reason: str) -> None:
            self.role_assignments.append(
                assign(
                    f"{name}-{key}",
                    role=role,
                    scope=scope,
                    principal_id=principal,
                    subscription_id=sub,
                    reason=reason,
                    parent=self,
                )
            )

        # TES/Cromwell read and write workflow data, and TES 6.x signs user-delegation SAS
        # (generateUserDelegationKey is in this role; Reader/Owner are too narrow/wide). Blob CSI mounts use it too.
        grant(
            "workload-blob",
            "Storage Blob Data Contributor",
            args.storage_account_id,
            workload,
            "CoA workload: blob data for Cromwell/TES, user-delegation SAS, blob CSI mounts",
        )
        # TES 6 and TriggerService 6 find every storage account by listing them through ARM (subscriptions, then
        # storageAccounts/read) and stop at start when the default one is not found. Reader on the account alone:
        # read of its ARM resource, no keys (listKeys is an action Reader lacks), no data.
        grant(
            "workload-storage-read",
            "Reader",
            args.storage_account_id,
            workload,
            "CoA workload: TES/TriggerService 6 locate the storage account through ARM",
        )
        if args.storage_key_access:
            # read + listKeys only (no regenerate, unlike Key Operator; no write, unlike Contributor): Cromwell's blob
            # filesystem lists the accounts through ARM and signs SAS with the key (contracts/cromwell_87.py notes).
            grant(
                "workload-blob-keys",
                "Reader and Data Access",
                args.storage_account_id,
                workload,
                "CoA workload: storage account key for the Cromwell blob filesystem SAS",
            )
        if args.batch_account_id is not None:
            # Pools through ARM (batchAccounts/pools/*) and jobs/tasks through the data plane; no keys, no account
            # write. Azure Batch Job Submitter cannot create pools, Account Contributor can read the keys.
            grant(
                "workload-batch",
                "Azure Batch Data Contributor",
                args.batch_account_id,
                workload,
                "CoA workload: TES creates pools, jobs and tasks",
            )
            # TES 6 finds the account through ARM (batchAccounts/read) and reads its quotas at start.
            grant(
                "workload-batch-read",
                "Reader",
                args.batch_account_id,
                workload,
                "CoA workload: TES 6 locates the Batch account and reads its quotas through ARM",
            )
        # A pool with a VNet needs subnets/join/action from its creator. Network Contributor is the narrowest
        # built-in holding it; scoped to the batch subnet alone it cannot touch other subnets, NSGs or the VNet.
        grant(
            "workload-batch-subnet",
            "Network Contributor",
            args.batch_subnet_id,
            workload,
            "CoA workload: TES places Batch pools in the batch subnet (subnets/join/action)",
        )
        # TES attaches the workload identity to every pool (userAssignedIdentities/assign/action); scoped to that
        # identity only, so TES cannot hand out any other identity.
        grant(
            "workload-self-operator",
            "Managed Identity Operator",
            args.workload.id,
            workload,
            "CoA workload: TES assigns this identity to the Batch pools it creates",
        )
        # Pods read database passwords through the secrets-store CSI driver; pool start tasks read scanner
        # credentials. Secrets User is read-only data access (no keys/certificates, no management).
        grant(
            "workload-vault",
            "Key Vault Secrets User",
            args.key_vault_id,
            workload,
            "CoA workload: read database passwords and scanner credentials",
        )
        if args.registry_id is not None:
            # Nodes pull the CoA images from the private registry only.
            grant(
                "kubelet-acr",
                "AcrPull",
                args.registry_id,
                args.kubelet.principal_id,
                "AKS kubelet: pull CoA images from the private registry",
            )
            # Batch pool nodes run as the workload identity and pull task and scanner images from the registry.
            grant(
                "workload-acr",
                "AcrPull",
                args.registry_id,
                workload,
                "CoA workload: Batch pool nodes pull task and scanner images",
            )

        # Azure rejects concurrent writes of federated credentials on one identity: create them one at a time.
        self.federated_credentials: list[managedidentity.FederatedIdentityCredential] = []
        previous: pulumi.Resource | None = None
        for namespace, service_account in args.service_accounts:
            credential = managedidentity.FederatedIdentityCredential(
                f"{name}-fic-{service_account}",
                resource_group_name=args.identity_resource_group_name,
                resource_name_=args.workload.name,
                federated_identity_credential_resource_name=service_account,
                issuer=args.oidc_issuer_url,
                subject=f"system:serviceaccount:{namespace}:{service_account}",
                audiences=[TOKEN_EXCHANGE_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous] if previous else None),
            )
            self.federated_credentials.append(credential)
            previous = credential
        self.workload_needs: list[pulumi.Resource] = [*self.role_assignments, *self.federated_credentials]
        self.register_outputs(
            {"federated_subjects": [f"system:serviceaccount:{ns}:{sa}" for ns, sa in args.service_accounts]}
        )
