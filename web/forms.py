"""The pages' forms: sign-in is Django's; the consent form has one group of fields per use,
each with its scoped exceptions, and a sample request to preview."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from governance import identifiers
from governance.exceptions import InvalidInput
from governance.models import Party, Posture
from governance.services.consent import rule_fields
from governance.terms import USES
from web.consent import (
    CHOICES,
    COMMERCIAL_WORDS,
    DAY,
    POSTURE_WORDS,
    SCOPED_EFFECTS,
    USE_WORDS,
    Answer,
    Catalog,
    Row,
    RowAnswer,
    Scoped,
    territory_text,
    version_ref,
)

SERVICE_FIELDS = {
    "territories": "territories", "window_start": "start", "window_end": "until",
    "scope_works": "works", "licensees": "licensees", "commercial": "commercial",
    "effect": "effect", "obligations": "effect", "obligations.attribution": "credit",
    "obligations.compensation_ref": "compensation",
}  # fmt: skip
"""The service's field names (``rule_fields``) as an exception's fields on the page."""

_CONDITION = _("Name at least one condition: a credit, compensation terms or an AI label.")


def _several(n: int) -> forms.SelectMultiple:
    return forms.SelectMultiple(attrs={"size": min(6, max(3, n))})


def _date_input() -> forms.DateInput:
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


class ConsentForm(forms.Form):
    """Per use ``<use>-choice`` and, for an allow with conditions, ``<use>-credit``,
    ``<use>-compensation`` and ``<use>-ai_disclosure``, with ``<use>-plain`` the plain rule's
    version the form was based on; per exception shown ``<use>-x<n>-...`` (``-rule`` its
    version, ``-remove``), and one new ``<use>-new-...``; then ``posture`` (``posture_base``
    what it was) and the sample request ``sample-...``."""

    posture = forms.ChoiceField(
        label=_("When I have not answered"),
        choices=[(p, POSTURE_WORDS[p]) for p in Posture.values],
        widget=forms.RadioSelect,
    )
    posture_base = forms.ChoiceField(
        choices=Posture.choices, widget=forms.HiddenInput, required=False
    )
    """The posture the form was opened with (missing: the party's posture now)."""

    def __init__(
        self, *args: Any, rows: list[Row], catalog: Catalog, owner: Party, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        self.catalog = catalog
        self.owner = owner
        self.row_answers: dict[str, RowAnswer] = {}
        for row in rows:
            u = row.use
            self.fields[f"{u}-plain"] = forms.CharField(
                required=False, widget=forms.HiddenInput, initial=row.base()
            )
            self.fields[f"{u}-choice"] = forms.ChoiceField(
                label=row.label, choices=CHOICES, widget=forms.RadioSelect
            )
            self._conditions(u)
            for n, (version, _s) in enumerate(row.exceptions):
                p = f"{u}-x{n}"
                self.fields[f"{p}-rule"] = forms.CharField(
                    widget=forms.HiddenInput, initial=version_ref(version)
                )
                self._group(p, row, new=False)
                self.fields[f"{p}-remove"] = forms.BooleanField(
                    label=_("Remove this exception"), required=False
                )
            self._group(f"{u}-new", row, new=True)
        self.fields["sample-use"] = forms.ChoiceField(
            label=_("Use"), required=False,
            choices=[("", _("Every use")), *((u, USE_WORDS[u][0]) for u in USES)],
        )  # fmt: skip
        self.fields["sample-work"] = forms.ChoiceField(
            label=_("About"), required=False,
            choices=[("", _("One of my works no exception names")), *catalog.works],
        )  # fmt: skip
        self.fields["sample-licensee"] = forms.ChoiceField(
            label=_("Who asks"), required=False,
            choices=[("", _("A licensee I have not named")), *catalog.licensees],
        )  # fmt: skip
        self.fields["sample-territory"] = forms.CharField(
            label=_("Where (an ISO code such as FR; empty: worldwide)"), required=False,
            max_length=2,
        )  # fmt: skip
        self.fields["sample-commercial"] = forms.ChoiceField(
            label=_("Commercial use?"), initial="commercial", required=False,
            choices=[("commercial", _("Commercial use")),
                     ("non_commercial", _("Non-commercial use"))],
        )  # fmt: skip
        self.fields["sample-date"] = forms.DateField(
            label=_("On (empty: now)"), required=False, widget=_date_input()
        )

    def _conditions(self, p: str) -> None:
        self.fields[f"{p}-credit"] = forms.CharField(
            label=_("Credit me as"), max_length=500, required=False
        )
        self.fields[f"{p}-compensation"] = forms.CharField(
            label=_("Compensation terms (a contract or rate card reference)"),
            max_length=500, required=False,
        )  # fmt: skip
        self.fields[f"{p}-ai_disclosure"] = forms.BooleanField(
            label=_("Outputs must be labelled as made with AI"), required=False
        )

    def _group(self, p: str, row: Row, *, new: bool) -> None:
        """The fields of one exception (prefix ``p``)."""
        self.fields[f"{p}-effect"] = forms.ChoiceField(
            label=_("Answer"), choices=SCOPED_EFFECTS, widget=forms.RadioSelect,
            required=not new,
        )  # fmt: skip
        self._conditions(p)
        if row.scope != "likeness":
            self.fields[f"{p}-works"] = forms.MultipleChoiceField(
                label=_("Only these works (none chosen: all my works)"),
                choices=self.catalog.works, required=False,
                widget=_several(len(self.catalog.works)),
            )  # fmt: skip
        self.fields[f"{p}-licensees"] = forms.MultipleChoiceField(
            label=_("Only these licensees (none chosen: everyone)"),
            choices=self.catalog.licensees, required=False,
            widget=_several(len(self.catalog.licensees)),
        )  # fmt: skip
        self.fields[f"{p}-territories"] = forms.CharField(
            label=_("Territories (ISO codes: FR DE; everywhere but France: -FR)"),
            required=False, max_length=800,
        )  # fmt: skip
        self.fields[f"{p}-start"] = forms.DateField(
            label=_("From (UTC)"), required=False, widget=_date_input()
        )
        self.fields[f"{p}-until"] = forms.DateField(
            label=_("Until (UTC, that day included)"), required=False, widget=_date_input()
        )
        self.fields[f"{p}-commercial"] = forms.ChoiceField(
            label=_("Commercial use"), initial="both", required=False,
            choices=[(k, v) for k, v in COMMERCIAL_WORDS.items()],
        )  # fmt: skip

    @staticmethod
    def initial_for(rows: list[Row], posture: str) -> dict[str, Any]:
        initial: dict[str, Any] = {"posture": posture, "posture_base": posture,
                                   "sample-commercial": "commercial"}  # fmt: skip
        for row in rows:
            u = row.use
            a = row.answer
            initial |= {f"{u}-plain": row.base(), f"{u}-choice": a.choice,
                        f"{u}-credit": a.credit, f"{u}-compensation": a.compensation,
                        f"{u}-ai_disclosure": a.ai_disclosure,
                        f"{u}-new-commercial": "both"}  # fmt: skip
            for n, (version, s) in enumerate(row.exceptions):
                p = f"{u}-x{n}"
                initial |= {
                    f"{p}-rule": version_ref(version), f"{p}-effect": s.answer.choice,
                    f"{p}-credit": s.answer.credit, f"{p}-compensation": s.answer.compensation,
                    f"{p}-ai_disclosure": s.answer.ai_disclosure, f"{p}-works": list(s.works),
                    f"{p}-licensees": list(s.licensees), f"{p}-territories": s.territories,
                    f"{p}-start": s.start, f"{p}-until": s.until,
                    f"{p}-commercial": s.commercial,
                }  # fmt: skip
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for row in self.rows:
            u = row.use
            plain = self._answer(u, data, str(data.get(f"{u}-choice") or "default"))
            if plain.choice == "conditional" and not plain.obligations():
                self.add_error(f"{u}-choice", _CONDITION)
            shown = tuple(
                None if data.get(f"{u}-x{n}-remove") else self._scoped(f"{u}-x{n}", row, data)
                for n in range(len(row.exceptions))
            )
            new = self._scoped(f"{u}-new", row, data)
            self.row_answers[u] = RowAnswer(plain=plain, exceptions=shown, new=new)
        territory = str(data.get("sample-territory") or "").strip().upper()
        if territory:
            try:
                mode, codes = identifiers.normalize_territories(territory)
            except ValueError as exc:
                self.add_error("sample-territory", str(exc))
            else:
                if mode != identifiers.INCLUDE:
                    self.add_error("sample-territory", _("Name one territory, such as FR."))
                data["sample-territory"] = "".join(codes)
        return data

    def _answer(self, p: str, data: dict[str, Any], choice: str) -> Answer:
        if choice != "conditional":
            return Answer(choice)
        return Answer(
            choice,
            credit=str(data.get(f"{p}-credit") or "").strip(),
            compensation=str(data.get(f"{p}-compensation") or "").strip(),
            ai_disclosure=bool(data.get(f"{p}-ai_disclosure")),
        )

    def _scoped(self, p: str, row: Row, data: dict[str, Any]) -> Scoped | None:
        """The exception the fields ``p-...`` say (None: a new one left empty), its errors
        added to the form: the page's own (an answer, a limit, a condition) and then the
        service's (``rule_fields``, as the API validates a rule), each on its field."""
        if any(k.startswith(f"{p}-") for k in self.errors):
            return None  # a field's own error (a work not mine, a date that is no date)
        errors_before = set(self.errors)
        choice = str(data.get(f"{p}-effect") or "")
        raw_territories = str(data.get(f"{p}-territories") or "").strip()
        territories = ""
        if raw_territories:
            try:
                mode, codes = identifiers.normalize_territories(raw_territories)
            except ValueError as exc:
                self.add_error(f"{p}-territories", str(exc))
            else:
                territories = territory_text(mode, codes)
        start, until = data.get(f"{p}-start"), data.get(f"{p}-until")
        commercial = str(data.get(f"{p}-commercial") or "both")
        s = Scoped(
            answer=self._answer(p, data, choice),
            works=tuple(sorted(data.get(f"{p}-works") or ())),
            licensees=tuple(sorted(data.get(f"{p}-licensees") or ())),
            territories=territories,
            start=start if isinstance(start, dt.date) else None,
            until=until if isinstance(until, dt.date) else None,
            commercial=commercial,
        )
        entered = (
            s.is_limited()
            or raw_territories
            or any(data.get(f"{p}-{f}") for f in ("credit", "compensation", "ai_disclosure"))
        )
        if not choice:
            if entered and f"{p}-effect" in self.fields:
                self.add_error(f"{p}-effect", _("Choose an answer for this exception."))
            return None
        if not (s.is_limited() or raw_territories):
            self.add_error(
                f"{p}-territories",
                _("Limit this answer to some works, licensees, territories, a period or "
                  "commercial or non-commercial use; for everyone, use the row's answer."),
            )  # fmt: skip
        if choice == "conditional" and not s.answer.obligations():
            self.add_error(f"{p}-effect", _CONDITION)
        if s.until and s.until >= dt.date.max - DAY:
            self.add_error(f"{p}-until", _("Too far: leave it empty for no end."))
        if s.start and s.until and s.until < s.start:
            self.add_error(f"{p}-until", _("Ends before it starts: the last day comes first."))
        if set(self.errors) != errors_before:
            return None
        try:
            rule_fields(s.rule_data(use=row.use, scope=row.scope), owner=self.owner)
        except InvalidInput as exc:
            for name, reasons in (exc.fields or {"": [exc.message]}).items():
                target = SERVICE_FIELDS.get(name)
                key = f"{p}-{target}" if target and f"{p}-{target}" in self.fields else None
                self.add_error(key, "; ".join(reasons) if key else exc.message)
            return None
        return s

    def answer(self, use: str) -> RowAnswer:
        return self.row_answers[use]

    def groups(self) -> list[dict[str, Any]]:
        """The bound fields of each row and of its exceptions, for the template."""
        out = []
        for row in self.rows:
            u = row.use
            exceptions = [self._bound(f"{u}-x{n}", version=v) for n, (v, _s) in
                          enumerate(row.exceptions)]  # fmt: skip
            new = self._bound(f"{u}-new")
            errors = any(e["has_errors"] for e in [*exceptions, new])
            out.append({
                "row": row, "plain": self[f"{u}-plain"], "choice": self[f"{u}-choice"],
                "credit": self[f"{u}-credit"], "compensation": self[f"{u}-compensation"],
                "ai_disclosure": self[f"{u}-ai_disclosure"], "exceptions": exceptions,
                "new": new, "open": errors or self._new_entered(f"{u}-new"),
            })  # fmt: skip
        return out

    def _bound(self, p: str, version: Any = None) -> dict[str, Any]:
        names = ("effect", "credit", "compensation", "ai_disclosure", "works", "licensees",
                 "territories", "start", "until", "commercial", "remove", "rule")  # fmt: skip
        fields = {n: self[f"{p}-{n}"] for n in names if f"{p}-{n}" in self.fields}
        return {"prefix": p, "version": version, **fields,
                "has_errors": any(self.errors.get(f"{p}-{n}") for n in names)}  # fmt: skip

    def _new_entered(self, p: str) -> bool:
        return self.is_bound and bool(self.data.get(f"{p}-effect"))

    def sample_fields(self) -> list[forms.BoundField]:
        return [self[f"sample-{n}"] for n in ("use", "work", "licensee", "territory",
                                              "commercial", "date")]  # fmt: skip
