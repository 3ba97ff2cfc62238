"""Compliant inputs per resource type, shaped as the engine sends them (camelCase), and a mutation helper."""

from __future__ import annotations

import copy
from typing import Any

DELETE = object()
SUB = "/subscriptions/0000/resourceGroups/rg/providers"
POD_SPEC: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "app",
            "image": "coacr.azurecr.io/cromwell:86@sha256:" + "a" * 64,
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        }
    ],
}
NSG_RULE = {
    "name": "allow-vnet-https",
    "access": "Allow",
    "direction": "Inbound",
    "protocol": "Tcp",
    "priority": 100,
    "sourceAddressPrefix": "VirtualNetwork",
    "sourcePortRange": "*",
    "destinationAddressPrefix": "VirtualNetwork",
    "destinationPortRange": "443",
}

COMPLIANT: dict[str, dict[str, Any]] = {
    "azure-native:storage:StorageAccount": {
        "kind": "StorageV2",
        "sku": {"name": "Standard_ZRS"},
        "enableHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "publicNetworkAccess": "Disabled",
        "networkRuleSet": {"defaultAction": "Deny", "bypass": "AzureServices"},
        "allowSharedKeyAccess": False,
        "encryption": {"requireInfrastructureEncryption": True, "keySource": "Microsoft.Storage"},
        "sasPolicy": {"sasExpirationPeriod": "0.01:00:00", "expirationAction": "Log"},
        # As the program tags every resource; makes the account production for the production-only rules.
        "tags": {"environment": "prod", "workload": "cromwell-on-azure"},
    },
    "azure-native:storage:BlobServiceProperties": {
        "accountName": "st",
        "blobServicesName": "default",
        "isVersioningEnabled": True,
        "deleteRetentionPolicy": {"enabled": True, "days": 14},
        "containerDeleteRetentionPolicy": {"enabled": True, "days": 14},
    },
    "azure-native:storage:BlobContainer": {"accountName": "st", "containerName": "inputs", "publicAccess": "None"},
    "azure-native:network:NetworkSecurityGroup": {"securityRules": [NSG_RULE]},
    "azure-native:network:SecurityRule": {
        **{k: v for k, v in NSG_RULE.items() if k != "name"},
        "networkSecurityGroupName": "nsg",
    },
    "azure-native:network:Subnet": {
        "subnetName": "snet-aks",
        "addressPrefix": "10.1.0.0/20",
        "networkSecurityGroup": {"id": f"{SUB}/nsg"},
        "defaultOutboundAccess": False,
    },
    "azure-native:network:VirtualNetwork": {
        "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
        "subnets": [
            {
                "name": "snet-aks",
                "addressPrefix": "10.1.0.0/20",
                "networkSecurityGroup": {"id": f"{SUB}/nsg"},
                "defaultOutboundAccess": False,
            },
            {"name": "AzureFirewallSubnet", "addressPrefix": "10.1.16.0/26"},
        ],
    },
    "azure-native:network:FlowLog": {"enabled": True, "retentionPolicy": {"enabled": True, "days": 90}},
    "azure-native:containerservice:ManagedCluster": {
        "apiServerAccessProfile": {"enablePrivateCluster": True},
        "enableRBAC": True,
        "aadProfile": {"managed": True, "enableAzureRBAC": True},
        "disableLocalAccounts": True,
        "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay", "networkPolicy": "cilium"},
        "agentPoolProfiles": [
            {"name": "system", "mode": "System", "enableEncryptionAtHost": True, "enableNodePublicIP": False}
        ],
        "addonProfiles": {"azurePolicy": {"enabled": True}},
        "autoUpgradeProfile": {"upgradeChannel": "patch"},
        "oidcIssuerProfile": {"enabled": True},
        "securityProfile": {"workloadIdentity": {"enabled": True}},
    },
    "azure-native:containerservice:AgentPool": {"enableEncryptionAtHost": True, "mode": "User"},
    "azure-native:batch:BatchAccount": {
        "publicNetworkAccess": "Disabled",
        "allowedAuthenticationModes": ["AAD", "TaskAuthenticationToken"],
        "autoStorage": {"storageAccountId": f"{SUB}/st", "authenticationMode": "BatchAccountManagedIdentity"},
    },
    "azure-native:batch:Pool": {
        "networkConfiguration": {
            "subnetId": f"{SUB}/snet-batch",
            "publicIPAddressConfiguration": {"provision": "NoPublicIPAddresses"},
        },
        "targetNodeCommunicationMode": "Simplified",
        "deploymentConfiguration": {
            "virtualMachineConfiguration": {
                "nodeAgentSkuId": "batch.node.ubuntu 22.04",
                "diskEncryptionConfiguration": {"targets": ["OsDisk", "TemporaryDisk"]},
            }
        },
        "mountConfiguration": [
            {
                "azureBlobFileSystemConfiguration": {
                    "accountName": "st",
                    "containerName": "inputs",
                    "relativeMountPath": "inputs",
                    "identityReference": {"resourceId": f"{SUB}/id"},
                }
            }
        ],
    },
    "azure-native:cosmosdb:DatabaseAccount": {
        "publicNetworkAccess": "Disabled",
        "disableLocalAuth": True,
        "disableKeyBasedMetadataWriteAccess": True,
        "minimalTlsVersion": "Tls12",
    },
    "azure-native:dbforpostgresql:Server": {
        "network": {"delegatedSubnetResourceId": f"{SUB}/snet-postgres", "publicNetworkAccess": "Disabled"},
        "backup": {"backupRetentionDays": 14, "geoRedundantBackup": "Disabled"},
    },
    "azure-native:dbforpostgresql:Configuration": {
        "configurationName": "require_secure_transport",
        "value": "on",
        "source": "user-override",
    },
    "azure-native:dbforpostgresql:FirewallRule": {
        "serverName": "psql",
        "firewallRuleName": "lab-egress",
        "startIpAddress": "203.0.113.0",
        "endIpAddress": "203.0.113.15",
    },
    "azure-native:dbforpostgresql:ServerGroupFirewallRule": {
        "clusterName": "citus",
        "firewallRuleName": "lab-egress",
        "startIpAddress": "203.0.113.0",
        "endIpAddress": "203.0.113.15",
    },
    "azure-native:keyvault:Vault": {
        "properties": {
            "enablePurgeProtection": True,
            "enableSoftDelete": True,
            "enableRbacAuthorization": True,
            "publicNetworkAccess": "Disabled",
            "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
        }
    },
    "azure-native:keyvault:Secret": {"properties": {"value": "s3cret", "attributes": {"expires": 1893456000}}},
    "azure-native:keyvault:Key": {"properties": {"kty": "RSA", "attributes": {"expires": 1893456000}}},
    "azure-native:containerregistry:Registry": {
        "sku": {"name": "Premium"},
        "adminUserEnabled": False,
        "anonymousPullEnabled": False,
        "publicNetworkAccess": "Disabled",
    },
    "azure-native:applicationinsights:Component": {
        "kind": "web",
        "applicationType": "web",
        "workspaceResourceId": f"{SUB}/log",
        "ingestionMode": "LogAnalytics",
        "disableLocalAuth": True,
        "disableIpMasking": False,
        "publicNetworkAccessForIngestion": "Disabled",
        "publicNetworkAccessForQuery": "Disabled",
    },
    "azure-native:operationalinsights:Workspace": {"retentionInDays": 90, "features": {"disableLocalAuth": True}},
    "kubernetes:apps/v1:Deployment": {
        "metadata": {"name": "cromwell"},
        "spec": {"template": {"spec": copy.deepcopy(POD_SPEC)}},
    },
    "kubernetes:batch/v1:CronJob": {"spec": {"jobTemplate": {"spec": {"template": {"spec": copy.deepcopy(POD_SPEC)}}}}},
    "kubernetes:core/v1:Pod": {"spec": copy.deepcopy(POD_SPEC)},
    "kubernetes:core/v1:Namespace": {
        "metadata": {"name": "coa", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}
    },
}
# Aliased tokens carry the same inputs.
COMPLIANT["azure-native:documentdb:DatabaseAccount"] = COMPLIANT["azure-native:cosmosdb:DatabaseAccount"]
COMPLIANT["azure-native:insights:Component"] = COMPLIANT["azure-native:applicationinsights:Component"]
COMPLIANT["azure-native:dbforpostgresql:SingleServerFirewallRule"] = COMPLIANT[
    "azure-native:dbforpostgresql:FirewallRule"
]
COMPLIANT["azure-native:dbforpostgresql/v20171201:FirewallRule"] = COMPLIANT[
    "azure-native:dbforpostgresql:FirewallRule"
]


def compliant(resource_type: str) -> dict[str, Any]:
    return copy.deepcopy(COMPLIANT[resource_type])


def mutate(props: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply {"a.b.0.c": value} (DELETE removes the key) to a copy of props."""
    out = copy.deepcopy(props)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        cur: Any = out
        for key in parents:
            cur = cur[int(key)] if isinstance(cur, list) else cur.setdefault(key, {})
        if value is DELETE:
            del cur[last]
        elif isinstance(cur, list):
            cur[int(last)] = value
        else:
            cur[last] = value
    return out
