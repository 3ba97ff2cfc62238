"""Private container registry: the only place the cluster and Batch nodes pull Cromwell on Azure images from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerregistry as acr

from components.access import assign
from components.encryption import CustomerKey
from components.monitoring import diagnostics
from components.placement import Placement
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec
from configuration.image_lock import ImageLock
from configuration.upstreams import DOCKER_HUB, DockerHubCredentials


@dataclass(frozen=True, kw_only=True)
class CacheRuleSpec:
    """An artifact-cache rule: `<login server>/<target_repository>` is served from `source_repository` upstream."""

    # Logical name other components use to look the repository up ("tes", "cromwell", ...).
    key: str
    # Full upstream path including the registry host; Docker Hub official images need the `library/` namespace.
    source_repository: str
    # Repository inside our registry; Azure requires that no repository of that name exists yet.
    target_repository: str
    # ACR credential set for upstreams that accept authentication (Docker Hub: avoids anonymous rate limits).
    # MCR supports unauthenticated pulls only, so its rules never take one.
    credential_set_id: pulumi.Input[str] | None = None


# The images of the CoA workload and the database init job; the first pull of each tag fills the cache, after
# which neither AKS nodes nor Batch nodes need a route to MCR or Docker Hub.
DEFAULT_CACHE_RULES: tuple[CacheRuleSpec, ...] = (
    CacheRuleSpec(
        key="cromwell",
        source_repository="docker.io/broadinstitute/cromwell",
        target_repository="broadinstitute/cromwell",
    ),
    CacheRuleSpec(
        key="tes",
        source_repository="mcr.microsoft.com/cromwellonazure/tes",
        target_repository="cromwellonazure/tes",
    ),
    CacheRuleSpec(
        key="triggerservice",
        source_repository="mcr.microsoft.com/cromwellonazure/triggerservice",
        target_repository="cromwellonazure/triggerservice",
    ),
    CacheRuleSpec(
        key="postgres",
        source_repository="docker.io/library/postgres",
        target_repository="library/postgres",
    ),
    # The helm test: curl in the test pod, and the hello-world task image Batch nodes pull.
    CacheRuleSpec(
        key="curl",
        source_repository="docker.io/curlimages/curl",
        target_repository="curlimages/curl",
    ),
    CacheRuleSpec(
        key="ubuntu",
        source_repository="docker.io/library/ubuntu",
        target_repository="library/ubuntu",
    ),
    # TES 3.2's Batch nodes run blobxfer for every input and output (CromwellOnAzure@3.2.0:src/TesApi.Web/
    # BatchScheduler.cs:759-770); only stacks of that generation have this rule.
    CacheRuleSpec(
        key="blobxfer",
        source_repository="mcr.microsoft.com/blobxfer",
        target_repository="blobxfer",
    ),
)


# Image lock key (images.lock.json) -> the cache rule that serves it. Rule names are kept as first deployed: a rule
# cannot be recreated over the repository it has already filled.
CACHE_RULE_OF_IMAGE = {
    "cromwell": "cromwell",
    "tes": "tes",
    "triggerservice": "triggerservice",
    "dbClient": "postgres",
    "smokeTest": "curl",
    "smokeTestTask": "ubuntu",
    "blobxfer": "blobxfer",
}


def cache_rules_for(lock: ImageLock) -> tuple[CacheRuleSpec, ...]:
    """The rules for the images the stack pulls through the cache; images it builds need none."""
    cached = {CACHE_RULE_OF_IMAGE[key] for key, pin in lock.pins.items() if pin.source == "cache"}
    return tuple(rule for rule in DEFAULT_CACHE_RULES if rule.key in cached)


# The credential set every Docker Hub cache rule uses (scripts/preflight.sh checks its health by this name).
DOCKER_HUB_CREDENTIAL_SET = "dockerhub"


@dataclass(frozen=True, kw_only=True)
class BuildAgentPoolSpec:
    """An ACR Tasks agent pool in the VNet: the only place a registry without public access builds images
    (learn.microsoft.com "Run ACR Tasks on dedicated agent pools"; Azure/acr#603, #762)."""

    subnet_id: pulumi.Input[str]
    tier: str


@dataclass(frozen=True, kw_only=True)
class RegistryArgs:
    placement: Placement
    registry_name: str
    private_endpoint: PrivateEndpointSpec
    diagnostics_workspace_id: pulumi.Input[str]
    cache_rules: Sequence[CacheRuleSpec] = DEFAULT_CACHE_RULES
    # Zone redundancy can only be chosen when the registry is created.
    zone_redundant: bool = False
    build_agent_pool: BuildAgentPoolSpec | None = None
    # The registry's key in the stack's vault (components/encryption.py): chosen at creation only, never removed
    # (tutorial-customer-managed-keys.md:40-41); None: Microsoft-managed keys.
    customer_key: CustomerKey | None = None
    # Docker Hub's user name and token in Key Vault (configuration/upstreams.py): every docker.io rule needs them.
    docker_hub: DockerHubCredentials | None = None
    # For the credential set's grants on the two secrets.
    subscription_id: pulumi.Input[str] | None = None


class Registry(pulumi.ComponentResource):
    """Premium registry with no admin user, no anonymous pull, no public network path and no export; it mirrors the
    upstream images through cache rules and is reached only through its private endpoint."""

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:registry:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        keys = [rule.key for rule in args.cache_rules]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"registry {name}: cache rule key {duplicates[0]!r} is used more than once")

        cmk = args.customer_key
        registry = acr.Registry(
            f"{name}-cr",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            registry_name=args.registry_name,  # globally unique, 5-50 alphanumerics (checked in config)
            # Private endpoints, disabling public access and the export policy all need Premium.
            sku=acr.SkuArgs(name=acr.SkuName.PREMIUM),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access=acr.PublicNetworkAccess.DISABLED,
            # Trusted services may pass the network rules (still authenticated and authorised): artifact cache "can't
            # populate the target registry when trusted-services access is disabled" on a network-restricted registry
            # (MicrosoftDocs/azure-management-docs@d923d58:articles/container-registry/artifact-cache-cli.md:80-81),
            # and `az acr import` into it is a trusted-service scenario (allow-access-trusted-services.md:46). Clients
            # still reach it only through the private endpoint.
            network_rule_bypass_options=acr.NetworkRuleBypassOptions.AZURE_SERVICES,
            # Dedicated data endpoints get their own records in the privatelink.azurecr.io zone through the PE.
            data_endpoint_enabled=True,
            zone_redundancy=acr.ZoneRedundancy.ENABLED if args.zone_redundant else acr.ZoneRedundancy.DISABLED,
            policies=acr.PoliciesArgs(
                # Images cannot be exported or imported to other registries (Azure requires public access off).
                export_policy=acr.ExportPolicyArgs(status=acr.ExportPolicyStatus.DISABLED),
            ),
            identity=acr.IdentityPropertiesArgs(
                type=acr.ResourceIdentityType.USER_ASSIGNED,
                # Keyed by the identity's ARM id, known only once it exists.
                user_assigned_identities=cmk.identity.id.apply(lambda uami: {uami: acr.UserIdentityPropertiesArgs()}),
            )
            if cmk
            else None,
            # Versionless key: the registry picks up a rotated version within an hour (tutorial, :54).
            encryption=acr.EncryptionPropertyArgs(
                status=acr.EncryptionStatus.ENABLED,
                key_vault_properties=acr.KeyVaultPropertiesArgs(
                    identity=cmk.identity.client_id, key_identifier=cmk.key_uri
                ),
            )
            if cmk
            else None,
            tags=dict(args.placement.tags),
            # Azure reads the key with the identity while it creates the registry: the grant comes first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cmk.grant]) if cmk else child,
        )
        self.target_repositories: dict[str, str] = {}
        # Repository inside the registry -> the upstream its cache rule pulls from (images.lock.json is checked
        # against it).
        self.cache_sources: dict[str, str] = {}
        # What pods need before they start: every cache rule they pull through and the private endpoint.
        self.workload_needs: list[pulumi.Resource] = []
        docker_hub_set, docker_hub_grants = self._docker_hub_credentials(name, args, registry)
        for rule in args.cache_rules:
            from_docker_hub = rule.source_repository.startswith(f"{DOCKER_HUB}/")
            if from_docker_hub and docker_hub_set is None:
                raise ValueError(f"registry {name}: cache rule {rule.key!r} pulls from Docker Hub without credentials")
            cache_rule = acr.CacheRule(
                f"{name}-cache-{rule.key}",
                resource_group_name=args.placement.resource_group_name,
                registry_name=registry.name,
                # 5-50 alphanumerics and hyphens.
                cache_rule_name=f"cache-{rule.key}",
                source_repository=rule.source_repository,
                target_repository=rule.target_repository,
                credential_set_resource_id=docker_hub_set.id
                if from_docker_hub and docker_hub_set is not None
                else rule.credential_set_id,
                # The cache reads the token with the set's identity on its first pull: the grants come first.
                opts=pulumi.ResourceOptions(parent=self, depends_on=docker_hub_grants) if from_docker_hub else child,
            )
            self.target_repositories[rule.key] = rule.target_repository
            self.cache_sources[rule.target_repository] = rule.source_repository
            self.workload_needs.append(cache_rule)

        endpoint = PrivateEndpoint(
            f"{name}-registry",
            PrivateEndpointArgs(
                spec=args.private_endpoint, target_resource_id=registry.id, group_id="registry", zone_key="registry"
            ),
            opts=child,
        )
        self.workload_needs.append(endpoint)
        self.private_endpoints = [endpoint]
        diagnostics(f"{name}-cr", resource_id=registry.id, workspace_id=args.diagnostics_workspace_id, parent=self)

        self.agent_pool_name: pulumi.Output[str] | None = None
        # What a build needs: the pool, and the registry's endpoint and DNS the pool pushes through.
        self.build_needs: list[pulumi.Resource] = [endpoint]
        if args.build_agent_pool:
            pool = acr.AgentPool(
                f"{name}-pool",
                resource_group_name=args.placement.resource_group_name,
                registry_name=registry.name,
                # 3-20 letters, digits and hyphens.
                agent_pool_name="coabuild",
                location=args.placement.location,
                os=acr.OS.LINUX,
                tier=args.build_agent_pool.tier,
                # Billed while it has instances: scripts/build-images.sh scales it to 1 for a build and back to 0
                # (--release-pool), so the count is left to it.
                count=1,
                virtual_network_subnet_resource_id=args.build_agent_pool.subnet_id,
                tags=dict(args.placement.tags),
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
            )
            self.agent_pool_name = pool.name
            self.build_needs.append(pool)

        self.id = registry.id
        self.registry_name = registry.name
        self.login_server = registry.login_server
        # Full image repositories (without tag) keyed like the cache rules, for Helm values and the DB init job.
        self.repositories: dict[str, pulumi.Output[str]] = {
            key: pulumi.Output.concat(registry.login_server, "/", target)
            for key, target in self.target_repositories.items()
        }
        self.register_outputs(
            {
                "id": self.id,
                "login_server": self.login_server,
                "target_repositories": self.target_repositories,
            }
        )

    def _docker_hub_credentials(
        self, name: str, args: RegistryArgs, registry: acr.Registry
    ) -> tuple[acr.CredentialSet | None, Sequence[pulumi.Resource]]:
        """The credential set every Docker Hub cache rule authenticates with, and its identity's grants: Key Vault
        Secrets User on each of the two secrets, nothing on the vault."""
        hub = args.docker_hub
        if hub is None:
            return None, []
        if args.subscription_id is None:
            raise ValueError(f"registry {name}: Docker Hub credentials need subscription_id for their grants")
        credential_set = acr.CredentialSet(
            f"{name}-dockerhub",
            resource_group_name=args.placement.resource_group_name,
            registry_name=registry.name,
            credential_set_name=DOCKER_HUB_CREDENTIAL_SET,
            login_server=DOCKER_HUB,
            auth_credentials=[
                acr.AuthCredentialArgs(
                    name=acr.CredentialName.CREDENTIAL1,
                    username_secret_identifier=hub.secret_uri(hub.username_secret),
                    password_secret_identifier=hub.secret_uri(hub.password_secret),
                )
            ],
            identity=acr.IdentityPropertiesArgs(type=acr.ResourceIdentityType.SYSTEM_ASSIGNED),
            opts=pulumi.ResourceOptions(parent=self),
        )
        principal = credential_set.identity.apply(lambda identity: (identity.principal_id if identity else None) or "")
        grants = [
            assign(
                f"{name}-dockerhub-{part}",
                role="Key Vault Secrets User",
                scope=hub.secret_id(secret),
                principal_id=principal,
                subscription_id=args.subscription_id,
                reason=f"artifact cache: read the Docker Hub {part} for the docker.io cache rules",
                parent=self,
            )
            for part, secret in (("username", hub.username_secret), ("token", hub.password_secret))
        ]
        return credential_set, grants
