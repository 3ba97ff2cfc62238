"""Finding pod specs: in typed Kubernetes resources, and in Helm v3 Releases of local charts by rendering them.

Helm v4 ``Chart`` resources register every rendered object as its own typed resource, so the engine sends
those to the pack one by one; a v3 ``Release`` is one opaque resource, so the pack renders its chart
itself: with the ``helm`` binary when it is on PATH, else with the helm-python-sdk library (Helm's Go SDK
over a C ABI; no binary, no cluster).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ._core import MISSING, UNKNOWN, Subject, get, known

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"

# Where the pod template sits in each workload kind.
POD_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
TYPED_WORKLOADS = (
    "kubernetes:core/v1:Pod",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:core/v1:ReplicationController",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
)
# Other typed Kubernetes objects rules read, by kind (Helm v4 charts register these one by one too).
TYPED_OBJECTS: dict[str, str] = {
    "Service": "kubernetes:core/v1:Service",
    "NetworkPolicy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "Ingress": "kubernetes:networking.k8s.io/v1:Ingress",
    "ClusterRoleBinding": "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    "RoleBinding": "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "PersistentVolume": "kubernetes:core/v1:PersistentVolume",
}
# A computed Helm value is rendered as this marker; image checks skip images that contain it.
UNKNOWN_MARKER = "pulumi-unknown-value"


@dataclass(frozen=True)
class Rendered:
    objects: tuple[Mapping[str, Any], ...] = ()
    error: str = ""
    skipped: str = ""


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def _obj_label(obj: Mapping[str, Any], fallback: str) -> str:
    name = get(obj, "metadata", "name")
    return f"{get(obj, 'kind')}/{name if isinstance(name, str) else fallback}"


def pod_specs(s: Subject) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(label, pod spec) for a typed workload, or for every workload a Helm v3 Release renders."""
    if s.type == RELEASE:
        for obj in render_release(s).objects:
            path = POD_PATHS.get(str(get(obj, "kind")))
            spec = get(obj, *path) if path else MISSING
            if isinstance(spec, Mapping):
                yield f"{_obj_label(obj, '?')} (Helm release {s.name})", spec
        return
    if s.type in TYPED_WORKLOADS:
        spec = get(s.props, *POD_PATHS[_kind(s.type)])
        if isinstance(spec, Mapping):
            yield f"{_kind(s.type)}/{s.name}", spec


def objects(s: Subject, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(label, object) for a typed object of `kind`, or for every object of that kind a Helm v3 Release renders."""
    if s.type == RELEASE:
        for obj in render_release(s).objects:
            if get(obj, "kind") == kind:
                yield f"{_obj_label(obj, '?')} (Helm release {s.name})", obj
    elif s.type == TYPED_OBJECTS.get(kind):
        name = get(s.props, "metadata", "name")
        yield f"{kind}/{name if isinstance(name, str) else s.name}", s.props


def namespaces(s: Subject) -> Iterator[tuple[str, Any]]:
    """(name, labels) for a typed Namespace or the Namespaces a Helm v3 Release renders."""
    if s.type == NAMESPACE:
        name = get(s.props, "metadata", "name")
        yield (name if isinstance(name, str) else s.name), get(s.props, "metadata", "labels")
    elif s.type == RELEASE:
        for obj in render_release(s).objects:
            if get(obj, "kind") == "Namespace":
                yield str(get(obj, "metadata", "name")), get(obj, "metadata", "labels")


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for group in ("initContainers", "containers", "ephemeralContainers"):
        listed = get(spec, group)
        if isinstance(listed, list):
            for index, container in enumerate(listed):
                if isinstance(container, Mapping):
                    name = get(container, "name")
                    yield (name if isinstance(name, str) else f"{group}[{index}]"), container


def _for_render(value: Any) -> Any:
    if value is UNKNOWN:
        return UNKNOWN_MARKER
    if isinstance(value, Mapping):
        return {k: _for_render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_for_render(v) for v in value]
    return value


def _find_chart(chart: str) -> Path | None:
    # The CLI starts the pack in the pack directory, not the program's; relative chart paths are looked up
    # there and in its parents (a pack kept inside the project, as `policy/` is here).
    path = Path(chart)
    if path.is_absolute():
        return path if path.is_dir() else None
    base = Path.cwd()
    for root in (base, *list(base.parents)[:2]):
        if (root / path / "Chart.yaml").is_file():
            return (root / path).resolve()
    return None


def render_release(s: Subject) -> Rendered:
    chart = get(s.props, "chart")
    if not isinstance(chart, str):
        return Rendered(skipped="chart is computed")
    if known(get(s.props, "repositoryOpts", "repo")) or "://" in chart:
        return Rendered(skipped=f"chart {chart!r} comes from a repository; only local charts are rendered")
    path = _find_chart(chart)
    if path is None:
        return Rendered(error=f"local chart {chart!r} not found (looked in {Path.cwd()} and its parents)")
    name = get(s.props, "name")
    namespace = get(s.props, "namespace")
    values = get(s.props, "values")
    return _render(
        str(path),
        json.dumps(_for_render(values if isinstance(values, Mapping) else {}), sort_keys=True),
        name if isinstance(name, str) else s.name,
        namespace if isinstance(namespace, str) else "default",
    )


@functools.lru_cache(maxsize=32)
def _render(chart: str, values_json: str, name: str, namespace: str) -> Rendered:
    try:
        texts = (
            _render_with_binary(chart, values_json, name, namespace)
            if shutil.which("helm")
            else _render_with_library(chart, values_json, name, namespace)
        )
        objects = tuple(doc for text in texts for doc in yaml.safe_load_all(text) if isinstance(doc, Mapping))
    except Exception as error:
        return Rendered(error=f"rendering {chart} failed: {str(error).strip()[:2000]}")
    return Rendered(objects=objects)


def _render_with_binary(chart: str, values_json: str, name: str, namespace: str) -> list[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write(values_json)
    try:
        done = subprocess.run(
            ["helm", "template", name, chart, "--namespace", namespace, "--values", handle.name],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.unlink(handle.name)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return [done.stdout]


def _render_with_library(chart: str, values_json: str, name: str, namespace: str) -> list[str]:
    import helm_python

    with helm_python.Chart.load(chart) as loaded:
        manifests = loaded.render(json.loads(values_json), name=name, namespace=namespace, is_install=True)
    return [text for path, text in sorted(manifests.items()) if path.endswith((".yaml", ".yml"))]
