"""User-assigned identities: one per trust boundary, so each role assignment names exactly who needs it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import managedidentity

from components.placement import Placement


@dataclass(frozen=True, kw_only=True)
class IdentitiesArgs:
    placement: Placement


class Identity:
    """The facts of a user-assigned identity that other resources consume, and the group it lives in (its federated
    credentials are child resources there)."""

    def __init__(self, identity: managedidentity.UserAssignedIdentity, resource_group_name: pulumi.Input[str]) -> None:
        self.resource = identity
        self.resource_group_name = resource_group_name
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
                    resource_group_name=args.placement.resource_group_name,
                    location=args.placement.location,
                    tags=dict(args.placement.tags),
                    opts=pulumi.ResourceOptions(parent=self),
                ),
                args.placement.resource_group_name,
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
