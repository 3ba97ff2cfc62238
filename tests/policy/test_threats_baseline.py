"""The unchanged stacks pass: every rule of the threat model is silent on dev (its policy config) and prod (prod.json),
so each adversarial test's finding comes from its change alone. Not even an advisory finding remains."""

from __future__ import annotations

from offline.analyzer import PolicyPackAnalyzer
from offline.harness import ProgramRun


def test_dev_passes_every_rule(dev_pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    assert [(v.policy_name, v.urn, v.message) for v in dev_pack.analyze(dev.resources)] == []


def test_prod_passes_every_rule(prod_pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    assert [(v.policy_name, v.urn, v.message) for v in prod_pack.analyze(prod.resources)] == []


def test_dev_with_customer_managed_keys_passes_every_rule(dev_pack: PolicyPackAnalyzer, dev_cmk: ProgramRun) -> None:
    """dev's pack config (no customerManagedKeys) with the program's encryption tag: every key rule judges and is
    silent, so the encryption threat rows' findings come from their changes alone."""
    assert [(v.policy_name, v.urn, v.message) for v in dev_pack.analyze(dev_cmk.resources)] == []
