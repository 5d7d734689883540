"""The API's throttles (``api.throttling``) count, refuse and say when to retry exactly as DRF's
own do with the per-process memory cache, without pickling the counters."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache.backends.locmem import LocMemCache
from rest_framework import throttling as drf

from api import throttling


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def decisions(throttle_class: type[Any], cache: Any, steps: list[float]) -> list[Any]:
    """Allowed or the wait, for a request of one user at each step's time."""
    clock = Clock()
    request = SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=7), META={})
    out = []
    for step in steps:
        clock.now += step
        throttle = throttle_class()
        throttle.cache = cache
        throttle.timer = clock
        out.append(True if throttle.allow_request(request, None) else round(throttle.wait(), 6))
    return out


@pytest.mark.parametrize("rate", ["3/second", "5/minute"])
def test_the_same_requests_are_allowed_and_refused_with_the_same_wait(
    monkeypatch: pytest.MonkeyPatch, rate: str
) -> None:
    monkeypatch.setitem(drf.UserRateThrottle.THROTTLE_RATES, "user", rate)
    steps = [0, 0.1, 0.1, 0.1, 0.3, 0.5, 0.2, 10, 0, 0, 0, 0, 0, 0, 61, 0]
    ours = decisions(throttling.UserRateThrottle, throttling.ProcessCounters(), steps)
    theirs = decisions(drf.UserRateThrottle, LocMemCache(f"throttle-test-{rate}", {}), steps)
    assert ours == theirs
    assert True in ours
    assert any(d is not True for d in ours)


def test_counters_are_copies_and_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    counters = throttling.ProcessCounters()
    history = [1.0, 2.0]
    counters.set("k", history, 60)
    history.append(3.0)
    got = counters.get("k", [])
    got.append(4.0)
    assert counters.get("k", []) == [1.0, 2.0]
    now = throttling.time.monotonic()
    monkeypatch.setattr(throttling.time, "monotonic", lambda: now + 61)
    assert counters.get("k", "gone") == "gone"


def test_a_shared_cache_is_used_as_drf_uses_it(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert throttling.UserRateThrottle().cache is not throttling.counters
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert throttling.UserRateThrottle().cache is throttling.counters
