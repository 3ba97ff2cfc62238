"""policy/README.md's scan column: computed from the scan, and only ever naming checks the rule is anchored to."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy.coa_policies import all_policies
from scan.checkov import Finding
from scan.policy_readme import COLUMN, PolicyReadmeError, with_scan_column
from scan.report import anchored_checks, cross_checks

README = Path(__file__).resolve().parents[2] / "policy" / "README.md"
TABLE = (
    "intro\n\n| Rule | Anchor | Config |\n|---|---|---|\n"
    "| `a` | CKV_AZURE_1, CKV_AZURE_2 | — |\n| `b` | Azure Policy: x | — |\n\nafter\n"
)


def test_the_column_is_inserted_after_anchor_then_rewritten_in_place() -> None:
    crossed = {"a": ["CKV_AZURE_2"], "b": []}
    once = with_scan_column(TABLE, crossed)
    assert f"| Rule | Anchor | {COLUMN} | Config |" in once
    assert "|---|---|---|---|" in once
    assert "| `a` | CKV_AZURE_1, CKV_AZURE_2 | CKV_AZURE_2 | — |" in once
    assert "| `b` | Azure Policy: x | — | — |" in once
    assert with_scan_column(once, crossed) == once
    assert "| `a` | CKV_AZURE_1, CKV_AZURE_2 | CKV_AZURE_1, CKV_AZURE_2 | — |" in with_scan_column(
        once, {"a": ["CKV_AZURE_1", "CKV_AZURE_2"], "b": []}
    )


def test_a_rule_missing_from_the_table_or_unknown_to_the_pack_is_an_error() -> None:
    with pytest.raises(PolicyReadmeError, match="no row"):
        with_scan_column(TABLE, {"a": [], "b": [], "c": []})
    with pytest.raises(PolicyReadmeError, match="not a rule"):
        with_scan_column(TABLE, {"a": []})


def test_cross_checks_are_anchored_checks_that_evaluated_something() -> None:
    ran = [Finding("dev", "arm", "CKV_AZURE_2", "n", "r", "f", 1, True)]
    assert cross_checks({"a": "CKV_AZURE_1, CKV_AZURE_2", "b": "none"}, ran) == {"a": ["CKV_AZURE_2"], "b": []}


def test_the_readme_column_names_only_checks_each_rule_is_anchored_to() -> None:
    anchors = {p.name: p.anchor for p in all_policies()}
    lines = README.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| Rule |"))
    column = [cell.strip() for cell in header.strip("|").split("|")].index(COLUMN)
    rows = [line for line in lines if line.startswith("| `")]
    assert len(rows) == len(anchors)
    for row in rows:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        rule = cells[0].strip("`")
        listed = set() if cells[column] == "—" else set(cells[column].split(", "))
        assert listed <= anchored_checks(anchors[rule]), rule
