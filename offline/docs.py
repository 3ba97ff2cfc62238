"""The generated sections of the documentation, and the command that rewrites them (`make readme`).

A section stands between `<!-- <name>:start -->` and `<!-- <name>:end -->` in a Markdown file and is produced from
what the stacks register under the mock engine (or, for the allow-list, from the runtime contracts), so the text
cannot drift from the program: `tests/program/test_docs_generated.py` fails when a copy is stale.

    python -m offline.docs            # rewrite every section
    python -m offline.docs --check    # exit 1 naming each stale section
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from offline.records import ResourceRecord

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "prod")
STACK_TYPE = "pulumi:pulumi:Stack"


class DocsError(Exception):
    """A file or marker a section needs is missing."""


@dataclass(frozen=True)
class Section:
    path: str  # relative to the repository root
    name: str  # the marker: <!-- name:start --> ... <!-- name:end -->
    render: Callable[[Mapping[str, Sequence[ResourceRecord]]], str]  # stack -> its records


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def read(text: str, name: str) -> str:
    """What stands between the markers, without the surrounding newlines."""
    start, end = markers(name)
    if start not in text or end not in text:
        raise DocsError(f"no {start} ... {end} markers")
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def embed(text: str, name: str, body: str) -> str:
    read(text, name)  # both markers present
    start, end = markers(name)
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def fenced(source: str) -> str:
    return f"```mermaid\n{source}\n```"


def counts(records: Sequence[ResourceRecord]) -> dict[str, int]:
    """The numbers the documentation quotes: `registered` is what `make preview` reports ("+ N to create") and
    `make bench` times; `resources` leaves out the components, the stack and the providers."""
    return {
        "registered": len(records),
        "resources": sum(1 for r in records if r.custom and not r.type.startswith("pulumi:providers:")),
        "components": sum(1 for r in records if not r.custom and r.type != STACK_TYPE),
        "private endpoints": sum(1 for r in records if r.type == "azure-native:network:PrivateEndpoint"),
        "role assignments": sum(1 for r in records if r.type == "azure-native:authorization:RoleAssignment"),
    }


def counts_table(runs: Mapping[str, Sequence[ResourceRecord]]) -> str:
    per_stack = {stack: counts(records) for stack, records in runs.items()}
    columns = list(next(iter(per_stack.values())))
    lines = [
        "| Stack | " + " | ".join(c.capitalize() for c in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for stack, numbers in per_stack.items():
        lines.append(f"| `{stack}` | " + " | ".join(str(numbers[c]) for c in columns) + " |")
    return "\n".join(lines)


def _network(runs: Mapping[str, Sequence[ResourceRecord]]) -> str:
    from offline.network_diagram import network_view

    return fenced(network_view(runs["prod"]))


def _architecture(runs: Mapping[str, Sequence[ResourceRecord]]) -> str:
    from offline.diagram import mermaid

    return fenced(mermaid(runs["dev"], "coa-lockdown", "dev"))


def _allowlist(_: Mapping[str, Sequence[ResourceRecord]]) -> str:
    from components.contracts.derive import firewall_allow_list
    from offline.allowlist import markdown

    return markdown(firewall_allow_list())


def _costs(runs: Mapping[str, Sequence[ResourceRecord]]) -> str:
    from offline.costs import cost_table

    return cost_table(runs)


SECTIONS = (
    Section("README.md", "network:prod", _network),
    Section("README.md", "counts", counts_table),
    Section("docs/architecture.md", "architecture:dev", _architecture),
    Section("docs/deploying.md", "allowlist", _allowlist),
    Section("docs/deploying.md", "costs", _costs),
)


def current(root: Path, section: Section) -> str:
    """The section's copy in its file."""
    try:
        return read((root / section.path).read_text(encoding="utf-8"), section.name)
    except DocsError as exc:
        raise DocsError(f"{section.path}: {exc}") from None


def stale(root: Path, runs: Mapping[str, Sequence[ResourceRecord]]) -> list[str]:
    """`path#name` of every section whose copy differs from what the program produces now."""
    return [f"{s.path}#{s.name}" for s in SECTIONS if current(root, s) != s.render(runs)]


def write(root: Path, runs: Mapping[str, Sequence[ResourceRecord]]) -> list[str]:
    """Rewrite every section; the `path#name` of those that changed."""
    changed = []
    for section in SECTIONS:
        if current(root, section) == section.render(runs):
            continue
        path = root / section.path
        path.write_text(embed(path.read_text(encoding="utf-8"), section.name, section.render(runs)), encoding="utf-8")
        changed.append(f"{section.path}#{section.name}")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.docs", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 naming each stale section")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root (the program and its docs)")
    args = parser.parse_args(argv)
    from offline.harness import run_program

    runs: dict[str, Sequence[ResourceRecord]] = {}
    for stack in STACKS:
        # Whatever the program prints (guardrail notices) is not part of this command's output.
        with contextlib.redirect_stdout(sys.stderr):
            runs[stack] = run_program(args.root, stack).resources
    try:
        if args.check:
            found = stale(args.root, runs)
            for entry in found:
                print(f"stale: {entry} (run `make readme`)", file=sys.stderr)
            return 1 if found else 0
        for entry in write(args.root, runs):
            print(f"updated {entry}")
    except (DocsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
