"""Mocks that answer like Azure: ARM-shaped ids, physical names and the computed outputs downstream inputs read."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi

SUBSCRIPTION_ID = "00000000-0000-4000-8000-000000000001"
TENANT_ID = "00000000-0000-4000-8000-0000000000aa"
CLIENT_OBJECT_ID = "00000000-0000-4000-8000-0000000000c1"


def _stable_hex(seed: str, length: int = 8) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _stable_guid(seed: str) -> str:
    return str(uuid.UUID(hex=hashlib.sha256(seed.encode()).hexdigest()[:32], version=4))


@dataclass(frozen=True)
class ArmShape:
    """Where a resource type lives in ARM: its id under a parent path, and which input carries its name."""

    # Path below the resource group (or below `scope_input`), with {placeholders} read from inputs.
    path: str
    name_input: str | None = None
    scope_input: str | None = None
    # Lives in the subscription itself, not a resource group (policy definitions).
    subscription_scope: bool = False


_SHAPES: dict[str, ArmShape] = {
    "azure-native:network:VirtualNetwork": ArmShape("Microsoft.Network/virtualNetworks/{name}", "virtualNetworkName"),
    "azure-native:network:Subnet": ArmShape(
        "Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{name}", "subnetName"
    ),
    "azure-native:network:NetworkSecurityGroup": ArmShape(
        "Microsoft.Network/networkSecurityGroups/{name}", "networkSecurityGroupName"
    ),
    "azure-native:network:SecurityRule": ArmShape(
        "Microsoft.Network/networkSecurityGroups/{networkSecurityGroupName}/securityRules/{name}", "securityRuleName"
    ),
    "azure-native:network:NatGateway": ArmShape("Microsoft.Network/natGateways/{name}", "natGatewayName"),
    "azure-native:network:PublicIPAddress": ArmShape(
        "Microsoft.Network/publicIPAddresses/{name}", "publicIpAddressName"
    ),
    "azure-native:network:RouteTable": ArmShape("Microsoft.Network/routeTables/{name}", "routeTableName"),
    "azure-native:network:PrivateEndpoint": ArmShape(
        "Microsoft.Network/privateEndpoints/{name}", "privateEndpointName"
    ),
    "azure-native:network:PrivateDnsZoneGroup": ArmShape(
        "Microsoft.Network/privateEndpoints/{privateEndpointName}/privateDnsZoneGroups/{name}",
        "privateDnsZoneGroupName",
    ),
    "azure-native:privatedns:PrivateZone": ArmShape("Microsoft.Network/privateDnsZones/{name}", "privateZoneName"),
    "azure-native:privatedns:VirtualNetworkLink": ArmShape(
        "Microsoft.Network/privateDnsZones/{privateZoneName}/virtualNetworkLinks/{name}", "virtualNetworkLinkName"
    ),
    "azure-native:network:FlowLog": ArmShape(
        "Microsoft.Network/networkWatchers/{networkWatcherName}/flowLogs/{name}", "flowLogName"
    ),
    "azure-native:storage:StorageAccount": ArmShape("Microsoft.Storage/storageAccounts/{name}", "accountName"),
    "azure-native:storage:BlobServiceProperties": ArmShape(
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/{name}", "blobServicesName"
    ),
    "azure-native:storage:BlobContainer": ArmShape(
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{name}", "containerName"
    ),
    "azure-native:storage:Blob": ArmShape(
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{containerName}/blobs/{name}",
        "blobName",
    ),
    "azure-native:storage:ManagementPolicy": ArmShape(
        "Microsoft.Storage/storageAccounts/{accountName}/managementPolicies/{name}", "managementPolicyName"
    ),
    "azure-native:keyvault:Vault": ArmShape("Microsoft.KeyVault/vaults/{name}", "vaultName"),
    "azure-native:keyvault:Secret": ArmShape("Microsoft.KeyVault/vaults/{vaultName}/secrets/{name}", "secretName"),
    "azure-native:keyvault:Key": ArmShape("Microsoft.KeyVault/vaults/{vaultName}/keys/{name}", "keyName"),
    "azure-native:compute:DiskEncryptionSet": ArmShape(
        "Microsoft.Compute/diskEncryptionSets/{name}", "diskEncryptionSetName"
    ),
    "azure-native:operationalinsights:Workspace": ArmShape(
        "Microsoft.OperationalInsights/workspaces/{name}", "workspaceName"
    ),
    "azure-native:applicationinsights:Component": ArmShape("Microsoft.Insights/components/{name}", "resourceName"),
    "azure-native:monitor:DiagnosticSetting": ArmShape(
        "providers/Microsoft.Insights/diagnosticSettings/{name}", "name", scope_input="resourceUri"
    ),
    "azure-native:monitor:PrivateLinkScope": ArmShape("microsoft.insights/privateLinkScopes/{name}", "scopeName"),
    "azure-native:monitor:PrivateLinkScopedResource": ArmShape(
        "microsoft.insights/privateLinkScopes/{scopeName}/scopedResources/{name}", "name"
    ),
    "azure-native:monitor:DataCollectionEndpoint": ArmShape(
        "Microsoft.Insights/dataCollectionEndpoints/{name}", "dataCollectionEndpointName"
    ),
    "azure-native:monitor:DataCollectionRule": ArmShape(
        "Microsoft.Insights/dataCollectionRules/{name}", "dataCollectionRuleName"
    ),
    "azure-native:monitor:DataCollectionRuleAssociation": ArmShape(
        "providers/Microsoft.Insights/dataCollectionRuleAssociations/{name}",
        "associationName",
        scope_input="resourceUri",
    ),
    "azure-native:managedidentity:UserAssignedIdentity": ArmShape(
        "Microsoft.ManagedIdentity/userAssignedIdentities/{name}", "resourceName"
    ),
    "azure-native:managedidentity:FederatedIdentityCredential": ArmShape(
        "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}/federatedIdentityCredentials/{name}",
        "federatedIdentityCredentialResourceName",
    ),
    "azure-native:authorization:RoleAssignment": ArmShape(
        "providers/Microsoft.Authorization/roleAssignments/{name}", "roleAssignmentName", scope_input="scope"
    ),
    "azure-native:authorization:RoleDefinition": ArmShape(
        "providers/Microsoft.Authorization/roleDefinitions/{name}", "roleDefinitionId", scope_input="scope"
    ),
    "azure-native:authorization:ManagementLockByScope": ArmShape(
        "providers/Microsoft.Authorization/locks/{name}", "lockName", scope_input="scope"
    ),
    "azure-native:authorization:PolicyDefinition": ArmShape(
        "providers/Microsoft.Authorization/policyDefinitions/{name}", "policyDefinitionName", subscription_scope=True
    ),
    "azure-native:authorization:PolicyAssignment": ArmShape(
        "providers/Microsoft.Authorization/policyAssignments/{name}", "policyAssignmentName", scope_input="scope"
    ),
    "azure-native:cosmosdb:DatabaseAccount": ArmShape("Microsoft.DocumentDB/databaseAccounts/{name}", "accountName"),
    "azure-native:cosmosdb:SqlResourceSqlDatabase": ArmShape(
        "Microsoft.DocumentDB/databaseAccounts/{accountName}/sqlDatabases/{name}", "databaseName"
    ),
    "azure-native:cosmosdb:SqlResourceSqlContainer": ArmShape(
        "Microsoft.DocumentDB/databaseAccounts/{accountName}/sqlDatabases/{databaseName}/containers/{name}",
        "containerName",
    ),
    "azure-native:cosmosdb:SqlResourceSqlRoleAssignment": ArmShape(
        "Microsoft.DocumentDB/databaseAccounts/{accountName}/sqlRoleAssignments/{name}", "roleAssignmentId"
    ),
    "azure-native:dbforpostgresql:Server": ArmShape("Microsoft.DBforPostgreSQL/flexibleServers/{name}", "serverName"),
    "azure-native:dbforpostgresql:Database": ArmShape(
        "Microsoft.DBforPostgreSQL/flexibleServers/{serverName}/databases/{name}", "databaseName"
    ),
    "azure-native:dbforpostgresql:Configuration": ArmShape(
        "Microsoft.DBforPostgreSQL/flexibleServers/{serverName}/configurations/{name}", "configurationName"
    ),
    "azure-native:dbforpostgresql:Administrator": ArmShape(
        "Microsoft.DBforPostgreSQL/flexibleServers/{serverName}/administrators/{name}", "objectId"
    ),
    "azure-native:dbforpostgresql:AdministratorsMicrosoftEntra": ArmShape(
        "Microsoft.DBforPostgreSQL/flexibleServers/{serverName}/administrators/{name}", "objectId"
    ),
    "azure-native:containerregistry:Registry": ArmShape(
        "Microsoft.ContainerRegistry/registries/{name}", "registryName"
    ),
    "azure-native:containerregistry:AgentPool": ArmShape(
        "Microsoft.ContainerRegistry/registries/{registryName}/agentPools/{name}", "agentPoolName"
    ),
    "azure-native:containerregistry:CacheRule": ArmShape(
        "Microsoft.ContainerRegistry/registries/{registryName}/cacheRules/{name}", "cacheRuleName"
    ),
    "azure-native:containerregistry:CredentialSet": ArmShape(
        "Microsoft.ContainerRegistry/registries/{registryName}/credentialSets/{name}", "credentialSetName"
    ),
    "azure-native:batch:BatchAccount": ArmShape("Microsoft.Batch/batchAccounts/{name}", "accountName"),
    "azure-native:batch:Pool": ArmShape("Microsoft.Batch/batchAccounts/{accountName}/pools/{name}", "poolName"),
    "azure-native:containerservice:ManagedCluster": ArmShape(
        "Microsoft.ContainerService/managedClusters/{name}", "resourceName"
    ),
    "azure-native:containerservice:AgentPool": ArmShape(
        "Microsoft.ContainerService/managedClusters/{resourceName}/agentPools/{name}", "agentPoolName"
    ),
}


def _kubeconfig(cluster: str, server: str) -> str:
    """A kubeconfig shaped like AKS's user credentials for an Entra ID cluster (kubelogin exec plugin)."""
    return f"""apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {base64.b64encode(b"offline-ca").decode()}
    server: https://{server}:443
  name: {cluster}
contexts:
- context:
    cluster: {cluster}
    user: clusterUser_{cluster}
  name: {cluster}
current-context: {cluster}
users:
- name: clusterUser_{cluster}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, azurecli, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]
"""


def _computed_outputs(token: str, name: str, arm_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs Azure computes that our program reads; everything else echoes the inputs."""
    location = inputs.get("location", "westeurope")
    identity_outputs: dict[str, Any] = {}
    identity = inputs.get("identity")
    if isinstance(identity, dict):
        identity_outputs["identity"] = {
            **identity,
            "principalId": _stable_guid(arm_id + "/system"),
            "tenantId": TENANT_ID,
        }
        # Some APIs take user-assigned identities as a list of ids but always answer with a map keyed by id.
        assigned = identity.get("userAssignedIdentities")
        if isinstance(assigned, list):
            identity_outputs["identity"]["userAssignedIdentities"] = {
                uami: {"principalId": _stable_guid(uami + "/principal"), "clientId": _stable_guid(uami + "/client")}
                for uami in assigned
            }
    per_type: dict[str, Callable[[], dict[str, Any]]] = {
        "azure-native:managedidentity:UserAssignedIdentity": lambda: {
            "principalId": _stable_guid(arm_id + "/principal"),
            "clientId": _stable_guid(arm_id + "/client"),
            "tenantId": TENANT_ID,
        },
        "azure-native:storage:StorageAccount": lambda: {
            "primaryEndpoints": {
                "blob": f"https://{name}.blob.core.windows.net/",
                "dfs": f"https://{name}.dfs.core.windows.net/",
                "file": f"https://{name}.file.core.windows.net/",
                "queue": f"https://{name}.queue.core.windows.net/",
                "table": f"https://{name}.table.core.windows.net/",
                "web": f"https://{name}.z6.web.core.windows.net/",
            },
        },
        "azure-native:keyvault:Vault": lambda: {
            "properties": {**inputs.get("properties", {}), "vaultUri": f"https://{name}.vault.azure.net/"},
        },
        "azure-native:keyvault:Secret": lambda: {
            "properties": {
                **inputs.get("properties", {}),
                "secretUri": f"https://{inputs.get('vaultName', 'vault')}.vault.azure.net/secrets/{name}",
            },
        },
        # keyUri is versionless (follows rotation); keyUriWithVersion names the first version.
        "azure-native:keyvault:Key": lambda: {
            "keyUri": f"https://{inputs.get('vaultName', 'vault')}.vault.azure.net/keys/{name}",
            "keyUriWithVersion": (
                f"https://{inputs.get('vaultName', 'vault')}.vault.azure.net/keys/{name}/{_stable_hex(arm_id, 32)}"
            ),
        },
        "azure-native:operationalinsights:Workspace": lambda: {"customerId": _stable_guid(arm_id + "/customer")},
        "azure-native:applicationinsights:Component": lambda: {
            "instrumentationKey": _stable_guid(arm_id + "/ikey"),
            "connectionString": (
                f"InstrumentationKey={_stable_guid(arm_id + '/ikey')};"
                f"IngestionEndpoint=https://{location}-1.in.applicationinsights.azure.com/"
            ),
        },
        "azure-native:cosmosdb:DatabaseAccount": lambda: {
            "documentEndpoint": f"https://{name}.documents.azure.com:443/",
        },
        "azure-native:dbforpostgresql:Server": lambda: {
            "fullyQualifiedDomainName": f"{name}.postgres.database.azure.com",
        },
        "azure-native:containerregistry:Registry": lambda: {"loginServer": f"{name}.azurecr.io"},
        "azure-native:batch:BatchAccount": lambda: {"accountEndpoint": f"{name}.{location}.batch.azure.com"},
        "azure-native:privatedns:PrivateZone": lambda: {},
        "azure-native:containerservice:ManagedCluster": lambda: {
            "privateFQDN": f"{name}-{_stable_hex(arm_id)}.privatelink.{location}.azmk8s.io",
            "fqdn": None,
            "oidcIssuerProfile": {
                **inputs.get("oidcIssuerProfile", {}),
                "issuerURL": f"https://{location}.oic.prod-aks.azure.com/{TENANT_ID}/{_stable_guid(arm_id)}/",
            },
            "identityProfile": {
                "kubeletidentity": inputs.get("identityProfile", {}).get("kubeletidentity", {}),
            },
            "nodeResourceGroup": inputs.get("nodeResourceGroup", f"MC_{name}"),
        },
    }
    return {**identity_outputs, **per_type.get(token, dict)()}


class AzureMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes with what Azure would return, deterministically."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom:
            return None, {}
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            return f"{args.name}-provider-id", inputs
        if args.typ == "azure-native:resources:ResourceGroup":
            name = inputs.get("resourceGroupName") or f"{args.name}{_stable_hex(args.name)}"
            return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{name}", {**inputs, "name": name}
        if args.typ.startswith("random:"):
            return self._random(args.typ, args.name, inputs)
        if args.typ == "command:local:Command":
            # An image build (components/image_build.py) prints the digest of what it pushed: a made-up one here,
            # distinct per command line; a real `pulumi up` reads it from the registry.
            digest = "sha256:" + hashlib.sha256(str(inputs.get("create", args.name)).encode()).hexdigest()
            return f"{args.name}-{_stable_hex(args.name)}", {**inputs, "stdout": f"{digest}\n", "stderr": ""}
        shape = _SHAPES.get(args.typ)
        if shape is None:
            # Not Azure (e.g. Kubernetes) or a type we have no shape for: keep a readable, unique id.
            return f"{args.name}-{_stable_hex(args.typ + args.name)}", inputs
        name = str(inputs.get(shape.name_input or "", "") or f"{args.name}{_stable_hex(args.typ + args.name)}")
        fields = {k: v for k, v in inputs.items() if isinstance(v, str)}
        path = shape.path.format_map(_DefaultDict(fields, name=name))
        if shape.scope_input:
            base = str(inputs.get(shape.scope_input, f"/subscriptions/{SUBSCRIPTION_ID}"))
        elif shape.subscription_scope:
            base = f"/subscriptions/{SUBSCRIPTION_ID}"
        else:
            base = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{inputs.get('resourceGroupName', 'rg')}/providers"
        arm_id = f"{base.rstrip('/')}/{path}"
        state = {**inputs, "name": name, **_computed_outputs(args.typ, name, arm_id, inputs)}
        return arm_id, state

    @staticmethod
    def _random(token: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        if token == "random:index/randomPassword:RandomPassword":
            length = int(inputs.get("length", 32))
            value = ("Offline-" + _stable_hex(name, 64))[:length]
            return f"{name}-id", {**inputs, "result": value}
        if token == "random:index/randomUuid:RandomUuid":
            return f"{name}-id", {**inputs, "result": _stable_guid(name)}
        if token == "random:index/randomString:RandomString":
            length = int(inputs.get("length", 8))
            return f"{name}-id", {**inputs, "result": _stable_hex(name, length)}
        return f"{name}-id", inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": _stable_guid("client"),
                "objectId": CLIENT_OBJECT_ID,
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }, []
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            cluster = str(args.args.get("resourceName", "aks"))
            server = f"{cluster}.privatelink.westeurope.azmk8s.io"
            encoded = base64.b64encode(_kubeconfig(cluster, server).encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": encoded}]}, []
        return {}, []


class _DefaultDict(dict):
    """format_map helper: an input missing at preview keeps a readable placeholder instead of failing."""

    def __missing__(self, key: str) -> str:
        return f"unknown-{key}"
