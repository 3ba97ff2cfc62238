"""`batch-runtime-pools-governed` on hand-built stacks other than ours: how a definition is written does not matter,
what it denies when run against probe pools does (the threat tests change our own stacks: test_threats_controls.py)."""

from __future__ import annotations

from typing import Any

from policy.coa_policies import all_policies
from policy.coa_policies._core import UNKNOWN, StackResource

RULE = next(p for p in all_policies() if p.name == "batch-runtime-pools-governed")
GROUP = "/subscriptions/s/resourceGroups/rg"
ACCOUNT_ID = f"{GROUP}/providers/Microsoft.Batch/batchAccounts/ba"
SUBNET_ID = f"{GROUP}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pools"
POOLS = "Microsoft.Batch/batchAccounts/pools"
RETIRED = ["batch.node.ubuntu 20.04", "batch.node.centos 7"]

# One definition for all four guarantees, written the way a platform team might: a single anyOf, effect fixed.
ONE_RULE_FOR_ALL = {
    "if": {
        "allOf": [
            {"field": "type", "equals": POOLS},
            {
                "anyOf": [
                    {"not": {"field": f"{POOLS}/networkConfiguration.publicIPAddressConfiguration.provision", "equals": "NoPublicIPAddresses"}},
                    {"not": {"field": f"{POOLS}/networkConfiguration.subnetId", "in": "[parameters('subnets')]"}},
                    {"field": f"{POOLS}/deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId", "in": "[parameters('retired')]"},
                    {"field": f"{POOLS}/deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId", "exists": "false"},
                    {"not": {"field": f"{POOLS}/targetNodeCommunicationMode", "equals": "Simplified"}},
                ]
            },
        ]
    },
    "then": {"effect": "deny"},
}  # fmt: skip


def resource(kind: str, name: str, props: dict[str, Any], deps: dict[str, list[str]] | None = None) -> StackResource:
    pd = {k: frozenset(v) for k, v in (deps or {}).items()}
    return StackResource(
        type=f"azure-native:{kind}",
        urn=f"urn:pulumi:prod::lab::azure-native:{kind}::{name}",
        name=name,
        props=props,
        dependencies=frozenset().union(*pd.values()) if pd else frozenset(),
        property_dependencies=pd,
    )


def stack(
    rule: dict[str, Any] = ONE_RULE_FOR_ALL, subnets: Any = (SUBNET_ID,), **assignment: Any
) -> list[StackResource]:
    account = resource("batch:BatchAccount", "ba", {"id": ACCOUNT_ID})
    subnet = resource("network:Subnet", "pools", {"name": "pools", "virtualNetworkName": "vnet"})
    definition = resource("authorization:PolicyDefinition", "pools-def", {"mode": "All", "policyRule": rule})
    parameters = {"subnets": {"value": subnets if subnets is UNKNOWN else list(subnets)}, "retired": {"value": RETIRED}}
    # Assigned on the resource group, by id: it covers the account below it.
    governs = resource(
        "authorization:PolicyAssignment",
        "pools",
        {"scope": GROUP, "parameters": parameters, **assignment},
        {"policyDefinitionId": [definition.urn]},
    )
    return [account, subnet, definition, governs]


def findings(resources: list[StackResource]) -> list[str]:
    return [message for message, _ in RULE.evaluate(resources, {"retiredNodeAgents": RETIRED})]


def test_one_combined_definition_on_the_resource_group_governs_the_account() -> None:
    assert findings(stack()) == []


def test_parameters_still_computed_are_judged_at_update() -> None:
    assert findings(stack(subnets=UNKNOWN)) == []


def test_notscopes_that_exclude_the_account_leave_every_guarantee_open() -> None:
    found = findings(stack(notScopes=[ACCOUNT_ID]))
    assert len(found) == 4 and all("notScopes" in m for m in found)


def test_a_definition_outside_the_modelled_language_does_not_count() -> None:
    counted = {"if": {"count": {"field": f"{POOLS}/applicationPackages[*]"}, "greater": 0}, "then": {"effect": "deny"}}
    assert len(findings(stack(rule=counted))) == 4


def test_an_assignment_of_a_definition_the_stack_does_not_declare_does_not_count() -> None:
    account, subnet, *_ = stack()
    builtin = resource(
        "authorization:PolicyAssignment",
        "builtin",
        {"scope": ACCOUNT_ID, "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/unknown"},
    )
    assert len(findings([account, subnet, builtin])) == 4


def test_no_batch_account_is_not_applicable() -> None:
    assert RULE.judge(stack()[1:], {}) is None
