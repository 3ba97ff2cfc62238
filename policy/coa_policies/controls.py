"""Stack rules guarding controls the stack adds itself: image admission at the cluster, and delete locks on data.

Image admission is the built-in Azure Policy "Kubernetes cluster containers should only use allowed images"
(Azure/azure-policy@04a62e1:built-in-policies/policyDefinitions/Kubernetes/ContainerAllowedImages.json): effect
defaults to Deny; `namespaces` empty means every namespace; `excludedNamespaces` and `excludedContainers` exempt
pods and containers by name; `allowedContainerImagesRegex` is matched anywhere in the image reference
(Gatekeeper's `re_match`, as in Azure/azure-policy:samples/KubernetesService/container-whitelisted-images/
gatekeeperpolicy.rego), so only an anchored pattern confines images to a registry. The Azure Policy add-on, which
enforces it, is aks-azure-policy-addon's concern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import Severity

from ._core import UNKNOWN, StackResource, StackRule, get, known, matches_any, same
from ._production import DECLARE_PRODUCTION, PRODUCTION_CONFIG
from ._workloads import NAMESPACE, RELEASE
from .stack import AKS, REGISTRY, STATEFUL, _arm_id, _label, _of, production_resources

POLICY_ASSIGNMENT = "azure-native:authorization:PolicyAssignment"
ALLOWED_IMAGES = "febd0533-8e55-448f-b837-bd0e06f16469"
# Namespaces the add-on never evaluates (the definition's excludedNamespaces description).
SYSTEM_NAMESPACES = frozenset({"kube-system", "gatekeeper-system", "azure-arc"})
# Images an admission pattern must refuse whatever else it admits: public registries and look-alike hosts.
FOREIGN_IMAGES = (
    "ubuntu:22.04",
    "docker.io/library/ubuntu:22.04",
    "ghcr.io/attacker/tool:1.0",
    "quay.io/attacker/tool:1.0",
    "mcr.microsoft.com/azurelinux/base/core:3.0",
    "attacker.example.com/tool:1.0",
)
LOCKS = (
    "azure-native:authorization:ManagementLockByScope",
    "azure-native:authorization:ManagementLockAtResourceLevel",
    "azure-native:authorization:ManagementLockAtResourceGroupLevel",
    "azure-native:authorization:ManagementLockAtSubscriptionLevel",
)


def _covers_scope(scope: Any, target: StackResource) -> bool:
    """Whether an ARM scope string is the target's id or one of its ancestors (resource group, subscription)."""
    target_id = _arm_id(target)
    if not (isinstance(scope, str) and target_id):
        return False
    scope = scope.rstrip("/").lower()
    return target_id == scope or target_id.startswith(scope + "/")


def _applies_to(assignment: StackResource, cluster: StackResource) -> bool:
    return cluster.urn in assignment.property_dependencies.get("scope", ()) or _covers_scope(
        get(assignment.props, "scope"), cluster
    )


def _parameter(assignment: StackResource, name: str) -> Any:
    return get(assignment.props, "parameters", name, "value")


def _workload_namespaces(resources: Sequence[StackResource]) -> set[str]:
    found = {get(r.props, "namespace") for r in _of(resources, RELEASE)}
    found |= {get(r.props, "metadata", "name") for r in _of(resources, NAMESPACE)}
    return {n for n in found if isinstance(n, str)} - SYSTEM_NAMESPACES


def _login_servers(resources: Sequence[StackResource]) -> list[str]:
    names = [get(r.props, "registryName") for r in _of(resources, REGISTRY)]
    return [f"{n.lower()}.azurecr.io" for n in names if isinstance(n, str)]


def _regex_problems(pattern: Any, servers: Sequence[str], allowed: Sequence[str]) -> list[str]:
    if pattern is UNKNOWN:
        return []
    if not isinstance(pattern, str) or not pattern:
        return ["allowedContainerImagesRegex is not set"]
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        return [f"allowedContainerImagesRegex {pattern!r} does not parse ({error})"]
    probes = [*FOREIGN_IMAGES]
    for server in servers:
        probes += [f"attacker.example.com/{server}/tool:1.0", f"{server}.attacker.example.com/tool:1.0"]
    admitted = [p for p in probes if compiled.search(p) and not matches_any(p.split("/", 1)[0], allowed)]
    if admitted:
        return [f"allowedContainerImagesRegex {pattern!r} admits {admitted[0]!r}"]
    return []


def _assignment_problems(
    a: StackResource, namespaces: set[str], servers: list[str], cfg: Mapping[str, Any]
) -> list[str]:
    problems = []
    mode = get(a.props, "enforcementMode")
    if same(mode, "DoNotEnforce"):
        problems.append("enforcementMode is DoNotEnforce")
    effect = _parameter(a, "effect")
    if known(effect) and not same(effect, "Deny"):
        problems.append(f"effect is {effect!r}, not Deny")
    problems += _regex_problems(_parameter(a, "allowedContainerImagesRegex"), servers, cfg["allowedImageRegistries"])
    included = _parameter(a, "namespaces")
    if isinstance(included, list) and included:
        missing = sorted(namespaces - {str(n) for n in included})
        if missing:
            problems.append(f"namespaces {included} leave out {missing}")
    excluded = _parameter(a, "excludedNamespaces")
    if isinstance(excluded, list) and namespaces & {str(n) for n in excluded}:
        problems.append(f"excludedNamespaces {excluded} exempt {sorted(namespaces & set(map(str, excluded)))}")
    containers = _parameter(a, "excludedContainers")
    if isinstance(containers, list) and containers:
        problems.append(f"excludedContainers {containers} exempt containers by name")
    return problems


def _admission(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    assignments = [
        a
        for a in _of(resources, POLICY_ASSIGNMENT)
        if str(get(a.props, "policyDefinitionId")).lower().endswith(ALLOWED_IMAGES)
    ]
    namespaces = _workload_namespaces(resources)
    servers = _login_servers(resources)
    for cluster in _of(resources, AKS):
        mine = [a for a in assignments if _applies_to(a, cluster)]
        if not mine:
            yield (
                f"{_label(cluster)} has no 'allowed images' policy assignment ({ALLOWED_IMAGES}): any image runs.",
                cluster.urn,
            )
            continue
        verdicts = [(a, _assignment_problems(a, namespaces, servers, cfg)) for a in mine]
        if any(not problems for _, problems in verdicts):
            continue  # one assignment that denies is enough: each is enforced on its own
        for a, problems in verdicts:
            yield f"allowed-images assignment {a.name!r} on {_label(cluster)}: {'; '.join(problems)}.", a.urn


def _lock_covers(lock: StackResource, target: StackResource) -> bool:
    level = get(lock.props, "level")
    if known(level) and not (same(level, "CanNotDelete") or same(level, "ReadOnly")):
        return False
    if lock.type.endswith("AtSubscriptionLevel"):
        return True
    if lock.type.endswith("ByScope"):
        scope = get(lock.props, "scope")
        if isinstance(scope, str) and _arm_id(target):
            return _covers_scope(scope, target)
        return target.urn in lock.property_dependencies.get("scope", ())  # ids computed: what the scope comes from
    if lock.type.endswith("AtResourceLevel"):
        return target.urn in lock.dependencies
    if lock.type.endswith("AtResourceGroupLevel"):
        # One lock on the whole group covers every resource in it. The engine sends no ids, so the group is matched
        # by name, or by the resource group both names come from.
        group, target_group = get(lock.props, "resourceGroupName"), get(target.props, "resourceGroupName")
        if isinstance(group, str) and isinstance(target_group, str):
            return group.lower() == target_group.lower()
        shared = set(lock.property_dependencies.get("resourceGroupName", ())) & set(
            target.property_dependencies.get("resourceGroupName", ())
        )
        return bool(shared) or (isinstance(group, str) and f"/resourcegroups/{group.lower()}/" in _arm_id(target) + "/")
    return False


def _locked(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    locks = _of(resources, *LOCKS)
    for r, why in production_resources(resources, cfg, *STATEFUL):
        if not any(_lock_covers(lock, r) for lock in locks):
            yield f"{_label(r)} has no CanNotDelete lock; production ({why}): one call deletes its data.", r.urn


POLICIES = [
    StackRule(
        name="aks-image-admission-enforced",
        check=_admission,
        subjects=(AKS,),
        description="Every AKS cluster has the 'allowed images' Azure Policy assignment enforcing Deny, with a "
        "registry-anchored pattern, covering the workload namespaces.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Assign policy definition febd0533-8e55-448f-b837-bd0e06f16469 at the cluster with effect Deny, "
        "enforcementMode Default, an allowedContainerImagesRegex anchored to your registry (^<login server>/...), "
        "and no exclusions for the workload (this project: components/admission.py).",
        anchor="Azure Policy: Kubernetes cluster containers should only use allowed images",
        config={"allowedImageRegistries": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    StackRule(
        name="stateful-resources-locked-in-production",
        check=_locked,
        subjects=STATEFUL,
        description="In production, storage accounts, Key Vaults, Cosmos DB accounts, PostgreSQL servers and Log "
        "Analytics workspaces carry a CanNotDelete (or ReadOnly) management lock.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Add a ManagementLockByScope with level CanNotDelete scoped to the resource (this project: "
        "resourceLocks: true, components/protection.py). " + DECLARE_PRODUCTION,
        anchor="none: gap in existing scanners",
        config=PRODUCTION_CONFIG,
    ),
]
