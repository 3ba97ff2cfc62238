"""Existing storage accounts outside the VNet (sequencer output): private endpoints, least-privilege grants, and the
paths Cromwell mounts and TES 6 resolves, in a stack that lists two such accounts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from stackquery import one, run_variant

from components.access import ROLES
from components.contracts.roles import covers, is_data_action
from components.contracts.tes_6_0_0 import TES_6_0_0
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "chart"))
from render import render_chart  # noqa: E402

SUB = "7d3c9a1e-4b2f-4e6a-9c8d-1f0e2a3b4c5d"
SEQ = f"/subscriptions/{SUB}/resourceGroups/rg-sequencers/providers/Microsoft.Storage/storageAccounts/stseqout01"
HUB = f"/subscriptions/{SUB}/resourceGroups/rg-results/providers/Microsoft.Storage/storageAccounts/stresults02"
DATA_ACCOUNTS = [
    {
        "id": SEQ,
        "containers": [{"name": "tso500-runs", "access": "read"}, {"name": "demux", "access": "readWrite"}],
        "allowBlobPublicAccess": False,
        "roleAssignments": "stack",
        "endpointApproval": "automatic",
    },
    # The hub already has a blob private endpoint (and DNS) for this one.
    {
        "id": HUB,
        "containers": [{"name": "cohort-results", "access": "readWrite"}],
        "privateEndpoint": "existing",
        "allowBlobPublicAccess": False,
        "roleAssignments": "stack",
    },
]
RA = "azure-native:authorization:RoleAssignment"


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return run_variant(tmp_path_factory.mktemp("data"), "prod", {"coa-lockdown:dataStorageAccounts": DATA_ACCOUNTS})


def _grants(run: ProgramRun) -> dict[str, set[str]]:
    workload = one(run, "azure-native:managedidentity:UserAssignedIdentity", "coa-workload").outputs["principalId"]
    roles = {guid: name for name, guid in ROLES.items()}
    found: dict[str, set[str]] = {}
    for ra in run.of_type(RA):
        if ra.inputs["principalId"] == workload:
            found.setdefault(ra.inputs["scope"], set()).add(roles[ra.inputs["roleDefinitionId"].rsplit("/", 1)[-1]])
    return found


def test_private_endpoint_only_where_the_stack_creates_it(linked: ProgramRun) -> None:
    endpoints = [
        e
        for e in linked.of_type("azure-native:network:PrivateEndpoint")
        if e.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"] in (SEQ, HUB)
    ]
    assert [e.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"] for e in endpoints] == [SEQ]
    (endpoint,) = endpoints
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["blob"]
    assert endpoint.inputs["subnet"]["id"] == one(linked, "azure-native:network:Subnet", "snet-privateEndpoints").id
    group = next(
        g
        for g in linked.of_type("azure-native:network:PrivateDnsZoneGroup")
        if g.inputs["privateEndpointName"] == endpoint.outputs["name"]
    )
    zone = one(linked, "azure-native:privatedns:PrivateZone", "-blob")
    assert group.inputs["privateDnsZoneConfigs"][0]["privateDnsZoneId"] == zone.id


def test_workload_gets_exactly_read_delegation_and_per_container_data_roles(linked: ProgramRun) -> None:
    grants = _grants(linked)
    for account in (SEQ, HUB):
        assert grants[account] == {"Reader", "Storage Blob Delegator"}, account
    containers = f"{SEQ}/blobServices/default/containers"
    assert grants[f"{containers}/tso500-runs"] == {"Storage Blob Data Reader"}
    assert grants[f"{containers}/demux"] == {"Storage Blob Data Contributor"}
    assert grants[f"{HUB}/blobServices/default/containers/cohort-results"] == {"Storage Blob Data Contributor"}
    # Role definitions are addressed in the account's own subscription.
    for ra in linked.of_type(RA):
        if ra.inputs["scope"].startswith((SEQ, HUB)):
            assert ra.inputs["roleDefinitionId"].startswith(f"/subscriptions/{SUB}/providers/")


def test_no_grant_or_endpoint_without_the_config(prod: ProgramRun) -> None:
    assert not [ra for ra in prod.of_type(RA) if "stseqout01" in ra.inputs["scope"]]
    assert prod.of_type("coa:storage:DataStorageLinks") and not [
        r for r in prod.resources if r.parent == one(prod, "coa:storage:DataStorageLinks").urn
    ]


def test_release_waits_for_the_links(linked: ProgramRun) -> None:
    release = one(linked, "kubernetes:helm.sh/v3:Release")
    links = one(linked, "coa:storage:DataStorageLinks")
    children = [r for r in linked.resources if r.parent == links.urn]
    assert len(children) == 8  # 1 endpoint component + 7 role assignments
    # Waiting on a component waits on its custom resources (the endpoint and its DNS zone group).
    custom = [
        r for r in linked.resources if r.custom and (r.parent == links.urn or r.parent in {c.urn for c in children})
    ]
    assert len(custom) == 9
    assert {c.urn for c in custom} <= set(release.dependencies)


def test_cromwell_mounts_each_container_where_tes_resolves_it(linked: ProgramRun) -> None:
    values = one(linked, "kubernetes:helm.sh/v3:Release").inputs["values"]
    objects = render_chart(values)
    cromwell = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "cromwell")
    spec = cromwell["spec"]["template"]["spec"]
    claim_of = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v
    }
    mounts = {
        m["mountPath"]: (claim_of.get(m["name"]), m.get("readOnly")) for m in spec["containers"][0]["volumeMounts"]
    }
    assert mounts["/stseqout01/tso500-runs"] == ("data-stseqout01-tso500-runs", True)
    assert mounts["/stseqout01/demux"] == ("data-stseqout01-demux", False)
    assert mounts["/stresults02/cohort-results"] == ("data-stresults02-cohort-results", False)
    pvs = {p["spec"]["claimRef"]["name"]: p for p in objects if p["kind"] == "PersistentVolume"}
    attrs = pvs["data-stseqout01-tso500-runs"]["spec"]["csi"]["volumeAttributes"]
    assert attrs["storageAccount"] == "stseqout01" and attrs["resourceGroup"] == "rg-sequencers"
    assert attrs["subscriptionID"] == SUB and attrs["containerName"] == "tso500-runs"
    assert attrs["mountWithWorkloadIdentityToken"] == "true" and "secretName" not in attrs
    # The CoA account's own volumes are unchanged.
    own = pvs["blob-inputs"]["spec"]["csi"]["volumeAttributes"]
    assert own["storageAccount"] == values["storage"]["accountName"]


def test_the_pack_passes_the_stack_with_links(linked: ProgramRun) -> None:
    from offline.analyzer import PolicyPackAnalyzer

    config = json.loads((REPO / "policy" / "config" / "prod.json").read_text())
    # An account reached through the hub's endpoint (privateEndpoint: existing) is waived by name, with the reason.
    hub = {"reason": "the hub has its blob private endpoint and DNS", "accounts": [f"*/{HUB.rsplit('/', 1)[-1]}"]}
    config["data-account-private-endpoint"] = {"waivers": [hub]}
    with PolicyPackAnalyzer(REPO / "policy", config=config, timeout=60) as pack:
        mandatory = [v for v in pack.analyze(linked.resources) if v.enforcement_level == "mandatory"]
    assert mandatory == [], [f"{v.policy_name}: {v.message}" for v in mandatory]


def test_tes_contract_actions_hold_on_every_data_account(linked: ProgramRun) -> None:
    """Every data-account entry of the TES 6.0.0 contract (TES and its runner on the nodes): at account scope, or for
    blob data on each container; writes only where the container is read-write."""
    needs = [a for a in TES_6_0_0.azure_actions if a.scope == "data-account"]
    assert len(needs) >= 5 and {a.principal for a in needs} == {"pod", "batch-node"}
    grants = _grants(linked)
    access = {"tso500-runs": "read", "demux": "readWrite", "cohort-results": "readWrite"}
    for account, containers in ((SEQ, ("tso500-runs", "demux")), (HUB, ("cohort-results",))):
        for need in needs:
            data = is_data_action(need.action)
            scopes = [f"{account}/blobServices/default/containers/{c}" for c in containers] if data else [account]
            for scope in scopes:
                container = scope.rsplit("/", 1)[-1]
                if data and access.get(container) == "read" and not need.action.endswith("/read"):
                    # A read container: the runner's output SAS is refused there, as the config asks.
                    assert not any(covers(role, need.action) for role in grants.get(scope, set())), scope
                    continue
                held = grants.get(scope, set()) | (grants.get(account, set()) if data else set())
                assert any(covers(role, need.action) for role in held), f"{scope}: {need} ({need.source}); held {held}"


OWNER_MANAGED = [
    {
        "id": SEQ,
        "containers": [{"name": "tso500-runs", "access": "read"}],
        "allowBlobPublicAccess": False,
        # The lab's own account team grants roles and approves endpoints on it; this stack may do neither.
        "roleAssignments": "owner",
        "endpointApproval": "owner",
    }
]


@pytest.fixture(scope="module")
def owner_managed(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return run_variant(tmp_path_factory.mktemp("owner"), "prod", {"coa-lockdown:dataStorageAccounts": OWNER_MANAGED})


def test_an_owner_approved_endpoint_is_a_manual_request(owner_managed: ProgramRun, linked: ProgramRun) -> None:
    """Without approval rights on the account Azure refuses an automatic connection; a manual one waits Pending."""
    (manual,) = [
        e
        for e in owner_managed.of_type("azure-native:network:PrivateEndpoint")
        if e.inputs.get("manualPrivateLinkServiceConnections")
    ]
    connection = manual.inputs["manualPrivateLinkServiceConnections"][0]
    assert connection["privateLinkServiceId"] == SEQ and connection["groupIds"] == ["blob"]
    assert "stseqout01" in connection["requestMessage"] and "prod" in connection["requestMessage"]
    assert not manual.inputs.get("privateLinkServiceConnections")
    # The automatic variant asks for no manual approval.
    assert not [
        e
        for e in linked.of_type("azure-native:network:PrivateEndpoint")
        if e.inputs.get("manualPrivateLinkServiceConnections")
    ]


def test_owner_granted_accounts_get_no_assignment_but_the_exact_commands(owner_managed: ProgramRun) -> None:
    assert not [ra for ra in owner_managed.of_type(RA) if ra.inputs["scope"].startswith(SEQ)]
    (steps,) = owner_managed.outputs["dataAccountOwnerSteps"]
    principal = one(owner_managed, "azure-native:managedidentity:UserAssignedIdentity", "coa-workload").outputs[
        "principalId"
    ]
    assert steps["account"] == "stseqout01" and steps["roleAssignments"] == "owner"
    commands = steps["ownerCommands"]
    container = f"{SEQ}/blobServices/default/containers/tso500-runs"
    for role, scope in (("Reader", SEQ), ("Storage Blob Delegator", SEQ), ("Storage Blob Data Reader", container)):
        assert any(f'--role "{role}" --scope {scope}' in c and principal in c for c in commands), (role, commands)
    assert any("private-endpoint-connection approve" in c for c in commands)


def test_stack_granted_accounts_list_no_owner_commands(linked: ProgramRun) -> None:
    steps = {s["account"]: s for s in linked.outputs["dataAccountOwnerSteps"]}
    assert steps["stseqout01"]["ownerCommands"] == [] and steps["stresults02"]["endpointApproval"] == "existing"
