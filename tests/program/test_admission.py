"""Admission control: the cluster admits exactly the images the chart renders, from the private registry, and only
by digest where the stack requires digests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from stackquery import one, resolved_lock_document, run_variant

from components.admission import ALLOWED_IMAGES_DEFINITION, allowed_images_regex
from offline.analyzer import PolicyPackAnalyzer
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]

ASSIGNMENT = "azure-native:authorization:PolicyAssignment"
REGISTRY = "crcoaprodp4m9.azurecr.io"
DIGEST = "@sha256:" + "0f" * 32


def _images(value: object) -> list[str]:
    """Every container image in the Release's rendered values (registry + repository + tag/digest)."""
    images = value["images"]  # type: ignore[index]
    refs = []
    for image in images.values():
        if isinstance(image, dict):
            ref = f"{images['registry']}/{image['repository']}:{image['tag']}"
            refs.append(ref + (f"@{image['digest']}" if image.get("digest") else ""))
    return refs


def test_the_workload_namespace_denies_images_from_elsewhere(stack: ProgramRun) -> None:
    assignment = one(stack, ASSIGNMENT, "allowed-images").inputs
    cluster = one(stack, "azure-native:containerservice:ManagedCluster")
    assert assignment["scope"] == cluster.id
    assert assignment["policyDefinitionId"] == ALLOWED_IMAGES_DEFINITION
    parameters = {k: v["value"] for k, v in assignment["parameters"].items()}
    assert parameters["effect"] == "Deny" and parameters["namespaces"] == ["coa"]
    regex = re.compile(parameters["allowedContainerImagesRegex"])
    release = one(stack, "kubernetes:helm.sh/v3:Release").inputs["values"]
    for image in _images(release):
        assert regex.fullmatch(image), f"admission would refuse the chart's own image {image}"
    for foreign in (
        "docker.io/library/ubuntu:22.04",
        "evil.azurecr.io/x:1",
        f"{release['images']['registry']}.evil.io/x:1",
    ):
        assert not regex.fullmatch(foreign), foreign


@pytest.mark.parametrize(
    ("image", "pinned_only", "admitted"),
    [
        (f"{REGISTRY}/cromwellonazure/tes:6.0.0{DIGEST}", True, True),
        (f"{REGISTRY}/cromwellonazure/tes{DIGEST}", True, True),
        (f"{REGISTRY}/cromwellonazure/tes:6.0.0", True, False),
        (f"{REGISTRY}/cromwellonazure/tes:6.0.0", False, True),
        (f"{REGISTRY}/cromwellonazure/tes:6.0.0@sha256:abc", False, False),
        (f"{REGISTRY}/../tes:6.0.0", False, False),
        (f"mcr.microsoft.com/cromwellonazure/tes:6.0.0{DIGEST}", True, False),
        (f"{REGISTRY.replace('.', 'x', 1)}/tes:1", False, False),
    ],
)
def test_the_regex_admits_only_the_registry_and_a_digest_where_required(
    image: str, pinned_only: bool, admitted: bool
) -> None:
    regex = re.compile(allowed_images_regex(REGISTRY, require_digest=pinned_only))
    assert bool(regex.fullmatch(image)) is admitted


@pytest.fixture(scope="module")
def pinned_prod(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    """prod once images.lock.json is resolved: the pending-digest override is gone from the stack file."""
    return run_variant(
        tmp_path_factory.mktemp("pinned"),
        "prod",
        {"coa-lockdown:guardrailOverrides": {}},
        files={"images.lock.json": json.dumps(resolved_lock_document())},
    )


def test_a_resolved_lock_pins_every_prod_image_from_chart_to_admission(pinned_prod: ProgramRun) -> None:
    values = one(pinned_prod, "kubernetes:helm.sh/v3:Release").inputs["values"]
    assert values["images"]["requireDigest"] is True
    images = _images(values)
    assert images and all("@sha256:" in image for image in images)
    parameters = one(pinned_prod, ASSIGNMENT, "allowed-images").inputs["parameters"]
    regex = re.compile(parameters["allowedContainerImagesRegex"]["value"])
    assert all(regex.fullmatch(image) for image in images)
    assert not regex.fullmatch(images[0].split("@")[0]), "a bare tag must not be admitted once digests are required"
    assert "guardrailOverrides" not in pinned_prod.outputs


def test_with_a_resolved_lock_prod_passes_the_digest_rule_at_mandatory(pinned_prod: ProgramRun) -> None:
    with PolicyPackAnalyzer(
        REPO / "policy", config={"k8s-image-digest-pinned-production": {"production": True}}
    ) as pack:
        failed = [v for v in pack.analyze(pinned_prod.resources) if v.enforcement_level == "mandatory"]
    assert failed == [], [f"{v.policy_name}: {v.message}" for v in failed]
