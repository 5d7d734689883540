"""The ledger explorer, for auditors and the public: the latest signed checkpoint, the entries
by index and by type, an entry's page and a decision's page, with receipts to download.

The pages show what the ledger's read API (``/ledger/...``, :mod:`api.views.ledger`) shows,
to whom it shows it: everyone, unless ``LEDGER_READ_REQUIRES_AUDITOR`` restricts the ledger
to auditors (then a member of an auditor party; others are sent to sign in, or refused); and
only entries covered by the latest signed checkpoint (a later entry is "not found" until it
is signed). A decision's explanation, which the API gives only to the parties concerned (its
licensee, its holders, auditors: ``selectors.decision_get``), is shown only to their
signed-in members, as the API discloses it to their party (:mod:`governance.disclosure`).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from governance import disclosure, explanation, selectors
from governance.access import Actor
from governance.exceptions import NotFound
from governance.models import Decision, Party, PartyKind, Work
from governance.services import reviews as review_services
from ledger import canonical, receipts
from ledger import selectors as ledger
from ledger.exceptions import LedgerNotFound
from ledger.models import Entry
from web.access import memberships
from web.views import page

PAGE_SIZE = 50
"""Entries listed on a page of the explorer."""

ENTRY_TYPES = (
    "party", "likeness", "work", "release", "rights_share", "rights_share_removed",
    "consent_rule", "consent_rule_withdrawn", "consent_matrix", "embedding_space",
    "work_embedding", "work_content", "voice_reference", "decision", "decision_settled",
    "rights_claim", "rights_claim_decided", "key",
)  # fmt: skip
"""The entry types docs/ledger.md lists, offered by the type filter (any well-formed type is
accepted in the address)."""

_DIGITS = re.compile(r"^(0|[1-9][0-9]{0,17})$")


def _ledger_readers_only(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """The ledger API's rule (``LedgerReadPermission``): everyone may read, unless
    ``LEDGER_READ_REQUIRES_AUDITOR``; then a signed-out visitor is sent to sign in and a
    signed-in member of no auditor party is refused (403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not ledger_readable(request):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("web:sign-in"))
            return auditors_only(request)
        return view(request, *args, **kwargs)

    return wrapped


def auditors_only(request: HttpRequest) -> HttpResponse:
    """The 403 page of a signed-in user who may not read the ledger here, saying why."""
    context = {
        "title": _("Not allowed"),
        "message": _("On this instance, the ledger is read by the members of auditor parties."),
        "status": 403,
    }
    return render(request, "web/error.html", context, status=403)


def ledger_readable(request: HttpRequest) -> bool:
    if not settings.LEDGER_READ_REQUIRES_AUDITOR:
        return True
    if not request.user.is_authenticated:
        return False
    return any(m.party.kind == PartyKind.AUDITOR for m in memberships(request))


def _hex_and_b64(data: bytes) -> dict[str, str]:
    return {"hex": data.hex(), "b64": base64.b64encode(data).decode()}


def _decoded(entry: Entry) -> dict[str, Any]:
    """An entry as the explorer shows it: its index, type, time, leaf hash and payload."""
    data = bytes(entry.data)
    try:
        decoded = canonical.decode_entry(data)
    except ValueError:  # the ledger accepts only canonical entries; shown raw if ever not
        return {"index": entry.index, "type": entry.kind, "time": None, "payload": None,
                "text": data.decode("utf-8", "replace"), "size": len(data),
                "leaf": _hex_and_b64(bytes(entry.leaf_hash))}  # fmt: skip
    payload = dict(decoded.payload)
    return {
        "index": entry.index, "type": decoded.kind, "time": decoded.time, "payload": payload,
        "text": data.decode(), "leaf": _hex_and_b64(bytes(entry.leaf_hash)), "size": len(data),
        "summary": _summary(decoded.kind, payload),
        "decision": payload.get("decision") if decoded.kind in ("decision", "decision_settled")
        else None,
    }  # fmt: skip


def _summary(kind: str, payload: dict[str, Any]) -> str:
    """A few words of what an entry says, for the list (the entry's page shows all of it)."""
    if kind == "decision":
        return (
            f"{payload.get('use', '')} → {payload.get('outcome', '')} ({payload.get('code', '')})"
        )
    if kind == "decision_settled":
        return f"→ {payload.get('outcome', '')} ({payload.get('code', '')})"
    for key in ("name", "title", "space", "event"):
        if isinstance(payload.get(key), str):
            return str(payload[key])
    if kind == "consent_rule":
        return f"{', '.join(payload.get('uses') or [])} → {payload.get('effect', '')}"
    return ""


@require_GET
@_ledger_readers_only
def explorer(request: HttpRequest) -> HttpResponse:
    """The latest signed checkpoint, the signing keys and the latest entries."""
    try:
        checkpoint = ledger.latest_checkpoint()
    except LedgerNotFound:
        checkpoint = None
    latest: list[dict[str, Any]] = []
    if checkpoint is not None:
        rows = Entry.objects.filter(index__lt=checkpoint.size).order_by("-index")[:10]
        latest = [_decoded(e) for e in rows]
    context = {
        "checkpoint": checkpoint,
        "root": _hex_and_b64(bytes(checkpoint.root_hash)) if checkpoint else None,
        "keys": ledger.keys_list(),
        "latest": latest,
    }
    return page(request, "web/explorer/home.html", context)


def _index_param(request: HttpRequest, name: str, errors: dict[str, str]) -> int | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    if not _DIGITS.match(raw):
        errors[name] = _("%(name)s must be an entry index: a whole number from 0.") % {"name": name}
        return None
    return int(raw)


@require_GET
@_ledger_readers_only
def entries(request: HttpRequest) -> HttpResponseBase:
    """Entries newest first, ``PAGE_SIZE`` a page, of one type or all, up to the signed size:
    ``?before=N`` (older than N), ``?after=N`` (newer than N), ``?type=T``; ``?go=N`` opens
    entry N."""
    errors: dict[str, str] = {}
    kind = request.GET.get("type", "")
    if kind:
        try:
            canonical.validate_kind(kind)
        except ValueError:
            errors["type"] = _("type must be an entry type such as decision or consent_rule.")
            kind = ""
    go = _index_param(request, "go", errors)
    before = _index_param(request, "before", errors)
    after = _index_param(request, "after", errors)
    if before is not None and after is not None:
        errors["after"] = _("Give before or after, not both.")
    signed = ledger.signed_size()
    if go is not None and not errors:
        if go >= signed:
            errors["go"] = _(
                "Entry %(index)s is not in the signed log, which has %(size)s entries."
            ) % {"index": go, "size": signed}
        else:
            return redirect("web:ledger-entry", index=go)
    rows: list[dict[str, Any]] = []
    newer = older = None
    if not errors:
        found = Entry.objects.filter(index__lt=signed)
        if kind:
            found = found.filter(kind=kind)
        if after is not None:
            ascending = list(found.filter(index__gt=after).order_by("index")[: PAGE_SIZE + 1])
            more_newer = len(ascending) > PAGE_SIZE
            page_rows = ascending[:PAGE_SIZE][::-1]
            more_older = found.filter(index__lte=after).exists()
        else:
            found_page = found.filter(index__lt=before) if before is not None else found
            descending = list(found_page.order_by("-index")[: PAGE_SIZE + 1])
            more_older = len(descending) > PAGE_SIZE
            page_rows = descending[:PAGE_SIZE]
            more_newer = before is not None and found.filter(index__gte=before).exists()
        rows = [_decoded(e) for e in page_rows]
        if rows and more_newer:
            newer = rows[0]["index"]
        if rows and more_older:
            older = rows[-1]["index"]
    context = {
        "rows": rows, "errors": errors, "kind": kind, "signed": signed,
        "types": ENTRY_TYPES if not kind or kind in ENTRY_TYPES else (*ENTRY_TYPES, kind),
        "newer": newer, "older": older,
    }  # fmt: skip
    return page(request, "web/explorer/entries.html", context, status=400 if errors else 200)


def _signed_entry(index: int) -> Entry:
    """Entry ``index`` if the latest signed checkpoint covers it (404 otherwise, as for an
    entry that does not exist: the ledger's API serves no entry beyond it)."""
    if index >= ledger.signed_size():
        raise Http404(_("No entry %(index)s in the signed log.") % {"index": index})
    try:
        return ledger.entry_get(index=index)
    except LedgerNotFound:
        raise Http404(_("No entry %(index)s in the signed log.") % {"index": index}) from None


@require_GET
@_ledger_readers_only
def entry(request: HttpRequest, index: int) -> HttpResponse:
    """One entry: its type, time, payload (committed fields as their commitments), its bytes
    and leaf hash, its receipt, and a link to check it from the tiles in the browser."""
    found = _decoded(_signed_entry(index))
    context = {
        "entry": found,
        "payload_json": json.dumps(found["payload"], indent=2, ensure_ascii=False, sort_keys=True),
        "previous": index - 1 if index > 0 else None,
        "next": index + 1 if index + 1 < ledger.signed_size() else None,
    }
    return page(request, "web/explorer/entry.html", context)


def _json_download(data: dict[str, Any], filename: str) -> HttpResponse:
    response = HttpResponse(json.dumps(data, indent=2) + "\n", content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@_ledger_readers_only
def entry_receipt(request: HttpRequest, index: int) -> HttpResponse:
    """The receipt of a signed entry, to download (what ``GET /ledger/entries/<i>`` serves,
    without the decoded copy), against the latest checkpoint."""
    _signed_entry(index)
    return _json_download(
        receipts.receipt_for(index=index), f"consentry-entry-{index}-receipt.json"
    )


def _concerned(request: HttpRequest, decision_id: uuid.UUID) -> tuple[Actor, Decision] | None:
    """The signed-in user acting for the first of their parties (by name) that may read the
    decision through the API (its licensee, a holder, an auditor), or ``None``."""
    if not request.user.is_authenticated:
        return None
    for m in memberships(request):
        actor = Actor(user=request.user, party=m.party, role=m.role)
        try:
            return actor, selectors.decision_get(actor=actor, decision_id=decision_id)
        except NotFound:
            continue
    return None


def _public_entries(decision: Decision) -> tuple[Entry | None, Entry | None]:
    """The decision's ledger entry and its settlement's, each only if the latest signed
    checkpoint covers it."""
    signed = ledger.signed_size()
    found: list[Entry | None] = []
    for leaf in (decision.leaf_hash, decision.settled_leaf_hash):
        index = None if leaf is None else ledger.entry_index_by_leaf_hash(leaf_hash=bytes(leaf))
        found.append(
            ledger.entry_get(index=index) if index is not None and index < signed else None
        )
    return found[0], found[1]


def _names(payload: dict[str, Any]) -> dict[str, str]:
    """Names of the parties and titles of the works a decision entry names by id."""
    ids = {str(payload.get("licensee", ""))}
    works = [str(w.get("work", "")) for w in payload.get("works", []) if isinstance(w, dict)]
    artists = [str(a.get("artist", "")) for a in payload.get("artists", []) if isinstance(a, dict)]
    ids |= set(artists)
    valid = [i for i in ids | set(works) if _is_uuid(i)]
    names = {str(p): n for p, n in Party.objects.filter(pk__in=valid).values_list("pk", "name")}
    names |= {str(w): t for w, t in Work.objects.filter(pk__in=valid).values_list("pk", "title")}
    return names


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@require_GET
def decision(request: HttpRequest, decision_id: uuid.UUID) -> HttpResponse:
    """A decision: what the ledger says of it publicly (its entry, and its settlement's), and,
    for a member of a party concerned, its explanation as the API gives it to that party."""
    concerned = _concerned(request, decision_id)
    readable = ledger_readable(request)
    if concerned is None and not readable:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("web:sign-in"))
        return auditors_only(request)
    found = concerned[1] if concerned else Decision.objects.filter(pk=decision_id).first()
    entry_row, settled_row = _public_entries(found) if found is not None else (None, None)
    if concerned is None and entry_row is None:
        raise Http404(_("No decision with that id in the signed log."))
    shown = _decoded(entry_row) if entry_row is not None else None
    settled = _decoded(settled_row) if settled_row is not None else None
    payload = shown["payload"] if shown and shown["payload"] else {}
    context: dict[str, Any] = {
        "decision_id": decision_id, "entry": shown, "settled": settled, "payload": payload,
        "settled_payload": settled["payload"] if settled else None,
        "explained": None, "as_party": None,
    }  # fmt: skip
    names = _names(payload)
    context["licensee_name"] = names.get(str(payload.get("licensee")), "")
    context["works"] = [
        {"id": str(w.get("work")), "title": names.get(str(w.get("work")), "")}
        for w in payload.get("works", [])
        if isinstance(w, dict)
    ]
    if concerned is not None:
        actor, d = concerned
        language = "fr" if (get_language() or "en").startswith("fr") else "en"
        settlement_obj = review_services.decision_settlement(d)
        settlement = (
            None if settlement_obj is None else review_services.settlement_json(settlement_obj)
        )
        trace = disclosure.trace_for(d.trace, viewer=actor.viewer)
        notes = selectors.decision_rule_notes(actor=actor, decision=d)
        context |= {
            "as_party": actor.party,
            "outcome": d.final_outcome,
            "summary": explanation.summary(trace, language=language, settlement=settlement),
            "explained": explanation.explain(
                trace, language=language, settlement=settlement, notes=notes
            ),
            "created_at": d.created_at,
            "licensee": d.request.licensee.name,
            "use": d.request.use,
        }
    return page(request, "web/explorer/decision.html", context)


@require_GET
def decision_receipt(request: HttpRequest, decision_id: uuid.UUID) -> HttpResponse:
    """The decision's receipt to download: for a member of a party concerned, the API's
    (``GET /api/v1/decisions/<id>/receipt/``: a settled review's settlement, the decision
    nested); for anyone else who may read the ledger, the same built from the signed entries
    alone (the decision's entry; its settlement's once signed)."""
    concerned = _concerned(request, decision_id)
    name = f"consentry-decision-{decision_id}-receipt.json"
    if concerned is not None:
        d = concerned[1]
        settled = d.settled_leaf_hash
        try:
            made = receipts.receipt_for_leaves(
                leaf_hash=bytes(d.leaf_hash),
                superseding=None if settled is None else bytes(settled),
            )
        except LedgerNotFound:
            raise Http404(_("The decision is not in the ledger yet; retry shortly.")) from None
        return _json_download(made, name)
    if not ledger_readable(request):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("web:sign-in"))
        return auditors_only(request)
    found = Decision.objects.filter(pk=decision_id).first()
    entry_row, settled_row = _public_entries(found) if found is not None else (None, None)
    if entry_row is None:
        raise Http404(_("No decision with that id in the signed log."))
    if settled_row is not None:
        made = receipts.receipt_for(index=settled_row.index, supersedes=entry_row.index)
    else:
        made = receipts.receipt_for(index=entry_row.index)
    return _json_download(made, name)


urlpatterns = [
    path("explorer/", explorer, name="ledger-explorer"),
    path("explorer/entries/", entries, name="ledger-entries"),
    path("explorer/entries/<int:index>/", entry, name="ledger-entry"),
    path("explorer/entries/<int:index>/receipt.json", entry_receipt, name="ledger-entry-receipt"),
    path("explorer/decisions/<uuid:decision_id>/", decision, name="ledger-decision"),
    path(
        "explorer/decisions/<uuid:decision_id>/receipt.json",
        decision_receipt,
        name="ledger-decision-receipt",
    ),
]
