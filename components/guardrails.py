"""Production guardrails: what a production stack refuses to run with, and the named overrides that let an operator
accept one of them on purpose. An override is recorded in the stack file with its reason and exported as the stack
output `guardrailOverrides`, so every preview shows it; nothing is relaxed silently.

A stack is production when its `environment` is `prod` or its name says so (`prod`, `production`, `*-prod`,
`prod-*`): a production-named stack with `environment: dev` is itself a guardrail breach. The definition is the
policy pack's (policy/coa_policies/production.py), so the program and the pack cannot disagree on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from components.config_reader import PROJECT, ConfigError
from policy.coa_policies import production as shared


@dataclass(frozen=True, kw_only=True)
class Guardrail:
    override: str
    key: str
    rule: str
    fix: str


GUARDRAILS: dict[str, Guardrail] = {
    g.override: g
    for g in (
        Guardrail(
            override="unprotectedState",
            key="protectStatefulResources",
            rule="production keeps protect and CanNotDelete locks on every data-bearing resource",
            fix="set protectStatefulResources: true and resourceLocks: true",
        ),
        Guardrail(
            override="sharedKeyAccess",
            key="storage.allowSharedKeyAccess",
            rule="production storage holds PHI and accepts Entra ID only",
            fix="set storage.allowSharedKeyAccess: false (cromwell.executionsRoot stays mount)",
        ),
        Guardrail(
            override="noClusterAdminGroups",
            key="kubernetes.adminGroupObjectIds",
            rule="a production cluster names the Entra ID groups that administer it",
            fix="list at least one group object id",
        ),
        Guardrail(
            override="nonProductionEnvironment",
            key="environment",
            rule="a production-named stack runs with environment: prod (protection, HA, firewall egress)",
            fix="set environment: prod",
        ),
        Guardrail(
            override="locallyRedundantStorage",
            key="storage.redundancy",
            rule="production data survives the loss of its region (GZRS or RAGZRS)",
            fix="set storage.redundancy: GZRS",
        ),
        Guardrail(
            override="unpinnedImages",
            key="images.lock.json",
            rule="production runs images pinned by digest (a re-pushed tag would change what runs)",
            fix="run scripts/pin_images.py (or scripts/build-images.sh) and commit the digests it records",
        ),
    )
}


def is_production(environment: str, stack: str | None) -> bool:
    return shared.is_production(environment, stack)


def check(breaches: Mapping[str, object], overrides: Mapping[str, str], production: bool) -> list[ConfigError]:
    """One error per breached guardrail that no override accepts. `breaches` maps override names to the offending
    value; `overrides` is the stack's guardrailOverrides (name -> reason)."""
    errors = []
    # An override of something not breached is a standing pre-approval: the day the breach happens it would pass
    # unseen. Refused everywhere, so no stack carries one.
    for name in sorted(set(overrides) - set(breaches)):
        g = GUARDRAILS[name]
        errors.append(
            ConfigError(
                f"{PROJECT}:guardrailOverrides.{name}: overrides nothing ({g.key} meets the guardrail: {g.rule}); "
                "remove it"
            )
        )
    if not production:
        return errors
    for name, value in breaches.items():
        if name in overrides:
            continue
        g = GUARDRAILS[name]
        errors.append(
            ConfigError(
                f"{PROJECT}:{g.key}: {value!r} is refused in a production stack: {g.rule}; {g.fix}, or accept it on "
                f"purpose with guardrailOverrides.{g.override}: <reason>"
            )
        )
    return errors
