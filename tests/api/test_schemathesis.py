"""Schemathesis over the live OpenAPI schema, in process (WSGI), with each demo party's token.

For every operation of ``/api/schema/``, Hypothesis generates requests that match the schema
(bounded: ``EXAMPLES`` per operation and party, with a fixed seed, so a run is reproducible and
short), sends them to the application with the party's token and checks each answer: no 5xx,
a documented status code and content type, and a body that matches the documented schema. Path
ids are drawn at random and from the demo data, so that operations on existing objects are
reached too. Every failure is collected and reported together, one per operation.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from governance.demo import DEMO_PARTIES, demo_seed
from governance.models import ConsentRule, Party, RightsShare, Work

pytestmark = pytest.mark.django_db

EXAMPLES = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@contextlib.contextmanager
def _connection_kept() -> Iterator[None]:
    """As Django's test client does: requests do not close the database connection (that
    would end the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def api_schema() -> Any:
    """The schema as the application serves it, loaded once (it does not depend on data)."""
    with _connection_kept():
        return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def connection_kept() -> Iterator[None]:
    with _connection_kept():
        yield


def _demo_ids() -> dict[str, list[str]]:
    """Path parameters with values that name demo objects."""
    return {
        "work_id": [str(pk) for pk in Work.objects.values_list("pk", flat=True)],
        "party_id": [str(pk) for pk in Party.objects.values_list("pk", flat=True)],
        "rule_id": [str(pk) for pk in ConsentRule.objects.values_list("pk", flat=True)],
        "share_id": [str(pk) for pk in RightsShare.objects.values_list("pk", flat=True)],
    }


def _strategy(operation: Any, ids: dict[str, list[str]]) -> Any:
    """Requests that match the schema and requests that do not (negative), with path ids at
    random and, where the operation names demo objects, with theirs."""
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    names = [p.name for p in operation.path_parameters]
    known = {n: ids[n] for n in names if ids.get(n)}
    if names and len(known) == len(names):
        params = st.fixed_dictionaries({n: st.sampled_from(v) for n, v in known.items()})
        strategies += [
            params.flatmap(
                lambda p, mode=mode: operation.as_strategy(generation_mode=mode, path_parameters=p)
            )
            for mode in modes
        ]
    return st.one_of(strategies)


@pytest.mark.parametrize("party", [p.key for p in DEMO_PARTIES])
def test_every_operation_answers_within_its_schema_for_each_demo_party(
    party: str, tmp_path: Path, api_schema: Any, connection_kept: None
) -> None:
    creds, _ = demo_seed(credentials_file=tmp_path / "demo.json", now=timezone.now())
    token = next(c.token for c in creds if c.key == party)
    headers = {"Authorization": f"Api-Key {token}"}
    ids = _demo_ids()
    failures: list[str] = []
    started, operations = time.monotonic(), 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.path == "/readyz":
            # No Celery worker runs here, so readiness is truthfully 503 ("the worker takes no
            # work"), a server-side status by design; tests/api/test_health_and_schema.py
            # checks both of its answers.
            continue

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_strategy(operation, ids))
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # every operation's failure, reported together
            failures.append(f"{operation.label}: {exc}")
    elapsed = time.monotonic() - started
    assert operations > 50
    assert not failures, f"{len(failures)} failing operations ({elapsed:.0f} s):\n\n" + (
        "\n\n".join(failures)
    )


PAGED = [
    "/api/v1/consent/rules/",
    "/api/v1/imports/",
    "/api/v1/parties/",
    "/api/v1/releases/",
    "/api/v1/reviews/",
    "/api/v1/shares/",
    "/api/v1/tokens/",
    "/api/v1/usage-reports/",
    "/api/v1/use-requests/",
    "/api/v1/works/",
    "/api/v1/works/{work_id}/content/",
]


def _served_schema() -> dict[str, Any]:
    from django.test import Client

    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return dict(json.loads(response.content))


def test_the_schema_documents_each_list_operation_as_a_page_with_its_filters() -> None:
    paths = _served_schema()["paths"]
    for path in PAGED:
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"].startswith("#/components/schemas/Paginated"), path
        names = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert {"page", "page_size"} <= names, path
    reviews = {p["name"]: p for p in paths["/api/v1/reviews/"]["get"]["parameters"]}
    assert reviews["status"]["schema"]["enum"] == ["all", "approved", "denied", "pending"]
    kinds = {p["name"]: p for p in paths["/api/v1/works/"]["get"]["parameters"]}
    assert kinds["kind"]["schema"]["enum"] == ["composition", "recording"]
    versions = paths["/api/v1/consent/rules/{rule_id}/versions/"]["get"]["responses"]["200"]
    assert versions["content"]["application/json"]["schema"]["type"] == "array"


def test_the_schema_documents_every_error_status_with_the_common_body() -> None:
    schema = _served_schema()
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "fields"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            wanted = {"400", "401", "403", "404", "429"}
            if method in ("post", "put", "patch"):
                wanted |= {"409", "413", "415"}
            assert wanted <= set(operation["responses"]), (method, path)
            body = operation["responses"]["404"]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, (method, path)


def test_the_schema_describes_every_member_an_item_may_have() -> None:
    """A request's and a check's item is documented as the one-of the service reads
    (``request_specs.ITEM_KEYS``), a client's fingerprint with its optional voice and
    composition: a member added to the service and not to the schema fails here."""
    from governance.services import request_specs

    schemas = _served_schema()["components"]["schemas"]
    for component, path in (
        ("ItemsRequestRequest", ("items", "items")),
        ("CheckInputRequest", ("item",)),
    ):
        item = schemas[component]["properties"][path[0]]
        if len(path) > 1:
            item = item["items"]
        members = [next(iter(one["required"])) for one in item["oneOf"]]
        assert sorted(members) == sorted(request_specs.ITEM_KEYS), component
        for one in item["oneOf"]:
            assert one["additionalProperties"] is False
            assert len(one["properties"]) == 1
        fingerprint = next(o for o in item["oneOf"] if "fingerprint" in o["properties"])
        fields = fingerprint["properties"]["fingerprint"]["properties"]
        assert set(fields) == {"model", "model_version", "data", "sha256", "voice", "composition"}
        assert set(fields["voice"]["properties"]) == {"model", "model_version", "windows"}
        assert set(fields["composition"]["properties"]) == {"model", "model_version", "segments"}


def test_a_component_is_described_by_its_own_docstring_only() -> None:
    """drf-spectacular falls back on a base class's docstring; StrictSerializer's, written for
    the code's readers, described 25 request bodies before ``AutoSchema`` dropped it."""
    schemas = _served_schema()["components"]["schemas"]
    assert not [
        name
        for name, schema in schemas.items()
        if "refuses the keys it has no writable field for" in schema.get("description", "")
    ]
