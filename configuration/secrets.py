"""Secrets the operator provides (the image scanner's registry credential) and the rotation of the generated ones."""

from __future__ import annotations

import datetime

from configuration.reader import Reader
from configuration.settings import (
    ImageScannerSettings,
    SecretRotation,
)

# Key Vault secrets this stack writes itself (components/postgres.py); operator secrets must not overwrite them.
STACK_SECRET_NAMES = frozenset(
    {"postgres-admin-password"}
    | {f"{app}-db-password{slot}" for app in ("cromwell", "tes") for slot in ("", "-b")}
    # The 3.2 generation's application credentials (configuration/tes32.py CONNECTION_STRING_SECRETS).
    | {"tes-azure-services-auth", "triggerservice-azure-services-auth"}
)
SCANNER_CREDENTIALS = ("imageScannerUsername", "imageScannerPassword")


# Generated passwords (configuration/rotation.py): replaced every rotationDays by the first `pulumi up` of a new period;
# each secret version expires expiryGraceDays after its successor is due, so a late run has that long.
ROTATION_DAYS = (7, 365)


def parse_rotation(reader: Reader) -> SecretRotation:
    section = reader.child("secrets", {"rotationDays", "expiryGraceDays"})
    default = SecretRotation()
    period = section.integer("rotationDays", default.period_days, minimum=ROTATION_DAYS[0], maximum=ROTATION_DAYS[1])
    grace = section.integer("expiryGraceDays", default.grace_days, minimum=1, maximum=period)
    return SecretRotation(period_days=period, grace_days=grace)


def parse_scanner(reader: Reader, secret_keys: frozenset[str], today: datetime.date) -> ImageScannerSettings | None:
    if not reader.has("imageScanner"):
        given = [k for k in SCANNER_CREDENTIALS if reader.has(k)]
        if given:
            # Credentials without the scanner block would be stored while no scan ever runs.
            raise reader.fail(
                given[0],
                "is set but imageScanner is not, so no image would ever be scanned; add "
                "imageScanner {image, registryServer, ...} or remove the credential",
            )
        return None
    scanner = reader.child(
        "imageScanner", {"image", "registryServer", "usernameSecretName", "passwordSecretName", "credentialsExpireOn"}
    )
    secret_name = r"[0-9a-zA-Z-]{1,127}"
    settings = ImageScannerSettings(
        image=scanner.string(
            "image",
            pattern=r"[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})",
            hint="registry/repository:tag",
        ),
        registry_server=scanner.string("registryServer", pattern=r"[a-z0-9.-]+(:\d+)?", hint="a registry host name"),
        username_secret_name=scanner.string("usernameSecretName", "image-scanner-username", pattern=secret_name),
        password_secret_name=scanner.string("passwordSecretName", "image-scanner-password", pattern=secret_name),
        credentials_expire_on=scanner.date("credentialsExpireOn") if scanner.has("credentialsExpireOn") else None,
    )
    if settings.credentials_expire_on and settings.credentials_expire_on <= today:
        raise scanner.fail(
            "credentialsExpireOn",
            f"{settings.credentials_expire_on} has passed, so every pool's start task would fail; rotate the "
            "credential (pulumi config set --secret) and set its new expiry",
        )
    if settings.username_secret_name == settings.password_secret_name:
        raise scanner.fail(
            "passwordSecretName",
            f"{settings.password_secret_name!r} is also usernameSecretName; the second write would overwrite the first",
        )
    for key, name in (
        ("usernameSecretName", settings.username_secret_name),
        ("passwordSecretName", settings.password_secret_name),
    ):
        if name in STACK_SECRET_NAMES:
            raise scanner.fail(key, f"{name!r} is a secret this stack writes itself; choose another name")
    # The scanner's credentials are stored in Key Vault by the stack; both must come from `config set --secret`.
    for secret in SCANNER_CREDENTIALS:
        if not reader.has(secret):
            raise reader.fail(
                secret, f"is required when imageScanner is set: pulumi config set --secret {secret} <value>"
            )
        if secret not in secret_keys:
            raise reader.fail(
                secret, f"is stored in plain text in the stack file; set it with pulumi config set --secret {secret}"
            )
        value = reader.raw[secret]
        if not isinstance(value, str) or not value.strip():
            raise reader.fail(secret, "is blank; set the real credential with pulumi config set --secret")
    return settings
