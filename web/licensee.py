"""The licensee's pages: submit a use request (identifiers typed in, or a manifest file), follow
it as its items are decided, read each item's outcome and why, download the results (JSON
Lines and CSV) and the ledger receipts, and the callback secret.

Everything goes through what the API calls: ``governance.services.requests.use_request_submit``
(the same validation, the same ``Idempotency-Key`` semantics: a key per form, so a double
click stores one request), ``governance.selectors`` (a request of another party is a 404),
``governance.services.results`` (the rows of ``GET /api/v1/use-requests/<id>/results/``),
``ledger.receipts`` (the receipt of ``GET /api/v1/decisions/<id>/receipt/``) and
``governance.services.callbacks`` (the callback secret and its rotation). The pages are for
licensee parties: another party's member gets 403 with the reason, as the API answers.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.paginator import Paginator
from django.forms.utils import ErrorDict
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import path
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from governance import explanation, selectors
from governance.access import Actor
from governance.disclosure import trace_for
from governance.exceptions import Conflict, GovernanceError, PermissionDenied
from governance.models import Decision, PartyKind, RequestItem, RequestStatus, Role, UseRequest
from governance.models.requests import OUTCOMES
from governance.services import callbacks, manifests, settlements
from governance.services import requests as request_services
from governance.services.request_specs import MAX_ITEMS, REFERENCE_KEYS
from governance.services.results import results_csv, results_jsonl
from governance.terms import USES
from ledger import receipts
from ledger.exceptions import LedgerError
from web.access import party_actor
from web.consent import USE_WORDS
from web.views import page

ITEMS_SHOWN = 100
"""Items on one page of a request, in item order."""
REQUESTS_SHOWN = 50
"""Requests on one page of the list."""
RECEIPTS_MAX = 1000
"""Items whose receipts one download bundles; a larger request's receipts are read one by one
(each from its item's row, or ``GET /api/v1/decisions/<id>/receipt/``)."""

OUTCOME_WORDS = {
    "allow": gettext_lazy("Allowed"),
    "conditional": gettext_lazy("Allowed with conditions"),
    "deny": gettext_lazy("Refused"),
    "review": gettext_lazy("Waiting for a rights holder's answer"),
    "no_match": gettext_lazy("No match"),
    "error": gettext_lazy("Error"),
}
STATUS_WORDS = {
    RequestStatus.RECEIVED: gettext_lazy("Received"),
    RequestStatus.PROCESSING: gettext_lazy("Being decided"),
    RequestStatus.COMPLETED: gettext_lazy("Decided"),
}
KIND_WORDS = {
    "items": gettext_lazy("Identifiers"),
    "manifest": gettext_lazy("Manifest"),
    "check": gettext_lazy("Check"),
}
LIST_KINDS = {"requests": ("items", "manifest"), "checks": ("check",)}
"""The list's ``?kind=``, as the API's: requests (identifiers or a manifest), or checks."""


def _language() -> str:
    return "fr" if (get_language() or "en").startswith("fr") else "en"


def _refused(request: HttpRequest, actor: Actor, message: str) -> HttpResponse:
    context = {"title": _("Not allowed"), "message": message, "status": 403}
    return page(request, "web/error.html", context, actor=actor, status=403)


def _licensee(request: HttpRequest, party_id: uuid.UUID) -> tuple[Actor, str | None]:
    """The user acting for ``party_id`` (404 if not a member) and, for a party that is not a
    licensee, why these pages are not for it."""
    actor = party_actor(request, party_id)
    if actor.party.kind != PartyKind.LICENSEE:
        why = _("Use requests are for licensees: %(name)s is not a licensee.")
        return actor, why % {"name": actor.party.name}
    return actor, None


# ---------------------------------------------------------------------------------------------
# Submitting
# ---------------------------------------------------------------------------------------------


class ManifestUploadHandler(TemporaryFileUploadHandler):
    """The manifest's bytes and lines counted as they arrive, refused at the first chunk past
    ``governance.services.manifests``'s limits (its size: 413; its lines: 400), before a line
    is parsed: the limits ``POST /api/v1/use-requests/`` applies (``api/uploads.py``)."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received, self.newlines, self.limit = 0, 0, 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received, self.newlines, self.limit = 0, 0, 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if not self.limit:  # the first chunk tells JSON Lines from CSV
            jsonl = manifests.manifest_is_jsonl(filename=self.file_name or "", head=raw_data[:64])
            self.limit = manifests.manifest_max_lines(jsonl=jsonl)
        self.received += len(raw_data)
        self.newlines += raw_data.count(b"\n")
        if self.received > manifests.MANIFEST_MAX_BYTES:
            self.file.close()
            raise manifests.manifest_too_many_bytes()
        if self.newlines > self.limit:
            self.file.close()
            raise manifests.manifest_too_many_lines(line=self.limit + 1)
        return super().receive_data_chunk(raw_data, start)


def _use_choices() -> list[tuple[str, Any]]:
    return [(u, format_lazy("{} — {}", u, USE_WORDS[u][1])) for u in USES]


class UseRequestForm(forms.Form):
    """A use request's items (identifiers, or a manifest) and its terms, as the API takes them;
    ``key`` is the form's ``Idempotency-Key``."""

    identifiers = forms.CharField(
        label=gettext_lazy("Identifiers, one per line"),
        help_text=gettext_lazy(
            "ISRC (recordings), ISWC (compositions), UPC/EAN (releases) or a Consentry work id, "
            "up to 1,000. Write isrc:, iswc:, upc: or work_id: before one to say which it is."
        ),
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        required=False,
    )
    manifest = forms.FileField(
        label=gettext_lazy("Or a manifest file"),
        help_text=gettext_lazy(
            "CSV with an isrc, iswc, upc or work_id column, or JSON Lines with one item a line "
            "(an identifier, vectors, a fingerprint, text or lyrics), up to 1,000,000 items."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.jsonl,.ndjson,.txt"}),
        required=False,
    )
    use = forms.ChoiceField(label=gettext_lazy("The use"), choices=_use_choices)
    territories = forms.CharField(
        label=gettext_lazy("Territories of use"),
        help_text=gettext_lazy("ISO country codes, e.g. FR DE; empty for worldwide."),
        max_length=1000,
        required=False,
    )
    commercial = forms.ChoiceField(
        label=gettext_lazy("Commercial use?"),
        choices=[("yes", gettext_lazy("Commercial")), ("no", gettext_lazy("Not commercial"))],
        widget=forms.RadioSelect,
        initial="yes",
    )
    period_start = forms.DateField(
        label=gettext_lazy("First day of use"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        required=False,
    )
    PERIOD_HELP = gettext_lazy(
        "Days in UTC. Neither: the use now. Only the first: from then on. Only the last: "
        "from now until then."
    )
    period_end = forms.DateField(
        label=gettext_lazy("Last day of use"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        required=False,
    )
    model_name = forms.CharField(
        label=gettext_lazy("Model name (optional)"), max_length=200, required=False
    )
    callback_url = forms.URLField(
        label=gettext_lazy("Callback URL (optional)"),
        help_text=gettext_lazy("Called when every item is decided, signed with your secret."),
        max_length=500,
        required=False,
        assume_scheme="https",
    )
    key = forms.UUIDField(widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        typed = bool(str(data.get("identifiers") or "").strip())
        if typed and data.get("manifest"):
            self.add_error("manifest", _("Give identifiers or a manifest, not both."))
        elif not typed and not data.get("manifest") and "manifest" not in self.errors:
            self.add_error("identifiers", _("Type at least one identifier, or choose a manifest."))
        return data

    def terms(self) -> dict[str, Any]:
        """The request's terms, as the API's serializer hands them to the service (days as
        times in UTC: the first day from its start, the last day to its end)."""
        data = self.cleaned_data
        start, end = data.get("period_start"), data.get("period_end")
        return {
            "use": data["use"],
            "territories": str(data.get("territories") or ""),
            "commercial": data["commercial"] == "yes",
            "model_name": str(data.get("model_name") or ""),
            "period_start": None if start is None else _midnight(start),
            "period_end": None if end is None else _midnight(end + dt.timedelta(days=1)),
            "callback_url": str(data.get("callback_url") or ""),
        }


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


_ISWC = re.compile(r"^T[\d.\-\s]+$", re.IGNORECASE)
_DIGITS = re.compile(r"^[\d\s\-]+$")


def identifier_items(text: str) -> tuple[list[dict[str, str]], list[int]]:
    """The items of typed identifiers, one a line, and each item's line number. A line may say
    what it is (``isrc:``, ``iswc:``, ``upc:``, ``work_id:``); else a UUID is a work id, a
    ``T`` and digits an ISWC, digits alone a UPC/EAN, anything else an ISRC (which the service
    checks, naming the line). Blank lines and lines starting with ``#`` are skipped."""
    items, lines = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        scheme, _sep, rest = line.partition(":")
        if scheme.strip().lower() in REFERENCE_KEYS and rest.strip():
            key, value = scheme.strip().lower(), rest.strip()
        else:
            key, value = _scheme_of(line), line
        items.append({key: value})
        lines.append(number)
    return items, lines


def _scheme_of(value: str) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        pass
    else:
        return "work_id"
    if _ISWC.match(value):
        return "iswc"
    if _DIGITS.match(value):
        return "upc"
    return "isrc"


def _show_refusal(form: UseRequestForm, exc: GovernanceError, *, lines: list[int]) -> None:
    """The service's refusal on the form, each reason on the field it names: an item of the
    typed identifiers on their field with its line, the request's terms on theirs."""
    for name, reasons in (exc.fields or {"": [exc.message]}).items():
        field: str | None = name if name in form.fields and name != "key" else None
        parts = name.split(".")
        if parts[0] == "items" and len(parts) > 1 and parts[1].isdigit() and lines:
            line = lines[min(int(parts[1]), len(lines) - 1)]
            said = _("Line %(line)s: %(reason)s")
            reasons = [said % {"line": line, "reason": r} for r in reasons]
            field = "identifiers"
        elif parts[0] == "items":
            field = "identifiers" if lines else "manifest"
        for reason in reasons:
            form.add_error(field, reason)


@csrf_exempt  # checked below (_submit), once the manifest's upload handler is in place
@login_required
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest, party_id: uuid.UUID) -> HttpResponseBase:
    """The form of a new use request; a POST submits it through the service the API calls."""
    actor, refusal = _licensee(request, party_id)
    if refusal:
        return _refused(request, actor, refusal)
    if request.method == "POST":
        # Counted as it arrives, as the API does; Django's CSRF check reads the body, so the
        # handler must be in place first, and the check runs after it (csrf_protect).
        request.upload_handlers = [ManifestUploadHandler(request)]
        try:
            return _submit(request, actor=actor)
        except GovernanceError as exc:  # the manifest refused while it arrived: nothing stored
            form = UseRequestForm(initial={"key": uuid.uuid4()})
            # A new form, unbound (what was sent is not read), showing the reason.
            form._errors = ErrorDict()  # type: ignore[attr-defined]  # Django's, not in the stubs
            form.cleaned_data = {}
            _show_refusal(form, exc, lines=[])
            return _form_page(request, actor, form, status=exc.status)
    return _form_page(request, actor, UseRequestForm(initial={"key": uuid.uuid4()}))


@csrf_protect
def _submit(request: HttpRequest, *, actor: Actor) -> HttpResponseBase:
    form = UseRequestForm(request.POST, request.FILES)
    if not form.is_valid():
        if "key" in form.errors:  # the form's hidden key lost or changed: a new one
            form = _with_a_new_key(request)
            form.add_error(None, _("The form was incomplete: check it and send it again."))
        return _form_page(request, actor, form, status=400)
    key = f"web-{form.cleaned_data['key']}"
    manifest = form.cleaned_data.get("manifest")
    items, lines = identifier_items(str(form.cleaned_data.get("identifiers") or ""))
    if manifest is None and len(items) > MAX_ITEMS:
        form.add_error("identifiers", _("At most 1,000 identifiers: put more in a manifest."))
        return _form_page(request, actor, form, status=400)
    terms = form.terms()
    try:
        if manifest is not None:
            use_request, _created = request_services.use_request_submit(
                actor=actor, fields=terms, manifest=manifest.file,
                manifest_name=manifest.name or "", idempotency_key=key, now=timezone.now(),
            )  # fmt: skip
        else:
            terms["territories"] = terms["territories"].replace(",", " ").split()
            use_request, _created = request_services.use_request_submit(
                actor=actor, fields=terms, items=items, idempotency_key=key, now=timezone.now()
            )
    except PermissionDenied as exc:
        return _refused(request, actor, exc.message)
    except Conflict:
        # This form's key stored another request (the form sent again, changed): a new key.
        form = _with_a_new_key(request)
        form.add_error(None, _("This form was already sent with other content: send it again."))
        return _form_page(request, actor, form, status=409)
    except GovernanceError as exc:
        _show_refusal(form, exc, lines=[] if manifest is not None else lines)
        return _form_page(request, actor, form, status=exc.status)
    return redirect("web:licensee-request", party_id=actor.party.pk, request_id=use_request.pk)


def _with_a_new_key(request: HttpRequest) -> UseRequestForm:
    """The form as sent, with a new ``Idempotency-Key``, validated."""
    data = request.POST.copy()
    data["key"] = str(uuid.uuid4())
    form = UseRequestForm(data, request.FILES)
    form.is_valid()
    return form


def _form_page(
    request: HttpRequest, actor: Actor, form: UseRequestForm, *, status: int = 200
) -> HttpResponse:
    for name in ("period_start", "period_end"):  # their help is their fieldset's
        form.fields[name].widget.attrs["aria-describedby"] = "period_helptext"
    for name in form.errors:  # a field's reason is read with it (Django adds its help's id)
        if name in form.fields:
            bound = form[name]
            ids = [f"{bound.auto_id}_helptext"] if bound.help_text else []
            ids += ["period_helptext"] if name.startswith("period_") else []
            form.fields[name].widget.attrs["aria-describedby"] = " ".join(
                [*ids, f"{bound.auto_id}_error"]
            )
    context = {"form": form, "can_write": actor.has_role(Role.EDITOR)}
    return page(request, "web/licensee/new.html", context, actor=actor, status=status)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


@login_required
@require_GET
def request_list(request: HttpRequest, party_id: uuid.UUID) -> HttpResponse:
    """The party's requests, newest first: its use requests, or its checks (``?kind=``)."""
    actor, refusal = _licensee(request, party_id)
    if refusal:
        return _refused(request, actor, refusal)
    kind = request.GET.get("kind", "requests")
    if kind not in LIST_KINDS:
        kind = "requests"
    mine = selectors.use_request_list(actor=actor).filter(
        licensee=actor.party, kind__in=LIST_KINDS[kind]
    )
    requests_page = Paginator(mine.order_by("-created_at"), REQUESTS_SHOWN).get_page(
        request.GET.get("page")
    )
    context = {
        "kind": kind,
        "requests": requests_page,
        "rows": [_request_facts(r) for r in requests_page],
    }
    return page(request, "web/licensee/requests.html", context, actor=actor)


def _request_facts(r: UseRequest) -> dict[str, Any]:
    percent = 100 if not r.item_count else int(100 * r.done_count / r.item_count)
    counts = [
        {"outcome": o, "words": OUTCOME_WORDS[o], "n": r.summary[o]}
        for o in OUTCOMES
        if r.summary.get(o)
    ]
    return {
        "request": r,
        "use_words": USE_WORDS[r.use][1] if r.use in USE_WORDS else r.use,
        "kind_words": KIND_WORDS.get(r.kind, r.kind),
        "status_words": STATUS_WORDS.get(RequestStatus(r.status), r.status),
        "outcome_words": OUTCOME_WORDS.get(r.outcome, r.outcome),
        "percent": percent,
        "completed": r.status == RequestStatus.COMPLETED,
        "counts": counts,
        "territories": " ".join(r.territories),
    }


def _own_request(actor: Actor, request_id: uuid.UUID) -> UseRequest:
    """The party's own request (404 for another's, or none), through the API's selector."""
    try:
        found = selectors.use_request_get(actor=actor, request_id=request_id)
    except GovernanceError:
        raise Http404("No such request among yours.") from None
    if found.licensee_id != actor.party.pk:
        raise Http404("No such request among yours.")
    return found


def _items_page(
    actor: Actor, use_request: UseRequest, number: int
) -> tuple[list[dict[str, Any]], int]:
    """The items of page ``number`` (from 1) in item order, each with its decision as the
    licensee reads it (none yet: waiting), and the number of pages."""
    pages = max(1, -(-use_request.item_count // ITEMS_SHOWN))
    number = min(max(number, 1), pages)
    first = (number - 1) * ITEMS_SHOWN
    shown = RequestItem.objects.filter(
        request=use_request, position__gte=first, position__lt=first + ITEMS_SHOWN
    ).order_by("position")
    decided = {
        d.item_id: d
        for d in selectors.use_request_decisions(use_request).filter(
            item__position__gte=first, item__position__lt=first + ITEMS_SHOWN
        )
    }
    language = _language()
    rows = []
    for item in shown:
        row: dict[str, Any] = {"item": item, "what": _item_words(item), "decision": None}
        d = decided.get(item.pk)
        if d is not None:
            d.request = use_request  # read by the notes' selector
            row |= _decision_facts(actor, d, language=language)
        rows.append(row)
    return rows, pages


def _item_words(item: RequestItem) -> str:
    if item.reference:
        scheme, _sep, value = item.reference.partition(":")
        names = {"isrc": "ISRC", "iswc": "ISWC", "upc": "UPC/EAN", "work_id": _("work")}
        return f"{names.get(scheme, scheme)} {value}"
    entry = (item.vectors or [{}])[0]
    space, kind = str(entry.get("space", "")), str(entry.get("kind", ""))
    words = {"fingerprint": _("audio"), "text": _("lyrics") if kind == "lyrics" else _("prompt")}
    what = words.get(space, _("vectors"))
    return f"{what} {item.content_sha256[:12]}…"


def _decision_facts(actor: Actor, d: Decision, *, language: str) -> dict[str, Any]:
    settled = settlements.decision_settlement(d)
    settlement = None if settled is None else settlements.settlement_json(settled)
    trace = trace_for(d.trace, viewer=actor.viewer)
    notes = selectors.decision_rule_notes(actor=actor, decision=d)
    matched = [
        {"title": w.get("title") or "", "by": str(w.get("identified_by") or "")}
        for w in trace.get("works", [])
    ] + [
        {"title": a.get("name") or "", "by": _("likeness")} for a in trace.get("artists", [])
    ]  # fmt: skip
    return {
        "decision": d,
        "outcome": d.final_outcome,
        "outcome_words": OUTCOME_WORDS.get(d.final_outcome, d.final_outcome),
        "why": explanation.summary(trace, language=language, settlement=settlement),
        "explained": explanation.explain(
            trace, language=language, settlement=settlement, notes=notes
        ),
        "matched": matched,
    }


def _page_number(request: HttpRequest) -> int:
    try:
        return int(request.GET.get("page", "1"))
    except ValueError:
        return 1


def _request_context(actor: Actor, use_request: UseRequest, number: int) -> dict[str, Any]:
    rows, pages = _items_page(actor, use_request, number)
    number = min(max(number, 1), pages)
    return {
        "r": _request_facts(use_request),
        "use_request": use_request,
        "rows": rows,
        "page_number": number,
        "pages": pages,
        "first_item": (number - 1) * ITEMS_SHOWN,
        "receipts_bundled": use_request.item_count <= RECEIPTS_MAX,
    }


@login_required
@require_GET
def request_detail(
    request: HttpRequest, party_id: uuid.UUID, request_id: uuid.UUID
) -> HttpResponse:
    """A request: its terms, its progress (followed live by ``licensee.js``), each item's
    outcome and why, and the downloads."""
    actor, refusal = _licensee(request, party_id)
    if refusal:
        return _refused(request, actor, refusal)
    use_request = _own_request(actor, request_id)
    context = _request_context(actor, use_request, _page_number(request))
    return page(request, "web/licensee/request.html", context, actor=actor)


@login_required
@require_GET
def request_progress(
    request: HttpRequest, party_id: uuid.UUID, request_id: uuid.UUID
) -> JsonResponse:
    """What the request page's script polls: the status and the page's progress and items,
    rendered as the page renders them."""
    actor, refusal = _licensee(request, party_id)
    if refusal:
        raise Http404(refusal)
    use_request = _own_request(actor, request_id)
    context = _request_context(actor, use_request, _page_number(request))
    context |= {"party": actor.party}
    remaining = max(use_request.item_count - use_request.done_count, 0)
    return JsonResponse(
        {
            "status": use_request.status,
            "done": use_request.done_count,
            "total": use_request.item_count,
            "completed": use_request.status == RequestStatus.COMPLETED,
            "retry_after": min(60, 2 + remaining // 10_000),  # as the API's Retry-After
            "progress_html": render_to_string("web/licensee/_progress.html", context, request),
            "items_html": render_to_string("web/licensee/_items.html", context, request),
        },
        headers={"Cache-Control": "no-store"},
    )


def _download(lines: Iterator[bytes], *, content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def request_results(
    request: HttpRequest, party_id: uuid.UUID, request_id: uuid.UUID, fmt: str
) -> HttpResponseBase:
    """Every decided item's row, in item order, as the API's results (JSON Lines) or as CSV."""
    actor, refusal = _licensee(request, party_id)
    if refusal:
        raise Http404(refusal)
    use_request = _own_request(actor, request_id)
    decisions = selectors.use_request_decisions(use_request).iterator(chunk_size=2000)
    if fmt == "csv":
        return _download(
            results_csv(decisions), content_type="text/csv; charset=utf-8",
            filename=f"{use_request.pk}.csv",
        )  # fmt: skip
    return _download(
        results_jsonl(decisions), content_type="application/jsonl",
        filename=f"{use_request.pk}.jsonl",
    )  # fmt: skip


def _not_in_ledger(request: HttpRequest, actor: Actor) -> HttpResponse:
    message = _("The decision is not in a signed checkpoint yet: try again shortly.")
    context = {"title": _("Not in the ledger yet"), "message": message, "status": 404}
    return page(request, "web/error.html", context, actor=actor, status=404)


def _receipt(d: Decision) -> dict[str, Any]:
    """The decision's receipt as ``GET /api/v1/decisions/<id>/receipt/`` gives it: a settled
    review's is its settlement's entry, with the decision's entry in ``supersedes``."""
    settled = d.settled_leaf_hash
    return receipts.receipt_for_leaves(
        leaf_hash=bytes(d.leaf_hash), superseding=None if settled is None else bytes(settled)
    )


@login_required
@require_GET
def decision_receipt(
    request: HttpRequest, party_id: uuid.UUID, request_id: uuid.UUID, decision_id: uuid.UUID
) -> HttpResponse:
    """One item's ledger receipt (JSON), for ``python -m ledger.verify receipt`` or the
    verification page."""
    actor, refusal = _licensee(request, party_id)
    if refusal:
        raise Http404(refusal)
    use_request = _own_request(actor, request_id)
    d = Decision.objects.filter(request=use_request, pk=decision_id).first()
    if d is None:
        raise Http404("No such decision in this request.")
    try:
        body = json.dumps(_receipt(d), indent=1)
    except LedgerError:
        return _not_in_ledger(request, actor)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="receipt-{d.pk}.json"'
    return response


@login_required
@require_GET
def request_receipts(
    request: HttpRequest, party_id: uuid.UUID, request_id: uuid.UUID
) -> HttpResponseBase:
    """The receipts of a request's decided items, one a line (JSON Lines), in item order, for
    a request of at most :data:`RECEIPTS_MAX` items."""
    actor, refusal = _licensee(request, party_id)
    if refusal:
        raise Http404(refusal)
    use_request = _own_request(actor, request_id)
    if use_request.item_count > RECEIPTS_MAX:
        raise Http404("Too many items to bundle their receipts.")
    decisions = list(selectors.use_request_decisions(use_request))

    def line(d: Decision) -> bytes:
        body = {"item": d.item.position, "decision": str(d.pk), "receipt": _receipt(d)}
        return json.dumps(body, separators=(",", ":")).encode() + b"\n"

    try:
        # The last item's first: it sequences and signs what is pending, the request's other
        # entries with it, so the rest stream without waiting on the ledger.
        last = [line(decisions[-1])] if decisions else []
    except LedgerError:
        return _not_in_ledger(request, actor)
    rest = (line(d) for d in decisions[:-1])
    return _download(
        itertools.chain(rest, last), content_type="application/jsonl",
        filename=f"{use_request.pk}-receipts.jsonl",
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The callback secret
# ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def callback_secret(request: HttpRequest, party_id: uuid.UUID) -> HttpResponseBase:
    """The licensee's callback secret (its admins), and its rotation (a POST), as
    ``GET /api/v1/callback-secret/`` and ``POST .../rotate/``."""
    actor, refusal = _licensee(request, party_id)
    if refusal:
        return _refused(request, actor, refusal)
    if not actor.has_role(Role.ADMIN):
        return _refused(request, actor, _("The callback secret is for your party's admins."))
    if request.method == "POST":
        try:
            callbacks.callback_secret_rotate(actor=actor)
        except PermissionDenied as exc:
            return _refused(request, actor, exc.message)
        messages.success(
            request, _("A new secret: callbacks are signed with it from now on, retries too.")
        )
        return redirect("web:licensee-callback-secret", party_id=party_id)
    context = {"secret": callbacks.callback_secret(party=actor.party)}
    return page(request, "web/licensee/callback_secret.html", context, actor=actor)


urlpatterns = [
    path("requests/", request_list, name="licensee-requests"),
    path("requests/new/", request_new, name="licensee-request-new"),
    path("requests/<uuid:request_id>/", request_detail, name="licensee-request"),
    path("requests/<uuid:request_id>/progress/", request_progress, name="licensee-progress"),
    path(
        "requests/<uuid:request_id>/results.jsonl",
        request_results,
        {"fmt": "jsonl"},
        name="licensee-results-jsonl",
    ),
    path(
        "requests/<uuid:request_id>/results.csv",
        request_results,
        {"fmt": "csv"},
        name="licensee-results-csv",
    ),
    path(
        "requests/<uuid:request_id>/receipts.jsonl",
        request_receipts,
        name="licensee-receipts",
    ),
    path(
        "requests/<uuid:request_id>/receipts/<uuid:decision_id>.json",
        decision_receipt,
        name="licensee-receipt",
    ),
    path("callback-secret/", callback_secret, name="licensee-callback-secret"),
]
"""Under ``p/<party id>/`` (``web/urls.py``)."""
