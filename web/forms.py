"""The pages' forms: sign-in is Django's; the consent form has one group of fields per use."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from governance.models import Posture
from web.consent import CHOICES, POSTURE_WORDS, Answer, Row


class ConsentForm(forms.Form):
    """Per use ``<use>-choice`` and, for an allow with conditions, ``<use>-credit``,
    ``<use>-compensation`` and ``<use>-ai_disclosure``; then ``posture``."""

    posture = forms.ChoiceField(
        label=_("When I have not answered"),
        choices=[(p, POSTURE_WORDS[p]) for p in Posture.values],
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, rows: list[Row], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        for row in rows:
            self.fields[f"{row.use}-choice"] = forms.ChoiceField(
                label=row.label, choices=CHOICES, widget=forms.RadioSelect
            )
            self.fields[f"{row.use}-credit"] = forms.CharField(
                label=_("Credit me as"), max_length=500, required=False
            )
            self.fields[f"{row.use}-compensation"] = forms.CharField(
                label=_("Compensation terms (a contract or rate card reference)"),
                max_length=500, required=False,
            )  # fmt: skip
            self.fields[f"{row.use}-ai_disclosure"] = forms.BooleanField(
                label=_("Outputs must be labelled as made with AI"), required=False
            )

    @staticmethod
    def initial_for(rows: list[Row], posture: str) -> dict[str, Any]:
        initial: dict[str, Any] = {"posture": posture}
        for row in rows:
            a = row.answer
            initial |= {f"{row.use}-choice": a.choice, f"{row.use}-credit": a.credit,
                        f"{row.use}-compensation": a.compensation,
                        f"{row.use}-ai_disclosure": a.ai_disclosure}  # fmt: skip
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for row in self.rows:
            if data.get(f"{row.use}-choice") != "conditional":
                continue
            answer = self.answer(row.use, data)
            if not answer.obligations():
                self.add_error(
                    f"{row.use}-choice",
                    _("Name at least one condition: a credit, compensation terms or an AI label."),
                )
        return data

    def answer(self, use: str, data: dict[str, Any] | None = None) -> Answer:
        data = self.cleaned_data if data is None else data
        choice = str(data.get(f"{use}-choice") or "default")
        if choice != "conditional":
            return Answer(choice)
        return Answer(
            choice,
            credit=str(data.get(f"{use}-credit") or "").strip(),
            compensation=str(data.get(f"{use}-compensation") or "").strip(),
            ai_disclosure=bool(data.get(f"{use}-ai_disclosure")),
        )

    def groups(self) -> list[dict[str, Any]]:
        """The bound fields of each row, for the template."""
        return [
            {"row": row, "choice": self[f"{row.use}-choice"], "credit": self[f"{row.use}-credit"],
             "compensation": self[f"{row.use}-compensation"],
             "ai_disclosure": self[f"{row.use}-ai_disclosure"]}
            for row in self.rows
        ]  # fmt: skip
