"""Customer-managed keys: what a stack that declares them (policy config `customerManagedKeys: true`, or the tag the
program writes, cmk.py) must encrypt with its own keys, how those keys rotate, and who may use them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import Severity

from ._core import (
    MISSING,
    UNKNOWN,
    NotApplicableError,
    ResourceCheck,
    Rule,
    StackResource,
    StackRule,
    Subject,
    finding,
    get,
    get_ci,
    items,
    known,
    same,
)
from .cmk import CMK_TAG, CMK_TAG_VALUE, CRYPTO_SERVICE_ENCRYPTION_USER, versioned_key_uri
from .identity import ROLE_ASSIGNMENT, role_guid
from .stack import _arm_id, _of

STORAGE = ("azure-native:storage:StorageAccount",)
REGISTRY = ("azure-native:containerregistry:Registry",)
POSTGRES = ("azure-native:dbforpostgresql:Server",)
CLUSTER = ("azure-native:containerservice:ManagedCluster",)
DISK_ENCRYPTION_SET = ("azure-native:compute:DiskEncryptionSet",)
KEY = ("azure-native:keyvault:Key",)
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"

CMK_CONFIG: dict[str, dict[str, Any]] = {"customerManagedKeys": {"type": "boolean", "default": False}}
DECLARE_CMK = (
    f"The stack declares customer-managed keys with customerManagedKeys: true in its policy config or the {CMK_TAG} "
    f"tag {CMK_TAG_VALUE!r} (this project: encryption.customerManagedKeys writes it)."
)


def declared(config: Mapping[str, Any], props: Mapping[str, Any]) -> Any:
    """Why the stack counts as declaring customer-managed keys ('' when it does not; UNKNOWN for a computed tag)."""
    if config.get("customerManagedKeys") is True:
        return "policy config customerManagedKeys: true"
    value = get_ci(get(props, "tags"), CMK_TAG)
    if value is UNKNOWN:
        return UNKNOWN
    return f"tag {CMK_TAG}={value!r}" if isinstance(value, str) and same(value, CMK_TAG_VALUE) else ""


def when_declared(check: ResourceCheck) -> ResourceCheck:
    """`check`, only on resources of a stack that declares customer-managed keys; each finding says why it applies."""

    def run(s: Subject) -> Iterable[str]:
        why = declared(s.config, s.props)
        if why is not UNKNOWN and not why:
            raise NotApplicableError("customer-managed keys not declared")
        if why is UNKNOWN:
            return
        for problem in check(s):
            yield finding(f"{problem.rstrip('.')}; customer-managed keys declared ({why}).", problem)

    return run


def _versionless(what: str, uri: Any) -> Iterable[str]:
    if isinstance(uri, str) and versioned_key_uri(uri):
        yield f"{what} {uri!r} names a key version: the service stays on it after Key Vault rotates the key."


def _storage(s: Subject) -> Iterable[str]:
    encryption = get(s.props, "encryption")
    source = get(encryption, "keySource")
    if source is UNKNOWN:
        return
    if not same(source, "Microsoft.Keyvault"):
        yield f"encryption.keySource is {source if known(source) else 'not set'}, not Microsoft.Keyvault."
        return
    if get(encryption, "keyVaultProperties", "keyVersion") not in (MISSING, None, ""):
        yield "encryption.keyVaultProperties.keyVersion pins a key version: the account stops following rotation."
    if get(encryption, "encryptionIdentity", "encryptionUserAssignedIdentity") is MISSING:
        yield "encryption.encryptionIdentity names no user-assigned identity to read the key with."


def _registry(s: Subject) -> Iterable[str]:
    encryption = get(s.props, "encryption")
    status = get(encryption, "status")
    if status is UNKNOWN:
        return
    if not same(status, "enabled"):
        yield "encryption.status is not enabled: the registry uses Microsoft-managed keys (only chosen at creation)."
        return
    yield from _versionless(
        "encryption.keyVaultProperties.keyIdentifier", get(encryption, "keyVaultProperties", "keyIdentifier")
    )


def _postgres(s: Subject) -> Iterable[str]:
    encryption = get(s.props, "dataEncryption")
    kind = get(encryption, "type")
    if kind is UNKNOWN:
        return
    if not same(kind, "AzureKeyVault"):
        yield "dataEncryption.type is not AzureKeyVault: the server uses service-managed keys (only chosen at creation)."
        return
    yield from _versionless("dataEncryption.primaryKeyURI", get(encryption, "primaryKeyURI"))
    if get(encryption, "primaryUserAssignedIdentityId") is MISSING:
        yield "dataEncryption.primaryUserAssignedIdentityId names no identity to read the key with."


def _cluster(s: Subject) -> Iterable[str]:
    if get(s.props, "diskEncryptionSetID") in (MISSING, None, ""):
        yield "diskEncryptionSetID is not set: node disks use platform-managed keys (only chosen at creation)."


def _disk_encryption_set(s: Subject) -> Iterable[str]:
    kind = get(s.props, "encryptionType")
    if known(kind) and "customerkey" not in str(kind).lower():
        yield f"encryptionType is {kind!r}, not a customer-key type."
    if get(s.props, "rotationToLatestKeyVersionEnabled") not in (True, UNKNOWN):
        yield "rotationToLatestKeyVersionEnabled is not true: disks stay on the key version the set was given."


def _rotation_policy(s: Subject) -> Iterable[str]:
    policy = get(s.props, "properties", "rotationPolicy")
    if policy is UNKNOWN:
        return
    rotates = [
        a
        for a in items(get(policy, "lifetimeActions"))
        if same(get(a, "action", "type"), "rotate")
        and any(known(get(a, "trigger", t)) for t in ("timeAfterCreate", "timeBeforeExpiry"))
    ]
    if not rotates:
        yield "properties.rotationPolicy has no rotate lifetime action with a trigger: Key Vault never rotates the key."
    if not known(get(policy, "attributes", "expiryTime")):
        yield "properties.rotationPolicy.attributes.expiryTime is not set: rotated versions never expire."


def _key_scope(grant: StackResource, keys: Sequence[StackResource]) -> bool:
    """Whether the grant's scope is a key: one of the stack's (by property dependency or id) or any vault key id."""
    scope = get(grant.props, "scope")
    if isinstance(scope, str):
        return "/keys/" in scope.lower() or scope.lower() in {_arm_id(k) for k in keys} - {""}
    return any(k.urn in grant.property_dependencies.get("scope", frozenset()) for k in keys)


def _encryption_principals(resources: Sequence[StackResource]) -> set[str]:
    """URNs of what reads a key for a service: the identities storage, registries and servers encrypt with, and
    every disk encryption set (its own identity)."""
    found = {r.urn for r in _of(resources, *DISK_ENCRYPTION_SET)}
    users = _of(resources, *STORAGE, *REGISTRY, *POSTGRES)
    for identity in _of(resources, IDENTITY):
        for user in users:
            prop = "dataEncryption" if user.type in POSTGRES else "encryption"
            if identity.urn in user.property_dependencies.get(prop, frozenset()):
                found.add(identity.urn)
    return found


def _grants(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    keys = _of(resources, *KEY)
    if not keys:
        raise NotApplicableError("no Key Vault key")
    principals = _encryption_principals(resources)
    for grant in _of(resources, ROLE_ASSIGNMENT):
        guid = role_guid(get(grant.props, "roleDefinitionId"))
        on_key = _key_scope(grant, keys)
        for_encryption = bool(principals & set(grant.property_dependencies.get("principalId", ())))
        scope = get(grant.props, "scope")
        if guid == CRYPTO_SERVICE_ENCRYPTION_USER and not on_key:
            yield (
                finding(
                    f"grant {grant.name!r} gives Key Vault Crypto Service Encryption User on {scope!r}, not on one key: "
                    "its holder can wrap and unwrap with every key there.",
                    scope=scope,
                ),
                grant.urn,
            )
        elif for_encryption and guid and guid != CRYPTO_SERVICE_ENCRYPTION_USER:
            yield (
                finding(
                    f"grant {grant.name!r} gives a service's encryption identity role {guid}; it needs only Key Vault "
                    f"Crypto Service Encryption User ({CRYPTO_SERVICE_ENCRYPTION_USER}) on its own key.",
                    role=guid,
                ),
                grant.urn,
            )


POLICIES = [
    Rule(
        name="storage-customer-managed-key",
        types=STORAGE,
        check=when_declared(_storage),
        description="Where the stack declares customer-managed keys, storage accounts encrypt with a Key Vault key "
        "(versionless, so rotation applies) read by a user-assigned identity.",
        severity=Severity.HIGH,
        safeguard="encryption",
        remediation="Set encryption.keySource: Microsoft.Keyvault, keyVaultProperties {keyName, keyVaultUri} without "
        "keyVersion, and encryption.encryptionIdentity (this project: components/encryption.py). " + DECLARE_CMK,
        anchor="CKV2_AZURE_1 (Checkov Terraform graph check); Azure Policy: Storage accounts should use "
        "customer-managed key for encryption",
        config=CMK_CONFIG,
    ),
    Rule(
        name="acr-customer-managed-key",
        types=REGISTRY,
        check=when_declared(_registry),
        description="Where the stack declares customer-managed keys, container registries encrypt with a "
        "versionless Key Vault key.",
        severity=Severity.HIGH,
        safeguard="encryption",
        remediation="Create the registry with encryption {status: enabled, keyVaultProperties {identity, "
        "keyIdentifier without version}} and the user-assigned identity (only at creation). " + DECLARE_CMK,
        anchor="Azure Policy: Container registries should be encrypted with a customer-managed key",
        config=CMK_CONFIG,
    ),
    Rule(
        name="postgres-customer-managed-key",
        types=POSTGRES,
        check=when_declared(_postgres),
        description="Where the stack declares customer-managed keys, PostgreSQL flexible servers encrypt with a "
        "versionless Key Vault key read by a user-assigned identity.",
        severity=Severity.HIGH,
        safeguard="encryption",
        remediation="Create the server with dataEncryption {type: AzureKeyVault, primaryKeyURI without version, "
        "primaryUserAssignedIdentityId} (only at creation). " + DECLARE_CMK,
        anchor="Azure Policy: PostgreSQL flexible servers should use customer-managed keys to encrypt data at rest",
        config=CMK_CONFIG,
    ),
    Rule(
        name="aks-disk-customer-managed-key",
        types=CLUSTER,
        check=when_declared(_cluster),
        description="Where the stack declares customer-managed keys, AKS node disks are encrypted through a disk "
        "encryption set.",
        severity=Severity.HIGH,
        safeguard="encryption",
        remediation="Create the cluster with diskEncryptionSetID (only at creation). " + DECLARE_CMK,
        anchor="CKV_AZURE_117 (Checkov Terraform check); Azure Policy: Both operating systems and data disks in "
        "Azure Kubernetes Service clusters should be encrypted by customer-managed keys",
        config=CMK_CONFIG,
    ),
    Rule(
        name="disk-encryption-set-follows-rotation",
        types=DISK_ENCRYPTION_SET,
        check=_disk_encryption_set,
        description="Disk encryption sets use a customer key and move to each new key version by themselves.",
        severity=Severity.MEDIUM,
        safeguard="encryption",
        remediation="Set encryptionType: EncryptionAtRestWithCustomerKey and rotationToLatestKeyVersionEnabled: true.",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="keyvault-key-rotation-policy",
        types=KEY,
        check=_rotation_policy,
        description="Key Vault keys carry a rotation policy that rotates them and gives each version an expiry.",
        severity=Severity.MEDIUM,
        safeguard="encryption",
        remediation="Set properties.rotationPolicy {lifetimeActions: [{action: rotate, trigger}], attributes "
        "{expiryTime}} when the key is created (ARM never updates a key; later: az keyvault key rotation-policy "
        "update).",
        anchor="Azure Policy: Keys should have a rotation policy ensuring that their rotation is scheduled within "
        "the specified number of days after creation",
    ),
    StackRule(
        name="customer-key-grants-least-privilege",
        check=_grants,
        subjects=(ROLE_ASSIGNMENT,),
        description="Key Vault Crypto Service Encryption User is granted on one key, never a vault, and a service's "
        "encryption identity holds no other role.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Scope the grant to <vault id>/keys/<key> and give encryption identities that role alone (this "
        "project: components/encryption.py, one identity and key per service).",
        anchor="none: gap in existing scanners",
    ),
]
