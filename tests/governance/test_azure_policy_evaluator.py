"""The rule-language evaluator follows Azure Policy's documented semantics for the subset it covers, and refuses the
rest rather than guessing."""

from __future__ import annotations

from typing import Any

import pytest

from policy.coa_policies.azure_policy import Evaluator, UnsupportedPolicyError

T = "Microsoft.Test/things"
EVALUATOR = Evaluator({f"{T}/mode": "properties.mode", f"{T}/deep.value": "properties.deep.value"})
THING = {"type": T, "name": "thing-one", "properties": {"mode": "Strict", "deep": {"value": "x"}}}
EMPTY = {"type": T, "name": "thing-two", "properties": {}}


def _holds(condition: dict[str, Any], resource: dict[str, Any] = THING, **parameters: Any) -> bool:
    return EVALUATOR.condition(condition, resource, parameters)


@pytest.mark.parametrize(
    ("condition", "on_thing", "on_empty"),
    [
        ({"field": f"{T}/mode", "equals": "strict"}, True, False),
        ({"field": f"{T}/mode", "notEquals": "strict"}, False, True),
        ({"field": f"{T}/mode", "in": ["Loose", "STRICT"]}, True, False),
        ({"field": f"{T}/mode", "notIn": ["Loose"]}, True, True),
        ({"field": f"{T}/mode", "exists": "true"}, True, False),
        ({"field": f"{T}/mode", "exists": False}, False, True),
        ({"field": f"{T}/mode", "like": "st*"}, True, False),
        ({"field": f"{T}/mode", "notLike": "*ct"}, False, True),
        ({"field": f"{T}/mode", "contains": "RIC"}, True, False),
        ({"field": f"{T}/deep.value", "equals": "x"}, True, False),
        ({"field": "name", "like": "thing-*"}, True, True),
    ],
)
def test_conditions_and_absent_fields(condition: dict[str, Any], on_thing: bool, on_empty: bool) -> None:
    assert (_holds(condition), _holds(condition, EMPTY)) == (on_thing, on_empty)


def test_logical_operators_nest() -> None:
    strict = {"field": f"{T}/mode", "equals": "Strict"}
    named = {"field": "name", "equals": "thing-one"}
    assert _holds({"allOf": [strict, named]})
    assert not _holds({"allOf": [strict, {"not": named}]})
    assert _holds({"anyOf": [{"not": strict}, named]})
    assert not _holds({"anyOf": [{"not": strict}, {"not": named}]})


def test_parameters_resolve_from_defaults_and_assignment() -> None:
    definition = {
        "parameters": {
            "effect": {"type": "String", "allowedValues": ["Audit", "Deny"], "defaultValue": "Audit"},
            "modes": {"type": "Array"},
        },
        "policyRule": {
            "if": {"field": f"{T}/mode", "in": "[parameters('modes')]"},
            "then": {"effect": "[parameters('effect')]"},
        },
    }
    assert EVALUATOR.effect(definition, THING, {"modes": ["Strict"]}) == "Audit"
    assert EVALUATOR.effect(definition, THING, {"modes": ["Strict"], "effect": "Deny"}) == "Deny"
    assert EVALUATOR.effect(definition, THING, {"modes": ["Loose"]}) is None
    with pytest.raises(UnsupportedPolicyError, match="effect='Modify'"):
        EVALUATOR.effect(definition, THING, {"modes": ["Strict"], "effect": "Modify"})
    with pytest.raises(UnsupportedPolicyError, match="parameter 'modes'"):
        EVALUATOR.effect(definition, THING)


@pytest.mark.parametrize(
    ("condition", "complaint"),
    [
        ({"field": f"{T}/unknown", "equals": "x"}, "not a registered alias"),
        ({"field": f"{T}/items[*]", "equals": "x"}, "array alias"),
        ({"value": "[resourceGroup().name]", "equals": "x"}, "has no field"),
        ({"field": f"{T}/mode", "equals": "[concat('a', 'b')]"}, "template expression"),
        ({"field": f"{T}/mode", "match": "##"}, "exactly one of"),
        ({"field": f"{T}/mode", "like": "*a*"}, "more than one wildcard"),
        ({"allOf": [], "field": "name", "equals": "x"}, "must stand alone"),
    ],
)
def test_what_is_outside_the_subset_is_refused(condition: dict[str, Any], complaint: str) -> None:
    with pytest.raises(UnsupportedPolicyError, match=complaint):
        _holds(condition)
