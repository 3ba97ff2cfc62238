"""Kubernetes exposure: Services reachable from outside the cluster, and NetworkPolicies that open egress to the
Internet. Cromwell and TES serve unauthenticated HTTP APIs; only the pods the chart names may reach them, and pods
reach the Internet only on the ports the workload needs (HTTPS to Azure's public endpoints).

Reads typed Services and NetworkPolicies and those a Helm v3 Release of a local chart renders (see _workloads.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, items, known, same
from ._workloads import RELEASE, TYPED_OBJECTS, objects

# Services of these types listen on every node or on a load balancer frontend, outside the cluster network.
EXPOSED_TYPES = ("LoadBalancer", "NodePort")
# An ipBlock at least this wide that is not private address space stands for "the Internet".
_WIDE_PUBLIC_PREFIX = 8
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _service_exposed(s: Subject) -> Iterable[str]:
    for label, service in objects(s, "Service"):
        kind = get(service, "spec", "type")
        if isinstance(kind, str) and any(same(kind, t) for t in EXPOSED_TYPES):
            yield f"{label}: type {kind} exposes it outside the cluster."
        external = [ip for ip in items(get(service, "spec", "externalIPs")) if known(ip)]
        if external:
            yield f"{label}: externalIPs {external} route outside traffic to it."
    # An Ingress publishes its backends through whatever ingress controller serves its class (AKS's application
    # routing add-on runs one on a public load balancer by default).
    for label, ingress in objects(s, "Ingress"):
        backends = [
            get(path, "backend", "service", "name")
            for rule in items(get(ingress, "spec", "rules"))
            for path in items(get(rule, "http", "paths"))
        ] + [get(ingress, "spec", "defaultBackend", "service", "name")]
        named = sorted({b for b in backends if isinstance(b, str)})
        yield f"{label}: publishes {', '.join(named) or 'its backends'} through an ingress controller."


def _public_cidr(peer: Any) -> str | None:
    """The ipBlock of a NetworkPolicy peer when it is public address space, of any width."""
    cidr = get(peer, "ipBlock", "cidr") if isinstance(peer, Mapping) else None
    if not isinstance(cidr, str):
        return None
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None
    private = any(network.version == p.version and network.subnet_of(p) for p in _PRIVATE)  # type: ignore[arg-type]
    return None if private else cidr


def _internet_peer(peer: Any) -> bool:
    """Whether a NetworkPolicy egress peer admits Internet addresses ({} or a wide public ipBlock)."""
    if not isinstance(peer, Mapping):
        return False
    if not peer:
        return True
    cidr = _public_cidr(peer)
    return cidr is not None and ipaddress.ip_network(cidr.strip(), strict=False).prefixlen <= _WIDE_PUBLIC_PREFIX


def _egress_ports(rule: Mapping[str, Any]) -> list[Any] | None:
    """The ports an egress rule allows; None for all ports. A range (endPort, Kubernetes 1.25 and later) is
    `start-end`, so that an allowed start port cannot carry every port above it."""
    ports = get(rule, "ports")
    if ports is MISSING or ports == []:
        return None
    allowed: list[Any] = []
    for entry in items(ports):
        port, end = _number(get(entry, "port")), _number(get(entry, "endPort"))
        allowed.append(f"{port}-{end}" if known(end) and end != port else port)
    return allowed


def _number(value: Any) -> Any:
    """A port as the engine sends it (numbers arrive as floats over gRPC), written as Kubernetes writes it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _egress_restricted(s: Subject) -> Iterable[str]:
    allowed = {str(p) for p in s.config["allowedInternetEgressPorts"]}
    for label, policy in objects(s, "NetworkPolicy"):
        for index, rule in enumerate(items(get(policy, "spec", "egress"))):
            if not isinstance(rule, Mapping):
                continue
            peers = get(rule, "to")
            if peers is UNKNOWN:
                continue
            to_internet = peers is MISSING or peers == [] or any(_internet_peer(p) for p in items(peers))
            ports = _egress_ports(rule)
            if not to_internet:
                # A narrower public block is an address someone else owns: a port range or every port to it is a
                # channel out (Cosmos DB's range is meant for the private-endpoint subnet only).
                public = [c for c in map(_public_cidr, items(peers)) if c]
                ranged = ports is None or any("-" in str(p) for p in ports)
                if public and ranged:
                    shown = "every port" if ports is None else f"ports {ports}"
                    yield f"{label}: egress[{index}] allows {shown} to public addresses {public[0]!r}."
                continue
            if ports is None:
                yield f"{label}: egress[{index}] allows every port to the Internet."
                continue
            wider = [p for p in ports if known(p) and str(p) not in allowed]
            if wider:
                yield f"{label}: egress[{index}] allows ports {wider} to the Internet; allowed: {sorted(allowed)}."


POLICIES = [
    Rule(
        name="k8s-service-not-exposed",
        types=(TYPED_OBJECTS["Service"], TYPED_OBJECTS["Ingress"], RELEASE),
        check=_service_exposed,
        description="Kubernetes Services stay inside the cluster (no LoadBalancer, NodePort, externalIPs or Ingress).",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Use type ClusterIP; reach the service with kubectl port-forward through the private API "
        "server, or put an authenticating ingress in front of it on purpose (and waive that Service by name).",
        anchor="Azure Policy: Kubernetes clusters should use internal load balancers; Kubernetes cluster services "
        "should only use allowed external IPs",
    ),
    Rule(
        name="k8s-network-policy-egress-restricted",
        types=(TYPED_OBJECTS["NetworkPolicy"], RELEASE),
        check=_egress_restricted,
        description="NetworkPolicies open egress to the Internet only on the allowed ports (default 443), never "
        "on every port.",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation="Name the destinations (pod/namespace selectors, private ipBlocks) or restrict Internet egress "
        "to allowedInternetEgressPorts; egress to the Internet also passes the hub firewall in production.",
        anchor="none: gap in existing scanners",
        config={
            "allowedInternetEgressPorts": {"type": "array", "items": {"type": ["integer", "string"]}, "default": [443]}
        },
    ),
]
