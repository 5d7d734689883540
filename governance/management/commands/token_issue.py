"""``manage.py token_issue PARTY USERNAME``: issue an API token for a member of a party, as an
operator; the secret is printed once. Auditors get their tokens this way (or in the Django
admin): through the API they change nothing, tokens included."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from governance.exceptions import InvalidInput
from governance.models import Party, Role
from governance.services import default_token_expiry, token_create_for


class Command(BaseCommand):
    help = "Issue an API token for a member of a party; print its secret (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("party", help="the party's id or exact name")
        parser.add_argument("username", help="a member of the party the token acts as")
        parser.add_argument("--role", choices=Role.values, default=Role.VIEWER)
        parser.add_argument("--name", default="issued by an operator")
        parser.add_argument(
            "--days", type=int, default=None, help="days until expiry (API_TOKEN_DEFAULT_DAYS)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        party = _party(options["party"])
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        days = options["days"] if options["days"] is not None else settings.API_TOKEN_DEFAULT_DAYS
        if days < 1:
            raise CommandError("--days must be at least 1.")
        expires_at: dt.datetime = default_token_expiry(now=timezone.now(), days=days)
        try:
            token, secret = token_create_for(
                party=party, user=user, name=options["name"], role=options["role"],
                expires_at=expires_at,
            )  # fmt: skip
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(
            f"token {token.prefix} for {party.name} as {user.get_username()} ({token.role}), "
            f"expires {expires_at:%Y-%m-%d}; the secret is shown this once:"
        )
        self.stdout.write(secret)


def _party(key: str) -> Party:
    joined = Party.objects.filter(named_by=None)  # an unclaimed party acts for nobody
    by_id = joined.filter(pk=key) if _is_uuid(key) else Party.objects.none()
    matches = list(by_id) or list(joined.filter(name=key)[:2])
    if len(matches) != 1:
        raise CommandError(f"No single party with id or name {key!r}.")
    return matches[0]


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
