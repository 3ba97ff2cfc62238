"""Virtual networks: NSG rules (inline or separate), subnets and flow logs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, get, is_world, items, known, same

NSG = "azure-native:network:NetworkSecurityGroup"
SECURITY_RULE = "azure-native:network:SecurityRule"
SUBNET = "azure-native:network:Subnet"
VNET = "azure-native:network:VirtualNetwork"
FLOW_LOG = "azure-native:network:FlowLog"

# Subnets Azure does not allow an NSG on (the gateway and firewall services manage their own traffic).
NSG_FORBIDDEN_SUBNETS = ["GatewaySubnet", "AzureFirewallSubnet", "AzureFirewallManagementSubnet", "RouteServerSubnet"]


def security_rules(s: Subject) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(label, rule) for a SecurityRule resource or each rule inline in an NSG."""
    if s.type == SECURITY_RULE:
        yield s.name, s.props
        return
    for index, rule in enumerate(items(get(s.props, "securityRules"))):
        if isinstance(rule, Mapping):
            label = get(rule, "name")
            yield (label if isinstance(label, str) else f"securityRules[{index}]"), rule


def _port_spans(rule: Mapping[str, Any]) -> list[tuple[int, int]] | None:
    """Destination ports as inclusive spans; None if any part is computed."""
    values = items(get(rule, "destinationPortRange")) + items(get(rule, "destinationPortRanges"))
    spans: list[tuple[int, int]] = []
    for value in values:
        if value is UNKNOWN:
            return None
        for part in str(value).split(","):
            part = part.strip()
            if part in ("*", ""):
                spans.append((0, 65535))
            elif "-" in part:
                low, high = part.split("-", 1)
                spans.append((int(low), int(high)))
            else:
                spans.append((int(part), int(part)))
    return spans


def covers(rule: Mapping[str, Any], port: int) -> bool:
    spans = _port_spans(rule)
    return spans is not None and any(low <= port <= high for low, high in spans)


def _protocol_covers(rule: Mapping[str, Any], protocols: tuple[str, ...]) -> bool:
    protocol = get(rule, "protocol")
    return isinstance(protocol, str) and protocol.lower() in ("*", "any", *protocols)


def _open_to_world(rule: Mapping[str, Any], direction: str) -> list[str]:
    """World prefixes an allow rule in ``direction`` admits (source for inbound, destination for outbound)."""
    if not (same(get(rule, "access"), "Allow") and same(get(rule, "direction"), direction)):
        return []
    side = "source" if direction == "Inbound" else "destination"
    prefixes = items(get(rule, f"{side}AddressPrefix")) + items(get(rule, f"{side}AddressPrefixes"))
    return [p for p in prefixes if is_world(p)]


def _inbound_any(s: Subject) -> Iterable[str]:
    for label, rule in security_rules(s):
        for prefix in _open_to_world(rule, "Inbound"):
            yield f"rule {label!r} allows inbound traffic from {prefix!r}."


def _inbound_port(port: int, service: str, protocols: tuple[str, ...]):
    def check(s: Subject) -> Iterable[str]:
        for label, rule in security_rules(s):
            world = _open_to_world(rule, "Inbound")
            if world and _protocol_covers(rule, protocols) and covers(rule, port):
                yield f"rule {label!r} opens {service} (port {port}) to {world[0]!r}."

    return check


# RFC 1918, RFC 6598 (shared address space) and IPv6 unique local addresses.
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"]
# Service tags for traffic that never leaves Azure's private fabric: the VNet (and its peers) and the health probe.
PRIVATE_TAGS = ["VirtualNetwork", "AzureLoadBalancer"]


def _outside(prefix: str, ranges: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    network = ipaddress.ip_network(prefix, strict=False)
    return not any(network.version == r.version and network.subnet_of(r) for r in ranges)  # type: ignore[arg-type]


def _inbound_private(s: Subject) -> Iterable[str]:
    ranges = [ipaddress.ip_network(r, strict=False) for r in s.config["privateRanges"]]
    tags = {t.lower() for t in s.config["allowedSourceTags"]}
    for label, rule in security_rules(s):
        if not (same(get(rule, "access"), "Allow") and same(get(rule, "direction"), "Inbound")):
            continue
        for prefix in items(get(rule, "sourceAddressPrefix")) + items(get(rule, "sourceAddressPrefixes")):
            if not isinstance(prefix, str) or is_world(prefix):
                continue  # computed, or reported by nsg-no-inbound-from-internet
            try:
                public = _outside(prefix.strip(), ranges)
            except ValueError:  # a service tag
                if prefix.strip().lower() not in tags:
                    yield f"rule {label!r} allows inbound traffic from service tag {prefix!r}, which is not private."
                continue
            if public:
                yield f"rule {label!r} allows inbound traffic from {prefix!r}, which is not private address space."


def _outbound_any(s: Subject) -> Iterable[str]:
    for label, rule in security_rules(s):
        for prefix in _open_to_world(rule, "Outbound"):
            yield f"rule {label!r} allows unrestricted outbound traffic to {prefix!r}."


def subnets(s: Subject) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if s.type == SUBNET:
        name = get(s.props, "subnetName")
        yield (name if isinstance(name, str) else s.name), s.props
        return
    for index, subnet in enumerate(items(get(s.props, "subnets"))):
        if isinstance(subnet, Mapping):
            name = get(subnet, "name")
            yield (name if isinstance(name, str) else f"subnets[{index}]"), subnet


def _exempt(name: str, s: Subject) -> bool:
    return name.lower() in {n.lower() for n in s.config["exemptSubnets"]}


def _subnet_nsg(s: Subject) -> Iterable[str]:
    for name, subnet in subnets(s):
        if not _exempt(name, s) and get(subnet, "networkSecurityGroup") is MISSING:
            yield f"subnet {name!r} has no networkSecurityGroup."


def _no_default_outbound(s: Subject) -> Iterable[str]:
    for name, subnet in subnets(s):
        value = get(subnet, "defaultOutboundAccess")
        if not _exempt(name, s) and value is not UNKNOWN and value is not False:
            yield f"subnet {name!r} does not set defaultOutboundAccess: false (implicit public egress IP)."


def _flow_log_retention(s: Subject) -> Iterable[str]:
    minimum = int(s.config["minRetentionDays"])
    enabled = get(s.props, "retentionPolicy", "enabled")
    days = get(s.props, "retentionPolicy", "days")
    if enabled is UNKNOWN or days is UNKNOWN:
        return
    if enabled is not True:
        yield "retentionPolicy.enabled is not true: flow logs are not retained."
    elif known(days) and days != 0 and days < minimum:  # 0 means "keep forever"
        yield f"retentionPolicy.days is {days:g}; at least {minimum} required."


_NSG_TYPES = (NSG, SECURITY_RULE)
_SUBNET_TYPES = (SUBNET, VNET)
_SUBNET_CONFIG = {"exemptSubnets": {"type": "array", "items": {"type": "string"}, "default": NSG_FORBIDDEN_SUBNETS}}
_TIGHTEN = (
    "Replace the source with a VNet prefix, the VirtualNetwork tag or a named peer range; reach "
    "workloads through private endpoints, Bastion or the hub firewall."
)

POLICIES = [
    Rule(
        name="nsg-no-inbound-from-internet",
        types=_NSG_TYPES,
        check=_inbound_any,
        description="No NSG rule allows inbound traffic from the Internet, '*', 'Any' or 0.0.0.0/0 on any port.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation=_TIGHTEN,
        anchor="Azure Policy: All network ports should be restricted on network security groups associated to your virtual machine",
    ),
    Rule(
        name="nsg-no-ssh-from-internet",
        types=_NSG_TYPES,
        check=_inbound_port(22, "SSH", ("tcp",)),
        description="No NSG rule exposes SSH (22/tcp) to the Internet.",
        severity=Severity.CRITICAL,
        safeguard="access",
        remediation=_TIGHTEN,
        anchor="CKV_AZURE_10",
    ),
    Rule(
        name="nsg-no-rdp-from-internet",
        types=_NSG_TYPES,
        check=_inbound_port(3389, "RDP", ("tcp", "udp")),
        description="No NSG rule exposes RDP (3389) to the Internet.",
        severity=Severity.CRITICAL,
        safeguard="access",
        remediation=_TIGHTEN,
        anchor="CKV_AZURE_9",
    ),
    Rule(
        name="nsg-no-http-from-internet",
        types=_NSG_TYPES,
        check=_inbound_port(80, "HTTP", ("tcp",)),
        description="No NSG rule exposes plain HTTP (80/tcp) to the Internet.",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation=_TIGHTEN,
        anchor="CKV_AZURE_160",
    ),
    Rule(
        name="nsg-inbound-private-sources-only",
        types=_NSG_TYPES,
        check=_inbound_private,
        description="NSG rules allow inbound traffic only from private address space (RFC 1918/6598) or the "
        "VirtualNetwork and AzureLoadBalancer tags, never from a public range or tag.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Replace the public source with the VNet or a peered private range (operators reach the "
        "stack through the hub; this project: network.trustedSourceCidrs). Add the ranges of a VNet that uses "
        "public addresses privately to privateRanges.",
        anchor="Azure Policy: All network ports should be restricted on network security groups associated to your "
        "virtual machine (analogue)",
        config={
            "privateRanges": {"type": "array", "items": {"type": "string"}, "default": PRIVATE_RANGES},
            "allowedSourceTags": {"type": "array", "items": {"type": "string"}, "default": PRIVATE_TAGS},
        },
    ),
    Rule(
        name="nsg-outbound-internet-restricted",
        types=_NSG_TYPES,
        check=_outbound_any,
        mandatory=False,
        description="NSG rules do not explicitly allow unrestricted outbound traffic to the Internet.",
        severity=Severity.LOW,
        safeguard="transmission",
        remediation="Send egress through the NAT gateway or hub firewall and allow only the service tags needed.",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="subnet-has-nsg",
        types=_SUBNET_TYPES,
        check=_subnet_nsg,
        description="Every subnet (separate or inline in a VNet) has a network security group, except subnets "
        "where Azure forbids one.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set networkSecurityGroup: {id: <nsg id>} on the subnet.",
        anchor="CKV2_AZURE_31",
        config=_SUBNET_CONFIG,
    ),
    Rule(
        name="subnet-default-outbound-access-disabled",
        types=_SUBNET_TYPES,
        check=_no_default_outbound,
        description="Subnets do not get Azure's implicit default outbound (public) IP.",
        severity=Severity.MEDIUM,
        safeguard="transmission",
        remediation="Set defaultOutboundAccess: false and give the subnet explicit egress (NAT gateway or UDR).",
        anchor="Azure Policy: Subnets should be private",
        config=_SUBNET_CONFIG,
    ),
    Rule(
        name="flow-log-retention-90-days",
        types=(FLOW_LOG,),
        check=_flow_log_retention,
        description="NSG/VNet flow logs, where present, are retained for at least the configured days.",
        severity=Severity.MEDIUM,
        safeguard="audit",
        remediation="Set retentionPolicy: {enabled: true, days: >= minRetentionDays} (0 keeps logs forever).",
        anchor="CKV_AZURE_12",
        config={"minRetentionDays": {"type": "integer", "minimum": 1, "default": 90}},
    ),
]
