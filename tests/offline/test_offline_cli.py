"""The preview command's flow with a recorded run and a stand-in pack: exit codes, out files, stdout formats."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from offline import cli
from offline.records import ResourceRecord

PROGRAM = Path(__file__).parent / "fixtures" / "insecure_program"


@dataclass
class Run:
    resources: list[ResourceRecord]
    project: str = "demo"
    stack: str = "dev"
    outputs: dict[str, Any] = field(default_factory=lambda: {"kubeconfig": "apiVersion: v1\n" + "x" * 200})


class StandInPack:
    """Flags public blob access as mandatory and missing tags as advisory; remembers what it was given."""

    seen: ClassVar[dict[str, Any]] = {}

    def __init__(self, pack_dir: Path, config: Any) -> None:
        StandInPack.seen = {"pack_dir": pack_dir, "config": config}

    def __enter__(self) -> StandInPack:
        return self

    def __exit__(self, *exc: object) -> None:
        StandInPack.seen["closed"] = True

    def info(self) -> tuple[str, list[dict[str, str]]]:
        return "stand-in", [
            {"name": "no-public-blob", "enforcement_level": "mandatory", "severity": "high"},
            {"name": "tags", "enforcement_level": "advisory", "severity": "low"},
        ]

    def analyze(self, resources: list[ResourceRecord]) -> list[dict[str, str]]:
        StandInPack.seen["count"] = len(resources)
        found = []
        for r in resources:
            if r.inputs.get("allowBlobPublicAccess") is True:
                found.append(
                    {
                        "policy_name": "no-public-blob",
                        "enforcement_level": "mandatory",
                        "severity": "high",
                        "urn": r.urn,
                        "message": "blob public access on",
                        "remediation_steps": "turn it off",
                    }
                )
            if r.custom and not r.inputs.get("tags"):
                found.append(
                    {
                        "policy_name": "tags",
                        "enforcement_level": "advisory",
                        "severity": "low",
                        "urn": r.urn,
                        "message": "no tags",
                    }
                )
        return found


def _preview(records: list[ResourceRecord], tmp_path: Path, fmt: str = "text", **extra: Any) -> tuple[int, str]:
    options = cli.PreviewOptions(
        stack="dev", program=PROGRAM, out=tmp_path / "out", format=fmt, policy_pack=tmp_path, **extra
    )
    stdout = io.StringIO()
    code = cli.preview(options, stdout=stdout, runner=lambda _p, _s: Run(records), analyzer_factory=StandInPack)
    return code, stdout.getvalue()


def test_advisory_only_passes_and_writes_every_out_file(sample_stack, tmp_path: Path) -> None:
    code, text = _preview(sample_stack, tmp_path)
    assert code == 0
    assert StandInPack.seen["count"] == len(sample_stack) and StandInPack.seen["closed"]
    for name in cli.OUT_FILES:
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert text.index("Type") < text.index("Resources:") < text.index("Policy pack stand-in") < text.index("PASSED")
    assert "kubeconfig: apiVersion: v1 xxx" in text and "…" in text  # outputs shortened to one line
    policy = json.loads((tmp_path / "out" / "policy.json").read_text())
    assert policy["passed"] is True and policy["counts"]["advisory"] > 0
    assert "```mermaid" in (tmp_path / "out" / "architecture.md").read_text()


def test_a_mandatory_violation_fails_with_exit_1_naming_rule_and_resource(sample_stack, make_record, tmp_path) -> None:
    public = make_record("azure-native:storage:StorageAccount", "leaky-st", inputs={"allowBlobPublicAccess": True})
    code, text = _preview([*sample_stack, public], tmp_path)
    assert code == 1
    assert "✗ no-public-blob  on  azure-native:storage:StorageAccount leaky-st" in text
    assert "FAILED: 1 mandatory violations" in text
    sarif = json.loads((tmp_path / "out" / "policy.sarif").read_text())
    assert [r["level"] for r in sarif["runs"][0]["results"]].count("error") == 1


def test_json_format_prints_only_the_report(sample_stack, tmp_path: Path) -> None:
    code, out = _preview(sample_stack, tmp_path, fmt="json")
    document = json.loads(out)
    assert code == 0
    assert document["summary"]["total"] == len(sample_stack)
    assert document["summary"]["byType"]["azure-native:storage:BlobContainer"] == 5
    assert {c["name"] for c in document["summary"]["byComponent"]} == {"main", "data"}
    assert document["policy"]["policyPack"] == "stand-in"
    assert set(document["files"]) == set(cli.OUT_FILES)


def test_policy_config_is_passed_to_the_pack_and_bad_files_name_themselves(sample_stack, tmp_path: Path) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text('{"tags": "disabled", "allowed-locations": {"locations": ["westeurope"]}}')
    _preview(sample_stack, tmp_path, policy_config=config)
    assert StandInPack.seen["config"]["allowed-locations"] == {"locations": ["westeurope"]}
    config.write_text('{"tags": [unclosed')
    with pytest.raises(cli.CliError, match=r"--policy-config .*policy-config.json: not valid JSON or YAML"):
        _preview(sample_stack, tmp_path, policy_config=config)
    config.write_text("[1, 2]")
    with pytest.raises(cli.CliError, match="must be an object keyed by policy name"):
        _preview(sample_stack, tmp_path, policy_config=config)


def test_missing_directories_and_bad_arguments_exit_2_with_one_line(tmp_path, capsys) -> None:
    assert cli.main(["preview", "--stack", "dev", "--program", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"error: --program {tmp_path / 'nope'}: no such directory\n"
    with pytest.raises(SystemExit) as exited:
        cli.main(["preview", "--stack", "dev", "--format", "xml"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'xml'" in err


def test_diagram_command_prints_the_architecture_markdown(sample_stack, monkeypatch, capsys) -> None:
    calls: list[tuple[Path, str]] = []

    def runner(program: Path, stack: str) -> Run:
        calls.append((program, stack))
        return Run(sample_stack)

    monkeypatch.setattr(cli, "_default_runner", runner)
    assert cli.main(["diagram", "--stack", "dev", "--program", str(PROGRAM)]) == 0
    out = capsys.readouterr().out
    assert calls == [(PROGRAM.resolve(), "dev")]
    assert out.startswith("# Architecture of `demo` stack `dev`") and '"Storage: data"' in out
