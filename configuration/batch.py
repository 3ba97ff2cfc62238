"""The Batch pools TES creates: the node images it may start (by Hyper-V generation) and the VM sizes it may choose."""

from __future__ import annotations

import datetime

from configuration.reader import Reader
from configuration.retirement_calendar import load, retired
from configuration.settings import (
    BatchNodeImage,
    BatchNodeImages,
)

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
        "batch.node.ubuntu 14.04",
        "batch.node.ubuntu 16.04",
        "batch.node.ubuntu 18.04",
        "batch.node.ubuntu 20.04",
        "batch.node.centos 7",
        "batch.node.centos 8",
        "batch.node.debian 8",
        "batch.node.debian 9",
        "batch.node.debian 10",
    }
)


def retired_node_agents(today: datetime.date) -> frozenset[str]:
    """Node agents no pool may use on `today`: the ones Batch already retired and the calendar's past their end
    (ubuntu 22.04 after 2027-06-30, Azure/Batch#200). Config refuses them, the Batch governance assignments deny them."""
    return RETIRED_NODE_AGENTS | frozenset(retired(load(), "batch-node-agent", today))


# TES 6.0.0 refuses any other node agent family ("Unrecognized OS").
TES_NODE_AGENT_PREFIXES = ("batch.node.ubuntu ", "batch.node.centos ")


# What TES may run tasks on. TES picks the cheapest eligible size for each task and, without this list, considers
# every size its bundled list offers in the region (ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1361), including
# generation-1-only sizes no supported Docker image boots (configuration/batch_node_images.py) and unpriced sizes that
# cost 0 when prices.azure.com is unreachable (a 1-core task then runs on Standard_D16as_v4). These families list
# Hyper-V generation 2, have a local temporary disk and a bundled price for every size, span 2 to 96 vCPUs and are
# offered in every region this project allows (components/contracts/tes_6_0_0_vm_selection.py proves it per stack).
DEFAULT_ALLOWED_VM_SIZES = ("standardDDSv5Family", "standardDDv5Family", "standardEDSv5Family")
VM_SIZE_OR_FAMILY = r"Standard_[A-Za-z0-9_]+|standard[A-Za-z0-9]+Family"


def parse_allowed_vm_sizes(batch: Reader) -> tuple[str, ...]:
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


def check_allowed_vm_sizes(
    batch: Reader,
    sizes: tuple[str, ...],
    images: BatchNodeImages,
    region: str,
    today: datetime.date,
    *,
    one_image: bool = False,
) -> None:
    """Every entry is one TES knows in the region, and every size it covers boots the image TES would give it.

    `one_image`: TES 3.2 starts every size on its one image, batch.images.gen2 (CromwellOnAzure@3.2.0:
    src/TesApi.Web/BatchScheduler.cs:91-95), so a size that boots only generation 1 cannot run there. The sizes and
    prices judged are TES 6.0.0's bundled list; TES 3.2's own list (AzureBillingUtils.cs) holds the default families."""
    from components.contracts import tes_6_0_0_vm_selection as tes
    from configuration import batch_node_images

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
        image_key = "gen2" if generation == "V2" or one_image else "gen1"
        problem = batch_node_images.boots(images.gen2 if image_key == "gen2" else images.gen1, generation, today)
        if problem:
            which = "TES 3.2 starts on" if one_image else "TES would start on"
            raise batch.fail(
                key,
                f"covers {vm.vm_size}, which {which} batch.images.{image_key}: {problem}; list generation 2 sizes",
            )


def parse_batch_images(batch: Reader, today: datetime.date) -> BatchNodeImages:
    from configuration import batch_node_images

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
        retired_agents = retired_node_agents(today)
        if agent in retired_agents:
            usable = sorted(
                f"{facts.node_agent_sku_id!r} (sku {sku})"
                for (_, _, sku), facts in batch_node_images.KNOWN_IMAGES.items()
                if facts.docker and facts.node_agent_sku_id not in retired_agents
            )
            raise image.fail(
                "nodeAgentSkuId",
                f"{agent!r} is retired (retirement.yaml); use {' or '.join(usable) or 'a supported agent'}",
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
