"""The consent page's model: one row per use, each the party's plain answer for that use and
its scoped exceptions.

A *plain* rule is one use, for every licensee, worldwide, at any time, commercial or not, over
the party's works (``all_works``) or, for an artist and a use that needs the likeness right
(``voice``, ``style``), over the artist's likeness. A *scoped exception* is a rule for one use
limited to some of the party's works, some licensees (listed), territories, a period (whole
UTC days) or commercial or non-commercial use only. A row reads both from the party's rules in
force and writes them back through :mod:`governance.services.consent` as the API does (a new
rule, a new version, a withdrawal), validated by the service's own :func:`rule_fields`.

A rule the page cannot show this way (several uses, another artist's works, "every licensee
but", a period that does not fall on whole days, a similarity limit, a work that is no longer
the party's) is listed read-only and never written by the page.

A save is all or nothing and holds the party's lock (:mod:`governance.ordering`): the form says
which rule versions it was based on, and a rule the form changes must still be at that version
(else nothing is saved: someone else changed it meanwhile); a rule the form does not change is
left as it is now, and an exception already in force is not added twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrPromise

from governance import identifiers, ordering, selectors
from governance.access import Actor
from governance.exceptions import Conflict
from governance.models import ConsentRule, ConsentRuleVersion, Party, PartyKind, Work
from governance.preview import PlannedRule
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


SCOPED_EFFECTS: tuple[tuple[str, StrPromise], ...] = tuple(c for c in CHOICES if c[0] != "default")
"""A scoped exception's answers: an exception always says something."""

COMMERCIAL_WORDS: Mapping[str, StrPromise] = {
    "both": _("Commercial or not"),
    "commercial": _("Commercial use only"),
    "non_commercial": _("Non-commercial use only"),
}

DAY = dt.timedelta(days=1)

MAX_EXCEPTIONS = 50
"""At most this many exceptions a row shows as editable (more: read-only)."""
WORKS_LISTED = 500
"""At most this many of a party's works (by title) are offered to choose from: an exception
naming another is shown read-only (the API sets it)."""


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
class Scoped:
    """A scoped exception: an answer (never ``default``) and its limits. ``works`` and
    ``licensees`` are sorted id strings (none: all of the row's works, every licensee);
    ``territories`` the canonical text (``"DE FR"``, ``"-FR"``, or empty: worldwide); the period
    whole UTC days, ``until`` included."""

    answer: Answer
    works: tuple[str, ...] = ()
    licensees: tuple[str, ...] = ()
    territories: str = ""
    start: dt.date | None = None
    until: dt.date | None = None
    commercial: str = "both"

    def is_limited(self) -> bool:
        return bool(self.works or self.licensees or self.territories or self.start
                    or self.until or self.commercial != "both")  # fmt: skip

    def rule_data(self, *, use: str, scope: str, note: str = "") -> dict[str, Any]:
        """The rule's content as the API's input gives it to the service."""
        return {
            "scope": "works" if self.works else scope, "scope_works": list(self.works),
            "uses": [use], "licensee_mode": "listed" if self.licensees else "any",
            "licensees": list(self.licensees), "territories": self.territories.split(),
            "window_start": midnight(self.start),
            "window_end": midnight(self.until + DAY) if self.until else None,
            "commercial": self.commercial, "effect": self.answer.choice,
            "obligations": self.answer.obligations(), "note": note,
        }  # fmt: skip

    def planned(self, *, use: str, scope: str) -> PlannedRule:
        """The exception as the preview takes it."""
        d = self.rule_data(use=use, scope=scope)
        mode, codes = identifiers.normalize_territories(d["territories"])
        return PlannedRule(
            use=use, scope=d["scope"], effect=d["effect"], obligations=d["obligations"],
            scope_works=frozenset(d["scope_works"]), licensee_mode=d["licensee_mode"],
            licensees=frozenset(d["licensees"]), territory_mode=mode, territories=codes,
            window_start=d["window_start"], window_end=d["window_end"],
            commercial=d["commercial"],
        )  # fmt: skip


def midnight(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def territory_text(mode: str, codes: Iterable[str]) -> str:
    """A territory spec as the page writes it: ``"DE FR"`` (these), ``"-FR"`` (all but)."""
    if mode == identifiers.INCLUDE:
        return " ".join(sorted(codes))
    if mode == identifiers.EXCLUDE:
        return " ".join(f"-{c}" for c in sorted(codes))
    return ""


def answer_of(version: ConsentRuleVersion | None) -> Answer:
    if version is None:
        return Answer("default")
    o = version.obligations or {}
    return Answer(
        version.effect,
        credit=str(o.get("attribution", "")),
        compensation=str(o.get("compensation_ref", "")),
        ai_disclosure=bool(o.get("ai_disclosure", False)),
    )


def _day(value: dt.datetime | None) -> tuple[bool, dt.date | None]:
    """A window's bound as a UTC day, and whether it falls on a UTC midnight (else the page
    cannot show it)."""
    if value is None:
        return True, None
    utc = value.astimezone(dt.UTC)
    return utc.time() == dt.time() and utc.tzinfo is not None, utc.date()


def scoped_of(version: ConsentRuleVersion, *, scope: str, works: Iterable[str]) -> Scoped | None:
    """``version`` as a scoped exception of a row whose plain rule has ``scope``, or None when
    the page cannot show it so (see the module's docstring)."""
    if len(version.uses) != 1 or version.effect == "default" or version.ai_declarations:
        return None  # (a rule for works by their AI declaration: the API's alone)
    listed = tuple(sorted(str(w) for w in version.scope_works))
    if version.scope == "works":
        if scope == "likeness" or not listed or not set(listed) <= set(works):
            return None
    elif version.scope != scope:
        return None
    if version.licensee_mode not in ("any", "listed"):
        return None
    if set(version.obligations or {}) - {"attribution", "compensation_ref", "ai_disclosure"}:
        return None
    whole_start, start = _day(version.window_start)
    whole_end, end = _day(version.window_end)
    if not (whole_start and whole_end):
        return None
    return Scoped(
        answer=answer_of(version),
        works=listed if version.scope == "works" else (),
        licensees=tuple(sorted(str(p) for p in version.licensees)),
        territories=territory_text(version.territory_mode, version.territories),
        start=start,
        until=None if end is None else end - DAY,
        commercial=version.commercial,
    )


@dataclass(frozen=True)
class Row:
    """One use: its plain rule's version (if any) and its scoped exceptions' versions."""

    use: str
    scope: str
    label: StrPromise
    help: StrPromise
    version: ConsentRuleVersion | None
    """The plain rule's version, if any."""
    exceptions: tuple[tuple[ConsentRuleVersion, Scoped], ...] = ()

    @property
    def answer(self) -> Answer:
        return answer_of(self.version)

    def base(self) -> str:
        """The versions the row shows, as the form carries them: ``rule:version`` each."""
        return version_ref(self.version)


def version_ref(version: ConsentRuleVersion | None) -> str:
    return "" if version is None else f"{version.rule_id}:{version.version}"


@dataclass(frozen=True)
class RowAnswer:
    """What the form says of a row: its plain answer, each shown exception as it should be
    (None: removed), and a new exception if one was given."""

    plain: Answer
    exceptions: tuple[Scoped | None, ...] = ()
    new: Scoped | None = None


@dataclass(frozen=True)
class Catalog:
    """What a party's scoped answers choose among: its works (registered, held or credited
    on) and the licensees it knows (that asked about it, or that its rules name)."""

    works: list[tuple[str, str]] = field(default_factory=list)
    licensees: list[tuple[str, str]] = field(default_factory=list)

    def work_ids(self) -> set[str]:
        return {w for w, _ in self.works}


def party_works(*, actor: Actor) -> list[Work]:
    """The works a party's "some works" may name: those it registered, holds a right in or,
    an artist, is credited on."""
    party = actor.party
    mine = Q(registrant=party) | Q(shares__holder=party) | Q(credits__party=party)
    ids = selectors.work_list(actor=actor).filter(mine).values("pk")
    return list(Work.objects.filter(pk__in=ids).order_by("title", "id")[:WORKS_LISTED])


def catalog_of(*, actor: Actor, named: Iterable[str] = ()) -> Catalog:
    works = [(str(w.pk), _work_label(w)) for w in party_works(actor=actor)]
    asked = selectors.decisions_about(actor=actor).values("request__licensee_id")
    ids = {str(x) for x in named}
    licensees = Party.objects.filter(kind=PartyKind.LICENSEE).filter(
        Q(pk__in=asked) | Q(pk__in=[i for i in ids if _uuid_ok(i)])
    )
    return Catalog(
        works=works,
        licensees=[(str(p.pk), p.name) for p in licensees.order_by("name", "id")],
    )


def _uuid_ok(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _work_label(work: Work) -> str:
    code = work.isrc or work.iswc
    return f"{work.title} ({code})" if code else work.title


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
        and not version.ai_declarations
        and not set(version.obligations or {})
        - {"attribution", "compensation_ref", "ai_disclosure"}
    )


def in_force(*, actor: Actor) -> list[ConsentRuleVersion]:
    return list(
        selectors.rule_versions_in_force(actor=actor)
        .filter(rule__owner=actor.party)
        .select_related("rule")
        .order_by("rule__created_at", "rule_id")
    )


def build_rows(
    *, actor: Actor, versions: list[ConsentRuleVersion], catalog: Catalog,
    plain: Mapping[str, ConsentRuleVersion | None] | None = None,
) -> tuple[list[Row], list[ConsentRuleVersion]]:  # fmt: skip
    """The rows of ``versions`` (a party's rules), one per use, and those the page cannot
    show (read-only). ``plain`` names each row's plain rule where the form already did."""
    matrix = selectors.matrix_at().matrix
    works = catalog.work_ids()
    rows, used = [], set()
    for use in USES:
        scope = row_scope(actor=actor, use=use, matrix=matrix)
        mine = [v for v in versions if use in v.uses]
        if plain is not None and use in plain:
            first = plain[use]
        else:
            first = next((v for v in mine if is_plain(v, scope=scope)), None)
        if first is not None:
            used.add(first.pk)
        exceptions: list[tuple[ConsentRuleVersion, Scoped]] = []
        for v in mine:
            if v.pk in used:
                continue
            s = scoped_of(v, scope=scope, works=works)
            if s is not None and s.is_limited() and len(exceptions) < MAX_EXCEPTIONS:
                exceptions.append((v, s))
                used.add(v.pk)
        label, help_text = USE_WORDS[use]
        rows.append(Row(use=use, scope=scope, label=label, help=help_text, version=first,
                        exceptions=tuple(exceptions)))  # fmt: skip
    return rows, [v for v in versions if v.pk not in used]


def consent_rows(
    *, actor: Actor, catalog: Catalog | None = None
) -> tuple[list[Row], list[ConsentRuleVersion]]:
    """The page's rows as the party's rules are now, and the rules it shows read-only."""
    versions = in_force(actor=actor)
    if catalog is None:
        catalog = catalog_of(actor=actor, named=[str(p) for v in versions for p in v.licensees])
    return build_rows(actor=actor, versions=versions, catalog=catalog)


class NotYours(Exception):
    """The form names a rule version that is not one of the party's."""


def rows_from_form(*, actor: Actor, data: Mapping[str, Any], catalog: Catalog) -> list[Row]:
    """The rows the submitted form was based on: the rule versions it names (``<use>-plain``,
    ``<use>-x<n>-rule``), each one of the party's (else :class:`NotYours`)."""
    wanted: dict[str, tuple[str, list[str]]] = {}
    refs: set[tuple[str, int]] = set()
    for use in USES:
        plain = str(data.get(f"{use}-plain") or "")
        shown = []
        for n in range(MAX_EXCEPTIONS):
            ref = data.get(f"{use}-x{n}-rule")
            if ref is None:
                break
            shown.append(str(ref))
        wanted[use] = (plain, shown)
        refs |= {_parse_ref(r) for r in [plain, *shown] if r}
    found = {}
    if refs:
        q = Q()
        for rule_id, version in refs:
            q |= Q(rule_id=rule_id, version=version)
        found = {
            (str(v.rule_id), v.version): v
            for v in ConsentRuleVersion.objects.filter(q, rule__owner=actor.party).select_related(
                "rule"
            )
        }
    if set(found) != refs:
        raise NotYours
    matrix = selectors.matrix_at().matrix
    works = catalog.work_ids()
    rows = []
    for use in USES:
        scope = row_scope(actor=actor, use=use, matrix=matrix)
        plain, shown = wanted[use]
        first = found[_parse_ref(plain)] if plain else None
        if first is not None and not (use in first.uses and is_plain(first, scope=scope)):
            raise NotYours
        exceptions = []
        for ref in shown:
            v = found[_parse_ref(ref)]
            s = scoped_of(v, scope=scope, works=works) if use in v.uses else None
            if s is None:
                raise NotYours
            exceptions.append((v, s))
        label, help_text = USE_WORDS[use]
        rows.append(Row(use=use, scope=scope, label=label, help=help_text, version=first,
                        exceptions=tuple(exceptions)))  # fmt: skip
    return rows


def _parse_ref(ref: str) -> tuple[str, int]:
    rule_id, _, version = ref.partition(":")
    if not _uuid_ok(rule_id) or not version.isdigit() or len(version) > 9:
        raise NotYours
    return rule_id, int(version)


@transaction.atomic
def consent_save(
    *,
    actor: Actor,
    rows: list[Row],
    answers: Mapping[str, RowAnswer],
    posture: str,
    posture_base: str,
    now: dt.datetime,
) -> int:
    """Write what the form changed from the versions it was based on (``rows``), all or
    nothing, holding the party's lock: a new rule, a new version or a withdrawal for each
    answer changed, a new rule for each new exception (unless the same is already in force),
    then the default posture. :class:`Conflict` naming the uses when a rule (or the posture)
    the form changes was changed by someone else since. The number of rules changed."""
    ordering.changing([ordering.holder_key(actor.party.pk)])
    current = {v.rule_id: v for v in in_force(actor=actor)}
    catalog = catalog_of(actor=actor, named=[str(p) for v in current.values() for p in v.licensees])
    now_rows, _ = build_rows(actor=actor, versions=list(current.values()), catalog=catalog)
    now_by_use = {r.use: r for r in now_rows}
    changed, conflicts = 0, []

    def write(
        version: ConsentRuleVersion | None, data: dict[str, Any] | None
    ) -> None:  # None: withdraw
        nonlocal changed
        changed += 1
        if version is None:
            assert data is not None
            consent_services.rule_create(actor=actor, data=data, now=now)
            return
        rule = selectors.rule_get(actor=actor, rule_id=version.rule_id)
        if data is None:
            consent_services.rule_withdraw(actor=actor, rule=rule, now=now)
        else:
            consent_services.rule_revise(actor=actor, rule=rule, data=data, now=now)

    for row in rows:
        wanted = answers[row.use]
        now_row = now_by_use[row.use]
        # The plain answer.
        if wanted.plain != row.answer and wanted.plain != now_row.answer:
            base, cur = row.version, now_row.version
            if (base is None) != (cur is None) or (base and cur and base.pk != cur.pk):
                conflicts.append(row.use)
            elif wanted.plain.choice == "default":
                write(cur, None)
            else:
                data = Scoped(wanted.plain).rule_data(use=row.use, scope=row.scope,
                                                      note=cur.note if cur else "")  # fmt: skip
                write(cur, data)
        # The exceptions shown.
        for (base_v, shown), want in zip(row.exceptions, wanted.exceptions, strict=True):
            if want == shown:
                continue
            cur_v = current.get(base_v.rule_id)
            cur_s = None
            if cur_v is not None:
                cur_s = scoped_of(cur_v, scope=row.scope, works=catalog.work_ids())
            if want == cur_s and (want is not None or cur_v is None):
                continue  # already so
            if cur_v is None or cur_v.pk != base_v.pk:
                conflicts.append(row.use)
            elif want is None:
                write(cur_v, None)
            else:
                write(cur_v, want.rule_data(use=row.use, scope=row.scope, note=cur_v.note))
        # A new exception, unless the same is in force.
        if wanted.new is not None and all(s != wanted.new for _, s in now_row.exceptions):
            write(None, wanted.new.rule_data(use=row.use, scope=row.scope))
    party = Party.objects.get(pk=actor.party.pk)
    if posture not in (posture_base, party.default_posture):
        if party.default_posture != posture_base:
            conflicts.append("posture")
        else:
            consent_services.party_posture_set(actor=actor, posture=posture, now=now)
    if conflicts:
        what = [
            str(USE_WORDS[c][0]) if c in USE_WORDS else gettext("the default posture")
            for c in dict.fromkeys(conflicts)
        ]
        raise Conflict(
            gettext(
                "Changed by someone else since you opened the page: %(what)s. Nothing was saved."
            )
            % {"what": "; ".join(what)},
            fields={"conflicts": list(dict.fromkeys(conflicts))},
        )
    return changed


def limits_text(
    version: ConsentRuleVersion, *, works: Mapping[str, str], licensees: Mapping[str, str]
) -> str:
    """A rule version's limits in words (empty for a plain rule): its works, licensees,
    territories, period, commercial use."""
    parts: list[str] = []
    if version.scope == "works":
        titles = ", ".join(works.get(str(w), str(w)) for w in version.scope_works)
        parts.append(gettext("works: %(names)s") % {"names": titles})
    elif version.scope == "artist_works":
        parts.append(gettext("the works of another artist"))
    names = ", ".join(licensees.get(str(p), str(p)) for p in version.licensees)
    if version.licensee_mode == "listed":
        parts.append(gettext("only %(names)s") % {"names": names})
    elif version.licensee_mode == "except":
        parts.append(gettext("every licensee but %(names)s") % {"names": names})
    if version.territory_mode == identifiers.INCLUDE:
        parts.append(gettext("in %(codes)s") % {"codes": " ".join(sorted(version.territories))})
    elif version.territory_mode == identifiers.EXCLUDE:
        parts.append(
            gettext("outside %(codes)s") % {"codes": " ".join(sorted(version.territories))}
        )
    if version.window_start:
        parts.append(gettext("from %(when)s") % {"when": _when(version.window_start)})
    if version.window_end:
        parts.append(gettext("until %(when)s (excluded)") % {"when": _when(version.window_end)})
    if version.commercial != "both":
        parts.append(str(COMMERCIAL_WORDS[version.commercial]))
    if (version.obligations or {}).get("max_similarity") is not None:
        parts.append(
            gettext("outputs at most %(n)s similar") % {"n": version.obligations["max_similarity"]}
        )
    return " · ".join(parts)


def _when(value: dt.datetime) -> str:
    utc = value.astimezone(dt.UTC)
    return utc.date().isoformat() if utc.time() == dt.time() else utc.isoformat(timespec="minutes")


def rule_history(*, actor: Actor) -> list[dict[str, Any]]:
    """Every version of the party's rules and every withdrawal, newest first: who changed
    what and when (a withdrawal with the version it ended)."""
    versions = selectors.rule_versions_history(actor=actor)
    rules = selectors.rule_list(actor=actor).filter(owner=actor.party)
    events: list[dict[str, Any]] = [
        {"at": v.effective_from, "version": v, "withdrawn": False, "rule": v.rule_id}
        for v in versions
    ]
    withdrawn: Iterable[ConsentRule] = rules.filter(withdrawn_at__isnull=False).select_related(
        "withdrawn_by"
    )
    last = {
        (v.rule_id, v.version): v
        for v in ConsentRuleVersion.objects.filter(rule__in=[r.pk for r in withdrawn])
    }
    events += [{"at": r.withdrawn_at, "version": last.get((r.pk, r.current_version)),
                "withdrawn": True, "rule": r.pk, "rule_version": r.current_version,
                "who": r.withdrawn_by} for r in withdrawn]  # fmt: skip
    events.sort(key=lambda e: e["at"], reverse=True)
    return events[:200]
