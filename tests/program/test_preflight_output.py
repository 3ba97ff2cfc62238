"""The stack output `preflight` is what scripts/preflight.sh reads on the real subscription: every endpoint, image and
zone the stack relies on, and the Batch cores TES would need for the smoke test and a TSO500-sized task."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from stackquery import one

from components.contracts import tes_6_0_0_vm_selection as tes
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]


def test_every_private_endpoint_of_the_stack_is_checked(stack: ProgramRun) -> None:
    listed = {e["id"] for e in stack.outputs["preflight"]["privateEndpoints"]}
    assert listed == {e.id for e in stack.of_type("azure-native:network:PrivateEndpoint")}


def test_images_carry_the_digests_the_stack_runs(stack: ProgramRun) -> None:
    images = {i["key"]: i for i in stack.outputs["preflight"]["registry"]["images"]}
    values = one(stack, "kubernetes:helm.sh/v3:Release").inputs["values"]["images"]
    for key in ("tes", "triggerservice", "cromwell", "dbClient"):
        assert images[key]["repository"] == values[key]["repository"]
        assert (images[key].get("digest") or "") == values[key].get("digest", ""), key
    assert images["tes"]["source"] == "build" and images["tes"]["digest"].startswith("sha256:")


def test_batch_cores_are_what_tes_would_choose(stack: ProgramRun) -> None:
    batch = stack.outputs["preflight"]["batch"]
    region = one(stack, "azure-native:batch:BatchAccount").inputs["location"]
    allowed = one(stack, "kubernetes:helm.sh/v3:Release").inputs["values"]["batch"]["allowedVmSizes"]
    families = {vm.family for vm in tes.vm_sizes_and_prices(region, "unreachable") if tes.allowed_by(allowed, vm)}
    assert set(batch["dedicatedCoresNeeded"]) <= families and batch["dedicatedCoresNeeded"]
    # The smoke test's 1-core task gets a 2-core size; the TSO500 task 8 cores on Spot (the chart's default).
    assert max(batch["dedicatedCoresNeeded"].values()) == 2 and batch["lowPriorityCoresNeeded"] == 8


def test_private_names_and_zones_cover_what_pods_and_nodes_resolve(stack: ProgramRun) -> None:
    preflight = stack.outputs["preflight"]
    names = set(preflight["privateNames"])
    storage = one(stack, "azure-native:storage:StorageAccount").outputs["name"]
    assert f"{storage}.blob.core.windows.net" in names
    assert any(n.endswith(".data.azurecr.io") for n in names) and any(n.endswith(".azurecr.io") for n in names)
    assert any(n.endswith(".vault.azure.net") for n in names) and any(".batch.azure.com" in n for n in names)
    zones = {z["name"] for z in preflight["dnsZones"]}
    assert {"privatelink.blob.core.windows.net", "privatelink.batch.azure.com", "privatelink.azurecr.io"} <= zones
    assert preflight["vnetId"] == one(stack, "azure-native:network:VirtualNetwork").id


def test_the_script_accepts_the_output_shape(stack: ProgramRun, tmp_path: Path) -> None:
    """With every Azure and cluster call failing, the script reports FAILs (exit 1), not a malformed output (2)."""
    outputs = tmp_path / "preflight.json"
    outputs.write_text(json.dumps(stack.outputs["preflight"]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("az", "kubectl"):
        (bin_dir / tool).write_text("#!/bin/sh\necho 'ERROR: offline' >&2\nexit 1\n")
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "KUBECONFIG": str(tmp_path / "kubeconfig")}
    result = subprocess.run(
        [str(REPO / "scripts/preflight.sh"), stack.stack, "--outputs", str(outputs)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL images" in result.stdout and "expected shape" not in result.stderr
    # TES 6 pods sign in with workload identity: no application secret to check.
    assert stack.outputs["preflight"]["applications"] == []
    assert "SKIP app-credentials -: no application credentials" in result.stdout
