"""Every generated section of README.md and docs/ is what the program produces now (regenerate: make readme), and the
generator finds a stale copy and rewrites only between the markers."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from offline import docs
from offline.harness import ProgramRun

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runs(dev: ProgramRun, prod: ProgramRun) -> dict[str, list]:
    return {"dev": dev.resources, "prod": prod.resources}


@pytest.mark.parametrize("section", docs.SECTIONS, ids=lambda s: f"{s.path}#{s.name}")
def test_the_copy_is_current(section: docs.Section, runs: dict[str, list]) -> None:
    assert docs.current(REPO, section) == section.render(runs), f"{section.path}#{section.name} is stale: make readme"


def test_make_readme_runs_the_generator() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\nreadme:", 1)[1].split("\n\n", 1)[0]
    assert "-m offline.docs" in recipe


def test_counts_are_what_the_preview_registers(dev: ProgramRun, prod: ProgramRun, runs: dict[str, list]) -> None:
    table = docs.counts_table(runs)
    for run in (dev, prod):
        row = next(line for line in table.splitlines() if line.startswith(f"| `{run.stack}` |"))
        registered, resources, components = (int(cell) for cell in row.split("|")[2:5])
        assert registered == len(run.resources)
        assert components == len([r for r in run.resources if r.type.startswith("coa:")])
        assert resources == registered - components - 2  # the stack and the Kubernetes provider


def test_a_stale_section_is_found_and_rewritten_between_its_markers(tmp_path: Path, runs: dict[str, list]) -> None:
    for section in docs.SECTIONS:
        (tmp_path / section.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / section.path, tmp_path / section.path)
    readme = tmp_path / "README.md"
    before = readme.read_text()
    start, end = docs.markers("counts")
    readme.write_text(re.sub(rf"{re.escape(start)}.*?{re.escape(end)}", f"{start}\n| old |\n{end}", before, flags=re.S))
    assert docs.stale(tmp_path, runs) == ["README.md#counts"]
    assert docs.write(tmp_path, runs) == ["README.md#counts"]
    assert readme.read_text() == before
    assert docs.stale(tmp_path, runs) == []


def test_a_missing_marker_names_the_file(tmp_path: Path, runs: dict[str, list]) -> None:
    for section in docs.SECTIONS:
        (tmp_path / section.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / section.path, tmp_path / section.path)
    deploying = tmp_path / "docs" / "deploying.md"
    deploying.write_text(deploying.read_text().replace("<!-- costs:end -->", ""))
    with pytest.raises(docs.DocsError, match=r"docs/deploying\.md: no <!-- costs:start --> \.\.\. <!-- costs:end -->"):
        docs.stale(tmp_path, runs)
