"""The hub firewall's allow-list as a Markdown table, from the runtime contracts (components/contracts/derive.py).

`make readme` (offline/docs.py) writes it between the allowlist markers of docs/deploying.md; `python -m
offline.allowlist` prints it, `--readme FILE` writes it into another file's markers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from components.contracts.derive import AllowRule, firewall_allow_list
from offline import docs

START, END = docs.markers("allowlist")


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
    try:
        readme.write_text(docs.embed(text, "allowlist", table), encoding="utf-8")
    except docs.DocsError as exc:
        raise SystemExit(f"error: {readme}: {exc}") from None


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
