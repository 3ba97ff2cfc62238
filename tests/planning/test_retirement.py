"""The retirement check on the real stack files with fixed days: it passes today's stacks with warnings, fails 90 days
before the first end date, warns at 180, and refuses what the calendar cannot date."""

from __future__ import annotations

import datetime
import io
import re
from pathlib import Path

import pytest

from configuration import retirement_calendar as rc
from offline import retirement

SOURCE = re.compile(r"(^[\w.-]+/[\w.-]+(@[0-9a-f]{7,40}:|#\d+)|^[\w.-]+/[\w.-]+ (tags|release))")


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = retirement.main(list(args), out=out)
    return code, out.getvalue()


def _failing(day: str, *stacks: str) -> set[tuple[str, str, str]]:
    rows = retirement.check(stacks or ("dev", "prod"), today=datetime.date.fromisoformat(day))
    return {(r.use.stack, r.use.kind, r.use.value) for r in rows if r.failing}


def test_the_stacks_pass_on_a_day_far_from_every_end() -> None:
    code, out = _run("--stacks", "dev", "prod", "--today", "2026-12-06")
    assert code == 0, out
    assert "0 failing" in out


def test_ninety_days_before_the_june_2027_ends_the_check_fails() -> None:
    # 2027-04-15 is 76 days before AKS 1.36's and the Ubuntu 22.04 agent's end (2027-06-30).
    assert _failing("2027-04-15", "prod") == {
        ("prod", "kubernetes", "1.36"),
        ("prod", "batch-node-agent", "batch.node.ubuntu 22.04"),
        ("prod", "image", "cromwellonazure/tes:6.0.0"),  # its acceptance ends with the 22.04 agent
        ("prod", "image", "cromwellonazure/triggerservice:6.0.0"),
        ("prod", "image", "library/ubuntu:22.04"),
    }
    code, out = _run("--stacks", "prod", "--today", "2027-04-15")
    assert code == 1 and "DUE" in out


def test_between_ninety_and_one_hundred_eighty_days_it_warns() -> None:
    rows = retirement.check(["dev"], today=datetime.date(2027, 2, 1))
    assert not [r for r in rows if r.failing]
    assert {(r.use.kind, r.use.value) for r in rows if r.status == "soon"} >= {
        ("kubernetes", "1.36"),
        ("batch-node-agent", "batch.node.ubuntu 22.04"),
    }


def test_the_lead_time_is_configurable() -> None:
    assert _run("--stacks", "dev", "--today", "2026-12-06", "--lead-days", "210", "--warn-days", "300")[0] == 1
    assert _run("--stacks", "dev", "--today", "2027-04-15", "--lead-days", "30", "--warn-days", "180")[0] == 0


def test_after_the_end_the_check_reads_the_stack_and_reports_retired() -> None:
    # The config parser itself refuses the 22.04 image after 2027-06-30; the check still inventories the stack.
    failing = _failing("2027-07-15", "dev")
    assert ("dev", "batch-node-agent", "batch.node.ubuntu 22.04") in failing
    rows = retirement.check(["dev"], today=datetime.date(2027, 7, 15))
    assert {r.status for r in rows if r.use.kind == "kubernetes"} == {"retired"}


def _use(kind: str, value: str) -> retirement.Use:
    return retirement.Use(stack="test", kind=kind, value=value, key="test")


def test_a_postgres_major_past_its_azure_end_is_retired() -> None:
    # configuration/ still accepts postgres.version "14", whose Azure standard support ended 2026-11-12.
    [row] = retirement.judge(_use("postgresql", "14"), rc.load(), today=datetime.date(2026, 12, 6))
    assert (row.status, row.failing, row.days_left) == ("retired", True, -24)


def test_a_version_the_calendar_does_not_know_fails_and_an_untracked_image_only_shows() -> None:
    [row] = retirement.judge(_use("kubernetes", "1.99"), rc.load(), today=datetime.date(2026, 12, 6))
    assert row.status == "untracked" and row.failing
    [row] = retirement.judge(
        _use("image", "library/postgres:16.4-alpine3.20"), rc.load(), today=datetime.date(2026, 12, 6)
    )
    assert row.status == "untracked" and not row.failing


def test_an_announced_retirement_without_a_date_warns_and_no_end_is_quiet() -> None:
    rows = retirement.judge(_use("image", "cromwellonazure/tes:6.0.0"), rc.load(), today=datetime.date(2026, 12, 6))
    assert {r.status for r in rows} == {"accepted", "date unknown"}
    assert not any(r.failing for r in rows)
    [row] = retirement.judge(_use("image", "broadinstitute/cromwell:87"), rc.load(), today=datetime.date(2026, 12, 6))
    assert row.status == "no end"


def test_every_row_is_dated_or_says_why_and_names_its_source() -> None:
    calendar = rc.load()
    for entry in calendar:
        assert SOURCE.search(entry.source), f"{entry.kind} {entry.value}: source {entry.source!r} is not a citation"
    # Every Kubernetes and PostgreSQL version the config parser accepts today has a row.
    from configuration.compute import DEFAULT_KUBERNETES_VERSION

    assert rc.matching(calendar, "kubernetes", DEFAULT_KUBERNETES_VERSION)
    for version in ("14", "15", "16", "17"):
        assert rc.matching(calendar, "postgresql", version), version


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ("{kind: kubernetes, value: '1.40', what: x, source: y}", r"entries\[0\]\.ends: required"),
        ("{kind: helm, value: x, ends: 2030-01-01, what: x, source: y}", r"entries\[0\]\.kind: 'helm'"),
        ("{kind: kubernetes, value: 1.40, ends: 2030-01-01, what: x, source: y}", r"entries\[0\]\.value: required"),
        ("{kind: kubernetes, value: '1.40', ends: soon, what: x, source: y}", r"entries\[0\]\.ends: 'soon'"),
        (
            "{kind: image, value: a:1, ends: null, what: x, source: y, accepted: {until: 2030-01-01, reason: z}}",
            r"only a dated retirement can be accepted",
        ),
        ("{kind: image, value: a:1, ends: null, what: x, source: y, owner: me}", r"unknown keys owner"),
    ],
)
def test_a_malformed_calendar_names_the_entry_and_key(tmp_path: Path, entry: str, complaint: str) -> None:
    path = tmp_path / "retirement.yaml"
    path.write_text(f"entries:\n  - {entry}\n")
    with pytest.raises(rc.CalendarError, match=complaint):
        rc.load(path)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(SystemExit):
        retirement.main(["--lead-days", "200", "--warn-days", "100"], out=io.StringIO())
    code, out = _run("--stacks", "staging", "--today", "2026-12-06")
    assert code == 2 and "unknown stack 'staging'" in out
