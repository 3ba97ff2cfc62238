"""Legitimate configurations the pack must not refuse (found by the 2026-12-06 adversarial review), each next to the
change that still fails, so the fix is not a hole."""

from __future__ import annotations

import dataclasses

from stack_edits import added, dropped, edited, one

from offline.analyzer import PolicyPackAnalyzer
from offline.harness import ProgramRun

LOCK_RULE = "stateful-resources-locked-in-production"
GROUP_LOCK = "azure-native:authorization:ManagementLockAtResourceGroupLevel"


def _violations(pack: PolicyPackAnalyzer, records: list, rule: str) -> list[str]:
    return [v.message for v in pack.analyze(records) if v.policy_name == rule]


def test_one_delete_lock_on_the_stacks_resource_group_covers_its_data(
    prod_pack: PolicyPackAnalyzer, prod: ProgramRun
) -> None:
    """A landing zone often locks the whole group instead of each resource: that is at least as strong."""
    group = one(prod.resources, "azure-native:resources:ResourceGroup")
    unlocked = dropped(prod.resources, lambda r: r.type.endswith(":ManagementLockByScope"))
    assert len(_violations(prod_pack, unlocked, LOCK_RULE)) == 4  # storage, vault, PostgreSQL, workspace
    group_name = group.inputs.get("resourceGroupName") or group.outputs["name"]
    lock = {"lockName": "rg-no-delete", "level": "CanNotDelete", "resourceGroupName": group_name}
    assert _violations(prod_pack, added(unlocked, GROUP_LOCK, "rg-no-delete", lock), LOCK_RULE) == []
    # A lock on another group, or one that only reads, does not count.
    elsewhere = added(unlocked, GROUP_LOCK, "rg-no-delete", {**lock, "resourceGroupName": "some-other-rg"})
    assert len(_violations(prod_pack, elsewhere, LOCK_RULE)) == 4
    notes_only = added(unlocked, GROUP_LOCK, "rg-no-delete", {**lock, "level": "NotSpecified"})
    assert len(_violations(prod_pack, notes_only, LOCK_RULE)) == 4


GOVERNED = "batch-runtime-pools-governed"
ASSIGNMENT = "azure-native:authorization:PolicyAssignment"


def test_pool_denies_assigned_at_the_resource_group_count(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    """A landing zone assigns at the resource group, which holds the Batch account: that governs its pools too."""
    group = one(dev.resources, "azure-native:resources:ResourceGroup")
    pool_assignments = [r for r in dev.resources if r.type == ASSIGNMENT and "batch-governance" in r.name]
    assert len(pool_assignments) >= 4

    def rescoped(scope: str, depends_on: tuple[str, ...]) -> list:
        records = list(dev.resources)
        for assignment in pool_assignments:
            records = edited(records, assignment, {"scope": scope})
            records = [
                dataclasses.replace(r, property_dependencies={**r.property_dependencies, "scope": depends_on})
                if r.urn == assignment.urn
                else r
                for r in records
            ]
        return records

    # Declared in the stack at the group the account lives in: the scope comes from that group.
    assert _violations(dev_pack, rescoped(group.id, (group.urn,)), GOVERNED) == []
    # Another group's assignments do not govern this account, nor does a group of the same name in another
    # subscription, whatever its name.
    other_group = group.id.rsplit("/", 1)[0] + "/some-other-rg"
    assert len(_violations(dev_pack, rescoped(other_group, ()), GOVERNED)) == 4
    other_subscription = (
        "/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/" + group.id.rsplit("/", 1)[1]
    )
    assert len(_violations(dev_pack, rescoped(other_subscription, ()), GOVERNED)) == 4
