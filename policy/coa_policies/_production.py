"""Production-only rules: how a rule tells a production resource from another, with the shared definition
(production.py) as its defaults, and the wrapper that makes a check production-only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import production as shared
from ._core import UNKNOWN, NotApplicableError, ResourceCheck, Subject, finding, get, get_ci, stack_of

# How a rule recognises production: any one of these signals suffices, none switches another off. The defaults
# are the program's own definition (production.py), shared with configuration/guardrails.py.
PRODUCTION_CONFIG: dict[str, dict[str, Any]] = {
    "production": {"type": "boolean", "default": False},
    "productionTag": {"type": "string", "default": shared.PRODUCTION_TAG},
    "productionTagValues": {
        "type": "array",
        "items": {"type": "string"},
        "default": list(shared.PRODUCTION_ENVIRONMENTS),
    },
    "productionStacks": {"type": "array", "items": {"type": "string"}, "default": list(shared.PRODUCTION_STACKS)},
}


# How a production-only rule is told a stack is production; appended to each such rule's remediation.
DECLARE_PRODUCTION = (
    "Declare production with production: true in the production stack's policy config, productionStacks, or the "
    "productionTag tag in productionTagValues."
)


def production_of(config: Mapping[str, Any], urn: str, props: Mapping[str, Any]) -> Any:
    """Why a resource counts as production ('' when it does not; UNKNOWN when only a computed tag could tell).

    Production is declared by the rule's ``production`` flag (set in the production stack's policy config),
    by the stack name in the URN matching ``productionStacks``, or by the ``productionTag`` tag (tag names are
    case-insensitive in Azure) matching ``productionTagValues``; stacks and tag values are globs, case-insensitive.
    """
    if config.get("production") is True:
        return "policy config production: true"
    stack = stack_of(urn)
    if shared.production_stack(stack, config.get("productionStacks", shared.PRODUCTION_STACKS)):
        return f"stack {stack!r}"
    tag_name = str(config.get("productionTag", shared.PRODUCTION_TAG))
    value = get_ci(get(props, "tags"), tag_name)
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, str) and shared.production_environment(
        value, config.get("productionTagValues", shared.PRODUCTION_ENVIRONMENTS)
    ):
        return f"tag {tag_name}={value!r}"
    return ""


def production(s: Subject) -> Any:
    """`production_of` for a resource rule's subject."""
    return production_of(s.config, s.urn, s.props)


def in_production(check: ResourceCheck, consequence: str) -> ResourceCheck:
    """A production-only variant of `check`: not applicable outside production; on production resources, its
    findings, each naming why the resource is production and what the finding costs there. A resource whose
    production tag is computed is judged at update, when the tag is known."""

    def run(s: Subject) -> Iterable[str]:
        why = production(s)
        if why is not UNKNOWN and not why:
            raise NotApplicableError("not production")
        problems = list(check(s))
        if why is UNKNOWN:
            return
        for problem in problems:
            yield finding(f"{problem.rstrip('.')}; production ({why}): {consequence}", problem)

    return run
