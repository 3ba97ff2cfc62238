"""The whole program with taskDatabase cosmosdb (CoA 3.2, the reduced-assurance generation) for dev and prod: what it
adds (Cosmos DB behind its private endpoint and zone, the applications' credentials in Key Vault with their expiry,
their grants and custom roles), what it leaves out (TES's PostgreSQL database, the image build), what it shows (every
weakening, in the outputs and the evidence), and the policy pack with the generation's own per-resource waivers."""

from __future__ import annotations

import calendar
import datetime
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from stackquery import TES32_APPLICATIONS, by_id, one, scope_resource

from components.access import ROLES
from components.contracts import contracts_for, derive
from components.contracts.roles import CUSTOM_ROLES, ROLE_PERMISSIONS, covers
from components.cosmosdb import TES_CONTAINER
from configuration.tes32 import CONNECTION_STRING_SECRETS, WEAKENINGS
from offline.analyzer import PolicyPackAnalyzer, Violation
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "policy"
CONFIGS = PACK / "config"
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
TES32 = contracts_for("tes32")


def _values(run: ProgramRun) -> dict:
    return one(run, RELEASE).inputs["values"]


# --- what the generation adds ---------------------------------------------------------------------------------------


def test_cosmos_db_is_private_behind_its_endpoint_in_the_documents_zone(tes32_stack: ProgramRun) -> None:
    account = one(tes32_stack, "azure-native:cosmosdb:DatabaseAccount")
    assert account.inputs["publicNetworkAccess"] == "Disabled"
    assert account.inputs["minimalTlsVersion"] == "Tls12"
    assert account.inputs["backupPolicy"]["type"] == "Continuous"
    # Local auth is on only because this stack states it (and production overrides the guardrail by name).
    assert account.inputs["disableLocalAuth"] is False
    endpoint = one(tes32_stack, "azure-native:network:PrivateEndpoint", "cosmos-sql")
    (connection,) = endpoint.inputs["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["Sql"] and connection["privateLinkServiceId"] == account.id
    assert "snet-privateEndpoints" in endpoint.inputs["subnet"]["id"]
    zone = one(tes32_stack, "azure-native:privatedns:PrivateZone", "-documents")
    assert zone.inputs["privateZoneName"] == "privatelink.documents.azure.com"
    group = one(tes32_stack, "azure-native:network:PrivateDnsZoneGroup", "cosmos-sql")
    assert [c["privateDnsZoneId"] for c in group.inputs["privateDnsZoneConfigs"]] == [zone.id]
    assert one(tes32_stack, "azure-native:cosmosdb:SqlResourceSqlContainer").inputs["containerName"] == TES_CONTAINER


def test_the_tes6_stacks_have_no_cosmos_zone_role_definition_or_application_grant(dev: ProgramRun) -> None:
    assert not dev.of_type("azure-native:cosmosdb:DatabaseAccount")
    assert not dev.of_type(ROLE_DEFINITION)
    zones = {z.inputs["privateZoneName"] for z in dev.of_type("azure-native:privatedns:PrivateZone")}
    assert "privatelink.documents.azure.com" not in zones
    principals = {app["objectId"] for app in TES32_APPLICATIONS.values()}
    assert not [ra for ra in dev.of_type(ROLE_ASSIGNMENT) if ra.inputs["principalId"] in principals]


def test_each_application_credential_is_a_key_vault_secret_that_expires_with_it(tes32_stack: ProgramRun) -> None:
    vault = one(tes32_stack, "azure-native:keyvault:Vault")
    for workload, secret_name in CONNECTION_STRING_SECRETS.items():
        (secret,) = [
            s for s in tes32_stack.of_type("azure-native:keyvault:Secret") if s.inputs["secretName"] == secret_name
        ]
        assert secret.inputs["vaultName"] == vault.outputs["name"]
        app = TES32_APPLICATIONS[workload]
        value = secret.inputs["properties"]["value"]
        # RunAs=App selects AppAuthentication's client-secret provider; the secret is the stack's `--secret` value.
        assert value.startswith(f"RunAs=App;AppId={app['clientId']};TenantId={app['tenantId']};AppKey=")
        # The offline engine's stand-in for the `pulumi config set --secret` value of this workload's key.
        assert value.endswith(f"-{'tesClientSecret' if workload == 'tes' else 'triggerServiceClientSecret'}")
        expires = secret.inputs["properties"]["attributes"]["expires"]
        assert expires == calendar.timegm(datetime.date.fromisoformat(app["secretExpiresOn"]).timetuple())


def test_only_cromwell_keeps_a_postgresql_database(tes32_stack: ProgramRun) -> None:
    databases = {d.inputs["databaseName"] for d in tes32_stack.of_type("azure-native:dbforpostgresql:Database")}
    assert databases == {"cromwell_db"}
    logins = {login["database"] for login in _values(tes32_stack)["dbInit"]["logins"]}
    assert logins == {"cromwell_db"}
    assert not [s for s in tes32_stack.of_type("azure-native:keyvault:Secret") if "tes-db" in s.inputs["secretName"]]


def test_the_3_2_images_come_through_the_registry_cache_and_nothing_is_built(tes32_stack: ProgramRun) -> None:
    rules = {
        r.inputs["cacheRuleName"]: r.inputs for r in tes32_stack.of_type("azure-native:containerregistry:CacheRule")
    }
    assert rules["cache-tes"]["sourceRepository"] == "mcr.microsoft.com/cromwellonazure/tes"
    assert rules["cache-blobxfer"]["sourceRepository"] == "mcr.microsoft.com/blobxfer"
    assert not tes32_stack.of_type("command:local:Command")
    images = _values(tes32_stack)["images"]
    assert (images["tes"]["repository"], images["tes"]["tag"]) == ("cromwellonazure/tes", "3")
    assert (images["triggerservice"]["repository"], images["triggerservice"]["tag"]) == (
        "cromwellonazure/triggerservice",
        "3",
    )


# --- grants: what the 3.2 contracts need, to whom, where -------------------------------------------------------------


def _principal(run: ProgramRun, identity: str) -> str:
    if identity.endswith("-app"):
        return TES32_APPLICATIONS[identity.removesuffix("-app")]["objectId"]
    name = {"workload": "coa-workload", "kubelet": "aks-kubelet"}[identity]
    return one(run, "azure-native:managedidentity:UserAssignedIdentity", name).outputs["principalId"]


NEEDS = [
    (contract, action)
    for contract in TES32
    for action in contract.azure_actions
    if action.scope != "data-account" and action.condition is None
]


def _roles_held(run: ProgramRun, principal: str, scope_id: str) -> list[str]:
    custom = {d.inputs["roleDefinitionId"]: d.inputs["roleName"].split(" (")[0] for d in run.of_type(ROLE_DEFINITION)}
    names = {guid: name for name, guid in ROLES.items()} | custom
    return [
        names[ra.inputs["roleDefinitionId"].rsplit("/", 1)[-1]]
        for ra in run.of_type(ROLE_ASSIGNMENT)
        if ra.inputs["principalId"] == principal and ra.inputs["scope"].lower() == scope_id.lower()
    ]


@pytest.mark.parametrize(
    ("contract", "need"),
    NEEDS,
    ids=[f"{c.workload}:{a.action.rsplit('/', 2)[-2]}/{a.action.rsplit('/', 1)[-1]}@{a.scope}" for c, a in NEEDS],
)
def test_the_principal_of_each_3_2_action_holds_it_on_its_resource(tes32_stack: ProgramRun, contract, need) -> None:
    identity = derive.identity_of(contract, need)
    if need.scope == "subscription":
        scope_id = "/subscriptions/" + one(tes32_stack, "azure-native:storage:StorageAccount").id.split("/")[2]
    else:
        scope_id = scope_resource(tes32_stack, need.scope).id
    held = _roles_held(tes32_stack, _principal(tes32_stack, identity), scope_id)
    assert any(covers(role, need.action) for role in held), f"{contract.workload} {need} as {identity}: {held}"


def test_pods_act_as_their_applications_and_the_csi_driver_as_the_workload_identity() -> None:
    by_identity: dict[str, set[str]] = {}
    for contract in TES32:
        for action in contract.azure_actions:
            by_identity.setdefault(derive.identity_of(contract, action), set()).add(f"{contract.workload}:{action.via}")
    assert by_identity["tes-app"] == {"tes:sdk"}
    assert by_identity["triggerservice-app"] == {"triggerservice:sdk"}
    assert {"tes:secrets-csi", "triggerservice:secrets-csi", "tes:start-task"} <= by_identity["workload"]


def test_custom_roles_hold_only_their_actions_and_one_scope_each(tes32_stack: ProgramRun) -> None:
    definitions = {d.inputs["roleName"].split(" (")[0]: d.inputs for d in tes32_stack.of_type(ROLE_DEFINITION)}
    assert set(definitions) == set(CUSTOM_ROLES)
    for role, inputs in definitions.items():
        (permission,) = inputs["permissions"]
        assert tuple(permission["actions"]) == CUSTOM_ROLES[role].actions
        assert permission["dataActions"] == [] and len(inputs["assignableScopes"]) == 1
        assert inputs["roleType"] == "CustomRole" and f"{tes32_stack.stack})" in inputs["roleName"]
    subscription, group = (definitions[r]["assignableScopes"][0] for r in ("VM SKU Reader", "Cosmos DB Key Reader"))
    assert subscription.count("/") == 2 and "/resourceGroups/" in group


def test_only_the_sku_list_is_granted_above_a_single_resource(tes32_stack: ProgramRun) -> None:
    broad = [ra for ra in tes32_stack.of_type(ROLE_ASSIGNMENT) if ra.inputs["scope"].rstrip("/").count("/") <= 4]
    (grant,) = broad
    assert grant.inputs["principalId"] == TES32_APPLICATIONS["tes"]["objectId"]
    definition = one(tes32_stack, ROLE_DEFINITION, "vm-sku-reader")
    assert grant.inputs["roleDefinitionId"].endswith("/" + definition.inputs["roleDefinitionId"])
    assert ROLE_PERMISSIONS["VM SKU Reader"].actions == ("Microsoft.Compute/skus/read",)


def test_triggerservice_sees_exactly_one_storage_account(tes32_stack: ProgramRun) -> None:
    """It lists every account its application can see and stops when one refuses its keys
    (CromwellOnAzure@3.2.0:src/TriggerService/AzureStorage.cs:218-235)."""
    principal = TES32_APPLICATIONS["triggerservice"]["objectId"]
    scopes = {
        by_id(tes32_stack, ra.inputs["scope"]).type
        for ra in tes32_stack.of_type(ROLE_ASSIGNMENT)
        if ra.inputs["principalId"] == principal
    }
    assert scopes == {"azure-native:storage:StorageAccount", "azure-native:cosmosdb:DatabaseAccount"}


# --- what the generation shows ------------------------------------------------------------------------------------


def test_prod_shows_every_weakening_as_a_named_override(tes32_prod: ProgramRun) -> None:
    overrides = tes32_prod.outputs["guardrailOverrides"]
    assert set(WEAKENINGS) <= set(overrides)
    assert all(len(overrides[name]) >= 10 for name in WEAKENINGS)


def test_every_preview_warns_each_weakening(tes32_dev: ProgramRun, tes32_prod: ProgramRun, dev: ProgramRun) -> None:
    """dev runs them without overrides and warns each one; prod warns each override with its reason."""
    for name, why in WEAKENINGS.items():
        assert f"reduced assurance (taskDatabase cosmosdb): {name}: {why}" in tes32_dev.warnings
        reason = tes32_prod.outputs["guardrailOverrides"][name]
        assert f"production guardrail overridden: {name}: {reason}" in tes32_prod.warnings
    assert not [w for w in tes32_prod.warnings if w.startswith("reduced assurance")]
    assert not [w for w in dev.warnings if "reduced assurance" in w]


def test_the_firewall_allow_list_is_the_3_2_contracts(tes32_prod: ProgramRun) -> None:
    listed = {(row["destination"], row["port"]) for row in tes32_prod.outputs["firewallAllowList"]}
    derived = {(r.destination, r.port) for r in derive.firewall_allow_list(TES32, image_build=False)}
    assert listed == derived
    # Batch nodes pull blobxfer and task images from the registry, never from MCR.
    assert not any(
        "(batch-node)" in c and "mcr" in row["destination"]
        for row in tes32_prod.outputs["firewallAllowList"]
        for c in row["consumers"]
    )


def test_the_preflight_checks_the_cosmos_endpoint_and_name(tes32_prod: ProgramRun) -> None:
    preflight = tes32_prod.outputs["preflight"]
    assert any(e["name"].startswith("coa-prod-cosmos-sql-pep") for e in preflight["privateEndpoints"])
    assert any(name.endswith(".documents.azure.com") for name in preflight["privateNames"])
    assert any(zone["name"] == "privatelink.documents.azure.com" for zone in preflight["dnsZones"])
    assert [i["key"] for i in preflight["registry"]["images"]][-1] == "blobxfer"
    # Each application's client secret, checked against the day the stack plans to rotate it.
    assert preflight["applications"] == [
        {"workload": w, "clientId": a["clientId"], "secretExpiresOn": a["secretExpiresOn"]}
        for w, a in TES32_APPLICATIONS.items()
    ]


def test_the_preflight_script_reads_the_3_2_output_and_checks_each_application(
    tes32_prod: ProgramRun, tmp_path: Path
) -> None:
    outputs = tmp_path / "preflight.json"
    outputs.write_text(json.dumps(tes32_prod.outputs["preflight"]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "az").write_text("#!/bin/sh\necho 'ERROR: offline' >&2\nexit 1\n")
    (bin_dir / "az").chmod(0o755)
    result = subprocess.run(
        [str(REPO / "scripts/preflight.sh"), tes32_prod.stack, "--outputs", str(outputs), "--only", "app-credentials"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        check=False,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()[:2]] == [
        "FAIL app-credentials tes",
        "FAIL app-credentials triggerservice",
    ]


# --- the policy pack, with the generation's per-resource waivers -------------------------------------------------------


@pytest.fixture(scope="module")
def packs() -> Iterator[dict[str, PolicyPackAnalyzer]]:
    with (
        PolicyPackAnalyzer(PACK, timeout=60) as bare,
        PolicyPackAnalyzer(PACK, config=json.loads((CONFIGS / "cosmosdb-dev.json").read_text()), timeout=60) as dev,
        PolicyPackAnalyzer(PACK, config=json.loads((CONFIGS / "cosmosdb-prod.json").read_text()), timeout=60) as prod,
    ):
        yield {"bare": bare, "dev": dev, "prod": prod}


def _mandatory(violations: list[Violation]) -> list[tuple[str, str]]:
    return sorted((v.policy_name, v.urn.rsplit("::", 1)[-1]) for v in violations if v.enforcement_level == "mandatory")


def test_each_stack_passes_with_its_cosmosdb_policy_config(
    packs: dict[str, PolicyPackAnalyzer], tes32_dev: ProgramRun, tes32_prod: ProgramRun
) -> None:
    assert _mandatory(packs["dev"].analyze(tes32_dev.resources)) == []
    assert _mandatory(packs["prod"].analyze(tes32_prod.resources)) == []


def test_without_the_waivers_the_pack_names_exactly_the_generations_findings(
    packs: dict[str, PolicyPackAnalyzer], tes32_dev: ProgramRun
) -> None:
    assert _mandatory(packs["bare"].analyze(tes32_dev.resources)) == [
        ("batch-runtime-pools-governed", "coa-dev-batch-ba"),
        ("cosmosdb-local-auth-disabled", "coa-dev-cosmos-cosmos"),
        ("role-assignment-resource-scope", "coa-dev-access-tes-app-subscription-vsr"),
    ]


def test_only_the_node_communication_guarantee_is_audited_for_tes_3_2(
    packs: dict[str, PolicyPackAnalyzer], tes32_dev: ProgramRun
) -> None:
    """TES 3.2 leaves the communication mode unset: that one assignment audits; the other pool denies still deny, and
    the waiver accepts exactly that guarantee."""
    effects = {
        r.name.rsplit("batch-governance-", 1)[-1]: r.inputs["parameters"]["effect"]["value"]
        for r in tes32_dev.of_type("azure-native:authorization:PolicyAssignment")
        if "batch-governance" in r.name
    }
    assert effects == {
        "batch-pool-no-public-ip": "Deny",
        "batch-pool-in-batch-subnet": "Deny",
        "batch-pool-supported-node-agent": "Deny",
        "batch-pool-simplified-communication": "Audit",
        "batch-pool-disk-encryption": "Audit",
    }
    (finding,) = [
        v for v in packs["bare"].analyze(tes32_dev.resources) if v.policy_name == "batch-runtime-pools-governed"
    ]
    assert "simplified node communication" in finding.message


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_cosmosdb_configs_are_the_stack_configs_plus_per_resource_waivers(stack: str) -> None:
    """Nothing else is lowered: every rule keeps the base config's settings and waivers; each added waiver names the
    resources (or images) it covers and says why."""
    base = json.loads((CONFIGS / f"{stack}.json").read_text())
    cosmos = json.loads((CONFIGS / f"cosmosdb-{stack}.json").read_text())
    for rule, entry in cosmos.items():
        original = base.get(rule, {})
        assert {k: v for k, v in entry.items() if k != "waivers"} == {
            k: v for k, v in original.items() if k != "waivers"
        }, rule
        waivers, before = entry.get("waivers", []), original.get("waivers", [])
        assert waivers[: len(before)] == before, rule
        for waiver in waivers[len(before) :]:
            assert waiver["reason"].startswith("taskDatabase cosmosdb (CoA 3.2): "), rule
            # Named resources: the Cosmos DB account, TES's application's one subscription grant, the storage account,
            # the release (for the 3.2 images' pending digests), the Batch account (node communication audited).
            assert set(waiver["resources"]) <= {
                "*-batch-ba",
                "*-cosmos-cosmos",
                "*-access-tes-app-subscription-vsr",
                "*-storage-st",
                "*-coa-release",
            }, waiver
    assert set(base) <= set(cosmos)


def test_dev_keeps_no_waiver_for_tes6() -> None:
    assert json.loads((CONFIGS / "dev.json").read_text()) == {}
