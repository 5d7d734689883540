"""docs/configuration.md names every environment variable the service reads, and
docs/benchmarks.md every one the benchmarks read: a new setting cannot go undocumented."""

from __future__ import annotations

import re
from pathlib import Path

from ledger.verify.client import API_KEY_VARIABLE

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICE = ("config", "governance", "ledger", "api")

# env.str("NAME", ...), env.bool(...), env.db_url("NAME"), os.environ.get("NAME", ...),
# os.environ["NAME"], os.environ.setdefault("NAME", ...), "NAME" in os.environ.
_READS = re.compile(
    r"""\benv\.\w+\(\s*"([A-Z][A-Z0-9_]*)"
      | \bos\.environ(?:\.get|\.setdefault)?[(\[]\s*"([A-Z][A-Z0-9_]*)"
      | "([A-Z][A-Z0-9_]*)"\s+(?:not\s+)?in\s+os\.environ""",
    re.VERBOSE,
)


def variables_read(*packages: str) -> set[str]:
    names: set[str] = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            for match in _READS.finditer(path.read_text(encoding="utf-8")):
                names.add(next(group for group in match.groups() if group))
    return names


def documented(page: str) -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]*)`", (ROOT / "docs" / page).read_text("utf-8")))


def test_the_scan_finds_the_settings_it_should() -> None:
    # Guards the pattern: were it to match nothing, the tests below would pass vacuously.
    assert {"DATABASE_URL", "SECRET_KEY", "CONSENTRY_PORT", "WEB_THREADS"} <= variables_read(
        *SERVICE
    )


def test_every_variable_the_service_reads_is_documented() -> None:
    missing = (variables_read(*SERVICE) | {API_KEY_VARIABLE}) - documented("configuration.md")
    assert sorted(missing) == []


def test_every_variable_the_benchmarks_read_is_documented() -> None:
    read = {name for name in variables_read("benchmarks") if name.startswith("BENCH_")}
    assert read
    assert sorted(read - documented("benchmarks.md")) == []
