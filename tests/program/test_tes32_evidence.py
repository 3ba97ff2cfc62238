"""The evidence a security reviewer gets for the CoA 3.2 generation: `make preview`, `make scan` and `make evidence` of a
stack named as docs/workflows.md suggests (`cosmosdb-dev`), end to end with the real Checkov. The weakenings are in
the pack with their reasons, the scanner's own finding of Cosmos DB local auth is waived for these stacks only, and the
retirements the generation carries are listed."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from stackquery import tes32_config

from configuration.tes32 import WEAKENINGS
from offline import cli, evidence
from offline.harness import ProgramRun
from scan.__main__ import main as scan_main

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".venv-scan" / "bin" / "checkov"
STACK = "cosmosdb-dev"


def _program(root: Path) -> Path:
    """The reviewed files of a repository whose cosmosdb-dev stack file is the dev stack switched to the 3.2
    generation (the variant the tes32_dev fixture ran)."""
    program = root / "program"
    program.mkdir()
    for name in ("Pulumi.yaml", "images.lock.json"):
        shutil.copy(REPO / name, program / name)
    for directory in ("scan", "policy"):
        os.symlink(REPO / directory, program / directory)
    doc = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    doc["config"].update(tes32_config("dev"))
    (program / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(doc))
    return program


@pytest.fixture(scope="module")
def pack(tes32_dev: ProgramRun, tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is missing: run `make .venv-scan/.installed` (the pytest target depends on it)")
    root = tmp_path_factory.mktemp("tes32-evidence")
    program, out = _program(root), root / "out"
    options = cli.PreviewOptions(
        stack=STACK,
        out=out / STACK,
        format="json",
        policy_config=REPO / "policy" / "config" / f"{STACK}.json",
    )
    assert cli.preview(options, stdout=io.StringIO(), runner=lambda _program, _stack: tes32_dev) == 0
    status = scan_main(
        ["--stacks", STACK, "--previews", str(out), "--out", str(out / "scan"), "--checkov", str(CHECKOV)]
    )
    assert status == 0, (out / "scan" / "report.md").read_text()
    assert evidence.main(["--stack", STACK, "--out", str(out), "--program", str(program)]) == 0
    return json.loads((out / STACK / "evidence.json").read_text())


def test_the_pack_passes_with_every_weakening_shown_and_warned(pack: dict) -> None:
    assert pack["verdict"] == "PASSED"
    weakenings = {w["name"]: w["acceptedBy"] for w in pack["reducedAssurance"]["weakenings"]}
    # dev runs them without overrides: each is warned in every preview, and says so to the reviewer.
    assert weakenings == dict.fromkeys(WEAKENINGS, "not accepted: warned in every preview")


def test_cosmos_local_auth_is_waived_for_these_stacks_with_its_reason(pack: dict) -> None:
    waivers = [w for s in pack["safeguards"] for w in s["checkovWaivers"] if w["check"] == "CKV_AZURE_140"]
    assert waivers and all(w["stacks"] == ["cosmosdb-dev", "cosmosdb-prod"] for w in waivers)
    assert "AzureProxy.cs:145" in waivers[0]["reason"]


def test_the_generations_retirements_are_listed_as_accepted(pack: dict) -> None:
    carried = {(r["kind"], r["value"]) for r in pack["retirements"]}
    assert {
        ("runtime", ".NET 6"),
        ("image", "cromwellonazure/tes:3"),
        ("image", "cromwellonazure/triggerservice:3"),
        ("image", "blobxfer:1.11.0"),
    } <= carried
    assert ("runtime", ".NET 8") not in carried
