"""AKS managed clusters and their agent pools."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, get_ci, is_world, items, known, same
from ._production import DECLARE_PRODUCTION, PRODUCTION_CONFIG, in_production

CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"


def _private(s: Subject) -> Iterable[str]:
    access = get(s.props, "apiServerAccessProfile")
    private = get(access, "enablePrivateCluster")
    ranges = get(access, "authorizedIPRanges")
    if private is True or private is UNKNOWN or ranges is UNKNOWN:
        return
    listed = items(ranges)
    world = [r for r in listed if is_world(r)]
    if not listed:
        yield "the API server is public: set apiServerAccessProfile.enablePrivateCluster or authorizedIPRanges."
    elif world:
        yield f"apiServerAccessProfile.authorizedIPRanges includes {world[0]!r}, the whole Internet."


def _rbac(s: Subject) -> Iterable[str]:
    if get(s.props, "enableRBAC") is False:  # ARM default is true
        yield "enableRBAC is false."


def _entra(s: Subject) -> Iterable[str]:
    aad = get(s.props, "aadProfile")
    if aad is UNKNOWN:
        return
    if aad is MISSING:
        yield "aadProfile is not set: cluster users are not Entra ID identities."
        return
    if get(aad, "managed") is False:
        yield "aadProfile.managed is false (legacy AAD integration)."
    if get(aad, "enableAzureRBAC") not in (True, UNKNOWN):
        yield "aadProfile.enableAzureRBAC is not true: Kubernetes authorisation is not Azure RBAC."


def _local_accounts(s: Subject) -> Iterable[str]:
    if get(s.props, "disableLocalAccounts") not in (True, UNKNOWN):
        yield "disableLocalAccounts is not true: the static cluster-admin credential remains usable."


def _network_policy(s: Subject) -> Iterable[str]:
    policy = get(s.props, "networkProfile", "networkPolicy")
    if policy is UNKNOWN:
        return
    if not any(same(policy, p) for p in ("azure", "calico", "cilium")):
        yield f"networkProfile.networkPolicy is {policy if known(policy) else 'not set'}; use azure, calico or cilium."


def pools(s: Subject) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if s.type == AGENT_POOL:
        yield s.name, s.props
        return
    for index, pool in enumerate(items(get(s.props, "agentPoolProfiles"))):
        if isinstance(pool, Mapping):
            name = get(pool, "name")
            yield (name if isinstance(name, str) else f"agentPoolProfiles[{index}]"), pool


def _no_node_public_ip(s: Subject) -> Iterable[str]:
    for name, pool in pools(s):
        if get(pool, "enableNodePublicIP") is True:
            yield f"agent pool {name!r} gives nodes public IPs (enableNodePublicIP: true)."


def _encryption_at_host(s: Subject) -> Iterable[str]:
    for name, pool in pools(s):
        if get(pool, "enableEncryptionAtHost") not in (True, UNKNOWN):
            yield f"agent pool {name!r} does not set enableEncryptionAtHost: true."


def _ephemeral_os(s: Subject) -> Iterable[str]:
    for name, pool in pools(s):
        kind = get(pool, "osDiskType")
        if kind is not UNKNOWN and not same(kind, "Ephemeral"):
            shown = kind if known(kind) else "not set (Managed unless the VM's cache or temp disk fits)"
            yield f"agent pool {name!r} osDiskType is {shown}."


def _policy_addon(s: Subject) -> Iterable[str]:
    profiles = get(s.props, "addonProfiles")
    enabled = get(get_ci(profiles, "azurepolicy"), "enabled")
    if profiles is not UNKNOWN and enabled not in (True, UNKNOWN):
        yield "addonProfiles.azurepolicy.enabled is not true."


def _auto_upgrade(s: Subject) -> Iterable[str]:
    channel = get(s.props, "autoUpgradeProfile", "upgradeChannel")
    if channel is MISSING or same(channel, "none"):
        yield "autoUpgradeProfile.upgradeChannel is not set to an automatic channel (patch, stable, rapid, node-image)."


def _workload_identity(s: Subject) -> Iterable[str]:
    if get(s.props, "oidcIssuerProfile", "enabled") not in (True, UNKNOWN):
        yield "oidcIssuerProfile.enabled is not true."
    if get(s.props, "securityProfile", "workloadIdentity", "enabled") not in (True, UNKNOWN):
        yield "securityProfile.workloadIdentity.enabled is not true: pods would need stored credentials."


# The last supported day of each AKS minor: "Unless an explicit date is provided, the End of Life (EOL) date is the last
# day of the specified month" (MicrosoftDocs/azure-aks-docs@fb060ab:articles/aks/supported-kubernetes-versions.md:44,
# calendar :48-55). The same dates as retirement.yaml (tests/policy/test_kubernetes_version_rule.py holds them equal);
# a policy config may add or move minors without a new pack (config endOfLife).
AKS_END_OF_LIFE = {
    "1.32": "2026-03-31",
    "1.33": "2026-07-31",
    "1.34": "2026-11-30",
    "1.35": "2027-03-31",
    "1.36": "2027-06-30",
    "1.37": "2027-10-31",
}


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def _minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"^v?(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def _versions(s: Subject) -> Iterator[tuple[str, Any]]:
    if s.type == CLUSTER:
        yield "kubernetesVersion", get(s.props, "kubernetesVersion")
    for name, pool in pools(s):
        yield f"agent pool {name!r} orchestratorVersion", get(pool, "orchestratorVersion")


def _version_supported(s: Subject) -> Iterable[str]:
    ends = {
        minor: datetime.date.fromisoformat(day)
        for key, day in dict(s.config.get("endOfLife") or AKS_END_OF_LIFE).items()
        if (minor := _minor(key))
    }
    today = _today()
    supported = ", ".join(f"{m[0]}.{m[1]}" for m, day in sorted(ends.items()) if day >= today)
    for where, version in _versions(s):
        # Unset: AKS picks its default, a supported minor.
        minor = _minor(version) if isinstance(version, str) else None
        if minor is None:
            continue
        if minor in ends and ends[minor] < today:
            yield (
                f"{where} {version!r}: AKS {minor[0]}.{minor[1]} reached end of life on {ends[minor]}, so it gets no "
                f"security patches; upgrade to a supported minor ({supported or 'none listed'})."
            )
        elif minor not in ends and ends and minor < min(ends):
            yield f"{where} {version!r} is older than every minor AKS supports ({supported or 'none listed'})."


_C = (CLUSTER,)
_POOLS = (CLUSTER, AGENT_POOL)

POLICIES = [
    Rule(
        name="aks-private-api-server",
        types=_C,
        check=_private,
        description="The AKS API server is private, or limited to authorised IP ranges that are not the Internet.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set apiServerAccessProfile.enablePrivateCluster: true (preferred) or authorizedIPRanges.",
        anchor="CKV_AZURE_115, CKV_AZURE_6",
    ),
    Rule(
        name="aks-rbac-enabled",
        types=_C,
        check=_rbac,
        description="Kubernetes RBAC is enabled.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set enableRBAC: true.",
        anchor="CKV_AZURE_5",
    ),
    Rule(
        name="aks-entra-id-with-azure-rbac",
        types=_C,
        check=_entra,
        description="Cluster users authenticate with Entra ID and are authorised with Azure RBAC.",
        severity=Severity.HIGH,
        safeguard="authentication",
        remediation="Set aadProfile: {managed: true, enableAzureRBAC: true}.",
        anchor="Azure Policy: Azure Kubernetes Service Clusters should enable Microsoft Entra ID integration",
    ),
    Rule(
        name="aks-local-accounts-disabled",
        types=_C,
        check=_local_accounts,
        description="Local (certificate) cluster accounts are disabled.",
        severity=Severity.HIGH,
        safeguard="authentication",
        remediation="Set disableLocalAccounts: true.",
        anchor="CKV_AZURE_141",
    ),
    Rule(
        name="aks-network-policy-enabled",
        types=_C,
        check=_network_policy,
        description="A network policy engine enforces Kubernetes NetworkPolicies.",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Set networkProfile.networkPolicy: azure, calico or cilium.",
        anchor="CKV_AZURE_7",
    ),
    Rule(
        name="aks-no-node-public-ip",
        types=_POOLS,
        check=_no_node_public_ip,
        description="No node pool gives nodes public IPs.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Remove enableNodePublicIP (or set it false) on every pool.",
        anchor="CKV_AZURE_143",
    ),
    Rule(
        name="aks-encryption-at-host",
        types=_POOLS,
        check=_encryption_at_host,
        description="Node pools encrypt temp disks, caches and disk data flows at the host.",
        severity=Severity.MEDIUM,
        safeguard="encryption",
        remediation="Set enableEncryptionAtHost: true on every pool (the subscription feature must be registered).",
        anchor="CKV_AZURE_227",
    ),
    Rule(
        name="aks-ephemeral-os-disk-production",
        types=_POOLS,
        check=in_production(_ephemeral_os, "node OS disks persist in Azure Storage after the node is gone."),
        description="Production node pools use ephemeral OS disks (on the host, gone with the node).",
        severity=Severity.MEDIUM,
        safeguard="integrity",
        remediation="Set osDiskType: Ephemeral on every pool, with a VM size whose cache or temporary disk holds "
        "osDiskSizeGB. " + DECLARE_PRODUCTION,
        anchor="CKV_AZURE_226",
        config=PRODUCTION_CONFIG,
    ),
    Rule(
        name="aks-azure-policy-addon",
        types=_C,
        check=_policy_addon,
        description="The Azure Policy add-on enforces admission policies in the cluster.",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Set addonProfiles.azurepolicy: {enabled: true}.",
        anchor="CKV_AZURE_116",
    ),
    Rule(
        name="aks-automatic-upgrades",
        types=_C,
        check=_auto_upgrade,
        description="The cluster upgrades automatically to receive security patches.",
        severity=Severity.MEDIUM,
        safeguard="integrity",
        remediation="Set autoUpgradeProfile.upgradeChannel: patch or stable.",
        anchor="CKV_AZURE_171",
    ),
    Rule(
        name="aks-kubernetes-version-supported",
        types=_POOLS,
        check=_version_supported,
        description="The cluster and its node pools run a Kubernetes minor AKS still supports (patched).",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Set kubernetesVersion (and each pool's orchestratorVersion) to a minor before its AKS end of life "
        "(this project: kubernetes.version; config refuses an ended minor). Newer dates go in the rule's config "
        "endOfLife.",
        anchor="Azure Policy: Kubernetes Services should be upgraded to a non-vulnerable Kubernetes version; PSRule "
        "Azure.AKS.Version",
        config={
            "endOfLife": {
                "type": "object",
                "additionalProperties": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
                "default": AKS_END_OF_LIFE,
            }
        },
    ),
    Rule(
        name="aks-workload-identity-oidc",
        types=_C,
        check=_workload_identity,
        description="Pods authenticate to Azure with workload identity federated through the OIDC issuer.",
        severity=Severity.MEDIUM,
        safeguard="authentication",
        remediation="Set oidcIssuerProfile.enabled: true and securityProfile.workloadIdentity.enabled: true.",
        anchor="Azure Policy: Azure Kubernetes Service Clusters should enable workload identity",
    ),
]
