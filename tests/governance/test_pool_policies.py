"""The Batch pool definitions against the pool TES 6.0.0 really sends: the compliant pool passes every definition, and
each single change that breaks a guarantee is denied by the definition that owns it (and only by it)."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components import batch_pool_policies as pp
from configuration import retirement_calendar
from policy.coa_policies.azure_policy import Evaluator

DATA = Path(__file__).resolve().parent / "data"
POOL: dict[str, Any] = json.loads((DATA / "tes_6_0_0_pool.json").read_text())["pool"]
SUBNET = POOL["properties"]["networkConfiguration"]["subnetId"]
TODAY = datetime.date(2026, 12, 6)
RETIRED = retirement_calendar.retired(retirement_calendar.load(), "batch-node-agent", TODAY)
EVALUATOR = Evaluator(pp.ALIASES)


def _verdicts(pool: dict[str, Any], *, effect: str = "Deny") -> dict[str, str | None]:
    return {
        policy.key: EVALUATOR.effect(
            policy.definition(),
            pool,
            pp.assignment_parameters(policy, effect=effect, subnet_ids=[SUBNET], retired_node_agents=RETIRED),
        )
        for policy in pp.POOL_POLICIES
    }


def _changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    pool = copy.deepcopy(POOL)
    change(pool["properties"])
    return pool


def test_the_pool_tes_sends_passes_every_definition() -> None:
    assert _verdicts(POOL) == dict.fromkeys((p.key for p in pp.POOL_POLICIES), None)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(properties: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = properties
        for part in parents:
            node = node[part]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value

    return change


VIOLATIONS = {
    # BatchNodes:DisablePublicIpAddress false: TES asks for BatchManaged public IPs (BatchScheduler.cs:1337).
    "public-ip-batch-managed": (
        _set("networkConfiguration.publicIPAddressConfiguration.provision", "BatchManaged"),
        {"batch-pool-no-public-ip"},
    ),
    "public-ip-user-managed": (
        _set("networkConfiguration.publicIPAddressConfiguration.provision", "UserManaged"),
        {"batch-pool-no-public-ip"},
    ),
    # Unset: Batch's default is BatchManaged.
    "public-ip-config-missing": (
        _set("networkConfiguration.publicIPAddressConfiguration", None),
        {"batch-pool-no-public-ip"},
    ),
    "subnet-other": (
        _set("networkConfiguration.subnetId", SUBNET.replace("/subnets/snet-batch", "/subnets/snet-aks")),
        {"batch-pool-in-batch-subnet"},
    ),
    # BatchNodes:SubnetId empty: TES sends no network configuration at all (BatchScheduler.cs:1333).
    "no-network-configuration": (
        _set("networkConfiguration", None),
        {"batch-pool-in-batch-subnet", "batch-pool-no-public-ip"},
    ),
    # TES 6.0.0's own default images (appsettings.json) run the 20.04 agent.
    "retired-agent-ubuntu-20.04": (
        _set("deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId", "batch.node.ubuntu 20.04"),
        {"batch-pool-supported-node-agent"},
    ),
    "retired-agent-centos-7": (
        _set("deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId", "batch.node.centos 7"),
        {"batch-pool-supported-node-agent"},
    ),
    "no-vm-configuration": (_set("deploymentConfiguration", None), {"batch-pool-supported-node-agent"}),
    "classic-communication": (_set("targetNodeCommunicationMode", "Classic"), {"batch-pool-simplified-communication"}),
    "default-communication": (_set("targetNodeCommunicationMode", "Default"), {"batch-pool-simplified-communication"}),
    "communication-unset": (_set("targetNodeCommunicationMode", None), {"batch-pool-simplified-communication"}),
}


@pytest.mark.parametrize("violation", sorted(VIOLATIONS))
def test_each_violation_is_denied_by_its_definition(violation: str) -> None:
    change, deniers = VIOLATIONS[violation]
    verdicts = _verdicts(_changed(change))
    assert {key for key, effect in verdicts.items() if effect == "Deny"} == deniers, verdicts


def test_comparisons_ignore_case_as_azure_does() -> None:
    # Azure compares strings with InvariantCultureIgnoreCase; ARM ids come back in any case.
    pool = _changed(_set("networkConfiguration.subnetId", SUBNET.upper()))
    pool["properties"]["targetNodeCommunicationMode"] = "simplified"
    pool["properties"]["networkConfiguration"]["publicIPAddressConfiguration"]["provision"] = "nopublicipaddresses"
    assert set(_verdicts(pool).values()) == {None}


def test_audit_reports_what_deny_would_refuse() -> None:
    verdicts = _verdicts(_changed(_set("targetNodeCommunicationMode", "Classic")), effect="Audit")
    assert verdicts["batch-pool-simplified-communication"] == "Audit"


def test_only_pools_are_judged() -> None:
    account = {"type": "Microsoft.Batch/batchAccounts", "name": "bacoaprodp4m9", "properties": {}}
    assert set(_verdicts(account).values()) == {None}


def test_ubuntu_22_04_is_denied_once_batch_retires_it() -> None:
    # Azure/Batch#200: Batch removes the 22.04 agent after 2027-06-30; the stack's own pools then need 24.04.
    calendar = retirement_calendar.load()
    before = retirement_calendar.retired(calendar, "batch-node-agent", datetime.date(2027, 6, 30))
    after = retirement_calendar.retired(calendar, "batch-node-agent", datetime.date(2027, 7, 1))
    policy = pp.SUPPORTED_NODE_AGENT
    verdict = {
        day: EVALUATOR.effect(
            policy.definition(),
            POOL,
            pp.assignment_parameters(policy, effect="Deny", subnet_ids=[SUBNET], retired_node_agents=agents),
        )
        for day, agents in (("before", before), ("after", after))
    }
    assert verdict == {"before": None, "after": "Deny"}


def test_every_agent_batch_has_retired_is_denied_today() -> None:
    # The lead's list and Azure/Batch#180's unsupported agents, all past their date on TODAY.
    expected = {
        "batch.node.ubuntu 20.04",
        "batch.node.ubuntu 18.04",
        "batch.node.ubuntu 16.04",
        "batch.node.ubuntu 14.04",
        "batch.node.centos 7",
        "batch.node.centos 8",
        "batch.node.debian 8",
        "batch.node.debian 9",
        "batch.node.debian 10",
    }
    assert set(RETIRED) == expected


def test_the_config_parser_refuses_no_agent_the_policy_allows() -> None:
    # configuration/batch.py refuses these agents at parse time; the policy must deny at least as much.
    from configuration.batch import RETIRED_NODE_AGENTS

    assert set(RETIRED_NODE_AGENTS) <= set(RETIRED)


def test_definitions_use_only_aliases_azure_lists() -> None:
    listed = {alias.split("/", 3)[3] for alias in pp.ALIASES}
    used: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("field"), str) and node["field"].startswith(pp.POOL_TYPE + "/"):
                used.add(node["field"][len(pp.POOL_TYPE) + 1 :])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for policy in pp.POOL_POLICIES:
        walk(policy.policy_rule)
        definition = policy.definition()
        assert definition["mode"] == "All", policy.key
        assert definition["parameters"]["effect"]["defaultValue"] == "Deny", policy.key
    assert used == listed


def test_an_unknown_effect_is_refused() -> None:
    with pytest.raises(ValueError, match="effect='Block'"):
        pp.assignment_parameters(pp.NO_PUBLIC_IP, effect="Block", subnet_ids=[SUBNET], retired_node_agents=RETIRED)
