"""Policy results as text and JSON, and resources.json: grouping, verdict and the edges the engine knows."""

from __future__ import annotations

import json
from dataclasses import dataclass

from offline.records import ResourceRecord
from offline.report import Finding, Rule, findings_of, policy_document, render_policy_text, resources_document


@dataclass
class FakeViolation:
    policy_name: str
    enforcement_level: str
    severity: str
    urn: str
    message: str = ""
    description: str = ""
    remediation_steps: str = ""
    policy_pack: str = "pack"


def _account(records: list[ResourceRecord]) -> ResourceRecord:
    return next(r for r in records if r.type == "azure-native:storage:StorageAccount")


def test_rule_reads_snake_case_camel_case_and_proto_enums() -> None:
    from_dataclass = Rule.of(FakeViolation("x", "mandatory", "high", ""))
    assert (from_dataclass.enforcement_level, from_dataclass.severity) == ("mandatory", "high")
    # gRPC PolicyInfo: camelCase names, enum numbers (MANDATORY=1, POLICY_SEVERITY_CRITICAL=4).
    proto_like = {
        "name": "r",
        "enforcementLevel": 1,
        "severity": 4,
        "remediationSteps": "fix it",
        "framework": {"name": "HIPAA", "version": "2013", "reference": "164.312(a)(1)"},
    }
    rule = Rule.of(proto_like)
    assert (rule.enforcement_level, rule.severity, rule.remediation_steps) == ("mandatory", "critical", "fix it")
    assert rule.framework == "HIPAA 2013 164.312(a)(1)"
    assert Rule.of({"name": "r", "severity": "POLICY_SEVERITY_LOW"}).severity == "low"
    assert Rule.of({"name": "r", "severity": "Severity.MEDIUM"}).severity == "medium"
    assert Rule.of({"name": "r", "severity": "bogus"}).severity == ""


def test_findings_resolve_resources_and_sort_mandatory_first_by_severity(sample_stack) -> None:
    account = _account(sample_stack)
    violations = [
        FakeViolation("tags", "advisory", "critical", account.urn),
        FakeViolation("b-rule", "mandatory", "medium", account.urn),
        FakeViolation("a-rule", "mandatory", "high", "urn:pulumi:dev::demo::coa:x:Y$azure-native:web:Site::gone"),
        FakeViolation("stack-rule", "mandatory", "high", ""),
    ]
    found = findings_of(violations, sample_stack)
    assert [f.rule for f in found] == ["a-rule", "stack-rule", "b-rule", "tags"]
    assert (found[2].resource_type, found[2].resource_name) == ("azure-native:storage:StorageAccount", "data-st")
    # A URN the run did not record still names its type and name.
    assert (found[0].resource_type, found[0].resource_name) == ("azure-native:web:Site", "gone")
    assert found[1].resource == "(the whole stack)"


def test_text_groups_by_enforcement_and_severity_with_rule_resource_and_remediation(sample_stack) -> None:
    account = _account(sample_stack)
    violations = [
        FakeViolation(
            "storage-no-public-blob",
            "mandatory",
            "high",
            account.urn,
            "allowBlobPublicAccess is true",
            remediation_steps="Set allowBlobPublicAccess: false.\nThen redeploy.",
        ),
        FakeViolation("storage-tags", "advisory", "low", account.urn, "no tags"),
    ]
    text = render_policy_text("coa-hipaa", [], findings_of(violations, sample_stack))
    lines = text.splitlines()
    assert lines[0] == "Policy pack coa-hipaa: 2 violations (1 mandatory, 1 advisory)"
    mandatory_at = lines.index("  MANDATORY · high severity")
    advisory_at = lines.index("  ADVISORY · low severity")
    assert mandatory_at < advisory_at
    assert lines[mandatory_at + 1] == "    ✗ storage-no-public-blob  on  azure-native:storage:StorageAccount data-st"
    assert "        remediation: Set allowBlobPublicAccess: false." in lines
    assert "                     Then redeploy." in lines
    assert render_policy_text("p", [Rule.of({"name": "r"})], []) == "Policy pack p: 1 rules, no violations."


def test_policy_document_passes_only_without_mandatory_violations(sample_stack) -> None:
    account = _account(sample_stack)
    advisory = findings_of([FakeViolation("t", "advisory", "low", account.urn)], sample_stack)
    mandatory = findings_of([FakeViolation("m", "mandatory", "low", account.urn)], sample_stack)
    assert policy_document("p", [], advisory)["passed"] is True
    failed = policy_document("p", [Rule.of({"name": "m"})], mandatory + advisory)
    assert failed["passed"] is False
    assert failed["counts"] == {"mandatory": 1, "remediate": 0, "advisory": 1}
    assert failed["violations"][0]["urn"] == account.urn
    json.dumps(failed)  # plain JSON all the way down


def test_resources_document_keeps_inputs_and_every_edge(sample_stack) -> None:
    document = resources_document("demo", "dev", sample_stack)
    assert (document["project"], document["stack"], len(document["resources"])) == ("demo", "dev", len(sample_stack))
    by_name = {r["name"]: r for r in document["resources"]}
    subnet = by_name["main-snet-pe"]
    assert subnet["parent"].endswith("coa:network:Network::main")
    # Sorted, as written to resources.json: the engine lists dependencies in no stable order.
    assert subnet["dependencies"] == sorted([by_name["main-vnet"]["urn"], by_name["main-nsg-pe"]["urn"]])
    assert subnet["propertyDependencies"]["networkSecurityGroup"] == [by_name["main-nsg-pe"]["urn"]]
    assert subnet["inputs"]["networkSecurityGroup"]["id"] == by_name["main-nsg-pe"]["id"]
    assert by_name["data-st"]["protect"] is True
    assert by_name["coa"]["provider"] == by_name["aks-k8s"]["urn"] + "::k8s-provider-id"
    assert json.loads(json.dumps(document)) == document


def test_finding_is_plain_data() -> None:
    finding = Finding.of({"policyName": "r", "enforcementLevel": 0, "urn": ""}, {})
    assert (finding.rule, finding.enforcement_level, finding.resource_type) == ("r", "advisory", "")
