"""Pod Security restricted, probes, resources, pinned private images, NetworkPolicies, and no secrets in objects."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
from chart_checks import by_kind, case_values, get, pod_security_violations, pod_specs
from netpol import (
    AddressTarget,
    Moment,
    Pod,
    PodTarget,
    egress_allowed,
    ingress_allowed,
    install_moment,
    running_moment,
    selected,
    upgrade_moment,
)
from render import render_chart

from components.start_task import ImageScannerSettings, StartTaskSettings, render_start_task

SECRET_PATTERNS = [
    re.compile(r"AccountKey=", re.IGNORECASE),
    re.compile(r"SharedAccessSignature", re.IGNORECASE),
    re.compile(r"[?&]sig=[A-Za-z0-9%+/=]+"),
    re.compile(r"[?&]sv=\d{4}-\d{2}-\d{2}"),
    re.compile(r"azurestorageaccount(key|sastoken)", re.IGNORECASE),
    re.compile(r"InstrumentationKey=", re.IGNORECASE),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"AppKey=", re.IGNORECASE),
]
# Identity selectors for Azure.Identity / AppAuthentication: name which identity to use, carry no secret.
IDENTITY_SELECTOR = re.compile(r"^RunAs=(Workload|App);AppId=[0-9a-f-]{36}$")
# A password assignment whose value is neither a reference (${VAR}, $(cat file)) nor a format placeholder.
PASSWORD_ASSIGNMENT = re.compile(r"""(?i)(password|passwd|pwd)["']?\s*[:=]\s*["']?(?P<value>[^\s"',;}]+)""")
REFERENCE = re.compile(r"^(\$\{?[A-Z_]+|\$\(cat|%[A-Z])")


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in [str(k), *_strings(v)]]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [str(node)]


def leaks(obj: dict[str, Any]) -> list[str]:
    text = "\n".join(_strings(obj))
    found = [p.pattern for p in SECRET_PATTERNS if p.search(text)]
    found += [m.group(0) for m in PASSWORD_ASSIGNMENT.finditer(text) if not REFERENCE.match(m.group("value"))]
    if obj["kind"] == "Secret":
        found.append("Secret object")
    for _, spec, _ in pod_specs([obj]) if obj["kind"] in ("Deployment", "Job") else []:
        for c in spec["containers"]:
            for e in c.get("env", []):
                if IDENTITY_SELECTOR.match(e.get("value", "")):
                    continue
                if re.search(r"(?i)password|secret|connectionstring|key$", e["name"]) and "value" in e:
                    found.append(f"env {e['name']} has a literal value")
    return found


def test_leak_scanner_fires_on_each_kind_of_secret() -> None:
    samples = [
        {"kind": "ConfigMap", "data": {"c": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=="}},
        {"kind": "ConfigMap", "data": {"u": "https://a.blob.core.windows.net/c?sv=2022-11-02&sig=AbC%3D"}},
        {"kind": "ConfigMap", "data": {"conf": "db.password = hunter2"}},
        {"kind": "ConfigMap", "data": {"c": "RunAs=App;AppId=x;TenantId=t;AppKey=s3cr3t"}},
        {"kind": "Secret", "data": {}},
        {
            "kind": "Job",
            "spec": {
                "template": {
                    "metadata": {"labels": {}},
                    "spec": {"containers": [{"name": "x", "env": [{"name": "DB_PASSWORD", "value": "x"}]}]},
                }
            },
            "metadata": {"name": "j"},
        },
    ]
    for sample in samples:
        assert leaks(sample), sample
    assert not leaks({"kind": "ConfigMap", "data": {"conf": "password = ${CROMWELL_DB_PASSWORD}"}})
    # The start task assigns a variable it read from Key Vault: a reference, not a value.
    assert not leaks({"kind": "ConfigMap", "data": {"s": "REGISTRY_PASSWORD=$SECRET_VALUE"}})
    assert leaks({"kind": "ConfigMap", "data": {"s": "REGISTRY_PASSWORD=s3cr3t"}})


def test_no_object_carries_a_key_sas_or_password(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        assert not leaks(obj), f"{obj['kind']}/{obj['metadata']['name']}: {leaks(obj)}"


def test_the_rendered_start_task_with_a_scanner_carries_no_secret() -> None:
    # The real script names Key Vault secrets and assigns what it reads from the vault to variables, nothing more.
    scanner = ImageScannerSettings(
        image="crcoadev7f3a.azurecr.io/security/scanner:2.4.1",
        registry_server="crcoadev7f3a.azurecr.io",
        key_vault_name="kv-coa-dev-7f3a",
        username_secret_name="scanner-user",
        password_secret_name="scanner-pass",
        secret_env={"API_TOKEN": "scanner-token"},
    )
    values = case_values("dev-postgresql")
    values["batch"]["nodes"]["startTaskScript"] = render_start_task(
        StartTaskSettings(managed_identity_client_id=values["workloadIdentity"]["clientId"], scanner=scanner)
    )
    config_map = get(render_chart(values), "ConfigMap", "batch-config")
    assert "scanner-pass" in config_map["data"]["start-task.sh"]
    assert not leaks(config_map), leaks(config_map)


def test_pods_meet_pod_security_restricted(objects: list[dict[str, Any]]) -> None:
    assert pod_security_violations(objects) == []


def test_pods_go_beyond_restricted(objects: list[dict[str, Any]]) -> None:
    """Stricter than the profile: no API token unless mounted on purpose, read-only root, scratch on emptyDir."""
    for name, spec, _ in pod_specs(objects):
        assert spec["automountServiceAccountToken"] is False, name
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            writable = {m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")}
            assert "/tmp" in writable, f"{name}: no writable scratch path"
            emptydirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
            assert any(m["name"] in emptydirs for m in c["volumeMounts"] if m["mountPath"] == "/tmp"), name


def test_containers_have_requests_limits_and_probes(objects: list[dict[str, Any]]) -> None:
    for name, spec, _ in pod_specs(objects):
        for c in spec["containers"]:
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][section]), f"{name}: {section}"
    for dep in by_kind(objects, "Deployment"):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"] for p in c.get("ports", [])}
        for probe in ("livenessProbe", "readinessProbe"):
            assert probe in c, f"{dep['metadata']['name']}: {probe}"
            handler = c[probe].get("httpGet") or c[probe].get("tcpSocket")
            if handler:
                assert handler["port"] in ports, f"{dep['metadata']['name']}: {probe} port"
            else:
                assert c[probe]["exec"]["command"], dep["metadata"]["name"]


def test_images_come_pinned_from_the_private_registry(case: str, objects: list[dict[str, Any]]) -> None:
    registry = case_values(case)["images"]["registry"]
    for name, spec, _ in pod_specs(objects):
        for c in spec["containers"]:
            image = c["image"]
            assert image.startswith(registry + "/"), f"{name}: {image}"
            reference = image[len(registry) + 1 :]
            digest = re.search(r"@sha256:[a-f0-9]{64}$", reference)
            tag = re.search(r":([A-Za-z0-9_][A-Za-z0-9_.-]*)(@|$)", reference)
            assert digest or (tag and tag.group(1).lower() != "latest"), f"{name}: {image} is not pinned"


def _pod(labels: dict[str, str]) -> Pod:
    return Pod(labels=labels, namespace="coa")


def _to(labels: dict[str, str], port: int) -> PodTarget:
    return PodTarget(labels=labels, namespace_labels={"kubernetes.io/metadata.name": "coa"}, namespace="coa", port=port)


def _flow(moment: Moment, src: dict[str, str], dst: dict[str, str], port: int) -> bool:
    return egress_allowed(moment, _pod(src), _to(dst, port)) and ingress_allowed(moment, _pod(src), _pod(dst), port)


def _out(moment: Moment, pod: dict[str, str], ip: str, port: int) -> bool:
    return egress_allowed(moment, _pod(pod), AddressTarget(address=ip, port=port))


def test_network_policies_deny_by_default_and_allow_only_app_flows(case: str, objects: list[dict[str, Any]]) -> None:
    values = case_values(case)
    running = running_moment(objects)
    deny = get(objects, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    pods = {name: labels for name, _, labels in pod_specs(objects)}
    cromwell, tes, trigger = pods["cromwell"], pods["tes"], pods["triggerservice"]
    for name in ("cromwell", "tes", "triggerservice"):
        for direction in ("Ingress", "Egress"):
            assert selected(running, _pod(pods[name]), direction), f"{name}: no {direction} policy selects it"
    assert _flow(running, trigger, cromwell, 8000)
    assert _flow(running, cromwell, tes, 8080)
    for src, dst, port in [
        (tes, cromwell, 8000),
        (cromwell, trigger, 8000),
        (trigger, tes, 8080),
        (tes, trigger, 80),
        (cromwell, tes, 22),
    ]:
        assert not _flow(running, src, dst, port), (src["app.kubernetes.io/name"], dst["app.kubernetes.io/name"], port)
    pe = str(next(ipaddress.ip_network(values["networkPolicy"]["privateEndpointsCidr"]).hosts()))
    pg = str(next(ipaddress.ip_network(values["networkPolicy"]["postgresCidr"]).hosts()))
    for name in ("cromwell", "tes", "triggerservice"):
        pod = pods[name]
        # Cromwell reads and writes blobs through the CSI mounts (blobfuse2 on the node), unless its own blob
        # filesystem is on: only then does its contract open the private endpoints and Entra ID/ARM.
        talks_to_azure = name != "cromwell" or values.get("cromwell", {}).get("executionsRoot") == "blob"
        assert _out(running, pod, pe, 443) == talks_to_azure, name
        assert _out(running, pod, "20.190.160.1", 443) == talks_to_azure, f"{name}: Entra ID/ARM"
        assert not _out(running, pod, "20.190.160.1", 80), name
        assert not _out(running, pod, "169.254.169.254", 80), f"{name}: IMDS"
        assert not _out(running, pod, "169.254.169.254", 443), f"{name}: IMDS"
        assert not _out(running, pod, "10.99.0.10", 443), f"{name}: arbitrary VNet address"
        assert _out(running, pod, pg, 5432), name
    # Hooks are judged against what exists when they run: on install only the hooks, on upgrade the release too.
    for moment in (install_moment(objects), upgrade_moment(objects)):
        assert _out(moment, pods["db-init"], pg, 5432), moment.name
        assert not _out(moment, pods["db-init"], pe, 443), moment.name
        # The start-task uploader needs no network (blobfuse2 runs in the node's CSI driver).
        uploader = pods["batch-config-upload"]
        for ip, port in ((pe, 443), (pg, 5432), ("20.190.160.1", 443), ("169.254.169.254", 80)):
            assert not _out(moment, uploader, ip, port), (moment.name, ip, port)
        assert not ingress_allowed(moment, _pod(cromwell), _pod(uploader), 8080), moment.name


@pytest.mark.parametrize("port_name", ["UDP", "TCP"])
def test_dns_is_allowed_only_to_kube_dns(objects: list[dict[str, Any]], port_name: str) -> None:
    dns = get(objects, "NetworkPolicy", "allow-dns")["spec"]
    assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"]
    (rule,) = dns["egress"]
    assert {"protocol": port_name, "port": 53} in rule["ports"]
    (peer,) = rule["to"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


def test_every_pod_runs_as_a_uid_and_gid_above_the_host_range(objects: list[dict[str, Any]]) -> None:
    """CKV_K8S_40: 10000 or more, so an escaped process matches no host account."""
    pods = [(name, spec) for name, spec, _ in pod_specs(objects)]
    pods += [(o["metadata"]["name"], o["spec"]) for o in objects if o["kind"] == "Pod"]
    assert len(pods) >= 6
    for name, spec in pods:
        context = spec["securityContext"]
        assert min(context["runAsUser"], context["runAsGroup"], context["fsGroup"]) >= 10000, name
