"""What the mock engine saw of one resource: the same facts the Pulumi CLI hands to a policy pack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Resources whose only job is to attach one thing to another: shown as a count, never as nodes or edges.
ATTACHMENTS = {
    "azure-native:authorization:RoleAssignment": "role assignments",
    "azure-native:monitor:DiagnosticSetting": "diagnostic settings",
    "azure-native:network:PrivateDnsZoneGroup": "DNS zone groups",
    "azure-native:privatedns:VirtualNetworkLink": "VNet links",
    "azure-native:managedidentity:FederatedIdentityCredential": "federated credentials",
    "azure-native:cosmosdb:SqlResourceSqlRoleAssignment": "Cosmos role assignments",
    "azure-native:authorization:ManagementLockAtResourceLevel": "locks",
}


@dataclass(frozen=True, kw_only=True)
class ResourceRecord:
    urn: str
    type: str
    name: str
    custom: bool
    # Inputs as the engine receives them: camelCase keys, secrets unwrapped, unknowns as None.
    inputs: dict[str, Any]
    # State the mocks returned (inputs plus computed outputs such as ids and principal ids).
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    protect: bool = False
    # Provider reference as the engine writes it: "<provider urn>::<provider id>", or "" for the default.
    provider: str = ""
    delete_before_replace: bool = False
    additional_secret_outputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]
