"""Azure Batch accounts and pools (TES runs every workflow task on these)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, is_world, items, known, same
from .kubernetes import WORKLOAD_TYPES, per_container

ACCOUNT = ("azure-native:batch:BatchAccount",)
POOL = ("azure-native:batch:Pool",)


def _account_network(s: Subject) -> Iterable[str]:
    public = get(s.props, "publicNetworkAccess")
    if public is UNKNOWN or same(public, "Disabled"):
        return
    access = get(s.props, "networkProfile", "accountAccess")
    action = get(access, "defaultAction")
    if action is UNKNOWN:
        return
    if not same(action, "Deny"):
        yield "publicNetworkAccess is not Disabled and networkProfile.accountAccess.defaultAction is not Deny."
        return
    for rule in items(get(access, "ipRules")):
        if is_world(get(rule, "value")):
            yield f"networkProfile.accountAccess.ipRules admits {get(rule, 'value')!r}, the whole Internet."


def _entra_only(s: Subject) -> Iterable[str]:
    modes = get(s.props, "allowedAuthenticationModes")
    if modes is UNKNOWN:
        return
    if modes is MISSING:
        yield "allowedAuthenticationModes is not set: the default admits SharedKey."
        return
    for mode in items(modes):
        if same(mode, "SharedKey"):
            yield "allowedAuthenticationModes includes SharedKey; allow AAD (and TaskAuthenticationToken) only."


def _autostorage_identity(s: Subject) -> Iterable[str]:
    auto = get(s.props, "autoStorage")
    mode = get(auto, "authenticationMode")
    if known(auto) and mode is not UNKNOWN and not same(mode, "BatchAccountManagedIdentity"):
        yield (
            "autoStorage.authenticationMode is "
            f"{mode if known(mode) else 'not set (StorageKeys)'}; use BatchAccountManagedIdentity."
        )


def _pool_no_public_ip(s: Subject) -> Iterable[str]:
    provision = get(s.props, "networkConfiguration", "publicIPAddressConfiguration", "provision")
    if provision is not UNKNOWN and not same(provision, "NoPublicIPAddresses"):
        yield (
            "networkConfiguration.publicIPAddressConfiguration.provision is "
            f"{provision if known(provision) else 'not set (BatchManaged public IPs)'}; use NoPublicIPAddresses."
        )


def _pool_in_subnet(s: Subject) -> Iterable[str]:
    if get(s.props, "networkConfiguration", "subnetId") is MISSING:
        yield "networkConfiguration.subnetId is not set: nodes would land outside your virtual network."


def _pool_simplified(s: Subject) -> Iterable[str]:
    mode = get(s.props, "targetNodeCommunicationMode")
    if mode is not UNKNOWN and not same(mode, "Simplified"):
        yield (
            f"targetNodeCommunicationMode is {mode if known(mode) else 'not set (Default/Classic)'}; "
            "Simplified removes the inbound node management ports."
        )


def _pool_disk_encryption(s: Subject) -> Iterable[str]:
    targets = get(
        s.props, "deploymentConfiguration", "virtualMachineConfiguration", "diskEncryptionConfiguration", "targets"
    )
    if targets is UNKNOWN:
        return
    present = {t.lower() for t in items(targets) if isinstance(t, str)}
    for needed in ("OsDisk", "TemporaryDisk"):
        if needed.lower() not in present:
            yield f"diskEncryptionConfiguration.targets does not include {needed}."


def _pool_blobfuse_identity(s: Subject) -> Iterable[str]:
    for index, mount in enumerate(items(get(s.props, "mountConfiguration"))):
        blob = get(mount, "azureBlobFileSystemConfiguration")
        if not known(blob):
            continue
        for secret in ("accountKey", "sasKey"):
            if get(blob, secret) is not MISSING:
                yield f"mountConfiguration[{index}] mounts blob storage with {secret}; use identityReference."
        if get(blob, "identityReference") is MISSING:
            yield f"mountConfiguration[{index}] has no identityReference."


# Node agents and Marketplace images Azure Batch no longer supports (Batch retirement notices: Ubuntu 20.04 agent
# 2025-04-23, CentOS 7 2024-06-30, Ubuntu 18.04 2024-06-30; Ubuntu 14.04, CentOS 8, Debian 8 and 9: Azure/Batch#180).
# Pool creation fails or nodes are scaled in; the OS gets no security updates. The repository's retirement.yaml dates
# them; the pack stands alone (it checks any stack), so it keeps the list (a test holds the two equal).
RETIRED_NODE_AGENTS = [
    "batch.node.ubuntu 14.04",
    "batch.node.ubuntu 16.04",
    "batch.node.ubuntu 18.04",
    "batch.node.ubuntu 20.04",
    "batch.node.centos 7",
    "batch.node.centos 8",
    "batch.node.debian 8",
    "batch.node.debian 9",
    "batch.node.debian 10",
]
RETIRED_IMAGES = [
    "microsoft-azure-batch/ubuntu-server-container/20-04-lts",
    "microsoft-azure-batch/ubuntu-server-container/16-04-lts",
    "microsoft-dsvm/ubuntu-hpc/2004",
    "microsoft-dsvm/ubuntu-hpc/1804",
    "canonical/0001-com-ubuntu-server-focal/20_04-lts",
    "canonical/0001-com-ubuntu-server-focal/20_04-lts-gen2",
    "canonical/ubuntuserver/18.04-lts",
    "openlogic/centos/7_9",
    "openlogic/centos-hpc/7.7",
]
_NODE_IMAGE_CONFIG = {
    "retiredNodeAgents": {"type": "array", "items": {"type": "string"}, "default": RETIRED_NODE_AGENTS},
    "retiredImages": {"type": "array", "items": {"type": "string"}, "default": RETIRED_IMAGES},
}


def _retired(agent: Any, image: str, cfg: Mapping[str, Any]) -> Iterable[str]:
    agents = {a.lower() for a in cfg.get("retiredNodeAgents", RETIRED_NODE_AGENTS)}
    images = {i.lower() for i in cfg.get("retiredImages", RETIRED_IMAGES)}
    if isinstance(agent, str) and agent.lower() in agents:
        yield f"node agent {agent!r} is retired by Azure Batch."
    if image.lower() in images:
        yield f"image {image!r} is retired (no Batch support, no OS updates)."


def _pool_supported_image(s: Subject) -> Iterable[str]:
    vm = get(s.props, "deploymentConfiguration", "virtualMachineConfiguration")
    if not known(vm):
        return
    ref = get(vm, "imageReference")
    parts = [get(ref, k) for k in ("publisher", "offer", "sku")]
    image = "/".join(p for p in parts if isinstance(p, str)) if all(isinstance(p, str) for p in parts) else ""
    yield from _retired(get(vm, "nodeAgentSkuId"), image, s.config)


def _tes_images(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    env = {get(e, "name"): get(e, "value") for e in items(get(c, "env"))}
    if "BatchAccount__AccountName" not in env:
        return  # not a TES 6 container
    for generation in ("BatchImageGen1", "BatchImageGen2"):
        agent = env.get(f"{generation}__NodeAgentSkuId")
        if agent is None:
            yield (
                f"{generation}__NodeAgentSkuId is not set: TES 6 then uses its built-in Ubuntu 20.04 images, "
                "whose node agent Azure Batch retired."
            )
            continue
        image = "/".join(str(env.get(f"{generation}__{k}", "")) for k in ("Publisher", "Offer", "Sku"))
        for problem in _retired(agent, image, cfg):
            yield f"{generation}: {problem}"


POLICIES = [
    Rule(
        name="batch-pool-supported-node-image",
        types=POOL,
        check=_pool_supported_image,
        description="Batch pools run a node image and node agent that Azure Batch still supports.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Use e.g. microsoft-dsvm ubuntu-hpc 2204 with batch.node.ubuntu 22.04 (or 2404 / 24.04).",
        anchor="none: gap in existing scanners",
        config=_NODE_IMAGE_CONFIG,
    ),
    Rule(
        name="tes-batch-node-images-supported",
        types=WORKLOAD_TYPES,
        check=per_container(_tes_images),
        description="TES sets its Batch node images explicitly, to images and node agents Azure Batch supports.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Set BatchImageGen1__*/BatchImageGen2__* (stack config batch.images) to a supported image.",
        anchor="none: gap in existing scanners",
        config=_NODE_IMAGE_CONFIG,
    ),
    Rule(
        name="batch-account-public-network-disabled",
        types=ACCOUNT,
        check=_account_network,
        description="Batch accounts are reachable only privately (public access disabled or default Deny).",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set publicNetworkAccess: Disabled and add private endpoints (batchAccount, nodeManagement).",
        anchor="CKV_AZURE_248; Azure Policy: Public network access should be disabled for Batch accounts",
    ),
    Rule(
        name="batch-account-entra-id-auth-only",
        types=ACCOUNT,
        check=_entra_only,
        description="Batch accounts accept Entra ID authentication only (no shared keys).",
        severity=Severity.HIGH,
        safeguard="authentication",
        remediation="Set allowedAuthenticationModes: [AAD, TaskAuthenticationToken].",
        anchor="Azure Policy: Batch accounts should have local authentication methods disabled",
    ),
    Rule(
        name="batch-account-autostorage-managed-identity",
        types=ACCOUNT,
        check=_autostorage_identity,
        description="Batch auto-storage is accessed with the account's managed identity, not storage keys.",
        severity=Severity.MEDIUM,
        safeguard="authentication",
        remediation="Set autoStorage.authenticationMode: BatchAccountManagedIdentity and nodeIdentityReference.",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="batch-pool-no-public-ip",
        types=POOL,
        check=_pool_no_public_ip,
        description="Batch pool nodes get no public IP addresses.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set networkConfiguration.publicIPAddressConfiguration.provision: NoPublicIPAddresses.",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="batch-pool-in-subnet",
        types=POOL,
        check=_pool_in_subnet,
        description="Batch pools join a subnet of your virtual network.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set networkConfiguration.subnetId to the Batch subnet.",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="batch-pool-simplified-node-communication",
        types=POOL,
        check=_pool_simplified,
        description="Batch pools use simplified node communication (outbound-only management traffic).",
        severity=Severity.MEDIUM,
        safeguard="transmission",
        remediation="Set targetNodeCommunicationMode: Simplified.",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="batch-pool-disk-encryption",
        types=POOL,
        check=_pool_disk_encryption,
        description="Batch pool nodes encrypt OS and temporary disks.",
        severity=Severity.MEDIUM,
        safeguard="encryption",
        remediation="Set deploymentConfiguration.virtualMachineConfiguration.diskEncryptionConfiguration.targets: "
        "[OsDisk, TemporaryDisk].",
        anchor="Azure Policy: Azure Batch pools should have disk encryption enabled",
    ),
    Rule(
        name="batch-pool-blobfuse-by-identity",
        types=POOL,
        check=_pool_blobfuse_identity,
        description="Blobfuse mounts on Batch pools authenticate with a managed identity, never keys or SAS.",
        severity=Severity.HIGH,
        safeguard="authentication",
        remediation="Replace accountKey/sasKey with identityReference: {resourceId: <user-assigned identity>}.",
        anchor="none: gap in existing scanners",
    ),
]
