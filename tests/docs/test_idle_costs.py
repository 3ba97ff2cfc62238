"""The idle cost estimate reads its quantities and SKUs from the registrations: a change in the stack changes the
line it drives, and a SKU without a price is named instead of guessed."""

from __future__ import annotations

import copy
import dataclasses
from decimal import Decimal

import pytest

from offline.costs import HOURS_PER_MONTH, POSTGRES_COMPUTE, CostError, idle_costs
from offline.harness import ProgramRun
from offline.records import ResourceRecord

SERVER = "azure-native:dbforpostgresql:Server"
POOL = "azure-native:containerservice:AgentPool"


def _changed(run: ProgramRun, token: str, **inputs: object) -> list[ResourceRecord]:
    def change(record: ResourceRecord) -> ResourceRecord:
        if record.type != token:
            return record
        return dataclasses.replace(record, inputs={**copy.deepcopy(record.inputs), **inputs})

    return [change(r) for r in run.resources]


def _line(lines: list, start: str) -> Decimal:
    (found,) = [line for line in lines if line.item.startswith(start)]
    return found.monthly


def test_the_lines_follow_each_stacks_skus_and_counts(dev: ProgramRun, prod: ProgramRun) -> None:
    dev_lines, prod_lines = idle_costs(dev.resources), idle_costs(prod.resources)
    assert _line(dev_lines, "AKS control plane, Free tier") == 0
    assert _line(prod_lines, "AKS control plane, Standard tier") == Decimal("0.10") * HOURS_PER_MONTH
    # Prod's zone-redundant HA standby is billed like the primary.
    assert (
        _line(prod_lines, "PostgreSQL flexible server Standard_D4ds_v5")
        == 2 * POSTGRES_COMPUTE["Standard_D4ds_v5"] * 730
    )
    assert _line(dev_lines, "PostgreSQL flexible server Standard_B2s") == POSTGRES_COMPUTE["Standard_B2s"] * 730
    # Six endpoints of the stack's own, and the one AKS makes for its private API server.
    assert [line.quantity for line in dev_lines if line.item == "Private endpoints"] == [
        "7 (incl. the AKS API server's)"
    ]
    assert not [line for line in prod_lines if line.item.startswith(("NAT gateway", "Public IP"))]
    assert [line.item for line in dev_lines if line.item.startswith(("NAT gateway", "Public IP"))] == [
        "NAT gateway",
        "Public IP (Standard, static)",
    ]


def test_a_larger_user_pool_minimum_costs_proportionally_more(dev: ProgramRun) -> None:
    base = _line(idle_costs(dev.resources), "AKS pool `user`")
    assert _line(idle_costs(_changed(dev, POOL, minCount=3.0)), "AKS pool `user`") == 3 * base


def test_a_sku_without_a_price_is_named(dev: ProgramRun) -> None:
    with pytest.raises(CostError, match="PostgreSQL SKU Standard_E64ds_v5"):
        idle_costs(_changed(dev, SERVER, sku={"name": "Standard_E64ds_v5", "tier": "MemoryOptimized"}))
    with pytest.raises(CostError, match="VM size Standard_Nope_v9"):
        idle_costs(_changed(dev, POOL, vmSize="Standard_Nope_v9"))
