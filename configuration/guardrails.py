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

from configuration.reader import PROJECT, ConfigError
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
            # protect in Pulumi's state and CanNotDelete locks on every data-bearing resource.
            rule="data keeps protect and locks",
            fix="set both true",
        ),
        Guardrail(
            override="sharedKeyAccess",
            key="storage.allowSharedKeyAccess",
            rule="PHI storage accepts Entra ID only",
            fix="set it false",
        ),
        Guardrail(
            override="noClusterAdminGroups",
            key="kubernetes.adminGroupObjectIds",
            rule="its cluster has admin groups",
            fix="list an Entra ID group object id",
        ),
        Guardrail(
            override="nonProductionEnvironment",
            key="environment",
            # environment: prod turns on protection, HA and firewall egress.
            rule="a production-named stack runs as prod",
            fix="set environment: prod",
        ),
        Guardrail(
            override="locallyRedundantStorage",
            key="storage.redundancy",
            rule="data survives the loss of its region",
            fix="set GZRS or RAGZRS",
        ),
        Guardrail(
            override="unpinnedImages",
            key="images.lock.json",
            # A re-pushed tag would change what runs.
            rule="images run by digest",
            fix="pin them with scripts/pin_images.py",
        ),
        # The reduced-assurance generation (taskDatabase cosmosdb); configuration/tes32.py WEAKENINGS says why each
        # is needed there.
        Guardrail(
            override="cosmosLocalAuth",
            key="cosmos.localAuthEnabled",
            rule="Cosmos DB accepts Entra ID only",
            fix="use taskDatabase postgresql",
        ),
        Guardrail(
            override="applicationCredential",
            key="applicationCredentials",
            # A client secret can be copied and used from anywhere Entra ID is reachable, until it expires.
            rule="pods use workload identity",
            fix="use taskDatabase postgresql",
        ),
        Guardrail(
            override="outOfSupportRuntime",
            key="taskDatabase",
            rule="images run a supported runtime",
            fix="use taskDatabase postgresql",
        ),
    )
}


def _shown(value: object) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, str) else repr(value)


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
                f"{PROJECT}:guardrailOverrides.{name}: overrides nothing ({g.key} meets the guardrail); remove it"
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
                f"{PROJECT}:{g.key}: {_shown(value)} is refused in production ({g.rule}); {g.fix}, or set "
                f"guardrailOverrides.{g.override}: <reason>"
            )
        )
    return errors
