"""The private AKS cluster that runs Cromwell, TES and TriggerService, and a Kubernetes provider for it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_azure_native import containerservice as cs

from components.access import assign
from components.encryption import DiskEncryption
from components.identity import Identity
from components.monitoring import diagnostics
from components.placement import Placement
from configuration.settings import OS_DISK_SIZE_GB, AksSettings, EgressMode, NodePoolSettings

# kubelogin login modes that need no browser or device code: the CI runner's `az login` (azure/login with OIDC),
# a federated token file (workload identity, e.g. a self-hosted runner on AKS), or a service principal from env.
NON_INTERACTIVE_LOGINS = ("azurecli", "workloadidentity", "spn", "msi")
# kube-audit: every API request (incl. reads of Secrets); kube-audit-admin: the mutating subset; guard: Entra ID
# authentication and Azure RBAC decisions.
AUDIT_LOG_CATEGORIES = ("kube-audit", "kube-audit-admin", "guard")


@dataclass(frozen=True, kw_only=True)
class AksArgs:
    placement: Placement
    cluster_name: str
    settings: AksSettings
    subscription_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    egress: EgressMode
    # The subnet's route table when egress goes through the hub firewall (the control plane must read/join it).
    route_table_id: pulumi.Input[str] | None
    private_dns_zone_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    control_plane: Identity
    kubelet: Identity
    # "Standard" gives the API server an uptime SLA; "Free" for dev.
    sku_tier: str = "Free"
    # kubelogin mode written into the provider's kubeconfig (see ci_kubeconfig).
    kubelogin_mode: str = "azurecli"
    # The nodes' OS and data disks under the stack's key (components/encryption.py): only when the cluster is created
    # (azure-aks-docs@fb060ab:articles/aks/azure-disk-customer-managed-keys.md:29). None: platform keys.
    disk_encryption: DiskEncryption | None = None


def ci_kubeconfig(kubeconfig: str, login: str = "azurecli") -> str:
    """Rewrite an AKS Entra ID kubeconfig (exec format) so kubelogin never prompts: every exec user gets
    `--login <login>` and `interactiveMode: Never`. Fails on a kubeconfig without a kubelogin exec user (e.g. a
    local-account admin kubeconfig, which this cluster does not allow)."""
    if login not in NON_INTERACTIVE_LOGINS:
        raise ValueError(f"kubelogin mode {login!r} is interactive or unknown; use one of {NON_INTERACTIVE_LOGINS}")
    config = yaml.safe_load(kubeconfig)
    if not isinstance(config, dict) or not isinstance(config.get("users"), list) or not config["users"]:
        raise ValueError("kubeconfig has no users")
    for user in config["users"]:
        exec_config: dict[str, Any] | None = (user.get("user") or {}).get("exec")
        if not exec_config or "kubelogin" not in str(exec_config.get("command", "")):
            raise ValueError(f"kubeconfig user {user.get('name')!r} does not authenticate with kubelogin (exec)")
        args = [str(a) for a in exec_config.get("args") or []]
        out: list[str] = []
        skip = False
        for index, arg in enumerate(args):
            if skip:
                skip = False
                continue
            if arg in ("--login", "-l"):
                skip = index + 1 < len(args)
                continue
            if arg.startswith("--login="):
                continue
            out.append(arg)
        exec_config["args"] = [*out, "--login", login]
        exec_config["interactiveMode"] = "Never"
    return yaml.safe_dump(config, sort_keys=False)


def decode_kubeconfig(value: str) -> str:
    """AKS returns kubeconfigs base64-encoded."""
    return base64.b64decode(value).decode("utf-8")


def _pool(mode: str, pool: NodePoolSettings, args: AksArgs) -> dict[str, Any]:
    """Agent pool settings shared by the system pool (in the cluster) and the user pool (its own resource)."""
    return dict(
        mode=mode,
        vm_size=pool.vm_size,
        os_type=cs.OSType.LINUX,
        os_sku=cs.OSSKU.AZURE_LINUX,
        type=cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
        orchestrator_version=args.settings.kubernetes_version,
        vnet_subnet_id=args.subnet_id,
        enable_node_public_ip=False,
        # Temp disks, OS/data disk caches and their flows are encrypted on the host (subscription feature
        # Microsoft.Compute/EncryptionAtHost must be registered).
        enable_encryption_at_host=True,
        enable_auto_scaling=True,
        min_count=pool.min_count,
        max_count=pool.max_count,
        count=pool.min_count,
        availability_zones=list(args.settings.availability_zones) or None,
        # Ephemeral: no managed OS disk to leak or pay for, faster reimage; a size whose local disk cannot hold it
        # fails at creation instead of silently falling back to a managed disk (CKV_AZURE_226).
        os_disk_type=cs.OSDiskType.EPHEMERAL,
        os_disk_size_gb=OS_DISK_SIZE_GB,
        # Azure CNI Overlay's default, stated so it is reviewed: pods take addresses from the pod CIDR (/24 per
        # node), not from the aks subnet (CKV_AZURE_168).
        max_pods=250,
        # One surge node per pool: the aks subnet is sized for maxCount + 1 per pool (config validation).
        upgrade_settings=cs.AgentPoolUpgradeSettingsArgs(max_surge="1"),
        tags=dict(args.placement.tags),
    )


class Aks(pulumi.ComponentResource):
    """Private AKS: no public API endpoint, Entra ID + Azure RBAC only, workload identity, Cilium network policy,
    nodes without public IPs and with host encryption, add-ons for blob CSI, Key Vault secrets, Azure Policy and
    Container Insights, automatic upgrades, audit logs to Log Analytics."""

    def __init__(self, name: str, args: AksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:compute:Aks", name, None, opts)
        s = args.settings
        cp = args.control_plane.principal_id

        # The control plane identity acts on our resources before the cluster exists: it joins nodes to the
        # subnet, writes the API server's A record into our private zone, and hands the kubelet identity to the
        # node VMs. AKS validates these at create time, so the cluster waits for them.
        prerequisites = [
            assign(
                f"{name}-cp-subnet",
                role="Network Contributor",
                scope=args.subnet_id,
                principal_id=cp,
                subscription_id=args.subscription_id,
                reason="AKS control plane: join nodes and internal load balancers to the aks subnet",
                parent=self,
            ),
            assign(
                f"{name}-cp-dns",
                role="Private DNS Zone Contributor",
                scope=args.private_dns_zone_id,
                principal_id=cp,
                subscription_id=args.subscription_id,
                reason="AKS control plane: register the private API server in the privatelink zone",
                parent=self,
            ),
            assign(
                f"{name}-cp-kubelet",
                role="Managed Identity Operator",
                scope=args.kubelet.id,
                principal_id=cp,
                subscription_id=args.subscription_id,
                reason="AKS control plane: assign the kubelet identity to node VMs",
                parent=self,
            ),
        ]
        if args.route_table_id is not None:
            prerequisites.append(
                assign(
                    f"{name}-cp-routes",
                    role="Network Contributor",
                    scope=args.route_table_id,
                    principal_id=cp,
                    subscription_id=args.subscription_id,
                    reason="AKS control plane: userDefinedRouting reads and joins the subnet's route table",
                    parent=self,
                )
            )

        des = args.disk_encryption
        if des is not None:
            # The control plane reads the set when it creates node disks (azure-disk-customer-managed-keys.md:83), and
            # the set must hold its grant on the key before any disk is encrypted with it.
            prerequisites.append(
                assign(
                    f"{name}-cp-des",
                    role="Reader",
                    scope=des.id,
                    principal_id=cp,
                    subscription_id=args.subscription_id,
                    reason="AKS control plane: read the disk encryption set that encrypts node disks",
                    parent=self,
                )
            )
            prerequisites.append(des.grant)

        outbound = (
            cs.OutboundType.USER_ASSIGNED_NAT_GATEWAY
            if args.egress == "natGateway"
            else cs.OutboundType.USER_DEFINED_ROUTING
        )
        system_pool = _pool(cs.AgentPoolMode.SYSTEM, s.system_pool, args)
        cluster = cs.ManagedCluster(
            f"{name}-aks",
            resource_group_name=args.placement.resource_group_name,
            resource_name_=args.cluster_name,
            location=args.placement.location,
            dns_prefix=args.cluster_name,
            kubernetes_version=s.kubernetes_version,
            sku=cs.ManagedClusterSKUArgs(name=cs.ManagedClusterSKUName.BASE, tier=args.sku_tier),
            identity=cs.ManagedClusterIdentityArgs(
                type=cs.ResourceIdentityType.USER_ASSIGNED, user_assigned_identities=[args.control_plane.id]
            ),
            identity_profile={
                "kubeletidentity": cs.UserAssignedIdentityArgs(
                    resource_id=args.kubelet.id,
                    client_id=args.kubelet.client_id,
                    object_id=args.kubelet.principal_id,
                )
            },
            disk_encryption_set_id=des.id if des else None,
            enable_rbac=True,
            # Only Entra ID users/groups, authorised by Azure RBAC; no static cluster-admin certificate.
            disable_local_accounts=True,
            aad_profile=cs.ManagedClusterAADProfileArgs(
                managed=True, enable_azure_rbac=True, admin_group_object_ids=list(s.admin_group_object_ids)
            ),
            public_network_access=cs.PublicNetworkAccess.DISABLED,
            api_server_access_profile=cs.ManagedClusterAPIServerAccessProfileArgs(
                enable_private_cluster=True,
                # No public DNS name resolving to the private IP.
                enable_private_cluster_public_fqdn=False,
                # Our zone (or the hub's): AKS writes the API server record there instead of a zone in the node RG.
                private_dns_zone=args.private_dns_zone_id,
                # `az aks command invoke` would bypass the network boundary; operators and CI need line of sight.
                disable_run_command=True,
            ),
            oidc_issuer_profile=cs.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=cs.ManagedClusterSecurityProfileArgs(
                workload_identity=cs.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True),
                image_cleaner=cs.ManagedClusterSecurityProfileImageCleanerArgs(enabled=True, interval_hours=48),
            ),
            storage_profile=cs.ManagedClusterStorageProfileArgs(
                blob_csi_driver=cs.ManagedClusterStorageProfileBlobCSIDriverArgs(enabled=True),
                disk_csi_driver=cs.ManagedClusterStorageProfileDiskCSIDriverArgs(enabled=True),
                # No Azure Files shares: their CSI driver would only widen the attack surface.
                file_csi_driver=cs.ManagedClusterStorageProfileFileCSIDriverArgs(enabled=False),
            ),
            # Add-on keys are case-sensitive AKS API names.
            addon_profiles={
                "azureKeyvaultSecretsProvider": cs.ManagedClusterAddonProfileArgs(
                    enabled=True, config={"enableSecretRotation": "true", "rotationPollInterval": "2m"}
                ),
                "azurepolicy": cs.ManagedClusterAddonProfileArgs(enabled=True),
                "omsagent": cs.ManagedClusterAddonProfileArgs(
                    enabled=True,
                    # The workspace accepts Entra ID ingestion only (local auth off); with useAADAuth the agent reads
                    # its DCR through the associations Monitoring.collect_container_insights puts on this cluster.
                    config={"logAnalyticsWorkspaceResourceID": args.workspace_id, "useAADAuth": "true"},
                ),
            },
            auto_upgrade_profile=cs.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel=cs.UpgradeChannel.PATCH,
                node_os_upgrade_channel=cs.NodeOSUpgradeChannel.NODE_IMAGE,
            ),
            network_profile=cs.ContainerServiceNetworkProfileArgs(
                # Overlay: pods take addresses from pod_cidr, not the subnet, so the aks subnet sizes for nodes only.
                network_plugin=cs.NetworkPlugin.AZURE,
                network_plugin_mode=cs.NetworkPluginMode.OVERLAY,
                # Cilium policy requires the Cilium dataplane.
                network_dataplane=cs.NetworkDataplane.CILIUM,
                network_policy=cs.NetworkPolicy.CILIUM,
                pod_cidr=str(s.pod_cidr),
                service_cidr=str(s.service_cidr),
                dns_service_ip=s.dns_service_ip,
                load_balancer_sku=cs.LoadBalancerSku.STANDARD,
                # Egress matches the network: the subnet's NAT gateway, or the hub firewall via its route table.
                outbound_type=outbound,
            ),
            agent_pool_profiles=[
                cs.ManagedClusterAgentPoolProfileArgs(
                    name="system",
                    # Keep CoA pods off the system pool (CriticalAddonsOnly taint).
                    node_taints=["CriticalAddonsOnly=true:NoSchedule"],
                    **system_pool,
                )
            ],
            tags=dict(args.placement.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=prerequisites,
                # AKS changes the pool count through autoscaling; Pulumi must not reset it.
                ignore_changes=["agentPoolProfiles[0].count"],
            ),
        )
        # Pools added after creation must be AgentPool resources (a cluster PUT cannot add or remove pools).
        user_pool = cs.AgentPool(
            f"{name}-pool-user",
            resource_group_name=args.placement.resource_group_name,
            resource_name_=cluster.name,
            agent_pool_name="user",
            **_pool(cs.AgentPoolMode.USER, s.user_pool, args),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
        )
        diagnostics(
            f"{name}-aks",
            resource_id=cluster.id,
            workspace_id=args.workspace_id,
            parent=self,
            category_groups=(),
            categories=AUDIT_LOG_CATEGORIES,
        )

        credentials = cs.list_managed_cluster_user_credentials_output(
            resource_group_name=args.placement.resource_group_name,
            resource_name=cluster.name,
            # exec format: a kubelogin exec plugin instead of the removed azure auth-provider.
            format="exec",
        )
        login = args.kubelogin_mode
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            credentials.kubeconfigs.apply(lambda configs: ci_kubeconfig(decode_kubeconfig(configs[0].value), login))
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster = cluster
        self.user_pool = user_pool
        self.id = cluster.id
        self.cluster_name = cluster.name
        self.oidc_issuer_url: pulumi.Output[str] = cluster.oidc_issuer_profile.apply(
            lambda profile: (profile.issuer_url if profile else None) or ""
        )
        self.register_outputs(
            {"id": self.id, "cluster_name": self.cluster_name, "oidc_issuer_url": self.oidc_issuer_url}
        )
