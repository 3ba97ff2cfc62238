"""How a stack keeps its data: `protect` in Pulumi's state (a `pulumi destroy` or a config edit that would delete or
replace the resource fails instead) and Azure `CanNotDelete` locks (deleting the resource, or the resource group
holding it, fails in Azure whatever tool tries).

Locks go on the data-bearing resources themselves, never on the resource group: a group lock is inherited by every
resource in it, and TES deletes Batch pools through ARM (components/contracts/tes_6_0_0.py), which a lock would block.
A lock on a resource also covers its children's ARM deletes (blob containers, secrets, databases), not data-plane
writes. Creating locks needs Microsoft.Authorization/locks/* on the deploying identity (docs/deploying.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization


@dataclass(frozen=True, kw_only=True)
class Protection:
    """The stack's choice, passed to every component that owns data."""

    protect: bool = False
    # CanNotDelete locks on the stateful resources; on in production.
    locks: bool = False

    def options(
        self, parent: pulumi.Resource, depends_on: list[pulumi.Resource] | None = None
    ) -> pulumi.ResourceOptions:
        """Options for a data-bearing resource."""
        return pulumi.ResourceOptions(parent=parent, protect=self.protect, depends_on=depends_on)

    def lock(self, name: str, resource: pulumi.CustomResource, parent: pulumi.Resource, what: str) -> None:
        """A CanNotDelete lock on `resource` when the stack asks for locks."""
        if not self.locks:
            return
        authorization.ManagementLockByScope(
            f"{name}-lock",
            scope=resource.id,
            level=authorization.LockLevel.CAN_NOT_DELETE,
            lock_name="coa-lockdown-do-not-delete",
            notes=f"{what}: holds workflow or audit data. Remove it only on purpose (docs/deploying.md, teardown).",
            opts=pulumi.ResourceOptions(parent=parent, protect=self.protect),
        )
