"""A password rotation switches the pods to the other login slot: every Deployment that uses a database rolls, and
the init hook (pre-upgrade) has set both slots' passwords before any new pod starts."""

from __future__ import annotations

import re
from typing import Any

from render import deep_merge, load_values, render_chart

from components.postgres import SLOT_SUFFIX as SUFFIX

PODS_WITH_DATABASES = {"cromwell", "tes", "triggerservice"}


def _with_slot(slot: str) -> dict[str, Any]:
    return deep_merge(
        load_values("values-dev"),
        {
            "keyVault": {
                "secrets": {
                    "cromwellDbPassword": "cromwell-db-password" + SUFFIX[slot],
                    "tesDbPassword": "tes-db-password" + SUFFIX[slot],
                }
            },
            "postgres": {"cromwell": {"userName": f"cromwell_{slot}"}, "tes": {"userName": f"tes_{slot}"}},
        },
    )


def _templates(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {o["metadata"]["name"]: o["spec"]["template"] for o in objects if o["kind"] == "Deployment"}


def test_switching_the_slot_rolls_every_pod_that_logs_in() -> None:
    before, after = render_chart(_with_slot("a")), render_chart(_with_slot("b"))
    old, new = _templates(before), _templates(after)
    assert PODS_WITH_DATABASES <= set(old)
    for name in PODS_WITH_DATABASES:
        assert old[name] != new[name], f"{name} keeps its pods across a rotation and would log in with a stale slot"


def test_the_init_hook_sets_every_slot_on_every_run() -> None:
    for slot in ("a", "b"):
        objects = render_chart(_with_slot(slot))
        (scripts,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "db-init-scripts"]
        logins = re.findall(r'create_login "([^"]+)" "([^"]+)" "([^"]+)" "([^"]+)"', scripts["data"]["run.sh"])
        assert {login for _, _, login, _ in logins} == {"cromwell_a", "cromwell_b", "tes_a", "tes_b"}
        assert all(login.startswith(owner + "_") for _, owner, login, _ in logins)
        sql = scripts["data"]["create-user.sql"]
        # Either slot acts as the owner, so objects keep one owner across rotations; the owner cannot log in.
        assert "NOLOGIN" in sql and "SET role = %I" in sql and "GRANT %I TO %I" in sql
