"""The ledger entries of the registry: what each change of state appends, in the same
transaction (DESIGN.md, Ledger; docs/ledger.md lists the types).

Payloads carry ids, versions and the full content a decision depends on (a rule version's
every field, the consent matrix), so that decisions can be replayed from the ledger alone;
never submitted content.

The log is public, so the fields listed in :data:`CONFIDENTIAL` go in as salted commitments
(:mod:`ledger.commitments`): :func:`append` replaces each with ``{"commitment": "sha256:..."}``
and stores its opening (salt and clear value) in the same transaction, for the parties
entitled to it and for auditors (:mod:`governance.openings`), and for replay. Payload functions
return the clear values; committing is done here, in one place, whoever appends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from governance import ordering
from governance.bulk import Rows
from governance.models import (
    ConsentMatrixVersion,
    ConsentRuleVersion,
    Credit,
    Likeness,
    Party,
    PartyClaim,
    Release,
    RightsClaim,
    RightsShare,
    VoiceEnrolment,
    Work,
    WorkContent,
)
from ledger import canonical, commitments
from ledger import openings as ledger_openings
from ledger import services as ledger_services

CONFIDENTIAL: Mapping[str, tuple[str, ...]] = {
    # What the API shows only to a work's holders and registrant: a share's percentage.
    "rights_share": ("share",),
    # What the API shows only to a rule's owner: whom a rule names, and its private note.
    "consent_rule": ("licensees", "note"),
    # The full trace lists every holder's percentage (the entry keeps who decided and which
    # rule versions: replay needs them, and licensees see them).
    "decision": ("trace",),
    # A rights claim is seen by its claimant, the work's registrant and auditors only.
    "rights_claim": ("share", "statement"),
    "rights_claim_decided": ("reason",),
    # A party claim is seen by its claimant, the party that named the claimed party, auditors.
    "party_claim": ("statement",),
    "party_claim_decided": ("reason",),
    # A dispute's statements and reasons are seen by its licensee, the deciding holders (both
    # named in the entry) and auditors (governance.services.disputes).
    "dispute_opened": ("statement",),
    "dispute_answered": ("reason",),
    "appeal_opened": ("statement",),
    "appeal_decided": ("reason",),
    # What a licensee reported it owes, and what a holder was shown it is owed: theirs alone
    # (docs/lifecycle-statements.md).
    "usage_report": ("units", "amount"),
    "statement": ("statement",),
}
"""Per entry type, the payload members that go into the log as commitments."""


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else canonical.format_time(value)


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def party_payload(party: Party) -> dict[str, Any]:
    return {
        "id": str(party.pk),
        "kind": party.kind,
        "name": party.name,
        "version": party.version,
        "default_posture": party.default_posture,
        "isni": party.isni,
        "ipi": party.ipi,
        "dpid": party.dpid,
        "named_by": None if party.named_by_id is None else str(party.named_by_id),
        "claimed_by": None if party.claimed_by_id is None else str(party.claimed_by_id),
    }


def work_payload(work: Work, credits: Iterable[Credit]) -> dict[str, Any]:
    payload = _work_payload(work, credits)
    if work.declared_iswc:  # Only when a feed declared one: earlier entries keep their form.
        payload["declared_iswc"] = work.declared_iswc
    return payload


def _work_payload(work: Work, credits: Iterable[Credit]) -> dict[str, Any]:
    return {
        "id": str(work.pk),
        "version": work.version,
        "kind": work.kind,
        "title": work.title,
        "display_artist": work.display_artist,
        "isrc": work.isrc,
        "iswc": work.iswc,
        "composition": None if work.composition_id is None else str(work.composition_id),
        "duration_ms": work.duration_ms,
        "language": work.language,
        "release_date": _date(work.release_date),
        "p_line": work.p_line,
        "p_year": work.p_year,
        "languages": list(work.languages),
        "genre": work.genre,
        "parental_warning": work.parental_warning,
        "ai_declaration": work.ai_declaration,
        "ai_parts": list(work.ai_parts),
        "ai_declared_in": list(work.ai_declared_in),
        "registrant": str(work.registrant_id),
        "credits": [
            {
                "name": c.name,
                "role": c.role,
                "party": None if c.party_id is None else str(c.party_id),
                "isni": c.isni,
                "ipi": c.ipi,
            }
            for c in credits
        ],
    }


def release_payload(release: Release, track_ids: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": str(release.pk),
        "version": release.version,
        "upc": release.upc,
        "title": release.title,
        "display_artist": release.display_artist,
        "release_date": _date(release.release_date),
        "catalog_number": release.catalog_number,
        "label_name": release.label_name,
        "c_line": release.c_line,
        "registrant": str(release.registrant_id),
        "tracks": [str(t) for t in track_ids],
    }


def share_payload(share: RightsShare) -> dict[str, Any]:
    return {
        "id": str(share.pk),
        "version": share.version,
        "work": str(share.work_id),
        "holder": str(share.holder_id),
        "right": share.right,
        "share": str(share.share),
        "territory_mode": share.territory_mode,
        "territories": sorted(share.territories),
        "valid_from": _date(share.valid_from),
        "valid_until": _date(share.valid_until),
        "controller_roles": list(share.controller_roles),
        "controller_type": share.controller_type,
    }


def likeness_payload(likeness: Likeness) -> dict[str, Any]:
    return {
        "id": str(likeness.pk),
        "version": likeness.version,
        "artist": str(likeness.artist_id),
        "aspects": list(likeness.aspects),
        "aliases": list(likeness.aliases),
    }


def rule_version_payload(v: ConsentRuleVersion, *, owner_id: Any) -> dict[str, Any]:
    """A rule version's entry; ``ai_declarations`` only when it lists some (an entry of a
    rule for every work is as it was before rules could name AI declarations)."""
    payload = {
        "rule": str(v.rule_id),
        "version": v.version,
        "owner": str(owner_id),
        "effective_from": _time(v.effective_from),
        "scope": v.scope,
        "scope_works": sorted(str(w) for w in v.scope_works),
        "scope_artist": None if v.scope_artist_id is None else str(v.scope_artist_id),
        "uses": sorted(v.uses),
        "licensee_mode": v.licensee_mode,
        "licensees": sorted(str(p) for p in v.licensees),
        "territory_mode": v.territory_mode,
        "territories": sorted(v.territories),
        "window_start": _time(v.window_start),
        "window_end": _time(v.window_end),
        "commercial": v.commercial,
        "effect": v.effect,
        "obligations": dict(v.obligations),
        "note": v.note,
    }
    if v.ai_declarations:
        payload["ai_declarations"] = sorted(v.ai_declarations)
    return payload


def matrix_payload(m: ConsentMatrixVersion) -> dict[str, Any]:
    return {
        "version": m.version,
        "matrix": {use: list(rights) for use, rights in sorted(m.matrix.items())},
        "effective_from": _time(m.effective_from),
        "note": m.note,
    }


@dataclass(frozen=True)
class Sealed:
    """An entry encoded with its confidential fields committed, and their openings."""

    entry: ledger_services.EncodedEntry
    openings: tuple[commitments.Opening, ...]

    @property
    def leaf_hash(self) -> bytes:
        return self.entry.leaf_hash


def seal(kind: str, payload: Mapping[str, Any], *, now: dt.datetime) -> Sealed:
    """Encode an entry of ``kind``, its :data:`CONFIDENTIAL` fields committed (a new random
    salt each). Append it with :func:`append_sealed`."""
    committed, openings = commitments.seal(payload, CONFIDENTIAL.get(kind, ()))
    entry = ledger_services.entry_encode(kind=kind, payload=committed, time=now)
    return Sealed(entry, tuple(openings))


def seal_many(items: Sequence[tuple[str, Mapping[str, Any]]], *, now: dt.datetime) -> list[Sealed]:
    """:func:`seal` of each (kind, payload), the same entries, encoded together (the time
    formatted once: an import seals two entries a recording)."""
    committed = [commitments.seal(payload, CONFIDENTIAL.get(kind, ())) for kind, payload in items]
    entries = ledger_services.entries_encode(
        items=[(kind, c) for (kind, _), (c, _) in zip(items, committed, strict=True)], time=now
    )
    return [Sealed(e, tuple(o)) for e, (_, o) in zip(entries, committed, strict=True)]


def append_sealed(sealed: Sequence[Sealed]) -> None:
    """Append sealed entries, in order, and their openings, in the caller's transaction."""
    if not sealed:
        return
    ledger_services.entries_append_encoded(entries=[s.entry for s in sealed])
    ledger_openings.openings_add(rows=[(s.leaf_hash, o) for s in sealed for o in s.openings])


def sealed_rows(sealed: Sequence[Sealed]) -> list[Rows]:
    """What :func:`append_sealed` inserts, as rows for :func:`governance.bulk.rows_insert`
    (with the caller's other rows, in its transaction, in one round trip when they are few)."""
    return [
        Rows("ledger_pending", ledger_services.PENDING_COLUMNS,
             ledger_services.pending_rows([s.entry for s in sealed])),
        Rows("ledger_opening", ledger_openings.COLUMNS,
             ledger_openings.opening_values([(s.leaf_hash, o) for s in sealed
                                             for o in s.openings])),
    ]  # fmt: skip


def append(kind: str, payload: Mapping[str, Any], *, now: dt.datetime) -> None:
    """Append a change of state's entry, once the keys of what it changes are locked
    (:mod:`governance.ordering`): decisions that read them are before it in the log, or
    after it, as they saw it."""
    append_many([(kind, payload)], now=now)


def append_many(items: Sequence[tuple[str, Mapping[str, Any]]], *, now: dt.datetime) -> None:
    """:func:`append` for several entries (one lock statement for all their keys)."""
    keys = [key for kind, payload in items for key in ordering.entry_keys(kind, payload)]
    if keys:
        ordering.changing(keys)
    append_sealed(seal_many(items, now=now))


def claim_payload(claim: RightsClaim) -> dict[str, Any]:
    """``rights_claim``: who claims which right of which work, where and when; the percentage
    and the statement are committed (:data:`CONFIDENTIAL`)."""
    return {
        "id": str(claim.pk),
        "work": str(claim.work_id),
        "claimant": str(claim.claimant_id),
        "right": claim.right,
        "share": str(claim.share),
        "territory_mode": claim.territory_mode,
        "territories": sorted(claim.territories),
        "valid_from": _date(claim.valid_from),
        "valid_until": _date(claim.valid_until),
        "statement": claim.statement,
    }


def party_claim_payload(claim: PartyClaim) -> dict[str, Any]:
    """``party_claim``: which party claims to be which unclaimed party, on which matching
    identifiers; the statement is committed (:data:`CONFIDENTIAL`)."""
    return {
        "id": str(claim.pk),
        "party": str(claim.party_id),
        "claimant": str(claim.claimant_id),
        "matched_on": list(claim.matched_on),
        "statement": claim.statement,
    }


def party_claim_decision_payload(claim: PartyClaim, *, shares: Sequence[str]) -> dict[str, Any]:
    """``party_claim_decided``: accepted or rejected, by the party that named the claimed party
    (its id) or an operator (``"operator"``); the shares an acceptance moved to the claimant
    (their own ``rights_share`` entries precede this one); the reason is committed."""
    return {
        "id": str(claim.pk),
        "party": str(claim.party_id),
        "claimant": str(claim.claimant_id),
        "status": claim.status,
        "decided_by": (
            "operator" if claim.decided_by_party_id is None else str(claim.decided_by_party_id)
        ),
        "shares": list(shares),
        "reason": claim.reason,
    }


def claim_decision_payload(claim: RightsClaim) -> dict[str, Any]:
    """``rights_claim_decided``: accepted or rejected, by the registrant (its party id) or by an
    operator (``"operator"``); the share an acceptance registered (its own ``rights_share``
    entry precedes this one); the reason is committed (:data:`CONFIDENTIAL`)."""
    return {
        "id": str(claim.pk),
        "work": str(claim.work_id),
        "claimant": str(claim.claimant_id),
        "status": claim.status,
        "decided_by": "operator"
        if claim.decided_by_party_id is None
        else str(claim.decided_by_party_id),
        "share": None if claim.granted_share_id is None else str(claim.granted_share_id),
        "reason": claim.reason,
    }


def space_count(space: str, model: str, model_version: str, count: int) -> dict[str, Any]:
    """One space's part of a ``work_content`` entry's ``spaces``."""
    return {"space": space, "model": model, "model_version": model_version, "vector_count": count}


def content_payload(
    content: WorkContent, *, space: str, spaces: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``work_content``: a work's content was fingerprinted in ``space``: its SHA-256 (a
    commitment to bytes that are not kept), the model and version that computed its vectors
    and how many there are; with ``spaces``, each space the content has vectors in (the
    fingerprint's first, then ``composition`` for audio of 30 s or more: :func:`space_count`).
    Never the content, nor its vectors."""
    payload = {
        "id": str(content.pk),
        "work": str(content.work_id),
        "kind": content.kind,
        "space": space,
        "sha256": content.sha256,
        "model": content.model,
        "model_version": content.model_version,
        "vector_count": content.vector_count,
    }
    return payload if spaces is None else payload | {"spaces": spaces}


def voice_reference_payload(enrolment: VoiceEnrolment, *, space: str) -> dict[str, Any]:
    """``voice_reference``: an artist's voice reference recordings were embedded in ``space``:
    each recording's SHA-256 (a commitment to audio that is not kept) and how many vectors it
    added (0 for one registered before), the model and version that computed them. Never the
    audio, nor the vectors."""
    return {
        "id": str(enrolment.pk),
        "artist": str(enrolment.artist_id),
        "space": space,
        "model": enrolment.model,
        "model_version": enrolment.model_version,
        "recordings": [
            {"sha256": f["sha256"], "vector_count": int(f.get("vector_count", 0))}
            for f in enrolment.files
        ],
        "vector_count": enrolment.vector_count,
    }
