"""HIPAA-oriented CrossGuard rules for Azure (azure-native v3) and Kubernetes, one module per service."""

from __future__ import annotations

from . import (
    aks,
    batch,
    cosmos,
    keyvault,
    kubernetes,
    monitoring,
    network,
    postgres,
    registry,
    stack,
    storage,
)
from ._core import Rule, StackRule

MODULES = (storage, network, aks, batch, cosmos, postgres, keyvault, registry, monitoring, kubernetes, stack)


def all_policies() -> list[Rule | StackRule]:
    return [policy for module in MODULES for policy in module.POLICIES]
