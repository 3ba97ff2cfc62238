"""policy/THREATS.md is the threat model as data: each row names a rule of the pack (at the level the pack reports it)
and an adversarial test that exists and checks that rule; each adversarial test has a row; rows left advisory or
unenforced say why."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from policy.coa_policies import all_policies

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "policy" / "THREATS.md"
TESTS = Path(__file__).resolve().parent
THREAT_TEST_FILES = ("test_threats_access.py", "test_threats_controls.py", "test_threats_encryption.py")
CLASSES = {"privilege escalation", "exposure", "weakened control", "exfiltration", "audit evasion", "data loss"}
LEVELS = {p.name: p.enforcement_level.value for p in all_policies() if p.enforcement_level is not None}


@dataclass(frozen=True)
class Row:
    key: str
    threat_class: str
    who: str
    change: str
    rule: str
    level: str
    test: str
    why: str


def rows() -> list[Row]:
    found = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith(("| T", "| U")):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            assert len(cells) == 8, line
            cells[4], cells[6] = cells[4].strip("`"), cells[6].strip("`")
            found.append(Row(*cells))
    return found


def threat_tests() -> dict[str, ast.FunctionDef]:
    """`file::name` -> the adversarial test's definition, for every test in the threat test files."""
    found = {}
    for file in THREAT_TEST_FILES:
        tree = ast.parse((TESTS / file).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found[f"{file}::{node.name}"] = node
    return found


ROWS = rows()
FUNCTIONS = threat_tests()


def test_table_has_a_row_per_class_and_unique_keys() -> None:
    assert len(ROWS) >= 40
    assert len({r.key for r in ROWS}) == len(ROWS)
    assert {r.threat_class for r in ROWS} == CLASSES
    for threat_class in CLASSES:
        assert any(r.threat_class == threat_class and r.level != "unenforced" for r in ROWS), threat_class


@pytest.mark.parametrize("row", [r for r in ROWS if r.level != "unenforced"], ids=lambda r: r.key)
def test_enforced_row_names_a_rule_at_its_level_and_a_test_of_that_rule(row: Row) -> None:
    assert row.rule in LEVELS, f"{row.key}: {row.rule!r} is not a rule of the pack"
    assert LEVELS[row.rule] == row.level, (
        f"{row.key}: {row.rule} reports {LEVELS[row.rule]}, the table says {row.level}"
    )
    assert row.test in FUNCTIONS, f"{row.key}: no test {row.test}"
    named = {n.value for n in ast.walk(FUNCTIONS[row.test]) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert row.rule in named, f"{row.key}: {row.test} does not check {row.rule}"
    assert (row.level == "advisory") == bool(row.why), f"{row.key}: an advisory row says why; a mandatory one needs not"


@pytest.mark.parametrize("row", [r for r in ROWS if r.level == "unenforced"], ids=lambda r: r.key)
def test_unenforced_row_says_why(row: Row) -> None:
    assert row.rule == "—" and row.test == "—", row.key
    assert len(row.why) > 40, f"{row.key}: say why the pack does not enforce it"


def test_every_adversarial_test_has_exactly_one_row() -> None:
    listed = [r.test for r in ROWS if r.level != "unenforced"]
    assert sorted(listed) == sorted(FUNCTIONS)
