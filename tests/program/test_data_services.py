"""Storage, Key Vault and monitoring: each secure default has a test that fails if someone flips it."""

from __future__ import annotations

import pytest
from stackquery import by_id, one

from offline.harness import ProgramRun

STORAGE_SECURE = {
    "kind": "StorageV2",
    "enableHttpsTrafficOnly": True,
    "minimumTlsVersion": "TLS1_2",
    "allowBlobPublicAccess": False,
    "publicNetworkAccess": "Disabled",
    "allowCrossTenantReplication": False,
    "defaultToOAuthAuthentication": True,
}


@pytest.mark.parametrize(("key", "value"), sorted(STORAGE_SECURE.items()))
def test_storage_account_secure_setting(stack: ProgramRun, key: str, value: object) -> None:
    assert one(stack, "azure-native:storage:StorageAccount").inputs[key] == value


def test_storage_network_rules_deny_by_default_with_no_ip_rules(stack: ProgramRun) -> None:
    rules = one(stack, "azure-native:storage:StorageAccount").inputs["networkRuleSet"]
    assert rules["defaultAction"] == "Deny"
    assert rules["ipRules"] == []
    assert rules["virtualNetworkRules"] == []


def test_storage_infrastructure_encryption(stack: ProgramRun) -> None:
    assert (
        one(stack, "azure-native:storage:StorageAccount").inputs["encryption"]["requireInfrastructureEncryption"]
        is True
    )


def test_shared_keys_only_where_the_stack_acknowledges_them(dev: ProgramRun, prod: ProgramRun) -> None:
    # Both stacks run TES 6 with user-delegation SAS and keyless CSI mounts: no stack needs shared keys.
    for run in (dev, prod):
        assert one(run, "azure-native:storage:StorageAccount").inputs["allowSharedKeyAccess"] is False


def test_blob_soft_delete_container_soft_delete_and_versioning(stack: ProgramRun) -> None:
    blob = one(stack, "azure-native:storage:BlobServiceProperties").inputs
    assert blob["isVersioningEnabled"] is True
    assert blob["deleteRetentionPolicy"]["enabled"] is True and blob["deleteRetentionPolicy"]["days"] >= 7
    assert blob["containerDeleteRetentionPolicy"]["enabled"] is True


def test_coa_containers_exist_and_are_private(stack: ProgramRun) -> None:
    containers = stack.of_type("azure-native:storage:BlobContainer")
    assert sorted(c.inputs["containerName"] for c in containers) == [
        "configuration",
        "cromwell-executions",
        "cromwell-workflow-logs",
        "inputs",
        "outputs",
        "tes-internal",
        "workflows",
    ]
    assert {c.inputs["publicAccess"] for c in containers} == {"None"}


VAULT_SECURE = {
    "enableRbacAuthorization": True,
    "enablePurgeProtection": True,
    "enableSoftDelete": True,
    "publicNetworkAccess": "Disabled",
}


@pytest.mark.parametrize(("key", "value"), sorted(VAULT_SECURE.items()))
def test_key_vault_secure_setting(stack: ProgramRun, key: str, value: object) -> None:
    assert one(stack, "azure-native:keyvault:Vault").inputs["properties"][key] == value


def test_key_vault_network_acls_deny(stack: ProgramRun) -> None:
    acls = one(stack, "azure-native:keyvault:Vault").inputs["properties"]["networkAcls"]
    assert acls["defaultAction"] == "Deny"
    assert acls["ipRules"] == []


def test_log_analytics_retention_from_config_and_local_auth_off(dev: ProgramRun, prod: ProgramRun) -> None:
    assert one(dev, "azure-native:operationalinsights:Workspace").inputs["retentionInDays"] == 90
    workspace = one(prod, "azure-native:operationalinsights:Workspace").inputs
    assert workspace["retentionInDays"] == 365
    assert workspace["features"]["disableLocalAuth"] is True


def test_application_insights_is_workspace_based_with_ip_masking(stack: ProgramRun) -> None:
    workspace = one(stack, "azure-native:operationalinsights:Workspace")
    insights = one(stack, "azure-native:applicationinsights:Component").inputs
    assert insights["workspaceResourceId"] == workspace.id
    assert insights["ingestionMode"] == "LogAnalytics"
    assert insights["disableLocalAuth"] is True
    assert insights["disableIpMasking"] is False


@pytest.mark.parametrize(
    ("target_id", "category"),
    [
        ("storage-blob", "allLogs"),
        ("vault", "audit"),
    ],
)
def test_diagnostics_reach_the_workspace(stack: ProgramRun, target_id: str, category: str) -> None:
    workspace = one(stack, "azure-native:operationalinsights:Workspace")
    targets = {
        "storage-blob": one(stack, "azure-native:storage:StorageAccount").id + "/blobServices/default",
        "vault": one(stack, "azure-native:keyvault:Vault").id,
    }
    settings = [
        d
        for d in stack.of_type("azure-native:monitor:DiagnosticSetting")
        if d.inputs["resourceUri"] == targets[target_id]
    ]
    assert len(settings) == 1
    assert settings[0].inputs["workspaceId"] == workspace.id
    assert {log.get("categoryGroup") for log in settings[0].inputs["logs"]} == {category}


STATEFUL = ("azure-native:storage:StorageAccount", "azure-native:keyvault:Vault")


@pytest.mark.parametrize("token", STATEFUL)
def test_prod_protects_stateful_resources_and_dev_does_not(dev: ProgramRun, prod: ProgramRun, token: str) -> None:
    assert one(prod, token).protect is True
    assert one(dev, token).protect is False


def test_monitoring_is_reached_only_through_its_private_link_scope(stack: ProgramRun) -> None:
    scope = one(stack, "azure-native:monitor:PrivateLinkScope")
    assert scope.inputs["accessModeSettings"] == {
        "ingestionAccessMode": "PrivateOnly",
        "queryAccessMode": "PrivateOnly",
    }
    linked = {r.inputs["linkedResourceId"] for r in stack.of_type("azure-native:monitor:PrivateLinkScopedResource")}
    workspace = one(stack, "azure-native:operationalinsights:Workspace")
    insights = one(stack, "azure-native:applicationinsights:Component")
    # Container Insights' data collection endpoint joins the same scope (see test_platform_extras).
    collection = one(stack, "azure-native:monitor:DataCollectionEndpoint")
    assert linked == {workspace.id, insights.id, collection.id}
    for resource in (workspace, insights):
        assert resource.inputs["publicNetworkAccessForIngestion"] == "Disabled"
        assert resource.inputs["publicNetworkAccessForQuery"] == "Disabled"
    endpoint = next(
        e
        for e in stack.of_type("azure-native:network:PrivateEndpoint")
        if e.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"] == scope.id
    )
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["azuremonitor"]
    group = next(
        g
        for g in stack.of_type("azure-native:network:PrivateDnsZoneGroup")
        if g.inputs["privateEndpointName"] == endpoint.outputs["name"]
    )
    zones = {
        by_id(stack, c["privateDnsZoneId"]).inputs["privateZoneName"] for c in group.inputs["privateDnsZoneConfigs"]
    }
    assert zones == {
        "privatelink.monitor.azure.com",
        "privatelink.oms.opinsights.azure.com",
        "privatelink.ods.opinsights.azure.com",
        "privatelink.agentsvc.azure-automation.net",
        "privatelink.blob.core.windows.net",
    }
