"""The retirement check on the real stack files with fixed days: it passes today's stacks with warnings, fails 90 days
before the first end date, warns at 180, and refuses what the calendar cannot date."""

from __future__ import annotations

import dataclasses
import datetime
import io
import re
import shutil
from pathlib import Path

import pytest
import yaml

from configuration import retirement_calendar as rc
from offline import retirement

REPO = Path(__file__).resolve().parents[2]
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
        ("prod", "runtime", ".NET 8"),  # accepted until the same day
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


def test_the_runtime_of_each_generations_images_is_tracked_and_net_8_is_already_past() -> None:
    """TES 6.0.0 and TriggerService 6.0.0 run .NET 8, whose support ended 2026-11-10: the stacks carry it only as an
    accepted retirement with a review day, and without that acceptance the check fails."""
    rows = retirement.check(["dev", "prod"], today=datetime.date(2026, 12, 6))
    runtime = {(r.use.stack, r.use.value, r.status) for r in rows if r.use.kind == "runtime"}
    assert runtime == {("dev", ".NET 8", "accepted"), ("prod", ".NET 8", "accepted")}
    unaccepted = [dataclasses.replace(e, accepted=None) if e.kind == "runtime" else e for e in rc.load()]
    rows = retirement.check(["prod"], today=datetime.date(2026, 12, 6), calendar=unaccepted)
    assert {(r.use.value, r.status, r.days_left) for r in rows if r.use.kind == "runtime"} == {
        (".NET 8", "retired", -26)
    }
    # A runtime the calendar does not know fails, like a Kubernetes version.
    [row] = retirement.judge(_use("runtime", ".NET 10"), rc.load(), today=datetime.date(2026, 12, 6))
    assert row.status == "untracked" and row.failing


def test_the_reduced_assurance_generation_carries_each_of_its_retirements_on_purpose(tmp_path: Path) -> None:
    """A taskDatabase cosmosdb stack: .NET 6, the archived 3.2 images and blobxfer are each past their end, each
    accepted with a reason; nothing it runs is untracked except the images TES 6 stacks share."""
    from offline.stack_settings import INVENTORY_DAY, load_stack_settings
    from tests.program.stackquery import tes32_config

    for name in ("Pulumi.yaml", "images.lock.json"):
        shutil.copy(REPO / name, tmp_path / name)
    doc = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())
    doc["config"].update(tes32_config("prod"))
    for application in doc["config"]["coa-lockdown:applicationCredentials"].values():
        # The inventory reads the stack as of a day before any end; a secret expires within a year of it.
        application["secretExpiresOn"] = (INVENTORY_DAY + datetime.timedelta(days=90)).isoformat()
    (tmp_path / "Pulumi.cosmos-prod.yaml").write_text(yaml.safe_dump(doc))
    rows = retirement.check(
        ["cosmos-prod"], today=datetime.date(2026, 12, 6), load=lambda stack: load_stack_settings(stack, tmp_path)
    )
    status = {(r.use.kind, r.use.value): r.status for r in rows}
    for use in (
        ("runtime", ".NET 6"),
        ("image", "cromwellonazure/tes:3"),
        ("image", "cromwellonazure/triggerservice:3"),
        ("image", "blobxfer:1.11.0"),
    ):
        assert status[use] == "accepted", use
    assert ("runtime", ".NET 8") not in status
    assert not [r for r in rows if r.failing]
    assert {value for (kind, value), s in status.items() if s == "untracked"} == {
        "library/postgres:16.4-alpine3.20",
        "curlimages/curl:8.11.1",
    }


def _net8_accepted_until(until: datetime.date) -> list[rc.Retirement]:
    """The calendar with .NET 8's acceptance moved to `until`."""
    return [
        dataclasses.replace(e, accepted=rc.Acceptance(until=until, reason="r")) if e.matches("runtime", ".NET 8") else e
        for e in rc.load()
    ]


def test_an_acceptance_more_than_a_year_ahead_is_a_standing_waiver_and_fails() -> None:
    """Pushing an acceptance's review day years out would silence the check for good: it fails instead."""
    today = datetime.date(2026, 12, 6)
    rows = retirement.check(["prod"], today=today, calendar=_net8_accepted_until(datetime.date(2029, 1, 1)))
    [row] = [r for r in rows if r.use.kind == "runtime"]
    assert row.status == "overlong" and row.failing and "set a nearer day" in row.what
    # A year ahead to the day is still a review date.
    rows = retirement.check(["prod"], today=today, calendar=_net8_accepted_until(datetime.date(2027, 12, 6)))
    assert [r.status for r in rows if r.use.kind == "runtime"] == ["accepted"]


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
