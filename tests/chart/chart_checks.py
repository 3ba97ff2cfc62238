"""Cases and small readers over rendered objects, shared by the chart tests."""

from __future__ import annotations

from typing import Any

from render import deep_merge, load_values, render_chart

# <stack>-<task database kind>[-mount]: both stacks, both TES generations, and the keyless executions mount.
CASES = ("dev-postgresql", "dev-cosmosdb", "prod-postgresql", "prod-cosmosdb", "dev-postgresql-mount")
POD_KINDS = ("Deployment", "Job")


def case_values(case: str) -> dict[str, Any]:
    stack, kind, *rest = case.split("-")
    override: dict[str, Any] = {"taskDatabase": {"kind": kind}}
    if rest == ["mount"]:
        override["cromwell"] = {"executionsRoot": "mount"}
    return deep_merge(load_values(f"values-{stack}"), override)


_CACHE: dict[str, list[dict[str, Any]]] = {}


def rendered_case(case: str) -> list[dict[str, Any]]:
    """Render each case once per session; tests only read the result."""
    if case not in _CACHE:
        _CACHE[case] = render_chart(case_values(case))
    return _CACHE[case]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def get(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(workload name, pod spec, pod labels) for every pod template."""
    return [
        (o["metadata"]["name"], o["spec"]["template"]["spec"], o["spec"]["template"]["metadata"]["labels"])
        for o in objects
        if o["kind"] in POD_KINDS
    ]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def is_hook(obj: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (obj["metadata"].get("annotations") or {})
