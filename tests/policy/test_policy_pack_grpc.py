"""The pack started as the CLI starts it (`python -m pulumi.policy <engine> .` in policy/), over gRPC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from policy_fixtures import compliant

from offline.analyzer import PolicyPackAnalyzer, PolicyPackError
from offline.records import ResourceRecord
from policy.coa_policies import all_policies

PACK = Path(__file__).resolve().parents[2] / "policy"
CONFIG = {
    "log-analytics-retention-minimum": {"minRetentionDays": 120},
    "storage-account-shared-key-disabled": "disabled",
}


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackAnalyzer]:
    with PolicyPackAnalyzer(PACK, config=CONFIG, timeout=60) as analyzer:
        yield analyzer


def record(t: str, name: str, inputs: dict, stack: str = "prod", **kw: object) -> ResourceRecord:
    return ResourceRecord(
        urn=f"urn:pulumi:{stack}::coa::{t}::{name}", type=t, name=name, custom=True, inputs=inputs, **kw
    )  # type: ignore[arg-type]


def test_analyzer_info_lists_every_rule_with_metadata(pack: PolicyPackAnalyzer) -> None:
    name, policies = pack.info()
    assert name == "coa-hipaa"
    assert sorted(p.name for p in policies) == sorted(p.name for p in all_policies())
    for p in policies:
        assert p.description and p.remediation_steps and p.severity in ("low", "medium", "high", "critical"), p
        assert p.enforcement_level in ("mandatory", "advisory"), p
        assert p.framework and p.framework["name"] == "HIPAA" and p.framework["reference"].startswith("164.312"), p
    schema = {p.name: p.config_schema for p in policies}["log-analytics-retention-minimum"]
    assert schema and schema["properties"]["minRetentionDays"]["default"] == 90


def test_bad_resource_violates_and_good_one_does_not(pack: PolicyPackAnalyzer) -> None:
    st = "azure-native:storage:StorageAccount"
    bad = record(st, "bad", {**compliant(st), "allowBlobPublicAccess": True, "minimumTlsVersion": "TLS1_0"})
    good = record(st, "good", compliant(st))
    found = [
        v
        for v in pack.analyze([bad, good])
        if v.urn in (bad.urn, good.urn) and not v.policy_name.startswith(("paas-", "diagnostics-", "stateful-"))
    ]
    assert sorted(v.policy_name for v in found) == [
        "storage-account-blob-public-access-disabled",
        "storage-account-tls-1-2-minimum",
    ]
    assert {v.urn for v in found} == {bad.urn}
    assert all(
        v.enforcement_level == "mandatory" and v.policy_pack == "coa-hipaa" and v.remediation_steps for v in found
    )


def test_configure_sets_properties_and_keeps_enforcement_levels(pack: PolicyPackAnalyzer) -> None:
    log = "azure-native:operationalinsights:Workspace"
    st = "azure-native:storage:StorageAccount"
    found = pack.analyze(
        [
            record(log, "log", {**compliant(log), "retentionInDays": 90}, stack="dev"),
            record(st, "st", {**compliant(st), "allowSharedKeyAccess": True, "tags": {"environment": "dev"}}, "dev"),
        ]
    )
    names = {v.policy_name: v for v in found}
    assert names["log-analytics-retention-minimum"].enforcement_level == "mandatory"
    assert "storage-account-shared-key-disabled" not in names
    assert "storage-account-shared-key-disabled-production" not in names


def test_shared_keys_block_production_accounts_only(pack: PolicyPackAnalyzer) -> None:
    st = "azure-native:storage:StorageAccount"
    dev = record(st, "st-dev", {**compliant(st), "allowSharedKeyAccess": True, "tags": {"environment": "dev"}}, "dev")
    prod = record(st, "st-prod", {**compliant(st), "tags": {"environment": "prod"}}, "dev")
    del prod.inputs["allowSharedKeyAccess"]  # Azure's default: true
    found = [v for v in pack.analyze([dev, prod]) if v.policy_name.startswith("storage-account-shared-key")]
    assert [(v.policy_name, v.urn, v.enforcement_level) for v in found] == [
        ("storage-account-shared-key-disabled-production", prod.urn, "mandatory")
    ]


def test_prod_policy_config_declares_production() -> None:
    """policy/config/prod.json, as the prod workflow passes it: every account of the stack is production."""
    st = "azure-native:storage:StorageAccount"
    config = json.loads((PACK / "config" / "prod.json").read_text())
    untagged = record(st, "st", {k: v for k, v in compliant(st).items() if k != "tags"}, "blue")
    untagged.inputs["allowSharedKeyAccess"] = True
    with PolicyPackAnalyzer(PACK, config=config, timeout=60) as prod_pack:
        found = [
            v
            for v in prod_pack.analyze([untagged])
            if v.enforcement_level == "mandatory" and v.policy_name.startswith("storage-")
        ]
    assert [(v.policy_name, v.urn) for v in found] == [("storage-account-shared-key-disabled-production", untagged.urn)]
    assert "policy config production: true" in found[0].message


def test_postgres_firewall_wide_ranges_are_mandatory(pack: PolicyPackAnalyzer) -> None:
    fw = "azure-native:dbforpostgresql:FirewallRule"
    narrow = record(fw, "narrow", compliant(fw), "dev")
    azure = record(fw, "azure", {**compliant(fw), "startIpAddress": "0.0.0.0", "endIpAddress": "0.0.0.0"}, "dev")
    wide = record(fw, "wide", {**compliant(fw), "endIpAddress": "203.0.114.255"}, "dev")
    bad_ip = record(fw, "bad-ip", {**compliant(fw), "endIpAddress": "203.0.113"}, "dev")
    found = {v.urn: v for v in pack.analyze([narrow, azure, wide, bad_ip])}
    assert narrow.urn not in found
    assert {found[r.urn].policy_name for r in (azure, wide, bad_ip)} == {"postgres-firewall-no-wide-ranges"}
    assert all(found[r.urn].enforcement_level == "mandatory" for r in (azure, wide, bad_ip))
    assert "any Azure service" in found[azure.urn].message
    assert "512 addresses" in found[wide.urn].message
    assert "not an IPv4 address" in found[bad_ip.urn].message


def test_computed_inputs_do_not_violate_or_fail(pack: PolicyPackAnalyzer) -> None:
    st = "azure-native:storage:StorageAccount"
    inputs = {**compliant(st), "allowBlobPublicAccess": None, "networkRuleSet": None, "encryption": None}
    found = pack.analyze([record(st, "st", inputs, stack="dev")])
    assert [v for v in found if v.policy_name.startswith("storage-")] == []


def test_analyze_stack_links_endpoints_dns_and_diagnostics(pack: PolicyPackAnalyzer) -> None:
    kv_type = "azure-native:keyvault:Vault"
    kv = record(kv_type, "kv", compliant(kv_type), protect=True)
    pe = record(
        "azure-native:network:PrivateEndpoint",
        "pep-kv",
        {"privateLinkServiceConnections": [{"name": "vault", "groupIds": ["vault"], "privateLinkServiceId": None}]},
        dependencies=(kv.urn,),
        property_dependencies={"privateLinkServiceConnections": (kv.urn,)},
    )
    zg = record(
        "azure-native:network:PrivateDnsZoneGroup",
        "zg",
        {"privateEndpointName": None},
        parent=pe.urn,
        dependencies=(pe.urn,),
        property_dependencies={"privateEndpointName": (pe.urn,)},
    )
    diag = record(
        "azure-native:monitor:DiagnosticSetting",
        "diag",
        {"resourceUri": None, "workspaceId": "/log", "logs": [{"category": "AuditEvent", "enabled": True}]},
        dependencies=(kv.urn,),
        property_dependencies={"resourceUri": (kv.urn,)},
    )
    lock = record(
        "azure-native:authorization:ManagementLockByScope",
        "kv-lock",
        {"level": "CanNotDelete", "scope": None},
        dependencies=(kv.urn,),
        property_dependencies={"scope": (kv.urn,)},
    )
    stack_rules = ("paas-", "diagnostics-", "stateful-", "public-ip-")
    assert [v for v in pack.analyze([kv, pe, zg, diag, lock]) if v.policy_name.startswith(stack_rules)] == []
    found = [v for v in pack.analyze([kv, pe]) if v.policy_name.startswith(stack_rules)]
    assert sorted((v.policy_name, v.urn) for v in found) == [
        ("diagnostics-to-log-analytics", kv.urn),
        ("paas-private-endpoint-with-dns", pe.urn),
        ("stateful-resources-locked-in-production", kv.urn),
    ]
    unprotected = record(kv_type, "kv", compliant(kv_type))
    found = [v for v in pack.analyze([unprotected]) if v.policy_name == "stateful-resources-protected-in-production"]
    assert [v.urn for v in found] == [unprotected.urn]


def test_unknown_policy_in_config_is_refused(pack: PolicyPackAnalyzer) -> None:
    analyzer = PolicyPackAnalyzer(PACK, config={"no-such-rule": "disabled"})
    analyzer._stub = pack._stub  # reuse the running pack; only the config check is under test
    analyzer._info = pack.info()
    with pytest.raises(PolicyPackError, match="no-such-rule"):
        analyzer._configure()


def test_pack_that_crashes_on_start_reports_its_stderr(tmp_path: Path) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('policy pack boom')\n")
    with pytest.raises(PolicyPackError, match="boom"), PolicyPackAnalyzer(tmp_path, timeout=30):
        pass
    with pytest.raises(PolicyPackError, match=r"PulumiPolicy\.yaml"):
        PolicyPackAnalyzer(tmp_path / "missing").start()
