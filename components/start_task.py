"""Renders the Batch global start task that starts the image scanner on every pool node TES creates.

Pure and deterministic (no Pulumi resources, no I/O besides reading the bundled template): call
`render_start_task` with plain values inside `pulumi.Output.all(...).apply(...)`. The chart's pre-install hook writes
the text to the blob `configuration/start-task.sh` (the default of TES's `BatchNodes:GlobalStartTask` setting)
through a keyless blob CSI mount, before TES starts.

TES runs the script as the pool's admin auto-user with waitForSuccess=true, so a non-zero exit keeps every task
off the node. TES skips the global start task silently when the blob does not exist: the blob must always be
written, with `scanner=None` when no scanner is wanted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE_PATH = Path(__file__).parent / "scripts" / "start-task.sh"
REGISTRY_LOGIN_PATH = Path(__file__).parent / "scripts" / "start-task-registry-login.sh"
# TES 3.2 runs the start task as `/bin/sh <path>` (CromwellOnAzure@3.2.0:src/TesApi.Web/AzureProxy.cs:902), which
# ignores the #! line; /bin/sh is dash on Ubuntu. The first command re-runs the script under bash before any bash
# syntax is read (dash parses one top-level command at a time). POSIX sh, and a no-op under bash.
POSIX_SH_GUARD = (
    "# TES 3.2 starts this as `/bin/sh <path>`: re-run under bash (POSIX sh up to here; a no-op under bash).\n"
    '[ -n "${BASH_VERSION:-}" ] || exec /bin/bash "$0" "$@"\n'
)
# Value for TES's BatchNodes:GlobalStartTask (container/blob in TES's default storage account).
GLOBAL_START_TASK_PATH = "/configuration/start-task.sh"

_SETTINGS_BLOCK = re.compile(r"^# >>> rendered settings\n.*?^# <<< rendered settings$", re.MULTILINE | re.DOTALL)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)"
_DOMAIN = rf"{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*"
_REGISTRY = re.compile(rf"^{_DOMAIN}(?::[0-9]{{1,5}})?$")
_DNS_SUFFIX = re.compile(rf"^{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+$")
# Distribution reference grammar (github.com/distribution/reference), restricted to fully qualified references.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"^(?P<registry>{_DOMAIN}(?::[0-9]{{1,5}})?)/{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
# Key Vault: 3-24 characters, letters, digits and hyphens, starts with a letter, ends with a letter or digit,
# no consecutive hyphens (the name is the first label of <name>.vault.azure.net).
_KEY_VAULT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
# Key Vault secret names: 1-127 letters, digits and hyphens (they go into the URL path unescaped).
_SECRET_NAME = re.compile(r"^[a-zA-Z0-9-]{1,127}$")
# Docker container names: [a-zA-Z0-9][a-zA-Z0-9_.-]+; capped so the name stays readable in logs.
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Secret env values are exported in the script's shell before `docker run --env NAME`: upper case keeps them clear
# of the script's lower-case locals, and these names would change how bash, docker or the script itself behave.
_SECRET_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_RESERVED_ENV_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "IFS",
        "TMPDIR",
        "ENV",
        "PS4",
        "SHELLOPTS",
        "SECONDS",
        "PWD",
        "OLDPWD",
        "UID",
        "EUID",
    }
    | {"IMDS_TOKEN_URL", "ACCESS_TOKEN", "NO_PROXY"}
)
_RESERVED_ENV_PREFIXES = (
    "BASH",
    "LD_",
    "DOCKER_",
    "HTTP",
    "SCANNER_",
    "START_TASK_",
    "SECRET_",
    "REGISTRY_",
    "KEY_VAULT_",
    "MANAGED_IDENTITY_",
    "RETRY_",
)
# Options the script sets itself; letting run args override them would break detach/restart/re-run handling.
_RESERVED_RUN_ARGS = ("-d", "--detach", "--name", "--restart", "--rm")

# Batch gives start tasks no timeout: a hung start task holds a billed node, so the wait is capped at 30 minutes.
MAX_HEALTH_TIMEOUT_SECONDS = 1800
MAX_POLL_INTERVAL_SECONDS = 60
MAX_RETRY_ATTEMPTS = 20
MAX_RETRY_DELAY_SECONDS = 60


class StartTaskSettingsError(ValueError):
    """A start-task setting is invalid; the message names the field and the rule."""


@dataclass(frozen=True, kw_only=True)
class ImageScannerSettings:
    """The scanner container started on each node, and where its credentials live in Key Vault."""

    # Fully qualified, with a tag or digest, under registry_server.
    image: str
    # Login server, e.g. myregistry.azurecr.io.
    registry_server: str
    key_vault_name: str
    username_secret_name: str
    password_secret_name: str
    container_name: str = "image-scanner"
    health_timeout_seconds: int = 300
    health_poll_interval_seconds: int = 5
    # True: docker health status must become "healthy" (image HEALTHCHECK or --health-cmd in run_args).
    # False: an image without a healthcheck passes once it is running and did not restart between two polls.
    require_healthcheck: bool = True
    # Plain values: visible in the node's process list and in `docker inspect`.
    env: Mapping[str, str] = field(default_factory=dict)
    # Env var name -> Key Vault secret name; the value never reaches argv or logs.
    secret_env: Mapping[str, str] = field(default_factory=dict)
    # docker run options before the image, e.g. ("--volume", "/var/run/docker.sock:...").
    run_args: Sequence[str] = ()
    # Arguments after the image.
    container_args: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class StartTaskSettings:
    # Client id of the user-assigned identity attached to TES's Batch pools.
    managed_identity_client_id: str
    scanner: ImageScannerSettings | None = None
    # How TES starts the script: executed (`shebang`, TES 6) or as `/bin/sh <path>` (TES 3.2), which needs the guard.
    runner: str = "shebang"
    # TES 3.2: the registry the node's Docker logs in to with the pool identity before any task pulls from it.
    registry_login_server: str | None = None
    # Sovereign clouds: vault.usgovcloudapi.net, vault.azure.cn.
    key_vault_dns_suffix: str = "vault.azure.net"
    # Applies to IMDS, Key Vault, the docker daemon, login and pull.
    retry_attempts: int = 5
    retry_delay_seconds: int = 5


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise StartTaskSettingsError(f"{name}={value!r}: must be an integer from {low} to {high}")
    return value


def _check_match(name: str, value: object, pattern: re.Pattern[str], rule: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise StartTaskSettingsError(f"{name}={value!r}: {rule}")
    return value


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in "\0\r\n"):
        raise StartTaskSettingsError(f"{name}={value!r}: must be a non-empty single-line string")
    return value


def _validate_scanner(s: ImageScannerSettings) -> None:
    registry = _check_match(
        "scanner.registry_server",
        s.registry_server,
        _REGISTRY,
        "must be a registry host name[:port], no scheme or path",
    )
    image = _IMAGE.match(s.image) if isinstance(s.image, str) else None
    if image is None:
        raise StartTaskSettingsError(
            f"scanner.image={s.image!r}: must be a fully qualified image reference "
            "<registry>/<lowercase path>[:tag][@digest]"
        )
    if image.group("tag") is None and image.group("digest") is None:
        raise StartTaskSettingsError(f"scanner.image={s.image!r}: must carry a tag or a digest (no implicit :latest)")
    if image.group("registry").lower() != registry.lower():
        raise StartTaskSettingsError(
            f"scanner.image={s.image!r}: must be pulled from scanner.registry_server={registry!r}, "
            "the only registry the start task logs in to"
        )
    _check_match(
        "scanner.key_vault_name",
        s.key_vault_name,
        _KEY_VAULT_NAME,
        "Key Vault names are 3-24 letters, digits and hyphens, start with a letter, end with a letter or digit, "
        "and have no consecutive hyphens",
    )
    secret_rule = "Key Vault secret names are 1-127 letters, digits and hyphens"
    _check_match(
        "scanner.username_secret_name",
        s.username_secret_name,
        _SECRET_NAME,
        secret_rule,
    )
    _check_match(
        "scanner.password_secret_name",
        s.password_secret_name,
        _SECRET_NAME,
        secret_rule,
    )
    _check_match(
        "scanner.container_name",
        s.container_name,
        _CONTAINER_NAME,
        "docker container names are 2-63 characters of letters, digits, '_', '.', '-', starting alphanumeric",
    )
    timeout = _check_int(
        "scanner.health_timeout_seconds",
        s.health_timeout_seconds,
        1,
        MAX_HEALTH_TIMEOUT_SECONDS,
    )
    _check_int(
        "scanner.health_poll_interval_seconds",
        s.health_poll_interval_seconds,
        1,
        min(MAX_POLL_INTERVAL_SECONDS, timeout),
    )
    if not isinstance(s.require_healthcheck, bool):
        raise StartTaskSettingsError(f"scanner.require_healthcheck={s.require_healthcheck!r}: must be a bool")

    env_rule = "environment variable names are letters, digits and '_', not starting with a digit"
    for key, value in s.env.items():
        _check_match(f"scanner.env key {key!r}", key, _ENV_NAME, env_rule)
        if not isinstance(value, str) or any(c in value for c in "\0\r\n"):
            raise StartTaskSettingsError(f"scanner.env[{key!r}]: value must be a single-line string")
    for key, secret in s.secret_env.items():
        _check_match(
            f"scanner.secret_env key {key!r}",
            key,
            _SECRET_ENV_NAME,
            "secret env names are upper-case letters, digits and '_', not starting with a digit",
        )
        if key in _RESERVED_ENV_NAMES or key.startswith(_RESERVED_ENV_PREFIXES):
            raise StartTaskSettingsError(
                f"scanner.secret_env key {key!r}: reserved (it would change how the start task's shell or "
                "docker behave); pick another name or map it inside the container"
            )
        _check_match(f"scanner.secret_env[{key!r}]", secret, _SECRET_NAME, secret_rule)
        if key in s.env:
            raise StartTaskSettingsError(f"scanner.secret_env[{key!r}]: also set in scanner.env; choose one")

    for field_name, args in (
        ("run_args", s.run_args),
        ("container_args", s.container_args),
    ):
        if isinstance(args, str):
            raise StartTaskSettingsError(f"scanner.{field_name}={args!r}: must be a sequence of strings, not a string")
        for index, arg in enumerate(args):
            _check_text(f"scanner.{field_name}[{index}]", arg)
    for index, arg in enumerate(s.run_args):
        if arg.split("=", 1)[0] in _RESERVED_RUN_ARGS:
            raise StartTaskSettingsError(
                f"scanner.run_args[{index}]={arg!r}: the start task sets {', '.join(_RESERVED_RUN_ARGS)} itself"
            )


def _validate(settings: StartTaskSettings) -> None:
    _check_match(
        "managed_identity_client_id",
        settings.managed_identity_client_id,
        _GUID,
        "must be the identity's client id (a GUID), not its resource id or principal name",
    )
    _check_match(
        "key_vault_dns_suffix",
        settings.key_vault_dns_suffix,
        _DNS_SUFFIX,
        "must be a DNS suffix like vault.azure.net",
    )
    if settings.runner not in ("shebang", "/bin/sh"):
        raise StartTaskSettingsError(f"runner={settings.runner!r}: 'shebang' or '/bin/sh'")
    if settings.registry_login_server is not None:
        _check_match(
            "registry_login_server",
            settings.registry_login_server,
            _REGISTRY,
            "must be a registry host name[:port], no scheme or path",
        )
    _check_int("retry_attempts", settings.retry_attempts, 1, MAX_RETRY_ATTEMPTS)
    _check_int("retry_delay_seconds", settings.retry_delay_seconds, 0, MAX_RETRY_DELAY_SECONDS)
    if settings.scanner is not None:
        _validate_scanner(settings.scanner)


def _quote(value: str) -> str:
    """Single-quotes for bash unconditionally (shlex.quote leaves some words bare, which shellcheck flags in arrays)."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _array(values: Sequence[str]) -> str:
    return "(" + " ".join(_quote(v) for v in values) + ")"


def _settings_block(settings: StartTaskSettings) -> str:
    s = settings.scanner
    lines = [
        "# >>> rendered settings",
        "# Generated by components/start_task.py; edit the stack configuration, not this block.",
        "# Values are single-quoted literals on purpose: '$' or '`' in them must not expand.",
        "# shellcheck disable=SC2016",
        "{",
        "START_TASK_RENDERED=true",
        f"MANAGED_IDENTITY_CLIENT_ID={_quote(settings.managed_identity_client_id)}",
        f"KEY_VAULT_DNS_SUFFIX={_quote(settings.key_vault_dns_suffix)}",
        f"RETRY_ATTEMPTS={settings.retry_attempts}",
        f"RETRY_DELAY_SECONDS={settings.retry_delay_seconds}",
        f"SCANNER_ENABLED={'false' if s is None else 'true'}",
    ]
    if s is None:
        s = ImageScannerSettings(
            image="",
            registry_server="",
            key_vault_name="",
            username_secret_name="",
            password_secret_name="",
        )
    lines += [
        f"SCANNER_IMAGE={_quote(s.image)}",
        f"SCANNER_REGISTRY_SERVER={_quote(s.registry_server)}",
        f"SCANNER_KEY_VAULT_NAME={_quote(s.key_vault_name)}",
        f"SCANNER_USERNAME_SECRET_NAME={_quote(s.username_secret_name)}",
        f"SCANNER_PASSWORD_SECRET_NAME={_quote(s.password_secret_name)}",
        f"SCANNER_CONTAINER_NAME={_quote(s.container_name)}",
        f"SCANNER_HEALTH_TIMEOUT_SECONDS={s.health_timeout_seconds}",
        f"SCANNER_HEALTH_POLL_INTERVAL_SECONDS={s.health_poll_interval_seconds}",
        f"SCANNER_REQUIRE_HEALTHCHECK={'true' if s.require_healthcheck else 'false'}",
        f"SCANNER_ENV={_array([f'{k}={s.env[k]}' for k in sorted(s.env)])}",
        f"SCANNER_SECRET_ENV={_array([f'{k}={s.secret_env[k]}' for k in sorted(s.secret_env)])}",
        f"SCANNER_RUN_ARGS={_array(list(s.run_args))}",
        f"SCANNER_CONTAINER_ARGS={_array(list(s.container_args))}",
        "}",
        "# <<< rendered settings",
    ]
    return "\n".join(lines)


def render_start_task(settings: StartTaskSettings) -> str:
    """Validates `settings` (StartTaskSettingsError, a ValueError, naming the field) and returns the self-contained start-task script."""
    _validate(settings)
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    block = _settings_block(settings)
    rendered, count = _SETTINGS_BLOCK.subn(lambda _: block, template)
    if count != 1:
        raise RuntimeError(f"{TEMPLATE_PATH}: expected one rendered-settings block, found {count}")
    if settings.registry_login_server is not None:
        login = REGISTRY_LOGIN_PATH.read_text(encoding="utf-8").replace(
            "REGISTRY_LOGIN_SERVER=''", f"REGISTRY_LOGIN_SERVER={_quote(settings.registry_login_server)}", 1
        )
        head, main_call, tail = rendered.rpartition('\nmain "$@"\n')
        if not main_call or tail:
            raise RuntimeError(f'{TEMPLATE_PATH}: must end with the line `main "$@"`')
        rendered = f"{head}\n{login}{main_call}"
    if settings.runner == "/bin/sh":
        shebang, _, rest = rendered.partition("\n")
        rendered = f"{shebang}\n{POSIX_SH_GUARD}{rest}"
    return rendered
