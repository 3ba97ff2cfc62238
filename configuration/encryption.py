"""Customer-managed keys (`encryption.customerManagedKeys`): which combinations Azure accepts, checked before anything is
created.

Off by default in every environment, production included, on purpose: with PostgreSQL's geo-redundant backup (on by
default in production) a customer-managed key needs a second key vault and identity in the backup region, which this
stack does not build (refused below); the choice can only be made when the server, the registry and the cluster are
created, so a default that flipped on would replace a deployed production server; and a key the operator loses takes
the data with it. docs/security-review.md ("Customer-managed keys") says what it costs and what it changes.
"""

from __future__ import annotations

from configuration.reader import PROJECT, ConfigError, Reader
from configuration.settings import EncryptionSettings, PostgresSettings, SecretRotation

# Key Vault rotation policies rotate at least seven days before a version expires (azure-security-docs@1c4310b:
# articles/key-vault/keys/how-to-configure-key-rotation.md:55); our keys rotate expiryGraceDays before it.
MIN_KEY_ROTATION_LEAD_DAYS = 7


def parse_encryption(reader: Reader) -> EncryptionSettings:
    section = reader.child("encryption", {"customerManagedKeys"})
    return EncryptionSettings(customer_managed_keys=section.boolean("customerManagedKeys", False))


def check_encryption(
    encryption: EncryptionSettings, postgres: PostgresSettings | None, rotation: SecretRotation
) -> list[ConfigError]:
    """What Azure refuses, or this stack does not build, with customer-managed keys on; one error per problem."""
    if not encryption.customer_managed_keys:
        return []
    cmk = f"{PROJECT}:encryption.customerManagedKeys"
    errors = []
    if postgres is not None and postgres.geo_redundant_backup:
        # azure-databases-docs@1012b59:articles/postgresql/security/security-data-encryption.md, "Use data encryption
        # with customer managed keys and geo-redundant business continuity features".
        errors.append(
            ConfigError(
                f"{cmk}: true cannot be combined with {PROJECT}:postgres.geoRedundantBackup: true; a geo-redundant "
                "backup needs its own key vault and identity in the backup region, which this stack does not build. "
                "Set postgres.geoRedundantBackup: false (storage stays geo-redundant) or customerManagedKeys: false"
            )
        )
    if rotation.grace_days < MIN_KEY_ROTATION_LEAD_DAYS:
        errors.append(
            ConfigError(
                f"{PROJECT}:secrets.expiryGraceDays: {rotation.grace_days} is too short with {cmk}: true; keys rotate "
                f"that many days before they expire and Key Vault needs at least {MIN_KEY_ROTATION_LEAD_DAYS}"
            )
        )
    return errors
