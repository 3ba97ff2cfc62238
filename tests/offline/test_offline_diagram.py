"""architecture.md: subgraphs per component, short labels, folded attachments and the important wiring."""

from __future__ import annotations

import re

from offline.diagram import architecture_markdown, mermaid


def _node_ids(source: str) -> dict[str, str]:
    """Label text -> node id for every node line."""
    found = {}
    for match in re.finditer(r'^\s+(\w+)(?:\[\(|\[|>)"([^"]*)"', source, flags=re.MULTILINE):
        found[match.group(2)] = match.group(1)
    return found


def test_components_become_nested_subgraphs_with_their_resources(sample_stack) -> None:
    source = mermaid(sample_stack, "demo", "dev")
    lines = source.splitlines()
    assert lines[0] == "flowchart LR"
    assert any(re.fullmatch(r'  subgraph c\d+\["Network: main"\]', line) for line in lines)
    storage_at = next(i for i, line in enumerate(lines) if '"Storage: data"' in line)
    endpoint_at = next(i for i, line in enumerate(lines) if '"PrivateEndpoint: data-blob"' in line)
    assert lines[endpoint_at].startswith("    subgraph")  # nested inside Storage
    assert storage_at < endpoint_at
    assert source.count("subgraph") == source.count("\n  end") + source.count("\n    end")
    nodes = _node_ids(source)
    assert "StorageAccount<br/>data-st" in nodes and "Subnet<br/>main-snet-pe" in nodes
    # The account is a data store: drawn as a cylinder.
    assert f'{nodes["StorageAccount<br/>data-st"]}[("StorageAccount<br/>data-st")]' in source


def test_many_resources_of_one_type_collapse_and_attachments_fold_into_a_note(sample_stack) -> None:
    source = mermaid(sample_stack, "demo", "dev")
    nodes = _node_ids(source)
    assert "5 × BlobContainer" in nodes
    assert not any(label.startswith("BlobContainer<br/>") for label in nodes)
    assert "+ 1 diagnostic settings, 1 role assignments" in nodes
    assert "+ 1 DNS zone groups" in nodes
    assert not any("RoleAssignment" in label or "DiagnosticSetting" in label for label in nodes)


def test_edges_follow_arm_ids_and_names_but_never_point_at_the_resource_group(sample_stack) -> None:
    source = mermaid(sample_stack, "demo", "dev")
    nodes = _node_ids(source)
    endpoint, account = nodes["PrivateEndpoint<br/>data-blob-pep"], nodes["StorageAccount<br/>data-st"]
    subnet, nsg = nodes["Subnet<br/>main-snet-pe"], nodes["NetworkSecurityGroup<br/>main-nsg-pe"]
    assert f'{endpoint} -->|"private link"| {account}' in source
    assert f'{endpoint} -->|"subnet"| {subnet}' in source
    assert f'{subnet} -->|"NSG"| {nsg}' in source
    assert f'{subnet} -->|"part of"| {nodes["VirtualNetwork<br/>main-vnet"]}' in source
    assert f'{nodes["5 × BlobContainer"]} -->|"part of"| {account}' in source
    group = nodes["ResourceGroup<br/>rg"]
    assert not re.search(rf"--> {group}$|\| {group}$", source, flags=re.MULTILINE)
    edges = [line for line in source.splitlines() if "-->" in line]
    assert len(edges) == len(set(edges))


def test_labels_are_escaped_and_markdown_wraps_the_flowchart(make_record) -> None:
    odd = make_record("azure-native:web:Site", 'say "hi"')
    markdown = architecture_markdown([odd], "demo", "dev")
    assert "Site<br/>say #quot;hi#quot;" in markdown
    assert markdown.startswith("# Architecture of `demo` stack `dev`")
    block = markdown.split("```mermaid\n", 1)[1]
    assert block.startswith("flowchart LR") and block.rstrip().endswith("```")
    assert "0 components, 1 resources" in markdown


def test_only_a_top_level_parent_name_makes_a_child_part_of_its_parent(make_record) -> None:
    """A blob container's `accountName` names its parent; Helm values naming the same account are a reference."""
    account = make_record("azure-native:storage:StorageAccount", "st", arm="Microsoft.Storage/storageAccounts/st-x1")
    container = make_record("azure-native:storage:BlobContainer", "logs", inputs={"accountName": "st-x1"})
    release = make_record(
        "kubernetes:helm.sh/v3:Release", "release", inputs={"values": {"storage": {"accountName": "st-x1"}}}
    )
    source = mermaid([account, container, release], "demo", "dev")
    nodes = _node_ids(source)
    target = nodes["StorageAccount<br/>st"]
    assert f'{nodes["BlobContainer<br/>logs"]} -->|"part of"| {target}' in source
    assert f'{nodes["Release<br/>release"]} -->|"accountName"| {target}' in source
