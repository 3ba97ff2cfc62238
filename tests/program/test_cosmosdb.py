"""The CosmosDb component alone, under the mock engine: every secure default, the private endpoint and DNS wiring,
diagnostics, protection and data-plane roles as the engine receives them; then the real policy pack over the same
registrations, silent as built and reporting each single weakening."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from stackquery import one

from components.cosmosdb import (
    LOG_CATEGORIES,
    CosmosDataRoleAssignment,
    CosmosDbArgs,
)
from components.placement import Placement
from components.private_endpoint import PrivateEndpointSpec
from offline.analyzer import PolicyPackAnalyzer
from offline.harness import ProgramError, ProgramRun, run_program
from offline.records import ResourceRecord

REPO = Path(__file__).resolve().parents[2]
SUB = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-coa/providers"
SUBNET = f"{SUB}/Microsoft.Network/virtualNetworks/vnet-coa/subnets/snet-pe"
ZONE = f"{SUB}/Microsoft.Network/privateDnsZones/privatelink.documents.azure.com"
WORKSPACE = f"{SUB}/Microsoft.OperationalInsights/workspaces/log-coa"
PRINCIPAL = "00000000-0000-4000-8000-0000000000e1"

ACCOUNT = "azure-native:cosmosdb:DatabaseAccount"
DATABASE = "azure-native:cosmosdb:SqlResourceSqlDatabase"
CONTAINER = "azure-native:cosmosdb:SqlResourceSqlContainer"
ROLE_ASSIGNMENT = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"
ENDPOINT = "azure-native:network:PrivateEndpoint"
ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
LOCK = "azure-native:authorization:ManagementLockByScope"

# The component as a one-file Pulumi program: every argument comes from the stack's `coa:args` (JSON).
PROGRAM = """
import json

import pulumi

from components.cosmosdb import CosmosDataRoleAssignment, CosmosDb, CosmosDbArgs
from components.placement import Placement
from components.private_endpoint import PrivateEndpointSpec
from components.protection import Protection

raw = json.loads(pulumi.Config("coa").require("args"))
placement = Placement(resource_group_name="rg-coa", location="westeurope", tags=raw.pop("tags"))
spec = PrivateEndpointSpec(placement=placement, subnet_id=raw.pop("subnet_id"), zone_ids=raw.pop("zone_ids"))
cosmos = CosmosDb(
    "tasks",
    CosmosDbArgs(
        placement=placement,
        private_endpoint=spec,
        protection=Protection(**raw.pop("protection")),
        data_role_assignments=[CosmosDataRoleAssignment(**a) for a in raw.pop("data_role_assignments")],
        **raw,
    ),
)
pulumi.export("documentEndpoint", cosmos.document_endpoint)
"""


def run_cosmos(root: Path, stack: str, **changes: Any) -> ProgramRun:
    args: dict[str, Any] = {
        "account_name": f"cosmos-coa-{stack}",
        "subnet_id": SUBNET,
        "zone_ids": {"documents": ZONE},
        "diagnostics_workspace_id": WORKSPACE,
        "protection": {},
        "data_role_assignments": [],
        "tags": {"environment": stack, "workload": "cromwell-on-azure"},
        **changes,
    }
    (root / "Pulumi.yaml").write_text("name: coa\nruntime: python\n")
    (root / f"Pulumi.{stack}.yaml").write_text(json.dumps({"config": {"coa:args": json.dumps(args)}}))
    (root / "__main__.py").write_text(PROGRAM)
    return run_program(root, stack)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    """Every default."""
    return run_cosmos(tmp_path_factory.mktemp("dev"), "dev")


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    """Hardened: protected and locked, zone-redundant, 30 days of point-in-time restore."""
    return run_cosmos(
        tmp_path_factory.mktemp("prod"),
        "prod",
        protection={"protect": True, "locks": True},
        zone_redundant=True,
        backup_tier="Continuous30Days",
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    """Maximal: account keys on (what TES 3.2 needs), two data-plane roles, a smaller throughput ceiling."""
    return run_cosmos(
        tmp_path_factory.mktemp("keys"),
        "dev",
        local_auth_enabled=True,
        max_autoscale_throughput=1000,
        data_role_assignments=[
            {"key": "reporting", "principal_id": PRINCIPAL, "role": "reader"},
            {"key": "migration", "principal_id": PRINCIPAL, "role": "contributor"},
        ],
    )


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackAnalyzer]:
    config = json.loads((REPO / "policy" / "config" / "prod.json").read_text())
    with PolicyPackAnalyzer(REPO / "policy", config=config, timeout=60) as analyzer:
        yield analyzer


# --- the account ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("publicNetworkAccess", "Disabled"),
        ("isVirtualNetworkFilterEnabled", False),
        ("virtualNetworkRules", []),
        ("ipRules", []),
        ("networkAclBypass", "None"),
        ("networkAclBypassResourceIds", []),
        ("minimalTlsVersion", "Tls12"),
        ("disableKeyBasedMetadataWriteAccess", True),
        ("disableLocalAuth", True),
        ("enableMultipleWriteLocations", False),
        ("kind", "GlobalDocumentDB"),
        ("consistencyPolicy", {"defaultConsistencyLevel": "Session"}),
        ("backupPolicy", {"type": "Continuous", "continuousModeProperties": {"tier": "Continuous7Days"}}),
    ],
)
def test_account_secure_default(dev: ProgramRun, key: str, expected: Any) -> None:
    assert one(dev, ACCOUNT).inputs[key] == expected


def test_account_is_one_region_zone_redundant_only_when_asked(dev: ProgramRun, prod: ProgramRun) -> None:
    def regions(run: ProgramRun) -> list[dict[str, Any]]:
        return one(run, ACCOUNT).inputs["locations"]

    assert regions(dev) == [{"locationName": "westeurope", "failoverPriority": 0, "isZoneRedundant": False}]
    assert regions(prod) == [{"locationName": "westeurope", "failoverPriority": 0, "isZoneRedundant": True}]


def test_backup_tier_is_the_callers(prod: ProgramRun) -> None:
    assert one(prod, ACCOUNT).inputs["backupPolicy"]["continuousModeProperties"] == {"tier": "Continuous30Days"}


def test_account_keys_only_on_explicit_request(keys: ProgramRun) -> None:
    account = one(keys, ACCOUNT).inputs
    assert account["disableLocalAuth"] is False
    # Keys that may read and write items still cannot change databases or containers.
    assert account["disableKeyBasedMetadataWriteAccess"] is True


def test_document_endpoint_is_exported(dev: ProgramRun) -> None:
    assert dev.outputs["documentEndpoint"] == "https://cosmos-coa-dev.documents.azure.com:443/"


# --- what TES 3.2 reads ---------------------------------------------------------------------------------------------


def test_tes_database_has_shared_autoscale_throughput(dev: ProgramRun, keys: ProgramRun) -> None:
    database = one(dev, DATABASE)
    assert database.inputs["databaseName"] == "TES"
    assert database.inputs["resource"] == {"id": "TES"}
    assert database.inputs["options"] == {"autoscaleSettings": {"maxThroughput": 4000}}
    assert one(keys, DATABASE).inputs["options"] == {"autoscaleSettings": {"maxThroughput": 1000}}


def test_tasks_container_has_the_partition_key_tes_expects(dev: ProgramRun) -> None:
    container = one(dev, CONTAINER)
    # microsoft/CromwellOnAzure@3.2.0: src/Common/Constants.cs:10-12, src/Tes/Repository/RepositoryItem.cs:22.
    assert container.inputs["containerName"] == "Tasks"
    assert container.inputs["resource"] == {
        "id": "Tasks",
        "partitionKey": {"paths": ["/_partitionKey"], "kind": "Hash"},
    }
    # No throughput of its own: the container shares the database's.
    assert "options" not in container.inputs
    assert one(dev, DATABASE).urn in container.property_dependencies["databaseName"]


# --- private endpoint and DNS ---------------------------------------------------------------------------------------


def test_sql_private_endpoint_lands_in_the_endpoint_subnet(dev: ProgramRun) -> None:
    endpoint = one(dev, ENDPOINT)
    assert endpoint.inputs["subnet"]["id"] == SUBNET
    (connection,) = endpoint.inputs["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["Sql"]
    assert connection["privateLinkServiceId"] == one(dev, ACCOUNT).id
    assert one(dev, ACCOUNT).urn in endpoint.property_dependencies["privateLinkServiceConnections"]


def test_endpoint_records_go_to_the_documents_zone(dev: ProgramRun) -> None:
    group = one(dev, ZONE_GROUP)
    assert group.inputs["privateDnsZoneConfigs"] == [{"name": "documents", "privateDnsZoneId": ZONE}]
    assert one(dev, ENDPOINT).urn in group.property_dependencies["privateEndpointName"]


def test_catalogue_without_the_documents_zone_is_refused(tmp_path: Path) -> None:
    blob_zone = ZONE.replace("documents.azure.com", "blob.core.windows.net")
    with pytest.raises(ProgramError, match=r"no DNS zone \['documents'\]"):
        run_cosmos(tmp_path, "dev", zone_ids={"blob": blob_zone})


# --- diagnostics ----------------------------------------------------------------------------------------------------


def test_data_and_control_plane_logs_reach_the_workspace(dev: ProgramRun) -> None:
    setting = one(dev, DIAGNOSTICS)
    assert setting.inputs["workspaceId"] == WORKSPACE
    assert one(dev, ACCOUNT).urn in setting.property_dependencies["resourceUri"]
    assert setting.inputs["logAnalyticsDestinationType"] == "Dedicated"
    sent = [log["category"] for log in setting.inputs["logs"] if log["enabled"]]
    assert sent == list(LOG_CATEGORIES)
    assert {"DataPlaneRequests", "ControlPlaneRequests"} <= set(sent)
    assert setting.inputs["metrics"] == [{"category": "Requests", "enabled": True}]


# --- protection -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [ACCOUNT, DATABASE, CONTAINER])
def test_data_bearing_resources_are_protected_when_asked(dev: ProgramRun, prod: ProgramRun, token: str) -> None:
    assert one(prod, token).protect is True
    assert one(dev, token).protect is False


def test_account_is_locked_when_asked(dev: ProgramRun, prod: ProgramRun) -> None:
    lock = one(prod, LOCK)
    assert lock.inputs["level"] == "CanNotDelete"
    assert lock.inputs["scope"] == one(prod, ACCOUNT).id
    assert one(prod, ACCOUNT).urn in lock.property_dependencies["scope"]
    assert dev.of_type(LOCK) == []


# --- data-plane RBAC ------------------------------------------------------------------------------------------------


def test_no_data_plane_role_unless_asked(dev: ProgramRun) -> None:
    assert dev.of_type(ROLE_ASSIGNMENT) == []


def test_data_plane_roles_are_scoped_to_the_tes_database(keys: ProgramRun) -> None:
    account = one(keys, ACCOUNT)
    assignments = {r.name: r.inputs for r in keys.of_type(ROLE_ASSIGNMENT)}
    assert set(assignments) == {"tasks-data-reporting", "tasks-data-migration"}
    reader, contributor = assignments["tasks-data-reporting"], assignments["tasks-data-migration"]
    assert reader["roleDefinitionId"] == f"{account.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000001"
    assert contributor["roleDefinitionId"] == f"{account.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002"
    for assignment in (reader, contributor):
        assert assignment["scope"] == f"{account.id}/dbs/TES"
        assert assignment["principalId"] == PRINCIPAL
        assert uuid.UUID(assignment["roleAssignmentId"])
    assert reader["roleAssignmentId"] != contributor["roleAssignmentId"]


# --- argument checks ------------------------------------------------------------------------------------------------


def _args(**changes: Any) -> CosmosDbArgs:
    placement = Placement(resource_group_name="rg", location="westeurope")
    spec = PrivateEndpointSpec(placement=placement, subnet_id=SUBNET, zone_ids={})
    base: dict[str, Any] = {
        "placement": placement,
        "account_name": "cosmos-coa-dev",
        "private_endpoint": spec,
        "diagnostics_workspace_id": WORKSPACE,
    }
    return CosmosDbArgs(**{**base, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"account_name": "Cosmos_Coa"}, "account_name 'Cosmos_Coa'"),
        ({"account_name": "co"}, "account_name 'co'"),
        ({"account_name": "cosmos-coa-"}, "account_name 'cosmos-coa-'"),
        ({"account_name": "c" * 45}, f"account_name '{'c' * 45}'"),
        ({"max_autoscale_throughput": 1500}, "max_autoscale_throughput 1500"),
        ({"max_autoscale_throughput": 400}, "max_autoscale_throughput 400"),
        ({"backup_tier": "Periodic"}, "backup_tier 'Periodic'"),
        (
            {
                "data_role_assignments": [
                    CosmosDataRoleAssignment(key="a", principal_id=PRINCIPAL),
                    CosmosDataRoleAssignment(key="a", principal_id=PRINCIPAL, role="contributor"),
                ]
            },
            r"keys \['a'\]",
        ),
        (
            {"data_role_assignments": [CosmosDataRoleAssignment(key="a", principal_id=PRINCIPAL, role="owner")]},  # type: ignore[arg-type]
            r"roles \['owner'\]",
        ),
    ],
)
def test_bad_arguments_are_refused_by_name(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _args(**changes)


def test_longest_and_shortest_account_names_are_accepted() -> None:
    assert _args(account_name="c" * 44).account_name == "c" * 44
    assert _args(account_name="c0s").account_name == "c0s"


# --- the policy pack ------------------------------------------------------------------------------------------------


def _found(pack: PolicyPackAnalyzer, records: Sequence[ResourceRecord]) -> set[str]:
    return {v.policy_name for v in pack.analyze(records)}


def test_pack_is_silent_on_the_defaults(pack: PolicyPackAnalyzer, dev: ProgramRun) -> None:
    assert [(v.policy_name, v.message) for v in pack.analyze(dev.resources)] == []


def test_pack_is_silent_on_the_hardened_production_account(pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    assert [(v.policy_name, v.message) for v in pack.analyze(prod.resources)] == []


def test_account_keys_are_the_one_finding_of_the_tes_3_2_shape(pack: PolicyPackAnalyzer, keys: ProgramRun) -> None:
    assert _found(pack, keys.resources) == {"cosmosdb-local-auth-disabled"}


def _edited(run: ProgramRun, token: str, key: str, value: Any) -> list[ResourceRecord]:
    target = one(run, token)

    def edit(r: ResourceRecord) -> ResourceRecord:
        if r.urn != target.urn:
            return r
        return dataclasses.replace(r, inputs={**r.inputs, key: value}, outputs={**r.outputs, key: value})

    return [edit(r) for r in run.resources]


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("publicNetworkAccess", "Enabled", "cosmosdb-public-network-disabled"),
        ("minimalTlsVersion", "Tls11", "cosmosdb-tls-1-2-minimum"),
        ("disableKeyBasedMetadataWriteAccess", False, "cosmosdb-key-based-metadata-write-disabled"),
        ("disableLocalAuth", False, "cosmosdb-local-auth-disabled"),
    ],
)
def test_pack_reports_a_flipped_default(
    pack: PolicyPackAnalyzer, dev: ProgramRun, key: str, value: Any, rule: str
) -> None:
    assert _found(pack, _edited(dev, ACCOUNT, key, value)) == {rule}


DROPS: dict[str, tuple[Callable[[ResourceRecord], bool], str]] = {
    "private endpoint": (lambda r: r.type in (ENDPOINT, ZONE_GROUP), "paas-private-endpoint-with-dns"),
    "zone group": (lambda r: r.type == ZONE_GROUP, "paas-private-endpoint-with-dns"),
    "diagnostics": (lambda r: r.type == DIAGNOSTICS, "diagnostics-to-log-analytics"),
    "lock": (lambda r: r.type == LOCK, "stateful-resources-locked-in-production"),
}


@pytest.mark.parametrize("part", sorted(DROPS))
def test_pack_reports_a_missing_part(pack: PolicyPackAnalyzer, prod: ProgramRun, part: str) -> None:
    drop, rule = DROPS[part]
    kept = [r for r in prod.resources if not drop(r)]
    assert len(kept) < len(prod.resources)
    assert _found(pack, kept) == {rule}


def test_pack_reports_an_unprotected_production_account(pack: PolicyPackAnalyzer, prod: ProgramRun) -> None:
    account = one(prod, ACCOUNT)
    records = [dataclasses.replace(r, protect=False) if r.urn == account.urn else r for r in prod.resources]
    assert _found(pack, records) == {"stateful-resources-protected-in-production"}
