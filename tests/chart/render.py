"""Render charts/cromwell-on-azure with the real Helm engine (helm-python-sdk, no binary).

The integrator reuses `render_chart` to render with the exact values a stack passes to the
`kubernetes:helm.sh/v3:Release`, so tests see what Helm would apply. The rendering itself lives in
scan/chart.py, which `make scan` uses to hand the same manifests to Checkov.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# CHART_DIR is re-exported for the chart tests.
from scan.chart import CHART_DIR as CHART_DIR
from scan.chart import NAMESPACE, RELEASE_NAME, render_manifests

DATA_DIR = Path(__file__).resolve().parent / "data"


def load_values(name: str) -> dict[str, Any]:
    """Load tests/chart/data/<name>.yaml (e.g. "values-dev")."""
    loaded = yaml.safe_load((DATA_DIR / f"{name}.yaml").read_text())
    if not isinstance(loaded, dict):
        raise TypeError(f"{name}.yaml must hold a mapping, got {type(loaded).__name__}")
    return loaded


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return base with override merged in (mappings recursively, everything else replaced)."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def render_chart(
    values: Mapping[str, Any], *, namespace: str = NAMESPACE, release: str = RELEASE_NAME
) -> list[dict[str, Any]]:
    """Render the chart and return every Kubernetes object (hooks included), in template order."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(render_manifests(values, namespace=namespace, release=release).items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc is None:
                continue
            if not isinstance(doc, dict) or "kind" not in doc:
                raise ValueError(f"{path} rendered a document that is not a Kubernetes object: {doc!r}")
            objects.append(doc)
    return objects


def kind_counts(objects: list[dict[str, Any]]) -> dict[str, int]:
    """{"Deployment": 3, ...}, sorted by kind."""
    counts: dict[str, int] = {}
    for obj in objects:
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
    return dict(sorted(counts.items()))
