"""Runs the real start-task script (rendered and as a template) under bash with stub curl and docker."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from components.start_task import (
    TEMPLATE_PATH,
    ImageScannerSettings,
    StartTaskSettings,
    render_start_task,
)

VAULT = "kv-coa-dev"
REGISTRY = "crcoadev.azurecr.io"
IMAGE = f"{REGISTRY}/twistlock/defender:defender_32_07_123"
USERNAME = "scanner-puller"
PASSWORD = "s3cr3t-'pa$$word\"-NEVER-LOG"
INSTALL_TOKEN = "install-token-NEVER-LOG"
SECRETS = {
    "scanner-username": USERNAME,
    "scanner-password": PASSWORD,
    "scanner-install-token": INSTALL_TOKEN,
}
HOSTILE_VALUE = "it's $(touch pwned) `touch pwned2`"


def scanner(**overrides: Any) -> ImageScannerSettings:
    base = ImageScannerSettings(
        image=IMAGE,
        registry_server=REGISTRY,
        key_vault_name=VAULT,
        username_secret_name="scanner-username",
        password_secret_name="scanner-password",
        container_name="prisma-defender",
        health_timeout_seconds=10,
        health_poll_interval_seconds=1,
        env={"DEFENDER_MODE": HOSTILE_VALUE},
        secret_env={"INSTALL_BUNDLE": "scanner-install-token"},
        run_args=(
            "--privileged",
            "--volume",
            "/var/run/docker.sock:/var/run/docker.sock",
        ),
        container_args=("--scan-on-start",),
    )
    return dataclasses.replace(base, **overrides)


def script(node_client_id: str, scanner_settings: ImageScannerSettings | None, **overrides: Any) -> str:
    settings = StartTaskSettings(
        managed_identity_client_id=node_client_id,
        scanner=scanner_settings,
        retry_attempts=3,
        retry_delay_seconds=0,
    )
    return render_start_task(dataclasses.replace(settings, **overrides))


def stub_env(**extra: str) -> dict[str, str]:
    return {
        "STUB_VAULT": VAULT,
        "STUB_IMAGE": IMAGE,
        "STUB_SECRETS": json.dumps(SECRETS),
        **extra,
    }


def assert_no_secret_leaked(result: Any, node: Any) -> None:
    for secret in (PASSWORD, INSTALL_TOKEN, node.token):
        assert secret not in result.stdout and secret not in result.stderr
        for call in result.calls:
            assert not any(secret in arg for arg in call["argv"]), (
                secret,
                call["argv"],
            )


def test_success_logs_in_on_stdin_pulls_runs_and_waits_for_healthy(node) -> None:
    result = node.run(
        script(node.client_id, scanner()),
        **stub_env(STUB_HEALTH="running:starting,running:starting,running:healthy"),
    )

    assert result.returncode == 0, result.stderr
    assert "is healthy" in result.stdout
    imds = result.tool_calls("curl")[0]
    assert f"client_id={node.client_id}" in imds["argv"][-1]
    assert "resource=https://vault.azure.net" in imds["argv"][-1]
    # The bearer token reached curl on stdin only.
    vault_calls = result.tool_calls("curl")[1:]
    assert [c["argv"][-1].split("/secrets/")[1] for c in vault_calls] == [
        "scanner-username?api-version=7.4",
        "scanner-password?api-version=7.4",
        "scanner-install-token?api-version=7.4",
    ]
    assert all(node.token in c["stdin"] for c in vault_calls)

    (login,) = result.tool_calls("docker", "login")
    assert login["argv"] == [
        "login",
        "--username",
        USERNAME,
        "--password-stdin",
        REGISTRY,
    ]
    assert login["stdin"] == PASSWORD
    (run,) = result.tool_calls("docker", "run")
    argv = run["argv"]
    assert argv[:6] == [
        "run",
        "--detach",
        "--name",
        "prisma-defender",
        "--restart",
        "always",
    ]
    assert argv[-2:] == [IMAGE, "--scan-on-start"]
    assert [
        "--privileged",
        "--volume",
        "/var/run/docker.sock:/var/run/docker.sock",
    ] == argv[-5:-2]
    assert argv[argv.index("--env") + 1] == f"DEFENDER_MODE={HOSTILE_VALUE}"
    assert run["secret_env"] == {"INSTALL_BUNDLE": INSTALL_TOKEN}

    order = result.commands()
    assert order.index("login") < order.index("pull") < order.index("run") < len(order) - 1
    assert order[order.index("run") + 1 :].count("inspect") == 3
    assert_no_secret_leaked(result, node)
    assert not (node.root / "pwned").exists() and not (node.root / "pwned2").exists()

    # Registry credentials lived in a private docker config that is logged out and deleted on exit.
    docker_config = login["env"]["DOCKER_CONFIG"]
    assert docker_config and docker_config.startswith(str(result.tmpdir))
    assert result.tool_calls("docker", "logout")[0]["env"]["DOCKER_CONFIG"] == docker_config
    assert list(result.tmpdir.iterdir()) == []


def test_rejected_credentials_fail_without_retry_or_container(node) -> None:
    result = node.run(script(node.client_id, scanner()), **stub_env(STUB_LOGIN="unauthorized"))

    assert result.returncode != 0
    assert f"docker login to {REGISTRY} failed: credentials rejected" in result.stderr
    assert "'scanner-username'/'scanner-password'" in result.stderr
    assert len(result.tool_calls("docker", "login")) == 1
    assert result.tool_calls("docker", "pull") == [] and result.tool_calls("docker", "run") == []
    assert_no_secret_leaked(result, node)
    assert list(result.tmpdir.iterdir()) == []


def test_transient_login_failure_is_retried_then_fails(node) -> None:
    result = node.run(script(node.client_id, scanner()), **stub_env(STUB_LOGIN="network"))

    assert result.returncode != 0
    assert "failed after 3 attempts" in result.stderr and "i/o timeout" in result.stderr
    assert len(result.tool_calls("docker", "login")) == 3
    assert result.tool_calls("docker", "run") == []


def test_scanner_never_healthy_fails_after_timeout(node) -> None:
    settings = scanner(health_timeout_seconds=1, health_poll_interval_seconds=1)
    started = time.monotonic()
    result = node.run(script(node.client_id, settings), **stub_env(STUB_HEALTH="running:starting"))
    elapsed = time.monotonic() - started

    assert result.returncode != 0
    assert "did not become healthy within 1s (status=running health=starting restarts=0)" in result.stderr
    assert 1 <= elapsed < 15
    assert len(result.tool_calls("docker", "inspect")) >= 3


def test_image_without_healthcheck_fails_fast_when_one_is_required(node) -> None:
    result = node.run(script(node.client_id, scanner()), **stub_env(STUB_HEALTH="running:none"))

    assert result.returncode != 0
    assert f"image {IMAGE} defines no HEALTHCHECK" in result.stderr
    assert len(result.tool_calls("docker", "inspect")) == 2  # existence check + one health poll


def test_image_without_healthcheck_passes_when_stable_and_allowed(node) -> None:
    result = node.run(
        script(node.client_id, scanner(require_healthcheck=False)),
        **stub_env(STUB_HEALTH="running:none:0"),
    )

    assert result.returncode == 0, result.stderr
    assert "is running (no healthcheck defined)" in result.stdout


def test_crash_looping_image_without_healthcheck_never_passes(node) -> None:
    settings = scanner(require_healthcheck=False, health_timeout_seconds=1)
    result = node.run(
        script(node.client_id, settings),
        **stub_env(STUB_HEALTH=",".join(f"running:none:{n}" for n in range(1, 30))),
    )

    assert result.returncode != 0
    assert "did not become healthy within 1s" in result.stderr


def test_unreachable_imds_is_retried_then_fails_before_docker_login(node) -> None:
    result = node.run(script(node.client_id, scanner()), **stub_env(STUB_IMDS="000"))

    assert result.returncode != 0
    assert "could not get a Key Vault token from IMDS after 3 attempts (last HTTP 000)" in result.stderr
    assert len(result.tool_calls("curl")) == 3
    assert result.tool_calls("docker", "login") == [] and result.tool_calls("docker", "run") == []


def test_transient_imds_error_is_retried(node) -> None:
    result = node.run(script(node.client_id, scanner()), **stub_env(STUB_IMDS="500,429,200"))

    assert result.returncode == 0, result.stderr
    assert len([c for c in result.tool_calls("curl") if "169.254.169.254" in c["argv"][-1]]) == 3


def test_unknown_identity_fails_at_once_with_imds_reason(node) -> None:
    result = node.run(script("11111111-2222-4333-8444-555555555555", scanner()), **stub_env())

    assert result.returncode != 0
    assert "IMDS refused a token" in result.stderr and "Identity not found" in result.stderr
    assert len(result.tool_calls("curl")) == 1


def test_key_vault_forbidden_names_secret_and_vault(node) -> None:
    result = node.run(script(node.client_id, scanner()), **stub_env(STUB_KV_STATUS="403"))

    assert result.returncode != 0
    assert f"cannot read secret 'scanner-username' from Key Vault '{VAULT}' (HTTP 403" in result.stderr
    assert result.tool_calls("docker", "login") == []


def test_missing_secret_env_secret_fails_before_login(node) -> None:
    secrets = {k: v for k, v in SECRETS.items() if k != "scanner-install-token"}
    result = node.run(script(node.client_id, scanner()), **stub_env(STUB_SECRETS=json.dumps(secrets)))

    assert result.returncode != 0
    assert "cannot read secret 'scanner-install-token'" in result.stderr and "HTTP 404" in result.stderr
    assert result.tool_calls("docker", "login") == []


def test_docker_daemon_down_fails_clearly(node) -> None:
    result = node.run(script(node.client_id, scanner()), **stub_env(STUB_DOCKER_INFO="down"))

    assert result.returncode != 0
    assert "docker daemon not reachable after 3 attempts" in result.stderr
    assert result.tool_calls("curl") == []


def test_no_scanner_configured_exits_zero_without_touching_anything(node) -> None:
    result = node.run(script(node.client_id, None), **stub_env())

    assert result.returncode == 0
    assert "no image scanner configured; nothing to do" in result.stdout
    assert result.calls == []


def test_unrendered_template_refuses_to_run(node) -> None:
    result = node.run(TEMPLATE_PATH.read_text(), **stub_env())

    assert result.returncode != 0
    assert "unrendered template" in result.stderr
    assert result.calls == []


def test_rerun_keeps_running_scanner_of_same_image(node) -> None:
    node.existing_container(IMAGE)
    result = node.run(script(node.client_id, scanner()), **stub_env())

    assert result.returncode == 0, result.stderr
    assert "already runs" in result.stdout
    assert result.tool_calls("curl") == []
    assert [c["argv"][0] for c in result.tool_calls("docker")] == [
        "info",
        "inspect",
        "inspect",
    ]


def test_rerun_replaces_container_of_another_image(node) -> None:
    node.existing_container(f"{REGISTRY}/twistlock/defender:defender_31_00_1")
    result = node.run(script(node.client_id, scanner()), **stub_env())

    assert result.returncode == 0, result.stderr
    order = result.commands()
    assert order.index("rm") < order.index("login") < order.index("run")
    (rm,) = result.tool_calls("docker", "rm")
    assert rm["argv"] == ["rm", "--force", "prisma-defender"]
