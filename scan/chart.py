"""Render charts/cromwell-on-azure with the values a stack passes to its Helm Release, with the real Helm engine.

helm-python-sdk embeds Helm's Go template engine (no helm binary), so the manifests are what Helm would apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import helm_python

CHART_DIR = Path(__file__).resolve().parents[1] / "charts" / "cromwell-on-azure"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
RELEASE_NAME = "coa"
NAMESPACE = "coa"


class ReleaseNotFoundError(LookupError):
    """The stack registers no (or more than one) Helm Release of this chart."""


def render_manifests(
    values: Mapping[str, Any], *, namespace: str = NAMESPACE, release: str = RELEASE_NAME
) -> dict[str, str]:
    """Template path -> rendered text. Raises helm_python.HelmValuesError when the schema rejects values."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        return chart.render(dict(values), name=release, namespace=namespace, is_install=True)


def release_inputs(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """Inputs of the stack's one Helm Release of charts/cromwell-on-azure, from an offline resources.json."""
    releases = [r for r in document.get("resources") or [] if r.get("type") == RELEASE_TYPE]
    if len(releases) != 1:
        names = ", ".join(str(r.get("name")) for r in releases) or "none"
        raise ReleaseNotFoundError(f"expected one {RELEASE_TYPE} in resources.json, found {names}")
    inputs = releases[0].get("inputs") or {}
    chart = str(inputs.get("chart", ""))
    if Path(chart).name != CHART_DIR.name:
        raise ReleaseNotFoundError(f"the Release renders {chart!r}, not {CHART_DIR.name}")
    return inputs


def write_manifests(document: Mapping[str, Any], destination: Path) -> list[Path]:
    """Render the stack's Release into destination (one file per template, as Helm names them)."""
    inputs = release_inputs(document)
    values = inputs.get("values") or {}
    if not isinstance(values, Mapping):
        raise TypeError(f"the Release's values must be a mapping, got {type(values).__name__}")
    rendered = render_manifests(
        values,
        namespace=str(inputs.get("namespace") or NAMESPACE),
        release=str(inputs.get("name") or RELEASE_NAME),
    )
    written: list[Path] = []
    for template, text in sorted(rendered.items()):
        # Helm also returns NOTES.txt and templates that render to nothing; only manifests are scanned.
        if not template.endswith((".yaml", ".yml")) or not text.strip():
            continue
        target = destination / template
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    if not written:
        raise ValueError("the chart rendered no manifests")
    return written
