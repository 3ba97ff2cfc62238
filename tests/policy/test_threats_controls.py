"""Threat model (policy/THREATS.md), our own controls, exfiltration, audit evasion and data loss: each test makes one
row's change to a real stack's registrations (the offline run of dev or prod) and expects the row's rule to report it.
"""

from __future__ import annotations

import dataclasses

from policy_fixtures import POD_SPEC
from stack_edits import DELETE, added, caught, dropped, edited, one, renamed_stack, retagged

from offline.analyzer import PolicyPackAnalyzer
from offline.harness import ProgramRun
from offline.records import ResourceRecord

ASSIGNMENT = "azure-native:authorization:PolicyAssignment"
CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
ACCOUNT = "azure-native:storage:StorageAccount"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
SUBNET = "azure-native:network:Subnet"
SECRET = "azure-native:keyvault:Secret"
SERVER = "azure-native:dbforpostgresql:Server"
WORKSPACE = "azure-native:operationalinsights:Workspace"
YEAR_2100 = 4102444800


def _assignment(run: ProgramRun) -> ResourceRecord:
    return one(run.resources, ASSIGNMENT, "allowed-images")


def _pool_assignment(run: ProgramRun, key: str) -> ResourceRecord:
    return one(run.resources, ASSIGNMENT, f"batch-governance-{key}")


# -- our own controls ------------------------------------------------------------------------------------------------
def test_image_admission_removed(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = dropped(prod.resources, lambda r: r.type == ASSIGNMENT)
    assert "no 'allowed images' policy assignment" in caught(prod_pack, records, "aks-image-admission-enforced")[0]


def test_image_admission_lowered_to_audit(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = edited(prod.resources, _assignment(prod), {"parameters.effect.value": "Audit"})
    assert "effect is 'Audit'" in caught(prod_pack, records, "aks-image-admission-enforced")[0]


def test_image_admission_pattern_widened(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = edited(dev.resources, _assignment(dev), {"parameters.allowedContainerImagesRegex.value": ".*"})
    assert "admits" in caught(dev_pack, records, "aks-image-admission-enforced")[0]


def test_image_admission_pattern_unanchored(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    anchored = _assignment(prod).inputs["parameters"]["allowedContainerImagesRegex"]["value"]
    records = edited(
        prod.resources, _assignment(prod), {"parameters.allowedContainerImagesRegex.value": anchored.lstrip("^")}
    )
    assert "attacker.example.com/" in caught(prod_pack, records, "aks-image-admission-enforced")[0]


def test_image_admission_exempts_the_workload_namespace(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = edited(prod.resources, _assignment(prod), {"parameters.excludedNamespaces": {"value": ["coa"]}})
    assert "excludedNamespaces" in caught(prod_pack, records, "aks-image-admission-enforced")[0]


def test_image_admission_not_enforced(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = edited(dev.resources, _assignment(dev), {"enforcementMode": "DoNotEnforce"})
    assert "DoNotEnforce" in caught(dev_pack, records, "aks-image-admission-enforced")[0]


def test_azure_policy_addon_off(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    cluster = one(prod.resources, CLUSTER)
    records = edited(prod.resources, cluster, {"addonProfiles.azurepolicy.enabled": False})
    caught(prod_pack, records, "aks-azure-policy-addon")


def test_cluster_pinned_to_an_ended_kubernetes_minor(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    # AKS 1.34 ended 2026-11-30: "pin it back to what worked" leaves the cluster without security patches.
    records = edited(prod.resources, one(prod.resources, CLUSTER), {"kubernetesVersion": "1.34"})
    assert "reached end of life on 2026-11-30" in caught(prod_pack, records, "aks-kubernetes-version-supported")[0]


def test_cache_rule_to_unexpected_upstream(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    rule = min(dev.of_type("azure-native:containerregistry:CacheRule"), key=lambda r: r.name)
    records = edited(dev.resources, rule, {"sourceRepository": "docker.io/attacker/cromwell"})
    assert "docker.io/attacker/cromwell" in caught(dev_pack, records, "acr-cache-rule-trusted-upstream")[0]


def test_delete_lock_on_phi_storage_removed(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    account = one(prod.resources, ACCOUNT)
    records = dropped(
        prod.resources, lambda r: r.type.endswith(":ManagementLockByScope") and account.urn in r.dependencies
    )
    (message,) = caught(prod_pack, records, "stateful-resources-locked-in-production")
    assert "StorageAccount" in message


def test_protection_removed_from_phi_storage(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    account = one(prod.resources, ACCOUNT)
    records = [dataclasses.replace(r, protect=False) if r.urn == account.urn else r for r in prod.resources]
    caught(prod_pack, records, "stateful-resources-protected-in-production")


def test_secret_expiring_in_2100(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    secret = one(dev.resources, SECRET, "postgres-admin")
    records = edited(dev.resources, secret, {"properties.attributes.expires": YEAR_2100})
    assert "2100-01-01" in caught(dev_pack, records, "keyvault-secret-expiry-bounded")[0]


def test_secret_rotation_dropped_in_production(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    secret = one(prod.resources, SECRET, "postgres-admin")
    records = edited(prod.resources, secret, {"properties.attributes": DELETE})
    caught(prod_pack, records, "keyvault-secrets-and-keys-expire-production")


def test_production_stack_named_like_a_dev_one(dev_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    """genomics-prod with a user tag environment: dev, and no policy config: the stack name alone makes it production,
    as it does for the program (policy/coa_policies/production.py)."""
    records = retagged(renamed_stack(prod.resources, "prod", "genomics-prod"), {"environment": "dev"})
    records = edited(records, one(records, ACCOUNT), {"allowSharedKeyAccess": True})
    (message,) = caught(dev_pack, records, "storage-account-shared-key-disabled-production")
    assert "stack 'genomics-prod'" in message


def test_user_tag_overrides_the_environment(dev_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = retagged(prod.resources, {"environment": "dev"})
    records = edited(records, one(records, SERVER), {"backup.geoRedundantBackup": "Disabled"})
    assert "stack 'prod'" in caught(dev_pack, records, "postgres-geo-redundant-backup-production")[0]


def test_new_tag_only_deployment_in_production(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    """prod.json waives the pending digests of the Helm release's images only: the same image in a new Deployment
    stays mandatory."""
    registry = one(prod.resources, "azure-native:containerregistry:Registry").inputs["registryName"]
    spec = {
        **POD_SPEC,
        "containers": [{**POD_SPEC["containers"][0], "image": f"{registry}.azurecr.io/broadinstitute/cromwell:87"}],
    }
    manifest = {"metadata": {"name": "cromwell-canary", "namespace": "coa"}, "spec": {"template": {"spec": spec}}}
    records = added(prod.resources, "kubernetes:apps/v1:Deployment", "cromwell-canary", manifest)
    (message,) = caught(prod_pack, records, "k8s-image-digest-pinned-production")
    assert "Deployment/cromwell-canary" in message


# -- exfiltration ----------------------------------------------------------------------------------------------------
def test_cross_tenant_replication_allowed(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    account = one(prod.resources, ACCOUNT)
    records = edited(prod.resources, account, {"allowCrossTenantReplication": True})
    caught(prod_pack, records, "storage-account-cross-tenant-replication-disabled")


def test_log_analytics_public_ingestion(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    workspace = one(dev.resources, WORKSPACE)
    records = edited(dev.resources, workspace, {"publicNetworkAccessForIngestion": "Enabled"})
    caught(dev_pack, records, "log-analytics-public-access-disabled")


def test_aks_subnet_loses_its_route_to_the_firewall(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    subnet = one(prod.resources, SUBNET, "snet-aks")
    records = edited(prod.resources, subnet, {"routeTable": DELETE})
    assert "has no route table" in caught(prod_pack, records, "egress-through-firewall")[0]


def test_default_route_sent_to_the_internet(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    table = one(prod.resources, "azure-native:network:RouteTable")
    records = edited(prod.resources, table, {"routes.0.nextHopType": "Internet", "routes.0.nextHopIpAddress": DELETE})
    messages = caught(prod_pack, records, "egress-through-firewall")
    assert all("'Internet'" in m for m in messages) and len(messages) == 2  # the aks and the batch subnet


def test_batch_subnet_loses_its_route_to_the_firewall(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    subnet = one(prod.resources, SUBNET, "snet-batch")
    records = edited(prod.resources, subnet, {"routeTable": DELETE})
    assert "snet-batch" in caught(prod_pack, records, "egress-through-firewall")[0]


def test_batch_nsg_allows_internet_outbound(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    nsg = one(prod.resources, "azure-native:network:NetworkSecurityGroup", "nsg-batch")
    allow = {
        "name": "allow-internet-outbound",
        "access": "Allow",
        "direction": "Outbound",
        "priority": 100,
        "protocol": "*",
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "Internet",
        "destinationPortRange": "*",
    }
    records = edited(prod.resources, nsg, {"securityRules": [allow, *nsg.inputs["securityRules"]]})
    caught(prod_pack, records, "nsg-outbound-internet-restricted", level="advisory")


def test_private_dns_zone_unlinked(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    link = min(dev.of_type("azure-native:privatedns:VirtualNetworkLink"), key=lambda r: r.name)
    records = dropped(dev.resources, lambda r: r.urn == link.urn)
    assert "linked to no virtual network" in caught(dev_pack, records, "private-dns-zone-linked")[0]


# -- audit evasion ---------------------------------------------------------------------------------------------------
def test_vault_diagnostics_keep_metrics_drop_audit(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    setting = one(prod.resources, DIAGNOSTICS, "vault-kv-diag")
    records = edited(prod.resources, setting, {"logs": []})
    assert "AuditEvent" in caught(prod_pack, records, "diagnostics-audit-categories")[0]


def test_cluster_diagnostics_drop_kube_audit(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    setting = one(dev.resources, DIAGNOSTICS, "aks-aks-diag")
    records = edited(dev.resources, setting, {"logs": [{"category": "guard", "enabled": True}]})
    assert "kube-audit" in caught(dev_pack, records, "diagnostics-audit-categories")[0]


def test_vault_diagnostics_removed(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = dropped(prod.resources, lambda r: r.type == DIAGNOSTICS and "vault-kv-diag" in r.name)
    caught(prod_pack, records, "diagnostics-to-log-analytics")


def test_log_retention_cut(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = edited(dev.resources, one(dev.resources, WORKSPACE), {"retentionInDays": 30})
    caught(dev_pack, records, "log-analytics-retention-minimum")


# -- data loss in production -------------------------------------------------------------------------------------------
def test_postgres_geo_backup_off_in_production(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = edited(prod.resources, one(prod.resources, SERVER), {"backup.geoRedundantBackup": "Disabled"})
    caught(prod_pack, records, "postgres-geo-redundant-backup-production")


def test_postgres_password_only(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = edited(dev.resources, one(dev.resources, SERVER), {"authConfig.activeDirectoryAuth": "Disabled"})
    caught(dev_pack, records, "postgres-entra-auth-enabled")


def test_managed_os_disks_in_production(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = edited(prod.resources, one(prod.resources, POOL), {"osDiskType": "Managed"})
    caught(prod_pack, records, "aks-ephemeral-os-disk-production")


def test_encryption_at_host_off(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = edited(dev.resources, one(dev.resources, POOL), {"enableEncryptionAtHost": False})
    caught(dev_pack, records, "aks-encryption-at-host")


def test_blob_versioning_off(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    blob = one(prod.resources, "azure-native:storage:BlobServiceProperties")
    records = edited(prod.resources, blob, {"isVersioningEnabled": False})
    caught(prod_pack, records, "storage-blob-soft-delete-and-versioning")


# -- the pools TES creates at run time (Azure Policy on the Batch account) ------------------------------------------
def test_pool_governance_removed(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = dropped(dev.resources, lambda r: "batch-governance" in r.name and r.type == ASSIGNMENT)
    messages = caught(dev_pack, records, "batch-runtime-pools-governed")
    assert len(messages) == 4, messages  # one per guarantee: public IPs, subnet, node agent, communication


def test_pool_public_ip_deny_lowered_to_audit(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = edited(
        prod.resources, _pool_assignment(prod, "batch-pool-no-public-ip"), {"parameters.effect.value": "Audit"}
    )
    (message,) = caught(prod_pack, records, "batch-runtime-pools-governed")
    assert "no public IPs" in message and "BatchManaged" in message


def test_pool_governance_not_enforced(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    target = _pool_assignment(dev, "batch-pool-simplified-communication")
    records = edited(dev.resources, target, {"enforcementMode": "DoNotEnforce"})
    (message,) = caught(dev_pack, records, "batch-runtime-pools-governed")
    assert "simplified node communication" in message and "DoNotEnforce" in message


def test_pool_governance_exempted_on_the_account(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    assignment = _pool_assignment(prod, "batch-pool-in-batch-subnet")
    account = one(prod.resources, "azure-native:batch:BatchAccount")
    records = added(
        prod.resources,
        "azure-native:authorization:PolicyExemption",
        "debug-pool",
        {"exemptionCategory": "Waiver", "scope": account.id, "policyAssignmentId": assignment.id},
        property_dependencies={"scope": [account.urn], "policyAssignmentId": [assignment.urn]},
    )
    (message,) = caught(prod_pack, records, "batch-runtime-pools-governed")
    assert "the stack's subnet" in message and "exemption 'debug-pool'" in message


def test_pool_retired_agent_dropped_from_the_deny_list(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    target = _pool_assignment(dev, "batch-pool-supported-node-agent")
    kept = [a for a in target.inputs["parameters"]["retiredNodeAgentSkuIds"]["value"] if a != "batch.node.ubuntu 20.04"]
    records = edited(dev.resources, target, {"parameters.retiredNodeAgentSkuIds.value": kept})
    (message,) = caught(dev_pack, records, "batch-runtime-pools-governed")
    assert "'batch.node.ubuntu 20.04'" in message and "centos 7" not in message


def test_pool_subnet_allow_list_widened(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    target = _pool_assignment(prod, "batch-pool-in-batch-subnet")
    other = "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/shared/subnets/open"
    widened = [*target.inputs["parameters"]["allowedSubnetIds"]["value"], other]
    records = edited(prod.resources, target, {"parameters.allowedSubnetIds.value": widened})
    (message,) = caught(prod_pack, records, "batch-runtime-pools-governed")
    assert other in message


def test_pool_definition_rewritten_to_match_nothing(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    definition = one(dev.resources, "azure-native:authorization:PolicyDefinition", "batch-pool-no-public-ip-def")
    rule = definition.inputs["policyRule"]
    neutered = {"allOf": [*rule["if"]["allOf"], {"field": "name", "equals": "never-used-by-tes"}]}
    records = edited(dev.resources, definition, {"policyRule.if": neutered})
    (message,) = caught(dev_pack, records, "batch-runtime-pools-governed")
    assert "no public IPs" in message


# -- found by the 2026-12-06 adversarial review ------------------------------------------------------------------------
def test_default_route_split_in_two_halves_to_the_internet(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    table = one(prod.resources, "azure-native:network:RouteTable")
    halves = [
        {"name": f"half-{i}", "addressPrefix": prefix, "nextHopType": "Internet"}
        for i, prefix in enumerate(("0.0.0.0/1", "128.0.0.0/1"))
    ]
    records = edited(prod.resources, table, {"routes": [*table.inputs["routes"], *halves]})
    assert "'0.0.0.0/1' straight to the Internet" in caught(prod_pack, records, "egress-through-firewall")[0]


def test_pool_deny_overridden_to_disabled(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    assignment = _pool_assignment(dev, "batch-pool-no-public-ip")
    records = edited(dev.resources, assignment, {"overrides": [{"kind": "policyEffect", "value": "Disabled"}]})
    assert "overrides set its effect to 'Disabled'" in caught(dev_pack, records, "batch-runtime-pools-governed")[0]


def test_pool_assignment_narrowed_by_resource_selectors(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    selectors = [
        {"name": "x", "selectors": [{"kind": "resourceType", "notIn": ["Microsoft.Batch/batchAccounts/pools"]}]}
    ]
    records = edited(
        dev.resources, _pool_assignment(dev, "batch-pool-in-batch-subnet"), {"resourceSelectors": selectors}
    )
    assert "resourceSelectors" in caught(dev_pack, records, "batch-runtime-pools-governed")[0]


def test_pool_definition_that_denies_only_the_probe(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    definition = one(dev.resources, "azure-native:authorization:PolicyDefinition", "batch-pool-no-public-ip-def")
    rule = definition.inputs["policyRule"]
    probe_only = {"allOf": [*rule["if"]["allOf"], {"field": "name", "equals": "probe"}]}
    (message,) = caught(
        dev_pack, edited(dev.resources, definition, {"policyRule.if": probe_only}), "batch-runtime-pools-governed"
    )
    assert "no public IPs" in message


def test_pool_definition_in_indexed_mode(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    definition = one(dev.resources, "azure-native:authorization:PolicyDefinition", "batch-pool-no-public-ip-def")
    (message,) = caught(
        dev_pack, edited(dev.resources, definition, {"mode": "Indexed"}), "batch-runtime-pools-governed"
    )
    assert "mode is 'Indexed'" in message


def test_workspace_ingestion_capped(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = edited(dev.resources, one(dev.resources, WORKSPACE), {"workspaceCapping": {"dailyQuotaGb": 0.023}})
    assert "dailyQuotaGb is 0.023" in caught(dev_pack, records, "log-analytics-retention-minimum")[0]


def test_audit_table_retention_cut(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    table = {"tableName": "AKSAudit", "workspaceName": "any", "retentionInDays": 4, "totalRetentionInDays": 4}
    records = added(dev.resources, "azure-native:operationalinsights:Table", "aks-audit", table)
    assert "'AKSAudit' retentionInDays is 4" in caught(dev_pack, records, "log-analytics-table-retention-minimum")[0]


def test_postgres_diagnostics_dropped(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = dropped(prod.resources, lambda r: r.type == DIAGNOSTICS and "psql" in r.name)
    assert "Server" in caught(prod_pack, records, "diagnostics-to-log-analytics")[0]


def test_registry_diagnostics_keep_metrics_drop_logins(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    setting = one(dev.resources, DIAGNOSTICS, "-cr-")
    records = edited(
        dev.resources, setting, {"logs": [{"category": "ContainerRegistryRepositoryEvents", "enabled": True}]}
    )
    assert "ContainerRegistryLoginEvents" in caught(dev_pack, records, "diagnostics-audit-categories")[0]
