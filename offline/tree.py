"""The resource tree and the create summary, laid out the way `pulumi preview` prints them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from offline.records import ResourceRecord

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Node:
    record: ResourceRecord
    children: list[Node] = field(default_factory=list)

    def walk(self) -> list[Node]:
        found: list[Node] = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


@dataclass(frozen=True)
class ComponentCount:
    type: str
    name: str
    resources: int  # everything below the component, nested components included


@dataclass(frozen=True)
class Summary:
    total: int
    by_type: list[tuple[str, int]]
    by_component: list[ComponentCount]
    outside_components: int  # top-level resources that no component owns


def stack_record(project: str, stack: str) -> ResourceRecord:
    name = f"{project}-{stack}"
    return ResourceRecord(
        urn=f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{name}", type=STACK_TYPE, name=name, custom=False, inputs={}
    )


def build_tree(records: Sequence[ResourceRecord], project: str, stack: str) -> Node:
    """Nest resources under their parents in registration order; orphans hang off the stack, as the engine does."""
    root_record = next((r for r in records if r.type == STACK_TYPE), None) or stack_record(project, stack)
    root = Node(root_record)
    nodes = {root_record.urn: root}
    for record in records:
        if record.urn != root_record.urn:
            nodes[record.urn] = Node(record)
    for record in records:
        if record.urn == root_record.urn:
            continue
        parent = nodes.get(record.parent) if record.parent else None
        # A parent cycle cannot come from the engine, but a hand-made record list must not hang the renderer.
        if parent is None or parent is nodes[record.urn]:
            parent = root
        parent.children.append(nodes[record.urn])
    return root


def render_tree(root: Node, plan: str = "create") -> str:
    """`+   ├─ type  name  create` lines under a `Type / Name / Plan` header."""
    rows: list[tuple[str, str]] = []

    def visit(node: Node, prefix: str, branch: str) -> None:
        rows.append((prefix + branch + node.record.type, node.record.name))
        last = len(node.children) - 1
        inner = prefix if not branch else prefix + ("   " if branch == "└─ " else "│  ")
        for index, child in enumerate(node.children):
            visit(child, inner, "└─ " if index == last else "├─ ")

    visit(root, "", "")
    type_width = max(len("Type"), *(len(t) for t, _ in rows)) + 2
    name_width = max(len("Name"), *(len(n) for _, n in rows)) + 2
    symbol = "+" if plan == "create" else " "
    lines = [f"     {'Type':<{type_width}}{'Name':<{name_width}}Plan"]
    lines += [f" {symbol}   {t:<{type_width}}{n:<{name_width}}{plan}" for t, n in rows]
    return "\n".join(lines)


def summarize(root: Node) -> Summary:
    everything = root.walk()
    by_type = Counter(node.record.type for node in everything)
    components = [c for c in root.children if not c.record.custom]
    return Summary(
        total=len(everything),
        by_type=sorted(by_type.items(), key=lambda item: (-item[1], item[0])),
        by_component=[ComponentCount(c.record.type, c.record.name, len(c.walk()) - 1) for c in components],
        outside_components=sum(1 for c in root.children if c.record.custom),
    )


def render_summary(summary: Summary) -> str:
    count_width = len(str(summary.total))
    lines = ["Resources:", f"    + {summary.total} to create", "", "To create, per type:"]
    lines += [f"    {count:>{count_width}}  {token}" for token, count in summary.by_type]
    lines += ["", "To create, per top-level component (resources below it):"]
    lines += [f"    {c.resources:>{count_width}}  {c.type}  {c.name}" for c in summary.by_component]
    if summary.outside_components:
        lines.append(f"    {summary.outside_components:>{count_width}}  (directly in the stack, outside any component)")
    if not summary.by_component and not summary.outside_components:
        lines.append("    (none)")
    return "\n".join(lines)
