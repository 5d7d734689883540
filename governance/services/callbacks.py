"""Callbacks: a completed request's result POSTed to the licensee's URL, signed with
HMAC-SHA256 under the licensee's callback secret, every attempt recorded.

Headers: ``Content-Type: application/json``, ``X-Consentry-Timestamp: <unix seconds>`` and
``X-Consentry-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` (the timestamp
inside the signed bytes stops replays of old bodies). The receiver recomputes it with the secret
from ``GET /api/v1/callback-secret/``.

Each callback is an event (``RequestEvent``), recorded once when it happens with its body as
it was then, and delivered through the outbox: ``request.completed`` (the request is decided),
``request.settled`` (a review on it was settled: the item's ``outcome``, ``code`` and
``reason`` as settled, and ``settlement``, who, when, why; see
:func:`governance.services.settlements.settlement_json`) and ``consent.withdrawn`` (a rule
version that allowed some of its decisions was withdrawn or narrowed: which decisions and
works), and each step of a dispute of one of its decisions (``dispute.opened``,
``dispute.answered``, ``dispute.escalated``, ``appeal.opened``, ``appeal.decided``: the
decision's outcome now and the dispute, :func:`governance.services.disputes.dispute_json`).
The body carries ``event`` (its id) and ``type``; the headers ``X-Consentry-Event``
(the same id: the retries of one event share it) and ``X-Consentry-Delivery`` (each attempt's
own id). docs/callbacks.md says how to receive them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from governance.access import Actor
from governance.models import (
    CallbackAttempt,
    Decision,
    Party,
    PartyKind,
    RequestEvent,
    Role,
    UseRequest,
)
from governance.services import settlements as reviews
from governance.services.outbox import job_enqueue
from ledger import canonical

log = structlog.get_logger("consentry.callbacks")
TIMEOUT = 10.0
EVENT_TYPES = (
    "request.completed",
    "request.settled",
    "consent.withdrawn",
    "dispute.opened",
    "dispute.answered",
    "dispute.escalated",
    "appeal.opened",
    "appeal.decided",
)


class CallbackFailed(Exception):
    """The receiver did not take the callback (network error or non-2xx): retry later."""


def callback_address_problem(url: str) -> str | None:
    """Why ``url`` may not be called back (its host resolves to a loopback, private,
    link-local, multicast or reserved address: server-side request forgery), or None. Checked
    at submission and again before each delivery, since a name can be re-pointed."""
    if settings.CALLBACK_ALLOW_PRIVATE:
        return None
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return "the URL has no host"
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return f"host {parts.hostname!r} does not resolve ({exc})"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            return f"host {parts.hostname!r} resolves to {address}, which is not a public address"
    return None


def callback_secret_rotate(*, actor: Actor) -> str:
    """A new callback signing secret for the acting licensee (its admins only); the old one
    stops signing at once (a delivery retried after this is signed with the new one)."""
    action = "Rotating the callback secret"
    actor.require_kind(PartyKind.LICENSEE, action=action)
    actor.require_writer(action=action)
    actor.require_role(Role.ADMIN, action=action)
    party = actor.party
    with transaction.atomic():
        locked = Party.objects.select_for_update().get(pk=party.pk)
        locked.callback_secret = secrets.token_hex(32)
        locked.save(update_fields=["callback_secret"])
    party.callback_secret = locked.callback_secret
    return party.callback_secret


def callback_secret(*, party: Party) -> str:
    """The party's callback signing secret, made on first use."""
    if not party.callback_secret:
        with transaction.atomic():
            locked = Party.objects.select_for_update().get(pk=party.pk)
            if not locked.callback_secret:
                locked.callback_secret = secrets.token_hex(32)
                locked.save(update_fields=["callback_secret"])
            party.callback_secret = locked.callback_secret
    return party.callback_secret


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _callback_item(d: Decision) -> dict[str, Any]:
    """An item as the callback carries it: a settled review with its settled code and reason,
    and who settled it, when and why (``settlement``, null for any other decision)."""
    settled = reviews.decision_settlement(d)
    code, reason = reviews.read_as(d)
    item: dict[str, Any] = {
        "item": d.item.position,
        "decision": str(d.pk),
        "outcome": d.final_outcome,
        "code": code,
        "reason": reason,
        "obligations": d.final_obligations,
        "settlement": None if settled is None else reviews.settlement_json(settled),
    }
    return item


def callback_document(request: UseRequest) -> dict[str, Any]:
    """The request's state as a callback carries it (its first 1,000 items)."""
    items = [
        _callback_item(d)
        for d in Decision.objects.filter(request=request)
        .select_related("item")
        .prefetch_related(reviews.REVIEWS_PREFETCH)
        .order_by("item__position")[:1000]
    ]
    document: dict[str, Any] = {
        "request": str(request.pk),
        "status": request.status,
        "outcome": request.outcome,
        "summary": request.summary,
        "items": items,
        "items_truncated": request.item_count > len(items),
    }
    return document


def callback_body(request: UseRequest) -> bytes:
    """The request's state now, as canonical JSON bytes (what a ``request.*`` event records)."""
    return json.dumps(callback_document(request), separators=(",", ":"), sort_keys=True).encode()


def event_record(
    *,
    request: UseRequest,
    kind: str,
    now: dt.datetime,
    body: dict[str, Any] | None = None,
    deliver: bool = True,
) -> RequestEvent:
    """Record event ``kind`` of ``request`` with its body as it is now (``body``, else the
    request's state), and, if the request has a callback URL, enqueue its delivery through the
    outbox (in the caller's transaction). Every delivery of it sends this body."""
    event_id = uuid.uuid4()
    document = {
        **(callback_document(request) if body is None else body),
        "event": str(event_id),
        "type": kind,
        "created_at": canonical.format_time(now),
    }
    event = RequestEvent.objects.create(
        id=event_id, request=request, kind=kind, body=document, created_at=now
    )
    if deliver and request.callback_url:
        job_enqueue(
            task="governance.deliver_callback", args=[str(request.pk), str(event.pk)], now=now
        )
    return event


def event_bytes(event: RequestEvent) -> bytes:
    return json.dumps(event.body, separators=(",", ":"), sort_keys=True).encode()


def _event_of(request: UseRequest, event_id: str | None, now: dt.datetime) -> RequestEvent:
    """The event to deliver: ``event_id``; without it (a job enqueued before events were
    recorded), the request's latest event, recorded now if it has none."""
    if event_id is not None:
        return RequestEvent.objects.get(pk=event_id, request=request)
    latest = RequestEvent.objects.filter(request=request).order_by("-created_at", "-id").first()
    return latest or event_record(request=request, kind="request.completed", now=now, deliver=False)


ALLOWING = ("allow", "conditional")


def rule_decisions_allowed(*, rule_id: str) -> Any:
    """The decisions that a version of rule ``rule_id`` answered for a holder and that allow
    (or allowed on review): those its withdrawal or narrowing concerns."""
    decided_by = {"works": [{"rights": [{"holders": [{"rule": {"id": rule_id}}]}]}]}
    return (
        Decision.objects.filter(trace__contains=decided_by)
        .filter(
            Q(resolved_outcome__in=ALLOWING)
            | Q(resolved_outcome="", settled_outcome__in=ALLOWING)
            | Q(resolved_outcome="", settled_outcome="", outcome__in=ALLOWING)
        )
        .select_related("item", "request")
        .order_by("request_id", "item__position")
    )


def consent_withdrawn_notify(
    *, decisions: Any, rule_id: str, version: int, change: str, now: dt.datetime
) -> int:
    """Tell each licensee whose ``decisions`` relied on rule ``rule_id`` (its versions up to
    ``version``) that it no longer holds (``change``: ``withdrawn`` or ``narrowed``): one
    ``consent.withdrawn`` event per request, on its status page and, with a callback URL,
    delivered through the outbox. The decisions stand as ledgered (they answered for their
    time); a new request is decided under the rules in force. How many requests were told."""
    by_request: dict[Any, list[Decision]] = defaultdict(list)
    requests: dict[Any, UseRequest] = {}
    for d in decisions:
        by_request[d.request_id].append(d)
        requests[d.request_id] = d.request
    for request_id, affected in by_request.items():
        body = {
            "request": str(request_id),
            "rule": rule_id,
            "version": version,
            "change": change,
            "at": canonical.format_time(now),
            "decisions": [str(d.pk) for d in affected],
            "items": [d.item.position for d in affected],
            "works": sorted({str(w) for d in affected for w in d.works}),
        }
        event_record(request=requests[request_id], kind="consent.withdrawn", now=now, body=body)
    return len(by_request)


def callback_deliver(*, request_id: str, now: dt.datetime, event_id: str | None = None) -> int:
    """POST event ``event_id`` of the request (its latest without one); record the attempt
    with its own delivery id; raise :class:`CallbackFailed` to be retried."""
    request = UseRequest.objects.select_related("licensee").filter(pk=request_id).first()
    if request is None:  # a job of another database's (a broker shared with a test run)
        log.warning("callback_for_unknown_request", request=request_id, event_id=event_id)
        return 0
    if not request.callback_url:
        return 0
    event = _event_of(request, event_id, now)
    body = event_bytes(event)
    delivery = uuid.uuid4()
    problem = callback_address_problem(request.callback_url)
    if problem is not None:  # recorded, not retried: the address will not become public
        CallbackAttempt.objects.create(
            request=request, attempt=CallbackAttempt.objects.filter(request=request).count() + 1,
            error=f"refused: {problem}"[:500], body_sha256=hashlib.sha256(body).hexdigest(),
            created_at=now, event=event, delivery=delivery,
        )  # fmt: skip
        return 0
    timestamp = int(now.timestamp())
    signature = sign(secret=callback_secret(party=request.licensee), timestamp=timestamp, body=body)
    attempt = CallbackAttempt.objects.filter(request=request).count() + 1
    http = urllib.request.Request(  # noqa: S310 - http(s) checked at submission
        request.callback_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "consentry-callback/1",
            "X-Consentry-Timestamp": str(timestamp),
            "X-Consentry-Signature": signature,
            "X-Consentry-Event": str(event.pk),
            "X-Consentry-Delivery": str(delivery),
        },
    )
    status: int | None = None
    error = ""
    try:
        with urllib.request.urlopen(http, timeout=TIMEOUT) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        error = str(getattr(exc, "reason", exc)) or type(exc).__name__
    CallbackAttempt.objects.create(
        request=request,
        attempt=attempt,
        status_code=status,
        error=error[:500],
        body_sha256=hashlib.sha256(body).hexdigest(),
        created_at=now,
        event=event,
        delivery=delivery,
    )
    if status is None or not 200 <= status < 300:
        raise CallbackFailed(f"callback {attempt} to {request.callback_url}: {error}")
    return status
