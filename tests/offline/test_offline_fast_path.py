"""The offline-only speed-ups (offline/harness.py: lazy SDK packages, no alias URN Outputs, no stack traces, no
cyclic GC while the program runs, no interpreter teardown) change nothing the pack or the out files see.

One prod preview with them and one without (COA_OFFLINE_PLAIN=1), each a fresh `python -m offline` process as a
user runs it, must register the same resources with the same inputs and options and get the same violations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _start_preview(out: Path, *, plain: bool) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COA_OFFLINE_")}
    if plain:
        env["COA_OFFLINE_PLAIN"] = "1"
    command = [
        sys.executable,
        "-m",
        "offline",
        "preview",
        "--stack",
        "prod",
        "--policy-config",
        str(REPO / "policy" / "config" / "prod.json"),
        "--format",
        "json",
        "--out",
        str(out),
    ]
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode in (0, 1), stderr
    return json.loads(stdout)


def _resources(out: Path) -> dict[str, dict[str, Any]]:
    """resources.json by URN; dependencies as sets (the SDK gathers them from sets, so their order is arbitrary)."""
    document = json.loads((out / "resources.json").read_text(encoding="utf-8"))
    found: dict[str, dict[str, Any]] = {}
    for resource in document["resources"]:
        entry = dict(resource)
        entry["dependencies"] = sorted(entry["dependencies"])
        entry["propertyDependencies"] = {k: sorted(v) for k, v in entry["propertyDependencies"].items()}
        # Aliases as the program (and azure-native's version aliases) declared them, in declaration order.
        found[entry["urn"]] = entry
    assert len(found) == len(document["resources"]), "duplicate URNs"
    return found


def _violations(report: dict[str, Any]) -> list[str]:
    return sorted(json.dumps(v, sort_keys=True) for v in report["policy"]["violations"])


def test_the_fast_path_registers_and_reports_exactly_what_the_plain_path_does(tmp_path: Path) -> None:
    # Both at once: each is a cold process, and the machine has two cores.
    fast_process = _start_preview(tmp_path / "fast", plain=False)
    plain_process = _start_preview(tmp_path / "plain", plain=True)
    fast, plain = _finish(fast_process), _finish(plain_process)

    fast_resources, plain_resources = _resources(tmp_path / "fast"), _resources(tmp_path / "plain")
    assert sorted(fast_resources) == sorted(plain_resources)
    for urn, expected in plain_resources.items():
        got = fast_resources[urn]
        for key in ("type", "inputs", "protect", "dependencies", "propertyDependencies", "aliases", "provider"):
            assert got[key] == expected[key], f"{urn}: {key} differs"
        assert got == expected, f"{urn} differs"
    assert any(r["aliases"] for r in plain_resources.values()), "no resource declares aliases: nothing compared"

    assert _violations(fast) == _violations(plain)
    assert fast["policy"]["rules"] == plain["policy"]["rules"]
    assert fast["policy"]["passed"] == plain["policy"]["passed"]
    assert fast["outputs"] == plain["outputs"]
    assert fast["summary"]["byType"] == plain["summary"]["byType"]

    def components(report: dict[str, Any]) -> list[str]:  # listed in registration order, which threads decide
        return sorted(json.dumps(c, sort_keys=True) for c in report["summary"]["byComponent"])

    assert components(fast) == components(plain)


# In a fresh interpreter: the lazy packages, every name their eager __init__ binds resolved through them, compared
# with a second, eager execution of the same __init__ against the same submodules.
_LAZY_CHECK = """
import importlib, sys, types
from offline import harness

packages = sys.argv[1:]
with harness._lazy_sdk_packages():
    modules = [importlib.import_module(name) for name in packages]
    for module in modules:
        module._utilities  # azure-native's own lazy import of its service packages runs on first use
for module in modules:
    assert type(module).__name__ == "_LazyPackage", (module.__name__, type(module))
    # Every name the plan knows, resolved lazily before anything imports the package's modules the eager way.
    lazy = {name: getattr(module, name) for name in module.__dict__["_offline_plan"].index}
    loader = module.__dict__["_offline_loader"]
    eager = {"__name__": module.__name__, "__package__": module.__name__, "__path__": list(module.__path__)}
    exec(loader.get_code(module.__name__), eager)
    names = [name for name in eager if not name.startswith("__")]
    assert set(lazy) <= set(names), (module.__name__, sorted(set(lazy) - set(names))[:5])
    for name in names:
        value = lazy[name] if name in lazy else getattr(module, name)
        assert value is eager[name], (module.__name__, name, value, eager[name])
    assert type(module).__name__ == "_LazyPackage", (module.__name__, "fell back to the eager import")
    print(module.__name__, len(names))
"""


def test_lazy_sdk_packages_bind_what_their_eager_import_binds() -> None:
    packages = [
        "pulumi_azure_native.batch",  # resources, functions, inputs, outputs, enums
        "pulumi_kubernetes.core.v1",  # each module exports a class of its own name (Namespace.Namespace)
        "pulumi_kubernetes.helm.v3",  # helm.py has no __all__: its public names are star-imported
    ]
    result = subprocess.run(
        [sys.executable, "-c", _LAZY_CHECK, *packages],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    counts = dict(line.split() for line in result.stdout.splitlines())
    assert set(counts) == set(packages) and all(int(n) > 10 for n in counts.values()), result.stdout
