"""Registry, PostgreSQL and Batch: every secure setting and every wiring, as the engine receives them."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from stackquery import ancestors, by_id, one, run_variant, stack_values

from components.postgres import SLOT_SUFFIX as SUFFIX
from components.start_task import ImageScannerSettings, StartTaskSettings, render_start_task
from offline.harness import ProgramRun
from offline.mocks import TENANT_ID
from offline.records import ResourceRecord

REPO = Path(__file__).resolve().parents[2]

REGISTRY = "azure-native:containerregistry:Registry"
CACHE_RULE = "azure-native:containerregistry:CacheRule"
POSTGRES = "azure-native:dbforpostgresql:Server"
BATCH = "azure-native:batch:BatchAccount"
RELEASE = "kubernetes:helm.sh/v3:Release"

# A prod stack with an image scanner configured (the checked-in stacks configure none) and shared keys on (Cromwell's
# blob filesystem).
VARIANT_CONFIG = {
    "coa-lockdown:storage": {"allowSharedKeyAccess": True},
    # Production refuses shared keys unless the stack file accepts them by name, with a reason.
    "coa-lockdown:guardrailOverrides": {
        "sharedKeyAccess": "Cromwell blob filesystem until the mount migration is done",
        "unpinnedImages": "digests pending",
    },
    "coa-lockdown:imageScanner": {
        "image": "crcoaprodp4m9.azurecr.io/security/scanner:2.4.1",
        "registryServer": "crcoaprodp4m9.azurecr.io",
        "usernameSecretName": "scanner-user",
        "passwordSecretName": "scanner-pass",
        "credentialsExpireOn": "2027-06-30",
    },
    "coa-lockdown:imageScannerUsername": {"secure": "v1:ZmFrZQ=="},
    "coa-lockdown:imageScannerPassword": {"secure": "v1:ZmFrZQ=="},
}


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> ProgramRun:
    return run_variant(tmp_path_factory.mktemp("variant"), "prod", VARIANT_CONFIG)


def _diagnostics_of(run: ProgramRun, target: ResourceRecord) -> list[ResourceRecord]:
    return [d for d in run.of_type("azure-native:monitor:DiagnosticSetting") if d.inputs["resourceUri"] == target.id]


def _endpoints_of(run: ProgramRun, target: ResourceRecord) -> Iterator[ResourceRecord]:
    for endpoint in run.of_type("azure-native:network:PrivateEndpoint"):
        if endpoint.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"] == target.id:
            yield endpoint


def _workload_identity(run: ProgramRun) -> ResourceRecord:
    return one(run, "azure-native:managedidentity:UserAssignedIdentity", "coa-workload")


# --- registry -----------------------------------------------------------------------------------------------------

REGISTRY_SECURE = {
    "adminUserEnabled": False,
    "anonymousPullEnabled": False,
    "publicNetworkAccess": "Disabled",
    # Artifact cache fills a network-restricted registry only as a trusted service (components/registry.py).
    "networkRuleBypassOptions": "AzureServices",
}


@pytest.mark.parametrize(("key", "value"), sorted(REGISTRY_SECURE.items()))
def test_registry_secure_setting(stack: ProgramRun, key: str, value: object) -> None:
    assert one(stack, REGISTRY).inputs[key] == value


def test_registry_is_premium_without_export(stack: ProgramRun) -> None:
    registry = one(stack, REGISTRY).inputs
    assert registry["sku"]["name"] == "Premium"
    assert registry["policies"]["exportPolicy"]["status"] == "disabled"


def test_registry_zone_redundant_only_in_the_zonal_stack(dev: ProgramRun, prod: ProgramRun) -> None:
    assert one(dev, REGISTRY).inputs["zoneRedundancy"] == "Disabled"
    assert one(prod, REGISTRY).inputs["zoneRedundancy"] == "Enabled"


def test_cache_rules_mirror_the_workload_images(stack: ProgramRun) -> None:
    registry = one(stack, REGISTRY)
    rules = stack.of_type(CACHE_RULE)
    # TES and TriggerService 6.0.0 are not on MCR: the stack builds them, so no rule points at MCR.
    assert {r.inputs["sourceRepository"]: r.inputs["targetRepository"] for r in rules} == {
        "docker.io/broadinstitute/cromwell": "broadinstitute/cromwell",
        "docker.io/library/postgres": "library/postgres",
        "docker.io/curlimages/curl": "curlimages/curl",
        "docker.io/library/ubuntu": "library/ubuntu",
    }
    assert {r.inputs["registryName"] for r in rules} == {registry.outputs["name"]}
    assert stack.outputs["registryLoginServer"] == registry.outputs["loginServer"]


# --- private endpoints ----------------------------------------------------------------------------------------------

ENDPOINTS = [
    # (target type, group id, zone)
    (REGISTRY, "registry", "privatelink.azurecr.io"),
    (BATCH, "batchAccount", "privatelink.batch.azure.com"),
    (BATCH, "nodeManagement", "privatelink.batch.azure.com"),
]


@pytest.mark.parametrize(("target_type", "group_id", "zone_name"), ENDPOINTS)
def test_endpoint_in_the_endpoint_subnet_with_its_zone(
    dev: ProgramRun, target_type: str, group_id: str, zone_name: str
) -> None:
    target = one(dev, target_type)
    endpoints = [
        e for e in _endpoints_of(dev, target) if e.inputs["privateLinkServiceConnections"][0]["groupIds"] == [group_id]
    ]
    assert len(endpoints) == 1
    endpoint = endpoints[0]
    subnet = one(dev, "azure-native:network:Subnet", "snet-privateEndpoints")
    assert endpoint.inputs["subnet"]["id"] == subnet.id
    groups = [
        g
        for g in dev.of_type("azure-native:network:PrivateDnsZoneGroup")
        if g.inputs["privateEndpointName"] == endpoint.outputs["name"]
    ]
    assert len(groups) == 1
    zone = by_id(dev, groups[0].inputs["privateDnsZoneConfigs"][0]["privateDnsZoneId"])
    assert zone.inputs["privateZoneName"] == zone_name


def test_batch_has_exactly_its_two_endpoints(stack: ProgramRun) -> None:
    groups = sorted(
        e.inputs["privateLinkServiceConnections"][0]["groupIds"][0] for e in _endpoints_of(stack, one(stack, BATCH))
    )
    assert groups == ["batchAccount", "nodeManagement"]


# --- diagnostics and component tree -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "component"),
    [
        (REGISTRY, "coa:registry:Registry"),
        (POSTGRES, "coa:data:Postgres"),
        (BATCH, "coa:batch:Batch"),
    ],
)
def test_diagnostics_to_the_workspace_and_parented_by_the_component(
    dev: ProgramRun, token: str, component: str
) -> None:
    target = one(dev, token)
    workspace = one(dev, "azure-native:operationalinsights:Workspace")
    settings = _diagnostics_of(dev, target)
    assert len(settings) == 1
    assert settings[0].inputs["workspaceId"] == workspace.id
    assert [log["categoryGroup"] for log in settings[0].inputs["logs"]] == ["allLogs"]
    assert ancestors(dev, target)[0] == component


# --- PostgreSQL -----------------------------------------------------------------------------------------------------


def test_postgres_in_the_delegated_subnet_with_the_private_zone(stack: ProgramRun) -> None:
    network = one(stack, POSTGRES).inputs["network"]
    subnet = one(stack, "azure-native:network:Subnet", "snet-postgres")
    assert network["delegatedSubnetResourceId"] == subnet.id
    assert subnet.inputs["delegations"][0]["serviceName"] == "Microsoft.DBforPostgreSQL/flexibleServers"
    zone = by_id(stack, network["privateDnsZoneArmResourceId"])
    assert zone.inputs["privateZoneName"] == "privatelink.postgres.database.azure.com"
    assert network["publicNetworkAccess"] == "Disabled"


def test_postgres_has_no_private_endpoint(stack: ProgramRun) -> None:
    # VNet-integrated servers cannot take one; the delegated subnet is their only network path.
    assert list(_endpoints_of(stack, one(stack, POSTGRES))) == []


def test_postgres_password_and_entra_id_auth_in_our_tenant(stack: ProgramRun) -> None:
    auth = one(stack, POSTGRES).inputs["authConfig"]
    assert auth == {"passwordAuth": "Enabled", "activeDirectoryAuth": "Enabled", "tenantId": TENANT_ID}


@pytest.mark.parametrize(
    ("parameter", "value"), [("require_secure_transport", "on"), ("ssl_min_protocol_version", "TLSv1.2")]
)
def test_postgres_tls_parameters(stack: ProgramRun, parameter: str, value: str) -> None:
    server = one(stack, POSTGRES)
    found = [
        c.inputs
        for c in stack.of_type("azure-native:dbforpostgresql:Configuration")
        if c.inputs["configurationName"] == parameter
    ]
    assert found == [
        {
            "configurationName": parameter,
            "value": value,
            "source": "user-override",
            "serverName": server.outputs["name"],
            "resourceGroupName": server.inputs["resourceGroupName"],
        }
    ]


def test_postgres_ha_and_geo_backup_in_prod_only(dev: ProgramRun, prod: ProgramRun) -> None:
    dev_server, prod_server = one(dev, POSTGRES).inputs, one(prod, POSTGRES).inputs
    assert prod_server["highAvailability"]["mode"] == "ZoneRedundant"
    assert prod_server["backup"] == {"backupRetentionDays": 35, "geoRedundantBackup": "Enabled"}
    assert dev_server["highAvailability"]["mode"] == "Disabled"
    assert dev_server["backup"]["geoRedundantBackup"] == "Disabled"
    assert prod_server["sku"] == {"name": "Standard_D4ds_v5", "tier": "GeneralPurpose"}


def test_postgres_databases_follow_the_task_database(dev: ProgramRun, prod: ProgramRun) -> None:
    def databases(run: ProgramRun) -> list[str]:
        server = one(run, POSTGRES)
        found = run.of_type("azure-native:dbforpostgresql:Database")
        assert {d.inputs["serverName"] for d in found} == {server.outputs["name"]}
        return sorted(d.inputs["databaseName"] for d in found)

    # Both stacks run TES 6: its tasks live next to Cromwell's workflows.
    assert databases(dev) == databases(prod) == ["cromwell_db", "tes_db"]


def test_database_passwords_are_generated_into_key_vault(dev: ProgramRun, prod: ProgramRun) -> None:
    def secrets(run: ProgramRun) -> dict[str, str]:
        return {
            s.inputs["secretName"]: s.inputs["properties"]["value"] for s in run.of_type("azure-native:keyvault:Secret")
        }

    slots = {f"{app}-db-password{SUFFIX[slot]}" for app in ("cromwell", "tes") for slot in ("a", "b")}
    for run, expected in ((dev, {"postgres-admin-password", *slots}), (prod, {"postgres-admin-password", *slots})):
        stored = secrets(run)
        assert set(stored) >= expected
        generated = {p.outputs["result"] for p in run.of_type("random:index/randomPassword:RandomPassword")}
        values = {stored[name] for name in expected}
        assert len(values) == len(expected) and values <= generated
        server = one(run, POSTGRES).inputs
        assert server["administratorLogin"] == "coa_admin"
        assert server["administratorLoginPassword"] == stored["postgres-admin-password"]


def test_no_password_reaches_a_stack_output_or_the_start_task(stack: ProgramRun) -> None:
    passwords = [p.outputs["result"] for p in stack.of_type("random:index/randomPassword:RandomPassword")]
    assert len(passwords) >= 2
    exported = json.dumps(stack.outputs)
    script = _start_task_script(stack)
    for password in passwords:
        assert password and password not in exported and password not in script
    assert stack.outputs["postgresFqdn"] == one(stack, POSTGRES).outputs["fullyQualifiedDomainName"]


def test_stateful_data_protected_in_prod_only(dev: ProgramRun, variant: ProgramRun) -> None:
    assert one(variant, POSTGRES).protect is True
    assert one(dev, POSTGRES).protect is False


def test_prod_postgres_protected(prod: ProgramRun) -> None:
    assert one(prod, POSTGRES).protect is True


def test_registry_and_batch_are_not_protected(prod: ProgramRun) -> None:
    # Both are rebuilt from config without data loss (the registry is a pull-through cache).
    assert one(prod, REGISTRY).protect is False
    assert one(prod, BATCH).protect is False


# --- Batch ----------------------------------------------------------------------------------------------------------

BATCH_SECURE = {
    "publicNetworkAccess": "Disabled",
    "allowedAuthenticationModes": ["AAD"],
    "poolAllocationMode": "BatchService",
}


@pytest.mark.parametrize(("key", "value"), sorted(BATCH_SECURE.items()))
def test_batch_secure_setting(stack: ProgramRun, key: str, value: object) -> None:
    assert one(stack, BATCH).inputs[key] == value


def test_batch_runs_as_the_workload_identity_with_identity_auto_storage(stack: ProgramRun) -> None:
    account = one(stack, BATCH).inputs
    workload = _workload_identity(stack)
    storage = one(stack, "azure-native:storage:StorageAccount")
    assert account["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [workload.id]}
    assert account["autoStorage"] == {
        "storageAccountId": storage.id,
        "authenticationMode": "BatchAccountManagedIdentity",
        "nodeIdentityReference": {"resourceId": workload.id},
    }
    assert stack.outputs["batchAccountName"] == one(stack, BATCH).outputs["name"]


def _start_task_script(run: ProgramRun) -> str:
    """The start-task script as the Helm release carries it to the chart's upload hook."""
    nodes = one(run, RELEASE).inputs["values"]["batch"]["nodes"]
    assert nodes["globalStartTask"] == "/configuration/start-task.sh"
    return str(nodes["startTaskScript"])


def test_start_task_script_is_the_rendered_script_without_scanner(stack: ProgramRun) -> None:
    script = _start_task_script(stack)
    client_id = _workload_identity(stack).outputs["clientId"]
    expected = render_start_task(StartTaskSettings(managed_identity_client_id=client_id))
    assert script == expected
    assert "SCANNER_ENABLED=false" in expected and f"MANAGED_IDENTITY_CLIENT_ID='{client_id}'" in expected


def test_start_task_script_starts_the_configured_scanner(variant: ProgramRun) -> None:
    text = _start_task_script(variant)
    client_id = _workload_identity(variant).outputs["clientId"]
    vault = one(variant, "azure-native:keyvault:Vault")
    scanner = ImageScannerSettings(
        image="crcoaprodp4m9.azurecr.io/security/scanner:2.4.1",
        registry_server="crcoaprodp4m9.azurecr.io",
        key_vault_name=vault.outputs["name"],
        username_secret_name="scanner-user",
        password_secret_name="scanner-pass",
    )
    assert text == render_start_task(StartTaskSettings(managed_identity_client_id=client_id, scanner=scanner))
    assert "SCANNER_ENABLED=true" in text
    assert f"SCANNER_KEY_VAULT_NAME='{vault.outputs['name']}'" in text
    # The credentials themselves stay in Key Vault: only their secret names are in the script.
    stored = {
        s.inputs["secretName"]: s.inputs["properties"]["value"] for s in variant.of_type("azure-native:keyvault:Secret")
    }
    assert stored["scanner-user"] and stored["scanner-user"] not in text
    assert stored["scanner-pass"] and stored["scanner-pass"] not in text


def test_no_blob_is_written_through_the_storage_data_plane(stack: ProgramRun, variant: ProgramRun) -> None:
    # azure-native's Blob signs its data-plane writes with account keys (shared keys are off in prod) and needs a
    # path to the private endpoint from wherever `pulumi up` runs; the chart's hook writes the script instead.
    for run in (stack, variant):
        assert run.of_type("azure-native:storage:Blob") == []
        assert not [r for r in run.resources if r.type.startswith("azure-native:storage:") and r.type.endswith("Blob")]


def test_the_release_carrying_the_start_task_waits_for_its_container(stack: ProgramRun) -> None:
    # The chart's pre-install/pre-upgrade hook mounts `configuration` and writes the script before TES starts, so
    # the release (the only consumer of the path and the script) must wait for the container to exist.
    release = one(stack, RELEASE)
    configuration = one(stack, "azure-native:storage:BlobContainer", "configuration")
    assert configuration.urn in release.property_dependencies["values"]
    consumers = [r for r in stack.resources if "/configuration/start-task.sh" in json.dumps(r.inputs)]
    assert consumers == [release]


def test_an_accepted_guardrail_is_shown_in_the_preview(variant: ProgramRun, prod: ProgramRun) -> None:
    assert variant.outputs["guardrailOverrides"] == {
        "sharedKeyAccess": "Cromwell blob filesystem until the mount migration is done",
        "unpinnedImages": "digests pending",
    }
    assert one(variant, "azure-native:storage:StorageAccount").inputs["allowSharedKeyAccess"] is True
    # The checked-in prod stack accepts exactly one breach, the pending image digests, and every preview shows it.
    assert set(prod.outputs["guardrailOverrides"]) == {"unpinnedImages"}


def test_operator_secrets_expire_when_the_operator_says(variant: ProgramRun) -> None:
    expected = int(datetime.datetime(2027, 6, 30, tzinfo=datetime.UTC).timestamp())
    for name in ("scanner-user", "scanner-pass"):
        secret = next(s for s in variant.of_type("azure-native:keyvault:Secret") if s.inputs["secretName"] == name)
        assert secret.inputs["properties"]["attributes"]["expires"] == expected


def test_production_needs_the_scanner_credentials_expiry() -> None:
    from configuration.reader import ConfigError
    from configuration.stack import parse_settings

    raw = stack_values("prod")
    scanner = {k: v for k, v in VARIANT_CONFIG["coa-lockdown:imageScanner"].items() if k != "credentialsExpireOn"}
    raw |= {"imageScanner": scanner, "imageScannerUsername": "u", "imageScannerPassword": "p"}
    secret_keys = frozenset({"imageScannerUsername", "imageScannerPassword"})
    with pytest.raises(ConfigError, match=r"coa-lockdown:imageScanner\.credentialsExpireOn: is required in production"):
        parse_settings(raw, stack="prod", secret_keys=secret_keys)
    raw["imageScanner"] = {**scanner, "credentialsExpireOn": "2027-02-30"}
    with pytest.raises(ConfigError, match="'2027-02-30' is not a calendar date"):
        parse_settings(raw, stack="prod", secret_keys=secret_keys)
