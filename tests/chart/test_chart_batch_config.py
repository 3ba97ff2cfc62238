"""The batch-config upload hook: the exact start task and allowed-VM-size list reach the blobs TES reads, keylessly,
before anything else runs, and a failed or wrong write fails the Job (and so the release)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chart_checks import by_kind, case_values, get, is_hook
from render import render_chart

from components.start_task import ImageScannerSettings, StartTaskSettings, render_start_task

HOOK_EVENTS = "pre-install,pre-upgrade"
SCANNER = ImageScannerSettings(
    image="crcoadev7f3a.azurecr.io/security/scanner:2.4.1",
    registry_server="crcoadev7f3a.azurecr.io",
    key_vault_name="kv-coa-dev-7f3a",
    username_secret_name="scanner-user",
    password_secret_name="scanner-pass",
    env={"MODE": "block $HOME `id`"},
    container_args=("--flag='x'", "{{ .Values.azure.tenantId }}"),
)
REAL_SCRIPT = render_start_task(
    StartTaskSettings(managed_identity_client_id="3c1b9f0e-5a7d-4e2b-9c41-8f6d2a0b7e15", scanner=SCANNER)
)


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["metadata"].get("annotations") or {})


def _weight(obj: dict[str, Any]) -> int:
    return int(_annotations(obj)["helm.sh/hook-weight"])


def _job(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return get(objects, "Job", "batch-config-upload")


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = _job(objects)["spec"]["template"]["spec"]["containers"]
    return container


def _files(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {key: str(value) for key, value in get(objects, "ConfigMap", "batch-config")["data"].items()}


def _uploaded_script(objects: list[dict[str, Any]]) -> str:
    return _files(objects)["start-task.sh"]


def _with(case: str, **nodes: object) -> dict[str, Any]:
    values = case_values(case)
    values["batch"]["nodes"].update(nodes)
    return values


def _blob_volumes(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Job's blob volumes by mount path: /mnt/<container> -> its hook PersistentVolume."""
    spec = _job(objects)["spec"]["template"]["spec"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v
    }
    found = {}
    for mount in _container(objects)["volumeMounts"]:
        if mount["name"] in claims:
            claim = get(objects, "PersistentVolumeClaim", claims[mount["name"]])
            found[mount["mountPath"]] = get(objects, "PersistentVolume", claim["spec"]["volumeName"])
    return found


def test_config_map_carries_the_exact_script(case: str, objects: list[dict[str, Any]]) -> None:
    assert _uploaded_script(objects) == case_values(case)["batch"]["nodes"]["startTaskScript"]


def test_config_map_carries_the_allowed_vm_sizes_in_tes_format(case: str, objects: list[dict[str, Any]]) -> None:
    """One name per line, '#' lines are comments (ga4gh-tes@6.0.0:src/TesApi.Web/ConfigurationUtils.cs:102-110)."""
    text = _files(objects)["allowed-vm-sizes"]
    lines = [line.strip() for line in text.split("\n")]
    entries = [line for line in lines if line and not line.startswith("#")]
    assert entries == case_values(case)["batch"]["allowedVmSizes"]
    assert text.startswith("# ") and "<" not in text  # TES drops everything after '<' on a line


@pytest.mark.parametrize(
    "script",
    [
        REAL_SCRIPT,
        "#!/bin/sh\necho 'no trailing newline' \"$PATH\" `id`",
        "#!/bin/bash\r\necho crlf\r\n",
        "#!/bin/sh\n\techo tab \\\\ backslash ü 日本 {{ .Release.Name }} %s %q\n\n\n",
        "#!/bin/sh\n---\nkey: value\n# not yaml: |\n  - [a, b]\n",
    ],
    ids=["rendered-with-scanner", "no-trailing-newline", "crlf", "escapes-unicode-template-text", "yaml-lookalike"],
)
def test_every_byte_of_the_script_survives_helm(script: str) -> None:
    objects = render_chart(_with("prod-postgresql", startTaskScript=script))
    assert _uploaded_script(objects) == script


def test_the_job_copies_each_file_to_the_blob_tes_reads(case: str, objects: list[dict[str, Any]]) -> None:
    values = case_values(case)
    job = _job(objects)
    spec = job["spec"]["template"]["spec"]
    container = _container(objects)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert volumes["files"]["configMap"]["name"] == "batch-config"
    assert mounts["files"]["mountPath"] == "/batch-config" and mounts["files"]["readOnly"] is True
    blobs = _blob_volumes(objects)
    # globalStartTask is /<container>/<blob>; TES 6 reads tes-internal/configuration/allowed-vm-sizes
    # (ga4gh-tes@6.0.0:src/TesApi.Web/ConfigurationUtils.cs:78, DefaultStorageAccessProvider.cs:224).
    container_name, blob = values["batch"]["nodes"]["globalStartTask"].lstrip("/").split("/", 1)
    assert {path: pv["spec"]["csi"]["volumeAttributes"]["containerName"] for path, pv in blobs.items()} == {
        f"/mnt/{container_name}": container_name,
        "/mnt/tes-internal": "tes-internal",
    }
    script = container["args"][0]
    assert container["command"] == ["/bin/sh", "-c"] and script.startswith("set -eu\n")
    for key, target in (
        ("start-task.sh", f"/mnt/{container_name}/{blob}"),
        ("allowed-vm-sizes", "/mnt/tes-internal/configuration/allowed-vm-sizes"),
    ):
        assert f'target="{target}"' in script
        copy_at = script.index(f'cp "/batch-config/{key}" "$target"')
        assert script.index(f'cmp "/batch-config/{key}" "$target"') > copy_at
    assert not [m for m in container["volumeMounts"] if not m.get("readOnly") and m["mountPath"].startswith("/batch")]
    assert spec["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["activeDeadlineSeconds"] <= 600
    assert container["image"].endswith("/library/postgres:16.4-alpine3.20") or "@sha256:" in container["image"]


def test_nested_blob_paths_and_other_containers_follow_global_start_task() -> None:
    objects = render_chart(_with("dev-postgresql", globalStartTask="/workflows/nodes/boot.sh"))
    assert 'target="/mnt/workflows/nodes/boot.sh"' in _container(objects)["args"][0]
    hooked = {p["metadata"]["name"] for p in by_kind(objects, "PersistentVolume") if is_hook(p)}
    assert hooked == {"coa-batch-config-workflows", "coa-batch-config-tes-internal"}


def test_a_start_task_in_tes_internal_shares_one_volume() -> None:
    objects = render_chart(_with("dev-postgresql", globalStartTask="/tes-internal/boot/start-task.sh"))
    assert list(_blob_volumes(objects)) == ["/mnt/tes-internal"]


def test_the_volumes_are_keyless_read_write_and_distinct_from_the_release_volumes(
    case: str, objects: list[dict[str, Any]]
) -> None:
    values = case_values(case)
    hooked = [p for p in by_kind(objects, "PersistentVolume") if is_hook(p)]
    assert len(hooked) == 2
    for pv in hooked:
        csi = pv["spec"]["csi"]
        attrs = csi["volumeAttributes"]
        assert csi["driver"] == "blob.csi.azure.com" and "nodeStageSecretRef" not in csi and "readOnly" not in csi
        assert attrs["mountWithWorkloadIdentityToken"] == "true"
        assert attrs["clientID"] == values["workloadIdentity"]["clientId"]
        assert attrs["tenantID"] == values["azure"]["tenantId"]
        assert attrs["storageAccount"] == values["storage"]["accountName"]
        assert not {"keyVaultURL", "secretName", "azurestorageaccountkey", "azurestorageaccountsastoken"} & set(attrs)
        assert not [o for o in pv["spec"]["mountOptions"] if "key" in o.lower() or "sas" in o.lower()]
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        assert pv["spec"]["accessModes"] == ["ReadWriteMany"]
        claim = get(objects, "PersistentVolumeClaim", pv["spec"]["claimRef"]["name"])
        assert is_hook(claim) and claim["spec"]["volumeName"] == pv["metadata"]["name"]
        assert pv["spec"]["claimRef"]["namespace"] == claim["metadata"]["namespace"] == "coa"
        # Bound statically without a class: the release's StorageClass does not exist yet when the hook runs.
        assert pv["spec"]["storageClassName"] == claim["spec"]["storageClassName"] == ""
        # The read-back must not be served by blobfuse2's local file cache.
        assert "--file-cache-timeout-in-seconds=0" in pv["spec"]["mountOptions"]
    handles = [p["spec"]["csi"]["volumeHandle"] for p in by_kind(objects, "PersistentVolume")]
    assert len(handles) == len(set(handles)), handles  # kubelet stages volumes by handle


def test_everything_the_job_uses_is_an_earlier_hook(case: str, objects: list[dict[str, Any]]) -> None:
    job = _job(objects)
    assert _annotations(job)["helm.sh/hook"] == HOOK_EVENTS
    assert _annotations(job)["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    spec = job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    claims = [
        get(objects, "PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"])
        for v in volumes.values()
        if "persistentVolumeClaim" in v
    ]
    assert len(claims) == 2
    pvs = [get(objects, "PersistentVolume", claim["spec"]["volumeName"]) for claim in claims]
    uses = [
        get(objects, "ServiceAccount", spec["serviceAccountName"]),
        get(objects, "ConfigMap", volumes["files"]["configMap"]["name"]),
        get(objects, "NetworkPolicy", "batch-config-upload"),
        *claims,
        *pvs,
    ]
    for used in uses:
        label = f"{used['kind']}/{used['metadata']['name']}"
        assert _annotations(used)["helm.sh/hook"] == HOOK_EVENTS, label
        assert _weight(used) < _weight(job), label
        # Recreated on every run; never deleted on success (Helm waits for hook deletes in weight order, and a
        # bound volume deleted before its claim would wait on pv-protection for the whole release timeout).
        assert _annotations(used)["helm.sh/hook-delete-policy"] == "before-hook-creation", label
    # Before-hook-creation deletes run in weight order too: a claim goes first, which releases its volume.
    assert max(_weight(c) for c in claims) < min(_weight(p) for p in pvs)
    # Helm creates every non-hook object (TES included) only after all pre-install/pre-upgrade hooks succeeded.
    assert not is_hook(get(objects, "Deployment", "tes"))


def test_the_upload_runs_even_without_db_init() -> None:
    values = case_values("prod-postgresql")
    values["dbInit"] = {"enabled": False}
    objects = render_chart(values)
    assert [j["metadata"]["name"] for j in by_kind(objects, "Job")] == ["batch-config-upload"]
    sa = get(objects, "ServiceAccount", _job(objects)["spec"]["template"]["spec"]["serviceAccountName"])
    assert is_hook(sa) and _weight(sa) < _weight(_job(objects))
    assert not [o for o in objects if o["metadata"]["name"].startswith("db-init")]


# --- the Job's shell script, run for real ---------------------------------------------------------------------------


def _run_upload(root: Path, objects: list[dict[str, Any]], fake_bin: Path | None = None) -> int:
    """Runs the Job's script with /batch-config and /mnt redirected under root (root/mnt/<container> must exist)."""
    container = _container(objects)
    source_dir = root / "batch-config"
    source_dir.mkdir(exist_ok=True)
    for key, text in _files(objects).items():
        (source_dir / key).write_text(text, encoding="utf-8", newline="")
    script = container["args"][0].replace('"/batch-config/', f'"{source_dir}/').replace('"/mnt/', f'"{root}/mnt/')
    env = {e["name"]: e["value"] for e in container["env"]}
    path = os.environ["PATH"] if fake_bin is None else f"{fake_bin}:{os.environ['PATH']}"
    result = subprocess.run(
        ["/bin/sh", "-c", script], env={**env, "PATH": path}, capture_output=True, text=True, timeout=30, check=False
    )
    return result.returncode


def _mount(tmp_path: Path, name: str, containers: tuple[str, ...] = ("configuration", "tes-internal")) -> Path:
    root = tmp_path / name
    for container in containers:
        (root / "mnt" / container).mkdir(parents=True)
    return root


def test_the_script_writes_both_blobs_and_is_idempotent(tmp_path: Path) -> None:
    objects = render_chart(
        _with("dev-postgresql", startTaskScript=REAL_SCRIPT, globalStartTask="/configuration/a/b/start-task.sh")
    )
    root = _mount(tmp_path, "mount")
    assert _run_upload(root, objects) == 0
    start_task = root / "mnt" / "configuration" / "a" / "b" / "start-task.sh"
    allowed = root / "mnt" / "tes-internal" / "configuration" / "allowed-vm-sizes"
    assert start_task.read_bytes().decode("utf-8") == REAL_SCRIPT
    assert allowed.read_text() == _files(objects)["allowed-vm-sizes"]
    # Re-running (every upgrade) overwrites whatever is there with the same bytes, including TES's own warnings.
    start_task.write_text("#!/bin/sh\nstale and longer than nothing at all\n" * 1000)
    allowed.write_text("Standard_X1 <-- WARNING: This VM size or family is either misspelled or not supported\n")
    assert _run_upload(root, objects) == 0
    assert start_task.read_bytes().decode("utf-8") == REAL_SCRIPT
    assert allowed.read_text() == _files(objects)["allowed-vm-sizes"]


def test_a_wrong_write_fails_the_job(tmp_path: Path, objects: list[dict[str, Any]]) -> None:
    # A `cp` that exits 0 but leaves a truncated blob (what a lost upload looks like): cmp catches it.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake_cp = fake_bin / "cp"
    fake_cp.write_text('#!/bin/sh\nhead -c 10 "$1" > "$2"\n')
    fake_cp.chmod(fake_cp.stat().st_mode | stat.S_IXUSR)
    root = _mount(tmp_path, "truncated")
    assert _run_upload(root, objects, fake_bin) != 0
    assert (root / "mnt" / "configuration" / "start-task.sh").stat().st_size == 10


def test_a_refused_write_fails_the_job(tmp_path: Path) -> None:
    # The blob's parent "directory" is a file: mkdir -p fails (as it does on a mount that refuses writes).
    objects = render_chart(_with("dev-postgresql", globalStartTask="/configuration/nodes/start-task.sh"))
    root = _mount(tmp_path, "refused")
    (root / "mnt" / "configuration" / "nodes").write_text("in the way")
    assert _run_upload(root, objects) != 0
    assert not (root / "mnt" / "tes-internal" / "configuration" / "allowed-vm-sizes").exists()
