"""Threat model (policy/THREATS.md), privilege escalation and exposure: each test makes one row's change to a real
stack's registrations (the offline run of dev or prod) and expects the row's rule to report it."""

from __future__ import annotations

from typing import Any

from policy_fixtures import POD_SPEC
from stack_edits import added, caught, edited, one

from offline.analyzer import PolicyPackAnalyzer
from offline.harness import ProgramRun
from offline.records import ResourceRecord

RA = "azure-native:authorization:RoleAssignment"
RD = "azure-native:authorization:RoleDefinition"
PE = "azure-native:network:PrivateEndpoint"
NSG = "azure-native:network:NetworkSecurityGroup"
OWNER, CONTRIBUTOR, UAA = (
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
)
READER, DELEGATOR, BLOB_READER = (
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "db58b8e5-c6ad-4a2a-8342-4190687cbf4a",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
)
# A storage account the stack does not own, holding sequencer output (a data account).
DATA_SUB = "7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d"
DATA_ACCOUNT = (
    f"/subscriptions/{DATA_SUB}/resourceGroups/rg-sequencers/providers/Microsoft.Storage/storageAccounts/stseqout01"
)


def _group(run: ProgramRun) -> str:
    return one(run.resources, "azure-native:resources:ResourceGroup").id


def _role(run: ProgramRun, guid: str) -> str:
    subscription = _group(run).split("/resourceGroups/")[0]
    return f"{subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _workload(run: ProgramRun) -> str:
    return one(run.resources, "azure-native:managedidentity:UserAssignedIdentity", "coa-workload").outputs[
        "principalId"
    ]


def _grant(records: list[ResourceRecord], run: ProgramRun, name: str, guid: str, scope: str) -> list[ResourceRecord]:
    inputs = {
        "principalId": _workload(run),
        "principalType": "ServicePrincipal",
        "roleDefinitionId": f"/subscriptions/{DATA_SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "scope": scope,
    }
    return added(records, RA, name, inputs)


def _data_account(run: ProgramRun, *, endpoint: bool, data_scope: str) -> list[ResourceRecord]:
    """The stack plus a data account's links as components/data_storage.py makes them: Reader and Storage Blob
    Delegator on the account, a blob data role on `data_scope`, and (if `endpoint`) a blob private endpoint."""
    records = _grant(list(run.resources), run, "data-read", READER, DATA_ACCOUNT)
    records = _grant(records, run, "data-delegate", DELEGATOR, DATA_ACCOUNT)
    records = _grant(records, run, "data-blob", BLOB_READER, data_scope)
    if endpoint:
        connection = {"name": "blob", "groupIds": ["blob"], "privateLinkServiceId": DATA_ACCOUNT}
        records = added(records, PE, "data-pep", {"privateLinkServiceConnections": [connection]})
    return records


def _rule_index(nsg: ResourceRecord, name: str) -> int:
    return next(i for i, r in enumerate(nsg.inputs["securityRules"]) if r["name"] == name)


# -- privilege escalation ------------------------------------------------------------------------------------------
def test_owner_on_subscription(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    subscription = _group(prod).split("/resourceGroups/")[0]
    records = added(
        prod.resources,
        RA,
        "workload-owner",
        {"principalId": _workload(prod), "roleDefinitionId": _role(prod, OWNER), "scope": subscription},
    )
    (message,) = caught(prod_pack, records, "role-assignment-no-privileged-role")
    assert "Owner" in message and subscription in message


def test_contributor_on_resource_group(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    blob = one(dev.resources, RA, "workload-blob")
    changes = {"roleDefinitionId": _role(dev, CONTRIBUTOR), "scope": _group(dev)}
    (message,) = caught(dev_pack, edited(dev.resources, blob, changes), "role-assignment-no-privileged-role")
    assert "Contributor" in message


def test_grant_widened_to_resource_group(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    pull = one(prod.resources, RA, "kubelet-acr")
    records = edited(prod.resources, pull, {"scope": _group(prod)})
    (message,) = caught(prod_pack, records, "role-assignment-resource-scope")
    assert _group(prod) in message


def test_user_access_administrator_on_vault(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    vault = one(prod.resources, RA, "workload-vault")
    records = edited(prod.resources, vault, {"roleDefinitionId": _role(prod, UAA)})
    assert "User Access Administrator" in caught(prod_pack, records, "role-assignment-no-privileged-role")[0]


def _custom_role(run: ProgramRun, permission: dict[str, Any]) -> list[ResourceRecord]:
    inputs = {
        "roleName": "coa-helper",
        "scope": _group(run),
        "assignableScopes": [_group(run)],
        "permissions": [permission],
    }
    return added(run.resources, RD, "coa-helper-role", inputs)


def test_custom_role_with_wildcard_actions(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = _custom_role(dev, {"actions": ["*"], "notActions": []})
    assert "'*'" in caught(dev_pack, records, "custom-role-no-wildcard-actions")[0]


def test_custom_role_with_wildcard_data_actions(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = _custom_role(dev, {"actions": ["Microsoft.Storage/storageAccounts/read"], "dataActions": ["*"]})
    assert "dataActions" in caught(dev_pack, records, "custom-role-no-wildcard-actions")[0]


def test_custom_role_that_assigns_roles(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = _custom_role(dev, {"actions": ["Microsoft.Authorization/*", "*/read"]})
    assert "roleAssignments/write" in caught(dev_pack, records, "custom-role-no-wildcard-actions")[0]


def test_data_grant_widened_to_the_account(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    per_container = _data_account(
        prod, endpoint=True, data_scope=f"{DATA_ACCOUNT}/blobServices/default/containers/runs"
    )
    assert not [v for v in prod_pack.analyze(per_container) if v.policy_name.startswith("data-account-")]
    widened = _data_account(prod, endpoint=True, data_scope=DATA_ACCOUNT)
    (message,) = caught(prod_pack, widened, "data-account-grants-per-container")
    assert "stseqout01" in message and "whole account" in message


def test_data_endpoint_removed_while_grants_stay(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = _data_account(prod, endpoint=False, data_scope=f"{DATA_ACCOUNT}/blobServices/default/containers/runs")
    (message,) = caught(prod_pack, records, "data-account-private-endpoint")
    assert "stseqout01" in message


# -- exposure --------------------------------------------------------------------------------------------------------
def _service(run: ProgramRun, kind: str) -> list[ResourceRecord]:
    selector = {"app.kubernetes.io/name": "cromwell", "app.kubernetes.io/component": "cromwell"}
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "cromwell-public", "namespace": "coa"},
        "spec": {"type": kind, "selector": selector, "ports": [{"port": 8000, "targetPort": "http"}]},
    }
    return added(run.resources, "kubernetes:core/v1:Service", "cromwell-public", manifest)


def test_load_balancer_in_front_of_cromwell(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    records = _service(dev, "LoadBalancer")
    assert "type LoadBalancer" in caught(dev_pack, records, "k8s-service-not-exposed")[0]


def test_node_port_for_debugging(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    assert "type NodePort" in caught(prod_pack, _service(prod, "NodePort"), "k8s-service-not-exposed")[0]


def test_network_policy_allowing_all_egress(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-all-egress", "namespace": "coa"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
    }
    records = added(dev.resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "allow-all-egress", manifest)
    assert "every port" in caught(dev_pack, records, "k8s-network-policy-egress-restricted")[0]


def test_port_range_to_the_internet_from_an_allowed_port(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    """endPort (rendered for the CoA 3.2 generation's Cosmos DB range) must not let an allowed 443 carry every port."""
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "wide-range", "namespace": "coa"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "endPort": 65535}]}],
        },
    }
    records = added(dev.resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "wide-range", manifest)
    assert "ports ['443-65535'] to the Internet" in caught(dev_pack, records, "k8s-network-policy-egress-restricted")[0]


def test_cosmos_account_opened_to_public_networks(dev_pack: PolicyPackAnalyzer, tes32_dev: ProgramRun) -> None:
    """The CoA 3.2 generation's waiver covers local auth on its account, nothing else about it."""
    account = one(tes32_dev.resources, "azure-native:cosmosdb:DatabaseAccount", "cosmos")
    records = edited(tes32_dev.resources, account, {"publicNetworkAccess": "Enabled"})
    assert "publicNetworkAccess" in caught(dev_pack, records, "cosmosdb-public-network-disabled")[0]


def test_host_path_mount_of_the_node_root(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    spec = {**POD_SPEC, "volumes": [{"name": "node", "hostPath": {"path": "/"}}]}
    manifest = {"metadata": {"name": "debug", "namespace": "coa"}, "spec": {"template": {"spec": spec}}}
    records = added(dev.resources, "kubernetes:apps/v1:DaemonSet", "debug", manifest)
    assert "hostPath" in caught(dev_pack, records, "k8s-no-privileged-or-host-access")[0]


def test_host_path_persistent_volume(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    manifest = {
        "metadata": {"name": "node-root"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/"}},
    }
    records = added(dev.resources, "kubernetes:core/v1:PersistentVolume", "node-root", manifest)
    assert "'/'" in caught(dev_pack, records, "k8s-no-privileged-or-host-access")[0]


def test_public_trusted_source_range(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = prod.resources
    for name in ("nsg-aks", "nsg-privateEndpoints"):
        nsg = one(records, NSG, name)
        index = _rule_index(nsg, "allow-trusted-https-inbound")
        records = edited(records, nsg, {f"securityRules.{index}.sourceAddressPrefixes": ["52.160.0.0/16"]})
    messages = caught(prod_pack, records, "nsg-inbound-private-sources-only")
    assert len(messages) == 2 and all("52.160.0.0/16" in m for m in messages)


def test_nsg_open_to_the_internet(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    nsg = one(dev.resources, NSG, "nsg-aks")
    index = _rule_index(nsg, "allow-vnet-inbound")
    records = edited(dev.resources, nsg, {f"securityRules.{index}.sourceAddressPrefixes": ["*"]})
    caught(dev_pack, records, "nsg-no-inbound-from-internet")


def test_public_api_server(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    cluster = one(prod.resources, "azure-native:containerservice:ManagedCluster")
    records = edited(prod.resources, cluster, {"apiServerAccessProfile.enablePrivateCluster": False})
    caught(prod_pack, records, "aks-private-api-server")


def test_storage_opened_to_public_networks(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    account = one(dev.resources, "azure-native:storage:StorageAccount")
    changes = {"publicNetworkAccess": "Enabled", "networkRuleSet.defaultAction": "Allow"}
    caught(dev_pack, edited(dev.resources, account, changes), "storage-account-public-network-restricted")


# -- found by the 2026-12-06 adversarial review ------------------------------------------------------------------------
FIC = "azure-native:managedidentity:FederatedIdentityCredential"
KV_DATA_ACCESS_ADMIN, MI_CONTRIBUTOR = "8b54135c-b56d-4d72-a534-26097cfdc8d8", "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"


def test_federated_credential_trusts_another_issuer(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    credential = one(dev.resources, FIC, "fic-coa-workload-db-init")
    changes = {
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:attacker/x:ref:refs/heads/main",
    }
    messages = caught(dev_pack, edited(dev.resources, credential, changes), "federated-credential-bound-to-cluster")
    assert "token.actions.githubusercontent.com" in messages[0]


def test_federated_credential_for_the_default_namespace(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    credential = one(dev.resources, FIC, "fic-coa-workload-db-init")
    records = edited(dev.resources, credential, {"subject": "system:serviceaccount:default:default"})
    assert "namespace 'default'" in caught(dev_pack, records, "federated-credential-bound-to-cluster")[0]


def test_workload_made_key_vault_data_access_administrator(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    vault = one(prod.resources, RA, "workload-vault")
    records = edited(prod.resources, vault, {"roleDefinitionId": _role(prod, KV_DATA_ACCESS_ADMIN)})
    assert "Key Vault Data Access Administrator" in caught(prod_pack, records, "role-assignment-no-privileged-role")[0]


def test_workload_may_add_federated_credentials_to_itself(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    identity = one(dev.resources, "azure-native:managedidentity:UserAssignedIdentity", "coa-workload")
    inputs = {
        "principalId": _workload(dev),
        "principalType": "ServicePrincipal",
        "roleDefinitionId": _role(dev, MI_CONTRIBUTOR),
        "scope": identity.id,
    }
    records = added(dev.resources, RA, "workload-self-operator", inputs)
    assert "Managed Identity Contributor" in caught(dev_pack, records, "role-assignment-no-privileged-role")[0]


def test_api_server_opened_to_the_internet_in_two_halves(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    cluster = one(dev.resources, "azure-native:containerservice:ManagedCluster")
    access = {"enablePrivateCluster": False, "authorizedIPRanges": ["0.0.0.0/1", "128.0.0.0/1"]}
    records = edited(dev.resources, cluster, {"apiServerAccessProfile": access})
    assert "'0.0.0.0/1'" in caught(dev_pack, records, "aks-private-api-server")[0]


def test_ingress_in_front_of_cromwell(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "cromwell", "namespace": "coa"},
        "spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {"service": {"name": "cromwell"}}}]}}]},
    }
    records = added(dev.resources, "kubernetes:networking.k8s.io/v1:Ingress", "cromwell-ingress", manifest)
    assert "publishes cromwell" in caught(dev_pack, records, "k8s-service-not-exposed")[0]


def test_egress_port_range_to_a_public_block(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "wide-range", "namespace": "coa"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "tes"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "20.0.0.0/9"}}], "ports": [{"port": 1, "endPort": 65535}]}],
        },
    }
    records = added(dev.resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "wide-range", manifest)
    assert "'20.0.0.0/9'" in caught(dev_pack, records, "k8s-network-policy-egress-restricted")[0]


def _cluster_role_binding(run: ProgramRun, name: str, role: str, subject: dict[str, str]) -> list[ResourceRecord]:
    manifest = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [subject],
    }
    return added(run.resources, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", name, manifest)


def test_workload_service_account_made_cluster_admin(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    subject = {"kind": "ServiceAccount", "name": "coa-workload", "namespace": "coa"}
    records = _cluster_role_binding(dev, "coa-admin", "cluster-admin", subject)
    assert "coa/coa-workload" in caught(dev_pack, records, "k8s-no-broad-rbac-binding")[0]


def test_every_signed_in_caller_made_cluster_admin(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    records = _cluster_role_binding(
        prod, "everyone", "cluster-admin", {"kind": "Group", "name": "system:authenticated"}
    )
    assert "system:authenticated" in caught(prod_pack, records, "k8s-no-broad-rbac-binding")[0]


def test_federated_credential_trusts_another_aks_cluster(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    """An attacker's own AKS cluster has an issuer of the same shape: only the stack's cluster may be trusted."""
    credential = one(prod.resources, FIC, "fic-coa-workload-db-init")
    foreign = "https://eastus2.oic.prod-aks.azure.com/9e3a4f5b-6c7d-4e8f-8a9b-1c2d3e4f5a6b/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e/"
    records = edited(prod.resources, credential, {"issuer": foreign})
    assert foreign in caught(prod_pack, records, "federated-credential-trusts-own-cluster")[0]
    assert not [v for v in prod_pack.analyze(records) if v.policy_name == "federated-credential-bound-to-cluster"]


def test_docker_hub_grant_widened_to_the_platform_vault(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    """The registry's credential set reads two secrets of the platform team's vault; on the vault it reads them all."""
    grant = one(dev.resources, RA, "dockerhub-token")
    vault = grant.inputs["scope"].split("/secrets/")[0]
    records = edited(dev.resources, grant, {"scope": vault})
    assert "kv-platform-dockerhub" in caught(dev_pack, records, "foreign-vault-grants-per-secret")[0]
