"""aks-kubernetes-version-supported: the pack judges any stack's cluster against the AKS end-of-life calendar it carries
(the same dates as retirement.yaml, which the program's config and `make retirement` read)."""

from __future__ import annotations

from configuration import retirement_calendar as rc
from policy.coa_policies import all_policies
from policy.coa_policies.aks import AKS_END_OF_LIFE

RULE = {p.name: p for p in all_policies()}["aks-kubernetes-version-supported"]
CLUSTER = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
FAR = "2999-12-31"
PAST = "2000-01-31"


def test_the_packs_calendar_is_retirement_yaml() -> None:
    """The pack cannot read the repository's calendar (it runs wherever a stack runs); a test keeps the two equal."""
    rows = {e.value: e.ends.isoformat() for e in rc.load() if e.kind == "kubernetes" and e.ends}
    assert AKS_END_OF_LIFE == rows


def test_a_minor_before_its_end_passes_and_after_it_fails_naming_the_day_and_the_supported_ones() -> None:
    calendar = {"1.35": PAST, "1.36": FAR, "1.37": FAR}
    assert RULE.evaluate({"kubernetesVersion": "1.36.2"}, type=CLUSTER, config={"endOfLife": calendar}) == []
    (message,) = RULE.evaluate({"kubernetesVersion": "1.35"}, type=CLUSTER, config={"endOfLife": calendar})
    assert "kubernetesVersion '1.35': AKS 1.35 reached end of life on 2000-01-31" in message
    assert "supported minor (1.36, 1.37)" in message


def test_a_node_pool_lagging_its_control_plane_is_judged_too() -> None:
    calendar = {"1.35": PAST, "1.36": FAR}
    cluster = {
        "kubernetesVersion": "1.36",
        "agentPoolProfiles": [
            {"name": "system", "orchestratorVersion": "1.36"},
            {"name": "user", "orchestratorVersion": "1.35.9"},
        ],
    }
    (message,) = RULE.evaluate(cluster, type=CLUSTER, config={"endOfLife": calendar})
    assert message.startswith("agent pool 'user' orchestratorVersion '1.35.9'")
    (message,) = RULE.evaluate({"orchestratorVersion": "1.35.9"}, type=POOL, config={"endOfLife": calendar})
    assert "orchestratorVersion '1.35.9'" in message


def test_older_than_the_calendar_fails_and_unset_or_newer_passes() -> None:
    calendar = {"1.35": FAR, "1.36": FAR}
    assert (
        "older than every minor AKS supports"
        in RULE.evaluate({"kubernetesVersion": "1.29.7"}, type=CLUSTER, config={"endOfLife": calendar})[0]
    )
    # Unset: AKS picks its default. Newer than the calendar: not yet dated, not judged.
    assert RULE.evaluate({}, type=CLUSTER, config={"endOfLife": calendar}) == []
    assert RULE.evaluate({"kubernetesVersion": "1.40"}, type=CLUSTER, config={"endOfLife": calendar}) == []


def test_the_default_calendar_already_refuses_1_34() -> None:
    """AKS 1.34 ended 2026-11-30, before this rule was written: a stack on it fails with the pack's own dates."""
    (message,) = RULE.evaluate({"kubernetesVersion": "1.34.3"}, type=CLUSTER)
    assert "reached end of life on 2026-11-30" in message
