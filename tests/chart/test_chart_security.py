"""Pod Security restricted, probes, resources, pinned private images, NetworkPolicies, and no secrets in objects."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
from chart_checks import by_kind, case_values, get, is_hook, pod_security_violations, pod_specs
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
    config_map = get(render_chart(values), "ConfigMap", "start-task-script")
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


Pod = dict[str, str]


def _selects(selector: dict[str, Any], labels: Pod) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items() and not selector.get("matchExpressions")


def _allows(policies: list[dict[str, Any]], pod: Pod, direction: str, peer: Pod | str, port: int) -> bool:
    """Standard NetworkPolicy semantics for same-namespace pods (peer as labels) or an IP (peer as str)."""
    kind = "Egress" if direction == "egress" else "Ingress"
    applicable = [p for p in policies if _selects(p["spec"]["podSelector"], pod) and kind in p["spec"]["policyTypes"]]
    assert applicable, f"no {kind} policy selects {pod}"  # default-deny must cover every pod
    for policy in applicable:
        for rule in policy["spec"].get(direction, []):
            peers = rule.get("to" if direction == "egress" else "from", [])
            ports = {p["port"] for p in rule.get("ports", [])}
            if ports and port not in ports:
                continue
            for p in peers:
                if isinstance(peer, str) and "ipBlock" in p:
                    net = ipaddress.ip_network(p["ipBlock"]["cidr"])
                    excluded = any(
                        ipaddress.ip_address(peer) in ipaddress.ip_network(e) for e in p["ipBlock"].get("except", [])
                    )
                    if ipaddress.ip_address(peer) in net and not excluded:
                        return True
                elif (
                    isinstance(peer, dict)
                    and "podSelector" in p
                    and "namespaceSelector" not in p
                    and _selects(p["podSelector"], peer)
                ):
                    return True
    return False


def _flow(policies: list[dict[str, Any]], src: Pod, dst: Pod, port: int) -> bool:
    return _allows(policies, src, "egress", dst, port) and _allows(policies, dst, "ingress", src, port)


def test_network_policies_deny_by_default_and_allow_only_app_flows(case: str, objects: list[dict[str, Any]]) -> None:
    values = case_values(case)
    policies = [p for p in by_kind(objects, "NetworkPolicy") if not is_hook(p)]
    deny = get(objects, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    pods = {name: labels for name, _, labels in pod_specs(objects)}
    cromwell, tes, trigger = pods["cromwell"], pods["tes"], pods["triggerservice"]
    assert _flow(policies, trigger, cromwell, 8000)
    assert _flow(policies, cromwell, tes, 8080)
    for src, dst, port in [
        (tes, cromwell, 8000),
        (cromwell, trigger, 8000),
        (trigger, tes, 8080),
        (tes, trigger, 80),
        (cromwell, tes, 22),
    ]:
        assert not _flow(policies, src, dst, port), (src["app.kubernetes.io/name"], dst["app.kubernetes.io/name"], port)
    pe = str(next(ipaddress.ip_network(values["networkPolicy"]["privateEndpointsCidr"]).hosts()))
    pg = str(next(ipaddress.ip_network(values["networkPolicy"]["postgresCidr"]).hosts()))
    for name in ("cromwell", "tes", "triggerservice"):
        pod = pods[name]
        assert _allows(policies, pod, "egress", pe, 443), name
        assert _allows(policies, pod, "egress", "20.190.160.1", 443), f"{name}: Entra ID/ARM"
        assert not _allows(policies, pod, "egress", "20.190.160.1", 80), name
        assert not _allows(policies, pod, "egress", "169.254.169.254", 80), f"{name}: IMDS"
        assert not _allows(policies, pod, "egress", "169.254.169.254", 443), f"{name}: IMDS"
        assert not _allows(policies, pod, "egress", "10.99.0.10", 443), f"{name}: arbitrary VNet address"
        assert _allows(policies, pod, "egress", pg, 5432), name
    db_init = [p for p in by_kind(objects, "NetworkPolicy") if p["metadata"]["name"] == "db-init"]
    assert _allows(policies + db_init, pods["db-init"], "egress", pg, 5432)
    assert not _allows(policies + db_init, pods["db-init"], "egress", pe, 443)
    # The start-task uploader needs no network (blobfuse2 runs in the node's CSI driver). On install only hook
    # policies exist, so its own policy must deny everything by itself; on upgrade the release's are added.
    upload = get(objects, "NetworkPolicy", "start-task-upload")
    assert is_hook(upload) and upload["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert not upload["spec"].get("ingress") and not upload["spec"].get("egress")
    uploader = pods["start-task-upload"]
    for active in ([upload], [*policies, upload]):
        for ip, port in ((pe, 443), (pg, 5432), ("20.190.160.1", 443), ("169.254.169.254", 80)):
            assert not _allows(active, uploader, "egress", ip, port), (ip, port)
        assert not _allows(active, uploader, "ingress", cromwell, 8080)


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
