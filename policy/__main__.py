"""Entry point the Pulumi CLI runs (`python -m pulumi.policy <engine> .` in this directory)."""

from coa_policies import all_policies
from pulumi_policy import EnforcementLevel, Policy, PolicyPack

PolicyPack(
    name="coa-hipaa",
    description="HIPAA (45 CFR 164.312) technical safeguards for Azure and Kubernetes resources.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list[Policy](all_policies()),
)
