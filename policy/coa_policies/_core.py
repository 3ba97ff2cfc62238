"""Shared vocabulary of the pack: reading engine inputs, HIPAA metadata, and the two rule shapes.

Inputs reach a rule as plain Python data: mappings, lists and scalars with camelCase keys, exactly as the
engine sends them. Two markers stand in for what the engine cannot tell us:

* ``MISSING``: the program did not set the property, so Azure's (or Kubernetes') default applies and each
  rule decides whether that default is acceptable.
* ``UNKNOWN``: the property is set but its value is computed during the update (an output of another
  resource during ``pulumi preview``; ``null`` from a mock engine). Rules never report a violation on an
  unknown value: ``pulumi up`` calls the pack again with the resolved inputs before the resource is created,
  so a mandatory rule still blocks the deployment then.

A rule that has nothing to judge on a resource (another type; a production-only rule outside production; a stack
rule whose subjects the stack lacks) says so with the protocol's "not applicable" answer, so the report can tell
which rules evaluated something. A finding can name what it is about (an image, an account) so that a waiver in
the policy config covers exactly those findings and nothing else (see `waived`).
"""

from __future__ import annotations

import fnmatch
import ipaddress
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

from ._findings import WAIVERS_SCHEMA, Finding, NotApplicableError, finding, waived

__all__ = ["WAIVERS_SCHEMA", "Finding", "NotApplicableError", "finding", "waived"]  # re-exported for rule modules


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


# One public range as wide as a /8 (16.7 million addresses) or wider opens a service to a large part of the Internet,
# and the whole of it takes only two: 0.0.0.0/1 and 128.0.0.0/1. IPv6: a /16 or wider.
WORLD_PREFIX_LENGTH = {4: 8, 6: 16}


def is_world(prefix: Any) -> bool:
    if not isinstance(prefix, str):
        return False
    text = prefix.strip().lower()
    if text in WORLD:
        return True
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return network.prefixlen <= WORLD_PREFIX_LENGTH[network.version] and not network.is_private


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


def _schema(config: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema:
    properties = {k: dict(v) for k, v in (config or {}).items()}
    properties["waivers"] = WAIVERS_SCHEMA
    return PolicyConfigSchema(properties=properties)


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
        subjects: Sequence[str] = (),
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
            # SUBJECT_TAG tags name the resource types a stack rule reads, so a report can count what it evaluated.
            "tags": ["hipaa", anchor, *(f"{SUBJECT_TAG}{t}" for t in subjects)],
            "remediation_steps": remediation,
        }


# Prefix of the tags naming the resource types a stack rule judges (offline/analyzer.py counts them).
SUBJECT_TAG = "subject:"


class Rule(ResourceValidationPolicy, _Meta):
    """A resource rule: ``check`` yields one message per violation (a `Finding` to name what it is about), or
    raises `NotApplicableError` when the resource is not its business."""

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

    def judge(
        self,
        props: Mapping[str, Any],
        *,
        type: str | None = None,
        config: Mapping[str, Any] | None = None,
        name: str = "r",
        urn: str = "",
    ) -> list[str] | None:
        """The unwaived findings on engine-shaped inputs, or None when the rule does not apply to the resource."""
        resource_type = type or self.types[0]
        if resource_type not in self.types:
            return None
        subject = Subject(resource_type, to_plain(props), _with_defaults(self.defaults, config or {}), name, urn)
        try:
            found = list(self.check(subject))
        except NotApplicableError:
            return None
        return waived(found, subject.config, name, urn)

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
        return self.judge(props, type=type, config=config, name=name, urn=urn) or []

    def _validate(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        found = self.judge(args.props, type=args.resource_type, config=args.get_config(), name=args.name, urn=args.urn)
        if found is None:
            args.not_applicable(f"{self.name} does not judge this {args.resource_type}")
        for message in found or []:
            report(message, None)


class StackRule(StackValidationPolicy, _Meta):
    """A stack rule: ``check`` yields (message, urn) per violation, or raises `NotApplicableError` when the stack holds
    nothing it judges. `subjects` are the resource types it judges."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        check: StackCheck,
        subjects: Sequence[str],
        severity: Severity,
        safeguard: str,
        remediation: str,
        anchor: str,
        mandatory: bool = True,
        config: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.check = check
        self.subjects = tuple(subjects)
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
                subjects=subjects,
            ),
        )

    def judge(
        self, resources: Sequence[StackResource], config: Mapping[str, Any] | None = None
    ) -> list[tuple[str, str]] | None:
        """The unwaived (message, urn) findings, or None when the stack holds nothing this rule judges."""
        cfg = _with_defaults(self.defaults, config or {})
        if not any(r.type in self.subjects for r in resources):
            return None
        try:
            found = list(self.check(resources, cfg))
        except NotApplicableError:
            return None
        names = {r.urn: r.name for r in resources}
        return [(kept, urn) for m, urn in found for kept in waived([m], cfg, names.get(urn, ""), urn)]

    def evaluate(
        self, resources: Sequence[StackResource], config: Mapping[str, Any] | None = None
    ) -> list[tuple[str, str]]:
        return self.judge(resources, config) or []

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
        found = self.judge(resources, args.get_config())
        if found is None:
            args.not_applicable(f"the stack holds nothing {self.name} judges")
        for message, urn in found or []:
            report(message, urn)
