"""Where azure-native's input names and shapes differ from the ARM REST API body, per ARM type.

azure-native generates its inputs from the REST specifications but renames properties that carry an
x-ms-client-name, flattens the `properties` of sub-resources listed inside a resource (NSG rules, private
link service connections, ...) and takes user-assigned identities as a list of ids. An ARM template, and a
scanner reading one, sees the REST shapes, so the export undoes each of these. The tables cover the types
this program registers; a type not listed is taken to use the REST names as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# ARM type -> {azure-native input name: REST property name} for properties under `properties`.
RENAMED: dict[str, dict[str, str]] = {
    "Microsoft.Storage/storageAccounts": {
        "networkRuleSet": "networkAcls",
        "enableHttpsTrafficOnly": "supportsHttpsTrafficOnly",
        "enableNfsV3": "isNfsV3Enabled",
        "enableSftp": "isSftpEnabled",
        "enableLocalUser": "isLocalUserEnabled",
    },
    # The Application Insights REST API spells these in its own legacy casing.
    "Microsoft.Insights/components": {
        "applicationType": "Application_Type",
        "flowType": "Flow_Type",
        "requestSource": "Request_Source",
        "hockeyAppId": "HockeyAppId",
        "samplingPercentage": "SamplingPercentage",
        "retentionInDays": "RetentionInDays",
        "disableIpMasking": "DisableIpMasking",
        "immediatePurgeDataOn30Days": "ImmediatePurgeDataOn30Days",
        "workspaceResourceId": "WorkspaceResourceId",
        "ingestionMode": "IngestionMode",
        "disableLocalAuth": "DisableLocalAuth",
        "forceCustomerStorageForProfiler": "ForceCustomerStorageForProfiler",
    },
}

# ARM type -> {property holding an object: {azure-native name: REST name}} one level down. Key Vault secret and key
# attributes are `exp`/`nbf` on the wire and epoch seconds as integers (the engine hands numbers over as floats).
NESTED_RENAMED: dict[str, dict[str, dict[str, str]]] = {
    "Microsoft.KeyVault/vaults/secrets": {"attributes": {"expires": "exp", "notBefore": "nbf"}},
    "Microsoft.KeyVault/vaults/keys": {"attributes": {"expires": "exp", "notBefore": "nbf"}},
}
EPOCH_SECONDS = frozenset({"exp", "nbf"})


def _nested_to_rest(value: Any, renames: Mapping[str, str]) -> Any:
    if not isinstance(value, Mapping):
        return value
    rest = {}
    for key, item in value.items():
        name = renames.get(key, key)
        if name in EPOCH_SECONDS and isinstance(item, float) and item.is_integer():
            item = int(item)
        rest[name] = item
    return rest


# ARM type -> properties that are arrays of sub-resources; REST shapes each item {name, id, properties: {...}}.
SUB_RESOURCE_ARRAYS: dict[str, frozenset[str]] = {
    "Microsoft.Network/networkSecurityGroups": frozenset({"securityRules"}),
    "Microsoft.Network/routeTables": frozenset({"routes"}),
    "Microsoft.Network/virtualNetworks": frozenset({"subnets", "virtualNetworkPeerings"}),
    "Microsoft.Network/virtualNetworks/subnets": frozenset({"delegations", "serviceEndpointPolicies"}),
    "Microsoft.Network/privateEndpoints": frozenset(
        {"privateLinkServiceConnections", "manualPrivateLinkServiceConnections", "ipConfigurations"}
    ),
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups": frozenset({"privateDnsZoneConfigs"}),
}
# Keys a sub-resource item keeps beside its `properties`.
SUB_RESOURCE_TOP_LEVEL = frozenset({"name", "id", "type", "etag"})


def sub_resource(item: Any) -> Any:
    """One sub-resource item in REST shape; anything that is not a mapping is left as it is."""
    if not isinstance(item, Mapping):
        return item
    top = {key: value for key, value in item.items() if key in SUB_RESOURCE_TOP_LEVEL}
    nested = {key: value for key, value in item.items() if key not in SUB_RESOURCE_TOP_LEVEL}
    if nested:
        top["properties"] = nested
    return top


def properties_to_rest(arm_type: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The ARM `properties` object of a resource from its (already separated) azure-native inputs."""
    renamed = RENAMED.get(arm_type, {})
    nested = NESTED_RENAMED.get(arm_type, {})
    arrays = SUB_RESOURCE_ARRAYS.get(arm_type, frozenset())
    rest: dict[str, Any] = {}
    for key, value in properties.items():
        if key in arrays and isinstance(value, list):
            value = [sub_resource(item) for item in value]
        if key in nested:
            value = _nested_to_rest(value, nested[key])
        rest[renamed.get(key, key)] = value
    return rest


def identity_to_rest(identity: Any) -> Any:
    """azure-native takes `userAssignedIdentities` as a list of ids; REST takes a map of id -> {}."""
    if not isinstance(identity, Mapping):
        return identity
    assigned = identity.get("userAssignedIdentities")
    if not isinstance(assigned, list):
        return dict(identity)
    return {**identity, "userAssignedIdentities": {str(resource_id): {} for resource_id in assigned}}
