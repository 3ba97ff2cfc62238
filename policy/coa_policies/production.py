"""What makes a stack production: the one definition the program (configuration/guardrails.py) and the pack share.

It lives in the pack because the Pulumi CLI runs the pack as its own program from `policy/` (only that directory is
on its path); the program imports it as `policy.coa_policies.production`. Plain Python only: the program's runtime
has no pulumi_policy, so nothing here (or in this package's __init__) may import it.

A stack is production when any one signal says so, and no signal can switch another off:
* its name matches one of PRODUCTION_STACKS (globs, case-insensitive): `prod`, `production`, `*-prod`, `prod-*`...;
* its environment is one of PRODUCTION_ENVIRONMENTS: the program's `environment` setting, which it writes on every
  resource as the PRODUCTION_TAG tag, which is what the pack reads.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

PRODUCTION_STACKS: tuple[str, ...] = ("prod", "production", "*-prod", "*-production", "prod-*", "production-*")
PRODUCTION_ENVIRONMENTS: tuple[str, ...] = ("prod", "production")
# The tag the program writes on every resource with the stack's environment (tag names are case-insensitive).
PRODUCTION_TAG = "environment"


def matches(value: str, patterns: Iterable[str]) -> bool:
    """Whether `value` matches any glob in `patterns`, ignoring case."""
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in patterns)


def production_stack(stack: str | None, patterns: Iterable[str] = PRODUCTION_STACKS) -> bool:
    return bool(stack) and matches(str(stack), patterns)


def production_environment(environment: str | None, values: Iterable[str] = PRODUCTION_ENVIRONMENTS) -> bool:
    return bool(environment) and matches(str(environment), values)


def is_production(environment: str | None, stack: str | None) -> bool:
    """The program's verdict: its environment setting or its stack name (either suffices)."""
    return production_environment(environment) or production_stack(stack)
