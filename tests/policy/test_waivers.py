"""Waivers name what they cover (resources, images, accounts) and why; everything else stays at the rule's level. prod.json
waives exactly the Helm release's images whose digests images.lock.json still lacks."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

from configuration.image_lock import load_lock
from offline.harness import ProgramRun
from policy.coa_policies import all_policies
from policy.coa_policies._core import Rule, StackResource, StackRule
from policy.coa_policies._findings import finding, waived

REPO = Path(__file__).resolve().parents[2]
PROD = json.loads((REPO / "policy" / "config" / "prod.json").read_text())
RULES = {p.name: p for p in all_policies()}
DIGEST = "k8s-image-digest-pinned-production"
RELEASE = "kubernetes:helm.sh/v3:Release"
IMAGE = finding("image 'cr.azurecr.io/tes:6' is not pinned.", image="cr.azurecr.io/tes:6")
URN = "urn:pulumi:prod::coa::kubernetes:helm.sh/v3:Release::coa-release"


def test_a_waiver_covers_what_all_its_selectors_name() -> None:
    reason = "digest pending"
    assert waived([IMAGE], {"waivers": [{"reason": reason, "images": ["*/tes:6"]}]}, "coa-release", URN) == []
    assert waived([IMAGE], {"waivers": [{"reason": reason, "resources": ["*-release"]}]}, "coa-release", URN) == []
    both = {"reason": reason, "resources": ["other-*"], "images": ["*/tes:6"]}
    assert waived([IMAGE], {"waivers": [both]}, "coa-release", URN) == [IMAGE]
    # A finding that names no image is not covered by an image waiver.
    plain = "hostNetwork is true."
    assert waived([plain], {"waivers": [{"reason": reason, "images": ["*"]}]}, "coa-release", URN) == [plain]


def test_an_invalid_waiver_covers_nothing_and_says_why() -> None:
    for waiver, problem in (
        ({"images": ["*/tes:6"]}, "it gives no reason"),
        ({"reason": " ", "images": ["*/tes:6"]}, "it gives no reason"),
        ({"reason": "pending"}, "it names no resources or findings"),
        ({"reason": "pending", "images": "*/tes:6"}, "each selector must be a non-empty list of globs"),
    ):
        (kept,) = waived([IMAGE], {"waivers": [waiver]}, "coa-release", URN)
        if "images" in waiver and isinstance(waiver["images"], list):
            assert f"waiver #1 would cover it but is ignored: {problem}" in kept
        assert kept.startswith(IMAGE)


def _release(prod: ProgramRun) -> tuple[dict, str, str]:
    (release,) = prod.of_type(RELEASE)
    return release.inputs, release.name, release.urn


def test_prod_waiver_covers_the_pending_digests_and_each_entry_covers_one(prod: ProgramRun) -> None:
    rule = RULES[DIGEST]
    assert isinstance(rule, Rule)
    inputs, name, urn = _release(prod)
    config = PROD[DIGEST]
    assert rule.evaluate(inputs, type=RELEASE, config=config, name=name, urn=urn) == []
    bare = {k: v for k, v in config.items() if k != "waivers"}
    findings = rule.evaluate(inputs, type=RELEASE, config=bare, name=name, urn=urn)
    assert findings, "without its waiver the release's pending digests are reported"
    (waiver,) = config["waivers"]
    for image in waiver["images"]:
        narrower = {**config, "waivers": [{**waiver, "images": [i for i in waiver["images"] if i != image]}]}
        assert rule.evaluate(inputs, type=RELEASE, config=narrower, name=name, urn=urn), f"{image} covers nothing"


def test_prod_waiver_names_only_images_whose_digest_is_pending() -> None:
    lock = load_lock()
    pending = [f"x.azurecr.io/{lock[key].repository}:{lock[key].tag}" for key in lock.unpinned()]
    for entry in PROD[DIGEST]["waivers"]:
        assert entry["reason"].strip() and set(entry) >= {"resources", "images"}
        for glob in entry["images"] + entry["resources"]:
            assert glob.strip("*/.") != "", f"{glob!r} waives everything"
        for glob in entry["images"]:
            assert any(fnmatch.fnmatchcase(image, glob) for image in pending), (
                f"prod.json waives {glob!r}, which is not pending (recorded in images.lock.json, or built by the stack and run by its digest): delete it from the waiver"
            )


def test_a_stack_rule_waiver_names_the_account_it_covers() -> None:
    account = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stresults02"
    grant = StackResource(
        type="azure-native:authorization:RoleAssignment",
        urn="urn:pulumi:prod::coa::azure-native:authorization:RoleAssignment::results",
        name="results",
        props={
            "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
            "scope": f"{account}/blobServices/default/containers/cohort",
        },
    )
    rule = RULES["data-account-private-endpoint"]
    assert isinstance(rule, StackRule)
    assert [urn for _, urn in rule.evaluate([grant])] == [grant.urn]
    hub = {"reason": "the hub owns this account's blob private endpoint and DNS", "accounts": ["*/stresults02"]}
    assert rule.evaluate([grant], {"waivers": [hub]}) == []
    assert rule.evaluate([grant], {"waivers": [{**hub, "accounts": ["*/other"]}]}) != []
    ((message, _),) = rule.evaluate([grant], {"waivers": [{"accounts": ["*/stresults02"]}]})
    assert "waiver #1 would cover it but is ignored: it gives no reason" in message
