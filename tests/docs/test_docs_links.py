"""The documentation holds together: every relative link in README.md, SECURITY.md and docs/*.md reaches an existing
file (and heading, when it names one), every page of docs/ is linked from the front page, and the front page stays
under 300 lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", REPO / "SECURITY.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slugs(path: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped, spaces to hyphens,
    repeats numbered."""
    found: set[str] = set()
    for line in re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match[1].strip().lower()).replace(" ", "-")
        unique, n = slug, 0
        while unique in found:
            n += 1
            unique = f"{slug}-{n}"
        found.add(unique)
    return found


def links(page: Path) -> list[str]:
    return [t for t in LINK.findall(_prose(page.read_text(encoding="utf-8"))) if not re.match(r"[a-z]+:", t)]


def test_slugs_and_links_are_read_as_github_reads_them(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Images by digest: `images.lock.json`\n## The owner's checklist\n## Notes\n## Notes\n"
        "See [a](docs/a.md#x), [b](https://example.org), ![img](i.png), `[c](not-a-link)`.\n"
        "```\n# not a heading [d](nor-a-link)\n```\n"
    )
    assert slugs(page) == {"images-by-digest-imageslockjson", "the-owners-checklist", "notes", "notes-1"}
    assert links(page) == ["docs/a.md#x"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_reaches_its_file_and_heading(page: Path) -> None:
    broken = []
    for target in links(page):
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in slugs(resolved):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{page.relative_to(REPO)}: {broken}"


def test_every_page_of_docs_is_linked_from_the_front_page_and_leads_back() -> None:
    linked = {(REPO / t.partition("#")[0]).resolve() for t in links(REPO / "README.md")}
    pages = sorted((REPO / "docs").glob("*.md"))
    assert len(pages) >= 7
    assert {p.resolve() for p in pages} <= linked
    assert [p.name for p in pages if "../README.md" not in links(p)] == []


def test_the_front_page_stays_under_300_lines() -> None:
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) < 300
