"""Cases and small readers over rendered objects, shared by the chart tests."""

from __future__ import annotations

from typing import Any

from render import deep_merge, load_values, render_chart

# <stack>[-blob]: both stacks (keyless executions mount), and Cromwell's blob filesystem for a stack with shared keys.
CASES = ("dev", "prod", "dev-blob")
POD_KINDS = ("Deployment", "Job")


def case_values(case: str) -> dict[str, Any]:
    stack, *rest = case.split("-")
    override: dict[str, Any] = {}
    if rest == ["tes32"]:
        # The reduced-assurance generation (CoA 3.2.0): Cosmos DB, application credentials, blobxfer from the registry.
        from components.contracts import contracts_for, derive

        override["generation"] = "tes32"
        override["cosmosDb"] = {"accountName": f"cosmos-coa-{stack}-x1y2"}
        override["keyVault"] = {
            "secrets": {
                "tesDbPassword": "",
                "tesAzureServicesAuth": "tes-azure-services-auth",
                "triggerServiceAzureServicesAuth": "triggerservice-azure-services-auth",
            }
        }
        override["images"] = {"blobxfer": {"repository": "blobxfer", "tag": "1.11.0", "digest": ""}}
        override["networkPolicy"] = {
            "egress": {c.workload: [r.values() for r in derive.pod_egress(c)] for c in contracts_for("tes32")}
        }
    if rest == ["blob"]:
        # Cromwell's blob filesystem (shared keys): its contract then opens ARM, Entra ID and the blob endpoint.
        from components.contracts import derive
        from components.contracts.cromwell_87 import CROMWELL_87

        override["cromwell"] = {"executionsRoot": "blob"}
        rules = derive.pod_egress(CROMWELL_87, {"sharedKeyAccess"})
        override["networkPolicy"] = {
            "egress": {"cromwell": [{"to": r.to, "port": r.port, "protocol": r.protocol} for r in rules]}
        }
    return deep_merge(load_values(f"values-{stack}"), override)


_CACHE: dict[str, list[dict[str, Any]]] = {}


def rendered_case(case: str) -> list[dict[str, Any]]:
    """Render each case once per session; tests only read the result."""
    if case not in _CACHE:
        _CACHE[case] = render_chart(case_values(case))
    return _CACHE[case]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def get(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(workload name, pod spec, pod labels) for every pod template."""
    return [
        (o["metadata"]["name"], o["spec"]["template"]["spec"], o["spec"]["template"]["metadata"]["labels"])
        for o in objects
        if o["kind"] in POD_KINDS
    ]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def is_hook(obj: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (obj["metadata"].get("annotations") or {})


# Pod Security Standards, restricted profile (kubernetes.io/docs/concepts/security/pod-security-standards).
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
_POD_PATHS = {"Deployment": ("spec", "template", "spec"), "Job": ("spec", "template", "spec"), "Pod": ("spec",)}


def pod_security_violations(objects: list[dict[str, Any]]) -> list[str]:
    """Every way a rendered pod breaks the `restricted` profile (what the namespace label would reject)."""
    problems: list[str] = []
    for obj in objects:
        path = _POD_PATHS.get(obj["kind"])
        if path is None:
            continue
        spec: dict[str, Any] = obj
        for key in path:
            spec = spec[key]
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        pod_ctx = spec.get("securityContext") or {}
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field):
                problems.append(f"{label}: {field}")
        for volume in spec.get("volumes") or []:
            kinds = set(volume) - {"name"}
            if not kinds <= RESTRICTED_VOLUMES:
                problems.append(f"{label}: volume {volume['name']} uses {sorted(kinds - RESTRICTED_VOLUMES)}")
        for sysctl in pod_ctx.get("sysctls") or []:
            problems.append(f"{label}: sysctl {sysctl.get('name')}")
        for group in ("initContainers", "containers", "ephemeralContainers"):
            for container in spec.get(group) or []:
                where = f"{label} container {container['name']}"
                ctx = container.get("securityContext") or {}

                def effective(key: str, ctx: dict[str, Any] = ctx, pod: dict[str, Any] = pod_ctx) -> Any:
                    return ctx[key] if key in ctx else pod.get(key)

                if effective("runAsNonRoot") is not True:
                    problems.append(f"{where}: runAsNonRoot is not true")
                if effective("runAsUser") == 0:
                    problems.append(f"{where}: runAsUser 0")
                if ctx.get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{where}: allowPrivilegeEscalation is not false")
                if ctx.get("privileged"):
                    problems.append(f"{where}: privileged")
                caps = ctx.get("capabilities") or {}
                if "ALL" not in (caps.get("drop") or []):
                    problems.append(f"{where}: capabilities.drop lacks ALL")
                if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
                    problems.append(f"{where}: adds capabilities {caps['add']}")
                seccomp = (effective("seccompProfile") or {}).get("type")
                if seccomp not in ("RuntimeDefault", "Localhost"):
                    problems.append(f"{where}: seccompProfile {seccomp}")
                if ctx.get("procMount") not in (None, "Default"):
                    problems.append(f"{where}: procMount {ctx['procMount']}")
                for port in container.get("ports") or []:
                    if port.get("hostPort"):
                        problems.append(f"{where}: hostPort {port['hostPort']}")
    return problems
