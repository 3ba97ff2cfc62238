"""User-assigned identities: one per trust boundary, so each role assignment names exactly who needs it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import managedidentity


@dataclass(frozen=True, kw_only=True)
class IdentitiesArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)


class Identity:
    """The three facts of a user-assigned identity that other resources consume."""

    def __init__(self, identity: managedidentity.UserAssignedIdentity) -> None:
        self.resource = identity
        self.id = identity.id
        self.name = identity.name
        self.principal_id = identity.principal_id
        self.client_id = identity.client_id


class Identities(pulumi.ComponentResource):
    """Identities for the AKS control plane, the kubelet, and the CoA workload (pods via workload identity and the
    Batch pools TES creates)."""

    def __init__(self, name: str, args: IdentitiesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:identity:Identities", name, None, opts)

        def create(role: str) -> Identity:
            return Identity(
                managedidentity.UserAssignedIdentity(
                    f"{name}-id-{role}",
                    resource_group_name=args.resource_group_name,
                    location=args.location,
                    tags=dict(args.tags),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )

        self.control_plane = create("aks-control-plane")
        self.kubelet = create("aks-kubelet")
        self.workload = create("coa-workload")
        self.register_outputs(
            {
                "control_plane_id": self.control_plane.id,
                "kubelet_id": self.kubelet.id,
                "workload_id": self.workload.id,
                "workload_client_id": self.workload.client_id,
            }
        )
