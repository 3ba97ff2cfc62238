"""Shared vocabulary of the pack: reading engine inputs, HIPAA metadata, and the two rule shapes.

Inputs reach a rule as plain Python data: mappings, lists and scalars with camelCase keys, exactly as the
engine sends them. Two markers stand in for what the engine cannot tell us:

* ``MISSING``: the program did not set the property, so Azure's (or Kubernetes') default applies and each
  rule decides whether that default is acceptable.
* ``UNKNOWN``: the property is set but its value is computed during the update (an output of another
  resource during ``pulumi preview``; ``null`` from a mock engine). Rules never report a violation on an
  unknown value: ``pulumi up`` calls the pack again with the resolved inputs before the resource is created,
  so a mandatory rule still blocks the deployment then.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError


class _Marker:
    def __init__(self, label: str) -> None:
        self._label = label

    def __repr__(self) -> str:
        return self._label

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Marker("UNKNOWN")
MISSING: Any = _Marker("MISSING")

# The sentinels the engine writes for computed values (pulumi_policy.proxy, sdk/go/common/resource/plugin).
ENGINE_UNKNOWNS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)


def to_plain(value: Any) -> Any:
    """Copy engine data (possibly wrapped in the SDK's unknown-checking proxies) into plain data."""
    if value is None or (isinstance(value, str) and value in ENGINE_UNKNOWNS):
        return UNKNOWN
    if isinstance(value, (str, bytes, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in list(value.keys()):
            try:
                out[key] = to_plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(to_plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def get(obj: Any, *path: str | int) -> Any:
    """Walk ``path``; UNKNOWN if any step is computed, MISSING if any step is absent."""
    cur = obj
    for key in path:
        if cur is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            if not isinstance(cur, list) or key >= len(cur):
                return MISSING
            cur = cur[key]
        else:
            if not isinstance(cur, Mapping) or key not in cur:
                return MISSING
            cur = cur[key]
    return cur


def get_ci(obj: Any, key: str) -> Any:
    """Mapping lookup ignoring case (AKS addon profile keys are case-insensitive in ARM)."""
    if obj is UNKNOWN:
        return UNKNOWN
    if not isinstance(obj, Mapping):
        return MISSING
    for k, v in obj.items():
        if k.lower() == key.lower():
            return v
    return MISSING


def known(value: Any) -> bool:
    return value is not UNKNOWN and value is not MISSING


def same(value: Any, expected: str) -> bool:
    """ARM enum strings compare case-insensitively."""
    return isinstance(value, str) and value.lower() == expected.lower()


def items(value: Any) -> list[Any]:
    """A list input, a single value, or nothing, as a list (UNKNOWN entries kept)."""
    if value is MISSING or value is UNKNOWN:
        return []
    if isinstance(value, list):
        return value
    return [value]


# Address prefixes that mean "anyone": NSG service tags and CIDRs, and the firewall spellings used by
# storage, Key Vault, Cosmos DB ("0.0.0.0" admits every Azure datacenter) and Batch.
WORLD = frozenset({"*", "any", "internet", "0.0.0.0", "0.0.0.0/0", "::/0", "0.0.0.0-255.255.255.255"})


def is_world(prefix: Any) -> bool:
    return isinstance(prefix, str) and prefix.strip().lower() in WORLD


def matches_any(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


# 45 CFR 164.312 technical safeguards.
SAFEGUARDS: dict[str, tuple[str, str]] = {
    "access": ("164.312(a)(1)", "Access control"),
    "encryption": ("164.312(a)(2)(iv)", "Encryption and decryption"),
    "audit": ("164.312(b)", "Audit controls"),
    "integrity": ("164.312(c)(1)", "Integrity"),
    "authentication": ("164.312(d)", "Person or entity authentication"),
    "transmission": ("164.312(e)(1)", "Transmission security"),
}


def hipaa(safeguard: str) -> PolicyComplianceFramework:
    reference, specification = SAFEGUARDS[safeguard]
    return PolicyComplianceFramework(
        name="HIPAA", version="45 CFR 164.312", reference=reference, specification=specification
    )


def stack_of(urn: str) -> str:
    """The stack name in ``urn:pulumi:<stack>::<project>::<type>::<name>`` ('' for anything else)."""
    parts = urn.split("::")
    return parts[0].split(":")[-1] if parts and parts[0].startswith("urn:pulumi:") else ""


@dataclass(frozen=True)
class Subject:
    """One resource as a rule sees it."""

    type: str
    props: Mapping[str, Any]
    config: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    urn: str = ""


@dataclass(frozen=True)
class StackResource:
    """One resource of the stack as a stack rule sees it (state, options and dependencies)."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    parent: str = ""
    dependencies: frozenset[str] = frozenset()
    property_dependencies: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def stack(self) -> str:
        return stack_of(self.urn)


ResourceCheck = Callable[[Subject], Iterable[str]]
StackCheck = Callable[[Sequence[StackResource], Mapping[str, Any]], Iterable[tuple[str, str]]]


def _schema(config: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in config.items()}) if config else None


def _with_defaults(config: Mapping[str, Mapping[str, Any]] | None, given: Mapping[str, Any]) -> dict[str, Any]:
    merged = {k: v["default"] for k, v in (config or {}).items() if "default" in v}
    merged.update({k: v for k, v in given.items() if k != "enforcementLevel"})
    return merged


class _Meta:
    anchor: str
    safeguard: str
    defaults: Mapping[str, Mapping[str, Any]]

    def _policy_arguments(
        self,
        *,
        name: str,
        description: str,
        severity: Severity,
        safeguard: str,
        remediation: str,
        anchor: str,
        mandatory: bool,
        config: Mapping[str, Mapping[str, Any]] | None,
    ) -> dict[str, Any]:
        """Record the HIPAA metadata on the rule and return what every pulumi_policy policy type takes."""
        self.anchor = anchor
        self.safeguard = safeguard
        self.defaults = dict(config or {})
        return {
            "name": name,
            "description": description,
            "enforcement_level": EnforcementLevel.MANDATORY if mandatory else EnforcementLevel.ADVISORY,
            "config_schema": _schema(config),
            "severity": severity,
            "framework": hipaa(safeguard),
            "tags": ["hipaa", anchor],
            "remediation_steps": remediation,
        }


class Rule(ResourceValidationPolicy, _Meta):
    """A resource rule: ``check`` yields one message per violation."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        types: Sequence[str],
        check: ResourceCheck,
        severity: Severity,
        safeguard: str,
        remediation: str,
        anchor: str,
        mandatory: bool = True,
        config: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.types = tuple(types)
        self.check = check
        super().__init__(
            validate=self._validate,
            **self._policy_arguments(
                name=name,
                description=description,
                severity=severity,
                safeguard=safeguard,
                remediation=remediation,
                anchor=anchor,
                mandatory=mandatory,
                config=config,
            ),
        )

    def evaluate(
        self,
        props: Mapping[str, Any],
        *,
        type: str | None = None,
        config: Mapping[str, Any] | None = None,
        name: str = "r",
        urn: str = "",
    ) -> list[str]:
        """Run the check on engine-shaped inputs; what ``validate`` does, without the gRPC layer."""
        resource_type = type or self.types[0]
        if resource_type not in self.types:
            return []
        subject = Subject(resource_type, to_plain(props), _with_defaults(self.defaults, config or {}), name, urn)
        return list(self.check(subject))

    def _validate(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        for message in self.evaluate(
            args.props, type=args.resource_type, config=args.get_config(), name=args.name, urn=args.urn
        ):
            report(message, None)


class StackRule(StackValidationPolicy, _Meta):
    """A stack rule: ``check`` yields (message, urn) per violation."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        check: StackCheck,
        severity: Severity,
        safeguard: str,
        remediation: str,
        anchor: str,
        mandatory: bool = True,
        config: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.check = check
        super().__init__(
            validate=self._validate,
            **self._policy_arguments(
                name=name,
                description=description,
                severity=severity,
                safeguard=safeguard,
                remediation=remediation,
                anchor=anchor,
                mandatory=mandatory,
                config=config,
            ),
        )

    def evaluate(
        self, resources: Sequence[StackResource], config: Mapping[str, Any] | None = None
    ) -> list[tuple[str, str]]:
        return list(self.check(resources, _with_defaults(self.defaults, config or {})))

    def _validate(self, args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [
            StackResource(
                type=r.resource_type,
                urn=r.urn,
                name=r.name,
                props=to_plain(r.props),
                protect=bool(r.opts.protect),
                parent=r.parent.urn if r.parent else "",
                dependencies=frozenset(d.urn for d in r.dependencies),
                property_dependencies={k: frozenset(d.urn for d in v) for k, v in r.property_dependencies.items()},
            )
            for r in args.resources
        ]
        for message, urn in self.evaluate(resources, args.get_config()):
            report(message, urn)


# How a resource rule recognises production: any one of these signals suffices. The stack globs default to
# those of the stack rule stateful-resources-protected-in-production.
PRODUCTION_CONFIG: dict[str, dict[str, Any]] = {
    "production": {"type": "boolean", "default": False},
    "productionTag": {"type": "string", "default": "environment"},
    "productionTagValues": {"type": "array", "items": {"type": "string"}, "default": ["prod", "production"]},
    "productionStacks": {"type": "array", "items": {"type": "string"}, "default": ["prod", "production", "prod-*"]},
}


# How a production-only rule is told a stack is production; appended to each such rule's remediation.
DECLARE_PRODUCTION = (
    "Declare production with production: true in the production stack's policy config, productionStacks, or the "
    "productionTag tag in productionTagValues."
)


def production(s: Subject) -> Any:
    """Why ``s`` counts as production ('' when it does not; UNKNOWN when only a computed tag could tell).

    Production is declared by the rule's ``production`` flag (set in the production stack's policy config),
    by the stack name in the URN matching ``productionStacks``, or by the ``productionTag`` tag (tag names are
    case-insensitive in Azure) matching ``productionTagValues``; stacks and tag values are globs, case-insensitive.
    """
    if s.config.get("production") is True:
        return "policy config production: true"
    stack = stack_of(s.urn)
    if stack and matches_any(stack, s.config.get("productionStacks", [])):
        return f"stack {stack!r}"
    tag_name = str(s.config.get("productionTag", "environment"))
    value = get_ci(get(s.props, "tags"), tag_name)
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, str) and matches_any(value, s.config.get("productionTagValues", [])):
        return f"tag {tag_name}={value!r}"
    return ""


def in_production(check: ResourceCheck, consequence: str) -> ResourceCheck:
    """A production-only variant of `check`: its findings, on resources that count as production (`production`),
    each naming why the resource is production and what the finding costs there. Values the engine cannot know yet
    are judged at update."""

    def run(s: Subject) -> Iterable[str]:
        problems = [problem.rstrip(".") for problem in check(s)]
        if not problems:
            return
        why = production(s)
        if why is UNKNOWN or not why:
            return
        for problem in problems:
            yield f"{problem}; production ({why}): {consequence}"

    return run
