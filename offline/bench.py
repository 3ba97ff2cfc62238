"""`python -m offline bench`: median wall time and peak memory of the full preview + policy run per stack, then the
policy pack alone on synthetic stacks of 1, 10 and 50 copies of prod (time per resource).

Each run is a fresh `python -m offline preview` subprocess, so imports, the mock engine, the policy pack's own
Python process and the gRPC round trips are all counted, as a user would see them. Memory is the peak of the
summed RSS of the whole process tree (preview plus pack child), sampled from /proc every 10 ms, next to the
kernel's own high-water mark of the largest single process (wait4 rusage).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from offline.records import ResourceRecord

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024
# Copies of the prod stack the pack is timed on, besides the preview runs.
SCALES = (1, 10, 50)


@dataclass(frozen=True)
class RunSample:
    seconds: float
    tree_rss: int  # bytes, peak of the sum over the process tree
    max_rss: int  # bytes, largest single process (kernel high-water mark)
    exit_code: int
    resources: int


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:  # the process ended between listing and reading
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _tree_rss(root: int) -> int:
    total = 0
    for pid in _process_tree(root):
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def measure(command: list[str], cwd: Path) -> RunSample:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                done.wait(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode not in (0, 1):
            message = err.read().decode(errors="replace").strip().splitlines()
            raise RuntimeError(message[-1] if message else f"exit code {proc.returncode}")
        try:
            resources = int(json.loads(out.read())["summary"]["total"])
        except (ValueError, KeyError):
            resources = 0
    # ru_maxrss is in KiB on Linux.
    return RunSample(seconds, peak, usage.ru_maxrss * 1024, proc.returncode, resources)


def run_bench(
    stacks: list[str],
    runs: int,
    program: Path,
    policy_pack: Path,
    stdout: TextIO,
    scales: Sequence[int] = SCALES,
    scale_stack: str = "prod",
) -> int:
    """The preview runs of each stack, then the pack alone on `scale_stack` copied `scales` times."""
    if runs < 1:
        print("error: --runs must be at least 1", file=sys.stderr)
        return 2
    repo = Path(__file__).resolve().parent.parent
    header = f"{'stack':<8}{'runs':>5}{'resources':>11}{'median s':>10}{'min s':>8}{'max s':>8}"
    stdout.write(f"{header}{'peak tree MiB':>15}{'peak proc MiB':>15}  exit\n")
    with tempfile.TemporaryDirectory() as scratch:
        for stack in stacks:
            command = [sys.executable, "-m", "offline", "preview", "--stack", stack, "--format", "json"]
            command += ["--program", str(program.resolve()), "--policy-pack", str(policy_pack.resolve())]
            # The preview reads the stack's policy config (its waivers) itself, as the workflows pass it.
            command += ["--out", str(Path(scratch) / stack)]
            try:
                samples = [measure(command, repo) for _ in range(runs)]
            except RuntimeError as exc:
                print(f"error: stack {stack}: {exc}", file=sys.stderr)
                return 2
            times = [s.seconds for s in samples]
            stdout.write(
                f"{stack:<8}{runs:>5}{samples[0].resources:>11}{statistics.median(times):>10.2f}"
                f"{min(times):>8.2f}{max(times):>8.2f}{max(s.tree_rss for s in samples) / MIB:>15.0f}"
                f"{max(s.max_rss for s in samples) / MIB:>15.0f}  {sorted({s.exit_code for s in samples})}\n"
            )
            stdout.flush()
    return bench_scales(scale_stack, scales, program, policy_pack, stdout) if scales else 0


def bench_scales(stack: str, scales: Sequence[int], program: Path, policy_pack: Path, stdout: TextIO) -> int:
    """Time the pack (Analyze per resource, then AnalyzeStack) on synthetic stacks of `scales` copies of `stack`.

    A rule that compares every resource with every other one shows here as a time per resource that grows with
    the scale; with linear rules it stays flat. One pack process serves every scale, warmed up on the stack
    itself first, so its start-up and first imports are not counted.
    """
    from offline.analyzer import PolicyPackAnalyzer, PolicyPackError
    from offline.common import default_policy_config, load_policy_config
    from offline.harness import ProgramError, StackConfigError, run_program

    try:
        with contextlib.redirect_stdout(sys.stderr):  # whatever the program prints is not part of the table
            run = run_program(program, stack)
        config = load_policy_config(default_policy_config(policy_pack, stack))
        with PolicyPackAnalyzer(policy_pack, config) as analyzer:
            analyzer.analyze(run.resources)
            stdout.write(
                f"\npolicy pack on {stack} copied N times (one pack process)\n"
                f"{'copies':>6}{'resources':>11}{'Analyze s':>11}{'Stack s':>9}{'total s':>9}{'ms/resource':>13}"
                f"{'violations':>12}\n"
            )
            for copies in scales:
                resources = synthetic_stack(run.resources, copies)
                violations = analyzer.analyze(resources)
                each, whole = analyzer.timings["Analyze"], analyzer.timings["AnalyzeStack"]
                stdout.write(
                    f"{copies:>6}{len(resources):>11}{each:>11.2f}{whole:>9.2f}{each + whole:>9.2f}"
                    f"{(each + whole) * 1000 / len(resources):>13.2f}{len(violations):>12}\n"
                )
                stdout.flush()
    except (StackConfigError, ProgramError, PolicyPackError) as exc:
        print(f"error: synthetic stacks of {stack}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


# -- synthetic stacks ------------------------------------------------------------------------------------------
STACK_TYPE = "pulumi:pulumi:Stack"
# The resource group segment of an ARM id: renaming it keeps the id well-formed and moves everything under it.
_RESOURCE_GROUP = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+", re.IGNORECASE)


def synthetic_stack(records: Sequence[ResourceRecord], copies: int) -> list[ResourceRecord]:
    """`copies` copies of a program run's resources under its one stack resource, each copy wired only to itself.

    Copy 0 is the run itself; copy k renames every resource (`<name>-c<k>`, so URNs differ), rewrites the URNs
    it refers to (parent, dependencies, property dependencies, provider) to copy k's, and moves its ARM ids (its
    own and those in its inputs and outputs) into a resource group of its own (`.../resourceGroups/<rg>-c<k>`; a
    subscription-level id gets the suffix itself),
    so a rule that links resources by URN or by id sees `copies` independent stacks side by side.
    """
    if copies < 1:
        raise ValueError(f"copies must be at least 1, not {copies}")
    out = list(records)
    # Resources of the subscription itself (policy definitions) are in no resource group: each copy renames them.
    subscription_level = {
        r.id for r in records if r.id.startswith("/subscriptions/") and "/resourcegroups/" not in r.id.lower()
    }
    for k in range(1, copies):
        urns: dict[str, str] = {}
        ids: dict[str, str] = {}
        for r in records:
            if r.type == STACK_TYPE:
                continue
            urns[r.urn] = f"{r.urn}-c{k}"
            if r.id and not r.id.startswith("/subscriptions/"):
                ids[r.id] = f"{r.id}-c{k}"
        tag = f"-c{k}"

        def retag(value: Any, tag: str = tag, urns: dict[str, str] = urns, ids: dict[str, str] = ids) -> Any:
            if isinstance(value, str):
                if value in subscription_level:
                    return f"{value}{tag}"
                if value.startswith("/subscriptions/"):
                    return _RESOURCE_GROUP.sub(rf"\g<0>{tag}", value, count=1)
                return urns.get(value) or ids.get(value) or value
            if isinstance(value, Mapping):
                return {key: retag(v) for key, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [retag(v) for v in value]
            return value

        def provider_ref(ref: str, urns: dict[str, str] = urns, ids: dict[str, str] = ids) -> str:
            urn, sep, provider_id = ref.rpartition("::")
            return f"{urns.get(urn, urn)}{sep}{ids.get(provider_id, provider_id)}" if sep else ref

        out += [
            replace(
                r,
                urn=urns[r.urn],
                name=f"{r.name}{tag}",
                inputs=retag(r.inputs),
                outputs=retag(r.outputs),
                id=retag(r.id),
                parent=urns.get(r.parent, r.parent),
                dependencies=tuple(urns.get(d, d) for d in r.dependencies),
                property_dependencies={
                    key: tuple(urns.get(d, d) for d in v) for key, v in r.property_dependencies.items()
                },
                provider=provider_ref(r.provider),
                aliases=tuple(urns.get(a, a) for a in r.aliases),
            )
            for r in records
            if r.type != STACK_TYPE
        ]
    return out
