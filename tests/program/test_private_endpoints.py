"""Private endpoints land in the private-endpoints subnet with an A record in the matching privatelink zone."""

from __future__ import annotations

import pytest
from stackquery import ancestors, by_id, one

from offline.harness import ProgramRun

EXPECTED = {
    # target type -> (group id, zone)
    "azure-native:storage:StorageAccount": ("blob", "privatelink.blob.core.windows.net"),
    "azure-native:keyvault:Vault": ("vault", "privatelink.vaultcore.azure.net"),
}


@pytest.mark.parametrize("target_type", sorted(EXPECTED))
def test_endpoint_lands_in_the_right_subnet_and_zone(stack: ProgramRun, target_type: str) -> None:
    target = one(stack, target_type)
    group_id, zone_name = EXPECTED[target_type]
    endpoints = [
        e
        for e in stack.of_type("azure-native:network:PrivateEndpoint")
        if e.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"] == target.id
    ]
    assert len(endpoints) == 1
    endpoint = endpoints[0]
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == [group_id]
    subnet = one(stack, "azure-native:network:Subnet", "snet-privateEndpoints")
    assert endpoint.inputs["subnet"]["id"] == subnet.id
    groups = [
        g
        for g in stack.of_type("azure-native:network:PrivateDnsZoneGroup")
        if g.inputs["privateEndpointName"] == endpoint.outputs["name"]
    ]
    assert len(groups) == 1
    zone = by_id(stack, groups[0].inputs["privateDnsZoneConfigs"][0]["privateDnsZoneId"])
    assert zone.inputs["privateZoneName"] == zone_name
    assert "coa:network:PrivateEndpoint" in ancestors(stack, endpoint)


def test_every_zone_is_linked_to_the_vnet_without_registration(stack: ProgramRun) -> None:
    vnet = one(stack, "azure-native:network:VirtualNetwork")
    zones = stack.of_type("azure-native:privatedns:PrivateZone")
    links = stack.of_type("azure-native:privatedns:VirtualNetworkLink")
    assert {z.inputs["privateZoneName"] for z in zones} >= {
        "privatelink.blob.core.windows.net",
        "privatelink.vaultcore.azure.net",
        "privatelink.batch.azure.com",
        "privatelink.postgres.database.azure.com",
        "privatelink.azurecr.io",
    }
    assert sorted(link.inputs["privateZoneName"] for link in links) == sorted(z.outputs["name"] for z in zones)
    for link in links:
        assert link.inputs["virtualNetwork"]["id"] == vnet.id
        assert link.inputs["registrationEnabled"] is False


def test_aks_zone_is_regional(dev: ProgramRun, prod: ProgramRun) -> None:
    assert any(
        z.inputs["privateZoneName"] == "privatelink.westeurope.azmk8s.io"
        for z in dev.of_type("azure-native:privatedns:PrivateZone")
    )
    assert any(
        z.inputs["privateZoneName"] == "privatelink.eastus2.azmk8s.io"
        for z in prod.of_type("azure-native:privatedns:PrivateZone")
    )
