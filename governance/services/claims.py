"""Rights claims: a party that believes it holds a right of a work it was not given says so,
and nothing changes until the work's registrant accepts the claim or an operator rules on it.

1. Filing (:func:`claim_file`): a label, publisher or artist (never a licensee or an auditor)
   names the work, the right, the percentage, territories, period and a statement. The claim is
   stored ``pending`` and ledgered (``rights_claim``) with the percentage and statement only as
   salted commitments (``governance.ledgering.CONFIDENTIAL``).
2. Deciding (:func:`claim_accept`, :func:`claim_reject`): the work's registrant, acting as one
   of its editors, accepts (the share is registered through
   :func:`governance.services.shares.share_create`, under the same 100 % rule, in the same
   transaction) or rejects with a reason. The claim's row is locked first, so of two
   concurrent decisions exactly one applies; the other finds the claim decided (409).
3. Ruling (:func:`claim_rule`): an operator (``manage.py claim_rule``), who is no party, does
   the same when the registrant will not. Each decision is ledgered (``rights_claim_decided``).

Who sees a claim: its claimant, the work's registrant and auditors (``governance.selectors``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from governance import ledgering
from governance.access import Actor
from governance.exceptions import Conflict, InvalidInput, PermissionDenied
from governance.models import ClaimStatus, Party, PartyKind, Right, RightsClaim, Work
from governance.services.shares import ShareSpec, share_create

CLAIMANT_KINDS = (PartyKind.LABEL, PartyKind.PUBLISHER, PartyKind.ARTIST)
STATEMENT_MAX = 4000
REASON_MAX = 2000


@transaction.atomic
def claim_file(
    *, actor: Actor, work: Work, spec: ShareSpec, statement: str, now: dt.datetime
) -> RightsClaim:
    """File ``actor``'s claim to ``spec`` (its ``holder_id`` is ignored: a party claims for
    itself) of ``work``. Nothing but the claim is written."""
    actor.require_writer(action="Filing a rights claim")
    actor.require_kind(*CLAIMANT_KINDS, action="Filing a rights claim")
    if work.registrant_id == actor.party.pk:
        raise InvalidInput.field(
            "work", "you registered this work: register the share instead of claiming it"
        )
    if spec.right == Right.LIKENESS and actor.party.kind != PartyKind.ARTIST:
        raise InvalidInput.field("right", "only the artist whose likeness it is can claim it")
    text = statement.strip()
    if not text:
        raise InvalidInput.field("statement", "say why you hold this right")
    claim = RightsClaim.objects.create(
        work=work, claimant=actor.party, right=spec.right, share=spec.share,
        territory_mode=spec.territory_mode, territories=sorted(spec.territories),
        valid_from=spec.valid_from, valid_until=spec.valid_until,
        statement=text[:STATEMENT_MAX], filed_by_id=actor.user.pk,
    )  # fmt: skip
    ledgering.append("rights_claim", ledgering.claim_payload(claim), now=now)
    return claim


def _locked_pending(claim: RightsClaim) -> RightsClaim:
    """The claim's row, locked for this transaction, if it is still pending; ``Conflict`` if
    another decision got there first."""
    locked = RightsClaim.objects.select_for_update().select_related("work").get(pk=claim.pk)
    if locked.status != ClaimStatus.PENDING:
        raise Conflict(
            f"This claim was {locked.status} already.", fields={"status": [locked.status]}
        )
    return locked


def _decide(
    claim: RightsClaim, *, accept: bool, reason: str, user: AbstractBaseUser | None,
    party: Party | None, now: dt.datetime,
) -> RightsClaim:  # fmt: skip
    claim = _locked_pending(claim)
    text = reason.strip()
    if not accept and not text:
        raise InvalidInput.field("reason", "say why the claim is rejected")
    if accept:
        spec = ShareSpec(
            holder_id=str(claim.claimant_id), right=claim.right, share=claim.share,
            territory_mode=claim.territory_mode, territories=frozenset(claim.territories),
            valid_from=claim.valid_from, valid_until=claim.valid_until,
        )  # fmt: skip
        claim.granted_share = share_create(work=claim.work, spec=spec, created_by=party, now=now)
    claim.status = ClaimStatus.ACCEPTED if accept else ClaimStatus.REJECTED
    claim.reason = text[:REASON_MAX]
    claim.decided_by_id = None if user is None else user.pk
    claim.decided_by_party = party
    claim.decided_at = now
    claim.save()
    ledgering.append("rights_claim_decided", ledgering.claim_decision_payload(claim), now=now)
    return claim


def _require_registrant(actor: Actor, claim: RightsClaim, *, action: str) -> None:
    actor.require_writer(action=action)
    if claim.work.registrant_id != actor.party.pk:
        raise PermissionDenied(f"{action}: only the work's registrant decides a claim on it.")


@transaction.atomic
def claim_accept(*, actor: Actor, claim: RightsClaim, reason: str, now: dt.datetime) -> RightsClaim:
    """The registrant accepts: the claimed share is registered (or the 100 % rule refuses it,
    and the claim stays pending)."""
    _require_registrant(actor, claim, action="Accepting a rights claim")
    return _decide(claim, accept=True, reason=reason, user=actor.user, party=actor.party, now=now)


@transaction.atomic
def claim_reject(*, actor: Actor, claim: RightsClaim, reason: str, now: dt.datetime) -> RightsClaim:
    _require_registrant(actor, claim, action="Rejecting a rights claim")
    return _decide(claim, accept=False, reason=reason, user=actor.user, party=actor.party, now=now)


@transaction.atomic
def claim_rule(
    *, claim_id: Any, accept: bool, reason: str, operator: AbstractBaseUser | None,
    now: dt.datetime,
) -> RightsClaim:  # fmt: skip
    """An operator's ruling (no party acts): accept registers the share as the registrant's
    acceptance would; either way a reason is required."""
    if not reason.strip():
        raise InvalidInput.field("reason", "an operator's ruling says why")
    try:
        claim = RightsClaim.objects.get(pk=claim_id)
    except (RightsClaim.DoesNotExist, ValueError, ValidationError):
        raise InvalidInput.field("claim", "no claim with that id") from None
    return _decide(claim, accept=accept, reason=reason, user=operator, party=None, now=now)
