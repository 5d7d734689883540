"""Consent actions: rules as immutable versions, a party's default posture, and the consent
matrix. Each is one transaction that appends its ledger entry.

A rule belongs to its owner party; only the owner's members (editor role or more) create,
revise or withdraw it. A ``likeness`` rule can only be owned by the artist whose likeness it
is: that is how "no label rule can grant it" holds. Licensees and auditors own no rules.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from governance import compensation, identifiers, ledgering, ordering
from governance.access import Actor
from governance.exceptions import InvalidInput, PermissionDenied
from governance.models import (
    ConsentMatrixVersion,
    ConsentRule,
    ConsentRuleVersion,
    Party,
    PartyKind,
    Posture,
    Work,
)
from governance.services import callbacks
from governance.terms import (
    AI_CONDITIONS,
    COMMERCIAL,
    EFFECTS,
    LICENSEE_MODES,
    RIGHTS,
    SCOPES,
    USES,
)

COMPENSATION_TERMS = ("compensation_rate", "compensation_currency", "compensation_unit")
"""The optional terms beside ``compensation_ref``: a rate per unit, its currency and its unit
(docs/lifecycle-statements.md). All three or none, and only with a reference."""
RULE_OWNER_KINDS = (PartyKind.LABEL, PartyKind.PUBLISHER, PartyKind.ARTIST)
OBLIGATION_KEYS = (
    "attribution", "compensation_ref", "ai_disclosure", "max_similarity",
    *COMPENSATION_TERMS,
)  # fmt: skip


def _uuid_list(name: str, values: Any) -> list[str]:
    if not isinstance(values, list | tuple):
        raise InvalidInput.field(name, "must be a list of ids")
    return sorted({str(v) for v in values})


@dataclass(frozen=True)
class RuleFields:
    """A rule version's content, validated and normalised (:func:`rule_fields`): the fields of
    a :class:`ConsentRuleVersion` that its author sets."""

    scope: str
    scope_works: list[str]
    scope_artist_id: Any
    uses: list[str]
    licensee_mode: str
    licensees: list[str]
    territory_mode: str
    territories: list[str]
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    commercial: str
    effect: str
    obligations: dict[str, Any]
    note: str
    ai_declarations: list[str]

    def model_fields(self) -> dict[str, Any]:
        return asdict(self)


def rule_fields(data: Mapping[str, Any], *, owner: Party) -> RuleFields:
    """Validate a rule version's content for ``owner``; its fields, or :class:`InvalidInput`
    naming the field and the reason."""
    scope = data.get("scope")
    if scope not in SCOPES:
        raise InvalidInput.field("scope", f"must be one of {list(SCOPES)}")
    uses = data.get("uses")
    if not isinstance(uses, list | tuple) or not uses:
        raise InvalidInput.field("uses", f"must list at least one of {list(USES)}")
    unknown = sorted(set(map(str, uses)) - set(USES))
    if unknown:
        raise InvalidInput.field("uses", f"unknown use {unknown[0]!r}; uses are {list(USES)}")
    effect = data.get("effect")
    if effect not in EFFECTS:
        raise InvalidInput.field("effect", f"must be one of {list(EFFECTS)}")
    scope_works = _uuid_list("scope_works", data.get("scope_works") or [])
    scope_artist = data.get("scope_artist") or None
    if scope == "works":
        if not scope_works:
            raise InvalidInput.field("scope_works", "a 'works' rule lists at least one work")
        try:
            found = Work.objects.filter(pk__in=scope_works).count()
        except ValidationError:
            found = -1
        if found != len(scope_works):
            raise InvalidInput.field("scope_works", "every listed work must be registered")
    elif scope_works:
        raise InvalidInput.field("scope_works", "only a 'works' rule lists works")
    if scope == "artist_works":
        try:
            artist = Party.objects.get(pk=str(scope_artist), kind=PartyKind.ARTIST)
        except (Party.DoesNotExist, ValidationError, ValueError):
            raise InvalidInput.field("scope_artist", "must be a registered artist party") from None
        scope_artist = artist.pk
    elif scope_artist:
        raise InvalidInput.field("scope_artist", "only an 'artist_works' rule names an artist")
    if scope == "likeness" and owner.kind != PartyKind.ARTIST:
        raise InvalidInput.field("scope", "only an artist sets consent for its own likeness")
    licensee_mode = data.get("licensee_mode") or "any"
    if licensee_mode not in LICENSEE_MODES:
        raise InvalidInput.field("licensee_mode", f"must be one of {list(LICENSEE_MODES)}")
    licensees = _uuid_list("licensees", data.get("licensees") or [])
    if licensee_mode == "any" and licensees:
        raise InvalidInput.field("licensees", "licensee_mode 'any' lists no licensees")
    if licensee_mode != "any":
        if not licensees:
            raise InvalidInput.field(
                "licensees", f"licensee_mode {licensee_mode!r} needs at least one"
            )
        try:
            found = Party.objects.filter(pk__in=licensees, kind=PartyKind.LICENSEE).count()
        except ValidationError:
            found = -1
        if found != len(licensees):
            raise InvalidInput.field(
                "licensees", "every listed party must be a registered licensee"
            )
    try:
        territory_mode, territories = identifiers.normalize_territories(
            data.get("territories") or ""
        )
    except ValueError as exc:
        raise InvalidInput.field("territories", str(exc)) from None
    window_start, window_end = data.get("window_start"), data.get("window_end")
    if window_start and window_end and window_start >= window_end:
        raise InvalidInput.field("window_end", "must be after window_start")
    commercial = data.get("commercial") or "both"
    if commercial not in COMMERCIAL:
        raise InvalidInput.field("commercial", f"must be one of {list(COMMERCIAL)}")
    obligations = _obligations(data.get("obligations") or {}, effect=str(effect))
    note = str(data.get("note") or "")
    if len(note) > 2000:
        raise InvalidInput.field("note", "at most 2,000 characters")
    ai_declarations = _ai_declarations(data.get("ai_declarations") or [])
    return RuleFields(
        scope=str(scope), scope_works=scope_works, scope_artist_id=scope_artist,
        uses=sorted(set(map(str, uses))), licensee_mode=str(licensee_mode), licensees=licensees,
        territory_mode=territory_mode, territories=sorted(territories),
        window_start=window_start, window_end=window_end, commercial=str(commercial),
        effect=str(effect), obligations=obligations, note=note, ai_declarations=ai_declarations,
    )  # fmt: skip


def _ai_declarations(values: Any) -> list[str]:
    """The AI declarations a rule is limited to (:data:`AI_CONDITIONS`), sorted; none listed:
    the rule speaks for every work, declared or not."""
    if not isinstance(values, list | tuple):
        raise InvalidInput.field("ai_declarations", f"must be a list of {list(AI_CONDITIONS)}")
    unknown = sorted({repr(v) for v in values if v not in AI_CONDITIONS})
    if unknown:
        raise InvalidInput.field(
            "ai_declarations",
            f"unknown AI declaration {unknown[0]}; they are {list(AI_CONDITIONS)}",
        )
    return sorted(set(values))


def _obligations(raw: Any, *, effect: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput.field("obligations", "must be an object")
    unknown = sorted(set(map(str, raw)) - set(OBLIGATION_KEYS))
    if unknown:
        raise InvalidInput.unknown_fields([f"obligations.{key}" for key in unknown])
    out: dict[str, Any] = {}
    for key in ("attribution", "compensation_ref"):
        if raw.get(key):
            if not isinstance(raw[key], str) or len(raw[key]) > 500:
                raise InvalidInput.field(
                    f"obligations.{key}", "must be text of at most 500 characters"
                )
            out[key] = raw[key]
    if raw.get("ai_disclosure") is not None:
        if not isinstance(raw["ai_disclosure"], bool):
            raise InvalidInput.field("obligations.ai_disclosure", "must be true or false")
        if raw["ai_disclosure"]:
            out["ai_disclosure"] = True
    if raw.get("max_similarity") is not None:
        value = raw["max_similarity"]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= 1
        ):
            raise InvalidInput.field("obligations.max_similarity", "must be a number from 0 to 1")
        out["max_similarity"] = float(value)
    out.update(_compensation_terms(raw, reference=bool(out.get("compensation_ref"))))
    if out and effect != "conditional":
        raise InvalidInput.field("obligations", "only a 'conditional' rule carries obligations")
    if effect == "conditional" and not out:
        raise InvalidInput.field(
            "obligations", "a 'conditional' rule names at least one obligation"
        )
    return out


def _compensation_terms(raw: Mapping[str, Any], *, reference: bool) -> dict[str, Any]:
    """A rule's rate per unit, currency and unit, validated: the rate a decimal string (never a
    float: it is money), the currency an ISO 4217 code, the unit one of
    :data:`governance.compensation.UNITS`."""
    given = [key for key in COMPENSATION_TERMS if raw.get(key) not in (None, "")]
    if not given:
        return {}
    if not reference:
        raise InvalidInput.field(
            f"obligations.{given[0]}", "compensation terms need a compensation_ref"
        )
    missing = [key for key in COMPENSATION_TERMS if key not in given]
    if missing:
        raise InvalidInput.field(
            f"obligations.{missing[0]}", "a rate needs its currency and its unit (all three)"
        )
    try:
        rate = compensation.parse_decimal(
            raw["compensation_rate"], places=compensation.RATE_PLACES, positive=True
        )
    except ValueError as exc:
        raise InvalidInput.field("obligations.compensation_rate", str(exc)) from None
    currency = raw["compensation_currency"]
    try:
        compensation.currency_places(currency)
    except ValueError as exc:
        raise InvalidInput.field("obligations.compensation_currency", str(exc)) from None
    unit = raw["compensation_unit"]
    if unit not in compensation.UNITS:
        raise InvalidInput.field(
            "obligations.compensation_unit", f"must be one of {list(compensation.UNITS)}"
        )
    return {
        "compensation_rate": str(rate), "compensation_currency": currency,
        "compensation_unit": unit,
    }  # fmt: skip


def _require_rule_owner(actor: Actor, *, action: str) -> None:
    actor.require_writer(action=action)
    actor.require_kind(*RULE_OWNER_KINDS, action=action)


def _append_version(rule: ConsentRule, version: ConsentRuleVersion, now: dt.datetime) -> None:
    payload = ledgering.rule_version_payload(version, owner_id=rule.owner_id)
    ledgering.append("consent_rule", payload, now=now)


@transaction.atomic
def rule_create(
    *, actor: Actor, data: Mapping[str, Any], now: dt.datetime
) -> tuple[ConsentRule, ConsentRuleVersion]:
    _require_rule_owner(actor, action="Setting a consent rule")
    content = rule_fields(data, owner=actor.party)
    now = ordering.changing([ordering.holder_key(actor.party.pk)])
    rule = ConsentRule.objects.create(owner=actor.party, created_at=now)
    version = ConsentRuleVersion.objects.create(
        rule=rule, version=1, effective_from=now, author_id=actor.user.pk,
        **content.model_fields(),
    )  # fmt: skip
    _append_version(rule, version, now)
    return rule, version


def _own_rule_for_update(actor: Actor, rule: ConsentRule, *, action: str) -> ConsentRule:
    _require_rule_owner(actor, action=action)
    if rule.owner_id != actor.party.pk:
        raise PermissionDenied(f"{action}: only the rule's owner changes it.")
    locked = ConsentRule.objects.select_for_update().get(pk=rule.pk)
    if locked.withdrawn_at is not None:
        raise InvalidInput(
            f"{action}: the rule was withdrawn; create a new rule.",
            fields={"rule": ["withdrawn"]},
        )
    return locked


@transaction.atomic
def rule_revise(
    *, actor: Actor, rule: ConsentRule, data: Mapping[str, Any], now: dt.datetime
) -> ConsentRuleVersion:
    """A new version of ``rule`` with ``data`` (the whole content); the previous version stops
    being in force, and the new one starts, when the edit holds its owner's lock
    (:mod:`governance.ordering`: the database's clock then, not ``now``, which is when it was
    asked for): a decision timed before that committed before the edit, one timed after it
    sees the new version."""
    rule = _own_rule_for_update(actor, rule, action="Editing a consent rule")
    content = rule_fields(data, owner=actor.party)
    now = ordering.changing([ordering.holder_key(rule.owner_id)])
    ConsentRuleVersion.objects.filter(rule=rule, effective_until__isnull=True).update(
        effective_until=now
    )
    rule.current_version += 1
    rule.save(update_fields=["current_version"])
    version = ConsentRuleVersion.objects.create(
        rule=rule,
        version=rule.current_version,
        effective_from=now,
        author_id=actor.user.pk,
        **content.model_fields(),
    )
    _append_version(rule, version, now)
    # A narrowed rule: the licensees whose allowed decisions it no longer covers are told.
    narrowed = [
        d
        for d in callbacks.rule_decisions_allowed(rule_id=str(rule.pk))
        if not _still_allows(version, d)
    ]
    callbacks.consent_withdrawn_notify(
        decisions=narrowed, rule_id=str(rule.pk), version=version.version - 1,
        change="narrowed", now=now,
    )  # fmt: skip
    return version


@transaction.atomic
def rule_withdraw(*, actor: Actor, rule: ConsentRule, now: dt.datetime) -> ConsentRule:
    rule = _own_rule_for_update(actor, rule, action="Withdrawing a consent rule")
    now = ordering.changing([ordering.holder_key(rule.owner_id)])
    ConsentRuleVersion.objects.filter(rule=rule, effective_until__isnull=True).update(
        effective_until=now
    )
    rule.withdrawn_at = now
    rule.withdrawn_by_id = actor.user.pk
    rule.save(update_fields=["withdrawn_at", "withdrawn_by"])
    ledgering.append(
        "consent_rule_withdrawn",
        {"rule": str(rule.pk), "version": rule.current_version, "owner": str(rule.owner_id)},
        now=now,
    )
    # The licensees it allowed are told (status page and callback, through the outbox).
    callbacks.consent_withdrawn_notify(
        decisions=callbacks.rule_decisions_allowed(rule_id=str(rule.pk)),
        rule_id=str(rule.pk), version=rule.current_version, change="withdrawn", now=now,
    )  # fmt: skip
    return rule


def _still_allows(version: ConsentRuleVersion, decision: Any) -> bool:
    """Whether ``version`` still allows what ``decision`` asked, as far as its effect, uses
    and licensees say (a narrowed territory or window is not detected here)."""
    request = decision.request
    listed = str(request.licensee_id) in {str(x) for x in version.licensees}
    admitted = version.licensee_mode == "any" or listed == (version.licensee_mode == "listed")
    return version.effect in ("allow", "conditional") and request.use in version.uses and admitted


@transaction.atomic
def party_posture_set(*, actor: Actor, posture: str, now: dt.datetime) -> Party:
    """The acting party's default posture (its admins decide it)."""
    actor.require_writer(action="Setting the default posture")
    actor.require_kind(*RULE_OWNER_KINDS, action="Setting the default posture")
    if posture not in Posture.values:
        raise InvalidInput.field("default_posture", f"must be one of {Posture.values}")
    now = ordering.changing([ordering.holder_key(actor.party.pk)])
    party = Party.objects.select_for_update().get(pk=actor.party.pk)
    if party.default_posture != posture:
        party.default_posture = posture
        party.version += 1
        party.save(update_fields=["default_posture", "version", "updated_at"])
        ledgering.append("party", ledgering.party_payload(party), now=now)
    return party


def matrix_fields(matrix: Any) -> dict[str, list[str]]:
    if not isinstance(matrix, dict):
        raise InvalidInput.field("matrix", "must map every use to a list of rights")
    missing = [u for u in USES if u not in matrix]
    unknown = sorted(set(matrix) - set(USES))
    if unknown:
        raise InvalidInput.field("matrix", f"unknown use {unknown[0]!r}")
    if missing:
        raise InvalidInput.field(
            "matrix", f"use {missing[0]!r} is missing; every use needs its rights"
        )
    out: dict[str, list[str]] = {}
    for use in USES:
        rights = matrix[use]
        if not isinstance(rights, list) or not rights or not set(rights) <= set(RIGHTS):
            raise InvalidInput.field(f"matrix.{use}", f"must be a non-empty list of {list(RIGHTS)}")
        out[use] = [r for r in RIGHTS if r in rights]
    if "likeness" not in out["voice"] or "likeness" not in out["style"]:
        # DESIGN.md: the artist alone controls likeness; voice and style always need it.
        raise InvalidInput.field("matrix", "voice and style must require the likeness right")
    return out


@transaction.atomic
def matrix_revise(
    *, user: AbstractBaseUser, matrix: Any, note: str, now: dt.datetime
) -> ConsentMatrixVersion:
    """A new version of the consent matrix, in force from when the change holds the matrix's
    lock (:mod:`governance.ordering`; the database's clock, not ``now``). Staff only."""
    if not getattr(user, "is_staff", False):
        raise PermissionDenied("Only staff change the consent matrix.")
    fields = matrix_fields(matrix)
    now = ordering.changing([ordering.MATRIX])
    latest = ConsentMatrixVersion.objects.select_for_update().order_by("-version").first()
    version = ConsentMatrixVersion.objects.create(
        version=(latest.version if latest else 0) + 1, matrix=fields, effective_from=now,
        note=note[:2000], author_id=user.pk,
    )  # fmt: skip
    ledgering.append("consent_matrix", ledgering.matrix_payload(version), now=now)
    return version
