"""Secret rotation: generated passwords change on the schedule the stack sets, every Key Vault secret version carries
an expiry that outlives its successor's due date, and the login the running pods use never changes under them."""

from __future__ import annotations

import datetime
import itertools
from pathlib import Path
from typing import Any

import pytest
from stackquery import one, run_variant, stack_values

from components.postgres import SLOT_SUFFIX as SUFFIX
from configuration.reader import ConfigError
from configuration.rotation import SLOTS, RotationSchedule
from configuration.stack import parse_settings
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "random:index/randomPassword:RandomPassword"
SECRET = "azure-native:keyvault:Secret"
DAY = 86400


def schedule(day: datetime.date, period: int = 90, grace: int = 14) -> RotationSchedule:
    return RotationSchedule(period_days=period, grace_days=grace, today=day)


DAYS = [datetime.date(2026, 1, 1) + datetime.timedelta(days=n) for n in range(0, 800, 7)]


@pytest.mark.parametrize("period", [7, 30, 90, 365])
def test_each_password_changes_exactly_when_it_is_due(period: int) -> None:
    for before, after in itertools.pairwise(DAYS):
        old, new = schedule(before, period), schedule(after, period)
        if old.period == new.period:
            assert old.generation() == new.generation() and old.active_slot == new.active_slot
            continue
        assert new.generation() != old.generation(), "the admin password rotates every period"
        # The slot that becomes active gets a new password; the slot the running pods use keeps its password, so
        # they work until the rollout replaces them.
        assert new.generation(new.active_slot) != old.generation(new.active_slot) or new.period - old.period > 1
        if new.period - old.period == 1:
            assert new.active_slot != old.active_slot
            assert new.generation(old.active_slot) == old.generation(old.active_slot)


@pytest.mark.parametrize("period", [7, 90])
def test_every_secret_version_expires_after_its_successor_is_due_plus_grace(period: int) -> None:
    for day in DAYS:
        now = schedule(day, period, grace=5)
        today = (day - datetime.date(1970, 1, 1)).days * DAY
        for slot in (None, *SLOTS):
            expires = now.expires(slot)
            assert expires > today + 5 * DAY, (day, slot)
            # The first later day on which this password is replaced comes before its expiry, by the grace exactly.
            later = next(
                d for d in (day + datetime.timedelta(days=n) for n in range(1, 3 * period))
                if schedule(d, period, 5).generation(slot) != now.generation(slot)
            )  # fmt: skip
            assert expires == (later - datetime.date(1970, 1, 1)).days * DAY + 5 * DAY, (day, slot)


def _raw(stack: str, **changes: Any) -> dict[str, Any]:
    return {**stack_values(stack), **changes}


@pytest.mark.parametrize(
    ("secrets", "words"),
    [
        ({"rotationDays": 3}, "coa-lockdown:secrets.rotationDays"),
        ({"rotationDays": 400}, "coa-lockdown:secrets.rotationDays"),
        ({"rotationDays": 30, "expiryGraceDays": 31}, "coa-lockdown:secrets.expiryGraceDays"),
        ({"rotationDays": 30, "expiryGraceDays": 0}, "coa-lockdown:secrets.expiryGraceDays"),
        ({"rotationdays": 30}, "did you mean 'rotationDays'?"),
    ],
)
def test_a_bad_rotation_schedule_is_refused_by_name(secrets: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_settings(_raw("dev", secrets=secrets), stack="dev")


def test_both_stacks_set_a_rotation_schedule() -> None:
    for stack in ("dev", "prod"):
        rotation = parse_settings(_raw(stack), stack=stack).secret_rotation
        assert 7 <= rotation.period_days <= 365 and 1 <= rotation.grace_days <= rotation.period_days


def _passwords(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """Secret name -> (keepers of its generated password, its expiry)."""
    by_value = {p.outputs["result"]: p.inputs.get("keepers", {}) for p in run.of_type(PASSWORD)}
    return {
        s.inputs["secretName"]: {
            "keepers": by_value[s.inputs["properties"]["value"]],
            "expires": s.inputs["properties"]["attributes"]["expires"],
        }
        for s in run.of_type(SECRET)
        if s.inputs["properties"]["value"] in by_value
    }


@pytest.fixture(scope="module")
def monthly(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return run_variant(tmp_path_factory.mktemp("monthly"), "dev", {"coa-lockdown:secrets": {"rotationDays": 30}})


def test_changing_the_rotation_period_changes_the_passwords_and_their_expiry(
    dev: ProgramRun, monthly: ProgramRun
) -> None:
    configured, changed = _passwords(dev), _passwords(monthly)
    assert (
        set(configured)
        == set(changed)
        == {
            "postgres-admin-password",
            *(f"{app}-db-password{SUFFIX[slot]}" for app in ("cromwell", "tes") for slot in SLOTS),
        }
    )
    today = datetime.datetime.now(datetime.UTC).date()
    for run, passwords in ((dev, configured), (monthly, changed)):
        rotation = run.outputs["secretRotation"]
        now = schedule(today, int(rotation["periodDays"]), 14)
        assert passwords["postgres-admin-password"] == {
            "keepers": {"generation": str(now.generation())},
            "expires": now.expires(),
        }
        for slot in SLOTS:
            assert passwords["cromwell-db-password" + SUFFIX[slot]] == {
                "keepers": {"generation": str(now.generation(slot))},
                "expires": now.expires(slot),
            }
        assert rotation["activeSlot"] == now.active_slot
        assert rotation["nextRotation"] == now.next_rotation().isoformat()
    # A new period changes the keepers (pulumi-random replaces the password) and the expiry of the new version.
    assert configured["postgres-admin-password"] != changed["postgres-admin-password"]


def test_the_pods_use_the_active_slot_and_the_init_hook_keeps_every_slot(dev: ProgramRun) -> None:
    values = one(dev, "kubernetes:helm.sh/v3:Release").inputs["values"]
    slot = dev.outputs["secretRotation"]["activeSlot"]
    assert values["postgres"]["cromwell"]["userName"] == f"cromwell_{slot}"
    assert values["keyVault"]["secrets"]["cromwellDbPassword"] == "cromwell-db-password" + SUFFIX[slot]
    assert {(login["owner"], login["login"], login["secretName"]) for login in values["dbInit"]["logins"]} == {
        (app, f"{app}_{s}", f"{app}-db-password{SUFFIX[s]}") for app in ("cromwell", "tes") for s in SLOTS
    }
