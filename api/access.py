"""The acting party of a request, whichever way the caller authenticated.

Token clients act for the token's party. Web sessions act for the user's party: the only one,
or the one named by the ``X-Consentry-Party`` header when the user belongs to several.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.request import Request

from governance.access import Actor
from governance.selectors import memberships_of

PARTY_HEADER = "HTTP_X_CONSENTRY_PARTY"


def actor_of(request: Request) -> Actor:
    cached = getattr(request, "_consentry_actor", None)
    if isinstance(cached, Actor):
        return cached
    actor = request.auth if isinstance(request.auth, Actor) else _session_actor(request)
    request._consentry_actor = actor  # type: ignore[attr-defined]
    return actor


def _session_actor(request: Request) -> Actor:
    user = request.user
    if user is None or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    memberships = list(memberships_of(user_id=user.pk))
    wanted = request.META.get(PARTY_HEADER)
    if wanted:
        memberships = [m for m in memberships if str(m.party_id) == wanted]
    if len(memberships) != 1:
        raise exceptions.PermissionDenied(
            "You act for no party, or for several: name one in the X-Consentry-Party header."
        )
    m = memberships[0]
    return Actor(user=user, party=m.party, role=m.role)
