"""HIPAA-oriented CrossGuard rules for Azure (azure-native v3) and Kubernetes, one module per service.

Rule modules are imported by `all_policies`, not here: the program imports `policy.coa_policies.production` (the
shared production definition) in a runtime that has no pulumi_policy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._core import Rule, StackRule

MODULE_NAMES = (
    "storage",
    "network",
    "aks",
    "batch",
    "cosmos",
    "postgres",
    "keyvault",
    "encryption",
    "registry",
    "monitoring",
    "kubernetes",
    "k8s_exposure",
    "k8s_rbac",
    "identity",
    "stack",
    "network_paths",
    "controls",
    "batch_governance",
)


def all_policies() -> list[Rule | StackRule]:
    modules = [importlib.import_module(f"{__name__}.{name}") for name in MODULE_NAMES]
    return [policy for module in modules for policy in module.POLICIES]
