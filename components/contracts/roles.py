"""The Azure built-in roles this project grants, what each allows, and the narrowest set that covers a need.

Role GUIDs and permissions are Microsoft's built-in definitions (learn.microsoft.com "Azure built-in roles"), reduced to
the permissions the runtime contracts rely on. Actions (control plane) and DataActions (data plane) are kept apart:
Reader's `*/read` reads a container's properties, never a blob's bytes.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Permissions:
    actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()


ROLES: dict[str, str] = {
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Azure Batch Data Contributor": "6aaa78f1-f7de-44ca-8722-c64a23943cae",
    # Customer-managed keys (components/encryption.py), not a runtime contract: azure-security-docs@1c4310b:
    # articles/key-vault/general/rbac-guide.md:87.
    "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
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

_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
ROLE_PERMISSIONS: dict[str, Permissions] = {
    "AcrPull": Permissions(actions=("Microsoft.ContainerRegistry/registries/pull/read",)),
    "Azure Batch Data Contributor": Permissions(
        actions=("Microsoft.Batch/batchAccounts/pools/*",),
        data_actions=("Microsoft.Batch/batchAccounts/jobs/*", "Microsoft.Batch/batchAccounts/jobSchedules/*"),
    ),
    # "Read metadata of keys and perform wrap/unwrap operations" (rbac-guide.md:87); its event-subscription Actions
    # are left out, as no contract relies on them.
    "Key Vault Crypto Service Encryption User": Permissions(
        data_actions=(
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
        )
    ),
    "Key Vault Secrets User": Permissions(
        data_actions=(
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        )
    ),
    "Managed Identity Operator": Permissions(
        actions=(
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
        )
    ),
    "Network Contributor": Permissions(actions=("Microsoft.Network/*",)),
    "Reader": Permissions(actions=("*/read",)),
    "Reader and Data Access": Permissions(actions=("*/read", "Microsoft.Storage/storageAccounts/listKeys/action")),
    "Storage Blob Data Contributor": Permissions(
        actions=(
            "Microsoft.Storage/storageAccounts/blobServices/containers/*",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ),
        data_actions=(f"{_BLOBS}/*",),
    ),
    "Storage Blob Data Reader": Permissions(
        actions=(
            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ),
        data_actions=(f"{_BLOBS}/read",),
    ),
    "Storage Blob Delegator": Permissions(
        actions=("Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",)
    ),
}

# Roles the stack defines itself where no built-in role is narrow enough (components/custom_roles.py creates them,
# scoped to the stack): the reduced-assurance generation lists Cosmos DB keys, where the only built-in role with
# listKeys (DocumentDB Account Contributor) can also change and delete the account, and reads the region's VM SKUs,
# which Azure lists per subscription only and no built-in role narrower than Reader allows.
CUSTOM_ROLES: dict[str, Permissions] = {
    "Cosmos DB Key Reader": Permissions(
        actions=("Microsoft.DocumentDB/databaseAccounts/read", "Microsoft.DocumentDB/databaseAccounts/listKeys/action")
    ),
    "VM SKU Reader": Permissions(actions=("Microsoft.Compute/skus/read",)),
}
ROLE_PERMISSIONS.update(CUSTOM_ROLES)

# Narrowest first: among roles that cover as much of a need, the first one here wins.
PREFERENCE = (
    "VM SKU Reader",
    "Cosmos DB Key Reader",
    "AcrPull",
    "Storage Blob Delegator",
    "Reader",
    "Storage Blob Data Reader",
    "Key Vault Secrets User",
    "Managed Identity Operator",
    "Storage Blob Data Contributor",
    "Azure Batch Data Contributor",
    "Network Contributor",
    "Reader and Data Access",
)

# Operations Azure authorises as DataActions (the data plane): blob contents, secret values, Batch jobs.
DATA_ACTION_PATTERNS = (
    f"{_BLOBS}/*",
    "Microsoft.KeyVault/vaults/secrets/*/action",
    "Microsoft.Batch/batchAccounts/jobs/*",
    "Microsoft.Batch/batchAccounts/jobSchedules/*",
)


def is_data_action(operation: str) -> bool:
    return any(fnmatch.fnmatchcase(operation, pattern) for pattern in DATA_ACTION_PATTERNS)


def _matches(pattern: str, operation: str) -> bool:
    # A wildcard in the needed operation (userAssignedIdentities/*/assign/action) matches the same wildcard.
    return fnmatch.fnmatchcase(operation, pattern) or pattern == operation


def covers(role: str, operation: str) -> bool:
    """Whether `role` allows `operation`, reading DataActions for data-plane operations and Actions otherwise."""
    permissions = ROLE_PERMISSIONS[role]
    patterns = permissions.data_actions if is_data_action(operation) else permissions.actions
    return any(_matches(pattern, operation) for pattern in patterns)


def role_cover(operations: Iterable[str]) -> list[str]:
    """The roles to grant so that every operation is allowed: greedily the role allowing the most still-uncovered
    operations, the narrowest on a tie. Raises when no known role allows one of them."""
    uncovered = set(operations)
    chosen: list[str] = []
    while uncovered:
        best = max(PREFERENCE, key=lambda role: (sum(covers(role, op) for op in uncovered), -PREFERENCE.index(role)))
        gained = {op for op in uncovered if covers(best, op)}
        if not gained:
            raise KeyError(f"no role in components/contracts/roles.py allows {sorted(uncovered)}")
        chosen.append(best)
        uncovered -= gained
    return sorted(chosen, key=PREFERENCE.index)
