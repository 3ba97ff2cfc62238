"""Custom role definitions for grants no built-in role covers narrowly enough (components/contracts/roles.py
CUSTOM_ROLES): each holds only the actions a runtime contract needs and can be assigned only where the stack assigns it.

Role names are unique per Entra tenant, so each carries the stack's name; definition ids are GUIDs derived from the
assignable scope and the role, so a re-run finds the same definition.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

from components.contracts.roles import CUSTOM_ROLES

_NAMESPACE = uuid.UUID("0c8a5f4e-51a2-4f0d-8c61-3d2e9b7f1a44")  # fixed: changing it replaces every definition


def definition_guid(scope: str, role: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{scope.lower()}|{role}"))


@dataclass(frozen=True, kw_only=True)
class CustomRolesArgs:
    # Role name (CUSTOM_ROLES) -> the one scope it may be assigned at (a resource group or the subscription).
    assignable_scopes: Mapping[str, pulumi.Input[str]]
    # Tells the stacks' definitions apart in the tenant-wide list of role names.
    label: str


class CustomRoles(pulumi.ComponentResource):
    """One custom role definition per needed role, with exactly the actions of components/contracts/roles.py."""

    def __init__(self, name: str, args: CustomRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:identity:CustomRoles", name, None, opts)
        # Role name -> GUID of its definition, once created (role assignments name it).
        self.guids: dict[str, pulumi.Output[str]] = {}
        self.definitions: dict[str, authorization.RoleDefinition] = {}
        for role, scope in args.assignable_scopes.items():
            if role not in CUSTOM_ROLES:
                raise KeyError(f"{name}: {role!r} is not in components/contracts/roles.py CUSTOM_ROLES")
            permissions = CUSTOM_ROLES[role]
            guid = pulumi.Output.from_input(scope).apply(lambda s, role=role: definition_guid(s, role))
            definition = authorization.RoleDefinition(
                f"{name}-{role.lower().replace(' ', '-')}",
                role_definition_id=guid,
                role_name=f"{role} ({args.label})",
                description=f"coa-lockdown: {', '.join(permissions.actions)}",
                role_type="CustomRole",
                permissions=[
                    authorization.PermissionArgs(
                        actions=list(permissions.actions),
                        not_actions=[],
                        data_actions=list(permissions.data_actions),
                        not_data_actions=[],
                    )
                ],
                assignable_scopes=[scope],
                scope=scope,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.definitions[role] = definition
            # The GUID resolves only once the definition exists, so an assignment naming it waits for it.
            self.guids[role] = pulumi.Output.all(guid, definition.id).apply(lambda values: values[0])
        self.register_outputs({"roles": sorted(self.definitions)})
