"""scripts/preflight.sh against stub az, kubectl and pulumi: a healthy stack passes every check, and each check fails
alone when one answer from Azure or the cluster turns bad."""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "preflight.sh"
BASH = shutil.which("bash") or "/bin/bash"

SUB = "00000000-0000-0000-0000-00000000000a"
DATA_SUB = "00000000-0000-0000-0000-00000000000b"
RG = "coa-prod-rg"
VNET = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/coa-prod-vnet"
PRINCIPAL = "11111111-2222-3333-4444-555555555555"
TES_DIGEST = "sha256:" + "a" * 64
CROMWELL_DIGEST = "sha256:" + "b" * 64
PREFLIGHT = "stack output preflight --json --stack prod"
KUBECONFIG_TEXT = "apiVersion: v1\nkind: Config\n# stub kubeconfig of stack prod\n"
# Built-in role definition ids (components/access.py).
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"

# One stub for az, kubectl and pulumi: answers an exact argument list from $STUB_WORLD/<tool>/<sha1 of the arguments>/
# (files out, err, rc), logs every call, and fails loudly (exit 97) on a call the world does not know, so a wrong
# command line shows up as a failed check. Plain bash: an interpreter per call would dominate the run time.
STUB = """#!/usr/bin/env bash
name=${0##*/}
args="$*"
printf '%s %s\\n' "${name}" "${args}" >>"${STUB_CALLS}"
if [[ ${name} == kubectl ]]; then
  if [[ -f ${KUBECONFIG:-} ]]; then cat "${KUBECONFIG}"; else printf -; fi >>"${STUB_CALLS}.kubeconfig"
fi
answer="${STUB_WORLD}/${name}/$(printf '%s' "${args}" | sha1sum | cut -c 1-40)"
[[ -d ${answer} ]] || { echo "ERROR: stub ${name}: unexpected call: ${args}" >&2; exit 97; }
cat "${answer}/out"
cat "${answer}/err" >&2
exit "$(cat "${answer}/rc")"
"""


def resource(sub: str, group: str, kind: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{kind}/{name}"


def pep(name: str) -> str:
    return resource(SUB, RG, "Microsoft.Network/privateEndpoints", name)


DATA_ID = resource(DATA_SUB, "seq-rg", "Microsoft.Storage/storageAccounts", "stseqout01")
ARCHIVE_ID = resource(DATA_SUB, "seq-rg", "Microsoft.Storage/storageAccounts", "stseqarchive")
ZONES = {
    "privatelink.blob.core.windows.net": resource(
        SUB, RG, "Microsoft.Network/privateDnsZones", "privatelink.blob.core.windows.net"
    ),
    "privatelink.azurecr.io": resource(
        SUB, "hub-dns-rg", "Microsoft.Network/privateDnsZones", "privatelink.azurecr.io"
    ),
}
NAMES = ["coaprodp4m9st.blob.core.windows.net", "coaprodp4m9cr.azurecr.io", "stseqout01.blob.core.windows.net"]


def healthy_outputs() -> dict[str, Any]:
    return {
        "stack": "prod",
        "subscriptionId": SUB,
        "resourceGroup": RG,
        "registry": {
            "name": "coaprodp4m9cr",
            "credentialSets": ["dockerhub"],
            "images": [
                {"key": "tes", "repository": "coa-build/tes", "tag": "6.0.0", "digest": TES_DIGEST, "source": "build"},
                {
                    "key": "cromwell",
                    "repository": "broadinstitute/cromwell",
                    "tag": "87",
                    "digest": CROMWELL_DIGEST,
                    "source": "cache",
                },
            ],
        },
        "aks": {
            "name": "coa-prod-aks",
            "resourceGroup": RG,
            "blobCsiMinVersion": "1.27.0",
            "namespace": "coa",
            "probeDeployment": "cromwell",
        },
        "batch": {
            "accountName": "coaprodp4m9ba",
            "resourceGroup": RG,
            "dedicatedCoresNeeded": {"standardDDSv5Family": 8, "standardDADSv5Family": 8},
            "lowPriorityCoresNeeded": 8,
        },
        "privateEndpoints": [
            {"name": "storage-blob", "id": pep("st-blob-pep")},
            {"name": "registry", "id": pep("cr-pep")},
        ],
        "dataAccounts": [
            {
                "name": "stseqout01",
                "id": DATA_ID,
                "privateEndpointId": pep("stseqout01-pep"),
                "rolesGrantedBy": "owner",
                "principalId": PRINCIPAL,
                "containers": [{"name": "runs", "access": "read"}, {"name": "results", "access": "readWrite"}],
            },
            {
                "name": "stseqarchive",
                "id": ARCHIVE_ID,
                "privateEndpointId": None,
                "rolesGrantedBy": "stack",
                "principalId": PRINCIPAL,
                "containers": [{"name": "archive", "access": "read"}],
            },
        ],
        "privateNames": NAMES,
        "dnsZones": [{"name": name, "id": zone_id} for name, zone_id in ZONES.items()],
        "vnetId": VNET,
        # A TES 6 stack: no application signs in with a secret.
        "applications": [],
    }


def assignment(scope: str, role: str, principal: str = PRINCIPAL) -> dict[str, str]:
    return {
        "principalId": principal,
        "scope": scope,
        "roleDefinitionId": f"/subscriptions/{DATA_SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
    }


def connection(status: str) -> dict[str, Any]:
    return {"name": "conn", "privateLinkServiceConnectionState": {"status": status, "description": ""}}


def daemonset(image: str) -> dict[str, Any]:
    containers = [
        {"name": "liveness-probe", "image": "mcr.microsoft.com/oss/v2/kubernetes-csi/livenessprobe:v2.16.0"},
        {"name": "blob", "image": image},
    ]
    return {"kind": "DaemonSet", "spec": {"template": {"spec": {"containers": containers}}}}


CREDENTIAL_SET = "acr credential-set show --registry coaprodp4m9cr --name dockerhub --output json"


def healthy_world(outputs: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    az: dict[str, dict[str, Any]] = {}
    for image in outputs["registry"]["images"]:
        az[
            f"acr repository show --name coaprodp4m9cr --image {image['repository']}@{image['digest']} --output json"
        ] = {"out": {"digest": image["digest"], "tags": [image["tag"]]}}
    az[f"batch account show --name coaprodp4m9ba --resource-group {RG} --subscription {SUB} --output json"] = {
        "out": {
            "dedicatedCoreQuota": 32,
            "lowPriorityCoreQuota": 16,
            "poolQuota": 100,
            "dedicatedCoreQuotaPerVmFamilyEnforced": True,
            "dedicatedCoreQuotaPerVmFamily": [
                {"name": "standardDDSv5Family", "coreQuota": 16},
                {"name": "standardDADSv5Family", "coreQuota": 8},
                {"name": "standardNCADSA100v4Family", "coreQuota": 0},
            ],
        }
    }
    az[CREDENTIAL_SET] = {
        "out": {"name": "dockerhub", "authCredentials": [{"credentialHealth": {"statusCode": "Healthy"}}]}
    }
    for name in ("st-blob-pep", "cr-pep"):
        az[f"network private-endpoint show --ids {pep(name)} --output json"] = {
            "out": {
                "privateLinkServiceConnections": [connection("Approved")],
                "manualPrivateLinkServiceConnections": [],
            }
        }
    az[f"network private-endpoint show --ids {pep('stseqout01-pep')} --output json"] = {
        "out": {"privateLinkServiceConnections": [], "manualPrivateLinkServiceConnections": [connection("Approved")]}
    }
    for account_id in (DATA_ID, ARCHIVE_ID):
        az[f"storage account show --ids {account_id} --output json"] = {"out": {"allowBlobPublicAccess": False}}
    account_roles = [
        assignment(DATA_ID, READER),
        assignment(DATA_ID, BLOB_DELEGATOR),
        assignment(DATA_ID, READER, "other"),
    ]
    roles = {
        DATA_ID: account_roles,
        f"{DATA_ID}/blobServices/default/containers/runs": [*account_roles, assignment(DATA_ID, BLOB_READER)],
        f"{DATA_ID}/blobServices/default/containers/results": [
            *account_roles,
            assignment(f"{DATA_ID}/blobServices/default/containers/results", BLOB_CONTRIBUTOR),
        ],
    }
    for scope, listed in roles.items():
        az[f"role assignment list --scope {scope} --include-inherited --fill-principal-name false --output json"] = {
            "out": listed
        }
    for zone, zone_id in ZONES.items():
        group = zone_id.split("/")[4]
        az[
            f"network private-dns link vnet list --resource-group {group} --zone-name {zone} --subscription {SUB} --output json"
        ] = {
            "out": [
                {
                    "name": "coa-prod-link",
                    "virtualNetwork": {"id": VNET.lower()},
                    "virtualNetworkLinkState": "Completed",
                }
            ]
        }
    kubectl: dict[str, dict[str, Any]] = {
        "--namespace kube-system get daemonset csi-blob-node --output json": {
            "out": daemonset("mcr.microsoft.com/oss/v2/kubernetes-csi/blob-csi:v1.27.3")
        }
    }
    for index, name in enumerate(NAMES):
        kubectl[f"--namespace coa exec deploy/cromwell -- getent hosts {name}"] = {
            "out": f"10.1.4.{index + 4}   {name}\n"
        }
    pulumi = {
        PREFLIGHT: {"out": outputs},
        "stack output kubeconfig --show-secrets --stack prod": {"out": KUBECONFIG_TEXT},
    }
    return {"az": az, "kubectl": kubectl, "pulumi": pulumi}


class Stubs:
    """A bin directory with the stubs, the world they answer from and what they were asked."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        for name in ("az", "kubectl", "pulumi"):
            (self.bin / name).write_text(STUB)
            (self.bin / name).chmod(0o755)
        self.outputs = healthy_outputs()
        self.world = healthy_world(self.outputs)

    def answer(self, tool: str, args: str, **answer: Any) -> None:
        assert args in self.world[tool], f"no such call in the healthy world: {tool} {args}"
        self.world[tool][args] = answer

    def run(self, *args: str, path: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        if PREFLIGHT in self.world["pulumi"]:
            self.world["pulumi"][PREFLIGHT] = {"out": self.outputs}
        world = self.root / "world"
        shutil.rmtree(world, ignore_errors=True)
        for tool, answers in self.world.items():
            for call, answer in answers.items():
                directory = world / tool / hashlib.sha1(call.encode()).hexdigest()
                directory.mkdir(parents=True)
                out = answer.get("out", "")
                (directory / "out").write_text(out if isinstance(out, str) else json.dumps(out))
                (directory / "err").write_text(answer.get("err", ""))
                (directory / "rc").write_text(str(answer.get("rc", 0)))
        environment = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
        environment |= {
            "PATH": path or f"{self.bin}:{os.environ['PATH']}",
            "STUB_WORLD": str(world),
            "STUB_CALLS": str(self.root / "calls.log"),
            **env,
        }
        return subprocess.run([BASH, str(SCRIPT), *args], capture_output=True, text=True, env=environment, check=False)

    def calls(self) -> list[str]:
        log = self.root / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def kubeconfigs_seen(self) -> str:
        seen = self.root / "calls.log.kubeconfig"
        return seen.read_text() if seen.exists() else ""


@pytest.fixture
def stubs(tmp_path: Path) -> Stubs:
    return Stubs(tmp_path)


LINE = re.compile(r"^(PASS|FAIL|SKIP) ([a-z-]+) (\S+): (.+)$")


def results(stdout: str) -> list[tuple[str, str, str, str]]:
    return [(m[1], m[2], m[3], m[4]) for line in stdout.splitlines() if (m := LINE.match(line))]


def documented_checks() -> list[str]:
    text = subprocess.run([BASH, str(SCRIPT), "--help"], capture_output=True, text=True, check=True).stdout
    block = text.split("\nChecks:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines()]


def test_a_healthy_stack_passes_every_documented_check(stubs: Stubs) -> None:
    result = stubs.run("prod")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = results(result.stdout)
    assert {check for _, check, _, _ in lines} == set(documented_checks())
    assert [line for line in lines if line[0] != "PASS"] == [
        (
            "SKIP",
            "private-endpoints",
            "stseqarchive",
            "no endpoint of this stack (the account is reached through an existing one)",
        ),
        ("SKIP", "data-accounts", "stseqarchive", "roles are granted by this stack (pulumi up created them)"),
        ("SKIP", "app-credentials", "-", "no application credentials (the pods use workload identity)"),
    ]
    assert result.stdout.splitlines()[-1] == f"preflight prod: {len(lines) - 3} PASS, 0 FAIL, 3 SKIP"
    # Per-family quota is enforced: each family and the total are checked.
    subjects = {subject for _, check, subject, _ in lines if check == "batch-quota"}
    assert subjects == {
        "coaprodp4m9ba/standardDDSv5Family",
        "coaprodp4m9ba/standardDADSv5Family",
        "coaprodp4m9ba",
        "coaprodp4m9ba/pools",
        "coaprodp4m9ba/low-priority",
    }
    # kubectl ran against the stack's own kubeconfig output, never an ambient one.
    assert stubs.kubeconfigs_seen() == KUBECONFIG_TEXT * (1 + len(NAMES))
    assert not any("stseqarchive" in call and "role assignment" in call for call in stubs.calls())


def without(items: list[dict[str, Any]], **match: str) -> list[dict[str, Any]]:
    return [item for item in items if any(item.get(k) != v for k, v in match.items())]


def image_not_in_registry(s: Stubs) -> None:
    s.answer(
        "az",
        f"acr repository show --name coaprodp4m9cr --image coa-build/tes@{TES_DIGEST} --output json",
        rc=3,
        err="ERROR: (MANIFEST_UNKNOWN) manifest sha256:aaa is not found\n",
    )


def cache_image_not_pulled_yet(s: Stubs) -> None:
    s.answer(
        "az",
        f"acr repository show --name coaprodp4m9cr --image broadinstitute/cromwell@{CROMWELL_DIGEST} --output json",
        rc=3,
        err="WARNING: some warning\nERROR: (NAME_UNKNOWN) repository name not known to registry\n",
    )


def image_pending_pin(s: Stubs) -> None:
    s.outputs["registry"]["images"][0]["digest"] = None


def old_blob_csi(s: Stubs) -> None:
    s.answer(
        "kubectl",
        "--namespace kube-system get daemonset csi-blob-node --output json",
        out=daemonset("mcr.microsoft.com/oss/v2/kubernetes-csi/blob-csi:v1.26.4"),
    )


BATCH = f"batch account show --name coaprodp4m9ba --resource-group {RG} --subscription {SUB} --output json"


def family_quota_short(s: Stubs) -> None:
    account = copy.deepcopy(s.world["az"][BATCH]["out"])
    account["dedicatedCoreQuotaPerVmFamily"][1]["coreQuota"] = 4
    s.answer("az", BATCH, out=account)


def total_quota_short_when_not_enforced(s: Stubs) -> None:
    # ARM's spelling (…PerVMFamily…) is read too; with enforcement off only the total counts.
    s.answer(
        "az",
        BATCH,
        out={
            "dedicatedCoreQuota": 10,
            "lowPriorityCoreQuota": 16,
            "poolQuota": 100,
            "dedicatedCoreQuotaPerVMFamilyEnforced": False,
            "dedicatedCoreQuotaPerVMFamily": [{"name": "standardDADSv5Family", "coreQuota": 0}],
        },
    )


def no_pool_quota(s: Stubs) -> None:
    # A new Batch account may start with 0 pools (learn.microsoft.com, Batch quotas and limits).
    account = copy.deepcopy(s.world["az"][BATCH]["out"])
    account["poolQuota"] = 0
    s.answer("az", BATCH, out=account)


def spot_quota_short(s: Stubs) -> None:
    account = copy.deepcopy(s.world["az"][BATCH]["out"])
    account["lowPriorityCoreQuota"] = 4
    s.answer("az", BATCH, out=account)


def data_endpoint_pending(s: Stubs) -> None:
    s.answer(
        "az",
        f"network private-endpoint show --ids {pep('stseqout01-pep')} --output json",
        out={"manualPrivateLinkServiceConnections": [connection("Pending")]},
    )


def own_endpoint_rejected(s: Stubs) -> None:
    # ARM's nesting under `properties` is read too.
    s.answer(
        "az",
        f"network private-endpoint show --ids {pep('cr-pep')} --output json",
        out={
            "privateLinkServiceConnections": [
                connection("Approved"),
                {"name": "second", "properties": {"privateLinkServiceConnectionState": {"status": "Rejected"}}},
            ]
        },
    )


def public_access_allowed(s: Stubs) -> None:
    s.answer("az", f"storage account show --ids {DATA_ID} --output json", out={"allowBlobPublicAccess": True})


def public_access_unset(s: Stubs) -> None:
    s.answer("az", f"storage account show --ids {ARCHIVE_ID} --output json", out={"allowBlobPublicAccess": None})


ROLES = "role assignment list --scope {} --include-inherited --fill-principal-name false --output json"


def container_role_missing(s: Stubs) -> None:
    # Reader on a readWrite container is not enough.
    scope = f"{DATA_ID}/blobServices/default/containers/results"
    s.answer("az", ROLES.format(scope), out=[assignment(DATA_ID, READER), assignment(scope, BLOB_READER)])


def delegator_missing(s: Stubs) -> None:
    s.answer(
        "az", ROLES.format(DATA_ID), out=[assignment(DATA_ID, READER), assignment(DATA_ID, BLOB_DELEGATOR, "other")]
    )


GETENT = "--namespace coa exec deploy/cromwell -- getent hosts {}"


def name_resolves_publicly(s: Stubs) -> None:
    s.answer("kubectl", GETENT.format(NAMES[0]), out=f"20.60.40.4   blob.ams.store.core.windows.net {NAMES[0]}\n")


def name_does_not_resolve(s: Stubs) -> None:
    s.answer("kubectl", GETENT.format(NAMES[2]), rc=2, err="command terminated with exit code 2\n")


def probe_without_getent(s: Stubs) -> None:
    s.answer(
        "kubectl",
        GETENT.format(NAMES[1]),
        rc=1,
        err='error: exec: "getent": executable file not found in $PATH: unknown\n',
    )


DNS_LINKS = "network private-dns link vnet list --resource-group {} --zone-name {} --subscription {} --output json"


def zone_not_linked(s: Stubs) -> None:
    other = VNET.replace("coa-prod-vnet", "hub-vnet")
    s.answer(
        "az",
        DNS_LINKS.format("hub-dns-rg", "privatelink.azurecr.io", SUB),
        out=[{"name": "hub", "virtualNetwork": {"id": other}, "virtualNetworkLinkState": "Completed"}],
    )


def zone_link_in_progress(s: Stubs) -> None:
    s.answer(
        "az",
        DNS_LINKS.format(RG, "privatelink.blob.core.windows.net", SUB),
        out=[{"name": "coa-prod-link", "virtualNetwork": {"id": VNET}, "virtualNetworkLinkState": "InProgress"}],
    )


def credential_set_unhealthy(s: Stubs) -> None:
    # The vault's firewall or a missing grant: ACR reports it on the credential, and the cache cannot pull.
    health = {
        "statusCode": "Unhealthy",
        "errorCode": "KeyVaultAccessDenied",
        "errorMessage": "Access denied to the Key Vault",
    }
    s.answer("az", CREDENTIAL_SET, out={"name": "dockerhub", "authCredentials": [{"credentialHealth": health}]})


def credential_set_unreadable(s: Stubs) -> None:
    s.answer("az", CREDENTIAL_SET, rc=3, err="ERROR: (ResourceNotFound) The credential set dockerhub was not found\n")


@pytest.mark.parametrize(
    ("change", "check", "words"),
    [
        (image_not_in_registry, "images", f"coa-build/tes@{TES_DIGEST} is not in coaprodp4m9cr: (MANIFEST_UNKNOWN)"),
        (
            cache_image_not_pulled_yet,
            "images",
            "(NAME_UNKNOWN) repository name not known to registry): a cache-rule image is stored on its first pull",
        ),
        (image_pending_pin, "images", "coa-build/tes has no digest (pending pin)"),
        (old_blob_csi, "blob-csi", "blob v1.26.4 < v1.27.0"),
        (family_quota_short, "batch-quota", "coaprodp4m9ba/standardDADSv5Family: quota 4 < 8 cores needed"),
        (no_pool_quota, "batch-quota", "coaprodp4m9ba/pools: pool quota is 0"),
        (spot_quota_short, "batch-quota", "coaprodp4m9ba/low-priority: low-priority (Spot) core quota 4 < 8"),
        (total_quota_short_when_not_enforced, "batch-quota", "quota 10 < 16 cores needed, total (per-family quota not"),
        (data_endpoint_pending, "private-endpoints", "stseqout01: conn=Pending: ask the account owner to approve"),
        (own_endpoint_rejected, "private-endpoints", "registry: conn=Approved, second=Rejected: approve it"),
        (public_access_allowed, "data-accounts", "stseqout01: allowBlobPublicAccess is true"),
        (public_access_unset, "data-accounts", "stseqarchive: allowBlobPublicAccess is not set"),
        (
            container_role_missing,
            "data-accounts",
            f"stseqout01/results: no Storage Blob Data Contributor for {PRINCIPAL}",
        ),
        (delegator_missing, "data-accounts", f"stseqout01: no Storage Blob Delegator for {PRINCIPAL}"),
        (name_resolves_publicly, "private-names", f"{NAMES[0]}: 20.60.40.4 from deploy/cromwell, not an RFC 1918"),
        (name_does_not_resolve, "private-names", f"{NAMES[2]}: does not resolve from deploy/cromwell"),
        (probe_without_getent, "private-names", f"{NAMES[1]}: deploy/cromwell has no getent"),
        (zone_not_linked, "dns-links", "privatelink.azurecr.io: no virtual-network link to"),
        (zone_link_in_progress, "dns-links", "privatelink.blob.core.windows.net: the link to"),
        (credential_set_unhealthy, "cache-credentials", "dockerhub: Unhealthy: Access denied to the Key Vault"),
        (credential_set_unreadable, "cache-credentials", "cannot read credential set dockerhub of coaprodp4m9cr"),
    ],
    ids=lambda value: value.__name__ if callable(value) else None,
)
def test_each_check_fails_alone_on_its_bad_answer(
    stubs: Stubs, change: Callable[[Stubs], None], check: str, words: str
) -> None:
    change(stubs)
    result = stubs.run("prod")
    assert result.returncode == 1, result.stdout + result.stderr
    failures = [line for line in results(result.stdout) if line[0] == "FAIL"]
    assert {failed_check for _, failed_check, _, _ in failures} == {check}, result.stdout
    assert any(words in f"{subject}: {reason}" for _, _, subject, reason in failures), result.stdout
    assert result.stdout.splitlines()[-1] == f"failed checks: {check}"


@pytest.mark.parametrize(
    ("image", "minimum", "passes"),
    [
        ("mcr.microsoft.com/oss/v2/kubernetes-csi/blob-csi:v1.27.0", "1.27.0", True),
        ("mcr.microsoft.com/oss/v2/kubernetes-csi/blob-csi:v1.100.0", "1.27.0", True),
        ("mcr.microsoft.com/oss/v2/kubernetes-csi/blob-csi:v1.9.9", "1.27.0", False),
        ("mcr.microsoft.com/oss/v2/kubernetes-csi/blob-csi:v2.0.0", "v1.27.0", True),
        ("registry.local:5000/blob-csi:v1.27.1-hotfix.2@sha256:" + "c" * 64, "1.27.1", True),
        ("mcr.microsoft.com/oss/v2/kubernetes-csi/blob-csi:v1.27.0", "1.27.1", False),
    ],
)
def test_blob_csi_versions_compare_numerically(stubs: Stubs, image: str, minimum: str, passes: bool) -> None:
    stubs.outputs["aks"]["blobCsiMinVersion"] = minimum
    stubs.answer("kubectl", "--namespace kube-system get daemonset csi-blob-node --output json", out=daemonset(image))
    result = stubs.run("prod", "--only", "blob-csi", KUBECONFIG=str(stubs.root / "kubeconfig"))
    assert result.returncode == (0 if passes else 1), result.stdout + result.stderr
    assert [line[0] for line in results(result.stdout)] == ["PASS" if passes else "FAIL"]


def test_only_runs_the_named_checks_from_an_outputs_file_without_kubectl(stubs: Stubs, tmp_path: Path) -> None:
    outputs = tmp_path / "preflight.json"
    outputs.write_text(json.dumps(stubs.outputs))
    (stubs.bin / "kubectl").unlink()
    (stubs.bin / "pulumi").unlink()
    result = stubs.run(
        "prod", "--only", "dns-links,images", "--outputs", str(outputs), path=f"{stubs.bin}:/usr/bin:/bin"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = results(result.stdout)
    assert [check for _, check, _, _ in lines] == ["images", "images", "dns-links", "dns-links"]
    assert all(call.startswith("az ") for call in stubs.calls())


def test_an_ambient_kubeconfig_wins_over_the_stack_output(stubs: Stubs, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "operator-kubeconfig"
    kubeconfig.write_text("operator's own\n")
    result = stubs.run("prod", "--only", "blob-csi", KUBECONFIG=str(kubeconfig))
    assert result.returncode == 0, result.stdout + result.stderr
    assert stubs.kubeconfigs_seen() == "operator's own\n"
    assert "pulumi stack output kubeconfig --show-secrets --stack prod" not in stubs.calls()


def test_help_lists_every_check_once() -> None:
    checks = documented_checks()
    assert len(checks) == len(set(checks)) == 9


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "usage:"),
        (["prod; rm -rf /"], "is not a stack name"),
        (["prod", "dev"], "one stack only"),
        (["prod", "--verbose"], "unknown option '--verbose'"),
        (["prod", "--only"], "--only needs a value"),
        (["prod", "--only", "images,quota"], "unknown check 'quota'"),
        (["prod", "--outputs", "/nonexistent/preflight.json"], "cannot read '/nonexistent/preflight.json'"),
    ],
)
def test_refuses_bad_usage(stubs: Stubs, args: list[str], words: str) -> None:
    result = stubs.run(*args)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert stubs.calls() == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda o: "not json", "the preflight outputs are not a JSON object"),
        (lambda o: {**o, "stack": "dev"}, 'stack is "dev", not "prod"'),
        (
            lambda o: o["registry"]["images"][1].update(digest=5) or o,
            "registry.images.1.digest must be string or null, not number",
        ),
        (
            lambda o: o["dataAccounts"][0].update(rolesGrantedBy="me") or o,
            'dataAccounts.0.rolesGrantedBy must be "stack" or "owner"',
        ),
        (lambda o: o["batch"].pop("dedicatedCoresNeeded") and o, "batch.dedicatedCoresNeeded must be object, not null"),
    ],
)
def test_refuses_outputs_of_the_wrong_shape(stubs: Stubs, change: Callable[[Any], Any], words: str) -> None:
    stubs.outputs = change(copy.deepcopy(stubs.outputs))
    result = stubs.run("prod")
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert not any(call.startswith(("az ", "kubectl ")) for call in stubs.calls())


def test_names_a_stack_without_the_preflight_output(stubs: Stubs) -> None:
    stubs.world["pulumi"] = {}
    result = stubs.run("prod")
    assert result.returncode == 2
    assert "cannot read output 'preflight' of stack prod: ERROR: stub pulumi: unexpected call" in result.stderr


def test_names_every_missing_tool(stubs: Stubs, tmp_path: Path) -> None:
    # Only what the script itself runs, so neither az nor kubectl (installed on some machines) is on PATH.
    system = tmp_path / "system"
    system.mkdir()
    for tool in ("jq", "mktemp", "rm", "cat", "grep", "sed", "cut", "tr", "head", "awk"):
        found = shutil.which(tool)
        assert found, tool
        (system / tool).symlink_to(found)
    (stubs.bin / "az").unlink()
    (stubs.bin / "kubectl").unlink()
    result = stubs.run("prod", path=f"{stubs.bin}:{system}")
    assert result.returncode == 2
    assert "az is not on PATH" in result.stderr and "kubectl is not on PATH" in result.stderr
    assert stubs.calls() == []


TES_APP = "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
TRIGGER_APP = "af4b5a6c-7d8e-4f9a-8b0c-2d3e4f5a6b7c"
CREDENTIALS = "ad app credential list --id {} --output json"


def _day(days: int) -> str:
    return (datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=days)).isoformat()


def _secrets(*ends: str) -> list[dict[str, str]]:
    # Graph's passwordCredentials, as az prints them (endDateTime in UTC with fractions).
    return [
        {"displayName": f"s{i}", "endDateTime": f"{end}T10:23:45.123Z", "hint": "abc"} for i, end in enumerate(ends)
    ]


@pytest.fixture
def cosmos_stubs(stubs: Stubs) -> Stubs:
    """A taskDatabase cosmosdb stack: two applications whose secrets the stack expects to last 150 days."""
    stubs.outputs["applications"] = [
        {"workload": "tes", "clientId": TES_APP, "secretExpiresOn": _day(150)},
        {"workload": "triggerservice", "clientId": TRIGGER_APP, "secretExpiresOn": _day(150)},
    ]
    stubs.world["az"][CREDENTIALS.format(TES_APP)] = {"out": _secrets(_day(-20), _day(150))}
    stubs.world["az"][CREDENTIALS.format(TRIGGER_APP)] = {"out": _secrets(_day(200))}
    return stubs


def test_application_secrets_that_outlive_the_planned_rotation_pass(cosmos_stubs: Stubs) -> None:
    result = cosmos_stubs.run("prod", "--only", "app-credentials")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(r[0], r[2]) for r in results(result.stdout)] == [("PASS", "tes"), ("PASS", "triggerservice")]
    assert f"valid until {_day(150)}" in result.stdout


@pytest.mark.parametrize(
    ("secrets", "answer", "words"),
    [
        ((), {}, "has no client secret"),
        ((-40, -1), {}, f"has expired (the newest on {_day(-1)})"),
        ((90,), {}, f"the newest client secret ends {_day(90)}, before secretExpiresOn {_day(150)}"),
        (
            (),
            {"rc": 1, "err": "ERROR: Insufficient privileges to complete the operation.\n"},
            "needs ownership or Application.Read.All): Insufficient privileges",
        ),
    ],
    ids=["none", "expired", "ends-before-the-plan", "no-graph-permission"],
)
def test_an_application_secret_that_would_stop_sign_in_fails(
    cosmos_stubs: Stubs, secrets: tuple[int, ...], answer: dict[str, Any], words: str
) -> None:
    cosmos_stubs.answer("az", CREDENTIALS.format(TES_APP), **(answer or {"out": _secrets(*map(_day, secrets))}))
    result = cosmos_stubs.run("prod", "--only", "app-credentials")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = results(result.stdout)
    assert [(r[0], r[2]) for r in lines] == [("FAIL", "tes"), ("PASS", "triggerservice")], result.stdout
    assert words in lines[0][3], result.stdout


def test_refuses_an_application_without_a_date(stubs: Stubs) -> None:
    stubs.outputs["applications"] = [{"workload": "tes", "clientId": TES_APP, "secretExpiresOn": "soon"}]
    result = stubs.run("prod", "--only", "app-credentials")
    assert result.returncode == 2 and "applications.0.secretExpiresOn must be a date YYYY-MM-DD" in result.stderr
