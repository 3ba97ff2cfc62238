"""The preview tree and summary: nesting by parent, pulumi-preview layout, counts per type and component."""

from __future__ import annotations

from offline.records import ResourceRecord
from offline.tree import build_tree, render_summary, render_tree, summarize


def _names(node) -> list[str]:
    return [child.record.name for child in node.children]


def test_tree_nests_by_parent_in_registration_order(sample_stack: list[ResourceRecord]) -> None:
    root = build_tree(sample_stack, "demo", "dev")
    assert root.record.type == "pulumi:pulumi:Stack"
    assert _names(root) == ["rg", "main", "data", "aks-k8s", "coa"]
    storage = root.children[2]
    assert _names(storage)[:2] == ["data-st", "data-inputs"]
    endpoint_group = next(c for c in storage.children if c.record.name == "data-blob")
    assert _names(endpoint_group) == ["data-blob-pep", "data-blob-dns"]


def test_records_without_a_stack_resource_get_a_synthetic_root_and_orphans_hang_off_it(make_record) -> None:
    orphan = make_record("azure-native:network:VirtualNetwork", "vnet")
    orphan = ResourceRecord(**{**vars(orphan), "parent": "urn:pulumi:dev::demo::coa:x:Gone::gone"})
    root = build_tree([orphan], "demo", "dev")
    assert root.record.urn == "urn:pulumi:dev::demo::pulumi:pulumi:Stack::demo-dev"
    assert _names(root) == ["vnet"]


def test_render_draws_branches_and_aligns_columns(sample_stack: list[ResourceRecord]) -> None:
    lines = render_tree(build_tree(sample_stack, "demo", "dev")).splitlines()
    assert lines[0].split() == ["Type", "Name", "Plan"]
    assert lines[1].startswith(" +   pulumi:pulumi:Stack") and lines[1].endswith("create")
    assert " +   ├─ coa:network:Network" in lines[3]
    # Children of a non-last child continue the vertical bar; the last child of the stack closes with └─.
    assert any(line.startswith(" +   │  ├─ azure-native:network:VirtualNetwork") for line in lines)
    assert any(line.startswith(" +   └─ kubernetes:core/v1:Namespace") for line in lines)
    assert any(line.startswith(" +   │  │  └─ azure-native:network:PrivateDnsZoneGroup") for line in lines)
    name_columns = {line.index(name) for line, name in zip(lines[1:], ["demo-dev", "rg", "main"], strict=False)}
    assert len(name_columns) == 1
    assert len(lines) == len(sample_stack) + 1


def test_summary_counts_per_type_and_per_top_level_component(sample_stack: list[ResourceRecord]) -> None:
    summary = summarize(build_tree(sample_stack, "demo", "dev"))
    assert summary.total == len(sample_stack)
    assert dict(summary.by_type)["azure-native:storage:BlobContainer"] == 5
    assert summary.by_type[0] == ("azure-native:storage:BlobContainer", 5)
    components = {(c.type, c.name): c.resources for c in summary.by_component}
    # Storage owns the account, 5 containers, the nested endpoint component and its 2 children, diag and role.
    assert components == {("coa:network:Network", "main"): 3, ("coa:storage:Storage", "data"): 11}
    assert summary.outside_components == 3  # resource group, provider, namespace
    text = render_summary(summary)
    assert f"+ {len(sample_stack)} to create" in text
    assert "11  coa:storage:Storage  data" in text
    assert "(directly in the stack, outside any component)" in text
