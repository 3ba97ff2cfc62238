"""The reviewer's view (offline/network_diagram.py) is drawn from the registered resources: subnets are boundaries,
every private endpoint sits in the endpoint subnet and points at what it reaches, egress leaves through the NAT gateway
(dev) or the hub firewall (prod), and a workflow's data path is there hop by hop, each hop only with its evidence."""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field

import pytest
from stackquery import one, run_variant

from offline.harness import ProgramRun
from offline.network_diagram import network_view
from offline.records import ResourceRecord

SUBNET, ENDPOINT, RELEASE = (
    "azure-native:network:Subnet",
    "azure-native:network:PrivateEndpoint",
    "kubernetes:helm.sh/v3:Release",
)
SUB = "7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d"
OURS = f"/subscriptions/{SUB}/resourceGroups/rg-sequencers/providers/Microsoft.Storage/storageAccounts/stseqout01"
HUBS = f"/subscriptions/{SUB}/resourceGroups/rg-results/providers/Microsoft.Storage/storageAccounts/stresults02"
DATA_ACCOUNTS = [
    {
        "id": OURS,
        "containers": [{"name": "tso500-runs", "access": "read"}],
        "allowBlobPublicAccess": False,
        "roleAssignments": "stack",
        "endpointApproval": "automatic",
    },
    {
        "id": HUBS,
        "containers": [{"name": "cohort-results", "access": "readWrite"}],
        "privateEndpoint": "existing",
        "allowBlobPublicAccess": False,
        "roleAssignments": "stack",
    },
]


@dataclass
class View:
    """A parsed flowchart: node labels, the subgraphs each node sits in (outermost first), subgraph titles, edges."""

    labels: dict[str, str] = field(default_factory=dict)
    inside: dict[str, list[str]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # source, arrow, label, target

    @classmethod
    def parse(cls, source: str) -> View:
        view, open_subgraphs = cls(), []
        for line in source.splitlines()[1:]:
            if match := re.fullmatch(r'\s*subgraph (\w+)\["(.*)"\]', line):
                view.titles[match[1]] = match[2]
                view.inside[match[1]] = list(open_subgraphs)
                open_subgraphs.append(match[1])
            elif line.strip() == "end":
                open_subgraphs.pop()
            elif match := re.fullmatch(r'\s*(\w+) (==>|-->|-\.->)\|"(.*)"\| (\w+)', line):
                view.edges.append((match[1], match[2], match[3], match[4]))
            elif match := re.fullmatch(r'\s*(\w+)(?:\[\[|\[\(|\(\[|\(\(|\{\{|\[)"(.*)"\W*', line):
                view.labels[match[1]] = match[2]
                view.inside[match[1]] = list(open_subgraphs)
            else:
                raise AssertionError(f"unparsed line: {line!r}")
        assert not open_subgraphs, "a subgraph is never closed"
        return view

    def node(self, label_start: str) -> str:
        found = [n for n, label in self.labels.items() if label.startswith(label_start)]
        assert len(found) == 1, f"expected one node labelled {label_start!r}..., found {found}"
        return found[0]

    def subgraph(self, title_start: str) -> str:
        found = [s for s, title in self.titles.items() if title.startswith(title_start)]
        assert len(found) == 1, f"expected one subgraph titled {title_start!r}..., found {found}"
        return found[0]

    def edge(self, source: str, target: str) -> tuple[str, str]:
        """(arrow, label) of the one edge from source to target."""
        found = [(a, label) for s, a, label, t in self.edges if s == source and t == target]
        assert len(found) == 1, f"expected one edge {source} -> {target}, found {found}"
        return found[0]


def _short(subnet: ResourceRecord) -> str:
    return subnet.name.rsplit("snet-", 1)[-1]


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return run_variant(tmp_path_factory.mktemp("data"), "prod", {"coa-lockdown:dataStorageAccounts": DATA_ACCOUNTS})


def test_every_subnet_is_a_boundary_inside_its_vnet(stack: ProgramRun) -> None:
    view = View.parse(network_view(stack.resources))
    vnet = one(stack, "azure-native:network:VirtualNetwork")
    outer = view.subgraph(f"VNet {vnet.name} · {vnet.inputs['addressSpace']['addressPrefixes'][0]}")
    subnets = stack.of_type(SUBNET)
    assert len(subnets) == 5
    for subnet in subnets:
        boundary = view.subgraph(f"subnet {_short(subnet)} · {subnet.inputs['addressPrefix']} · inbound: ")
        assert view.inside[boundary] == [outer], subnet.name
    # The batch subnet admits nothing; the postgres subnet is delegated.
    assert "· inbound: none ·" in view.titles[view.subgraph("subnet batch ")]
    assert "delegated to Microsoft.DBforPostgreSQL/flexibleServers" in view.titles[view.subgraph("subnet postgres ")]


def test_every_private_endpoint_sits_in_the_endpoint_subnet_and_points_at_its_target(stack: ProgramRun) -> None:
    view = View.parse(network_view(stack.resources))
    endpoint_subnet = view.subgraph("subnet privateEndpoints ")
    endpoints = stack.of_type(ENDPOINT)
    assert len(endpoints) == 6
    by_id = {r.id: r for r in stack.resources if r.id}
    for endpoint in endpoints:
        connection = endpoint.inputs["privateLinkServiceConnections"][0]
        node = view.node(f"PrivateEndpoint {connection['groupIds'][0]}<br/>{endpoint.name}")
        assert view.inside[node][-1] == endpoint_subnet, endpoint.name
        target = by_id[connection["privateLinkServiceId"]]
        services = view.subgraph("Azure services of this stack")
        target_node = view.node(f"{target.type.rsplit(':', 1)[-1]}<br/>{target.name}")
        assert view.inside[target_node] == [services]
        assert view.edge(node, target_node) == ("-->", "private link")


def test_dev_egress_leaves_through_its_nat_gateway(dev: ProgramRun) -> None:
    view = View.parse(network_view(dev.resources))
    nat = view.node(f"NatGateway<br/>{one(dev, 'azure-native:network:NatGateway').name}")
    assert "public IP coa-dev-net-pip-egress" in view.labels[nat]
    for subnet in dev.of_type(SUBNET):
        boundary = view.subgraph(f"subnet {_short(subnet)} ")
        if subnet.inputs.get("natGateway"):
            assert view.edge(boundary, nat) == ("-->", "egress")
        else:
            assert not [e for e in view.edges if e[0] == boundary], subnet.name
    assert view.edge(nat, view.node("Internet")) == ("-->", "SNAT")
    assert not [label for label in view.labels.values() if label.startswith("hub firewall")]


def test_prod_egress_leaves_through_the_hub_firewall_and_trusted_ranges_come_in_on_443(prod: ProgramRun) -> None:
    view = View.parse(network_view(prod.resources))
    hub = view.subgraph("Hub network (not in this stack)")
    firewall = view.node("hub firewall<br/>10.0.1.4")  # network.firewallPrivateIp in Pulumi.prod.yaml
    trusted = view.node("trusted range 10.0.0.0/22")  # network.trustedSourceCidrs
    assert view.inside[firewall] == [hub] and view.inside[trusted] == [hub]
    routed = [s for s in prod.of_type(SUBNET) if s.inputs.get("routeTable")]
    assert {_short(s) for s in routed} == {"aks", "batch", "acrTasks"}
    for subnet in routed:
        assert view.edge(view.subgraph(f"subnet {_short(subnet)} "), firewall) == ("-->", "0.0.0.0/0")
    assert view.edge(firewall, view.node("Internet")) == ("-->", "allow-list only")
    assert {view.titles[t].split(" ")[1] for s, _, label, t in view.edges if s == trusted} == {
        "aks",
        "privateEndpoints",
    }
    assert {label for s, _, label, _ in view.edges if s == trusted} == {"443"}
    assert not [label for label in view.labels.values() if label.startswith("NatGateway")]


def _data_path(view: View) -> dict[str, tuple[str, str, str]]:
    """Each numbered hop: label -> (arrow, source label, target label)."""
    return {
        label: (arrow, view.labels[source] if source in view.labels else view.titles[source], view.labels[target])
        for source, arrow, label, target in view.edges
        if label[:1].isdigit() and " " in label
    }


def test_the_workflow_data_path_runs_trigger_cromwell_tes_batch_nodes_storage(stack: ProgramRun) -> None:
    view = View.parse(network_view(stack.resources))
    env = stack.stack
    blob = f"PrivateEndpoint blob<br/>coa-{env}-storage-blob-pep"
    assert _data_path(view) == {
        "1 trigger file in workflows/new/": ("==>", "pod triggerservice", blob),
        "2 submits the workflow :8000": ("==>", "pod triggerservice", "pod cromwell"),
        "3 each task :8080": ("==>", "pod cromwell", "pod tes"),
        "4 pools, jobs, tasks": (
            "==>",
            "pod tes",
            f"PrivateEndpoint batchAccount<br/>coa-{env}-batch-batchaccount-pep",
        ),
        "5 node agent takes the task": (
            "==>",
            "Batch nodes<br/>pools TES creates, no public IP",
            f"PrivateEndpoint nodeManagement<br/>coa-{env}-batch-nodemanagement-pep",
        ),
        "6 inputs, outputs, TES runner": ("==>", "Batch nodes<br/>pools TES creates, no public IP", blob),
    }
    # The pods run on the cluster's nodes, the Batch nodes in the subnet the release gives TES.
    aks, batch = view.subgraph("subnet aks "), view.subgraph("subnet batch ")
    assert {view.inside[view.node(f"pod {p}")][-1] for p in ("cromwell", "tes", "triggerservice")} == {aks}
    assert view.inside[view.node("Batch nodes")][-1] == batch
    assert view.inside[view.node(f"ManagedCluster<br/>coa-{env}-aks-aks<br/>private API server")][-1] == aks


def test_a_hop_is_drawn_only_with_its_evidence(dev: ProgramRun) -> None:
    """Without TriggerService's egress to Cromwell in the release's NetworkPolicy values, hop 2 is gone."""
    release = one(dev, RELEASE)
    inputs = copy.deepcopy(release.inputs)
    egress = inputs["values"]["networkPolicy"]["egress"]
    egress["triggerservice"] = [e for e in egress["triggerservice"] if e["to"] != "pod:cromwell"]
    changed = [dataclasses.replace(r, inputs=inputs) if r is release else r for r in dev.resources]
    hops = set(_data_path(View.parse(network_view(changed))))
    assert "2 submits the workflow :8000" not in hops
    assert {"1 trigger file in workflows/new/", "3 each task :8080"} <= hops
    # Nor are there Batch nodes when the release names no subnet for them.
    del inputs["values"]["batch"]["nodes"]["subnetId"]
    changed = [dataclasses.replace(r, inputs=inputs) if r is release else r for r in dev.resources]
    assert not [label for label in View.parse(network_view(changed)).labels.values() if label.startswith("Batch nodes")]


def test_data_accounts_sit_outside_the_stack_behind_its_endpoint_or_the_hubs(
    linked: ProgramRun, prod: ProgramRun
) -> None:
    view = View.parse(network_view(linked.resources))
    outside = view.subgraph("Data accounts outside the stack")
    ours = view.node("stseqout01<br/>tso500-runs (read)")
    hubs = view.node("stresults02<br/>cohort-results (read-write)")
    assert view.inside[ours] == [outside] and view.inside[hubs] == [outside]
    endpoint = view.node("PrivateEndpoint blob<br/>coa-prod-data-stseqout01-pep")
    assert view.inside[endpoint][-1] == view.subgraph("subnet privateEndpoints ")
    nodes = view.node("Batch nodes")
    assert view.edge(endpoint, ours) == ("-->", "private link")
    assert view.edge(nodes, endpoint) == ("==>", "6 data in and out")
    assert view.edge(nodes, hubs) == ("-.->", "6 data in and out, hub's endpoint")
    assert view.edge(view.node("pod cromwell"), hubs) == ("-.->", "data mounts, hub's endpoint")
    assert not [label for label in view.labels.values() if label.startswith("none in this stack")]
    # A stack without data accounts says so where they would be.
    plain = View.parse(network_view(prod.resources))
    none = plain.node("none in this stack (dataStorageAccounts)")
    assert plain.inside[none] == [plain.subgraph("Data accounts outside the stack")]
