"""Stack rules at scale: the same verdicts as the pairwise definitions, and work that grows linearly with the stack.

The reference functions below are the rules as first written, comparing every resource with every other one
through `refers_to`; the pack's rules index the stack once instead. Work is counted as attribute reads of the
stack's resources, which any comparison of two resources needs, so the test does not depend on timing.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from offline.bench import synthetic_stack
from offline.harness import run_program
from offline.records import ResourceRecord
from policy.coa_policies import stack
from policy.coa_policies._core import (
    MISSING,
    StackResource,
    StackRule,
    get,
    items,
    matches_any,
    to_plain,
)
from policy.coa_policies._production import production_of

REPO = Path(__file__).resolve().parents[2]
RULES = {p.name: p for p in stack.POLICIES}
Check = Callable[[Sequence[StackResource], Mapping[str, Any]], Iterable[tuple[str, str]]]


# -- the pairwise definitions ---------------------------------------------------------------------------------
def _pairwise_private_endpoints(
    resources: Sequence[StackResource], cfg: Mapping[str, Any]
) -> Iterable[tuple[str, str]]:
    endpoints = stack._of(resources, stack.PRIVATE_ENDPOINT)
    groups = stack._of(resources, stack.ZONE_GROUP)
    for target in stack._of(resources, *stack.PRIVATE_LINK_TARGETS):
        mine = [
            pe
            for pe in endpoints
            if stack.refers_to(
                pe,
                target,
                "privateLinkServiceConnections",
                [
                    get(c, "privateLinkServiceId")
                    for c in items(get(pe.props, "privateLinkServiceConnections"))
                    + items(get(pe.props, "manualPrivateLinkServiceConnections"))
                ],
            )
        ]
        if not mine:
            yield f"{stack._label(target)} has no private endpoint.", target.urn
            continue
        if cfg["dnsZoneGroupsManagedByPolicy"]:
            continue
        for pe in mine:
            pe_name = get(pe.props, "privateEndpointName")
            if not any(
                g.parent == pe.urn
                or stack.refers_to(g, pe, "privateEndpointName")
                or (isinstance(pe_name, str) and get(g.props, "privateEndpointName") == pe_name)
                for g in groups
            ):
                yield f"private endpoint {pe.name!r} of {stack._label(target)} has no private DNS zone group.", pe.urn


def _pairwise_diagnostics(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    settings = [d for d in stack._of(resources, *stack.DIAGNOSTICS) if get(d.props, "workspaceId") is not MISSING]
    for target in stack._of(resources, *stack.AUDITED):
        if not any(stack.refers_to(d, target, "resourceUri", [get(d.props, "resourceUri")]) for d in settings):
            yield f"{stack._label(target)} sends no diagnostics to a Log Analytics workspace.", target.urn


def _pairwise_protected(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for r in stack._of(resources, *stack.STATEFUL):
        why = production_of(cfg, r.urn, r.props)
        if why and not r.protect:
            yield f"{stack._label(r)} is not protected; production ({why}).", r.urn


def _pairwise_public_ips(resources: Sequence[StackResource], cfg: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    gateways = stack._of(resources, stack.NAT_GATEWAY)
    for ip in stack._of(resources, stack.PUBLIC_IP):
        names = [ip.name, get(ip.props, "publicIpAddressName")]
        if any(isinstance(n, str) and matches_any(n, cfg["allowedPublicIpNames"]) for n in names):
            continue
        if not any(
            stack.refers_to(
                g, ip, "publicIpAddresses", [get(ref, "id") for ref in items(get(g.props, "publicIpAddresses"))]
            )
            for g in gateways
        ):
            yield f"public IP {ip.name!r} is not attached to a NAT gateway (egress).", ip.urn


PAIRWISE: dict[str, Check] = {
    "paas-private-endpoint-with-dns": _pairwise_private_endpoints,
    "diagnostics-to-log-analytics": _pairwise_diagnostics,
    "stateful-resources-protected-in-production": _pairwise_protected,
    "public-ip-only-for-nat-gateway": _pairwise_public_ips,
}
CONFIGS: list[dict[str, Any]] = [
    {},
    {"dnsZoneGroupsManagedByPolicy": True},
    {"productionStacks": ["dev"]},
    {"allowedPublicIpNames": ["*-allowed-*"]},
]


def _reference(name: str, resources: Sequence[StackResource], config: Mapping[str, Any]) -> list[tuple[str, str]]:
    rule = RULES[name]
    return list(PAIRWISE[name](resources, {**{k: v["default"] for k, v in rule.defaults.items()}, **config}))


# -- stacks ---------------------------------------------------------------------------------------------------
def _as_pack_sees_it(r: ResourceRecord) -> StackResource:
    """What StackRule._validate builds from the AnalyzeStack request the analyzer sends for a record."""
    return StackResource(
        type=r.type,
        urn=r.urn,
        name=r.name,
        props=to_plain(r.outputs or r.inputs),
        protect=r.protect,
        parent=r.parent,
        dependencies=frozenset(r.dependencies),
        property_dependencies={k: frozenset(v) for k, v in r.property_dependencies.items() if v},
    )


@pytest.fixture(scope="module")
def prod() -> list[ResourceRecord]:
    return run_program(REPO, "prod").resources


def _copy(k: int, stack_name: str = "prod") -> list[StackResource]:
    """One copy of a small stack with every way the rules link resources, and one violation of each rule."""
    rg = f"/subscriptions/s/resourceGroups/rg{k}/providers"

    def r(t: str, name: str, props: dict[str, Any] | None = None, **kw: Any) -> StackResource:
        deps = {p: frozenset(v) for p, v in kw.pop("deps", {}).items()}
        return StackResource(
            type=t,
            urn=f"urn:pulumi:{stack_name}::coa::{t}::{name}-{k}",
            name=f"{name}-{k}",
            props=props or {},
            dependencies=frozenset().union(*deps.values()) if deps else frozenset(),
            property_dependencies=deps,
            **kw,
        )

    st = r(stack.STORAGE, "st", {"id": f"{rg}/Microsoft.Storage/storageAccounts/st{k}"}, protect=True)
    kv = r(stack.VAULT, "kv", {"id": f"{rg}/Microsoft.KeyVault/vaults/kv{k}"})  # unprotected
    acr = r(stack.REGISTRY, "acr", {"id": f"{rg}/Microsoft.ContainerRegistry/registries/acr{k}"}, protect=True)
    batch = r(stack.BATCH, "ba", {"id": f"{rg}/Microsoft.Batch/batchAccounts/ba{k}"})  # no endpoint at all
    pe_st = r(
        stack.PRIVATE_ENDPOINT,
        "pep-st",
        {"privateEndpointName": f"pep-st-{k}"},
        deps={"privateLinkServiceConnections": [st.urn]},
    )
    pe_kv = r(
        stack.PRIVATE_ENDPOINT,
        "pep-kv",
        {"manualPrivateLinkServiceConnections": [{"privateLinkServiceId": kv.props["id"].upper()}]},
    )
    pe_acr = r(
        stack.PRIVATE_ENDPOINT,
        "pep-acr",
        {"privateEndpointName": f"pep-acr-{k}"},
        deps={"privateLinkServiceConnections": [acr.urn]},
    )
    return [
        st,
        kv,
        acr,
        batch,
        pe_st,
        pe_kv,
        pe_acr,  # its zone group is missing
        r(stack.ZONE_GROUP, "zg-st", {"privateEndpointName": f"pep-st-{k}"}),
        r(stack.ZONE_GROUP, "zg-kv", parent=pe_kv.urn),
        r(
            stack.DIAGNOSTICS[0],
            "diag-st",
            {"workspaceId": "w", "resourceUri": f"{st.props['id']}/blobServices/default"},
        ),
        r(stack.DIAGNOSTICS[1], "diag-kv", {"workspaceId": "w"}, deps={"resourceUri": [kv.urn]}),
        r(stack.DIAGNOSTICS[0], "diag-ba", {"resourceUri": batch.props["id"]}),  # no workspace: does not count
        r(stack.PUBLIC_IP, "pip-nat", {"id": f"{rg}/Microsoft.Network/publicIPAddresses/pip{k}"}),
        r(stack.PUBLIC_IP, "pip-loose"),
        r(stack.PUBLIC_IP, "pip-allowed"),
        r(
            stack.NAT_GATEWAY,
            "nat",
            {"publicIpAddresses": [{"id": f"{rg}/Microsoft.Network/publicIPAddresses/pip{k}"}]},
        ),
        r(stack.WORKSPACE, "log", protect=True),
        r("azure-native:network:VirtualNetwork", "vnet"),
    ]


def _synthetic(copies: int) -> list[StackResource]:
    return [resource for k in range(copies) for resource in _copy(k)]


def _mutations(resources: list[StackResource], seed: int) -> list[StackResource]:
    """Drop a fifth of the resources and some edges: every rule's way of finding a violation gets exercised."""
    rng = random.Random(seed)
    kept = [r for r in resources if rng.random() > 0.2]
    out = []
    for r in kept:
        if rng.random() < 0.3:
            r = dataclasses.replace(r, dependencies=frozenset(), property_dependencies={}, parent="")
        out.append(r)
    return out


# -- verdicts -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PAIRWISE))
def test_indexed_rules_give_the_pairwise_verdicts(name: str, prod: list[ResourceRecord]) -> None:
    rule = RULES[name]
    real = [_as_pack_sees_it(r) for r in prod]
    stacks = {
        "prod": real,
        "prod x3": [_as_pack_sees_it(r) for r in synthetic_stack(prod, 3)],
        "synthetic": _synthetic(3),
        **{f"prod mutated {seed}": _mutations(real, seed) for seed in range(5)},
        **{f"synthetic mutated {seed}": _mutations(_synthetic(3), seed) for seed in range(5)},
    }
    reported = 0
    for label, resources in stacks.items():
        for config in CONFIGS:
            found = rule.evaluate(resources, config)
            assert found == _reference(name, resources, config), (label, config)
            reported += len(found)
    assert reported  # the comparison covered violations, not only clean stacks


def test_the_synthetic_copy_violates_each_rule_once() -> None:
    found = {name: rule.evaluate(_copy(0)) for name, rule in RULES.items()}
    assert [urn.rsplit("::", 1)[-1] for _, urn in found["paas-private-endpoint-with-dns"]] == ["pep-acr-0", "ba-0"]
    # The copy gives the registry and the Batch account no diagnostic setting (registries are audited since T82-T83).
    assert [urn.rsplit("::", 1)[-1] for _, urn in found["diagnostics-to-log-analytics"]] == ["acr-0", "ba-0"]
    assert [urn.rsplit("::", 1)[-1] for _, urn in found["stateful-resources-protected-in-production"]] == ["kv-0"]
    loose = RULES["public-ip-only-for-nat-gateway"].evaluate(_copy(0), {"allowedPublicIpNames": ["*-allowed-*"]})
    assert [urn.rsplit("::", 1)[-1] for _, urn in loose] == ["pip-loose-0"]


# -- work per resource ----------------------------------------------------------------------------------------
class _Counted(StackResource):
    """A StackResource that counts every attribute read (fields, properties), whoever reads it."""

    reads = 0

    def __getattribute__(self, name: str) -> Any:
        _Counted.reads += 1
        return super().__getattribute__(name)


def _counted(resources: Sequence[StackResource]) -> list[StackResource]:
    return [_Counted(**{f.name: getattr(r, f.name) for f in dataclasses.fields(r)}) for r in resources]


def _reads_per_resource(check: Check, resources: list[StackResource], config: Mapping[str, Any]) -> float:
    _Counted.reads = 0
    for _ in check(resources, config):
        pass
    return _Counted.reads / len(resources)


@pytest.mark.parametrize("name", sorted(PAIRWISE))
def test_stack_rules_do_linear_work(name: str) -> None:
    rule = RULES[name]
    config = {k: v["default"] for k, v in rule.defaults.items()}
    small, large = _counted(_synthetic(5)), _counted(_synthetic(50))
    growth = _reads_per_resource(rule.check, large, config) / _reads_per_resource(rule.check, small, config)
    # Linear work reads each resource a fixed number of times (growth 1.0); pairwise work grows with the copies.
    assert growth < 1.5, f"{name}: reads per resource grew {growth:.1f}x from 5 to 50 copies"


def test_the_work_count_tells_pairwise_rules_apart() -> None:
    """The measure itself: the pairwise definitions of the rules that compare resources grow ~10x."""
    small, large = _counted(_synthetic(5)), _counted(_synthetic(50))
    for name in ("paas-private-endpoint-with-dns", "diagnostics-to-log-analytics", "public-ip-only-for-nat-gateway"):
        config = {k: v["default"] for k, v in RULES[name].defaults.items()}
        check = PAIRWISE[name]
        growth = _reads_per_resource(check, large, config) / _reads_per_resource(check, small, config)
        assert growth > 5, (name, growth)
    assert all(isinstance(rule, StackRule) for rule in RULES.values())
