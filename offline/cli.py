"""`python -m offline preview|diagram|bench`: the offline twin of `pulumi preview --policy-pack`.

Exit codes: 0 no mandatory violation, 1 at least one mandatory violation, 2 a usage, config, program or
policy pack error (one line on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

import yaml

from offline import diagram, report, tree
from offline.common import REPO_ROOT, CliError, default_policy_config, load_policy_config, one_line

__all__ = ["REPO_ROOT", "CliError", "PreviewOptions", "build_parser", "load_policy_config", "main", "preview"]

OUT_FILES = ("resources.json", "policy.json", "policy.sarif", "architecture.md")


@dataclass(frozen=True, kw_only=True)
class PreviewOptions:
    stack: str
    program: Path = REPO_ROOT
    out: Path | None = None
    format: str = "text"
    policy_pack: Path = REPO_ROOT / "policy"
    # None: the stack's own, <policy_pack>/config/<stack>.json, when there is one (as the workflows pass it).
    policy_config: Path | None = None

    @property
    def out_dir(self) -> Path:
        return self.out if self.out is not None else Path("out") / self.stack

    @property
    def policy_config_path(self) -> Path | None:
        return self.policy_config or default_policy_config(self.policy_pack, self.stack)


def _default_runner(program: Path, stack: str) -> Any:
    from offline.harness import run_program

    return run_program(program, stack)


def _default_analyzer(pack: Path, config: Mapping[str, Any] | None) -> Any:
    from offline.analyzer import PolicyPackAnalyzer

    return PolicyPackAnalyzer(pack, config)


def _user_errors() -> tuple[type[BaseException], ...]:
    """The harness' and analyzer's own error types, each of which already names the file, key or pack."""
    from offline.analyzer import PolicyPackError
    from offline.harness import ProgramError, StackConfigError

    return (StackConfigError, ProgramError, PolicyPackError)


def run_program_checked(program: Path, stack: str, runner: Callable[[Path, str], Any], quiet: bool) -> Any:
    if not program.is_dir():
        raise CliError(f"--program {program}: no such directory")
    # With --format json, stdout carries only the report: whatever the program prints goes to stderr.
    with contextlib.redirect_stdout(sys.stderr) if quiet else contextlib.nullcontext():
        return runner(program, stack)


class _PackStarter:
    """Starts the policy pack on a worker thread while the program runs: the pack's own Python process
    imports pulumi_policy and the rules on the second core, which takes it off the wall time."""

    def __init__(self, factory: Callable[..., Any], pack_dir: Path, config: Mapping[str, Any] | None) -> None:
        self._manager = factory(pack_dir, config)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-pack-start")
        self._started = self._pool.submit(self._manager.__enter__)

    def analyzer(self) -> Any:
        return self._started.result()

    def close(self) -> None:
        started = wait([self._started]).done and self._started.exception() is None
        self._pool.shutdown()
        if started:
            self._manager.__exit__(None, None, None)


def embed_diagram(readme: Path, stack: str, source: str) -> None:
    """Replace what stands between `<!-- architecture:<stack>:start -->` and `...:end -->` with a Mermaid block."""
    start, end = f"<!-- architecture:{stack}:start -->", f"<!-- architecture:{stack}:end -->"
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise CliError(f"--readme {readme}: no {start} ... {end} markers to write between")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n```mermaid\n{source}\n```\n{end}{tail}", encoding="utf-8")


def _pack_version(pack_dir: Path) -> str:
    """`version` from PulumiPolicy.yaml (the pack started, so the file is there); "" when absent."""
    try:
        document = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    return str(document.get("version") or "") if isinstance(document, dict) else ""


def _run_with_pack(
    options: PreviewOptions, program: Path, runner: Callable[[Path, str], Any], factory: Callable[..., Any]
) -> tuple[Any, str, list[Any], list[Any], dict[str, int]]:
    """The program's run and the pack's verdict on it; a program error wins over a pack error, as in the CLI."""
    pack_dir = options.policy_pack.resolve()
    if not pack_dir.is_dir():
        raise CliError(f"--policy-pack {options.policy_pack}: no such directory")
    config = load_policy_config(options.policy_config_path)
    if not program.is_dir():
        raise CliError(f"--program {options.program}: no such directory")
    starter = _PackStarter(factory, pack_dir, config)
    try:
        run = run_program_checked(program, options.stack, runner, quiet=options.format == "json")
        analyzer = starter.analyzer()
        pack, policies = analyzer.info()
        violations = analyzer.analyze(list(run.resources))
        evaluated = dict(getattr(analyzer, "evaluated", None) or {})
    finally:
        starter.close()
    return run, str(pack), list(policies), list(violations), evaluated


def preview(
    options: PreviewOptions,
    *,
    stdout: TextIO | None = None,
    runner: Callable[[Path, str], Any] = _default_runner,
    analyzer_factory: Callable[..., Any] = _default_analyzer,
) -> int:
    """Run the program and the pack, print the result, write the out files; return 0 or 1."""
    out_stream: TextIO = stdout or sys.stdout
    program = options.program.resolve()
    run, pack, policies, violations, evaluated = _run_with_pack(options, program, runner, analyzer_factory)
    records = list(run.resources)

    rules = report.with_coverage([report.Rule.of(p) for p in policies], evaluated)
    findings = report.findings_of(violations, records)
    root = tree.build_tree(records, run.project, run.stack)
    summary = tree.summarize(root)
    locator = report.SourceLocator(program, run.stack, base=Path.cwd())
    policy_doc = report.policy_document(pack, rules, findings)

    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    documents: dict[str, str] = {
        "resources.json": report.resources_json(run.project, run.stack, records),
        "policy.json": json.dumps(policy_doc, indent=2),
        "policy.sarif": json.dumps(
            report.sarif_document(pack, _pack_version(options.policy_pack), rules, findings, locator), indent=2
        ),
        "architecture.md": diagram.architecture_markdown(records, run.project, run.stack),
    }
    for name, text in documents.items():
        (out / name).write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
    files = {name: str(out / name) for name in OUT_FILES}

    if options.format == "json":
        document = {
            "project": run.project,
            "stack": run.stack,
            "program": str(program),
            "policyConfig": str(options.policy_config_path) if options.policy_config_path else None,
            "summary": {
                "total": summary.total,
                "byType": dict(summary.by_type),
                "byComponent": [vars(c) for c in summary.by_component],
            },
            "outputs": run.outputs,
            "policy": policy_doc,
            "files": files,
        }
        out_stream.write(json.dumps(document, indent=2, default=str) + "\n")
    else:
        header = f"program {program}, policy config {options.policy_config_path or '(none)'}, offline: mock engine"
        out_stream.write(_text_report(run, header, root, summary, pack, rules, findings, files) + "\n")
    return 0 if policy_doc["passed"] else 1


def _text_report(
    run: Any,
    header: str,
    root: tree.Node,
    summary: tree.Summary,
    pack: str,
    rules: Sequence[report.Rule],
    findings: Sequence[report.Finding],
    files: Mapping[str, str],
) -> str:
    parts = [
        f"Previewing stack {run.stack} of project {run.project} ({header})",
        tree.render_tree(root),
        tree.render_summary(summary),
    ]
    if run.outputs:
        shown = [f"    {k}: {_short(v)}" for k, v in sorted(run.outputs.items())]
        parts.append("\n".join(["Outputs:", *shown]))
    parts.append(report.render_policy_text(pack, rules, findings))
    mandatory = sum(1 for f in findings if f.enforcement_level == "mandatory")
    verdict = f"FAILED: {mandatory} mandatory violations" if mandatory else "PASSED: no mandatory violations"
    parts.append(f"{verdict}\nWrote {', '.join(files.values())}")
    return "\n\n".join(parts)


def _short(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_text(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip().strip("^")]
    if type(exc).__name__ == "PolicyPackError" and len(lines) > 2:
        # The pack's stderr tail follows the first line; its last line names the failure (e.g. an ImportError).
        return f"{lines[0]} (pack said: {lines[-1]})"
    return " ".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m offline", description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def program_args(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
        sub.add_argument("--program", type=Path, default=REPO_ROOT, help="Pulumi Python program directory")

    run = commands.add_parser("preview", help="preview a stack and check it against a policy pack")
    program_args(run)
    run.add_argument("--out", type=Path, help="output folder (default out/<stack>)")
    run.add_argument("--format", choices=("text", "json"), default="text", help="what to print on stdout")
    run.add_argument("--policy-pack", type=Path, default=REPO_ROOT / "policy", help="policy pack directory")
    run.add_argument(
        "--policy-config",
        type=Path,
        help="policy config JSON, as for --policy-pack-config (default: the stack's own, <policy-pack>/config/<stack>.json)",
    )

    draw = commands.add_parser("diagram", help="print the architecture markdown (Mermaid) of a stack")
    program_args(draw)
    draw.add_argument(
        "--readme",
        type=Path,
        help="instead of printing, replace the Mermaid block between the architecture markers of this file",
    )

    bench = commands.add_parser("bench", help="median wall time and peak memory of full preview runs")
    bench.add_argument("--stacks", nargs="+", default=["dev", "prod"])
    bench.add_argument("--runs", type=int, default=5)
    bench.add_argument("--program", type=Path, default=REPO_ROOT)
    bench.add_argument("--policy-pack", type=Path, default=REPO_ROOT / "policy")

    compare = commands.add_parser(
        "diff",
        help="stateful resources the head preview would replace or delete compared with the base (main) preview",
        description="Exit 1 when a resource protected in the base would be replaced or deleted (--strict: any "
        "stateful resource), 0 otherwise, 2 on a usage or file error.",
    )
    compare.add_argument("--stack", required=True, help="stack name: both previews must be of this stack")
    compare.add_argument(
        "--base",
        type=Path,
        help="the main branch's resources.json (default out/base/<stack>/resources.json, where make diff writes it)",
    )
    compare.add_argument("--head", type=Path, help="this branch's resources.json (default out/<stack>/resources.json)")
    compare.add_argument(
        "--base-config",
        type=Path,
        help="the main branch's Pulumi.<stack>.yaml (default: Pulumi.<stack>.yaml beside --base, if there)",
    )
    compare.add_argument(
        "--program",
        type=Path,
        default=REPO_ROOT,
        help="the checkout the head preview shows: its stack file is the default --head-config, and a default --head "
        "older than any of its sources is refused",
    )
    compare.add_argument("--head-config", type=Path, help="this branch's stack file (default the --program's)")
    compare.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    compare.add_argument("--strict", action="store_true", help="exit 1 for unprotected stateful resources too")
    return parser


def checkout_of(path: Path) -> Path | None:
    """The checkout `path` is in: the nearest directory holding a Pulumi project and its offline package."""
    for directory in (path, *path.parents):
        if (directory / "Pulumi.yaml").is_file() and (directory / "offline" / "__init__.py").is_file():
            return directory
    return None


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    cwd = Path.cwd().resolve()
    root = checkout_of(cwd)
    if root is not None and (cwd != root or root != REPO_ROOT):
        # out/, the base preview and the head preview are paths from the root, and this is REPO_ROOT's code.
        print(f"error: run `python -m offline` from the repository root, {root} (not {cwd})", file=sys.stderr)
        return 2
    try:
        if args.command == "bench":
            from offline.bench import run_bench

            return run_bench(args.stacks, args.runs, args.program, args.policy_pack, stdout or sys.stdout)
        if args.command == "diff":
            from offline.diff import DiffOptions, run

            diff_options = DiffOptions(
                stack=args.stack,
                base=args.base,
                head=args.head,
                base_config=args.base_config,
                head_config=args.head_config,
                format=args.format,
                strict=args.strict,
                program=args.program.resolve(),
            )
            return run(diff_options, stdout or sys.stdout)
        if args.command == "diagram":
            run = run_program_checked(args.program.resolve(), args.stack, _default_runner, quiet=True)
            if args.readme:
                embed_diagram(args.readme, args.stack, diagram.mermaid(run.resources, run.project, run.stack))
                return 0
            (stdout or sys.stdout).write(diagram.architecture_markdown(run.resources, run.project, run.stack))
            return 0
        options = PreviewOptions(
            stack=args.stack,
            program=args.program,
            out=args.out,
            format=args.format,
            policy_pack=args.policy_pack,
            policy_config=args.policy_config,
        )
        return preview(options, stdout=stdout)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except _user_errors() as exc:
        config_errors = getattr(exc, "config_errors", ())
        if config_errors:
            # One line per configuration error, each starting with its key (the whole configuration is checked at
            # once, so there may be several).
            print("\n".join(f"error: {line}" for line in config_errors), file=sys.stderr)
            return 2
        kind = {"ProgramError": "the program raised", "PolicyPackError": "the policy pack failed"}.get(
            type(exc).__name__, "stack configuration"
        )
        print(f"error: {kind}: {_error_text(exc)}", file=sys.stderr)
        return 2
