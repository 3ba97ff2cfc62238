"""`python -m offline bench`: median wall time and peak memory of the full preview + policy run per stack.

Each run is a fresh `python -m offline preview` subprocess, so imports, the mock engine, the policy pack's own
Python process and the gRPC round trips are all counted, as a user would see them. Memory is the peak of the
summed RSS of the whole process tree (preview plus pack child), sampled from /proc every 10 ms, next to the
kernel's own high-water mark of the largest single process (wait4 rusage).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


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


def run_bench(stacks: list[str], runs: int, program: Path, policy_pack: Path, stdout: TextIO) -> int:
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
            command += ["--out", str(Path(scratch) / stack)]
            # The stack's declared waivers, as `make preview` and the workflows pass them.
            waivers = policy_pack / "config" / f"{stack}.json"
            if waivers.is_file():
                command += ["--policy-config", str(waivers.resolve())]
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
    return 0
