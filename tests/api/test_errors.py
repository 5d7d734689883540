"""Every error the service answers has the same body, Django's own 404/405/500 included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from governance.models import ConsentRule, ConsentRuleVersion, PartyKind, UseRequest
from tests.factories import caller

pytestmark = pytest.mark.django_db


def test_an_unknown_url_is_a_404_in_the_common_body() -> None:
    response = Client().get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "Nothing at /no/such/page.",
        "fields": {},
    }


def test_a_wrong_method_is_a_405_in_the_common_body() -> None:
    label = caller()
    response = label.client.delete("/api/v1/parties/")
    assert response.status_code == 405
    body = response.json()
    assert body["code"] == "method_not_allowed"
    assert body["fields"] == {}


def test_a_malformed_json_body_is_a_400_in_the_common_body() -> None:
    label = caller()
    response = label.client.post(
        "/api/v1/tokens/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.urls("tests.api.urls_failing")
def test_a_server_failure_is_a_500_in_the_common_body_without_internals() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/fail")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error"
    assert "boom" not in body["message"]


# --- No 500, ever (issue 12): each input below answered 500; each is a 4xx in the common body
# and writes nothing.


def _deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def _assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    if code is not None:
        assert body["code"] == code
    return dict(body)


def _rule(**overrides: Any) -> dict[str, Any]:
    base = {
        "scope": "all_works",
        "uses": ["train"],
        "effect": "conditional",
        "obligations": {"attribution": "Ada Vale"},
    }
    return base | overrides


@pytest.mark.parametrize("levels", [950, 5000, 100_000])
def test_it_refuses_json_nested_hundreds_of_levels_deep_on_a_json_endpoint(levels: int) -> None:
    label = caller()
    body = json.dumps(_rule())[:-1] + ', "note": ' + _deep(levels) + "}"
    response = label.client.post("/api/v1/consent/rules/", body, content_type="application/json")
    error = _assert_error(response, 400, "parse_error")
    assert "deeper than" in error["message"]
    assert ConsentRule.objects.count() == 0


def test_json_nested_a_few_levels_deep_reaches_the_view() -> None:
    label = caller()
    body = json.dumps(_rule())[:-1] + ', "note": ' + _deep(30) + "}"
    response = label.client.post("/api/v1/consent/rules/", body, content_type="application/json")
    error = _assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["note"]


@pytest.mark.parametrize("bad", ["\u0000", "\ud800", "ok\udfffok"])
def test_it_refuses_a_nul_or_a_lone_surrogate_in_a_posted_string_naming_the_field(
    bad: str,
) -> None:
    label = caller()
    body = json.dumps(_rule(obligations={"attribution": "by " + bad}))
    response = label.client.post("/api/v1/consent/rules/", body, content_type="application/json")
    error = _assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["obligations.attribution"]
    assert ConsentRule.objects.count() == 0


def test_it_names_the_list_index_of_a_bad_string() -> None:
    label = caller()
    body = json.dumps(_rule(uses=["train", "voice\u0000"]))
    response = label.client.post("/api/v1/consent/rules/", body, content_type="application/json")
    assert list(_assert_error(response, 400, "invalid")["fields"]) == ["uses.1"]


@pytest.mark.parametrize("bad", ["\u0000", "\ud800"])
def test_it_refuses_a_nul_or_a_lone_surrogate_in_a_key(bad: str) -> None:
    label = caller()
    body = json.dumps(_rule(obligations={"k" + bad: "v"}))
    response = label.client.post("/api/v1/consent/rules/", body, content_type="application/json")
    error = _assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["obligations"]
    assert ConsentRule.objects.count() == 0


@pytest.mark.parametrize("bad", ["\u0000", "\ud800"])
def test_it_refuses_a_nul_or_a_lone_surrogate_on_put_and_writes_no_version(bad: str) -> None:
    label = caller()
    created = label.client.post("/api/v1/consent/rules/", _rule(), format="json").json()
    body = json.dumps(_rule(note="n" + bad))
    response = label.client.put(
        f"/api/v1/consent/rules/{created['rule']}/", body, content_type="application/json"
    )
    error = _assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["note"]
    assert ConsentRuleVersion.objects.count() == 1


@pytest.mark.parametrize("body", ["null", "1", "true", '"text"', "[]"])
def test_it_refuses_a_json_body_that_is_not_an_object_naming_the_body(body: str) -> None:
    licensee = caller(PartyKind.LICENSEE)
    response = licensee.client.post("/api/v1/use-requests/", body, content_type="application/json")
    error = _assert_error(response, 400)
    assert list(error["fields"]) == ["body"]
    assert UseRequest.objects.count() == 0


@pytest.mark.parametrize(
    "path", ["/api/v1/tokens/", "/api/v1/consent/rules/", "/api/v1/works/", "/api/v1/checks/"]
)
def test_every_post_refuses_a_json_null_body(path: str) -> None:
    licensee = caller(PartyKind.LICENSEE)
    response = licensee.client.post(path, "null", content_type="application/json")
    assert list(_assert_error(response, 400)["fields"]) == ["body"]


def test_it_refuses_nul_in_a_filter() -> None:
    label = caller()
    _assert_error(label.client.get("/api/v1/reviews/?status=%00"), 400, "invalid")


def test_it_refuses_nul_in_a_path_id() -> None:
    label = caller()
    response = label.client.post("/api/v1/tokens/%00/revoke/")
    _assert_error(response, 400, "invalid")


def test_it_refuses_a_status_filter_outside_its_enum() -> None:
    label = caller()
    error = _assert_error(label.client.get("/api/v1/reviews/?status=AAA"), 400, "invalid")
    assert list(error["fields"]) == ["status"]


@pytest.mark.parametrize("status", ["pending", "approved", "denied", "all"])
def test_it_accepts_each_documented_review_status(status: str) -> None:
    label = caller()
    assert label.client.get(f"/api/v1/reviews/?status={status}").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v1/consent/posture/", "/api/v1/consent/matrix/", "/api/v1/consent/rules/{id}/"]
)
def test_options_is_a_4xx_in_the_common_body(path: str) -> None:
    label = caller()
    created = label.client.post("/api/v1/consent/rules/", _rule(), format="json").json()
    response = label.client.options(path.format(id=created["rule"]))
    _assert_error(response, 405, "method_not_allowed")
