"""Each resource rule: silent on the compliant fixture, and each single change below makes it report."""

from __future__ import annotations

import pytest
from policy_fixtures import COMPLIANT, DELETE, compliant, mutate

from policy.coa_policies import all_policies
from policy.coa_policies._core import Rule

RULES = {p.name: p for p in all_policies() if isinstance(p, Rule)}
ST, BLOB, CONT = (
    "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobServiceProperties",
    "azure-native:storage:BlobContainer",
)
NSG, SR, SUBNET, VNET, FLOW = (
    "azure-native:network:NetworkSecurityGroup",
    "azure-native:network:SecurityRule",
    "azure-native:network:Subnet",
    "azure-native:network:VirtualNetwork",
    "azure-native:network:FlowLog",
)
AKS, POOL = "azure-native:containerservice:ManagedCluster", "azure-native:containerservice:AgentPool"
BA, BP = "azure-native:batch:BatchAccount", "azure-native:batch:Pool"
COSMOS, DOCDB = "azure-native:cosmosdb:DatabaseAccount", "azure-native:documentdb:DatabaseAccount"
PG, PGC = "azure-native:dbforpostgresql:Server", "azure-native:dbforpostgresql:Configuration"
PGFW, PGFW_SINGLE, PGFW_OLD, PGFW_GROUP = (
    "azure-native:dbforpostgresql:FirewallRule",
    "azure-native:dbforpostgresql:SingleServerFirewallRule",
    "azure-native:dbforpostgresql/v20171201:FirewallRule",
    "azure-native:dbforpostgresql:ServerGroupFirewallRule",
)
KV, SECRET, KEY = "azure-native:keyvault:Vault", "azure-native:keyvault:Secret", "azure-native:keyvault:Key"
ACR = "azure-native:containerregistry:Registry"
DES = "azure-native:compute:DiskEncryptionSet"
CMK_URI = "https://kv.vault.azure.net/keys/cmk"
AI, AI_OLD, LOG = (
    "azure-native:applicationinsights:Component",
    "azure-native:insights:Component",
    "azure-native:operationalinsights:Workspace",
)
DEP, CRON, POD, NS = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
    "kubernetes:core/v1:Namespace",
)
RA, RD, CACHE = (
    "azure-native:authorization:RoleAssignment",
    "azure-native:authorization:RoleDefinition",
    "azure-native:containerregistry:CacheRule",
)
SVC, NETPOL, PV = (
    "kubernetes:core/v1:Service",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:core/v1:PersistentVolume",
)
FIC, TABLE = "azure-native:managedidentity:FederatedIdentityCredential", "azure-native:operationalinsights:Table"
PROD_TAGS = {"environment": "prod"}
C = "spec.template.spec.containers.0"
TES_IMAGE_ENV = [
    {"name": f"{gen}__{key}", "value": value}
    for gen in ("BatchImageGen1", "BatchImageGen2")
    for key, value in (
        ("Publisher", "microsoft-dsvm"),
        ("Offer", "ubuntu-hpc"),
        ("Sku", "2204"),
        ("Version", "latest"),
        ("NodeAgentSkuId", "batch.node.ubuntu 22.04"),
    )
]
SC = f"{C}.securityContext"
WORLD_RULE = {"securityRules.0.sourceAddressPrefix": "Internet"}

# (rule, resource type, single change)
VIOLATIONS = [
    ("storage-account-https-only", ST, {"enableHttpsTrafficOnly": False}),
    ("storage-account-tls-1-2-minimum", ST, {"minimumTlsVersion": "TLS1_1"}),
    ("storage-account-tls-1-2-minimum", ST, {"minimumTlsVersion": DELETE}),
    ("storage-account-blob-public-access-disabled", ST, {"allowBlobPublicAccess": True}),
    ("storage-account-blob-public-access-disabled", ST, {"allowBlobPublicAccess": DELETE}),
    (
        "storage-account-public-network-restricted",
        ST,
        {"publicNetworkAccess": "Enabled", "networkRuleSet.defaultAction": "Allow"},
    ),
    (
        "storage-account-public-network-restricted",
        ST,
        {"publicNetworkAccess": DELETE, "networkRuleSet.ipRules": [{"iPAddressOrRange": "0.0.0.0/0"}]},
    ),
    ("storage-account-public-network-restricted", ST, {"publicNetworkAccess": DELETE, "networkRuleSet": DELETE}),
    ("storage-account-shared-key-disabled", ST, {"allowSharedKeyAccess": True}),
    ("storage-account-shared-key-disabled-production", ST, {"allowSharedKeyAccess": True}),
    ("storage-account-shared-key-disabled-production", ST, {"allowSharedKeyAccess": DELETE}),
    ("storage-account-infrastructure-encryption", ST, {"encryption.requireInfrastructureEncryption": False}),
    ("storage-account-sas-expiry-policy", ST, {"sasPolicy": DELETE}),
    ("storage-blob-soft-delete-and-versioning", BLOB, {"deleteRetentionPolicy.enabled": False}),
    ("storage-blob-soft-delete-and-versioning", BLOB, {"containerDeleteRetentionPolicy.days": 3}),
    ("storage-blob-soft-delete-and-versioning", BLOB, {"isVersioningEnabled": DELETE}),
    ("storage-container-private", CONT, {"publicAccess": "Blob"}),
    ("storage-container-private", CONT, {"publicAccess": "container"}),
    ("nsg-no-inbound-from-internet", NSG, WORLD_RULE),
    ("nsg-no-inbound-from-internet", NSG, {"securityRules.0.sourceAddressPrefix": "*"}),
    (
        "nsg-no-inbound-from-internet",
        NSG,
        {
            "securityRules.0.sourceAddressPrefix": DELETE,
            "securityRules.0.sourceAddressPrefixes": ["10.0.0.0/8", "0.0.0.0/0"],
        },
    ),
    ("nsg-no-inbound-from-internet", SR, {"sourceAddressPrefix": "Any"}),
    ("nsg-no-ssh-from-internet", NSG, {**WORLD_RULE, "securityRules.0.destinationPortRange": "22"}),
    ("nsg-no-ssh-from-internet", NSG, {**WORLD_RULE, "securityRules.0.destinationPortRange": "20-30"}),
    ("nsg-no-ssh-from-internet", NSG, {**WORLD_RULE, "securityRules.0.destinationPortRange": "*"}),
    (
        "nsg-no-ssh-from-internet",
        SR,
        {"sourceAddressPrefix": "internet", "destinationPortRange": DELETE, "destinationPortRanges": ["443", "21-23"]},
    ),
    (
        "nsg-no-ssh-from-internet",
        SR,
        {"sourceAddressPrefix": "0.0.0.0/0", "protocol": "*", "destinationPortRange": "80,22"},
    ),
    ("nsg-no-rdp-from-internet", SR, {"sourceAddressPrefix": "*", "protocol": "Udp", "destinationPortRange": "3389"}),
    ("nsg-no-rdp-from-internet", NSG, {**WORLD_RULE, "securityRules.0.destinationPortRange": "3000-4000"}),
    ("nsg-no-http-from-internet", NSG, {**WORLD_RULE, "securityRules.0.destinationPortRange": "80"}),
    ("nsg-outbound-internet-restricted", SR, {"direction": "Outbound", "destinationAddressPrefix": "Internet"}),
    ("subnet-has-nsg", SUBNET, {"networkSecurityGroup": DELETE}),
    ("subnet-has-nsg", VNET, {"subnets.0.networkSecurityGroup": DELETE}),
    ("subnet-default-outbound-access-disabled", SUBNET, {"defaultOutboundAccess": DELETE}),
    ("subnet-default-outbound-access-disabled", VNET, {"subnets.0.defaultOutboundAccess": True}),
    ("flow-log-retention-90-days", FLOW, {"retentionPolicy.days": 30}),
    ("flow-log-retention-90-days", FLOW, {"retentionPolicy.enabled": False}),
    ("aks-private-api-server", AKS, {"apiServerAccessProfile": DELETE}),
    (
        "aks-private-api-server",
        AKS,
        {
            "apiServerAccessProfile.enablePrivateCluster": False,
            "apiServerAccessProfile.authorizedIPRanges": ["203.0.113.0/24", "0.0.0.0/0"],
        },
    ),
    ("aks-rbac-enabled", AKS, {"enableRBAC": False}),
    ("aks-entra-id-with-azure-rbac", AKS, {"aadProfile": DELETE}),
    ("aks-entra-id-with-azure-rbac", AKS, {"aadProfile.enableAzureRBAC": False}),
    ("aks-local-accounts-disabled", AKS, {"disableLocalAccounts": DELETE}),
    ("aks-network-policy-enabled", AKS, {"networkProfile.networkPolicy": "none"}),
    ("aks-network-policy-enabled", AKS, {"networkProfile.networkPolicy": DELETE}),
    ("aks-no-node-public-ip", AKS, {"agentPoolProfiles.0.enableNodePublicIP": True}),
    ("aks-no-node-public-ip", POOL, {"enableNodePublicIP": True}),
    ("aks-encryption-at-host", AKS, {"agentPoolProfiles.0.enableEncryptionAtHost": DELETE}),
    ("aks-encryption-at-host", POOL, {"enableEncryptionAtHost": False}),
    ("aks-azure-policy-addon", AKS, {"addonProfiles": DELETE}),
    ("aks-azure-policy-addon", AKS, {"addonProfiles.azurePolicy.enabled": False}),
    ("aks-automatic-upgrades", AKS, {"autoUpgradeProfile.upgradeChannel": "none"}),
    ("federated-credential-bound-to-cluster", FIC, {"issuer": "https://token.actions.githubusercontent.com"}),
    ("federated-credential-bound-to-cluster", FIC, {"subject": "system:serviceaccount:default:default"}),
    ("federated-credential-bound-to-cluster", FIC, {"subject": "repo:attacker/x:ref:refs/heads/main"}),
    ("federated-credential-bound-to-cluster", FIC, {"audiences": ["api://AzureADTokenExchange", "other"]}),
    (
        "k8s-no-broad-rbac-binding",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        {"subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "coa"}]},
    ),
    ("log-analytics-table-retention-minimum", TABLE, {"retentionInDays": 4}),
    ("log-analytics-table-retention-minimum", TABLE, {"totalRetentionInDays": 30}),
    ("log-analytics-retention-minimum", LOG, {"workspaceCapping": {"dailyQuotaGb": 0.023}}),
    ("log-analytics-retention-minimum", LOG, {"features.immediatePurgeDataOn30Days": True}),
    ("aks-private-api-server", AKS, {"apiServerAccessProfile": {"authorizedIPRanges": ["0.0.0.0/1", "128.0.0.0/1"]}}),
    # AKS 1.34 ended 2026-11-30 (retirement.yaml); a pool may lag its control plane; 1.30 predates the calendar.
    ("aks-kubernetes-version-supported", AKS, {"kubernetesVersion": "1.34"}),
    ("aks-kubernetes-version-supported", AKS, {"kubernetesVersion": "1.30.4"}),
    ("aks-kubernetes-version-supported", POOL, {"orchestratorVersion": "1.34.1"}),
    ("aks-workload-identity-oidc", AKS, {"oidcIssuerProfile.enabled": False}),
    ("aks-workload-identity-oidc", AKS, {"securityProfile": DELETE}),
    ("batch-account-public-network-disabled", BA, {"publicNetworkAccess": "Enabled"}),
    (
        "batch-account-public-network-disabled",
        BA,
        {
            "publicNetworkAccess": DELETE,
            "networkProfile": {
                "accountAccess": {"defaultAction": "Deny", "ipRules": [{"action": "Allow", "value": "0.0.0.0/0"}]}
            },
        },
    ),
    ("batch-account-entra-id-auth-only", BA, {"allowedAuthenticationModes": ["AAD", "SharedKey"]}),
    ("batch-account-entra-id-auth-only", BA, {"allowedAuthenticationModes": DELETE}),
    ("batch-account-autostorage-managed-identity", BA, {"autoStorage.authenticationMode": "StorageKeys"}),
    ("batch-account-autostorage-managed-identity", BA, {"autoStorage.authenticationMode": DELETE}),
    (
        "batch-pool-supported-node-image",
        BP,
        {"deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId": "batch.node.ubuntu 20.04"},
    ),
    (
        "batch-pool-supported-node-image",
        BP,
        {
            "deploymentConfiguration.virtualMachineConfiguration.imageReference": {
                "publisher": "microsoft-azure-batch",
                "offer": "ubuntu-server-container",
                "sku": "20-04-lts",
            }
        },
    ),
    # TES 6 without explicit images falls back to its retired Ubuntu 20.04 defaults.
    ("tes-batch-node-images-supported", DEP, {f"{C}.env": [{"name": "BatchAccount__AccountName", "value": "ba"}]}),
    (
        "tes-batch-node-images-supported",
        DEP,
        {
            f"{C}.env": [
                {"name": "BatchAccount__AccountName", "value": "ba"},
                *TES_IMAGE_ENV[:5],
                {"name": "BatchImageGen2__NodeAgentSkuId", "value": "batch.node.ubuntu 20.04"},
            ]
        },
    ),
    ("batch-pool-no-public-ip", BP, {"networkConfiguration.publicIPAddressConfiguration": DELETE}),
    ("batch-pool-no-public-ip", BP, {"networkConfiguration.publicIPAddressConfiguration.provision": "BatchManaged"}),
    ("batch-pool-in-subnet", BP, {"networkConfiguration.subnetId": DELETE}),
    ("batch-pool-simplified-node-communication", BP, {"targetNodeCommunicationMode": "Classic"}),
    (
        "batch-pool-disk-encryption",
        BP,
        {"deploymentConfiguration.virtualMachineConfiguration.diskEncryptionConfiguration.targets": ["OsDisk"]},
    ),
    ("batch-pool-blobfuse-by-identity", BP, {"mountConfiguration.0.azureBlobFileSystemConfiguration.accountKey": "k"}),
    (
        "batch-pool-blobfuse-by-identity",
        BP,
        {
            "mountConfiguration.0.azureBlobFileSystemConfiguration.identityReference": DELETE,
            "mountConfiguration.0.azureBlobFileSystemConfiguration.sasKey": "sv=...",
        },
    ),
    ("cosmosdb-public-network-disabled", COSMOS, {"publicNetworkAccess": "Enabled"}),
    (
        "cosmosdb-public-network-disabled",
        DOCDB,
        {
            "publicNetworkAccess": DELETE,
            "isVirtualNetworkFilterEnabled": True,
            "ipRules": [{"ipAddressOrRange": "0.0.0.0"}],
        },
    ),
    ("cosmosdb-local-auth-disabled", COSMOS, {"disableLocalAuth": False}),
    ("cosmosdb-key-based-metadata-write-disabled", DOCDB, {"disableKeyBasedMetadataWriteAccess": DELETE}),
    ("cosmosdb-tls-1-2-minimum", COSMOS, {"minimalTlsVersion": "Tls"}),
    ("postgres-public-network-disabled", PG, {"network": DELETE}),
    ("postgres-public-network-disabled", PG, {"network.publicNetworkAccess": "Enabled"}),
    ("postgres-tls-enforced", PGC, {"value": "OFF"}),
    ("postgres-tls-enforced", PGC, {"configurationName": "ssl_min_protocol_version", "value": "TLSv1.1"}),
    ("postgres-backup-retention", PG, {"backup.backupRetentionDays": 7}),
    ("postgres-backup-retention", PG, {"backup": DELETE}),
    ("postgres-firewall-no-wide-ranges", PGFW, {"endIpAddress": "203.0.114.255"}),
    ("postgres-firewall-no-wide-ranges", PGFW, {"startIpAddress": "0.0.0.0", "endIpAddress": "0.0.0.0"}),
    ("postgres-firewall-no-wide-ranges", PGFW_SINGLE, {"startIpAddress": "0.0.0.0", "endIpAddress": "255.255.255.255"}),
    ("postgres-firewall-no-wide-ranges", PGFW_OLD, {"endIpAddress": "203.0.255.255"}),
    ("postgres-firewall-no-wide-ranges", PGFW_GROUP, {"startIpAddress": "0.0.0.0", "endIpAddress": "0.0.0.0"}),
    ("keyvault-purge-protection", KV, {"properties.enablePurgeProtection": DELETE}),
    ("keyvault-soft-delete", KV, {"properties.enableSoftDelete": False}),
    ("keyvault-rbac-authorization", KV, {"properties.enableRbacAuthorization": False}),
    (
        "keyvault-public-network-disabled",
        KV,
        {"properties.publicNetworkAccess": "Enabled", "properties.networkAcls.defaultAction": "Allow"},
    ),
    (
        "keyvault-public-network-disabled",
        KV,
        {"properties.publicNetworkAccess": DELETE, "properties.networkAcls.ipRules": [{"value": "0.0.0.0/0"}]},
    ),
    ("keyvault-secrets-and-keys-expire", SECRET, {"properties.attributes": DELETE}),
    ("keyvault-secrets-and-keys-expire", KEY, {"properties.attributes.expires": DELETE}),
    ("acr-admin-user-disabled", ACR, {"adminUserEnabled": True}),
    ("acr-anonymous-pull-disabled", ACR, {"anonymousPullEnabled": True}),
    ("acr-public-network-disabled", ACR, {"publicNetworkAccess": "Enabled"}),
    ("acr-public-network-disabled", ACR, {"publicNetworkAccess": DELETE}),
    ("appinsights-workspace-based", AI, {"workspaceResourceId": DELETE}),
    ("appinsights-workspace-based", AI_OLD, {"ingestionMode": "ApplicationInsights"}),
    ("appinsights-local-auth-disabled", AI, {"disableLocalAuth": DELETE}),
    ("appinsights-ip-masking-enabled", AI_OLD, {"disableIpMasking": True}),
    ("appinsights-public-access-disabled", AI, {"publicNetworkAccessForIngestion": "Enabled"}),
    ("appinsights-public-access-disabled", AI, {"publicNetworkAccessForQuery": DELETE}),
    ("log-analytics-retention-minimum", LOG, {"retentionInDays": 30}),
    ("log-analytics-retention-minimum", LOG, {"retentionInDays": DELETE}),
    ("log-analytics-local-auth-disabled", LOG, {"features": DELETE}),
    ("k8s-run-as-non-root", DEP, {"spec.template.spec.securityContext.runAsNonRoot": False}),
    ("k8s-run-as-non-root", DEP, {f"{SC}.runAsUser": 0}),
    ("k8s-no-privilege-escalation", DEP, {f"{SC}.allowPrivilegeEscalation": DELETE}),
    ("k8s-no-privileged-or-host-access", DEP, {f"{SC}.privileged": True}),
    ("k8s-no-privileged-or-host-access", DEP, {"spec.template.spec.hostNetwork": True}),
    (
        "k8s-no-privileged-or-host-access",
        DEP,
        {"spec.template.spec.volumes": [{"name": "h", "hostPath": {"path": "/"}}]},
    ),
    ("k8s-no-privileged-or-host-access", DEP, {f"{C}.ports": [{"containerPort": 80, "hostPort": 80}]}),
    ("k8s-drop-all-capabilities", DEP, {f"{SC}.capabilities.drop": ["NET_RAW"]}),
    ("k8s-drop-all-capabilities", DEP, {f"{SC}.capabilities.add": ["SYS_ADMIN"]}),
    ("k8s-seccomp-runtime-default", DEP, {"spec.template.spec.securityContext.seccompProfile": DELETE}),
    ("k8s-seccomp-runtime-default", DEP, {f"{SC}.seccompProfile": {"type": "Unconfined"}}),
    ("k8s-read-only-root-filesystem", DEP, {f"{SC}.readOnlyRootFilesystem": False}),
    ("k8s-resource-requests-and-limits", DEP, {f"{C}.resources.limits": DELETE}),
    ("k8s-image-pinned", DEP, {f"{C}.image": "coacr.azurecr.io/cromwell"}),
    ("k8s-image-pinned", DEP, {f"{C}.image": "coacr.azurecr.io:5000/cromwell:latest"}),
    ("k8s-image-from-allowed-registry", DEP, {f"{C}.image": "broadinstitute/cromwell:86"}),
    ("k8s-image-from-allowed-registry", DEP, {f"{C}.image": "ghcr.io/org/tes:1.0"}),
    ("k8s-run-as-non-root", CRON, {"spec.jobTemplate.spec.template.spec.securityContext.runAsNonRoot": DELETE}),
    ("k8s-no-privilege-escalation", POD, {"spec.initContainers": [{"name": "init", "image": "mcr.microsoft.com/x:1"}]}),
    (
        "k8s-namespace-pod-security-restricted",
        NS,
        {"metadata.labels": {"pod-security.kubernetes.io/enforce": "baseline"}},
    ),
    ("k8s-namespace-pod-security-restricted", NS, {"metadata.labels": DELETE}),
    ("k8s-no-privileged-or-host-access", PV, {"spec": {"hostPath": {"path": "/"}}}),
    ("k8s-service-not-exposed", SVC, {"spec.type": "LoadBalancer"}),
    ("k8s-service-not-exposed", SVC, {"spec.type": "NodePort"}),
    ("k8s-service-not-exposed", SVC, {"spec.externalIPs": ["203.0.113.7"]}),
    ("k8s-network-policy-egress-restricted", NETPOL, {"spec.egress": [{}]}),
    ("k8s-network-policy-egress-restricted", NETPOL, {"spec.egress.1.ports": DELETE}),
    ("k8s-network-policy-egress-restricted", NETPOL, {"spec.egress.1.ports": [{"port": 22}]}),
    ("k8s-network-policy-egress-restricted", NETPOL, {"spec.egress.0.to.0.ipBlock.cidr": "0.0.0.0/1"}),
    ("storage-account-cross-tenant-replication-disabled", ST, {"allowCrossTenantReplication": True}),
    ("storage-account-cross-tenant-replication-disabled", ST, {"allowCrossTenantReplication": DELETE}),
    ("log-analytics-public-access-disabled", LOG, {"publicNetworkAccessForIngestion": "Enabled"}),
    ("log-analytics-public-access-disabled", LOG, {"publicNetworkAccessForQuery": DELETE}),
    ("postgres-entra-auth-enabled", PG, {"authConfig.activeDirectoryAuth": "Disabled"}),
    ("postgres-entra-auth-enabled", PG, {"authConfig": DELETE}),
    ("postgres-geo-redundant-backup-production", PG, {"tags": PROD_TAGS}),
    ("aks-ephemeral-os-disk-production", POOL, {"tags": PROD_TAGS, "osDiskType": "Managed"}),
    ("aks-ephemeral-os-disk-production", AKS, {"tags": PROD_TAGS, "agentPoolProfiles.0.osDiskType": DELETE}),
    ("keyvault-secret-expiry-bounded", SECRET, {"properties.attributes.expires": 4102444800}),  # 2100-01-01
    ("keyvault-secret-expiry-bounded", KEY, {"properties.attributes.expires": 4102444800}),
    ("acr-cache-rule-trusted-upstream", CACHE, {"sourceRepository": "docker.io/attacker/cromwell"}),
    ("acr-cache-rule-trusted-upstream", CACHE, {"sourceRepository": "ghcr.io/broadinstitute/cromwell"}),
    ("role-assignment-no-privileged-role", RA, {"roleDefinitionId": "/x/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}),
    ("role-assignment-no-privileged-role", RA, {"roleDefinitionId": "/x/b24988ac-6180-42a0-ab88-20f7382dd24c"}),
    ("role-assignment-resource-scope", RA, {"scope": "/subscriptions/0000"}),
    ("role-assignment-resource-scope", RA, {"scope": "/subscriptions/0000/resourceGroups/rg"}),
    ("role-assignment-resource-scope", RA, {"scope": "/providers/Microsoft.Management/managementGroups/mg"}),
    ("custom-role-no-wildcard-actions", RD, {"permissions.0.actions": ["*"]}),
    ("custom-role-no-wildcard-actions", RD, {"permissions.0.dataActions": ["*"]}),
    ("custom-role-no-wildcard-actions", RD, {"permissions.0.actions": ["Microsoft.Authorization/*"]}),
    ("nsg-inbound-private-sources-only", NSG, {"securityRules.0.sourceAddressPrefix": "52.160.0.0/16"}),
    ("nsg-inbound-private-sources-only", SR, {"sourceAddressPrefix": "AzureCloud"}),
    # Customer-managed keys, declared by the program's tag: the compliant fixtures use Microsoft-managed keys.
    ("storage-customer-managed-key", ST, {"tags.encryption": "customer-managed-keys"}),
    ("acr-customer-managed-key", ACR, {"tags.encryption": "customer-managed-keys"}),
    (
        "acr-customer-managed-key",
        ACR,
        {
            "tags.encryption": "customer-managed-keys",
            "encryption": {"status": "enabled", "keyVaultProperties": {"keyIdentifier": CMK_URI + "/" + "a" * 32}},
        },
    ),
    ("postgres-customer-managed-key", PG, {"tags.encryption": "customer-managed-keys"}),
    (
        "postgres-customer-managed-key",
        PG,
        {
            "tags.encryption": "customer-managed-keys",
            "dataEncryption": {"type": "AzureKeyVault", "primaryKeyURI": CMK_URI},
        },
    ),
    ("aks-disk-customer-managed-key", AKS, {"tags.encryption": "customer-managed-keys"}),
    ("disk-encryption-set-follows-rotation", DES, {"rotationToLatestKeyVersionEnabled": False}),
    ("disk-encryption-set-follows-rotation", DES, {"encryptionType": "EncryptionAtRestWithPlatformKey"}),
    ("keyvault-key-rotation-policy", KEY, {"properties.rotationPolicy.lifetimeActions": []}),
    ("keyvault-key-rotation-policy", KEY, {"properties.rotationPolicy.attributes": DELETE}),
]


def test_every_resource_rule_has_a_failing_case() -> None:
    covered = {name for name, _, _ in VIOLATIONS} | {
        "helm-release-renders",  # tested in test_policy_helm.py
        "k8s-image-digest-pinned-production",  # needs production: test_policy_production_and_firewall.py
        "keyvault-secrets-and-keys-expire-production",  # likewise
    }
    assert set(RULES) - covered == set()


@pytest.mark.parametrize("rule_name", sorted(RULES))
def test_compliant_fixture_passes(rule_name: str) -> None:
    rule = RULES[rule_name]
    fixtures = [t for t in rule.types if t in COMPLIANT]
    assert fixtures or rule_name == "helm-release-renders", f"no compliant fixture for {rule.types}"
    for resource_type in fixtures:
        assert rule.evaluate(compliant(resource_type), type=resource_type) == [], resource_type


@pytest.mark.parametrize(
    ("rule_name", "resource_type", "change"), VIOLATIONS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(VIOLATIONS)]
)
def test_single_change_violates(rule_name: str, resource_type: str, change: dict[str, object]) -> None:
    messages = RULES[rule_name].evaluate(mutate(compliant(resource_type), change), type=resource_type)
    assert messages, f"{rule_name} accepted {change}"
    assert all(isinstance(m, str) and m for m in messages)


def test_rules_ignore_other_types() -> None:
    assert RULES["storage-account-https-only"].evaluate({"enableHttpsTrafficOnly": False}, type=KV) == []


def test_tes_with_explicit_supported_images_passes_and_names_the_generation() -> None:
    rule = RULES["tes-batch-node-images-supported"]
    tes = [{"name": "BatchAccount__AccountName", "value": "ba"}, *TES_IMAGE_ENV]
    assert rule.evaluate(mutate(compliant(DEP), {f"{C}.env": tes}), type=DEP) == []
    retired = [*tes[:-1], {"name": "BatchImageGen2__NodeAgentSkuId", "value": "batch.node.ubuntu 20.04"}]
    (message,) = rule.evaluate(mutate(compliant(DEP), {f"{C}.env": retired}), type=DEP)
    assert "BatchImageGen2" in message and "retired" in message


def test_an_ingress_is_exposure_and_names_its_backends() -> None:
    ingress = {
        "metadata": {"name": "cromwell", "namespace": "coa"},
        "spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {"service": {"name": "cromwell"}}}]}}]},
    }
    (message,) = RULES["k8s-service-not-exposed"].evaluate(ingress, type="kubernetes:networking.k8s.io/v1:Ingress")
    assert "Ingress/cromwell: publishes cromwell through an ingress controller" in message


def test_a_narrow_public_block_with_a_port_range_is_a_channel_out() -> None:
    policy = mutate(
        compliant(NETPOL),
        {"spec.egress": [{"to": [{"ipBlock": {"cidr": "20.0.0.0/9"}}], "ports": [{"port": 1, "endPort": 65535}]}]},
    )
    (message,) = RULES["k8s-network-policy-egress-restricted"].evaluate(policy, type=NETPOL)
    assert "ports ['1-65535'] to public addresses '20.0.0.0/9'" in message
    # One port to a narrow public block (a service's address) is not what this rule refuses.
    policy = mutate(
        compliant(NETPOL), {"spec.egress": [{"to": [{"ipBlock": {"cidr": "20.1.2.0/24"}}], "ports": [{"port": 443}]}]}
    )
    assert RULES["k8s-network-policy-egress-restricted"].evaluate(policy, type=NETPOL) == []


CRB = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"


def _binding(role: str, *subjects: dict[str, str]) -> dict[str, object]:
    return {
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": list(subjects),
    }


def test_rbac_bindings_that_hand_out_the_cluster_fail_and_a_group_admin_binding_passes() -> None:
    rule = RULES["k8s-no-broad-rbac-binding"]
    sa = {"kind": "ServiceAccount", "name": "coa-workload", "namespace": "coa"}
    (message,) = rule.evaluate(_binding("cluster-admin", sa), type=CRB)
    assert "service account coa/coa-workload: every pod running as it administers the cluster" in message
    (message,) = rule.evaluate(_binding("view", {"kind": "Group", "name": "system:authenticated"}), type=CRB)
    assert "'view' to Group 'system:authenticated'" in message
    assert rule.evaluate(_binding("view", {"kind": "User", "name": "system:anonymous"}), type=CRB)
    # People get access through an Entra group; a service account with a narrow role is a normal workload.
    assert (
        rule.evaluate(
            _binding("cluster-admin", {"kind": "Group", "name": "3f2b8c1e-5d4a-4e7f-9b6c-2a1d0e9f8c7b"}), type=CRB
        )
        == []
    )
    assert rule.evaluate(_binding("view", sa), type=CRB) == []
