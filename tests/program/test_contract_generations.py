"""Invariants that hold for every generation's runtime contracts (TES 6.0.0 and the reduced-assurance CoA 3.2.0): how a
pod authenticates agrees with the credential setting it is given, secrets come from Key Vault files, and a Cosmos DB
client in direct mode has the port range it needs."""

from __future__ import annotations

import re

import pytest

from components.contracts import GENERATIONS, Contract, ContractError, Egress, all_contracts, contracts_for
from components.contracts.tes_3_2_0 import TES_3_2_0
from components.contracts.triggerservice_3_2_0 import TRIGGERSERVICE_3_2_0

CONTRACTS = {f"{c.workload}@{c.version}": c for g in GENERATIONS for c in contracts_for(g)}
CREDENTIAL = "AzureServicesAuthConnectionString"


def _credential_shape(contract: Contract) -> str | None:
    return next((s.shape for s in contract.settings if s.name == CREDENTIAL), None)


@pytest.mark.parametrize("label", sorted(CONTRACTS))
def test_pod_identity_agrees_with_the_credential_setting(label: str) -> None:
    contract = CONTRACTS[label]
    shape = _credential_shape(contract)
    if shape is None:
        # Cromwell authenticates through its own SDK, with the workload identity.
        assert contract.pod_identity == "workload", label
        return
    if contract.pod_identity == "workload":
        assert shape.startswith("RunAs=Workload"), f"{label}: a workload identity needs RunAs=Workload, got {shape}"
    else:
        # An application credential carries a client secret: only from a Key Vault file, never a plain value.
        assert re.fullmatch(r"<from /mnt/secrets-store/[a-z0-9-]+>", shape), f"{label}: {shape}"


@pytest.mark.parametrize("label", sorted(k for k, c in CONTRACTS.items() if c.pod_identity == "application"))
def test_an_application_credential_is_read_from_key_vault(label: str) -> None:
    contract = CONTRACTS[label]
    assert any(
        a.scope == "key-vault" and a.via == "secrets-csi" and a.principal == "pod" for a in contract.azure_actions
    ), f"{label}: no Key Vault read through the CSI driver"
    assert any(m.path == "/mnt/secrets-store" and m.read_only for m in contract.mounts), label


@pytest.mark.parametrize("label", sorted(CONTRACTS))
def test_a_cosmos_client_in_direct_mode_has_its_port_range(label: str) -> None:
    contract = CONTRACTS[label]
    opens_cosmos = any("CosmosClient" in e.quote for e in contract.egress)
    ranges = [e for e in contract.egress if e.end_port is not None]
    if not opens_cosmos:
        assert not ranges, f"{label}: a port range without a Cosmos DB client"
        return
    assert [(e.to, e.port, e.end_port) for e in ranges] == [("private-endpoints", 1, 65535)], label


def test_reduced_assurance_generation_needs_keys_where_tes_6_needs_none() -> None:
    def key_actions(contract: Contract) -> set[tuple[str, str]]:
        return {(a.action, a.scope) for a in contract.azure_actions if a.action.endswith("/listKeys/action")}

    assert key_actions(CONTRACTS["tes@6.0.0"]) == set()
    assert key_actions(TES_3_2_0) == {
        ("Microsoft.Storage/storageAccounts/listKeys/action", "storage-account"),
        ("Microsoft.Storage/storageAccounts/listKeys/action", "data-account"),
        ("Microsoft.DocumentDB/databaseAccounts/listKeys/action", "cosmos-account"),
    }
    assert key_actions(TRIGGERSERVICE_3_2_0) == {
        ("Microsoft.Storage/storageAccounts/listKeys/action", "storage-account"),
        ("Microsoft.DocumentDB/databaseAccounts/listKeys/action", "cosmos-account"),
    }


@pytest.mark.parametrize(("port", "end_port"), [(0, None), (443, 443), (443, 80), (1, 65536)])
def test_an_egress_port_range_must_be_real(port: int, end_port: int | None) -> None:
    source = "microsoft/CromwellOnAzure@3.2.0:src/Tes/Repository/CosmosDbRepository.cs:37"
    with pytest.raises(ContractError, match=re.escape(source)):
        Egress(
            to="private-endpoints",
            port=port,
            end_port=end_port,
            why="test",
            source=source,
            quote="this.cosmosClient = new CosmosClient(endpoint, key);",
        )


def test_each_generation_runs_cromwell_with_its_own_tes_and_triggerservice() -> None:
    # By value (a program run in the same session may have imported the contract modules afresh).
    assert repr(all_contracts()) == repr(contracts_for("tes6"))
    assert [f"{c.workload}@{c.version}" for c in contracts_for("tes32")] == [
        "cromwell@87",
        "tes@3.2.0",
        "triggerservice@3.2.0",
    ]
    assert repr(contracts_for("tes32")[1:]) == repr((TES_3_2_0, TRIGGERSERVICE_3_2_0))
    with pytest.raises(ContractError, match="generation 'tes5'"):
        contracts_for("tes5")


def test_shared_keys_switch_on_cromwells_blob_filesystem_only_with_tes6() -> None:
    """TES 3.2 needs shared keys, but accepts only /cromwell-executions/ paths: Cromwell stays on the mount."""
    from components.contracts.derive import stack_conditions

    assert stack_conditions(generation="tes6", shared_key_access=True, image_scanner=False) == {"sharedKeyAccess"}
    assert stack_conditions(generation="tes32", shared_key_access=True, image_scanner=True) == {"imageScanner"}


def test_a_port_range_reaches_the_chart_as_end_port_and_a_single_port_as_before() -> None:
    from components.contracts import derive

    rules = {(r.to, r.port): r.values() for r in derive.pod_egress(TES_3_2_0)}
    assert rules[("private-endpoints", 1)] == {
        "to": "private-endpoints",
        "port": 1,
        "protocol": "TCP",
        "endPort": 65535,
    }
    assert rules[("private-endpoints", 443)] == {"to": "private-endpoints", "port": 443, "protocol": "TCP"}


def test_pods_of_an_application_generation_act_as_their_application_except_through_the_csi_driver() -> None:
    from components.contracts import derive

    identities = {(a.via, a.principal, derive.identity_of(TES_3_2_0, a)) for a in TES_3_2_0.azure_actions}
    assert ("sdk", "pod", "tes-app") in identities
    assert ("secrets-csi", "pod", "workload") in identities
    assert ("start-task", "batch-node", "workload") in identities
    assert {derive.identity_of(c, a) for c in all_contracts() for a in c.azure_actions} == {"workload", "kubelet"}
