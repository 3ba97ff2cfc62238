"""The CromwellOnAzure component: restricted namespace, the Helm release's wiring, and the chart rendered with the
exact values each stack passes to the release."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml
from stackquery import ancestors, by_id, one, resolved_lock

from components.postgres import SLOT_SUFFIX as SUFFIX
from components.registry import DEFAULT_CACHE_RULES
from components.start_task import StartTaskSettings, render_start_task
from components.workload import (
    CHART_PATH,
    ChartInputs,
    ChartOptions,
    helm_values,
)
from configuration.batch import DEFAULT_BATCH_IMAGE
from configuration.image_lock import ImageLock, load_lock
from configuration.settings import BatchNodeImages
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "chart"))
from chart_checks import pod_security_violations, pod_specs  # noqa: E402
from render import deep_merge, load_values, render_chart  # noqa: E402

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
PROVIDER = "pulumi:providers:kubernetes"


def _release(run: ProgramRun) -> Any:
    return one(run, RELEASE)


def _values(run: ProgramRun) -> dict[str, Any]:
    return _release(run).inputs["values"]


def _settings_images(run: ProgramRun) -> dict[str, Any]:
    """batch.images as the stack file configures it (defaults filled), in the chart's shape."""
    doc = yaml.safe_load((REPO / f"Pulumi.{run.stack}.yaml").read_text())["config"]
    configured = doc.get("coa-lockdown:batch", {}).get("images", {})
    default = {
        "publisher": DEFAULT_BATCH_IMAGE.publisher,
        "offer": DEFAULT_BATCH_IMAGE.offer,
        "sku": DEFAULT_BATCH_IMAGE.sku,
        "version": DEFAULT_BATCH_IMAGE.version,
        "nodeAgentSkuId": DEFAULT_BATCH_IMAGE.node_agent_sku_id,
    }
    return {gen: {**default, **configured.get(gen, {})} for gen in ("gen1", "gen2")}


def test_namespace_enforces_restricted_pod_security(stack: ProgramRun) -> None:
    namespace = one(stack, NAMESPACE)
    assert namespace.inputs["metadata"]["name"] == "coa"
    labels = namespace.inputs["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert namespace.provider.startswith(one(stack, PROVIDER).urn + "::")


def test_release_is_the_local_chart_in_the_namespace_on_the_aks_provider(stack: ProgramRun) -> None:
    release = _release(stack)
    assert release.inputs["chart"] == CHART_PATH == "charts/cromwell-on-azure"
    assert (REPO / CHART_PATH / "Chart.yaml").is_file()
    assert "repositoryOpts" not in release.inputs
    assert release.inputs["namespace"] == "coa"
    assert one(stack, NAMESPACE).urn in release.dependencies
    provider = one(stack, PROVIDER)
    assert release.provider.startswith(provider.urn + "::")
    assert "coa:compute:Aks" in ancestors(stack, provider)
    assert "coa:workload:CromwellOnAzure" in ancestors(stack, release)


def test_release_waits_for_grants_credentials_and_user_pool(stack: ProgramRun) -> None:
    release = _release(stack)
    access = one(stack, "coa:identity:Access")
    grants = [r for r in stack.resources if r.parent == access.urn]
    assert len(grants) >= 9
    assert {r.urn for r in grants} <= set(release.dependencies)
    assert one(stack, "azure-native:containerservice:AgentPool", "pool-user").urn in release.dependencies
    # Nothing networking-only: the release must not wait for the VNet, NSGs, DNS zones or the workspace.
    types = {r.urn: r.type for r in stack.resources}
    waited = {types.get(d, "") for d in release.dependencies}
    unrelated = {":VirtualNetwork", ":NetworkSecurityGroup", ":PrivateZone", ":VirtualNetworkLink", ":Workspace"}
    assert not {t for t in waited if t.endswith(tuple(unrelated))}


def test_values_are_wired_from_component_outputs(stack: ProgramRun) -> None:
    values = _values(stack)
    storage = one(stack, "azure-native:storage:StorageAccount")
    batch = one(stack, "azure-native:batch:BatchAccount")
    workload = one(stack, "azure-native:managedidentity:UserAssignedIdentity", "id-coa-workload")
    server = one(stack, "azure-native:dbforpostgresql:Server")
    registry = one(stack, "azure-native:containerregistry:Registry")
    vault = one(stack, "azure-native:keyvault:Vault")
    assert values["storage"]["accountName"] == storage.outputs["name"]
    assert values["storage"]["blobEndpoint"] == storage.outputs["primaryEndpoints"]["blob"]
    assert values["workloadIdentity"] == {"clientId": workload.outputs["clientId"], "resourceId": workload.id}
    assert values["batch"]["accountName"] == batch.outputs["name"]
    assert values["batch"]["endpoint"] == batch.outputs["accountEndpoint"]
    assert by_id(stack, values["batch"]["nodes"]["subnetId"]).name.endswith("snet-batch")
    assert values["batch"]["nodes"]["disablePublicIpAddress"] is True
    assert values["batch"]["nodes"]["globalStartTask"] == "/configuration/start-task.sh"
    assert values["postgres"]["serverFqdn"] == server.outputs["fullyQualifiedDomainName"]
    assert values["postgres"]["adminUserName"] == server.inputs["administratorLogin"]
    assert values["keyVault"]["name"] == vault.outputs["name"]
    secrets = {s.inputs["secretName"] for s in stack.of_type("azure-native:keyvault:Secret")}
    assert {v for v in values["keyVault"]["secrets"].values() if v} <= secrets
    # TES/TriggerService 6 can only send telemetry with an instrumentation key, which Application Insights (local auth
    # off) refuses: no telemetry setting is passed, their logs reach the workspace through Container Insights.
    assert "applicationInsights" not in values
    assert set(values["keyVault"]["secrets"]) == {"cromwellDbPassword", "tesDbPassword", "dbAdminPassword"}
    assert values["batch"]["images"] == _settings_images(stack)
    assert values["images"]["registry"] == registry.outputs["loginServer"]
    targets = {r.inputs["targetRepository"] for r in stack.of_type("azure-native:containerregistry:CacheRule")}
    for key in ("cromwell", "dbClient"):
        assert values["images"][key]["repository"] in targets, key
    # TES and TriggerService run from the stack's own build, by the digest the build printed; no cache rule for them.
    builds = {b.name.rsplit("-", 1)[-1]: b for b in stack.of_type("command:local:Command")}
    assert set(builds) == {"tes", "triggerservice"}
    for key, build in builds.items():
        assert values["images"][key]["repository"] == f"coa-build/{key}" not in targets
        assert values["images"][key]["digest"] == build.outputs["stdout"].strip()


def test_both_stacks_run_the_same_generation(dev: ProgramRun, prod: ProgramRun) -> None:
    """dev is a small prod: TES/TriggerService 6.0.0 on PostgreSQL and Cromwell 87, keyless, in both."""
    for run in (dev, prod):
        values = _values(run)
        assert values["images"]["tes"]["tag"] == values["images"]["triggerservice"]["tag"] == "6.0.0"
        assert values["images"]["cromwell"]["tag"] == "87"
        slot = run.outputs["secretRotation"]["activeSlot"]
        assert values["keyVault"]["secrets"]["tesDbPassword"] == "tes-db-password" + SUFFIX[slot]
        assert values["postgres"]["tes"]["userName"] == f"tes_{slot}"
        assert "taskDatabase" not in values
        # No shared keys: Cromwell cannot sign SAS, so executions go through the keyless CSI mount.
        assert values["cromwell"]["executionsRoot"] == "mount", run.stack


@pytest.fixture(scope="module")
def rendered(dev: ProgramRun, prod: ProgramRun) -> dict[str, list[dict[str, Any]]]:
    return {run.stack: render_chart(_values(run)) for run in (dev, prod)}


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_chart_renders_with_stack_values_and_meets_pod_security(
    rendered: dict[str, list[dict[str, Any]]], stack_name: str
) -> None:
    objects = rendered[stack_name]
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "NetworkPolicy", "SecretProviderClass", "ServiceAccount", "Job"} <= kinds
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"} == {
        "cromwell",
        "tes",
        "triggerservice",
    }
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "Job"} == {"db-init", "batch-config-upload"}
    assert pod_security_violations(objects) == []


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_the_upload_hook_writes_exactly_the_script_the_stack_renders(
    rendered: dict[str, list[dict[str, Any]]], dev: ProgramRun, prod: ProgramRun, stack_name: str
) -> None:
    run = dev if stack_name == "dev" else prod
    workload = one(run, "azure-native:managedidentity:UserAssignedIdentity", "id-coa-workload")
    # Neither checked-in stack configures an image scanner: the script only says there is nothing to do.
    expected = render_start_task(StartTaskSettings(managed_identity_client_id=workload.outputs["clientId"]))
    assert "SCANNER_ENABLED=false" in expected
    assert _values(run)["batch"]["nodes"]["startTaskScript"] == expected
    objects = rendered[stack_name]
    (config_map,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "batch-config"]
    assert config_map["data"]["start-task.sh"] == expected
    (job,) = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "batch-config-upload"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert _values(run)["batch"]["nodes"]["globalStartTask"] == "/configuration/start-task.sh"
    assert 'target="/mnt/configuration/start-task.sh"' in script
    # TES reads the allowed sizes from the same account's tes-internal container.
    allowed = config_map["data"]["allowed-vm-sizes"].splitlines()
    assert [line for line in allowed if not line.startswith("#")] == list(_values(run)["batch"]["allowedVmSizes"])
    volumes = [o for o in objects if o["kind"] == "PersistentVolume" and "helm.sh/hook" in o["metadata"]["annotations"]]
    storage = one(run, "azure-native:storage:StorageAccount")
    assert {
        (v["spec"]["csi"]["volumeAttributes"]["storageAccount"], v["spec"]["csi"]["volumeAttributes"]["containerName"])
        for v in volumes
    } == {(storage.outputs["name"], "configuration"), (storage.outputs["name"], "tes-internal")}
    attributes = volumes[0]["spec"]["csi"]["volumeAttributes"]
    assert (
        attributes["clientID"] == workload.outputs["clientId"]
        and attributes["mountWithWorkloadIdentityToken"] == "true"
    )


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_rendered_pods_use_only_the_private_registry_and_chart_service_accounts(
    rendered: dict[str, list[dict[str, Any]]], dev: ProgramRun, prod: ProgramRun, stack_name: str
) -> None:
    run = dev if stack_name == "dev" else prod
    registry = _values(run)["images"]["registry"]
    subjects = {
        c.inputs["subject"].rsplit(":", 1)[-1]
        for c in run.of_type("azure-native:managedidentity:FederatedIdentityCredential")
    }
    for name, spec, _ in pod_specs(rendered[stack_name]):
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["image"].startswith(registry + "/"), container["image"]
        # Every pod's service account has a federated credential (else its token exchange fails).
        assert spec["serviceAccountName"] in subjects, name


def test_pod_security_checker_catches_violations(rendered: dict[str, list[dict[str, Any]]]) -> None:
    import copy

    objects = copy.deepcopy(rendered["dev"])
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["allowPrivilegeEscalation"] = True
    deployment["spec"]["template"]["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    problems = pod_security_violations(objects)
    assert any("allowPrivilegeEscalation" in p for p in problems)
    assert any("hostPath" in p for p in problems)


# --- helm_values, the pure function ------------------------------------------------------------------------------


def _inputs(**override: str) -> ChartInputs[str]:
    base = dict(
        tenant_id="t",
        subscription_id="s",
        resource_group_name="rg",
        workload_client_id="c",
        workload_resource_id="id",
        storage_account_name="st",
        storage_blob_endpoint="https://st.blob.core.windows.net/",
        batch_account_name="ba",
        batch_endpoint="ba.westeurope.batch.azure.com",
        batch_subnet_id="subnet",
        global_start_task="/configuration/start-task.sh",
        start_task_script="#!/usr/bin/env bash\necho start\n",
        key_vault_name="kv",
        postgres_fqdn="psql.postgres.database.azure.com",
        postgres_admin_login="coa_admin",
        cromwell_db_password_secret="cromwell-db-password",
        db_admin_password_secret="postgres-admin-password",
        registry_login_server="crcoa.azurecr.io",
        tes_db_password_secret="tes-db-password",
    )
    return ChartInputs[str](**{**base, **override})


def _options(**override: Any) -> ChartOptions:
    base: dict[str, Any] = dict(
        kubernetes_version="1.36.2",
        cache_rules={rule.target_repository: rule.source_repository for rule in DEFAULT_CACHE_RULES},
        images=load_lock(),
        require_image_digests=False,
        private_endpoints_cidr="10.1.4.0/24",
        postgres_cidr="10.1.5.0/28",
        batch_prefix="coadev",
        batch_images=BatchNodeImages(gen1=DEFAULT_BATCH_IMAGE, gen2=DEFAULT_BATCH_IMAGE),
        batch_allowed_vm_sizes=("standardDDSv5Family",),
        storage_shared_key_access=False,
    )
    return ChartOptions(**{**base, **override})


# What the stack's builds print during `pulumi up` (components/image_build.py), for the images the lock builds.
BUILT = {"tes": "sha256:" + "b1" * 32, "triggerservice": "sha256:" + "b2" * 32}


def test_helm_values_uses_the_minor_version_and_registry_repositories() -> None:
    values = helm_values(_inputs(), _options(), BUILT)
    assert values["kubernetesVersion"] == "1.36"
    assert values["images"]["dbClient"]["repository"] == "library/postgres"
    # TES and TriggerService are not on MCR: they run from what the stack built, by that build's digest.
    assert values["images"]["triggerservice"] == {
        "repository": "coa-build/triggerservice",
        "tag": "6.0.0",
        "digest": BUILT["triggerservice"],
    }


def test_an_image_the_stack_builds_needs_its_build_digest() -> None:
    with pytest.raises(ValueError, match=r"images\.tes is built by the stack, but no build digest reached the chart"):
        helm_values(_inputs(), _options(), {"triggerservice": BUILT["triggerservice"]})


def test_an_image_built_once_and_recorded_runs_as_recorded() -> None:
    """build-images.sh records a digest (then --import-to each registry): the stack runs that, building nothing."""
    lock = resolved_lock()
    assert lock["tes"].source == "build" and lock.built() == []
    values = helm_values(_inputs(), _options(images=lock))
    assert values["images"]["tes"] == {"repository": "coa-build/tes", "tag": "6.0.0", "digest": lock["tes"].digest}


def test_helm_values_carries_the_start_task_script_and_rejects_one_without_a_shebang() -> None:
    script = "#!/bin/sh\necho 'x' \"$HOME\"\n"
    values = helm_values(_inputs(start_task_script=script), _options(), BUILT)
    assert values["batch"]["nodes"]["startTaskScript"] == script
    for bad in ("", "echo no interpreter\n", " #!/bin/sh\n"):
        with pytest.raises(ValueError, match="startTaskScript"):
            helm_values(_inputs(start_task_script=bad), _options(), BUILT)


def test_helm_values_rejects_missing_task_database_settings() -> None:
    with pytest.raises(ValueError, match="tes_db_password_secret"):
        helm_values(_inputs(tes_db_password_secret=""), _options(), BUILT)


def test_an_image_no_cache_rule_serves_is_refused_with_its_lock_entry() -> None:
    # An operator who verified MCR serves TriggerService 6.0.0 pulls it through its cache rule instead of building.
    cached = load_lock().from_cache_instead_of_build()
    rules = {rule.target_repository: rule.source_repository for rule in DEFAULT_CACHE_RULES}
    rules.pop("cromwellonazure/triggerservice")
    with pytest.raises(
        ValueError, match=r"images\.triggerservice: no cache rule serves cromwellonazure/triggerservice"
    ):
        helm_values(_inputs(), _options(images=cached, cache_rules=rules))
    rules["cromwellonazure/triggerservice"] = "docker.io/someone/triggerservice"
    with pytest.raises(ValueError, match=r"from mcr\.microsoft\.com/cromwellonazure/triggerservice"):
        helm_values(_inputs(), _options(images=cached, cache_rules=rules))


REGISTRY = load_values("values-dev")["images"]["registry"]


def _render_with(lock: ImageLock, *, require_digests: bool) -> list[dict[str, Any]]:
    """The chart test values with the images helm_values derives from `lock`."""
    built = {key: BUILT[key] for key in lock.built()}
    derived = helm_values(_inputs(), _options(images=lock, require_image_digests=require_digests), built)
    images = {**derived["images"], "registry": REGISTRY}
    return render_chart(deep_merge(load_values("values-dev"), {"images": images, "smokeTest": derived["smokeTest"]}))


def _containers(objects: list[dict[str, Any]]) -> dict[str, str]:
    """workload/container -> image, for every pod the chart renders (hooks and the helm test pod included)."""
    images = {}
    for obj in objects:
        spec = obj["spec"] if obj["kind"] == "Pod" else obj.get("spec", {}).get("template", {}).get("spec")
        for container in [*(spec or {}).get("initContainers", []), *(spec or {}).get("containers", [])]:
            images[f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}"] = container["image"]
    return images


def test_every_rendered_image_is_pinned_by_the_lock_digest_when_pinned() -> None:
    lock = resolved_lock()
    objects = _render_with(lock, require_digests=True)
    images = _containers(objects)
    assert images, "the chart renders no container"
    for where, image in images.items():
        name, _, digest = image.partition("@")
        assert digest and digest in {pin.digest for pin in lock.pins.values()}, f"{where}: {image}"
        assert name.startswith(f"{REGISTRY}/") and ":" in name, f"{where} keeps its tag for readers: {image}"
    # The hello-world task runs on Batch from the same lock, as repo@digest (the contracts' task_images).
    options = next(o for o in objects if o["kind"] == "ConfigMap" and "options.json" in o.get("data", {}))
    task = json.loads(options["data"]["options.json"])["default_runtime_attributes"]["docker"]
    assert task == f"{REGISTRY}/library/ubuntu@{lock['smokeTestTask'].digest}"


def test_a_build_sourced_image_runs_from_the_build_repository() -> None:
    lock = resolved_lock(tes={"source": "build"})
    values = helm_values(_inputs(), _options(images=lock))
    assert values["images"]["tes"] == {"repository": "coa-build/tes", "tag": "6.0.0", "digest": lock["tes"].digest}


@pytest.mark.parametrize("key", ["cromwell", "tes", "triggerservice", "dbClient", "smokeTest", "smokeTestTask"])
def test_the_chart_refuses_a_bare_tag_when_digests_are_required(key: str) -> None:
    # Pulled through the cache with no digest recorded (an image the stack builds always has its build's digest).
    lock = resolved_lock(**{key: {"digest": None, "resolved": None}}).from_cache_instead_of_build()
    with pytest.raises(helm_python.HelmValuesError, match="digest"):
        _render_with(lock, require_digests=True)
    # The same values render when digests are not required (dev, or a production stack that accepted it by name).
    assert _render_with(lock, require_digests=False)


# Types whose resources the pods use before they can start: the release waits for each of them in the stack.
POD_PREREQUISITES = {
    "azure-native:authorization:RoleAssignment",
    "azure-native:managedidentity:FederatedIdentityCredential",
    "azure-native:storage:BlobContainer",
    "azure-native:keyvault:Secret",
    "azure-native:dbforpostgresql:Database",
    "azure-native:batch:BatchAccount",
    "azure-native:network:PrivateEndpoint",
    "azure-native:network:PrivateDnsZoneGroup",
    "azure-native:containerregistry:CacheRule",
    "azure-native:containerservice:AgentPool",
    # The image builds: the digests they print are the TES and TriggerService images the pods run.
    "command:local:Command",
    # The Batch pool denies: TES may create a pool as soon as its pod runs (components/batch_governance.py).
    "azure-native:authorization:PolicyAssignment",
}


# Resources whose outputs are Helm values (names, ids, FQDNs): the values themselves make the release wait for them.
VALUE_SOURCES = {
    "azure-native:resources:ResourceGroup",
    "azure-native:managedidentity:UserAssignedIdentity",
    "azure-native:network:Subnet",
    "azure-native:storage:StorageAccount",
    "azure-native:keyvault:Vault",
    "azure-native:dbforpostgresql:Server",
    "azure-native:containerregistry:Registry",
}


def test_release_waits_for_exactly_what_its_pods_use(stack: ProgramRun) -> None:
    release = _release(stack)
    by_urn = stack.by_urn()
    waited = [by_urn[d] for d in release.dependencies if d in by_urn]
    custom = {r.type for r in waited if r.custom}
    # Nothing the pods never touch: diagnostics, monitoring, private link scopes, DCRs, flow logs, NSGs, zones.
    allowed = POD_PREREQUISITES | VALUE_SOURCES | {"kubernetes:core/v1:Namespace"}
    assert custom <= allowed, sorted(custom - allowed)
    assert POD_PREREQUISITES <= custom, sorted(POD_PREREQUISITES - custom)
    urns = set(release.dependencies)
    for token in ("azure-native:containerregistry:CacheRule", "azure-native:storage:BlobContainer"):
        assert {r.urn for r in stack.of_type(token)} <= urns, token
    # Every private endpoint the pods reach (blob, vault, Batch, registry) but not Azure Monitor's.
    endpoints = {by_urn[r.parent].name for r in stack.of_type("azure-native:network:PrivateEndpoint") if r.urn in urns}
    assert any("storage-blob" in e for e in endpoints) and any("registry" in e for e in endpoints)
    assert any("vault" in e for e in endpoints) and any("batchaccount" in e for e in endpoints)
    assert not any("mon" in e.split("-")[2:3] for e in endpoints), endpoints
    # Every Batch pool assignment, not the cluster's image admission (the add-on enforces that on its own schedule).
    assignments = {r.name for r in stack.of_type("azure-native:authorization:PolicyAssignment") if r.urn in urns}
    assert {a for a in assignments if "batch-governance" in a} == {
        r.name for r in stack.of_type("azure-native:authorization:PolicyAssignment") if "batch-governance" in r.name
    } and len(assignments) == 5, assignments


def test_postgres_server_waits_for_its_zone_link(stack: ProgramRun) -> None:
    server = one(stack, "azure-native:dbforpostgresql:Server")
    zone = by_id(stack, server.inputs["network"]["privateDnsZoneArmResourceId"])
    (link,) = [
        link
        for link in stack.of_type("azure-native:privatedns:VirtualNetworkLink")
        if link.inputs["privateZoneName"] == zone.outputs["name"]
    ]
    assert link.urn in server.dependencies
