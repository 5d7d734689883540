"""Permission classes that every endpoint reuses. Object visibility is not checked here but by
the selectors, which answer 404 for what the caller may not see."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from api.access import actor_of
from governance.models import Role


class IsPartyMember(permissions.BasePermission):
    """Authenticated and acting for a party (401 without credentials). An auditor reads
    everything and changes nothing: any method but GET, HEAD and OPTIONS is refused to it here
    (403, before its body is read), and again by the services (``Actor.require_writer``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        actor = actor_of(request)
        if actor.is_auditor and request.method not in permissions.SAFE_METHODS:
            raise exceptions.PermissionDenied("Auditors have read-only access.")
        return True


class IsPartyAdmin(IsPartyMember):
    """Acting with the admin role for the party (403 otherwise)."""

    message = "This action needs the admin role for your party."

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and actor_of(request).has_role(Role.ADMIN)


def party_kind_in(*kinds: str) -> type[permissions.BasePermission]:
    """A permission class that admits only parties of the given kinds (403 otherwise)."""

    class PartyKindIn(IsPartyMember):
        message = f"This action is for {', '.join(kinds)} parties."

        def has_permission(self, request: Request, view: Any) -> bool:
            return super().has_permission(request, view) and actor_of(request).party.kind in kinds

    PartyKindIn.__name__ = f"PartyKindIn_{'_'.join(kinds)}"
    return PartyKindIn
