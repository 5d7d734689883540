"""State changes of the governance domain: named actions, each one transaction."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from governance import ledgering
from governance.access import Actor
from governance.exceptions import Conflict, InvalidInput
from governance.models import ApiToken, Likeness, Membership, Party, PartyKind, Role
from governance.services.texts import artist_names_sync


@transaction.atomic
def party_create(*, name: str, kind: str) -> Party:
    name = name.strip()
    if kind not in PartyKind.values:
        raise InvalidInput(
            "Unknown party kind.", fields={"kind": [f"must be one of {PartyKind.values}"]}
        )
    if not name:
        raise InvalidInput("A party needs a name.", fields={"name": ["must not be empty"]})
    # Among parties that joined: an unclaimed party a feed named never blocks the real one.
    if Party.objects.filter(kind=kind, name=name, named_by__isnull=True).exists():
        raise Conflict(f"A {kind} named {name!r} exists already.")
    party = Party.objects.create(name=name, kind=kind)
    ledgering.append("party", ledgering.party_payload(party), now=party.created_at)
    if kind == PartyKind.ARTIST:
        # Every artist has a likeness (voice, name, image) that only the artist can consent for.
        likeness = Likeness.objects.create(artist=party, aspects=list(Likeness.LIKENESS_ASPECTS))
        ledgering.append("likeness", ledgering.likeness_payload(likeness), now=party.created_at)
        # The artist's name in the text space, so a prompt naming them finds them.
        artist_names_sync(party=party)
    return party


@transaction.atomic
def membership_add(*, party: Party, user: AbstractBaseUser, role: str) -> Membership:
    """Make ``user`` a member of ``party`` with ``role``, or change the role of a member: a
    demoted member's API tokens act with the new role from their next request (see
    ``ApiTokenManager.get_from_key``)."""
    if role not in Role.values:
        raise InvalidInput("Unknown role.", fields={"role": [f"must be one of {Role.values}"]})
    if party.named_by_id is not None:
        # An unclaimed party acts for nobody: the organisation joins, then claims it.
        raise InvalidInput.field(
            "party", "a party a catalog feed named has no members: claim it instead"
        )
    membership, _ = Membership.objects.update_or_create(
        party=party, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def membership_remove(*, party: Party, user: AbstractBaseUser) -> bool:
    """Remove ``user`` from ``party``; whether they were a member. Their API tokens for the
    party stop authenticating at once (401), and are revoked too, so that adding the user back
    later does not revive them."""
    deleted, _ = Membership.objects.filter(party=party, user_id=user.pk).delete()
    ApiToken.objects.filter(party=party, user_id=user.pk, revoked=False).update(revoked=True)
    return bool(deleted)


@transaction.atomic
def user_create(*, username: str, email: str = "") -> AbstractBaseUser:
    """A user who signs in to the web with a password set later, or acts only through tokens."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise Conflict(f"A user named {username!r} exists already.")
    user = User.objects.create_user(username=username, email=email)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


@transaction.atomic
def api_token_issue(
    *,
    actor: Actor,
    name: str,
    role: str,
    expires_at: dt.datetime | None,
    now: dt.datetime,
) -> tuple[ApiToken, str]:
    """Issue a token for the actor's party, acting as the actor's user. Returns the token and
    its secret, which is shown this once and stored only as a hash. Auditors change nothing,
    so they issue no tokens: an operator issues theirs (``token_create_for``)."""
    actor.require_writer(action="Issuing an API token")
    actor.require_role(Role.ADMIN, action="Issuing an API token")
    if role not in Role.values:
        raise InvalidInput("Unknown role.", fields={"role": [f"must be one of {Role.values}"]})
    if Role.rank(role) > Role.rank(actor.role):
        raise InvalidInput(
            "A token cannot have more power than its issuer.",
            fields={"role": [f"at most {actor.role}"]},
        )
    if expires_at is not None and expires_at <= now:
        raise InvalidInput(
            "The expiry is in the past.", fields={"expires_at": ["must be in the future"]}
        )
    return token_create_for(
        party=actor.party, user=actor.user, name=name, role=role, expires_at=expires_at
    )


def token_issue_problem(
    *, party: Party, user: AbstractBaseUser, role: str
) -> tuple[str, str] | None:
    """Why ``user`` may not hold a ``role`` token for ``party`` (the field and the reason), or
    ``None``: the user must be a member, with a role at least the token's."""
    if role not in Role.values:
        return "role", f"must be one of {Role.values}"
    member = Membership.objects.filter(party=party, user_id=user.pk).first()
    if member is None:
        return "user", f"{user.get_username()} is not a member of {party.name}"
    if Role.rank(role) > Role.rank(member.role):
        return "role", f"a token cannot have more power than its member: at most {member.role}"
    return None


def token_create_for(
    *,
    party: Party,
    user: AbstractBaseUser,
    name: str,
    role: str,
    expires_at: dt.datetime | None,
) -> tuple[ApiToken, str]:
    """Issue a token with no actor check: for operators (``manage.py token_issue``, the demo
    seed), and so the only way an auditor gets one. The user must be a member of the party, with
    a role at least the token's: a token acts with the lower of the two, and not at all without
    the membership."""
    if not name.strip():
        raise InvalidInput("A token needs a name.", fields={"name": ["must not be empty"]})
    problem = token_issue_problem(party=party, user=user, role=role)
    if problem is not None:
        field, reason = problem
        raise InvalidInput(reason, fields={field: [reason]})
    token, secret = ApiToken.objects.create_key(
        name=name.strip()[:50], party=party, user=user, role=role, expiry_date=expires_at
    )
    assert isinstance(token, ApiToken)
    return token, secret


@transaction.atomic
def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    actor.require_writer(action="Revoking an API token")
    actor.require_role(Role.ADMIN, action="Revoking an API token")
    if not token.revoked:
        token.revoked = True
        token.save(update_fields=["revoked"])
    return token


def api_token_touch(*, token: ApiToken, now: dt.datetime) -> None:
    """Record use, at most once a minute per token, so authentication stays cheap."""
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


def default_token_expiry(*, now: dt.datetime, days: int) -> dt.datetime:
    return now + dt.timedelta(days=days)
