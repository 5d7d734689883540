"""A request's status page and results read each decision's row without its trace nor its
item's vectors (the largest columns, which they do not show), and with as many queries for
three items as for one (a deferred column read per row would add one each)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance import tasks
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db


def _reads(client: Any, request_id: str) -> tuple[list[str], dict[str, Any], bytes]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(f"/api/v1/use-requests/{request_id}/")
        results = client.get(f"/api/v1/use-requests/{request_id}/results/")
        body = b"".join(results.streaming_content)
    assert (status.status_code, results.status_code) == (200, 200)
    return [q["sql"] for q in queries.captured_queries], status.json(), body


def test_status_and_results_read_no_trace_nor_vectors_and_no_query_per_item(
    world: dict[str, Any],
) -> None:
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    client = world["licensee"].client
    one = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])
    three = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}] * 3)
    for body in (one, three):
        tasks.decide_request.apply(args=[body["id"]]).get()
    sql_one, status_one, _ = _reads(client, one["id"])
    sql_three, status_three, results = _reads(client, three["id"])
    assert len(sql_three) == len(sql_one)
    assert not [q for q in sql_one + sql_three if '"trace"' in q or '"vectors"' in q]
    assert [i["outcome"] for i in status_three["items"]] == ["allow"] * 3
    assert status_one["items"][0]["works"] == status_three["items"][0]["works"]
    assert results.count(b"\n") == 3
