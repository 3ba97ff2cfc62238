"""Stack rule: the Batch pools a service creates at run time are refused by Azure Policy when they break the stack's
network and support guarantees.

TES (like any Batch client) creates pools through Azure Resource Manager after `pulumi up`
(microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/Management/Batch/ArmBatchPoolManager.cs:50), so the `batch-pool-*` rules,
which judge pools a program declares, never see them. What refuses such a pool is a policy assignment with effect Deny
on the account (or above it). This rule does not trust names: it runs each assignment's definition, with the
assignment's parameter values, against probe pools that break one guarantee each (public IPs, no or a foreign subnet,
each retired node agent, classic node communication) with the pack's evaluator of the Azure Policy rule language
(azure_policy.py), under two pool names, and reports every guarantee no enforced assignment denies. An assignment stops
counting when its enforcement mode is DoNotEnforce, its definition's mode is not All, overrides change its effect,
resource selectors narrow it, its notScopes cover the account, or a policy exemption in the stack waives it there.
A finding names its guarantee, so a waiver in the policy config can accept exactly one (`"guarantees": [...]`).

Definitions outside the stack (built-ins, another team's) cannot be read and do not count; an assignment whose
parameters are still computed is judged at update, when they are known.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import Severity

from ._core import UNKNOWN, StackResource, StackRule, finding, get, items, known, same
from .azure_policy import Evaluator, UnsupportedPolicyError
from .batch import RETIRED_NODE_AGENTS
from .controls import _covers_scope
from .stack import BATCH, _arm_id, _label, _of

POLICY_DEFINITION = "azure-native:authorization:PolicyDefinition"
POLICY_ASSIGNMENT = "azure-native:authorization:PolicyAssignment"
POLICY_EXEMPTION = "azure-native:authorization:PolicyExemption"
SUBNET = "azure-native:network:Subnet"
POOL_TYPE = "Microsoft.Batch/batchAccounts/pools"
# The pool aliases Azure Policy offers for these properties (Get-AzPolicyAlias -NamespaceMatch Microsoft.Batch).
POOL_ALIASES = {
    f"{POOL_TYPE}/{path}": f"properties.{path}"
    for path in (
        "networkConfiguration.publicIPAddressConfiguration.provision",
        "networkConfiguration.subnetId",
        "deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId",
        "targetNodeCommunicationMode",
    )
}
FOREIGN_SUBNET = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/elsewhere/providers/Microsoft.Network/virtualNetworks/elsewhere/subnets/default"
SUPPORTED_AGENT = "batch.node.ubuntu 22.04"
# Each probe runs under two unrelated names: a definition that denies by pool name (say, only the pack's probe) holds
# for neither all of TES's pools nor both names.
PROBE_NAMES = ("probe", "tes-pool-0a1b2c3d")


@dataclass(frozen=True)
class _Probe:
    guarantee: str
    what: str  # the pool's fault, for the finding
    changes: Mapping[str, Any]  # dotted property path -> value (None removes it)


def _pool(subnet_id: str, changes: Mapping[str, Any] = {}) -> dict[str, Any]:
    """A pool as TES 6.0.0 creates it in a locked-down account (BatchScheduler.cs:1302-1339), with `changes`."""
    properties: dict[str, Any] = {
        "networkConfiguration": {
            "subnetId": subnet_id,
            "publicIPAddressConfiguration": {"provision": "NoPublicIPAddresses"},
        },
        "deploymentConfiguration": {"virtualMachineConfiguration": {"nodeAgentSkuId": SUPPORTED_AGENT}},
        "targetNodeCommunicationMode": "Simplified",
    }
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = properties
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return {"type": POOL_TYPE, "name": PROBE_NAMES[0], "properties": properties}


def _probes(retired_agents: Iterable[str]) -> list[_Probe]:
    provision = "networkConfiguration.publicIPAddressConfiguration.provision"
    agent = "deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId"
    return [
        _Probe("no public IPs", "BatchManaged public IPs", {provision: "BatchManaged"}),
        _Probe("no public IPs", "no publicIPAddressConfiguration (Batch then assigns public IPs)", {provision: None}),
        _Probe(
            "the stack's subnet",
            "no subnet (nodes outside any virtual network)",
            {"networkConfiguration.subnetId": None},
        ),
        _Probe("the stack's subnet", "a subnet of another network", {"networkConfiguration.subnetId": FOREIGN_SUBNET}),
        *(_Probe("a supported node agent", f"node agent {a!r}", {agent: a}) for a in retired_agents),
        _Probe(
            "simplified node communication", "Classic node communication", {"targetNodeCommunicationMode": "Classic"}
        ),
        _Probe(
            "simplified node communication", "no targetNodeCommunicationMode", {"targetNodeCommunicationMode": None}
        ),
    ]


def _points_at(source: StackResource, prop: str, target: StackResource) -> bool:
    """Whether `source`'s scope property is the target or a parent of it: by dependency on the target or on the
    resource group the target lives in (how a stack declares a landing-zone assignment at the group), or by ARM id
    where the state carries one. Never by a group's name alone: a group of that name in another subscription would
    pass for it."""
    scope = get(source.props, prop)
    if target.urn in source.property_dependencies.get(prop, ()) or _covers_scope(scope, target):
        return True
    return bool(
        set(source.property_dependencies.get(prop, ())) & set(target.property_dependencies.get("resourceGroupName", ()))
    )


def _definition_of(assignment: StackResource, definitions: Sequence[StackResource]) -> StackResource | None:
    wanted = get(assignment.props, "policyDefinitionId")
    for definition in definitions:
        if definition.urn in assignment.property_dependencies.get("policyDefinitionId", ()):
            return definition
        if isinstance(wanted, str) and _arm_id(definition) == wanted.lower():
            return definition
    return None


def _contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False


@dataclass
class _Assignment:
    resource: StackResource
    body: dict[str, Any]  # the definition's properties: parameters and policyRule
    values: dict[str, Any]  # the assignment's parameter values
    waived_by: str  # why it does not count on this account ("" when it does)


def _why_not_enforced(
    assignment: StackResource, definition: StackResource, account: StackResource, exemptions: Sequence[StackResource]
) -> str:
    if same(get(assignment.props, "enforcementMode"), "DoNotEnforce"):
        return "enforcementMode is DoNotEnforce"
    # Azure Policy: mode Indexed evaluates only resource types that support tags and location; pools have neither.
    mode = get(definition.props, "mode")
    if known(mode) and not same(mode, "All"):
        return f"its definition's mode is {mode!r}, which never evaluates pools"
    for override in items(get(assignment.props, "overrides")):
        value = get(override, "value")
        if same(get(override, "kind"), "policyEffect") and not same(value, "Deny"):
            return f"overrides set its effect to {value!r}"
    if items(get(assignment.props, "resourceSelectors")):
        return "resourceSelectors narrow where it applies (the pack cannot prove they keep the account's pools)"
    for scope in items(get(assignment.props, "notScopes")):
        if _covers_scope(scope, account):
            return f"notScopes {scope!r} exclude the account"
    for exemption in exemptions:
        applies_here = _points_at(exemption, "scope", account)
        waives_this = assignment.urn in exemption.property_dependencies.get("policyAssignmentId", ()) or (
            bool(_arm_id(assignment)) and str(get(exemption.props, "policyAssignmentId")).lower() == _arm_id(assignment)
        )
        if applies_here and waives_this:
            return f"policy exemption {exemption.name!r} waives it on the account"
    return ""


def _assignments_on(
    account: StackResource,
    assignments: Sequence[StackResource],
    definitions: Sequence[StackResource],
    exemptions: Sequence[StackResource],
) -> Iterator[_Assignment | None]:
    """The assignments in scope of the account whose definition the stack declares; None for one still computed."""
    for assignment in assignments:
        if not _points_at(assignment, "scope", account):
            continue
        definition = _definition_of(assignment, definitions)
        if definition is None:
            continue
        body = {"parameters": get(definition.props, "parameters"), "policyRule": get(definition.props, "policyRule")}
        values = {
            name: get(spec, "value")
            for name, spec in (get(assignment.props, "parameters") or {}).items()
            if isinstance(spec, Mapping)
        }
        if not isinstance(body["policyRule"], Mapping) or _contains_unknown(body) or _contains_unknown(values):
            yield None
            continue
        if not known(body["parameters"]):
            body["parameters"] = {}
        yield _Assignment(assignment, body, values, _why_not_enforced(assignment, definition, account, exemptions))


def _effect(evaluator: Evaluator, candidate: _Assignment, pool: Mapping[str, Any]) -> str:
    try:
        return (evaluator.effect(candidate.body, pool, candidate.values) or "").lower()
    except (UnsupportedPolicyError, KeyError, TypeError) as error:
        return f"unreadable ({error})"


def _allowed_subnet_ids(candidate: _Assignment) -> list[str]:
    return [
        value
        for values in candidate.values.values()
        for value in (values if isinstance(values, list) else [values])
        if isinstance(value, str) and "/subnets/" in value.lower()
    ]


def _subnet_key(subnet_id: str) -> tuple[str, str]:
    """(virtual network, subnet) named by an ARM subnet id, lower-cased."""
    parts = subnet_id.strip("/").lower().split("/")
    try:
        return parts[parts.index("virtualnetworks") + 1], parts[parts.index("subnets") + 1]
    except (ValueError, IndexError):
        return "", subnet_id.lower()


def _stack_subnets(resources: Sequence[StackResource]) -> set[tuple[str, str]]:
    """The stack's subnets as (virtual network, subnet) names: ids are not among a resource's outputs."""
    found = set()
    for subnet in _of(resources, SUBNET):
        vnet, name = get(subnet.props, "virtualNetworkName"), get(subnet.props, "name")
        if isinstance(vnet, str) and isinstance(name, str):
            found.add((vnet.lower(), name.lower()))
    return found


def _governed(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    accounts = _of(resources, BATCH)
    definitions = _of(resources, POLICY_DEFINITION)
    assignments = _of(resources, POLICY_ASSIGNMENT)
    exemptions = _of(resources, POLICY_EXEMPTION)
    stack_subnets = _stack_subnets(resources) | {_subnet_key(str(s)) for s in cfg.get("poolSubnetIds", [])}
    probes = _probes(cfg.get("retiredNodeAgents", RETIRED_NODE_AGENTS))
    evaluator = Evaluator(POOL_ALIASES)
    for account in accounts:
        found = list(_assignments_on(account, assignments, definitions, exemptions))
        if any(candidate is None for candidate in found):
            continue  # judged at update, with the computed parameters resolved
        candidates = [c for c in found if c is not None]
        enforced = [c for c in candidates if not c.waived_by]
        for candidate in enforced:
            foreign = [s for s in _allowed_subnet_ids(candidate) if _subnet_key(s) not in stack_subnets]
            if foreign:
                yield (
                    f"policy assignment {candidate.resource.name!r} lets {_label(account)}'s pools join {foreign[0]!r}, "
                    "a subnet this stack does not declare (list it in poolSubnetIds if it is governed elsewhere).",
                    candidate.resource.urn,
                )
        uncovered: dict[str, list[str]] = {}
        for probe in probes:
            denied = False
            for candidate in enforced:
                allowed = _allowed_subnet_ids(candidate)
                pool = _pool(allowed[0] if allowed else FOREIGN_SUBNET, probe.changes)
                if all(_effect(evaluator, candidate, {**pool, "name": name}) == "deny" for name in PROBE_NAMES):
                    denied = True
                    break
            if not denied:
                uncovered.setdefault(probe.guarantee, []).append(probe.what)
        for guarantee, faults in uncovered.items():
            waived = [f"{c.resource.name!r} ({c.waived_by})" for c in candidates if c.waived_by]
            note = f" Not counted: {'; '.join(waived)}." if waived else ""
            yield (
                finding(
                    f"{_label(account)}: no enforced Deny policy assignment keeps pools to {guarantee}; a pool with "
                    f"{' or '.join(faults)} would be created (services create pools at run time, out of this pack's "
                    f"sight).{note}",
                    guarantee=guarantee,
                ),
                account.urn,
            )


POLICIES = [
    StackRule(
        name="batch-runtime-pools-governed",
        check=_governed,
        subjects=(BATCH,),
        description="Every Batch account carries enforced Azure Policy assignments whose definitions, run against probe "
        "pools, deny public IPs, pools outside the stack's subnets, retired node agents and classic node communication, "
        "with no notScopes or exemption for the account: TES creates pools at run time, where only Azure Policy can refuse them.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Assign Deny definitions on the Batch account for the pool aliases networkConfiguration."
        "publicIPAddressConfiguration.provision, networkConfiguration.subnetId, deploymentConfiguration."
        "virtualMachineConfiguration.nodeAgentSkuId and targetNodeCommunicationMode (this project: "
        "components/batch_governance.py).",
        anchor="none: gap in existing scanners",
        config={
            "retiredNodeAgents": {"type": "array", "items": {"type": "string"}, "default": RETIRED_NODE_AGENTS},
            "poolSubnetIds": {"type": "array", "items": {"type": "string"}, "default": []},
        },
    ),
]
