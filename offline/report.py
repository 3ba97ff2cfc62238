"""Policy results as text, JSON and SARIF 2.1.0, and the resource graph as JSON.

Policy metadata and violations arrive from the analyzer in whatever shape it keeps them (its dataclasses, the
gRPC messages or pulumi_policy objects); `Rule` and `Finding` read any of those by field name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from offline.records import ResourceRecord

SEVERITIES = ("critical", "high", "medium", "low", "")
ENFORCEMENTS = ("mandatory", "remediate", "advisory", "disabled")
# GitHub code scanning ranks security alerts by `security-severity`: >= 9.0 critical, 7.0-8.9 high,
# 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "": "5.0"}
SARIF_LEVEL = {"mandatory": "error", "remediate": "warning", "advisory": "warning", "disabled": "none"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _field(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


def _level_name(value: Any, known: Sequence[str]) -> str:
    """ "HIGH", Severity.HIGH, "POLICY_SEVERITY_HIGH" or the proto enum number, as one lowercase word."""
    if value is None:
        return ""
    raw = getattr(value, "value", value)
    if isinstance(raw, int) and not isinstance(raw, bool):
        if known is SEVERITIES:  # proto numbering: unspecified, low, medium, high, critical
            return ("", "low", "medium", "high", "critical")[raw] if 0 <= raw <= 4 else ""
        return ("advisory", "mandatory", "disabled", "remediate")[raw] if 0 <= raw <= 3 else ""
    word = str(raw).lower().rsplit(".", 1)[-1].removeprefix("policy_severity_")
    return word if word in known else ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    parts = [str(_field(value, n, default="")) for n in ("name", "version", "reference")]  # compliance framework
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    enforcement_level: str
    severity: str
    remediation_steps: str = ""
    display_name: str = ""
    framework: str = ""
    tags: tuple[str, ...] = ()
    url: str = ""

    @classmethod
    def of(cls, policy: Any) -> Rule:
        return cls(
            name=str(_field(policy, "name", default="")),
            description=_text(_field(policy, "description")),
            enforcement_level=_level_name(_field(policy, "enforcement_level", "enforcementLevel"), ENFORCEMENTS),
            severity=_level_name(_field(policy, "severity"), SEVERITIES),
            remediation_steps=_text(_field(policy, "remediation_steps", "remediationSteps")),
            display_name=_text(_field(policy, "display_name", "displayName")),
            framework=_text(_field(policy, "framework")),
            tags=tuple(str(t) for t in _field(policy, "tags", default=()) or ()),
            url=_text(_field(policy, "url")),
        )


@dataclass(frozen=True)
class Finding:
    rule: str
    pack: str
    description: str
    message: str
    enforcement_level: str
    severity: str
    remediation_steps: str
    urn: str
    resource_type: str
    resource_name: str

    @classmethod
    def of(cls, violation: Any, resources: Mapping[str, ResourceRecord]) -> Finding:
        urn = str(_field(violation, "urn", default=""))
        record = resources.get(urn)
        # URN tail: `...::<parent type>$<type>::<name>`; stack policies may report no URN at all.
        tail = urn.split("::")
        return cls(
            rule=str(_field(violation, "policy_name", "policyName", default="")),
            pack=str(_field(violation, "policy_pack", "policyPackName", default="")),
            description=_text(_field(violation, "description")),
            message=_text(_field(violation, "message")),
            enforcement_level=_level_name(_field(violation, "enforcement_level", "enforcementLevel"), ENFORCEMENTS),
            severity=_level_name(_field(violation, "severity"), SEVERITIES),
            remediation_steps=_text(_field(violation, "remediation_steps", "remediationSteps")),
            urn=urn,
            resource_type=record.type if record else (tail[-2].rsplit("$", 1)[-1] if len(tail) >= 4 else ""),
            resource_name=record.name if record else (tail[-1] if len(tail) >= 4 else ""),
        )

    @property
    def resource(self) -> str:
        return f"{self.resource_type} {self.resource_name}" if self.urn else "(the whole stack)"


def findings_of(violations: Iterable[Any], resources: Sequence[ResourceRecord]) -> list[Finding]:
    by_urn = {r.urn: r for r in resources}
    found = [Finding.of(v, by_urn) for v in violations]
    return sorted(found, key=_rank)


def _rank(f: Finding) -> tuple[int, int, str, str]:
    return (ENFORCEMENTS.index(f.enforcement_level or "advisory"), SEVERITIES.index(f.severity), f.rule, f.urn)


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {level: sum(1 for f in findings if f.enforcement_level == level) for level in ENFORCEMENTS[:3]}


def render_policy_text(pack: str, rules: Sequence[Rule], findings: Sequence[Finding]) -> str:
    """Violations grouped by enforcement, then severity, each with its rule, resource and remediation."""
    tally = counts(findings)
    if not findings:
        return f"Policy pack {pack}: {len(rules)} rules, no violations."
    head = ", ".join(f"{n} {level}" for level, n in tally.items() if n)
    lines = [f"Policy pack {pack}: {len(findings)} violations ({head})"]
    group: tuple[str, str] | None = None
    for f in findings:
        if (f.enforcement_level, f.severity) != group:
            group = (f.enforcement_level, f.severity)
            lines += ["", f"  {f.enforcement_level.upper() or 'ADVISORY'} · {f.severity or 'unspecified'} severity"]
        lines.append(f"    ✗ {f.rule}  on  {f.resource}")
        detail = f.message or f.description
        if detail:
            lines += [f"        {line}" for line in detail.splitlines()]
        if f.remediation_steps:
            steps = f.remediation_steps.splitlines()
            lines.append(f"        remediation: {steps[0]}")
            lines += [f"                     {line}" for line in steps[1:]]
    return "\n".join(lines)


def policy_document(pack: str, rules: Sequence[Rule], findings: Sequence[Finding]) -> dict[str, Any]:
    return {
        "policyPack": pack,
        "passed": not any(f.enforcement_level == "mandatory" for f in findings),
        "counts": counts(findings),
        "rules": [asdict(r) for r in rules],
        "violations": [asdict(f) for f in findings],
    }


def resources_document(project: str, stack: str, records: Sequence[ResourceRecord]) -> dict[str, Any]:
    """Every resource with its inputs and the edges the engine knows: parent, dependencies, provider."""
    return {
        "project": project,
        "stack": stack,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "custom": r.custom,
                "id": r.id,
                "parent": r.parent,
                "dependencies": list(r.dependencies),
                "propertyDependencies": {k: list(v) for k, v in r.property_dependencies.items()},
                "protect": r.protect,
                "provider": r.provider,
                "deleteBeforeReplace": r.delete_before_replace,
                "additionalSecretOutputs": list(r.additional_secret_outputs),
                "aliases": list(r.aliases),
                "inputs": r.inputs,
            }
            for r in records
        ],
    }


class SourceLocator:
    """Finds the line of the program that constructs a resource type, so code scanning pins alerts to code.

    The mock engine keeps no stack traces, so this matches `Class(` / `module.Class(` calls in the program's own
    Python files; when nothing matches, the alert points at the stack's config file.
    """

    SKIP: ClassVar[frozenset[str]] = frozenset(
        {".venv", "venv", ".git", "node_modules", "__pycache__", "tests", "out", "build", "policy"}
    )

    def __init__(self, program_dir: Path, stack: str, base: Path) -> None:
        self.base = base.resolve()
        self.program_dir = program_dir.resolve()
        self.stack = stack
        self.fallback = self._relative(self.program_dir / f"Pulumi.{stack}.yaml")
        self._files: list[tuple[str, list[str]]] = []
        main = self.program_dir / "__main__.py"
        candidates = [main, *sorted(p for p in self.program_dir.rglob("*.py") if p != main)]
        for path in candidates[:400]:
            if path.is_file() and not self.SKIP & set(path.relative_to(self.program_dir).parts[:-1]):
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                self._files.append((self._relative(path), lines))
        self._cache: dict[str, tuple[str, int]] = {}

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.base).as_posix()
        except ValueError:  # a program outside the repository: an absolute file URI
            return path.resolve().as_uri()

    def locate(self, resource_type: str) -> tuple[str, int]:
        if resource_type not in self._cache:
            self._cache[resource_type] = self._search(resource_type)
        return self._cache[resource_type]

    def _search(self, resource_type: str) -> tuple[str, int]:
        parts = resource_type.split(":")
        if len(parts) != 3 or resource_type.startswith("pulumi:"):
            return self.fallback, 1
        module, cls = parts[1].split("/")[0].split(".")[0], parts[2]
        qualified = re.compile(rf"\b{re.escape(module)}\.{re.escape(cls)}\(")
        bare = re.compile(rf"(?<![\w.]){re.escape(cls)}\(|\.{re.escape(cls)}\(")
        for pattern in (qualified, bare):
            for rel, lines in self._files:
                for number, line in enumerate(lines, start=1):
                    if pattern.search(line) and not line.lstrip().startswith(("class ", "def ", "#")):
                        return rel, number
        return self.fallback, 1


def _artifact(uri: str) -> dict[str, str]:
    # Code scanning resolves relative URIs against the checkout root (%SRCROOT%).
    return {"uri": uri} if uri.startswith("file:") else {"uri": uri, "uriBaseId": "%SRCROOT%"}


def _rule_help(rule: Rule) -> tuple[str, str]:
    text = rule.description + (f"\n\nRemediation: {rule.remediation_steps}" if rule.remediation_steps else "")
    markdown = f"**{rule.display_name or rule.name}**\n\n{rule.description}"
    if rule.remediation_steps:
        markdown += f"\n\n**Remediation**\n\n{rule.remediation_steps}"
    if rule.framework:
        markdown += f"\n\nCompliance: {rule.framework}"
    return text, markdown


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    text, markdown = _rule_help(rule)
    entry: dict[str, Any] = {
        "id": rule.name,
        "name": rule.name,
        "shortDescription": {"text": rule.display_name or rule.name},
        "fullDescription": {"text": rule.description or rule.name},
        "help": {"text": text or rule.name, "markdown": markdown},
        "defaultConfiguration": {
            "level": SARIF_LEVEL.get(rule.enforcement_level, "warning"),
            "enabled": rule.enforcement_level != "disabled",
        },
        "properties": {
            "tags": sorted({"security", "pulumi-policy", *rule.tags}),
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "precision": "very-high",
            "enforcementLevel": rule.enforcement_level or "advisory",
            "severity": rule.severity or "unspecified",
            "framework": rule.framework,
            "remediationSteps": rule.remediation_steps,
        },
    }
    if rule.url:
        entry["helpUri"] = rule.url
    return entry


def sarif_document(
    pack: str, version: str, rules: Sequence[Rule], findings: Sequence[Finding], locator: SourceLocator
) -> dict[str, Any]:
    """SARIF 2.1.0 that GitHub code scanning accepts: rules with help, results with file and URN locations."""
    known = {r.name: r for r in rules}
    for f in findings:  # a violation of a rule the pack did not describe still needs a rule entry
        known.setdefault(f.rule, Rule(f.rule, f.description, f.enforcement_level, f.severity, f.remediation_steps))
    ordered = list(known.values())
    index = {r.name: i for i, r in enumerate(ordered)}
    results = []
    for f in findings:
        uri, line = locator.locate(f.resource_type) if f.urn else (locator.fallback, 1)
        text = f.message or f.description or f.rule
        if f.urn:
            text = f"{text} (resource {f.resource_name}, {f.resource_type})"
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": SARIF_LEVEL.get(f.enforcement_level, "warning"),
            "message": {"text": text},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(uri),
                        "region": {"startLine": line},
                    },
                    "logicalLocations": [
                        {"name": f.resource_name or "stack", "fullyQualifiedName": f.urn or "stack", "kind": "resource"}
                    ],
                }
            ],
            # One alert per rule and resource: many resources built on one line must not collapse into one.
            "partialFingerprints": {
                "primaryLocationLineHash": hashlib.sha256(f"{f.rule}\0{f.urn}".encode()).hexdigest()[:32] + ":1"
            },
            "properties": {
                "urn": f.urn,
                "resourceType": f.resource_type,
                "enforcementLevel": f.enforcement_level,
                "severity": f.severity or "unspecified",
                "remediationSteps": f.remediation_steps,
            },
        }
        results.append(result)
    driver: dict[str, Any] = {
        "name": pack or "pulumi-policy",
        "informationUri": "https://www.pulumi.com/docs/iac/using-pulumi/crossguard/",
        "rules": [_sarif_rule(r) for r in ordered],
    }
    if version:
        driver["version"] = version
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                # The category lets code scanning keep one set of alerts per stack.
                "automationDetails": {"id": f"pulumi-offline-preview/{locator.stack}/"},
                "results": results,
            }
        ],
    }
