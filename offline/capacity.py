"""`python -m offline.capacity --stack prod [--samples 80]`: what a stack must provide to run a workload's samples in
parallel, and what to request from Azure.

From the stack file and a workload description (workloads/tso500.yaml) it computes, with TES 6.0.0's own VM choice
(components/contracts/tes_6_0_0_vm_selection.py), the Batch nodes, cores per VM family (dedicated) or in total
(Spot), pools and jobs; the Batch subnet addresses; the PostgreSQL connections Cromwell, TES and TriggerService may
hold against the SKU's max_connections; Cromwell's concurrency limits and ramp-up; the AKS pods. Exit 1, with the
reasons, when the stack cannot reach the declared parallelism. Reference numbers: configuration/capacity_limits.py.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from configuration import capacity_limits as lim
from configuration.capacity import (
    DEFAULT_WORKLOAD,
    REPO_ROOT,
    Plan,
    TaskKind,
    Workload,
    WorkloadError,
    connections,
    load_workload,
    plan,
)
from configuration.reader import ConfigError
from offline.stack_settings import load_stack_settings
from offline.stackconfig import StackConfigError, load_stack_config

__all__ = ["TaskKind", "Workload", "connections", "load_workload", "main", "plan", "render", "requests"]


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


def declared(stack: str) -> tuple[int | None, Path]:
    """The samples and workload the stack file declares under `capacity` (what config holds it to), else the defaults."""
    config = load_stack_config(REPO_ROOT, stack)
    raw = config.values.get(f"{config.project}:capacity")
    section = json.loads(raw) if isinstance(raw, str) and raw[:1] == "{" else {}
    samples = section.get("samples")
    workload = section.get("workload")
    return (int(samples) if samples is not None else None), (REPO_ROOT / workload if workload else DEFAULT_WORKLOAD)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.capacity", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack to plan for (Pulumi.<stack>.yaml)")
    parser.add_argument("--samples", type=int, help="samples in parallel (default: the stack's capacity.samples)")
    parser.add_argument("--workload", type=Path, help="workload description (default: the stack's capacity.workload)")
    args = parser.parse_args(argv)
    if args.samples is not None and args.samples < 1:
        parser.error(f"--samples {args.samples}: give at least 1")
    try:
        declared_samples, declared_workload = declared(args.stack)
        workload = load_workload(args.workload or declared_workload)
        settings = load_stack_settings(args.stack)
    except (WorkloadError, StackConfigError, ConfigError) as exc:
        print(f"capacity: {exc}", file=out)
        return 2
    result = plan(args.stack, settings, workload, args.samples or declared_samples)
    for line in render(result):
        print(line, file=out)
    return 1 if result.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
