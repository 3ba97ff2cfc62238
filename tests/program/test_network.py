"""The network: every subnet behind an NSG that admits nothing from outside, controlled egress only."""

from __future__ import annotations

import ipaddress

import pytest
from stackquery import by_id, one

from offline.harness import ProgramRun

SUBNETS = ("aks", "batch", "privateEndpoints", "postgres")


def _subnets(run: ProgramRun) -> dict[str, dict]:
    return {key: one(run, "azure-native:network:Subnet", f"snet-{key}").inputs for key in SUBNETS}


def test_every_subnet_has_its_own_nsg(stack: ProgramRun) -> None:
    nsg_ids = [s["networkSecurityGroup"]["id"] for s in _subnets(stack).values()]
    assert len(set(nsg_ids)) == len(SUBNETS)
    for nsg_id in nsg_ids:
        assert by_id(stack, nsg_id).type == "azure-native:network:NetworkSecurityGroup"


def test_subnets_have_no_default_outbound_access(stack: ProgramRun) -> None:
    for key, subnet in _subnets(stack).items():
        assert subnet["defaultOutboundAccess"] is False, key


def test_no_nsg_allows_inbound_from_outside_the_vnet(stack: ProgramRun) -> None:
    vnet = one(stack, "azure-native:network:VirtualNetwork").inputs
    space = ipaddress.ip_network(vnet["addressSpace"]["addressPrefixes"][0])
    trusted_hub = ipaddress.ip_network("10.0.0.0/22")
    for nsg in stack.of_type("azure-native:network:NetworkSecurityGroup"):
        for rule in nsg.inputs["securityRules"]:
            if rule["direction"] != "Inbound" or rule["access"] != "Allow":
                continue
            sources = rule.get("sourceAddressPrefixes") or [rule.get("sourceAddressPrefix")]
            for source in sources:
                network = ipaddress.ip_network(source)  # tags such as Internet or * would raise here
                assert network.subnet_of(space) or (
                    network.subnet_of(trusted_hub) and rule["destinationPortRange"] == "443"
                ), (nsg.name, rule["name"], source)


def test_every_nsg_ends_with_an_explicit_deny_all_inbound(stack: ProgramRun) -> None:
    for nsg in stack.of_type("azure-native:network:NetworkSecurityGroup"):
        last = max(nsg.inputs["securityRules"], key=lambda r: r["priority"])
        assert (last["access"], last["direction"], last["sourceAddressPrefixes"]) == ("Deny", "Inbound", ["*"]), (
            nsg.name
        )


def test_batch_subnet_nsg_denies_all_inbound_and_allows_nothing(stack: ProgramRun) -> None:
    nsg = by_id(stack, _subnets(stack)["batch"]["networkSecurityGroup"]["id"])
    assert [r["access"] for r in nsg.inputs["securityRules"] if r["direction"] == "Inbound"] == ["Deny"]


def test_batch_subnet_fits_the_configured_node_count(stack: ProgramRun) -> None:
    batch = ipaddress.ip_network(_subnets(stack)["batch"]["addressPrefix"])
    assert batch.prefixlen == 17  # room for thousands of Batch nodes


def test_postgres_subnet_is_delegated(stack: ProgramRun) -> None:
    delegations = _subnets(stack)["postgres"]["delegations"]
    assert [d["serviceName"] for d in delegations] == ["Microsoft.DBforPostgreSQL/flexibleServers"]


def test_private_endpoint_subnet_applies_nsgs_to_endpoints(stack: ProgramRun) -> None:
    assert _subnets(stack)["privateEndpoints"]["privateEndpointNetworkPolicies"] == "Enabled"


def test_dev_leaves_through_a_nat_gateway(dev: ProgramRun) -> None:
    nat = one(dev, "azure-native:network:NatGateway")
    subnets = _subnets(dev)
    for key in ("aks", "batch"):
        assert subnets[key]["natGateway"]["id"] == nat.id
    assert "natGateway" not in subnets["privateEndpoints"]
    assert not dev.of_type("azure-native:network:RouteTable")
    ip = one(dev, "azure-native:network:PublicIPAddress")
    assert nat.inputs["publicIpAddresses"] == [{"id": ip.id}]


def test_prod_leaves_through_the_hub_firewall(prod: ProgramRun) -> None:
    table = one(prod, "azure-native:network:RouteTable")
    assert table.inputs["routes"] == [
        {
            "name": "default-via-hub-firewall",
            "addressPrefix": "0.0.0.0/0",
            "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": "10.0.1.4",
        }
    ]
    assert table.inputs["disableBgpRoutePropagation"] is True
    for key in ("aks", "batch"):
        assert _subnets(prod)[key]["routeTable"]["id"] == table.id
    assert not prod.of_type("azure-native:network:PublicIPAddress")
    assert not prod.of_type("azure-native:network:NatGateway")


@pytest.mark.parametrize("key", SUBNETS)
def test_subnets_are_created_one_at_a_time(stack: ProgramRun, key: str) -> None:
    index = SUBNETS.index(key)
    if index == 0:
        return
    subnet = one(stack, "azure-native:network:Subnet", f"snet-{key}")
    previous = one(stack, "azure-native:network:Subnet", f"snet-{SUBNETS[index - 1]}")
    assert previous.urn in subnet.dependencies
