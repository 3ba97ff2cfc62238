"""A small NetworkPolicy evaluator (networking.k8s.io/v1 semantics) over rendered objects, and the object sets that
exist at each moment of a release: a hook pod is judged only against the policies that exist when it runs.

Semantics (kubernetes.io/docs/concepts/services-networking/network-policies): a pod selected by no policy of a
direction is open in that direction; otherwise a flow is allowed when any selecting policy's rule matches it. A
pod-to-pod flow needs egress from the source and ingress to the destination. Named ports are not used by the chart
and are treated as no match.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KUBE_SYSTEM = {"kubernetes.io/metadata.name": "kube-system"}
KUBE_DNS = {"k8s-app": "kube-dns"}


@dataclass(frozen=True, kw_only=True)
class Pod:
    labels: Mapping[str, str]
    namespace: str


@dataclass(frozen=True, kw_only=True)
class PodTarget:
    """A destination pod (labels and its namespace's labels) on a port."""

    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str]
    port: int
    protocol: str = "TCP"
    namespace: str = ""


@dataclass(frozen=True, kw_only=True)
class AddressTarget:
    """A destination outside the cluster's pods: an IP address (a private endpoint, PostgreSQL, Entra ID)."""

    address: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True, kw_only=True)
class Moment:
    """The objects that exist at one moment of a release, and why (for failure messages)."""

    name: str
    objects: list[dict[str, Any]] = field(default_factory=list)


def _hooks(obj: Mapping[str, Any]) -> set[str]:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", "")
    return {h.strip() for h in raw.split(",") if h.strip()}


def _kept_after_run(obj: Mapping[str, Any]) -> bool:
    """Hook objects without hook-succeeded in their delete policy stay in the cluster after the hook phase."""
    policy = ((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook-delete-policy", "")
    return "hook-succeeded" not in policy


def install_moment(objects: Iterable[dict[str, Any]]) -> Moment:
    """`helm install`, pre-install phase: only pre-install hooks exist (nothing of the release yet)."""
    return Moment(name="install (pre-install hooks only)", objects=[o for o in objects if "pre-install" in _hooks(o)])


def upgrade_moment(objects: Iterable[dict[str, Any]]) -> Moment:
    """`helm upgrade`, pre-upgrade phase: the previous release's objects and the pre-upgrade hooks."""
    objects = list(objects)
    return Moment(
        name="upgrade (previous release + pre-upgrade hooks)",
        objects=[o for o in objects if not _hooks(o) or "pre-upgrade" in _hooks(o)],
    )


def running_moment(objects: Iterable[dict[str, Any]]) -> Moment:
    """After install: the release's objects and the hook objects that outlive their phase."""
    objects = list(objects)
    return Moment(
        name="running release",
        objects=[o for o in objects if not _hooks(o) or ("test" not in _hooks(o) and _kept_after_run(o))],
    )


def helm_test_moment(objects: Iterable[dict[str, Any]]) -> Moment:
    """`helm test`: the running release plus the test hooks."""
    objects = list(objects)
    running = running_moment(objects).objects
    return Moment(name="helm test", objects=running + [o for o in objects if "test" in _hooks(o)])


def _matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _policies(moment: Moment, pod: Pod, direction: str) -> list[dict[str, Any]]:
    selected = []
    for obj in moment.objects:
        if obj.get("kind") != "NetworkPolicy" or obj["metadata"].get("namespace", pod.namespace) != pod.namespace:
            continue
        spec = obj["spec"]
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
        if direction in types and _matches(spec.get("podSelector"), pod.labels):
            selected.append(obj)
    return selected


def selected(moment: Moment, pod: Pod, direction: str) -> bool:
    """Whether any policy of `moment` selects `pod` for `direction` ("Ingress" or "Egress")."""
    return bool(_policies(moment, pod, direction))


def _port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        if "port" not in entry:
            return True
        start = entry["port"]
        if isinstance(start, int) and start <= port <= entry.get("endPort", start):
            return True
    return False


def _peer_matches(peer: Mapping[str, Any], target: PodTarget | AddressTarget, own_namespace: str) -> bool:
    if "ipBlock" in peer:
        if not isinstance(target, AddressTarget):
            return False
        address = ipaddress.ip_address(target.address)
        block = peer["ipBlock"]
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if not isinstance(target, PodTarget):
        return False
    if "namespaceSelector" in peer:
        if not _matches(peer["namespaceSelector"], target.namespace_labels):
            return False
    elif target.namespace != own_namespace:
        return False
    return "podSelector" not in peer or _matches(peer["podSelector"], target.labels)


def egress_allowed(moment: Moment, pod: Pod, target: PodTarget | AddressTarget) -> bool:
    policies = _policies(moment, pod, "Egress")
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("egress") or []:
            peers = rule.get("to")
            if _port_matches(rule.get("ports"), target.port, target.protocol) and (
                not peers or any(_peer_matches(p, target, pod.namespace) for p in peers)
            ):
                return True
    return False


def ingress_allowed(moment: Moment, source: Pod, destination: Pod, port: int, protocol: str = "TCP") -> bool:
    policies = _policies(moment, destination, "Ingress")
    if not policies:
        return True
    as_target = PodTarget(
        labels=source.labels,
        namespace_labels={"kubernetes.io/metadata.name": source.namespace},
        namespace=source.namespace,
        port=port,
        protocol=protocol,
    )
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            if _port_matches(rule.get("ports"), port, protocol) and (
                not peers or any(_peer_matches(p, as_target, destination.namespace) for p in peers)
            ):
                return True
    return False


def dns_target(protocol: str = "UDP") -> PodTarget:
    return PodTarget(labels=KUBE_DNS, namespace_labels=KUBE_SYSTEM, namespace="kube-system", port=53, protocol=protocol)
