"""images.lock.json: the one reviewed file that pins every image the chart runs; bad entries are refused by name."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.registry import DEFAULT_CACHE_RULES
from configuration.image_lock import LOCK_KEYS, load_lock, parse_lock
from configuration.reader import ConfigError

REPO = Path(__file__).resolve().parents[2]
LOCK = json.loads((REPO / "images.lock.json").read_text())
DIGEST = "sha256:" + "ab" * 32


def changed(key: str, **changes: Any) -> dict[str, Any]:
    lock = copy.deepcopy(LOCK)
    lock["images"][key].update(changes)
    return lock


def test_the_checked_in_lock_names_every_chart_image_through_a_cache_rule() -> None:
    lock = load_lock()
    assert set(lock.pins) == set(LOCK_KEYS)
    rules = {rule.target_repository: rule.source_repository for rule in DEFAULT_CACHE_RULES}
    for key, pin in lock.pins.items():
        assert rules.get(pin.cache_repository) == pin.upstream, key
        assert pin.digest is None or pin.resolved, f"{key}: a digest without provenance"


def test_tes_and_triggerservice_build_from_the_commits_of_the_coa_6_0_0_tag() -> None:
    # CromwellOnAzure@6.0.0 is ab39df3; its src/ga4gh-tes submodule is ga4gh-tes@6.0.0 (4486000), the TES we run.
    for key in ("tes", "triggerservice"):
        build = load_lock()[key].build
        assert build is not None and build.ref == "6.0.0", key
        assert build.commit == "ab39df3f47af6d75ffe5bbaee9a6629e8fb0c7f4"
        assert build.submodules == {"src/ga4gh-tes": "448600041330bf9891f1fe4dca939ed99631acb1"}
        assert build.dockerfile.startswith(build.context + "/"), f"{key}: the Dockerfile lies outside its context"


BAD = [
    (changed("tes", tag="latest"), "images.tes.tag", "latest"),
    (changed("tes", tag="6.0.0 "), "images.tes.tag", "does not match"),
    (changed("cromwell", digest="sha256:ABC"), "images.cromwell.digest", "sha256:<64 lowercase hex>"),
    (changed("cromwell", digest="87"), "images.cromwell.digest", "pending"),
    (changed("cromwell", digest=DIGEST, resolved=None), "images.cromwell.resolved", "provenance"),
    (changed("dbClient", source="registry"), "images.dbClient.source", "cache, build"),
    (changed("cromwell", source="build"), "images.cromwell.build", "source: build needs"),
    (changed("smokeTest", upstream="curlimages/curl"), "images.smokeTest.upstream", "does not match"),
    (changed("tes", Digest=DIGEST), "images.tes.Digest", "did you mean 'digest'?"),
    (changed("tes", build={**LOCK["images"]["tes"]["build"], "commit": "6.0.0"}), "images.tes.build.commit", "40"),
    (
        changed("tes", build={**LOCK["images"]["tes"]["build"], "submodules": {"src/ga4gh-tes": "main"}}),
        "images.tes.build.submodules.src/ga4gh-tes",
        "40-hex commit",
    ),
]


@pytest.mark.parametrize(("lock", "where", "words"), BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_a_bad_entry_is_refused_naming_its_key(lock: dict[str, Any], where: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_lock(lock)
    message = str(refused.value)
    assert f"images.lock.json: {where}" in message and words in message


def test_missing_and_unknown_images_are_all_reported_at_once() -> None:
    lock = copy.deepcopy(LOCK)
    del lock["images"]["tes"]
    lock["images"]["crommwell"] = lock["images"]["cromwell"]
    with pytest.raises(ConfigError) as refused:
        parse_lock(lock)
    assert refused.value.errors == (
        "images.lock.json: images.tes: missing; the chart runs it",
        "images.lock.json: images.crommwell: not an image the chart runs; did you mean 'cromwell'?",
    )
    assert str(refused.value).startswith("2 configuration errors:\n  - images.lock.json: images.tes: missing")


def test_a_lock_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "images.lock.json"
    broken.write_text('{"images": ')
    with pytest.raises(ConfigError, match=r"images\.lock\.json: not valid JSON"):
        load_lock(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_lock(tmp_path / "missing.json")


def test_the_prod_waivers_last_exactly_as_long_as_digests_are_pending() -> None:
    """Pending digests are accepted in prod by name (stack file) and waived image by image (policy config; the rule
    stays mandatory); the pull request that records the digests must drop both, and neither may outlive the pending
    state."""
    pending = bool(load_lock().unpinned())
    stack = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"]
    accepted = "unpinnedImages" in stack.get("coa-lockdown:guardrailOverrides", {})
    policy = json.loads((REPO / "policy" / "config" / "prod.json").read_text())
    rule = policy.get("k8s-image-digest-pinned-production", {})
    waived = bool(rule.get("waivers"))
    assert rule.get("production") is True and "enforcementLevel" not in rule
    assert accepted == pending, "Pulumi.prod.yaml guardrailOverrides.unpinnedImages must match the pending digests"
    assert waived == pending, "policy/config/prod.json waives k8s-image-digest-pinned-production only while pending"
