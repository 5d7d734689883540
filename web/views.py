"""The pages' views: each parses, calls the services or selectors the API calls, and renders.

Every page but sign-in needs a signed-in user; a party's pages (``/p/<party id>/...``) need the
user to be its member (404 otherwise, see :mod:`web.access`); the services check the rest (the
role, the party's kind) and their refusals are shown on the page.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from governance import disclosure, explanation, insights, selectors
from governance.access import Actor
from governance.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from governance.models import Decision
from governance.preview import PlannedRule, Sample, consent_preview
from governance.services import disputes as dispute_services
from governance.services import reviews as review_services
from governance.services.consent import RULE_OWNER_KINDS
from web import consent as consent_page
from web.access import memberships, party_actor
from web.forms import ConsentForm
from web.throttle import sign_in_allowed

WHO_ASKED_SHOWN = 50
"""The latest decisions listed under "who asked"."""


def page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    actor: Actor | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render ``template`` with what every page's frame shows: the party switcher."""
    mine = memberships(request) if request.user.is_authenticated else []
    base = {"memberships": mine, "actor": actor, "party": actor.party if actor else None}
    return render(request, template, base | context, status=status)


class SignInView(auth_views.LoginView):
    """Django's sign-in, its attempts rate-limited (:mod:`web.throttle`): a 429 page when
    exceeded, before the password is checked."""

    template_name = "web/sign_in.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = sign_in_allowed(request)
        if wait is not None:
            form = self.get_form_class()(request)
            context = {"form": form, "wait": int(wait) + 1}
            return page(request, self.template_name, context, status=429)
        return super().post(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return reverse("web:home")


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset by e-mail (to the console in the embedded mode, ``EMAIL_URL``),
    its requests rate-limited as sign-in attempts are."""

    template_name = "web/password_reset.html"
    email_template_name = "web/password_reset_email.txt"
    subject_template_name = "web/password_reset_subject.txt"
    success_url = reverse_lazy("web:password-reset-sent")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = sign_in_allowed(request)
        if wait is not None:
            context = {"form": self.get_form_class()(), "wait": int(wait) + 1}
            return page(request, self.template_name, context, status=429)
        return super().post(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "web/password_reset_confirm.html"
    success_url = reverse_lazy("web:password-reset-done")


class SignOutView(auth_views.LogoutView):
    next_page = "web:sign-in"


@require_GET
def home(request: HttpRequest) -> HttpResponseBase:
    """Where sign-in lands: the user's only party's page, or a choice between their parties."""
    if not request.user.is_authenticated:
        return redirect("web:sign-in")
    mine = memberships(request)
    if len(mine) == 1:
        return redirect("web:party", party_id=mine[0].party_id)
    return page(request, "web/home.html", {})


@login_required
@require_GET
def switch(request: HttpRequest) -> HttpResponseBase:
    """The party switcher's target: the chosen party's page (404 if it is not the user's)."""
    actor = party_actor(request, str(request.GET.get("party", "")))
    return redirect("web:party", party_id=actor.party.pk)


@login_required
@require_GET
def party_home(request: HttpRequest, party_id: uuid.UUID) -> HttpResponseBase:
    actor = party_actor(request, party_id)
    if actor.party.kind in RULE_OWNER_KINDS:
        return redirect("web:consent", party_id=party_id)
    if actor.party.kind == "licensee":
        return redirect("web:licensee-requests", party_id=party_id)
    return page(request, "web/party.html", {}, actor=actor)


@login_required
@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, party_id: uuid.UUID) -> HttpResponseBase:
    """The consent page: one row per use with its scoped exceptions, the default posture, a
    sample request to preview, the rules the page only shows, the history of the party's rules
    and who asked."""
    actor = party_actor(request, party_id)
    if actor.party.kind not in RULE_OWNER_KINDS:
        return redirect("web:party", party_id=party_id)
    versions = consent_page.in_force(actor=actor)
    catalog = consent_page.catalog_of(
        actor=actor, named=[str(p) for v in versions for p in v.licensees]
    )
    rows, others = consent_page.build_rows(actor=actor, versions=versions, catalog=catalog)
    status = 200
    preview: list[dict[str, Any]] = []
    form = None
    if request.method == "POST":
        try:
            base = consent_page.rows_from_form(actor=actor, data=request.POST, catalog=catalog)
        except consent_page.NotYours:
            messages.error(request, _("The form names a rule that is not one of yours: nothing "
                                      "was saved. Here are your answers as they are."))  # fmt: skip
            status = 400
        else:
            posture = request.POST.get("posture_base") or actor.party.default_posture
            form = ConsentForm(
                request.POST, rows=base, catalog=catalog, owner=actor.party,
                initial=ConsentForm.initial_for(base, str(posture)),
            )  # fmt: skip
            status, preview, done = _consent_post(request, actor, form, base)
            if done:
                return redirect("web:consent", party_id=party_id)
            if status == 409:
                form = None
    if form is None:
        form = ConsentForm(
            rows=rows, catalog=catalog, owner=actor.party,
            initial=ConsentForm.initial_for(rows, actor.party.default_posture),
        )  # fmt: skip
    works = dict(catalog.works)
    named = dict(catalog.licensees)
    groups = form.groups()
    for g in groups:
        for x in g["exceptions"]:
            v = x["version"]
            limits = consent_page.limits_text(v, works=works, licensees=named)
            x["words"] = f"{_effect_words(v.effect, v.obligations or {})} · {limits}"
    context = {
        "form": form,
        "groups": groups,
        "sample": form.sample_fields(),
        "posture_words": consent_page.POSTURE_WORDS,
        "others": [_other_rule(v, works, named) for v in others],
        "history": [
            _history_entry(e, works, named) for e in consent_page.rule_history(actor=actor)
        ],
        "asked": who_asked(actor=actor),
        "charts": _charts(actor),
        "can_write": not actor.is_auditor and actor.has_role("editor"),
        "preview": preview,
        "has_works": bool(catalog.works),
        "has_licensees": bool(catalog.licensees),
    }
    return page(request, "web/consent.html", context, actor=actor, status=status)


def _consent_post(
    request: HttpRequest, actor: Actor, form: ConsentForm, base: list[consent_page.Row]
) -> tuple[int, list[dict[str, Any]], bool]:
    """A posted consent form: previewed, or saved (then ``done``); the status to answer."""
    if not form.is_valid():
        return 400, [], False
    if request.POST.get("action") == "preview":
        return 200, _preview(actor, base, form), False
    try:
        changed = consent_page.consent_save(
            actor=actor, rows=base, answers=form.row_answers,
            posture=form.cleaned_data["posture"],
            posture_base=form.cleaned_data["posture_base"] or actor.party.default_posture,
            now=timezone.now(),
        )  # fmt: skip
    except Conflict as exc:
        messages.error(request, str(exc))
        return 409, [], False
    except (InvalidInput, PermissionDenied) as exc:
        form.add_error(None, str(exc))
        return (400 if isinstance(exc, InvalidInput) else 403), [], False
    messages.success(
        request,
        ngettext("Saved: %(n)d answer changed.", "Saved: %(n)d answers changed.", changed)
        % {"n": changed},
    )
    return 200, [], True


def _preview(actor: Actor, rows: list[consent_page.Row], form: ConsentForm) -> list[dict[str, Any]]:
    """What the form's sample request would be told (by default a licensee the party has not
    named, now, worldwide, commercially), with the form's answers and exceptions as if saved
    (:mod:`governance.preview`): a row per use previewed."""
    planned: list[PlannedRule] = []
    replaced = []
    for row in rows:
        wanted = form.answer(row.use)
        if wanted.plain.choice != "default":
            planned.append(consent_page.Scoped(wanted.plain).planned(use=row.use, scope=row.scope))
        planned += [s.planned(use=row.use, scope=row.scope) for s in
                    (*wanted.exceptions, wanted.new) if s is not None]  # fmt: skip
        replaced += [v for v in (row.version, *(v for v, _s in row.exceptions)) if v is not None]
    data = form.cleaned_data
    day = data.get("sample-date")
    territory = str(data.get("sample-territory") or "")
    sample = Sample(
        licensee_id=str(data.get("sample-licensee") or "") or None,
        territories=(territory,) if territory else (),
        at=consent_page.midnight(day) if day else None,
        commercial=data.get("sample-commercial") != "non_commercial",
        work_id=str(data.get("sample-work") or "") or None,
    )  # fmt: skip
    chosen = [r for r in rows if r.use == data.get("sample-use")] or rows
    decided = consent_preview(
        actor=actor, planned=planned, replaced=replaced, posture=data["posture"],
        uses=[(row.use, row.scope) for row in chosen], at=timezone.now(), sample=sample,
    )  # fmt: skip
    language = "fr" if (get_language() or "en").startswith("fr") else "en"
    return [
        {"use": row.use, "label": row.label, "outcome": decided[row.use].outcome,
         "why": explanation.summary(decided[row.use].trace, language=language)}
        for row in chosen
    ]  # fmt: skip


def _use_label(use: str) -> str:
    words = consent_page.USE_WORDS.get(use)
    return str(words[0]) if words else use


def _effect_words(effect: str, obligations: dict[str, Any]) -> str:
    words = str(consent_page.EFFECT_WORDS.get(effect, effect))
    conditions = []
    if obligations.get("attribution"):
        conditions.append(_("credit “%(text)s”") % {"text": obligations["attribution"]})
    if obligations.get("compensation_ref"):
        conditions.append(_("compensation “%(text)s”") % {"text": obligations["compensation_ref"]})
    if obligations.get("ai_disclosure"):
        conditions.append(_("AI label"))
    if not conditions:
        return words
    return _("%(effect)s: %(conditions)s") % {"effect": words, "conditions": ", ".join(conditions)}


def _other_rule(v: Any, works: dict[str, str], named: dict[str, str]) -> dict[str, Any]:
    """A rule the page shows and does not edit: its uses, answer and limits in words."""
    return {
        "rule": str(v.rule_id),
        "uses": ", ".join(_use_label(u) for u in v.uses),
        "effect": _effect_words(v.effect, v.obligations or {}),
        "limits": consent_page.limits_text(v, works=works, licensees=named),
        "note": v.note,
        "version": v.version,
    }


def _rule_words(v: Any, works: dict[str, str], named: dict[str, str]) -> str:
    limits = consent_page.limits_text(v, works=works, licensees=named)
    uses = ", ".join(_use_label(u) for u in v.uses)
    what = f"{uses} — {_effect_words(v.effect, v.obligations or {})}"
    return f"{what} · {limits}" if limits else what


def _history_entry(
    event: dict[str, Any], works: dict[str, str], named: dict[str, str]
) -> dict[str, Any]:
    """A history line: a version written (what it says) or a withdrawal (what it ended), and
    who did it."""
    v = event["version"]
    if event["withdrawn"]:
        who = event.get("who")
        what = _("Withdrawn")
        if v is not None:
            what = _("Withdrawn: %(rule)s") % {"rule": _rule_words(v, works, named)}
        return {"at": event["at"], "rule": event["rule"], "what": what, "version":
                event["rule_version"], "who": who.get_username() if who else ""}  # fmt: skip
    return {
        "at": event["at"], "rule": event["rule"], "version": v.version,
        "what": _rule_words(v, works, named),
        "who": v.author.get_username() if v.author else "",
    }  # fmt: skip


def who_asked(*, actor: Actor) -> list[dict[str, Any]]:
    """The latest decisions that consulted the party, as the party may read them
    (:mod:`governance.disclosure`), with the sentence that says why (in the page's language)
    and the party's own answer: the rule version that gave it, or its default."""
    out = []
    me = str(actor.party.pk)
    language = "fr" if (get_language() or "en").startswith("fr") else "en"
    decisions: list[Decision] = list(selectors.decisions_about(actor=actor)[:WHO_ASKED_SHOWN])
    for d in decisions:
        trace = disclosure.trace_for(d.trace, viewer=actor.viewer)
        mine = [
            h
            for w in (*trace.get("works", []), *trace.get("artists", []))
            for r in w.get("rights", [])
            for h in r.get("holders", [])
            if str(h.get("party")) == me
        ]
        rule = next((h["rule"] for h in mine if h.get("rule")), None)
        out.append({
            "at": d.created_at, "licensee": d.request.licensee.name, "use": d.request.use,
            "use_label": _use_label(d.request.use), "outcome": d.final_outcome,
            "about": _about(trace, me=me),
            "why": explanation.summary(trace, language=language),
            "rule": rule, "default": not rule and bool(mine),
        })  # fmt: skip
    return out


def _about(trace: dict[str, Any], *, me: str) -> str:
    """What a decision was about, for its holder ``me``: the works' titles, or my likeness."""
    about = [str(w.get("title") or "") for w in trace.get("works", []) if w.get("title")]
    if any(str(a.get("artist")) == me for a in trace.get("artists", [])):
        about.append(_("my likeness"))
    return ", ".join(about)


def _charts(actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """The party's requests by use and by week (the insights' counts), as bars."""
    found = insights.insights_for(actor=actor)
    by_use = [(u, _use_label(u), n) for u, n in found["by_use"].items()]
    by_week = [(w["week"], w["week"], w["requests"]) for w in found["by_week"]][-12:]
    charts = {}
    for name, bars in (("by_use", by_use), ("by_week", by_week)):
        top = max((n for *_, n in bars), default=0)
        charts[name] = [{"key": k, "label": label, "n": n, "percent": round(100 * n / top)}
                        for k, label, n in bars]  # fmt: skip
    return charts


@require_GET
def verify(request: HttpRequest) -> HttpResponse:
    """The ledger's verification in the browser (``web/static/web/verify.js``): public, as the
    ledger's read API is; the page's script trusts no answer of this server but the bytes it
    checks."""
    words = {
        "checking": _("Checking…"),
        "verified": _("Verified: the checkpoint is signed by your key."),
        "failed": _("Not verified."),
        "checkpoint_is": _("Log %(origin)s, %(size)s entries, root hash %(root)s."),
        "bad_key": _("The verifier key is malformed: it is name+key ID+key."),
        "key_id_mismatch": _("The verifier key's ID does not match its name and key."),
        "the_key": _("the key"),
        "a_signature": _("a signature"),
        "the_root": _("the root hash"),
        "bad_base64": _("%(what)s is not base64."),
        "not_utf8": _("The checkpoint is not UTF-8 text."),
        "malformed_note": _(
            "The checkpoint is not a signed note (text, a blank line, signatures)."
        ),
        "not_checkpoint": _("The signed text is not a checkpoint (origin, tree size, root hash)."),
        "not_signed_by": _("No signature by your key %(key)s: the note is signed by %(by)s."),
        "bad_signature": _(
            "The signature by %(key)s does not verify: the checkpoint was changed after signing."
        ),
        "fetch_failed": _("The server gave no checkpoint (HTTP %(status)s)."),
        "no_webcrypto": _("This browser has no WebCrypto (crypto.subtle): use HTTPS or localhost."),
        "no_file": _("Choose a receipt file first."),
        "not_json": _("The receipt is not JSON."),
        "not_receipt": _("The file is not a version 1 receipt of this ledger."),
        "the_entry": _("the entry"),
        "the_leaf_hash": _("the leaf hash"),
        "a_proof_hash": _("a proof hash"),
        "size_mismatch": _(
            "The receipt's tree size is %(size)s but its checkpoint's is %(checkpoint)s."
        ),
        "leaf_mismatch": _(
            "Entry %(index)s: the receipt's leaf hash is not SHA-256(0x00 || entry): the entry "
            "was changed."
        ),
        "index_out_of_range": _("Entry %(index)s is out of range for a tree of %(size)s."),
        "proof_length": _(
            "Entry %(index)s: the proof has the wrong length for a tree of %(size)s."
        ),
        "proof_not_root": _("Entry %(index)s: the inclusion proof does not reach the root."),
        "receipt_verified": _("Verified: the entry is in the ledger your key signed."),
        "receipt_is": _("Entry %(index)s of %(origin)s, in the tree of %(size)s entries."),
        **tile_words(),
        **consistency_words(),
    }
    ledger_base = reverse("ledger:checkpoint").removesuffix("checkpoint")
    return page(request, "web/verify.html", {"words": words, "ledger_base": ledger_base})


def tile_words() -> dict[str, str]:
    """The verification's messages about the ledger's tiles (``verify.js``, checks 9 and 10)."""
    return {
        "tiles_ok": _("The ledger's tiles hash to the signed root (fetched: %(tiles)s)."),
        "tiles_not_root": _(
            "The ledger's tiles (%(tiles)s) do not hash to the signed root: a tile was changed, "
            "or the server's log is not the tree your key signed."
        ),
        "tile_missing": _("The server gave no tile %(path)s (HTTP %(status)s)."),
        "tile_length": _("The tile %(path)s does not hold %(width)s hashes of 32 bytes."),
        "bad_bundle": _("The entry bundle %(path)s does not hold %(width)s entries."),
        "entry_not_tile_leaf": _(
            "Entry %(index)s: its bytes in %(bundle)s do not hash to its leaf hash in %(tile)s: "
            "the entry or the tile was changed."
        ),
        "tiles_proof_not_root": _(
            "Entry %(index)s: the tiles' hashes do not lead from the entry to the signed root: "
            "the entry or a tile was changed."
        ),
        "not_an_index": _("The entry number is a whole number from 0."),
        "entry_not_json": _("The entry is not JSON text."),
        "entry_verified": _("Verified: the entry is in the ledger your key signed, by its tiles."),
        "entry_is": _(
            "Entry %(index)s (%(type)s, %(time)s) of %(origin)s, in the tree of %(size)s entries."
        ),
        "tiles_used": _("Tiles fetched: %(tiles)s."),
    }


def consistency_words() -> dict[str, str]:
    """The verification's messages about consistency (``verify.js``, checks 11 to 13)."""
    return {
        "the_remembered": _("the checkpoint this browser verified earlier"),
        "the_pasted": _("the older checkpoint you pasted"),
        "this_checkpoint": _("this checkpoint"),
        "first_seen": _(
            "No earlier checkpoint of this log was verified with your key in this browser: this "
            "one is remembered, and the next verification checks that the log only grew from it."
        ),
        "grew": _(
            "The log only grew: %(what)s (%(old)s entries, root hash %(root)s) is the start of "
            "the tree of %(new)s entries (consistency proof from %(sources)s)."
        ),
        "unchanged": _("The same tree as %(what)s (%(size)s entries, the same root hash)."),
        "than_remembered": _("%(line)s The larger checkpoint stays remembered."),
        "shrank": _("The log shrank: %(what)s has %(old)s entries, this one only %(new)s."),
        "forked": _(
            "The log forked or was rewritten: %(what)s has %(size)s entries too, but the root "
            "hash %(old)s, and this one %(new)s."
        ),
        "bad_consistency": _(
            "The log is not shown to have only grown since %(what)s: the consistency proof from "
            "%(old)s to %(new)s entries (%(source)s) %(why)s. The log forked or was rewritten, "
            "or the proof was changed."
        ),
        "why_proof_length": _("has the wrong number of hashes"),
        "why_hash_size": _("holds a hash that is not 32 bytes"),
        "why_old_root": _("does not lead to the older root hash"),
        "why_new_root": _("does not lead to the newer root hash"),
        "why_empty_root": _("starts from a tree of 0 entries whose root is not SHA-256 of nothing"),
        "source_tiles": _("the ledger's tiles"),
        "source_server": _("the ledger's consistency proof endpoint"),
        "proof_fetch_failed": _(
            "The server gave no consistency proof from %(old)s to %(new)s entries "
            "(HTTP %(status)s)."
        ),
        "not_a_proof": _(
            "The server's consistency proof from %(old)s to %(new)s entries is not a list of "
            "base64 hashes."
        ),
        "older_not_verified": _("The older checkpoint you pasted is not verified: %(why)s"),
        "other_log": _("The older checkpoint you pasted is of the log %(older)s, not %(origin)s."),
    }


@login_required
@require_GET
def reviews(request: HttpRequest, party_id: uuid.UUID) -> HttpResponse:
    """What waits for the party's answer ("Ask me"), and what it answered."""
    actor = party_actor(request, party_id)
    language = "fr" if (get_language() or "en").startswith("fr") else "en"
    mine = selectors.review_list(actor=actor).select_related("decision__request__licensee")
    rows: list[dict[str, Any]] = []
    for review in mine.order_by("-created_at")[:100]:
        d = review.decision
        trace = disclosure.trace_for(d.trace, viewer=actor.viewer)
        rows.append({
            "review": review, "licensee": d.request.licensee.name, "use": d.request.use,
            "use_label": _use_label(d.request.use),
            "about": _about(trace, me=str(actor.party.pk)),
            "why": explanation.summary(trace, language=language),
        })  # fmt: skip
    context = {
        "pending": [r for r in rows if r["review"].status == "pending"],
        "answered": [r for r in rows if r["review"].status != "pending"],
        "disputes": _disputes_waiting(actor),
        "can_write": not actor.is_auditor and actor.has_role("editor"),
    }
    return page(request, "web/reviews.html", context, actor=actor)


def _dispute_reasons() -> dict[str, str]:
    return {
        "wrong_match": _("The item is not this work."),
        "wrong_rights_holder": _("The rights holder named does not hold the right."),
        "consent_misread": _("The consent on record says otherwise."),
        "licence_held_outside": _("A licence granted outside Consentry covers this use."),
    }


def _disputes_waiting(actor: Actor) -> list[dict[str, Any]]:
    """The open disputes of decisions the party's answer decided, that it has not answered."""
    waiting = (
        selectors.dispute_list(actor=actor)
        .filter(status="open", holders__contains=[actor.party.pk])
        .exclude(answers__party=actor.party)
        .select_related("decision__request__licensee")
        .order_by("deadline")[:100]
    )
    reasons = _dispute_reasons()
    return [
        {
            "dispute": d, "licensee": d.decision.request.licensee.name,
            "use_label": _use_label(d.decision.request.use),
            "reason": reasons.get(d.reason_code, d.reason_code),
        }
        for d in waiting
    ]  # fmt: skip


@login_required
@require_http_methods(["POST"])
def dispute_answer(request: HttpRequest, party_id: uuid.UUID) -> HttpResponse:
    """Uphold or release one dispute (named by the form's ``dispute``) with a reason, through
    the service the API calls."""
    actor = party_actor(request, party_id)
    try:
        dispute = selectors.dispute_get(actor=actor, dispute_id=str(request.POST.get("dispute")))
    except NotFound:
        raise Http404(_("No such dispute.")) from None
    answer = str(request.POST.get("answer", ""))
    if answer not in dispute_services.ANSWERS:
        messages.error(request, _("Choose uphold or release."))
        return redirect("web:reviews", party_id=party_id)
    try:
        dispute_services.dispute_answer(
            actor=actor, dispute=dispute, answer=answer,
            reason=str(request.POST.get("reason", "")), now=timezone.now(),
        )  # fmt: skip
    except InvalidInput:
        messages.error(request, _("Say why: the licensee reads your reason."))
    except PermissionDenied:
        if actor.is_auditor or not actor.has_role("editor"):
            messages.error(request, _("Answering needs the editor role."))
        else:
            messages.error(request, _("Only the holders whose answer decided it answer it."))
    except Conflict:
        messages.error(request, _("This dispute was answered already, or its deadline passed."))
    else:
        messages.success(request, _("Answered: the licensee is told."))
    return redirect("web:reviews", party_id=party_id)


@login_required
@require_http_methods(["POST"])
def review_answer(request: HttpRequest, party_id: uuid.UUID, review_id: uuid.UUID) -> HttpResponse:
    """Approve or deny one review with a reason, through the service the API calls."""
    actor = party_actor(request, party_id)
    try:
        review = selectors.review_get(actor=actor, review_id=review_id)
    except NotFound:
        raise Http404(_("No such review.")) from None
    answer = request.POST.get("answer")
    if answer not in ("approve", "deny"):
        messages.error(request, _("Choose approve or deny."))
        return redirect("web:reviews", party_id=party_id)
    try:
        review_services.review_decide(
            actor=actor, review=review, approve=answer == "approve",
            reason=str(request.POST.get("reason", "")), now=timezone.now(),
        )  # fmt: skip
    except InvalidInput:
        messages.error(request, _("Say why: the licensee reads your reason."))
    except PermissionDenied:
        messages.error(request, _("Answering needs the editor role."))
    else:
        messages.success(request, _("Answered: the licensee is told."))
    return redirect("web:reviews", party_id=party_id)
