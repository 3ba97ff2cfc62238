"""Azure Policy on the Batch account: what TES creates at run time is refused at Azure Resource Manager when it breaks
the stack's guarantees (components/batch_pool_policies.py has the definitions and their sources).

Definitions live in the subscription (a definition's location must be a management group or subscription:
MicrosoftDocs/azure-docs@0983c17:articles/governance/policy/concepts/definition-structure-basics.md, "Definition
location"), named per stack so two stacks in one subscription never share, and so never delete, each other's.
Assignments are on the Batch account: "Assignments at a scope apply to all resources at that scope and below" (same
article), which covers every pool in it and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization

from components.batch_pool_policies import (
    DISK_ENCRYPTION_DEFINITION,
    EFFECTS,
    POOL_POLICIES,
    PoolPolicy,
    assignment_parameters,
)

# Definition names: at most 64 characters (Microsoft.Authorization/policyDefinitions naming rules).
DEFINITION_NAME_LIMIT = 64


@dataclass(frozen=True, kw_only=True)
class BatchGovernanceArgs:
    batch_account_id: pulumi.Input[str]
    # Subnets pools may join: the stack's Batch subnet (BatchNodes:SubnetId).
    batch_subnet_ids: Sequence[pulumi.Input[str]]
    # Node agents past their Azure Batch end of support on the day of `pulumi up` (retirement_calendar.retired).
    retired_node_agents: Sequence[str]
    # Makes the subscription-level definition names unique per stack, e.g. "coa-prod".
    name_prefix: str
    effect: str = "Deny"
    # Per definition key, an effect other than `effect`: the CoA 3.2 generation's TES never sets the node communication
    # mode, so a deny on batch-pool-simplified-communication would refuse every pool it creates (docs/workflows.md).
    effect_overrides: Mapping[str, str] = field(default_factory=dict)
    # The built-in disk-encryption definition audits by default: TES encrypts only sizes that support encryption at host.
    disk_encryption_effect: str = "Audit"
    metadata: Mapping[str, str] = field(default_factory=dict)


def _check(args: BatchGovernanceArgs) -> None:
    """Refuse arguments Azure would reject, or that would deny every pool, before anything is registered."""
    effects = {
        "effect": args.effect,
        "disk_encryption_effect": args.disk_encryption_effect,
        **{f"effect_overrides[{k!r}]": v for k, v in args.effect_overrides.items()},
    }
    for key, value in effects.items():
        if value not in EFFECTS:
            raise ValueError(f"{key}={value!r}: use one of {', '.join(EFFECTS)}")
    unknown = set(args.effect_overrides) - {policy.key for policy in POOL_POLICIES}
    if unknown:
        raise ValueError(f"effect_overrides names no pool policy: {sorted(unknown)}")
    if not args.batch_subnet_ids:
        raise ValueError("batch_subnet_ids is empty: every pool would be denied; give the Batch subnet id")
    longest = max((f"{args.name_prefix}-{policy.key}" for policy in POOL_POLICIES), key=len)
    if len(longest) > DEFINITION_NAME_LIMIT:
        raise ValueError(
            f"name_prefix={args.name_prefix!r} makes {longest!r} longer than {DEFINITION_NAME_LIMIT} characters; "
            "shorten the prefix"
        )


class BatchGovernance(pulumi.ComponentResource):
    """Custom Azure Policy definitions for Batch pools, assigned on the Batch account with the given effect (Deny in the
    stacks): no public IPs, only the allowed subnets, no retired node agent, simplified node communication; and the
    built-in disk-encryption definition, audited."""

    def __init__(self, name: str, args: BatchGovernanceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _check(args)
        super().__init__("coa:security:BatchGovernance", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.definitions: dict[str, authorization.PolicyDefinition] = {}
        self.assignments: dict[str, authorization.PolicyAssignment] = {}
        for policy in POOL_POLICIES:
            definition = self._definition(name, policy, args, child)
            self.definitions[policy.key] = definition
            self.assignments[policy.key] = authorization.PolicyAssignment(
                f"{name}-{policy.key}",
                scope=args.batch_account_id,
                policy_assignment_name=policy.key,
                display_name=policy.display_name,
                description=policy.description,
                policy_definition_id=definition.id,
                enforcement_mode=authorization.EnforcementMode.DEFAULT,
                parameters={
                    key: authorization.ParameterValuesValueArgs(value=value)
                    for key, value in assignment_parameters(
                        policy,
                        effect=args.effect_overrides.get(policy.key, args.effect),
                        subnet_ids=args.batch_subnet_ids,
                        retired_node_agents=args.retired_node_agents,
                    ).items()
                },
                non_compliance_messages=[authorization.NonComplianceMessageArgs(message=policy.message)],
                opts=child,
            )
        self.assignments["batch-pool-disk-encryption"] = authorization.PolicyAssignment(
            f"{name}-batch-pool-disk-encryption",
            scope=args.batch_account_id,
            policy_assignment_name="batch-pool-disk-encryption",
            display_name="Batch pools should encrypt the OS and temporary disks",
            policy_definition_id=DISK_ENCRYPTION_DEFINITION,
            enforcement_mode=authorization.EnforcementMode.DEFAULT,
            parameters={"effect": authorization.ParameterValuesValueArgs(value=args.disk_encryption_effect)},
            non_compliance_messages=[
                authorization.NonComplianceMessageArgs(
                    message="Batch pool disks must be encrypted (diskEncryptionConfiguration targets TemporaryDisk)."
                )
            ],
            opts=child,
        )
        self.register_outputs(
            {
                "definition_ids": {key: d.id for key, d in self.definitions.items()},
                "assignment_ids": {key: a.id for key, a in self.assignments.items()},
            }
        )

    @staticmethod
    def _definition(
        name: str, policy: PoolPolicy, args: BatchGovernanceArgs, opts: pulumi.ResourceOptions
    ) -> authorization.PolicyDefinition:
        definition_name = f"{args.name_prefix}-{policy.key}"
        body = policy.definition()
        return authorization.PolicyDefinition(
            f"{name}-{policy.key}-def",
            policy_definition_name=definition_name,
            display_name=f"{policy.display_name} ({args.name_prefix})",
            description=policy.description,
            mode=body["mode"],
            policy_type=authorization.PolicyType.CUSTOM,
            parameters={
                key: authorization.ParameterDefinitionsValueArgs(
                    type=spec["type"],
                    allowed_values=spec.get("allowedValues"),
                    default_value=spec.get("defaultValue"),
                    metadata=authorization.ParameterDefinitionsValueMetadataArgs(
                        display_name=spec["metadata"]["displayName"], description=spec["metadata"]["description"]
                    ),
                )
                for key, spec in body["parameters"].items()
            },
            policy_rule=body["policyRule"],
            metadata={"category": "Batch", "version": "1.0.0", "source": policy.source, **args.metadata},
            opts=opts,
        )
