"""The VNet: four subnets, each behind its own NSG that admits nothing from outside, and one controlled egress."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network

from components.placement import Placement
from configuration.settings import EgressMode, SubnetPlan

# Lowest priority number users can set; our deny rules sit at the end of the evaluated range so that explicit
# allows above them stay readable.
DENY_ALL_PRIORITY = 4096
POSTGRES_DELEGATION = "Microsoft.DBforPostgreSQL/flexibleServers"


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    placement: Placement
    address_space: ipaddress.IPv4Network
    subnets: SubnetPlan
    egress: EgressMode
    # Hub firewall's private IP; required when egress is "firewall".
    firewall_private_ip: str | None = None
    # Ranges outside the VNet (hub, operators, CI runners) that may reach the cluster API and private endpoints on 443.
    trusted_source_cidrs: Sequence[str] = ()
    # Custom DNS servers (a hub resolver) for every VNet client: AKS nodes and pods, Batch nodes. Empty: Azure DNS,
    # which answers from the private zones linked to this VNet.
    dns_servers: Sequence[str] = ()


def _rule(name: str, priority: int, access: str, source: str | list[str], ports: str = "*") -> network.SecurityRuleArgs:
    sources = source if isinstance(source, list) else [source]
    return network.SecurityRuleArgs(
        name=name,
        priority=priority,
        direction="Inbound",
        access=access,
        protocol="*",
        source_address_prefixes=sources,
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_range=ports,
    )


def inbound_rules(subnet: str, vnet_cidr: str, trusted: Sequence[str]) -> list[network.SecurityRuleArgs]:
    """Inbound rules per subnet. Azure's default rules also admit `VirtualNetwork` (peered and on-premises ranges)
    and `AzureLoadBalancer`; the final deny overrides both, so only what is listed here gets in."""
    if subnet in {"batch", "acrTasks"}:
        # Batch nodes have no public IPs and use simplified node communication (outbound only), and the ACR Tasks
        # agent pool only pulls sources and pushes images: nothing inbound at all.
        return [_rule("deny-all-inbound", DENY_ALL_PRIORITY, "Deny", "*")]
    rules = [_rule("allow-vnet-inbound", 1000, "Allow", vnet_cidr)]
    if trusted and subnet in {"aks", "privateEndpoints"}:
        # The private API server endpoint lives in the aks subnet; PaaS endpoints in privateEndpoints.
        rules.append(_rule("allow-trusted-https-inbound", 1100, "Allow", list(trusted), "443"))
    rules.append(_rule("deny-all-inbound", DENY_ALL_PRIORITY, "Deny", "*"))
    return rules


class Network(pulumi.ComponentResource):
    """VNet whose subnets all carry an NSG, have no default outbound access, and leave only through NAT or the hub."""

    subnet_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.placement.tags)
        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[str(args.address_space)]),
            dhcp_options=network.DhcpOptionsArgs(dns_servers=list(args.dns_servers)) if args.dns_servers else None,
            tags=tags,
            opts=child,
        )

        nat_gateway_id: pulumi.Output[str] | None = None
        route_table_id: pulumi.Output[str] | None = None
        if args.egress == "natGateway":
            egress_ip = network.PublicIPAddress(
                f"{name}-pip-egress",
                resource_group_name=args.placement.resource_group_name,
                location=args.placement.location,
                sku=network.PublicIPAddressSkuArgs(name="Standard", tier="Regional"),
                public_ip_allocation_method="Static",
                public_ip_address_version="IPv4",
                tags=tags,
                opts=child,
            )
            nat = network.NatGateway(
                f"{name}-ng",
                resource_group_name=args.placement.resource_group_name,
                location=args.placement.location,
                sku=network.NatGatewaySkuArgs(name="Standard"),
                public_ip_addresses=[network.SubResourceArgs(id=egress_ip.id)],
                idle_timeout_in_minutes=4,
                tags=tags,
                opts=child,
            )
            nat_gateway_id = nat.id
        else:
            if not args.firewall_private_ip:
                raise ValueError("network: egress 'firewall' needs firewall_private_ip")
            routes = network.RouteTable(
                f"{name}-rt",
                resource_group_name=args.placement.resource_group_name,
                location=args.placement.location,
                # Routes learned over the hub gateway could bypass the firewall.
                disable_bgp_route_propagation=True,
                routes=[
                    network.RouteArgs(
                        name="default-via-hub-firewall",
                        address_prefix="0.0.0.0/0",
                        next_hop_type="VirtualAppliance",
                        next_hop_ip_address=args.firewall_private_ip,
                    )
                ],
                tags=tags,
                opts=child,
            )
            route_table_id = routes.id

        self.nsg_ids: dict[str, pulumi.Output[str]] = {}
        self.subnet_ids = {}
        previous: pulumi.Resource | None = None
        for key, cidr in args.subnets.items():
            nsg = network.NetworkSecurityGroup(
                f"{name}-nsg-{key}",
                resource_group_name=args.placement.resource_group_name,
                location=args.placement.location,
                security_rules=inbound_rules(key, str(args.address_space), args.trusted_source_cidrs),
                tags=tags,
                opts=child,
            )
            # Builds pull the .NET base images from MCR and packages from NuGet and Debian (Dockerfile-Tes).
            egress_needed = key in {"aks", "batch", "acrTasks"}
            subnet = network.Subnet(
                f"{name}-snet-{key}",
                resource_group_name=args.placement.resource_group_name,
                virtual_network_name=vnet.name,
                address_prefix=str(cidr),
                network_security_group=network.NetworkSecurityGroupArgs(id=nsg.id),
                # New VMs get no implicit Internet egress: only the NAT gateway or the hub route lets traffic out.
                default_outbound_access=False,
                nat_gateway=network.SubResourceArgs(id=nat_gateway_id) if nat_gateway_id and egress_needed else None,
                route_table=network.RouteTableArgs(id=route_table_id) if route_table_id and egress_needed else None,
                # NSGs apply to private endpoint traffic only when endpoint network policies are on.
                private_endpoint_network_policies="Enabled" if key == "privateEndpoints" else None,
                delegations=[network.DelegationArgs(name="postgres", service_name=POSTGRES_DELEGATION)]
                if key == "postgres"
                else None,
                # Azure rejects concurrent writes to subnets of one VNet (AnotherOperationInProgress): one at a time.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous] if previous else None),
            )
            previous = subnet
            self.nsg_ids[key] = nsg.id
            self.subnet_ids[key] = subnet.id

        self.vnet_id = vnet.id
        self.vnet_name = vnet.name
        self.nat_gateway_id = nat_gateway_id
        self.route_table_id = route_table_id
        self.register_outputs({"vnet_id": self.vnet_id, "subnet_ids": self.subnet_ids})


@dataclass(frozen=True, kw_only=True)
class FlowLogArgs:
    # Flow logs live in the region's Network Watcher, which Azure creates in its own group (NetworkWatcherRG): the
    # placement names that group.
    placement: Placement
    network_watcher_name: str
    virtual_network_id: pulumi.Input[str]
    storage_account_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    workspace_customer_id: pulumi.Input[str]
    workspace_region: pulumi.Input[str]
    retention_days: int


class VnetFlowLog(pulumi.ComponentResource):
    """VNet flow logs into the stack's storage account, with traffic analytics in the workspace."""

    def __init__(self, name: str, args: FlowLogArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:network:VnetFlowLog", name, None, opts)
        network.FlowLog(
            f"{name}-flowlog",
            resource_group_name=args.placement.resource_group_name,
            network_watcher_name=args.network_watcher_name,
            location=args.placement.location,
            target_resource_id=args.virtual_network_id,
            storage_id=args.storage_account_id,
            enabled=True,
            format=network.FlowLogFormatParametersArgs(type="JSON", version=2),
            retention_policy=network.RetentionPolicyParametersArgs(days=args.retention_days, enabled=True),
            flow_analytics_configuration=network.TrafficAnalyticsPropertiesArgs(
                network_watcher_flow_analytics_configuration=network.TrafficAnalyticsConfigurationPropertiesArgs(
                    enabled=True,
                    workspace_id=args.workspace_customer_id,
                    workspace_region=args.workspace_region,
                    workspace_resource_id=args.workspace_id,
                    traffic_analytics_interval=10,
                )
            ),
            tags=dict(args.placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
