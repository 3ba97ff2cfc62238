"""Every key of the stack file, parsed into frozen settings and validated before any resource is created.

`parse_settings` takes raw values keyed as in the stack file (without the project namespace), so tests can feed it
directly; `load_settings` reads them from the running Pulumi program. Each area has its own module (regions,
network, compute, batch, data, secrets); this one reads the top-level keys, runs every area and collects every error,
one line each with its key, so nothing is created until the whole configuration has passed.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from configuration import guardrails, naming, tes32
from configuration.batch import check_allowed_vm_sizes, parse_allowed_vm_sizes, parse_batch_images
from configuration.compute import parse_aks, parse_image_build
from configuration.data import (
    GEO_REDUNDANT,
    STORAGE_REDUNDANCY,
    parse_data_accounts,
    parse_postgres,
    parse_task_database,
)
from configuration.encryption import check_encryption, parse_encryption
from configuration.image_lock import LOCK_FILE, ImageLock, load_lock
from configuration.network import parse_dns, parse_network
from configuration.reader import PROJECT, ConfigError, Reader, suggest
from configuration.regions import parse_location
from configuration.secrets import parse_rotation, parse_scanner
from configuration.settings import (
    GENERATION_OF_DATABASE,
    EncryptionSettings,
    ImageBuildSettings,
    Names,
    SecretRotation,
    Settings,
    TaskDatabaseKind,
    Tes32Settings,
)
from configuration.upstreams import parse_docker_hub
from policy.coa_policies.cmk import CMK_TAG, CMK_TAG_VALUE

__all__ = ["check_namespaces", "load_settings", "parse_settings"]

T = TypeVar("T")

ENVIRONMENTS = ("dev", "prod")


KNOWN_KEYS = frozenset(
    {
        "environment",
        "location",
        "workload",
        "nameSuffix",
        "resourceGroupName",
        "names",
        "network",
        "dns",
        "kubernetes",
        "batch",
        "taskDatabase",
        "postgres",
        "monitoring",
        "imageScanner",
        "imageScannerUsername",
        "imageScannerPassword",
        "protectStatefulResources",
        "tags",
        "storage",
        "dataStorageAccounts",
        "resourceLocks",
        "guardrailOverrides",
        "secrets",
        "imageBuild",
        "capacity",
        "encryption",
        "dockerHub",
        # taskDatabase cosmosdb only (configuration/tes32.py).
        *tes32.TES32_KEYS,
    }
)


# Resource group names: 1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period.
RESOURCE_GROUP_NAME = r"[\w\-.()]{0,89}[\w\-()]"
# Tag names: at most 512 characters, none of < > % & \ ? / (Azure refuses them); values at most 256.
TAG_NAME = r"[^<>%&\\?/]{1,512}"
# Tags the stack sets itself: the policy pack's production detection reads `environment`, its customer-managed-key
# rules `encryption` (policy/coa_policies/cmk.py).
RESERVED_TAGS = ("environment", "workload", CMK_TAG)


def _parse_tags(reader: Reader) -> dict[str, str]:
    tags = reader.string_map("tags")
    for name, value in tags.items():
        if not re.fullmatch(TAG_NAME, name):
            raise ConfigError(
                f"{reader.key('tags')}.{name}: not a valid tag name (1-512 characters, none of < > % & \\ ? /)"
            )
        if len(value) > 256:
            raise ConfigError(f"{reader.key('tags')}.{name}: the value has {len(value)} characters; Azure allows 256")
        if name.lower() in RESERVED_TAGS:
            raise ConfigError(
                f"{reader.key('tags')}.{name}: is set by the stack (environment, workload and encryption tags "
                "decide how the policy pack judges it); remove it"
            )
    return tags


def _parse_names(reader: Reader, workload: str, environment: str) -> Names:
    suffix = reader.string(
        "nameSuffix", pattern=r"[a-z0-9]{3,6}", hint="3-6 lowercase letters and digits that make global names unique"
    )
    overrides = reader.child("names", {_camel(k) for k in naming.STACK_NAMES})
    values: dict[str, str] = {}
    for kind in naming.STACK_NAMES:
        key = _camel(kind)
        name = overrides.string(key) if overrides.has(key) else naming.derive(kind, workload, environment, suffix)
        problem = naming.check(kind, name)
        if problem:
            source = overrides.key(key) if overrides.raw.get(key) else f"{reader.key('nameSuffix')} (derived {key})"
            raise ConfigError(f"{source}: {name!r} is not a valid {kind.replace('_', ' ')} name; use {problem}")
        values[kind] = name
    return Names(**values)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def parse_settings(
    raw: Mapping[str, Any],
    *,
    stack: str | None = None,
    secret_keys: frozenset[str] = frozenset(),
    images: ImageLock | None = None,
    lock_path: Path = LOCK_FILE,
    today: datetime.date | None = None,
) -> Settings:
    """Validate every key; all errors are collected and raised together (one line each: key, value, rule, fix).

    `stack` is the stack's name (production is recognised by it too); `secret_keys` the config keys Pulumi holds
    encrypted (`pulumi config set --secret`); `images` the image lock (read from `lock_path` when not given)."""
    errors: list[ConfigError] = []
    # Support windows (Batch node agents) are judged on the day the program runs.
    today = today or datetime.datetime.now(datetime.UTC).date()

    def attempt(parse: Callable[[], T], default: T) -> T:
        try:
            return parse()
        except ConfigError as error:
            errors.append(error)
            return default

    for key in sorted(set(raw) - KNOWN_KEYS):
        errors.append(ConfigError(f"{PROJECT}:{key}: unknown key{suggest(key, KNOWN_KEYS)}"))
    reader = Reader(raw)
    environment = attempt(lambda: reader.choice("environment", ENVIRONMENTS), "")
    environment_known = bool(environment)
    # Defaults below follow the environment; an invalid one (already reported) is read as the stack's name says.
    environment = environment or ("prod" if guardrails.is_production("", stack) else "dev")
    location = attempt(lambda: parse_location(reader), "")
    workload = attempt(
        lambda: reader.string(
            "workload", "coa", pattern=r"[a-z][a-z0-9]{1,7}", hint="2-8 lowercase letters and digits"
        ),
        "coa",
    )
    production = guardrails.is_production(environment, stack)
    default_database: TaskDatabaseKind = "postgresql"
    task_database: TaskDatabaseKind = attempt(lambda: parse_task_database(reader), default_database)
    batch = attempt(lambda: reader.child("batch", {"maxNodes", "images", "allowedVmSizes"}), None)
    batch_max_nodes = attempt(lambda: batch.integer("maxNodes", 100, minimum=1, maximum=30000), 100) if batch else 100
    batch_images = attempt(lambda: parse_batch_images(batch, today), None) if batch else None
    allowed_vm_sizes = attempt(lambda: parse_allowed_vm_sizes(batch), ()) if batch else ()
    if batch and batch_images and allowed_vm_sizes and location:
        attempt(
            lambda: check_allowed_vm_sizes(
                batch, allowed_vm_sizes, batch_images, location, today, one_image=task_database == "cosmosdb"
            ),
            None,
        )
    aks = attempt(lambda: parse_aks(reader, today), None)
    monitoring = attempt(lambda: reader.child("monitoring", {"logRetentionDays"}), None)
    retention = (
        attempt(lambda: monitoring.integer("logRetentionDays", 90, minimum=30, maximum=730), 90) if monitoring else 90
    )
    protect = attempt(lambda: reader.boolean("protectStatefulResources", production), production)
    locks = attempt(lambda: reader.boolean("resourceLocks", production), production)
    storage = attempt(lambda: reader.child("storage", {"allowSharedKeyAccess", "redundancy"}), None)
    shared_key = attempt(lambda: storage.boolean("allowSharedKeyAccess", False), False) if storage else False
    redundancy = (
        attempt(lambda: storage.choice("redundancy", STORAGE_REDUNDANCY, "GZRS" if production else "ZRS"), "ZRS")
        if storage
        else "ZRS"
    )
    names = attempt(lambda: _parse_names(reader, workload, environment), None)
    image_build = attempt(lambda: parse_image_build(reader, location), ImageBuildSettings())
    network = (
        attempt(lambda: parse_network(reader, batch_max_nodes, aks, environment, location, image_build), None)
        if aks
        else None
    )
    dns = attempt(lambda: parse_dns(reader, location, task_database), None)
    data_accounts = attempt(lambda: parse_data_accounts(reader, names.storage_account), ()) if names else ()
    postgres = attempt(lambda: parse_postgres(reader, environment, today), None)
    scanner = attempt(lambda: parse_scanner(reader, secret_keys, today), None)
    rotation = attempt(lambda: parse_rotation(reader), SecretRotation())
    encryption = attempt(lambda: parse_encryption(reader), EncryptionSettings())
    errors.extend(check_encryption(encryption, postgres, rotation))
    if production and scanner and scanner.credentials_expire_on is None:
        # Production secrets expire (pack rule keyvault-secrets-and-keys-expire-production); only the operator knows
        # when the scanner's registry credential does.
        errors.append(
            ConfigError(
                f"{PROJECT}:imageScanner.credentialsExpireOn: is required in production: the day the scanner's "
                "registry credential expires (its Key Vault secrets expire with it)"
            )
        )
    tags = attempt(lambda: _parse_tags(reader), {})
    resource_group_name = attempt(
        lambda: (
            reader.string(
                "resourceGroupName",
                pattern=RESOURCE_GROUP_NAME,
                hint="1-90 letters, digits, _ - . ( ), not ending in a period",
            )
            if reader.has("resourceGroupName")
            else None
        ),
        None,
    )
    overrides = attempt(lambda: _parse_overrides(reader), {})
    tes32_settings: Tes32Settings | None = None
    if task_database == "cosmosdb":
        suffix = reader.raw.get("nameSuffix")
        tes32_settings = attempt(
            lambda: tes32.parse_tes32(
                reader,
                secret_keys=secret_keys,
                today=today,
                workload=workload,
                environment=environment,
                suffix=suffix if isinstance(suffix, str) else "",
                production=production,
            ),
            None,
        )
        errors.extend(tes32.check_stack(reader, shared_key=shared_key, data_accounts=len(data_accounts)))
    else:
        errors.extend(tes32.refuse_without_cosmosdb(reader))
    generation = GENERATION_OF_DATABASE[task_database]
    lock = images or attempt(lambda: load_lock(lock_path), None)
    if lock is not None:
        lock = lock.for_generation(generation)
    if lock is not None and not image_build.enabled:
        lock = lock.from_cache_instead_of_build()
    docker_hub = attempt(lambda: parse_docker_hub(reader, lock), None) if lock else None
    breaches: dict[str, object] = {}
    if lock is not None and lock.unpinned():
        breaches["unpinnedImages"] = f"digests pending for {', '.join(lock[key].key for key in lock.unpinned())}"
    if not (protect and locks):
        breaches["unprotectedState"] = {
            k: v for k, v in (("protectStatefulResources", protect), ("resourceLocks", locks)) if not v
        }
    if shared_key:
        breaches["sharedKeyAccess"] = shared_key
    if aks is not None and not aks.admin_group_object_ids:
        breaches["noClusterAdminGroups"] = []
    if production and environment_known and environment != "prod":
        breaches["nonProductionEnvironment"] = environment
    if redundancy not in GEO_REDUNDANT:
        breaches["locallyRedundantStorage"] = redundancy
    if task_database == "cosmosdb":
        # The reduced-assurance generation's weakenings (sharedKeyAccess is breached above: it is required there).
        breaches["cosmosLocalAuth"] = True
        breaches["applicationCredential"] = "client secrets"
        breaches["outOfSupportRuntime"] = "cosmosdb (.NET 6)"
    errors.extend(guardrails.check(breaches, overrides, production))
    if errors:
        raise ConfigError(*(line for error in errors for line in error.errors))
    assert names and aks and network and dns and postgres and batch_images and lock  # every failure was recorded
    assert task_database != "cosmosdb" or tes32_settings
    settings = Settings(
        environment=environment,
        location=location,
        workload=workload,
        resource_group_name=resource_group_name,
        names=names,
        network=network,
        dns=dns,
        aks=aks,
        batch_max_nodes=batch_max_nodes,
        batch_images=batch_images,
        batch_allowed_vm_sizes=allowed_vm_sizes,
        data_storage_accounts=data_accounts,
        task_database=task_database,
        postgres=postgres,
        log_retention_days=retention,
        image_scanner=scanner,
        protect_stateful_resources=protect,
        resource_locks=locks,
        production=production,
        storage_shared_key_access=shared_key,
        storage_redundancy=redundancy,
        images=lock,
        image_build=image_build,
        secret_rotation=rotation,
        guardrail_overrides={k: v for k, v in overrides.items() if k in breaches},
        encryption=encryption,
        docker_hub=docker_hub,
        tags={
            "environment": environment,
            "workload": "cromwell-on-azure",
            **({CMK_TAG: CMK_TAG_VALUE} if encryption.customer_managed_keys else {}),
            **tags,
        },
        tes32=tes32_settings,
        unacknowledged_weakenings={
            name: why for name, why in tes32.WEAKENINGS.items() if name in breaches and name not in overrides
        }
        if task_database == "cosmosdb"
        else {},
    )
    _check_capacity(reader, settings, stack or environment)
    return settings


def _check_capacity(reader: Reader, settings: Settings, stack: str) -> None:
    """The parallelism the stack declares (`capacity`) must be reachable with what it configures: the VM sizes TES
    would pick, the Batch subnet and maxNodes, PostgreSQL connections and tier, Cromwell's limits, AKS pods
    (configuration/capacity.py). Quota is checked on the real account (scripts/preflight.sh, make capacity)."""
    if not reader.has("capacity"):
        return
    from configuration.capacity import REPO_ROOT, WorkloadError, load_workload, plan

    section = reader.child("capacity", {"samples", "workload"})
    samples = section.integer("samples", 1, minimum=1, maximum=10_000)
    path = REPO_ROOT / section.string("workload", "workloads/tso500.yaml", hint="a workload file (workloads/*.yaml)")
    try:
        workload = load_workload(path)
    except WorkloadError as exc:
        raise section.fail("workload", str(exc)) from None
    problems = plan(stack, settings, workload, samples).problems
    if problems:
        raise ConfigError(
            *(f"{section.key('samples')}: {samples} samples cannot run in parallel: {p}" for p in problems)
        )


def _parse_overrides(reader: Reader) -> dict[str, str]:
    overrides = reader.child("guardrailOverrides", set(guardrails.GUARDRAILS))
    reasons: dict[str, str] = {}
    for name in overrides.raw:
        reason = overrides.string(name, hint="why this production stack accepts it (recorded in the preview)")
        if len(reason.strip()) < 10:
            raise overrides.fail(name, f"{reason!r} is not a reason; say why, in a sentence (at least 10 characters)")
        reasons[name] = reason.strip()
    return reasons


# Config namespaces a stack file may use: the project's own, and those of the providers and engine the program uses.
NAMESPACES = frozenset({PROJECT, "azure-native", "kubernetes", "random", "command", "pulumi"})


def check_namespaces(keys: Iterable[str]) -> None:
    """A key in an unknown namespace is refused before anything else: a typo in `coa-lockdown:` would otherwise
    leave the program without the key and report that one as missing, or silently use its default."""
    errors = []
    for full_key in sorted(keys):
        namespace = full_key.partition(":")[0]
        if namespace not in NAMESPACES:
            near = difflib.get_close_matches(namespace, sorted(NAMESPACES), n=1, cutoff=0.6)
            fix = (
                f"did you mean {near[0]}:?"
                if near
                else f"use {PROJECT}: or a provider's ({', '.join(sorted(NAMESPACES - {PROJECT}))})"
            )
            errors.append(f"{full_key}: unknown namespace '{namespace}'; {fix}")
    if errors:
        raise ConfigError(*errors)


def load_settings() -> Settings:
    """Read every `coa-lockdown:*` key of the running stack (values arrive as strings, objects as JSON)."""
    from pulumi.runtime import config as runtime_config

    everything: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    check_namespaces(everything)
    raw: dict[str, Any] = {}
    for full_key, value in everything.items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            continue
        # An empty value is "" (the stack file's `key: ""`), not JSON: the key's own check says what is wrong.
        if isinstance(value, str) and value[:1] and value[:1] in "{[":
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(f"{full_key}: value is not valid JSON") from None
        raw[key] = value
    import pulumi

    secret_keys = frozenset(k.partition(":")[2] for k in everything if runtime_config.is_config_secret(k))
    # The lock beside the program: the language host runs it from the project directory.
    lock_path = Path.cwd() / LOCK_FILE.name
    return parse_settings(raw, stack=pulumi.get_stack(), secret_keys=secret_keys, lock_path=lock_path)
