"""The start-task upload hook: the exact script reaches the blob TES reads, keylessly, before anything else runs, and
a failed or wrong write fails the Job (and so the release)."""

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
    return get(objects, "Job", "start-task-upload")


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = _job(objects)["spec"]["template"]["spec"]["containers"]
    return container


def _uploaded_script(objects: list[dict[str, Any]]) -> str:
    return str(get(objects, "ConfigMap", "start-task-script")["data"]["start-task.sh"])


def _with(case: str, **nodes: object) -> dict[str, Any]:
    values = case_values(case)
    values["batch"]["nodes"].update(nodes)
    return values


def test_config_map_carries_the_exact_script(case: str, objects: list[dict[str, Any]]) -> None:
    assert _uploaded_script(objects) == case_values(case)["batch"]["nodes"]["startTaskScript"]


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


def test_the_job_copies_the_config_map_to_the_global_start_task_blob(case: str, objects: list[dict[str, Any]]) -> None:
    values = case_values(case)
    job = _job(objects)
    spec = job["spec"]["template"]["spec"]
    container = _container(objects)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert volumes["script"]["configMap"]["name"] == "start-task-script"
    assert mounts["script"]["mountPath"] == "/start-task" and mounts["script"]["readOnly"] is True
    claim = get(objects, "PersistentVolumeClaim", volumes["blob"]["persistentVolumeClaim"]["claimName"])
    pv = get(objects, "PersistentVolume", claim["spec"]["volumeName"])
    assert not mounts["blob"].get("readOnly") and mounts["blob"]["mountPath"] == "/mnt/blob"
    env = {e["name"]: e["value"] for e in container["env"]}
    # globalStartTask is /<container>/<blob>: the volume is that container, the target that blob inside it.
    container_name, blob = values["batch"]["nodes"]["globalStartTask"].lstrip("/").split("/", 1)
    assert pv["spec"]["csi"]["volumeAttributes"]["containerName"] == container_name == "configuration"
    assert env["START_TASK_TARGET"] == f"/mnt/blob/{blob}" == "/mnt/blob/start-task.sh"
    script = container["args"][0]
    assert container["command"] == ["/bin/sh", "-c"] and script.startswith("set -eu\n")
    copy_at = script.index('cp /start-task/start-task.sh "$START_TASK_TARGET"')
    assert script.index('cmp /start-task/start-task.sh "$START_TASK_TARGET"') > copy_at
    assert spec["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["activeDeadlineSeconds"] <= 600
    assert container["image"].endswith("/library/postgres:16.4-alpine3.20") or "@sha256:" in container["image"]


def test_nested_blob_paths_and_other_containers_follow_global_start_task() -> None:
    objects = render_chart(_with("dev-postgresql", globalStartTask="/workflows/nodes/boot.sh"))
    env = {e["name"]: e["value"] for e in _container(objects)["env"]}
    assert env["START_TASK_TARGET"] == "/mnt/blob/nodes/boot.sh"
    (pv,) = [p for p in by_kind(objects, "PersistentVolume") if is_hook(p)]
    assert pv["spec"]["csi"]["volumeAttributes"]["containerName"] == "workflows"
    assert pv["metadata"]["name"] == "coa-start-task-workflows"


def test_the_volume_is_keyless_read_write_and_distinct_from_the_release_volumes(
    case: str, objects: list[dict[str, Any]]
) -> None:
    values = case_values(case)
    hooked = [p for p in by_kind(objects, "PersistentVolume") if is_hook(p)]
    assert len(hooked) == 1
    pv = hooked[0]
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
    handles = [p["spec"]["csi"]["volumeHandle"] for p in by_kind(objects, "PersistentVolume")]
    assert len(handles) == len(set(handles)), handles  # kubelet stages volumes by handle
    claim = get(objects, "PersistentVolumeClaim", pv["spec"]["claimRef"]["name"])
    assert is_hook(claim) and claim["spec"]["volumeName"] == pv["metadata"]["name"]
    assert pv["spec"]["claimRef"]["namespace"] == claim["metadata"]["namespace"] == "coa"
    # Bound statically without a class: the release's StorageClass does not exist yet when the hook runs.
    assert pv["spec"]["storageClassName"] == claim["spec"]["storageClassName"] == ""
    # The read-back must not be served by blobfuse2's local file cache.
    assert "--file-cache-timeout-in-seconds=0" in pv["spec"]["mountOptions"]


def test_everything_the_job_uses_is_an_earlier_hook(case: str, objects: list[dict[str, Any]]) -> None:
    job = _job(objects)
    assert _annotations(job)["helm.sh/hook"] == HOOK_EVENTS
    assert _annotations(job)["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    spec = job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    claim = get(objects, "PersistentVolumeClaim", volumes["blob"]["persistentVolumeClaim"]["claimName"])
    uses = [
        get(objects, "ServiceAccount", spec["serviceAccountName"]),
        get(objects, "ConfigMap", volumes["script"]["configMap"]["name"]),
        get(objects, "NetworkPolicy", "start-task-upload"),
        claim,
        get(objects, "PersistentVolume", claim["spec"]["volumeName"]),
    ]
    for used in uses:
        label = f"{used['kind']}/{used['metadata']['name']}"
        assert _annotations(used)["helm.sh/hook"] == HOOK_EVENTS, label
        assert _weight(used) < _weight(job), label
        # Recreated on every run; never deleted on success (Helm waits for hook deletes in weight order, and a
        # bound volume deleted before its claim would wait on pv-protection for the whole release timeout).
        assert _annotations(used)["helm.sh/hook-delete-policy"] == "before-hook-creation", label
    # Before-hook-creation deletes run in weight order too: the claim goes first, which releases the volume.
    assert _weight(claim) < _weight(uses[-1])
    # Helm creates every non-hook object (TES included) only after all pre-install/pre-upgrade hooks succeeded.
    assert not is_hook(get(objects, "Deployment", "tes"))


def test_the_upload_runs_even_without_db_init() -> None:
    values = case_values("prod-postgresql")
    values["dbInit"] = {"enabled": False}
    objects = render_chart(values)
    assert [j["metadata"]["name"] for j in by_kind(objects, "Job")] == ["start-task-upload"]
    sa = get(objects, "ServiceAccount", _job(objects)["spec"]["template"]["spec"]["serviceAccountName"])
    assert is_hook(sa) and _weight(sa) < _weight(_job(objects))
    assert not [o for o in objects if o["metadata"]["name"].startswith("db-init")]


# --- the Job's shell script, run for real ---------------------------------------------------------------------------


def _run_upload(root: Path, objects: list[dict[str, Any]], fake_bin: Path | None = None) -> tuple[int, Path]:
    """Runs the Job's script with /start-task and /mnt/blob redirected under root (which must hold `blob`)."""
    container = _container(objects)
    source_dir = root / "start-task"
    source_dir.mkdir(exist_ok=True)
    (source_dir / "start-task.sh").write_text(_uploaded_script(objects), encoding="utf-8", newline="")
    script = container["args"][0].replace("/start-task/", f"{source_dir}/")
    env = {e["name"]: e["value"] for e in container["env"]}
    env["START_TASK_TARGET"] = env["START_TASK_TARGET"].replace("/mnt/blob", str(root / "blob"), 1)
    path = os.environ["PATH"] if fake_bin is None else f"{fake_bin}:{os.environ['PATH']}"
    result = subprocess.run(
        ["/bin/sh", "-c", script], env={**env, "PATH": path}, capture_output=True, text=True, timeout=30, check=False
    )
    return result.returncode, Path(env["START_TASK_TARGET"])


def _mount(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    (root / "blob").mkdir(parents=True)
    return root


def test_the_script_writes_the_blob_and_is_idempotent(tmp_path: Path) -> None:
    objects = render_chart(
        _with("dev-postgresql", startTaskScript=REAL_SCRIPT, globalStartTask="/configuration/a/b/start-task.sh")
    )
    root = _mount(tmp_path, "mount")
    code, target = _run_upload(root, objects)
    assert code == 0 and target == root / "blob" / "a" / "b" / "start-task.sh"
    assert target.read_bytes().decode("utf-8") == REAL_SCRIPT
    # Re-running (every upgrade) overwrites whatever is there with the same bytes.
    target.write_text("#!/bin/sh\nstale and longer than nothing at all\n" * 1000)
    code, target = _run_upload(root, objects)
    assert code == 0 and target.read_bytes().decode("utf-8") == REAL_SCRIPT


def test_a_wrong_write_fails_the_job(tmp_path: Path, objects: list[dict[str, Any]]) -> None:
    # A `cp` that exits 0 but leaves a truncated blob (what a lost upload looks like): cmp catches it.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake_cp = fake_bin / "cp"
    fake_cp.write_text('#!/bin/sh\nhead -c 10 "$1" > "$2"\n')
    fake_cp.chmod(fake_cp.stat().st_mode | stat.S_IXUSR)
    code, target = _run_upload(_mount(tmp_path, "truncated"), objects, fake_bin)
    assert code != 0 and target.stat().st_size == 10


def test_a_refused_write_fails_the_job(tmp_path: Path) -> None:
    # The blob's parent "directory" is a file: mkdir -p fails (as it does on a mount that refuses writes).
    objects = render_chart(_with("dev-postgresql", globalStartTask="/configuration/nodes/start-task.sh"))
    root = _mount(tmp_path, "refused")
    (root / "blob" / "nodes").write_text("in the way")
    code, target = _run_upload(root, objects)
    assert code != 0 and not target.exists()
