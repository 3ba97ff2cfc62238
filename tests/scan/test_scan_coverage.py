"""`make scan` credits only the pack's rules that judged a resource of a scanned stack (policy.json coverage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scan.report import CoverageError, idle_everywhere, render_report, stack_coverage
from scan.waivers import Verdict


def _write(previews: Path, stack: str, document: object) -> None:
    (previews / stack).mkdir(parents=True)
    (previews / stack / "policy.json").write_text(json.dumps(document))


def test_coverage_comes_from_each_stacks_policy_json(tmp_path: Path) -> None:
    _write(tmp_path, "dev", {"coverage": {"evaluated": {"a": 2, "b": 0, "c": 0}}})
    _write(tmp_path, "prod", {"coverage": {"evaluated": {"a": 2, "b": 3}}})
    coverage = {stack: stack_coverage(tmp_path, stack) for stack in ("dev", "prod")}
    # b judged something in prod; c judged nothing in dev and is absent from prod's counts.
    assert idle_everywhere(coverage, ["a", "b", "c"]) == ["c"]


def test_missing_preview_or_coverage_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(CoverageError, match=r"dev/policy\.json not found"):
        stack_coverage(tmp_path, "dev")
    _write(tmp_path, "dev", {"rules": []})
    with pytest.raises(CoverageError, match=r"no coverage\.evaluated"):
        stack_coverage(tmp_path, "dev")


def test_report_lists_idle_rules_apart_and_does_not_credit_them() -> None:
    verdict = Verdict(waived={}, unwaived=[], stale=[])
    anchors = {"judged-alone": "none", "idle-rule": "none", "also-idle": "CKV_AZURE_1"}
    pairs = [("dev", "arm"), ("prod", "arm")]
    report = render_report([], verdict, pairs, anchors, 0, "3.0", idle=["also-idle", "idle-rule"])
    section = report.split("## Policy rules and Checkov", 1)[1]
    credited, idle = section.split("### Rules that judged no resource in any scanned stack", 1)
    assert "1 of the pack's 3 rules judged at least one resource of dev, prod" in credited
    assert "- `judged-alone`" in credited and "idle-rule" not in credited.split("listed last")[1]
    assert "- `idle-rule`" in idle and "- `also-idle`" in idle
