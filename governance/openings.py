"""Who may read the openings of the ledger's committed fields (``governance.ledgering``).

The entries are public; the openings (salt and clear value of each committed field) go only
to those the API would show the clear values to:

* auditors: every opening;
* a ``rights_share`` entry: the work's registrant, and every party that holds a share of the
  work now or is the holder the entry names;
* a ``consent_rule`` entry: the rule's owner (its licensee list and note are its own);
* a ``decision`` entry: the parties that answered in it (its ``holders``), whose full trace
  the API shows them; not the licensee, whose view of the trace has no percentages;
* a ``rights_claim`` or ``rights_claim_decided`` entry: the claimant and the work's registrant,
  who see the claim in the API;
* a ``party_claim`` or ``party_claim_decided`` entry: the claimant and the party whose feed
  named the claimed party, who see the claim in the API;
* a ``dispute_opened``, ``dispute_answered``, ``appeal_opened`` or ``appeal_decided`` entry:
  the disputing licensee and the deciding holders, both named in the entry.
* a ``usage_report`` entry: the licensee that reported; a ``statement`` entry: its holder
  (docs/lifecycle-statements.md).

Which work, owner or decision an entry is about is read from the entry's public payload, so
the check needs nothing the log does not say. An entry whose openings the actor may not see
answers as if it had none: ``NotFound``, never a hint that they exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from governance.access import Actor
from governance.exceptions import NotFound
from governance.models import Decision, Party, RightsShare, Work
from ledger import canonical, commitments
from ledger import openings as ledger_openings

MAX_ENTRIES_PER_CALL = 1000
_CLAIM_KINDS = ("rights_claim", "rights_claim_decided")
_PARTY_CLAIM_KINDS = ("party_claim", "party_claim_decided")
_DISPUTE_KINDS = ("dispute_opened", "dispute_answered", "appeal_opened", "appeal_decided")


@dataclass(frozen=True)
class EntryOpenings:
    """An entry's index, leaf hash and type, its committed fields (name → commitment, as in
    the entry) and their openings as stored (each value the RFC 8785 bytes committed)."""

    index: int
    leaf_hash: bytes
    kind: str
    committed: dict[str, str]
    openings: tuple[ledger_openings.StoredOpening, ...]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _entitled(actor: Actor, entries: Sequence[tuple[int, canonical.Entry]]) -> set[int]:
    """The indexes among ``entries`` whose openings ``actor`` may read (a few queries in all,
    however many entries)."""
    if actor.is_auditor:
        return {index for index, _ in entries}
    party = actor.party.pk
    works = {w for _, e in entries if e.kind == "rights_share" if (w := _uuid(e.payload["work"]))}
    claimed = {w for _, e in entries if e.kind in _CLAIM_KINDS if (w := _uuid(e.payload["work"]))}
    decisions = {
        d for _, e in entries if e.kind == "decision" if (d := _uuid(e.payload["decision"]))
    }
    my_works: set[uuid.UUID] = set()
    if works:
        my_works |= set(
            Work.objects.filter(pk__in=works, registrant=party).values_list("pk", flat=True)
        )
        my_works |= set(
            RightsShare.objects.filter(work__in=works, holder=party).values_list(
                "work_id", flat=True
            )
        )
    registered: set[uuid.UUID] = set()
    if claimed:
        registered = set(
            Work.objects.filter(pk__in=claimed, registrant=party).values_list("pk", flat=True)
        )
    named = {
        n for _, e in entries if e.kind in _PARTY_CLAIM_KINDS if (n := _uuid(e.payload["party"]))
    }
    mine_named: set[uuid.UUID] = set()
    if named:
        mine_named = set(
            Party.objects.filter(pk__in=named, named_by=party).values_list("pk", flat=True)
        )
    my_decisions: set[uuid.UUID] = set()
    if decisions:
        my_decisions = set(
            Decision.objects.filter(pk__in=decisions, holders__contains=[party]).values_list(
                "pk", flat=True
            )
        )
    out: set[int] = set()
    for index, e in entries:
        p = e.payload
        if e.kind == "rights_share":
            if _uuid(p["work"]) in my_works or _uuid(p["holder"]) == party:
                out.add(index)
        elif e.kind == "consent_rule":
            if _uuid(p["owner"]) == party:
                out.add(index)
        elif (
            (e.kind == "decision" and _uuid(p["decision"]) in my_decisions)
            or (
                e.kind in _CLAIM_KINDS
                and (_uuid(p["claimant"]) == party or _uuid(p["work"]) in registered)
            )
            or (
                e.kind in _PARTY_CLAIM_KINDS
                and (_uuid(p["claimant"]) == party or _uuid(p["party"]) in mine_named)
            )
            or (
                e.kind in _DISPUTE_KINDS
                and party in {_uuid(x) for x in (p["licensee"], *p.get("holders", ()))}
            )
            or (e.kind == "usage_report" and _uuid(p["licensee"]) == party)
            or (e.kind == "statement" and _uuid(p["holder"]) == party)
        ):
            out.add(index)
    return out


def _gather(actor: Actor, rows: Iterable[tuple[int, str, bytes, bytes]]) -> list[EntryOpenings]:
    # The ledger's own entries, written canonical (the commitments served are only a courtesy:
    # a verifier checks each opening against the entry it verified).
    decoded = [
        (index, kind, leaf, canonical.decode_checked_entry(data))
        for index, kind, data, leaf in rows
    ]
    allowed = _entitled(actor, [(index, entry) for index, _, _, entry in decoded])
    kept = [row for row in decoded if row[0] in allowed]
    by_leaf = ledger_openings.stored_openings_by_leaf(leaf_hashes=[leaf for _, _, leaf, _ in kept])
    return [
        EntryOpenings(
            index=index,
            leaf_hash=leaf,
            kind=kind,
            committed=commitments.commitments_of(entry.payload),
            openings=tuple(by_leaf.get(leaf, ())),
        )
        for index, kind, leaf, entry in kept
    ]


def _committed(data: bytes, stored: Sequence[ledger_openings.StoredOpening]) -> dict[str, str]:
    """The commitments of the opened fields as in the entry ``data``, without decoding it
    when it can be spared: an opening's commitment, recomputed, is the entry's if the entry's
    canonical bytes hold the member ``"<field>":{"commitment":"<it>"}``; otherwise (an opening
    that does not match) the entry is decoded and its commitments read."""
    out: dict[str, str] = {}
    for o in stored:
        try:
            found = commitments.commit_bytes(o.field, o.value_bytes, salt=o.salt)
        except commitments.CommitmentError:
            break
        if f'"{o.field}":{{"commitment":"{found}"}}'.encode() not in data:
            break
        out[o.field] = found
    else:
        return out
    return commitments.commitments_of(canonical.decode_checked_entry(data).payload)


def _gather_all(start: int, end: int) -> list[EntryOpenings]:
    """What :func:`_gather` gives an auditor, who sees every opening: the entries and their
    openings in one query, and an entry decoded only if an opening does not match it."""
    return [
        EntryOpenings(
            index=index,
            leaf_hash=leaf,
            kind=kind,
            committed=_committed(data, stored),
            openings=tuple(stored),
        )
        for index, kind, data, leaf, stored in ledger_openings.entries_and_openings(
            start=start, end=end
        )
    ]


def openings_of_entry(*, actor: Actor, index: int) -> EntryOpenings:
    """The openings of entry ``index``; ``NotFound`` if it has none or ``actor`` may not see
    them (the same answer, so nothing is learned from it)."""
    found = (
        _gather_all(index, index + 1)
        if actor.is_auditor
        else _gather(actor, ledger_openings.entries_with_openings(start=index, end=index + 1))
    )
    if not found:
        raise NotFound(f"No openings of entry {index} for {actor.party.name}.")
    return found[0]


def openings_in_range(*, actor: Actor, start: int, end: int) -> list[EntryOpenings]:
    """The openings ``actor`` may see of the entries in ``[start, end)`` (at most
    :data:`MAX_ENTRIES_PER_CALL` entries), in index order; entries it may not see are left
    out."""
    end = min(end, start + MAX_ENTRIES_PER_CALL)
    if actor.is_auditor:
        return _gather_all(start, end)
    return _gather(actor, ledger_openings.entries_with_openings(start=start, end=end))


def opening_records_in_range(
    *, actor: Actor, start: int, end: int
) -> list[tuple[int, bytes, str, bytes, bytes]]:
    """:func:`openings_in_range` as ``(index, leaf hash, field, salt, value bytes)`` records
    (:mod:`ledger.opening_bundles`), without the entries' commitments, which a bundle does
    not carry: an auditor's are read in one query and nothing of the entries is decoded."""
    end = min(end, start + MAX_ENTRIES_PER_CALL)
    if actor.is_auditor:
        return ledger_openings.opening_records(start=start, end=end)
    return [
        (found.index, found.leaf_hash, o.field, o.salt, o.value_bytes)
        for found in _gather(actor, ledger_openings.entries_with_openings(start=start, end=end))
        for o in found.openings
    ]
