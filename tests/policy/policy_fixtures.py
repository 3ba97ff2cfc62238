"""Compliant inputs per resource type, shaped as the engine sends them (camelCase), and a mutation helper."""

from __future__ import annotations

import copy
import time
from typing import Any

DELETE = object()
SUB = "/subscriptions/0000/resourceGroups/rg/providers"
ROLES = "/subscriptions/0000/providers/Microsoft.Authorization/roleDefinitions"
# A secret that expires in 90 days: within keyvault-secret-expiry-bounded's default of 365, whenever the tests run.
EXPIRES = int(time.time()) + 90 * 86400
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
        "allowCrossTenantReplication": False,
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
            {
                "name": "system",
                "mode": "System",
                "enableEncryptionAtHost": True,
                "enableNodePublicIP": False,
                "osDiskType": "Ephemeral",
            }
        ],
        "addonProfiles": {"azurePolicy": {"enabled": True}},
        "autoUpgradeProfile": {"upgradeChannel": "patch"},
        "oidcIssuerProfile": {"enabled": True},
        "securityProfile": {"workloadIdentity": {"enabled": True}},
    },
    "azure-native:containerservice:AgentPool": {
        "enableEncryptionAtHost": True,
        "mode": "User",
        "osDiskType": "Ephemeral",
    },
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
        "authConfig": {"activeDirectoryAuth": "Enabled", "passwordAuth": "Enabled"},
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
    "azure-native:keyvault:Secret": {"properties": {"value": "s3cret", "attributes": {"expires": EXPIRES}}},
    "azure-native:keyvault:Key": {
        "properties": {
            "kty": "RSA",
            "attributes": {"expires": EXPIRES},
            "rotationPolicy": {
                "attributes": {"expiryTime": "P104D"},
                "lifetimeActions": [{"action": {"type": "rotate"}, "trigger": {"timeBeforeExpiry": "P14D"}}],
            },
        }
    },
    "azure-native:compute:DiskEncryptionSet": {
        "encryptionType": "EncryptionAtRestWithCustomerKey",
        "rotationToLatestKeyVersionEnabled": True,
        "activeKey": {"keyUrl": "https://kv.vault.azure.net/keys/cmk-disks/" + "0" * 32},
    },
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
    "azure-native:operationalinsights:Workspace": {
        "retentionInDays": 90,
        "features": {"disableLocalAuth": True},
        "publicNetworkAccessForIngestion": "Disabled",
        "publicNetworkAccessForQuery": "Disabled",
    },
    "azure-native:containerregistry:CacheRule": {
        "cacheRuleName": "cache-cromwell",
        "sourceRepository": "docker.io/broadinstitute/cromwell",
        "targetRepository": "broadinstitute/cromwell",
    },
    "azure-native:authorization:RoleAssignment": {
        "principalId": "11111111-2222-3333-4444-555555555555",
        "principalType": "ServicePrincipal",
        "roleDefinitionId": f"{ROLES}/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",  # Storage Blob Data Reader
        "scope": f"{SUB}/Microsoft.Storage/storageAccounts/st/blobServices/default/containers/inputs",
    },
    "azure-native:authorization:RoleDefinition": {
        "roleName": "coa-blob-lister",
        "assignableScopes": [f"{SUB}/Microsoft.Storage/storageAccounts/st"],
        "permissions": [
            {
                "actions": ["Microsoft.Storage/storageAccounts/blobServices/containers/read"],
                "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
            }
        ],
    },
    "azure-native:managedidentity:FederatedIdentityCredential": {
        "issuer": "https://eastus2.oic.prod-aks.azure.com/00000000-0000-4000-8000-0000000000aa/6f1c2d3e-0000-4000-8000-000000000001/",
        "subject": "system:serviceaccount:coa:coa-workload",
        "audiences": ["api://AzureADTokenExchange"],
    },
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": {
        "metadata": {"name": "coa-admins"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "3f2b8c1e-5d4a-4e7f-9b6c-2a1d0e9f8c7b"}],
    },
    "azure-native:operationalinsights:Table": {
        "tableName": "AKSAudit",
        "retentionInDays": -1,
        "totalRetentionInDays": 365,
    },
    "kubernetes:core/v1:Service": {
        "metadata": {"name": "cromwell", "namespace": "coa"},
        "spec": {"type": "ClusterIP", "ports": [{"port": 8000, "targetPort": "http"}]},
    },
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": {
        "metadata": {"name": "tes", "namespace": "coa"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "tes"}},
            "policyTypes": ["Ingress", "Egress"],
            "egress": [
                {"to": [{"ipBlock": {"cidr": "10.1.5.0/28"}}], "ports": [{"protocol": "TCP", "port": 5432}]},
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "192.168.0.0/16"]}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                },
            ],
        },
    },
    "kubernetes:core/v1:PersistentVolume": {
        "metadata": {"name": "coa-blob-inputs"},
        "spec": {"csi": {"driver": "blob.csi.azure.com", "volumeHandle": "st#inputs"}},
    },
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
