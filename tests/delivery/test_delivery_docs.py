"""The "Continuous delivery" documentation (docs/delivery.md) matches the workflow files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DELIVERY = REPO_ROOT / "docs" / "delivery.md"


def delivery_section() -> str:
    """docs/delivery.md from its "Continuous delivery" title on (above it: the link back to the front page)."""
    text = DELIVERY.read_text(encoding="utf-8")
    return text[text.index("# Continuous delivery\n") :]


def documented_variables(text: str) -> set[str]:
    """Names in the first column of the repository-variables table."""
    section = text.split("\n## Repository variables\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, flags=re.MULTILINE))


def test_section_exists_and_documents_exactly_the_variables_the_workflows_read(
    workflow_paths: list[Path],
) -> None:
    text = delivery_section()
    assert text.startswith("# Continuous delivery\n")
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
