"""The chart renders for dev/prod and both TES generations, every object validates, and the wiring is right."""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from chart_checks import (
    by_kind,
    case_values,
    env_of,
    get,
    is_hook,
    pod_specs,
    rendered_case,
)
from render import kind_counts, render_chart

# The SecretProviderClass CRD (secrets-store.csi.x-k8s.io/v1) is not in the Kubernetes OpenAPI, so it is
# checked against its CRD schema, tightened to what the Azure Key Vault provider needs.
SPC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "secrets-store.csi.x-k8s.io/v1"},
        "kind": {"const": "SecretProviderClass"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["provider", "parameters"],
            "properties": {
                "provider": {"const": "azure"},
                "parameters": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "required": ["usePodIdentity", "clientID", "keyvaultName", "tenantId", "objects"],
                    "properties": {"usePodIdentity": {"const": "false"}, "useVMManagedIdentity": {"const": "false"}},
                },
            },
        },
    },
}
EXPECTED_KINDS = {
    "ConfigMap",
    "Deployment",
    "Job",
    "Pod",
    "NetworkPolicy",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "SecretProviderClass",
    "Service",
    "ServiceAccount",
    "StorageClass",
}


def test_every_object_validates_for_the_cluster_version(case: str, objects: list[dict[str, Any]]) -> None:
    version = case_values(case)["kubernetesVersion"]
    assert {o["kind"] for o in objects} == EXPECTED_KINDS
    for obj in objects:
        if obj["kind"] == "SecretProviderClass":
            jsonschema.validate(obj, SPC_SCHEMA)
        else:
            kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_would_catch_a_misspelt_field(objects: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(get(objects, "Deployment", "cromwell"))
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.36", strict=True)


def test_kind_counts_per_case(case: str, objects: list[dict[str, Any]]) -> None:
    counts = kind_counts(objects)
    mount = not case.endswith("-blob")
    assert counts["Deployment"] == 3 and counts["Service"] == 2 and counts["Job"] == 2
    # One per container (+ executions when mounted) + the batch-config hook's two read-write volumes.
    assert counts["PersistentVolume"] == (8 if mount else 7)
    assert counts["PersistentVolumeClaim"] == counts["PersistentVolume"] + 1  # + cromwell-tmp
    assert counts["SecretProviderClass"] == 4
    assert counts["NetworkPolicy"] == 8 and counts["StorageClass"] == 1 and counts["Pod"] == 1
    assert counts["ServiceAccount"] == 2 and counts["ConfigMap"] == 4


def test_cromwell_config_points_at_tes_blob_and_tls_postgres(case: str, objects: list[dict[str, Any]]) -> None:
    values = case_values(case)
    conf = get(objects, "ConfigMap", "cromwell-config")["data"]["cromwell-application.conf"]
    assert 'endpoint = "http://tes.coa.svc.cluster.local/v1/tasks"' in conf
    assert 'default = "TES"' in conf and "TesBackendLifecycleActorFactory" in conf
    fqdn, db = values["postgres"]["serverFqdn"], values["postgres"]["cromwell"]["databaseName"]
    assert f'url = "jdbc:postgresql://{fqdn}:5432/{db}?sslmode=require"' in conf
    assert "password = ${CROMWELL_DB_PASSWORD}" in conf
    if not case.endswith("-blob"):
        assert 'root = "/cromwell-executions"' in conf and "BlobPathBuilderFactory" not in conf
    else:
        account = values["storage"]["accountName"]
        assert f'root = "https://{account}.blob.core.windows.net/cromwell-executions/"' in conf
        assert "cromwell.filesystems.blob.BlobPathBuilderFactory" in conf
        assert f'subscription = "{values["storage"]["subscriptionId"]}"' in conf


def test_tes_gets_its_6_0_settings_from_values(case: str, objects: list[dict[str, Any]]) -> None:
    values = case_values(case)
    tes = get(objects, "Deployment", "tes")["spec"]["template"]["spec"]["containers"][0]
    env = env_of(tes)
    nodes = values["batch"]["nodes"]
    assert env["BatchAccount__AccountName"] == values["batch"]["accountName"]
    assert env["BatchNodes__SubnetId"] == nodes["subnetId"]
    assert env["BatchNodes__DisablePublicIpAddress"] == "true"
    assert env["BatchNodes__GlobalStartTask"] == "/configuration/start-task.sh"
    assert env["BatchNodes__GlobalManagedIdentity"] == values["workloadIdentity"]["resourceId"]
    assert env["Storage__DefaultAccountName"] == values["storage"]["accountName"]
    assert env["TesPostgreSql__ServerName"] + env["TesPostgreSql__ServerNameSuffix"] == values["postgres"]["serverFqdn"]
    assert "." not in env["TesPostgreSql__ServerName"]
    assert env["TesPostgreSql__DatabaseName"] == "tes_db" and env["TesPostgreSql__ServerSslMode"] == "VerifyFull"
    assert env["AzureServicesAuthConnectionString"] == f"RunAs=Workload;AppId={values['workloadIdentity']['clientId']}"
    assert "TesPostgreSql__DatabaseUserPassword" not in env  # comes from the Key Vault file
    for generation, key in (("gen1", "BatchImageGen1"), ("gen2", "BatchImageGen2")):
        image = values.get("batch", {}).get("images", {}).get(generation) or {
            "nodeAgentSkuId": "batch.node.ubuntu 22.04"
        }
        assert env[f"{key}__NodeAgentSkuId"] == image["nodeAgentSkuId"]
        assert env[f"{key}__Offer"] and env[f"{key}__Publisher"] and env[f"{key}__Sku"]
    # No telemetry path that Application Insights (local auth off) would refuse.
    assert not [k for k in env if "ApplicationInsights" in k or k == "APPLICATIONINSIGHTS_CONNECTION_STRING"]


def test_triggerservice_reaches_cromwell_and_the_task_store(case: str, objects: list[dict[str, Any]]) -> None:
    values = case_values(case)
    env = env_of(get(objects, "Deployment", "triggerservice")["spec"]["template"]["spec"]["containers"][0])
    assert env["CromwellApiClient__BaseUrl"] == "http://cromwell.coa.svc.cluster.local:8000"
    assert env["TriggerService__DefaultStorageAccountName"] == values["storage"]["accountName"]
    assert env["TesPostgreSql__DatabaseUserLogin"] == values["postgres"]["tes"]["userName"]
    assert not [k for k in env if "ApplicationInsights" in k or k == "APPLICATIONINSIGHTS_CONNECTION_STRING"]


def test_services_are_cluster_ip_on_the_expected_ports(objects: list[dict[str, Any]]) -> None:
    assert not by_kind(objects, "Ingress")
    services = {s["metadata"]["name"]: s for s in by_kind(objects, "Service")}
    assert set(services) == {"cromwell", "tes"}
    for svc in services.values():
        assert svc["spec"]["type"] == "ClusterIP"
        assert not svc["spec"].get("externalIPs") and "loadBalancerIP" not in svc["spec"]
    assert [p["port"] for p in services["cromwell"]["spec"]["ports"]] == [8000]
    assert [p["port"] for p in services["tes"]["spec"]["ports"]] == [80]
    for name, svc in services.items():
        container = get(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        target = svc["spec"]["ports"][0]["targetPort"]
        assert target in named, f"{name}: targetPort {target} is not a container port"
        selector = svc["spec"]["selector"]
        labels = get(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()


def test_workload_identity_service_account_and_pod_labels(case: str, objects: list[dict[str, Any]]) -> None:
    values = case_values(case)
    sa = get(objects, "ServiceAccount", values["serviceAccount"]["name"])
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == values["workloadIdentity"]["clientId"]
    assert sa["automountServiceAccountToken"] is False
    hook_sa = get(objects, "ServiceAccount", values["serviceAccount"]["name"] + "-db-init")
    assert is_hook(hook_sa) and hook_sa["automountServiceAccountToken"] is False
    assert hook_sa["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"
    assert (
        hook_sa["metadata"]["annotations"]["azure.workload.identity/client-id"]
        == (values["workloadIdentity"]["clientId"])
    )
    for name, spec, labels in pod_specs(objects):
        assert labels.get("azure.workload.identity/use") == "true", name
        # Hook pods run before the release's own service account exists: they use the hook-created one.
        hook = name in ("db-init", "batch-config-upload")
        assert spec["serviceAccountName"] == hook_sa["metadata"]["name"] if hook else sa["metadata"]["name"], name


def test_blob_volumes_are_keyless_and_mounted(case: str, objects: list[dict[str, Any]]) -> None:
    values = case_values(case)
    client_id = values["workloadIdentity"]["clientId"]
    claims = {c["metadata"]["name"]: c for c in by_kind(objects, "PersistentVolumeClaim")}
    for pv in by_kind(objects, "PersistentVolume"):
        csi = pv["spec"]["csi"]
        attrs = csi["volumeAttributes"]
        assert csi["driver"] == "blob.csi.azure.com" and "nodeStageSecretRef" not in csi
        assert attrs["mountWithWorkloadIdentityToken"] == "true" and attrs["clientID"] == client_id
        assert attrs["storageAccount"] == values["storage"]["accountName"]
        assert not {"keyVaultURL", "secretName", "azurestorageaccountkey"} & set(attrs)
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        claim = claims[pv["spec"]["claimRef"]["name"]]
        assert claim["spec"]["volumeName"] == pv["metadata"]["name"]
    sc = by_kind(objects, "StorageClass")[0]
    assert sc["parameters"]["mountWithWorkloadIdentityToken"] == "true" and sc["reclaimPolicy"] == "Retain"
    cromwell = get(objects, "Deployment", "cromwell")["spec"]["template"]["spec"]
    claim_of = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in cromwell["volumes"] if "persistentVolumeClaim" in v
    }
    mounts = {m["mountPath"]: claim_of.get(m["name"]) for m in cromwell["containers"][0]["volumeMounts"]}
    account = values["storage"]["accountName"]
    expected = {
        "/configuration": "blob-configuration",
        "/cromwell-workflow-logs": "blob-cromwell-workflow-logs",
        "/outputs": "blob-outputs",
        f"/{account}/inputs": "blob-inputs",
        f"/{account}/workflows": "blob-workflows",
        "/cromwell-tmp": "cromwell-tmp",
    }
    if not case.endswith("-blob"):
        expected["/cromwell-executions"] = "blob-cromwell-executions"
    assert {p: c for p, c in mounts.items() if c} == expected
    assert claims["cromwell-tmp"]["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_each_pod_mounts_only_its_own_key_vault_secrets(objects: list[dict[str, Any]]) -> None:
    spcs = {s["metadata"]["name"]: s for s in by_kind(objects, "SecretProviderClass")}
    for name, spec, _ in pod_specs(objects):
        refs = [
            v["csi"]["volumeAttributes"]["secretProviderClass"]
            for v in spec["volumes"]
            if v.get("csi", {}).get("driver") == "secrets-store.csi.k8s.io"
        ]
        script = "\n".join(spec["containers"][0].get("args", []))
        if name == "db-init":
            script = get(objects, "ConfigMap", "db-init-scripts")["data"]["run.sh"]
        read = set(re.findall(r"/mnt/secrets-store/([a-z0-9-]+)", script))
        if name == "db-init":
            # Each login slot's password file is named after its secret (create_login <db> <owner> <login> <file>).
            read |= set(re.findall(r'create_login "[^"]+" "[^"]+" "[^"]+" "([^"]+)"', script))
        if not refs:
            assert not read, f"{name} reads {read} without a secrets-store volume"
            continue
        assert len(refs) == 1 and refs[0] in spcs, name
        objects_yaml = yaml.safe_load(spcs[refs[0]]["spec"]["parameters"]["objects"])["array"]
        aliases = {yaml.safe_load(o)["objectAlias"] for o in objects_yaml}
        assert read <= aliases, f"{name} reads {read - aliases} its SecretProviderClass does not provide"
        assert aliases <= read | {"cromwell-db-password", "tes-db-password"}, f"{name} gets unused secrets"


def test_db_init_hook_runs_before_the_release_with_its_own_prerequisites(
    case: str, objects: list[dict[str, Any]]
) -> None:
    job = get(objects, "Job", "db-init")
    assert is_hook(job) and job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    weight = int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    hooks = [o for o in objects if is_hook(o) and o is not job and _component(o) in ("db-init", "hooks")]
    assert {(o["kind"], o["metadata"]["name"]) for o in hooks} == {
        ("ServiceAccount", "coa-workload-db-init"),
        ("SecretProviderClass", "db-init-secrets"),
        ("NetworkPolicy", "db-init"),
        ("ConfigMap", "db-init-scripts"),
    }
    assert all(_weight(o) < weight for o in hooks)
    run = get(objects, "ConfigMap", "db-init-scripts")["data"]["run.sh"]
    assert "tes_db" in run and "cromwell_db" in run
    sql = get(objects, "ConfigMap", "db-init-scripts")["data"]["create-user.sql"]
    # The Azure admin is no superuser: it may not state NOSUPERUSER/NOREPLICATION (test_db_init_sql.py runs this SQL
    # as such an admin), so the hook refuses a slot that has them instead.
    assert "LOGIN NOCREATEDB NOCREATEROLE" in sql and "REVOKE ALL ON DATABASE" in sql
    assert "WITH LOGIN NOSUPERUSER" not in sql and "rolsuper OR rolreplication OR rolbypassrls" in sql
    assert env_of(job["spec"]["template"]["spec"]["containers"][0])["PGSSLMODE"] == "require"


def _component(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("labels", {}).get("app.kubernetes.io/component", ""))


def _weight(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["annotations"]["helm.sh/hook-weight"])


def test_render_is_deterministic() -> None:
    assert render_chart(case_values("prod")) == rendered_case("prod")
