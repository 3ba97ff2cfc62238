"""An evaluator for the subset of the Azure Policy rule language the stack's own definitions use: the pack runs a
stack's definitions against probe pools with it (batch_governance.py), and tests run a definition against an ARM resource
body the way Azure would at request time.

Covered: `allOf`, `anyOf`, `not`; `field` conditions on `type`, `name`, `id` and registered aliases; `equals`,
`notEquals`, `in`, `notIn`, `like`, `notLike`, `contains`, `exists`; `[parameters('x')]` references; the effect.
Semantics follow MicrosoftDocs/azure-docs@03e5750:articles/governance/policy/concepts/definition-structure-policy-rule.md
("Conditions"): string comparisons are case-insensitive (InvariantCultureIgnoreCase), `like` takes one `*` wildcard,
and a property that is absent is null: `equals`/`in`/`like` are false for it, their negations true. Anything outside
the subset (count, value, template functions other than parameters, `[*]` aliases) raises, so a definition can never
pass a test through an unmodelled branch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_PARAMETER = re.compile(r"^\[parameters\('([A-Za-z0-9_]+)'\)\]$")
_LOGICAL = ("allOf", "anyOf", "not")
_OPERATORS = ("equals", "notEquals", "in", "notIn", "like", "notLike", "contains", "exists")
_MISSING = object()


class UnsupportedPolicyError(Exception):
    """The rule uses something this evaluator does not model; the message names it."""


def _resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        match = _PARAMETER.match(value)
        if match:
            name = match.group(1)
            if name not in parameters:
                raise UnsupportedPolicyError(f"parameter {name!r} has no value and no default")
            return parameters[name]
        if value.startswith("[") and not value.startswith("[["):
            raise UnsupportedPolicyError(f"template expression {value!r} is outside the modelled subset")
    return value


def _lookup(document: Mapping[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node or node[part] is None:
            return _MISSING
        node = node[part]
    return node


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _like(value: Any, pattern: str) -> bool:
    if not isinstance(value, str):
        return False
    if pattern.count("*") > 1:
        raise UnsupportedPolicyError(f"like pattern {pattern!r} has more than one wildcard, which Azure Policy refuses")
    head, star, tail = pattern.casefold().partition("*")
    folded = value.casefold()
    if not star:
        return folded == head
    return len(folded) >= len(head) + len(tail) and folded.startswith(head) and folded.endswith(tail)


class Evaluator:
    """Evaluates policy rules against ARM resource bodies of one resource type family.

    `aliases` maps each alias the rules may use to its default path in the body (e.g.
    `Microsoft.Batch/batchAccounts/pools/vmSize` -> `properties.vmSize`), as Azure lists them."""

    def __init__(self, aliases: Mapping[str, str]) -> None:
        self._aliases = {alias.casefold(): path for alias, path in aliases.items()}

    def field(self, resource: Mapping[str, Any], name: str) -> Any:
        if name in ("type", "name", "id", "kind", "location"):
            return resource.get(name, _MISSING)
        if "[*]" in name:
            raise UnsupportedPolicyError(f"array alias {name!r} is outside the modelled subset")
        path = self._aliases.get(name.casefold())
        if path is None:
            raise UnsupportedPolicyError(f"field {name!r} is not a registered alias")
        return _lookup(resource, path)

    def condition(self, rule: Mapping[str, Any], resource: Mapping[str, Any], parameters: Mapping[str, Any]) -> bool:
        logical = [key for key in _LOGICAL if key in rule]
        if logical:
            if len(rule) != 1:
                raise UnsupportedPolicyError(f"a logical operator must stand alone, got keys {sorted(rule)}")
            key = logical[0]
            if key == "not":
                return not self.condition(rule["not"], resource, parameters)
            parts: Sequence[Mapping[str, Any]] = rule[key]
            results = (self.condition(part, resource, parameters) for part in parts)
            return all(results) if key == "allOf" else any(results)
        if "field" not in rule:
            raise UnsupportedPolicyError(f"condition {rule} has no field (value and count are outside the subset)")
        operators = [key for key in rule if key != "field"]
        if len(operators) != 1 or operators[0] not in _OPERATORS:
            raise UnsupportedPolicyError(f"condition {rule} must have exactly one of {', '.join(_OPERATORS)}")
        operator = operators[0]
        actual = self.field(resource, rule["field"])
        expected = _resolve(rule[operator], parameters)
        present = actual is not _MISSING
        if operator == "exists":
            wanted = expected if isinstance(expected, bool) else str(expected).casefold() == "true"
            return present == wanted
        if operator in ("equals", "notEquals"):
            equal = present and _fold(actual) == _fold(expected)
            return equal if operator == "equals" else not equal
        if operator in ("in", "notIn"):
            if not isinstance(expected, Sequence) or isinstance(expected, str):
                raise UnsupportedPolicyError(f"{operator} needs an array, got {expected!r}")
            member = present and _fold(actual) in {_fold(item) for item in expected}
            return member if operator == "in" else not member
        if operator in ("like", "notLike"):
            matched = present and _like(actual, str(expected))
            return matched if operator == "like" else not matched
        # contains: substring of a string value, case-insensitively.
        return present and isinstance(actual, str) and str(expected).casefold() in actual.casefold()

    def effect(
        self, definition: Mapping[str, Any], resource: Mapping[str, Any], assigned: Mapping[str, Any] | None = None
    ) -> str | None:
        """The effect the definition applies to `resource` with the assignment's parameter values, or None when its
        `if` does not match. `definition` is the properties object: `parameters` and `policyRule`."""
        parameters = {
            name: spec["defaultValue"]
            for name, spec in (definition.get("parameters") or {}).items()
            if "defaultValue" in spec
        }
        parameters.update(assigned or {})
        for name, spec in (definition.get("parameters") or {}).items():
            allowed = spec.get("allowedValues")
            if allowed and name in parameters and parameters[name] not in allowed:
                raise UnsupportedPolicyError(f"parameter {name}={parameters[name]!r} is not one of {allowed}")
        rule = definition["policyRule"]
        if not self.condition(rule["if"], resource, parameters):
            return None
        return str(_resolve(rule["then"]["effect"], parameters))
