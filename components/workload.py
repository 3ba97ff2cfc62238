"""Cromwell on Azure on the private cluster: the Pod Security `restricted` namespace and the Helm release of our
chart, with values taken from the other components' outputs (nothing typed twice)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import contracts_for, derive
from components.postgres import DatabaseLogin
from configuration.image_lock import ImageLock
from configuration.settings import BatchNodeImages, DataStorageAccount

NAMESPACE = "coa"
RELEASE_NAME = "coa"
# Relative to the program directory (the working directory of `pulumi up` and of the policy pack's search).
CHART_PATH = "charts/cromwell-on-azure"
# Created by the chart; the federated credentials name these subjects.
SERVICE_ACCOUNT = "coa-workload"
DB_INIT_SERVICE_ACCOUNT = f"{SERVICE_ACCOUNT}-db-init"
SERVICE_ACCOUNTS: tuple[tuple[str, str], ...] = ((NAMESPACE, SERVICE_ACCOUNT), (NAMESPACE, DB_INIT_SERVICE_ACCOUNT))
POD_SECURITY_LABELS = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}

# Images (tag, digest, provenance) come from images.lock.json: TES and TriggerService 6.0.0 (CoA 6.0.0, the newest
# stable) or, in the reduced-assurance generation, CoA 3.2.0's and the blobxfer its nodes run; Cromwell 87 (the version
# CoA 6.0.0 deploys), psql 16 for the hooks, curl and Ubuntu 22.04 for the helm test. components/contracts/ holds what
# Cromwell, TES and TriggerService need at runtime.

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class ChartInputs(Generic[T]):
    """Values that come from other components' outputs: `ChartInputs[pulumi.Input[str]]` in the program,
    `ChartInputs[str]` once resolved."""

    tenant_id: T
    subscription_id: T
    resource_group_name: T
    workload_client_id: T
    workload_resource_id: T
    storage_account_name: T
    storage_blob_endpoint: T
    batch_account_name: T
    batch_endpoint: T
    batch_subnet_id: T
    global_start_task: T
    # Text of the Batch global start task (Batch.start_task_script); the chart's pre-install/pre-upgrade hook writes
    # it to global_start_task through a keyless blob CSI mount.
    start_task_script: T
    key_vault_name: T
    postgres_fqdn: T
    postgres_admin_login: T
    cromwell_db_password_secret: T
    db_admin_password_secret: T
    registry_login_server: T
    tes_db_password_secret: T
    # The reduced-assurance generation (tes32) only: the Cosmos DB account TES and TriggerService look up by name, and
    # the Key Vault secrets holding each one's AzureServicesAuthConnectionString.
    cosmos_account_name: T | str = ""
    tes_auth_secret: T | str = ""
    triggerservice_auth_secret: T | str = ""


@dataclass(frozen=True, kw_only=True)
class ChartOptions:
    """Values known from configuration alone."""

    kubernetes_version: str
    # The registry's artifact-cache rules: repository inside the registry -> upstream repository.
    cache_rules: Mapping[str, str]
    images: ImageLock
    require_image_digests: bool
    private_endpoints_cidr: str
    postgres_cidr: str
    batch_prefix: str
    batch_images: BatchNodeImages
    # TES's allowed-vm-sizes list (written by the chart's batch-config-upload hook).
    batch_allowed_vm_sizes: Sequence[str]
    # Existing accounts whose containers Cromwell mounts at /<account>/<container> (TES resolves the same paths).
    data_storage_accounts: Sequence[DataStorageAccount] = ()
    # Cromwell's blob filesystem signs SAS with the account key; without shared keys Cromwell uses the CSI mount.
    storage_shared_key_access: bool
    # Stack options that switch runtime-contract entries on (sharedKeyAccess, imageScanner).
    contract_conditions: frozenset[str] = frozenset()
    cromwell_database: str = "cromwell_db"
    cromwell_login: str = "cromwell_a"
    # Every login slot the database init hook keeps in step with Key Vault (configuration/rotation.py).
    database_logins: Sequence[DatabaseLogin] = ()
    tes_database: str = "tes_db"
    tes_login: str = "tes_a"
    # Which TES generation the chart runs (configuration/settings.py Generation).
    generation: str = "tes6"


def _minor(version: str) -> str:
    major, minor, *_ = version.split(".")
    return f"{major}.{minor}"


def _image(options: ChartOptions, key: str, built: Mapping[str, str]) -> dict[str, str]:
    pin = options.images[key]
    if pin.source == "cache" and options.cache_rules.get(pin.repository) != pin.upstream:
        raise ValueError(
            f"images.lock.json: images.{key}: no cache rule serves {pin.repository} from {pin.upstream}; "
            f"the registry's rules are {dict(options.cache_rules)}"
        )
    if key in options.images.built():
        if key not in built:
            raise ValueError(f"images.{key} is built by the stack, but no build digest reached the chart")
        # What the stack's own build pushed (components/image_build.py), by digest.
        return {**pin.chart_value(), "digest": built[key]}
    return pin.chart_value()


def helm_values(
    inputs: ChartInputs[str], options: ChartOptions, built: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The chart's values (charts/cromwell-on-azure/values.yaml contract); keys left out keep the chart default.
    `built` holds the digests of the images the stack built during this `pulumi up` (components/image_build.py)."""
    built = built or {}
    tes6 = options.generation == "tes6"
    if tes6 and not inputs.tes_db_password_secret:
        raise ValueError("TES 6 needs the TES database password secret name (tes_db_password_secret)")
    if not tes6 and not (inputs.cosmos_account_name and inputs.tes_auth_secret and inputs.triggerservice_auth_secret):
        raise ValueError("TES 3.2 needs cosmos_account_name, tes_auth_secret and triggerservice_auth_secret")
    if not inputs.start_task_script.startswith("#!"):
        raise ValueError(
            f"batch.nodes.startTaskScript must start with a #! line, got {inputs.start_task_script[:40]!r}"
        )
    values: dict[str, Any] = {
        "kubernetesVersion": _minor(options.kubernetes_version),
        "azure": {"tenantId": inputs.tenant_id},
        "workloadIdentity": {"clientId": inputs.workload_client_id, "resourceId": inputs.workload_resource_id},
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT},
        "storage": {
            "accountName": inputs.storage_account_name,
            "blobEndpoint": inputs.storage_blob_endpoint,
            "resourceGroup": inputs.resource_group_name,
            "subscriptionId": inputs.subscription_id,
            "dataContainers": [
                {
                    "accountName": account.name,
                    "resourceGroup": account.resource_group,
                    "subscriptionId": account.subscription_id,
                    "name": container.name,
                    "readOnly": container.access == "read",
                }
                for account in options.data_storage_accounts
                for container in account.containers
            ],
        },
        "batch": {
            "accountName": inputs.batch_account_name,
            "endpoint": inputs.batch_endpoint,
            "resourceGroup": inputs.resource_group_name,
            "subscriptionId": inputs.subscription_id,
            "nodes": {
                "subnetId": inputs.batch_subnet_id,
                "disablePublicIpAddress": True,
                "globalStartTask": inputs.global_start_task,
                "startTaskScript": inputs.start_task_script,
            },
            "images": {
                generation: {
                    "publisher": image.publisher,
                    "offer": image.offer,
                    "sku": image.sku,
                    "version": image.version,
                    "nodeAgentSkuId": image.node_agent_sku_id,
                }
                for generation, image in (("gen1", options.batch_images.gen1), ("gen2", options.batch_images.gen2))
            },
            "allowedVmSizes": list(options.batch_allowed_vm_sizes),
            "scheduling": {"prefix": options.batch_prefix},
        },
        "keyVault": {
            "name": inputs.key_vault_name,
            "secrets": {
                "cromwellDbPassword": inputs.cromwell_db_password_secret,
                "tesDbPassword": inputs.tes_db_password_secret,
                "dbAdminPassword": inputs.db_admin_password_secret,
            },
        },
        "postgres": {
            "serverFqdn": inputs.postgres_fqdn,
            "adminUserName": inputs.postgres_admin_login,
            "cromwell": {"databaseName": options.cromwell_database, "userName": options.cromwell_login},
            "tes": {"databaseName": options.tes_database, "userName": options.tes_login},
        },
        # TES 3.2 accepts only /cromwell-executions/ paths (CromwellOnAzure@3.2.0:src/TesApi.Web/BatchScheduler.cs:
        # 633-639), so with it Cromwell writes through the mount even though the account keeps shared keys.
        "cromwell": {"executionsRoot": "blob" if options.storage_shared_key_access and tes6 else "mount"},
        "images": {
            "registry": inputs.registry_login_server,
            "cromwell": _image(options, "cromwell", built),
            "tes": _image(options, "tes", built),
            "triggerservice": _image(options, "triggerservice", built),
            "dbClient": _image(options, "dbClient", built),
            "smokeTest": _image(options, "smokeTest", built),
            # Production pins every image by digest (guardrail unpinnedImages); the schema then refuses a bare tag.
            "requireDigest": options.require_image_digests,
        },
        "smokeTest": {"taskImage": _image(options, "smokeTestTask", built)},
        "networkPolicy": {
            "privateEndpointsCidr": options.private_endpoints_cidr,
            "postgresCidr": options.postgres_cidr,
            # Each workload's egress is what its runtime contract says it opens (ingress follows from it).
            "egress": {
                contract.workload: [rule.values() for rule in derive.pod_egress(contract, options.contract_conditions)]
                for contract in contracts_for(options.generation)
            },
        },
        "dbInit": {
            "enabled": True,
            "serviceAccountName": DB_INIT_SERVICE_ACCOUNT,
            "logins": [
                {"database": db.database, "owner": db.owner, "login": db.login, "secretName": db.secret_name}
                for db in options.database_logins
            ],
        },
    }
    if not tes6:
        # TES and TriggerService 3.2 keep tasks in Cosmos DB and sign in as their Entra applications.
        values["generation"] = options.generation
        values["cosmosDb"] = {"accountName": inputs.cosmos_account_name}
        values["keyVault"]["secrets"] = {
            "cromwellDbPassword": inputs.cromwell_db_password_secret,
            "dbAdminPassword": inputs.db_admin_password_secret,
            "tesAzureServicesAuth": inputs.tes_auth_secret,
            "triggerServiceAzureServicesAuth": inputs.triggerservice_auth_secret,
        }
        del values["postgres"]["tes"]
        values["images"]["blobxfer"] = _image(options, "blobxfer", built)
    return values


@dataclass(frozen=True, kw_only=True)
class CromwellOnAzureArgs:
    provider: k8s.Provider
    inputs: ChartInputs[pulumi.Input[str]]
    options: ChartOptions
    # Digests of the images the stack built (components/image_build.py), by image key.
    built_digests: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # What the pods need to exist before they start (identities' grants and federated credentials, storage
    # containers, database and secrets, the user node pool); nothing else.
    depends_on: Sequence[pulumi.Resource] = field(default_factory=list)


class CromwellOnAzure(pulumi.ComponentResource):
    """Namespace `coa` enforcing Pod Security `restricted`, and the chart released into it on the private cluster."""

    def __init__(self, name: str, args: CromwellOnAzureArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:workload:CromwellOnAzure", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAMESPACE, labels=POD_SECURITY_LABELS),
            opts=k8s_opts,
        )
        resolved = {f.name: getattr(args.inputs, f.name) for f in dataclasses.fields(args.inputs)}
        options = args.options
        values = pulumi.Output.all(pulumi.Output.all(**resolved), pulumi.Output.all(**args.built_digests)).apply(
            lambda both: helm_values(ChartInputs[str](**both[0]), options, both[1])
        )
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=CHART_PATH,
            namespace=namespace.metadata.name,
            values=values,
            # The chart's own schema rejects incomplete values; a failed install or upgrade is rolled back.
            atomic=True,
            cleanup_on_fail=True,
            timeout=900,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on)),
        )
        self.namespace = namespace.metadata.name
        self.release_name = release.name
        self.cromwell_url = pulumi.Output.concat("http://cromwell.", self.namespace, ".svc.cluster.local:8000")
        self.tes_url = pulumi.Output.concat("http://tes.", self.namespace, ".svc.cluster.local/v1")
        self.register_outputs({"namespace": self.namespace, "cromwell_url": self.cromwell_url, "tes_url": self.tes_url})
