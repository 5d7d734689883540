"""Sign-in attempts are rate-limited, per client address and per user name, with the API's
throttle machinery (DRF's ``SimpleRateThrottle``, its counters in the ``default`` cache) at the
``sign_in`` rate of ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``SIGN_IN_THROTTLE``,
docs/configuration.md). Only attempts count, not visits of the form."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class _SignInThrottle(SimpleRateThrottle):
    scope = "sign_in"

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.key}


def sign_in_allowed(request: HttpRequest) -> float | None:
    """``None`` if this attempt may go on, else the seconds to wait before the next one."""
    asked = Request(request)  # DRF's view of it: its throttles read the client's address
    address = _SignInThrottle("").get_ident(asked)
    username = str(request.POST.get("username", "")).strip().lower()[:150]
    waits = []
    for key in (f"address:{address}", f"user:{username}"):
        throttle = _SignInThrottle(key)
        if not throttle.allow_request(asked, APIView()):
            waits.append(throttle.wait() or 60.0)
    return max(waits) if waits else None
