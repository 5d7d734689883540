"""The consent page's model: one row per use, each the party's one plain rule for that use.

A *plain* rule is one the page can show as a row and write back: one use, for every licensee,
worldwide, at any time, commercial or not, over the party's works (``all_works``) or, for an
artist and a use that needs the likeness right (``voice``, ``style``), over the artist's
likeness. A row reads the plain rule in force (none: the party's default posture answers) and
is written back through :mod:`governance.services.consent` as the API writes it: a new rule, a
new version of the rule, or its withdrawal. Rules with narrower scopes (some works, listed
licensees, territories, a period), set through the API, are listed beside the rows, unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrPromise

from governance import selectors
from governance.access import Actor
from governance.models import ConsentRule, ConsentRuleVersion, PartyKind
from governance.services import consent as consent_services
from governance.terms import USES

USE_WORDS: Mapping[str, tuple[StrPromise, StrPromise]] = {
    "train": (_("Train AI models on my recordings"),
              _("Training or fine-tuning a model on the recordings.")),
    "reference": (_("Use my recordings as a reference while generating"),
                  _("Retrieval or conditioning when a model makes something new.")),
    "output": (_("Release AI outputs that resemble my recordings"),
               _("Publishing music made by AI that sounds like the recordings.")),
    "voice": (_("Clone or imitate my voice"),
              _("Synthesising a singing or speaking voice that sounds like the artist.")),
    "style": (_("Imitate me as a named artist"),
              _("Prompts such as “a song in the style of …” that name the artist.")),
    "lyrics": (_("Train on or generate from my lyrics"),
               _("Using the words of the songs.")),
    "stems": (_("Separate or remix my recordings into stems"),
              _("Splitting a recording into vocals, drums, bass and the rest.")),
    "analyze": (_("Analyse my recordings"),
                _("Tagging, search, recommendation and trends: nothing is generated.")),
}  # fmt: skip
"""Each use in plain words, and a line that says what it covers (DESIGN.md, Vocabulary)."""

CHOICES: tuple[tuple[str, StrPromise], ...] = (
    ("allow", _("Allow")),
    ("conditional", _("Allow with conditions")),
    ("review", _("Ask me")),
    ("deny", _("Never")),
    ("default", _("No answer: my default")),
)
"""A row's answers; ``default`` means no rule of the page's, so the default posture answers."""

EFFECT_WORDS: Mapping[str, StrPromise] = {
    "allow": _("Allow"), "conditional": _("Allow with conditions"), "review": _("Ask me"),
    "deny": _("Never"),
}  # fmt: skip

POSTURE_WORDS: Mapping[str, StrPromise] = {
    "opt_in": _("Refuse what I have not answered (opt-in)"),
    "opt_out": _("Allow what I have not refused (opt-out)"),
}


@dataclass(frozen=True)
class Answer:
    """What a row says: an effect (or ``default``) and, for ``conditional``, its conditions."""

    choice: str
    credit: str = ""
    compensation: str = ""
    ai_disclosure: bool = False

    def obligations(self) -> dict[str, Any]:
        if self.choice != "conditional":
            return {}
        out: dict[str, Any] = {}
        if self.credit:
            out["attribution"] = self.credit
        if self.compensation:
            out["compensation_ref"] = self.compensation
        if self.ai_disclosure:
            out["ai_disclosure"] = True
        return out


@dataclass(frozen=True)
class Row:
    use: str
    scope: str
    label: StrPromise
    help: StrPromise
    version: ConsentRuleVersion | None
    """The plain rule's version in force, if any."""

    @property
    def answer(self) -> Answer:
        v = self.version
        if v is None:
            return Answer("default")
        o = v.obligations or {}
        return Answer(
            v.effect,
            credit=str(o.get("attribution", "")),
            compensation=str(o.get("compensation_ref", "")),
            ai_disclosure=bool(o.get("ai_disclosure", False)),
        )


def row_scope(*, actor: Actor, use: str, matrix: Mapping[str, Iterable[str]]) -> str:
    """An artist's row for a use that needs the likeness right speaks for the likeness; every
    other row for the party's works."""
    if actor.party.kind == PartyKind.ARTIST and "likeness" in matrix.get(use, ()):
        return "likeness"
    return "all_works"


def is_plain(version: ConsentRuleVersion, *, scope: str) -> bool:
    return (
        version.scope == scope
        and len(version.uses) == 1
        and version.licensee_mode == "any"
        and version.territory_mode == "worldwide"
        and version.window_start is None
        and version.window_end is None
        and version.commercial == "both"
    )


def consent_rows(*, actor: Actor) -> tuple[list[Row], list[ConsentRuleVersion]]:
    """The page's rows, one per use, and the other rules in force (not plain)."""
    matrix = selectors.matrix_at().matrix
    in_force = list(
        selectors.rule_versions_in_force(actor=actor)
        .filter(rule__owner=actor.party)
        .order_by("rule__created_at", "rule_id")
    )
    rows, used = [], set()
    for use in USES:
        scope = row_scope(actor=actor, use=use, matrix=matrix)
        plain = next((v for v in in_force if use in v.uses and is_plain(v, scope=scope)), None)
        if plain is not None:
            used.add(plain.pk)
        label, help_text = USE_WORDS[use]
        rows.append(Row(use=use, scope=scope, label=label, help=help_text, version=plain))
    return rows, [v for v in in_force if v.pk not in used]


@transaction.atomic
def consent_save(
    *,
    actor: Actor,
    rows: list[Row],
    answers: Mapping[str, Answer],
    posture: str,
    now: dt.datetime,
) -> int:
    """Write what changed, all or nothing: each row whose answer differs from its rule in force
    (a new rule, a new version, or its withdrawal), then the default posture. The number of
    rows changed."""
    changed = 0
    for row in rows:
        wanted = answers[row.use]
        if wanted == row.answer:
            continue
        changed += 1
        if wanted.choice == "default":
            assert row.version is not None
            rule = selectors.rule_get(actor=actor, rule_id=row.version.rule_id)
            consent_services.rule_withdraw(actor=actor, rule=rule, now=now)
            continue
        data = {"scope": row.scope, "uses": [row.use], "effect": wanted.choice,
                "obligations": wanted.obligations()}  # fmt: skip
        if row.version is None:
            consent_services.rule_create(actor=actor, data=data, now=now)
        else:
            rule = selectors.rule_get(actor=actor, rule_id=row.version.rule_id)
            consent_services.rule_revise(actor=actor, rule=rule, data=data, now=now)
    if posture != actor.party.default_posture:
        consent_services.party_posture_set(actor=actor, posture=posture, now=now)
    return changed


def rule_history(*, actor: Actor) -> list[dict[str, Any]]:
    """Every version of the party's rules and every withdrawal, newest first: who changed
    what and when."""
    versions = selectors.rule_versions_history(actor=actor)
    rules = selectors.rule_list(actor=actor).filter(owner=actor.party)
    events: list[dict[str, Any]] = [
        {"at": v.effective_from, "version": v, "withdrawn": False, "rule": v.rule_id}
        for v in versions
    ]
    withdrawn: Iterable[ConsentRule] = rules.filter(withdrawn_at__isnull=False)
    events += [{"at": r.withdrawn_at, "version": None, "withdrawn": True, "rule": r.pk,
                "rule_version": r.current_version} for r in withdrawn]  # fmt: skip
    events.sort(key=lambda e: e["at"], reverse=True)
    return events[:200]
