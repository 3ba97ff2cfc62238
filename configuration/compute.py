"""The AKS settings (version, address ranges, node pools that hold an ephemeral OS disk) and the image build's."""

from __future__ import annotations

import datetime
import ipaddress
import re

from configuration.reader import GUID, Reader
from configuration.regions import ACR_AGENT_POOL_REGIONS, ACR_AGENT_POOL_TIERS
from configuration.retirement_calendar import load, retired
from configuration.settings import (
    OS_DISK_SIZE_GB,
    AksSettings,
    ImageBuildSettings,
    NodePoolSettings,
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


def parse_image_build(reader: Reader, location: str) -> ImageBuildSettings:
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


def parse_aks(reader: Reader, today: datetime.date | None = None) -> AksSettings:
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
    # AKS stops offering a minor at its end of life: no cluster or node pool is created on it (retirement.yaml).
    minor = ".".join(version.split(".")[:2])
    if today and minor in retired(load(), "kubernetes", today):
        calendar = load()
        (entry,) = [e for e in calendar if e.matches("kubernetes", minor)]
        supported = sorted(
            (e.value for e in calendar if e.kind == "kubernetes" and (e.ends is None or e.ends >= today)),
            key=lambda v: tuple(int(part) for part in v.split(".")),
        )
        raise k8s.fail(
            "version",
            f"{version!r} reached its AKS end of life on {entry.ends} (retirement.yaml); use a supported minor: "
            f"{', '.join(supported) or 'none is recorded, add the current ones to retirement.yaml'}",
        )
    return AksSettings(
        kubernetes_version=version,
        service_cidr=service_cidr,
        dns_service_ip=dns_ip,
        pod_cidr=pod_cidr,
        system_pool=_parse_pool(k8s, "systemPool", "Standard_D4ds_v5", 2, 3),
        user_pool=_parse_pool(k8s, "userPool", "Standard_D8ds_v5", 1, 5),
        availability_zones=k8s.string_list("availabilityZones", pattern=r"[123]", hint="zones are 1, 2 or 3"),
        admin_group_object_ids=k8s.string_list(
            "adminGroupObjectIds", pattern=GUID.pattern, hint="an Entra ID group object id"
        ),
    )
