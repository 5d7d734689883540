"""A label's or a publisher's pages: its catalog (search, a work's page) and its catalog
imports (upload, a job's live progress and its rejected rows).

Each reads through the selectors and writes through the services the API uses, with the same
access rules: the party must be the signed-in user's (404 otherwise, :mod:`web.access`) and a
label or a publisher (404 for other parties: they have no catalog to import); a work's page is
for the parties that registered it or hold a share of it (as its consent export and contents
are), 404 for others; an import is its party's (``selectors.import_get``).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_stubs_ext import StrPromise

from governance import disclosure, explanation, selectors
from governance.access import Actor
from governance.catalog_search import WorkFilter
from governance.exceptions import InvalidInput, NotFound, PermissionDenied
from governance.models import (
    Decision,
    ImportJob,
    ImportStatus,
    RightsShare,
    Work,
)
from governance.services import imports as import_services
from governance.services import reviews as review_services
from governance.services.deciding import obligations_json
from governance.terms import USES
from governance.work_consent import consent_in_force
from ledger import receipts
from web import consent as consent_page
from web.access import party_actor
from web.views import page

CATALOG_PAGE_SIZE = 50
"""Works per page of the catalog search (the API's ``PAGE_SIZE``)."""
DECISIONS_SHOWN = 50
"""The latest decisions about a work listed on its page."""
JOBS_SHOWN = 20
"""The latest imports listed on the import page."""
FINISHED = (ImportStatus.SUCCEEDED, ImportStatus.SUCCEEDED_WITH_PROBLEMS, ImportStatus.FAILED)

STATUS_WORDS: Mapping[str, StrPromise] = {
    "queued": gettext_lazy("Queued: waiting for a worker"),
    "running": gettext_lazy("Running"),
    "succeeded": gettext_lazy("Succeeded"),
    "succeeded_with_problems": gettext_lazy("Succeeded, with rows or elements rejected"),
    "failed": gettext_lazy("Failed"),
}
KIND_WORDS: Mapping[str, StrPromise] = {
    "recording": gettext_lazy("recording"),
    "composition": gettext_lazy("composition"),
}
COUNT_WORDS: Mapping[str, StrPromise] = {
    "records": gettext_lazy("Works read"),
    "imported": gettext_lazy("Works imported"),
    "works_created": gettext_lazy("Works created"),
    "works_updated": gettext_lazy("Works updated"),
    "works_unchanged": gettext_lazy("Works unchanged"),
    "shares_created": gettext_lazy("Rights shares created"),
    "shares_updated": gettext_lazy("Rights shares updated"),
    "shares_unchanged": gettext_lazy("Rights shares unchanged"),
    "releases_created": gettext_lazy("Releases created"),
    "releases_updated": gettext_lazy("Releases updated"),
}
"""The import report's counts (``governance.importing``), in words; another shows its key."""
OUTCOME_WORDS: Mapping[str, StrPromise] = {
    "allow": gettext_lazy("allowed"),
    "conditional": gettext_lazy("allowed with conditions"),
    "review": gettext_lazy("asks the holder"),
    "deny": gettext_lazy("refused"),
    "no_match": gettext_lazy("no match"),
    "error": gettext_lazy("error"),
}
RIGHT_WORDS: Mapping[str, StrPromise] = {
    "master": gettext_lazy("Master (the sound recording)"),
    "publishing": gettext_lazy("Publishing (the composition)"),
    "performer": gettext_lazy("Performer (a featured performer's participation)"),
    "likeness": gettext_lazy("Likeness (an artist's voice, name and image)"),
}
ROLE_WORDS: Mapping[str, StrPromise] = {
    "main_artist": gettext_lazy("Main artist"),
    "featured": gettext_lazy("Featured artist"),
    "songwriter": gettext_lazy("Songwriter"),
    "composer": gettext_lazy("Composer"),
    "producer": gettext_lazy("Producer"),
}


def _catalog_actor(request: HttpRequest, party_id: uuid.UUID) -> Actor:
    """The user acting for ``party_id``, a label or a publisher (404 otherwise)."""
    actor = party_actor(request, party_id)
    if actor.party.kind not in import_services.IMPORT_KINDS:
        raise Http404(_("Only labels and publishers have a catalog here."))
    return actor


def _language() -> str:
    return "fr" if (get_language() or "en").startswith("fr") else "en"


# ---------------------------------------------------------------------------------------------
# Catalog search
# ---------------------------------------------------------------------------------------------


class CatalogSearchForm(forms.Form):
    """The search's fields, each one of ``GET /api/v1/works/``'s filters."""

    title = forms.CharField(label=gettext_lazy("Title contains"), max_length=500, required=False)
    artist = forms.CharField(label=gettext_lazy("Artist contains"), max_length=500, required=False)
    isrc = forms.CharField(label="ISRC", max_length=32, required=False)
    iswc = forms.CharField(label="ISWC", max_length=32, required=False)
    upc = forms.CharField(label=gettext_lazy("UPC or EAN (release)"), max_length=32, required=False)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), required=False,
        choices=[("", gettext_lazy("Any")), *KIND_WORDS.items()],
    )  # fmt: skip
    whose = forms.ChoiceField(
        label=gettext_lazy("Whose works"), required=False,
        choices=[("", gettext_lazy("Registered by us or with a share of ours")),
                 ("registered", gettext_lazy("Registered by us")),
                 ("held", gettext_lazy("With a share of ours"))],
    )  # fmt: skip

    API_NAMES = {"artist": "display_artist"}

    def api_query(self) -> dict[str, str]:
        """The API's query parameters for what was entered (empty fields left out)."""
        return {
            self.API_NAMES.get(name, name): str(value).strip()
            for name, value in self.cleaned_data.items()
            if name != "whose" and str(value or "").strip()
        }


def catalog_of(actor: Actor, whose: str) -> Any:
    """The party's catalog as ``GET /api/v1/works/`` lists works: those it registered
    (``?registrant=<party>``), those it holds a share of (the works of
    ``GET /api/v1/shares/?holder=<party>``), or either (``whose`` empty)."""
    works = selectors.work_list(actor=actor)
    held = selectors.share_list(actor=actor).filter(holder=actor.party).values("work_id")
    if whose == "registered":
        return works.filter(registrant=actor.party)
    if whose == "held":
        return works.filter(pk__in=held)
    return works.filter(Q(registrant=actor.party) | Q(pk__in=held))


@login_required
@require_GET
def catalog(request: HttpRequest, party_id: uuid.UUID) -> HttpResponse:
    """The party's catalog (:func:`catalog_of`), searched with the filters of
    ``GET /api/v1/works/`` and in its order (title), 50 a page."""
    actor = _catalog_actor(request, party_id)
    form = CatalogSearchForm(request.GET)
    works: Any = Work.objects.none()
    status = 200
    if form.is_valid():
        queryset = catalog_of(actor, form.cleaned_data["whose"])
        found = WorkFilter(form.api_query(), queryset=queryset)
        if found.is_valid():
            works = found.qs
        else:  # the API's 400: each field named
            for name, errors in found.errors.items():
                field = {"display_artist": "artist"}.get(name, name)
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            status = 400
    else:
        status = 400
    paginator = Paginator(works, CATALOG_PAGE_SIZE)
    shown = paginator.get_page(request.GET.get("page"))
    kept = request.GET.copy()
    kept.pop("page", None)
    context = {
        "form": form,
        "page_obj": shown,
        "works": [_work_row(w) for w in shown.object_list],
        "query": kept.urlencode(),
        "searched": any(str(v).strip() for k, v in request.GET.items() if k != "page"),
        "api_url": (
            reverse("api:work-list")
            + "?"
            + urlencode(
                {"registrant": str(actor.party.pk)} | (form.api_query() if form.is_valid() else {})
            )
        )
        if form.is_valid() and form.cleaned_data["whose"] == "registered"
        else "",
    }
    return page(request, "web/label/catalog.html", context, actor=actor, status=status)


def _work_row(work: Work) -> dict[str, Any]:
    return {
        "work": work,
        "kind": KIND_WORDS.get(work.kind, work.kind),
        "identifier": work.isrc or work.iswc or "",
    }


# ---------------------------------------------------------------------------------------------
# A work's page
# ---------------------------------------------------------------------------------------------


def _work_of(actor: Actor, work_id: uuid.UUID) -> Work:
    """The work, for its registrant or a holder of a share of it (404 for anyone else, as its
    consent export answers)."""
    try:
        work = selectors.work_get(actor=actor, work_id=work_id)
    except NotFound:
        raise Http404(_("No such work.")) from None
    if work.registrant_id != actor.party.pk and not (
        selectors.share_list(actor=actor).filter(work=work).exists()
    ):
        raise Http404(_("No such work in your catalog."))
    return work


@login_required
@require_GET
def work(request: HttpRequest, party_id: uuid.UUID, work_id: uuid.UUID) -> HttpResponse:
    """A work: its metadata and releases, credited artists, rights shares, what would be
    decided now for each use (the consent in force) and the decisions about it."""
    actor = _catalog_actor(request, party_id)
    the_work = _work_of(actor, work_id)
    language = _language()
    shares = (
        selectors.share_list(actor=actor).filter(work=the_work).order_by("right", "-share", "pk")
    )
    try:
        decided = consent_in_force(work=the_work, uses=USES)
    except NotFound:  # no consent matrix in force: nothing can be decided (checks fail too)
        decided = {}
    in_force = []
    for use in (u for u in USES if u in decided):
        d = decided[use]
        trace = disclosure.trace_for(d.trace, viewer=actor.viewer)
        in_force.append({
            "use": use, "label": consent_page.USE_WORDS[use][0], "outcome": d.outcome,
            "outcome_label": OUTCOME_WORDS.get(d.outcome, d.outcome),
            "conditions": _conditions(obligations_json(d.obligations)),
            "why": explanation.summary(trace, language=language),
        })  # fmt: skip
    context = {
        "work": the_work,
        "kind": KIND_WORDS.get(the_work.kind, the_work.kind),
        "credits": [
            {"credit": c, "role": ROLE_WORDS.get(c.role, c.role)}
            for c in the_work.credits.select_related("party")
        ],
        "releases": list(the_work.releases.order_by("title", "pk")),
        "composition": _visible_composition(actor, the_work),
        "shares": [_share_row(s) for s in shares],
        "in_force": in_force,
        "decisions": _decisions_about(actor, the_work, language=language),
    }
    return page(request, "web/label/work.html", context, actor=actor)


def _share_row(share: RightsShare) -> dict[str, Any]:
    territories = " ".join(share.territories)
    where = {
        "worldwide": _("worldwide"),
        "include": _("only %(codes)s") % {"codes": territories},
        "exclude": _("worldwide except %(codes)s") % {"codes": territories},
    }.get(share.territory_mode, share.territory_mode)
    return {"share": share, "right": RIGHT_WORDS.get(share.right, share.right), "where": where}


def _conditions(obligations: Mapping[str, Any]) -> str:
    """A conditional allow's conditions, in the consent page's words."""
    out = []
    if obligations.get("attribution"):
        out.append(_("credit “%(text)s”") % {"text": obligations["attribution"]})
    if obligations.get("compensation_ref"):
        out.append(_("compensation “%(text)s”") % {"text": obligations["compensation_ref"]})
    if obligations.get("ai_disclosure"):
        out.append(_("AI label"))
    return ", ".join(out)


def _visible_composition(actor: Actor, work: Work) -> dict[str, Any] | None:
    """The composition a recording embodies, linked when its page is the party's too."""
    if work.composition_id is None:
        return None
    composition = selectors.work_get(actor=actor, work_id=work.composition_id)
    mine = composition.registrant_id == actor.party.pk or (
        selectors.share_list(actor=actor).filter(work=composition).exists()
    )
    return {"work": composition, "linked": mine}


def _decisions_about(actor: Actor, work: Work, *, language: str) -> list[dict[str, Any]]:
    """The latest decisions that named ``work`` and that the party may read (as
    ``GET /api/v1/decisions/<id>/`` would show them), with why, in the page's language."""
    decisions: list[Decision] = list(
        selectors.decision_list(actor=actor)
        .filter(works__contains=[work.pk])
        .select_related("request__licensee")
        .order_by("-created_at")[:DECISIONS_SHOWN]
    )
    out = []
    for d in decisions:
        settled = review_services.decision_settlement(d)
        settlement = None if settled is None else review_services.settlement_json(settled)
        trace = disclosure.trace_for(d.trace, viewer=actor.viewer)
        out.append({
            "decision": d, "licensee": d.request.licensee.name, "use": d.request.use,
            "use_label": consent_page.USE_WORDS[d.request.use][0]
            if d.request.use in consent_page.USE_WORDS else d.request.use,
            "outcome": d.final_outcome,
            "outcome_label": OUTCOME_WORDS.get(d.final_outcome, d.final_outcome),
            "conditions": _conditions(d.final_obligations)
            if d.final_outcome == "conditional"
            else "",
            "why": explanation.summary(trace, language=language, settlement=settlement),
        })  # fmt: skip
    return out


@login_required
@require_GET
def decision_receipt(
    request: HttpRequest, party_id: uuid.UUID, work_id: uuid.UUID, decision_id: uuid.UUID
) -> HttpResponse:
    """The ledger receipt of a decision about the work, as ``GET
    /api/v1/decisions/<id>/receipt/`` gives it, to save and verify (``/verify/``)."""
    actor = _catalog_actor(request, party_id)
    the_work = _work_of(actor, work_id)
    try:
        decision = selectors.decision_get(actor=actor, decision_id=decision_id)
    except NotFound:
        raise Http404(_("No such decision.")) from None
    if the_work.pk not in decision.works:
        raise Http404(_("No such decision about this work."))
    settled = decision.settled_leaf_hash
    body = receipts.receipt_for_leaves(
        leaf_hash=bytes(decision.leaf_hash),
        superseding=None if settled is None else bytes(settled),
    )
    response = HttpResponse(json.dumps(body, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="receipt-{decision.pk}.json"'
    return response


# ---------------------------------------------------------------------------------------------
# Catalog imports
# ---------------------------------------------------------------------------------------------


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy(
            "Catalog file: CSV or DDEX ERN XML (3.8 or 4.x); "
            "musical works: DDEX MWN XML or works CSV"
        ),
        error_messages={
            "required": gettext_lazy("Choose a file to import."),
            "empty": gettext_lazy("The file is empty."),
        },
    )
    all_or_nothing = forms.BooleanField(
        label=gettext_lazy("All or nothing: import nothing if any row is rejected"),
        required=False,
    )


@login_required
@require_http_methods(["GET", "POST"])
def imports(request: HttpRequest, party_id: uuid.UUID) -> HttpResponseBase:
    """Upload a catalog file, which starts the job ``POST /api/v1/imports/`` starts
    (``import_services.import_submit``), then follow it on its page; the latest imports."""
    actor = _catalog_actor(request, party_id)
    can_write = not actor.is_auditor and actor.has_role("editor")
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > settings.IMPORT_MAX_BYTES:
                    raise InvalidInput.field("file", "too large")
                job = import_services.import_submit(
                    actor=actor, filename=upload.name or "upload", data=upload.read(),
                    all_or_nothing=form.cleaned_data["all_or_nothing"], now=timezone.now(),
                )  # fmt: skip
            except InvalidInput as exc:
                # The service's reasons (English, as the API gives them), in the page's words.
                if upload.size > settings.IMPORT_MAX_BYTES:
                    message = _("The file is too large: at most %(n)s bytes.") % {
                        "n": f"{settings.IMPORT_MAX_BYTES:,}"}  # fmt: skip
                elif "file" in exc.fields:
                    message = _("The file is empty (blank lines only): there is nothing to import.")
                else:
                    message = str(exc)
                form.add_error("file", message)
                status = 400
            except PermissionDenied:
                messages.error(request, _("Importing needs the editor role."))
                status = 403
            else:
                return redirect("web:import-job", party_id=party_id, job_id=job.pk)
        else:
            status = 400
    else:
        form = ImportForm()
    jobs = list(selectors.import_list(actor=actor).order_by("-created_at")[:JOBS_SHOWN])
    context = {
        "form": form,
        "can_write": can_write,
        "jobs": [{"job": j, "status": STATUS_WORDS.get(j.status, j.status)} for j in jobs],
        "max_bytes": settings.IMPORT_MAX_BYTES,
    }
    return page(request, "web/label/imports.html", context, actor=actor, status=status)


def _job_of(actor: Actor, job_id: uuid.UUID) -> ImportJob:
    try:
        return selectors.import_get(actor=actor, job_id=job_id)
    except NotFound:
        raise Http404(_("No such import.")) from None


def csv_rows_at(data: bytes, wheres: set[str]) -> dict[str, list[tuple[str, str]]]:
    """The fields (column, value) of the CSV rows at ``wheres`` (``line N``, where the
    importer's reader ended reading the row, ``governance.importing.csv_source``), for a
    rejected row's details; nothing when the file cannot be read so."""
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        return {}
    reader = csv.reader(io.StringIO(text, newline=""))
    found: dict[str, list[tuple[str, str]]] = {}
    try:
        header = next(reader)
        for row in reader:
            where = f"line {reader.line_num}"
            if where in wheres:
                names = [*header, *[_("(no column)")] * max(0, len(row) - len(header))]
                found[where] = list(zip(names, row, strict=False))
                if len(found) == len(wheres):
                    break
    except (csv.Error, StopIteration):
        pass
    return found


@login_required
@require_GET
def import_job(request: HttpRequest, party_id: uuid.UUID, job_id: uuid.UUID) -> HttpResponse:
    """An import's page: its progress (live: ``web/static/web/import.js`` polls
    ``GET /api/v1/imports/<id>/``), status, counts and rejected rows, each with its line or
    XPath, the reason and, for a CSV row, what the row said."""
    actor = _catalog_actor(request, party_id)
    job = _job_of(actor, job_id)
    problems = list(job.problems or [])
    fields: dict[str, list[tuple[str, str]]] = {}
    if job.format == "csv" and problems and job.status in FINISHED:
        wheres = {str(p.get("where", "")) for p in problems}
        fields = csv_rows_at(bytes(ImportJob.objects.values_list("data", flat=True)
                                   .get(pk=job.pk)), wheres)  # fmt: skip
    rows = []
    for n, p in enumerate(problems, start=1):
        where = str(p.get("where", ""))
        rows.append({"n": n, "where": where, "reason": str(p.get("reason", "")),
                     "fields": fields.get(where, [])})  # fmt: skip
    progress = 100 if job.status == ImportStatus.SUCCEEDED else (
        None if not job.total else int(100 * job.processed / job.total))  # fmt: skip
    context = {
        "job": job,
        "status_words": STATUS_WORDS.get(job.status, job.status),
        "finished": job.status in FINISHED,
        "progress": progress,
        "counts": [
            (COUNT_WORDS.get(name, name), name, n)
            for name, n in sorted((job.counts or {}).items(), key=lambda c: _count_order(c[0]))
        ],
        "problems": rows,
        "api_url": reverse("api:import-detail", kwargs={"job_id": job.pk}),
        "words": {
            "status": {k: str(v) for k, v in STATUS_WORDS.items()},
            "percent": _("%(n)s%%"),
            "reading": _("Reading the file…"),
            "poll_failed": _("The progress could not be read (%(status)s); trying again."),
            "finished": _("the report is below."),
        },
    }
    return page(request, "web/label/import_job.html", context, actor=actor)


def _count_order(name: str) -> tuple[int, str]:
    order = list(COUNT_WORDS)
    return (order.index(name), name) if name in order else (len(order), name)


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP's CSV injection advice)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@login_required
@require_GET
def import_rejected_csv(
    request: HttpRequest, party_id: uuid.UUID, job_id: uuid.UUID
) -> HttpResponse:
    """The import's rejected rows as CSV: where (``line N`` or an XPath) and why."""
    actor = _catalog_actor(request, party_id)
    job = _job_of(actor, job_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["where", "reason"])
    for p in job.problems or []:
        writer.writerow([_cell(str(p.get("where", ""))), _cell(str(p.get("reason", "")))])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejected-{job.pk}.csv"'
    return response
