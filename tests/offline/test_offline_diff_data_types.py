"""The diff's contract, one data-holding resource type at a time: an unprotected resource of each type that is deleted,
or renamed, is reported (as a warning, and a failure with --strict), never passed over.

The list of types is this file's own, not offline/diff_rules.py's: dropping a type from the diff's table (Key Vault
secrets, say) fails here. It is tied to the program too: every type the prod stack protects is on it. Types the
stacks register are taken from dev's real registrations (nothing is protected in dev); the others (Key Vault keys, the
Cosmos DB generation's account, database and container) from records written here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest

from offline import diff_rules, report
from offline.diff import DiffResult, compare
from offline.harness import ProgramRun

LOCK = "azure-native:authorization:ManagementLockByScope"


@dataclass(frozen=True)
class DataType:
    token: str
    # The input holding the resource's own name in its ARM id; None when Pulumi autonames it (no input), so a
    # rename can only be a new logical name.
    name_input: str | None


DATA_TYPES = {
    t.token: t
    for t in (
        DataType("azure-native:resources:ResourceGroup", None),
        DataType("azure-native:storage:StorageAccount", "accountName"),
        DataType("azure-native:storage:BlobContainer", "containerName"),
        DataType("azure-native:keyvault:Vault", "vaultName"),
        DataType("azure-native:keyvault:Secret", "secretName"),
        DataType("azure-native:keyvault:Key", "keyName"),
        DataType("azure-native:dbforpostgresql:Server", "serverName"),
        DataType("azure-native:dbforpostgresql:Database", "databaseName"),
        DataType("azure-native:operationalinsights:Workspace", None),
        DataType("azure-native:cosmosdb:DatabaseAccount", "accountName"),
        DataType("azure-native:cosmosdb:SqlResourceSqlDatabase", "databaseName"),
        DataType("azure-native:cosmosdb:SqlResourceSqlContainer", "containerName"),
    )
}
RG = "coa-dev-rg61f261b6"
# Types no stack registers today, as azure-native would receive them.
WRITTEN_HERE: dict[str, tuple[str, dict[str, Any]]] = {
    "azure-native:keyvault:Key": (
        "coa-dev-vault-cmk",
        {"resourceGroupName": RG, "vaultName": "kv-coa-dev-d7k2", "keyName": "cmk", "properties": {"kty": "RSA"}},
    ),
    "azure-native:cosmosdb:DatabaseAccount": (
        "coa-dev-cosmos-account",
        {
            "resourceGroupName": RG,
            "accountName": "cosmos-coa-dev-d7k2",
            "location": "westeurope",
            "kind": "GlobalDocumentDB",
        },
    ),
    "azure-native:cosmosdb:SqlResourceSqlDatabase": (
        "coa-dev-cosmos-tes",
        {
            "resourceGroupName": RG,
            "accountName": "cosmos-coa-dev-d7k2",
            "databaseName": "TES",
            "resource": {"id": "TES"},
        },
    ),
    "azure-native:cosmosdb:SqlResourceSqlContainer": (
        "coa-dev-cosmos-tasks",
        {
            "resourceGroupName": RG,
            "accountName": "cosmos-coa-dev-d7k2",
            "databaseName": "TES",
            "containerName": "Tasks",
            "resource": {"id": "Tasks", "partitionKey": {"paths": ["/_partitionKey"], "kind": "Hash"}},
        },
    ),
}


def written_here(token: str) -> dict[str, Any]:
    name, inputs = WRITTEN_HERE[token]
    return {
        "urn": f"urn:pulumi:dev::coa-lockdown::pulumi:pulumi:Stack${token}::{name}",
        "type": token,
        "name": name,
        "custom": True,
        "protect": False,
        "aliases": [],
        "propertyDependencies": {},
        "inputs": inputs,
    }


@pytest.fixture(scope="module")
def dev_document(dev: ProgramRun) -> dict[str, Any]:
    document = report.resources_document(dev.project, dev.stack, dev.resources)
    document["resources"] += [written_here(token) for token in WRITTEN_HERE]
    return document


def one_of(document: dict[str, Any], token: str) -> dict[str, Any]:
    found = [r for r in document["resources"] if r["type"] == token]
    assert found, f"no {token} in dev's registrations or written here"
    return found[0]


def diff(base: dict[str, Any], head: dict[str, Any], *, strict: bool = False) -> DiffResult:
    return DiffResult(stack="dev", findings=tuple(compare(base, head, None)), config_changes=None, strict=strict)


def test_the_list_covers_every_type_prod_protects_and_the_diff_knows_exactly_these(prod: ProgramRun) -> None:
    protected = {r.type for r in prod.resources if r.protect and r.custom} - {LOCK}
    assert protected, "prod protects nothing: the tie to the program is gone"
    assert protected <= set(DATA_TYPES), (
        f"data types prod protects that this contract misses: {protected - set(DATA_TYPES)}"
    )
    assert set(diff_rules.STATEFUL_TYPES) == set(DATA_TYPES)


def test_dev_protects_nothing_so_these_cases_are_about_unprotected_resources(dev_document: dict[str, Any]) -> None:
    assert not [r["name"] for r in dev_document["resources"] if r["protect"]]
    assert set(DATA_TYPES) - set(WRITTEN_HERE) <= {r["type"] for r in dev_document["resources"]}


@pytest.mark.parametrize("token", list(DATA_TYPES))
def test_deleting_an_unprotected_resource_is_reported(dev_document: dict[str, Any], token: str) -> None:
    victim = one_of(dev_document, token)
    head = copy.deepcopy(dev_document)
    head["resources"] = [r for r in head["resources"] if r["urn"] != victim["urn"]]

    result = diff(dev_document, head)

    (finding,) = [f for f in result.findings if f.urn == victim["urn"]]
    assert (finding.action, finding.protected, finding.type) == ("delete", False, token)
    assert result.exit_code == 0 and diff(dev_document, head, strict=True).exit_code == 1


@pytest.mark.parametrize("token", list(DATA_TYPES))
def test_renaming_an_unprotected_resource_is_reported(dev_document: dict[str, Any], token: str) -> None:
    victim = one_of(dev_document, token)
    head = copy.deepcopy(dev_document)
    renamed = one_of(head, token)
    name_input = DATA_TYPES[token].name_input
    if name_input is not None:
        # A new name in its ARM id: the same URN, and Azure cannot rename it in place.
        assert renamed["inputs"][name_input], f"{token}: {name_input} is not set in the registration"
        renamed["inputs"][name_input] = f"{renamed['inputs'][name_input]}x"
        expected = "replace"
    else:
        # Autonamed: a new logical name is a new URN, a new resource, and the old one deleted.
        renamed["name"] += "-renamed"
        renamed["urn"] += "-renamed"
        expected = "delete"

    result = diff(dev_document, head)

    (finding,) = [f for f in result.findings if f.urn == victim["urn"]]
    assert (finding.action, finding.protected) == (expected, False), token
    if expected == "replace":
        assert [(c.path, c.effect) for c in finding.changes] == [(name_input, "replace")]
    assert result.exit_code == 0 and diff(dev_document, head, strict=True).exit_code == 1


@pytest.mark.parametrize("token", [t for t, d in DATA_TYPES.items() if d.name_input])
def test_a_new_logical_name_for_the_same_azure_resource_says_how_to_keep_it(
    dev_document: dict[str, Any], token: str
) -> None:
    victim = one_of(dev_document, token)
    head = copy.deepcopy(dev_document)
    moved = one_of(head, token)
    moved["name"] += "-moved"
    moved["urn"] += "-moved"

    (finding,) = [f for f in compare(dev_document, head, None) if f.urn == victim["urn"]]

    assert finding.action == "delete"
    assert finding.note == f"re-created as {moved['urn']}: add aliases=[{victim['urn']!r}] to it to keep the resource"
