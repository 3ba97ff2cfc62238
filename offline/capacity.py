"""`python -m offline.capacity --stack prod --samples 80`: what a stack must provide to run a workload's samples in
parallel, and what to request from Azure.

From the stack file and a workload description (workloads/tso500.yaml) it computes, with TES 6.0.0's own VM choice
(components/contracts/tes_6_0_0_vm_selection.py), the Batch nodes, cores per VM family (dedicated) or in total
(Spot), pools and jobs; the Batch subnet addresses; the PostgreSQL connections Cromwell, TES and TriggerService may
hold against the SKU's max_connections; Cromwell's concurrency limits and ramp-up; the AKS pods. Exit 1, with the
reasons, when the stack cannot reach the declared parallelism. Reference numbers: offline/capacity_limits.py.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from components.contracts import tes_6_0_0_vm_selection as tes
from configuration.reader import ConfigError
from configuration.settings import Settings
from offline import capacity_limits as lim
from offline.stack_settings import REPO_ROOT, load_stack_settings
from offline.stackconfig import StackConfigError

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
            "(offline/capacity_limits.py); pick a listed SKU"
        )
    elif sum(held.values()) > limit.max_user_connections:
        problems.append(
            f"postgres.skuName {settings.postgres.sku_name} allows {limit.max_user_connections} user connections but "
            f"Cromwell, TES and TriggerService may hold {sum(held.values())}; use a larger SKU"
        )
    if settings.postgres.sku_tier == "Burstable" and workload.sustained_database_load:
        problems.append(
            f"postgres.skuTier Burstable ({settings.postgres.sku_name}) for {samples} samples: {lim.BURSTABLE_REASON}"
        )
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


def requests(p: Plan) -> list[str]:
    """What to ask Azure for on the Batch account (its quotas apply in Batch service allocation mode)."""
    if not p.scenarios:
        return []
    dedicated: dict[str, int] = {}
    for scenario in p.scenarios:
        for family, cores in scenario.dedicated_cores.items():
            dedicated[family] = max(dedicated.get(family, 0), cores)
    pools = max(s.pools for s in p.scenarios)
    lines = [f"dedicated cores, {family}: at least {cores}" for family, cores in sorted(dedicated.items())]
    if dedicated:
        lines.append(f"dedicated cores, total: at least {sum(dedicated.values())}")
    spot = max(s.spot_cores for s in p.scenarios)
    if spot:
        lines.append(f"low-priority (Spot) cores, total: at least {spot}")
    lines.append(f"pools: at least {pools} (TES replaces an unavailable pool with a new one: leave headroom)")
    lines.append(f"active jobs: at least {pools * lim.JOBS_PER_POOL} (one per pool)")
    return lines


def render(p: Plan) -> list[str]:
    lines = [f"Capacity plan: stack {p.stack}, {p.samples} samples of {p.workload.name}"]
    lines.append(f"  tasks at the peak: {p.concurrent_tasks} (one per Batch node)")
    for scenario in p.scenarios:
        lines.append(f"  TES VM choice, prices {scenario.prices}:")
        for pl in scenario.placements:
            kind = "Spot" if pl.preemptible else "dedicated"
            disks = f", {pl.data_disks} data disks" if pl.data_disks else ""
            lines.append(
                f"    {pl.task.name}: {pl.vm_size} ({pl.family}, {pl.vcpus} vCPU{disks}, {kind}) x {pl.nodes} nodes"
            )
        lines.append(f"    pools {scenario.pools}, jobs {scenario.pools * lim.JOBS_PER_POOL}")
    lines.append(f"  batch subnet: {p.nodes} of {p.subnet_usable} usable addresses; batch.maxNodes {p.max_nodes}")
    limit = p.postgres_limit.max_user_connections if p.postgres_limit else "unknown"
    lines.append(
        f"  PostgreSQL {p.postgres_sku} ({p.postgres_tier}): {sum(p.connections.values())} of {limit} user connections"
    )
    lines.extend(f"    {who}: {count}" for who, count in p.connections.items())
    ramp_workflows = (p.samples - 1) * lim.CROMWELL_LAUNCH_INTERVAL_SECONDS // lim.CROMWELL_WORKFLOWS_PER_LAUNCH
    ramp_jobs = math.ceil(p.concurrent_tasks / lim.CROMWELL_JOBS_PER_RATE_WINDOW) * lim.CROMWELL_RATE_WINDOW_SECONDS
    lines.append(
        f"  Cromwell: {p.samples} of {lim.CROMWELL_MAX_CONCURRENT_WORKFLOWS} concurrent workflows; the last starts "
        f"{ramp_workflows // 60} min {ramp_workflows % 60} s after the first (one per "
        f"{lim.CROMWELL_LAUNCH_INTERVAL_SECONDS} s); {p.concurrent_tasks} jobs need at least {ramp_jobs} s to start "
        f"({lim.CROMWELL_JOBS_PER_RATE_WINDOW} per {lim.CROMWELL_RATE_WINDOW_SECONDS} s)"
    )
    lines.append(f"  AKS: {p.pods} workload pods of {p.pod_capacity} pod slots on the user pool")
    asks = requests(p)
    if asks:
        lines.append("Request from Azure (Batch account quotas; defaults vary and can be 0):")
        lines.extend(f"  {line}" for line in asks)
    if p.problems:
        lines.append(f"The stack cannot run {p.samples} samples in parallel:")
        lines.extend(f"  - {problem}" for problem in p.problems)
    else:
        lines.append(f"The stack can run {p.samples} samples in parallel once the quotas above are granted.")
    return lines


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.capacity", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack to plan for (Pulumi.<stack>.yaml)")
    parser.add_argument("--samples", type=int, help="samples in parallel (default: the workload file's)")
    parser.add_argument("--workload", type=Path, default=DEFAULT_WORKLOAD, help="workload description (YAML)")
    args = parser.parse_args(argv)
    if args.samples is not None and args.samples < 1:
        parser.error(f"--samples {args.samples}: give at least 1")
    try:
        workload = load_workload(args.workload)
        settings = load_stack_settings(args.stack)
    except (WorkloadError, StackConfigError, ConfigError) as exc:
        print(f"capacity: {exc}", file=out)
        return 2
    result = plan(args.stack, settings, workload, args.samples)
    for line in render(result):
        print(line, file=out)
    return 1 if result.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
