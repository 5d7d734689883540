"""Catalog actions: register and change works and releases. Each is one transaction that
appends its ledger entry. Rights shares and likeness: :mod:`governance.services.shares`.

An identifier (ISRC, ISWC, UPC) is registered once: one already registered is a 409 naming
it, and so is one that another registration committed between this one's look-up and its
insert (the unique index refuses the insert; tests/api/test_races.py).

Who may do what (the registry's permissions):
- labels and publishers register works and releases; only a work's registrant changes it
  (identifiers and descriptive metadata alike: a holder of a share reads the work, it does not
  rewrite it);
- auditors and licensees change nothing here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from governance import identifiers, ledgering, ordering, validators
from governance.access import Actor
from governance.exceptions import Conflict, InvalidInput, PermissionDenied
from governance.models import (
    Credit,
    CreditRole,
    Party,
    PartyKind,
    Release,
    ReleaseTrack,
    Work,
    WorkKind,
)

CATALOG_KINDS = (PartyKind.LABEL, PartyKind.PUBLISHER)


@dataclass(frozen=True)
class CreditSpec:
    name: str
    role: str
    party_id: str | None = None
    isni: str = ""
    ipi: str = ""


@dataclass(frozen=True)
class WorkSpec:
    """A work's registrable fields, validated and normalised (see :func:`work_spec`)."""

    kind: str
    title: str
    display_artist: str = ""
    isrc: str | None = None
    iswc: str | None = None
    composition_id: str | None = None
    duration_ms: int | None = None
    language: str = ""
    release_date: dt.date | None = None
    p_line: str = ""
    credits: tuple[CreditSpec, ...] = field(default_factory=tuple)


def _normalized(name: str, value: Any, normalize: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(normalize(str(value)))
    except ValueError as exc:
        raise InvalidInput.field(name, str(exc)) from None


def work_spec(data: Mapping[str, Any]) -> WorkSpec:
    """Validate a work's fields (as the API and the importers give them); raise
    :class:`InvalidInput` naming the field and what is wrong."""
    try:
        kind = validators.work_kind(data.get("kind"))
        title = validators.work_title(data.get("title"))
        isrc, iswc = validators.work_identifiers(kind, data.get("isrc"), data.get("iswc"))
        composition = data.get("composition") or None
        validators.composition_link(kind, given=bool(composition))
        duration = validators.duration_ms(data.get("duration_ms"))
        language = validators.language(data.get("language"))
    except validators.FieldError as exc:
        raise InvalidInput.field(exc.field, exc.reason) from None
    release_date = data.get("release_date")
    if release_date is not None and not isinstance(release_date, dt.date):
        raise InvalidInput.field("release_date", "must be a date (YYYY-MM-DD)")
    credits = []
    for n, credit in enumerate(data.get("credits") or []):
        name = str(credit.get("name") or "").strip()
        if not name:
            raise InvalidInput.field(f"credits[{n}].name", "must not be empty")
        if credit.get("role") not in CreditRole.values:
            raise InvalidInput.field(f"credits[{n}].role", f"must be one of {CreditRole.values}")
        isni = _normalized(f"credits[{n}].isni", credit.get("isni"), identifiers.normalize_isni)
        ipi = _normalized(f"credits[{n}].ipi", credit.get("ipi"), identifiers.normalize_ipi)
        party = credit.get("party")
        credits.append(
            CreditSpec(name, credit["role"], str(party) if party else None, isni or "", ipi or "")
        )
    return WorkSpec(
        kind=str(kind),
        title=title,
        display_artist=str(data.get("display_artist") or "").strip()[:500],
        isrc=isrc,
        iswc=iswc,
        composition_id=str(composition) if composition else None,
        duration_ms=duration,
        language=language or "",
        release_date=release_date,
        p_line=str(data.get("p_line") or "").strip()[:300],
        credits=tuple(credits),
    )


def _require_catalog_writer(actor: Actor, *, action: str) -> None:
    actor.require_writer(action=action)
    actor.require_kind(*CATALOG_KINDS, action=action)


def _identifier_clash(spec: WorkSpec, *, exclude: Any = None) -> Conflict | None:
    for scheme in ("isrc", "iswc"):
        value = getattr(spec, scheme)
        if value:
            clash = Work.objects.filter(**{scheme: value}).exclude(pk=exclude).first()
            if clash is not None:
                return Conflict(
                    f"{scheme.upper()} {value} is registered already (work {clash.pk}).",
                    fields={scheme: [f"registered already as work {clash.pk}"]},
                )
    return None


def _identifiers_lock(spec: WorkSpec) -> None:
    """Lock the spec's ISRC and ISWC against other registrations until the transaction ends,
    before looking whether they are taken (:func:`governance.ordering.registering`)."""
    ordering.registering(
        f"{scheme}:{code}" for scheme, code in (("isrc", spec.isrc), ("iswc", spec.iswc)) if code
    )


def _identifier_conflict(spec: WorkSpec, *, exclude: Any = None) -> None:
    clash = _identifier_clash(spec, exclude=exclude)
    if clash is not None:
        raise clash


def _work_save(work: Work, spec: WorkSpec) -> None:
    """Save the work; an ISRC or ISWC that another registration committed after this one looked
    (the unique index refuses the row) is the same 409 as one committed before."""
    try:
        with transaction.atomic():  # a savepoint: the transaction goes on after a refusal
            work.save()
    except IntegrityError:
        clash = _identifier_clash(spec, exclude=work.pk)  # sees the other's commit now
        if clash is not None:
            raise clash from None
        raise


def _composition(spec: WorkSpec) -> Work | None:
    if spec.composition_id is None:
        return None
    try:
        return Work.objects.get(pk=spec.composition_id, kind=WorkKind.COMPOSITION)
    except (Work.DoesNotExist, ValueError, ValidationError):
        raise InvalidInput.field("composition", "no composition with that id") from None


def _credit_rows(work: Work, spec: WorkSpec) -> list[Credit]:
    wanted = {c.party_id for c in spec.credits if c.party_id}
    found = {str(p) for p in Party.objects.filter(pk__in=wanted).values_list("pk", flat=True)}
    for n, c in enumerate(spec.credits):
        if c.party_id and c.party_id not in found:
            raise InvalidInput.field(f"credits[{n}].party", "no party with that id")
    return [
        Credit(work=work, position=n, name=c.name, role=c.role, party_id=c.party_id,
               isni=c.isni, ipi=c.ipi)
        for n, c in enumerate(spec.credits)
    ]  # fmt: skip


def _apply_spec(work: Work, spec: WorkSpec, composition: Work | None) -> None:
    for name in ("kind", "title", "display_artist", "isrc", "iswc", "duration_ms", "language",
                 "release_date", "p_line"):  # fmt: skip
        setattr(work, name, getattr(spec, name))
    work.composition = composition


@transaction.atomic
def work_register(*, actor: Actor, spec: WorkSpec, now: dt.datetime) -> Work:
    _require_catalog_writer(actor, action="Registering a work")
    _identifiers_lock(spec)
    _identifier_conflict(spec)
    work = Work(registrant=actor.party)
    _apply_spec(work, spec, _composition(spec))
    _work_save(work, spec)
    credits = Credit.objects.bulk_create(_credit_rows(work, spec))
    ledgering.append("work", ledgering.work_payload(work, credits), now=now)
    return work


def can_edit_work(actor: Actor, work: Work) -> bool:
    """Whether the actor may add to a work's matching data (its embeddings): its registrant or
    a holder of one of its shares (whose shares come from the registrant, a holder's transfer
    or an accepted claim)."""
    if actor.is_auditor or actor.party.kind not in CATALOG_KINDS:
        return False
    return work.registrant_id == actor.party.pk or work.shares.filter(holder=actor.party).exists()


def can_change_work(actor: Actor, work: Work) -> bool:
    """Whether the actor may change a work's identifiers or metadata: its registrant only."""
    return not actor.is_auditor and work.registrant_id == actor.party.pk


@transaction.atomic
def work_update(*, actor: Actor, work: Work, changes: Mapping[str, Any], now: dt.datetime) -> Work:
    """Change a work; ``changes`` holds the fields to change (credits replace the list)."""
    _require_catalog_writer(actor, action="Changing a work")
    if not can_change_work(actor, work):
        raise PermissionDenied("Only the work's registrant changes it.")
    # A new ISRC or ISWC is locked before the work's row, the order an import takes them in.
    ordering.registering(
        f"{scheme}:{code}"
        for scheme, normalize in (("isrc", identifiers.normalize_isrc),
                                  ("iswc", identifiers.normalize_iswc))
        if (code := _normalized(scheme, changes.get(scheme), normalize))
    )  # fmt: skip
    work = Work.objects.select_for_update().get(pk=work.pk)
    current = {
        "kind": work.kind, "title": work.title, "display_artist": work.display_artist,
        "isrc": work.isrc, "iswc": work.iswc, "composition": work.composition_id,
        "duration_ms": work.duration_ms, "language": work.language,
        "release_date": work.release_date, "p_line": work.p_line,
        "credits": [
            {"name": c.name, "role": c.role, "party": c.party_id, "isni": c.isni, "ipi": c.ipi}
            for c in work.credits.all()
        ],
    }  # fmt: skip
    if "kind" in changes and changes["kind"] != work.kind:
        raise InvalidInput.field("kind", "a work's kind cannot change; register a new work")
    spec = work_spec({**current, **changes})
    _identifier_conflict(spec, exclude=work.pk)
    _apply_spec(work, spec, _composition(spec))
    work.version += 1
    _work_save(work, spec)
    work.credits.all().delete()
    credits = Credit.objects.bulk_create(_credit_rows(work, spec))
    ledgering.append("work", ledgering.work_payload(work, credits), now=now)
    return work


def _upc_registered(code: str) -> Conflict:
    return Conflict(f"UPC {code} is registered already.", fields={"upc": ["registered already"]})


def _upc_conflict(code: str) -> None:
    if Release.objects.filter(upc=code).exists():
        raise _upc_registered(code)


@transaction.atomic
def release_register(
    *, actor: Actor, upc: str, title: str, display_artist: str, release_date: dt.date | None,
    track_ids: Sequence[Any], now: dt.datetime,
) -> Release:  # fmt: skip
    _require_catalog_writer(actor, action="Registering a release")
    code = _normalized("upc", upc, identifiers.normalize_upc)
    if code is None:
        raise InvalidInput.field("upc", "must not be empty")
    if not title.strip():
        raise InvalidInput.field("title", "must not be empty")
    ordering.registering([f"upc:{code}"])  # before looking, as _identifiers_lock
    _upc_conflict(code)
    tracks = list(Work.objects.filter(pk__in=list(track_ids), kind=WorkKind.RECORDING))
    if len(tracks) != len(set(map(str, track_ids))):
        raise InvalidInput.field("tracks", "every track must be a registered recording")
    try:
        with transaction.atomic():  # a savepoint, as in _work_save
            release = Release.objects.create(
                upc=code, title=title.strip(), display_artist=display_artist.strip(),
                release_date=release_date, registrant=actor.party,
            )  # fmt: skip
    except IntegrityError:
        if Release.objects.filter(upc=code).exists():  # committed after this one looked
            raise _upc_registered(code) from None
        raise
    order = {str(t): n for n, t in enumerate(track_ids)}
    ReleaseTrack.objects.bulk_create(
        ReleaseTrack(release=release, work=w, position=order[str(w.pk)]) for w in tracks
    )
    ledgering.append(
        "release", ledgering.release_payload(release, [str(t) for t in track_ids]), now=now
    )
    return release


# --------------------------------------------------------------------------------------------
# Rights shares
# --------------------------------------------------------------------------------------------
