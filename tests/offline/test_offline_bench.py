"""The benchmark's measuring: wall time, peak RSS of the whole process tree, and failed runs reported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from offline.bench import MIB, measure

# A child that holds ~80 MiB in a grandchild (as the preview holds the policy pack) and prints a JSON summary.
PARENT = (
    "import json, subprocess, sys;"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; b = bytearray(80 * 2**20); b[::4096] = b\"x\" * "
    "len(b[::4096]); time.sleep(0.6)']);"
    "child.wait(); print(json.dumps({'summary': {'total': 7}}))"
)


def test_measure_counts_the_grandchild_memory_and_reads_the_summary(tmp_path: Path) -> None:
    sample = measure([sys.executable, "-c", PARENT], tmp_path)
    assert sample.exit_code == 0 and sample.resources == 7
    assert sample.seconds >= 0.6
    assert sample.tree_rss >= 80 * MIB  # parent + grandchild, sampled from /proc
    assert sample.max_rss >= 80 * MIB  # the kernel's high-water mark of the largest process


def test_a_run_that_errors_raises_with_its_last_stderr_line(tmp_path: Path) -> None:
    script = "import sys; print('noise', file=sys.stderr); print('error: bad stack', file=sys.stderr); sys.exit(2)"
    with pytest.raises(RuntimeError, match="error: bad stack") as raised:
        measure([sys.executable, "-c", script], tmp_path)
    assert str(raised.value) == "error: bad stack"
    # Exit 1 is a verdict (mandatory violations), not a failed run.
    verdict = "import sys; sys.exit(1)"
    assert measure([sys.executable, "-c", verdict], tmp_path).exit_code == 1
