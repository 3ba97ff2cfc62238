"""values.schema.json rejects bad values before anything renders, naming the offending key; lint is clean."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest
from chart_checks import case_values
from render import CHART_DIR, deep_merge, load_values, render_chart

DELETE = object()
BAD_SUBNETS = [
    "/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
    "/subscriptions/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
    "/subscriptions/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg/providers/Microsoft.Compute/virtualNetworks/v/subnets/s",
    "snet-batch",
]


def _set(values: dict[str, Any], dotted: str, value: object) -> dict[str, Any]:
    *parents, leaf = dotted.split(".")
    node = values
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return values


# (case id, base, dotted key, bad value, text the error must contain)
CASES: list[tuple[str, str, str, object, str]] = [
    ("missing-storage-account", "dev", "storage.accountName", DELETE, "accountName"),
    # Keyless blob mounts need the token-refreshing blob CSI driver that AKS ships from 1.34.
    ("cluster-before-1.34", "dev", "kubernetesVersion", "1.33", "/kubernetesVersion"),
    ("empty-batch-account", "dev", "batch.accountName", "", "/batch/accountName"),
    ("uppercase-storage-account", "dev", "storage.accountName", "StCoaDev", "/storage/accountName"),
    ("missing-key-vault", "dev", "keyVault.name", DELETE, "name"),
    *[
        (f"malformed-subnet-{i}", "dev", "batch.nodes.subnetId", s, "/batch/nodes/subnetId")
        for i, s in enumerate(BAD_SUBNETS)
    ],
    ("retired-node-agent", "dev", "batch.images.gen2.nodeAgentSkuId", "batch.node.ubuntu 20.04", "/batch/images/gen2"),
    (
        "non-linux-node-agent",
        "dev",
        "batch.images.gen1.nodeAgentSkuId",
        "batch.node.windows amd64",
        "/batch/images/gen1",
    ),
    (
        "postgres-without-tes-secret",
        "dev",
        "keyVault.secrets.tesDbPassword",
        "",
        "/keyVault/secrets/tesDbPassword",
    ),
    ("latest-tag", "dev", "images.tes.tag", "latest", "/images/tes/tag"),
    ("low-uid", "dev", "podSecurity", {"uid": 1000, "gid": 10001}, "/podSecurity/uid"),
    ("latest-tag-uppercase", "dev", "images.cromwell.tag", "Latest", "/images/cromwell/tag"),
    ("untagged-image", "dev", "images.cromwell.tag", "", "/images/cromwell"),
    (
        "tag-in-repository",
        "dev",
        "images.triggerservice.repository",
        "cromwellonazure/triggerservice:6.0.0",
        "/images/triggerservice/repository",
    ),
    ("bad-digest", "prod", "images.tes.digest", "sha256:abc", "/images/tes/digest"),
    ("public-registry", "dev", "images.registry", "docker.io", "/images/registry"),
    (
        "public-ips-on-nodes",
        "dev",
        "batch.nodes.disablePublicIpAddress",
        False,
        "/batch/nodes/disablePublicIpAddress",
    ),
    (
        "bad-identity-id",
        "dev",
        "workloadIdentity.resourceId",
        "id-coa-dev-workload",
        "/workloadIdentity/resourceId",
    ),
    ("bad-client-id", "dev", "workloadIdentity.clientId", "coa", "/workloadIdentity/clientId"),
    ("bad-cidr", "dev", "networkPolicy.postgresCidr", "10.1.4.0/33", "/networkPolicy/postgresCidr"),
    ("missing-limits", "prod", "tes.resources.limits", None, "/tes/resources"),
    ("insecure-tes-ssl", "dev", "postgres.tesSslMode", "Disable", "/postgres/tesSslMode"),
    ("pg-fqdn-not-azure", "dev", "postgres.serverFqdn", "db.example.com", "/postgres/serverFqdn"),
    (
        "key-in-mount-options",
        "dev",
        "storage.mountOptions",
        ["--account-key=abc"],
        "/storage/mountOptions/0",
    ),
    ("db-init-without-admin", "dev", "postgres.adminUserName", "", "/postgres/adminUserName"),
    ("misspelt-top-level-key", "dev", "storageAccount", {"accountName": "x"}, "storageAccount"),
    # TES skips a missing start-task blob silently: the chart never installs without the script to write.
    ("missing-start-task-script", "dev", "batch.nodes.startTaskScript", DELETE, "startTaskScript"),
    ("empty-start-task-script", "dev", "batch.nodes.startTaskScript", "", "/batch/nodes/startTaskScript"),
    (
        "start-task-script-without-shebang",
        "prod",
        "batch.nodes.startTaskScript",
        "set -eu\necho hi\n",
        "/batch/nodes/startTaskScript",
    ),
    (
        "start-task-script-not-a-string",
        "dev",
        "batch.nodes.startTaskScript",
        ["#!/bin/sh"],
        "/batch/nodes/startTaskScript",
    ),
    # The start-task upload hook always runs, on the db client image.
    ("missing-db-client-image", "dev", "images.dbClient", DELETE, "dbClient"),
    ("latest-db-client-image", "dev", "images.dbClient.tag", "latest", "/images/dbClient/tag"),
    # The reduced-assurance generation: what TES and TriggerService 3.2 look up and read is required.
    ("unknown-generation", "dev-tes32", "generation", "tes5", "/generation"),
    ("tes32-without-cosmos-account", "dev-tes32", "cosmosDb.accountName", "", "/cosmosDb/accountName"),
    (
        "tes32-without-tes-credential",
        "dev-tes32",
        "keyVault.secrets.tesAzureServicesAuth",
        "",
        "/keyVault/secrets/tesAzureServicesAuth",
    ),
    ("tes32-without-blobxfer", "dev-tes32", "images.blobxfer", DELETE, "blobxfer"),
    ("tes32-latest-blobxfer", "dev-tes32", "images.blobxfer.tag", "latest", "/images/blobxfer/tag"),
    (
        "port-range-beyond-65535",
        "dev-tes32",
        "networkPolicy.egress.tes",
        [{"to": "private-endpoints", "port": 1, "endPort": 70000}],
        "/networkPolicy/egress/tes/0/endPort",
    ),
]


@pytest.mark.parametrize(("base", "key", "bad", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schema_rejects_bad_values_with_a_clear_message(base: str, key: str, bad: object, expected: str) -> None:
    values = case_values(base)
    if "." not in key and bad is not DELETE:
        values[key] = bad
    else:
        _set(values, key, bad)
    with pytest.raises(helm_python.HelmValuesError) as raised:
        render_chart(values)
    assert expected in str(raised.value), str(raised.value)


def test_defaults_alone_are_rejected_not_rendered_half_configured() -> None:
    with pytest.raises(helm_python.HelmValuesError) as raised:
        render_chart({})
    message = str(raised.value)
    for key in (
        "/storage/accountName",
        "/batch/accountName",
        "/batch/nodes/subnetId",
        "/batch/nodes/startTaskScript",
        "/keyVault/name",
    ):
        assert key in message, message


def test_db_client_image_is_required_even_without_db_init() -> None:
    values = case_values("dev")
    values["dbInit"] = {"enabled": False}
    del values["images"]["dbClient"]
    with pytest.raises(helm_python.HelmValuesError) as raised:
        render_chart(values)
    assert "dbClient" in str(raised.value), str(raised.value)


def test_digest_only_images_are_accepted() -> None:
    values = load_values("values-prod")
    images = {
        c["image"]
        for o in render_chart(values)
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert "crcoaprod91bc.azurecr.io/cromwellonazure/tes@sha256:" + "9a8b7c6d5e4f30211203f4e5d6c7b8a9" * 2 in images


@pytest.mark.parametrize("stack", ["dev", "prod", "dev-tes32"])
def test_helm_lint_is_clean(stack: str) -> None:
    values = case_values(stack)
    report = helm_python.lint(
        CHART_DIR, values, strict=True, namespace="coa", kube_version=f"v{values['kubernetesVersion']}.0"
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report


def test_helm_lint_reports_schema_violations() -> None:
    values = deep_merge(load_values("values-dev"), {"images": {"tes": {"tag": "latest"}}})
    report = helm_python.lint(CHART_DIR, values, strict=True, namespace="coa", kube_version="v1.36.0")
    assert any(m["severity"] == 3 and "/images/tes/tag" in m["error"] for m in report["messages"]), report
