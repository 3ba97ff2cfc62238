"""Stack rules over a small hand-built stack: compliant as built, and each single change reported."""

from __future__ import annotations

import dataclasses

import pytest

from policy.coa_policies import all_policies
from policy.coa_policies._core import StackResource, StackRule

RULES = {p.name: p for p in all_policies() if isinstance(p, StackRule)}
LOCK = "azure-native:authorization:ManagementLockByScope"


def urn(stack: str, t: str, name: str) -> str:
    return f"urn:pulumi:{stack}::coa::{t}::{name}"


def build(stack: str = "prod") -> dict[str, StackResource]:
    def r(
        t: str,
        name: str,
        props: dict | None = None,
        deps: dict[str, list[str]] | None = None,
        protect: bool = False,
        parent: str = "",
    ) -> StackResource:
        pd = {k: frozenset(v) for k, v in (deps or {}).items()}
        return StackResource(
            type=t,
            urn=urn(stack, t, name),
            name=name,
            props=props or {},
            protect=protect,
            parent=parent,
            dependencies=frozenset().union(*pd.values()) if pd else frozenset(),
            property_dependencies=pd,
        )

    st = r("azure-native:storage:StorageAccount", "st", {"id": "/s/st"}, protect=True)
    kv = r("azure-native:keyvault:Vault", "kv", protect=True)
    log = r("azure-native:operationalinsights:Workspace", "log", protect=True)
    pe_st = r(
        "azure-native:network:PrivateEndpoint",
        "pep-st",
        {"privateEndpointName": "pep-st"},
        {"privateLinkServiceConnections": [st.urn]},
    )
    # Linked by id only (no dependency recorded), as a stack read from state might be.
    pe_kv = r(
        "azure-native:network:PrivateEndpoint",
        "pep-kv",
        {"privateLinkServiceConnections": [{"privateLinkServiceId": "/S/KV"}]},
    )
    kv = dataclasses.replace(kv, props={"id": "/s/kv"})
    zg_st = r("azure-native:network:PrivateDnsZoneGroup", "zg-st", {}, {"privateEndpointName": [pe_st.urn]})
    zg_kv = r("azure-native:network:PrivateDnsZoneGroup", "zg-kv", {}, parent=pe_kv.urn)
    diag_st = r(
        "azure-native:monitor:DiagnosticSetting",
        "diag-st",
        {
            "workspaceId": "/s/log",
            "resourceUri": "/s/st/blobServices/default",
            "logs": [{"categoryGroup": "allLogs", "enabled": True}],
        },
    )
    diag_kv = r(
        "azure-native:insights:DiagnosticSetting",
        "diag-kv",
        {"workspaceId": None, "logs": [{"category": "AuditEvent", "enabled": True}]},
        {"resourceUri": [kv.urn], "workspaceId": [log.urn]},
    )
    # CanNotDelete locks on the stateful resources: by scope dependency (ids computed) and by a known scope.
    locks = [r(LOCK, f"{x.name}-lock", {"level": "CanNotDelete", "scope": None}, {"scope": [x.urn]}) for x in (st, log)]
    locks.append(r(LOCK, "kv-lock", {"level": "CanNotDelete", "scope": "/S/KV"}))
    pip = r("azure-native:network:PublicIPAddress", "pip-nat")
    nat = r("azure-native:network:NatGateway", "nat", {}, {"publicIpAddresses": [pip.urn]})
    return {x.name: x for x in (st, kv, log, pe_st, pe_kv, zg_st, zg_kv, diag_st, diag_kv, pip, nat, *locks)}


def run(rule: str, stack: dict[str, StackResource], config: dict | None = None) -> list[tuple[str, str]]:
    return RULES[rule].evaluate(list(stack.values()), config)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_compliant_stack_passes(rule: str) -> None:
    assert run(rule, build()) == []


def test_missing_private_endpoint_or_zone_group() -> None:
    stack = build()
    del stack["pep-st"]
    assert [u for _, u in run("paas-private-endpoint-with-dns", stack)] == [stack["st"].urn]
    stack = build()
    del stack["zg-kv"]
    assert [u for _, u in run("paas-private-endpoint-with-dns", stack)] == [stack["pep-kv"].urn]
    assert run("paas-private-endpoint-with-dns", stack, {"dnsZoneGroupsManagedByPolicy": True}) == []


def test_cosmos_alias_needs_an_endpoint_too() -> None:
    stack = build()
    stack["cosmos"] = StackResource(
        type="azure-native:documentdb:DatabaseAccount",
        name="cosmos",
        urn=urn("prod", "azure-native:documentdb:DatabaseAccount", "cosmos"),
        props={},
    )
    assert any(u == stack["cosmos"].urn for _, u in run("paas-private-endpoint-with-dns", stack))


def test_diagnostics_required_and_must_reach_a_workspace() -> None:
    stack = build()
    del stack["diag-kv"]
    assert [u for _, u in run("diagnostics-to-log-analytics", stack)] == [stack["kv"].urn]
    stack = build()
    stack["diag-st"] = dataclasses.replace(
        stack["diag-st"], props={"resourceUri": "/s/st/blobServices/default", "storageAccountId": "/s/archive"}
    )
    assert [u for _, u in run("diagnostics-to-log-analytics", stack)] == [stack["st"].urn]


@pytest.mark.parametrize("stack_name", ["prod", "production", "prod-weu"])
def test_unprotected_stateful_resource_in_production(stack_name: str) -> None:
    stack = build(stack_name)
    stack["kv"] = dataclasses.replace(stack["kv"], protect=False)
    assert [u for _, u in run("stateful-resources-protected-in-production", stack)] == [stack["kv"].urn]


def test_protection_not_required_outside_production_and_configurable() -> None:
    stack = {k: dataclasses.replace(v, protect=False) for k, v in build("dev").items()}
    assert run("stateful-resources-protected-in-production", stack) == []
    assert len(run("stateful-resources-protected-in-production", stack, {"productionStacks": ["dev"]})) == 3


def test_public_ip_only_for_nat_gateway() -> None:
    stack = build()
    del stack["nat"]
    assert [u for _, u in run("public-ip-only-for-nat-gateway", stack)] == [stack["pip-nat"].urn]
    assert run("public-ip-only-for-nat-gateway", stack, {"allowedPublicIpNames": ["pip-*"]}) == []


def test_stack_name_comes_from_the_urn() -> None:
    assert build("prod-weu")["st"].stack == "prod-weu"
