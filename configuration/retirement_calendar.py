"""The retirement calendar (retirement.yaml at the repository root): what the stacks use that retires, and when.

Read by offline/retirement.py (fails CI before a retirement) and by the stack (the Batch pool policy denies node agents
whose date has passed). Errors name the entry and key.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

CALENDAR_FILE = Path(__file__).resolve().parent.parent / "retirement.yaml"

Kind = Literal["kubernetes", "postgresql", "batch-node-agent", "image", "runtime"]
KINDS: tuple[str, ...] = get_args(Kind)
# A value of these kinds that a stack uses must have a row: its date cannot be assumed.
REQUIRED_KINDS: frozenset[str] = frozenset({"kubernetes", "postgresql", "batch-node-agent", "runtime"})
UNKNOWN = "unknown"


class CalendarError(Exception):
    """retirement.yaml is malformed; the message names the entry and key."""


@dataclass(frozen=True, kw_only=True)
class Acceptance:
    until: datetime.date
    reason: str


@dataclass(frozen=True, kw_only=True)
class Retirement:
    kind: str
    value: str
    # Last supported day; None with `announced` means announced without a date, None without it means no end published.
    ends: datetime.date | None
    announced: bool
    what: str
    source: str
    accepted: Acceptance | None = None

    def matches(self, kind: str, value: str) -> bool:
        return self.kind == kind and self.value.casefold() == value.casefold()


def _date(where: str, value: Any) -> datetime.date:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    raise CalendarError(f"{where}: {value!r} is not a date (YYYY-MM-DD)")


def _text(where: str, entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CalendarError(f"{where}.{key}: required, a non-empty string")
    return value.strip()


def _entry(index: int, entry: Any) -> Retirement:
    where = f"retirement.yaml entries[{index}]"
    if not isinstance(entry, Mapping):
        raise CalendarError(f"{where}: must be a mapping")
    unknown = set(entry) - {"kind", "value", "ends", "what", "source", "accepted"}
    if unknown:
        raise CalendarError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    kind = _text(where, entry, "kind")
    if kind not in KINDS:
        raise CalendarError(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    if "ends" not in entry:
        raise CalendarError(f"{where}.ends: required: a date, '{UNKNOWN}' or null")
    raw_ends = entry["ends"]
    ends = None if raw_ends is None or raw_ends == UNKNOWN else _date(f"{where}.ends", raw_ends)
    accepted = None
    if entry.get("accepted") is not None:
        acceptance = entry["accepted"]
        if not isinstance(acceptance, Mapping) or set(acceptance) != {"until", "reason"}:
            raise CalendarError(f"{where}.accepted: must have exactly 'until' (a date) and 'reason'")
        if ends is None:
            raise CalendarError(f"{where}.accepted: only a dated retirement can be accepted")
        accepted = Acceptance(
            until=_date(f"{where}.accepted.until", acceptance["until"]),
            reason=_text(f"{where}.accepted", acceptance, "reason"),
        )
    return Retirement(
        kind=kind,
        value=_text(where, entry, "value"),
        ends=ends,
        announced=raw_ends is not None,
        what=_text(where, entry, "what"),
        source=_text(where, entry, "source"),
        accepted=accepted,
    )


def load(path: Path = CALENDAR_FILE) -> tuple[Retirement, ...]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("entries"), list):
        raise CalendarError(f"{path}: must be a mapping with an 'entries' list")
    return tuple(_entry(index, entry) for index, entry in enumerate(document["entries"]))


def matching(calendar: Iterable[Retirement], kind: str, value: str) -> list[Retirement]:
    return [entry for entry in calendar if entry.matches(kind, value)]


def retired(calendar: Iterable[Retirement], kind: str, today: datetime.date) -> tuple[str, ...]:
    """Values of `kind` whose last supported day is before `today`, sorted."""
    return tuple(sorted({e.value for e in calendar if e.kind == kind and e.ends is not None and e.ends < today}))
