"""policy/README.md is the reviewer's table: one row per rule, matching the pack's own metadata."""

from __future__ import annotations

from pathlib import Path

from policy.coa_policies import all_policies
from policy.coa_policies._core import SAFEGUARDS

README = (Path(__file__).resolve().parents[2] / "policy" / "README.md").read_text()


def test_every_rule_has_a_matching_row() -> None:
    rows = {line.split("|")[1].strip().strip("`"): line for line in README.splitlines() if line.startswith("| `")}
    policies = all_policies()
    assert set(rows) == {p.name for p in policies}
    for p in policies:
        row = rows[p.name]
        assert p.severity is not None and p.enforcement_level is not None
        assert f"{p.severity.value} / {p.enforcement_level.value}" in row, p.name
        assert SAFEGUARDS[p.safeguard][0] in row and p.anchor in row, p.name
        for key in p.defaults:
            assert f"`{key}`" in row, (p.name, key)
    assert f"{len(policies)} rules" in README
