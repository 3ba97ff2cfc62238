"""`python -m offline.retirement --stacks dev prod`: what each stack uses that retires, judged against retirement.yaml.

Exit 1 when anything a stack uses is retired or retires within the lead time (default 90 days), when an accepted
retirement's acceptance ends within it or lies more than a year ahead, or when a Kubernetes, PostgreSQL, node-agent
or runtime value has no row; warnings (within 180 days, an announced retirement without a date, an accepted one)
leave the exit code 0.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TextIO

from configuration import retirement_calendar as rc
from configuration.image_lock import GENERATION_RUNTIME
from configuration.reader import ConfigError
from configuration.settings import Settings
from offline.stack_settings import load_stack_settings
from offline.stackconfig import StackConfigError

DEFAULT_LEAD_DAYS = 90
DEFAULT_WARN_DAYS = 180

Status = Literal["retired", "due", "soon", "ok", "no end", "date unknown", "accepted", "overlong", "untracked"]
FAILING: frozenset[str] = frozenset({"retired", "due", "overlong"})
# An acceptance is a waiver with a review day; one further out than this from the day checked is a standing waiver.
MAX_ACCEPTANCE_DAYS = 365
WARNING: frozenset[str] = frozenset({"soon", "date unknown", "accepted"})


@dataclass(frozen=True, kw_only=True)
class Use:
    """One thing a stack uses that may retire, and the config key that makes it use it."""

    stack: str
    kind: str
    value: str
    key: str


@dataclass(frozen=True, kw_only=True)
class Row:
    use: Use
    status: Status
    ends: datetime.date | None
    days_left: int | None
    what: str
    source: str

    @property
    def failing(self) -> bool:
        return self.status in FAILING or (self.status == "untracked" and self.use.kind in rc.REQUIRED_KINDS)


def uses(stack: str, settings: Settings) -> list[Use]:
    version = ".".join(settings.aks.kubernetes_version.split(".")[:2])
    found = [
        Use(stack=stack, kind="kubernetes", value=version, key="kubernetes.version"),
        Use(stack=stack, kind="postgresql", value=settings.postgres.version, key="postgres.version"),
    ]
    for generation in ("gen1", "gen2"):
        image = getattr(settings.batch_images, generation)
        found.append(
            Use(
                stack=stack,
                kind="batch-node-agent",
                value=image.node_agent_sku_id,
                key=f"batch.images.{generation}.nodeAgentSkuId",
            )
        )
    found.append(
        Use(
            stack=stack,
            kind="runtime",
            value=GENERATION_RUNTIME[settings.generation],
            key="taskDatabase (the TES and TriggerService images' runtime)",
        )
    )
    for key, pin in settings.images.pins.items():
        found.append(
            Use(stack=stack, kind="image", value=f"{pin.cache_repository}:{pin.tag}", key=f"images.lock.json {key}")
        )
    unique: dict[tuple[str, str], Use] = {}
    for use in found:
        unique.setdefault((use.kind, use.value.casefold()), use)
    return list(unique.values())


def _judge(
    ends: datetime.date, today: datetime.date, lead_days: int, warn_days: int
) -> tuple[Literal["retired", "due", "soon", "ok"], int]:
    days_left = (ends - today).days
    if days_left < 0:
        return "retired", days_left
    if days_left <= lead_days:
        return "due", days_left
    return ("soon" if days_left <= warn_days else "ok"), days_left


def judge(
    use: Use,
    calendar: Sequence[rc.Retirement],
    *,
    today: datetime.date,
    lead_days: int = DEFAULT_LEAD_DAYS,
    warn_days: int = DEFAULT_WARN_DAYS,
) -> list[Row]:
    entries = rc.matching(calendar, use.kind, use.value)
    if not entries:
        what = "no row in retirement.yaml" + ("; add its end date and source" if use.kind in rc.REQUIRED_KINDS else "")
        return [Row(use=use, status="untracked", ends=None, days_left=None, what=what, source="")]
    rows = []
    for entry in entries:
        common = {"use": use, "what": entry.what, "source": entry.source}
        if entry.ends is None:
            status: Status = "date unknown" if entry.announced else "no end"
            rows.append(Row(status=status, ends=None, days_left=None, **common))
            continue
        status, days_left = _judge(entry.ends, today, lead_days, warn_days)
        if entry.accepted and status in ("retired", "due"):
            accepted_status, accepted_left = _judge(entry.accepted.until, today, lead_days, warn_days)
            if accepted_left > MAX_ACCEPTANCE_DAYS:
                what = (
                    f"{entry.what}; accepted until {entry.accepted.until}, {accepted_left} days away: more than "
                    f"{MAX_ACCEPTANCE_DAYS}, so nobody would review it; set a nearer day"
                )
                rows.append(Row(status="overlong", ends=entry.ends, days_left=days_left, **{**common, "what": what}))
                continue
            if accepted_status in ("soon", "ok"):
                what = f"{entry.what}; accepted until {entry.accepted.until}: {entry.accepted.reason}"
                rows.append(Row(status="accepted", ends=entry.ends, days_left=days_left, **{**common, "what": what}))
                continue
            what = f"{entry.what}; acceptance ends {entry.accepted.until} ({accepted_left} days): review it"
            rows.append(Row(status=accepted_status, ends=entry.ends, days_left=days_left, **{**common, "what": what}))
            continue
        rows.append(Row(status=status, ends=entry.ends, days_left=days_left, **common))
    return rows


def _table(rows: Sequence[Row]) -> list[str]:
    header = ("stack", "kind", "value", "ends", "days", "status", "what / source")
    body = [
        (
            r.use.stack,
            r.use.kind,
            r.use.value,
            r.ends.isoformat() if r.ends else "-",
            "-" if r.days_left is None else str(r.days_left),
            r.status.upper() if r.failing else r.status,
            f"{r.what} [{r.source}]" if r.source else r.what,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header) - 1)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=False)) + "  " + cells[-1]

    return [line(header), *(line(cells) for cells in body)]


def check(
    stacks: Sequence[str],
    *,
    today: datetime.date,
    lead_days: int = DEFAULT_LEAD_DAYS,
    warn_days: int = DEFAULT_WARN_DAYS,
    calendar: Sequence[rc.Retirement] | None = None,
    load: Callable[[str], Settings] = load_stack_settings,
) -> list[Row]:
    entries = rc.load() if calendar is None else calendar
    rows: list[Row] = []
    for stack in stacks:
        settings = load(stack)
        for use in uses(stack, settings):
            rows.extend(judge(use, entries, today=today, lead_days=lead_days, warn_days=warn_days))
    return rows


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.retirement", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stacks", nargs="+", default=["dev", "prod"], help="stacks to check (default: dev prod)")
    parser.add_argument("--today", type=datetime.date.fromisoformat, help="judge as of this day (YYYY-MM-DD)")
    parser.add_argument("--lead-days", type=int, default=DEFAULT_LEAD_DAYS, help="fail this close to an end date")
    parser.add_argument("--warn-days", type=int, default=DEFAULT_WARN_DAYS, help="warn this close to an end date")
    args = parser.parse_args(argv)
    if args.lead_days < 0 or args.warn_days < args.lead_days:
        parser.error(f"--lead-days {args.lead_days} and --warn-days {args.warn_days}: need 0 <= lead <= warn")
    today = args.today or datetime.datetime.now(datetime.UTC).date()
    try:
        rows = check(args.stacks, today=today, lead_days=args.lead_days, warn_days=args.warn_days)
    except (rc.CalendarError, StackConfigError, ConfigError) as exc:
        print(f"retirement: {exc}", file=out)
        return 2
    print(f"Retirement check as of {today} (fail within {args.lead_days} days, warn within {args.warn_days})", file=out)
    for line in _table(rows):
        print(line, file=out)
    failing = [r for r in rows if r.failing]
    warnings = [r for r in rows if r.status in WARNING]
    print(f"{len(failing)} failing, {len(warnings)} warnings", file=out)
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
