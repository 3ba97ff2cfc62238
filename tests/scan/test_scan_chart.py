"""The chart Checkov scans is rendered from the values the stack's Helm Release carries."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from scan.chart import RELEASE_TYPE, ReleaseNotFoundError, write_manifests


def _release(document: dict[str, Any]) -> dict[str, Any]:
    (release,) = [r for r in document["resources"] if r["type"] == RELEASE_TYPE]
    return release


def _rendered_images(document: dict[str, Any], destination: Path) -> set[str]:
    written = write_manifests(document, destination)
    objects = [doc for path in written for doc in yaml.safe_load_all(path.read_text()) if doc]
    pods = [obj["spec"].get("template", obj)["spec"] for obj in objects if obj["kind"] in {"Deployment", "Job", "Pod"}]
    return {c["image"] for spec in pods for c in [*spec.get("initContainers", []), *spec["containers"]]}


def _expected_images(document: dict[str, Any]) -> set[str]:
    images = {k: v for k, v in _release(document)["inputs"]["values"]["images"].items() if isinstance(v, dict)}
    registry = _release(document)["inputs"]["values"]["images"]["registry"]
    digest = {key: f"@{image['digest']}" if image.get("digest") else "" for key, image in images.items()}
    return {f"{registry}/{image['repository']}:{image['tag']}{digest[key]}" for key, image in images.items()}


def test_the_release_values_are_what_gets_rendered(dev_document: dict[str, Any], tmp_path: Path) -> None:
    assert _rendered_images(dev_document, tmp_path / "as-is") == _expected_images(dev_document)
    changed = copy.deepcopy(dev_document)
    _release(changed)["inputs"]["values"]["images"]["tes"]["tag"] = "9.9.9"
    assert (
        _rendered_images(changed, tmp_path / "changed") == _expected_images(changed) != _expected_images(dev_document)
    )


def test_a_stack_without_the_release_is_refused(dev_document: dict[str, Any], tmp_path: Path) -> None:
    broken = copy.deepcopy(dev_document)
    broken["resources"] = [r for r in broken["resources"] if r["type"] != RELEASE_TYPE]
    with pytest.raises(ReleaseNotFoundError, match="found none"):
        write_manifests(broken, tmp_path)
