"""Kubernetes RBAC: bindings that hand the cluster to every caller, or to the pods of a service account.

Cluster users sign in with Entra ID and are authorised with Azure RBAC (aks-entra-id-with-azure-rbac); Kubernetes
RBAC bindings stay possible, and one of them undoes it: `cluster-admin` bound to a service account makes every pod
that runs as it a cluster administrator, and any role bound to the built-in groups every caller belongs to
(system:authenticated, system:unauthenticated, system:serviceaccounts) or to system:anonymous hands that role out to
all of them (kubernetes.io, "Using RBAC Authorization", default roles and user-facing roles).

Reads typed bindings and those a Helm v3 Release of a local chart renders (see _workloads.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import Severity

from ._core import Rule, Subject, get, items, same
from ._workloads import RELEASE, TYPED_OBJECTS, objects

BROAD_SUBJECTS = {
    ("group", "system:authenticated"),
    ("group", "system:unauthenticated"),
    ("group", "system:serviceaccounts"),
    ("user", "system:anonymous"),
}
ADMIN_ROLES = ("cluster-admin",)


def _bindings(s: Subject) -> Iterable[str]:
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for label, binding in objects(s, kind):
            role = get(binding, "roleRef", "name")
            role_name = role if isinstance(role, str) else "?"
            for subject in items(get(binding, "subjects")):
                subject_kind, name = get(subject, "kind"), get(subject, "name")
                if not (isinstance(subject_kind, str) and isinstance(name, str)):
                    continue
                if (subject_kind.lower(), name.lower()) in BROAD_SUBJECTS:
                    yield f"{label}: binds {role_name!r} to {subject_kind} {name!r}, which every such caller belongs to."
                elif same(subject_kind, "ServiceAccount") and any(same(role_name, r) for r in ADMIN_ROLES):
                    namespace = get(subject, "namespace")
                    yield (
                        f"{label}: binds {role_name!r} to service account {namespace}/{name}: every pod running as it "
                        "administers the cluster."
                    )


POLICIES = [
    Rule(
        name="k8s-no-broad-rbac-binding",
        types=(TYPED_OBJECTS["ClusterRoleBinding"], TYPED_OBJECTS["RoleBinding"], RELEASE),
        check=_bindings,
        description="No Kubernetes role binding gives cluster-admin to a service account, or any role to the groups "
        "every caller belongs to (system:authenticated, system:unauthenticated, system:serviceaccounts) or to "
        "system:anonymous.",
        severity=Severity.CRITICAL,
        safeguard="access",
        remediation="Bind the narrowest Role a workload needs in its own namespace; give people access through Entra "
        "ID groups with Azure RBAC for Kubernetes (this chart binds no roles).",
        anchor="none: gap in existing scanners",
    ),
]
