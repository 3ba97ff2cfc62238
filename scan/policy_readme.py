"""policy/README.md's "Cross-checked by `make scan`" column: the Checkov checks that actually evaluated a
resource of ours for each rule. `make scan` fails when the column disagrees with the scan, and
`python -m scan --update-policy-readme` rewrites it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

COLUMN = "Cross-checked by `make scan`"
AFTER = "Anchor"
NONE = "—"


class PolicyReadmeError(ValueError):
    """The rules table is not where or how this module expects it."""


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def with_scan_column(text: str, crossed: Mapping[str, Sequence[str]]) -> str:
    """The README with the column present (inserted after Anchor if missing) and filled from `crossed`."""
    lines = text.split("\n")
    header_index = next((i for i, line in enumerate(lines) if line.startswith("| Rule |")), None)
    if header_index is None:
        raise PolicyReadmeError("policy/README.md has no rules table (a line starting with '| Rule |')")
    header = _cells(lines[header_index])
    if AFTER not in header:
        raise PolicyReadmeError(f"the rules table has no {AFTER!r} column")
    present = COLUMN in header
    column = header.index(COLUMN) if present else header.index(AFTER) + 1
    seen: set[str] = set()
    index = header_index
    while index < len(lines) and lines[index].startswith("|"):
        cells = _cells(lines[index])
        if index == header_index:
            value = COLUMN
        elif set(cells[0]) <= {"-"}:
            value = "---"
        else:
            rule = cells[0].strip("`")
            if rule not in crossed:
                raise PolicyReadmeError(f"policy/README.md lists {rule!r}, which is not a rule of the pack")
            seen.add(rule)
            value = ", ".join(crossed[rule]) or NONE
        if present:
            cells[column] = value
        else:
            cells.insert(column, value)
        # The separator row keeps its compact "|---|---|" form.
        lines[index] = "|" + "|".join(cells) + "|" if value == "---" else _row(cells)
        index += 1
    missing = sorted(set(crossed) - seen)
    if missing:
        raise PolicyReadmeError(f"policy/README.md has no row for {missing}")
    return "\n".join(lines)
