"""The README stays a front page: short, and one link away from the three things a newcomer
needs first (the decision logic, the life of a request, the ledger's format)."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent.parent.parent / "README.md"


def test_the_readme_fits_in_150_lines() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150


def test_the_readme_links_the_decision_logic_the_life_of_a_request_and_the_ledger() -> None:
    text = README.read_text(encoding="utf-8")
    for page in ("docs/decisions.md", "docs/architecture.md", "docs/ledger.md"):
        assert f"]({page})" in text, page
