"""Where the data lives: the PostgreSQL server, storage redundancy, the task database, and data accounts outside the stack."""

from __future__ import annotations

import datetime
import re

from configuration.reader import GUID, Reader, shown
from configuration.retirement_calendar import load, retired
from configuration.settings import (
    DataContainer,
    DataStorageAccount,
    EntraAdminGroup,
    PostgresSettings,
    TaskDatabaseKind,
)

# Flexible server premium SSD sizes (GiB) that Azure offers; anything else is rejected at create time.
POSTGRES_STORAGE_SIZES_GB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
# The compute tier each VM family belongs to (B: burstable, D: general purpose, E: memory optimized).
POSTGRES_TIER_OF_FAMILY = {"B": "Burstable", "D": "GeneralPurpose", "E": "MemoryOptimized"}


def parse_postgres(reader: Reader, environment: str, today: datetime.date | None = None) -> PostgresSettings:
    pg = reader.child(
        "postgres",
        {
            "version",
            "skuName",
            "skuTier",
            "storageSizeGb",
            "backupRetentionDays",
            "highAvailability",
            "geoRedundantBackup",
            "entraAdminGroupObjectId",
            "entraAdminGroupName",
        },
    )
    prod = environment == "prod"
    tier = pg.choice(
        "skuTier", ("Burstable", "GeneralPurpose", "MemoryOptimized"), "GeneralPurpose" if prod else "Burstable"
    )
    high_availability = pg.boolean("highAvailability", prod)
    if high_availability and tier == "Burstable":
        raise pg.fail("highAvailability", "zone-redundant HA is not offered on the Burstable tier; use GeneralPurpose")
    sku_name = pg.string("skuName", "Standard_D2ds_v5" if prod else "Standard_B2s", pattern=r"Standard_[A-Za-z0-9_]+")
    family = re.match(r"Standard_([A-Z])", sku_name)
    expected_tier = POSTGRES_TIER_OF_FAMILY.get(family.group(1) if family else "")
    if expected_tier and expected_tier != tier:
        raise pg.fail("skuTier", f"{tier!r} does not match skuName {sku_name!r}, which is a {expected_tier} SKU")
    size = pg.integer("storageSizeGb", 128, minimum=32, maximum=32767)
    if size not in POSTGRES_STORAGE_SIZES_GB:
        offered = ", ".join(str(s) for s in POSTGRES_STORAGE_SIZES_GB)
        raise pg.fail("storageSizeGb", f"{size} is not a size Azure offers for flexible server; use one of {offered}")
    version = pg.choice("version", ("14", "15", "16", "17"), "16")
    # Past Azure's standard support no new server can be created and no engine patch comes (retirement.yaml).
    if today and version in retired(load(), "postgresql", today):
        raise pg.fail("version", f"{version!r} is past Azure's standard support (retirement.yaml); use 16 or 17")
    return PostgresSettings(
        version=version,
        sku_name=sku_name,
        sku_tier=tier,
        storage_size_gb=size,
        backup_retention_days=pg.integer("backupRetentionDays", 35 if prod else 14, minimum=7, maximum=35),
        high_availability=high_availability,
        geo_redundant_backup=pg.boolean("geoRedundantBackup", prod),
        entra_admin=_parse_entra_admin(pg, prod),
    )


# PostgreSQL truncates role names to NAMEDATALEN - 1 = 63 bytes, and the Entra administrator becomes a role named
# after the principal: a longer name would not match the group's token at login.
POSTGRES_ROLE_NAME_BYTES = 63


def _parse_entra_admin(pg: Reader, prod: bool) -> EntraAdminGroup | None:
    object_key, name_key = "entraAdminGroupObjectId", "entraAdminGroupName"
    if not pg.has(object_key) and not pg.has(name_key):
        if prod:
            # Entra ID authentication is on; without an administrator nobody can create Entra roles in production.
            raise pg.fail(
                object_key,
                f"is required in prod: the object id of the Entra ID group that administers PostgreSQL "
                f"(with {pg.key(name_key)}, its display name)",
            )
        return None
    object_id = pg.string(object_key, hint=f"the group's object id, required when {pg.key(name_key)} is set")
    if not GUID.match(object_id):
        raise pg.fail(object_key, f"{object_id!r} is not an Entra ID group object id (a GUID)")
    name = pg.string(name_key, hint=f"the group's display name, required when {pg.key(object_key)} is set")
    if name != name.strip() or len(name.encode("utf-8")) > POSTGRES_ROLE_NAME_BYTES:
        raise pg.fail(
            name_key,
            f"{shown(name)} is not valid: the group's exact display name, at most {POSTGRES_ROLE_NAME_BYTES} bytes, "
            "no leading or trailing spaces",
        )
    return EntraAdminGroup(object_id=object_id, display_name=name)


# Storage redundancy (StorageV2 SKUs Standard_<x>); zone-redundant at least, geo-redundant in production.
STORAGE_REDUNDANCY = ("ZRS", "GZRS", "RAGZRS")
GEO_REDUNDANT = ("GZRS", "RAGZRS")

STORAGE_ACCOUNT_ID = re.compile(
    r"/subscriptions/(?P<sub>[0-9a-fA-F-]{36})/resourceGroups/(?P<rg>[-\w.()]{1,90})"
    r"/providers/Microsoft\.Storage/storageAccounts/(?P<name>[a-z0-9]{3,24})",
    re.IGNORECASE,
)
# Container names: 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.
CONTAINER_NAME = r"(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]"


# TES 6's node runner probes every input URL anonymously and treats only 401, 403 and 409 as "private, sign a SAS"
# (ga4gh-tes@6.0.0:src/Tes.Runner/Storage/ArmUrlTransformationStrategy.cs:71 and Transfer/BlobApiHttpUtils.cs:185-205).
# An account that allows blob public access answers 404 for a private container, and the download fails.
DATA_ACCOUNT_PUBLIC_ACCESS = "TES 6 signs a SAS only after a 401, 403 or 409, and such an account answers 404"
DATA_ACCOUNT_KEYS = {
    "id",
    "containers",
    "privateEndpoint",
    "allowBlobPublicAccess",
    "roleAssignments",
    "endpointApproval",
}


def parse_data_accounts(reader: Reader, coa_account: str) -> tuple[DataStorageAccount, ...]:
    accounts: list[DataStorageAccount] = []
    for item in reader.object_list("dataStorageAccounts", DATA_ACCOUNT_KEYS):
        account_id = item.string("id", hint="the storage account's ARM id")
        match = STORAGE_ACCOUNT_ID.fullmatch(account_id)
        if not match:
            raise item.fail(
                "id",
                f"{account_id!r} is not a storage account id; use "
                "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>",
            )
        name = match["name"].lower()
        if name == coa_account:
            raise item.fail("id", f"{name!r} is the CoA storage account itself; list only accounts outside the stack")
        if any(a.name == name for a in accounts):
            raise item.fail("id", f"storage account {name!r} is listed twice")
        containers: list[DataContainer] = []
        for entry in item.object_list("containers", {"name", "access"}):
            container = entry.string("name", pattern=CONTAINER_NAME, hint="3-63 lowercase letters, digits, hyphens")
            if any(c.name == container for c in containers):
                raise entry.fail("name", f"container {container!r} is listed twice")
            access = entry.choice("access", ("read", "readWrite"), "read")
            containers.append(DataContainer(name=container, access=access))  # type: ignore[arg-type]
        if not containers:
            raise item.fail("containers", "needs at least one container ({name, access: read|readWrite})")
        private_endpoint = item.choice("privateEndpoint", ("create", "existing"), "create")
        # What the program cannot see on an account it does not own is stated, never assumed.
        approval = "automatic"
        if private_endpoint == "create":
            approval = item.choice("endpointApproval", ("automatic", "owner"))
        elif item.has("endpointApproval"):
            raise item.fail(
                "endpointApproval", "is only read with privateEndpoint create (the hub's endpoint is approved)"
            )
        if not item.has("allowBlobPublicAccess"):
            raise item.fail(
                "allowBlobPublicAccess",
                "is required: state the account's setting, false (TES 6 cannot read an account that allows public access)",
            )
        if item.boolean("allowBlobPublicAccess", False):
            raise item.fail(
                "allowBlobPublicAccess",
                f"true cannot work ({DATA_ACCOUNT_PUBLIC_ACCESS}); ask the owner to turn it off",
            )
        grantor = item.choice("roleAssignments", ("stack", "owner"))
        accounts.append(
            DataStorageAccount(
                id=account_id,
                subscription_id=match["sub"],
                resource_group=match["rg"],
                name=name,
                containers=tuple(containers),
                private_endpoint=private_endpoint,  # type: ignore[arg-type]  # narrowed by choice()
                role_assignments=grantor,  # type: ignore[arg-type]
                endpoint_approval=approval,  # type: ignore[arg-type]
            )
        )
    return tuple(accounts)


def parse_task_database(reader: Reader) -> TaskDatabaseKind:
    """postgresql runs TES 6.0.0; cosmosdb runs CoA 3.2.0's TES and TriggerService (configuration/tes32.py)."""
    return reader.choice("taskDatabase", ("postgresql", "cosmosdb"), "postgresql")  # type: ignore[return-value]
