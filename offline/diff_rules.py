"""What the offline diff knows about Azure: which resource types hold data, and which input changes azure-native
replaces a resource for (or Azure accepts only at creation), with the stack config keys that feed each input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Resources that hold data: replacing or deleting one loses what is in it.
STATEFUL_TYPES: dict[str, str] = {
    "azure-native:resources:ResourceGroup": "every resource in the group",
    "azure-native:storage:StorageAccount": "workflow inputs, outputs and logs",
    "azure-native:storage:BlobContainer": "the container's blobs",
    "azure-native:keyvault:Vault": "keys and secrets",
    "azure-native:keyvault:Secret": "the secret's versions",
    "azure-native:keyvault:Key": "the key's versions (and data encrypted with it)",
    "azure-native:dbforpostgresql:Server": "the Cromwell and TES databases",
    "azure-native:dbforpostgresql:Database": "the database's tables",
    "azure-native:operationalinsights:Workspace": "audit and diagnostic logs",
    "azure-native:cosmosdb:DatabaseAccount": "every Cosmos DB database in the account",
    "azure-native:cosmosdb:SqlResourceSqlDatabase": "the database's containers",
    "azure-native:cosmosdb:SqlResourceSqlContainer": "the container's items",
}

Effect = Literal["replace", "create-only"]
# How each effect reads in a report.
EFFECTS: dict[str, str] = {
    "replace": "azure-native replaces the resource",
    "create-only": "azure-native replaces the resource, or Azure refuses the update and only recreating it applies "
    "the change",
}


@dataclass(frozen=True)
class Rule:
    """An input whose change loses the resource, and the stack config keys that feed it in this program."""

    path: str  # dotted path into the resource's inputs
    effect: Effect
    why: str
    config: tuple[str, ...] = ()
    # "name": the resource's own name in its ARM id; "scope": its parent's (group, account, server, vault), so
    # it goes when its parent goes.
    role: Literal["name", "scope", ""] = ""


# Names derived by configuration/naming.py: `<abbr><workload><environment><nameSuffix>` unless names.<kind> is set.
def _derived(override: str) -> tuple[str, ...]:
    return (override, "nameSuffix", "workload", "environment")


# Path parameters are the resource's ARM id (the PUT URL): azure-native replaces the resource when one changes
# (provider/pkg/provider/diff.go, calculateDetailedDiff). The group is autonamed from `<workload>-<environment>-rg`
# unless resourceGroupName names an existing one.
_GROUP = Rule(
    "resourceGroupName",
    "replace",
    "the group is part of the ARM id",
    ("resourceGroupName", "workload", "environment"),
    role="scope",
)
_ACCOUNT_IN = Rule(
    "accountName", "replace", "the account is part of the ARM id", _derived("names.storageAccount"), role="scope"
)
_VAULT_IN = Rule("vaultName", "replace", "the vault is part of the ARM id", _derived("names.keyVault"), role="scope")
_SERVER_IN = Rule(
    "serverName", "replace", "the server is part of the ARM id", _derived("names.postgresServer"), role="scope"
)
_COSMOS_IN = Rule("accountName", "replace", "the account is part of the ARM id", role="scope")
_COSMOS_DB_IN = Rule("databaseName", "replace", "the database is part of the ARM id", role="scope")
# Tracked resources cannot move region. Resource group and storage account: azure-native's forceNewMap
# (provider/pkg/gen/replacement.go); elsewhere `location` is create-only (x-ms-mutability) in the ARM spec.
_LOCATION_FORCE_NEW = Rule(
    "location", "replace", "a resource cannot move region", ("location", "azure-native:location")
)
_LOCATION = Rule("location", "create-only", "a resource cannot move region", ("location", "azure-native:location"))

REPLACE_ON_CHANGE: dict[str, tuple[Rule, ...]] = {
    "azure-native:resources:ResourceGroup": (
        Rule(
            "resourceGroupName",
            "replace",
            "the group's name is its ARM id",
            ("resourceGroupName", "workload", "environment"),
            role="name",
        ),
        _LOCATION_FORCE_NEW,
    ),
    "azure-native:storage:StorageAccount": (
        _GROUP,
        Rule(
            "accountName",
            "replace",
            "the account's name is in its ARM id",
            _derived("names.storageAccount"),
            role="name",
        ),
        _LOCATION_FORCE_NEW,
        # forceNewMap: a hierarchical namespace (Data Lake Gen2) cannot be switched on or off in place.
        Rule("isHnsEnabled", "replace", "hierarchical namespace is fixed at creation"),
        # Microsoft Learn, "Enable infrastructure encryption for double encryption of data": only at creation.
        Rule(
            "encryption.requireInfrastructureEncryption",
            "create-only",
            "infrastructure encryption is chosen at creation",
        ),
    ),
    "azure-native:storage:BlobContainer": (
        _GROUP,
        _ACCOUNT_IN,
        # The container name comes from components/storage.py (the containers CoA 6 expects), not from config.
        Rule("containerName", "replace", "the container's name is in its ARM id", role="name"),
    ),
    "azure-native:keyvault:Vault": (
        _GROUP,
        Rule("vaultName", "replace", "the vault's name is in its ARM id", _derived("names.keyVault"), role="name"),
        _LOCATION,
    ),
    "azure-native:keyvault:Secret": (
        _GROUP,
        _VAULT_IN,
        # Database passwords are named in code; the image scanner's credentials by imageScanner.*SecretName.
        Rule("secretName", "replace", "the secret's name is in its ARM id", ("imageScanner",), role="name"),
    ),
    "azure-native:keyvault:Key": (
        _GROUP,
        _VAULT_IN,
        Rule("keyName", "replace", "the key's name is in its ARM id", role="name"),
        # ARM creates a key's first version and never updates it (keys.json, Keys_CreateIfNotExist): a new rotation
        # policy or key type reaches Azure only on a new key (or by hand: az keyvault key rotation-policy update).
        Rule(
            "properties.rotationPolicy",
            "create-only",
            "ARM never updates an existing key",
            ("secrets.rotationDays", "secrets.expiryGraceDays"),
        ),
        Rule("properties.kty", "create-only", "ARM never updates an existing key"),
        Rule("properties.keySize", "create-only", "ARM never updates an existing key"),
    ),
    "azure-native:dbforpostgresql:Server": (
        _GROUP,
        Rule(
            "serverName", "replace", "the server's name is in its ARM id", _derived("names.postgresServer"), role="name"
        ),
        _LOCATION,
        # Flexible server API: "Can only be specified when the server is being created" (x-ms-mutability create).
        Rule("administratorLogin", "create-only", "the administrator login is set at creation"),
        # Microsoft Learn, "Backup and restore in Azure Database for PostgreSQL flexible server": geo-redundant
        # backup storage can only be chosen when the server is created.
        Rule(
            "backup.geoRedundantBackup",
            "create-only",
            "geo-redundant backup is chosen at creation",
            ("postgres.geoRedundantBackup",),
        ),
        # azure-databases-docs@1012b59:articles/postgresql/security/security-data-encryption.md: service- or
        # customer-managed keys "can only be selected at server creation time" and never changed; a new key or
        # identity is an update.
        Rule(
            "dataEncryption.type",
            "create-only",
            "the encryption mode is chosen at creation",
            ("encryption.customerManagedKeys",),
        ),
        # Microsoft Learn, "Networking with private access (VNet integration)": a server cannot move to another
        # delegated subnet or VNet after creation. The subnet's id follows the group and the VNet's logical name.
        Rule(
            "network.delegatedSubnetResourceId",
            "create-only",
            "the delegated subnet is chosen at creation",
            ("resourceGroupName", "workload", "environment"),
        ),
    ),
    "azure-native:dbforpostgresql:Database": (
        _GROUP,
        _SERVER_IN,
        # Named in components/postgres.py (the cromwell and tes users' databases).
        Rule("databaseName", "replace", "the database's name is in its ARM id", role="name"),
        # PostgreSQL fixes a database's encoding and collation at CREATE DATABASE.
        Rule("charset", "create-only", "PostgreSQL fixes the encoding at CREATE DATABASE"),
        Rule("collation", "create-only", "PostgreSQL fixes the collation at CREATE DATABASE"),
    ),
    "azure-native:operationalinsights:Workspace": (
        _GROUP,
        # Autonamed here (no input): a new logical name shows as a delete instead.
        Rule("workspaceName", "replace", "the workspace's name is in its ARM id", role="name"),
        _LOCATION,
    ),
    "azure-native:cosmosdb:DatabaseAccount": (
        _GROUP,
        Rule("accountName", "replace", "the account's name is in its ARM id", role="name"),
        _LOCATION,
        # The API (SQL, MongoDB, ...) of an account is fixed when it is created.
        Rule("kind", "create-only", "the account's API is chosen at creation"),
    ),
    "azure-native:cosmosdb:SqlResourceSqlDatabase": (
        _GROUP,
        _COSMOS_IN,
        Rule("databaseName", "replace", "the database's name is in its ARM id", role="name"),
        Rule("resource.id", "create-only", "the database's id is its name"),
    ),
    "azure-native:cosmosdb:SqlResourceSqlContainer": (
        _GROUP,
        _COSMOS_IN,
        _COSMOS_DB_IN,
        Rule("containerName", "replace", "the container's name is in its ARM id", role="name"),
        Rule("resource.id", "create-only", "the container's id is its name"),
        # Microsoft Learn, "Partitioning and horizontal scaling in Azure Cosmos DB": a container's partition key
        # cannot change; the data has to be copied to a new container.
        Rule("resource.partitionKey", "create-only", "a container's partition key cannot change"),
    ),
}

# A resource's logical name (hence its URN) is `<workload>-<environment>-<component>...` in __main__.py; the
# resource group is only created when resourceGroupName is unset.
DELETE_CONFIG: dict[str, tuple[str, ...]] = {
    "azure-native:resources:ResourceGroup": ("resourceGroupName", "workload", "environment"),
}
DELETE_CONFIG_DEFAULT = ("workload", "environment")
