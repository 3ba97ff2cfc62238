"""The picture a security reviewer draws of a stack, as Mermaid: the VNet and its subnets as boundaries, what sits in
each subnet, the private endpoints and the services behind them, who may come in, where egress leaves (NAT gateway or
the hub firewall), the data accounts outside the stack, and the path a workflow's data takes: trigger file ->
TriggerService -> Cromwell -> TES -> Batch -> nodes -> storage.

Everything is read from the registered resources, like offline/diagram.py's resource view: subnets from the `Subnet`
records (address prefix, NSG rules, NAT gateway or route table, delegation), placement from the subnet id a resource
passes, the pods and their flows from the Helm release's values (the NetworkPolicy egress the runtime contracts
derive, the Batch nodes' subnet, the data containers Cromwell mounts). A hop whose evidence is missing is not drawn.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from offline.records import ATTACHMENTS, ResourceRecord

VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
NSG = "azure-native:network:NetworkSecurityGroup"
NAT = "azure-native:network:NatGateway"
PUBLIC_IP = "azure-native:network:PublicIPAddress"
ROUTE_TABLE = "azure-native:network:RouteTable"
ENDPOINT = "azure-native:network:PrivateEndpoint"
CLUSTER = "azure-native:containerservice:ManagedCluster"
RELEASE = "kubernetes:helm.sh/v3:Release"
ZONE = "azure-native:privatedns:PrivateZone"
ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"
SCOPED = "azure-native:monitor:PrivateLinkScopedResource"
STORAGE = "azure-native:storage:StorageAccount"
BATCH = "azure-native:batch:BatchAccount"
REGISTRY = "azure-native:containerregistry:Registry"
POSTGRES = "azure-native:dbforpostgresql:Server"
BUILD_POOL = "azure-native:containerregistry:AgentPool"
# Drawn as cylinders: where data lives.
STORES = {STORAGE, POSTGRES, REGISTRY, "azure-native:keyvault:Vault", "azure-native:operationalinsights:Workspace"}
# NSG source tags that stand for the VNet itself.
VNET_TAGS = {"VirtualNetwork", "AzureLoadBalancer"}

# Arrow styles: the workflow's data path is thick and numbered; a flow through something this stack does not own
# (the hub's endpoint for a data account) is dotted.
DATA_PATH, FLOW, THROUGH_HUB = "==>", "-->", "-.->"


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(key path, string) for every string in a record's inputs."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _ref(value: Any) -> str:
    """The ARM id an input holds, whether given as a string or as `{"id": ...}`, lower-cased ("" if none)."""
    if isinstance(value, dict):
        value = value.get("id")
    return value.lower() if isinstance(value, str) else ""


def _rid(record: ResourceRecord) -> str:
    return (record.id or str(record.outputs.get("id") or "")).lower()


def _physical(record: ResourceRecord) -> str:
    return str(record.outputs.get("name") or record.name)


def _public_access(record: ResourceRecord) -> str:
    """What the resource says about its public endpoint, for the node's label."""
    value = record.inputs.get("publicNetworkAccess") or _get(record.inputs, "properties", "publicNetworkAccess")
    if isinstance(value, str):
        return f"public network access: {value}"
    modes = record.inputs.get("accessModeSettings")
    if isinstance(modes, dict):
        return f"ingestion {modes.get('ingestionAccessMode')}, query {modes.get('queryAccessMode')}"
    return ""


@dataclass
class _Subnet:
    record: ResourceRecord
    node: str
    members: list[str] = field(default_factory=list)  # node lines drawn inside

    @property
    def short(self) -> str:
        return self.record.name.rsplit("snet-", 1)[-1]


@dataclass
class _Account:
    """A storage account outside the stack that workflows read or write."""

    id: str
    name: str
    containers: list[str] = field(default_factory=list)
    endpoint: str = ""  # node of this stack's private endpoint for it, if any
    node: str = ""


class _View:
    def __init__(self, records: Sequence[ResourceRecord]) -> None:
        self.records = sorted(records, key=lambda r: r.urn)
        self.by_id = {_rid(r): r for r in self.records if r.custom and _rid(r)}
        self.counter = 0
        self.node_of: dict[str, str] = {}  # urn -> node id
        self.edges: list[tuple[str, str, str, str]] = []  # source, arrow, label, target

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def of_type(self, token: str) -> list[ResourceRecord]:
        return [r for r in self.records if r.type == token]

    def edge(self, source: str, arrow: str, label: str, target: str) -> None:
        if source and target and source != target and (source, arrow, label, target) not in self.edges:
            self.edges.append((source, arrow, label, target))


def _within(source: str, space: Sequence[str]) -> bool:
    """Whether an NSG source lies inside the VNet's address space (or is a tag that stands for the VNet)."""
    if source in VNET_TAGS:
        return True
    try:
        inner = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False  # another tag (Internet, a service tag): outside
    for prefix in space:
        outer = ipaddress.ip_network(prefix, strict=False)
        if inner.version == outer.version and inner[0] in outer and inner[-1] in outer:
            return True
    return False


def _inbound(nsg: ResourceRecord | None, vnet_space: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """The subnet's inbound summary, and the (source range, ports) its NSG admits from outside the VNet."""
    if nsg is None:
        return "no NSG", []
    outside: list[tuple[str, str]] = []
    from_vnet = False
    for rule in nsg.inputs.get("securityRules") or []:
        if rule.get("direction") != "Inbound" or rule.get("access") != "Allow":
            continue
        ports = rule.get("destinationPortRange") or ", ".join(rule.get("destinationPortRanges") or []) or "*"
        sources = rule.get("sourceAddressPrefixes") or [rule.get("sourceAddressPrefix")]
        for source in [s for s in sources if s]:
            if _within(source, vnet_space):
                from_vnet = True
            else:
                outside.append((source, ports))
    parts = (["VNet"] if from_vnet else []) + [f"{s} on {p}" for s, p in outside]
    return ("inbound: " + ", ".join(parts)) if parts else "inbound: none", outside


def network_view(records: Sequence[ResourceRecord]) -> str:
    """The `flowchart` source (without the markdown fence), the same for every run of the same program."""
    view = _View(records)
    lines = ["flowchart LR"]
    release = next(iter(view.of_type(RELEASE)), None)
    values: dict[str, Any] = (release.inputs.get("values") or {}) if release else {}

    # -- subnets, and what each resource passes as its subnet ------------------------------------------------------
    subnets = {_rid(s): _Subnet(s, view.new_id("s")) for s in view.of_type(SUBNET)}
    endpoints: dict[str, tuple[ResourceRecord, str]] = {}  # node id -> (endpoint, its target id)
    placed: dict[str, _Subnet] = {}  # urn -> the subnet it passes
    for record in view.records:
        # Attachments (a role assignment scoped to a subnet) are not in the subnet.
        if not record.custom or record.type in (SUBNET, RELEASE) or record.type in ATTACHMENTS:
            continue
        subnet = next((subnets[v.lower()] for _, v in _strings(record.inputs) if v.lower() in subnets), None)
        if subnet is None:
            continue
        node = view.new_id("r")
        view.node_of[record.urn] = node
        placed[record.urn] = subnet
        if record.type == ENDPOINT:
            connection = (record.inputs.get("privateLinkServiceConnections") or [{}])[0]
            group = ",".join(connection.get("groupIds") or [])
            endpoints[node] = (record, _ref(connection.get("privateLinkServiceId")))
            subnet.members.append(f"{node}[{_label(f'PrivateEndpoint {group}<br/>{record.name}')}]")
        elif record.type == CLUSTER:
            private = _get(record.inputs, "apiServerAccessProfile", "enablePrivateCluster")
            text = f"ManagedCluster<br/>{record.name}" + ("<br/>private API server" if private else "")
            subnet.members.append(f"{node}[{_label(text)}]")
        else:
            shape = ("[(", ")]") if record.type in STORES else ("[", "]")
            text = f"{record.type.rsplit(':', 1)[-1]}<br/>{record.name}"
            subnet.members.append(f"{node}{shape[0]}{_label(text)}{shape[1]}")

    # -- the workload: pods where the cluster's nodes are, Batch nodes where TES puts its pools --------------------
    pod_subnet = next((placed[r.urn] for r in view.of_type(CLUSTER) if r.urn in placed), None)
    egress: dict[str, list[dict[str, Any]]] = _get(values, "networkPolicy", "egress") or {}
    pods = {name: view.new_id("p") for name in sorted(egress)}
    for name, node in pods.items():
        line = f"{node}([{_label(f'pod {name}')}])"
        (pod_subnet.members if pod_subnet else lines).append(line)
    nodes_subnet = subnets.get(str(_get(values, "batch", "nodes", "subnetId") or "").lower())
    batch_nodes = ""
    if nodes_subnet is not None:
        batch_nodes = view.new_id("n")
        public = "no public IP" if _get(values, "batch", "nodes", "disablePublicIpAddress") else "public IPs"
        nodes_subnet.members.append(f"{batch_nodes}[[{_label(f'Batch nodes<br/>pools TES creates, {public}')}]]")

    # -- draw the VNet boundary ------------------------------------------------------------------------------------
    for vnet in view.of_type(VNET):
        space = list(_get(vnet.inputs, "addressSpace", "addressPrefixes") or [])
        title = f"VNet {vnet.name} · {', '.join(space)}"
        lines.append(f"  subgraph {view.new_id('v')}[{_label(title)}]")
        for key, subnet in sorted(subnets.items(), key=lambda kv: kv[1].short):
            if not key.startswith(_rid(vnet) + "/subnets/"):
                continue
            inputs = subnet.record.inputs
            inbound, _ = _inbound(view.by_id.get(_ref(inputs.get("networkSecurityGroup"))), space)
            facts = [str(inputs.get("addressPrefix") or ""), inbound]
            facts += [f"delegated to {d.get('serviceName')}" for d in inputs.get("delegations") or []]
            if _ref(inputs.get("natGateway")):
                facts.append("egress: NAT gateway")
            elif table := view.by_id.get(_ref(inputs.get("routeTable"))):
                hops = [r.get("nextHopIpAddress") or r.get("nextHopType") for r in table.inputs.get("routes") or []]
                facts.append("egress: routed to " + ", ".join(str(h) for h in hops))
            elif inputs.get("defaultOutboundAccess") is False:
                facts.append("no outbound")
            lines.append(f"    subgraph {subnet.node}[{_label(f'subnet {subnet.short} · ' + ' · '.join(facts))}]")
            lines.extend(f"      {member}" for member in subnet.members)
            lines.append("    end")
        lines.append("  end")

    # -- what the private endpoints reach: the stack's services, and accounts outside it ---------------------------
    accounts: dict[str, _Account] = {}
    for entry in _get(values, "storage", "dataContainers") or []:
        account_id = (
            f"/subscriptions/{entry.get('subscriptionId')}/resourcegroups/{entry.get('resourceGroup')}"
            f"/providers/microsoft.storage/storageaccounts/{entry.get('accountName')}"
        ).lower()
        account = accounts.setdefault(account_id, _Account(account_id, str(entry.get("accountName"))))
        account.containers.append(f"{entry.get('name')} ({'read' if entry.get('readOnly') else 'read-write'})")
    services: dict[str, str] = {}  # target id -> node
    lines.append(f"  subgraph {view.new_id('g')}[{_label('Azure services of this stack, behind private endpoints')}]")
    for node, (_, target_id) in endpoints.items():
        target = view.by_id.get(target_id)
        if target is None:
            name = target_id.rsplit("/", 1)[-1]
            accounts.setdefault(target_id, _Account(target_id, name)).endpoint = node
            continue
        if target_id not in services:
            services[target_id] = view.new_id("r")
            view.node_of[target.urn] = services[target_id]
            facts = [target.type.rsplit(":", 1)[-1], target.name, _public_access(target)]
            covered = [
                view.by_id.get(_ref(r.inputs.get("linkedResourceId")))
                for r in view.of_type(SCOPED)
                if r.inputs.get("scopeName") == _physical(target)
            ]
            if covered:
                facts.append("covers " + ", ".join(sorted(r.name for r in covered if r is not None)))
            shape = ("[(", ")]") if target.type in STORES else ("[", "]")
            lines.append(f"    {services[target_id]}{shape[0]}{_label('<br/>'.join(f for f in facts if f))}{shape[1]}")
        view.edge(node, FLOW, "private link", services[target_id])
    zones = view.of_type(ZONE)
    linked = [
        z for z in view.of_type(ZONE_LINK) if _ref(z.inputs.get("virtualNetwork")) in map(_rid, view.of_type(VNET))
    ]
    if zones:
        text = f"{len(zones)} private DNS zones (privatelink.*)<br/>{len(linked)} linked to the VNet"
        lines.append(f"    {view.new_id('z')}[{_label(text)}]")
    lines.append("  end")

    lines.append(f"  subgraph {view.new_id('x')}[{_label('Data accounts outside the stack (their owners)')}]")
    for account in sorted(accounts.values(), key=lambda a: a.name):
        account.node = view.new_id("d")
        text = "<br/>".join([account.name, *account.containers])
        lines.append(f"    {account.node}[({_label(text)})]")
        if account.endpoint:
            view.edge(account.endpoint, FLOW, "private link", account.node)
    if not accounts:
        lines.append(f"    {view.new_id('d')}[{_label('none in this stack (dataStorageAccounts)')}]")
    lines.append("  end")

    # -- who comes in, and where egress leaves ---------------------------------------------------------------------
    internet = view.new_id("i")
    lines.append(f"  {internet}(({_label('Internet')}))")
    hub: list[str] = []
    trusted: dict[str, str] = {}
    firewalls: dict[str, str] = {}
    egress_nodes: list[str] = []
    for key, subnet in sorted(subnets.items(), key=lambda kv: kv[1].short):
        inputs = subnet.record.inputs
        vnet = next((v for v in view.of_type(VNET) if key.startswith(_rid(v) + "/subnets/")), None)
        space = list(_get(vnet.inputs, "addressSpace", "addressPrefixes") or []) if vnet else []
        _, outside = _inbound(view.by_id.get(_ref(inputs.get("networkSecurityGroup"))), space)
        for source, ports in outside:
            if source not in trusted:
                trusted[source] = view.new_id("t")
                hub.append(f"{trusted[source]}[{_label(f'trusted range {source}<br/>operators, CI runner')}]")
            view.edge(trusted[source], FLOW, ports, subnet.node)
        nat = view.by_id.get(_ref(inputs.get("natGateway")))
        if nat is not None:
            if nat.urn not in view.node_of:
                view.node_of[nat.urn] = view.new_id("e")
                ips = [view.by_id.get(_ref(ip)) for ip in nat.inputs.get("publicIpAddresses") or []]
                names = ", ".join(ip.name for ip in ips if ip is not None)
                egress_nodes.append(
                    f"{view.node_of[nat.urn]}[{_label(f'NatGateway<br/>{nat.name}<br/>public IP {names}')}]"
                )
                view.edge(view.node_of[nat.urn], FLOW, "SNAT", internet)
            view.edge(subnet.node, FLOW, "egress", view.node_of[nat.urn])
        table = view.by_id.get(_ref(inputs.get("routeTable")))
        for route in (table.inputs.get("routes") or []) if table else []:
            if route.get("nextHopType") != "VirtualAppliance":
                continue
            hop = str(route.get("nextHopIpAddress"))
            if hop not in firewalls:
                firewalls[hop] = view.new_id("f")
                hub.append(f"{firewalls[hop]}{{{{{_label(f'hub firewall<br/>{hop}')}}}}}")
                view.edge(firewalls[hop], FLOW, "allow-list only", internet)
            view.edge(subnet.node, FLOW, str(route.get("addressPrefix")), firewalls[hop])
    if egress_nodes:
        lines.append(f"  subgraph {view.new_id('g')}[{_label('Egress of this stack')}]")
        lines.extend(f"    {line}" for line in egress_nodes)
        lines.append("  end")
    if hub:
        lines.append(f"  subgraph {view.new_id('h')}[{_label('Hub network (not in this stack)')}]")
        lines.extend(f"    {line}" for line in hub)
        lines.append("  end")

    _data_path(view, values, pods, batch_nodes, endpoints, accounts)
    for source, arrow, label, target in view.edges:
        lines.append(f"  {source} {arrow}|{_label(label)}| {target}" if label else f"  {source} {arrow} {target}")
    return "\n".join(lines)


def _data_path(
    view: _View,
    values: dict[str, Any],
    pods: dict[str, str],
    batch_nodes: str,
    endpoints: dict[str, tuple[ResourceRecord, str]],
    accounts: dict[str, _Account],
) -> None:
    """The workflow's hops (numbered) and the pods' other flows, each from the release's values and the records."""

    def endpoint(token: str, name: object, group: str) -> str:
        """The node of the private endpoint with `group` to the stack's resource of that type and physical name."""
        for node, (record, target_id) in endpoints.items():
            target = view.by_id.get(target_id)
            groups = _get(record.inputs, "privateLinkServiceConnections")[0].get("groupIds") or []
            if target is not None and target.type == token and _physical(target) == name and group in groups:
                return node
        return ""

    registry = str(_get(values, "images", "registry") or "").split(".", 1)[0]
    blob = endpoint(STORAGE, _get(values, "storage", "accountName"), "blob")
    batch_api = endpoint(BATCH, _get(values, "batch", "accountName"), "batchAccount")
    node_management = endpoint(BATCH, _get(values, "batch", "accountName"), "nodeManagement")
    images = endpoint(REGISTRY, registry, "registry")
    egress: dict[str, list[dict[str, Any]]] = _get(values, "networkPolicy", "egress") or {}

    def reaches(pod: str, to: str) -> dict[str, Any] | None:
        return next((e for e in egress.get(pod, []) if e.get("to") == to), None)

    ts, cromwell, tes = pods.get("triggerservice", ""), pods.get("cromwell", ""), pods.get("tes", "")
    if reaches("triggerservice", "private-endpoints"):
        view.edge(ts, DATA_PATH, "1 trigger file in workflows/new/", blob)
    if hop := reaches("triggerservice", "pod:cromwell"):
        view.edge(ts, DATA_PATH, f"2 submits the workflow :{int(hop['port'])}", cromwell)
    if hop := reaches("cromwell", "pod:tes"):
        view.edge(cromwell, DATA_PATH, f"3 each task :{int(hop['port'])}", tes)
    if reaches("tes", "private-endpoints"):
        view.edge(tes, DATA_PATH, "4 pools, jobs, tasks", batch_api)
    if batch_nodes:
        view.edge(batch_nodes, DATA_PATH, "5 node agent takes the task", node_management)
        view.edge(batch_nodes, DATA_PATH, "6 inputs, outputs, TES runner", blob)
        view.edge(batch_nodes, FLOW, "task images", images)
    # Data accounts: the nodes' runner moves task data, and Cromwell mounts each container (blob CSI, keyless).
    for account in sorted(accounts.values(), key=lambda a: a.name):
        if account.endpoint:
            view.edge(batch_nodes, DATA_PATH, "6 data in and out", account.endpoint)
            view.edge(cromwell, FLOW, "data mounts (blob CSI)", account.endpoint)
        else:
            view.edge(batch_nodes, THROUGH_HUB, "6 data in and out, hub's endpoint", account.node)
            view.edge(cromwell, THROUGH_HUB, "data mounts, hub's endpoint", account.node)
    # Cromwell's execution directory and the data containers are blob CSI mounts (keyless): the node's driver reads
    # and writes them through the same endpoints.
    if _get(values, "cromwell", "executionsRoot") == "mount":
        view.edge(cromwell, FLOW, "executions, logs (blob CSI mount)", blob)
    if reaches("tes", "private-endpoints"):
        view.edge(tes, FLOW, "runner, SAS (tes-internal)", blob)
    postgres = next((view.node_of[r.urn] for r in view.of_type(POSTGRES) if r.urn in view.node_of), "")
    for pod, node in pods.items():
        if hop := reaches(pod, "postgres"):
            view.edge(node, FLOW, str(int(hop["port"])), postgres)
    for pool in view.of_type(BUILD_POOL):
        if pool.inputs.get("registryName") == registry and pool.urn in view.node_of:
            view.edge(view.node_of[pool.urn], FLOW, "pushes TES, TriggerService", images)
