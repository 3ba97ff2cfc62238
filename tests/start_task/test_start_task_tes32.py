"""The start task as TES 3.2 runs it: `/bin/sh <path>` (CromwellOnAzure@3.2.0:src/TesApi.Web/AzureProxy.cs:902), which
is dash on Ubuntu, and with the node's Docker logged in to the stack's registry as the pool identity before any task
pulls blobxfer or its image (TES 3.2 pulls without credentials of its own, BatchScheduler.cs:701-736). Run for real
under dash with stub curl and docker; the TES 6 rendering stays as it was."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from components.start_task import POSIX_SH_GUARD, StartTaskSettings, StartTaskSettingsError, render_start_task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_start_task_script import IMAGE, REGISTRY, scanner, stub_env

# The /bin/sh of TES 3.2's Ubuntu nodes (and of ubuntu-latest CI runners); `apt-get install dash` elsewhere.
DASH = shutil.which("dash") or "dash"
ACR = "crcoadevd7k2.azurecr.io"
REFRESH = "acr-refresh-NEVER-LOG"


def script(client_id: str, **overrides: Any) -> str:
    settings = StartTaskSettings(
        managed_identity_client_id=client_id,
        retry_attempts=3,
        retry_delay_seconds=0,
        runner="/bin/sh",
        registry_login_server=ACR,
    )
    return render_start_task(dataclasses.replace(settings, **overrides))


def test_dash_alone_cannot_run_the_tes6_script_and_the_guard_hands_it_to_bash(node) -> None:
    """The proof the guard is needed: the same script without it stops at bash-only syntax under dash."""
    tes6 = render_start_task(StartTaskSettings(managed_identity_client_id=node.client_id))
    refused = node.run(tes6, shell=DASH)
    assert refused.returncode != 0 and "pipefail" in refused.stderr
    guarded = node.run(script(node.client_id, registry_login_server=None), shell=DASH)
    assert guarded.returncode == 0, guarded.stderr
    assert "no image scanner configured; nothing to do" in guarded.stdout


def test_the_guard_is_posix_and_first_and_the_tes6_rendering_has_none() -> None:
    rendered = script("0f0e0d0c-0b0a-4998-8877-665544332211")
    shebang, rest = rendered.split("\n", 1)
    assert shebang == "#!/usr/bin/env bash" and rest.startswith(POSIX_SH_GUARD)
    tes6 = render_start_task(StartTaskSettings(managed_identity_client_id="0f0e0d0c-0b0a-4998-8877-665544332211"))
    assert POSIX_SH_GUARD not in tes6 and "registry_login" not in tes6


def test_under_dash_the_nodes_docker_logs_in_to_the_registry_as_the_pool_identity(node) -> None:
    result = node.run(script(node.client_id), shell=DASH, STUB_REGISTRY=ACR, STUB_REFRESH=REFRESH)
    assert result.returncode == 0, result.stderr
    imds, exchange = result.tool_calls("curl")
    assert f"client_id={node.client_id}" in imds["argv"][-1]
    assert "resource=https://management.azure.com/" in imds["argv"][-1]
    assert exchange["argv"][-1] == f"https://{ACR}/oauth2/exchange"
    # The Entra token travels on stdin; the refresh token reaches docker on stdin; neither is on argv or in the log.
    assert node.token in exchange["stdin"]
    (login,) = result.tool_calls("docker", "login")
    assert login["argv"][1:] == ["--username", "00000000-0000-0000-0000-000000000000", "--password-stdin", ACR]
    assert login["stdin"] == REFRESH
    # In the user's own Docker config (the auto-user tasks run as), not a throw-away one.
    assert login["env"]["DOCKER_CONFIG"] is None
    for secret in (node.token, REFRESH):
        assert secret not in result.stdout + result.stderr
        assert not any(secret in arg for call in result.calls for arg in call["argv"])
    assert f"docker logged in to {ACR} as the pool identity" in result.stdout


def test_the_registry_login_comes_before_the_scanner(node) -> None:
    settings = script(node.client_id, scanner=scanner())
    result = node.run(settings, shell=DASH, STUB_REGISTRY=ACR, **stub_env())
    assert result.returncode == 0, result.stderr
    logins = [c["argv"][-1] for c in result.tool_calls("docker", "login")]
    assert logins == [ACR, REGISTRY]
    assert result.tool_calls("docker", "run")[0]["argv"].count(IMAGE) == 1


def test_a_refused_exchange_stops_the_node_naming_the_missing_role(node) -> None:
    result = node.run(script(node.client_id), shell=DASH, STUB_REGISTRY=ACR, STUB_EXCHANGE="403")
    assert result.returncode == 1
    assert f"registry {ACR} refused the pool identity's token (HTTP 403" in result.stderr
    assert "it needs AcrPull on the registry" in result.stderr
    assert not result.tool_calls("docker", "login")
    assert len(result.tool_calls("curl")) == 2, "a refusal is not retried"


def test_an_unreachable_registry_is_retried_then_named(node) -> None:
    flaky = node.run(script(node.client_id), shell=DASH, STUB_REGISTRY=ACR, STUB_EXCHANGE="503,200")
    assert flaky.returncode == 0, flaky.stderr
    assert "registry token exchange attempt 1/3 failed (HTTP 503)" in flaky.stdout


def test_an_unreachable_registry_after_every_attempt_fails_the_node(node) -> None:
    down = node.run(script(node.client_id), shell=DASH, STUB_REGISTRY=ACR, STUB_EXCHANGE="000")
    assert down.returncode == 1
    assert f"registry {ACR} unreachable after 3 attempts" in down.stderr
    assert not down.tool_calls("docker", "login")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"runner": "/bin/bash"}, "runner"),
        ({"registry_login_server": "https://cr.azurecr.io"}, "registry_login_server"),
    ],
)
def test_bad_settings_are_refused_by_name(change: dict[str, Any], field: str) -> None:
    with pytest.raises(StartTaskSettingsError, match=field):
        script("0f0e0d0c-0b0a-4998-8877-665544332211", **change)
