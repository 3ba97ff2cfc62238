"""The hub firewall's allow-list as a Markdown table, from the runtime contracts (components/contracts/derive.py).

`make readme` (offline/docs.py) writes it between the allowlist markers of docs/deploying.md; `python -m
offline.allowlist` prints it, for a hub team's own documents."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from components.contracts.derive import AllowRule, firewall_allow_list


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


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m offline.allowlist", description=__doc__).parse_args(argv)
    print(markdown(firewall_allow_list()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
