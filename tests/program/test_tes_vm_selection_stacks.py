"""What TES 6.0.0 would do with each stack at run time: for the smoke test's hello world and a TSO500-sized task, the
VM size it picks (components/contracts/tes_6_0_0_vm_selection.py) from what the stack really hands it (the
allowed-vm-sizes blob the chart writes, the region, the BatchImageGen1/2 settings of the TES Deployment), and whether
the node image it would put on that size boots it. Both price cases count: prices.azure.com answering and not."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

import pytest
from stackquery import one

from components.contracts import tes_6_0_0_vm_selection as tes
from configuration import batch_node_images
from configuration.batch_node_images import TES_DEFAULT_IMAGES
from configuration.settings import BatchNodeImage
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "chart"))
from render import render_chart  # noqa: E402

TODAY = datetime.datetime.now(datetime.UTC).date()
# charts/cromwell-on-azure/files/hello.wdl: cpu 1, memory "1 GB", preemptible false; disk from Cromwell's
# default-runtime-attributes (10 GB).
HELLO = tes.TaskResources(cpu_cores=1, ram_gb=1, disk_gb=10, preemptible=False)
# A TSO500 analysis task (the article's workload): 8 cores, 32 GB, 500 GB of scratch; the chart's default is
# preemptible (Spot), a lab may pin it to dedicated nodes.
TSO500 = [tes.TaskResources(cpu_cores=8, ram_gb=32, disk_gb=500, preemptible=p) for p in (True, False)]
TASKS = {"hello": [HELLO], "tso500": TSO500}
PRICES: tuple[tes.Prices, ...] = ("bundled", "unreachable")


def _objects(run: ProgramRun) -> list[dict[str, Any]]:
    return render_chart(one(run, "kubernetes:helm.sh/v3:Release").inputs["values"])


def _region(run: ProgramRun) -> str:
    return one(run, "azure-native:batch:BatchAccount").inputs["location"]


def _allowed_file(objects: list[dict[str, Any]]) -> str | None:
    """The allowed-vm-sizes blob TES reads, as the chart's hook writes it (None: no such file)."""
    for obj in objects:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "batch-config":
            return obj["data"].get("allowed-vm-sizes")
    return None


def _tes_images(objects: list[dict[str, Any]]) -> dict[str, BatchNodeImage]:
    """BatchImageGen1/2 as TES reads them from its environment; an unset generation falls back to TES's own default."""
    (tes_pod,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "tes"]
    env = {e["name"]: e.get("value") for e in tes_pod["spec"]["template"]["spec"]["containers"][0]["env"]}
    images = {}
    for key, prefix in (("gen1", "BatchImageGen1"), ("gen2", "BatchImageGen2")):
        if f"{prefix}__Sku" not in env:
            images[key] = TES_DEFAULT_IMAGES[key]
            continue
        images[key] = BatchNodeImage(
            publisher=env[f"{prefix}__Publisher"],
            offer=env[f"{prefix}__Offer"],
            sku=env[f"{prefix}__Sku"],
            version=env[f"{prefix}__Version"],
            node_agent_sku_id=env[f"{prefix}__NodeAgentSkuId"],
        )
    return images


def _ample_quota(allowed: list[str], region: str) -> tes.CoreQuota:
    """Enough dedicated cores in every allowed family (enforced per family, as new accounts are) and low priority.
    Whether a real account has them is the operator's preflight (scripts/preflight.sh batch-quota)."""
    families = {vm.family for vm in tes.vm_sizes_and_prices(region, "unreachable") if tes.allowed_by(allowed, vm)}
    return tes.CoreQuota(
        per_family_enforced=True,
        dedicated_total=1000,
        per_family={family: 1000 for family in families},
        low_priority_total=1000,
    )


def _problems(objects: list[dict[str, Any]], region: str, tasks: list[tes.TaskResources]) -> list[str]:
    """Every (task, price case) whose chosen size would not boot the image TES puts on it."""
    text = _allowed_file(objects)
    entries = tes.parse_allowed_vm_sizes(text) if text is not None else None
    images = _tes_images(objects)
    found = []
    for prices in PRICES:
        allowed, _ = tes.effective_allowed(entries, region, prices)
        quota = _ample_quota(allowed, region)
        for task in tasks:
            chosen = tes.select_vm(task, region=region, allowed=allowed, quota=quota, prices=prices)
            problem = batch_node_images.boots(images[chosen.image_key], chosen.generation, TODAY)
            if problem:
                found.append(f"{task} with prices {prices}: {chosen.vm.vm_size} -> {problem}")
    return found


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_task_lands_on_a_size_its_node_image_boots(stack: ProgramRun, task: str) -> None:
    objects = _objects(stack)
    assert _problems(objects, _region(stack), TASKS[task]) == []


def test_the_choices_are_the_small_general_purpose_sizes(stack: ProgramRun) -> None:
    """Not a 16-core size for a 1-core task: the allowed families are all priced, so the cheapest wins."""
    objects = _objects(stack)
    region = _region(stack)
    allowed, ignored = tes.effective_allowed(tes.parse_allowed_vm_sizes(_allowed_file(objects) or ""), region)
    assert ignored == []
    quota = _ample_quota(allowed, region)
    for prices in PRICES:
        hello = tes.select_vm(HELLO, region=region, allowed=allowed, quota=quota, prices=prices)
        assert hello.vm.vcpus == 2 and hello.generation == "V2" and not hello.preemptible, (prices, hello.vm)
        big = tes.select_vm(TSO500[1], region=region, allowed=allowed, quota=quota, prices=prices)
        assert big.vm.vcpus == 8 and big.vm.memory_gib == 32 and big.generation == "V2", (prices, big.vm)
        # Its local disk (300 GiB) is below 500 GB: TES adds data disks to the pool and pays for them.
        assert sum(d.capacity_gib for d in big.data_disks) >= 500 - (big.vm.local_disk_gib or 0)


def test_without_the_allowed_list_tes_picks_a_size_no_configured_image_boots(stack: ProgramRun) -> None:
    """Proof the list matters: with the blob gone, answering prices send hello world to a generation-1-only size."""
    objects = [o for o in _objects(stack) if not (o["kind"] == "ConfigMap" and o["metadata"]["name"] == "batch-config")]
    problems = _problems(objects, _region(stack), [HELLO])
    assert problems and "generation V2, not V1" in problems[0], problems


def test_without_the_gen1_setting_tes_would_fall_back_to_a_retired_image(stack: ProgramRun) -> None:
    """The gen1 image is a backstop (no Docker image boots generation 1); unset, TES uses its retired 20.04 default."""
    objects = _objects(stack)
    images = _tes_images(objects)
    assert batch_node_images.boots(images["gen1"], "V2", TODAY) is None
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "tes":
            env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
            env[:] = [e for e in env if not e["name"].startswith("BatchImageGen1__")]
    fallback = _tes_images(objects)["gen1"]
    problem = batch_node_images.boots(fallback, "V1", TODAY)
    assert problem and "left Azure Batch support on 2025-04-23" in problem
