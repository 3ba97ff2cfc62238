"""Each runtime-contract entry against the line it cites: the entry's key must appear in the quote recorded from that
line (Cited.quote). The quote is the record: it was copied from the reference source at the cited tag when the entry
was written, and CI has no copy of those sources to re-read. Every generation's contracts are checked, including those
the stack does not run by default (TES/TriggerService 3.2.0)."""

from __future__ import annotations

import itertools
import re

import pytest

from components.contracts import (
    AzureAction,
    Cited,
    Container,
    ContractError,
    Egress,
    Mount,
    Setting,
    StartTaskRun,
    TaskImages,
    all_contracts,
)
from components.contracts.platform import ACR_BUILD, AKS_NODES
from components.contracts.tes_3_2_0 import TES_3_2_0
from components.contracts.triggerservice_3_2_0 import TRIGGERSERVICE_3_2_0

# The contracts of the reduced-assurance generation (CoA 3.2.0), not part of all_contracts() until a stack selects it.
OTHER_GENERATIONS = (TES_3_2_0, TRIGGERSERVICE_3_2_0)

# The SDK call (or its distinctive part) that performs each Azure action on the cited line.
ACTION_TOKENS: dict[str, tuple[str, ...]] = {
    "Microsoft.Storage/storageAccounts/read": (
        "GetStorageAccountsAsync",
        "storageAccounts.list",
        "StorageAccounts.ListAsync",
    ),
    "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action": ("GetUserDelegationKey",),
    # Through a user-delegation SAS that grants Write, or an upload with the identity's own token.
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write": (
        "BlobContainerSasPermissions.Write",
        "UploadAsync",
        "BlobSasPermissions.Write",
    ),
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read": (
        "MapLocalPathToSasUrlAsync",
        "DownloadContentAsync",
        "DownloadToAsync",
        "BlobSasPermissions.Read",
    ),
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete": ("DeleteIfExistsAsync",),
    "Microsoft.Storage/storageAccounts/blobServices/containers/read": ("GetBlobContainersAsync",),
    "Microsoft.Storage/storageAccounts/blobServices/containers/write": ("CreateIfNotExistsAsync",),
    "Microsoft.Storage/storageAccounts/listKeys/action": ("getKeys", "GetKeysAsync"),
    "Microsoft.DocumentDB/databaseAccounts/read": ("CosmosDBAccounts.ListAsync",),
    "Microsoft.DocumentDB/databaseAccounts/listKeys/action": ("ListKeysAsync",),
    "Microsoft.Compute/skus/read": ("ComputeSkus",),
    "Microsoft.Batch/batchAccounts/read": ("GetBatchAccountsAsync", "BatchAccount.ListAsync"),
    # An ARM pool write (TES 6 CreateOrUpdate, TES 3.2 Create).
    "Microsoft.Batch/batchAccounts/pools/write": ("CreateOrUpdateAsync", "Pool.CreateAsync"),
    "Microsoft.Batch/batchAccounts/pools/read": ("PoolOperations.ListPools",),
    "Microsoft.Batch/batchAccounts/pools/delete": (".DeleteAsync(", "DeletePoolAsync"),
    "Microsoft.Batch/batchAccounts/jobs/write": ("JobOperations.CreateJob",),
    "Microsoft.Batch/batchAccounts/jobs/read": ("JobOperations.ListJobs",),
    "Microsoft.Batch/batchAccounts/jobs/delete": ("DeleteJobAsync",),
    "Microsoft.ContainerRegistry/registries/pull/read": ("GetAcrPullTokenCredential",),
    # The pool body's NetworkConfiguration.SubnetId.
    "Microsoft.Network/virtualNetworks/subnets/join/action": ("SubnetId = new(", "SubnetId = batchNodesSubnetId"),
    # The pool body's user-assigned identities.
    "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action": ("UserAssignedIdentities",),
}

# What the cited line shows for each destination; `pod:<component>` needs the component's name instead.
DESTINATION_TOKENS: dict[str, tuple[str, ...]] = {
    # A host to resolve: a connection string's Host= or a configured endpoint URL.
    "kube-dns": ("Host=", "endpoint"),
    # A connection to the database: EF Core's Database, Cromwell's sqlDatabase, the TES PostgreSQL repository.
    "postgres": ("Database.", "sqlDatabase", "PostgreSqlRepository"),
    # An endpoint that resolves to a private endpoint: the Batch account URL or a storage account's blob endpoint
    # (or blob URL, or a blobxfer --storage-url), or a Cosmos DB client opened on the account's endpoint.
    "private-endpoints": ("BatchUrl", "BlobEndpoint", "BlobUrl", ".endpoint(", "--storage-url", "CosmosClient"),
}

# azure-public entries name their hosts (Egress.fqdns): the line shows the host, or what resolves to it.
FQDN_TOKENS: dict[str, tuple[str, ...]] = {
    # Cromwell's Java SDK takes the Entra host from its AzureEnvironment.
    "login.microsoftonline.com": ("getActiveDirectoryEndpoint",),
    # The .NET build restores from nuget.org (the contexts carry no nuget.config); apt reaches Debian's mirror.
    "api.nuget.org": ("dotnet publish",),
    "deb.debian.org": ("apt update",),
    "*.data.mcr.microsoft.com": ("FROM mcr.microsoft.com",),
}

# Actions an agent performs on the workload's behalf (AzureAction.via): what the cited line shows instead of an SDK call.
VIA_TOKENS: dict[str, tuple[str, ...]] = {
    "blob-mount": ("/cromwell-executions",),  # the mounted path the workload reads and writes
    # The password (or the credential connection string) the Key Vault file supplies.
    "secrets-csi": ("Password", "password", "AzureServicesAuthConnectionString"),
    "image-pull": ("AcrPull",),  # the reference grants the node identity AcrPull on its registry
    "start-task": ("globalStartTask",),  # TES runs our global start task on every node
}

# Mounts our chart imposes (Mount.use): what the cited line must show instead of the path.
MOUNT_USE_TOKENS: dict[str, tuple[str, ...]] = {
    # The app reads the password (or the credential connection string) the Key Vault file supplies.
    "secret-files": ("Password", "AzureServicesAuthConnectionString"),
    "writable-home": ("--home",),  # the image puts its user's home on the root filesystem
}

# `shebang`: the script is executed by its own path; a named shell must appear itself.
SHEBANG_TOKENS = ("ExecuteScript",)


def expected_tokens(entry: Cited) -> tuple[str, ...]:
    """What must appear in the entry's quote (any one of them)."""
    if isinstance(entry, Setting):
        # conf:<key> is a Cromwell HOCON key, read by that name; <Section>__<Property> binds a .NET options property of
        # the same name, so the property is what the reading line shows; other names are read whole.
        if entry.name.startswith("conf:"):
            # A dotted HOCON path is read segment by segment (getConfig("docker").getConfig("hash-lookup")...): the
            # reading line shows its last segment.
            return (entry.name.removeprefix("conf:").rsplit(".", 1)[-1],)
        return (entry.name.rsplit("__", 1)[-1],)
    if isinstance(entry, Container):
        return (entry.name,)
    if isinstance(entry, AzureAction):
        if entry.via != "sdk":
            return VIA_TOKENS[entry.via]
        if entry.action not in ACTION_TOKENS:
            pytest.fail(f"{entry.action} ({entry.source}): add the SDK call that performs it to ACTION_TOKENS")
        return ACTION_TOKENS[entry.action]
    if isinstance(entry, Egress):
        if entry.to == "azure-public":
            return tuple(token for fqdn in entry.fqdns for token in (_host(fqdn), *FQDN_TOKENS.get(fqdn, ())))
        if entry.to.startswith("pod:"):
            return (entry.to.removeprefix("pod:"),)
        if entry.to not in DESTINATION_TOKENS:
            pytest.fail(f"egress to {entry.to} ({entry.source}): add what its cited line shows to DESTINATION_TOKENS")
        return DESTINATION_TOKENS[entry.to]
    if isinstance(entry, Mount):
        return (entry.path,) if entry.use == "path" else MOUNT_USE_TOKENS[entry.use]
    if isinstance(entry, StartTaskRun):
        return SHEBANG_TOKENS if entry.runner == "shebang" else (entry.runner,)
    if isinstance(entry, TaskImages):
        # How the image reference's digest separator is handled, or the reference passed on to Docker as written.
        return ("@", "{executor.Image}")
    raise AssertionError(f"{type(entry).__name__} has no key rule: {entry}")


def _host(destination: str) -> str:
    """A service tag's name (tag:Storage), or a host with its <region> placeholder dropped."""
    return destination.removeprefix("tag:").rsplit(">", 1)[-1]


def shows(entry: Cited, quote: str) -> bool:
    return any(token in quote for token in expected_tokens(entry))


def _entries() -> list[tuple[str, Cited]]:
    found: list[tuple[str, Cited]] = []
    for contract in (*all_contracts(), *OTHER_GENERATIONS):
        kinds = ("settings", "containers", "azure_actions", "egress", "mounts")
        entries = [e for kind in kinds for e in getattr(contract, kind)]
        entries += [e for e in (contract.start_task, contract.task_images) if e is not None]
        found += [(f"{contract.workload}@{contract.version}:{_label(e)}", e) for e in entries]
    # The platform's egress (AKS nodes, the ACR Tasks agent pool) is cited the same way.
    found += [(f"platform:{_label(e)}", e) for e in (*AKS_NODES, *ACR_BUILD)]
    return found


def _label(entry: Cited) -> str:
    if isinstance(entry, AzureAction):
        label = f"{'/'.join(entry.action.split('/')[-2:])}@{entry.scope}"
        return label if entry.principal == "pod" else f"{label}:{entry.principal}"
    if isinstance(entry, Egress) and entry.fqdns:
        return f"{entry.principal}:{','.join(entry.fqdns)}:{entry.port}"
    if isinstance(entry, Egress) and entry.principal != "pod":
        return f"{entry.principal}:{entry.to}"
    if isinstance(entry, Egress) and entry.end_port is not None:
        return f"{entry.to}:{entry.port}-{entry.end_port}"
    for attribute in ("name", "to", "path"):
        if hasattr(entry, attribute):
            return str(getattr(entry, attribute))
    return type(entry).__name__


ENTRIES = _entries()


@pytest.mark.parametrize("entry", [e for _, e in ENTRIES], ids=[label for label, _ in ENTRIES])
def test_entry_key_appears_in_its_quote(entry: Cited) -> None:
    tokens = expected_tokens(entry)
    assert shows(entry, entry.quote), f"{entry.source} quotes {entry.quote!r}, which shows none of {tokens}: {entry}"


def _same_key(a: Cited, b: Cited) -> bool:
    """One action on two scopes, or a container and the path it is mounted at: one token contains the other."""
    return any(x in y or y in x for x in expected_tokens(a) for y in expected_tokens(b))


def test_a_quote_swapped_between_entries_is_caught() -> None:
    """Any two entries that need different keys and quote different lines: swapping their quotes fails at least one.
    (Entries with the same key may quote the same thing.)"""
    checked = 0
    unnoticed = []
    for (label_a, a), (label_b, b) in itertools.combinations(ENTRIES, 2):
        if a.quote == b.quote or _same_key(a, b):
            continue
        checked += 1
        if shows(a, b.quote) and shows(b, a.quote):
            unnoticed.append(f"{label_a} <-> {label_b}")
    assert checked > len(ENTRIES), checked
    assert not unnoticed, f"quotes these entries could swap unnoticed: {unnoticed}"


def test_the_swap_check_fails_on_a_real_swap() -> None:
    by_label = dict(ENTRIES)
    container, setting = by_label["tes@6.0.0:tes-internal"], by_label["tes@6.0.0:BatchNodes__SubnetId"]
    assert shows(container, container.quote) and shows(setting, setting.quote)
    assert not shows(container, setting.quote)
    assert not shows(setting, container.quote)


@pytest.mark.parametrize(
    "quote",
    ["", " public const string X;", "public const string X;\n", "first line\nsecond line", "x" * 120],
    ids=["empty", "unstripped", "trailing-newline", "two-lines", "too-long"],
)
def test_an_entry_without_a_one_line_quote_is_refused(quote: str) -> None:
    source = "microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/Storage/StorageAccessProvider.cs:27"
    with pytest.raises(ContractError, match=re.escape(source)):
        Container(name="tes-internal", source=source, quote=quote)


def test_token_tables_name_only_what_the_contracts_use() -> None:
    """A table row no entry uses is a rule no test exercises."""
    actions = {e.action for _, e in ENTRIES if isinstance(e, AzureAction)}
    destinations = {e.to for _, e in ENTRIES if isinstance(e, Egress)}
    uses = {e.use for _, e in ENTRIES if isinstance(e, Mount)}
    assert set(ACTION_TOKENS) <= actions, set(ACTION_TOKENS) - actions
    assert set(DESTINATION_TOKENS) <= destinations, set(DESTINATION_TOKENS) - destinations
    assert set(MOUNT_USE_TOKENS) <= uses, set(MOUNT_USE_TOKENS) - uses
    fqdns = {f for _, e in ENTRIES if isinstance(e, Egress) for f in e.fqdns}
    vias = {e.via for _, e in ENTRIES if isinstance(e, AzureAction)}
    assert set(FQDN_TOKENS) <= fqdns, set(FQDN_TOKENS) - fqdns
    assert set(VIA_TOKENS) <= vias, set(VIA_TOKENS) - vias
