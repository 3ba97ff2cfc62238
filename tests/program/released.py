"""What a stack's Helm release runs, for the runtime-contract tests of both generations: the chart rendered with the
exact values the stack passes to its Release, and the workload objects in it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from stackquery import one

from components.contracts import Contract
from offline.harness import ProgramRun

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chart"))
from netpol import Pod
from render import render_chart

# Rendering is the slow part; each run renders once (the runs are session fixtures, kept alive by this cache).
_RENDERED: dict[int, tuple[ProgramRun, list[dict[str, Any]]]] = {}


def values(run: ProgramRun) -> dict[str, Any]:
    return one(run, "kubernetes:helm.sh/v3:Release").inputs["values"]


def objects(run: ProgramRun) -> list[dict[str, Any]]:
    if id(run) not in _RENDERED:
        _RENDERED[id(run)] = (run, render_chart(values(run)))
    return _RENDERED[id(run)][1]


def deployment(rendered: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [o for o in rendered if o["kind"] == "Deployment" and o["metadata"]["name"] == name]
    return found


def container(rendered: list[dict[str, Any]], contract: Contract) -> dict[str, Any]:
    (found,) = [
        c
        for c in deployment(rendered, contract.workload)["spec"]["template"]["spec"]["containers"]
        if c["name"] == contract.workload
    ]
    return found


def pod(obj: dict[str, Any]) -> Pod:
    return Pod(labels=obj["spec"]["template"]["metadata"]["labels"], namespace=obj["metadata"].get("namespace", "coa"))


def where(contract: Contract, entry: Any) -> str:
    """Names a contract entry and its citation in a failure."""
    return f"{contract.workload} {contract.version}: {entry} ({entry.source})"


def assert_mounts_and_port(rendered: list[dict[str, Any]], contract: Contract) -> None:
    """Each mount the contract cites is on the container (read-only where the source needs only reads), and the
    container listens on the contract's port alone."""
    found = container(rendered, contract)
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in found.get("volumeMounts", [])}
    for mount in contract.mounts:
        assert mount.path in mounts, f"missing {where(contract, mount)}"
        if mount.read_only:
            assert mounts[mount.path] is True, where(contract, mount)
    if contract.listen_port:
        assert [p["containerPort"] for p in found["ports"]] == [contract.listen_port]
