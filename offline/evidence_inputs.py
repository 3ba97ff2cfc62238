"""What the evidence pack reads, all of it written by `make preview`/`make scan` or checked in beside the program.

Nothing here runs the program, the pack or Checkov: a missing output is an error that says which command writes it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from scan.checkov import CheckovError, Finding, read_findings
from scan.waivers import Waiver, WaiverFileError, load_waivers

if TYPE_CHECKING:
    from configuration.settings import Settings

FRAMEWORKS = ("arm", "kubernetes")


class EvidenceError(Exception):
    """An input is missing or malformed; the message is one sentence naming the file and what to run."""


@dataclass(frozen=True, kw_only=True)
class Paths:
    """Where each input lives: the preview and scan outputs under `out`, the reviewed files in `program`."""

    stack: str
    out: Path = Path("out")
    program: Path = Path(__file__).resolve().parent.parent

    @property
    def preview(self) -> Path:
        return self.out / self.stack

    @property
    def policy_json(self) -> Path:
        return self.preview / "policy.json"

    @property
    def policy_sarif(self) -> Path:
        return self.preview / "policy.sarif"

    @property
    def resources_json(self) -> Path:
        return self.preview / "resources.json"

    def checkov_json(self, framework: str) -> Path:
        return self.out / "scan" / self.stack / f"checkov-{framework}" / "results_json.json"

    @property
    def scan_report(self) -> Path:
        return self.out / "scan" / "report.md"

    @property
    def waivers(self) -> Path:
        return self.program / "scan" / "waivers.yaml"

    @property
    def policy_config(self) -> Path:
        return self.program / "policy" / "config" / f"{self.stack}.json"

    @property
    def stack_file(self) -> Path:
        return self.program / f"Pulumi.{self.stack}.yaml"

    @property
    def pack_file(self) -> Path:
        return self.program / "policy" / "PulumiPolicy.yaml"


@dataclass(frozen=True, kw_only=True)
class StackFacts:
    """What the stack file decides that the evidence reports: the options that switch contract entries on, its
    egress, its production guardrail overrides and the data accounts it reaches but does not own."""

    conditions: frozenset[str] = frozenset()
    # The TES generation the stack runs (configuration/settings.py Generation): which contracts the views derive from.
    generation: str = "tes6"
    # The reduced-assurance generation's weakenings a non-production stack runs without an override (each is warned).
    weakenings: Mapping[str, str] = field(default_factory=dict)
    image_build: bool = False
    egress: str = ""
    guardrail_overrides: Mapping[str, str] = field(default_factory=dict)
    data_accounts: tuple[str, ...] = ()
    # What the stack runs past its support end, or within the retirement lead time (offline/retirement.py rows, as
    # of the day the pack is written): accepted ones carry their reason and review date in `what`.
    retirements: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Inputs:
    stack: str
    policy: Mapping[str, Any]  # out/<stack>/policy.json
    pack_version: str
    policy_config: Mapping[str, Any]  # policy/config/<stack>.json
    resources: Sequence[Mapping[str, Any]]  # out/<stack>/resources.json "resources"
    findings: Sequence[Finding]  # Checkov, both frameworks, this stack
    waivers: Sequence[Waiver]  # scan/waivers.yaml
    checkov_version: str
    facts: StackFacts
    files: Sequence[Path] = ()  # every file read, hashed into the pack


def _json(path: Path, run: str) -> Any:
    if not path.is_file():
        raise EvidenceError(f"{path} not found: run `{run}` first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}): run `{run}` again") from None


def load_policy(path: Path, stack: str) -> dict[str, Any]:
    document = _json(path, f"make preview STACK={stack}")
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise EvidenceError(f"{path} has no `rules` list: run `make preview STACK={stack}` again")
    if not all(isinstance(r, dict) and isinstance(r.get("evaluated"), int) for r in document["rules"]):
        raise EvidenceError(f"{path} records no per-rule `evaluated` counts: rerun `make preview STACK={stack}`")
    return document


def load_findings(paths: Paths) -> list[Finding]:
    findings: list[Finding] = []
    for framework in FRAMEWORKS:
        report = paths.checkov_json(framework)
        if not report.is_file():
            raise EvidenceError(f"{report} not found: run `make scan` first")
        try:
            findings += read_findings(report, paths.stack, framework)
        except (CheckovError, json.JSONDecodeError, KeyError) as exc:
            raise EvidenceError(f"{report} cannot be read ({exc}): run `make scan` again") from None
    return findings


def pack_version(paths: Paths) -> str:
    """The version the preview recorded in its SARIF (the pack that judged), else the checked-in PulumiPolicy.yaml."""
    try:
        sarif = json.loads(paths.policy_sarif.read_text(encoding="utf-8"))
        version = sarif["runs"][0]["tool"]["driver"].get("version")
        if isinstance(version, str) and version:
            return version
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        pass
    try:
        document = yaml.safe_load(paths.pack_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    return str(document.get("version") or "") if isinstance(document, dict) else ""


def checkov_version(report: Path) -> str:
    """The version out/scan/report.md names ("Checkov 3.3.30 on the ARM template ..."); "" when absent."""
    try:
        match = re.search(r"^Checkov (\S+) on ", report.read_text(encoding="utf-8"), re.M)
    except OSError:
        return ""
    return match.group(1) if match else ""


def load_policy_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise EvidenceError(f"{path} is not valid JSON or YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict):
        raise EvidenceError(f"{path} must be an object keyed by policy name")
    return document


def stack_facts(paths: Paths) -> StackFacts:
    """The stack file read by the program's own parser, so the evidence and the deployment agree on every value."""
    from configuration.reader import PROJECT, ConfigError
    from configuration.stack import parse_settings
    from offline.stackconfig import StackConfigError, load_stack_config

    try:
        config = load_stack_config(paths.program, paths.stack)
        raw: dict[str, Any] = {}
        for full_key, value in config.values.items():
            namespace, _, key = full_key.partition(":")
            if namespace == PROJECT:
                raw[key] = json.loads(value) if value[:1] in ("{", "[") else value
        secret_keys = frozenset(k.partition(":")[2] for k in config.secret_keys)
        settings = parse_settings(
            raw, stack=paths.stack, secret_keys=secret_keys, lock_path=paths.program / "images.lock.json"
        )
    except (StackConfigError, ConfigError, json.JSONDecodeError) as exc:
        raise EvidenceError(f"{paths.stack_file}: {' '.join(str(exc).split())}") from None
    from components.contracts.derive import stack_conditions

    return StackFacts(
        # As __main__.py decides them.
        conditions=stack_conditions(
            generation=settings.generation,
            shared_key_access=settings.storage_shared_key_access,
            image_scanner=settings.image_scanner is not None,
        ),
        generation=settings.generation,
        weakenings=dict(settings.unacknowledged_weakenings),
        # As __main__.py decides it for the firewall allow-list.
        image_build=settings.image_build.enabled and bool(settings.images.built()),
        egress=settings.network.egress,
        guardrail_overrides=dict(settings.guardrail_overrides),
        data_accounts=tuple(account.name for account in settings.data_storage_accounts),
        retirements=retirements_in_force(paths.stack, settings),
    )


def retirements_in_force(
    stack: str, settings: Settings, today: datetime.date | None = None
) -> tuple[dict[str, Any], ...]:
    """The retirement check's rows for this stack that a reviewer must see: past or near their end, accepted or not."""
    from offline import retirement

    day = today or datetime.datetime.now(datetime.UTC).date()
    rows = retirement.check([stack], today=day, load=lambda _stack: settings)
    return tuple(
        {
            "kind": row.use.kind,
            "value": row.use.value,
            "status": row.status,
            "ends": row.ends.isoformat() if row.ends else None,
            "what": row.what,
            "source": row.source,
        }
        for row in rows
        if row.status in ("accepted", "retired", "due")
    )


def load_inputs(paths: Paths) -> Inputs:
    """Every input of the pack, or an EvidenceError naming the first one missing and the command that writes it."""
    policy = load_policy(paths.policy_json, paths.stack)
    resources = _json(paths.resources_json, f"make preview STACK={paths.stack}")
    findings = load_findings(paths)
    try:
        waivers = load_waivers(paths.waivers)
    except (OSError, WaiverFileError, yaml.YAMLError) as exc:
        raise EvidenceError(f"{paths.waivers}: {' '.join(str(exc).split())}") from None
    files = [paths.policy_json, paths.resources_json, *(paths.checkov_json(f) for f in FRAMEWORKS), paths.waivers]
    files += [p for p in (paths.scan_report, paths.policy_config, paths.stack_file) if p.is_file()]
    return Inputs(
        stack=paths.stack,
        policy=policy,
        pack_version=pack_version(paths),
        policy_config=load_policy_config(paths.policy_config),
        resources=list(resources.get("resources", [])) if isinstance(resources, dict) else [],
        findings=findings,
        waivers=waivers,
        checkov_version=checkov_version(paths.scan_report),
        facts=stack_facts(paths),
        files=files,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
