"""Kubernetes workloads and namespaces: the Pod Security "restricted" profile plus image hygiene.

Applies to typed workloads (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Pods; Helm v4 charts
register these one by one) and to Helm v3 Releases of local charts, which the pack renders (see
_workloads.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from ._core import MISSING, UNKNOWN, Rule, Subject, finding, get, items, known, matches_any, same
from ._production import DECLARE_PRODUCTION, PRODUCTION_CONFIG, in_production
from ._workloads import (
    NAMESPACE,
    RELEASE,
    TYPED_OBJECTS,
    TYPED_WORKLOADS,
    UNKNOWN_MARKER,
    containers,
    namespaces,
    objects,
    pod_specs,
    render_release,
)

WORKLOAD_TYPES = (*TYPED_WORKLOADS, RELEASE)

ContainerCheck = Callable[[str, Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], Iterable[str]]


def per_container(check: ContainerCheck) -> Callable[[Subject], Iterable[str]]:
    """Run ``check(label, container, pod spec, config)`` on every container of every pod the subject holds."""

    def run(s: Subject) -> Iterable[str]:
        for label, spec in pod_specs(s):
            for name, container in containers(spec):
                for problem in check(name, container, spec, s.config):
                    yield finding(f"{label} container {name!r}: {problem}", problem, container=name)

    return run


def _effective(container: Mapping[str, Any], spec: Mapping[str, Any], *path: str) -> Any:
    value = get(container, "securityContext", *path)
    return get(spec, "securityContext", *path) if value is MISSING else value


def _non_root(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    non_root = _effective(c, spec, "runAsNonRoot")
    user = _effective(c, spec, "runAsUser")
    if user == 0:
        yield "runAsUser is 0 (root)."
    elif non_root not in (True, UNKNOWN):
        yield "runAsNonRoot is not true."


def _no_escalation(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    if get(c, "securityContext", "allowPrivilegeEscalation") not in (False, UNKNOWN):
        yield "allowPrivilegeEscalation is not false."


def _no_privileged(s: Subject) -> Iterable[str]:
    for label, spec in pod_specs(s):
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if get(spec, field) is True:
                yield f"{label}: {field} is true."
        for volume in items(get(spec, "volumes")):
            if known(get(volume, "hostPath")):
                yield f"{label}: volume {get(volume, 'name')!r} mounts a hostPath."
        for name, container in containers(spec):
            if get(container, "securityContext", "privileged") is True:
                yield f"{label} container {name!r}: privileged is true."
            for port in items(get(container, "ports")):
                if known(get(port, "hostPort")) and get(port, "hostPort") != 0:
                    yield f"{label} container {name!r}: binds hostPort {get(port, 'hostPort')}."
    # A hostPath PersistentVolume hands the node's files to whichever pod claims it.
    for label, volume in objects(s, "PersistentVolume"):
        path = get(volume, "spec", "hostPath", "path")
        if known(get(volume, "spec", "hostPath")):
            where = repr(path) if isinstance(path, str) else "(computed path)"
            yield f"{label}: is a hostPath volume of the node's {where}."


def _drop_all(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    caps = get(c, "securityContext", "capabilities")
    if caps is UNKNOWN:
        return
    dropped = get(caps, "drop")
    if dropped is not UNKNOWN and not any(same(d, "ALL") for d in items(dropped)):
        yield "capabilities.drop does not include ALL."
    for added in items(get(caps, "add")):
        if known(added) and not same(added, "NET_BIND_SERVICE"):
            yield f"capabilities.add includes {added!r}; only NET_BIND_SERVICE is allowed."


def _seccomp(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    kind = _effective(c, spec, "seccompProfile", "type")
    if kind is not UNKNOWN and not (same(kind, "RuntimeDefault") or same(kind, "Localhost")):
        yield f"seccompProfile.type is {kind if known(kind) else 'not set (Unconfined)'}; use RuntimeDefault."


def _read_only_root(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    if name in cfg["exemptContainers"]:
        return
    if get(c, "securityContext", "readOnlyRootFilesystem") not in (True, UNKNOWN):
        yield "readOnlyRootFilesystem is not true (mount an emptyDir for scratch space)."


def _resources(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    resources = get(c, "resources")
    if resources is UNKNOWN:
        return
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if get(resources, kind, resource) is MISSING:
                yield f"resources.{kind}.{resource} is not set."


def split_image(image: str) -> tuple[str, str, str]:
    """(registry, repository, tag-or-digest) with Docker's defaults: docker.io and no tag."""
    rest, digest = ([*image.split("@", 1), ""])[:2]
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, remainder
    else:
        registry, repository = "docker.io", rest
    repo, _, tag = repository.rpartition(":") if ":" in repository else (repository, "", "")
    return registry, repo, digest or tag


def _image_pinned(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    image = get(c, "image")
    if not isinstance(image, str) or UNKNOWN_MARKER in image:
        return
    if "@" in image:
        return
    _, _, tag = split_image(image)
    if not tag:
        yield f"image {image!r} has no tag (pulls latest)."
    elif tag.lower() == "latest":
        yield f"image {image!r} uses the latest tag."


DIGEST_SUFFIX = re.compile(r"@sha256:[0-9a-f]{64}$")


def _digest_pinned(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    """A tag can be re-pushed upstream; only a digest fixes what runs."""
    image = get(c, "image")
    if isinstance(image, str) and UNKNOWN_MARKER not in image and not DIGEST_SUFFIX.search(image):
        yield finding(f"image {image!r} is not pinned by a sha256 digest.", image=image)


def _image_registry(name: str, c: Mapping[str, Any], spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> Iterable[str]:
    image = get(c, "image")
    if not isinstance(image, str) or UNKNOWN_MARKER in image:
        return
    registry, _, _ = split_image(image)
    if not matches_any(registry, cfg["allowedRegistries"]):
        yield f"image {image!r} comes from {registry!r}, which is not in allowedRegistries."


def _namespace_restricted(s: Subject) -> Iterable[str]:
    for name, labels in namespaces(s):
        if labels is UNKNOWN or name.lower() in {n.lower() for n in s.config["exemptNamespaces"]}:
            continue
        level = get(labels, "pod-security.kubernetes.io/enforce")
        if level is not UNKNOWN and not same(level, "restricted"):
            yield (
                f"namespace {name!r} has pod-security.kubernetes.io/enforce="
                f"{level if known(level) else '(unset)'}; it must be restricted."
            )


def _renders(s: Subject) -> Iterable[str]:
    result = render_release(s)
    if result.error:
        yield result.error


_PSS = "Kubernetes Pod Security Standards (restricted)"

POLICIES = [
    Rule(
        name="helm-release-renders",
        types=(RELEASE,),
        check=_renders,
        description="Helm v3 Releases of local charts render with their values, so the pack can check the pods.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Fix the chart or values so `helm template` succeeds; keep the chart path relative to the "
        "project (the pack looks in its working directory and parents).",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="k8s-run-as-non-root",
        types=WORKLOAD_TYPES,
        check=per_container(_non_root),
        description="Containers run as a non-root user.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set securityContext.runAsNonRoot: true and a non-zero runAsUser.",
        anchor=f"CKV_K8S_23; {_PSS}",
    ),
    Rule(
        name="k8s-no-privilege-escalation",
        types=WORKLOAD_TYPES,
        check=per_container(_no_escalation),
        description="Containers cannot gain privileges (setuid, file capabilities).",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set securityContext.allowPrivilegeEscalation: false.",
        anchor=f"CKV_K8S_20; {_PSS}",
    ),
    Rule(
        name="k8s-no-privileged-or-host-access",
        types=(*WORKLOAD_TYPES, TYPED_OBJECTS["PersistentVolume"]),
        check=_no_privileged,
        description="Pods are not privileged and share no host namespaces, paths or ports (nor do "
        "PersistentVolumes mount host paths).",
        severity=Severity.CRITICAL,
        safeguard="access",
        remediation="Remove privileged, hostNetwork, hostPID, hostIPC, hostPath volumes (and hostPath "
        "PersistentVolumes) and hostPort.",
        anchor=f"CKV_K8S_16, CKV_K8S_17, CKV_K8S_18, CKV_K8S_19, CKV_K8S_26; {_PSS}",
    ),
    Rule(
        name="k8s-drop-all-capabilities",
        types=WORKLOAD_TYPES,
        check=per_container(_drop_all),
        description="Containers drop all Linux capabilities (NET_BIND_SERVICE may be added back).",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Set securityContext.capabilities.drop: [ALL].",
        anchor=f"CKV_K8S_37; {_PSS}",
    ),
    Rule(
        name="k8s-seccomp-runtime-default",
        types=WORKLOAD_TYPES,
        check=per_container(_seccomp),
        description="Containers run under the runtime's default seccomp profile.",
        severity=Severity.MEDIUM,
        safeguard="access",
        remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
        anchor=f"CKV_K8S_31; {_PSS}",
    ),
    Rule(
        name="k8s-read-only-root-filesystem",
        types=WORKLOAD_TYPES,
        check=per_container(_read_only_root),
        description="Container root filesystems are read-only.",
        severity=Severity.MEDIUM,
        safeguard="integrity",
        remediation="Set securityContext.readOnlyRootFilesystem: true with emptyDir mounts for writable paths, or "
        "list the container in exemptContainers.",
        anchor="CKV_K8S_22",
        config={"exemptContainers": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    Rule(
        name="k8s-resource-requests-and-limits",
        types=WORKLOAD_TYPES,
        check=per_container(_resources),
        description="Containers declare CPU and memory requests and limits.",
        severity=Severity.LOW,
        safeguard="integrity",
        remediation="Set resources.requests and resources.limits for cpu and memory.",
        anchor="CKV_K8S_10, CKV_K8S_11, CKV_K8S_12, CKV_K8S_13",
    ),
    Rule(
        name="k8s-image-pinned",
        types=WORKLOAD_TYPES,
        check=per_container(_image_pinned),
        description="Container images are pinned by digest or an explicit version tag (never latest).",
        severity=Severity.MEDIUM,
        safeguard="integrity",
        remediation="Use image: repo@sha256:... or repo:1.2.3.",
        anchor="CKV_K8S_14, CKV_K8S_43",
    ),
    Rule(
        name="k8s-image-digest-pinned-production",
        types=WORKLOAD_TYPES,
        check=in_production(per_container(_digest_pinned), "a re-pushed tag would change what runs."),
        description="Production container images are pinned by sha256 digest (a tag alone can be re-pushed).",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Use image: repo:tag@sha256:<digest> (this project: images.lock.json, scripts/pin_images.py). "
        + DECLARE_PRODUCTION,
        anchor="CKV_K8S_43",
        config=PRODUCTION_CONFIG,
    ),
    Rule(
        name="k8s-image-from-allowed-registry",
        types=WORKLOAD_TYPES,
        check=per_container(_image_registry),
        description="Container images come only from allowlisted registries.",
        severity=Severity.HIGH,
        safeguard="integrity",
        remediation="Mirror the image into your private registry (ACR cache rule) or extend allowedRegistries.",
        anchor="Azure Policy: Kubernetes cluster containers should only use allowed images",
        config={
            "allowedRegistries": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["*.azurecr.io", "mcr.microsoft.com"],
            }
        },
    ),
    Rule(
        name="k8s-namespace-pod-security-restricted",
        types=(NAMESPACE, RELEASE),
        check=_namespace_restricted,
        description="Namespaces enforce the Pod Security 'restricted' profile.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Label the namespace pod-security.kubernetes.io/enforce: restricted.",
        anchor="none: gap in existing scanners",
        config={
            "exemptNamespaces": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["kube-system", "kube-public", "kube-node-lease"],
            }
        },
    ),
]
