"""What the program knows about Batch node images: which Hyper-V generations each boots, which node agent matches it,
whether it ships Docker (TES 6 needs it preinstalled) and until when Azure Batch supports it.

TES 6.0.0 picks a pool's image by the VM size alone: the gen2 image when the size lists Hyper-V generation V2, the gen1
image otherwise (ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:577,586). TES does not install Docker; its node
setup only moves Docker's data root and restarts it (src/TesApi.Web/scripts/config-docker.sh), and swallows the
failure when Docker is missing, so tasks fail later instead.

No supported generation-1 image with Docker is left: Batch retired the last one (microsoft-azure-batch
ubuntu-server-container 20-04-lts, batch.node.ubuntu 20.04) on 2025-04-23 (Azure/Batch#174), and microsoft-dsvm
ubuntu-hpc is built for generation 2 only (Azure/azhpc-images packer/variables.pkr.hcl: 22_04-lts-gen2 and
ubuntu-24_04-lts/server bases). So this project allows only VM sizes that support generation 2, and sets the gen1
image to a supported image as a backstop: a size that slipped through fails pool creation visibly rather than
landing on a retired image.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from configuration.settings import BatchNodeImage


@dataclass(frozen=True, kw_only=True)
class NodeImageFacts:
    node_agent_sku_id: str
    generations: frozenset[str]
    docker: bool
    # Last day Azure Batch supports the node agent (None: not announced).
    batch_support_ends: datetime.date | None
    source: str


# (publisher, offer, sku) -> facts. `az batch pool supported-images list` on a real subscription is the authority;
# scripts/preflight.sh checks the configured images there.
KNOWN_IMAGES: dict[tuple[str, str, str], NodeImageFacts] = {
    ("microsoft-dsvm", "ubuntu-hpc", "2204"): NodeImageFacts(
        node_agent_sku_id="batch.node.ubuntu 22.04",
        generations=frozenset({"V2"}),
        docker=True,
        # Azure/Batch#200: Batch removes the batch.node.ubuntu 22.04 agent after 2027-06-30.
        batch_support_ends=datetime.date(2027, 6, 30),
        source="Azure/Batch#200; Azure/azhpc-images README (Generation2VMImage, DockerCompatible)",
    ),
    ("microsoft-dsvm", "ubuntu-hpc", "2404"): NodeImageFacts(
        node_agent_sku_id="batch.node.ubuntu 24.04",
        generations=frozenset({"V2"}),
        docker=True,
        batch_support_ends=None,
        source="Azure/Batch#200 (named as the 22.04 successor); Azure/azhpc-images README",
    ),
    # Retired: TES 6.0.0's own defaults (src/TesApi.Web/appsettings.json:21-34), used when BatchImageGen1/2 are unset.
    ("microsoft-azure-batch", "ubuntu-server-container", "20-04-lts"): NodeImageFacts(
        node_agent_sku_id="batch.node.ubuntu 20.04",
        generations=frozenset({"V1"}),
        docker=True,
        batch_support_ends=datetime.date(2025, 4, 23),
        source="Azure/Batch#174; Azure/Batch#137 (generation 1 only)",
    ),
    ("microsoft-dsvm", "ubuntu-hpc", "2004"): NodeImageFacts(
        node_agent_sku_id="batch.node.ubuntu 20.04",
        generations=frozenset({"V2"}),
        docker=True,
        batch_support_ends=datetime.date(2025, 4, 23),
        source="Azure/Batch#174",
    ),
}

# What TES 6.0.0 runs when the chart passes no BatchImageGen1/2 settings (ga4gh-tes@6.0.0 appsettings.json:21-34).
TES_DEFAULT_IMAGES = {
    "gen1": BatchNodeImage(
        publisher="microsoft-azure-batch",
        offer="ubuntu-server-container",
        sku="20-04-lts",
        version="latest",
        node_agent_sku_id="batch.node.ubuntu 20.04",
    ),
    "gen2": BatchNodeImage(
        publisher="microsoft-dsvm",
        offer="ubuntu-hpc",
        sku="2004",
        version="latest",
        node_agent_sku_id="batch.node.ubuntu 20.04",
    ),
}


def facts(image: BatchNodeImage) -> NodeImageFacts | None:
    return KNOWN_IMAGES.get((image.publisher.lower(), image.offer.lower(), image.sku.lower()))


def boots(image: BatchNodeImage, generation: str, today: datetime.date) -> str | None:
    """None when `image` boots a node of Hyper-V `generation` and runs TES's node setup today; else why not."""
    known = facts(image)
    name = f"{image.publisher}/{image.offer}/{image.sku}"
    if known is None:
        return f"{name} is not an image this project knows (configuration/batch_node_images.py)"
    if generation not in known.generations:
        return f"{name} boots only Hyper-V generation {'/'.join(sorted(known.generations))}, not {generation}"
    if known.node_agent_sku_id != image.node_agent_sku_id:
        return f"{name} needs node agent {known.node_agent_sku_id!r}, not {image.node_agent_sku_id!r}"
    if not known.docker:
        return f"{name} has no Docker, which TES 6's node setup needs"
    if known.batch_support_ends and today > known.batch_support_ends:
        return f"{name} ({image.node_agent_sku_id}) left Azure Batch support on {known.batch_support_ends}"
    return None
