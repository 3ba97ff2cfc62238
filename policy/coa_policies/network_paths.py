"""Stack rules over network paths: egress that must pass the firewall, and private DNS zones the VNet must resolve.

A cluster with networkProfile.outboundType userDefinedRouting sends its egress wherever its subnet's route table
says. AKS asks for a 0.0.0.0/0 route to a gateway or appliance on the cluster subnet and checks it is not the
Internet (MicrosoftDocs/azure-aks-docs@fb060ab:articles/aks/egress-outboundtype.md:70, articles/aks/egress-udr.md:51-52),
but a later change to the subnet or the table is the network's, not the cluster's: nothing re-checks it then. A private DNS zone answers only for VNets linked to it: unlinked, names resolve to public endpoints
(which refuse the connection, or, for a data account outside the stack, accept it over the Internet).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import Severity

from ._core import (
    MISSING,
    NotApplicableError,
    StackResource,
    StackRule,
    get,
    is_world,
    items,
    matches_any,
    same,
)
from .stack import AKS, _label, _of, _Targets

AGENT_POOL = "azure-native:containerservice:AgentPool"
SUBNET = "azure-native:network:Subnet"
ROUTE_TABLE = "azure-native:network:RouteTable"
VNET = "azure-native:network:VirtualNetwork"
ZONE = "azure-native:privatedns:PrivateZone"
ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"
DEFAULT_ROUTES = ("0.0.0.0/0", "::/0")


def _firewall_subnets(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> list[StackResource]:
    """Subnets whose egress must pass the firewall: those of clusters with user-defined routing, and those named
    in firewallEgressSubnets."""
    subnets = _Targets(_of(resources, SUBNET))
    wanted: set[int] = set()
    for cluster in _of(resources, AKS):
        if not same(get(cluster.props, "networkProfile", "outboundType"), "userDefinedRouting"):
            continue
        ids = [get(p, "vnetSubnetID") for p in items(get(cluster.props, "agentPoolProfiles"))]
        wanted |= subnets.referred_by(cluster, "agentPoolProfiles", ids)
        for pool in _of(resources, AGENT_POOL):
            if cluster.urn in pool.dependencies:
                wanted |= subnets.referred_by(pool, "vnetSubnetID", [get(pool.props, "vnetSubnetID")])
    for position, subnet in enumerate(subnets.targets):
        names = [subnet.name, get(subnet.props, "subnetName")]
        if any(isinstance(n, str) and matches_any(n, cfg["firewallEgressSubnets"]) for n in names):
            wanted.add(position)
    return [subnets.targets[i] for i in sorted(wanted)]


def _default_route_problem(table: StackResource) -> str:
    routes = items(get(table.props, "routes"))
    defaults = [r for r in routes if isinstance(r, Mapping) and get(r, "addressPrefix") in DEFAULT_ROUTES]
    if not defaults:
        return f"route table {table.name!r} has no default route (0.0.0.0/0)"
    hops = [get(r, "nextHopType") for r in defaults]
    bad = [h for h in hops if isinstance(h, str) and not same(h, "VirtualAppliance")]
    if bad:
        return f"route table {table.name!r} sends the default route to {bad[0]!r}, not the firewall (VirtualAppliance)"
    # The longest prefix wins: 0.0.0.0/1 and 128.0.0.0/1 to the Internet override a default route to the firewall.
    for route in routes:
        prefix = get(route, "addressPrefix")
        if same(get(route, "nextHopType"), "Internet") and is_world(prefix) and prefix not in DEFAULT_ROUTES:
            return f"route table {table.name!r} sends {prefix!r} straight to the Internet, around the firewall"
    return ""


def _egress(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    subnets = _firewall_subnets(resources, cfg)
    if not subnets:
        raise NotApplicableError("no subnet's egress must pass a firewall")
    tables = _Targets(_of(resources, ROUTE_TABLE))
    for subnet in subnets:
        reference = get(subnet.props, "routeTable")
        if reference is MISSING:
            yield f"{_label(subnet)} has no route table: its egress bypasses the firewall.", subnet.urn
            continue
        for position in sorted(tables.referred_by(subnet, "routeTable", [get(reference, "id")])):
            problem = _default_route_problem(tables.targets[position])
            if problem:
                yield f"{_label(subnet)}: {problem}.", subnet.urn


def _dns_links(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    zones = _Targets(_of(resources, ZONE))
    vnets = _Targets(_of(resources, VNET))
    names = {get(z.props, "privateZoneName"): i for i, z in enumerate(zones.targets)}
    linked: dict[int, list[StackResource]] = {}
    for link in _of(resources, ZONE_LINK):
        found = zones.referred_by(link, "privateZoneName")
        zone_name = get(link.props, "privateZoneName")
        if isinstance(zone_name, str) and zone_name in names:
            found.add(names[zone_name])
        for position in found:
            linked.setdefault(position, []).append(link)
    for position, zone in enumerate(zones.targets):
        links = linked.get(position, [])
        if not links:
            yield f"{_label(zone)} is linked to no virtual network: its records resolve nowhere.", zone.urn
        elif vnets.targets and not any(
            vnets.referred_by(link, "virtualNetwork", [get(link.props, "virtualNetwork", "id")]) for link in links
        ):
            yield f"{_label(zone)} is not linked to the stack's virtual network.", zone.urn


POLICIES = [
    StackRule(
        name="egress-through-firewall",
        check=_egress,
        subjects=(AKS, AGENT_POOL, SUBNET),
        description="Subnets whose egress must pass the firewall (user-defined-routing clusters' subnets, and "
        "firewallEgressSubnets) keep a route table whose default route goes to a virtual appliance.",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation="Associate the subnet with the route table whose 0.0.0.0/0 route has nextHopType "
        "VirtualAppliance and the firewall's private IP (this project: network.egress: firewall).",
        anchor="none: gap in existing scanners",
        config={"firewallEgressSubnets": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    StackRule(
        name="private-dns-zone-linked",
        check=_dns_links,
        subjects=(ZONE,),
        description="Every private DNS zone of the stack is linked to the stack's virtual network.",
        severity=Severity.MEDIUM,
        safeguard="transmission",
        remediation="Add a privatedns VirtualNetworkLink from the zone to the VNet (registrationEnabled: false).",
        anchor="none: gap in existing scanners",
    ),
]
