"""Callbacks: a completed request's result POSTed to the licensee's URL, signed with
HMAC-SHA256 under the licensee's callback secret, every attempt recorded.

Headers: ``Content-Type: application/json``, ``X-Consentry-Timestamp: <unix seconds>`` and
``X-Consentry-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` (the timestamp
inside the signed bytes stops replays of old bodies). The receiver recomputes it with the secret
from ``GET /api/v1/callback-secret/``.

A request whose review is settled is called back again with the settled state: the item's
``outcome``, ``code`` and ``reason`` as settled, and ``settlement`` (who, when, why; see
:func:`governance.services.reviews.settlement_json`).
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
from typing import Any

from django.conf import settings
from django.db import transaction

from governance.models import CallbackAttempt, Decision, Party, UseRequest
from governance.services import reviews

TIMEOUT = 10.0


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
    item: dict[str, Any] = {
        "item": d.item.position,
        "decision": str(d.pk),
        "outcome": d.final_outcome,
        "code": d.code if settled is None else settled.code,
        "reason": d.reason if settled is None else settled.reason,
        "obligations": d.obligations,
        "settlement": None if settled is None else reviews.settlement_json(settled),
    }
    return item


def callback_body(request: UseRequest) -> bytes:
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
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def callback_deliver(*, request_id: str, now: dt.datetime) -> int:
    """POST the result; record the attempt; raise :class:`CallbackFailed` to be retried."""
    request = UseRequest.objects.select_related("licensee").get(pk=request_id)
    if not request.callback_url:
        return 0
    body = callback_body(request)
    problem = callback_address_problem(request.callback_url)
    if problem is not None:  # recorded, not retried: the address will not become public
        CallbackAttempt.objects.create(
            request=request, attempt=CallbackAttempt.objects.filter(request=request).count() + 1,
            error=f"refused: {problem}"[:500], body_sha256=hashlib.sha256(body).hexdigest(),
            created_at=now,
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
    )
    if status is None or not 200 <= status < 300:
        raise CallbackFailed(f"callback {attempt} to {request.callback_url}: {error}")
    return status
