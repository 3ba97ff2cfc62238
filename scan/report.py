"""out/scan/report.md: counts per stack and framework, what is waived and why, and what only our pack proves.

A rule of the pack proves something about these stacks only if it judged at least one of their resources: the
offline preview's policy.json records, per rule, how many it judged (`coverage.evaluated`). Rules that judged none
in every scanned stack are listed apart and credited with nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scan.checkov import Finding
from scan.waivers import Verdict

CHECK_IDS = re.compile(r"CKV2?_[A-Z0-9]+_\d+")


@dataclass(frozen=True)
class Counts:
    passed: int
    failed: int
    waived: int

    @property
    def unwaived(self) -> int:
        return self.failed - self.waived


def counts(findings: Iterable[Finding], verdict: Verdict, stack: str, framework: str) -> Counts:
    mine = [f for f in findings if f.stack == stack and f.framework == framework]
    return Counts(
        passed=sum(f.passed for f in mine),
        failed=sum(not f.passed for f in mine),
        waived=sum(f in verdict.waived for f in mine),
    )


def anchored_checks(anchor: str) -> set[str]:
    """Checkov ids a policy rule's anchor names ("CKV_AZURE_59, CKV_AZURE_35; Azure Policy: ...")."""
    return set(CHECK_IDS.findall(anchor))


def cross_checks(anchors: Mapping[str, str], findings: Iterable[Finding]) -> dict[str, list[str]]:
    """Rule -> the anchored Checkov checks that evaluated at least one resource in this scan."""
    ran = {finding.check_id for finding in findings}
    return {rule: sorted(anchored_checks(anchor) & ran, key=_check_order) for rule, anchor in anchors.items()}


class CoverageError(ValueError):
    """A stack's policy.json is missing or records no per-rule coverage."""


def stack_coverage(previews: Path, stack: str) -> dict[str, int]:
    """Rule -> resources it judged in `stack`, from <previews>/<stack>/policy.json."""
    path = previews / stack / "policy.json"
    if not path.is_file():
        raise CoverageError(f"{path} not found: run `make preview STACK={stack}` first")
    document = json.loads(path.read_text(encoding="utf-8"))
    evaluated = document.get("coverage", {}).get("evaluated") if isinstance(document, dict) else None
    if not isinstance(evaluated, dict):
        raise CoverageError(f"{path}: no coverage.evaluated; rerun the preview with this version of offline/")
    return {str(rule): int(count) for rule, count in evaluated.items()}


def idle_everywhere(coverage: Mapping[str, Mapping[str, int]], rules: Iterable[str]) -> list[str]:
    """Rules that judged no resource in any of the stacks (a rule absent from a stack's counts judged none)."""
    return sorted(r for r in rules if all(counts.get(r, 0) == 0 for counts in coverage.values()))


def _check_order(check_id: str) -> tuple[str, int]:
    prefix, _, number = check_id.rpartition("_")
    return prefix, int(number)


def _table(findings: Sequence[Finding], verdict: Verdict, pairs: Sequence[tuple[str, str]]) -> list[str]:
    lines = ["| Stack | Framework | Passed | Failed | Waived | Not waived |", "|---|---|---|---|---|---|"]
    for stack, framework in pairs:
        c = counts(findings, verdict, stack, framework)
        lines.append(f"| {stack} | {framework} | {c.passed} | {c.failed} | {c.waived} | {c.unwaived} |")
    return lines


def render_report(
    findings: Sequence[Finding],
    verdict: Verdict,
    pairs: Sequence[tuple[str, str]],
    anchors: Mapping[str, str],
    waiver_count: int,
    version: str,
    idle: Sequence[str] = (),
) -> str:
    lines = [
        "# Checkov scan",
        "",
        f"Checkov {version} on the ARM template exported from each stack's registered azure-native",
    ]
    lines += ["resources and on the Helm chart rendered with the values each stack passes to its Release.", ""]
    lines += _table(findings, verdict, pairs)
    lines += ["", f"Waivers in scan/waivers.yaml: {waiver_count}.", ""]
    status = "PASSED" if verdict.ok else "FAILED"
    lines += [f"Result: **{status}**", ""]
    if verdict.unwaived:
        lines += ["## Failed and not waived", ""]
        lines += [f"- {f.stack} {f.framework} `{f.check_id}` {f.resource}: {f.check_name}" for f in verdict.unwaived]
        lines.append("")
    if verdict.stale:
        lines += ["## Stale waivers (match no failed finding)", ""]
        lines += [f"- {w.label()}" for w in verdict.stale]
        lines.append("")
    lines += ["## Waived findings", ""]
    by_waiver: dict[str, list[Finding]] = {}
    reasons: dict[str, tuple[str, str | None]] = {}
    for finding, waiver in verdict.waived.items():
        by_waiver.setdefault(waiver.label(), []).append(finding)
        reasons[waiver.label()] = (waiver.reason, waiver.fix)
    for label in sorted(by_waiver):
        reason, fix = reasons[label]
        where = ", ".join(sorted({f"{f.stack}: {f.resource}" for f in by_waiver[label]}))
        lines += [f"- **{label}** ({where})", f"  - reason: {reason}"]
        if fix:
            lines.append(f"  - fix wanted: {fix}")
    lines.append("")
    crossed = cross_checks(anchors, findings)
    idle_set = set(idle)
    judged = [rule for rule in anchors if rule not in idle_set]
    alone = sorted(rule for rule in judged if not crossed.get(rule))
    stacks = ", ".join(dict.fromkeys(stack for stack, _ in pairs))
    lines += ["## Policy rules and Checkov", ""]
    lines += [
        f"{len(judged)} of the pack's {len(anchors)} rules judged at least one resource of {stacks} in the offline",
        f"preview (policy.json coverage); {len(idle)} judged none and prove nothing about these stacks (listed last).",
        f"Of the {len(judged)}, {len(judged) - len(alone)} were cross-checked by a Checkov check that ran in this scan",
        "(the rule's anchor names it and it evaluated a resource). The other",
        f"{len(alone)} have no counterpart among the checks that ran: only the policy pack proves them.",
        "",
    ]
    lines += [f"- `{rule}`" for rule in alone]
    lines += ["", "### Rules that judged no resource in any scanned stack", ""]
    lines += [f"- `{rule}`" for rule in idle] or ["(none)"]
    lines.append("")
    return "\n".join(lines)
