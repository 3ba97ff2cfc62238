"""`python -m offline diff`: the stateful resources a branch would replace or delete, before `pulumi up` does.

Compares two `resources.json` written by `python -m offline preview`: the base (the main branch) and the head (this
branch). A resource is lost when its URN is in the base but not in the head and no head resource aliases it
(delete), or when an input changes that Azure cannot change in place (replace). Each finding names the stack config
keys whose change explains it, from the base and head stack files.

Exit codes: 0 nothing protected is lost, 1 a resource protected in the base would be replaced or deleted (`pulumi up`
would stop at it; `--strict`: any stateful resource), 2 a usage or file error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import yaml

from offline.common import REPO_ROOT, CliError, newer_inputs, one_line
from offline.diff_rules import DELETE_CONFIG, DELETE_CONFIG_DEFAULT, EFFECTS, REPLACE_ON_CHANGE, STATEFUL_TYPES, Effect

NO_CONFIG_KEY = "(no config key: code change)"
NO_BASE_CONFIG = "(config not compared: no --base-config)"


@dataclass(frozen=True)
class Change:
    path: str
    base: Any
    head: Any
    effect: Effect
    why: str
    # Set when the input itself is unchanged but names a parent that is replaced.
    parent: str = ""


@dataclass(frozen=True)
class Finding:
    urn: str
    type: str
    name: str
    action: Literal["replace", "delete"]
    protected: bool
    changes: tuple[Change, ...] = ()
    config_keys: tuple[str, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "action": self.action,
            "protected": self.protected,
            "holds": STATEFUL_TYPES.get(self.type, "protected in the base"),
            "changes": [
                {"input": c.path, "base": c.base, "head": c.head, "effect": c.effect, "why": c.why, "parent": c.parent}
                for c in self.changes
            ],
            "configKeys": list(self.config_keys),
            "note": self.note,
        }


@dataclass(frozen=True)
class ConfigChange:
    key: str
    base: Any
    head: Any


@dataclass(frozen=True)
class DiffResult:
    stack: str
    findings: tuple[Finding, ...]
    config_changes: tuple[ConfigChange, ...] | None  # None: the base config was not given
    strict: bool = False

    @property
    def protected(self) -> list[Finding]:
        return [f for f in self.findings if f.protected]

    @property
    def unprotected(self) -> list[Finding]:
        return [f for f in self.findings if not f.protected]

    @property
    def exit_code(self) -> int:
        return 1 if self.protected or (self.strict and self.findings) else 0


@dataclass(frozen=True, kw_only=True)
class DiffOptions:
    stack: str
    base: Path | None = None
    head: Path | None = None
    base_config: Path | None = None
    head_config: Path | None = None
    format: str = "text"
    strict: bool = False
    # The checkout the head preview was made from: its stack file, and the sources a default head must be newer than.
    program: Path = REPO_ROOT

    @property
    def base_path(self) -> Path:
        return self.base if self.base is not None else Path("out") / "base" / self.stack / "resources.json"

    @property
    def head_path(self) -> Path:
        return self.head if self.head is not None else Path("out") / self.stack / "resources.json"

    @property
    def base_config_path(self) -> Path | None:
        if self.base_config is not None:
            return self.base_config
        beside = self.base_path.parent / f"Pulumi.{self.stack}.yaml"
        return beside if beside.is_file() else None

    @property
    def head_config_path(self) -> Path:
        return self.head_config if self.head_config is not None else self.program / f"Pulumi.{self.stack}.yaml"


# ---- reading -------------------------------------------------------------------------------------------------------


def _read(path: Path, option: str, parse: Callable[[str], Any], kind: str, hint: str = "") -> Any:
    """Parse a file named on the command line; every failure is one CliError naming the option and the path."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{option} {path}: no such file{hint}") from None
    except OSError as exc:
        raise CliError(f"{option} {path}: cannot read it ({exc.strerror})") from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CliError(f"{option} {path}: not valid {kind}: {one_line(str(exc))}") from None


def load_resources(path: Path, option: str, hint: str = "") -> dict[str, Any]:
    document = _read(path, option, json.loads, "JSON", hint)
    resources = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(resources, list):
        raise CliError(f"{option} {path}: not a resources.json from `python -m offline preview` (no resources list)")
    for index, record in enumerate(resources):
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("urn", "type", "name")):
            raise CliError(f"{option} {path}: resources[{index}] has no urn, type and name")
    return document


def load_config(path: Path, option: str) -> dict[str, Any]:
    """The stack file's `config:` mapping, keys as written ("project:key")."""
    document = _read(path, option, lambda text: yaml.safe_load(text) or {}, "YAML")
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise CliError(f"{option} {path}: no 'config' mapping (a Pulumi.<stack>.yaml stack file)")
    return config


def flatten_config(config: Mapping[str, Any], project: str) -> dict[str, Any]:
    """Leaves by dotted key; the project's own namespace is dropped ("coa-lockdown:names" -> "names.*")."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and set(value) == {"secure"}:
            flat[prefix] = {"secure": value["secure"]}
        elif isinstance(value, dict) and value:
            for key, child in value.items():
                walk(f"{prefix}.{key}", child)
        else:
            flat[prefix] = value

    for key, value in config.items():
        name = str(key)
        walk(name.removeprefix(f"{project}:"), value)
    return flat


def config_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[ConfigChange, ...]:
    missing = object()
    changes = []
    for key in sorted(set(base) | set(head)):
        old, new = base.get(key, missing), head.get(key, missing)
        if old != new:
            changes.append(ConfigChange(key, None if old is missing else old, None if new is missing else new))
    return tuple(changes)


# ---- comparing -----------------------------------------------------------------------------------------------------


def input_at(inputs: Mapping[str, Any], path: str) -> Any:
    node: Any = inputs
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _same(path: str, old: Any, new: Any) -> bool:
    if path == "location" and isinstance(old, str) and isinstance(new, str):
        # azure-native compares top-level locations without case or spaces ("East US 2" == "eastus2").
        return old.replace(" ", "").lower() == new.replace(" ", "").lower()
    return old == new


def _inputs(record: Mapping[str, Any]) -> Mapping[str, Any]:
    inputs = record.get("inputs")
    return inputs if isinstance(inputs, dict) else {}


def _is_stateful(record: Mapping[str, Any]) -> bool:
    return bool(record.get("custom")) and (record.get("type") in STATEFUL_TYPES or bool(record.get("protect")))


def _with_name(urn: str, name: str) -> str:
    head, sep, _ = urn.rpartition("::")
    return f"{head}{sep}{name}" if sep else urn


def _aliased(head: Iterable[Mapping[str, Any]]) -> set[str]:
    """URNs the head takes over: full alias URNs, or a bare name meaning the same type and parent."""
    covered: set[str] = set()
    for record in head:
        for alias in record.get("aliases") or ():
            if not isinstance(alias, str) or not alias:
                continue  # azure-native's type aliases arrive without a name
            covered.add(alias if alias.startswith("urn:pulumi:") else _with_name(str(record["urn"]), alias))
    return covered


def _identity(token: str, inputs: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The inputs that make up the resource's ARM id, or None when its own name is not an input (autonamed)."""
    rules = [r for r in REPLACE_ON_CHANGE.get(token, ()) if r.role]
    values = tuple(input_at(inputs, r.path) for r in rules)
    named = any(r.role == "name" and v is not None for r, v in zip(rules, values, strict=True))
    return values if named else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _appears(change: ConfigChange, base_text: str, head_text: str) -> bool:
    """The changed key's old value is in the base's input or its new value in the head's (values of 3+ chars)."""

    def usable(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None
        text = str(value)
        return text if len(text) >= 3 else None

    old, new = usable(change.base), usable(change.head)
    return bool((old and old in base_text) or (new and new in head_text))


def _matches(key: str, candidate: str) -> bool:
    return key == candidate or key.startswith(candidate + ".") or candidate.startswith(key + ".")


def attribute(
    candidates: Sequence[str], changes: tuple[ConfigChange, ...] | None, base_text: str, head_text: str
) -> tuple[str, ...]:
    """Changed config keys behind a finding: the table's candidates that changed, then any changed key whose value
    shows up in the changed input."""
    if not changes:
        return ()
    found = [c.key for cand in candidates for c in changes if _matches(c.key, cand)]
    found += [c.key for c in changes if _appears(c, base_text, head_text)]
    return tuple(dict.fromkeys(found))


def compare(
    base_doc: Mapping[str, Any],
    head_doc: Mapping[str, Any],
    changes: tuple[ConfigChange, ...] | None,
) -> list[Finding]:
    base_records: dict[str, Mapping[str, Any]] = {str(r["urn"]): r for r in base_doc["resources"]}
    head_list: list[Mapping[str, Any]] = list(head_doc["resources"])
    head_records = {str(r["urn"]): r for r in head_list}
    covered = _aliased(head_list)
    no_key = NO_CONFIG_KEY if changes is not None else NO_BASE_CONFIG
    findings: dict[str, Finding] = {}

    for urn, old in base_records.items():
        if not _is_stateful(old):
            continue
        token = str(old["type"])
        new = head_records.get(urn)
        if new is None:
            if urn in covered:
                continue
            findings[urn] = _deleted(old, head_list, base_records, changes, no_key)
            continue
        lost: list[Change] = []
        for rule in REPLACE_ON_CHANGE.get(token, ()):
            before, after = input_at(_inputs(old), rule.path), input_at(_inputs(new), rule.path)
            if not _same(rule.path, before, after):
                lost.append(Change(rule.path, before, after, rule.effect, rule.why))
        if lost:
            rules = {r.path: r for r in REPLACE_ON_CHANGE[token]}
            candidates = [key for c in lost for key in rules[c.path].config]
            base_text = " ".join(_text(c.base) for c in lost)
            head_text = " ".join(_text(c.head) for c in lost)
            keys = attribute(candidates, changes, base_text, head_text)
            findings[urn] = Finding(
                urn=urn,
                type=token,
                name=str(old["name"]),
                action="replace",
                protected=bool(old.get("protect")),
                changes=tuple(lost),
                config_keys=keys,
                note="" if keys else no_key,
            )

    _cascade(findings, base_records, head_records)
    order = list(STATEFUL_TYPES)
    return sorted(
        findings.values(),
        key=lambda f: (
            not f.protected,
            any(c.parent for c in f.changes),
            order.index(f.type) if f.type in order else len(order),
            f.name,
        ),
    )


def _deleted(
    old: Mapping[str, Any],
    head: Sequence[Mapping[str, Any]],
    base_records: Mapping[str, Mapping[str, Any]],
    changes: tuple[ConfigChange, ...] | None,
    no_key: str,
) -> Finding:
    token, urn = str(old["type"]), str(old["urn"])
    note = ""
    identity = _identity(token, _inputs(old))
    if identity is not None:
        # The same ARM resource under a new URN (a rename or a new parent): Pulumi deletes the old one and creates
        # (or fails to create) the new one; an alias on the new one keeps it.
        moved = [
            r
            for r in head
            if r.get("type") == token and r["urn"] not in base_records and _identity(token, _inputs(r)) == identity
        ]
        if moved:
            # The offline record keeps aliases given as a URN or a name, not parent-only alias specs.
            note = f"re-created as {moved[0]['urn']}: add aliases=[{urn!r}] to it to keep the resource"
    base_text = " ".join([urn, _text(_inputs(old))])
    keys = attribute(DELETE_CONFIG.get(token, DELETE_CONFIG_DEFAULT), changes, base_text, "")
    if not keys and not note:
        note = no_key
    return Finding(
        urn=urn,
        type=token,
        name=str(old["name"]),
        action="delete",
        protected=bool(old.get("protect")),
        config_keys=keys,
        note=note,
    )


def _cascade(
    findings: dict[str, Finding],
    base_records: Mapping[str, Mapping[str, Any]],
    head_records: Mapping[str, Mapping[str, Any]],
) -> None:
    """A stateful resource inside a replaced one (its group, account, server or vault) goes with it, even when its
    own inputs do not change: Azure deletes children with their parent."""
    grew = True
    while grew:
        grew = False
        replaced = {urn for urn, f in findings.items() if f.action == "replace"}
        for urn, new in head_records.items():
            old = base_records.get(urn)
            if urn in findings or old is None or not _is_stateful(old):
                continue
            dependencies: Mapping[str, Any] = new.get("propertyDependencies") or {}
            for rule in REPLACE_ON_CHANGE.get(str(old["type"]), ()):
                parents = [p for p in dependencies.get(rule.path.split(".")[0], ()) if p in replaced]
                if rule.role != "scope" or not parents:
                    continue
                parent = findings[parents[0]]
                value = input_at(_inputs(new), rule.path)
                findings[urn] = Finding(
                    urn=urn,
                    type=str(old["type"]),
                    name=str(old["name"]),
                    action="replace",
                    protected=bool(old.get("protect")),
                    changes=(Change(rule.path, value, value, "replace", rule.why, parent=parent.name),),
                    config_keys=parent.config_keys,
                    note=parent.note,
                )
                grew = True
                break


def check_fresh(options: DiffOptions) -> None:
    """A guard against data loss never judges a preview older than the code: the default head (out/<stack>, which
    `make preview` and `make diff` write) must be newer than every file the program is made from."""
    if options.head is not None or not options.head_path.is_file():
        return
    newer = newer_inputs(options.head_path, options.program, options.stack)
    if newer:
        changed = newer[0].relative_to(options.program)
        more = f" and {len(newer) - 1} more file{'s' if len(newer) > 2 else ''}" if len(newer) > 1 else ""
        raise CliError(
            f"--head {options.head_path}: older than {changed}{more}, so it does not show this checkout; "
            f"`make diff STACK={options.stack}` previews both sides itself (or re-run `make preview STACK={options.stack}`)"
        )


def diff(options: DiffOptions) -> DiffResult:
    base_doc = load_resources(options.base_path, "--base", " (run the offline preview on the base branch first)")
    check_fresh(options)
    head_doc = load_resources(
        options.head_path, "--head", f" (run `make diff STACK={options.stack}`, which previews both sides)"
    )
    for option, path, doc in (("--base", options.base_path, base_doc), ("--head", options.head_path, head_doc)):
        if doc.get("stack") not in (None, options.stack):
            raise CliError(f"{option} {path}: is a preview of stack '{doc.get('stack')}', not '{options.stack}'")
    if base_doc.get("project") != head_doc.get("project"):
        raise CliError(
            f"--base {options.base_path}: project '{base_doc.get('project')}' is not the head's "
            f"'{head_doc.get('project')}'; every URN would differ"
        )
    project = str(head_doc.get("project") or "")
    head_config = flatten_config(load_config(options.head_config_path, "--head-config"), project)
    base_config_path = options.base_config_path
    changes = (
        config_changes(flatten_config(load_config(base_config_path, "--base-config"), project), head_config)
        if base_config_path is not None
        else None
    )
    return DiffResult(
        stack=options.stack,
        findings=tuple(compare(base_doc, head_doc, changes)),
        config_changes=changes,
        strict=options.strict,
    )


# ---- reporting -----------------------------------------------------------------------------------------------------


def _show(value: Any, limit: int = 80) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "[secret]"
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _masked(value: Any) -> Any:
    return "[secret]" if isinstance(value, dict) and set(value) == {"secure"} else value


def _short_type(token: str) -> str:
    return token.removeprefix("azure-native:")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _verdict(result: DiffResult) -> str:
    protected, unprotected = len(result.protected), len(result.unprotected)
    if protected:
        also = f" (and {unprotected} unprotected)" if unprotected else ""
        return (
            f"FAILED: {_count(protected, 'protected stateful resource')} would be replaced or deleted{also}; `pulumi up` "
            "refuses to replace or delete a protected resource. Revert the config change, or add an alias, or "
            "unprotect and migrate the data on purpose."
        )
    if unprotected and result.strict:
        return f"FAILED (--strict): {_count(unprotected, 'unprotected stateful resource')} would be replaced or deleted"
    if unprotected:
        return (
            f"WARNING: {_count(unprotected, 'unprotected stateful resource')} would be replaced or deleted and their data "
            "lost (exit 0; --strict fails on these)"
        )
    return "PASSED: no stateful resource would be replaced or deleted"


def _keys(finding: Finding) -> str:
    return ", ".join(finding.config_keys) if finding.config_keys else finding.note


def render_text(result: DiffResult, base: Path, head: Path) -> str:
    lines = [f"Stateful resources of stack {result.stack} that would be replaced or deleted ({base} -> {head})"]
    if result.config_changes is None:
        lines.append(f"Config changes: {NO_BASE_CONFIG}")
    elif result.config_changes:
        lines.append("Config changes:")
        lines += [f"    {c.key}: {_show(c.base)} -> {_show(c.head)}" for c in result.config_changes]
    else:
        lines.append("Config changes: none")
    for f in result.findings:
        lines.append("")
        lines.append(
            f"{f.action.upper():8} {f.name} ({_short_type(f.type)}){'  PROTECTED' if f.protected else ''}"
            f"  holds {STATEFUL_TYPES.get(f.type, 'data (protected in the base)')}"
        )
        lines += [
            f"    {c.path}: inside {c.parent}, which is replaced: Azure deletes it with its parent"
            if c.parent
            else f"    {c.path}: {_show(c.base)} -> {_show(c.head)}: {c.why}; {EFFECTS[c.effect]}"
            for c in f.changes
        ]
        if f.action == "delete":
            lines.append("    no longer in the program, and no resource aliases its URN")
        lines.append(f"    config: {', '.join(f.config_keys)}" if f.config_keys else f"    {f.note}")
        if f.config_keys and f.note:
            lines.append(f"    {f.note}")
    lines += ["", _verdict(result)]
    return "\n".join(lines)


def render_markdown(result: DiffResult) -> str:
    lines = [f"### Stateful resources replaced or deleted: stack `{result.stack}`", ""]
    if result.findings:
        lines += ["| Action | Resource | Type | Protected | Why | Config key |", "|---|---|---|---|---|---|"]
        for f in result.findings:
            why = "; ".join(
                f"inside `{c.parent}`, which is replaced"
                if c.parent
                else f"`{c.path}` {_show(c.base, 40)} → {_show(c.head, 40)} ({c.effect})"
                for c in f.changes
            )
            if f.action == "delete":
                why = "removed from the program, no alias" + (f" ({f.note})" if f.config_keys and f.note else "")
            cells = [f.action, f"`{f.name}`", _short_type(f.type), "**yes**" if f.protected else "no", why, _keys(f)]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        lines.append("")
    if result.config_changes:
        lines.append("Config changes: " + ", ".join(f"`{c.key}`" for c in result.config_changes))
        lines.append("")
    lines.append(_verdict(result))
    return "\n".join(lines)


def render_json(result: DiffResult, base: Path, head: Path) -> str:
    document = {
        "stack": result.stack,
        "base": str(base),
        "head": str(head),
        "configChanges": None
        if result.config_changes is None
        else [{"key": c.key, "base": _masked(c.base), "head": _masked(c.head)} for c in result.config_changes],
        "findings": [f.to_json() for f in result.findings],
        "summary": {"protected": len(result.protected), "unprotected": len(result.unprotected)},
        "passed": result.exit_code == 0,
    }
    return json.dumps(document, indent=2, default=str)


def run(options: DiffOptions, stdout: TextIO) -> int:
    result = diff(options)
    if options.format == "json":
        text = render_json(result, options.base_path, options.head_path)
    elif options.format == "markdown":
        text = render_markdown(result)
    else:
        text = render_text(result, options.base_path, options.head_path)
    stdout.write(text + "\n")
    return result.exit_code
