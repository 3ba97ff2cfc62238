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
from components.contracts.derive import Grant, data_container_roles
from components.identity import Identity
from components.private_endpoint import PrivateEndpoint, PrivateEndpointArgs, PrivateEndpointSpec
from configuration.settings import DataStorageAccount

# Logical names of the account-level assignments as first deployed.
ACCOUNT_GRANT_SUFFIX = {"Reader": "read", "Storage Blob Delegator": "delegate"}


@dataclass(frozen=True, kw_only=True)
class DataStorageLinksArgs:
    accounts: Sequence[DataStorageAccount]
    workload: Identity
    private_endpoint: PrivateEndpointSpec
    # The contracts' grants (components/contracts/derive.py); the data-account ones apply to each account.
    grants: Sequence[Grant]
    # Named in manual private endpoint requests, so the owner knows who asks.
    requester: str = "coa-lockdown"


@dataclass(frozen=True, kw_only=True)
class OwnerGrant:
    """A role the workload identity needs on a data account, at a scope."""

    role: str
    scope: str
    reason: str


def container_scope(account: DataStorageAccount, container: str) -> str:
    return f"{account.id}/blobServices/default/containers/{container}"


class DataStorageLinks(pulumi.ComponentResource):
    """Per existing account: a blob private endpoint (unless the hub already has one) and the workload identity's
    grants: Reader and Storage Blob Delegator on the account, Storage Blob Data Reader or Contributor per container."""

    def __init__(self, name: str, args: DataStorageLinksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:storage:DataStorageLinks", name, None, opts)
        self.workload_needs: list[pulumi.Resource] = []
        # Every grant the workload identity needs per account, whoever creates it.
        self.grants: dict[str, list[OwnerGrant]] = {}
        # The endpoints this stack created, by account name (the operator's preflight checks they are approved).
        self.endpoints: dict[str, PrivateEndpoint] = {}
        self._accounts = tuple(args.accounts)
        for account in args.accounts:
            key = f"{name}-{account.name}"
            if account.private_endpoint == "create":
                # Azure approves the connection at once only when the deploy identity holds
                # privateEndpointConnectionsApproval/action on the account; otherwise the stack file says the owner
                # approves, the request is manual, and it stays Pending (scripts/preflight.sh reports it) until then.
                self.endpoints[account.name] = PrivateEndpoint(
                    key,
                    PrivateEndpointArgs(
                        spec=args.private_endpoint,
                        target_resource_id=account.id,
                        group_id="blob",
                        zone_key="blob",
                        approval=account.endpoint_approval,
                        request_message=f"{args.requester}: Cromwell on Azure reads {account.name} privately"
                        if account.endpoint_approval == "owner"
                        else "",
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
                self.workload_needs.append(self.endpoints[account.name])
            # What the runtime contracts need on a data account: ARM read and the delegation key on the account, the
            # blob data operations per container (reads only on a read container). Built-in role definitions are
            # addressed under the account's own subscription.
            grants = [
                (
                    ACCOUNT_GRANT_SUFFIX.get(g.role, g.role.lower().replace(" ", "-")),
                    g.role,
                    account.id,
                    "; ".join(g.needed_by),
                )
                for g in args.grants
                if g.scope == "data-account" and g.level == "resource"
            ]
            for container in account.containers:
                for role in data_container_roles(container.access):
                    grants.append(
                        (
                            container.name
                            if len(data_container_roles(container.access)) == 1
                            else f"{container.name}-{role.lower().replace(' ', '-')}",
                            role,
                            container_scope(account, container.name),
                            f"workflows {container.access} {container.name}",
                        )
                    )
            self.grants[account.name] = [
                OwnerGrant(role=role, scope=scope, reason=reason) for _, role, scope, reason in grants
            ]
            if account.role_assignments == "owner":
                # The owner grants them (listed in the stack output dataAccountGrants); nothing is written here.
                continue
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

    def owner_steps(self, principal_id: pulumi.Input[str]) -> pulumi.Output[list[dict[str, object]]]:
        """What each account's owner does by hand: approve our endpoint, create the grants (az commands)."""
        accounts = self._accounts

        def steps(principal: str) -> list[dict[str, object]]:
            out: list[dict[str, object]] = []
            for account in accounts:
                commands: list[str] = []
                if account.private_endpoint == "create" and account.endpoint_approval == "owner":
                    commands += [
                        f"az network private-endpoint-connection list --id {account.id} --query "
                        "\"[?properties.privateLinkServiceConnectionState.status=='Pending'].id\" --output tsv",
                        "az network private-endpoint-connection approve --id <each id listed above> "
                        '--description "Cromwell on Azure (coa-lockdown)"',
                    ]
                if account.role_assignments == "owner":
                    commands += [
                        f"az role assignment create --assignee-object-id {principal} --assignee-principal-type "
                        f'ServicePrincipal --role "{grant.role}" --scope {grant.scope}'
                        for grant in self.grants[account.name]
                    ]
                out.append(
                    {
                        "account": account.name,
                        "allowBlobPublicAccess": False,
                        "endpointApproval": account.endpoint_approval
                        if account.private_endpoint == "create"
                        else "existing",
                        "roleAssignments": account.role_assignments,
                        "ownerCommands": commands,
                    }
                )
            return out

        return pulumi.Output.from_input(principal_id).apply(steps)
