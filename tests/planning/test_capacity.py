"""The capacity plan on the real stacks and on one change at a time: what it computes, what it refuses and why, and
that its reference numbers still match the chart they describe."""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import re
from pathlib import Path

import pytest

from configuration import capacity_limits as lim
from configuration.settings import Settings
from offline import capacity
from offline.stack_settings import REPO_ROOT, load_stack_settings

CHART = REPO_ROOT / "charts" / "cromwell-on-azure" / "templates"
TSO500 = capacity.load_workload()


@pytest.fixture(scope="module")
def prod() -> Settings:
    return load_stack_settings("prod")


@pytest.fixture(scope="module")
def dev() -> Settings:
    return load_stack_settings("dev")


def _workload(*tasks: capacity.TaskKind, sustained: bool = True) -> capacity.Workload:
    return capacity.Workload(name="test", samples=10, sustained_database_load=sustained, tasks=tasks)


def _task(name: str = "t", *, cpu: int = 8, memory: float = 32, disk: float = 100, spot: bool = True, per: int = 1):
    return capacity.TaskKind(
        name=name, concurrent_per_sample=per, cpu_cores=cpu, memory_gb=memory, disk_gb=disk, preemptible=spot
    )


def _postgres(settings: Settings, sku: str, tier: str) -> Settings:
    return dataclasses.replace(settings, postgres=dataclasses.replace(settings.postgres, sku_name=sku, sku_tier=tier))


def test_prod_runs_eighty_tso500_samples_once_spot_cores_are_granted(prod: Settings) -> None:
    out = io.StringIO()
    assert capacity.main(["--stack", "prod", "--samples", "80"], out=out) == 0, out.getvalue()
    plan = capacity.plan("prod", prod, TSO500, 80)
    assert plan.nodes == 80 and not plan.problems
    for scenario in plan.scenarios:
        [placement] = scenario.placements
        assert placement.preemptible and placement.vcpus >= 8
        assert scenario.spot_cores == 80 * placement.vcpus and scenario.dedicated_cores == {}
    assert f"low-priority (Spot) cores, total: at least {plan.scenarios[0].spot_cores}" in capacity.requests(plan)


def test_dev_is_refused_for_eighty_samples_because_its_postgres_is_burstable(dev: Settings) -> None:
    out = io.StringIO()
    assert (
        capacity.main(["--stack", "dev", "--samples", "80", "--workload", str(capacity.DEFAULT_WORKLOAD)], out=out) == 1
    )
    [problem] = capacity.plan("dev", dev, TSO500, 80).problems
    assert "postgres.skuTier Burstable (Standard_B2s)" in problem and "not for production" in problem
    assert "postgres.skuTier Burstable" in out.getvalue()


def test_burstable_follows_the_workloads_sustained_load(dev: Settings) -> None:
    assert not capacity.plan("dev", dev, _workload(_task(), sustained=False), 10).problems
    assert capacity.plan("dev", dev, _workload(_task(), sustained=True), 10).problems


def test_more_nodes_than_batch_max_nodes_is_refused(dev: Settings) -> None:
    general = _postgres(dev, "Standard_D4ds_v5", "GeneralPurpose")
    plan = capacity.plan("dev", general, TSO500, 201)
    assert plan.problems == ("batch.maxNodes is 200 but 201 nodes run at once; raise it",)
    assert not capacity.plan("dev", general, TSO500, 200).problems


def test_a_batch_subnet_too_small_for_the_nodes_is_refused(prod: Settings) -> None:
    small = ipaddress.IPv4Network("10.20.128.0/25")  # 123 usable addresses
    subnets = dataclasses.replace(prod.network.subnets, batch=small)
    settings = dataclasses.replace(prod, network=dataclasses.replace(prod.network, subnets=subnets))
    [problem] = capacity.plan("prod", settings, TSO500, 124).problems
    assert problem.startswith("network.subnets.batch 10.20.128.0/25 has 123 usable addresses but 124 nodes")


@pytest.mark.parametrize(
    ("sku", "tier", "complaint"),
    [
        ("Standard_B1ms", "Burstable", "allows 35 user connections but Cromwell, TES and TriggerService may hold 241"),
        ("Standard_D3ds_v5", "GeneralPurpose", "not in the documented max_connections table"),
    ],
)
def test_postgres_connections_are_checked_against_the_sku(prod: Settings, sku: str, tier: str, complaint: str) -> None:
    problems = capacity.plan("prod", _postgres(prod, sku, tier), _workload(_task(), sustained=False), 10).problems
    assert [p for p in problems if complaint in p]


def test_the_connection_budget_is_what_the_applications_can_hold() -> None:
    # Cromwell: 2 Slick pools x 20; TES and TriggerService: Npgsql's default maximum, 100 each; the db-init hook.
    assert sum(capacity.connections().values()) == 2 * 20 + 100 + 100 + 1
    assert lim.postgres_limit("Standard_D4ds_v5") == lim.PostgresLimit(1718, 1703)
    assert lim.postgres_limit("standard_b2s") == lim.PostgresLimit(429, 414)


def test_dedicated_tasks_need_cores_per_family_and_each_shape_its_own_pool(prod: Settings) -> None:
    workload = _workload(_task("small", cpu=2, memory=8, spot=False), _task("big", cpu=16, memory=64, spot=True, per=2))
    plan = capacity.plan("prod", prod, workload, 10)
    assert not plan.problems and plan.scenarios
    for scenario in plan.scenarios:
        small, big = scenario.placements
        assert scenario.dedicated_cores == {small.family: 10 * small.vcpus}
        assert scenario.spot_cores == 20 * big.vcpus
        assert scenario.pools == 2 and scenario.nodes == 30
        assert any(line.startswith(f"dedicated cores, {small.family}: at least") for line in capacity.requests(plan))


def test_a_task_no_allowed_size_can_hold_is_refused(prod: Settings) -> None:
    [problem] = capacity.plan("prod", prod, _workload(_task(cpu=500, memory=4000), sustained=False), 1).problems
    assert problem.startswith("TES cannot place a task with batch.allowedVmSizes in eastus2")


def test_cromwell_starts_one_workflow_every_twenty_seconds(prod: Settings) -> None:
    text = "\n".join(capacity.render(capacity.plan("prod", prod, TSO500, 80)))
    assert "the last starts 26 min 20 s after the first" in text  # 79 x 20 s


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("name: x\nsamples: 1\n", "needs a non-empty 'tasks' list"),
        (
            "samples: 1\ntasks: [{name: a, cpuCores: 0, memoryGb: 1, diskGb: 1, concurrentPerSample: 1, preemptible: true}]",
            r"tasks\[0\]\.cpuCores: 0 is below 1",
        ),
        (
            "samples: 1\ntasks: [{name: a, cpuCores: 2, memoryGb: 1, diskGb: 1, concurrentPerSample: 1, preemptible: yes please}]",
            r"tasks\[0\]\.preemptible",
        ),
        (
            "samples: many\ntasks: [{name: a, cpuCores: 2, memoryGb: 1, diskGb: 1, concurrentPerSample: 1, preemptible: true}]",
            "samples: 'many' is not an integer",
        ),
    ],
)
def test_a_malformed_workload_names_the_key(tmp_path: Path, body: str, complaint: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(body)
    with pytest.raises(capacity.WorkloadError, match=complaint):
        capacity.load_workload(path)


def test_the_reference_numbers_match_the_chart() -> None:
    for workload, replicas in lim.REPLICAS.items():
        text = (CHART / f"{workload}.yaml").read_text()
        assert re.findall(r"^\s+replicas: (\d+)$", text, re.MULTILINE) == [str(replicas)], workload
    cromwell = (CHART / "cromwell-config.yaml").read_text()
    # No pool sizes and no job limit: Slick's, HikariCP's and Cromwell's defaults apply.
    for key in ("numThreads", "maxConnections", "maximumPoolSize", "minimumIdle", "concurrent-job-limit"):
        assert key not in cromwell, key
    for template in ("tes.yaml", "triggerservice.yaml"):
        assert "Pool Size" not in (CHART / template).read_text(), template


def test_without_arguments_the_plan_is_for_what_the_stack_file_declares() -> None:
    out = io.StringIO()
    assert capacity.main(["--stack", "dev"], out=out) == 0
    assert out.getvalue().startswith("Capacity plan: stack dev, 2 samples of hello-world smoke test")
    out = io.StringIO()
    assert capacity.main(["--stack", "prod"], out=out) == 0
    assert "stack prod, 80 samples of" in out.getvalue() and "TSO500" in out.getvalue()
