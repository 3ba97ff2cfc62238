"""The CoA 3.2.0 contracts (components/contracts/tes_3_2_0.py, triggerservice_3_2_0.py, with Cromwell 87) against what
a taskDatabase cosmosdb stack really deploys, as test_runtime_contracts.py does for TES 6: the chart rendered with the
exact values the stack passes to its Release, judged at the moment each pod runs, and the registered resources. Plus
what only this generation has: the Cosmos DB port range, the application credential from a Key Vault file, the start
task TES starts with /bin/sh, and Pod Security `restricted` with the TES image's one added capability."""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import released

from components.contracts import Egress, Setting, contracts_for
from components.start_task import POSIX_SH_GUARD
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "chart"))
from chart_checks import pod_security_violations  # noqa: E402
from netpol import (  # noqa: E402
    AddressTarget,
    Pod,
    PodTarget,
    dns_target,
    egress_allowed,
    helm_test_moment,
    ingress_allowed,
    install_moment,
    running_moment,
    upgrade_moment,
)
from test_chart_security import leaks  # noqa: E402

CONTRACTS = {c.workload: c for c in contracts_for("tes32")}
ENTRA_ID_ADDRESS = "20.190.160.1"


def _entries(kind: str) -> list[tuple[str, Any]]:
    return [(c.workload, e) for c in CONTRACTS.values() for e in getattr(c, kind)]


def _ids(pairs: list[tuple[str, Any]]) -> list[str]:
    return [
        f"{w}:{getattr(e, 'name', None) or getattr(e, 'action', None) or getattr(e, 'to', None)}"
        + (f":{e.port}-{e.end_port}" if getattr(e, "end_port", None) else "")
        for w, e in pairs
    ]


# --- the workloads and their images ---------------------------------------------------------------------------------


def test_the_chart_runs_the_3_2_generation_exactly(tes32_stack: ProgramRun) -> None:
    objects = released.objects(tes32_stack)
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"} == set(CONTRACTS)
    images = released.values(tes32_stack)["images"]
    for workload in ("tes", "triggerservice"):
        # The tag CoA 3.2.0's deployer ran (src/deploy-cromwell-on-azure/scripts/env-02-internal-images.txt:1-2).
        assert images[workload]["tag"] == "3" and CONTRACTS[workload].version == "3.2.0"
        assert released.container(objects, CONTRACTS[workload])["image"].split("/", 1)[1].startswith("cromwellonazure/")
    assert images["cromwell"]["tag"] == CONTRACTS["cromwell"].version


# --- settings ------------------------------------------------------------------------------------------------------

SETTINGS = [(w, s) for w, s in _entries("settings") if not s.name.startswith("conf:")]


@pytest.mark.parametrize(("workload", "setting"), SETTINGS, ids=_ids(SETTINGS))
def test_setting_is_rendered_with_the_expected_shape(tes32_stack: ProgramRun, workload: str, setting: Setting) -> None:
    contract = CONTRACTS[workload]
    container = released.container(released.objects(tes32_stack), contract)
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    source_file = re.fullmatch(r"<from (/\S+)>", setting.shape)
    if source_file:
        # The application credential carries its client secret: never a value, exported from the Key Vault file.
        assert setting.name not in env, released.where(contract, setting)
        script = "\n".join(container.get("args", []))
        assert f'{setting.name}="$(cat {source_file.group(1)})"' in script and f"export {setting.name}" in script
        return
    assert setting.name in env, f"missing {released.where(contract, setting)}"
    assert re.fullmatch(setting.shape, str(env[setting.name])), (
        f"{env[setting.name]!r} breaks {released.where(contract, setting)}"
    )


def test_the_credential_file_is_the_applications_own_key_vault_secret(tes32_stack: ProgramRun) -> None:
    objects = released.objects(tes32_stack)
    secrets = released.values(tes32_stack)["keyVault"]["secrets"]
    for workload, secret in (("tes", "tesAzureServicesAuth"), ("triggerservice", "triggerServiceAzureServicesAuth")):
        (spc,) = [
            o for o in objects if o["kind"] == "SecretProviderClass" and o["metadata"]["name"] == f"{workload}-secrets"
        ]
        objects_yaml = spc["spec"]["parameters"]["objects"]
        # Exactly one object per pod: its own credential (TES's pod cannot read TriggerService's, nor a password).
        assert objects_yaml.count("objectName:") == 1
        assert f"objectName: {secrets[secret]}" in objects_yaml
        assert f"objectAlias: {workload}-azure-services-auth" in objects_yaml


def test_no_3_2_pod_holds_a_workload_identity_token_of_its_own(tes32_stack: ProgramRun) -> None:
    """The pods sign in as their applications; only the CSI driver acts as the workload identity (for one secret)."""
    objects = released.objects(tes32_stack)
    for workload in ("tes", "triggerservice"):
        labels = released.deployment(objects, workload)["spec"]["template"]["metadata"]["labels"]
        assert "azure.workload.identity/use" not in labels, workload
    assert released.deployment(objects, "cromwell")["spec"]["template"]["metadata"]["labels"][
        "azure.workload.identity/use"
    ]


def test_no_secret_is_a_value_in_any_rendered_object(tes32_stack: ProgramRun) -> None:
    assert [(o["kind"], o["metadata"]["name"], leak) for o in released.objects(tes32_stack) for leak in leaks(o)] == []


def test_pod_security_restricted_holds(tes32_stack: ProgramRun) -> None:
    assert pod_security_violations(released.objects(tes32_stack)) == []
    # The one capability kept: TES's image gives dotnet cap_net_bind_service (CromwellOnAzure@3.2.0 Dockerfile-Tes:25).
    tes = released.container(released.objects(tes32_stack), CONTRACTS["tes"])
    assert tes["securityContext"]["capabilities"]["add"] == ["NET_BIND_SERVICE"]
    trigger = released.container(released.objects(tes32_stack), CONTRACTS["triggerservice"])
    assert "add" not in trigger["securityContext"]["capabilities"]


# --- containers and mounts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("workload", "container"), _entries("containers"), ids=_ids(_entries("containers")))
def test_container_exists_in_the_coa_account(tes32_stack: ProgramRun, workload: str, container: Any) -> None:
    names = {c.inputs["containerName"] for c in tes32_stack.of_type("azure-native:storage:BlobContainer")}
    assert container.name in names, released.where(CONTRACTS[workload], container)


def test_tes_6_containers_are_not_created(tes32_stack: ProgramRun) -> None:
    names = {c.inputs["containerName"] for c in tes32_stack.of_type("azure-native:storage:BlobContainer")}
    assert "tes-internal" not in names


@pytest.mark.parametrize("workload", sorted(CONTRACTS))
def test_mounts_and_port(tes32_stack: ProgramRun, workload: str) -> None:
    released.assert_mounts_and_port(released.objects(tes32_stack), CONTRACTS[workload])


def test_cromwell_writes_executions_through_the_mount(tes32_stack: ProgramRun) -> None:
    """TES 3.2 accepts only /cromwell-executions/ paths (CromwellOnAzure@3.2.0 BatchScheduler.cs:633-639): even with
    shared keys on, Cromwell's root is the mount, not its blob filesystem."""
    values = released.values(tes32_stack)
    assert values["cromwell"]["executionsRoot"] == "mount"
    conf = next(
        o
        for o in released.objects(tes32_stack)
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "cromwell-config"
    )
    assert 'root = "/cromwell-executions"' in conf["data"]["cromwell-application.conf"]


# --- network paths, at the moment each pod runs --------------------------------------------------------------------


def _target(
    objects: list[dict[str, Any]], values: dict[str, Any], egress: Egress, port: int
) -> PodTarget | AddressTarget:
    if egress.to == "kube-dns":
        return dns_target(egress.protocol)
    if egress.to.startswith("pod:"):
        destination = released.deployment(objects, egress.to.removeprefix("pod:"))
        return PodTarget(
            labels=released.pod(destination).labels,
            namespace_labels={"kubernetes.io/metadata.name": "coa"},
            namespace="coa",
            port=port,
        )
    if egress.to == "azure-public":
        return AddressTarget(address=ENTRA_ID_ADDRESS, port=port, protocol=egress.protocol)
    cidr = {
        "postgres": values["networkPolicy"]["postgresCidr"],
        "private-endpoints": values["networkPolicy"]["privateEndpointsCidr"],
    }
    return AddressTarget(
        address=str(next(ipaddress.ip_network(cidr[egress.to]).hosts())), port=port, protocol=egress.protocol
    )


POD_EGRESS = [(w, e) for w, e in _entries("egress") if e.principal == "pod" and e.condition is None]


@pytest.mark.parametrize(("workload", "egress"), POD_EGRESS, ids=_ids(POD_EGRESS))
def test_network_path_is_open_while_the_release_runs(tes32_stack: ProgramRun, workload: str, egress: Egress) -> None:
    objects = released.objects(tes32_stack)
    moment = running_moment(objects)
    source = released.pod(released.deployment(objects, workload))
    # A range is open at both ends and in between (Cosmos DB direct mode picks replica ports at run time).
    ports = {egress.port} if egress.end_port is None else {egress.port, 10250, egress.end_port}
    for port in ports:
        target = _target(objects, released.values(tes32_stack), egress, port)
        assert egress_allowed(moment, source, target), f"port {port}: {released.where(CONTRACTS[workload], egress)}"
        if egress.to.startswith("pod:"):
            destination = released.pod(released.deployment(objects, egress.to.removeprefix("pod:")))
            assert ingress_allowed(moment, source, destination, port, egress.protocol)
    # The same pod is not open to everything: an arbitrary VNet address stays closed.
    assert not egress_allowed(moment, source, AddressTarget(address="10.99.0.10", port=egress.port))


def test_the_port_range_reaches_only_the_private_endpoint_subnet(tes32_stack: ProgramRun) -> None:
    objects = released.objects(tes32_stack)
    moment = running_moment(objects)
    values = released.values(tes32_stack)
    subnet = ipaddress.ip_network(values["networkPolicy"]["privateEndpointsCidr"])
    postgres = ipaddress.ip_network(values["networkPolicy"]["postgresCidr"])
    for workload in ("tes", "triggerservice"):
        source = released.pod(released.deployment(objects, workload))
        assert egress_allowed(moment, source, AddressTarget(address=str(subnet[10]), port=10255))
        # Not PostgreSQL (3.2 has no TES database there), not public addresses on anything but 443.
        assert not egress_allowed(moment, source, AddressTarget(address=str(postgres[4]), port=5432))
        assert not egress_allowed(moment, source, AddressTarget(address=ENTRA_ID_ADDRESS, port=10255))
    cromwell = released.pod(released.deployment(objects, "cromwell"))
    assert not egress_allowed(moment, cromwell, AddressTarget(address=str(subnet[10]), port=10255))


HOOKS = {"db-init": (("kube-dns", 53, "UDP"), ("postgres", 5432, "TCP")), "batch-config-upload": ()}


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_hook_pods_reach_what_they_need_on_install_and_upgrade(tes32_stack: ProgramRun, hook: str) -> None:
    objects = released.objects(tes32_stack)
    (job,) = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == hook]
    source = released.pod(job)
    values = released.values(tes32_stack)
    for moment in (install_moment(objects), upgrade_moment(objects)):
        for to, port, protocol in HOOKS[hook]:
            fake = Egress(
                to=to,
                port=port,
                protocol=protocol,
                why="hook",
                source="coa-lockdown/chart@0.1.0:templates/db-init.yaml:1",
                quote="{{- /*",
            )
            assert egress_allowed(moment, source, _target(objects, values, fake, port)), (hook, moment.name, to)


def test_the_batch_config_hook_writes_only_the_start_task(tes32_stack: ProgramRun) -> None:
    """TES 3.2 takes its VM sizes from AllowedVmSizes and has no tes-internal container to write them to."""
    objects = released.objects(tes32_stack)
    (config,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "batch-config"]
    assert set(config["data"]) == {"start-task.sh"}
    claims = {o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"}
    assert "batch-config-configuration" in claims and "batch-config-tes-internal" not in claims
    env = {e["name"]: e["value"] for e in released.container(objects, CONTRACTS["tes"])["env"]}
    assert env["AllowedVmSizes"].split(",") == released.values(tes32_stack)["batch"]["allowedVmSizes"]


# --- the Batch nodes ------------------------------------------------------------------------------------------------


def test_the_start_task_runs_under_the_shell_tes_3_2_starts_it_with(tes32_stack: ProgramRun) -> None:
    contract = CONTRACTS["tes"]
    assert contract.start_task is not None and contract.start_task.runner == "/bin/sh"
    script = released.values(tes32_stack)["batch"]["nodes"]["startTaskScript"]
    shebang, rest = script.split("\n", 1)
    # The #! line is ignored by `/bin/sh <path>`; the first command re-runs the script under bash.
    assert shebang.startswith("#!") and rest.startswith(POSIX_SH_GUARD)
    registry = released.values(tes32_stack)["images"]["registry"]
    assert f"REGISTRY_LOGIN_SERVER='{registry}'" in script and "\nregistry_login\n" in script


def test_blobxfer_and_the_smoke_tests_task_image_come_from_the_stacks_registry(tes32_stack: ProgramRun) -> None:
    values = released.values(tes32_stack)
    env = {e["name"]: e["value"] for e in released.container(released.objects(tes32_stack), CONTRACTS["tes"])["env"]}
    assert env["BlobxferImageName"].startswith(f"{values['images']['registry']}/blobxfer")
    (options,) = [
        o for o in released.objects(tes32_stack) if o["kind"] == "ConfigMap" and "options.json" in o.get("data", {})
    ]
    image = json.loads(options["data"]["options.json"])["default_runtime_attributes"]["docker"]
    assert image.startswith(f"{values['images']['registry']}/")
    form = "digest" if "@" in image else "tag"
    for contract in (CONTRACTS["cromwell"], CONTRACTS["tes"]):
        assert contract.task_images is not None and form in contract.task_images.accepted, (contract.workload, image)


def test_the_smoke_test_still_submits_through_cromwell(tes32_stack: ProgramRun) -> None:
    objects = released.objects(tes32_stack)
    (pod,) = [o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"] == "smoke-test"]
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["CROMWELL_URL"] == "http://cromwell.coa.svc.cluster.local:8000"
    source = Pod(labels=pod["metadata"]["labels"], namespace="coa")
    cromwell = released.pod(released.deployment(objects, "cromwell"))
    target = PodTarget(
        labels=cromwell.labels, namespace_labels={"kubernetes.io/metadata.name": "coa"}, namespace="coa", port=8000
    )
    moment = helm_test_moment(objects)
    assert egress_allowed(moment, source, target) and ingress_allowed(moment, source, cromwell, 8000, "TCP")
