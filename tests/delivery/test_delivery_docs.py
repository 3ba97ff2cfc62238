"""The "Continuous delivery" documentation matches the workflow files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"


def delivery_section() -> str:
    """The README's "Continuous delivery" section, up to the next second-level heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Continuous delivery\n") + 1
    end = text.find("\n## ", start + 1)
    return text[start:] if end == -1 else text[start : end + 1]


def documented_variables(text: str) -> set[str]:
    """Names in the first column of the repository-variables table."""
    section = text.split("### Repository variables", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, flags=re.MULTILINE))


def test_section_exists_and_documents_exactly_the_variables_the_workflows_read(
    workflow_paths: list[Path],
) -> None:
    text = delivery_section()
    assert text.startswith("## Continuous delivery\n")
    used = {
        name
        for path in workflow_paths
        for name in re.findall(r"vars\.([A-Z][A-Z0-9_]+)", path.read_text(encoding="utf-8"))
    }
    assert used, "the workflows read no repository variables"
    assert documented_variables(text) == used


def test_section_names_the_workflows_jobs_and_stacks(
    workflows: dict[str, dict[str, Any]],
) -> None:
    text = delivery_section()
    for name, workflow in workflows.items():
        assert f"`.github/workflows/{name}`" in text, name
        for job_id in workflow["jobs"]:
            assert f"`{job_id}`" in text, f"{name}: job {job_id} is not described"
    matrix = workflows["pull-request.yml"]["jobs"]["preview"]["strategy"]["matrix"]["stack"]
    for stack in matrix:
        assert f"make preview STACK={stack}" in text
    prod_env = workflows["deploy.yml"]["jobs"]["prod"]["environment"]["name"]
    assert f"GitHub environment `{prod_env}`" in text
    assert "--policy-pack policy" in text
