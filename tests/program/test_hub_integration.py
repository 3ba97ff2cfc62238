"""An enterprise landing zone: existing resource group, hub DNS zones, zone groups left to Azure Policy, flow logs."""

from __future__ import annotations

import pytest
import yaml
from stackquery import REPO, one, run_variant

from configuration.private_dns_zones import ZONES, zones_for
from offline.harness import ProgramError, ProgramRun

HUB = "/subscriptions/00000000-0000-4000-8000-00000000beef/resourceGroups/rg-hub-dns/providers/Microsoft.Network"
# The zones a TES 6 stack resolves (Cosmos DB's belongs to taskDatabase cosmosdb stacks only).
HUB_ZONES = {key: f"{HUB}/privateDnsZones/{ZONES[key].format(location='eastus2')}" for key in zones_for("postgresql")}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return run_variant(
        tmp_path_factory.mktemp("hub"),
        "prod",
        {
            "coa-lockdown:resourceGroupName": "rg-genomics-prod",
            "coa-lockdown:dns": {
                "existingZoneIds": HUB_ZONES,
                "zoneGroupsManagedByPolicy": True,
                "hubZoneResolution": "linkedByHub",
            },
            "coa-lockdown:network": {
                **_prod_network(),
                "flowLogs": {"networkWatcherName": "NetworkWatcher_eastus2", "retentionDays": 120},
            },
        },
    )


def _prod_network() -> dict:
    return yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"]["coa-lockdown:network"]


def test_existing_resource_group_is_used_not_created(hub: ProgramRun) -> None:
    assert not hub.of_type("azure-native:resources:ResourceGroup")
    groups = {r.inputs.get("resourceGroupName") for r in hub.resources if r.type.startswith("azure-native:")}
    # Flow logs live in Network Watcher's group; everything else in the named one.
    assert groups - {None} == {"rg-genomics-prod", "NetworkWatcherRG"}


def test_hub_zones_are_used_and_none_are_created(hub: ProgramRun) -> None:
    assert not hub.of_type("azure-native:privatedns:PrivateZone")
    assert not hub.of_type("azure-native:privatedns:VirtualNetworkLink")
    postgres = one(hub, "azure-native:dbforpostgresql:Server")
    assert postgres.inputs["network"]["privateDnsZoneArmResourceId"] == HUB_ZONES["postgres"]


@pytest.fixture(scope="module")
def linked_here(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    dns = {"existingZoneIds": HUB_ZONES, "hubZoneResolution": "linkHere"}
    return run_variant(tmp_path_factory.mktemp("link"), "prod", {"coa-lockdown:dns": dns})


def test_link_here_links_every_hub_zone_to_this_vnet_in_the_hubs_subscription(linked_here: ProgramRun) -> None:
    """Without a link (or a hub resolver) pods and Batch nodes would resolve the private names publicly."""
    assert not linked_here.of_type("azure-native:privatedns:PrivateZone")
    vnet = one(linked_here, "azure-native:network:VirtualNetwork")
    links = linked_here.of_type("azure-native:privatedns:VirtualNetworkLink")
    assert {link.inputs["privateZoneName"] for link in links} == {
        ZONES[key].format(location="eastus2") for key in HUB_ZONES
    }
    (provider,) = [
        r
        for r in linked_here.resources
        if r.type == "pulumi:providers:azure-native"
        and r.inputs.get("subscriptionId") == "00000000-0000-4000-8000-00000000beef"
    ]
    for link in links:
        assert link.inputs["virtualNetwork"]["id"] == vnet.id
        assert link.inputs["resourceGroupName"] == "rg-hub-dns"
        assert link.inputs["registrationEnabled"] is False
        assert link.provider.startswith(provider.urn), link.provider
    # The VNet-integrated PostgreSQL server resolves its own name once its zone is linked.
    postgres = one(linked_here, "azure-native:dbforpostgresql:Server")
    postgres_link = next(link for link in links if link.inputs["privateZoneName"] == ZONES["postgres"])
    assert postgres_link.urn in postgres.dependencies


def test_hub_resolver_becomes_the_vnets_dns_server(tmp_path_factory: pytest.TempPathFactory) -> None:
    dns = {"existingZoneIds": HUB_ZONES, "hubZoneResolution": "dnsServers", "servers": ["10.0.2.4", "10.0.2.5"]}
    run = run_variant(tmp_path_factory.mktemp("resolver"), "prod", {"coa-lockdown:dns": dns})
    vnet = one(run, "azure-native:network:VirtualNetwork")
    assert vnet.inputs["dhcpOptions"] == {"dnsServers": ["10.0.2.4", "10.0.2.5"]}
    assert not run.of_type("azure-native:privatedns:VirtualNetworkLink")


def test_a_resolver_needs_every_zone_from_the_hub(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A hub resolver never sees zones this stack creates and links only to itself."""
    partial = {key: zone for key, zone in HUB_ZONES.items() if key != "batch"}
    dns = {"existingZoneIds": partial, "hubZoneResolution": "dnsServers", "servers": ["10.0.2.4"]}
    with pytest.raises(ProgramError, match=r"dns.existingZoneIds: misses batch"):
        run_variant(tmp_path_factory.mktemp("partial"), "prod", {"coa-lockdown:dns": dns})


def test_zone_groups_are_left_to_azure_policy(hub: ProgramRun) -> None:
    assert hub.of_type("azure-native:network:PrivateEndpoint")
    assert not hub.of_type("azure-native:network:PrivateDnsZoneGroup")


def test_flow_logs_cover_the_vnet_with_retention_and_traffic_analytics(hub: ProgramRun) -> None:
    flow = one(hub, "azure-native:network:FlowLog").inputs
    vnet = one(hub, "azure-native:network:VirtualNetwork")
    assert flow["targetResourceId"] == vnet.id
    assert flow["storageId"] == one(hub, "azure-native:storage:StorageAccount").id
    assert flow["retentionPolicy"] == {"days": 120, "enabled": True}
    assert flow["networkWatcherName"] == "NetworkWatcher_eastus2"
    # In the watcher's own group, which Azure creates; with the stack's region and tags.
    assert flow["resourceGroupName"] == "NetworkWatcherRG"
    assert (flow["location"], flow["tags"]) == (vnet.inputs["location"], vnet.inputs["tags"])
    analytics = flow["flowAnalyticsConfiguration"]["networkWatcherFlowAnalyticsConfiguration"]
    assert analytics["enabled"] is True
    assert analytics["workspaceResourceId"] == one(hub, "azure-native:operationalinsights:Workspace").id


def test_no_flow_logs_unless_configured(stack: ProgramRun) -> None:
    assert not stack.of_type("azure-native:network:FlowLog")
