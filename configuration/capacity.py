"""How much the stack must provide for a workload of N samples in parallel: the VM size TES picks for each task
(components/contracts/tes_6_0_0_vm_selection.py), Batch nodes, subnet addresses, PostgreSQL connections, Cromwell's
limits and AKS pods. The config refuses a stack that declares a parallelism it cannot reach (`capacity`); `make
capacity` prints the plan and what to request from Azure (offline/capacity.py). Every reference number is cited in
configuration/capacity_limits.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.contracts import tes_6_0_0_vm_selection as tes
from configuration import capacity_limits as lim
from configuration.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKLOAD = REPO_ROOT / "workloads" / "tso500.yaml"
PRICE_CASES: tuple[tes.Prices, ...] = ("bundled", "unreachable")
# Quota as good as unlimited: the plan asks what the real quota must cover (as configuration/preflight.py does).
AMPLE = 10**6


class WorkloadError(Exception):
    """The workload file is malformed; the message names the file and key."""


@dataclass(frozen=True, kw_only=True)
class TaskKind:
    name: str
    concurrent_per_sample: int
    cpu_cores: int
    memory_gb: float
    disk_gb: float
    preemptible: bool


@dataclass(frozen=True, kw_only=True)
class Workload:
    name: str
    samples: int
    sustained_database_load: bool
    tasks: tuple[TaskKind, ...]


def _number(where: str, value: Any, kind: type, minimum: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise WorkloadError(f"{where}: {value!r} is not {'an integer' if kind is int else 'a number'}")
    if value < minimum:
        raise WorkloadError(f"{where}: {value} is below {minimum}")
    return value


def load_workload(path: Path = DEFAULT_WORKLOAD) -> Workload:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WorkloadError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("tasks"), list) or not doc["tasks"]:
        raise WorkloadError(f"{path}: needs a non-empty 'tasks' list")
    tasks = []
    for index, raw in enumerate(doc["tasks"]):
        where = f"{path.name} tasks[{index}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise WorkloadError(f"{where}: needs a name")
        if not isinstance(raw.get("preemptible"), bool):
            raise WorkloadError(f"{where}.preemptible: true (Spot) or false (dedicated)")
        tasks.append(
            TaskKind(
                name=raw["name"],
                concurrent_per_sample=_number(f"{where}.concurrentPerSample", raw.get("concurrentPerSample"), int, 1),
                cpu_cores=_number(f"{where}.cpuCores", raw.get("cpuCores"), int, 1),
                memory_gb=float(_number(f"{where}.memoryGb", raw.get("memoryGb"), float, 0.1)),
                disk_gb=float(_number(f"{where}.diskGb", raw.get("diskGb"), float, 1)),
                preemptible=raw["preemptible"],
            )
        )
    return Workload(
        name=str(doc.get("name", path.stem)),
        samples=_number(f"{path.name} samples", doc.get("samples"), int, 1),
        sustained_database_load=bool(doc.get("sustainedDatabaseLoad", True)),
        tasks=tuple(tasks),
    )


@dataclass(frozen=True, kw_only=True)
class TaskPlacement:
    task: TaskKind
    prices: str
    vm_size: str
    family: str
    vcpus: int
    data_disks: int
    preemptible: bool
    nodes: int


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """What the workload needs when TES prices with `prices` (components/contracts/tes_6_0_0_vm_selection.py)."""

    prices: str
    placements: tuple[TaskPlacement, ...]

    @property
    def nodes(self) -> int:
        return sum(p.nodes for p in self.placements)

    @property
    def dedicated_cores(self) -> dict[str, int]:
        cores: dict[str, int] = {}
        for p in self.placements:
            if not p.preemptible:
                cores[p.family] = cores.get(p.family, 0) + p.nodes * p.vcpus
        return cores

    @property
    def spot_cores(self) -> int:
        return sum(p.nodes * p.vcpus for p in self.placements if p.preemptible)

    @property
    def pools(self) -> int:
        # One pool per key; the stack's pools share one identity and one runner, so the size, priority and data disks
        # decide (BatchScheduler.BatchPools.cs:29-46).
        return len({(p.vm_size, p.preemptible, p.data_disks) for p in self.placements})


@dataclass(frozen=True, kw_only=True)
class Plan:
    stack: str
    workload: Workload
    samples: int
    scenarios: tuple[Scenario, ...]
    concurrent_tasks: int
    subnet_usable: int
    max_nodes: int
    postgres_sku: str
    postgres_tier: str
    connections: Mapping[str, int]
    postgres_limit: lim.PostgresLimit | None
    pods: int
    pod_capacity: int
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def nodes(self) -> int:
        return max(s.nodes for s in self.scenarios) if self.scenarios else 0


def _place(task: TaskKind, settings: Settings, samples: int) -> list[TaskPlacement]:
    resources = tes.TaskResources(
        cpu_cores=task.cpu_cores, ram_gb=task.memory_gb, disk_gb=task.disk_gb, preemptible=task.preemptible
    )
    placements = []
    for prices in PRICE_CASES:
        allowed, _ = tes.effective_allowed(list(settings.batch_allowed_vm_sizes), settings.location, prices)
        families = {vm.family for vm in tes.vm_sizes_and_prices(settings.location, prices)}
        quota = tes.CoreQuota(
            per_family_enforced=True,
            dedicated_total=AMPLE,
            per_family=dict.fromkeys(families, AMPLE),
            low_priority_total=AMPLE,
        )
        chosen = tes.select_vm(resources, region=settings.location, allowed=allowed, quota=quota, prices=prices)
        placements.append(
            TaskPlacement(
                task=task,
                prices=prices,
                vm_size=chosen.vm.vm_size,
                family=chosen.vm.family,
                vcpus=chosen.vm.vcpus or 0,
                data_disks=len(chosen.data_disks),
                preemptible=chosen.preemptible,
                nodes=math.ceil(samples * task.concurrent_per_sample / lim.TASKS_PER_NODE),
            )
        )
    return placements


def connections() -> dict[str, int]:
    return {
        "cromwell (engine + metadata pools, held open)": lim.REPLICAS["cromwell"]
        * lim.CROMWELL_DATABASE_POOLS
        * lim.SLICK_CONNECTIONS_PER_POOL,
        "tes (Npgsql maximum pool)": lim.REPLICAS["tes"] * lim.NPGSQL_MAX_POOL_SIZE,
        "triggerservice (Npgsql maximum pool)": lim.REPLICAS["triggerservice"] * lim.NPGSQL_MAX_POOL_SIZE,
        "db-init hook (psql)": lim.HOOK_CONNECTIONS,
    }


def plan(stack: str, settings: Settings, workload: Workload, samples: int | None = None) -> Plan:
    samples = samples or workload.samples
    problems: list[str] = []
    scenarios: list[Scenario] = []
    by_case: dict[str, list[TaskPlacement]] = {case: [] for case in PRICE_CASES}
    try:
        for task in workload.tasks:
            for placement in _place(task, settings, samples):
                by_case[placement.prices].append(placement)
        scenarios = [Scenario(prices=case, placements=tuple(found)) for case, found in by_case.items()]
    except (tes.NoVmAvailableError, tes.InsufficientBatchQuotaError) as exc:
        problems.append(f"TES cannot place a task with batch.allowedVmSizes in {settings.location}: {exc.message}")
    concurrent = samples * sum(t.concurrent_per_sample for t in workload.tasks)
    nodes = max((s.nodes for s in scenarios), default=0)
    usable = settings.network.subnets.batch.num_addresses - lim.AZURE_RESERVED_ADDRESSES
    if nodes > usable:
        problems.append(
            f"network.subnets.batch {settings.network.subnets.batch} has {usable} usable addresses but {nodes} "
            "nodes need one each (no public IPs); use a larger prefix"
        )
    if nodes > settings.batch_max_nodes:
        problems.append(f"batch.maxNodes is {settings.batch_max_nodes} but {nodes} nodes run at once; raise it")
    held = connections()
    limit = lim.postgres_limit(settings.postgres.sku_name)
    if limit is None:
        problems.append(
            f"postgres.skuName {settings.postgres.sku_name!r} is not in the documented max_connections table "
            "(configuration/capacity_limits.py); pick a listed SKU"
        )
    elif sum(held.values()) > limit.max_user_connections:
        problems.append(
            f"postgres.skuName {settings.postgres.sku_name} allows {limit.max_user_connections} user connections but "
            f"Cromwell, TES and TriggerService may hold {sum(held.values())}; use a larger SKU"
        )
    if settings.postgres.sku_tier == "Burstable" and workload.sustained_database_load:
        problems.append(f"postgres.skuTier Burstable ({settings.postgres.sku_name}): {lim.BURSTABLE_REASON}")
    if samples > lim.CROMWELL_MAX_CONCURRENT_WORKFLOWS:
        problems.append(
            f"{samples} workflows exceed Cromwell's max-concurrent-workflows ({lim.CROMWELL_MAX_CONCURRENT_WORKFLOWS})"
        )
    if concurrent > lim.CROMWELL_CONCURRENT_JOB_LIMIT:
        problems.append(
            f"{concurrent} tasks exceed Cromwell's TES backend job limit ({lim.CROMWELL_CONCURRENT_JOB_LIMIT})"
        )
    pods = sum(lim.REPLICAS.values()) + lim.HOOK_PODS
    pod_capacity = settings.aks.user_pool.max_count * lim.AKS_MAX_PODS_PER_NODE
    if pods > pod_capacity:
        problems.append(f"{pods} workload pods exceed the user pool's {pod_capacity} pod slots")
    return Plan(
        stack=stack,
        workload=workload,
        samples=samples,
        scenarios=tuple(scenarios),
        concurrent_tasks=concurrent,
        subnet_usable=usable,
        max_nodes=settings.batch_max_nodes,
        postgres_sku=settings.postgres.sku_name,
        postgres_tier=settings.postgres.sku_tier,
        connections=held,
        postgres_limit=limit,
        pods=pods,
        pod_capacity=pod_capacity,
        problems=tuple(problems),
    )
