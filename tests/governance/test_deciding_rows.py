"""A manifest's chunk stores its decisions' rows built without Django's fields
(``governance.services.deciding._decision_rows``): PostgreSQL must hold what Django's fields
would have stored (``decided_store``, through ``governance.bulk.model_rows``), column by column."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from governance.models import Decision, RequestItem, UseRequest
from governance.services import deciding
from governance.services.facts import Context, Resolved, question_of
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db


class _Undo(Exception):
    pass


def _stored(decided: list[deciding.Decided], store: Any, request_id: str) -> list[str]:
    """The decisions' rows as PostgreSQL's text of each (jsonb, arrays, bytea as stored),
    after ``store``; undone afterwards."""
    rows: list[str] = []

    def store_and_read() -> None:
        with transaction.atomic():
            store(decided)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT d::text FROM governance_decision d WHERE request_id = %s ORDER BY id",
                    [request_id],
                )
                rows.extend(r[0] for r in cursor.fetchall())
            raise _Undo

    with pytest.raises(_Undo):
        store_and_read()
    return rows


def test_the_decision_columns_are_the_models() -> None:
    assert tuple(f.column for f in Decision._meta.concrete_fields) == deciding._DECISION_COLUMNS


@pytest.mark.parametrize(
    ("effect", "obligations"),
    [
        ("allow", None),
        ("conditional", {"attribution": "Ada Vale \u00e9\t\\ \"q\"", "ai_disclosure": True,
                         "max_similarity": 0.35}),
        ("deny", None),
    ],
)  # fmt: skip
def test_a_chunks_rows_are_what_djangos_fields_would_store(
    world: dict[str, Any], effect: str, obligations: dict[str, Any] | None
) -> None:
    data: dict[str, Any] = {"scope": "all_works", "uses": ["analyze"], "effect": effect}
    if obligations:
        data["obligations"] = obligations
    rule(world["label"], **data)
    body = submit(
        world["licensee"],
        use="analyze",
        items=[{"isrc": ISRC}, {"isrc": "GBAAA2600001"}, {"isrc": ISRC}, {"isrc": ISRC}],
    )
    request = UseRequest.objects.get(pk=body["id"])
    items = list(RequestItem.objects.filter(request=request).order_by("position"))
    context = Context(items)
    question = question_of(request)
    decided = [
        deciding.decide_one(
            context=context, question=question, request=request, item=item,
            resolved=context.resolved[n], now=context.now,
        )
        for n, item in enumerate(items[:3])
    ]  # fmt: skip
    failure = "deciding failed: KeyError; the operator has the details"
    decided.append(deciding.decide_one(
        context=None, question=question, request=request, item=items[3],
        resolved=Resolved([], error=failure), now=context.now, failure=failure,
    ))  # fmt: skip
    assert [d.decision.outcome for d in decided] == [effect, "no_match", effect, "error"]
    fast = _stored(decided, deciding._chunk_store, body["id"])
    django = _stored(decided, deciding.decided_store, body["id"])
    assert len(fast) == 4
    assert fast == django
