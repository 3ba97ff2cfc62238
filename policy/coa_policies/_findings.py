"""Findings that name what they are about, waivers that cover exactly those, and the "not applicable" signal.

A waiver sits in a rule's policy config, reviewed with it: {"reason": why, "resources": [URN or logical name globs],
<what>s: [globs]}, where <what> is something the rule's findings name (image, account, upstream, role, scope,
container), e.g. {"reason": "digest pending", "images": ["*/cromwell:87"]}. It covers a finding when
every selector it gives matches; whatever it does not name stays at the rule's level. A waiver without a reason or
without a selector covers nothing, and the findings it would have covered say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .production import matches


class Finding(str):
    """A violation message that also names what it is about (e.g. {"image": ...}), for waivers to match on."""

    about: Mapping[str, str]

    def __new__(cls, message: str, about: Mapping[str, str] | None = None) -> Finding:
        made = super().__new__(cls, message)
        made.about = dict(about or {})
        return made


def finding(message: str, like: object = None, **about: str) -> Finding:
    """`message` as a Finding that keeps what `like` (an earlier finding) was about, plus `about`."""
    return Finding(message, {**getattr(like, "about", {}), **about})


class NotApplicableError(Exception):
    """Raised by a check that has nothing to judge here; the rule answers "not applicable" with the reason."""


# A waiver in a rule's policy config: {"reason": why, "resources": [URN or name globs], <about key>: [globs]}. It
# covers a finding when every selector it gives matches; a waiver with no reason or no selector covers nothing.
WAIVERS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "minLength": 1}},
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
}


def _waiver_problem(waiver: Any) -> str:
    if not isinstance(waiver, Mapping):
        return "it is not an object"
    reason = waiver.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return "it gives no reason"
    selectors = {k: v for k, v in waiver.items() if k != "reason"}
    if not selectors:
        return "it names no resources or findings"
    if any(not isinstance(v, list) or not v or not all(isinstance(i, str) for i in v) for v in selectors.values()):
        return "each selector must be a non-empty list of globs"
    return ""


def _waiver_matches(waiver: Mapping[str, Any], message: str, name: str, urn: str) -> bool:
    about = getattr(message, "about", {})
    for key, globs in waiver.items():
        if key == "reason":
            continue
        if key == "resources":
            values = [v for v in (urn, name) if v]
        else:
            singular = key[:-1] if key.endswith("s") else key
            values = [about[k] for k in (key, singular) if k in about][:1]
        if not any(matches(value, globs) for value in values):
            return False
    return True


def waived(findings: Iterable[str], config: Mapping[str, Any], name: str, urn: str) -> list[str]:
    """The findings no valid waiver in `config["waivers"]` covers. A finding an invalid waiver would cover stays,
    and says why that waiver does not apply."""
    waivers = config.get("waivers") or []
    if not isinstance(waivers, list):
        waivers = [waivers]
    kept: list[str] = []
    for message in findings:
        notes: list[str] = []
        covered = False
        for index, waiver in enumerate(waivers):
            problem = _waiver_problem(waiver)
            if problem:
                if isinstance(waiver, Mapping) and _waiver_matches(waiver, message, name, urn):
                    notes.append(f"waiver #{index + 1} would cover it but is ignored: {problem}")
                continue
            if _waiver_matches(waiver, message, name, urn):
                covered = True
                break
        if not covered:
            kept.append(finding(f"{message} ({'; '.join(notes)})", message) if notes else message)
    return kept
