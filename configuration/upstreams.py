"""Credentials for the upstream registries the stack's cache rules pull from.

Docker Hub "Supports authenticated pulls only" for artifact cache, and a rule for it needs a credential set
(MicrosoftDocs/azure-management-docs@d923d58:articles/container-registry/artifact-cache-overview.md:55,61,
artifact-cache-cli.md:84): a Docker Hub user name and access token stored as Key Vault secrets, read by the credential
set's own identity. The secrets live in a vault the operator (or the platform team) keeps: a token cannot be generated
by the stack, and a vault that holds it exists before the stack does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from configuration.image_lock import ImageLock
from configuration.reader import Reader

DOCKER_HUB = "docker.io"
_VAULT_ID = re.compile(
    r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[\w\-.()]+/providers/Microsoft\.KeyVault/vaults/"
    r"([a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9])",
    re.IGNORECASE,
)
# Key Vault secret names: 1-127 letters, digits and hyphens.
_SECRET_NAME = r"[a-zA-Z0-9-]{1,127}"


@dataclass(frozen=True, kw_only=True)
class DockerHubCredentials:
    vault_id: str
    username_secret: str
    password_secret: str

    @property
    def vault_name(self) -> str:
        return self.vault_id.rstrip("/").rsplit("/", 1)[-1]

    def secret_uri(self, name: str) -> str:
        """Versionless, so a rotated token is read without a change here (Azure public cloud's vault suffix)."""
        return f"https://{self.vault_name}.vault.azure.net/secrets/{name}"

    def secret_id(self, name: str) -> str:
        """The secret's ARM id: the scope of its one role grant."""
        return f"{self.vault_id.rstrip('/')}/secrets/{name}"


def docker_hub_images(lock: ImageLock) -> list[str]:
    """Lock keys of the images the stack pulls through a Docker Hub cache rule."""
    return [
        key for key, pin in lock.pins.items() if pin.source == "cache" and pin.upstream.startswith(f"{DOCKER_HUB}/")
    ]


def parse_docker_hub(reader: Reader, lock: ImageLock) -> DockerHubCredentials | None:
    images = docker_hub_images(lock)
    if not reader.has("dockerHub"):
        if images:
            raise reader.fail(
                "dockerHub",
                f"is required: {', '.join(images)} come from Docker Hub, and Azure creates a Docker Hub cache rule only "
                "with credentials: {vaultId, usernameSecretName, passwordSecretName} of a Key Vault holding a Docker "
                "Hub user name and access token (docs/deploying.md)",
            )
        return None
    section = reader.child("dockerHub", {"vaultId", "usernameSecretName", "passwordSecretName"})
    vault_id = section.string("vaultId", hint="the ARM id of the Key Vault that holds the secrets")
    if not _VAULT_ID.fullmatch(vault_id):
        raise section.fail(
            "vaultId",
            f"{vault_id!r} is not a Key Vault id (/subscriptions/<id>/resourceGroups/<rg>/providers/"
            "Microsoft.KeyVault/vaults/<name>)",
        )
    username = section.string("usernameSecretName", pattern=_SECRET_NAME, hint="a Key Vault secret name")
    password = section.string("passwordSecretName", pattern=_SECRET_NAME, hint="a Key Vault secret name")
    if username == password:
        raise section.fail("passwordSecretName", "must differ from usernameSecretName")
    return DockerHubCredentials(vault_id=vault_id, username_secret=username, password_secret=password)
