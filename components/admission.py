"""Admission control for the workload's images: the cluster admits a pod in the workload namespace only if every
container image comes from the stack's private registry, and, where the stack requires digests, only by digest.

The chart and the policy pack check the images the stack renders; this holds at the API server for anything else
(`kubectl run`, a hand-edited Deployment). It is the built-in Azure Policy "Kubernetes cluster containers should only
use allowed images" (Azure/azure-policy@f4a50ba:built-in-policies/policyDefinitions/Kubernetes/ContainerAllowedImages.json,
version 9.3.0), enforced by the cluster's Azure Policy add-on (Gatekeeper), which picks up a new assignment within
about 15 minutes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

ALLOWED_IMAGES_DEFINITION = "/providers/Microsoft.Authorization/policyDefinitions/febd0533-8e55-448f-b837-bd0e06f16469"
# OCI repository path and tag grammar; the digest is what pins the content.
_REPOSITORY = r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"


def allowed_images_regex(login_server: str, *, require_digest: bool) -> str:
    """RE2 pattern (Gatekeeper's regex engine) an admitted image must match in full."""
    registry = re.escape(login_server)
    if require_digest:
        return rf"^{registry}/{_REPOSITORY}(:{_TAG})?@sha256:[a-f0-9]{{64}}$"
    return rf"^{registry}/{_REPOSITORY}(:{_TAG})?(@sha256:[a-f0-9]{{64}})?$"


@dataclass(frozen=True, kw_only=True)
class AdmissionArgs:
    cluster_id: pulumi.Input[str]
    registry_login_server: pulumi.Input[str]
    namespaces: Sequence[str]
    require_digest: bool


class ImageAdmission(pulumi.ComponentResource):
    """Deny, at admission, workload pods whose images are not the private registry's (by digest where required)."""

    def __init__(self, name: str, args: AdmissionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("coa:security:ImageAdmission", name, None, opts)
        regex = pulumi.Output.from_input(args.registry_login_server).apply(
            lambda server: allowed_images_regex(server, require_digest=args.require_digest)
        )
        self.assignment = authorization.PolicyAssignment(
            f"{name}-allowed-images",
            scope=args.cluster_id,
            policy_assignment_name="coa-allowed-images",
            display_name="Cromwell on Azure pods run only images from the private registry"
            + (", by digest" if args.require_digest else ""),
            policy_definition_id=ALLOWED_IMAGES_DEFINITION,
            enforcement_mode=authorization.EnforcementMode.DEFAULT,
            parameters={
                "effect": authorization.ParameterValuesValueArgs(value="Deny"),
                "namespaces": authorization.ParameterValuesValueArgs(value=list(args.namespaces)),
                "allowedContainerImagesRegex": authorization.ParameterValuesValueArgs(value=regex),
            },
            non_compliance_messages=[
                authorization.NonComplianceMessageArgs(
                    message="Images must come from the stack's private registry"
                    + (" and be pinned by sha256 digest (images.lock.json)." if args.require_digest else ".")
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"assignment_id": self.assignment.id})
