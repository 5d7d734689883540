"""Who is acting, and the one access check every later endpoint reuses.

An ``Actor`` is a user acting for one party with a role. Reads go through selectors that only
return what the actor may see, so a missing object and a forbidden one both answer ``NotFound``
(no existence leak); actions the actor can see but not take raise ``PermissionDenied``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from governance.disclosure import Viewer
from governance.exceptions import PermissionDenied
from governance.models import ApiToken, Party, PartyKind, Role


@dataclass(frozen=True)
class Actor:
    user: AbstractBaseUser
    party: Party
    role: str
    token: ApiToken | None = None

    @property
    def is_auditor(self) -> bool:
        return self.party.kind == PartyKind.AUDITOR

    @property
    def viewer(self) -> Viewer:
        """Who reads, for :mod:`governance.disclosure`."""
        return Viewer(party_id=str(self.party.pk), auditor=self.is_auditor)

    def has_role(self, role: str) -> bool:
        return Role.rank(self.role) >= Role.rank(role)

    def require_role(self, role: str, *, action: str) -> None:
        if not self.has_role(role):
            raise PermissionDenied(
                f"{action} needs the {role} role for {self.party.name}; you act as {self.role}."
            )

    def require_kind(self, *kinds: str, action: str) -> None:
        if self.party.kind not in kinds:
            allowed = ", ".join(kinds)
            raise PermissionDenied(
                f"{action} is for {allowed} parties; {self.party.name} is a {self.party.kind}."
            )

    def require_writer(self, *, action: str) -> None:
        """Auditors read everything and change nothing; others need at least the editor role."""
        if self.is_auditor:
            raise PermissionDenied(f"{action}: auditors have read-only access.")
        self.require_role(Role.EDITOR, action=action)
