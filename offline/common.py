"""Names every `python -m offline` command shares: the repository root, the user-error type, the policy config file
and the files a preview is made from. Imports nothing of offline/, so cli, bench and diff can all import it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def one_line(message: str) -> str:
    # YAML errors point with a caret line under the quoted source: noise once joined into one line.
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip().strip("^"))


def default_policy_config(pack: Path, stack: str) -> Path | None:
    """The stack's own policy config, `<pack>/config/<stack>.json`, when there is one: the file the pull request
    workflow hands `pulumi preview --policy-pack-config` for that stack."""
    path = pack / "config" / f"{stack}.json"
    return path if path.is_file() else None


def load_policy_config(path: Path | None) -> dict[str, Any] | None:
    """The same file `pulumi preview --policy-pack-config` takes: a JSON (or YAML) object keyed by policy name."""
    if path is None:
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"--policy-config {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise CliError(f"--policy-config {path}: not valid JSON or YAML: {one_line(str(exc))}") from None
    if not isinstance(document, dict):
        raise CliError(f"--policy-config {path}: must be an object keyed by policy name")
    return document


# What a preview of a stack is made from: the project and stack files, the program (its entry point, its packages
# and the chart it installs), the image lock, the pinned SDKs, and the harness that runs it. Documentation, tests
# and the policy pack do not change the registered resources.
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "images.lock.json", "requirements.txt", "constraints.txt")
PROGRAM_DIRS = ("components", "configuration", "charts", "offline")


def program_inputs(program: Path, stack: str) -> list[Path]:
    """Every file of `program` whose change can change what a preview of `stack` registers."""
    files = [program / name for name in (*PROGRAM_FILES, f"Pulumi.{stack}.yaml")]
    for directory in PROGRAM_DIRS:
        files += [p for p in (program / directory).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return [p for p in files if p.is_file()]


def newer_inputs(preview: Path, program: Path, stack: str) -> list[Path]:
    """The program's inputs changed after `preview` was written, newest first."""
    written = preview.stat().st_mtime
    newer = [(p.stat().st_mtime, p) for p in program_inputs(program, stack) if p.stat().st_mtime > written]
    return [p for _, p in sorted(newer, reverse=True)]
