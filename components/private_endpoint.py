"""One private endpoint and its DNS zone group: the only way PaaS resources of this stack are reached."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
from pulumi_azure_native import network

from components.placement import Placement


@dataclass(frozen=True, kw_only=True)
class PrivateEndpointSpec:
    """Where a PaaS component puts its endpoints; shared by every component the same way."""

    placement: Placement
    subnet_id: pulumi.Input[str]
    zone_ids: Mapping[str, pulumi.Input[str]]
    # Enterprise tenants where Azure Policy (DeployIfNotExists) writes the zone groups: skip ours.
    zone_group_managed_by_policy: bool = False


@dataclass(frozen=True, kw_only=True)
class PrivateEndpointArgs:
    spec: PrivateEndpointSpec
    target_resource_id: pulumi.Input[str]
    # Sub-resource of the target ("blob", "vault", "Sql", "batchAccount", "nodeManagement", "registry").
    group_id: str
    # Catalogue key of the zone the endpoint's records belong in (configuration.private_dns_zones.ZONES).
    zone_key: str
    # Services that answer on several names (Azure Monitor) register records in more than one zone.
    extra_zone_keys: Sequence[str] = ()
    # automatic: the deploy identity may approve the connection on the target (Azure approves it at once);
    # owner: a manual connection request that stays Pending until the target's owner approves it.
    approval: Literal["automatic", "owner"] = "automatic"
    request_message: str = ""


class PrivateEndpoint(pulumi.ComponentResource):
    """A private endpoint in the private-endpoints subnet with an A record in the matching privatelink zone."""

    def __init__(self, name: str, args: PrivateEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:network:PrivateEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec = args.spec
        zone_keys = [args.zone_key, *args.extra_zone_keys]
        missing = [key for key in zone_keys if key not in spec.zone_ids]
        if missing:
            raise ValueError(f"private endpoint {name}: no DNS zone {missing} in the catalogue")
        connection = [
            network.PrivateLinkServiceConnectionArgs(
                name=args.group_id,
                private_link_service_id=args.target_resource_id,
                group_ids=[args.group_id],
                request_message=args.request_message or None,
            )
        ]
        endpoint = network.PrivateEndpoint(
            f"{name}-pep",
            resource_group_name=spec.placement.resource_group_name,
            location=spec.placement.location,
            subnet=network.SubnetArgs(id=spec.subnet_id),
            private_link_service_connections=None if args.approval == "owner" else connection,
            manual_private_link_service_connections=connection if args.approval == "owner" else None,
            tags=dict(spec.placement.tags),
            opts=child,
        )
        if not spec.zone_group_managed_by_policy:
            network.PrivateDnsZoneGroup(
                f"{name}-dns",
                resource_group_name=spec.placement.resource_group_name,
                private_endpoint_name=endpoint.name,
                private_dns_zone_group_name="default",
                private_dns_zone_configs=[
                    network.PrivateDnsZoneConfigArgs(name=key, private_dns_zone_id=spec.zone_ids[key])
                    for key in zone_keys
                ],
                opts=child,
            )
        self.endpoint_id = endpoint.id
        self.endpoint_name = endpoint.name
        self.register_outputs({"endpoint_id": self.endpoint_id})
