"""Customer-managed keys: one Key Vault key per service that encrypts data at rest (storage, the registry, PostgreSQL,
the AKS node disks), each rotated by Key Vault on the stack's rotation schedule, and one identity per service that may
only wrap and unwrap with its own key.

Sources (read with git or read_file; repo@commit:path:line):
- Every service is a trusted service that reaches a vault with public access disabled once the vault lets trusted
  services bypass its firewall: azure-security-docs@1c4310b:articles/key-vault/general/overview-vnet-service-endpoints.md
  :45 (bypass holds with public access disabled), :61 (Container Registry), :68 (PostgreSQL flexible server), :71 (Disk
  Storage, with a disk encryption set), :86 (Storage).
- Rotation: a new key version with new key material; services follow it when given the versionless key URI
  (how-to-configure-key-rotation.md:59). Storage, the registry (azure-management-docs@d923d58:articles/
  container-registry/tutorial-customer-managed-keys.md:54) and PostgreSQL (azure-databases-docs@1012b59:articles/
  postgresql/security/security-data-encryption.md, "Automatic key version updates") take the versionless URI; a disk
  encryption set takes a versioned URL and follows rotation with rotationToLatestKeyVersionEnabled (azure-compute-docs
  @0a269cb:articles/virtual-machines/disk-encryption.md, "Automatic rotation of customer-managed keys").
- Keys are written through ARM, which creates the first version only and never updates a key afterwards
  (azure-rest-api-specs@e816204:specification/keyvault/resource-manager/Microsoft.KeyVault/stable/2024-11-01/keys.json,
  Keys_CreateIfNotExist): the rotation policy and first expiry are set once, at creation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization, compute, keyvault, managedidentity

from components.access import assign
from components.identity import Identity
from components.keyvault import KeyVault
from components.placement import Placement
from components.protection import Protection
from configuration.rotation import RotationSchedule

# The services whose data this stack encrypts with its own keys; "disks" are the AKS nodes' (disk encryption set).
CONSUMERS = ("storage", "registry", "postgres", "disks")
# RSA 3072 is a size every consumer accepts: the registry takes RSA keys only (tutorial-customer-managed-keys.md:43),
# PostgreSQL 2048, 3072 or 4096 bits (security-data-encryption.md, "CMK requirements").
KEY_TYPE = "RSA"
KEY_SIZE = 3072
ROLE = "Key Vault Crypto Service Encryption User"


def duration(days: int) -> str:
    return f"P{days}D"


def rotation_policy(rotation: RotationSchedule) -> keyvault.RotationPolicyArgs:
    """Every version expires `period + grace` days after it is created and is rotated `grace` days before that: the
    first version (which expires when the admin password's version does, `rotation.expires()`) at the start of the next
    rotation period, each later one `period` days after its predecessor, as the passwords are."""
    return keyvault.RotationPolicyArgs(
        attributes=keyvault.KeyRotationPolicyAttributesArgs(
            expiry_time=duration(rotation.period_days + rotation.grace_days)
        ),
        lifetime_actions=[
            keyvault.LifetimeActionArgs(
                action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.ROTATE),
                trigger=keyvault.TriggerArgs(time_before_expiry=duration(rotation.grace_days)),
            )
        ],
    )


@dataclass(frozen=True, kw_only=True)
class CustomerKeysArgs:
    placement: Placement
    vault: KeyVault
    subscription_id: pulumi.Input[str]
    rotation: RotationSchedule
    consumers: Sequence[str] = CONSUMERS
    protection: Protection = field(default_factory=Protection)


@dataclass(frozen=True, kw_only=True)
class CustomerKey:
    """What a service needs to encrypt with its key: the key (versionless URI, so it follows rotation), the identity
    it reads the key as, and the grant that must exist before the service is created with the key (Azure checks
    access to the key when it creates the registry or the server)."""

    key_name: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    key_uri: pulumi.Output[str]
    identity: Identity
    grant: authorization.RoleAssignment


@dataclass(frozen=True, kw_only=True)
class DiskEncryption:
    """The disk encryption set the AKS nodes' disks use, and what the cluster waits for."""

    id: pulumi.Output[str]
    grant: authorization.RoleAssignment


class CustomerKeys(pulumi.ComponentResource):
    """A key per consumer in the stack's vault, with a rotation policy and expiry; a user-assigned identity per
    consumer (a disk encryption set has its own) granted Key Vault Crypto Service Encryption User on that key alone, so
    no service can unwrap another's data keys."""

    def __init__(self, name: str, args: CustomerKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:security:CustomerKeys", name, None, opts)
        unknown = sorted(set(args.consumers) - set(CONSUMERS))
        if unknown:
            raise ValueError(f"customer keys {name}: unknown consumers {unknown}; known: {list(CONSUMERS)}")
        placement = args.placement
        self.keys: dict[str, CustomerKey] = {}
        self.disk_encryption: DiskEncryption | None = None
        for consumer in args.consumers:
            key = keyvault.Key(
                f"{name}-key-{consumer}",
                resource_group_name=placement.resource_group_name,
                vault_name=args.vault.vault_name,
                key_name=f"cmk-{consumer}",
                properties=keyvault.KeyPropertiesArgs(
                    kty=KEY_TYPE,
                    key_size=KEY_SIZE,
                    attributes=keyvault.KeyAttributesArgs(enabled=True, expires=args.rotation.expires()),
                    rotation_policy=rotation_policy(args.rotation),
                ),
                tags=dict(placement.tags),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=args.protection.protect,
                    # ARM never updates an existing key (Keys_CreateIfNotExist): the first expiry is fixed at creation
                    # and Key Vault's rotation renews it, so the value a later run computes is not a change.
                    ignore_changes=["properties.attributes.expires"],
                ),
            )
            if consumer == "disks":
                self.disk_encryption = self._disk_encryption_set(name, args, key)
                continue
            identity = Identity(
                managedidentity.UserAssignedIdentity(
                    f"{name}-id-{consumer}",
                    resource_group_name=placement.resource_group_name,
                    location=placement.location,
                    tags=dict(placement.tags),
                    opts=pulumi.ResourceOptions(parent=self),
                ),
                placement.resource_group_name,
            )
            grant = assign(
                f"{name}-{consumer}-key-user",
                role=ROLE,
                scope=key.id,
                principal_id=identity.principal_id,
                subscription_id=args.subscription_id,
                reason=f"{consumer} encryption at rest: wrap and unwrap its data keys with its own key only",
                parent=self,
            )
            self.keys[consumer] = CustomerKey(
                key_name=key.name,
                vault_uri=args.vault.vault_uri,
                key_uri=key.key_uri,
                identity=identity,
                grant=grant,
            )
        self.register_outputs({"keys": {c: k.key_uri for c, k in self.keys.items()}})

    def _disk_encryption_set(self, name: str, args: CustomerKeysArgs, key: keyvault.Key) -> DiskEncryption:
        placement = args.placement
        des = compute.DiskEncryptionSet(
            f"{name}-des",
            resource_group_name=placement.resource_group_name,
            location=placement.location,  # a disk encryption set and its vault share the disks' region
            encryption_type=compute.DiskEncryptionSetType.ENCRYPTION_AT_REST_WITH_CUSTOMER_KEY,
            active_key=compute.KeyForDiskEncryptionSetArgs(
                key_url=key.key_uri_with_version, source_vault=compute.SourceVaultArgs(id=args.vault.vault_id)
            ),
            # Moves the set to each new key version within an hour of a rotation (disk-encryption.md).
            rotation_to_latest_key_version_enabled=True,
            identity=compute.EncryptionSetIdentityArgs(type=compute.DiskEncryptionSetIdentityType.SYSTEM_ASSIGNED),
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Azure moves activeKey to each rotated version; a refresh must not roll it back to the first.
                ignore_changes=["activeKey.keyUrl"],
            ),
        )
        principal = des.identity.apply(lambda identity: identity.principal_id if identity else "")
        grant = assign(
            f"{name}-disks-key-user",
            role=ROLE,
            scope=key.id,
            principal_id=principal,
            subscription_id=args.subscription_id,
            reason="AKS node disk encryption at rest: wrap and unwrap its data keys with its own key only",
            parent=self,
        )
        return DiskEncryption(id=des.id, grant=grant)
