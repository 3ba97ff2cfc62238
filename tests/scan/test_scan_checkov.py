"""Checkov reads the exported template the way it reads a hand-written one: breaking a setting in the Pulumi
inputs flips the matching check from passed to failed. One Checkov run (a few seconds) covers every case."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scan.arm import build_template
from scan.checkov import Finding, read_findings, run_checkov

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".venv-scan" / "bin" / "checkov"

Mutation = Callable[[dict[str, Any]], None]


def _inputs(document: dict[str, Any], token: str) -> dict[str, Any]:
    (resource,) = [r for r in document["resources"] if r["type"] == token]
    return resource["inputs"]


def _storage(document: dict[str, Any]) -> dict[str, Any]:
    return _inputs(document, "azure-native:storage:StorageAccount")


def tls_1_0(document: dict[str, Any]) -> None:
    _storage(document)["minimumTlsVersion"] = "TLS1_0"


def firewall_allows(document: dict[str, Any]) -> None:
    # networkRuleSet is ARM's networkAcls: this case fails if the rename is lost.
    _storage(document)["networkRuleSet"]["defaultAction"] = "Allow"


def http_allowed(document: dict[str, Any]) -> None:
    _storage(document)["enableHttpsTrafficOnly"] = False


def vault_public(document: dict[str, Any]) -> None:
    _inputs(document, "azure-native:keyvault:Vault")["properties"]["publicNetworkAccess"] = "Enabled"


def registry_admin(document: dict[str, Any]) -> None:
    _inputs(document, "azure-native:containerregistry:Registry")["adminUserEnabled"] = True


def secret_never_expires(document: dict[str, Any]) -> None:
    # attributes.expires is ARM's attributes.exp: this case fails if the nested rename is lost.
    (admin,) = [
        r["inputs"]
        for r in document["resources"]
        if r["type"] == "azure-native:keyvault:Secret" and r["inputs"]["secretName"] == "postgres-admin-password"
    ]
    del admin["properties"]["attributes"]["expires"]


# case name -> (mutation of the Pulumi inputs, Checkov check that must flip, the resource it evaluates: ARM type and
# name prefix as Checkov reports it)
CASES: dict[str, tuple[Mutation, str, str]] = {
    "tls-1-0": (tls_1_0, "CKV_AZURE_44", "Microsoft.Storage/storageAccounts."),
    "firewall-allow": (firewall_allows, "CKV_AZURE_35", "Microsoft.Storage/storageAccounts."),
    "http-allowed": (http_allowed, "CKV_AZURE_3", "Microsoft.Storage/storageAccounts."),
    "vault-public": (vault_public, "CKV_AZURE_189", "Microsoft.KeyVault/vaults."),
    "registry-admin": (registry_admin, "CKV_AZURE_137", "Microsoft.ContainerRegistry/registries."),
    "secret-never-expires": (
        secret_never_expires,
        "CKV_AZURE_41",
        "Microsoft.KeyVault/vaults/secrets.kv-coa-dev-d7k2/postgres-admin-password",
    ),
}


@pytest.fixture(scope="session")
def findings_by_case(
    dev_document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[Finding]]:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is missing: run `make .venv-scan/.installed` (the pytest target depends on it)")
    root = tmp_path_factory.mktemp("checkov")
    templates = root / "templates"
    templates.mkdir()
    variants: dict[str, dict[str, Any]] = {"baseline": dev_document}
    for name, (mutate, _, _) in CASES.items():
        variants[name] = copy.deepcopy(dev_document)
        mutate(variants[name])
    for name, document in variants.items():
        (templates / f"{name}.json").write_text(json.dumps(build_template(document), indent=2))
    report = run_checkov(CHECKOV, "arm", templates, root / "results", cwd=root)
    by_case: dict[str, list[Finding]] = {name: [] for name in variants}
    for finding in read_findings(report, "dev", "arm"):
        by_case[Path(finding.file).stem].append(finding)
    return by_case


def _result(findings: list[Finding], check: str, resource: str) -> bool:
    matches = [f.passed for f in findings if f.check_id == check and f.resource.startswith(resource)]
    assert len(matches) == 1, f"{check} evaluated {len(matches)} {resource}* resources, expected 1"
    return matches[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_breaking_the_pulumi_input_flips_the_checkov_check(
    case: str, findings_by_case: dict[str, list[Finding]]
) -> None:
    _, check, resource = CASES[case]
    assert _result(findings_by_case["baseline"], check, resource) is True, f"{check} should pass on the dev stack"
    assert _result(findings_by_case[case], check, resource) is False, f"{check} did not notice {case}"


# Checks that legitimately change too: CKV_AZURE_36 passes any account whose firewall allows by default.
ALSO_CHANGES: dict[str, set[str]] = {"firewall-allow": {"CKV_AZURE_36"}}


def test_nothing_else_changes(findings_by_case: dict[str, list[Finding]]) -> None:
    """The mutation reaches one resource's one setting: no other check or resource moves."""
    baseline = {(f.check_id, f.resource): f.passed for f in findings_by_case["baseline"]}
    assert baseline, "Checkov evaluated nothing in the dev template"
    for case, (_, check, target) in CASES.items():
        changed = {key for f in findings_by_case[case] if baseline.get(key := (f.check_id, f.resource)) != f.passed}
        assert {c for c, _ in changed} == {check} | ALSO_CHANGES.get(case, set()), (case, sorted(changed))
        assert all(resource.startswith(target) for _, resource in changed), (case, sorted(changed))
