"""The runtime contracts are the source: the stack's containers, role grants and NetworkPolicy egress are derived from
them (components/contracts/derive.py), so what a contract says and what the stack builds cannot drift. Each test
checks the equality on a real stack, and that removing a contract entry removes what it caused."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from stackquery import SCOPE_RESOURCES, one, run_variant, stack_values

from components.access import ROLES
from components.contracts import Contract, all_contracts, derive
from components.contracts.cromwell_87 import CROMWELL_87
from components.contracts.tes_6_0_0 import TES_6_0_0
from components.contracts.triggerservice_6_0_0 import TRIGGERSERVICE_6_0_0
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
RA = "azure-native:authorization:RoleAssignment"


def _assignments(run: ProgramRun) -> set[tuple[str, str, str]]:
    """(identity, scope kind, role) of every assignment the stack makes on its own resources."""
    principals = {
        one(run, "azure-native:managedidentity:UserAssignedIdentity", part).outputs["principalId"]: identity
        for identity, part in (("workload", "coa-workload"), ("kubelet", "aks-kubelet"))
    }
    scopes = {one(run, token, part).id: kind for kind, (token, part) in SCOPE_RESOURCES.items() if run.of_type(token)}
    roles = {guid: name for name, guid in ROLES.items()}
    return {
        (
            principals[ra.inputs["principalId"]],
            scopes[ra.inputs["scope"]],
            roles[ra.inputs["roleDefinitionId"].rsplit("/", 1)[-1]],
        )
        for ra in run.of_type(RA)
        if ra.inputs["scope"] in scopes
    }


def _derived(conditions: set[str] = set()) -> set[tuple[str, str, str]]:  # noqa: B006  # read only
    return {(g.identity, g.scope, g.role) for g in derive.grants(conditions=conditions) if g.scope != "data-account"}


def test_the_stack_grants_exactly_what_the_contracts_need(stack: ProgramRun) -> None:
    assert _assignments(stack) == _derived()
    # The least privilege holds: nothing on a resource group or subscription, no Owner or Contributor.
    assert not {role for _, _, role in _assignments(stack)} & {"Owner", "Contributor", "User Access Administrator"}


def test_each_grant_names_the_contract_entries_that_need_it(stack: ProgramRun) -> None:
    descriptions = {ra.inputs["description"] for ra in stack.of_type(RA)}
    tes_pool_write = next(d for d in descriptions if "tes:pod:pools/write" in d)
    assert tes_pool_write.startswith("CoA workload:")
    assert any("tes:batch-node:registries/pull" in d or "tes:batch-node:pull/read" in d for d in descriptions)


def _without(contract: Contract, **kinds: Any) -> list[Contract]:
    """The contracts with one workload's entries of a kind filtered."""
    changed = dataclasses.replace(contract, **kinds)
    return [changed if c.workload == contract.workload else c for c in all_contracts()]


def test_a_removed_contract_entry_removes_its_grant() -> None:
    """Only TES's pool writes need Azure Batch Data Contributor: without them the grant goes."""
    batch_writes = tuple(a for a in TES_6_0_0.azure_actions if "/pools/" in a.action or "/jobs/" in a.action)
    assert batch_writes
    kept = tuple(a for a in TES_6_0_0.azure_actions if a not in batch_writes)
    contracts = _without(TES_6_0_0, azure_actions=kept)
    before = {(g.scope, g.role) for g in derive.grants(all_contracts())}
    after = {(g.scope, g.role) for g in derive.grants(contracts)}
    assert before - after == {("batch-account", "Azure Batch Data Contributor")}


def test_the_stack_creates_exactly_the_containers_the_contracts_need(stack: ProgramRun) -> None:
    created = {c.inputs["containerName"] for c in stack.of_type("azure-native:storage:BlobContainer")}
    assert created == set(derive.containers())
    # TriggerService is the only workload that needs `workflows`: without it, the container goes.
    kept = tuple(c for c in TRIGGERSERVICE_6_0_0.containers if c.name != "workflows")
    assert "workflows" not in derive.containers(_without(TRIGGERSERVICE_6_0_0, containers=kept))


def test_each_workloads_network_policy_egress_is_its_contract(stack: ProgramRun) -> None:
    values = one(stack, "kubernetes:helm.sh/v3:Release").inputs["values"]
    for contract in all_contracts():
        rendered = values["networkPolicy"]["egress"][contract.workload]
        derived = [rule.values() for rule in derive.pod_egress(contract)]
        assert rendered == derived, contract.workload
    # Cromwell uses the blob CSI mounts: its contract opens neither Azure nor the private endpoints.
    assert {r["to"] for r in values["networkPolicy"]["egress"]["cromwell"]} == {"pod:tes", "postgres"}


def test_the_charts_default_egress_is_the_contracts() -> None:
    """A standalone install of the chart (its values.yaml) gets the same policies as a stack deploy."""
    defaults = yaml.safe_load((REPO / "charts/cromwell-on-azure/values.yaml").read_text())["networkPolicy"]["egress"]
    for contract in all_contracts():
        expected = [(r.to, r.port) for r in derive.pod_egress(contract)]
        assert [(r["to"], r["port"]) for r in defaults[contract.workload]] == expected, contract.workload


def test_a_removed_egress_entry_closes_its_rule() -> None:
    kept = tuple(e for e in TES_6_0_0.egress if e.to != "postgres")
    (tes,) = [c for c in _without(TES_6_0_0, egress=kept) if c.workload == "tes"]
    assert "postgres" in {r.to for r in derive.pod_egress(TES_6_0_0)}
    assert "postgres" not in {r.to for r in derive.pod_egress(tes)}


@pytest.fixture(scope="module")
def shared_keys(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    storage = {**stack_values("dev")["storage"], "allowSharedKeyAccess": True}
    return run_variant(tmp_path_factory.mktemp("sharedkey"), "dev", {"coa-lockdown:storage": storage})


def test_shared_keys_switch_on_cromwells_blob_filesystem_needs(shared_keys: ProgramRun) -> None:
    """Cromwell's blob filesystem lists the account's keys through ARM: its contract's sharedKeyAccess entries."""
    assert _assignments(shared_keys) == _derived({"sharedKeyAccess"})
    assert ("workload", "storage-account", "Reader and Data Access") in _assignments(shared_keys)
    egress = one(shared_keys, "kubernetes:helm.sh/v3:Release").inputs["values"]["networkPolicy"]["egress"]
    assert {r["to"] for r in egress["cromwell"]} == {"pod:tes", "postgres", "azure-public", "private-endpoints"}
    assert [r.values() for r in derive.pod_egress(CROMWELL_87, {"sharedKeyAccess"})] == egress["cromwell"]


def test_the_hub_firewall_allow_list_is_the_contracts(prod: ProgramRun) -> None:
    """The stack output the hub team applies, and the copy in docs/deploying.md, are both the derivation."""
    from offline.allowlist import markdown
    from offline.docs import markers

    start, end = markers("allowlist")

    exported = prod.outputs["firewallAllowList"]
    derived = derive.firewall_allow_list()
    assert [(r["destination"], r["port"], r["required"]) for r in exported] == [
        (r.destination, r.port, r.required) for r in derived
    ]
    deploying = (REPO / "docs" / "deploying.md").read_text()
    assert deploying.split(start, 1)[1].split(end, 1)[0].strip() == markdown(derived), "make readme"
    rows = {(r["destination"], r["port"]): r for r in exported}
    # TES stops at start without ARM's cloud metadata; Entra ID for every token; prices are optional.
    assert "tes (pod)" in rows[("management.azure.com", 443)]["consumers"]
    assert rows[("prices.azure.com", 443)]["required"] is False
    # Nothing the private endpoints serve is opened on the firewall.
    assert not [d for d, _ in rows if d.endswith((".blob.core.windows.net", ".vault.azure.net", ".azurecr.io"))]


def test_an_allow_list_row_goes_with_its_contract_entry() -> None:
    kept = tuple(e for e in TES_6_0_0.egress if "prices.azure.com" not in e.fqdns)
    destinations = {r.destination for r in derive.firewall_allow_list(_without(TES_6_0_0, egress=kept))}
    assert "prices.azure.com" in {r.destination for r in derive.firewall_allow_list()}
    assert "prices.azure.com" not in destinations
