"""Least-privilege access for the CoA identities: Azure role assignments scoped to single resources, and the
federated credentials that let Kubernetes service accounts act as the workload identity.

Every assignment names one role (a built-in GUID, or a custom definition of components/custom_roles.py), one
principal and one resource id as scope; nothing is granted on a resource group, and on the subscription only what
Azure offers nowhere narrower (the reduced-assurance generation's VM SKU list). Assignment names are uuid5 GUIDs of scope, role and principal, so a
re-run finds the same assignment instead of failing with RoleAssignmentExists.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization, managedidentity

from components.contracts import Scope
from components.contracts.derive import Grant
from components.contracts.roles import ROLE_PERMISSIONS, ROLES
from components.identity import Identity

__all__ = ["ROLES", "ROLE_ACTIONS", "Access", "AccessArgs", "assign"]

# Built-in roles and what they allow live with the contracts that need them (components/contracts/roles.py).
# ROLE_ACTIONS: every permission of a role, Actions and DataActions together (for reading, not for deciding).
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    role: (*permissions.actions, *permissions.data_actions) for role, permissions in ROLE_PERMISSIONS.items()
}
# The audience Entra ID expects in a Kubernetes service account token exchanged for an identity token.
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
_NAMESPACE = uuid.UUID("5b0c6c55-3c1f-4a49-9b7e-6f0b1c9d2a10")  # fixed: changing it renames every assignment


def role_definition_id(subscription_id: str, role: str) -> str:
    """Full id of a built-in role for the subscription; unknown role names fail loudly."""
    if role not in ROLES:
        raise KeyError(f"role {role!r} is not in components.access.ROLES; add its built-in GUID there")
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{ROLES[role]}"


def assignment_name(scope: str, role_guid: str, principal_id: str) -> str:
    """Deterministic GUID for (scope, role, principal), like Bicep's guid(); ARM requires a GUID name."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope.lower()}|{role_guid.lower()}|{principal_id.lower()}"))


def assign(
    name: str,
    *,
    role: str,
    scope: pulumi.Input[str],
    principal_id: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    reason: str,
    parent: pulumi.Resource,
    custom_role_guid: pulumi.Input[str] | None = None,
) -> authorization.RoleAssignment:
    """One role on one resource for one service principal (a managed identity or an application); `reason` lands in
    the assignment's description. A custom role (components/custom_roles.py) is named by its definition's GUID."""
    guid: pulumi.Input[str] | None = custom_role_guid if custom_role_guid is not None else ROLES.get(role)
    if guid is None:
        raise KeyError(f"{name}: role {role!r} is not in components.access.ROLES and no custom definition was given")
    return authorization.RoleAssignment(
        name,
        scope=scope,
        principal_id=principal_id,
        # Service principals: skips the Entra lookup that fails while a new principal is still replicating.
        principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
        role_definition_id=pulumi.Output.all(pulumi.Output.from_input(subscription_id), guid).apply(
            lambda values: f"/subscriptions/{values[0]}/providers/Microsoft.Authorization/roleDefinitions/{values[1]}"
        ),
        role_assignment_name=pulumi.Output.all(
            pulumi.Output.from_input(scope), guid, pulumi.Output.from_input(principal_id)
        ).apply(lambda values: assignment_name(values[0], values[1], values[2])),
        description=reason,
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass(frozen=True, kw_only=True)
class AccessArgs:
    subscription_id: pulumi.Input[str]
    workload: Identity
    kubelet: Identity
    oidc_issuer_url: pulumi.Input[str]
    # Kubernetes service accounts (namespace, name) allowed to act as the workload identity.
    service_accounts: Sequence[tuple[str, str]]
    # What the runtime contracts need (components/contracts/derive.py grants), and the resource each scope names.
    grants: Sequence[Grant]
    scopes: Mapping[Scope, pulumi.Input[str]]
    # Entra applications a generation's pods sign in as (`<workload>-app` identities): service principal object ids.
    applications: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # GUIDs of the custom role definitions (components/custom_roles.py) the grants name.
    custom_role_guids: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


# Logical names of the assignments as first deployed; a new grant gets <identity>-<scope>-<role>. Renaming would make
# Pulumi create the replacement first, which Azure refuses (RoleAssignmentExists: same scope, role and principal).
GRANT_NAMES: dict[tuple[str, str, str], str] = {
    ("workload", "storage-account", "Storage Blob Data Contributor"): "workload-blob",
    ("workload", "storage-account", "Reader"): "workload-storage-read",
    ("workload", "storage-account", "Reader and Data Access"): "workload-blob-keys",
    ("workload", "batch-account", "Azure Batch Data Contributor"): "workload-batch",
    ("workload", "batch-account", "Reader"): "workload-batch-read",
    ("workload", "batch-subnet", "Network Contributor"): "workload-batch-subnet",
    ("workload", "workload-identity", "Managed Identity Operator"): "workload-self-operator",
    ("workload", "key-vault", "Key Vault Secrets User"): "workload-vault",
    ("kubelet", "registry", "AcrPull"): "kubelet-acr",
    ("workload", "registry", "AcrPull"): "workload-acr",
}


def grant_name(grant: Grant) -> str:
    slug = "".join(word[0] for word in grant.role.lower().split())
    return GRANT_NAMES.get((grant.identity, grant.scope, grant.role), f"{grant.identity}-{grant.scope}-{slug}")


class Access(pulumi.ComponentResource):
    """Role assignments for the workload and kubelet identities, derived from the runtime contracts, each scoped to
    the one resource it is needed on, and the workload identity's federated credentials for the cluster's service
    accounts. Data-account grants are DataStorageLinks'."""

    def __init__(self, name: str, args: AccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:identity:Access", name, None, opts)
        principals = {
            "workload": args.workload.principal_id,
            "kubelet": args.kubelet.principal_id,
            **args.applications,
        }
        self.role_assignments: list[authorization.RoleAssignment] = []
        for grant in args.grants:
            if grant.scope == "data-account":
                continue
            if grant.scope not in args.scopes:
                raise ValueError(
                    f"{name}: no resource for scope {grant.scope!r} (needed by {', '.join(grant.needed_by)})"
                )
            if grant.identity not in principals:
                raise ValueError(
                    f"{name}: no principal for {grant.identity!r} (needed by {', '.join(grant.needed_by)})"
                )
            self.role_assignments.append(
                assign(
                    f"{name}-{grant_name(grant)}",
                    role=grant.role,
                    scope=args.scopes[grant.scope],
                    principal_id=principals[grant.identity],
                    subscription_id=args.subscription_id,
                    # The contract entries that need it, shortened to fit the description.
                    reason=f"CoA {grant.identity}: " + "; ".join(grant.needed_by)[:480],
                    parent=self,
                    custom_role_guid=args.custom_role_guids.get(grant.role),
                )
            )

        # Azure rejects concurrent writes of federated credentials on one identity: create them one at a time.
        self.federated_credentials: list[managedidentity.FederatedIdentityCredential] = []
        previous: pulumi.Resource | None = None
        for namespace, service_account in args.service_accounts:
            credential = managedidentity.FederatedIdentityCredential(
                f"{name}-fic-{service_account}",
                resource_group_name=args.workload.resource_group_name,
                resource_name_=args.workload.name,
                federated_identity_credential_resource_name=service_account,
                issuer=args.oidc_issuer_url,
                subject=f"system:serviceaccount:{namespace}:{service_account}",
                audiences=[TOKEN_EXCHANGE_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous] if previous else None),
            )
            self.federated_credentials.append(credential)
            previous = credential
        self.workload_needs: list[pulumi.Resource] = [*self.role_assignments, *self.federated_credentials]
        self.register_outputs(
            {"federated_subjects": [f"system:serviceaccount:{ns}:{sa}" for ns, sa in args.service_accounts]}
        )
