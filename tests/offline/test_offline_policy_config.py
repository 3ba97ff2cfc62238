"""Same stack, same verdict: `python -m offline preview --stack prod` reads policy/config/prod.json as the pull request
workflow hands it to `pulumi preview`, so the CLI and `make preview STACK=prod` agree; `--policy-config` overrides it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from offline import cli
from offline.common import REPO_ROOT
from offline.harness import ProgramRun

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "pull-request.yml"


def preview(run: ProgramRun, out: Path, policy_config: Path | None = None) -> tuple[int, dict[str, Any]]:
    options = cli.PreviewOptions(stack=run.stack, out=out, format="json", policy_config=policy_config)
    stdout = io.StringIO()
    code = cli.preview(options, stdout=stdout, runner=lambda _program, _stack: run)
    return code, json.loads(stdout.getvalue())


def test_the_workflow_passes_the_file_the_preview_reads_by_default() -> None:
    assert "policyPackConfigs: policy/config/${{ matrix.stack }}.json" in WORKFLOW.read_text(encoding="utf-8")


def test_prod_without_options_is_judged_with_its_own_policy_config(prod: ProgramRun, tmp_path: Path) -> None:
    code, document = preview(prod, tmp_path / "default")
    assert document["policyConfig"] == str(REPO_ROOT / "policy" / "config" / "prod.json")
    assert code == 0, [v["rule"] for v in document["policy"]["violations"]]


def test_an_explicit_policy_config_overrides_the_stacks_own(prod: ProgramRun, tmp_path: Path) -> None:
    nothing_waived = tmp_path / "none.json"
    nothing_waived.write_text("{}", encoding="utf-8")
    code, document = preview(prod, tmp_path / "explicit", policy_config=nothing_waived)
    assert document["policyConfig"] == str(nothing_waived)
    assert code == 1, "prod's waivers (policy/config/prod.json) are what let it pass"
