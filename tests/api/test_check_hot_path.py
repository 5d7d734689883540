"""``POST /api/v1/checks/`` on its lean path (``api.views.checks``) answers exactly as DRF's
``CheckView`` does: the same status, body and headers for good and bad input, for every
credential and role, under the throttle, and with Idempotency-Keys; and the OpenAPI schema is
the DRF view's.

Each case is sent twice through the whole middleware stack: to ``/api/v1/checks/`` (the lean
path, which hands what it does not answer itself to DRF) and to ``/drf/checks/``, a route of
this module's URLconf straight to ``CheckView``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import structlog
from django.test import Client
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator
from rest_framework.throttling import UserRateThrottle
from structlog.testing import LogCapture

from api import throttling
from api import urls as api_urls
from api.views import checks as lean
from api.views.requests import CheckView
from governance.models import ApiToken, Decision, PartyKind, Role, UseRequest
from tests.factories import Caller, caller
from tests.world import ISRC, rule

pytestmark = pytest.mark.django_db

urlpatterns = [
    path("drf/checks/", CheckView.as_view()),
    path("", include("config.urls")),
]
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "api.errors.server_error"

LEAN, DRF = "/api/v1/checks/", "/drf/checks/"
HEADERS = ("Content-Type", "Allow", "Vary", "WWW-Authenticate", "Retry-After", "Content-Language")


@pytest.fixture(autouse=True)
def _this_urlconf(settings: Any) -> None:
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def allowed(world: dict[str, Any]) -> dict[str, Any]:
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    return world


def send(
    url: str,
    body: Any,
    *,
    secret: str | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
    **extra: str,
) -> Any:
    client = Client(raise_request_exception=False)
    if secret is not None:
        extra["HTTP_AUTHORIZATION"] = f"Api-Key {secret}"
    data = raw if raw is not None else json.dumps(body)
    return client.post(url, data, content_type=content_type, **extra)


def answer(response: Any) -> tuple[int, bytes, dict[str, str | None]]:
    return (
        response.status_code,
        response.content,
        {h: response.headers.get(h) for h in HEADERS},
    )


def timeless(decision: dict[str, Any]) -> dict[str, Any]:
    """A decision's answer without what differs between two checks (ids, times)."""
    out = {k: v for k, v in decision.items() if k not in ("id", "request", "created_at")}
    out["trace"] = {k: v for k, v in decision["trace"].items() if k != "at"}
    return out


def both(body: Any, **kwargs: Any) -> tuple[Any, Any]:
    return send(LEAN, body, **kwargs), send(DRF, body, **kwargs)


def test_a_plain_check_is_answered_by_the_lean_path_as_drf_answers_it(
    allowed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[object] = []
    monkeypatch.setattr(lean, "_drf_view", lambda request: handed.append(request))
    secret = allowed["licensee"].secret
    body = {"use": "analyze", "item": {"isrc": ISRC}, "territories": [" FR", "DE "]}
    fast = send(LEAN, {**body, "commercial": False, "model_name": " m "}, secret=secret)
    assert handed == []  # answered without DRF
    monkeypatch.undo()
    slow = send(DRF, {**body, "commercial": False, "model_name": " m "}, secret=secret)
    assert fast.status_code == slow.status_code == 200
    a, b = fast.json(), slow.json()
    assert timeless(a) == timeless(b)
    assert a["outcome"] == "allow"
    assert answer(fast)[2] == answer(slow)[2]
    assert fast.headers["Allow"] == "POST, OPTIONS"
    assert "Accept" in fast.headers["Vary"]
    # The same rows: the request's terms as DRF's serializer hands them on.
    lean_request = UseRequest.objects.get(pk=a["request"])
    drf_request = UseRequest.objects.get(pk=b["request"])
    for name in ("kind", "use", "territories", "commercial", "model_name", "request_sha256"):
        assert getattr(lean_request, name) == getattr(drf_request, name), name
    assert (lean_request.model_name, lean_request.commercial) == ("m", False)


BAD_BODIES: list[Any] = [
    {},
    {"item": {"isrc": ISRC}},
    {"use": "sell", "item": {"isrc": ISRC}},
    {"use": 5, "item": {"isrc": ISRC}},
    {"use": "analyze"},
    {"use": "analyze", "item": "USRC17607839"},
    {"use": "analyze", "item": {}},
    {"use": "analyze", "item": {"isrc": "not an isrc"}},
    {"use": "analyze", "item": {"isrc": ISRC, "colour": "blue"}},
    {"use": "analyze", "item": {"isrc": ISRC}, "perod_start": "2027-01-01T00:00:00Z"},
    {"use": "analyze", "item": {"isrc": ISRC}, "territories": "FR"},
    {"use": "analyze", "item": {"isrc": ISRC}, "territories": ["FRAN"]},
    {"use": "analyze", "item": {"isrc": ISRC}, "territories": [""]},
    {"use": "analyze", "item": {"isrc": ISRC}, "territories": ["ZZ"]},
    {"use": "analyze", "item": {"isrc": ISRC}, "territories": [7]},
    {"use": "analyze", "item": {"isrc": ISRC}, "commercial": "maybe"},
    {"use": "analyze", "item": {"isrc": ISRC}, "commercial": None},
    {"use": "analyze", "item": {"isrc": ISRC}, "model_name": "x" * 201},
    {"use": "analyze", "item": {"isrc": ISRC}, "model_name": None},
    {"use": "analyze", "item": {"isrc": ISRC}, "period_start": "yesterday"},
    {"use": "analyze", "item": {"isrc": ISRC}, "period_end": "2001-01-01T00:00:00Z"},
    {"use": "analyze", "item": {"isrc": ISRC}, "callback_url": "ftp://example.com/x"},
    {"use": "analyze", "item": {"isrc": ISRC}, "callback_url": "not a url"},
    {"use": "analyze", "item": {"vectors": [{"space": "nope", "vector": [1.0]}]}},
    {"use": "analyze", "item": {"isrc": ISRC}, "use_": 1, "items": []},
    [],
    None,
    "analyze",
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=[json.dumps(b)[:60] for b in BAD_BODIES])
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_bad_input_gets_drfs_400_naming_the_field(
    allowed: dict[str, Any], body: Any, lang: str
) -> None:
    fast, slow = both(body, secret=allowed["licensee"].secret, HTTP_ACCEPT_LANGUAGE=lang)
    assert fast.status_code == 400, fast.content
    assert fast.json()["fields"], fast.content
    assert answer(fast) == answer(slow)
    assert not Decision.objects.exists()


RAW_BODIES = [b"", b"{", b'{"use": "analyze", "item": {"isrc": "\\u0000"}}', b"\xff\xfe", b"[1]"]


@pytest.mark.parametrize("raw", RAW_BODIES, ids=repr)
def test_unreadable_bodies_are_drfs_400(allowed: dict[str, Any], raw: bytes) -> None:
    fast, slow = both(None, raw=raw, secret=allowed["licensee"].secret)
    assert fast.status_code == 400, fast.content
    assert answer(fast) == answer(slow)


def test_a_large_body_is_drfs_to_read(allowed: dict[str, Any], settings: Any) -> None:
    """Over ``LEAN_BODY_MAX`` (and over Django's in-memory limit, which ``request.body`` would
    enforce and DRF's stream does not), a body goes to DRF: the same answer on both paths."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = lean.LEAN_BODY_MAX
    body = {"use": "analyze", "item": {"audio_base64": "A" * (lean.LEAN_BODY_MAX + 10)}}
    fast, slow = both(body, secret=allowed["licensee"].secret)
    assert fast.status_code == slow.status_code
    assert fast.status_code < 500, fast.content
    assert answer(fast) == answer(slow)


def test_coercions_drf_makes_are_still_made(allowed: dict[str, Any]) -> None:
    """What the lean path does not take as it is goes to DRF, which accepts it as before."""
    body = {
        "use": "analyze",
        "item": {"isrc": ISRC},
        "commercial": "true",
        "period_start": "2030-01-01T00:00:00Z",
        "callback_url": "https://example.com/hook",
    }
    fast, slow = both(body, secret=allowed["licensee"].secret)
    assert (fast.status_code, slow.status_code) == (200, 200), fast.content
    assert fast.json()["outcome"] == slow.json()["outcome"]


def other_caller(kind: str, role: str = Role.ADMIN) -> Caller:
    return caller(kind, role=role)


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("nobody", 401),
        ("malformed", 401),
        ("unknown", 401),
        ("revoked", 401),
        ("label", 403),
        ("artist", 403),
        ("auditor", 403),
        ("viewer", 403),
        ("other_scheme", 401),
    ],
)
def test_credentials_and_roles_are_refused_as_drf_refuses_them(
    allowed: dict[str, Any], who: str, status: int
) -> None:
    body = {"use": "analyze", "item": {"isrc": ISRC}}
    extra: dict[str, str] = {}
    secret: str | None = None
    if who == "malformed":
        extra["HTTP_AUTHORIZATION"] = "Api-Key nodot"
    elif who == "unknown":
        extra["HTTP_AUTHORIZATION"] = "Bearer abcdefgh.0123456789"
    elif who == "other_scheme":
        extra["HTTP_AUTHORIZATION"] = "Basic dXNlcjpwYXNz"
    elif who == "revoked":
        licensee = caller(PartyKind.LICENSEE)
        ApiToken.objects.filter(pk=licensee.token.pk).update(revoked=True)
        secret = licensee.secret
    elif who == "label":
        secret = allowed["label"].secret
    elif who == "artist":
        secret = allowed["artist"].secret
    elif who == "auditor":
        secret = other_caller(PartyKind.AUDITOR).secret
    elif who == "viewer":
        secret = other_caller(PartyKind.LICENSEE, Role.VIEWER).secret
    fast, slow = both(body, secret=secret, **extra)
    assert fast.status_code == status, fast.content
    assert answer(fast) == answer(slow)
    assert not Decision.objects.exists()


def test_a_session_goes_to_drf_with_its_csrf_check(allowed: dict[str, Any]) -> None:
    user = allowed["licensee"].token.user
    answers = []
    for url in (LEAN, DRF):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        answers.append(
            client.post(url, {"use": "analyze", "item": {"isrc": ISRC}}, "application/json")
        )
    assert answers[0].status_code == 403
    assert answer(answers[0]) == answer(answers[1])


def test_the_throttle_counts_and_refuses_as_drfs(
    allowed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "3/minute")
    body = {"use": "analyze", "item": {"isrc": ISRC}}
    secret = allowed["licensee"].secret
    got = []
    for url in (LEAN, LEAN, DRF, LEAN, DRF):
        throttling.counters.clear() if not got else None
        got.append(send(url, body, secret=secret))
    assert [r.status_code for r in got] == [200, 200, 200, 429, 429]
    # The same answer but for the seconds to wait, which the clock moves between the two.
    lean_answer, drf_answer = answer(got[3]), answer(got[4])
    assert re.sub(rb"\d+ seconds", b"N seconds", lean_answer[1]) == re.sub(
        rb"\d+ seconds", b"N seconds", drf_answer[1]
    )
    waits = [int(r.headers["Retry-After"]) for r in got[3:]]
    assert abs(waits[0] - waits[1]) <= 1
    assert {k: v for k, v in lean_answer[2].items() if k != "Retry-After"} == {
        k: v for k, v in drf_answer[2].items() if k != "Retry-After"
    }
    # A refused body is counted once, as DRF counts it (not once by each path).
    throttling.counters.clear()
    for _ in range(2):
        assert send(LEAN, {"use": "sell"}, secret=secret).status_code == 400
    assert send(LEAN, body, secret=secret).status_code == 200
    assert send(LEAN, body, secret=secret).status_code == 429
    throttling.counters.clear()


@pytest.mark.parametrize("url", [LEAN, DRF])
def test_idempotency_keys_are_each_licensees_own(allowed: dict[str, Any], url: str) -> None:
    body = {"use": "analyze", "item": {"isrc": ISRC}}
    first = send(url, body, secret=allowed["licensee"].secret, HTTP_IDEMPOTENCY_KEY="k-1")
    again = send(url, body, secret=allowed["licensee"].secret, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = caller(PartyKind.LICENSEE)
    theirs = send(url, body, secret=other.secret, HTTP_IDEMPOTENCY_KEY="k-1")
    assert theirs.status_code == 200
    assert theirs.json()["id"] != first.json()["id"]
    assert theirs.json()["request"] != first.json()["request"]
    reused = send(url, {**body, "use": "train"}, secret=allowed["licensee"].secret,
                  HTTP_IDEMPOTENCY_KEY="k-1")  # fmt: skip
    assert reused.status_code == 409
    assert reused.json()["fields"] == {"Idempotency-Key": ["reused with another body"]}
    assert Decision.objects.count() == 2


def test_an_idempotency_conflict_and_a_long_key_are_drfs(allowed: dict[str, Any]) -> None:
    body = {"use": "analyze", "item": {"isrc": ISRC}}
    secret = allowed["licensee"].secret
    assert send(LEAN, body, secret=secret, HTTP_IDEMPOTENCY_KEY="same").status_code == 200
    fast, slow = both({**body, "use": "train"}, secret=secret, HTTP_IDEMPOTENCY_KEY="same")
    assert fast.status_code == 409
    assert answer(fast) == answer(slow)
    fast, slow = both(body, secret=secret, HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert fast.status_code == 400
    assert "Idempotency-Key" in fast.json()["fields"]
    assert answer(fast) == answer(slow)


@pytest.mark.parametrize("accept", ["text/html", "application/json; indent=2", "image/png"])
def test_other_accept_headers_are_negotiated_by_drf(allowed: dict[str, Any], accept: str) -> None:
    body = {"use": "analyze", "item": {"isrc": "bad"}}
    fast, slow = both(body, secret=allowed["licensee"].secret, HTTP_ACCEPT=accept)
    if accept == "text/html":  # the browsable API's page, which names the URL it was sent to
        assert (fast.status_code, answer(fast)[2]) == (slow.status_code, answer(slow)[2])
        assert fast.headers["Content-Type"].startswith("text/html")
    else:
        assert answer(fast) == answer(slow)


def test_the_request_log_names_the_tokens_user(allowed: dict[str, Any]) -> None:
    # In place, as structlog.testing.capture_logs does: the loggers are cached on first use.
    processors = structlog.get_config()["processors"]
    saved = processors.copy()
    capture = LogCapture()
    processors[:] = [structlog.contextvars.merge_contextvars, capture]
    try:
        for url in (LEAN, DRF):
            send(url, {"use": "analyze", "item": {"isrc": ISRC}}, secret=allowed["licensee"].secret)
    finally:
        processors[:] = saved
    events = [e for e in capture.entries if e["event"] in ("request_started", "request_finished")]
    assert [e["event"] for e in events] == ["request_started", "request_finished"] * 2
    finished = events[1], events[3]
    user = str(allowed["licensee"].token.user.pk)
    assert [str(e.get("user_id")) for e in finished] == [user, user]
    assert [e["code"] for e in finished] == [200, 200]
    assert [e["request"] for e in finished] == [f"POST {LEAN}", f"POST {DRF}"]
    assert all(e.get("request_id") and "ip" in e for e in events)


def test_the_schema_of_the_check_is_the_drf_views() -> None:
    """The URLconf routes the lean view; the schema generated from it is the one generated
    with DRF's view routed instead (the whole schema, so no component changed either)."""
    drf_routed = [p for p in api_urls.urlpatterns if getattr(p, "name", "") != "checks"]
    drf_routed.append(path("checks/", CheckView.as_view(), name="checks"))  # last, not first
    assert any(getattr(p, "callback", None) is lean.check_view for p in api_urls.urlpatterns)

    def schema(patterns: list[Any]) -> dict[str, Any]:
        generator = SchemaGenerator(patterns=[path("api/v1/", include((patterns, "api")))])
        return generator.get_schema(request=None, public=True)  # type: ignore[no-any-return]

    lean_schema = schema(list(api_urls.urlpatterns))
    assert lean_schema == schema(drf_routed)
    operation = lean_schema["paths"]["/api/v1/checks/"]["post"]
    assert operation["operationId"] == "checks_create"
    assert set(operation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
