"""The regions this stack can run in: Azure regions with availability zones where every service it uses is offered."""

from __future__ import annotations

import difflib
from pathlib import Path

from configuration.reader import Reader

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


# Where the full list is, for an error that cannot print all of it on one line.
REGIONS_HINT = (
    f"e.g. eastus2 or westeurope (all {len(REGIONS)}: REGIONS in {Path(__file__).parent.name}/{Path(__file__).name})"
)


def parse_location(reader: Reader) -> str:
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
