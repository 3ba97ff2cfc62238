"""`make scan`: export, render, run Checkov, judge with the waiver file, write out/scan/.

Usage: python -m scan [--stacks dev prod] [--previews out] [--out out/scan] [--checkov .venv-scan/bin/checkov]
                      [--waivers scan/waivers.yaml] [--update-policy-readme]
Exit 0: every failed finding is waived, no waiver is stale, policy/README.md's scan column is current.
Exit 1: any of those is not so (report.md says which). Exit 2: the scan itself could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scan.arm import ConversionError, load_resources_json, write_template
from scan.chart import ReleaseNotFoundError, write_manifests
from scan.checkov import (
    DEFAULT_CHECKOV,
    SARIF_REPORT,
    CheckovError,
    Finding,
    Framework,
    checkov_version,
    read_findings,
    run_checkov,
)
from scan.policy_readme import PolicyReadmeError, with_scan_column
from scan.report import CoverageError, cross_checks, idle_everywhere, render_report, stack_coverage
from scan.sdk import SdkLookupError
from scan.waivers import Verdict, WaiverFileError, judge, load_waivers

ROOT = Path(__file__).resolve().parents[1]
POLICY_README = ROOT / "policy" / "README.md"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scan", description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--stacks", nargs="+", default=["dev", "prod"])
    parser.add_argument("--previews", type=Path, default=Path("out"), help="where out/<stack>/resources.json are")
    parser.add_argument("--out", type=Path, default=Path("out/scan"))
    parser.add_argument("--checkov", type=Path, default=DEFAULT_CHECKOV)
    parser.add_argument("--waivers", type=Path, default=ROOT / "scan" / "waivers.yaml")
    parser.add_argument(
        "--update-policy-readme", action="store_true", help="rewrite the scan column of policy/README.md"
    )
    return parser.parse_args(argv)


def scan_stack(stack: str, previews: Path, out: Path, checkov: Path) -> list[Finding]:
    """Export and render one stack, run Checkov on both, return every evaluated check."""
    resources = previews / stack / "resources.json"
    if not resources.is_file():
        raise FileNotFoundError(f"{resources} not found: run `make preview STACK={stack}` first")
    document = load_resources_json(resources)
    stack_out = out / stack
    template = stack_out / "arm" / "template.json"
    write_template(resources, template)
    chart_dir = stack_out / "chart"
    write_manifests(document, chart_dir)
    targets: list[tuple[Framework, Path]] = [("arm", template), ("kubernetes", chart_dir)]
    findings: list[Finding] = []
    for framework, target in targets:
        report = run_checkov(checkov, framework, target, stack_out / f"checkov-{framework}", cwd=Path.cwd())
        findings += read_findings(report, stack, framework)
    return findings


def suppress_waived_in_sarif(sarif_path: Path, verdict: Verdict, stack: str, framework: str) -> None:
    """Mark waived results as suppressed (SARIF 2.1.0 `suppressions`), so code scanning shows them as accepted."""
    document: dict[str, Any] = json.loads(sarif_path.read_text(encoding="utf-8"))
    waived = {
        (f.check_id, f.file.lstrip("/"), f.start_line): w
        for f, w in verdict.waived.items()
        if f.stack == stack and f.framework == framework
    }
    for run in document.get("runs", []):
        for result in run.get("results", []):
            location = (result.get("locations") or [{}])[0].get("physicalLocation", {})
            uri = str(location.get("artifactLocation", {}).get("uri", "")).lstrip("/")
            line = int(location.get("region", {}).get("startLine", 0))
            for (check, file, start), waiver in waived.items():
                if check == result.get("ruleId") and start == line and (uri.endswith(file) or file.endswith(uri)):
                    result["suppressions"] = [
                        {"kind": "external", "status": "accepted", "justification": waiver.reason}
                    ]
    sarif_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def policy_anchors() -> dict[str, str]:
    # Imported here: only the report needs the pack, and the pack imports pulumi_policy.
    from policy.coa_policies import all_policies

    return {policy.name: policy.anchor for policy in all_policies()}


# The stacks policy/README.md's 'Cross-checked by `make scan`' column is written from.
README_STACKS = ("dev", "prod")


def check_policy_readme(findings: Iterable[Finding], anchors: dict[str, str], update: bool) -> list[str]:
    text = POLICY_README.read_text(encoding="utf-8")
    expected = with_scan_column(text, cross_checks(anchors, findings))
    if expected == text:
        return []
    if update:
        POLICY_README.write_text(expected, encoding="utf-8")
        print(f"Updated the scan column of {POLICY_README.relative_to(ROOT)}")
        return []
    return [
        f"{POLICY_README.relative_to(ROOT)}: the '{'Cross-checked by `make scan`'}' column does not match this scan; "
        "run `.venv/bin/python -m scan --update-policy-readme` and review the diff"
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        waivers = load_waivers(args.waivers)
        findings: list[Finding] = []
        for stack in args.stacks:
            findings += scan_stack(stack, args.previews, args.out, args.checkov)
        pairs = [(stack, framework) for stack in args.stacks for framework in ("arm", "kubernetes")]
        verdict = judge(findings, waivers, pairs)
        for stack, framework in pairs:
            suppress_waived_in_sarif(
                args.out / stack / f"checkov-{framework}" / SARIF_REPORT, verdict, stack, framework
            )
        anchors = policy_anchors()
        idle = idle_everywhere({stack: stack_coverage(args.previews, stack) for stack in args.stacks}, anchors)
        # The README's scan column describes the checked-in stacks; a scan of other stacks (a user's own, or the
        # CoA 3.2 generation's) does not rewrite or judge it.
        problems = (
            check_policy_readme(findings, anchors, args.update_policy_readme)
            if sorted(args.stacks) == sorted(README_STACKS)
            else []
        )
        version = checkov_version(args.checkov)
    except (
        CheckovError,
        ConversionError,
        CoverageError,
        FileNotFoundError,
        PolicyReadmeError,
        ReleaseNotFoundError,
        SdkLookupError,
        WaiverFileError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = render_report(findings, verdict, pairs, anchors, len(waivers), version, idle)
    if problems:
        report += "\n## Policy README\n\n" + "\n".join(f"- {p}" for p in problems) + "\n"
    (args.out / "report.md").write_text(report, encoding="utf-8")
    print(report)
    for finding in verdict.unwaived:
        print(
            f"FAILED (not waived): {finding.stack} {finding.framework} {finding.check_id} {finding.resource}",
            file=sys.stderr,
        )
    for waiver in verdict.stale:
        print(f"STALE waiver (matches no failed finding): {waiver.label()}", file=sys.stderr)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(f"Wrote {args.out / 'report.md'} and Checkov's SARIF/JSON/CLI reports under {args.out}/<stack>/")
    return 0 if verdict.ok and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
