"""The reduced-assurance generation (taskDatabase cosmosdb): CoA 3.2.0's TES and TriggerService on Cosmos DB.

Everything this generation needs is stated in the stack file, not defaulted: the Cosmos DB account (`cosmos`, with
`localAuthEnabled: true`), one Entra application per 3.2 workload (`applicationCredentials`, whose client secrets come
from `pulumi config set --secret`), and shared-key access on the CoA storage account. Each weakening is a guardrail
(configuration/guardrails.py) a production stack must override by name with a reason. What cannot work is refused,
naming the key and the reference line that proves it (microsoft/CromwellOnAzure@3.2.0, `src/...` below).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping

from configuration import naming
from configuration.reader import GUID, ConfigError, Reader
from configuration.settings import ApplicationCredential, CosmosSettings, Tes32Settings

# Why each weakening is needed, in one line (the guardrail's rule and the dev warning say it).
WEAKENINGS: dict[str, str] = {
    "sharedKeyAccess": "TES 3.2 signs every SAS with the storage account key and TriggerService 3.2 reads blobs with "
    "it (src/TesApi.Web/StorageAccessProvider.cs:160-167, src/TriggerService/AzureStorage.cs:226-228)",
    "cosmosLocalAuth": "TES 3.2 and TriggerService 3.2 open the task store with the primary key they list through "
    "ARM (src/TesApi.Web/AzureProxy.cs:145, src/Tes/Repository/CosmosDbRepository.cs:37)",
    "applicationCredential": "AzureServiceTokenProvider (src/TesApi.Web/AzureProxy.cs:836) has no workload identity "
    "flow: the pods sign in with a client secret (RunAs=App) instead of a federated token",
    "outOfSupportRuntime": "the 3.2 images run .NET 6 (src/Dockerfile-Tes:18, src/Dockerfile-TriggerService:19), out "
    "of Microsoft support since 2024-11-12: no security fixes",
}

# The workloads that sign in as an application, and the config key of each one's client secret.
CREDENTIAL_SECRET_KEYS = {"tes": "tesClientSecret", "triggerservice": "triggerServiceClientSecret"}
# Key Vault secrets holding each workload's AzureServicesAuthConnectionString (the chart mounts them by these names;
# configuration/secrets.py keeps operator secrets off them).
CONNECTION_STRING_SECRETS = {
    "tes": "tes-azure-services-auth",
    "triggerservice": "triggerservice-azure-services-auth",
}
# The Key Vault secret expires with the client secret, and this project's secrets expire within a year (policy rule
# keyvault-secret-expiry-bounded, default 365 days): rotate the client secret at least yearly.
MAX_SECRET_LIFETIME_DAYS = 365

BACKUP_TIERS = ("Continuous7Days", "Continuous30Days")
# TES 3.2 creates its database with 4000 RU/s autoscale when missing (src/Tes/Repository/CosmosDbRepository.cs:20);
# the stack pre-creates it, in steps of 1000 RU/s (Azure Cosmos DB limits).
AUTOSCALE_STEP = 1000
MAX_AUTOSCALE_THROUGHPUT = 1_000_000

# Refusals: what the 3.2 generation cannot do, with the line that proves it (CromwellOnAzure@3.2.0:src/TesApi.Web/...;
# docs/workflows.md gives the full citations). Each error line stays under 200 characters with its key.
DATA_ACCOUNTS_REFUSED = (
    "TES 3.2 reads other accounts only with their account key (AzureProxy.cs:601-608): per-container access cannot hold"
)
SHARED_KEYS_REQUIRED = "must be true: TES 3.2 signs every SAS with the account key (StorageAccessProvider.cs:160-167)"
LOCAL_AUTH_REQUIRED = "must be stated true: TES 3.2 opens its task store with the primary key (AzureProxy.cs:145)"
GEN1_IMAGE_REFUSED = (
    "is not read: TES 3.2 starts every VM size on batch.images.gen2 (BatchScheduler.cs:91-95); remove it"
)
# Keys only this generation reads.
TES32_KEYS = ("cosmos", "applicationCredentials", *CREDENTIAL_SECRET_KEYS.values())


def refuse_without_cosmosdb(reader: Reader) -> list[ConfigError]:
    """The generation's keys in a stack that runs TES 6: each would be stored or read for nothing."""
    return [
        reader.fail(key, "is only read with taskDatabase cosmosdb (the CoA 3.2 generation); remove it")
        for key in TES32_KEYS
        if reader.has(key)
    ]


def _cosmos(reader: Reader, workload: str, environment: str, suffix: str, production: bool) -> CosmosSettings:
    if not reader.has("cosmos"):
        raise reader.fail("cosmos", "is required with taskDatabase cosmosdb: {localAuthEnabled: true, ...}")
    cosmos = reader.child(
        "cosmos", {"accountName", "localAuthEnabled", "backupTier", "zoneRedundant", "maxAutoscaleThroughput"}
    )
    name = cosmos.string("accountName", naming.derive("cosmos_account", workload, environment, suffix))
    problem = naming.check("cosmos_account", name)
    if problem:
        raise cosmos.fail("accountName", f"{name!r} is not a valid Cosmos DB account name; use {problem}")
    if not cosmos.has("localAuthEnabled"):
        raise cosmos.fail("localAuthEnabled", LOCAL_AUTH_REQUIRED)
    if not cosmos.boolean("localAuthEnabled", False):
        raise cosmos.fail("localAuthEnabled", "false cannot work: TES 3.2 opens its task store with the primary key")
    throughput = cosmos.integer(
        "maxAutoscaleThroughput", 4000, minimum=AUTOSCALE_STEP, maximum=MAX_AUTOSCALE_THROUGHPUT
    )
    if throughput % AUTOSCALE_STEP:
        raise cosmos.fail("maxAutoscaleThroughput", f"{throughput} is not a multiple of {AUTOSCALE_STEP} RU/s")
    tier = cosmos.choice("backupTier", BACKUP_TIERS, "Continuous30Days" if production else "Continuous7Days")
    return CosmosSettings(
        account_name=name,
        local_auth_enabled=True,
        backup_tier=tier,  # type: ignore[arg-type]  # narrowed by choice()
        zone_redundant=cosmos.boolean("zoneRedundant", production),
        max_autoscale_throughput=throughput,
    )


def _credentials(reader: Reader, secret_keys: frozenset[str], today: datetime.date) -> dict[str, ApplicationCredential]:
    if not reader.has("applicationCredentials"):
        raise reader.fail(
            "applicationCredentials", "is required with taskDatabase cosmosdb: {tes: {...}, triggerservice: {...}}"
        )
    section = reader.child("applicationCredentials", set(CREDENTIAL_SECRET_KEYS))
    credentials: dict[str, ApplicationCredential] = {}
    for workload, secret_key in CREDENTIAL_SECRET_KEYS.items():
        if not section.has(workload):
            raise section.fail(workload, "is required: {clientId, objectId, tenantId, secretExpiresOn}")
        app = section.child(workload, {"clientId", "objectId", "tenantId", "secretExpiresOn"})
        ids = {}
        for key, what in (
            ("clientId", "the application (client) id"),
            ("objectId", "its service principal's object id"),
            ("tenantId", "the directory (tenant) id"),
        ):
            value = app.string(key, hint=f"{what}, a GUID")
            if not GUID.match(value):
                raise app.fail(key, f"{value!r} is not a GUID: {what}")
            ids[key] = value.lower()
        if not app.has("secretExpiresOn"):
            raise app.fail("secretExpiresOn", "is required: the day the client secret expires (YYYY-MM-DD)")
        expires = app.date("secretExpiresOn")
        if expires <= today:
            raise app.fail("secretExpiresOn", f"{expires} has passed; create a new client secret and set both")
        if (expires - today).days > MAX_SECRET_LIFETIME_DAYS:
            raise app.fail(
                "secretExpiresOn", f"{expires} is more than 365 days away; secrets here expire within a year"
            )
        if not reader.has(secret_key):
            raise reader.fail(secret_key, f"is required: pulumi config set --secret {secret_key} <client secret>")
        if secret_key not in secret_keys:
            raise reader.fail(secret_key, f"is in plain text; set it with pulumi config set --secret {secret_key}")
        value = reader.raw[secret_key]
        if not isinstance(value, str) or not value.strip() or re.search(r"[;\s]", value):
            # The secret goes into a connection string (AppKey=<secret>): ';' would end it early.
            raise reader.fail(secret_key, "is blank or holds ';' or whitespace; set the client secret itself")
        credentials[workload] = ApplicationCredential(
            workload=workload,
            client_id=ids["clientId"],
            object_id=ids["objectId"],
            tenant_id=ids["tenantId"],
            secret_key=secret_key,
            secret_expires_on=expires,
        )
    tes, trigger = credentials["tes"], credentials["triggerservice"]
    if tes.client_id == trigger.client_id or tes.object_id == trigger.object_id:
        # TriggerService lists the keys of every storage account its application sees and stops when one is refused
        # (src/TriggerService/AzureStorage.cs:218-235); TES's application may see more than TriggerService's may.
        raise section.fail(
            "triggerservice", "names TES's application; give it its own (TriggerService/AzureStorage.cs:218-235)"
        )
    return credentials


def parse_tes32(
    reader: Reader,
    *,
    secret_keys: frozenset[str],
    today: datetime.date,
    workload: str,
    environment: str,
    suffix: str,
    production: bool,
) -> Tes32Settings:
    """Every error of the generation's own keys at once."""
    errors: list[ConfigError] = []
    cosmos = credentials = None
    try:
        cosmos = _cosmos(reader, workload, environment, suffix, production)
    except ConfigError as error:
        errors.append(error)
    try:
        credentials = _credentials(reader, secret_keys, today)
    except ConfigError as error:
        errors.append(error)
    if errors:
        raise ConfigError(*(line for error in errors for line in error.errors))
    assert cosmos and credentials
    return Tes32Settings(cosmos=cosmos, credentials=credentials)


def check_stack(reader: Reader, *, shared_key: bool, data_accounts: int) -> list[ConfigError]:
    """What the rest of the stack must be for the 3.2 generation to run."""
    errors = []
    storage = Reader(reader.raw.get("storage") or {}, "storage.")
    if not shared_key:
        errors.append(storage.fail("allowSharedKeyAccess", SHARED_KEYS_REQUIRED))
    if data_accounts:
        errors.append(reader.fail("dataStorageAccounts", f"is refused: {DATA_ACCOUNTS_REFUSED}"))
    batch = reader.raw.get("batch") or {}
    images = batch.get("images") if isinstance(batch, Mapping) else None
    if isinstance(images, Mapping) and images.get("gen1") is not None:
        errors.append(Reader(images, "batch.images.").fail("gen1", GEN1_IMAGE_REFUSED))
    return errors
