"""The ARM export: types, names and scopes from ids, API versions and path parameters from the SDK, and the
split of azure-native's flattened inputs back into ARM's top level and `properties`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from scan import sdk
from scan.arm import (
    DEPLOYMENT_TARGET,
    ConversionError,
    build_template,
    convert_resource,
    parse_id,
    split_inputs,
    subscription_level,
)
from scan.wire import RENAMED, identity_to_rest, properties_to_rest

RG = "/subscriptions/0000/resourceGroups/rg-1"


def test_a_child_resource_gets_every_type_segment_and_a_slash_joined_name() -> None:
    address = parse_id(f"{RG}/providers/Microsoft.Storage/storageAccounts/st1/blobServices/default/containers/inputs")
    assert address.type == "Microsoft.Storage/storageAccounts/blobServices/containers"
    assert address.name == "st1/default/inputs"
    assert address.resource_group == "rg-1"
    assert address.scope is None


def test_an_extension_resource_is_scoped_to_the_resource_it_extends() -> None:
    address = parse_id(
        f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet"
        "/providers/Microsoft.Authorization/roleAssignments/1234"
    )
    assert (address.type, address.name) == ("Microsoft.Authorization/roleAssignments", "1234")
    assert address.scope == "Microsoft.Network/virtualNetworks/vnet/subnets/snet"
    assert address.resource_group == "rg-1"


@pytest.mark.parametrize(
    "resource_id",
    ["coa-dev-aks-k8s-provider-id", f"{RG}/providers/Microsoft.Storage/storageAccounts", "/providers/X.Y/z/a"],
)
def test_an_id_that_names_no_arm_resource_is_refused(resource_id: str) -> None:
    with pytest.raises(ConversionError):
        parse_id(resource_id)


def test_path_parameters_are_dropped_top_level_keys_stay_and_the_rest_goes_under_properties() -> None:
    inputs = {
        "resourceGroupName": "rg-1",
        "accountName": "st1",
        "location": "westeurope",
        "sku": {"name": "Standard_ZRS"},
        "kind": "StorageV2",
        "tags": {"a": "b"},
        "minimumTlsVersion": "TLS1_2",
        "encryption": {"keySource": "Microsoft.Storage"},
    }
    top, properties = split_inputs(inputs, frozenset({"resourceGroupName", "accountName", "expand"}), "T/x", "w")
    assert top == {"location": "westeurope", "sku": {"name": "Standard_ZRS"}, "kind": "StorageV2", "tags": {"a": "b"}}
    assert properties == {"minimumTlsVersion": "TLS1_2", "encryption": {"keySource": "Microsoft.Storage"}}


def test_an_explicit_properties_input_is_merged_and_a_clash_is_refused() -> None:
    inputs = {"vaultName": "kv", "properties": {"enableSoftDelete": True}, "location": "x"}
    top, properties = split_inputs(inputs, frozenset({"vaultName"}), "Microsoft.KeyVault/vaults", "w")
    assert top == {"location": "x"} and properties == {"enableSoftDelete": True}
    with pytest.raises(ConversionError, match="both flattened and inside"):
        split_inputs({"properties": {"a": 1}, "a": 2}, frozenset(), "T/x", "w")


def test_a_log_analytics_sku_belongs_under_properties() -> None:
    top, properties = split_inputs(
        {"sku": {"name": "PerGB2018"}, "location": "x"}, frozenset(), "Microsoft.OperationalInsights/workspaces", "w"
    )
    assert "sku" not in top and properties == {"sku": {"name": "PerGB2018"}}


def test_renamed_properties_and_flattened_sub_resources_get_their_rest_shape_back() -> None:
    storage = properties_to_rest(
        "Microsoft.Storage/storageAccounts",
        {"networkRuleSet": {"defaultAction": "Deny"}, "enableHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2"},
    )
    assert storage == {
        "networkAcls": {"defaultAction": "Deny"},
        "supportsHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
    }
    nsg = properties_to_rest(
        "Microsoft.Network/networkSecurityGroups",
        {"securityRules": [{"name": "deny-all", "access": "Deny", "priority": 4096}]},
    )
    assert nsg == {"securityRules": [{"name": "deny-all", "properties": {"access": "Deny", "priority": 4096}}]}
    assert identity_to_rest({"type": "UserAssigned", "userAssignedIdentities": ["/id/a"]}) == {
        "type": "UserAssigned",
        "userAssignedIdentities": {"/id/a": {}},
    }


def test_a_path_parameter_missing_from_the_id_is_not_silently_dropped() -> None:
    resource = {
        "type": "azure-native:storage:StorageAccount",
        "name": "st",
        "id": f"{RG}/providers/Microsoft.Storage/storageAccounts/st1",
        "inputs": {"resourceGroupName": "rg-1", "accountName": "another-name"},
    }
    with pytest.raises(ConversionError, match="accountName"):
        convert_resource(resource, {})


def test_the_sdk_reader_takes_the_api_version_from_the_class_and_path_parameters_from_the_get_invoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "widgets"
    module.mkdir()
    (module / "gadget.py").write_text(
        'class Gadget(pulumi.CustomResource):\n    """\n    A gadget.\n\n'
        '    Uses Azure REST API version 2031-02-03-preview. In version 2.x it used 2020-01-01.\n    """\n'
    )
    (module / "get_gadget.py").write_text(
        "def get_gadget(gadget_name=None, resource_group_name=None, opts=None):\n"
        "    __args__ = dict()\n    __args__['gadgetName'] = gadget_name\n"
        "    __args__['resourceGroupName'] = resource_group_name\n"
        "    __ret__ = pulumi.runtime.invoke('azure-native:widgets:getGadget', __args__, opts=opts)\n"
    )
    monkeypatch.setattr(sdk, "sdk_root", lambda: tmp_path)
    described = sdk.describe.__wrapped__("azure-native:widgets:Gadget")
    assert described.api_version == "2031-02-03-preview"
    assert described.path_params == frozenset({"gadgetName", "resourceGroupName"})
    with pytest.raises(sdk.SdkLookupError, match="no module"):
        sdk.describe.__wrapped__("azure-native:nothing:Gadget")


def _azure(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources a resource-group template holds: not the group itself, not the subscription's own."""
    return [
        r
        for r in document["resources"]
        if r["type"].startswith("azure-native:")
        and r["type"] != DEPLOYMENT_TARGET
        and not subscription_level(r)
        and "/resourceGroups/platform-secrets-rg/" not in str(r.get("id"))
    ]


def test_subscription_level_resources_are_named_in_the_metadata_not_dropped_silently(
    dev_document: dict[str, Any],
) -> None:
    definitions = sorted(
        r["name"] for r in dev_document["resources"] if r["type"] == "azure-native:authorization:PolicyDefinition"
    )
    assert len(definitions) == 4
    template = build_template(dev_document)
    assert template["metadata"]["subscriptionLevelResourcesLeftOut"] == definitions
    assert not any(r["type"] == "Microsoft.Authorization/policyDefinitions" for r in template["resources"])
    # Their assignments are extension resources of the Batch account: they stay.
    assert sum(r["type"] == "Microsoft.Authorization/policyAssignments" for r in template["resources"]) >= 5


def test_grants_on_resources_in_other_groups_are_named_in_the_metadata(dev_document: dict[str, Any]) -> None:
    """The Docker Hub credential set's grants live on the platform vault's secrets, in the platform's group."""
    outside = sorted(
        r["name"] for r in dev_document["resources"] if "/resourceGroups/platform-secrets-rg/" in str(r.get("id"))
    )
    assert len(outside) == 2
    template = build_template(dev_document)
    assert template["metadata"]["otherResourceGroupsLeftOut"] == outside
    assert all("platform-secrets-rg" not in str(r.get("scope")) for r in template["resources"])


def test_every_registered_azure_resource_is_exported_once_with_the_sdk_api_version(
    dev_document: dict[str, Any],
) -> None:
    template = build_template(dev_document)
    exported = {r["metadata"]["pulumiUrn"]: r for r in template["resources"]}
    registered = _azure(dev_document)
    assert len(exported) == len(template["resources"]) == len(registered)
    for resource in registered:
        arm = exported[resource["urn"]]
        assert arm["apiVersion"] == sdk.describe(resource["type"]).api_version, resource["urn"]
        # A child's name has one segment per level of its type ("st/default/inputs" for .../containers).
        assert arm["name"].count("/") == arm["type"].count("/") - 1, (arm["type"], arm["name"])


def test_every_input_is_either_a_path_parameter_or_lands_in_the_arm_body(dev_document: dict[str, Any]) -> None:
    """Nothing is invented and nothing is lost: inputs and the ARM body hold the same keys, modulo renames."""
    exported = {r["metadata"]["pulumiUrn"]: r for r in build_template(dev_document)["resources"]}
    for resource in _azure(dev_document):
        arm = exported[resource["urn"]]
        inputs = resource["inputs"]
        path_params = sdk.describe(resource["type"]).path_params
        expected = set(inputs) - path_params
        if "properties" in expected and isinstance(inputs["properties"], dict):
            expected = (expected - {"properties"}) | set(inputs["properties"])
        back = {wire: name for name, wire in RENAMED.get(arm["type"], {}).items()}
        found = {k for k in arm if k not in {"type", "apiVersion", "name", "scope", "metadata", "properties"}}
        found |= {back.get(k, k) for k in arm.get("properties", {})}
        assert found == expected, resource["urn"]
        assert not path_params & set(arm.get("properties", {})), resource["urn"]


def test_the_resource_group_is_the_deployment_target_and_a_second_group_is_refused(
    dev_document: dict[str, Any],
) -> None:
    template = build_template(dev_document)
    assert not any(r["type"] == "Microsoft.Resources/resourceGroups" for r in template["resources"])
    broken = copy.deepcopy(dev_document)
    storage = next(r for r in broken["resources"] if r["type"] == "azure-native:storage:StorageAccount")
    storage["id"] = storage["id"].replace("/resourceGroups/", "/resourceGroups/other-")
    storage["inputs"]["resourceGroupName"] = storage["id"].split("/")[4]
    with pytest.raises(ConversionError, match="several resource groups"):
        build_template(broken)
