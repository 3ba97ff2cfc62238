"""Runtime contracts (components/contracts/) against what each stack really deploys: the chart rendered with the exact
values the stack passes to its Release, judged at the moment each pod runs (install hooks, running release, helm test),
and the registered Azure resources. A failure names the contract entry and its citation."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import released
from stackquery import by_id, one, scope_resource

from components.access import ROLES
from components.contracts import (
    CITATION,
    PRINCIPAL_IDENTITY,
    ContractError,
    Egress,
    Setting,
    all_contracts,
)
from components.contracts.roles import ROLE_PERMISSIONS, covers
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "chart"))
from netpol import (  # noqa: E402
    AddressTarget,
    Moment,
    Pod,
    PodTarget,
    dns_target,
    egress_allowed,
    ingress_allowed,
    install_moment,
    running_moment,
    upgrade_moment,
)
from render import render_chart  # noqa: E402

CONTRACTS = {c.workload: c for c in all_contracts()}
ENTRA_ID_ADDRESS = "20.190.160.1"  # login.microsoftonline.com range: stands for every public Azure endpoint


def _entries(kind: str) -> list[tuple[str, Any]]:
    return [(c.workload, entry) for c in all_contracts() for entry in getattr(c, kind)]


def _ids(pairs: list[tuple[str, Any]]) -> list[str]:
    return [
        f"{w}:{getattr(e, 'name', None) or getattr(e, 'action', None) or getattr(e, 'to', None) or getattr(e, 'path', '')}"
        for w, e in pairs
    ]


# --- the tables themselves ----------------------------------------------------------------------------------------


def test_every_entry_cites_a_tagged_reference_line() -> None:
    entries = [
        e
        for c in all_contracts()
        for kind in ("settings", "containers", "azure_actions", "egress", "mounts")
        for e in getattr(c, kind)
    ]
    assert len(entries) > 40
    for entry in entries:
        assert CITATION.fullmatch(entry.source), entry
        assert re.search(r"@(6\.0\.0|87):", entry.source), f"{entry}: cites a version we do not run"


def test_an_entry_without_a_citation_is_refused() -> None:
    for bad in (
        "",
        "AzureProxy.cs:424",
        "microsoft/ga4gh-tes:src/TesApi.Web/AzureProxy.cs:424",
        "microsoft/ga4gh-tes@6.0.0:src/x.cs",
    ):
        with pytest.raises(ContractError):
            Setting(name="X", shape=".*", source=bad)


def test_contracts_cover_every_workload_the_chart_runs(stack: ProgramRun) -> None:
    deployments = {o["metadata"]["name"] for o in released.objects(stack) if o["kind"] == "Deployment"}
    assert deployments == set(CONTRACTS)
    values = released.values(stack)
    for contract in CONTRACTS.values():
        tag = values["images"][contract.image_key]["tag"]
        assert tag == contract.version, f"{contract.workload}: chart runs {tag}, contract is for {contract.version}"


# --- settings ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("workload", "setting"), _entries("settings"), ids=_ids(_entries("settings")))
def test_setting_is_rendered_with_the_expected_shape(stack: ProgramRun, workload: str, setting: Setting) -> None:
    contract = CONTRACTS[workload]
    objects = released.objects(stack)
    if setting.name.startswith("conf:"):
        key = setting.name.removeprefix("conf:")
        conf = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "cromwell-config")
        text = conf["data"]["cromwell-application.conf"]
        found = re.findall(rf"^\s*{re.escape(key)}\s*=\s*(.+?)\s*$", text, re.MULTILINE)
        assert found, f"missing {released.where(contract, setting)}"
        assert any(re.fullmatch(setting.shape, v) for v in found), (
            f"{found} does not match {released.where(contract, setting)}"
        )
        return
    container = released.container(objects, contract)
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    source_file = re.fullmatch(r"<from (/\S+)>", setting.shape)
    if source_file:
        # A secret: never a plain value, exported by the entrypoint from the CSI-mounted Key Vault file.
        assert setting.name not in env, released.where(contract, setting)
        script = "\n".join(container.get("args", []))
        assert f'{setting.name}="$(cat {source_file.group(1)})"' in script and f"export {setting.name}" in script, (
            released.where(contract, setting)
        )
        return
    assert setting.name in env, f"missing {released.where(contract, setting)}"
    assert re.fullmatch(setting.shape, str(env[setting.name])), (
        f"{env[setting.name]!r} breaks {released.where(contract, setting)}"
    )


# --- storage containers and Azure permissions -------------------------------------------------------------------


@pytest.mark.parametrize(("workload", "container"), _entries("containers"), ids=_ids(_entries("containers")))
def test_container_exists_in_the_coa_account(stack: ProgramRun, workload: str, container: Any) -> None:
    account = one(stack, "azure-native:storage:StorageAccount")
    names = {
        c.inputs["containerName"]
        for c in stack.of_type("azure-native:storage:BlobContainer")
        if c.inputs["accountName"] == account.outputs["name"]
    }
    assert container.name in names, released.where(CONTRACTS[workload], container)


def _grants(action: str, role: str) -> bool:
    return role in ROLE_PERMISSIONS and covers(role, action)


# data-account entries are checked per configured account in test_data_storage_links.py. Entries behind a stack option
# neither checked-in stack turns on (sharedKeyAccess, imageScanner) are checked in their variants.
STACK_ACTIONS = [(w, e) for w, e in _entries("azure_actions") if e.scope != "data-account" and e.condition is None]
IDENTITY_OF = {"workload": "coa-workload", "kubelet": "aks-kubelet"}


@pytest.mark.parametrize(("workload", "need"), STACK_ACTIONS, ids=_ids(STACK_ACTIONS))
def test_workload_identity_holds_each_action_on_its_resource(stack: ProgramRun, workload: str, need: Any) -> None:
    """The identity the principal acts as (pods and Batch nodes: workload; image pulls: kubelet) holds the action."""
    identity = one(
        stack, "azure-native:managedidentity:UserAssignedIdentity", IDENTITY_OF[PRINCIPAL_IDENTITY[need.principal]]
    )
    target = scope_resource(stack, need.scope)
    roles = {guid: name for name, guid in ROLES.items()}
    held = [
        roles[ra.inputs["roleDefinitionId"].rsplit("/", 1)[-1]]
        for ra in stack.of_type("azure-native:authorization:RoleAssignment")
        if ra.inputs["principalId"] == identity.outputs["principalId"]
        and by_id(stack, ra.inputs["scope"]).urn == target.urn
    ]
    assert any(_grants(need.action, role) for role in held), (
        f"{released.where(CONTRACTS[workload], need)}; held there: {held}"
    )


def test_role_table_is_not_vacuous() -> None:
    """The matcher distinguishes roles: Reader cannot write blobs or sign user-delegation keys."""
    assert not _grants("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", "Reader")
    assert not _grants("Microsoft.Storage/storageAccounts/listKeys/action", "Reader")
    assert _grants("Microsoft.Storage/storageAccounts/read", "Reader")
    assert not _grants("Microsoft.Storage/storageAccounts/read", "Storage Blob Data Contributor")


# --- network paths, at the moment each pod runs --------------------------------------------------------------------


def _target(objects: list[dict[str, Any]], values: dict[str, Any], egress: Egress) -> PodTarget | AddressTarget:
    if egress.to == "kube-dns":
        return dns_target(egress.protocol)
    if egress.to.startswith("pod:"):
        destination = released.deployment(objects, egress.to.removeprefix("pod:"))
        return PodTarget(
            labels=released.pod(destination).labels,
            namespace_labels={"kubernetes.io/metadata.name": "coa"},
            namespace="coa",
            port=egress.port,
        )
    cidr = {
        "postgres": values["networkPolicy"]["postgresCidr"],
        "private-endpoints": values["networkPolicy"]["privateEndpointsCidr"],
    }
    if egress.to == "azure-public":
        return AddressTarget(address=ENTRA_ID_ADDRESS, port=egress.port, protocol=egress.protocol)
    return AddressTarget(
        address=str(next(ipaddress.ip_network(cidr[egress.to]).hosts())), port=egress.port, protocol=egress.protocol
    )


def _path_open(
    moment: Moment, objects: list[dict[str, Any]], source: Pod, target: PodTarget | AddressTarget, to: str
) -> bool:
    if not egress_allowed(moment, source, target):
        return False
    if to.startswith("pod:"):
        destination = released.pod(released.deployment(objects, to.removeprefix("pod:")))
        return ingress_allowed(moment, source, destination, target.port, target.protocol)
    return True


# Pod egress; Batch nodes' is the batch subnet's (no NetworkPolicy), option-gated entries are checked in variants.
POD_EGRESS = [(w, e) for w, e in _entries("egress") if e.principal == "pod" and e.condition is None]


@pytest.mark.parametrize(("workload", "egress"), POD_EGRESS, ids=_ids(POD_EGRESS))
def test_network_path_is_open_while_the_release_runs(stack: ProgramRun, workload: str, egress: Egress) -> None:
    objects = released.objects(stack)
    source = released.pod(released.deployment(objects, workload))
    target = _target(objects, released.values(stack), egress)
    for moment in (running_moment(objects),):
        assert _path_open(moment, objects, source, target, egress.to), (
            f"{moment.name}: {released.where(CONTRACTS[workload], egress)}"
        )
    # The same pod is not open to everything: an arbitrary VNet address stays closed.
    assert not egress_allowed(running_moment(objects), source, AddressTarget(address="10.99.0.10", port=egress.port))


# Hook pods are ours (no upstream contract): what each needs, checked at install (only hooks exist) and upgrade.
HOOK_NEEDS: dict[str, tuple[tuple[str, int, str], ...]] = {
    # psql resolves the server's FQDN (PGHOST), then connects to it.
    "db-init": (("kube-dns", 53, "UDP"), ("postgres", 5432, "TCP")),
    # blobfuse2 runs in the node's CSI driver: the uploader itself needs no network at all.
    "batch-config-upload": (),
}


@pytest.mark.parametrize("hook", sorted(HOOK_NEEDS))
def test_hook_pods_reach_what_they_need_on_install_and_upgrade(stack: ProgramRun, hook: str) -> None:
    objects = released.objects(stack)
    (job,) = [o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == hook]
    source = released.pod(job)
    values = released.values(stack)
    for moment in (install_moment(objects), upgrade_moment(objects)):
        assert any(o["kind"] == "Job" and o["metadata"]["name"] == hook for o in moment.objects), moment.name
        for to, port, protocol in HOOK_NEEDS[hook]:
            egress = _hook_egress(to, port, protocol)
            assert egress_allowed(moment, source, _target(objects, values, egress)), (
                f"{hook} at {moment.name}: {to}:{port}"
            )
        # Nothing beyond its needs: not Entra ID/ARM, not the private endpoints.
        for to in ("azure-public", "private-endpoints"):
            assert not egress_allowed(moment, source, _target(objects, values, _hook_egress(to, 443, "TCP"))), (
                hook,
                moment.name,
                to,
            )


def _hook_egress(to: str, port: int, protocol: str) -> Egress:
    fqdns = ("login.microsoftonline.com",) if to == "azure-public" else ()
    return dataclasses.replace(_ANY_EGRESS, to=to, port=port, protocol=protocol, fqdns=fqdns)


_ANY_EGRESS = Egress(
    to="kube-dns",
    port=53,
    why="hook needs (tests only)",
    source="coa-lockdown/chart@0.1.0:templates/db-init.yaml:1",
    quote="{{- /*",
)


def test_install_moment_has_no_release_policy() -> None:
    """The evaluator would have hidden the db-init DNS bug if the install moment included release objects."""
    objects = [
        {
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-dns"},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ]
                    }
                ],
            },
        },
        {
            "kind": "NetworkPolicy",
            "metadata": {"name": "hook", "annotations": {"helm.sh/hook": "pre-install"}},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": []},
        },
    ]
    pod = Pod(labels={"a": "b"}, namespace="coa")
    assert not egress_allowed(install_moment(objects), pod, dns_target())
    assert egress_allowed(running_moment(objects), pod, dns_target()) is True


def test_start_task_runs_under_an_interpreter_the_node_has(stack: ProgramRun) -> None:
    contract = CONTRACTS["tes"]
    assert contract.start_task is not None and contract.start_task.runner == "shebang"
    script = released.values(stack)["batch"]["nodes"]["startTaskScript"]
    interpreter = script.splitlines()[0].removeprefix("#!").strip()
    assert interpreter in contract.start_task.interpreters, f"{interpreter!r}: {contract.start_task.source}"


@pytest.mark.parametrize("workload", sorted(CONTRACTS))
def test_mounts_and_port(stack: ProgramRun, workload: str) -> None:
    released.assert_mounts_and_port(released.objects(stack), CONTRACTS[workload])


def _task_image_form(image: str) -> str:
    name, _, digest = image.partition("@")
    tagged = ":" in name.rsplit("/", 1)[-1]
    return "tag+digest" if digest and tagged else "digest" if digest else "tag"


@pytest.mark.parametrize("pinned", [False, True], ids=["pending-digests", "resolved-digests"])
def test_the_smoke_test_task_image_is_a_form_cromwell_and_tes_both_pass_on(stack: ProgramRun, pinned: bool) -> None:
    """Cromwell hands the task's `docker` attribute to TES, which hands it to the node's runner: the reference must be
    a form each contract that declares task images accepts, with the lock as it is and once digests are recorded."""
    values = released.values(stack)
    task_image = dict(values["smokeTest"]["taskImage"])
    if pinned:
        task_image["digest"] = "sha256:" + "a" * 64
    rendered = render_chart({**values, "smokeTest": {**values["smokeTest"], "taskImage": task_image}})
    (options,) = [o for o in rendered if o["kind"] == "ConfigMap" and "options.json" in o.get("data", {})]
    image = json.loads(options["data"]["options.json"])["default_runtime_attributes"]["docker"]
    form = _task_image_form(image)
    assert form == ("digest" if pinned else "tag"), image
    declared = [c for c in all_contracts() if c.task_images]
    assert {c.workload for c in declared} == {"cromwell", "tes"}
    for contract in declared:
        assert contract.task_images and form in contract.task_images.accepted, (contract.workload, image)
