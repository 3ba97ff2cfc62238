"""Stack rules: what no single resource can show (endpoints, diagnostics, protection, public IPs).

Resources are linked the way the engine records it: a resource that takes another's id as an input has that
resource's URN among its property dependencies (known even during preview, when ids are not). ARM id
equality is the fallback when both ids are known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, NotApplicableError, StackResource, StackRule, get, items, matches_any
from ._production import DECLARE_PRODUCTION, PRODUCTION_CONFIG, production_of

STORAGE = "azure-native:storage:StorageAccount"
VAULT = "azure-native:keyvault:Vault"
COSMOS = ("azure-native:cosmosdb:DatabaseAccount", "azure-native:documentdb:DatabaseAccount")
BATCH = "azure-native:batch:BatchAccount"
REGISTRY = "azure-native:containerregistry:Registry"
AKS = "azure-native:containerservice:ManagedCluster"
POSTGRES = "azure-native:dbforpostgresql:Server"
WORKSPACE = "azure-native:operationalinsights:Workspace"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
DIAGNOSTICS = ("azure-native:insights:DiagnosticSetting", "azure-native:monitor:DiagnosticSetting")
PUBLIC_IP = "azure-native:network:PublicIPAddress"
NAT_GATEWAY = "azure-native:network:NatGateway"

PRIVATE_LINK_TARGETS = (STORAGE, VAULT, *COSMOS, BATCH, REGISTRY)
AUDITED = (VAULT, BATCH, *COSMOS, AKS, STORAGE, POSTGRES, REGISTRY)
STATEFUL = (STORAGE, VAULT, *COSMOS, POSTGRES, WORKSPACE)


def _arm_id(r: StackResource) -> str:
    value = get(r.props, "id")
    return value.lower() if isinstance(value, str) else ""


def refers_to(source: StackResource, target: StackResource, prop: str, ids: Iterable[Any] = ()) -> bool:
    """Whether `source` refers to `target`: through `prop`'s property dependencies or any dependency, or by one
    of `ids` starting with the target's ARM id (case-insensitive)."""
    if target.urn in source.property_dependencies.get(prop, frozenset()) or target.urn in source.dependencies:
        return True
    target_id = _arm_id(target)
    return bool(target_id) and any(isinstance(i, str) and i.lower().startswith(target_id) for i in ids)


class _Targets:
    """`refers_to` against many targets at once: a stack rule asks it once per referring resource instead of
    once per (resource, target) pair, which made the rules quadratic in the size of the stack.

    Targets are indexed by URN and by ARM id grouped by id length, so "some id starts with the target's id" is
    one lookup per distinct id length (bounded by ARM's id length limit), not a scan of the targets.
    """

    def __init__(self, targets: Sequence[StackResource]) -> None:
        self.targets = list(targets)
        self._by_urn: dict[str, list[int]] = {}
        self._by_id: dict[int, dict[str, list[int]]] = {}
        for position, target in enumerate(self.targets):
            self._by_urn.setdefault(target.urn, []).append(position)
            target_id = _arm_id(target)
            if target_id:
                self._by_id.setdefault(len(target_id), {}).setdefault(target_id, []).append(position)

    def referred_by(self, source: StackResource, prop: str, ids: Iterable[Any] = ()) -> set[int]:
        """Positions (in `targets`) of every target `source` refers to, as `refers_to` decides it."""
        found: set[int] = set()
        for urn in (*source.property_dependencies.get(prop, ()), *source.dependencies):
            found.update(self._by_urn.get(urn, ()))
        for value in ids:
            if isinstance(value, str):
                lowered = value.lower()
                for length, by_id in self._by_id.items():
                    found.update(by_id.get(lowered[:length], ()))
        return found


def _of(resources: Sequence[StackResource], *types: str) -> list[StackResource]:
    return [r for r in resources if r.type in types]


def _label(r: StackResource) -> str:
    return f"{r.type.rsplit(':', 1)[-1]} {r.name!r}"


def _private_endpoints(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    targets = _Targets(_of(resources, *PRIVATE_LINK_TARGETS))
    endpoints_of: list[list[StackResource]] = [[] for _ in targets.targets]
    for pe in _of(resources, PRIVATE_ENDPOINT):
        connections = items(get(pe.props, "privateLinkServiceConnections")) + items(
            get(pe.props, "manualPrivateLinkServiceConnections")
        )
        ids = [get(c, "privateLinkServiceId") for c in connections]
        for position in targets.referred_by(pe, "privateLinkServiceConnections", ids):
            endpoints_of[position].append(pe)
    # What a zone group names as its endpoint: its parent, what privateEndpointName depends on (or any
    # dependency), and the privateEndpointName itself when it is a known string.
    groups = _of(resources, ZONE_GROUP)
    grouped_urns = {g.parent for g in groups}
    for g in groups:
        grouped_urns.update(g.property_dependencies.get("privateEndpointName", ()), g.dependencies)
    grouped_names = {n for g in groups if isinstance(n := get(g.props, "privateEndpointName"), str)}
    for target, mine in zip(targets.targets, endpoints_of, strict=True):
        if not mine:
            yield f"{_label(target)} has no private endpoint.", target.urn
            continue
        if cfg["dnsZoneGroupsManagedByPolicy"]:
            continue
        for pe in mine:
            pe_name = get(pe.props, "privateEndpointName")
            if pe.urn not in grouped_urns and not (isinstance(pe_name, str) and pe_name in grouped_names):
                yield f"private endpoint {pe.name!r} of {_label(target)} has no private DNS zone group.", pe.urn


def _diagnostics(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    targets = _Targets(_of(resources, *AUDITED))
    audited: set[int] = set()
    for d in _of(resources, *DIAGNOSTICS):
        if get(d.props, "workspaceId") is not MISSING:
            # Storage logs are configured on the blobServices/default sub-resource, whose URI embeds the account id.
            audited |= targets.referred_by(d, "resourceUri", [get(d.props, "resourceUri")])
    for position, target in enumerate(targets.targets):
        if position not in audited:
            yield f"{_label(target)} sends no diagnostics to a Log Analytics workspace.", target.urn


# Resource log categories that record who did what (Azure Monitor "Supported logs" per resource type:
# Microsoft.KeyVault/vaults AuditEvent; Microsoft.ContainerService/managedClusters kube-audit, kube-audit-admin;
# Microsoft.Storage/storageAccounts/blobServices StorageRead, StorageWrite, StorageDelete;
# Microsoft.DBforPostgreSQL/flexibleServers PostgreSQLLogs; Microsoft.ContainerRegistry/registries
# ContainerRegistryLoginEvents, ContainerRegistryRepositoryEvents). Each inner list is one requirement, met by any
# category in it. The category groups "audit" and "allLogs" include them.
AUDIT_CATEGORIES: dict[str, list[list[str]]] = {
    VAULT: [["AuditEvent"]],
    AKS: [["kube-audit", "kube-audit-admin"]],
    STORAGE: [["StorageRead"], ["StorageWrite"], ["StorageDelete"]],
    POSTGRES: [["PostgreSQLLogs"]],
    REGISTRY: [["ContainerRegistryLoginEvents"], ["ContainerRegistryRepositoryEvents"]],
}
AUDIT_GROUPS = ["audit", "allLogs"]
_DESTINATIONS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")


def _sent(settings: Sequence[StackResource]) -> tuple[set[str], bool]:
    """Log categories and category groups the settings send (lowercased), and whether any list is computed."""
    sent: set[str] = set()
    computed = False
    for d in settings:
        logs = get(d.props, "logs")
        if logs is UNKNOWN:
            computed = True
        for entry in items(logs):
            if get(entry, "enabled") is False:
                continue
            for key in ("category", "categoryGroup"):
                value = get(entry, key)
                computed |= value is UNKNOWN
                if isinstance(value, str):
                    sent.add(value.lower())
    return sent, computed


def _audit_categories(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    required: Mapping[str, Sequence[Sequence[str]]] = cfg["requiredCategories"]
    groups = {g.lower() for g in cfg["auditGroups"]}
    targets = _Targets(_of(resources, *required))
    if not targets.targets:
        raise NotApplicableError("no resource with required audit categories")
    settings_of: dict[int, list[StackResource]] = {}
    for d in _of(resources, *DIAGNOSTICS):
        if all(get(d.props, key) is MISSING for key in _DESTINATIONS):
            continue
        for position in targets.referred_by(d, "resourceUri", [get(d.props, "resourceUri")]):
            settings_of.setdefault(position, []).append(d)
    for position, target in enumerate(targets.targets):
        settings = settings_of.get(position)
        if not settings:
            continue  # diagnostics-to-log-analytics reports a resource without any setting
        sent, computed = _sent(settings)
        if computed or sent & groups:
            continue
        missing = [
            " or ".join(need) for need in required[target.type] if not any(option.lower() in sent for option in need)
        ]
        if missing:
            yield (
                f"{_label(target)}: its diagnostic settings do not send the audit log categories {missing} "
                f"(nor a category group {sorted(cfg['auditGroups'])}).",
                target.urn,
            )


def production_resources(
    resources: Sequence[StackResource], cfg: Mapping[str, Any], *types: str
) -> list[tuple[StackResource, str]]:
    """(resource, why it is production) for the resources of `types` that count as production; not applicable
    when there are none (a computed production tag is judged at update)."""
    found = [(r, why) for r in _of(resources, *types) if (why := production_of(cfg, r.urn, r.props))]
    if not found:
        raise NotApplicableError("no production resource")
    return found


def _protected(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for r, why in production_resources(resources, cfg, *STATEFUL):
        if not r.protect:
            yield f"{_label(r)} is not protected; production ({why}).", r.urn


def _public_ips(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    ips = _Targets(
        [
            ip
            for ip in _of(resources, PUBLIC_IP)
            if not any(
                isinstance(n, str) and matches_any(n, cfg["allowedPublicIpNames"])
                for n in (ip.name, get(ip.props, "publicIpAddressName"))
            )
        ]
    )
    attached: set[int] = set()
    for g in _of(resources, NAT_GATEWAY):
        ids = [get(ref, "id") for ref in items(get(g.props, "publicIpAddresses"))]
        attached |= ips.referred_by(g, "publicIpAddresses", ids)
    for position, ip in enumerate(ips.targets):
        if position not in attached:
            yield f"public IP {ip.name!r} is not attached to a NAT gateway (egress).", ip.urn


POLICIES = [
    StackRule(
        name="paas-private-endpoint-with-dns",
        check=_private_endpoints,
        subjects=PRIVATE_LINK_TARGETS,
        description="Every storage account, Key Vault, Cosmos DB account, Batch account and container "
        "registry has a private endpoint with a private DNS zone group.",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation="Add a PrivateEndpoint whose privateLinkServiceConnections targets the resource and a "
        "PrivateDnsZoneGroup on it; set dnsZoneGroupsManagedByPolicy when Azure Policy creates "
        "the zone groups (landing zones).",
        anchor="CKV2_AZURE_33, CKV2_AZURE_32; Azure Policy: Storage accounts should use private link; Azure Key Vaults should use private link; CosmosDB accounts should use private link; Private endpoint connections on Batch accounts should be enabled; Container registries should use private link",
        config={"dnsZoneGroupsManagedByPolicy": {"type": "boolean", "default": False}},
    ),
    StackRule(
        name="diagnostics-to-log-analytics",
        check=_diagnostics,
        subjects=AUDITED,
        description="Every Key Vault, Batch account, Cosmos DB account, AKS cluster, storage account, PostgreSQL "
        "server and container registry sends diagnostic logs to a Log Analytics workspace.",
        severity=Severity.HIGH,
        safeguard="audit",
        remediation="Add a DiagnosticSetting (resourceUri = the resource id, or <account id>/blobServices/default "
        "for blob logs) with workspaceId.",
        anchor="CKV_AZURE_4 (AKS); Azure Policy: Resource logs in Key Vault should be enabled; Resource logs in Batch accounts should be enabled; Resource logs in Azure Kubernetes Service should be enabled",
    ),
    StackRule(
        name="diagnostics-audit-categories",
        check=_audit_categories,
        subjects=tuple(AUDIT_CATEGORIES),
        description="Diagnostic settings of Key Vaults, AKS clusters, storage accounts, PostgreSQL servers and "
        "registries send their audit log categories (AuditEvent; kube-audit; StorageRead/Write/Delete; "
        "PostgreSQLLogs; ContainerRegistryLoginEvents/RepositoryEvents), not only metrics.",
        severity=Severity.HIGH,
        safeguard="audit",
        remediation="Add the categories (or categoryGroup audit or allLogs, enabled) to the resource's diagnostic "
        "setting; for storage, on <account id>/blobServices/default.",
        anchor="Azure Policy: Resource logs in Key Vault should be enabled; Resource logs in Azure Kubernetes "
        "Service should be enabled (category-level)",
        config={
            "requiredCategories": {"type": "object", "default": AUDIT_CATEGORIES},
            "auditGroups": {"type": "array", "items": {"type": "string"}, "default": AUDIT_GROUPS},
        },
    ),
    StackRule(
        name="stateful-resources-protected-in-production",
        check=_protected,
        subjects=STATEFUL,
        description="In production stacks, storage accounts, Key Vaults, Cosmos DB accounts, PostgreSQL "
        "servers and Log Analytics workspaces are protected from deletion.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Pass ResourceOptions(protect=True) for these resources in production stacks. "
        + DECLARE_PRODUCTION,
        anchor="none: gap in existing scanners",
        config=PRODUCTION_CONFIG,
    ),
    StackRule(
        name="public-ip-only-for-nat-gateway",
        check=_public_ips,
        subjects=(PUBLIC_IP,),
        description="Public IP addresses exist only for egress through a NAT gateway (or are allowlisted).",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Remove the public IP, or attach it to the NAT gateway's publicIpAddresses, or add its "
        "name to allowedPublicIpNames.",
        anchor="CKV_AZURE_119; Azure Policy: Network interfaces should not have public IPs (analogues)",
        config={"allowedPublicIpNames": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
]
