"""The consent page shows and rewrites only the rules it can show: a rule limited to works by
their AI declaration (made through the API) is neither a row's plain answer nor one of its
exceptions, so saving the page never drops the condition by rewriting the rule without it."""

from __future__ import annotations

import datetime as dt

from governance.models import ConsentRuleVersion
from web.consent import is_plain, scoped_of

DAY = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def version(**fields: object) -> ConsentRuleVersion:
    defaults: dict[str, object] = {
        "scope": "all_works", "uses": ["train"], "licensee_mode": "any", "licensees": [],
        "territory_mode": "worldwide", "territories": [], "commercial": "both",
        "effect": "deny", "obligations": {}, "scope_works": [],
    }  # fmt: skip
    return ConsentRuleVersion(**(defaults | fields))


def test_a_rule_limited_to_ai_declarations_is_not_the_plain_answer() -> None:
    assert is_plain(version(), scope="all_works")
    assert not is_plain(version(ai_declarations=["generated"]), scope="all_works")


def test_a_rule_limited_to_ai_declarations_is_not_an_exception_the_page_shows() -> None:
    window = {"window_start": DAY, "window_end": DAY + dt.timedelta(days=30)}
    assert scoped_of(version(**window), scope="all_works", works=[]) is not None
    limited = version(ai_declarations=["generated"], **window)
    assert scoped_of(limited, scope="all_works", works=[]) is None
