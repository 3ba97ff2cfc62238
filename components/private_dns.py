"""The private DNS zones this architecture resolves through, in one keyed catalogue, and the component owning them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import privatedns

# Catalogue key -> zone name. Zone names are fixed by Azure ("Azure Private Endpoint private DNS zone values").
# `aks` is regional: the private API server of a cluster in <region> registers in privatelink.<region>.azmk8s.io.
ZONES: dict[str, str] = {
    "blob": "privatelink.blob.core.windows.net",
    "vault": "privatelink.vaultcore.azure.net",
    "batch": "privatelink.batch.azure.com",
    "postgres": "privatelink.postgres.database.azure.com",
    "registry": "privatelink.azurecr.io",
    "aks": "privatelink.{location}.azmk8s.io",
    # Azure Monitor Private Link Scope: ingestion and query endpoints of Log Analytics and Application Insights.
    "monitor": "privatelink.monitor.azure.com",
    "omsOpinsights": "privatelink.oms.opinsights.azure.com",
    "odsOpinsights": "privatelink.ods.opinsights.azure.com",
    "agentSvc": "privatelink.agentsvc.azure-automation.net",
}


def zone_name(key: str, location: str) -> str:
    return ZONES[key].format(location=location)


@dataclass(frozen=True, kw_only=True)
class PrivateDnsArgs:
    resource_group_name: pulumi.Input[str]
    location: str
    virtual_network_id: pulumi.Input[str]
    # Hub zones owned elsewhere (Azure Landing Zones); when given, no zone of that key is created here.
    existing_zone_ids: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class PrivateDns(pulumi.ComponentResource):
    """Every privatelink zone of the catalogue, linked to the VNet without auto-registration, or the hub's ids."""

    zone_ids: dict[str, pulumi.Output[str]]
    # VNet links of the zones created here, by catalogue key: a VNet-integrated server resolves its own name only
    # once the link exists, so such a server waits for it. Hub zones are linked by the hub.
    links: dict[str, privatedns.VirtualNetworkLink]

    def __init__(self, name: str, args: PrivateDnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:network:PrivateDns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.zone_ids = {}
        self.links = {}
        for key in ZONES:
            if key in args.existing_zone_ids:
                self.zone_ids[key] = pulumi.Output.from_input(args.existing_zone_ids[key])
                continue
            zone = privatedns.PrivateZone(
                f"{name}-{key}",
                resource_group_name=args.resource_group_name,
                private_zone_name=zone_name(key, args.location),
                location="global",  # private DNS zones are global resources
                tags=dict(args.tags),
                opts=child,
            )
            self.links[key] = privatedns.VirtualNetworkLink(
                f"{name}-{key}-link",
                resource_group_name=args.resource_group_name,
                private_zone_name=zone.name,
                location="global",
                virtual_network=privatedns.SubResourceArgs(id=args.virtual_network_id),
                # Private endpoints write their own records through zone groups; VMs must not register here.
                registration_enabled=False,
                tags=dict(args.tags),
                opts=child,
            )
            self.zone_ids[key] = zone.id
        self.register_outputs({"zone_ids": self.zone_ids})
