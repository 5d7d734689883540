"""Reads of the governance domain, filtered to what the acting party may see."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from governance.access import Actor
from governance.exceptions import NotFound
from governance.models import ApiToken, Membership, Party


def party_list(*, actor: Actor) -> QuerySet[Party]:
    """Parties the actor may see: its own, or every party for an auditor."""
    if actor.is_auditor:
        return Party.objects.all()
    return Party.objects.filter(pk=actor.party.pk)


def party_get(*, actor: Actor, party_id: uuid.UUID | str) -> Party:
    try:
        return party_list(actor=actor).get(pk=party_id)
    except (Party.DoesNotExist, ValueError):
        raise NotFound("No party with that id.") from None


def membership_list(*, actor: Actor, party: Party) -> QuerySet[Membership]:
    return Membership.objects.filter(party=party).select_related("user").order_by("user__username")


def api_token_list(*, actor: Actor) -> QuerySet[ApiToken]:
    """The acting party's tokens; only its admins may list them."""
    return ApiToken.objects.filter(party=actor.party).select_related("user").order_by("-created")


def api_token_get(*, actor: Actor, prefix: str) -> ApiToken:
    try:
        return api_token_list(actor=actor).get(prefix=prefix)
    except ApiToken.DoesNotExist:
        raise NotFound("No API token with that id.") from None


def memberships_of(*, user_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(user_id=user_id).select_related("party")
