"""The network settings: VNet and subnets sized for what runs in them, egress, trusted ranges, and private DNS."""

from __future__ import annotations

import ipaddress
import re

from configuration.private_dns_zones import ZONE_NEEDED_BY, ZONES, zone_name, zones_for
from configuration.reader import AZURE_ID, PROJECT, ConfigError, Reader
from configuration.settings import (
    AksSettings,
    DnsSettings,
    FlowLogSettings,
    ImageBuildSettings,
    NetworkSettings,
    SubnetPlan,
)

# Azure reserves five addresses in every subnet (network, gateway, two DNS, broadcast).
AZURE_RESERVED_ADDRESSES = 5
# Each private endpoint takes one address; this leaves room for every endpoint the stack creates, twice over.
PRIVATE_ENDPOINT_ADDRESSES = 32
# Azure's minimum for a subnet delegated to PostgreSQL flexible servers is /28 (HA and scaling need spare IPs).
POSTGRES_MIN_PREFIX = 28

# One address per agent pool instance, and room to scale it (the default quota allows 16 vCPUs: 4 S2 instances).
ACR_TASKS_ADDRESSES = 8


def parse_network(
    reader: Reader,
    batch_max_nodes: int,
    aks: AksSettings,
    environment: str,
    location: str,
    image_build: ImageBuildSettings,
) -> NetworkSettings:
    net = reader.child(
        "network", {"addressSpace", "subnets", "egress", "firewallPrivateIp", "trustedSourceCidrs", "flowLogs"}
    )
    space = net.network("addressSpace", "10.1.0.0/16")
    subnets_reader = net.child("subnets", {"aks", "batch", "privateEndpoints", "postgres", "acrTasks"})
    defaults = {
        "aks": "10.1.0.0/22",
        "batch": "10.1.128.0/17",
        "privateEndpoints": "10.1.4.0/24",
        "postgres": "10.1.5.0/28",
    }
    if image_build.enabled:
        defaults["acrTasks"] = "10.1.6.0/27"
    elif subnets_reader.has("acrTasks"):
        raise subnets_reader.fail("acrTasks", "is only used when imageBuild.enabled is true; remove it")
    parsed = {key: subnets_reader.network(key, default) for key, default in defaults.items()}
    for key, cidr in parsed.items():
        if not cidr.subnet_of(space):
            raise subnets_reader.fail(key, f"{cidr} is outside the VNet address space {space}")
    keys = list(parsed)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            if parsed[first].overlaps(parsed[second]):
                raise subnets_reader.fail(second, f"{parsed[second]} overlaps subnet '{first}' ({parsed[first]})")

    def require_capacity(key: str, needed: int, reason: str) -> None:
        usable = parsed[key].num_addresses - AZURE_RESERVED_ADDRESSES
        if usable < needed:
            raise subnets_reader.fail(
                key, f"{parsed[key]} has {usable} usable addresses but {reason} needs {needed}; use a larger prefix"
            )

    # Batch nodes without public IPs each take one subnet address; simplified node communication adds none.
    require_capacity("batch", batch_max_nodes, f"batch.maxNodes ({batch_max_nodes})")
    # Azure CNI overlay: nodes take subnet addresses, pods do not; upgrades surge one extra node per pool.
    aks_nodes = aks.system_pool.max_count + aks.user_pool.max_count + 2
    require_capacity("aks", aks_nodes, f"the node pools' maxCount plus upgrade surge ({aks_nodes} nodes)")
    require_capacity("privateEndpoints", PRIVATE_ENDPOINT_ADDRESSES, "the private endpoints")
    if "acrTasks" in parsed:
        require_capacity("acrTasks", ACR_TASKS_ADDRESSES, "the ACR Tasks agent pool")
    if parsed["postgres"].prefixlen > POSTGRES_MIN_PREFIX:
        raise subnets_reader.fail("postgres", f"{parsed['postgres']} is smaller than the /28 Azure requires")

    for key, cidr in (("kubernetes.serviceCidr", aks.service_cidr), ("kubernetes.podCidr", aks.pod_cidr)):
        if cidr.overlaps(space):
            raise ConfigError(
                f"{PROJECT}:{key}: {cidr} overlaps the VNet address space {space}; pick a range outside it"
            )

    egress = net.choice("egress", ("natGateway", "firewall"), "natGateway" if environment == "dev" else "firewall")
    firewall_ip = net.address("firewallPrivateIp") if egress == "firewall" else None
    if egress != "firewall" and net.has("firewallPrivateIp"):
        raise net.fail("firewallPrivateIp", "is only used with egress 'firewall'; remove it or set egress: firewall")
    if firewall_ip and ipaddress.IPv4Address(firewall_ip) in space:
        raise net.fail("firewallPrivateIp", f"{firewall_ip} is inside this VNet; give the hub firewall's private IP")
    if firewall_ip and not ipaddress.IPv4Address(firewall_ip).is_private:
        # A user-defined route to a public next hop is rejected by Azure, and egress would bypass the hub.
        raise net.fail("firewallPrivateIp", f"{firewall_ip} is a public address; give the hub firewall's private IP")

    trusted = net.string_list("trustedSourceCidrs")
    for cidr in trusted:
        try:
            parsed_cidr = ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as exc:
            raise net.fail("trustedSourceCidrs", f"{cidr!r} is not a valid IPv4 CIDR ({exc})") from None
        # Trusted ranges are for a hub or operator network, never the Internet.
        if parsed_cidr.prefixlen < 8 or not parsed_cidr.is_private:
            raise net.fail("trustedSourceCidrs", f"{cidr} is not a private range of /8 or smaller")
    hub = [ipaddress.IPv4Network(c) for c in trusted]
    if firewall_ip and hub and not any(ipaddress.IPv4Address(firewall_ip) in c for c in hub):
        raise net.fail(
            "firewallPrivateIp", f"{firewall_ip} is outside the hub ranges in trustedSourceCidrs ({', '.join(trusted)})"
        )
    for key, cidr in (("kubernetes.serviceCidr", aks.service_cidr), ("kubernetes.podCidr", aks.pod_cidr)):
        for hub_range in hub:
            if cidr.overlaps(hub_range):
                raise ConfigError(
                    f"{PROJECT}:{key}: {cidr} overlaps the hub range {hub_range}; pick a range outside it"
                )

    flow_logs = None
    if net.has("flowLogs"):
        fl = net.child("flowLogs", {"networkWatcherName", "networkWatcherResourceGroup", "retentionDays"})
        flow_logs = FlowLogSettings(
            network_watcher_name=fl.string("networkWatcherName", f"NetworkWatcher_{location}"),
            network_watcher_resource_group=fl.string("networkWatcherResourceGroup", "NetworkWatcherRG"),
            retention_days=fl.integer("retentionDays", 90, minimum=90, maximum=365),
        )
    return NetworkSettings(
        address_space=space,
        subnets=SubnetPlan(
            aks=parsed["aks"],
            batch=parsed["batch"],
            private_endpoints=parsed["privateEndpoints"],
            postgres=parsed["postgres"],
            acr_tasks=parsed.get("acrTasks"),
        ),
        egress=egress,  # type: ignore[arg-type]  # narrowed by choice()
        firewall_private_ip=firewall_ip,
        trusted_source_cidrs=trusted,
        flow_logs=flow_logs,
    )


# How the VNet resolves hub zones: the program cannot see the hub's VNet links or resolver, so the stack says which.
HUB_ZONE_RESOLUTION = {
    "linkedByHub": "the hub links every zone in existingZoneIds to this VNet (scripts/preflight.sh checks the links)",
    "linkHere": "this stack links every zone in existingZoneIds to this VNet (the deploy identity needs "
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write on them)",
    "dnsServers": "the VNet uses dns.servers, a hub resolver that answers for every zone",
}


def parse_dns(reader: Reader, location: str, task_database: str = "postgresql") -> DnsSettings:
    dns = reader.child("dns", {"existingZoneIds", "zoneGroupsManagedByPolicy", "hubZoneResolution", "servers"})
    existing = dns.string_map("existingZoneIds")
    needed = zones_for(task_database)
    for key, zone_id in existing.items():
        if key not in ZONES:
            raise ConfigError(
                f"{dns.key('existingZoneIds')}.{key}: unknown zone key; valid keys are {', '.join(ZONES)}"
            )
        if key not in needed:
            raise ConfigError(
                f"{dns.key('existingZoneIds')}.{key}: is only resolved with taskDatabase {ZONE_NEEDED_BY[key]}; remove it"
            )
        expected = zone_name(key, location)
        if not AZURE_ID.match(zone_id) or not zone_id.lower().endswith(f"/privatednszones/{expected}"):
            named = re.search(r"/privateDnsZones/([^/]+)$", zone_id, re.IGNORECASE)
            given = f"the id of zone {named.group(1)}" if named and AZURE_ID.match(zone_id) else "not a zone id"
            raise ConfigError(f"{dns.key('existingZoneIds')}.{key}: {given}; {key} needs the id of a {expected} zone")
    resolution = dns.choice("hubZoneResolution", tuple(HUB_ZONE_RESOLUTION)) if dns.has("hubZoneResolution") else None
    if existing and resolution is None:
        # Without a link or a resolver, pods and Batch nodes resolve storage, ACR, Batch and Key Vault names to
        # public addresses, which refuse them (public network access is off).
        raise dns.fail(
            "hubZoneResolution",
            "is required with existingZoneIds: linkedByHub (the hub links its zones here), linkHere (this stack links "
            "them) or dnsServers (a hub resolver in dns.servers)",
        )
    if resolution and not existing:
        raise dns.fail("hubZoneResolution", f"{resolution!r} is set but existingZoneIds is empty; remove it")
    servers = dns.string_list("servers")
    for server in servers:
        try:
            address = ipaddress.IPv4Address(server)
        except ValueError:
            raise dns.fail("servers", f"{server!r} is not an IPv4 address") from None
        if not address.is_private:
            raise dns.fail("servers", f"{server} is a public address; give the hub resolver's private address")
    if resolution == "dnsServers" and not servers:
        raise dns.fail("servers", "is required with hubZoneResolution dnsServers: the hub resolver's private addresses")
    if servers and resolution != "dnsServers":
        raise dns.fail("servers", "is only used with hubZoneResolution dnsServers")
    if resolution == "dnsServers":
        # A custom resolver answers from the zones linked to its own VNet: zones this stack creates (linked only
        # here) would never be consulted, so every zone must be the hub's.
        local = [key for key in needed if key not in existing]
        if local:
            raise dns.fail(
                "existingZoneIds",
                f"misses {', '.join(local)}: with custom DNS servers, zones created here are invisible to the "
                "hub resolver; give the hub's zone for each",
            )
    return DnsSettings(
        existing_zone_ids=existing,
        zone_groups_managed_by_policy=dns.boolean("zoneGroupsManagedByPolicy", False),
        hub_zone_resolution=resolution,  # type: ignore[arg-type]  # narrowed by choice()
        servers=servers,
    )
