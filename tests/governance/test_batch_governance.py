"""BatchGovernance under Pulumi's mock engine: what the engine receives for each definition and assignment, after a
program wired like the stack ran (tests/governance/fixtures/governance_program)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components import batch_pool_policies as pp
from components.batch_governance import BatchGovernance, BatchGovernanceArgs
from offline.harness import ProgramRun, run_program
from offline.mocks import SUBSCRIPTION_ID
from policy.coa_policies.azure_policy import Evaluator

PROGRAM = Path(__file__).resolve().parent / "fixtures" / "governance_program"
DEFINITION = "azure-native:authorization:PolicyDefinition"
ASSIGNMENT = "azure-native:authorization:PolicyAssignment"


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return run_program(PROGRAM, "test")


def _by_name(run: ProgramRun, token: str) -> dict[str, Any]:
    return {r.name: r for r in run.of_type(token)}


def _parameters(record: Any) -> dict[str, Any]:
    return {key: value["value"] for key, value in record.inputs["parameters"].items()}


def test_one_custom_definition_per_pool_policy_in_the_subscription(run: ProgramRun) -> None:
    definitions = _by_name(run, DEFINITION)
    assert sorted(definitions) == sorted(f"coa-test-batch-governance-{p.key}-def" for p in pp.POOL_POLICIES)
    for policy in pp.POOL_POLICIES:
        record = definitions[f"coa-test-batch-governance-{policy.key}-def"]
        assert record.inputs["policyDefinitionName"] == f"coa-test-{policy.key}"
        assert record.inputs["mode"] == "All" and record.inputs["policyType"] == "Custom"
        assert record.inputs["policyRule"] == policy.policy_rule
        assert set(record.inputs["parameters"]) == set(policy.all_parameters)
        assert record.id == (
            f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/policyDefinitions/coa-test-{policy.key}"
        )


def test_assignments_deny_on_the_batch_account_with_the_stack_subnet(run: ProgramRun) -> None:
    account = run.of_type("azure-native:batch:BatchAccount")[0]
    subnet = run.of_type("azure-native:network:Subnet")[0]
    definitions = _by_name(run, DEFINITION)
    assignments = _by_name(run, ASSIGNMENT)
    for policy in pp.POOL_POLICIES:
        record = assignments[f"coa-test-batch-governance-{policy.key}"]
        assert record.inputs["scope"] == account.id
        assert record.inputs["policyDefinitionId"] == definitions[f"coa-test-batch-governance-{policy.key}-def"].id
        assert record.inputs["enforcementMode"] == "Default"
        parameters = _parameters(record)
        assert parameters["effect"] == "Deny"
        if "allowedSubnetIds" in policy.parameters:
            assert parameters["allowedSubnetIds"] == [subnet.id]
        if "retiredNodeAgentSkuIds" in policy.parameters:
            assert "batch.node.ubuntu 20.04" in parameters["retiredNodeAgentSkuIds"]
            assert "batch.node.ubuntu 22.04" not in parameters["retiredNodeAgentSkuIds"]


def test_the_registered_definitions_deny_a_public_pool_in_the_stack_subnet(run: ProgramRun) -> None:
    # What Azure would evaluate: the rule and parameters exactly as registered, against a pool in the stack's subnet
    # that asks for public IPs.
    subnet = run.of_type("azure-native:network:Subnet")[0].id
    pool = {
        "type": pp.POOL_TYPE,
        "name": "TES-x",
        "properties": {
            "deploymentConfiguration": {"virtualMachineConfiguration": {"nodeAgentSkuId": "batch.node.ubuntu 22.04"}},
            "targetNodeCommunicationMode": "Simplified",
            "networkConfiguration": {"subnetId": subnet, "publicIPAddressConfiguration": {"provision": "BatchManaged"}},
        },
    }
    definitions = _by_name(run, DEFINITION)
    assignments = _by_name(run, ASSIGNMENT)
    evaluator = Evaluator(pp.ALIASES)
    verdicts = {}
    for policy in pp.POOL_POLICIES:
        registered = definitions[f"coa-test-batch-governance-{policy.key}-def"].inputs
        definition = {"parameters": registered["parameters"], "policyRule": registered["policyRule"]}
        assigned = _parameters(assignments[f"coa-test-batch-governance-{policy.key}"])
        verdicts[policy.key] = evaluator.effect(definition, pool, assigned)
    assert verdicts == {
        "batch-pool-no-public-ip": "Deny",
        "batch-pool-in-batch-subnet": None,
        "batch-pool-supported-node-agent": None,
        "batch-pool-simplified-communication": None,
    }


def test_the_built_in_disk_encryption_definition_is_audited(run: ProgramRun) -> None:
    record = _by_name(run, ASSIGNMENT)["coa-test-batch-governance-batch-pool-disk-encryption"]
    assert record.inputs["policyDefinitionId"] == pp.DISK_ENCRYPTION_DEFINITION
    assert _parameters(record) == {"effect": "Audit"}
    assert record.inputs["scope"] == run.of_type("azure-native:batch:BatchAccount")[0].id


def test_everything_is_a_child_of_the_component(run: ProgramRun) -> None:
    component = next(r for r in run.resources if r.type == "coa:security:BatchGovernance")
    children = [r for r in run.resources if r.parent == component.urn]
    assert len(children) == 2 * len(pp.POOL_POLICIES) + 1


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"effect": "Block"}, "effect='Block'"),
        ({"disk_encryption_effect": "Modify"}, "disk_encryption_effect='Modify'"),
        ({"batch_subnet_ids": []}, "batch_subnet_ids is empty"),
        ({"name_prefix": "x" * 40}, "longer than 64"),
        (
            {"effect_overrides": {"batch-pool-no-public-ip": "Allow"}},
            "effect_overrides\\['batch-pool-no-public-ip'\\]='Allow'",
        ),
        ({"effect_overrides": {"batch-pool-typo": "Audit"}}, "names no pool policy: \\['batch-pool-typo'\\]"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_created(change: dict[str, Any], complaint: str) -> None:
    arguments: dict[str, Any] = {
        "batch_account_id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Batch/batchAccounts/a",
        "batch_subnet_ids": [
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/b"
        ],
        "retired_node_agents": ["batch.node.ubuntu 20.04"],
        "name_prefix": "coa-dev",
        **change,
    }
    with pytest.raises(ValueError, match=complaint):
        BatchGovernance("g", BatchGovernanceArgs(**arguments))
