"""Azure Policy definitions for the Batch pools TES creates at run time, as data the component deploys and tests read.

TES 6.0.0 creates every pool through Azure Resource Manager (a PUT of Microsoft.Batch/batchAccounts/pools:
microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/Management/Batch/ArmBatchPoolManager.cs:50), after `pulumi up` and out of the
policy pack's sight, so Azure Policy is what can refuse a pool at request time. No built-in definition covers these
pool properties (Azure/azure-policy built-in-policies/policyDefinitions/Batch: only disk encryption targets pools), so
they are custom definitions.

Mode `All`: pools carry no tags or location, and `Indexed` evaluates only types that support both; there is no Batch
resource-provider mode (MicrosoftDocs/azure-docs@0983c17:articles/governance/policy/concepts/definition-structure-basics.md,
"Resource Manager modes" and "Resource Provider modes"). Aliases are Azure's, listed by Get-AzPolicyAlias
(maciejporebski/azure-policy-aliases@00be0a1:aliases/Microsoft.Batch/batchAccounts-pools.md, line per alias below).

Every condition that tests a property also denies its absence: an absent property is the service default, and for
public IPs that default is BatchManaged (learn.microsoft.com, Batch PublicIPAddressConfiguration.provision: "The default
value is BatchManaged"), for the subnet it is no virtual network at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

POOL_TYPE = "Microsoft.Batch/batchAccounts/pools"

# alias -> default path in the ARM body; the number is the alias's line in the Get-AzPolicyAlias listing above.
ALIAS_LINES = {
    "networkConfiguration.publicIPAddressConfiguration.provision": 193,
    "networkConfiguration.subnetId": 61,
    "deploymentConfiguration.virtualMachineConfiguration.nodeAgentSkuId": 25,
    "targetNodeCommunicationMode": 224,
}
ALIASES: Mapping[str, str] = {f"{POOL_TYPE}/{rest}": f"properties.{rest}" for rest in ALIAS_LINES}
PROVISION, SUBNET, NODE_AGENT, COMMUNICATION = ALIASES

# Audit or Disabled let an operator stage a change; Deny is what the stacks assign.
EFFECTS = ("Audit", "Deny", "Disabled")
EFFECT_PARAMETER = {
    "type": "String",
    "metadata": {"displayName": "Effect", "description": "Deny refuses the pool; Audit only reports it."},
    "allowedValues": list(EFFECTS),
    "defaultValue": "Deny",
}


def _absent_or(field: str, condition: Mapping[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"field": field, "exists": "false"}, {"field": field, **condition}]}


@dataclass(frozen=True, kw_only=True)
class PoolPolicy:
    """One custom definition: `condition` is what makes a pool non-compliant."""

    key: str
    display_name: str
    description: str
    condition: Mapping[str, Any]
    message: str
    source: str
    parameters: Mapping[str, Mapping[str, Any]]

    @property
    def policy_rule(self) -> dict[str, Any]:
        return {
            "if": {"allOf": [{"field": "type", "equals": POOL_TYPE}, dict(self.condition)]},
            "then": {"effect": "[parameters('effect')]"},
        }

    @property
    def all_parameters(self) -> dict[str, Any]:
        return {"effect": EFFECT_PARAMETER, **self.parameters}

    def definition(self) -> dict[str, Any]:
        """The definition's properties as Azure stores them (what the evaluator and the component both read)."""
        return {"mode": "All", "parameters": self.all_parameters, "policyRule": self.policy_rule}


NO_PUBLIC_IP = PoolPolicy(
    key="batch-pool-no-public-ip",
    display_name="Batch pools must not give nodes public IP addresses",
    description="Denies pools whose networkConfiguration.publicIPAddressConfiguration.provision is not "
    "NoPublicIPAddresses, including pools that leave it unset (Batch then provisions BatchManaged public IPs).",
    condition=_absent_or(PROVISION, {"notEquals": "NoPublicIPAddresses"}),
    message="Batch pool nodes must have no public IP: set publicIPAddressConfiguration.provision NoPublicIPAddresses.",
    # TES sets it from BatchNodes:DisablePublicIpAddress, only together with a subnet.
    source="microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1333-1339",
    parameters={},
)
IN_BATCH_SUBNET = PoolPolicy(
    key="batch-pool-in-batch-subnet",
    display_name="Batch pools must join the stack's Batch subnet",
    description="Denies pools without networkConfiguration.subnetId or in any subnet but the allowed ones: outside "
    "it nodes escape the subnet's deny-all-inbound NSG, the egress route and the private endpoints' DNS.",
    condition=_absent_or(SUBNET, {"notIn": "[parameters('allowedSubnetIds')]"}),
    message="Batch pools must use the stack's Batch subnet (BatchNodes:SubnetId).",
    source="microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1333-1339",
    parameters={
        "allowedSubnetIds": {
            "type": "Array",
            "metadata": {"displayName": "Allowed subnet ids", "description": "ARM ids of the subnets pools may join."},
        }
    },
)
SUPPORTED_NODE_AGENT = PoolPolicy(
    key="batch-pool-supported-node-agent",
    display_name="Batch pools must use a node agent Azure Batch still supports",
    description="Denies pools whose node agent Azure Batch has retired (forced scale-in, no fixes), and pools "
    "without a virtual machine configuration at all (cloud service configuration pools are retired).",
    condition=_absent_or(NODE_AGENT, {"in": "[parameters('retiredNodeAgentSkuIds')]"}),
    message="Batch pools must use a supported node agent (retirement.yaml lists the retired ones and their dates).",
    source="retirement.yaml (kind batch-node-agent); microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1302-1310",
    parameters={
        "retiredNodeAgentSkuIds": {
            "type": "Array",
            "metadata": {
                "displayName": "Retired node agents",
                "description": "nodeAgentSkuId values past their Azure Batch end of support.",
            },
        }
    },
)
SIMPLIFIED_COMMUNICATION = PoolPolicy(
    key="batch-pool-simplified-communication",
    display_name="Batch pools must use simplified node communication",
    description="Denies pools whose targetNodeCommunicationMode is not Simplified (Classic, Default or unset): "
    "classic communication needs inbound management ports on the nodes and outbound Storage access.",
    condition=_absent_or(COMMUNICATION, {"notEquals": "Simplified"}),
    message="Batch pools must set targetNodeCommunicationMode Simplified.",
    source="microsoft/ga4gh-tes@6.0.0:src/TesApi.Web/BatchScheduler.cs:1328",
    parameters={},
)
POOL_POLICIES: tuple[PoolPolicy, ...] = (NO_PUBLIC_IP, IN_BATCH_SUBNET, SUPPORTED_NODE_AGENT, SIMPLIFIED_COMMUNICATION)

# Built-in "Azure Batch pools should have disk encryption enabled" (version 1.0.0, mode All): non-compliant when
# diskEncryptionConfiguration.targets lacks TemporaryDisk (Azure/azure-policy@0ab9883:built-in-policies/
# policyDefinitions/Batch/Batch_DiskEncryption_Audit.json). TES 6.0.0 sets OsDisk and TemporaryDisk only for sizes its
# list marks EncryptionAtHostSupported (BatchScheduler.cs:1312-1315); every entry of the default families
# (standardDDSv5Family, standardDDv5Family, standardEDSv5Family) is marked so in
# src/TesApi.Web/BatchSupportedVmSizeInformation_AZURECLOUD.json, but a stack may allow others, so the stacks audit.
DISK_ENCRYPTION_DEFINITION = "/providers/Microsoft.Authorization/policyDefinitions/1760f9d4-7206-436e-a28f-d9f3a5c8a227"


def assignment_parameters(
    policy: PoolPolicy, *, effect: str, subnet_ids: Sequence[Any], retired_node_agents: Sequence[str]
) -> dict[str, Any]:
    """The parameter values an assignment of `policy` gets (subnet ids may be Outputs)."""
    if effect not in EFFECTS:
        raise ValueError(f"effect={effect!r}: use one of {', '.join(EFFECTS)}")
    values: dict[str, Any] = {"effect": effect}
    if "allowedSubnetIds" in policy.parameters:
        values["allowedSubnetIds"] = list(subnet_ids)
    if "retiredNodeAgentSkuIds" in policy.parameters:
        values["retiredNodeAgentSkuIds"] = sorted(retired_node_agents)
    return values
