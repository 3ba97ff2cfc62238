"""A Mermaid picture of a stack: one subgraph per component, its resources inside, and the wiring between them.

To stay readable at a glance, attachments (role assignments, diagnostic settings, DNS zone groups, VNet links,
federated credentials) are folded into one note per component, and five or more resources of one type in one
component become a single `N × Type` node. Edges come from inputs that carry another resource's ARM id
(private endpoint -> its target, subnet -> its NSG, cluster -> its subnet and identity), and from top-level
`<parent>Name` inputs of child resources ("part of"). offline/network_diagram.py draws the reviewer's view instead:
network boundaries, private endpoints, egress and the workflow's data path.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from offline.network_diagram import network_view
from offline.records import ATTACHMENTS, ResourceRecord
from offline.tree import STACK_TYPE, Node, build_tree

# Drawn as cylinders: where data lives.
DATA_STORES = {
    "azure-native:storage:StorageAccount",
    "azure-native:cosmosdb:DatabaseAccount",
    "azure-native:dbforpostgresql:Server",
    "azure-native:keyvault:Vault",
    "azure-native:containerregistry:Registry",
    "azure-native:operationalinsights:Workspace",
}
# Everything references the resource group; an arrow to it says nothing.
NO_EDGES_TO = {"azure-native:resources:ResourceGroup"}
COLLAPSE_AT = 5
EDGE_LABELS = {
    "privateLinkServiceId": "private link",
    "networkSecurityGroup": "NSG",
    "subnet": "subnet",
    "natGateway": "egress",
    "routeTable": "routes",
    "workspaceResourceId": "logs",
    "userAssignedIdentities": "identity",
    "delegatedSubnetResourceId": "subnet",
    "vnetSubnetID": "subnet",
    "privateDnsZoneId": "DNS",
    "in": "part of",
}


def short_type(token: str) -> str:
    return token.rsplit(":", 1)[-1]


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _references(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(key path, string) for every string in the inputs, dict keys included (identity maps key by id)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, key
            yield from _references(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, path)


def _edge_label(path: str) -> str:
    for part in reversed([p for p in path.split(".") if p and p != "id"]):
        return EDGE_LABELS.get(part, part)
    return ""


class _Drawing:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.node_of: dict[str, str] = {}  # urn -> mermaid node id (collapsed resources share one)
        self.counter = 0

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def place(self, members: list[Node], indent: str) -> None:
        """Nodes for the custom resources directly in one component (or the stack), collapsing big groups."""
        custom = [n for n in members if n.record.custom and n.record.type not in ATTACHMENTS]
        per_type = Counter(n.record.type for n in custom)
        grouped: dict[str, str] = {}
        for node in custom:
            record = node.record
            if per_type[record.type] >= COLLAPSE_AT:
                if record.type not in grouped:
                    grouped[record.type] = self.new_id("g")
                    text = f"{per_type[record.type]} × {short_type(record.type)}"
                    self.lines.append(f"{indent}{grouped[record.type]}[{_label(text)}]")
                self.node_of[record.urn] = grouped[record.type]
                continue
            node_id = self.new_id("r")
            text = f"{short_type(record.type)}<br/>{record.name}"
            shape = ("[(", ")]") if record.type in DATA_STORES else ("[", "]")
            self.lines.append(f"{indent}{node_id}{shape[0]}{_label(text)}{shape[1]}")
            self.node_of[record.urn] = node_id
        folded = Counter(ATTACHMENTS[n.record.type] for n in members if n.record.type in ATTACHMENTS)
        if folded:
            text = ", ".join(f"{n} {what}" for what, n in sorted(folded.items()))
            self.lines.append(f"{indent}{self.new_id('a')}>{_label('+ ' + text)}]")

    def component(self, node: Node, indent: str) -> None:
        title = _label(f"{short_type(node.record.type)}: {node.record.name}")
        self.lines.append(f"{indent}subgraph {self.new_id('c')}[{title}]")
        self.place(node.children, indent + "  ")
        for child in node.children:
            if not child.record.custom:
                self.component(child, indent + "  ")
        self.lines.append(f"{indent}end")


def mermaid(records: Sequence[ResourceRecord], project: str = "", stack: str = "") -> str:
    """The `flowchart` source (without the markdown fence), the same for every run of the same program: resources
    register in whatever order their inputs resolve, so they are drawn in URN order."""
    records = sorted(records, key=lambda r: r.urn)
    root = build_tree(records, project or "project", stack or "stack")
    drawing = _Drawing()
    drawing.lines.append("flowchart LR")
    top_components = [c for c in root.children if not c.record.custom and c.record.type != STACK_TYPE]
    drawing.place(root.children, "  ")
    for child in top_components:
        drawing.component(child, "  ")

    by_id: dict[str, ResourceRecord] = {}
    for record in records:
        for rid in (record.id, str(record.outputs.get("id") or "")):
            if rid.startswith("/") and record.urn in drawing.node_of and record.type not in NO_EDGES_TO:
                by_id[rid.lower()] = record
    # Child resources name their parent (`virtualNetworkName`, `accountName`) instead of passing its id.
    by_name: dict[str, ResourceRecord] = {}
    for record in records:
        name = record.outputs.get("name")
        if isinstance(name, str) and record.urn in drawing.node_of and record.type not in NO_EDGES_TO:
            by_name.setdefault(name, record)
    edges: dict[tuple[str, str], str] = {}
    for record in records:
        source = drawing.node_of.get(record.urn)
        if source is None:
            continue
        for path, text in _references(record.inputs):
            target = by_id.get(text.lower())
            if target is None and path.endswith("Name") and path.rsplit(".", 1)[-1] != "resourceGroupName":
                target = by_name.get(text)
                # Only a top-level `<parent>Name` input makes a child resource (a subnet's `virtualNetworkName`); a
                # name deeper in the inputs is a reference (Helm values naming a database), labelled by its key.
                path = "in" if target is not None and "." not in path else path
            if target is None or target.urn == record.urn:
                continue
            key = (source, drawing.node_of[target.urn])
            if key[0] != key[1] and key not in edges:
                edges[key] = _edge_label(path)
    for (source, target), label in edges.items():
        drawing.lines.append(f"  {source} -->|{_label(label)}| {target}" if label else f"  {source} --> {target}")
    return "\n".join(drawing.lines)


def architecture_markdown(records: Sequence[ResourceRecord], project: str, stack: str) -> str:
    """The `architecture.md` document: a heading, the Mermaid block and what was folded away."""
    components = sum(1 for r in records if not r.custom and r.type != STACK_TYPE)
    resources = sum(1 for r in records if r.custom)
    per_attachment: defaultdict[str, int] = defaultdict(int)
    for record in records:
        if record.type in ATTACHMENTS:
            per_attachment[ATTACHMENTS[record.type]] += 1
    folded = ", ".join(f"{n} {what}" for what, n in sorted(per_attachment.items())) or "nothing"
    return "\n".join(
        [
            f"# Architecture of `{project}` stack `{stack}`",
            "",
            (
                f"Generated by `python -m offline preview --stack {stack}` from the resources the program "
                f"registered under the mock engine: {components} components, {resources} resources. Boxes are "
                f"components, arrows follow ARM ids passed between resources; folded into notes: {folded}."
            ),
            "",
            "```mermaid",
            mermaid(records, project, stack),
            "```",
            "",
            "## Network and data path",
            "",
            (
                "Subnets are boundaries (range, what the NSG admits, where egress goes); private endpoints point at "
                "what they reach; thick numbered arrows are a workflow's data path (trigger file, TriggerService, "
                "Cromwell, TES, Batch, the nodes, storage); dotted arrows go through something outside the stack."
            ),
            "",
            "```mermaid",
            network_view(records),
            "```",
            "",
        ]
    )
