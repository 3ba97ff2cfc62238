"""The private AKS cluster, its Kubernetes provider, role assignments and federated credentials, as the engine
receives them for the dev and prod stacks."""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from stackquery import by_id, one, stack_values

from components.access import ROLES, assignment_name
from components.aks import ci_kubeconfig
from configuration.settings import Settings
from configuration.stack import parse_settings
from offline.harness import ProgramRun
from offline.mocks import SUBSCRIPTION_ID

CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
RA = "azure-native:authorization:RoleAssignment"
FIC = "azure-native:managedidentity:FederatedIdentityCredential"
UAMI = "azure-native:managedidentity:UserAssignedIdentity"
SUBNET = "azure-native:network:Subnet"
_RESOURCE_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/.+$", re.IGNORECASE)
REPO = Path(__file__).resolve().parents[2]


def _settings(run: ProgramRun) -> Settings:
    """The stack's parsed configuration, read from its stack file the way the program reads it."""
    return parse_settings(stack_values(run.stack))


def _cluster(run: ProgramRun) -> dict[str, Any]:
    return one(run, CLUSTER).inputs


def _identity(run: ProgramRun, role: str) -> Any:
    return one(run, UAMI, f"-id-{role}")


def _subnet_id(run: ProgramRun, key: str) -> str:
    return one(run, SUBNET, f"-snet-{key}").id


def test_api_server_is_private_with_our_zone_and_no_public_fqdn(stack: ProgramRun) -> None:
    cluster = _cluster(stack)
    access = cluster["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is True
    assert access["enablePrivateClusterPublicFQDN"] is False
    assert access["disableRunCommand"] is True
    assert cluster["publicNetworkAccess"] == "Disabled"
    zone = by_id(stack, access["privateDNSZone"])
    assert zone.type == "azure-native:privatedns:PrivateZone"
    assert re.fullmatch(r"privatelink\.[a-z0-9]+\.azmk8s\.io", zone.inputs["privateZoneName"])


def test_entra_id_with_azure_rbac_and_no_local_accounts(stack: ProgramRun) -> None:
    cluster = _cluster(stack)
    assert cluster["enableRBAC"] is True
    assert cluster["disableLocalAccounts"] is True
    assert cluster["aadProfile"]["managed"] is True
    assert cluster["aadProfile"]["enableAzureRBAC"] is True
    expected = list(_settings(stack).aks.admin_group_object_ids)
    assert cluster["aadProfile"].get("adminGroupObjectIDs", []) == expected


def test_workload_identity_and_oidc_issuer(stack: ProgramRun) -> None:
    cluster = _cluster(stack)
    assert cluster["oidcIssuerProfile"]["enabled"] is True
    assert cluster["securityProfile"]["workloadIdentity"]["enabled"] is True


def test_cni_overlay_with_cilium_policy_and_configured_ranges(stack: ProgramRun) -> None:
    net = _cluster(stack)["networkProfile"]
    aks = _settings(stack).aks
    assert (net["networkPlugin"], net["networkPluginMode"]) == ("azure", "overlay")
    assert (net["networkPolicy"], net["networkDataplane"]) == ("cilium", "cilium")
    assert net["podCidr"] == str(aks.pod_cidr)
    assert net["serviceCidr"] == str(aks.service_cidr)
    assert net["dnsServiceIP"] == aks.dns_service_ip


def test_outbound_type_follows_network_egress(dev: ProgramRun, prod: ProgramRun) -> None:
    assert _settings(dev).network.egress == "natGateway"
    assert _cluster(dev)["networkProfile"]["outboundType"] == "userAssignedNATGateway"
    assert _settings(prod).network.egress == "firewall"
    assert _cluster(prod)["networkProfile"]["outboundType"] == "userDefinedRouting"


def test_pools_are_private_encrypted_azure_linux_autoscaled_in_aks_subnet(stack: ProgramRun) -> None:
    settings = _settings(stack).aks
    system = _cluster(stack)["agentPoolProfiles"]
    assert [p["name"] for p in system] == ["system"]
    user = one(stack, POOL, "pool-user").inputs
    expected = {"system": (system[0], settings.system_pool, "System"), "user": (user, settings.user_pool, "User")}
    for name, (pool, wanted, mode) in expected.items():
        assert pool["mode"] == mode, name
        assert pool["vnetSubnetID"] == _subnet_id(stack, "aks"), name
        assert pool["enableNodePublicIP"] is False, name
        assert pool["enableEncryptionAtHost"] is True, name
        assert pool["osSKU"] == "AzureLinux", name
        assert pool["enableAutoScaling"] is True, name
        assert (pool["minCount"], pool["maxCount"]) == (wanted.min_count, wanted.max_count), name
        assert pool["vmSize"] == wanted.vm_size, name
        assert pool.get("availabilityZones", []) == list(settings.availability_zones), name
    assert user["resourceName"] == _cluster(stack)["resourceName"]


def test_addons_storage_drivers_and_upgrades(stack: ProgramRun) -> None:
    cluster = _cluster(stack)
    addons = cluster["addonProfiles"]
    assert addons["azureKeyvaultSecretsProvider"] == {
        "enabled": True,
        "config": {"enableSecretRotation": "true", "rotationPollInterval": "2m"},
    }
    assert addons["azurepolicy"]["enabled"] is True
    oms = addons["omsagent"]
    assert oms["enabled"] is True
    assert oms["config"]["useAADAuth"] == "true"
    assert by_id(stack, oms["config"]["logAnalyticsWorkspaceResourceID"]).type.endswith(":Workspace")
    assert cluster["storageProfile"]["blobCSIDriver"]["enabled"] is True
    assert cluster["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}


def test_control_plane_and_kubelet_identities(stack: ProgramRun) -> None:
    cluster = _cluster(stack)
    control_plane, kubelet = _identity(stack, "aks-control-plane"), _identity(stack, "aks-kubelet")
    assert cluster["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [control_plane.id]}
    profile = cluster["identityProfile"]["kubeletidentity"]
    assert profile["resourceId"] == kubelet.id
    assert profile["clientId"] == kubelet.outputs["clientId"]
    assert profile["objectId"] == kubelet.outputs["principalId"]


def test_cluster_waits_for_control_plane_grants(stack: ProgramRun) -> None:
    record = one(stack, CLUSTER)
    principal = _identity(stack, "aks-control-plane").outputs["principalId"]
    grants = [r for r in stack.of_type(RA) if r.inputs["principalId"] == principal]
    assert len(grants) >= 3
    assert {r.urn for r in grants} <= set(record.dependencies)


def test_audit_logs_go_to_log_analytics(stack: ProgramRun) -> None:
    cluster = one(stack, CLUSTER)
    settings = [
        d for d in stack.of_type("azure-native:monitor:DiagnosticSetting") if d.inputs["resourceUri"] == cluster.id
    ]
    assert len(settings) == 1
    categories = {log.get("category") for log in settings[0].inputs["logs"] if log["enabled"]}
    assert {"kube-audit", "kube-audit-admin", "guard"} <= categories
    assert by_id(stack, settings[0].inputs["workspaceId"]).type.endswith(":Workspace")


def test_cluster_is_not_protected(prod: ProgramRun) -> None:
    # Stateless: everything it holds is redeployed from code; protect would block deliberate replacements.
    assert one(prod, CLUSTER).protect is False


# --- role assignments -------------------------------------------------------------------------------------------


def _expected_grants(run: ProgramRun) -> set[tuple[str, str, str]]:
    """(principal role name, built-in role, scope resource name part) the stack must hold, and nothing else."""
    settings = _settings(run)
    grants = {
        ("coa-workload", "Storage Blob Data Contributor", "storage-st"),
        ("coa-workload", "Azure Batch Data Contributor", "batch-ba"),
        ("coa-workload", "Network Contributor", "snet-batch"),
        ("coa-workload", "Managed Identity Operator", "id-coa-workload"),
        ("coa-workload", "Key Vault Secrets User", "vault-kv"),
        # TES/TriggerService 6 locate the storage and Batch accounts through ARM (contracts/tes_6_0_0.py).
        ("coa-workload", "Reader", "storage-st"),
        ("coa-workload", "Reader", "batch-ba"),
        ("coa-workload", "AcrPull", "registry-cr"),
        ("aks-kubelet", "AcrPull", "registry-cr"),
        ("aks-control-plane", "Network Contributor", "snet-aks"),
        ("aks-control-plane", "Private DNS Zone Contributor", "dns-aks"),
        ("aks-control-plane", "Managed Identity Operator", "id-aks-kubelet"),
    }
    if settings.network.egress == "firewall":
        grants.add(("aks-control-plane", "Network Contributor", "net-rt"))
    if settings.storage_shared_key_access:
        grants.add(("coa-workload", "Reader and Data Access", "storage-st"))
    return grants


def _own_grants(stack: ProgramRun) -> list:
    """Grants on the stack's own resources: not the Docker Hub credential set's on the platform vault's two secrets
    (tests/program/test_docker_hub_credentials.py)."""
    credential_set = one(stack, "azure-native:containerregistry:CredentialSet").outputs["identity"]["principalId"]
    return [ra for ra in stack.of_type(RA) if ra.inputs["principalId"] != credential_set]


def test_role_assignments_are_exactly_the_intended_grants(stack: ProgramRun) -> None:
    principals = {r.outputs["principalId"]: r.name.split("-id-")[-1] for r in stack.of_type(UAMI)}
    roles = {guid: name for name, guid in ROLES.items()}
    actual = sorted(
        (
            principals[ra.inputs["principalId"]],
            roles[ra.inputs["roleDefinitionId"].rsplit("/", 1)[-1]],
            by_id(stack, ra.inputs["scope"]).name,
        )
        for ra in _own_grants(stack)
    )
    expected = _expected_grants(stack)
    assert len(actual) == len(expected), actual
    for principal, role, scope_part in expected:
        matches = [a for a in actual if a[:2] == (principal, role) and a[2].endswith(scope_part)]
        assert len(matches) == 1, f"{principal} should hold {role} on *{scope_part}: {actual}"


def test_role_assignment_scopes_are_single_resources(stack: ProgramRun) -> None:
    groups = {r.id.lower() for r in stack.of_type("azure-native:resources:ResourceGroup")}
    assignments = stack.of_type(RA)
    assert assignments
    own = {ra.urn for ra in _own_grants(stack)}
    for ra in assignments:
        scope = ra.inputs["scope"]
        assert _RESOURCE_ID.match(scope), f"{ra.name}: scope {scope} is not a resource id"
        assert not re.fullmatch(r"/subscriptions/[^/]+/?", scope, re.IGNORECASE), ra.name
        assert not re.fullmatch(r"/subscriptions/[^/]+/resourceGroups/[^/]+/?", scope, re.IGNORECASE), ra.name
        assert scope.lower() not in groups, ra.name
        # The scope is one of this stack's resources (not something wider that happens to parse), or one secret.
        if ra.urn in own:
            by_id(stack, scope)
        else:
            assert "/providers/Microsoft.KeyVault/vaults/" in scope and "/secrets/" in scope, ra.name


def test_role_definitions_are_full_ids_of_builtin_roles(stack: ProgramRun) -> None:
    for ra in stack.of_type(RA):
        definition = ra.inputs["roleDefinitionId"]
        prefix = f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/"
        assert definition.startswith(prefix), definition
        assert definition.removeprefix(prefix) in ROLES.values(), definition
        assert ra.inputs["principalType"] == "ServicePrincipal"
        assert ra.inputs.get("description"), f"{ra.name} has no reason"


def test_role_assignment_names_are_deterministic_guids(stack: ProgramRun) -> None:
    for ra in stack.of_type(RA):
        inputs = ra.inputs
        guid = inputs["roleDefinitionId"].rsplit("/", 1)[-1]
        assert uuid.UUID(inputs["roleAssignmentName"]).version == 5
        assert inputs["roleAssignmentName"] == assignment_name(inputs["scope"], guid, inputs["principalId"])


# --- federated credentials and the Kubernetes provider ----------------------------------------------------------


def test_federated_credentials_bind_the_chart_service_accounts(stack: ProgramRun) -> None:
    issuer = one(stack, CLUSTER).outputs["oidcIssuerProfile"]["issuerURL"]
    workload = _identity(stack, "coa-workload")
    credentials = stack.of_type(FIC)
    assert sorted(c.inputs["subject"] for c in credentials) == [
        "system:serviceaccount:coa:coa-workload",
        "system:serviceaccount:coa:coa-workload-db-init",
    ]
    for credential in credentials:
        assert credential.inputs["issuer"] == issuer
        assert credential.inputs["audiences"] == ["api://AzureADTokenExchange"]
        assert credential.inputs["resourceName"] == workload.outputs["name"]
    # Azure rejects concurrent credential writes on one identity.
    assert credentials[0].urn in credentials[1].dependencies


def test_provider_uses_non_interactive_kubelogin(stack: ProgramRun) -> None:
    provider = one(stack, "pulumi:providers:kubernetes")
    config = yaml.safe_load(provider.inputs["kubeconfig"])
    for user in config["users"]:
        exec_config = user["user"]["exec"]
        assert exec_config["command"] == "kubelogin"
        assert exec_config["args"][-2:] == ["--login", "azurecli"]
        assert exec_config["interactiveMode"] == "Never"
    assert "kubeconfig" in stack.outputs


def _aks_kubeconfig(login_args: list[str]) -> str:
    """Shaped like `listClusterUserCredential?format=exec` for an Entra ID cluster."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "aks",
                    "cluster": {
                        "server": "https://aks.privatelink.westeurope.azmk8s.io:443",
                        "certificate-authority-data": base64.b64encode(b"offline-ca").decode(),
                    },
                }
            ],
            "users": [
                {
                    "name": "clusterUser_aks",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "kubelogin",
                            "args": ["get-token", "--server-id", "6dae42f8", *login_args],
                        }
                    },
                }
            ],
        }
    )


@pytest.mark.parametrize("login_args", [["--login", "devicecode"], ["-l", "interactive"], ["--login=devicecode"], []])
@pytest.mark.parametrize("mode", ["azurecli", "workloadidentity", "spn"])
def test_ci_kubeconfig_replaces_any_login_mode(login_args: list[str], mode: str) -> None:
    converted = yaml.safe_load(ci_kubeconfig(_aks_kubeconfig(login_args), mode))
    exec_config = converted["users"][0]["user"]["exec"]
    assert exec_config["args"] == ["get-token", "--server-id", "6dae42f8", "--login", mode]
    assert exec_config["interactiveMode"] == "Never"
    assert converted["clusters"][0]["cluster"]["certificate-authority-data"] == base64.b64encode(b"offline-ca").decode()


def test_ci_kubeconfig_rejects_interactive_modes_and_non_exec_users() -> None:
    with pytest.raises(ValueError, match="devicecode"):
        ci_kubeconfig(_aks_kubeconfig([]), "devicecode")
    admin = yaml.safe_load(_aks_kubeconfig([]))
    admin["users"][0]["user"] = {"client-certificate-data": "x", "client-key-data": "y"}
    with pytest.raises(ValueError, match="kubelogin"):
        ci_kubeconfig(yaml.safe_dump(admin))


def test_node_pools_use_ephemeral_os_disks_and_state_their_pod_limit(stack: ProgramRun) -> None:
    """Checkov's CKV_AZURE_226/168: an OS disk that cannot be ephemeral fails at creation instead of silently
    becoming a managed disk; the pod limit is reviewed, not defaulted."""
    pools = [*_cluster(stack)["agentPoolProfiles"], *(p.inputs for p in stack.of_type(POOL))]
    assert len(pools) == 2
    for pool in pools:
        assert pool["osDiskType"] == "Ephemeral" and pool["osDiskSizeGB"] == 128
        assert pool["maxPods"] == 250


@pytest.mark.parametrize(("size", "fits"), [("Standard_D2ds_v5", False), ("Standard_E2ads_v5", False),
                                            ("Standard_D4ds_v5", True), ("Standard_D8ads_v5", True),
                                            ("Standard_F8s_v2", True)])  # fmt: skip
def test_a_node_size_too_small_for_the_ephemeral_os_disk_is_refused(size: str, fits: bool) -> None:
    raw = stack_values("dev")
    raw["kubernetes"]["userPool"]["vmSize"] = size
    if fits:  # Known to fit, or unknown to this check (Azure then refuses a size that cannot hold it).
        parse_settings(raw, stack="dev")
        return
    with pytest.raises(ValueError, match=rf"coa-lockdown:kubernetes\.userPool\.vmSize: '{size}' has only a 75 GiB"):
        parse_settings(raw, stack="dev")
