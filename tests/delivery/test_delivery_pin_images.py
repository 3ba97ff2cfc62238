"""scripts/pin_images.py against a stub `crane`: resolves pending digests with provenance, checks recorded ones,
reports a moved tag without following it, and changes nothing on failure or --dry-run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "pin_images.py"
sys.path.insert(0, str(REPO))
from configuration.image_lock import parse_lock  # noqa: E402


def digest(n: int) -> str:
    return "sha256:" + f"{n:x}" * 64


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copy(REPO / "images.lock.json", tmp_path / "images.lock.json")
    stub = tmp_path / "crane"
    # crane digest <ref>: answers from registry.json, like a registry that serves exactly those references.
    stub.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys, pathlib\n"
        "served = json.loads((pathlib.Path(__file__).parent / 'registry.json').read_text())\n"
        "assert sys.argv[1] == 'digest', sys.argv\n"
        "if sys.argv[2] in served: print(served[sys.argv[2]]); sys.exit(0)\n"
        "print(f'MANIFEST_UNKNOWN: {sys.argv[2]}', file=sys.stderr); sys.exit(1)\n"
    )
    stub.chmod(0o755)
    return tmp_path


def serve(workspace: Path, served: dict[str, str]) -> None:
    (workspace / "registry.json").write_text(json.dumps(served))


def run(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRANE": str(workspace / "crane")}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--lock", str(workspace / "images.lock.json"), *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def lock(workspace: Path) -> dict[str, Any]:
    return json.loads((workspace / "images.lock.json").read_text())


def upstream_tags() -> dict[str, str]:
    images = json.loads((REPO / "images.lock.json").read_text())["images"]
    return {key: f"{e['upstream']}:{e['tag']}" for key, e in images.items() if e["source"] == "cache"}


def test_resolves_every_pending_digest_with_its_provenance(workspace: Path) -> None:
    tags = upstream_tags()
    serve(workspace, {ref: digest(i + 1) for i, ref in enumerate(tags.values())})
    result = run(workspace)
    assert result.returncode == 0, result.stderr
    images = lock(workspace)["images"]
    for i, (key, ref) in enumerate(tags.items()):
        assert images[key]["digest"] == digest(i + 1)
        assert images[key]["resolved"].startswith(f"crane digest {ref} on 20")
    # What it writes is a valid lock the program accepts, now with nothing pending.
    assert parse_lock(lock(workspace)).unpinned() == []


def test_a_registry_failure_changes_nothing(workspace: Path) -> None:
    before = (workspace / "images.lock.json").read_text()
    serve(workspace, {})
    result = run(workspace)
    assert result.returncode == 1 and "MANIFEST_UNKNOWN" in result.stderr
    assert (workspace / "images.lock.json").read_text() == before


def test_dry_run_prints_the_queries_and_changes_nothing(workspace: Path) -> None:
    before = (workspace / "images.lock.json").read_text()
    result = run(workspace, "--dry-run")
    assert result.returncode == 0
    assert "crane digest docker.io/broadinstitute/cromwell:87" in result.stdout
    assert (workspace / "images.lock.json").read_text() == before


def test_check_confirms_digests_reports_pending_and_a_moved_tag(workspace: Path) -> None:
    tags = upstream_tags()
    serve(workspace, {ref: digest(i + 1) for i, ref in enumerate(tags.values())})
    assert run(workspace).returncode == 0
    # Upstream re-pushes the cromwell tag; the pinned digest is still served.
    cromwell = lock(workspace)["images"]["cromwell"]
    moved = {ref: digest(i + 1) for i, ref in enumerate(tags.values())}
    moved[tags["cromwell"]] = digest(9)
    moved |= {f"{e['upstream']}@{e['digest']}": e["digest"] for e in lock(workspace)["images"].values()}
    serve(workspace, moved)
    result = run(workspace, "--check")
    assert result.returncode == 0, result.stdout
    assert f"cromwell: ok docker.io/broadinstitute/cromwell@{cromwell['digest']} (tag 87 has moved" in result.stdout
    # A pinned digest the registry no longer serves fails the check.
    del moved[f"{cromwell['upstream']}@{cromwell['digest']}"]
    serve(workspace, moved)
    result = run(workspace, "--check")
    assert result.returncode == 1 and "cromwell: MISSING" in result.stdout


def test_check_of_the_pending_lock_names_each_pending_image(workspace: Path) -> None:
    serve(workspace, {})
    result = run(workspace, "--check")
    pending = [key for key, e in lock(workspace)["images"].items() if not e["digest"]]
    assert result.returncode == 0
    assert [line.split(":")[0] for line in result.stdout.splitlines() if "PENDING" in line] == pending


def test_refresh_names_unknown_keys(workspace: Path) -> None:
    result = run(workspace, "--refresh", "cromwel")
    assert result.returncode == 2 and "no image cromwel" in result.stderr
