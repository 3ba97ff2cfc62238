"""docs/architecture.md's resource diagram is the one the dev stack really produces (regenerate: make readme), and its
"part of" edges are child resources naming their parent, never a reference."""

from __future__ import annotations

import re
from pathlib import Path

from offline.diagram import mermaid
from offline.harness import ProgramRun

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
START, END = "<!-- architecture:dev:start -->", "<!-- architecture:dev:end -->"


def embedded_diagram() -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = text[text.index(START) + len(START) : text.index(END)].strip()
    assert block.startswith("```mermaid\n") and block.endswith("\n```"), "the markers must hold one Mermaid block"
    return block.removeprefix("```mermaid\n").removesuffix("\n```").strip()


def test_the_docs_embed_the_current_dev_diagram(dev: ProgramRun) -> None:
    assert embedded_diagram() == mermaid(dev.resources, dev.project, dev.stack).strip()


def test_the_release_is_part_of_nothing(dev: ProgramRun) -> None:
    """The Helm values name the databases, the Batch and storage accounts and the secrets: references, labelled by
    the key that holds them, not "part of"."""
    source = mermaid(dev.resources, dev.project, dev.stack)
    release = re.search(r'^\s+(\w+)\["Release<br/>coa-dev-coa-release"\]$', source, flags=re.MULTILINE)
    assert release
    edges = re.findall(rf'^\s+{release[1]} -->\|"([^"]*)"\| \w+$', source, flags=re.MULTILINE)
    assert "databaseName" in edges and "accountName" in edges
    assert "part of" not in edges
    # Children that name their parent keep it: the subnets are part of the VNet.
    assert re.search(r'^\s+g\d+ -->\|"part of"\| r\d+$', source, flags=re.MULTILINE)
