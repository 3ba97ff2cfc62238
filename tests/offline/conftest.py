"""Synthetic resource records for the offline preview's report, tree and diagram tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from offline.records import ResourceRecord

PROJECT, STACK = "demo", "dev"
SUB = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-demo"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"

MakeRecord = Callable[..., ResourceRecord]


def urn_of(token: str, name: str, parent_type: str = "") -> str:
    qualified = f"{parent_type}${token}" if parent_type else token
    return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{name}"


@pytest.fixture
def make_record() -> MakeRecord:
    def make(
        token: str,
        name: str,
        *,
        parent: ResourceRecord | None = None,
        arm: str = "",
        inputs: dict[str, Any] | None = None,
        custom: bool = True,
        **extra: Any,
    ) -> ResourceRecord:
        rid = f"{SUB}/providers/{arm}" if arm else ""
        outputs = {"id": rid, "name": f"{name}-x1"} if custom else {}
        return ResourceRecord(
            urn=urn_of(token, name, parent.type if parent else ""),
            type=token,
            name=name,
            custom=custom,
            inputs=inputs or {},
            outputs=outputs,
            id=rid,
            parent=parent.urn if parent else STACK_URN,
            **extra,
        )

    return make


@pytest.fixture
def sample_stack(make_record: MakeRecord) -> list[ResourceRecord]:
    """A stack shaped like ours: a Network and a Storage component, the wiring between them, attachments."""
    stack = ResourceRecord(
        urn=STACK_URN, type="pulumi:pulumi:Stack", name=f"{PROJECT}-{STACK}", custom=False, inputs={}, parent=""
    )
    rg = make_record("azure-native:resources:ResourceGroup", "rg", arm="", inputs={"location": "westeurope"})
    rg = ResourceRecord(**{**vars(rg), "id": SUB, "outputs": {"id": SUB, "name": "rg-demo"}})
    net = make_record("coa:network:Network", "main", custom=False)
    vnet = make_record(
        "azure-native:network:VirtualNetwork",
        "main-vnet",
        parent=net,
        arm="Microsoft.Network/virtualNetworks/main-vnet-x1",
        inputs={"resourceGroupName": "rg-demo"},
    )
    nsg_pe = make_record(
        "azure-native:network:NetworkSecurityGroup",
        "main-nsg-pe",
        parent=net,
        arm="Microsoft.Network/networkSecurityGroups/nsg-pe",
    )
    snet_pe = make_record(
        "azure-native:network:Subnet",
        "main-snet-pe",
        parent=net,
        arm="Microsoft.Network/virtualNetworks/main-vnet-x1/subnets/pe",
        inputs={
            "virtualNetworkName": "main-vnet-x1",
            "resourceGroupName": "rg-demo",
            "networkSecurityGroup": {"id": nsg_pe.id},
        },
        dependencies=(vnet.urn, nsg_pe.urn),
        property_dependencies={"networkSecurityGroup": (nsg_pe.urn,), "virtualNetworkName": (vnet.urn,)},
    )
    store = make_record("coa:storage:Storage", "data", custom=False)
    account = make_record(
        "azure-native:storage:StorageAccount",
        "data-st",
        parent=store,
        arm="Microsoft.Storage/storageAccounts/datast",
        inputs={"allowBlobPublicAccess": False},
        protect=True,
    )
    containers = [
        make_record(
            "azure-native:storage:BlobContainer",
            f"data-{c}",
            parent=store,
            arm=f"Microsoft.Storage/storageAccounts/datast/blobServices/default/containers/{c}",
            inputs={"accountName": "data-st-x1"},
        )
        for c in ("inputs", "outputs", "workflows", "configuration", "executions")
    ]
    pe_group = make_record("coa:network:PrivateEndpoint", "data-blob", parent=store, custom=False)
    pe = make_record(
        "azure-native:network:PrivateEndpoint",
        "data-blob-pep",
        parent=pe_group,
        arm="Microsoft.Network/privateEndpoints/data-blob-pep",
        inputs={
            "subnet": {"id": snet_pe.id},
            "privateLinkServiceConnections": [{"privateLinkServiceId": account.id, "groupIds": ["blob"]}],
        },
    )
    zone_group = make_record(
        "azure-native:network:PrivateDnsZoneGroup",
        "data-blob-dns",
        parent=pe_group,
        inputs={"privateEndpointName": "data-blob-pep-x1"},
    )
    diag = make_record(
        "azure-native:monitor:DiagnosticSetting", "data-st-diag", parent=store, inputs={"resourceUri": account.id}
    )
    role = make_record(
        "azure-native:authorization:RoleAssignment", "data-st-reader", parent=store, inputs={"scope": account.id}
    )
    k8s = make_record("pulumi:providers:kubernetes", "aks-k8s", inputs={"kubeconfig": "apiVersion: v1"}, provider="")
    namespace = make_record("kubernetes:core/v1:Namespace", "coa", provider=f"{k8s.urn}::k8s-provider-id")
    return [
        stack,
        rg,
        net,
        vnet,
        nsg_pe,
        snet_pe,
        store,
        account,
        *containers,
        pe_group,
        pe,
        zone_group,
        diag,
        role,
        k8s,
        namespace,
    ]
