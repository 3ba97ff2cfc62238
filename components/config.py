"""The stack's configuration: every key the program reads, parsed into frozen objects and validated up front.

`parse_settings` takes raw values keyed as in the stack file (without the project namespace), so tests can feed
it directly; `load_settings` reads them from the running Pulumi program. Errors name the key and say what would
be valid; nothing is created until the whole configuration has passed.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from components import guardrails, naming
from components.config_reader import PROJECT, ConfigError, Reader, shown, suggest
from components.images import LOCK_FILE, ImageLock, load_lock
from components.settings import (
    OS_DISK_SIZE_GB,
    AksSettings,
    BatchNodeImage,
    BatchNodeImages,
    DataContainer,
    DataStorageAccount,
    DnsSettings,
    EntraAdminGroup,
    FlowLogSettings,
    ImageBuildSettings,
    ImageScannerSettings,
    Names,
    NetworkSettings,
    NodePoolSettings,
    PostgresSettings,
    SecretRotation,
    Settings,
    SubnetPlan,
    TaskDatabaseKind,
)

__all__ = ["PROJECT", "ConfigError", "Settings", "load_settings", "parse_settings"]

T = TypeVar("T")

ENVIRONMENTS = ("dev", "prod")

# Regions where every service this architecture uses (AKS with zones, Batch, PostgreSQL flexible server,
# Premium ACR, private endpoints) is offered in the public cloud, with availability zones: storage is zone-redundant
# at least (ZRS/GZRS), which regions without zones (e.g. canadaeast, ukwest, westus) do not offer.
REGIONS = frozenset(
    {
        "australiaeast",
        "brazilsouth",
        "canadacentral",
        "centralindia",
        "centralus",
        "eastasia",
        "eastus",
        "eastus2",
        "francecentral",
        "germanywestcentral",
        "japaneast",
        "koreacentral",
        "northeurope",
        "norwayeast",
        "southafricanorth",
        "southcentralus",
        "southeastasia",
        "swedencentral",
        "switzerlandnorth",
        "uaenorth",
        "uksouth",
        "westeurope",
        "westus2",
        "westus3",
    }
)

# Azure regions without availability zones (learn.microsoft.com, "Azure regions with availability zone support"):
# named so that choosing one says why it is refused.
ZONELESS_REGIONS = frozenset(
    {
        "australiacentral",
        "australiacentral2",
        "australiasoutheast",
        "brazilsoutheast",
        "canadaeast",
        "francesouth",
        "germanynorth",
        "japanwest",
        "jioindiacentral",
        "jioindiawest",
        "koreasouth",
        "northcentralus",
        "norwaywest",
        "southafricawest",
        "southindia",
        "switzerlandwest",
        "uaecentral",
        "ukwest",
        "westcentralus",
        "westindia",
        "westus",
    }
)

# Azure reserves five addresses in every subnet (network, gateway, two DNS, broadcast).
AZURE_RESERVED_ADDRESSES = 5
# Each private endpoint takes one address; this leaves room for every endpoint the stack creates, twice over.
PRIVATE_ENDPOINT_ADDRESSES = 32
# Azure's minimum for a subnet delegated to PostgreSQL flexible servers is /28 (HA and scaling need spare IPs).
POSTGRES_MIN_PREFIX = 28

# One address per agent pool instance, and room to scale it (the default quota allows 16 vCPUs: 4 S2 instances).
ACR_TASKS_ADDRESSES = 8
# ACR Tasks dedicated agent pools (preview) exist only in these regions (learn.microsoft.com, "Run ACR Tasks on
# dedicated agent pools", Preview limitations); elsewhere a registry without public access cannot build.
ACR_AGENT_POOL_REGIONS = frozenset(
    {
        "westus2",
        "southcentralus",
        "eastus2",
        "eastus",
        "centralus",
        "westeurope",
        "northeurope",
        "canadacentral",
        "eastasia",
        "switzerlandnorth",
    }
)
ACR_AGENT_POOL_TIERS = ("S1", "S2", "S3")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_AZURE_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/.+$", re.IGNORECASE)


KNOWN_KEYS = frozenset(
    {
        "environment",
        "location",
        "workload",
        "nameSuffix",
        "resourceGroupName",
        "names",
        "network",
        "dns",
        "kubernetes",
        "batch",
        "taskDatabase",
        "postgres",
        "monitoring",
        "imageScanner",
        "imageScannerUsername",
        "imageScannerPassword",
        "protectStatefulResources",
        "tags",
        "storage",
        "dataStorageAccounts",
        "resourceLocks",
        "guardrailOverrides",
        "secrets",
        "imageBuild",
        # Refused with the reason (COSMOS_GENERATION_REFUSED) rather than reported as unknown.
        "cosmos",
    }
)


# Where the full list is, for an error that cannot print all of it on one line.
REGIONS_HINT = (
    f"e.g. eastus2 or westeurope (all {len(REGIONS)}: REGIONS in {Path(__file__).parent.name}/{Path(__file__).name})"
)


def _parse_location(reader: Reader) -> str:
    region = reader.string("location", hint=f"an Azure region with availability zones, {REGIONS_HINT}")
    if region in ZONELESS_REGIONS:
        # Zone-redundant storage (ZRS/GZRS) and zonal AKS need availability zones.
        raise reader.fail(
            "location", f"{region!r} has no availability zones, which ZRS storage and zonal AKS need; {REGIONS_HINT}"
        )
    if region not in REGIONS:
        near = difflib.get_close_matches(region.lower(), sorted(REGIONS), n=1, cutoff=0.7)
        fix = f"did you mean {near[0]!r}?" if near else f"use a region with availability zones, {REGIONS_HINT}"
        raise reader.fail("location", f"{region!r} is not a region this stack can run in; {fix}")
    return region


# Resource group names: 1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period.
RESOURCE_GROUP_NAME = r"[\w\-.()]{0,89}[\w\-()]"
# Tag names: at most 512 characters, none of < > % & \ ? / (Azure refuses them); values at most 256.
TAG_NAME = r"[^<>%&\\?/]{1,512}"
# Tags the stack sets itself: the policy pack's production detection reads `environment`.
RESERVED_TAGS = ("environment", "workload")


def _parse_tags(reader: Reader) -> dict[str, str]:
    tags = reader.string_map("tags")
    for name, value in tags.items():
        if not re.fullmatch(TAG_NAME, name):
            raise ConfigError(
                f"{reader.key('tags')}.{name}: not a valid tag name (1-512 characters, none of < > % & \\ ? /)"
            )
        if len(value) > 256:
            raise ConfigError(f"{reader.key('tags')}.{name}: the value has {len(value)} characters; Azure allows 256")
        if name.lower() in RESERVED_TAGS:
            raise ConfigError(
                f"{reader.key('tags')}.{name}: is set by the stack (environment and workload tags decide how the "
                "policy pack judges it); remove it"
            )
    return tags


def _parse_names(reader: Reader, workload: str, environment: str) -> Names:
    suffix = reader.string(
        "nameSuffix", pattern=r"[a-z0-9]{3,6}", hint="3-6 lowercase letters and digits that make global names unique"
    )
    overrides = reader.child("names", {_camel(k) for k in naming.RULES})
    values: dict[str, str] = {}
    for kind in naming.RULES:
        key = _camel(kind)
        name = overrides.string(key) if overrides.has(key) else naming.derive(kind, workload, environment, suffix)
        problem = naming.check(kind, name)
        if problem:
            source = overrides.key(key) if overrides.raw.get(key) else f"{reader.key('nameSuffix')} (derived {key})"
            raise ConfigError(f"{source}: {name!r} is not a valid {kind.replace('_', ' ')} name; use {problem}")
        values[kind] = name
    return Names(**values)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def _parse_network(
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


# Every blob mount of the chart is keyless (mountWithWorkloadIdentityToken). The blob CSI driver refreshes that token
# only from v1.27.0 (kubernetes-sigs/blob-csi-driver#2071, fixing #1987; not back-ported to release-1.26); AKS ships
# v1.27.x from Kubernetes 1.34 and v1.26.x up to 1.33 (Azure/AKS CHANGELOG, 2026-02-08 and 2026-06-19 releases).
# Older clusters mount, then lose the mount when the first token expires, hours after each pod start.
# The default is the newest minor AKS lists as GA (1.36, June 2026; end of standard support June 2027:
# MicrosoftDocs/azure-aks-docs supported-kubernetes-versions.md); 1.34 left standard support in November 2026.
DEFAULT_KUBERNETES_VERSION = "1.36"
BLOB_CSI_TOKEN_REFRESH_AKS = (1, 34)
BLOB_CSI_TOKEN_REFRESH_REASON = (
    "its blob CSI driver (v1.26) never refreshes the workload identity token, so Cromwell's mounts die hours after "
    "each pod start"
)

# Ranges AKS refuses for the service and pod CIDRs (learn.microsoft.com, AKS "Configure Azure CNI Overlay" and
# "kubenet": 169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16 and 192.0.2.0/24 are reserved).
AKS_RESERVED_RANGES = tuple(
    ipaddress.IPv4Network(c) for c in ("169.254.0.0/16", "172.30.0.0/16", "172.31.0.0/16", "192.0.2.0/24")
)
# Flexible server premium SSD sizes (GiB) that Azure offers; anything else is rejected at create time.
POSTGRES_STORAGE_SIZES_GB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
# The compute tier each VM family belongs to (B: burstable, D: general purpose, E: memory optimized).
POSTGRES_TIER_OF_FAMILY = {"B": "Burstable", "D": "GeneralPurpose", "E": "MemoryOptimized"}


# Node OS disks are ephemeral (components/aks.py, OS_DISK_SIZE_GB): the VM's local temporary disk must hold them.
# Dv5/Ev5 sizes with a local disk (ds, ads) have 37.5 GiB of it per vCPU; other sizes are left for Azure to judge.
EPHEMERAL_TEMP_DISK = re.compile(r"Standard_[DE](?P<vcpus>\d+)a?ds_v5", re.IGNORECASE)
TEMP_DISK_GIB_PER_VCPU = 37.5


def _temp_disk_gib(vm_size: str) -> float | None:
    """The size's local temporary disk when this check is sure it decides: none at all (Azure's size list as TES
    6.0.0 ships it), or the Dv5/Ev5 rule. None otherwise: a size with a smaller temporary disk may still place the
    ephemeral OS disk on its cache disk, and Azure judges that at create time."""
    from components.contracts import tes_6_0_0_vm_selection as tes

    known = EPHEMERAL_TEMP_DISK.fullmatch(vm_size)
    if known:
        return int(known["vcpus"]) * TEMP_DISK_GIB_PER_VCPU
    listed = [vm for vm in tes.all_vm_sizes() if vm.vm_size.lower() == vm_size.lower()]
    return 0.0 if listed and listed[0].local_disk_gib == 0 else None


def _parse_pool(reader: Reader, name: str, default_size: str, default_min: int, default_max: int) -> NodePoolSettings:
    pool = reader.child(name, {"vmSize", "minCount", "maxCount"})
    min_count = pool.integer("minCount", default_min, minimum=1, maximum=1000)
    max_count = pool.integer("maxCount", default_max, minimum=1, maximum=1000)
    if max_count < min_count:
        raise pool.fail("maxCount", f"{max_count} is below minCount ({min_count})")
    vm_size = pool.string("vmSize", default_size, pattern=r"Standard_[A-Za-z0-9_]+", hint="an Azure VM size")
    temp_disk = _temp_disk_gib(vm_size)
    if temp_disk is not None and temp_disk < OS_DISK_SIZE_GB:
        what = "no temporary disk" if temp_disk == 0 else f"only a {temp_disk:g} GiB temporary disk"
        raise pool.fail(
            "vmSize",
            f"{vm_size!r} has {what} for the {OS_DISK_SIZE_GB} GiB ephemeral OS disk; use a 'd' size with 4 vCPUs "
            "or more (e.g. Standard_D4ds_v5)",
        )
    return NodePoolSettings(vm_size=vm_size, min_count=min_count, max_count=max_count)


def _parse_image_build(reader: Reader, location: str) -> ImageBuildSettings:
    section = reader.child("imageBuild", {"enabled", "agentPoolTier"})
    default = ImageBuildSettings()
    enabled = section.boolean("enabled", default.enabled)
    tier = section.choice("agentPoolTier", ACR_AGENT_POOL_TIERS, default.agent_pool_tier)
    if enabled and location and location not in ACR_AGENT_POOL_REGIONS:
        # Elsewhere TES and TriggerService are built with scripts/build-images.sh --import-to and pinned by digest.
        raise section.fail(
            "enabled",
            f"ACR Tasks agent pools (the only builds a private registry accepts) are not offered in {location}; build "
            "elsewhere (scripts/build-images.sh --import-to), pin the digests, and set false",
        )
    return ImageBuildSettings(enabled=enabled, agent_pool_tier=tier)


def _parse_aks(reader: Reader) -> AksSettings:
    k8s = reader.child(
        "kubernetes",
        {
            "version",
            "serviceCidr",
            "dnsServiceIp",
            "podCidr",
            "systemPool",
            "userPool",
            "availabilityZones",
            "adminGroupObjectIds",
        },
    )
    service_cidr = k8s.network("serviceCidr", "10.2.0.0/16")
    dns_ip = k8s.address("dnsServiceIp", "10.2.0.10")
    if ipaddress.IPv4Address(dns_ip) not in service_cidr:
        raise k8s.fail("dnsServiceIp", f"{dns_ip} must lie inside serviceCidr {service_cidr}")
    # AKS rejects the network address and .1 (the kubernetes Service), and the broadcast address.
    reserved_ips = (service_cidr.network_address, service_cidr.network_address + 1, service_cidr.broadcast_address)
    if ipaddress.IPv4Address(dns_ip) in reserved_ips:
        raise k8s.fail(
            "dnsServiceIp",
            f"{dns_ip} is reserved in {service_cidr} (network, kubernetes Service or broadcast address); "
            f"use e.g. {service_cidr.network_address + 10}",
        )
    pod_cidr = k8s.network("podCidr", "192.168.0.0/16")
    if pod_cidr.overlaps(service_cidr):
        raise k8s.fail("podCidr", f"{pod_cidr} overlaps serviceCidr {service_cidr}")
    for key, cidr in (("serviceCidr", service_cidr), ("podCidr", pod_cidr)):
        for reserved in AKS_RESERVED_RANGES:
            if cidr.overlaps(reserved):
                raise k8s.fail(key, f"{cidr} overlaps {reserved}, which AKS reserves; pick another range")
    version = k8s.string(
        "version", DEFAULT_KUBERNETES_VERSION, pattern=r"1\.\d{2}(\.\d+)?", hint="a version such as 1.36"
    )
    if tuple(int(part) for part in version.split(".")[:2]) < BLOB_CSI_TOKEN_REFRESH_AKS:
        raise k8s.fail("version", f"{version!r} is too old: {BLOB_CSI_TOKEN_REFRESH_REASON}; use 1.34 or later")
    return AksSettings(
        kubernetes_version=version,
        service_cidr=service_cidr,
        dns_service_ip=dns_ip,
        pod_cidr=pod_cidr,
        system_pool=_parse_pool(k8s, "systemPool", "Standard_D4ds_v5", 2, 3),
        user_pool=_parse_pool(k8s, "userPool", "Standard_D8ds_v5", 1, 5),
        availability_zones=k8s.string_list("availabilityZones", pattern=r"[123]", hint="zones are 1, 2 or 3"),
        admin_group_object_ids=k8s.string_list(
            "adminGroupObjectIds", pattern=_GUID.pattern, hint="an Entra ID group object id"
        ),
    )


def _parse_postgres(reader: Reader, environment: str) -> PostgresSettings:
    pg = reader.child(
        "postgres",
        {
            "version",
            "skuName",
            "skuTier",
            "storageSizeGb",
            "backupRetentionDays",
            "highAvailability",
            "geoRedundantBackup",
            "entraAdminGroupObjectId",
            "entraAdminGroupName",
        },
    )
    prod = environment == "prod"
    tier = pg.choice(
        "skuTier", ("Burstable", "GeneralPurpose", "MemoryOptimized"), "GeneralPurpose" if prod else "Burstable"
    )
    high_availability = pg.boolean("highAvailability", prod)
    if high_availability and tier == "Burstable":
        raise pg.fail("highAvailability", "zone-redundant HA is not offered on the Burstable tier; use GeneralPurpose")
    sku_name = pg.string("skuName", "Standard_D2ds_v5" if prod else "Standard_B2s", pattern=r"Standard_[A-Za-z0-9_]+")
    family = re.match(r"Standard_([A-Z])", sku_name)
    expected_tier = POSTGRES_TIER_OF_FAMILY.get(family.group(1) if family else "")
    if expected_tier and expected_tier != tier:
        raise pg.fail("skuTier", f"{tier!r} does not match skuName {sku_name!r}, which is a {expected_tier} SKU")
    size = pg.integer("storageSizeGb", 128, minimum=32, maximum=32767)
    if size not in POSTGRES_STORAGE_SIZES_GB:
        offered = ", ".join(str(s) for s in POSTGRES_STORAGE_SIZES_GB)
        raise pg.fail("storageSizeGb", f"{size} is not a size Azure offers for flexible server; use one of {offered}")
    return PostgresSettings(
        version=pg.choice("version", ("14", "15", "16", "17"), "16"),
        sku_name=sku_name,
        sku_tier=tier,
        storage_size_gb=size,
        backup_retention_days=pg.integer("backupRetentionDays", 35 if prod else 14, minimum=7, maximum=35),
        high_availability=high_availability,
        geo_redundant_backup=pg.boolean("geoRedundantBackup", prod),
        entra_admin=_parse_entra_admin(pg, prod),
    )


# PostgreSQL truncates role names to NAMEDATALEN - 1 = 63 bytes, and the Entra administrator becomes a role named
# after the principal: a longer name would not match the group's token at login.
POSTGRES_ROLE_NAME_BYTES = 63


def _parse_entra_admin(pg: Reader, prod: bool) -> EntraAdminGroup | None:
    object_key, name_key = "entraAdminGroupObjectId", "entraAdminGroupName"
    if not pg.has(object_key) and not pg.has(name_key):
        if prod:
            # Entra ID authentication is on; without an administrator nobody can create Entra roles in production.
            raise pg.fail(
                object_key,
                f"is required in prod: the object id of the Entra ID group that administers PostgreSQL "
                f"(with {pg.key(name_key)}, its display name)",
            )
        return None
    object_id = pg.string(object_key, hint=f"the group's object id, required when {pg.key(name_key)} is set")
    if not _GUID.match(object_id):
        raise pg.fail(object_key, f"{object_id!r} is not an Entra ID group object id (a GUID)")
    name = pg.string(name_key, hint=f"the group's display name, required when {pg.key(object_key)} is set")
    if name != name.strip() or len(name.encode("utf-8")) > POSTGRES_ROLE_NAME_BYTES:
        raise pg.fail(
            name_key,
            f"{shown(name)} is not valid: the group's exact display name, at most {POSTGRES_ROLE_NAME_BYTES} bytes, "
            "no leading or trailing spaces",
        )
    return EntraAdminGroup(object_id=object_id, display_name=name)


# How the VNet resolves hub zones: the program cannot see the hub's VNet links or resolver, so the stack says which.
HUB_ZONE_RESOLUTION = {
    "linkedByHub": "the hub links every zone in existingZoneIds to this VNet (scripts/preflight.sh checks the links)",
    "linkHere": "this stack links every zone in existingZoneIds to this VNet (the deploy identity needs "
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write on them)",
    "dnsServers": "the VNet uses dns.servers, a hub resolver that answers for every zone",
}


def _parse_dns(reader: Reader, location: str) -> DnsSettings:
    from components.private_dns import ZONES, zone_name

    dns = reader.child("dns", {"existingZoneIds", "zoneGroupsManagedByPolicy", "hubZoneResolution", "servers"})
    existing = dns.string_map("existingZoneIds")
    for key, zone_id in existing.items():
        if key not in ZONES:
            raise ConfigError(
                f"{dns.key('existingZoneIds')}.{key}: unknown zone key; valid keys are {', '.join(ZONES)}"
            )
        expected = zone_name(key, location)
        if not _AZURE_ID.match(zone_id) or not zone_id.lower().endswith(f"/privatednszones/{expected}"):
            named = re.search(r"/privateDnsZones/([^/]+)$", zone_id, re.IGNORECASE)
            given = f"the id of zone {named.group(1)}" if named and _AZURE_ID.match(zone_id) else "not a zone id"
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
        local = [key for key in ZONES if key not in existing]
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


# Key Vault secrets this stack writes itself (components/postgres.py); operator secrets must not overwrite them.
STACK_SECRET_NAMES = frozenset(
    {"postgres-admin-password"} | {f"{app}-db-password{slot}" for app in ("cromwell", "tes") for slot in ("", "-b")}
)
SCANNER_CREDENTIALS = ("imageScannerUsername", "imageScannerPassword")


def _date(reader: Reader, key: str) -> datetime.date:
    value = reader.string(key, pattern=r"\d{4}-\d{2}-\d{2}", hint="a date, YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise reader.fail(key, f"{value!r} is not a calendar date") from None


# Generated passwords (components/rotation.py): replaced every rotationDays by the first `pulumi up` of a new period;
# each secret version expires expiryGraceDays after its successor is due, so a late run has that long.
ROTATION_DAYS = (7, 365)


def _parse_rotation(reader: Reader) -> SecretRotation:
    section = reader.child("secrets", {"rotationDays", "expiryGraceDays"})
    default = SecretRotation()
    period = section.integer("rotationDays", default.period_days, minimum=ROTATION_DAYS[0], maximum=ROTATION_DAYS[1])
    grace = section.integer("expiryGraceDays", default.grace_days, minimum=1, maximum=period)
    return SecretRotation(period_days=period, grace_days=grace)


def _parse_scanner(reader: Reader, secret_keys: frozenset[str], today: datetime.date) -> ImageScannerSettings | None:
    if not reader.has("imageScanner"):
        given = [k for k in SCANNER_CREDENTIALS if reader.has(k)]
        if given:
            # Credentials without the scanner block would be stored while no scan ever runs.
            raise reader.fail(
                given[0],
                "is set but imageScanner is not, so no image would ever be scanned; add "
                "imageScanner {image, registryServer, ...} or remove the credential",
            )
        return None
    scanner = reader.child(
        "imageScanner", {"image", "registryServer", "usernameSecretName", "passwordSecretName", "credentialsExpireOn"}
    )
    secret_name = r"[0-9a-zA-Z-]{1,127}"
    settings = ImageScannerSettings(
        image=scanner.string(
            "image",
            pattern=r"[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})",
            hint="registry/repository:tag",
        ),
        registry_server=scanner.string("registryServer", pattern=r"[a-z0-9.-]+(:\d+)?", hint="a registry host name"),
        username_secret_name=scanner.string("usernameSecretName", "image-scanner-username", pattern=secret_name),
        password_secret_name=scanner.string("passwordSecretName", "image-scanner-password", pattern=secret_name),
        credentials_expire_on=_date(scanner, "credentialsExpireOn") if scanner.has("credentialsExpireOn") else None,
    )
    if settings.credentials_expire_on and settings.credentials_expire_on <= today:
        raise scanner.fail(
            "credentialsExpireOn",
            f"{settings.credentials_expire_on} has passed, so every pool's start task would fail; rotate the "
            "credential (pulumi config set --secret) and set its new expiry",
        )
    if settings.username_secret_name == settings.password_secret_name:
        raise scanner.fail(
            "passwordSecretName",
            f"{settings.password_secret_name!r} is also usernameSecretName; the second write would overwrite the first",
        )
    for key, name in (
        ("usernameSecretName", settings.username_secret_name),
        ("passwordSecretName", settings.password_secret_name),
    ):
        if name in STACK_SECRET_NAMES:
            raise scanner.fail(key, f"{name!r} is a secret this stack writes itself; choose another name")
    # The scanner's credentials are stored in Key Vault by the stack; both must come from `config set --secret`.
    for secret in SCANNER_CREDENTIALS:
        if not reader.has(secret):
            raise reader.fail(
                secret, f"is required when imageScanner is set: pulumi config set --secret {secret} <value>"
            )
        if secret not in secret_keys:
            raise reader.fail(
                secret, f"is stored in plain text in the stack file; set it with pulumi config set --secret {secret}"
            )
        value = reader.raw[secret]
        if not isinstance(value, str) or not value.strip():
            raise reader.fail(secret, "is blank; set the real credential with pulumi config set --secret")
    return settings


def parse_settings(
    raw: Mapping[str, Any],
    *,
    stack: str | None = None,
    secret_keys: frozenset[str] = frozenset(),
    images: ImageLock | None = None,
    lock_path: Path = LOCK_FILE,
    today: datetime.date | None = None,
) -> Settings:
    """Validate every key; all errors are collected and raised together (one line each: key, value, rule, fix).

    `stack` is the stack's name (production is recognised by it too); `secret_keys` the config keys Pulumi holds
    encrypted (`pulumi config set --secret`); `images` the image lock (read from `lock_path` when not given)."""
    errors: list[ConfigError] = []
    # Support windows (Batch node agents) are judged on the day the program runs.
    today = today or datetime.datetime.now(datetime.UTC).date()

    def attempt(parse: Callable[[], T], default: T) -> T:
        try:
            return parse()
        except ConfigError as error:
            errors.append(error)
            return default

    for key in sorted(set(raw) - KNOWN_KEYS):
        errors.append(ConfigError(f"{PROJECT}:{key}: unknown key{suggest(key, KNOWN_KEYS)}"))
    reader = Reader(raw)
    environment = attempt(lambda: reader.choice("environment", ENVIRONMENTS), "")
    environment_known = bool(environment)
    # Defaults below follow the environment; an invalid one (already reported) is read as the stack's name says.
    environment = environment or ("prod" if guardrails.is_production("", stack) else "dev")
    location = attempt(lambda: _parse_location(reader), "")
    workload = attempt(
        lambda: reader.string(
            "workload", "coa", pattern=r"[a-z][a-z0-9]{1,7}", hint="2-8 lowercase letters and digits"
        ),
        "coa",
    )
    production = guardrails.is_production(environment, stack)
    batch = attempt(lambda: reader.child("batch", {"maxNodes", "images", "allowedVmSizes"}), None)
    batch_max_nodes = attempt(lambda: batch.integer("maxNodes", 100, minimum=1, maximum=30000), 100) if batch else 100
    batch_images = attempt(lambda: _parse_batch_images(batch, today), None) if batch else None
    allowed_vm_sizes = attempt(lambda: _parse_allowed_vm_sizes(batch), ()) if batch else ()
    if batch and batch_images and allowed_vm_sizes and location:
        attempt(lambda: _check_allowed_vm_sizes(batch, allowed_vm_sizes, batch_images, location, today), None)
    aks = attempt(lambda: _parse_aks(reader), None)
    monitoring = attempt(lambda: reader.child("monitoring", {"logRetentionDays"}), None)
    retention = (
        attempt(lambda: monitoring.integer("logRetentionDays", 90, minimum=30, maximum=730), 90) if monitoring else 90
    )
    protect = attempt(lambda: reader.boolean("protectStatefulResources", production), production)
    locks = attempt(lambda: reader.boolean("resourceLocks", production), production)
    default_database: TaskDatabaseKind = "postgresql"
    task_database: TaskDatabaseKind = attempt(lambda: _parse_task_database(reader), default_database)
    storage = attempt(lambda: reader.child("storage", {"allowSharedKeyAccess", "redundancy"}), None)
    shared_key = attempt(lambda: storage.boolean("allowSharedKeyAccess", False), False) if storage else False
    redundancy = (
        attempt(lambda: storage.choice("redundancy", STORAGE_REDUNDANCY, "GZRS" if production else "ZRS"), "ZRS")
        if storage
        else "ZRS"
    )
    names = attempt(lambda: _parse_names(reader, workload, environment), None)
    image_build = attempt(lambda: _parse_image_build(reader, location), ImageBuildSettings())
    network = (
        attempt(lambda: _parse_network(reader, batch_max_nodes, aks, environment, location, image_build), None)
        if aks
        else None
    )
    dns = attempt(lambda: _parse_dns(reader, location), None)
    data_accounts = attempt(lambda: _parse_data_accounts(reader, names.storage_account), ()) if names else ()
    postgres = attempt(lambda: _parse_postgres(reader, environment), None)
    scanner = attempt(lambda: _parse_scanner(reader, secret_keys, today), None)
    rotation = attempt(lambda: _parse_rotation(reader), SecretRotation())
    if production and scanner and scanner.credentials_expire_on is None:
        # Production secrets expire (pack rule keyvault-secrets-and-keys-expire-production); only the operator knows
        # when the scanner's registry credential does.
        errors.append(
            ConfigError(
                f"{PROJECT}:imageScanner.credentialsExpireOn: is required in production: the day the scanner's "
                "registry credential expires (its Key Vault secrets expire with it)"
            )
        )
    tags = attempt(lambda: _parse_tags(reader), {})
    resource_group_name = attempt(
        lambda: (
            reader.string(
                "resourceGroupName",
                pattern=RESOURCE_GROUP_NAME,
                hint="1-90 letters, digits, _ - . ( ), not ending in a period",
            )
            if reader.has("resourceGroupName")
            else None
        ),
        None,
    )
    overrides = attempt(lambda: _parse_overrides(reader), {})
    lock = images or attempt(lambda: load_lock(lock_path), None)
    if lock is not None and not image_build.enabled:
        lock = lock.from_cache_instead_of_build()
    breaches: dict[str, object] = {}
    if lock is not None and lock.unpinned():
        breaches["unpinnedImages"] = f"digests pending for {', '.join(lock.unpinned())}"
    if not (protect and locks):
        breaches["unprotectedState"] = {
            k: v for k, v in (("protectStatefulResources", protect), ("resourceLocks", locks)) if not v
        }
    if shared_key:
        breaches["sharedKeyAccess"] = shared_key
    if aks is not None and not aks.admin_group_object_ids:
        breaches["noClusterAdminGroups"] = []
    if production and environment_known and environment != "prod":
        breaches["nonProductionEnvironment"] = environment
    if redundancy not in GEO_REDUNDANT:
        breaches["locallyRedundantStorage"] = redundancy
    errors.extend(guardrails.check(breaches, overrides, production))
    if errors:
        raise ConfigError(*(line for error in errors for line in error.errors))
    assert names and aks and network and dns and postgres and batch_images and lock  # every failure was recorded
    return Settings(
        environment=environment,
        location=location,
        workload=workload,
        resource_group_name=resource_group_name,
        names=names,
        network=network,
        dns=dns,
        aks=aks,
        batch_max_nodes=batch_max_nodes,
        batch_images=batch_images,
        batch_allowed_vm_sizes=allowed_vm_sizes,
        data_storage_accounts=data_accounts,
        task_database=task_database,
        postgres=postgres,
        log_retention_days=retention,
        image_scanner=scanner,
        protect_stateful_resources=protect,
        resource_locks=locks,
        production=production,
        storage_shared_key_access=shared_key,
        storage_redundancy=redundancy,
        images=lock,
        image_build=image_build,
        secret_rotation=rotation,
        guardrail_overrides={k: v for k, v in overrides.items() if k in breaches},
        tags={"environment": environment, "workload": "cromwell-on-azure", **tags},
    )


# Storage redundancy (StorageV2 SKUs Standard_<x>); zone-redundant at least, geo-redundant in production.
STORAGE_REDUNDANCY = ("ZRS", "GZRS", "RAGZRS")
GEO_REDUNDANT = ("GZRS", "RAGZRS")


def _parse_overrides(reader: Reader) -> dict[str, str]:
    overrides = reader.child("guardrailOverrides", set(guardrails.GUARDRAILS))
    reasons: dict[str, str] = {}
    for name in overrides.raw:
        reason = overrides.string(name, hint="why this production stack accepts it (recorded in the preview)")
        if len(reason.strip()) < 10:
            raise overrides.fail(name, f"{reason!r} is not a reason; say why, in a sentence (at least 10 characters)")
        reasons[name] = reason.strip()
    return reasons


# Batch pool images. TES 6.0.0's own defaults (appsettings.json) are Ubuntu 20.04 images whose node agent Batch retired
# on 2025-04-23. TES's node setup needs an Ubuntu (or CentOS) node agent and Docker already installed
# (components/contracts/tes_6_0_0.py); microsoft-dsvm ubuntu-hpc ships Docker and Batch supports its 22.04 agent until
# 2027-06-30 (24.04: microsoft-dsvm ubuntu-hpc 2404, batch.node.ubuntu 24.04).
DEFAULT_BATCH_IMAGE = BatchNodeImage(
    publisher="microsoft-dsvm",
    offer="ubuntu-hpc",
    sku="2204",
    version="latest",
    node_agent_sku_id="batch.node.ubuntu 22.04",
)
# Node agents Azure Batch no longer supports (pool creation fails or nodes are scaled in); the policy pack has the
# same list (policy/coa_policies/batch.py).
RETIRED_NODE_AGENTS = frozenset(
    {
        "batch.node.ubuntu 16.04",
        "batch.node.ubuntu 18.04",
        "batch.node.ubuntu 20.04",
        "batch.node.centos 7",
        "batch.node.debian 10",
    }
)
# TES 6.0.0 refuses any other node agent family ("Unrecognized OS").
TES_NODE_AGENT_PREFIXES = ("batch.node.ubuntu ", "batch.node.centos ")


# What TES may run tasks on. TES picks the cheapest eligible size for each task and, without this list, considers
# every size its bundled list offers in the region (ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1361), including
# generation-1-only sizes no supported Docker image boots (components/batch_node_images.py) and unpriced sizes that
# cost 0 when prices.azure.com is unreachable (a 1-core task then runs on Standard_D16as_v4). These families list
# Hyper-V generation 2, have a local temporary disk and a bundled price for every size, span 2 to 96 vCPUs and are
# offered in every region this project allows (components/contracts/tes_6_0_0_vm_selection.py proves it per stack).
DEFAULT_ALLOWED_VM_SIZES = ("standardDDSv5Family", "standardDDv5Family", "standardEDSv5Family")
VM_SIZE_OR_FAMILY = r"Standard_[A-Za-z0-9_]+|standard[A-Za-z0-9]+Family"


def _parse_allowed_vm_sizes(batch: Reader) -> tuple[str, ...]:
    if not batch.has("allowedVmSizes"):
        return DEFAULT_ALLOWED_VM_SIZES
    sizes = batch.string_list(
        "allowedVmSizes",
        pattern=VM_SIZE_OR_FAMILY,
        hint="a VM size (Standard_D4ds_v5) or a Batch VM family (standardDDSv5Family)",
    )
    if not sizes:
        # TES reads an empty list as "every size in the region".
        raise batch.fail("allowedVmSizes", "is empty, which TES reads as every VM size; list the sizes or families")
    return sizes


def _check_allowed_vm_sizes(
    batch: Reader, sizes: tuple[str, ...], images: BatchNodeImages, region: str, today: datetime.date
) -> None:
    """Every entry is one TES knows in the region, and every size it covers boots the image TES would give it."""
    from components import batch_node_images
    from components.contracts import tes_6_0_0_vm_selection as tes

    key = "allowedVmSizes"
    allowed, ignored = tes.effective_allowed(sizes, region)
    if ignored:
        # TES ignores them with a warning; when none is left it allows every size (ConfigurationUtils.cs:112-121).
        raise batch.fail(
            key, f"{', '.join(ignored)}: not a size or family TES 6.0.0 offers in {region} (its bundled list)"
        )
    covered = [
        vm
        for vm in tes.vm_sizes_and_prices(region, "unreachable")
        if tes.allowed_by(allowed, vm) and not vm.low_priority
    ]
    unpriced = sorted({vm.vm_size for vm in covered if vm.price_per_hour is None})
    if unpriced:
        # Unpriced sizes cost 0 whenever prices.azure.com is unreachable, so every task would run on them.
        raise batch.fail(
            key,
            f"covers {', '.join(unpriced[:3])}{' ...' if len(unpriced) > 3 else ''}, which TES 6.0.0 has no price "
            "for (free when prices.azure.com is unreachable); list priced families (e.g. standardDDSv5Family)",
        )
    for vm in covered:
        generation = "V2" if "V2" in (vm.hyper_v_generations or ()) else "V1"
        image = images.gen2 if generation == "V2" else images.gen1
        problem = batch_node_images.boots(image, generation, today)
        if problem:
            raise batch.fail(
                key,
                f"covers {vm.vm_size}, which TES would start on batch.images.{'gen2' if generation == 'V2' else 'gen1'}: "
                f"{problem}; list generation 2 sizes",
            )


def _parse_batch_images(batch: Reader, today: datetime.date) -> BatchNodeImages:
    from components import batch_node_images

    images = batch.child("images", {"gen1", "gen2"})
    parsed: dict[str, BatchNodeImage] = {}
    for generation in ("gen1", "gen2"):
        image = images.child(generation, {"publisher", "offer", "sku", "version", "nodeAgentSkuId"})
        agent = image.string("nodeAgentSkuId", DEFAULT_BATCH_IMAGE.node_agent_sku_id)
        if not agent.startswith(TES_NODE_AGENT_PREFIXES):
            raise image.fail(
                "nodeAgentSkuId",
                f"{agent!r}: TES 6 runs only on {' or '.join(p + '<version>' for p in TES_NODE_AGENT_PREFIXES)}",
            )
        if agent in RETIRED_NODE_AGENTS:
            raise image.fail(
                "nodeAgentSkuId",
                f"{agent!r} is retired by Azure Batch; use 'batch.node.ubuntu 22.04' (sku 2204) or "
                "'batch.node.ubuntu 24.04' (sku 2404)",
            )
        node_image = BatchNodeImage(
            publisher=image.string("publisher", DEFAULT_BATCH_IMAGE.publisher),
            offer=image.string("offer", DEFAULT_BATCH_IMAGE.offer),
            sku=image.string("sku", DEFAULT_BATCH_IMAGE.sku),
            version=image.string("version", DEFAULT_BATCH_IMAGE.version),
            node_agent_sku_id=agent,
        )
        known = batch_node_images.facts(node_image)
        if known is None:
            supported = [
                "/".join(k)
                for k, f in batch_node_images.KNOWN_IMAGES.items()
                if f.docker and (f.batch_support_ends is None or f.batch_support_ends >= today)
            ]
            raise image.fail(
                "sku",
                f"{node_image.publisher}/{node_image.offer}/{node_image.sku} is not an image this project knows; "
                f"use {' or '.join(supported)}",
            )
        if known.node_agent_sku_id != agent:
            raise image.fail(
                "nodeAgentSkuId",
                f"{agent!r} does not match {node_image.sku!r}, which needs {known.node_agent_sku_id!r}",
            )
        # The generation-2 image must boot generation 2; the gen1 image is a backstop (no Docker image boots gen 1).
        problem = batch_node_images.boots(
            node_image, "V2" if generation == "gen2" else next(iter(known.generations)), today
        )
        if problem:
            raise image.fail("sku", problem)
        parsed[generation] = node_image
    return BatchNodeImages(**parsed)


STORAGE_ACCOUNT_ID = re.compile(
    r"/subscriptions/(?P<sub>[0-9a-fA-F-]{36})/resourceGroups/(?P<rg>[-\w.()]{1,90})"
    r"/providers/Microsoft\.Storage/storageAccounts/(?P<name>[a-z0-9]{3,24})",
    re.IGNORECASE,
)
# Container names: 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.
CONTAINER_NAME = r"(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]"


# TES 6's node runner probes every input URL anonymously and treats only 401, 403 and 409 as "private, sign a SAS"
# (ga4gh-tes@6.0.0:src/Tes.Runner/Storage/ArmUrlTransformationStrategy.cs:71 and Transfer/BlobApiHttpUtils.cs:185-205).
# An account that allows blob public access answers 404 for a private container, and the download fails.
DATA_ACCOUNT_PUBLIC_ACCESS = "TES 6 signs a SAS only after a 401, 403 or 409, and such an account answers 404"
DATA_ACCOUNT_KEYS = {
    "id",
    "containers",
    "privateEndpoint",
    "allowBlobPublicAccess",
    "roleAssignments",
    "endpointApproval",
}


def _parse_data_accounts(reader: Reader, coa_account: str) -> tuple[DataStorageAccount, ...]:
    accounts: list[DataStorageAccount] = []
    for item in reader.object_list("dataStorageAccounts", DATA_ACCOUNT_KEYS):
        account_id = item.string("id", hint="the storage account's ARM id")
        match = STORAGE_ACCOUNT_ID.fullmatch(account_id)
        if not match:
            raise item.fail(
                "id",
                f"{account_id!r} is not a storage account id; use "
                "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>",
            )
        name = match["name"].lower()
        if name == coa_account:
            raise item.fail("id", f"{name!r} is the CoA storage account itself; list only accounts outside the stack")
        if any(a.name == name for a in accounts):
            raise item.fail("id", f"storage account {name!r} is listed twice")
        containers: list[DataContainer] = []
        for entry in item.object_list("containers", {"name", "access"}):
            container = entry.string("name", pattern=CONTAINER_NAME, hint="3-63 lowercase letters, digits, hyphens")
            if any(c.name == container for c in containers):
                raise entry.fail("name", f"container {container!r} is listed twice")
            access = entry.choice("access", ("read", "readWrite"), "read")
            containers.append(DataContainer(name=container, access=access))  # type: ignore[arg-type]
        if not containers:
            raise item.fail("containers", "needs at least one container ({name, access: read|readWrite})")
        private_endpoint = item.choice("privateEndpoint", ("create", "existing"), "create")
        # What the program cannot see on an account it does not own is stated, never assumed.
        approval = "automatic"
        if private_endpoint == "create":
            approval = item.choice("endpointApproval", ("automatic", "owner"))
        elif item.has("endpointApproval"):
            raise item.fail(
                "endpointApproval", "is only read with privateEndpoint create (the hub's endpoint is approved)"
            )
        if not item.has("allowBlobPublicAccess"):
            raise item.fail(
                "allowBlobPublicAccess",
                "is required: state the account's setting, false (TES 6 cannot read an account that allows public access)",
            )
        if item.boolean("allowBlobPublicAccess", False):
            raise item.fail(
                "allowBlobPublicAccess",
                f"true cannot work ({DATA_ACCOUNT_PUBLIC_ACCESS}); ask the owner to turn it off",
            )
        grantor = item.choice("roleAssignments", ("stack", "owner"))
        accounts.append(
            DataStorageAccount(
                id=account_id,
                subscription_id=match["sub"],
                resource_group=match["rg"],
                name=name,
                containers=tuple(containers),
                private_endpoint=private_endpoint,  # type: ignore[arg-type]  # narrowed by choice()
                role_assignments=grantor,  # type: ignore[arg-type]
                endpoint_approval=approval,  # type: ignore[arg-type]
            )
        )
    return tuple(accounts)


# Why the article's generation (CoA 3.2: TES 3.2 on Cosmos DB) is refused rather than deployed; the README's
# "Generations" section gives the citations (CromwellOnAzure@3.2.0).
# Its pods get tokens only from IMDS (AAD Pod Identity, which breaks Pod Security 'restricted') or a long-lived client
# secret, it signs blob SAS and reads Cosmos DB with account keys, and its node setup targets retired Batch images.
COSMOS_GENERATION_REFUSED = (
    "TES 3.2 on Cosmos DB cannot run locked down (IMDS or secret tokens, account keys, retired images); use "
    "taskDatabase 'postgresql'"
)


def _parse_task_database(reader: Reader) -> TaskDatabaseKind:
    if reader.raw.get("taskDatabase") == "cosmosdb":
        raise reader.fail("taskDatabase", f"'cosmosdb' is refused: {COSMOS_GENERATION_REFUSED}")
    if "cosmos" in reader.raw:
        raise reader.fail("cosmos", f"is no longer read: {COSMOS_GENERATION_REFUSED}")
    reader.choice("taskDatabase", ("postgresql",), "postgresql")
    return "postgresql"


# Config namespaces a stack file may use: the project's own, and those of the providers and engine the program uses.
NAMESPACES = frozenset({PROJECT, "azure-native", "kubernetes", "random", "command", "pulumi"})


def check_namespaces(keys: Iterable[str]) -> None:
    """A key in an unknown namespace is refused before anything else: a typo in `coa-lockdown:` would otherwise
    leave the program without the key and report that one as missing, or silently use its default."""
    errors = []
    for full_key in sorted(keys):
        namespace = full_key.partition(":")[0]
        if namespace not in NAMESPACES:
            near = difflib.get_close_matches(namespace, sorted(NAMESPACES), n=1, cutoff=0.6)
            fix = (
                f"did you mean {near[0]}:?"
                if near
                else f"use {PROJECT}: or a provider's ({', '.join(sorted(NAMESPACES - {PROJECT}))})"
            )
            errors.append(f"{full_key}: unknown namespace '{namespace}'; {fix}")
    if errors:
        raise ConfigError(*errors)


def load_settings() -> Settings:
    """Read every `coa-lockdown:*` key of the running stack (values arrive as strings, objects as JSON)."""
    from pulumi.runtime import config as runtime_config

    everything: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    check_namespaces(everything)
    raw: dict[str, Any] = {}
    for full_key, value in everything.items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            continue
        # An empty value is "" (the stack file's `key: ""`), not JSON: the key's own check says what is wrong.
        if isinstance(value, str) and value[:1] and value[:1] in "{[":
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(f"{full_key}: value is not valid JSON") from None
        raw[key] = value
    import pulumi

    secret_keys = frozenset(k.partition(":")[2] for k in everything if runtime_config.is_config_secret(k))
    # The lock beside the program: the language host runs it from the project directory.
    lock_path = Path.cwd() / LOCK_FILE.name
    return parse_settings(raw, stack=pulumi.get_stack(), secret_keys=secret_keys, lock_path=lock_path)
