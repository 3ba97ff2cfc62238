"""Bad configuration fails before any resource is created, with a message naming the key and what is valid."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from stackquery import stack_values

from configuration.reader import ConfigError
from configuration.settings import Settings
from configuration.stack import parse_settings
from offline.harness import ProgramError, run_program

REPO = Path(__file__).resolve().parents[2]


def with_change(stack: str, path: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(stack_values(stack))
    *parents, leaf = path.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return raw


class _Delete:
    """Marks a key to remove; its repr keeps test ids stable across processes (pytest-xdist workers)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_parse(stack: str) -> None:
    settings = parse_settings(stack_values(stack))
    assert isinstance(settings, Settings)
    assert settings.environment == stack


def test_dev_and_prod_hold_the_same_keys() -> None:
    def shape(node: Any, prefix: str = "") -> set[str]:
        if isinstance(node, dict):
            return {f"{prefix}{k}" for k in node} | {p for k, v in node.items() for p in shape(v, f"{prefix}{k}.")}
        return set()

    dev, prod = (
        yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text()),
        yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text()),
    )
    # Guardrail overrides exist only where a production guardrail is breached on purpose.
    overrides = "coa-lockdown:guardrailOverrides"
    assert shape(dev["config"]) == {k for k in shape(prod["config"]) if not k.startswith(overrides)}
    assert dev["config"] != prod["config"]


# What an existing data account's owner tells the stack (the program cannot read it).
DATA_ACCOUNT_STATEMENTS = {"allowBlobPublicAccess": False, "roleAssignments": "stack", "endpointApproval": "automatic"}
SEQ_ACCOUNT = (
    "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg-seq/providers/Microsoft.Storage/"
    "storageAccounts/stseqout01"
)

BAD_INPUTS = [
    # (stack, key path, bad value, words the error must contain)
    ("dev", "network.addressSpace", "10.1.0.0/33", ["coa-lockdown:network.addressSpace", "not a valid IPv4 CIDR"]),
    ("dev", "network.subnets.aks", "10.1.0.1/22", ["coa-lockdown:network.subnets.aks", "not a valid IPv4 CIDR"]),
    (
        "dev",
        "network.subnets.privateEndpoints",
        "10.9.4.0/24",
        ["network.subnets.privateEndpoints", "outside the VNet"],
    ),
    (
        "dev",
        "network.subnets.postgres",
        "10.1.4.0/28",
        ["network.subnets.postgres", "overlaps subnet 'privateEndpoints'"],
    ),
    ("dev", "kubernetes.serviceCidr", "10.0.0.0/8", ["coa-lockdown:kubernetes.serviceCidr", "overlaps the VNet"]),
    ("dev", "kubernetes.podCidr", "10.1.0.0/16", ["coa-lockdown:kubernetes.podCidr", "overlaps the VNet"]),
    ("dev", "batch.maxNodes", 40000, ["coa-lockdown:batch.maxNodes", "out of range"]),
    ("dev", "network.subnets.batch", "10.1.128.0/25", ["network.subnets.batch", "usable addresses", "batch.maxNodes"]),
    ("dev", "network.subnets.privateEndpoints", "10.1.4.0/28", ["network.subnets.privateEndpoints", "usable"]),
    ("dev", "network.subnets.postgres", "10.1.5.0/29", ["network.subnets.postgres", "/28"]),
    (
        "dev",
        "names.storageAccount",
        "St-Coa",
        ["coa-lockdown:names.storageAccount", "3-24 lowercase letters and digits"],
    ),
    (
        "dev",
        "names.batchAccount",
        "ba_coa_dev",
        ["coa-lockdown:names.batchAccount", "3-24 lowercase letters and digits"],
    ),
    ("dev", "names.keyVault", "kv--double", ["coa-lockdown:names.keyVault", "single hyphens"]),
    ("dev", "nameSuffix", "TOOLONG77", ["coa-lockdown:nameSuffix", "3-6 lowercase"]),
    ("dev", "environment", "staging", ["coa-lockdown:environment", "'staging' is not valid", "dev, prod"]),
    (
        "dev",
        "location",
        "westeurop",
        ["coa-lockdown:location", "'westeurop' is not a region", "did you mean 'westeurope'?"],
    ),
    ("dev", "environment", DELETE, ["coa-lockdown:environment", "is required"]),
    ("prod", "network.firewallPrivateIp", DELETE, ["coa-lockdown:network.firewallPrivateIp", "is required"]),
    ("prod", "network.firewallPrivateIp", "10.20.0.4", ["network.firewallPrivateIp", "inside this VNet"]),
    ("prod", "network.trustedSourceCidrs", ["0.0.0.0/0"], ["network.trustedSourceCidrs", "not a private range"]),
    ("prod", "network.egress", "internet", ["coa-lockdown:network.egress", "natGateway"]),
    ("dev", "kubernetes.systemPool.maxCount", 0, ["coa-lockdown:kubernetes.systemPool.maxCount", "out of range"]),
    ("dev", "kubernetes.dnsServiceIp", "10.3.0.10", ["coa-lockdown:kubernetes.dnsServiceIp", "inside serviceCidr"]),
    ("dev", "kubernetes.adminGroupObjectIds", ["admins"], ["kubernetes.adminGroupObjectIds", "object id"]),
    # Keyless blob mounts lose their token on the blob CSI driver AKS 1.33 ships (v1.26.x).
    ("dev", "kubernetes.version", "1.33", ["coa-lockdown:kubernetes.version", "'1.33'", "never refreshes", "1.34"]),
    (
        "prod",
        "kubernetes.version",
        "1.32.7",
        ["coa-lockdown:kubernetes.version", "never refreshes the workload identity token", "1.34 or later"],
    ),
    ("dev", "postgres.highAvailability", True, ["coa-lockdown:postgres.highAvailability", "Burstable"]),
    ("dev", "postgres.backupRetentionDays", 3, ["coa-lockdown:postgres.backupRetentionDays", "7-35"]),
    ("dev", "network.subnetz", {}, ["coa-lockdown:network.subnetz", "unknown key"]),
    ("dev", "netwrok", {}, ["coa-lockdown:netwrok", "unknown key"]),
    ("dev", "taskDatabase", "mysql", ["coa-lockdown:taskDatabase", "use one of cosmosdb, postgresql"]),
    # The article's generation runs only with everything it needs stated (tests/program/test_config_tes32.py).
    ("dev", "taskDatabase", "cosmosdb", ["coa-lockdown:cosmos: is required with taskDatabase cosmosdb"]),
    (
        "prod",
        "cosmos",
        {"localAuthEnabled": True},
        ["coa-lockdown:cosmos: is only read with taskDatabase cosmosdb", "remove it"],
    ),
    (
        "dev",
        "batch.images.gen2.nodeAgentSkuId",
        "batch.node.ubuntu 20.04",
        ["coa-lockdown:batch.images.gen2.nodeAgentSkuId", "retired"],
    ),
    (
        "prod",
        "batch.images.gen1.nodeAgentSkuId",
        "batch.node.windows amd64",
        ["coa-lockdown:batch.images.gen1.nodeAgentSkuId", "TES 6 runs only on"],
    ),
    ("dev", "batch.images.gen3", {}, ["coa-lockdown:batch.images.gen3", "unknown key"]),
    # What TES may choose: every entry known in the region, every size priced and bootable by its image.
    ("dev", "batch.allowedVmSizes", [], ["coa-lockdown:batch.allowedVmSizes", "is empty", "every VM size"]),
    (
        "dev",
        "batch.allowedVmSizes",
        ["standardDDSv5Family", "Standard_D4ds_v9"],
        [
            "coa-lockdown:batch.allowedVmSizes",
            "Standard_D4ds_v9",
            "not a size or family TES 6.0.0 offers in westeurope",
        ],
    ),
    # Generation-1-only: TES would start it on the gen1 image, and no Docker image boots generation 1.
    (
        "dev",
        "batch.allowedVmSizes",
        ["standardDv3Family"],
        ["coa-lockdown:batch.allowedVmSizes", "covers Standard_D16_v3", "batch.images.gen1", "generation V2, not V1"],
    ),
    (
        "prod",
        "batch.allowedVmSizes",
        ["Standard_E8ds_v5", "Standard_D16as_v4"],
        ["coa-lockdown:batch.allowedVmSizes", "Standard_D16as_v4", "no price", "prices.azure.com is unreachable"],
    ),
    (
        "dev",
        "batch.images.gen2",
        {"sku": "2404"},
        ["coa-lockdown:batch.images.gen2.nodeAgentSkuId", "'batch.node.ubuntu 22.04' does not match '2404'"],
    ),
    (
        "dev",
        "batch.images.gen2",
        {
            "publisher": "canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "nodeAgentSkuId": "batch.node.ubuntu 24.04",
        },
        ["coa-lockdown:batch.images.gen2.sku", "not an image this project knows", "microsoft-dsvm/ubuntu-hpc/2204"],
    ),
    # Existing data accounts (sequencer output).
    ("prod", "dataStorageAccounts", "stseqout01", ["coa-lockdown:dataStorageAccounts", "list of objects"]),
    (
        "prod",
        "dataStorageAccounts",
        [{"id": "stseqout01", "containers": [{"name": "runs"}]}],
        ["coa-lockdown:dataStorageAccounts[0].id", "/subscriptions/<id>"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg-seq/providers/Microsoft.Storage/storageAccounts/stseqout01",
                "containers": [],
            }
        ],
        ["coa-lockdown:dataStorageAccounts[0].containers", "at least one"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg-seq/providers/Microsoft.Storage/storageAccounts/stseqout01",
                "containers": [{"name": "Runs"}],
            }
        ],
        ["coa-lockdown:dataStorageAccounts[0].containers[0].name", "'Runs'"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg-seq/providers/Microsoft.Storage/storageAccounts/stseqout01",
                "containers": [{"name": "runs", "access": "write"}],
            }
        ],
        ["coa-lockdown:dataStorageAccounts[0].containers[0].access", "read, readWrite"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg-seq/providers/Microsoft.Storage/storageAccounts/stseqout01",
                "containers": [{"name": "runs"}],
                "privateEndpoint": "hub",
            }
        ],
        ["coa-lockdown:dataStorageAccounts[0].privateEndpoint", "create, existing"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg-seq/providers/Microsoft.Storage/storageAccounts/stseqout01",
                "containers": [{"name": "runs"}],
                "sas": "x",
            }
        ],
        ["coa-lockdown:dataStorageAccounts[0].sas", "unknown key"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg-seq/providers/Microsoft.Storage/storageAccounts/stseqout01",
                "containers": [{"name": "runs"}],
                **DATA_ACCOUNT_STATEMENTS,
            }
        ]
        * 2,
        ["coa-lockdown:dataStorageAccounts[1].id", "listed twice"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": "/subscriptions/7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d/resourceGroups/rg-seq/providers/Microsoft.Storage/storageAccounts/stcoaprodp4m9",
                "containers": [{"name": "runs"}],
            }
        ],
        ["coa-lockdown:dataStorageAccounts[0].id", "CoA storage account itself"],
    ),
    # The program cannot see an existing account's settings or who grants on it: the stack file states them.
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": SEQ_ACCOUNT,
                "containers": [{"name": "runs"}],
                "roleAssignments": "stack",
                "endpointApproval": "owner",
            }
        ],
        ["dataStorageAccounts[0].allowBlobPublicAccess", "is required", "state the account's setting, false"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": SEQ_ACCOUNT,
                "containers": [{"name": "runs"}],
                **DATA_ACCOUNT_STATEMENTS,
                "allowBlobPublicAccess": True,
            }
        ],
        ["dataStorageAccounts[0].allowBlobPublicAccess", "true cannot work", "answers 404"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": SEQ_ACCOUNT,
                "containers": [{"name": "runs"}],
                "allowBlobPublicAccess": False,
                "endpointApproval": "owner",
            }
        ],
        ["dataStorageAccounts[0].roleAssignments", "is required", "owner, stack"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": SEQ_ACCOUNT,
                "containers": [{"name": "runs"}],
                "allowBlobPublicAccess": False,
                "roleAssignments": "owner",
            }
        ],
        ["dataStorageAccounts[0].endpointApproval", "is required", "automatic, owner"],
    ),
    (
        "prod",
        "dataStorageAccounts",
        [
            {
                "id": SEQ_ACCOUNT,
                "containers": [{"name": "runs"}],
                **DATA_ACCOUNT_STATEMENTS,
                "privateEndpoint": "existing",
            }
        ],
        ["dataStorageAccounts[0].endpointApproval", "only read with privateEndpoint create"],
    ),
    # Hub zones resolve only through a link to this VNet or a hub resolver; the stack says which.
    (
        "prod",
        "dns.existingZoneIds",
        {
            "blob": "/subscriptions/x/resourceGroups/hub/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"
        },
        ["coa-lockdown:dns.hubZoneResolution", "is required with existingZoneIds", "linkedByHub", "linkHere"],
    ),
    ("prod", "dns.hubZoneResolution", "linkHere", ["coa-lockdown:dns.hubZoneResolution", "existingZoneIds is empty"]),
    ("prod", "dns.servers", ["10.0.2.4"], ["coa-lockdown:dns.servers", "only used with hubZoneResolution dnsServers"]),
    (
        "dev",
        "dns.existingZoneIds",
        {
            "blobs": "/subscriptions/x/resourceGroups/hub/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"
        },
        ["coa-lockdown:dns.existingZoneIds.blobs", "unknown zone key"],
    ),
    (
        "dev",
        "dns.existingZoneIds",
        {
            "blob": "/subscriptions/x/resourceGroups/hub/providers/Microsoft.Network/privateDnsZones/privatelink.vaultcore.azure.net"
        },
        ["coa-lockdown:dns.existingZoneIds.blob", "privatelink.blob.core.windows.net"],
    ),
    ("dev", "monitoring.logRetentionDays", 7, ["coa-lockdown:monitoring.logRetentionDays", "30-730"]),
    (
        "prod",
        "postgres.entraAdminGroupObjectId",
        "pg-admins",
        ["coa-lockdown:postgres.entraAdminGroupObjectId", "GUID"],
    ),
    (
        "prod",
        "postgres.entraAdminGroupObjectId",
        DELETE,
        ["coa-lockdown:postgres.entraAdminGroupObjectId: is required", "postgres.entraAdminGroupName is set"],
    ),
    ("prod", "postgres.entraAdminGroupName", "g" * 64, ["coa-lockdown:postgres.entraAdminGroupName", "63 bytes"]),
    ("prod", "postgres.entraAdminGroupName", " admins", ["coa-lockdown:postgres.entraAdminGroupName", "spaces"]),
    (
        "dev",
        "postgres.entraAdminGroupObjectId",
        "9d1e4b7a-2c5f-4a83-b6e0-7f3a1c9d5e28",
        ["coa-lockdown:postgres.entraAdminGroupName: is required", "postgres.entraAdminGroupObjectId is set"],
    ),
]


@pytest.mark.parametrize(
    ("stack", "path", "value", "expected"), BAD_INPUTS, ids=[f"{c[1]}={c[2]!r}"[:60] for c in BAD_INPUTS]
)
def test_bad_input_names_the_key(stack: str, path: str, value: Any, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(with_change(stack, path, value))
    for words in expected:
        assert words in str(error.value)
    # Each error is read in a terminal: one line, its key first, short enough to take in at once.
    for line in error.value.errors:
        assert line.startswith(("coa-lockdown:", "images.lock.json:")) and "\n" not in line, line
        assert len(line) <= LONGEST_ERROR, f"{len(line)} characters: {line}"


LONGEST_ERROR = 200


def test_image_scanner_requires_its_secrets() -> None:
    raw = with_change(
        "dev",
        "imageScanner",
        {"image": "crcoadevd7k2.azurecr.io/prisma/defender:32.07", "registryServer": "crcoadevd7k2.azurecr.io"},
    )
    secret = frozenset(SCANNER_SECRETS)
    with pytest.raises(ConfigError, match="coa-lockdown:imageScannerUsername: is required when imageScanner is set"):
        parse_settings(raw, secret_keys=secret)
    raw["imageScannerUsername"] = "scanner"
    with pytest.raises(ConfigError, match="coa-lockdown:imageScannerPassword"):
        parse_settings(raw, secret_keys=secret)
    raw["imageScannerPassword"] = "s3cret"
    assert parse_settings(raw, secret_keys=secret).image_scanner is not None
    # Typed in plain text into the stack file instead of `pulumi config set --secret`.
    with pytest.raises(ConfigError, match="imageScannerPassword: is stored in plain text"):
        parse_settings(raw, secret_keys=frozenset({"imageScannerUsername"}))
    raw["imageScannerUsername"] = " "
    with pytest.raises(ConfigError, match="imageScannerUsername: is blank"):
        parse_settings(raw, secret_keys=secret)


SCANNER_SECRETS = ("imageScannerUsername", "imageScannerPassword")
SCANNER = {"image": "crcoadevd7k2.azurecr.io/prisma/defender:32.07", "registryServer": "crcoadevd7k2.azurecr.io"}


@pytest.mark.parametrize(
    ("scanner", "key", "words"),
    [
        ({"usernameSecretName": "scan", "passwordSecretName": "scan"}, "passwordSecretName", "also usernameSecretName"),
        ({"passwordSecretName": "postgres-admin-password"}, "passwordSecretName", "this stack writes itself"),
        ({"usernameSecretName": "tes-db-password-b"}, "usernameSecretName", "this stack writes itself"),
    ],
)
def test_scanner_secret_names_collide_with_nothing(scanner: dict[str, str], key: str, words: str) -> None:
    raw = with_change("dev", "imageScanner", {**SCANNER, **scanner})
    raw |= {"imageScannerUsername": "u", "imageScannerPassword": "p"}
    with pytest.raises(ConfigError, match=f"coa-lockdown:imageScanner.{key}: .*{words}"):
        parse_settings(raw, secret_keys=frozenset(SCANNER_SECRETS))


def test_scanner_credentials_without_the_scanner_are_refused() -> None:
    raw = with_change("prod", "imageScannerPassword", "p")
    with pytest.raises(ConfigError, match="imageScannerPassword: is set but imageScanner is not"):
        parse_settings(raw, secret_keys=frozenset(SCANNER_SECRETS))


def test_image_scanner_image_must_be_pinned() -> None:
    raw = with_change("dev", "imageScanner", {"image": "prisma/defender", "registryServer": "crcoadevd7k2.azurecr.io"})
    raw |= {"imageScannerUsername": "u", "imageScannerPassword": "p"}
    with pytest.raises(ConfigError, match=r"coa-lockdown:imageScanner\.image"):
        parse_settings(raw, secret_keys=frozenset(SCANNER_SECRETS))


def test_protection_defaults_follow_the_environment() -> None:
    dev = with_change("dev", "protectStatefulResources", DELETE)
    prod = with_change("prod", "protectStatefulResources", DELETE)
    assert parse_settings(dev).protect_stateful_resources is False
    assert parse_settings(prod).protect_stateful_resources is True


def test_bad_config_stops_the_program_before_any_resource(tmp_path: Path) -> None:
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((REPO / name).read_text())
    (tmp_path / "components").symlink_to(REPO / "components")
    doc = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    doc["config"]["coa-lockdown:network"]["subnets"]["batch"] = "10.1.128.0/25"
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ProgramError, match=r"coa-lockdown:network\.subnets\.batch"):
        run_program(tmp_path, "bad")


def test_config_and_policy_pack_agree_on_retired_node_agents() -> None:
    """The pack stands alone (it checks any stack), so it keeps its own list; the two must not drift."""
    from configuration.batch import RETIRED_NODE_AGENTS
    from policy.coa_policies.batch import RETIRED_NODE_AGENTS as PACK_RETIRED

    assert set(PACK_RETIRED) == set(RETIRED_NODE_AGENTS)
    for agent in sorted(RETIRED_NODE_AGENTS & {"batch.node.ubuntu 20.04", "batch.node.centos 7"}):
        with pytest.raises(ConfigError, match="retired"):
            parse_settings(with_change("prod", "batch.images.gen1.nodeAgentSkuId", agent))


def test_a_node_image_past_its_batch_support_is_refused_on_the_day_after() -> None:
    """Batch removes the batch.node.ubuntu 22.04 agent after 2027-06-30 (Azure/Batch#200)."""
    import datetime

    raw = stack_values("prod")
    assert parse_settings(raw, today=datetime.date(2027, 6, 30)).batch_images.gen2.sku == "2204"
    with pytest.raises(
        ConfigError,
        match=r"batch.images.gen1.nodeAgentSkuId: 'batch.node.ubuntu 22.04' is retired.*'batch.node.ubuntu 24.04' \(sku 2404\)",
    ):
        parse_settings(raw, today=datetime.date(2027, 7, 1))
    moved = with_change("prod", "batch.images", {"gen1": NODE_2404, "gen2": NODE_2404})
    # AKS 1.36 ends the same day (retirement.yaml): the stack moves both.
    moved["kubernetes"] = {**moved["kubernetes"], "version": "1.37"}
    assert parse_settings(moved, today=datetime.date(2027, 7, 1)).batch_images.gen2.node_agent_sku_id.endswith("24.04")


NODE_2404 = {
    "publisher": "microsoft-dsvm",
    "offer": "ubuntu-hpc",
    "sku": "2404",
    "nodeAgentSkuId": "batch.node.ubuntu 24.04",
}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("coa-lockdown:environment", "coa-lockdown:environment: must be a non-empty string, got ''"),
        ("coa-lockdown:location", "coa-lockdown:location: must be a non-empty string, got ''"),
        ("coa-lockdown:nameSuffix", "coa-lockdown:nameSuffix: must be a non-empty string, got ''"),
    ],
)
def test_an_empty_value_in_the_stack_file_names_its_key_not_json(
    tmp_path_factory: pytest.TempPathFactory, key: str, expected: str
) -> None:
    """`key: ""` reaches the program as an empty string through the real config loader (not as broken JSON)."""
    from stackquery import run_variant

    with pytest.raises(ProgramError) as error:
        run_variant(tmp_path_factory.mktemp("empty"), "dev", {key: ""})
    assert expected in str(error.value) and "not valid JSON" not in str(error.value)


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        ("resourceGroupName", "rg/genomics", ["coa-lockdown:resourceGroupName", "'rg/genomics' is not valid"]),
        ("resourceGroupName", "rg-genomics.", ["coa-lockdown:resourceGroupName", "not ending in a period"]),
        ("resourceGroupName", "r" * 91, ["coa-lockdown:resourceGroupName", "1-90"]),
        ("tags", {"cost/center": "x"}, ["coa-lockdown:tags.cost/center", "not a valid tag name"]),
        ("tags", {"owner": "x" * 257}, ["coa-lockdown:tags.owner", "Azure allows 256"]),
        # The pack decides production from these tags, among other signals; a user tag must not change them.
        ("tags", {"environment": "dev"}, ["coa-lockdown:tags.environment", "is set by the stack"]),
        # No local temporary disk for the ephemeral OS disk (D4s_v5: remote storage only).
        ("kubernetes.systemPool", {"vmSize": "Standard_D4s_v5"}, ["systemPool.vmSize", "has no temporary disk"]),
        ("kubernetes.userPool", {"vmSize": "Standard_D2ds_v5"}, ["userPool.vmSize", "75 GiB temporary disk"]),
    ],
)
def test_azure_naming_and_disk_rules_are_checked_up_front(path: str, value: Any, words: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        parse_settings(with_change("prod", path, value))
    for word in words:
        assert word in str(error.value)


def test_expired_scanner_credentials_are_refused() -> None:
    import datetime

    raw = with_change("prod", "imageScanner", {**SCANNER, "credentialsExpireOn": "2027-01-31"})
    raw.update({"imageScannerUsername": "scanner", "imageScannerPassword": "s3cret"})
    secret = frozenset(SCANNER_SECRETS)
    assert parse_settings(raw, secret_keys=secret, today=datetime.date(2027, 1, 30)).image_scanner is not None
    with pytest.raises(ConfigError, match=r"imageScanner.credentialsExpireOn: 2027-01-31 has passed"):
        parse_settings(raw, secret_keys=secret, today=datetime.date(2027, 1, 31))


def test_a_declared_parallelism_the_stack_cannot_reach_is_refused() -> None:
    """dev's Burstable PostgreSQL and small batch subnet cannot run 80 TSO500 samples (configuration/capacity.py)."""
    raw = with_change("dev", "capacity", {"samples": 80, "workload": "workloads/tso500.yaml"})
    with pytest.raises(ConfigError) as error:
        parse_settings(raw, stack="dev")
    lines = error.value.errors
    assert any(line.startswith("coa-lockdown:capacity.samples: 80 samples") and "postgres.skuTier Burstable" in line
               for line in lines), lines  # fmt: skip
    assert all(len(line) <= 200 for line in lines), lines
    # prod (GeneralPurpose, a /17 batch subnet) declares and reaches it.
    assert parse_settings(stack_values("prod"), stack="prod").production
    raw = with_change("prod", "capacity", {"samples": 80, "workload": "workloads/missing.yaml"})
    with pytest.raises(ConfigError, match=r"capacity.workload: .*missing.yaml: cannot be read"):
        parse_settings(raw, stack="prod")


def test_a_postgres_version_past_azure_support_is_refused() -> None:
    import datetime

    raw = with_change("prod", "postgres", {**stack_values("prod")["postgres"], "version": "14"})
    assert parse_settings(raw, stack="prod", today=datetime.date(2026, 11, 12)).postgres.version == "14"
    with pytest.raises(ConfigError, match=r"postgres.version: '14' is past Azure's standard support"):
        parse_settings(raw, stack="prod", today=datetime.date(2026, 11, 13))


def test_a_kubernetes_minor_past_its_aks_end_of_life_is_refused() -> None:
    """AKS 1.34 ended 2026-11-30 (retirement.yaml): AKS creates no cluster on it after that day."""
    import datetime

    raw = with_change("prod", "kubernetes", {**stack_values("prod")["kubernetes"], "version": "1.34"})
    assert parse_settings(raw, stack="prod", today=datetime.date(2026, 11, 30)).aks.kubernetes_version == "1.34"
    with pytest.raises(
        ConfigError,
        match=r"kubernetes.version: '1.34' reached its AKS end of life on 2026-11-30 \(retirement.yaml\); "
        r"use a supported minor: 1.35, 1.36, 1.37",
    ):
        parse_settings(raw, stack="prod", today=datetime.date(2026, 12, 1))
    # A patch version is judged by its minor.
    raw = with_change("prod", "kubernetes", {**stack_values("prod")["kubernetes"], "version": "1.34.2"})
    with pytest.raises(ConfigError, match=r"'1.34.2' reached its AKS end of life"):
        parse_settings(raw, stack="prod", today=datetime.date(2026, 12, 1))
