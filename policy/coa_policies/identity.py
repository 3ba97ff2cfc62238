"""Who can do what: role assignments, custom role definitions, and the grants on data accounts outside the stack.

Built-in role definition ids are fixed GUIDs, the same in every tenant: the "id" of each role's JSON in
MicrosoftDocs/azure-docs@0b8729e:articles/role-based-access-control/built-in-roles/privileged.md (Owner, Contributor,
User Access Administrator, Role Based Access Control Administrator), and for storage the ones components/access.py
ROLES already names. A role assignment names one as
`/subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>` (or without the subscription prefix);
the GUID is the last segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import Severity

from ._core import (
    NotApplicableError,
    Rule,
    StackResource,
    StackRule,
    Subject,
    finding,
    get,
    items,
    known,
    matches_any,
)
from .stack import AKS, PRIVATE_ENDPOINT, STORAGE, VAULT, _arm_id, _label, _of

ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"

# The Privileged category of Azure's built-in roles: each can grant access or change every resource in its scope.
# (privilegedRoleIds in a policy config replaces the list.)
PRIVILEGED_ROLES: dict[str, tuple[str, str]] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", "full control of everything there, including who has access"),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": ("Contributor", "can change or delete every resource there"),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": ("User Access Administrator", "can give anyone any role there"),
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": (
        "Role Based Access Control Administrator",
        "can give anyone any role there",
    ),
    # Not in the Privileged category, but each hands a workload the keys to what the stack locks: a vault's every
    # secret and key, its role grants, an identity's federated credentials, the cluster's admin, a storage account's
    # keys and network rules (MicrosoftDocs/azure-docs@0b8729e:articles/role-based-access-control/built-in-roles/
    # security.md, identity.md, containers.md, storage.md).
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": (
        "Key Vault Administrator",
        "can read, change or delete every secret and key",
    ),
    "8b54135c-b56d-4d72-a534-26097cfdc8d8": (
        "Key Vault Data Access Administrator",
        "can give anyone any Key Vault data role there",
    ),
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": (
        "Key Vault Crypto Officer",
        "can disable or delete the keys that encrypt the data (crypto-shredding)",
    ),
    "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59": (
        "Managed Identity Contributor",
        "can add federated credentials, letting an outside token act as the identity",
    ),
    "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b": (
        "Azure Kubernetes Service RBAC Cluster Admin",
        "can do anything in the cluster",
    ),
    "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8": (
        "Azure Kubernetes Service Cluster Admin Role",
        "can fetch the cluster-admin credential",
    ),
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": (
        "Storage Account Contributor",
        "can list the account keys and open its network rules",
    ),
}
# What a workload needs on a storage account it does not own (components/data_storage.py): to find the account
# and sign user-delegation SAS at account level, blob data access per container.
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
BLOB_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"

# Scopes above a single resource: the root, a management group, a subscription, a resource group.
_BROAD_SCOPE = re.compile(
    r"^/$|^/providers/microsoft\.management/managementgroups/[^/]+/?$|^/subscriptions/[^/]+(/resourcegroups/[^/]+)?/?$",
    re.IGNORECASE,
)
_ACCOUNT = re.compile(
    r"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.storage/storageaccounts/[^/]+)(/.*)?$",
    re.IGNORECASE,
)
_CONTAINER = re.compile(r"^/blobservices/default/containers/[^/]+$", re.IGNORECASE)
# Actions that let a principal grant itself (or anyone) any role.
ESCALATION_ACTIONS = (
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.Authorization/roleDefinitions/write",
    "Microsoft.Authorization/elevateAccess/Action",
)


def role_guid(role_definition_id: Any) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(role_definition_id, str) else ""


def _privileged_role(s: Subject) -> Iterable[str]:
    guid = role_guid(get(s.props, "roleDefinitionId"))
    listed = {str(g).lower() for g in s.config["privilegedRoleIds"]}
    if guid and guid in listed:
        name, power = PRIVILEGED_ROLES.get(guid, ("a role listed in privilegedRoleIds", "privileged"))
        scope = get(s.props, "scope")
        where = f" on {scope!r}" if isinstance(scope, str) else ""
        yield finding(f"assigns {name} ({guid}){where}: {power}.", role=guid)


def _resource_scope(s: Subject) -> Iterable[str]:
    scope = get(s.props, "scope")
    if isinstance(scope, str) and _BROAD_SCOPE.match(scope.strip()):
        yield finding(
            f"scope {scope!r} is a whole subscription, resource group or management group, not the resource the "
            "principal needs.",
            scope=scope,
        )


def _excluded(action: str, not_actions: Sequence[Any]) -> bool:
    return any(isinstance(n, str) and matches_any(action, [n]) for n in not_actions)


def _custom_role(s: Subject) -> Iterable[str]:
    for index, permission in enumerate(items(get(s.props, "permissions"))):
        if not isinstance(permission, Mapping):
            continue
        actions = [a for a in items(get(permission, "actions")) if isinstance(a, str)]
        not_actions = items(get(permission, "notActions"))
        where = f"permissions[{index}]"
        if "*" in actions:
            yield f"{where}.actions include '*': every control-plane action on every resource in its scopes."
        else:
            for action in ESCALATION_ACTIONS:
                granted = [a for a in actions if matches_any(action, [a])]
                if granted and not _excluded(action, not_actions):
                    yield f"{where}.actions {granted[0]!r} grant {action}: the holder can give itself any role."
        for data_action in items(get(permission, "dataActions")):
            if isinstance(data_action, str) and data_action.strip().startswith("*"):
                yield f"{where}.dataActions include {data_action!r}: every data operation of every service."


def _grant_account(r: StackResource) -> tuple[str, str] | None:
    """(account id lowercased, path below the account) when the grant's scope is in a storage account."""
    scope = get(r.props, "scope")
    match = _ACCOUNT.match(scope.strip()) if isinstance(scope, str) else None
    return (match.group(1).lower(), match.group(2) or "") if match else None


def _external_grants(resources: Sequence[StackResource]) -> list[tuple[StackResource, str, str]]:
    """(grant, account id, path below it) for role assignments on storage accounts the stack does not create."""
    accounts = _of(resources, STORAGE)
    own_ids = {_arm_id(a) for a in accounts} - {""}
    own_urns = {a.urn for a in accounts}
    found = []
    for grant in _of(resources, ROLE_ASSIGNMENT):
        located = _grant_account(grant)
        if located is None or located[0] in own_ids:
            continue
        if own_urns & set(grant.property_dependencies.get("scope", ())):
            continue
        found.append((grant, *located))
    if not found:
        raise NotApplicableError("no grant on a storage account outside the stack")
    return found


def _name(account_id: str) -> str:
    return account_id.rsplit("/", 1)[-1]


def _data_grants(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    account_roles = {str(g).lower() for g in cfg["accountRoles"]}
    container_roles = {str(g).lower() for g in cfg["containerRoles"]}
    for grant, account, path in _external_grants(resources):
        guid = role_guid(get(grant.props, "roleDefinitionId"))
        if not guid:
            continue
        label = f"grant {grant.name!r} on data account {_name(account)!r}"
        if guid in container_roles:
            if not _CONTAINER.match(path):
                yield (
                    finding(
                        f"{label} gives blob data role {guid} on {path or 'the whole account'}; grant it per "
                        "container (<account>/blobServices/default/containers/<name>).",
                        account=account,
                    ),
                    grant.urn,
                )
        elif guid not in account_roles:
            yield (
                finding(
                    f"{label} gives role {guid}, which a workload does not need on a data account.", account=account
                ),
                grant.urn,
            )


def _data_endpoints(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    container_roles = {str(g).lower() for g in cfg["containerRoles"]}
    needing: dict[str, StackResource] = {}
    for grant, account, _ in _external_grants(resources):
        if role_guid(get(grant.props, "roleDefinitionId")) in container_roles:
            needing.setdefault(account, grant)
    reached: set[str] = set()
    for pe in _of(resources, PRIVATE_ENDPOINT):
        connections = items(get(pe.props, "privateLinkServiceConnections")) + items(
            get(pe.props, "manualPrivateLinkServiceConnections")
        )
        for connection in connections:
            target = get(connection, "privateLinkServiceId")
            groups = get(connection, "groupIds")
            if isinstance(target, str) and (not known(groups) or "blob" in items(groups)):
                reached.add(target.lower())
    for account, grant in needing.items():
        if account not in reached:
            yield (
                finding(
                    f"data account {_name(account)!r} is granted to the workload (grant {grant.name!r}) but the stack "
                    "has no blob private endpoint to it: its data would travel over public endpoints.",
                    account=account,
                ),
                grant.urn,
            )


_ROLE_LIST = {"type": "array", "items": {"type": "string"}}


_VAULT_SCOPE = re.compile(
    r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.keyvault/vaults/[^/]+/?$", re.IGNORECASE
)


def _foreign_vault_grants(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """A vault the stack does not declare belongs to someone else (the platform team's, holding the Docker Hub
    token): the stack may read the secrets it names there, never the whole vault."""
    vaults = _of(resources, VAULT)
    for grant in _of(resources, ROLE_ASSIGNMENT):
        scope = get(grant.props, "scope")
        if not (isinstance(scope, str) and _VAULT_SCOPE.match(scope.strip())):
            continue
        own = any(
            v.urn in grant.property_dependencies.get("scope", ()) or _arm_id(v) == scope.strip().rstrip("/").lower()
            for v in vaults
        )
        if not own:
            yield (
                f"grant {grant.name!r} covers every secret and key of vault {scope.rstrip('/').rsplit('/', 1)[-1]!r}, "
                "which the stack does not own; scope it to the secrets it needs (<vault id>/secrets/<name>).",
                grant.urn,
            )


def _own_cluster_issuer(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """Any AKS cluster's issuer has the same shape, an attacker's included: a credential in a stack with a cluster
    trusts that cluster's issuer, taken from it (a property dependency, or the same URL once known)."""
    clusters = _of(resources, AKS)
    credentials = _of(resources, FEDERATED_CREDENTIAL)
    if not clusters or not credentials:
        raise NotApplicableError("no federated credential beside an AKS cluster")
    issuers = {url.lower() for c in clusters if isinstance(url := get(c.props, "oidcIssuerProfile", "issuerURL"), str)}
    for credential in credentials:
        issuer = get(credential.props, "issuer")
        from_cluster = any(c.urn in credential.property_dependencies.get("issuer", ()) for c in clusters)
        known_issuer = isinstance(issuer, str)
        if (known_issuer and issuers and issuer.lower() not in issuers) or (
            not from_cluster and not (known_issuer and issuer.lower() in issuers)
        ):
            yield (
                f"{_label(credential)} trusts issuer {issuer if known_issuer else '(computed)'!r}, not the stack's "
                "cluster: another cluster's service accounts would act as the identity.",
                credential.urn,
            )


# A federated credential lets whoever holds a token from `issuer` for `subject` act as the identity. AKS issuers are
# https://<region>.oic.prod-aks.azure.com/<tenant>/<guid>/ (MicrosoftDocs/azure-aks-docs@fb060ab:articles/aks/
# use-oidc-issuer.md:122,156); a Kubernetes token's subject is system:serviceaccount:<namespace>:<name>.
AKS_ISSUERS = ["https://*.oic.prod-aks.azure.com/*"]
_SERVICE_ACCOUNT = re.compile(
    r"^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$"
)
# Namespaces where any pod, or the cluster's own components, would get the identity.
SHARED_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


def _federated_credential(s: Subject) -> Iterable[str]:
    issuer, subject, audiences = get(s.props, "issuer"), get(s.props, "subject"), get(s.props, "audiences")
    if isinstance(issuer, str) and not matches_any(issuer, s.config["issuerPatterns"]):
        yield f"issuer {issuer!r} is not a Kubernetes cluster's OIDC issuer: its tokens would act as the identity."
    if isinstance(subject, str):
        match = _SERVICE_ACCOUNT.match(subject)
        if not match:
            yield f"subject {subject!r} is not one Kubernetes service account (system:serviceaccount:<ns>:<name>)."
        elif match[1] in {n.lower() for n in s.config["sharedNamespaces"]}:
            yield f"subject {subject!r} is in namespace {match[1]!r}, where any pod would get the identity."
    listed = [a for a in items(audiences) if known(a)]
    if listed and listed != [TOKEN_EXCHANGE_AUDIENCE]:
        yield f"audiences {listed!r}: only {TOKEN_EXCHANGE_AUDIENCE!r} is expected."


POLICIES = [
    Rule(
        name="role-assignment-no-privileged-role",
        types=(ROLE_ASSIGNMENT,),
        check=_privileged_role,
        description="Role assignments never give Owner, Contributor, User Access Administrator or Role Based "
        "Access Control Administrator, nor a role that hands over a vault's data or grants, an identity's federated "
        "credentials, the cluster's admin, or a storage account's keys.",
        severity=Severity.CRITICAL,
        safeguard="access",
        remediation="Assign the narrowest built-in role that grants the actions the principal needs (this project: "
        "components/access.py ROLES, each with its reason) on the one resource it needs.",
        anchor="none: gap in existing scanners",
        config={"privilegedRoleIds": {**_ROLE_LIST, "default": sorted(PRIVILEGED_ROLES)}},
    ),
    Rule(
        name="role-assignment-resource-scope",
        types=(ROLE_ASSIGNMENT,),
        check=_resource_scope,
        description="Role assignments are scoped to a resource, never to a resource group, subscription or "
        "management group.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Set scope to the id of the resource the principal needs (a storage account, a container, a "
        "vault), not the resource group or subscription that holds it.",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="federated-credential-bound-to-cluster",
        types=(FEDERATED_CREDENTIAL,),
        check=_federated_credential,
        description="Federated identity credentials trust only a Kubernetes cluster's OIDC issuer, for one service "
        "account outside the shared namespaces, with the token-exchange audience.",
        severity=Severity.CRITICAL,
        safeguard="authentication",
        remediation="Set issuer to the cluster's oidcIssuerProfile.issuerURL and subject to "
        "system:serviceaccount:<workload namespace>:<service account> (this project: components/access.py); other "
        "clouds' issuers go in the rule's issuerPatterns.",
        anchor="none: gap in existing scanners",
        config={
            "issuerPatterns": {**_ROLE_LIST, "default": AKS_ISSUERS},
            "sharedNamespaces": {**_ROLE_LIST, "default": SHARED_NAMESPACES},
        },
    ),
    StackRule(
        name="foreign-vault-grants-per-secret",
        check=_foreign_vault_grants,
        subjects=(ROLE_ASSIGNMENT,),
        description="Grants on a Key Vault outside the stack name its secrets one by one, never the whole vault.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Scope the grant to <vault id>/secrets/<name> for each secret the principal reads (this project: "
        "the Docker Hub credential set's two grants, components/registry.py).",
        anchor="none: gap in existing scanners",
    ),
    StackRule(
        name="federated-credential-trusts-own-cluster",
        check=_own_cluster_issuer,
        subjects=(FEDERATED_CREDENTIAL,),
        description="Federated identity credentials in a stack with an AKS cluster trust that cluster's OIDC issuer, "
        "not another cluster's.",
        severity=Severity.CRITICAL,
        safeguard="authentication",
        remediation="Set issuer from the cluster's oidcIssuerProfile.issuerURL output (this project: "
        "components/access.py).",
        anchor="none: gap in existing scanners",
    ),
    Rule(
        name="custom-role-no-wildcard-actions",
        types=(ROLE_DEFINITION,),
        check=_custom_role,
        description="Custom role definitions grant no '*' actions or data actions and cannot assign roles.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="List the actions the role needs; drop '*' and Microsoft.Authorization write actions (or "
        "exclude them with notActions).",
        anchor="CKV_AZURE_39; Azure Policy: Audit usage of custom RBAC roles",
    ),
    StackRule(
        name="data-account-grants-per-container",
        check=_data_grants,
        subjects=(ROLE_ASSIGNMENT,),
        description="Grants on storage accounts outside the stack give blob data access per container, and at "
        "account level only Reader and Storage Blob Delegator.",
        severity=Severity.HIGH,
        safeguard="access",
        remediation="Scope Storage Blob Data Reader/Contributor to <account>/blobServices/default/containers/<name> "
        "for each container the workflows use (this project: dataStorageAccounts[].containers).",
        anchor="none: gap in existing scanners",
        config={
            "accountRoles": {**_ROLE_LIST, "default": [READER, BLOB_DELEGATOR]},
            "containerRoles": {**_ROLE_LIST, "default": [BLOB_DATA_READER, BLOB_DATA_CONTRIBUTOR]},
        },
    ),
    StackRule(
        name="data-account-private-endpoint",
        check=_data_endpoints,
        subjects=(ROLE_ASSIGNMENT,),
        description="Every storage account outside the stack that the workload gets blob data access to is reached "
        "through a blob private endpoint of the stack.",
        severity=Severity.HIGH,
        safeguard="transmission",
        remediation="Keep the account's blob private endpoint (this project: privateEndpoint: create); where the "
        "hub owns the endpoint, waive the account by id with the reason (waivers: [{accounts: [<id>], reason: ...}]).",
        anchor="none: gap in existing scanners",
        config={"containerRoles": {**_ROLE_LIST, "default": [BLOB_DATA_READER, BLOB_DATA_CONTRIBUTOR]}},
    ),
]
