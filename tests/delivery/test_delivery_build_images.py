"""scripts/build-images.sh with stub git and az: builds TES and TriggerService from the pinned commits on ACR Tasks,
refuses a moved tag or submodule, copies by digest to another registry, and records what it pushed in the lock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build-images.sh"
LOCK = json.loads((REPO / "images.lock.json").read_text())
COA_COMMIT = LOCK["images"]["tes"]["build"]["commit"]
TES_SUBMODULE = LOCK["images"]["tes"]["build"]["submodules"]["src/ga4gh-tes"]
BUILT = "sha256:" + "7" * 64

# git: the remote tag peels to $TAG_COMMIT; a checkout's HEAD is the pinned commit, its submodule $SUBMODULE_COMMIT.
GIT_STUB = """#!/usr/bin/env bash
echo "git $*" >> "$CALLS"
if [[ $1 == ls-remote ]]; then printf '%s\\t%s\\n' 1111111111111111111111111111111111111111 "$3" "$TAG_COMMIT" "$3^{}"; exit 0; fi
if [[ $1 == -C && $3 == rev-parse ]]; then
  if [[ $2 == */src/ga4gh-tes ]]; then echo "$SUBMODULE_COMMIT"; else echo "$PINNED_COMMIT"; fi
fi
exit 0
"""
AZ_STUB = """#!/usr/bin/env bash
echo "az $*" >> "$CALLS"
if [[ $2 == repository && $3 == show ]]; then echo "$BUILT_DIGEST"; fi
if [[ $2 == agentpool && $3 == show ]]; then echo "${POOL_COUNT:-1}"; fi
if [[ $2 == build ]]; then echo "build log line on stdout"; fi
exit 0
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("git", GIT_STUB), ("az", AZ_STUB)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    shutil.copy(REPO / "images.lock.json", tmp_path / "images.lock.json")
    return tmp_path


def run(workspace: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": f"{workspace / 'bin'}:{os.environ['PATH']}",
        "CALLS": str(workspace / "calls.log"),
        "IMAGES_LOCK": str(workspace / "images.lock.json"),
        "TAG_COMMIT": COA_COMMIT,
        "PINNED_COMMIT": COA_COMMIT,
        "SUBMODULE_COMMIT": TES_SUBMODULE,
        "BUILT_DIGEST": BUILT,
        **env,
    }
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=environment, check=False)


def calls(workspace: Path) -> list[str]:
    path = workspace / "calls.log"
    return path.read_text().splitlines() if path.exists() else []


def lock(workspace: Path) -> dict[str, Any]:
    return json.loads((workspace / "images.lock.json").read_text())


def test_builds_both_images_from_the_pinned_commit_and_records_their_digests(workspace: Path) -> None:
    result = run(workspace, "crcoadevx7k2", "--agent-pool", "vnetpool", "--import-to", "crcoaprodp4m9")
    assert result.returncode == 0, result.stderr
    log = calls(workspace)
    # One checkout of CoA 6.0.0 serves both builds; the submodule comes with it.
    assert sum(1 for c in log if c.startswith("git ls-remote https://github.com/microsoft/CromwellOnAzure")) == 1
    assert any(c.endswith(f"fetch --quiet --depth 1 origin {COA_COMMIT}") for c in log)
    builds = [c for c in log if c.startswith("az acr build")]
    assert len(builds) == 2
    tes, triggerservice = builds
    assert "--agent-pool vnetpool" in tes and f"--image coa-build/tes:6.0.0-{COA_COMMIT[:7]}" in tes
    assert "--file Dockerfile-Tes" in tes and tes.endswith("/src/ga4gh-tes/src")
    assert "--file Dockerfile-TriggerService" in triggerservice and triggerservice.endswith("/src")
    imports = [c for c in log if c.startswith("az acr import")]
    assert f"--source crcoadevx7k2.azurecr.io/coa-build/tes@{BUILT}" in imports[0]
    images = lock(workspace)["images"]
    for key in ("tes", "triggerservice"):
        assert images[key]["source"] == "build" and images[key]["digest"] == BUILT
        assert f"from https://github.com/microsoft/CromwellOnAzure@{COA_COMMIT} (tag 6.0.0)" in images[key]["resolved"]
    assert images["cromwell"] == LOCK["images"]["cromwell"]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"TAG_COMMIT": "2" * 40}, f"tag 6.0.0 of https://github.com/microsoft/CromwellOnAzure is {'2' * 40}"),
        ({"SUBMODULE_COMMIT": "3" * 40}, f"submodule src/ga4gh-tes is {'3' * 40}, the lock pins {TES_SUBMODULE}"),
        ({"PINNED_COMMIT": "4" * 40}, "fetched the wrong commit"),
        ({"BUILT_DIGEST": "none"}, "has no digest for coa-build/tes"),
    ],
)
def test_refuses_anything_that_is_not_what_the_lock_pins(workspace: Path, env: dict[str, str], words: str) -> None:
    before = (workspace / "images.lock.json").read_text()
    result = run(workspace, "crcoadevx7k2", **env)
    assert result.returncode == 1 and words in result.stderr
    assert (workspace / "images.lock.json").read_text() == before


def test_dry_run_prints_the_plan_and_touches_nothing(workspace: Path) -> None:
    result = run(workspace, "crcoadevx7k2", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"git clone https://github.com/microsoft/CromwellOnAzure @ {COA_COMMIT} (tag 6.0.0)" in result.stdout
    assert "az acr build --registry crcoadevx7k2 --platform linux --image coa-build/tes:6.0.0-" in result.stdout
    assert calls(workspace) == []


def test_the_deploy_path_builds_one_image_and_prints_only_its_digest(workspace: Path) -> None:
    """How `pulumi up` runs it (components/image_build.py): stdout is the digest, the lock is the stack's business."""
    before = (workspace / "images.lock.json").read_text()
    result = run(workspace, "crcoadevx7k2", "--agent-pool", "coabuild", "--only", "triggerservice", "--print-digest")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{BUILT}\n"
    assert "build log line on stdout" in result.stderr
    builds = [c for c in calls(workspace) if c.startswith("az acr build")]
    assert len(builds) == 1 and "--file Dockerfile-TriggerService" in builds[0]
    assert (workspace / "images.lock.json").read_text() == before


def test_a_pool_at_zero_is_scaled_up_for_the_build_and_back_down(workspace: Path) -> None:
    result = run(
        workspace, "crcoadevx7k2", "--agent-pool", "coabuild", "--only", "tes", "--print-digest", POOL_COUNT="0"
    )
    assert result.returncode == 0, result.stderr
    log = calls(workspace)
    up = log.index("az acr agentpool update --registry crcoadevx7k2 --name coabuild --count 1 --output none")
    build = next(i for i, c in enumerate(log) if c.startswith("az acr build"))
    down = log.index(
        "az acr agentpool update --registry crcoadevx7k2 --name coabuild --count 0 --no-wait --output none"
    )
    assert up < build < down


def test_the_deploy_path_releases_a_running_pool_after_its_build(workspace: Path) -> None:
    args = ("crcoadevx7k2", "--agent-pool", "coabuild", "--release-pool", "--only", "tes", "--print-digest")
    result = run(workspace, *args)
    assert result.returncode == 0, result.stderr
    updates = [c for c in calls(workspace) if "agentpool update" in c]
    assert updates == [
        "az acr agentpool update --registry crcoadevx7k2 --name coabuild --count 0 --no-wait --output none"
    ]


def test_a_running_pool_is_left_as_it_is(workspace: Path) -> None:
    result = run(workspace, "crcoadevx7k2", "--agent-pool", "coabuild", "--only", "tes", "--print-digest")
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls(workspace) if "agentpool update" in c]


def test_a_failed_build_still_scales_the_pool_down(workspace: Path) -> None:
    result = run(
        workspace,
        "crcoadevx7k2",
        "--agent-pool",
        "coabuild",
        "--only",
        "tes",
        "--print-digest",
        POOL_COUNT="0",
        BUILT_DIGEST="none",
    )
    assert result.returncode == 1 and result.stdout == ""
    assert any("--count 0" in c for c in calls(workspace))


def test_only_names_an_entry_with_a_build_block(workspace: Path) -> None:
    result = run(workspace, "crcoadevx7k2", "--only", "cromwell", "--print-digest")
    assert result.returncode != 0 and "--only cromwell" in result.stderr
    assert not [c for c in calls(workspace) if c.startswith("az acr build")]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["cr"],
        ["crcoadev", "--agent-pool"],
        ["crcoadev", "--import-to", "x/y"],
        ["crcoadev", "--print-digest"],
        ["crcoadev", "--release-pool"],
    ],
)
def test_refuses_bad_arguments(workspace: Path, args: list[str]) -> None:
    result = run(workspace, *args)
    assert result.returncode == 2 and result.stderr
