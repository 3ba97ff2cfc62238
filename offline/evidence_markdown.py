"""evidence.md: the evidence document (offline/evidence.py build) for a reader, summary first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def cell(value: Any) -> str:
    """A value as one Markdown table cell."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    lines += [f"| {' | '.join(cell(v) for v in row)} |" for row in rows]
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _rule_result(rule: Mapping[str, Any]) -> str:
    valid = [w for w in rule["waivers"] if w["valid"]]
    return f"{rule['result']}; {_plural(len(valid), 'waiver')} in force" if valid else rule["result"]


def summary(doc: Mapping[str, Any]) -> list[str]:
    pack, checkov = doc["pack"], doc["checkov"]
    v = pack["violations"]
    idle = len(pack["rulesProvingNothing"])
    verdict = (
        "the policy pack found no mandatory violation and every failed Checkov finding is waived with a reason"
        if doc["verdict"] == "PASSED"
        else f"{v.get('mandatory', 0)} mandatory violations, {len(checkov['failedNotWaived'])} failed Checkov "
        "findings not waived"
    )
    scans = "; ".join(
        f"{fw} {c['passed']} passed, {c['failed']} failed ({c['waived']} waived)"
        for fw, c in checkov["frameworks"].items()
    )
    overrides = ", ".join(f"`{n}`" for n in doc["guardrailOverrides"]) or "none"
    lines = [f"# Evidence pack: stack `{doc['stack']}`", "", f"**{doc['verdict']}**: {verdict}.", ""]
    lines += _table(
        ["", ""],
        [
            ["Stack", doc["stack"]],
            ["Policy pack", f"{pack['name']} {pack['version']}".strip()],
            [
                "Rules",
                f"{pack['rules']}: {pack['rulesEvaluating']} judged at least one resource, {idle} judged none "
                "(they prove nothing for this stack)",
            ],
            ["Violations", ", ".join(f"{n} {level}" for level, n in v.items()) or "none"],
            [f"Checkov {checkov['version']}".strip(), scans],
            [
                "Waivers in force",
                f"{len([w for w in doc['packWaivers'] if w['valid']])} in the policy config, "
                f"{checkov['waiversInForce']} in scan/waivers.yaml",
            ],
            ["Guardrail overrides", overrides],
            ["Retirements carried", _retirements_line(doc["retirements"])],
        ],
    )
    lines.append("")
    if doc["retirements"]:
        lines += [
            "**Past or near their support end** (`make retirement`; an accepted row names its reason and review day):",
            "",
            *_table(
                ["Kind", "Value", "Ends", "Status", "What, and why it is carried"],
                [[r["kind"], f"`{r['value']}`", r["ends"] or "", r["status"], r["what"]] for r in doc["retirements"]],
            ),
            "",
        ]
    reduced = doc.get("reducedAssurance")
    if reduced:
        lines += [
            f"**Reduced assurance**: this stack runs the `{reduced['generation']}` generation (taskDatabase cosmosdb), "
            "which needs these weakenings (docs/workflows.md compares the generations):",
            "",
            *_table(
                ["Weakening", "Why the generation needs it", "Accepted by"],
                [[f"`{w['name']}`", w["why"], w["acceptedBy"]] for w in reduced["weakenings"]],
            ),
            "",
        ]
    rows = [
        [
            f"[{s['reference']} {s['title']}](#{anchor(s)})",
            len(s["rules"]),
            len(s["rulesProvingNothing"]),
            sum(len(r["violations"]) for r in s["rules"]),
            sum(c["result"] != "not evaluated" for c in s["checks"]),
            sum(c["failed"] - c["waived"] for c in s["checks"]),
            len(s["packWaivers"]) + len(s["checkovWaivers"]) + len(s["guardrailOverrides"]),
        ]
        for s in doc["safeguards"]
    ]
    header = [
        "Safeguard",
        "Rules judging",
        "Rules proving nothing",
        "Violations",
        "Checkov checks run",
        "Checkov failed, not waived",
        "Waivers, overrides",
    ]
    lines += _table(header, rows)
    lines += ["", "**What this evidence does not prove**", ""]
    lines += [f"- {item}" for item in doc["notProven"]]
    if doc["dataAccounts"]:
        lines.append(f"- This stack's data accounts: {', '.join(f'`{a}`' for a in doc['dataAccounts'])}.")
    return lines


def _retirements_line(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "none"
    accepted = sum(r["status"] == "accepted" for r in rows)
    return f"{len(rows)} past or near their end, {accepted} accepted (table below)"


def anchor(safeguard: Mapping[str, Any]) -> str:
    """GitHub's heading anchor for the safeguard's section."""
    text = f"{safeguard['reference']} {safeguard['title']}".lower()
    return "".join(ch for ch in text if ch.isalnum() or ch in " -_").replace(" ", "-")


def _contracts(contracts: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    if "grants" in contracts:
        lines += ["Role grants derived from the runtime contracts (components/contracts/derive.py):", ""]
        rows = [
            [
                g["identity"],
                g["scope"] + ("" if g["inThisStack"] else " (no data account in this stack)"),
                g["role"],
                g["level"],
                ", ".join(g["neededBy"]),
            ]
            for g in contracts["grants"]
        ]
        lines += [*_table(["Identity", "Scope", "Role", "Granted on", "Needed by"], rows), ""]
    if "egress" in contracts:
        egress = contracts["egress"]
        lines += [f"Egress derived from the runtime contracts; this stack leaves through `{egress['mode']}`:", ""]
        rows = [
            [w["workload"], w["version"], "pod (NetworkPolicy)", f"{e['to']}:{e['port']}/{e['protocol']}"]
            for w in egress["workloads"]
            for e in w["pods"]
        ]
        rows += [
            [w["workload"], w["version"], "Batch node", f"{e['to']}:{e['port']} ({e['why']})"]
            for w in egress["workloads"]
            for e in w["batchNodes"]
        ]
        lines += _table(["Workload", "Version", "From", "To"], rows)
        lines += ["", "DNS (kube-dns:53) is allowed namespace-wide. Hub firewall allow-list:", ""]
        rows = [
            [a["destination"], a["port"], ", ".join(a["consumers"]), "yes" if a["required"] else "optional", a["why"]]
            for a in egress["firewallAllowList"]
        ]
        lines += [*_table(["Destination", "Port", "Needed by", "Required", "Why"], rows), ""]
    if "identity" in contracts:
        identity = contracts["identity"]
        who = ", ".join(f"{p} acts as the {i} identity" for p, i in identity["principals"].items())
        lines += [f"Workload identity: {who}. User-assigned identities: {', '.join(identity['identities'])}.", ""]
        for c in identity["clusters"]:
            flags = ", ".join(f"{k} {'yes' if c[k] else 'NO'}" for k in c if k != "name")
            lines.append(f"- cluster `{c['name']}`: {flags}")
        for f in identity["federatedCredentials"]:
            lines.append(f"- federated credential `{f['name']}`: subject `{f['subject']}`, audiences {f['audiences']}")
        lines.append("")
    return lines


def _waivers(s: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for w in s["packWaivers"]:
        selectors = "; ".join(f"{k}: {', '.join(v)}" for k, v in w["selectors"].items())
        ignored = "" if w["valid"] else " IGNORED BY THE PACK (no reason or no selector)"
        where = ", ".join(w["resources"]) or f"no resource of this stack matches {w['resourceGlobs']}"
        lines.append(f"- Pack waiver on `{w['rule']}`{ignored} for {where}{f' ({selectors})' if selectors else ''}:")
        lines.append(f"  {w['reason']}")
    for w in s["checkovWaivers"]:
        lines.append(f"- Checkov waiver {checkov_waiver_line(w)}")
    for o in s["guardrailOverrides"]:
        lines.append(f"- Guardrail override `{o['name']}` (weakens: {o['weakens']}): {o['reason']}")
    return lines or ["None."]


def checkov_waiver_line(w: Mapping[str, Any]) -> str:
    scope = f" [{', '.join(w['stacks'])}]" if w["stacks"] else ""
    text = f"`{w['check']}` ({w['framework']}) `{w['resourceGlob']}`{scope} for {', '.join(w['resources'])}:\n"
    text += f"  {w['reason']}"
    return text + (f"\n  Fix wanted: {w['fix']}" if w["fix"] else "")


def section(s: Mapping[str, Any]) -> list[str]:
    lines = [f"## {s['reference']} {s['title']}", "", f"{s['citation']}; rules chosen by {s['rulesChosenBy']}.", ""]
    table = s["rulesChosenBy"] != "the pack's framework metadata"
    header = ["Rule", "Level", "Evaluated", "Result", *(["Why here"] if table else [])]
    rows = [
        [f"`{r['name']}`", r["level"], r["evaluated"], _rule_result(r), *([r["why"]] if table else [])]
        for r in s["rules"]
    ]
    lines += [*_table(header, rows), ""] if rows else ["No rule judged any resource of this stack.", ""]
    violations = [(r["name"], v) for r in s["rules"] for v in r["violations"]]
    if violations:
        lines += ["Violations:", ""]
        lines += [f"- `{name}` on {v['resource']} ({v['level']}): {v['message']}" for name, v in violations]
        lines.append("")
    if s["rulesProvingNothing"]:
        lines += ["Rules that evaluated nothing in this stack (they prove nothing for it):", ""]
        for r in s["rulesProvingNothing"]:
            why = f" Here because: {r['why']}." if r["why"] else ""
            lines.append(f"- `{r['name']}` ({r['level']}): {r['description']}{why}")
        lines.append("")
    ran = [c for c in s["checks"] if c["result"] != "not evaluated"]
    if ran:
        lines += ["Independent Checkov checks on this stack:", ""]
        rows = [[c["id"], c["name"], c["passed"], c["failed"], c["waived"], c["result"], c["why"]] for c in ran]
        lines += [*_table(["Check", "Name", "Passed", "Failed", "Waived", "Result", "Why here"], rows), ""]
    else:
        lines += ["No Checkov check evaluated anything for this safeguard in this stack.", ""]
    idle = [c["id"] for c in s["checks"] if c["result"] == "not evaluated"]
    if idle:
        lines += [
            f"Anchored checks Checkov did not evaluate on this stack (they agree with nothing): {', '.join(idle)}.",
            "",
        ]
    lines += _contracts(s["contracts"])
    lines += ["Waivers and guardrail overrides in force:", "", *_waivers(s), ""]
    return lines


def render(doc: Mapping[str, Any]) -> str:
    lines = summary(doc)
    lines.append("")
    for s in doc["safeguards"]:
        lines += section(s)
    outside = doc["outside"]
    lines += ["## Waivers and overrides outside the claimed safeguards", ""]
    for w in outside["checkovWaivers"]:
        lines.append(f"- Checkov waiver {checkov_waiver_line(w)}\n  Outside because: {w['why']}")
    for o in outside["guardrailOverrides"]:
        lines.append(f"- Guardrail override `{o['name']}`: {o['reason']}")
    if not outside["checkovWaivers"] and not outside["guardrailOverrides"]:
        lines.append("None.")
    lines += ["", "## Inputs", ""]
    lines += _table(["File", "SHA-256"], [[f"`{i['path']}`", f"`{i['sha256']}`"] for i in doc["inputs"]])
    return "\n".join(lines) + "\n"
