"""Rights shares and an artist's likeness: who holds which right in a work, and the one way
each is created, carved out, changed and given up. Each action is one transaction that appends
its ledger entry.

Who may do what:
- a share is created only by the work's registrant (for any holder), or carved out of an
  existing share by its holder (:func:`share_transfer`: the new share takes a part of the
  grantor's percentage, in the same territories and period, and the grantor's share shrinks by
  as much, in one transaction, both ledgered); nobody registers a share of someone else's work
  for itself: a party that believes it holds such a right files a claim
  (``governance.services.claims``), which changes nothing until the registrant accepts it or
  an operator rules on it;
- a ``likeness`` share is held only by an artist credited on the work (a credit naming that
  artist's party); the registrant links it, or the credited artist registers it itself; it is
  never transferred (only the artist answers for its likeness);
- only the registrant changes a share's percentage, territories or period (and the credited
  artist its own likeness share); a holder may relinquish (remove) its own share;
- auditors and licensees change nothing here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from governance import ledgering, validators
from governance.access import Actor
from governance.exceptions import InvalidInput, PermissionDenied
from governance.models import (
    Credit,
    Likeness,
    Party,
    PartyKind,
    Right,
    RightsShare,
    Work,
)
from governance.rights import ShareTerms, find_overshoot
from governance.services.texts import artist_names_sync


@dataclass(frozen=True)
class ShareSpec:
    holder_id: str
    right: str
    share: Decimal
    territory_mode: str = "worldwide"
    territories: frozenset[str] = frozenset()
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


def share_spec(data: Mapping[str, Any]) -> ShareSpec:
    """Validate a share's fields; raise :class:`InvalidInput` naming the field."""
    try:
        terms = validators.share_fields(
            data.get("right"), data.get("share"), data.get("territories"),
            data.get("valid_from"), data.get("valid_until"),
        )  # fmt: skip
    except validators.FieldError as exc:
        raise InvalidInput.field(exc.field, exc.reason) from None
    holder = data.get("holder")
    if not holder:
        raise InvalidInput.field("holder", "must name the holding party")
    return ShareSpec(
        str(holder), terms.right, terms.share, terms.territory_mode, terms.territories,
        terms.valid_from, terms.valid_until,
    )  # fmt: skip


def _terms(share: RightsShare | ShareSpec, id_: str) -> ShareTerms:
    return ShareTerms(
        id=id_, holder=str(share.holder_id), share=Decimal(share.share),
        territory_mode=share.territory_mode, territories=frozenset(share.territories),
        valid_from=share.valid_from, valid_until=share.valid_until,
    )  # fmt: skip


def check_share_totals(
    work: Work, right: str, proposed: Sequence[tuple[str, ShareSpec]], exclude: Sequence[Any] = ()
) -> None:
    """Raise :class:`InvalidInput` naming the conflicting share if adding ``proposed`` (label,
    spec) to ``work``'s shares of ``right`` would exceed 100 % anywhere at any time."""
    existing = RightsShare.objects.filter(work=work, right=right).exclude(pk__in=list(exclude))
    terms = [_terms(s, str(s.pk)) for s in existing]
    terms += [_terms(spec, label) for label, spec in proposed]
    overshoot = find_overshoot(terms)
    if overshoot is not None:
        raise InvalidInput(
            f"{right} shares of {work.title!r} would exceed 100 %: {overshoot.describe()}.",
            fields={"share": [f"conflicts: {overshoot.describe()}"]},
        )


def _holder(work: Work, holder_id: str, right: str) -> Party:
    """The party named to hold ``right`` of ``work``; raise :class:`InvalidInput` on the
    ``holder`` field if it cannot hold it."""
    try:
        holder = Party.objects.get(pk=holder_id)
    except (Party.DoesNotExist, ValueError, ValidationError):
        raise InvalidInput.field("holder", "no party with that id") from None
    if holder.kind in (PartyKind.LICENSEE, PartyKind.AUDITOR):
        raise InvalidInput.field("holder", f"a {holder.kind} cannot hold rights")
    if right == Right.LIKENESS:
        if holder.kind != PartyKind.ARTIST:
            raise InvalidInput.field(
                "holder", "only the artist whose likeness it is can hold a likeness right"
            )
        if not is_credited(work, holder):
            raise InvalidInput.field(
                "holder", "a likeness share is held only by an artist credited on the work"
            )
    return holder


def is_credited(work: Work, party: Party) -> bool:
    """Whether a credit of ``work`` names ``party`` (any role)."""
    return Credit.objects.filter(work=work, party=party).exists()


def _may_register_share(actor: Actor, work: Work, holder_id: str, right: str) -> bool:
    """The work's registrant registers any share; an artist credited on the work registers
    its own likeness share (only the artist answers for its likeness). Nobody else."""
    if actor.is_auditor:
        return False
    if work.registrant_id == actor.party.pk:
        return True
    return (
        right == Right.LIKENESS
        and actor.party.kind == PartyKind.ARTIST
        and str(actor.party.pk) == holder_id
        and is_credited(work, actor.party)
    )


def _may_change_share(actor: Actor, share: RightsShare) -> bool:
    """The work's registrant changes a share's terms; the artist its own likeness share."""
    if actor.is_auditor:
        return False
    if share.work.registrant_id == actor.party.pk:
        return True
    return share.right == Right.LIKENESS and share.holder_id == actor.party.pk


@transaction.atomic
def share_create(
    *, work: Work, spec: ShareSpec, created_by: Party | None, now: dt.datetime
) -> RightsShare:
    """Register a share once permission is settled (by :func:`share_register`, a claim's
    acceptance or an operator's ruling): the holder must be able to hold it, and the work's
    shares of that right stay within 100 % everywhere at all times. It locks the work's row
    for the caller's transaction, so concurrent writers of one work's shares go one at a time."""
    holder = _holder(work, spec.holder_id, spec.right)
    Work.objects.select_for_update().filter(pk=work.pk).get()  # one writer per work's shares
    check_share_totals(work, spec.right, [("proposed", spec)])
    share = RightsShare.objects.create(
        work=work, holder=holder, right=spec.right, share=spec.share,
        territory_mode=spec.territory_mode, territories=sorted(spec.territories),
        valid_from=spec.valid_from, valid_until=spec.valid_until, created_by=created_by,
    )  # fmt: skip
    ledgering.append("rights_share", ledgering.share_payload(share), now=now)
    return share


@transaction.atomic
def share_register(*, actor: Actor, work: Work, spec: ShareSpec, now: dt.datetime) -> RightsShare:
    """A share registered by the work's registrant (or a credited artist's own likeness)."""
    actor.require_writer(action="Registering a rights share")
    if not _may_register_share(actor, work, spec.holder_id, spec.right):
        raise PermissionDenied(
            "Only the work's registrant registers its shares (a credited artist its own "
            "likeness). A holder transfers part of its own share; anyone else files a claim."
        )
    return share_create(work=work, spec=spec, created_by=actor.party, now=now)


@transaction.atomic
def share_transfer(
    *, actor: Actor, share: RightsShare, holder_id: str, percent: Decimal, now: dt.datetime
) -> RightsShare:
    """Carve ``percent`` out of the actor's own ``share`` for ``holder_id``: the new share has
    the same right, territories and period; the grantor's share shrinks by ``percent`` (or is
    removed when all of it goes). Both changes are ledgered in this one transaction."""
    actor.require_writer(action="Transferring a rights share")
    if share.holder_id != actor.party.pk:
        raise PermissionDenied("Only a share's holder transfers part of it.")
    if share.right == Right.LIKENESS:
        raise InvalidInput.field(
            "right", "a likeness share is the artist's own; it is not transferred"
        )
    if str(holder_id) == str(share.holder_id):
        raise InvalidInput.field("holder", "the share is already yours")
    Work.objects.select_for_update().filter(pk=share.work_id).get()
    share = RightsShare.objects.select_related("work").get(pk=share.pk)  # current terms
    if percent <= 0:
        raise InvalidInput.field("share", "must be more than 0")
    if percent > share.share:
        raise InvalidInput.field(
            "share", f"exceeds your portion: you hold {share.share} % of this share"
        )
    spec = ShareSpec(
        holder_id=str(holder_id), right=share.right, share=percent,
        territory_mode=share.territory_mode, territories=frozenset(share.territories),
        valid_from=share.valid_from, valid_until=share.valid_until,
    )  # fmt: skip
    holder = _holder(share.work, spec.holder_id, spec.right)
    if percent == share.share:
        payload = {"id": str(share.pk), "version": share.version, "work": str(share.work_id)}
        share.delete()
        ledgering.append("rights_share_removed", payload, now=now)
    else:
        share.share -= percent
        share.version += 1
        share.save()
        ledgering.append("rights_share", ledgering.share_payload(share), now=now)
    check_share_totals(share.work, spec.right, [("transferred", spec)])
    new = RightsShare.objects.create(
        work=share.work, holder=holder, right=spec.right, share=spec.share,
        territory_mode=spec.territory_mode, territories=sorted(spec.territories),
        valid_from=spec.valid_from, valid_until=spec.valid_until, created_by=actor.party,
    )  # fmt: skip
    ledgering.append("rights_share", ledgering.share_payload(new), now=now)
    return new


@transaction.atomic
def share_update(
    *, actor: Actor, share: RightsShare, changes: Mapping[str, Any], now: dt.datetime
) -> RightsShare:
    actor.require_writer(action="Changing a rights share")
    if not _may_change_share(actor, share):
        raise PermissionDenied(
            "Only the work's registrant changes a share's terms; a holder may remove its own."
        )
    if "right" in changes and changes["right"] != share.right:
        raise InvalidInput.field("right", "a share's right cannot change; register a new share")
    if "holder" in changes and str(changes["holder"]) != str(share.holder_id):
        raise InvalidInput.field("holder", "a share's holder cannot change; register a new share")
    Work.objects.select_for_update().filter(pk=share.work_id).get()
    current = {
        "holder": share.holder_id, "right": share.right, "share": share.share,
        "territories": [("-" if share.territory_mode == "exclude" else "") + t
                        for t in share.territories] or "",
        "valid_from": share.valid_from, "valid_until": share.valid_until,
    }  # fmt: skip
    spec = share_spec({**current, **changes})
    check_share_totals(share.work, share.right, [(str(share.pk), spec)], exclude=[share.pk])
    share.share, share.territory_mode = spec.share, spec.territory_mode
    share.territories = sorted(spec.territories)
    share.valid_from, share.valid_until = spec.valid_from, spec.valid_until
    share.version += 1
    share.save()
    ledgering.append("rights_share", ledgering.share_payload(share), now=now)
    return share


@transaction.atomic
def share_remove(*, actor: Actor, share: RightsShare, now: dt.datetime) -> None:
    """Remove a share: the work's registrant (a share registered in error), or its holder
    relinquishing it. The ledger keeps its history; to end a share that was right until now,
    the registrant sets ``valid_until`` instead."""
    actor.require_writer(action="Removing a rights share")
    if actor.is_auditor or actor.party.pk not in (share.work.registrant_id, share.holder_id):
        raise PermissionDenied("A share is removed by the work's registrant or by its holder.")
    payload = {"id": str(share.pk), "version": share.version, "work": str(share.work_id)}
    share.delete()
    ledgering.append("rights_share_removed", payload, now=now)


# --------------------------------------------------------------------------------------------
# Likeness
# --------------------------------------------------------------------------------------------


@transaction.atomic
def likeness_update(*, actor: Actor, aliases: Sequence[str], now: dt.datetime) -> Likeness:
    """The acting artist's likeness: only the artist (its members with the editor role) edits."""
    actor.require_writer(action="Changing a likeness")
    actor.require_kind(PartyKind.ARTIST, action="Changing a likeness")
    clean = sorted({a.strip()[:300] for a in aliases if a.strip()})
    likeness = Likeness.objects.select_for_update().get(artist=actor.party)
    if clean != sorted(likeness.aliases):
        likeness.aliases = clean
        likeness.version += 1
        likeness.save()
        ledgering.append("likeness", ledgering.likeness_payload(likeness), now=now)
        # The aliases' vectors in the text space follow, in this transaction.
        artist_names_sync(party=actor.party)
    return likeness
