"""The waiver file decides what fails `make scan`: unwaived failures and stale waivers both do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scan.__main__ import suppress_waived_in_sarif
from scan.checkov import Finding
from scan.waivers import Waiver, WaiverFileError, judge, load_waivers, parse_waiver

REPO = Path(__file__).resolve().parents[2]
REASON = "A reason long enough to explain to a reviewer why this is acceptable."
BOTH = [("dev", "arm"), ("prod", "arm"), ("dev", "kubernetes"), ("prod", "kubernetes")]


def finding(check: str, resource: str, *, stack: str = "dev", framework: str = "arm", passed: bool = False) -> Finding:
    return Finding(stack, framework, check, "name", resource, "/t.json", 10, passed)


def test_the_project_waiver_file_parses_and_every_entry_has_a_reason() -> None:
    waivers = load_waivers(REPO / "scan" / "waivers.yaml")
    assert waivers
    assert all(len(w.reason) >= 40 for w in waivers)
    assert len({(w.check, w.framework, w.resource, w.stacks) for w in waivers}) == len(waivers), "duplicate entries"


def test_a_failure_without_a_waiver_fails_and_a_matching_waiver_covers_it() -> None:
    failed = finding("CKV_AZURE_6", "Microsoft.ContainerService/managedClusters.aks")
    assert judge([failed], [], BOTH).unwaived == [failed]
    waiver = Waiver("CKV_AZURE_6", "arm", REASON, resource="Microsoft.ContainerService/managedClusters.*")
    verdict = judge([failed], [waiver], BOTH)
    assert verdict.ok and verdict.waived == {failed: waiver}


def test_a_waiver_does_not_reach_another_stack_framework_or_resource() -> None:
    waiver = Waiver("CKV_AZURE_206", "arm", REASON, resource="Microsoft.Storage/*", stacks=("dev",))
    in_prod = finding("CKV_AZURE_206", "Microsoft.Storage/storageAccounts.st", stack="prod")
    other_resource = finding("CKV_AZURE_206", "Microsoft.Batch/batchAccounts.ba")
    other_framework = finding("CKV_AZURE_206", "Microsoft.Storage/storageAccounts.st", framework="kubernetes")
    verdict = judge([in_prod, other_resource, other_framework], [waiver], BOTH)
    assert verdict.unwaived == [in_prod, other_resource, other_framework]
    assert verdict.stale == [waiver]


def test_a_waiver_that_matches_only_passed_checks_is_stale_but_not_where_it_was_not_scanned() -> None:
    waiver = Waiver("CKV_K8S_15", "kubernetes", REASON)
    passed = finding("CKV_K8S_15", "Deployment.coa.tes", framework="kubernetes", passed=True)
    assert judge([passed], [waiver], BOTH).stale == [waiver]
    assert judge([], [waiver], [("dev", "arm")]).stale == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"check": "CKV_AZURE_6", "framework": "arm"}, "reason"),
        ({"check": "CKV_AZURE_6", "framework": "arm", "reason": "too short"}, "at least"),
        ({"check": "AZURE_6", "framework": "arm", "reason": REASON}, "not a Checkov check id"),
        ({"check": "CKV_AZURE_6", "framework": "terraform", "reason": REASON}, "framework"),
        ({"check": "CKV_AZURE_6", "framework": "arm", "reason": REASON, "until": "2030"}, "unknown keys"),
        ({"check": "CKV_AZURE_6", "framework": "arm", "reason": REASON, "stacks": "dev"}, "stacks"),
    ],
)
def test_a_malformed_entry_is_refused_with_what_is_wrong(entry: dict[str, object], message: str) -> None:
    with pytest.raises(WaiverFileError, match=message):
        parse_waiver(entry, "waivers[0]")


def test_waived_results_are_marked_suppressed_in_the_sarif(tmp_path: Path) -> None:
    waived = finding("CKV_AZURE_6", "Microsoft.ContainerService/managedClusters.aks")
    other = Finding(
        "dev", "arm", "CKV_AZURE_8", "n", "Microsoft.ContainerService/managedClusters.aks", "/t.json", 10, False
    )

    def result(rule: str) -> dict[str, object]:
        region = {"startLine": 10, "endLine": 20}
        return {
            "ruleId": rule,
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "t.json"}, "region": region}}],
        }

    sarif = tmp_path / "results.sarif"
    sarif.write_text(json.dumps({"runs": [{"results": [result("CKV_AZURE_6"), result("CKV_AZURE_8")]}]}))
    verdict = judge([waived, other], [Waiver("CKV_AZURE_6", "arm", REASON)], BOTH)
    suppress_waived_in_sarif(sarif, verdict, "dev", "arm")
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert results[0]["suppressions"] == [{"kind": "external", "status": "accepted", "justification": REASON}]
    assert "suppressions" not in results[1]
