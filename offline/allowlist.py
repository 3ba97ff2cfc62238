"""The hub firewall's allow-list as a Markdown table, from the runtime contracts (components/contracts/derive.py):
`python -m offline.allowlist --readme README.md` refreshes the table between the README's allowlist markers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from components.contracts.derive import AllowRule, firewall_allow_list

START, END = "<!-- allowlist:start -->", "<!-- allowlist:end -->"


def markdown(rules: Sequence[AllowRule]) -> str:
    lines = [
        "| Destination | Port | Needed by | Why | Required |",
        "|---|---|---|---|---|",
    ]
    for rule in rules:
        destination = (
            f"service tag `{rule.destination.removeprefix('tag:')}`"
            if rule.destination.startswith("tag:")
            else f"`{rule.destination}`"
        )
        required = "yes" if rule.required else "optional"
        lines.append(f"| {destination} | {rule.port} | {', '.join(rule.consumers)} | {rule.why} | {required} |")
    return "\n".join(lines)


def embed(readme: Path, table: str) -> None:
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"error: {readme} has no {START} ... {END} markers to write between")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.allowlist", description=__doc__)
    parser.add_argument("--readme", type=Path, help="replace the table between the allowlist markers of this file")
    args = parser.parse_args(argv)
    table = markdown(firewall_allow_list())
    if args.readme:
        embed(args.readme, table)
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
