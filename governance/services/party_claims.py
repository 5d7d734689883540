"""Party claims: the organisation behind an unclaimed party (a rights holder that a label's
catalog feed named, ``Party.named_by``) claims it, and with it the shares the feed gave it.

The same verification as rights claims (``governance.services.claims``), with one step before:
1. Matching (:func:`party_claim_candidates`, :func:`party_claim_file`): a label, publisher or
   artist may claim an unclaimed party only when its own identifiers match the ones the feed
   gave: at least one of DPID, ISNI and IPI equal and none of them different. A party's own
   identifiers are recorded by an operator when it joins, so nobody can make them match. When
   the feed gave no identifier at all, the names must be equal (ignoring case). Anyone else is
   refused and the claim is not recorded: an unclaimed party is not claimable by just anyone.
2. Filing: the claim is stored ``pending`` and ledgered (``party_claim``), its statement as a
   salted commitment (``governance.ledgering.CONFIDENTIAL``). Nothing else changes.
3. Deciding (:func:`party_claim_accept`, :func:`party_claim_reject`): the party whose feed named
   the unclaimed party (it knows whom its contracts name), acting as one of its editors, or an
   operator (:func:`party_claim_rule`, ``manage.py party_claim_rule``). Both rows are locked
   first (the claim, then the unclaimed party), so of two concurrent decisions exactly one
   applies and the other finds the claim or the party decided (409). Accepting moves every
   share the unclaimed party holds to the claimant (each share's version goes up and it is
   ledgered as ``rights_share``: percentages and territories do not change, so no 100 % total
   can change), sets ``claimed_by`` (a ``party`` entry) and ledgers ``party_claim_decided``;
   later imports of the same feed then give the claimant its shares directly.

Who sees a party claim: its claimant, the party that named the claimed party, and auditors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from governance import ledgering
from governance.access import Actor
from governance.exceptions import Conflict, InvalidInput, PermissionDenied
from governance.models import ClaimStatus, Party, PartyClaim, PartyKind, RightsShare

CLAIMANT_KINDS = (PartyKind.LABEL, PartyKind.PUBLISHER, PartyKind.ARTIST)
IDENTIFIERS = ("dpid", "isni", "ipi")
STATEMENT_MAX = 4000
REASON_MAX = 2000


def party_claim_match(*, claimant: Party, party: Party) -> list[str]:
    """What makes ``claimant`` the unclaimed ``party`` (step 1): the identifiers both have and
    that agree, or ``["name"]`` when the feed gave none; empty when it does not match."""
    theirs = {k: v for k in IDENTIFIERS if (v := getattr(party, k))}
    ours = {k: v for k in IDENTIFIERS if (v := getattr(claimant, k))}
    shared = [k for k in IDENTIFIERS if k in theirs and k in ours]
    if any(theirs[k] != ours[k] for k in shared):
        return []
    if shared:
        return shared
    if theirs:
        return []  # The feed identified the party by codes the claimant does not have.
    return ["name"] if party.name.casefold() == claimant.name.casefold() else []


def party_claim_candidates(*, actor: Actor) -> list[Party]:
    """The unclaimed parties the actor's party matches (step 1), for it to claim."""
    me = actor.party
    if me.kind not in CLAIMANT_KINDS or me.named_by_id is not None:
        return []
    by_code = Q(pk__in=[])
    for k in IDENTIFIERS:
        if value := getattr(me, k):
            by_code |= Q(**{k: value})
    unclaimed = Party.objects.filter(named_by__isnull=False, claimed_by__isnull=True)
    found = unclaimed.filter(by_code | Q(name__iexact=me.name)).order_by("name", "id")
    return [p for p in found if party_claim_match(claimant=me, party=p)]


@transaction.atomic
def party_claim_file(*, actor: Actor, party: Party, statement: str, now: dt.datetime) -> PartyClaim:
    """File ``actor``'s claim to be the unclaimed ``party``; refused (nothing written) unless
    its identifiers match (step 1)."""
    actor.require_writer(action="Claiming a party")
    actor.require_kind(*CLAIMANT_KINDS, action="Claiming a party")
    if actor.party.named_by_id is not None:
        raise PermissionDenied("Claiming a party: an unclaimed party claims nothing.")
    if not party.unclaimed:
        raise InvalidInput.field("party", "this party is not an unclaimed party a feed named")
    matched = party_claim_match(claimant=actor.party, party=party)
    if not matched:
        raise InvalidInput.field(
            "party",
            "your party's identifiers (DPID, ISNI, IPI) do not match the ones the feed gave "
            "this party; an operator records your identifiers when you join",
        )
    text = statement.strip()
    if not text:
        raise InvalidInput.field("statement", "say why this party is yours")
    if PartyClaim.objects.filter(
        party=party, claimant=actor.party, status=ClaimStatus.PENDING
    ).exists():
        raise Conflict("You have a pending claim to this party already.")
    claim = PartyClaim.objects.create(
        party=party, claimant=actor.party, statement=text[:STATEMENT_MAX], matched_on=matched,
        filed_by_id=actor.user.pk,
    )  # fmt: skip
    ledgering.append("party_claim", ledgering.party_claim_payload(claim), now=now)
    return claim


def _decide(
    claim: PartyClaim, *, accept: bool, reason: str, user: AbstractBaseUser | None,
    party: Party | None, now: dt.datetime,
) -> PartyClaim:  # fmt: skip
    locked = PartyClaim.objects.select_for_update().get(pk=claim.pk)
    if locked.status != ClaimStatus.PENDING:
        raise Conflict(
            f"This claim was {locked.status} already.", fields={"status": [locked.status]}
        )
    text = reason.strip()
    if not accept and not text:
        raise InvalidInput.field("reason", "say why the claim is rejected")
    claimed = Party.objects.select_for_update().get(pk=locked.party_id)
    moved: list[str] = []
    if accept:
        if not claimed.unclaimed:
            raise Conflict("This party was claimed already.", fields={"party": ["claimed"]})
        claimant = Party.objects.get(pk=locked.claimant_id)
        for share in RightsShare.objects.select_for_update().filter(holder=claimed).order_by("id"):
            share.holder, share.version, share.updated_at = claimant, share.version + 1, now
            share.save(update_fields=["holder", "version", "updated_at"])
            ledgering.append("rights_share", ledgering.share_payload(share), now=now)
            moved.append(str(share.pk))
        claimed.claimed_by, claimed.version = claimant, claimed.version + 1
        claimed.save(update_fields=["claimed_by", "version", "updated_at"])
        ledgering.append("party", ledgering.party_payload(claimed), now=now)
    locked.status = ClaimStatus.ACCEPTED if accept else ClaimStatus.REJECTED
    locked.reason = text[:REASON_MAX]
    locked.decided_by_id = None if user is None else user.pk
    locked.decided_by_party = party
    locked.decided_at = now
    locked.save()
    payload = ledgering.party_claim_decision_payload(locked, shares=moved)
    ledgering.append("party_claim_decided", payload, now=now)
    return locked


def _require_namer(actor: Actor, claim: PartyClaim, *, action: str) -> None:
    actor.require_writer(action=action)
    if claim.party.named_by_id != actor.party.pk:
        raise PermissionDenied(f"{action}: only the party whose feed named it decides.")


@transaction.atomic
def party_claim_accept(
    *, actor: Actor, claim: PartyClaim, reason: str, now: dt.datetime
) -> PartyClaim:
    """The party that named the unclaimed party accepts: its shares become the claimant's."""
    _require_namer(actor, claim, action="Accepting a party claim")
    return _decide(claim, accept=True, reason=reason, user=actor.user, party=actor.party, now=now)


@transaction.atomic
def party_claim_reject(
    *, actor: Actor, claim: PartyClaim, reason: str, now: dt.datetime
) -> PartyClaim:
    _require_namer(actor, claim, action="Rejecting a party claim")
    return _decide(claim, accept=False, reason=reason, user=actor.user, party=actor.party, now=now)


@transaction.atomic
def party_claim_rule(
    *, claim_id: Any, accept: bool, reason: str, operator: AbstractBaseUser | None,
    now: dt.datetime,
) -> PartyClaim:  # fmt: skip
    """An operator's ruling (no party acts), with a reason either way."""
    if not reason.strip():
        raise InvalidInput.field("reason", "an operator's ruling says why")
    try:
        claim = PartyClaim.objects.get(pk=claim_id)
    except (PartyClaim.DoesNotExist, ValueError, ValidationError):
        raise InvalidInput.field("claim", "no party claim with that id") from None
    return _decide(claim, accept=accept, reason=reason, user=operator, party=None, now=now)
