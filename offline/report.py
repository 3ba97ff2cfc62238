"""Policy results as text, JSON and SARIF 2.1.0, and the resource graph as JSON.

Policy metadata and violations arrive from the analyzer in whatever shape it keeps them (its dataclasses, the
gRPC messages or pulumi_policy objects); `Rule` and `Finding` read any of those by field name.

Coverage: when the analyzer counted what each rule judged (`PolicyPackAnalyzer.evaluated`), every rule carries
`evaluated` (resources judged; None when unknown), and the text, policy.json and SARIF say which rules judged
nothing, so "97 rules, no violations" cannot hide rules that never looked at anything.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
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
    # Resources the rule judged in this run; None when the analyzer did not count.
    evaluated: int | None = None

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


def with_coverage(rules: Sequence[Rule], evaluated: Mapping[str, int] | None) -> list[Rule]:
    """`rules` with the analyzer's per-rule counts (a disabled rule, absent from the counts, judged nothing)."""
    if not evaluated:
        return list(rules)
    return [replace(r, evaluated=evaluated.get(r.name, 0)) for r in rules]


def idle_rules(rules: Sequence[Rule]) -> list[str]:
    """Rules that judged no resource (counted runs only)."""
    return sorted(r.name for r in rules if r.evaluated == 0)


def _coverage_lines(rules: Sequence[Rule]) -> list[str]:
    if not rules or any(r.evaluated is None for r in rules):
        return []
    idle = idle_rules(rules)
    lines = [f"  Coverage: {len(rules) - len(idle)} of {len(rules)} rules judged at least one resource."]
    return lines + ([f"  Rules that judged no resource: {', '.join(idle)}"] if idle else [])


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
    coverage = _coverage_lines(rules)
    if not findings:
        return "\n".join([f"Policy pack {pack}: {len(rules)} rules, no violations.", *coverage])
    head = ", ".join(f"{n} {level}" for level, n in tally.items() if n)
    lines = [f"Policy pack {pack}: {len(findings)} violations ({head})", *coverage]
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
    document: dict[str, Any] = {
        "policyPack": pack,
        "passed": not any(f.enforcement_level == "mandatory" for f in findings),
        "counts": counts(findings),
        "rules": [asdict(r) for r in rules],
        "violations": [asdict(f) for f in findings],
    }
    if rules and all(r.evaluated is not None for r in rules):
        document["coverage"] = {
            "evaluated": {r.name: r.evaluated for r in rules},
            "idleRules": idle_rules(rules),
        }
    return document


def resources_document(project: str, stack: str, records: Sequence[ResourceRecord]) -> dict[str, Any]:
    """Every resource with its inputs and the edges the engine knows: parent, dependencies, provider.

    The same program gives the same document: the engine registers resources and lists dependencies in whatever
    order the program's outputs resolve, so records are sorted by URN, dependency lists sorted, and every
    mapping's keys sorted; lists inside inputs keep their order, which is the program's.
    """
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
                "dependencies": sorted(r.dependencies),
                "propertyDependencies": {
                    k: sorted(r.property_dependencies[k]) for k in sorted(r.property_dependencies)
                },
                "protect": r.protect,
                "provider": r.provider,
                "deleteBeforeReplace": r.delete_before_replace,
                "additionalSecretOutputs": sorted(r.additional_secret_outputs),
                "aliases": sorted(r.aliases),
                "inputs": _sorted_keys(r.inputs),
            }
            for r in sorted(records, key=lambda r: (r.urn, r.type, r.name))
        ],
    }


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_sorted_keys(v) for v in value]
    return value


def resources_json(project: str, stack: str, records: Sequence[ResourceRecord]) -> str:
    """resources.json as `python -m offline preview` writes it: byte for byte the same for the same program."""
    return json.dumps(resources_document(project, stack, records), indent=2, default=str) + "\n"


@dataclass(frozen=True)
class _Call:
    """One call in the program that may construct a resource: where it is, what it calls, the name it passes."""

    uri: str
    line: int
    # The callee as a dotted name, with the file's imports resolved ("pulumi_azure_native.storage.StorageAccount",
    # "components.storage.Storage"); as written when the file could not be parsed.
    callee: str
    # The first argument (the resource's logical name) as a pattern, e.g. f"{name}-st" -> `.*-st`; None when it
    # is neither a string nor an f-string.
    name: re.Pattern[str] | None
    # Characters the pattern fixes: of two patterns that match, the one fixing more is the better evidence.
    fixed: int


def _module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def _name_pattern(node: ast.expr | None) -> tuple[re.Pattern[str] | None, int]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.compile(re.escape(node.value)), len(node.value)
    if isinstance(node, ast.JoinedStr):
        pattern, fixed = "", 0
        for part in node.values:  # literal text, or a {placeholder} (FormattedValue) that may be anything
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                pattern, fixed = pattern + re.escape(part.value), fixed + len(part.value)
            else:
                pattern += ".*"
        return re.compile(pattern, re.DOTALL), fixed
    return None, 0


class _ProgramFile:
    """The calls and component types of one source file of the program."""

    def __init__(self, uri: str, module: str, text: str, *, package: str) -> None:
        self.uri = uri
        self.module = module
        self.package = package  # what `from . import x` is relative to
        self.calls: list[_Call] = []
        # Component types this file declares (`super().__init__("coa:storage:Storage", ...)` in a class),
        # each with the dotted name of its class.
        self.components: dict[str, str] = {}
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            self._scan_lines(text)
        else:
            self._read(tree)

    def _read(self, tree: ast.Module) -> None:
        package = self.package
        imports: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        imports[alias.asname] = alias.name
                    else:
                        head = alias.name.split(".")[0]
                        imports[head] = head
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".") if package else []
                    anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    imports[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for inner in ast.walk(node):
                    if (
                        isinstance(inner, ast.Call)
                        and isinstance(inner.func, ast.Attribute)
                        and inner.func.attr == "__init__"
                        and inner.args
                        and isinstance(inner.args[0], ast.Constant)
                        and isinstance(inner.args[0].value, str)
                        and inner.args[0].value.count(":") == 2
                    ):
                        self.components.setdefault(inner.args[0].value, f"{self.module}.{node.name}")
            if isinstance(node, ast.Call):
                written = _dotted(node.func)
                if not written:
                    continue
                head, _, rest = written.partition(".")
                resolved = imports.get(head, f"{self.module}.{head}" if not rest else head)
                callee = f"{resolved}.{rest}" if rest else resolved
                name_arg = (
                    node.args[0]
                    if node.args
                    else next((k.value for k in node.keywords if k.arg == "resource_name"), None)
                )
                pattern, fixed = _name_pattern(name_arg)
                self.calls.append(_Call(self.uri, node.lineno, callee, pattern, fixed))
        self.calls.sort(key=lambda call: call.line)  # ast.walk goes breadth first

    _BARE_CALL = re.compile(r"((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)\(")

    def _scan_lines(self, text: str) -> None:
        # A file that does not parse (being edited, or another Python version's syntax) still has its calls.
        for number, line in enumerate(text.splitlines(), start=1):
            if line.lstrip().startswith(("class ", "def ", "#")):
                continue
            for match in self._BARE_CALL.finditer(line):
                self.calls.append(_Call(self.uri, number, match.group(1), None, 0))


class SourceLocator:
    """Finds the line of the program that creates a resource, so code scanning pins alerts to code.

    The mock engine keeps no stack traces, so this reads the program's own Python files (the directories in SKIP,
    and any hidden one such as .venv, are never entered) and picks, among the calls that construct the
    resource's type, the one whose name argument matches the resource's name (f"{name}-st" matches
    "coa-prod-data-st"), preferring the file that declares the resource's parent component. Without such a
    call, the alert points at the stack's config file.
    """

    SKIP: ClassVar[frozenset[str]] = frozenset(
        {".venv", "venv", ".git", "node_modules", "__pycache__", "tests", "out", "build", "policy"}
    )
    # Bounds the reading of an unexpectedly large tree; counted after SKIP, so it never fills up with .venv.
    MAX_FILES: ClassVar[int] = 2000

    def __init__(self, program_dir: Path, stack: str, base: Path) -> None:
        self.base = base.resolve()
        self.program_dir = program_dir.resolve()
        self.stack = stack
        self.fallback = self._relative(self.program_dir / f"Pulumi.{stack}.yaml")
        self._files: list[_ProgramFile] = []
        for path in self._sources()[: self.MAX_FILES]:
            relative = path.relative_to(self.program_dir)
            module = "__main__" if relative == Path("__main__.py") else _module_name(relative)
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            text = path.read_text(encoding="utf-8", errors="replace")
            self._files.append(_ProgramFile(self._relative(path), module, text, package=package))
        self._components: dict[str, tuple[str, str]] = {}  # type -> (class dotted name, file uri)
        self._calls: dict[str, list[_Call]] = {}  # last segment of the callee -> calls, in file order
        for source in self._files:
            for token, cls in source.components.items():
                self._components.setdefault(token, (cls, source.uri))
            for call in source.calls:
                self._calls.setdefault(call.callee.rsplit(".", 1)[-1], []).append(call)
        self._cache: dict[tuple[str, str, str], tuple[str, int]] = {}

    def _sources(self) -> list[Path]:
        found: list[Path] = []
        for root, dirs, files in os.walk(self.program_dir):
            dirs[:] = sorted(d for d in dirs if d not in self.SKIP and not d.startswith("."))
            found += [Path(root) / f for f in sorted(files) if f.endswith(".py")]
        main = self.program_dir / "__main__.py"
        return sorted(found, key=lambda p: (p != main, p.relative_to(self.program_dir).as_posix()))

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.base).as_posix()
        except ValueError:  # a program outside the repository: an absolute file URI
            return path.resolve().as_uri()

    def locate(self, resource_type: str, urn: str = "", name: str = "") -> tuple[str, int]:
        """File (relative to `base`) and line of the call that creates the resource; the stack file, line 1,
        when no call in the program constructs its type."""
        parents = urn.split("::")[2].split("$")[:-1] if urn.count("::") >= 3 else []
        key = (resource_type, "$".join(parents), name)
        if key not in self._cache:
            self._cache[key] = self._search(resource_type, parents, name)
        return self._cache[key]

    def _expected(self, resource_type: str) -> tuple[str, str, str] | None:
        """(dotted class name, module qualifier, class) of what constructs `resource_type`."""
        parts = resource_type.split(":")
        if len(parts) != 3 or resource_type == "pulumi:pulumi:Stack":
            return None
        if resource_type in self._components:
            cls = self._components[resource_type][0]
            return cls, "", cls.rsplit(".", 1)[-1]
        package, module, cls = parts
        if package == "pulumi" and module == "providers":  # pulumi:providers:kubernetes -> pulumi_kubernetes.Provider
            return f"pulumi_{cls.replace('-', '_')}.Provider", "", "Provider"
        # kubernetes:helm.sh/v3:Release -> pulumi_kubernetes.helm.v3.Release; random:index/x:Y -> pulumi_random.Y
        segments = [] if module.startswith("index") else [s.split(".")[0] for s in module.split("/")]
        dotted = ".".join([f"pulumi_{package.replace('-', '_')}", *segments, cls])
        return dotted, segments[0] if segments else "", cls

    def _search(self, resource_type: str, parents: Sequence[str], name: str) -> tuple[str, int]:
        expected = self._expected(resource_type)
        if expected is None:
            return self.fallback, 1
        dotted, qualifier, cls = expected
        package = dotted.split(".", 1)[0]
        declaring = {self._components[p][1] for p in parents if p in self._components}
        parent_file = self._components[parents[-1]][1] if parents and parents[-1] in self._components else ""

        def tier(call: _Call) -> int:
            if call.callee == dotted:
                return 3
            if (qualifier and call.callee.endswith(f"{qualifier}.{cls}")) or call.callee.startswith(f"{package}."):
                return 2
            return 1

        def rank(call: _Call) -> tuple[int, int, int, int]:
            matched = 1 if call.name is None or not name else 2 if call.name.fullmatch(name) else 0
            in_parent = 2 if call.uri == parent_file else 1 if call.uri in declaring else 0
            return tier(call), matched, in_parent, call.fixed if matched == 2 else 0

        candidates = self._calls.get(cls, [])
        if not candidates:
            return self.fallback, 1
        # max() keeps the first of equal ranks: the earliest call in file order.
        best = max(candidates, key=rank)
        return best.uri, best.line


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
            # Tags naming the types a stack rule judges are coverage bookkeeping, not labels for code scanning.
            "tags": sorted({"security", "pulumi-policy", *(t for t in rule.tags if not t.startswith("subject:"))}),
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "precision": "very-high",
            "enforcementLevel": rule.enforcement_level or "advisory",
            "severity": rule.severity or "unspecified",
            "framework": rule.framework,
            "remediationSteps": rule.remediation_steps,
        },
    }
    if rule.evaluated is not None:
        entry["properties"]["evaluatedResources"] = rule.evaluated
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
        uri, line = locator.locate(f.resource_type, f.urn, f.resource_name) if f.urn else (locator.fallback, 1)
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
                **(
                    {"properties": {"rulesJudgingNoResource": idle_rules(rules)}}
                    if rules and all(r.evaluated is not None for r in rules)
                    else {}
                ),
            }
        ],
    }
