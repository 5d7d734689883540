"""``POST /api/v1/checks/`` on a path that skips DRF for the common check (issue 18: a check
measured as CPU per check).

:func:`check_view` is what the URLconf routes to. It answers a check itself only when the
request is the common one, all of it plain: a JSON body (UTF-8), an ``Api-Key``/``Bearer``
token that authenticates, a licensee's writer, an ``Accept`` that DRF would answer with JSON,
no query string, and a body whose every field is already in the form the input serializer
would return (a ``use`` that is one of the uses, an ``item`` object, ``territories`` a list of
short strings, ``commercial`` a boolean, ...). It then does what DRF's :class:`CheckView` does,
in the same order (authentication, the same token and its ``last_used_at``; the permission;
the ``Idempotency-Key``; the throttles; the item's and the terms' checks; the decision) and
answers the same bytes with the same headers.

Everything else goes to :class:`CheckView`, unchanged: no or another credential (sessions,
with their CSRF check), a token refused, an auditor or a party that is not a licensee,
multipart, a body that would fail validation or need DRF's coercions (``"true"`` for a
boolean, a date-time string), a throttled client. So every error body is DRF's own, by
construction: the lean path decides nothing it would have to word. Nothing it does before
handing over has an effect DRF would then repeat: the throttles are asked last, after every
check that can hand over but the throttles' own refusal (which records nothing), and a token's
``last_used_at`` is written at most once a minute whoever writes it.

The OpenAPI schema is :class:`CheckView`'s: :func:`check_view` carries the DRF view's
``cls`` and ``initkwargs``, which is what drf-spectacular reads from the URLconf.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, Final

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from rest_framework.renderers import JSONRenderer

from api.authentication import SCHEMES
from api.views.decisions import DecisionSerializer
from api.views.requests import IDEMPOTENCY_KEY_MAX, CheckView
from governance import jsontext
from governance.access import Actor
from governance.exceptions import GovernanceError
from governance.models import ApiToken, PartyKind, Role
from governance.services import api_token_touch, checks, request_specs
from governance.terms import USES
from ledger.exceptions import LedgerError

LEAN_BODY_MAX: Final = 64 * 1024
"""Bodies up to this many bytes may take the lean path (an identifier, a prompt, vectors);
larger ones (audio in base64) go to DRF's view."""

_drf_view: Final = CheckView.as_view()
_renderer: Final = JSONRenderer()
_ACCEPTED: Final = frozenset({"", "*/*", "application/json"})
_UTF8: Final = frozenset({"utf-8", "utf8"})
_USES: Final = frozenset(USES)
_TERMS: Final = frozenset(
    {
        "use",
        "model_name",
        "territories",
        "commercial",
        "period_start",
        "period_end",
        "callback_url",
        "item",
    }
)


def _headers() -> dict[str, str]:
    """The headers DRF's ``finalize_response`` gives every answer of :class:`CheckView`."""
    view = CheckView()
    return dict(view.default_response_headers)


_DRF_HEADERS: Final = _headers()


def check_view(request: HttpRequest) -> HttpResponse:
    answer = _lean_check(request)
    return _drf_view(request) if answer is None else answer


# drf-spectacular (and DRF's schema generator, and the tests that walk the URLconf) read the
# view class off the URLconf's callback: they see CheckView, so the schema is its own.
for _name in ("cls", "initkwargs", "view_class", "view_initkwargs", "csrf_exempt"):
    setattr(check_view, _name, getattr(_drf_view, _name))
check_view.__doc__ = CheckView.__doc__


def _lean_check(request: HttpRequest) -> HttpResponse | None:
    """The answer to a plain check, or None to hand the request to DRF's view."""
    meta = request.META
    if (
        request.method != "POST"
        or request.content_type != "application/json"
        or (request.encoding is not None and request.encoding.lower() not in _UTF8)
        or meta.get("QUERY_STRING")
        or meta.get("HTTP_ACCEPT", "") not in _ACCEPTED
    ):
        return None
    actor = _token_actor(meta.get("HTTP_AUTHORIZATION", ""))
    if actor is None:
        return None
    # party_kind_in(LICENSEE) (which refuses auditors too), then the service's require_kind
    # and require_writer: a refusal is DRF's to word.
    if actor.party.kind != PartyKind.LICENSEE or not actor.has_role(Role.EDITOR):
        return None
    key = meta.get("HTTP_IDEMPOTENCY_KEY") or None
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        return None
    # A body of known, small length only: ``request.body`` refuses one over Django's
    # DATA_UPLOAD_MAX_MEMORY_SIZE, which DRF's stream does not (an item's audio_base64).
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= LEAN_BODY_MAX:
        return None
    body = request.body
    try:
        data = jsontext.loads(body.decode())
    except (ValueError, UnicodeDecodeError):  # jsontext's refusals are ValueErrors too
        return None
    fields = _plain_fields(data)
    if fields is None:
        return None
    try:
        raw = fields["item"]
        # Only an item with vectors needs the spaces (a check by identifier skips the query).
        spaces = request_specs.spaces_by_name() if "vectors" in raw else {}
        item = request_specs.item_spec(raw, name="item", spaces=spaces)
        spec = request_specs.request_spec(fields)
    except GovernanceError:
        return None
    request.user = actor.user  # type: ignore[assignment]  # as DRF sets it: for the log
    if not _throttles_allow(request, actor):
        return None
    try:
        decision = checks.check_decide(
            actor=actor, spec=spec, item=item, now=timezone.now(), idempotency_key=key
        )
    except (GovernanceError, LedgerError) as exc:  # as api.errors.exception_handler answers
        from api.errors import error_body

        return _answer(error_body(exc.code, exc.message, exc.fields), exc.status)
    context = {"request": SimpleNamespace(_consentry_actor=actor)}
    return _answer(DecisionSerializer(decision, context=context).data, 200)


def _token_actor(header: str) -> Actor | None:
    """``ApiTokenAuthentication``'s actor when the header names a usable token, else None."""
    scheme, _, key = header.partition(" ")
    if scheme.lower() not in SCHEMES:
        return None
    key = key.strip()
    if not key or "." not in key:
        return None
    try:
        token = ApiToken.objects.get_from_key(key)
    except ApiToken.DoesNotExist:
        return None
    if token.has_expired or not token.user.is_active:
        return None
    api_token_touch(token=token, now=timezone.now())
    return Actor(user=token.user, party=token.party, role=token.effective_role, token=token)


def _plain_fields(data: Any) -> dict[str, Any] | None:
    """``CheckInputSerializer``'s validated data when ``data`` needs none of its coercions and
    fails none of its checks, else None (DRF then validates, and words any refusal)."""
    if not isinstance(data, dict) or not data.keys() <= _TERMS:
        return None
    use, item = data.get("use"), data.get("item")
    if not isinstance(use, str) or use not in _USES or not isinstance(item, dict):
        return None
    out: dict[str, Any] = {"use": use, "item": dict(item), "territories": [], "commercial": True}
    for name, value in data.items():
        check = _FIELDS.get(name)
        if check is not None:
            if not check(value):
                return None
            out[name] = _TRIM[name](value)
    return out


def _short(limit: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return isinstance(value, str) and len(value.strip()) <= limit

    return check


def _territories(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, str) and 0 < len(v.strip()) <= 3 for v in value
    )


_FIELDS: Final[Mapping[str, Callable[[Any], bool]]] = {
    "model_name": _short(200),
    "territories": _territories,
    "commercial": lambda v: isinstance(v, bool),
    "period_start": lambda v: v is None,
    "period_end": lambda v: v is None,
    "callback_url": lambda v: v == "",
}
_TRIM: Final[Mapping[str, Callable[[Any], Any]]] = {
    "model_name": str.strip,
    "territories": lambda v: [t.strip() for t in v],
    "commercial": bool,
    "period_start": lambda v: v,
    "period_end": lambda v: v,
    "callback_url": str,
}


class _ThrottledRequest:
    """What DRF's user and anonymous throttles read of a request."""

    __slots__ = ("META", "user")

    def __init__(self, request: HttpRequest, actor: Actor) -> None:
        self.META = request.META
        self.user = actor.user


def _throttles_allow(request: HttpRequest, actor: Actor) -> bool:
    """``APIView.check_throttles``: every throttle asked (each records a request it allows)."""
    shim = _ThrottledRequest(request, actor)
    allowed = True
    for throttle_class in CheckView.throttle_classes:
        if not throttle_class().allow_request(shim, None):  # type: ignore[arg-type]
            allowed = False
    return allowed


def _answer(data: Any, status: int) -> HttpResponse:
    response = HttpResponse(
        _renderer.render(data, "application/json"), status=status, content_type="application/json"
    )
    for name, value in _DRF_HEADERS.items():
        if name == "Vary":
            patch_vary_headers(response, [value])
        else:
            response[name] = value
    return response
