"""Every relative link in README.md and docs/ resolves inside a clone: the file exists under the
repository, and a ``#fragment`` names a heading of the page it points to (GitHub's anchors)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target); the target stops at a space (an optional "title" follows).
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def prose(text: str) -> str:
    """The page without its code: links in code blocks and spans are not links."""
    return _CODE.sub("", _FENCE.sub("", text))


def links(page: Path) -> list[str]:
    text = prose(page.read_text(encoding="utf-8"))
    return _LINK.findall(text) + _REFERENCE.findall(text)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens; a repeated
    heading gets -1, -2, ..."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


_PARENT_PATH = re.compile(r"(?<![\w/.])(?:\.\./)+[\w.-][\w./-]*")


def outside(page: Path, root: Path = ROOT) -> list[str]:
    """Relative paths anywhere on the page, code included, that climb out of the repository or
    to nothing (such as a sibling checkout's ``../shared/DESIGN.md``, which a clone lacks)."""
    text = page.read_text(encoding="utf-8")
    found = []
    for path in _PARENT_PATH.findall(text):
        resolved = (page.parent / path.rstrip(".")).resolve()
        if not resolved.is_relative_to(root) or not resolved.exists():
            found.append(path)
    return found


def broken(page: Path, root: Path = ROOT) -> list[str]:
    found = []
    for target in links(page):
        if _EXTERNAL.match(target):
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(root):
            found.append(f"{target}: outside the repository")
        elif not resolved.exists():
            found.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            found.append(f"{target}: no heading #{fragment} in {resolved.relative_to(root)}")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    assert broken(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_path_on_a_page_leaves_the_repository(page: Path) -> None:
    assert outside(page) == []


def test_a_path_out_of_the_repository_is_found_in_code_too(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "probe.md"
    (tmp_path / "README.md").write_text("# Read me\n", encoding="utf-8")
    page.write_text(
        "See `../../shared/DESIGN.md`, `../shared/STYLE.md` and ../README.md.\n", encoding="utf-8"
    )
    assert outside(page, root=tmp_path) == ["../../shared/DESIGN.md", "../shared/STYLE.md"]


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "configuration.md").write_text("# Configuration\n")
    page = tmp_path / "docs" / "probe.md"
    page.write_text(
        "# Title\n\n[a](configuration.md) [b](missing.md) [c](../../shared/DESIGN.md)\n"
        "[d](#title) [e](#nowhere) [f](https://example.org/x) `[g](in-code.md)`\n"
        "```\n[h](in-a-block.md)\n```\n",
        encoding="utf-8",
    )
    assert broken(page, root=tmp_path) == [
        "missing.md: no such file",
        "../../shared/DESIGN.md: outside the repository",
        "#nowhere: no heading #nowhere in docs/probe.md",
    ]


def test_anchors_follow_github(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# The ledger: formats\n## `make run` (embedded)\n## Notes\n## Notes\n")
    assert anchors(page) == {"the-ledger-formats", "make-run-embedded", "notes", "notes-1"}
