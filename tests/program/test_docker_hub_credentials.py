"""Docker Hub serves artifact cache only to authenticated pulls, and a Docker Hub cache rule cannot be created without
a credential set (MicrosoftDocs/azure-management-docs@d923d58:articles/container-registry/artifact-cache-overview.md:55,61,
artifact-cache-cli.md:84); the cache fills a network-restricted registry only as a trusted service (:80-81). Before
this, both stacks declared four Docker Hub rules without credentials and a registry without the bypass: the first
`pulumi up` could not have pulled Cromwell, the database client, curl or the task image."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from stackquery import one, stack_values

from components.contracts.roles import ROLES
from configuration.reader import ConfigError
from configuration.stack import parse_settings
from offline.harness import ProgramRun

CREDENTIAL_SET = "azure-native:containerregistry:CredentialSet"
CACHE_RULE = "azure-native:containerregistry:CacheRule"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"


def _docker_hub(run: ProgramRun) -> dict[str, Any]:
    return stack_values(run.stack)["dockerHub"]


def test_every_docker_hub_rule_authenticates_with_the_stacks_credential_set(stack: ProgramRun) -> None:
    credential_set = one(stack, CREDENTIAL_SET)
    rules = stack.of_type(CACHE_RULE)
    from_hub = [r for r in rules if r.inputs["sourceRepository"].startswith("docker.io/")]
    assert {r.inputs["targetRepository"] for r in from_hub} == {
        "broadinstitute/cromwell",
        "library/postgres",
        "curlimages/curl",
        "library/ubuntu",
    }
    for rule in from_hub:
        assert rule.inputs["credentialSetResourceId"] == credential_set.id, rule.name
    # MCR serves unauthenticated pulls only: its rules take no credential set.
    for rule in rules:
        if rule.inputs["sourceRepository"].startswith("mcr.microsoft.com/"):
            assert "credentialSetResourceId" not in rule.inputs, rule.name


def test_the_credential_set_reads_versionless_secrets_of_the_declared_vault(stack: ProgramRun) -> None:
    hub = _docker_hub(stack)
    vault = hub["vaultId"].rsplit("/", 1)[-1]
    credential_set = one(stack, CREDENTIAL_SET)
    assert credential_set.inputs["loginServer"] == "docker.io"
    assert credential_set.inputs["identity"] == {"type": "SystemAssigned"}
    assert credential_set.inputs["authCredentials"] == [
        {
            "name": "Credential1",
            "usernameSecretIdentifier": f"https://{vault}.vault.azure.net/secrets/{hub['usernameSecretName']}",
            "passwordSecretIdentifier": f"https://{vault}.vault.azure.net/secrets/{hub['passwordSecretName']}",
        }
    ]


def test_its_identity_reads_those_two_secrets_and_nothing_else_before_any_rule_uses_it(stack: ProgramRun) -> None:
    hub = _docker_hub(stack)
    credential_set = one(stack, CREDENTIAL_SET)
    principal = credential_set.outputs["identity"]["principalId"]
    grants = [r for r in stack.of_type(ROLE_ASSIGNMENT) if r.inputs["principalId"] == principal]
    assert sorted(g.inputs["scope"] for g in grants) == sorted(
        f"{hub['vaultId']}/secrets/{name}" for name in (hub["usernameSecretName"], hub["passwordSecretName"])
    )
    assert {g.inputs["roleDefinitionId"].rsplit("/", 1)[-1] for g in grants} == {ROLES["Key Vault Secrets User"]}
    for rule in stack.of_type(CACHE_RULE):
        if rule.inputs["sourceRepository"].startswith("docker.io/"):
            assert {g.urn for g in grants} <= set(rule.dependencies), rule.name


def _raw(stack: str, docker_hub: Any) -> dict[str, Any]:
    raw = copy.deepcopy(stack_values(stack))
    if docker_hub is None:
        raw.pop("dockerHub")
    else:
        raw["dockerHub"] = docker_hub
    return raw


VAULT = "/subscriptions/6d2f0a4e-8b1c-4e5a-9f3d-7c8b9a0e1f2d/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-x"


@pytest.mark.parametrize(
    ("docker_hub", "words"),
    [
        (
            None,
            "coa-lockdown:dockerHub: is required: cromwell, dbClient, smokeTest, smokeTestTask come from Docker Hub",
        ),
        (
            {"vaultId": "kv-x", "usernameSecretName": "u", "passwordSecretName": "p"},
            "coa-lockdown:dockerHub.vaultId: 'kv-x' is not a Key Vault id",
        ),
        (
            {"vaultId": VAULT, "usernameSecretName": "same", "passwordSecretName": "same"},
            "coa-lockdown:dockerHub.passwordSecretName: must differ from usernameSecretName",
        ),
        (
            {"vaultId": VAULT, "usernameSecretName": "u", "passwordSecretName": "bad_name"},
            "coa-lockdown:dockerHub.passwordSecretName: 'bad_name' is not valid",
        ),
        (
            {"vaultId": VAULT, "usernameSecretName": "u", "passwordSecretName": "p", "token": "x"},
            "coa-lockdown:dockerHub.token: unknown key",
        ),
    ],
    ids=["missing", "vault-id", "same-secret", "secret-name", "unknown-key"],
)
def test_docker_hub_credentials_are_required_and_checked(docker_hub: Any, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(_raw("dev", docker_hub), stack="dev")
    assert words in str(raised.value)


def test_a_lock_without_docker_hub_images_needs_no_credentials() -> None:
    """Config asks for credentials exactly when an image comes from Docker Hub through the cache."""
    import dataclasses

    from configuration.image_lock import load_lock

    lock = load_lock()
    elsewhere = dataclasses.replace(
        lock,
        pins={
            key: dataclasses.replace(pin, upstream=pin.upstream.replace("docker.io/", "ghcr.io/"))
            for key, pin in lock.pins.items()
        },
    )
    assert parse_settings(_raw("dev", None), stack="dev", images=elsewhere).docker_hub is None


def test_the_preflight_checks_the_credential_sets_health(stack: ProgramRun) -> None:
    credential_set = one(stack, CREDENTIAL_SET)
    assert stack.outputs["preflight"]["registry"]["credentialSets"] == [credential_set.inputs["credentialSetName"]]
