"""What the runtime contracts describe, derived from them: the storage containers, the role grants, the pods' egress
(NetworkPolicies) and the hub firewall's allow-list. Components build from these, so a contract and the thing it
describes cannot drift: remove an entry and its container, grant or rule goes with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from components.contracts import (
    PRINCIPAL_IDENTITY,
    AzureAction,
    Condition,
    Contract,
    Egress,
    Scope,
    all_contracts,
)
from components.contracts.platform import ACR_BUILD, AKS_NODES
from components.contracts.roles import is_data_action, role_cover

# `workload` and `kubelet` are the managed identities (components/identity.py); `<workload>-app` is the Entra
# application a generation's pod signs in as when its SDK has no federated flow (Contract.pod_identity "application").
Identity = str


def _active(condition: Condition | None, conditions: frozenset[str]) -> bool:
    return condition is None or condition in conditions


def identity_of(contract: Contract, action: AzureAction) -> Identity:
    """Who performs the action: the pod's own SDK calls run as its application where the contract says so; reads
    through the secrets-store CSI driver, Batch nodes and image pulls run as the managed identities."""
    if action.principal == "pod" and contract.pod_identity == "application" and action.via != "secrets-csi":
        return f"{contract.workload}-app"
    return PRINCIPAL_IDENTITY[action.principal]


def stack_conditions(*, generation: str, shared_key_access: bool, image_scanner: bool) -> frozenset[str]:
    """The contract conditions a stack's options switch on. `sharedKeyAccess` is Cromwell's blob filesystem, which
    signs SAS with the account key; TES 3.2 accepts only /cromwell-executions/ paths
    (CromwellOnAzure@3.2.0:src/TesApi.Web/BatchScheduler.cs:633-639, 814-817), so with it Cromwell stays on the mount
    even though that generation keeps shared keys on."""
    return frozenset(
        name
        for name, on in (
            ("sharedKeyAccess", shared_key_access and generation == "tes6"),
            ("imageScanner", image_scanner),
        )
        if on
    )


def containers(contracts: Sequence[Contract] | None = None) -> tuple[str, ...]:
    """Every blob container some workload needs in the CoA storage account, sorted."""
    return tuple(sorted({c.name for contract in contracts or all_contracts() for c in contract.containers}))


@dataclass(frozen=True, kw_only=True)
class Grant:
    """One role for one identity on one kind of scope, with the contract entries that need it."""

    identity: Identity
    scope: Scope
    role: str
    # `container` grants are made on each listed container of a data account, `resource` ones on the resource.
    level: Literal["resource", "container"] = "resource"
    needed_by: tuple[str, ...]  # "<workload>:<principal>:<operation>"


def _actions(contracts: Sequence[Contract] | None, conditions: Iterable[str]) -> list[tuple[Contract, AzureAction]]:
    active = frozenset(conditions)
    return [
        (contract, action)
        for contract in contracts or all_contracts()
        for action in contract.azure_actions
        if _active(action.condition, active)
    ]


def actions(
    contracts: Sequence[Contract] | None = None, conditions: Iterable[str] = ()
) -> list[tuple[str, AzureAction]]:
    return [(contract.workload, action) for contract, action in _actions(contracts, conditions)]


def grants(contracts: Sequence[Contract] | None = None, conditions: Iterable[str] = ()) -> list[Grant]:
    """The narrowest roles covering every action, per identity and scope. On data accounts, blob data
    operations are granted per container (read-only containers get only the read operations, see
    data_container_roles) and the rest on the account."""
    needs: dict[tuple[Identity, Scope, str], dict[str, list[str]]] = {}
    for contract, action in _actions(contracts, conditions):
        workload = contract.workload
        identity = identity_of(contract, action)
        level = "container" if action.scope == "data-account" and is_data_action(action.action) else "resource"
        needs.setdefault((identity, action.scope, level), {}).setdefault(action.action, []).append(
            f"{workload}:{action.principal}:{action.action.rsplit('/', 2)[-2]}/{action.action.rsplit('/', 1)[-1]}"
        )
    result = []
    for (identity, scope, level), by_operation in sorted(needs.items()):
        for role in role_cover(by_operation):
            from components.contracts.roles import covers

            needed_by = sorted({who for op, whos in by_operation.items() if covers(role, op) for who in whos})
            result.append(
                Grant(identity=identity, scope=scope, role=role, level=level, needed_by=tuple(needed_by))  # type: ignore[arg-type]
            )
    return result


def data_container_roles(
    access: Literal["read", "readWrite"], contracts: Sequence[Contract] | None = None
) -> list[str]:
    """Roles on one data-account container: the contracts' blob data operations, only reads on a read container."""
    operations = {
        action.action
        for _, action in actions(contracts)
        if action.scope == "data-account" and is_data_action(action.action)
    }
    if access == "read":
        operations = {op for op in operations if op.endswith("/read")}
    return role_cover(operations)


@dataclass(frozen=True, kw_only=True)
class EgressRule:
    """One NetworkPolicy egress rule of a workload's pods: `port`, or the range port..end_port (NetworkPolicy
    `endPort`, Kubernetes 1.25 and later)."""

    to: str
    port: int
    protocol: str
    end_port: int | None = None

    def values(self) -> dict[str, object]:
        """The chart's networkPolicy.egress entry (endPort only for a range, so single ports render as before)."""
        entry: dict[str, object] = {"to": self.to, "port": self.port, "protocol": self.protocol}
        if self.end_port is not None:
            entry["endPort"] = self.end_port
        return entry


def pod_egress(contract: Contract, conditions: Iterable[str] = ()) -> list[EgressRule]:
    """The destinations the workload's pods open connections to, except DNS (the namespace-wide allow-dns policy),
    one rule per destination and port (several FQDNs behind `azure-public` share one rule)."""
    active = frozenset(conditions)
    rules: list[EgressRule] = []
    for egress in contract.egress:
        if egress.principal != "pod" or egress.to == "kube-dns" or not _active(egress.condition, active):
            continue
        rule = EgressRule(to=egress.to, port=egress.port, protocol=egress.protocol, end_port=egress.end_port)
        if rule not in rules:
            rules.append(rule)
    return rules


def pod_ingress(contract: Contract, contracts: Sequence[Contract] | None = None) -> list[tuple[str, int]]:
    """(workload, port) pairs allowed into the workload's pods: every other workload whose egress names it."""
    return [
        (other.workload, egress.port)
        for other in contracts or all_contracts()
        for egress in other.egress
        if egress.to == f"pod:{contract.workload}"
    ]


@dataclass(frozen=True, kw_only=True)
class AllowRule:
    """One row of the hub firewall's allow-list: a host (or service tag) and port, who needs it and why."""

    destination: str
    port: int
    consumers: tuple[str, ...]
    why: str
    required: bool
    sources: tuple[str, ...]


def firewall_allow_list(
    contracts: Sequence[Contract] | None = None,
    conditions: Iterable[str] = (),
    *,
    platform: Sequence[Egress] = AKS_NODES,
    image_build: bool = True,
) -> list[AllowRule]:
    """Everything the stack's subnets must reach through the hub firewall, derived from the contracts' `azure-public`
    entries (workload pods and Batch nodes) and the platform's (AKS nodes, the ACR Tasks agent pool)."""
    active = frozenset(conditions)
    entries: list[tuple[str, Egress]] = []
    for contract in contracts or all_contracts():
        for egress in contract.egress:
            if egress.to == "azure-public" and _active(egress.condition, active):
                entries.append((f"{contract.workload} ({egress.principal})", egress))
    entries += [("aks nodes", egress) for egress in platform]
    if image_build:
        entries += [("acr tasks agent pool", egress) for egress in ACR_BUILD]
    rows: dict[tuple[str, int], AllowRule] = {}
    for consumer, egress in entries:
        for destination in egress.fqdns:
            key = (destination, egress.port)
            old = rows.get(key)
            rows[key] = AllowRule(
                destination=destination,
                port=egress.port,
                consumers=tuple(sorted({*(old.consumers if old else ()), consumer})),
                why=old.why if old else egress.why,
                required=(old.required if old else False) or not egress.optional,
                sources=tuple(sorted({*(old.sources if old else ()), egress.source})),
            )
    return sorted(rows.values(), key=lambda r: (r.destination.startswith("tag:"), r.destination, r.port))
