"""`python -m offline.evidence --stack dev [--out out]`: one evidence pack per stack for a security reviewer.

Writes out/<stack>/evidence.md and out/<stack>/evidence.json (the same content) from what `make preview` and
`make scan` wrote: per HIPAA safeguard (offline/evidence_map.py), the rules that enforce it with how many resources
each judged and the result, the rules that judged nothing, the Checkov checks that cross-check them, the runtime
contract entries involved, and every waiver and guardrail override in force with its reason.

Exit 0 when the pack is written (its verdict is inside it; `make preview` and `make scan` are where failures fail),
2 with one sentence when an input is missing or malformed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from components.contracts import PRINCIPAL_IDENTITY, contracts_for, derive
from offline.evidence_inputs import EvidenceError, Inputs, Paths, load_inputs, sha256
from offline.evidence_map import OUTSIDE, SAFEGUARDS, Safeguard, framework_reference
from offline.evidence_markdown import render
from policy.coa_policies.production import matches
from scan.checkov import Finding
from scan.report import anchored_checks
from scan.waivers import Verdict, Waiver, judge

SCHEMA = "coa-lockdown/evidence/v1"
NOT_PROVEN = (
    "Runtime behaviour: every result here judges the inputs the program registers and the Helm chart it renders "
    "(offline, under Pulumi's mock engine), not what Azure or Kubernetes are doing now; drift, portal changes and "
    "Azure Policy remediation show only in a real `pulumi preview --refresh` (the nightly drift workflow).",
    "What TES creates at run time: TES creates the Batch pools and their nodes through ARM after deploy, out of the "
    "pack's sight. `batch-runtime-pools-governed` holds that enforced Deny assignments on the Batch account exist and, "
    "run through the pack's model of the Azure Policy language, deny each kind of non-compliant pool; that Azure "
    "itself refuses such a pool is confirmed on a subscription (docs/security-review.md, 'Pools TES creates').",
    "Owner-controlled data accounts: storage accounts named in dataStorageAccounts belong to their owners; their "
    "encryption, network rules, diagnostics and retention are outside this stack, which only adds private endpoints "
    "and role grants to them.",
)


def effective_level(rule: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """The rule's level once the policy config is applied (offline/analyzer.py _level)."""
    entry = config.get(rule["name"], config.get("all"))
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping) and isinstance(entry.get("enforcementLevel"), str):
        return str(entry["enforcementLevel"])
    return str(rule.get("enforcement_level", ""))


def _rule_config(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    entry = config.get(name)
    return dict(entry) if isinstance(entry, Mapping) else {}


def pack_waivers(name: str, config: Mapping[str, Any], resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rule's waivers from the policy config, each with the stack's resources its `resources` globs name."""
    waivers = _rule_config(name, config).get("waivers") or []
    entries = []
    for waiver in waivers if isinstance(waivers, list) else [waivers]:
        if not isinstance(waiver, Mapping):
            continue
        globs = [str(g) for g in waiver.get("resources", []) or []]
        named = sorted(
            str(r.get("name", ""))
            for r in resources
            if globs and any(matches(str(v), globs) for v in (r.get("urn", ""), r.get("name", "")) if v)
        )
        selectors = {k: list(v) for k, v in waiver.items() if k not in ("reason", "resources") and isinstance(v, list)}
        reason = waiver.get("reason")
        entries.append(
            {
                "rule": name,
                "reason": " ".join(str(reason).split()) if isinstance(reason, str) else "",
                "resourceGlobs": globs,
                "resources": named if globs else ["(any resource)"],
                "selectors": selectors,
                # The pack ignores a waiver without a reason or without any selector (policy/coa_policies/_findings.py).
                "valid": isinstance(reason, str) and bool(reason.strip()) and bool(globs or selectors),
            }
        )
    return entries


def rule_entry(rule: Mapping[str, Any], inputs: Inputs) -> dict[str, Any]:
    name = str(rule["name"])
    violations = [
        {
            "resource": f"{v.get('resource_type', '')} {v.get('resource_name', '')}".strip() or "(the whole stack)",
            "level": v.get("enforcement_level", ""),
            "message": v.get("message", ""),
        }
        for v in inputs.policy.get("violations", [])
        if v.get("rule") == name
    ]
    evaluated = int(rule["evaluated"])
    if violations:
        result = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
    elif evaluated == 0:
        result = "evaluated nothing"
    else:
        result = "pass"
    settings = {k: v for k, v in _rule_config(name, inputs.policy_config).items() if k != "waivers"}
    return {
        "name": name,
        "description": rule.get("description", ""),
        "level": effective_level(rule, inputs.policy_config),
        "packLevel": rule.get("enforcement_level", ""),
        "severity": rule.get("severity", ""),
        "evaluated": evaluated,
        "result": result,
        "provesNothing": evaluated == 0 and not violations,
        "violations": violations,
        "waivers": pack_waivers(name, inputs.policy_config, inputs.resources),
        "config": settings,
        "checks": sorted(anchored_checks(" ".join(str(t) for t in rule.get("tags", []))), key=_check_order),
    }


def _check_order(check_id: str) -> tuple[str, int]:
    prefix, _, number = check_id.rpartition("_")
    return prefix, int(number) if number.isdigit() else 0


def check_entry(check_id: str, findings: Sequence[Finding], verdict: Verdict, why: str) -> dict[str, Any]:
    mine = [f for f in findings if f.check_id == check_id]
    failed = [f for f in mine if not f.passed]
    waived = [f for f in failed if f in verdict.waived]
    if not mine:
        # Many anchored ids are Terraform-only graph checks, or judge a resource type this stack does not have.
        result = "not evaluated"
    elif len(waived) < len(failed):
        result = f"{len(failed) - len(waived)} failed, not waived"
    elif failed:
        result = f"{len(failed)} failed, all waived"
    else:
        result = "pass"
    return {
        "id": check_id,
        "name": mine[0].check_name if mine else "",
        "passed": sum(f.passed for f in mine),
        "failed": len(failed),
        "waived": len(waived),
        "result": result,
        "why": why,
    }


def checkov_waivers(verdict: Verdict) -> list[dict[str, Any]]:
    """The waivers in scan/waivers.yaml that cover a failed finding of this stack, with what they cover."""
    covered: dict[Waiver, list[str]] = {}
    for finding, waiver in verdict.waived.items():
        covered.setdefault(waiver, []).append(finding.resource)
    return [
        {
            "check": w.check,
            "framework": w.framework,
            "resourceGlob": w.resource,
            "stacks": list(w.stacks),
            "reason": w.reason,
            "fix": w.fix,
            "resources": sorted(set(resources)),
        }
        for w, resources in sorted(covered.items(), key=lambda item: (_check_order(item[0].check), item[0].label()))
    ]


def contract_views(inputs: Inputs) -> dict[str, Any]:
    facts = inputs.facts
    contracts = contracts_for(facts.generation)
    grants = [
        {
            "identity": g.identity,
            "scope": g.scope,
            "role": g.role,
            "level": g.level,
            "neededBy": list(g.needed_by),
            # Grants on data accounts are made only on the accounts the stack names.
            "inThisStack": g.scope != "data-account" or bool(facts.data_accounts),
        }
        for g in derive.grants(contracts, conditions=facts.conditions)
    ]
    workloads = [
        {
            "workload": c.workload,
            "version": c.version,
            "pods": [rule.values() for rule in derive.pod_egress(c, facts.conditions)],
            "batchNodes": [
                {"to": e.to, "port": e.port, "why": e.why}
                for e in c.egress
                if e.principal == "batch-node" and (e.condition is None or e.condition in facts.conditions)
            ],
        }
        for c in contracts
    ]
    allow = [
        {
            "destination": r.destination,
            "port": r.port,
            "consumers": list(r.consumers),
            "required": r.required,
            "why": r.why,
        }
        for r in derive.firewall_allow_list(contracts, conditions=facts.conditions, image_build=facts.image_build)
    ]
    return {
        "grants": grants,
        "egress": {"mode": facts.egress, "workloads": workloads, "firewallAllowList": allow},
        "identity": identity_view(inputs.resources),
    }


def identity_view(resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Workload identity as registered: who acts as which identity, the federated credentials, the cluster's side."""
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for r in resources:
        by_type.setdefault(str(r.get("type", "")), []).append(r)
    credentials = [
        {
            "name": r.get("name", ""),
            "subject": r.get("inputs", {}).get("subject", ""),
            "issuer": r.get("inputs", {}).get("issuer", ""),
            "audiences": list(r.get("inputs", {}).get("audiences", []) or []),
        }
        for r in by_type.get("azure-native:managedidentity:FederatedIdentityCredential", [])
    ]
    clusters = [
        {
            "name": r.get("name", ""),
            "workloadIdentity": bool(r["inputs"].get("securityProfile", {}).get("workloadIdentity", {}).get("enabled")),
            "oidcIssuer": bool(r["inputs"].get("oidcIssuerProfile", {}).get("enabled")),
            "localAccountsDisabled": bool(r["inputs"].get("disableLocalAccounts")),
            "entraIdWithAzureRbac": bool(r["inputs"].get("aadProfile", {}).get("enableAzureRBAC")),
        }
        for r in by_type.get("azure-native:containerservice:ManagedCluster", [])
    ]
    return {
        "principals": dict(PRINCIPAL_IDENTITY),
        "identities": sorted(
            str(r.get("name", "")) for r in by_type.get("azure-native:managedidentity:UserAssignedIdentity", [])
        ),
        "federatedCredentials": credentials,
        "clusters": clusters,
    }


def safeguard_entry(
    safeguard: Safeguard, rules: Sequence[dict[str, Any]], inputs: Inputs, verdict: Verdict, views: Mapping[str, Any]
) -> dict[str, Any]:
    chosen = [
        {**r, "why": safeguard.rules.get(r["name"], "")}
        for r in rules
        if (safeguard.from_pack and r["safeguard"] == safeguard.reference) or r["name"] in safeguard.rules
    ]
    anchored: dict[str, list[str]] = {}
    for r in chosen:
        for check in r["checks"]:
            anchored.setdefault(check, []).append(r["name"])
    why = {c: f"anchor of {', '.join(names)}" for c, names in anchored.items()} | dict(safeguard.checks)
    checks = [check_entry(c, inputs.findings, verdict, why[c]) for c in sorted(why, key=_check_order)]
    all_waivers = checkov_waivers(verdict)
    overrides = [
        {"name": name, "reason": reason, "weakens": safeguard.overrides[name]}
        for name, reason in sorted(inputs.facts.guardrail_overrides.items())
        if name in safeguard.overrides
    ]
    return {
        "reference": safeguard.reference,
        "citation": safeguard.citation,
        "title": safeguard.title,
        "rulesChosenBy": "the pack's framework metadata" if safeguard.from_pack else "offline/evidence_map.py",
        "rules": [r for r in chosen if not r["provesNothing"]],
        "rulesProvingNothing": [r for r in chosen if r["provesNothing"]],
        "checks": checks,
        "contracts": {view: views[view] for view in safeguard.contracts},
        "packWaivers": [w for r in chosen for w in r["waivers"]],
        "checkovWaivers": [w for w in all_waivers if w["check"] in why],
        "guardrailOverrides": overrides,
    }


def reduced_assurance(inputs: Inputs) -> dict[str, Any]:
    """The CoA 3.2 generation (taskDatabase cosmosdb): each weakening it needs, why, and who accepted it (a production
    override's reason, or nobody yet in a non-production stack, which then warns in every preview)."""
    facts = inputs.facts
    if facts.generation == "tes6":
        return {}
    from configuration.tes32 import WEAKENINGS

    return {
        "reducedAssurance": {
            "generation": facts.generation,
            "weakenings": [
                {
                    "name": name,
                    "why": why,
                    "acceptedBy": facts.guardrail_overrides.get(name)
                    or ("not accepted: warned in every preview" if name in facts.weakenings else ""),
                }
                for name, why in WEAKENINGS.items()
            ],
        }
    }


def build(inputs: Inputs) -> dict[str, Any]:
    """The evidence document (evidence.json); evidence.md renders exactly this."""
    stack_pairs = [(inputs.stack, framework) for framework in ("arm", "kubernetes")]
    verdict = judge(list(inputs.findings), inputs.waivers, stack_pairs)
    rules = [
        {**rule_entry(r, inputs), "safeguard": framework_reference(str(r.get("framework", "")))}
        for r in inputs.policy["rules"]
    ]
    views = contract_views(inputs)
    safeguards = [safeguard_entry(s, rules, inputs, verdict, views) for s in SAFEGUARDS]
    shown_checks = {c["id"] for s in safeguards for c in s["checks"]}
    mapped_overrides = {name for s in SAFEGUARDS for name in s.overrides}
    frameworks = {
        framework: {
            "passed": sum(f.passed for f in inputs.findings if f.framework == framework),
            "failed": sum(not f.passed for f in inputs.findings if f.framework == framework),
            "waived": sum(f.framework == framework for f in verdict.waived),
        }
        for _, framework in stack_pairs
    }
    unwaived = [
        {"check": f.check_id, "framework": f.framework, "resource": f.resource, "name": f.check_name}
        for f in verdict.unwaived
    ]
    counts = dict(inputs.policy.get("counts", {}))
    pack_passed = bool(inputs.policy.get("passed"))
    waivers_in_force = checkov_waivers(verdict)
    return {
        "schema": SCHEMA,
        "stack": inputs.stack,
        "verdict": "PASSED" if pack_passed and not unwaived else "FAILED",
        "pack": {
            "name": inputs.policy.get("policyPack", ""),
            "version": inputs.pack_version,
            "passed": pack_passed,
            "rules": len(rules),
            "rulesEvaluating": sum(r["evaluated"] > 0 for r in rules),
            "rulesProvingNothing": sorted(r["name"] for r in rules if r["provesNothing"]),
            "violations": counts,
        },
        "checkov": {
            "version": inputs.checkov_version,
            "passed": not unwaived,
            "frameworks": frameworks,
            "failedNotWaived": unwaived,
            "waiversInForce": len(waivers_in_force),
        },
        "packWaivers": [w for r in rules for w in r["waivers"]],
        "guardrailOverrides": dict(sorted(inputs.facts.guardrail_overrides.items())),
        **reduced_assurance(inputs),
        "retirements": [dict(row) for row in inputs.facts.retirements],
        "notProven": list(NOT_PROVEN),
        "dataAccounts": list(inputs.facts.data_accounts),
        "safeguards": safeguards,
        "outside": {
            "checkovWaivers": [
                {**w, "why": OUTSIDE.get(w["check"], "not mapped to a safeguard in offline/evidence_map.py")}
                for w in waivers_in_force
                if w["check"] not in shown_checks
            ],
            "guardrailOverrides": [
                {"name": n, "reason": r}
                for n, r in sorted(inputs.facts.guardrail_overrides.items())
                if n not in mapped_overrides
            ],
        },
        "inputs": [{"path": shown_path(p), "sha256": sha256(p)} for p in inputs.files],
    }


def shown_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it (how make and CI name the files)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def write(document: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    md, js = directory / "evidence.md", directory / "evidence.json"
    md.write_text(render(document), encoding="utf-8")
    js.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return md, js


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.evidence", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: reads out/<stack>/ and out/scan/<stack>/")
    parser.add_argument("--out", type=Path, default=Path("out"), help="where make preview and make scan wrote")
    parser.add_argument("--program", type=Path, default=Paths(stack="").program, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    paths = Paths(stack=args.stack, out=args.out, program=args.program)
    try:
        document = build(load_inputs(paths))
    except EvidenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    md, js = write(document, paths.preview)
    print(f"{document['verdict']}: wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
