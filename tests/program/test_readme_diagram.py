"""The README's architecture diagram is the one the dev stack really produces (regenerate: make readme)."""

from __future__ import annotations

from pathlib import Path

from offline.diagram import mermaid
from offline.harness import ProgramRun

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- architecture:dev:start -->", "<!-- architecture:dev:end -->"


def embedded_diagram() -> str:
    text = README.read_text(encoding="utf-8")
    block = text[text.index(START) + len(START) : text.index(END)].strip()
    assert block.startswith("```mermaid\n") and block.endswith("\n```"), "the markers must hold one Mermaid block"
    return block.removeprefix("```mermaid\n").removesuffix("\n```").strip()


def test_readme_embeds_the_current_dev_diagram(dev: ProgramRun) -> None:
    assert embedded_diagram() == mermaid(dev.resources, dev.project, dev.stack).strip()
