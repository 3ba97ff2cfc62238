"""Configuration errors as the offline preview prints them: one line each, the key first, all at once; a typo in the
project's namespace is named as such instead of surfacing as some other key that seems to be missing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from configuration.reader import ConfigError
from configuration.stack import check_namespaces
from offline import cli

REPO = Path(__file__).resolve().parents[2]


def checkout(root: Path, stack: str, edit: Any) -> Path:
    """The repository with one stack file edited, as a developer's working copy would have it."""
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in {f"Pulumi.{stack}.yaml", "out"}:
            (root / entry.name).symlink_to(entry)
    document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    edit(document["config"])
    (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return root


def preview_errors(program: Path, stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    args = ["preview", "--stack", stack, "--program", str(program), "--out", str(tmp_path / "out")]
    assert cli.main(args, stdout=io.StringIO()) == 2
    return capsys.readouterr().err.splitlines()


def test_each_error_is_its_own_line_that_starts_with_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def three_mistakes(config: dict[str, Any]) -> None:
        config["coa-lockdown:location"] = "westus"
        config["coa-lockdown:nameSuffix"] = "X"
        config["coa-lockdown:network"]["subnets"]["aks"] = "10.9.0.0/22"

    lines = preview_errors(checkout(tmp_path / "clone", "dev", three_mistakes), "dev", tmp_path, capsys)

    assert [line.split(": ", 2)[1] for line in lines] == [
        "coa-lockdown:location",
        "coa-lockdown:nameSuffix",
        "coa-lockdown:network.subnets.aks",
    ]
    assert all(line.startswith("error: coa-lockdown:") and len(line) <= 200 for line in lines), lines
    assert lines[0] == (
        "error: coa-lockdown:location: 'westus' has no availability zones, which ZRS storage and zonal AKS need; "
        "e.g. eastus2 or westeurope (all 24: REGIONS in configuration/regions.py)"
    )


def test_a_typo_in_the_namespace_is_named_instead_of_a_missing_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def typo(config: dict[str, Any]) -> None:
        config["coa-lockdwn:network"] = config.pop("coa-lockdown:network")

    lines = preview_errors(checkout(tmp_path / "clone", "prod", typo), "prod", tmp_path, capsys)

    assert lines == ["error: coa-lockdwn:network: unknown namespace 'coa-lockdwn'; did you mean coa-lockdown:?"]


def test_the_providers_namespaces_are_known_and_others_are_not() -> None:
    check_namespaces(["coa-lockdown:location", "azure-native:location", "kubernetes:context", "pulumi:tags"])
    with pytest.raises(ConfigError) as refused:
        check_namespaces(["azure-native:location", "aws:region", "coa-lockdown:location"])
    assert refused.value.errors == (
        "aws:region: unknown namespace 'aws'; use coa-lockdown: or a provider's (azure-native, command, kubernetes, "
        "pulumi, random)",
    )
