"""The reviewed waiver file: which failed Checkov findings are accepted, and why.

A waiver names a check, the framework it ran in, optionally the stacks and a glob over Checkov's resource
id, and the reason. `make scan` fails on a failed finding no waiver covers, and on a waiver that covers no
failed finding (stale: the risk it accepted is gone, or the pattern no longer matches and hides nothing).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scan.checkov import Finding

FRAMEWORKS = ("arm", "kubernetes")
CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
KEYS = {"check", "framework", "resource", "stacks", "reason", "fix"}
MIN_REASON = 40


class WaiverFileError(ValueError):
    """The waiver file is malformed; the message names the entry and the problem."""


@dataclass(frozen=True)
class Waiver:
    check: str
    framework: str
    reason: str
    resource: str = "*"
    stacks: tuple[str, ...] = ()
    # The change that would make the check pass, when one is wanted but not made yet.
    fix: str | None = None

    def applies_to(self, stack: str, framework: str) -> bool:
        return framework == self.framework and (not self.stacks or stack in self.stacks)

    def covers(self, finding: Finding) -> bool:
        return (
            not finding.passed
            and finding.check_id == self.check
            and self.applies_to(finding.stack, finding.framework)
            and fnmatch.fnmatchcase(finding.resource, self.resource)
        )

    def label(self) -> str:
        scope = f" [{', '.join(self.stacks)}]" if self.stacks else ""
        return f"{self.check} ({self.framework}) {self.resource}{scope}"


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise WaiverFileError(f"{where}: `{key}` must be a non-empty string")
    return " ".join(value.split())


def parse_waiver(entry: Any, where: str) -> Waiver:
    if not isinstance(entry, dict):
        raise WaiverFileError(f"{where}: expected a mapping, got {type(entry).__name__}")
    unknown = set(entry) - KEYS
    if unknown:
        raise WaiverFileError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(KEYS)})")
    check = _text(entry, "check", where)
    if not CHECK_ID.match(check):
        raise WaiverFileError(f"{where}: {check!r} is not a Checkov check id")
    framework = _text(entry, "framework", where)
    if framework not in FRAMEWORKS:
        raise WaiverFileError(f"{where}: framework {framework!r} is not one of {FRAMEWORKS}")
    reason = _text(entry, "reason", where)
    if len(reason) < MIN_REASON:
        raise WaiverFileError(f"{where}: the reason must explain the waiver (at least {MIN_REASON} characters)")
    stacks = entry.get("stacks", [])
    if not isinstance(stacks, list) or not all(isinstance(s, str) and s for s in stacks):
        raise WaiverFileError(f"{where}: `stacks` must be a list of stack names")
    return Waiver(
        check=check,
        framework=framework,
        reason=reason,
        resource=_text(entry, "resource", where) if "resource" in entry else "*",
        stacks=tuple(stacks),
        fix=_text(entry, "fix", where) if "fix" in entry else None,
    )


def load_waivers(path: Path) -> list[Waiver]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("waivers"), list):
        raise WaiverFileError(f"{path}: expected a top-level `waivers:` list")
    return [parse_waiver(entry, f"{path} waivers[{index}]") for index, entry in enumerate(document["waivers"])]


@dataclass(frozen=True)
class Verdict:
    waived: dict[Finding, Waiver]
    unwaived: list[Finding]
    stale: list[Waiver]

    @property
    def ok(self) -> bool:
        return not self.unwaived and not self.stale


def judge(findings: Sequence[Finding], waivers: Iterable[Waiver], scanned: Iterable[tuple[str, str]]) -> Verdict:
    """Match failed findings to waivers. `scanned` is the (stack, framework) pairs that ran."""
    waiver_list = list(waivers)
    ran = set(scanned)
    waived: dict[Finding, Waiver] = {}
    unwaived: list[Finding] = []
    used: set[int] = set()
    for finding in findings:
        if finding.passed:
            continue
        matches = [index for index, waiver in enumerate(waiver_list) if waiver.covers(finding)]
        if matches:
            waived[finding] = waiver_list[matches[0]]
            used.update(matches)
        else:
            unwaived.append(finding)
    # A waiver is judged only where it could have matched: its framework and stacks were scanned.
    stale = [
        waiver
        for index, waiver in enumerate(waiver_list)
        if index not in used and any(waiver.applies_to(stack, framework) for stack, framework in ran)
    ]
    return Verdict(waived=waived, unwaived=unwaived, stale=stale)
