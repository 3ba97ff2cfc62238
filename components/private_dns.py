"""The component owning the private DNS zones of the catalogue (configuration/private_dns_zones.py) and their VNet links."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure_native
from pulumi_azure_native import privatedns

from components.placement import Placement
from configuration.private_dns_zones import ZONES, zone_name, zones_for


@dataclass(frozen=True, kw_only=True)
class PrivateDnsArgs:
    placement: Placement
    virtual_network_id: pulumi.Input[str]
    # Hub zones owned elsewhere (Azure Landing Zones); when given, no zone of that key is created here.
    existing_zone_ids: Mapping[str, str] = field(default_factory=dict)
    # Link the hub's zones to this VNet from this stack (config dns.hubZoneResolution linkHere); otherwise the hub
    # links them, or a hub resolver answers for them.
    link_existing_zones: bool = False
    # The catalogue keys this stack resolves (configuration/private_dns_zones.py zones_for its task database).
    zone_keys: Sequence[str] = field(default_factory=lambda: zones_for("postgresql"))


ZONE_ID = re.compile(
    r"/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/"
    r"Microsoft\.Network/privateDnsZones/(?P<zone>[^/]+)",
    re.IGNORECASE,
)


class PrivateDns(pulumi.ComponentResource):
    """Every privatelink zone of the catalogue the stack resolves, linked to the VNet without auto-registration, or
    the hub's ids."""

    zone_ids: dict[str, pulumi.Output[str]]
    # VNet links by catalogue key (zones created here, and hub zones with link_existing_zones): a VNet-integrated
    # server resolves its own name only once the link exists, so such a server waits for it.
    links: dict[str, privatedns.VirtualNetworkLink]

    def __init__(self, name: str, args: PrivateDnsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:network:PrivateDns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.zone_ids = {}
        self.links = {}
        hub_providers: dict[str, azure_native.Provider] = {}
        for key in ZONES:
            if key not in args.zone_keys:
                continue
            if key in args.existing_zone_ids:
                zone_id = args.existing_zone_ids[key]
                self.zone_ids[key] = pulumi.Output.from_input(zone_id)
                if args.link_existing_zones:
                    self.links[key] = self._link_hub_zone(name, key, zone_id, args, hub_providers)
                continue
            zone = privatedns.PrivateZone(
                f"{name}-{key}",
                resource_group_name=args.placement.resource_group_name,
                private_zone_name=zone_name(key, args.placement.location),
                location="global",  # private DNS zones are global resources
                tags=dict(args.placement.tags),
                opts=child,
            )
            self.links[key] = privatedns.VirtualNetworkLink(
                f"{name}-{key}-link",
                resource_group_name=args.placement.resource_group_name,
                private_zone_name=zone.name,
                location="global",
                virtual_network=privatedns.SubResourceArgs(id=args.virtual_network_id),
                # Private endpoints write their own records through zone groups; VMs must not register here.
                registration_enabled=False,
                tags=dict(args.placement.tags),
                opts=child,
            )
            self.zone_ids[key] = zone.id
        self.register_outputs({"zone_ids": self.zone_ids})

    def _link_hub_zone(
        self,
        name: str,
        key: str,
        zone_id: str,
        args: PrivateDnsArgs,
        providers: dict[str, azure_native.Provider],
    ) -> privatedns.VirtualNetworkLink:
        """A link from a hub zone (in the hub's subscription and group) to this VNet; nothing else in the hub."""
        parts = ZONE_ID.fullmatch(zone_id)
        if not parts:
            raise ValueError(f"{zone_id!r} is not a private DNS zone id")
        subscription = parts["subscription"]
        if subscription not in providers:
            # The link is a child of the zone: it is written in the zone's subscription.
            providers[subscription] = azure_native.Provider(
                f"{name}-hub-{subscription[:8]}",
                subscription_id=subscription,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return privatedns.VirtualNetworkLink(
            f"{name}-{key}-hub-link",
            resource_group_name=parts["group"],
            private_zone_name=parts["zone"],
            location="global",
            virtual_network=privatedns.SubResourceArgs(id=args.virtual_network_id),
            registration_enabled=False,
            # A spoke is one of many links on a hub zone: the hub owns the zone, this stack only its own link.
            tags=dict(args.placement.tags),
            opts=pulumi.ResourceOptions(parent=self, provider=providers[subscription]),
        )
