"""What a stack costs per month while idle (no workflow running), itemised from what it registers.

An estimate at list prices, never a measurement: nothing here ran against Azure. Quantities and SKUs come from the
stack's registrations (node pools at their minimum, the PostgreSQL SKU, HA and storage, the number of private
endpoints and DNS zones, the NAT gateway, the cluster tier). Prices are pay-as-you-go list prices in USD:
- virtual machines (AKS nodes): the West Europe Linux retail prices TES 6.0.0 bundles
  (components/contracts/tes_6_0_0_vm_sizes.json; microsoft/ga4gh-tes@6.0.0:src/GenerateBatchVmSkus/
  AzureBatchSkuLocator.cs:155 reads the Retail Prices API for West Europe; PriceApiClient.cs:96-101 asks for USD,
  Consumption), so a size priced lower in another region is overestimated;
- everything else: PRICES and POSTGRES_COMPUTE below, recorded from Azure's public pricing pages (East US where
  regions differ), rounded, not read from the Retail Prices API by this module.
Whatever is billed only by use (Batch nodes, ACR Tasks build time, data processed by endpoints and NAT, storage
transactions, Key Vault operations) is listed as usage, not priced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from offline.records import ResourceRecord

HOURS_PER_MONTH = Decimal(730)
DAYS_PER_MONTH = Decimal("30.4")

# Published list prices (USD, pay-as-you-go), rounded; check a region's with the Retail Prices API
# (https://prices.azure.com/api/retail/prices?$filter=serviceName eq '<service>' and armRegionName eq '<region>').
PRICES: dict[str, tuple[Decimal, str]] = {
    "aks-standard-tier": (Decimal("0.10"), "per cluster hour (Free tier: 0)"),
    "private-endpoint": (Decimal("0.01"), "per endpoint hour, plus $0.01/GB processed"),
    "private-dns-zone": (Decimal("0.50"), "per zone month (first 25 zones), plus $0.40 per million queries"),
    "nat-gateway": (Decimal("0.045"), "per gateway hour, plus $0.045/GB processed"),
    "public-ip-standard": (Decimal("0.005"), "per static Standard IP hour"),
    "acr-premium": (Decimal("1.667"), "per registry day (500 GB included)"),
    "postgres-storage": (Decimal("0.115"), "per provisioned GiB month"),
    "log-analytics-ingestion": (Decimal("2.30"), "per GB ingested (Analytics logs; 31 days retention included)"),
    "log-analytics-retention": (Decimal("0.10"), "per GB month kept beyond the included 31 days"),
}
# PostgreSQL flexible server compute, per hour (East US list prices, rounded).
POSTGRES_COMPUTE: dict[str, Decimal] = {
    "Standard_B2s": Decimal("0.068"),
    "Standard_D2ds_v5": Decimal("0.178"),
    "Standard_D4ds_v5": Decimal("0.356"),
}
# Container Insights from an idle node (system pods, inventory, 1-minute performance data): an assumption, not a
# measurement. Measure it after a week: `Usage | where TimeGenerated > ago(1d) | summarize sum(Quantity) / 1000`.
INSIGHTS_GB_PER_NODE_DAY = Decimal("0.2")


class CostError(Exception):
    """A SKU the stack uses has no price here; the message names it."""


@dataclass(frozen=True)
class Line:
    item: str
    quantity: str
    monthly: Decimal | None  # None: billed by use only


def _of(records: Sequence[ResourceRecord], token: str) -> list[ResourceRecord]:
    return [r for r in records if r.type == token]


def _vm_price(size: str) -> Decimal:
    from components.contracts.tes_6_0_0_vm_selection import all_vm_sizes

    for vm in all_vm_sizes():
        if vm.vm_size.lower() == size.lower() and not vm.low_priority and vm.price_per_hour is not None:
            return Decimal(vm.price_per_hour)
    raise CostError(f"VM size {size}: not priced in TES 6.0.0's bundled list")


def _hourly(key: str, count: int = 1) -> Decimal:
    return PRICES[key][0] * HOURS_PER_MONTH * count


def idle_costs(records: Sequence[ResourceRecord]) -> list[Line]:
    lines: list[Line] = []
    nodes = 0
    for cluster in _of(records, "azure-native:containerservice:ManagedCluster"):
        tier = str((cluster.inputs.get("sku") or {}).get("tier") or "Free")
        lines.append(
            Line(
                f"AKS control plane, {tier} tier",
                "1 cluster",
                _hourly("aks-standard-tier") if tier == "Standard" else Decimal(0),
            )
        )
        pools = [(p.get("name"), p) for p in cluster.inputs.get("agentPoolProfiles") or []]
        pools += [
            (p.inputs.get("agentPoolName"), p.inputs) for p in _of(records, "azure-native:containerservice:AgentPool")
        ]
        for name, pool in pools:
            count = int(pool.get("minCount") or pool.get("count") or 0)
            size = str(pool.get("vmSize"))
            nodes += count
            disk = (
                "ephemeral OS disk" if pool.get("osDiskType") == "Ephemeral" else "plus a managed OS disk (not priced)"
            )
            lines.append(
                Line(
                    f"AKS pool `{name}`: {size} ({disk})",
                    f"{count} node{'s' if count != 1 else ''} (autoscaler minimum)",
                    _vm_price(size) * HOURS_PER_MONTH * count,
                )
            )
    for server in _of(records, "azure-native:dbforpostgresql:Server"):
        sku = str((server.inputs.get("sku") or {}).get("name"))
        if sku not in POSTGRES_COMPUTE:
            raise CostError(f"PostgreSQL SKU {sku}: no price in offline/costs.py POSTGRES_COMPUTE")
        ha = (server.inputs.get("highAvailability") or {}).get("mode") not in (None, "Disabled")
        copies = 2 if ha else 1  # the HA standby is billed like the primary, compute and storage
        gib = int((server.inputs.get("storage") or {}).get("storageSizeGB") or 0)
        what = "primary + zone-redundant standby" if ha else "1 server"
        lines.append(Line(f"PostgreSQL flexible server {sku}", what, POSTGRES_COMPUTE[sku] * HOURS_PER_MONTH * copies))
        lines.append(Line("PostgreSQL storage", f"{gib} GiB × {copies}", PRICES["postgres-storage"][0] * gib * copies))
    endpoints = len(_of(records, "azure-native:network:PrivateEndpoint"))
    private_api = any(
        (c.inputs.get("apiServerAccessProfile") or {}).get("enablePrivateCluster")
        for c in _of(records, "azure-native:containerservice:ManagedCluster")
    )
    endpoints += 1 if private_api else 0  # AKS puts the private API server's endpoint in its node resource group
    lines.append(
        Line(
            "Private endpoints",
            f"{endpoints} (incl. the AKS API server's)" if private_api else str(endpoints),
            _hourly("private-endpoint", endpoints),
        )
    )
    zones = len(_of(records, "azure-native:privatedns:PrivateZone"))
    if zones:
        lines.append(Line("Private DNS zones", str(zones), PRICES["private-dns-zone"][0] * zones))
    for _ in _of(records, "azure-native:network:NatGateway"):
        lines.append(Line("NAT gateway", "1", _hourly("nat-gateway")))
    ips = len(_of(records, "azure-native:network:PublicIPAddress"))
    if ips:
        lines.append(Line("Public IP (Standard, static)", str(ips), _hourly("public-ip-standard", ips)))
    for registry in _of(records, "azure-native:containerregistry:Registry"):
        sku = str((registry.inputs.get("sku") or {}).get("name"))
        if sku != "Premium":
            raise CostError(f"container registry SKU {sku}: no price in offline/costs.py")
        lines.append(Line("Container registry, Premium", "1", PRICES["acr-premium"][0] * DAYS_PER_MONTH))
    if nodes and _of(records, "azure-native:monitor:DataCollectionRule"):
        gb = INSIGHTS_GB_PER_NODE_DAY * nodes * DAYS_PER_MONTH
        lines.append(
            Line(
                "Log Analytics: Container Insights ingestion (assumed)",
                f"{INSIGHTS_GB_PER_NODE_DAY} GB/node/day × {nodes} nodes ≈ {gb:.0f} GB",
                gb * PRICES["log-analytics-ingestion"][0],
            )
        )
    for workspace in _of(records, "azure-native:operationalinsights:Workspace"):
        days = int(workspace.inputs.get("retentionInDays") or 31)
        if nodes and days > 31:
            kept = INSIGHTS_GB_PER_NODE_DAY * nodes * (days - 31)
            lines.append(
                Line(
                    f"Log Analytics: retention to {days} days (after {days} days of data)",
                    f"≈ {kept:.0f} GB beyond 31 days",
                    kept * PRICES["log-analytics-retention"][0],
                )
            )
    usage = [
        ("Batch nodes", "0 while idle: TES creates pools for tasks; the account itself is free"),
        ("ACR Tasks agent pool", "0 instances between builds (build-images.sh scales it to zero)"),
        ("Storage account, Key Vault", "per GB stored and per operation: cents while idle"),
        ("PostgreSQL backups", "per GB beyond the provisioned size (geo-redundant copies where enabled)"),
        ("Data through endpoints and NAT", "per GB processed"),
    ]
    lines += [Line(item, quantity, None) for item, quantity in usage]
    return lines


def _money(value: Decimal) -> str:
    if value == 0:
        return "$0"
    return f"${value:,.0f}" if value >= 10 else f"${value:,.2f}"


def cost_table(runs: Mapping[str, Sequence[ResourceRecord]]) -> str:
    """One table per stack: item, quantity from the registrations, monthly list price; then the total."""
    blocks = []
    for stack, records in runs.items():
        lines = idle_costs(records)
        total = sum((line.monthly for line in lines if line.monthly is not None), Decimal(0))
        rows = [
            f"**`{stack}`**, idle: about **{_money(total)} per month**",
            "",
            "| Item | Quantity | Per month |",
            "|---|---|---|",
        ]
        for line in lines:
            rows.append(
                f"| {line.item} | {line.quantity} | {_money(line.monthly) if line.monthly is not None else 'by use'} |"
            )
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks)
