"""Token authentication for machine clients.

Header: ``Authorization: Api-Key <prefix>.<secret>`` (``Bearer`` is accepted too). A token that
is unknown, wrong, revoked or expired, or whose member has left its party or been deactivated,
gets 401; the reason is not told apart in the answer. A token acts with the lower of its own role
and its member's current role in the party, read on every request: demoting a member demotes
its tokens at once.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from governance.access import Actor
from governance.models import ApiToken
from governance.services import api_token_touch

SCHEMES = ("api-key", "bearer")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[Any, Actor] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() not in SCHEMES:
            return None
        key = key.strip()
        if not key or "." not in key:
            raise exceptions.AuthenticationFailed("Malformed API token.")
        try:
            token = ApiToken.objects.get_from_key(key)
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid API token.") from None
        assert isinstance(token, ApiToken)
        if token.has_expired:
            raise exceptions.AuthenticationFailed("Invalid API token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid API token.")
        api_token_touch(token=token, now=timezone.now())
        actor = Actor(user=token.user, party=token.party, role=token.effective_role, token=token)
        return token.user, actor

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
