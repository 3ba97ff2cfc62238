"""The article's "private links to storage accounts outside the virtual network": existing accounts that hold
sequencer output (e.g. TSO500 run folders) get a blob private endpoint in our endpoint subnet and least-privilege
grants for the workload identity, so Cromwell and TES 6 read (or write) them as /<account>/<container>/... paths.

TES 6 resolves such a path by listing storage accounts through ARM and signing a user-delegation SAS
(components/contracts/tes_6_0_0.py): the identity needs read of the account's ARM resource, the delegation key action
at account level, and blob data access on each container, nothing more. We never change the account itself: its
own network rules and keys stay as its owner set them, and the policy pack checks the endpoints and grants we add.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.access import assign
from components.identity import Identity
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec
from components.settings import DataStorageAccount


@dataclass(frozen=True, kw_only=True)
class DataStorageLinksArgs:
    accounts: Sequence[DataStorageAccount]
    workload: Identity
    private_endpoint: PrivateEndpointSpec


def container_scope(account: DataStorageAccount, container: str) -> str:
    return f"{account.id}/blobServices/default/containers/{container}"


class DataStorageLinks(pulumi.ComponentResource):
    """Per existing account: a blob private endpoint (unless the hub already has one) and the workload identity's
    grants: Reader and Storage Blob Delegator on the account, Storage Blob Data Reader or Contributor per container."""

    def __init__(self, name: str, args: DataStorageLinksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:storage:DataStorageLinks", name, None, opts)
        self.workload_needs: list[pulumi.Resource] = []
        for account in args.accounts:
            key = f"{name}-{account.name}"
            if account.private_endpoint == "create":
                # The account owner approves the connection unless our deploy identity may approve it
                # (privateEndpointConnectionsApproval/action on the account); Azure leaves it Pending otherwise.
                self.workload_needs.append(
                    PrivateEndpoint(
                        key,
                        PrivateEndpointArgs(
                            spec=args.private_endpoint, target_resource_id=account.id, group_id="blob", zone_key="blob"
                        ),
                        opts=pulumi.ResourceOptions(parent=self),
                    )
                )
            # Built-in role definitions are addressed under the account's own subscription.
            grants = [
                ("read", "Reader", account.id, "TES/TriggerService 6 locate the account through ARM"),
                ("delegate", "Storage Blob Delegator", account.id, "TES 6 signs user-delegation SAS for task inputs"),
            ]
            for container in account.containers:
                role = (
                    "Storage Blob Data Contributor" if container.access == "readWrite" else "Storage Blob Data Reader"
                )
                grants.append(
                    (
                        f"{container.name}",
                        role,
                        container_scope(account, container.name),
                        f"workflows {container.access} {container.name}",
                    )
                )
            for suffix, role, scope, reason in grants:
                self.workload_needs.append(
                    assign(
                        f"{key}-{suffix}",
                        role=role,
                        scope=scope,
                        principal_id=args.workload.principal_id,
                        subscription_id=account.subscription_id,
                        reason=f"CoA workload: {reason} ({account.name})",
                        parent=self,
                    )
                )
        self.register_outputs({"accounts": [a.name for a in args.accounts]})
