"""Who acts on a page: the signed-in user for one of their parties, named in the URL.

A party the user is not a member of answers 404, as a missing one does (no existence leak,
as the selectors do for the API); the services then check the role and the party's kind.
"""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest

from governance.access import Actor
from governance.models import Membership
from governance.selectors import memberships_of


def memberships(request: HttpRequest) -> list[Membership]:
    """The signed-in user's memberships, by party name (for the party switcher)."""
    user_id = request.user.pk
    if user_id is None:  # signed out: a member of nothing
        return []
    return list(memberships_of(user_id=int(user_id)).order_by("party__name"))


def party_actor(request: HttpRequest, party_id: uuid.UUID | str) -> Actor:
    """The signed-in user acting for ``party_id``, or 404 when they are not its member."""
    for m in memberships(request):
        if str(m.party_id) == str(party_id):
            return Actor(user=request.user, party=m.party, role=m.role)  # type: ignore[arg-type]
    raise Http404("No such party among yours.")
