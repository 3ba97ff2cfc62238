"""Container Insights with Entra ID ingestion behind the AMPLS, and the PostgreSQL Entra ID administrator group, as
the engine receives them for the dev and prod stacks; plus the configuration rules for the administrator group."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from stackquery import by_id, one, stack_values

from configuration.reader import ConfigError
from configuration.settings import EntraAdminGroup
from configuration.stack import parse_settings
from offline.harness import ProgramError, ProgramRun, run_program
from offline.mocks import TENANT_ID
from offline.records import ResourceRecord

REPO = Path(__file__).resolve().parents[2]
DCR = "azure-native:monitor:DataCollectionRule"
DCE = "azure-native:monitor:DataCollectionEndpoint"
DCRA = "azure-native:monitor:DataCollectionRuleAssociation"
SCOPE = "azure-native:monitor:PrivateLinkScope"
SCOPED = "azure-native:monitor:PrivateLinkScopedResource"
WORKSPACE = "azure-native:operationalinsights:Workspace"
CLUSTER = "azure-native:containerservice:ManagedCluster"
PG_SERVER = "azure-native:dbforpostgresql:Server"
PG_CONFIG = "azure-native:dbforpostgresql:Configuration"
PG_ADMIN = "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra"


def _associations(run: ProgramRun) -> dict[str, ResourceRecord]:
    found = {r.inputs["associationName"]: r for r in run.of_type(DCRA)}
    assert len(found) == len(run.of_type(DCRA)), "association names must be unique"
    return found


# --- Container Insights ------------------------------------------------------------------------------------------


def test_rule_sends_the_container_insights_streams_to_our_workspace(stack: ProgramRun) -> None:
    rule = one(stack, DCR).inputs
    assert rule["kind"] == "Linux"
    assert rule["location"] == stack_values(stack.stack)["location"]
    [extension] = rule["dataSources"]["extensions"]
    assert extension["extensionName"] == "ContainerInsights"
    assert extension["name"] == "ContainerInsightsExtension"
    assert extension["streams"] == ["Microsoft-ContainerInsights-Group-Default"]
    assert extension["extensionSettings"]["dataCollectionSettings"]["enableContainerLogV2"] is True
    [destination] = rule["destinations"]["logAnalytics"]
    assert by_id(stack, destination["workspaceResourceId"]).type == WORKSPACE
    [flow] = rule["dataFlows"]
    assert flow["destinations"] == [destination["name"]]
    assert flow["streams"] == extension["streams"]


def test_addon_and_rule_target_the_same_workspace(stack: ProgramRun) -> None:
    addon = one(stack, CLUSTER).inputs["addonProfiles"]["omsagent"]
    assert addon["enabled"] is True
    assert addon["config"]["useAADAuth"] == "true"
    [destination] = one(stack, DCR).inputs["destinations"]["logAnalytics"]
    assert addon["config"]["logAnalyticsWorkspaceResourceID"] == destination["workspaceResourceId"]


def test_endpoint_is_private_and_in_the_monitor_private_link_scope(stack: ProgramRun) -> None:
    endpoint = one(stack, DCE)
    assert endpoint.inputs["networkAcls"]["publicNetworkAccess"] == "Disabled"
    assert endpoint.inputs["kind"] == "Linux"
    assert endpoint.inputs["location"] == one(stack, CLUSTER).inputs["location"]
    scope = one(stack, SCOPE)
    links = [r for r in stack.of_type(SCOPED) if r.inputs["linkedResourceId"] == endpoint.id]
    assert len(links) == 1
    assert links[0].inputs["scopeName"] == scope.outputs["name"]
    # The workspace the rule writes to is in the same scope, so ingestion stays private end to end.
    [destination] = one(stack, DCR).inputs["destinations"]["logAnalytics"]
    workspace_links = [
        r for r in stack.of_type(SCOPED) if r.inputs["linkedResourceId"] == destination["workspaceResourceId"]
    ]
    assert [r.inputs["scopeName"] for r in workspace_links] == [scope.outputs["name"]]


def test_cluster_carries_the_rule_and_the_endpoint_associations(stack: ProgramRun) -> None:
    cluster = one(stack, CLUSTER)
    associations = _associations(stack)
    assert set(associations) == {"ContainerInsightsExtension", "configurationAccessEndpoint"}
    for association in associations.values():
        assert association.inputs["resourceUri"] == cluster.id
    rule = associations["ContainerInsightsExtension"].inputs
    assert by_id(stack, rule["dataCollectionRuleId"]).type == DCR
    assert "dataCollectionEndpointId" not in rule
    endpoint = associations["configurationAccessEndpoint"].inputs
    assert by_id(stack, endpoint["dataCollectionEndpointId"]).type == DCE
    assert "dataCollectionRuleId" not in endpoint


def test_every_data_collection_endpoint_is_private(stack: ProgramRun) -> None:
    endpoints = stack.of_type(DCE)
    assert endpoints
    linked = {r.inputs["linkedResourceId"] for r in stack.of_type(SCOPED)}
    for endpoint in endpoints:
        assert endpoint.inputs.get("networkAcls", {}).get("publicNetworkAccess") == "Disabled", endpoint.name
        assert endpoint.id in linked, f"{endpoint.name} is not in the AMPLS"


def test_container_insights_needs_the_private_link_scope_first(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: coa-lockdown\nruntime: python\n")
    (tmp_path / "Pulumi.bare.yaml").write_text("config: {}\n")
    for package in ("components", "configuration"):
        (tmp_path / package).symlink_to(REPO / package)
    (tmp_path / "__main__.py").write_text(
        "from components.monitoring import Monitoring, MonitoringArgs\n"
        "from components.placement import Placement\n"
        "where = Placement(resource_group_name='rg', location='westeurope')\n"
        "mon = Monitoring('m', MonitoringArgs(placement=where, retention_days=90))\n"
        "mon.collect_container_insights('/subscriptions/s/resourceGroups/rg/providers/"
        "Microsoft.ContainerService/managedClusters/aks', 'westeurope')\n"
    )
    with pytest.raises(ProgramError, match="connect_private_link"):
        run_program(tmp_path, "bare")


# --- PostgreSQL Entra ID administrator ---------------------------------------------------------------------------


def test_prod_server_is_administered_by_the_configured_entra_group(prod: ProgramRun) -> None:
    expected = parse_settings(stack_values("prod")).postgres.entra_admin
    assert expected is not None
    server = one(prod, PG_SERVER)
    admin = one(prod, PG_ADMIN)
    assert admin.inputs["objectId"] == expected.object_id
    assert admin.inputs["principalName"] == expected.display_name
    assert admin.inputs["principalType"] == "group"
    assert admin.inputs["serverName"] == server.outputs["name"]
    assert admin.inputs["tenantId"] == TENANT_ID == server.inputs["authConfig"]["tenantId"]
    assert server.inputs["authConfig"]["activeDirectoryAuth"] == "Enabled"
    assert admin.parent == server.parent


def test_admin_waits_for_the_server_parameters(prod: ProgramRun) -> None:
    # One management operation at a time per flexible server: the administrator joins the serial chain.
    urns = prod.by_urn()
    depends_on = {urns[u].type for u in one(prod, PG_ADMIN).dependencies if u in urns}
    assert PG_CONFIG in depends_on


def test_dev_sets_no_entra_admin(dev: ProgramRun) -> None:
    assert parse_settings(stack_values("dev")).postgres.entra_admin is None
    assert dev.of_type(PG_ADMIN) == []


def test_prod_requires_an_entra_admin_group() -> None:
    raw = copy.deepcopy(stack_values("prod"))
    del raw["postgres"]["entraAdminGroupObjectId"], raw["postgres"]["entraAdminGroupName"]
    with pytest.raises(ConfigError, match=r"coa-lockdown:postgres\.entraAdminGroupObjectId: is required in prod"):
        parse_settings(raw)


def test_dev_accepts_an_entra_admin_group() -> None:
    raw = copy.deepcopy(stack_values("dev"))
    raw["postgres"] |= {"entraAdminGroupObjectId": "0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0", "entraAdminGroupName": "Ops"}
    assert parse_settings(raw).postgres.entra_admin == EntraAdminGroup(
        object_id="0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0", display_name="Ops"
    )


def test_the_configuration_reference_documents_the_entra_admin_keys() -> None:
    reference = (REPO / "docs" / "configuration.md").read_text()
    for key in ("postgres.entraAdminGroupObjectId", "postgres.entraAdminGroupName"):
        assert f"`{key}`" in reference
