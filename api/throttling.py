"""The API's throttles (``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]``): DRF's anonymous and
per-user rates, unchanged, with their counters kept without pickling when they are per process.

DRF keeps each client's history (a timestamp per request in the last period) in Django's
``default`` cache. Its default here is the per-process memory cache, which pickles a value on
every ``set`` and unpickles it on every ``get``: at 6,000 requests a minute (the user rate's
default) a busy token's history is 6,000 floats, about 0.3 ms of CPU a request to copy twice
(docs/benchmarks.md, "Checks: CPU per check"). :class:`ProcessCounters` keeps the same values,
with the same expiry, as copies of the lists in a dict: the same counts, the same refusals and
``Retry-After``, per process as before. With ``CACHE_URL`` set (a cache the API processes
share), the throttles use that cache as DRF does.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.cache import cache as default_cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework import throttling

PRUNE_AT = 10_000
"""Keys kept before the expired ones are dropped (each holds one client's history)."""


class ProcessCounters:
    """The ``get`` and ``set`` DRF's throttles call, in this process's memory: a value is
    copied in and out (as the memory cache's pickling did: two requests never share a list)
    and expires ``timeout`` seconds after it was set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, list[Any]]] = {}

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            held = self._values.get(key)
            if held is None or held[0] <= time.monotonic():
                return default
            return list(held[1])

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        expires = time.monotonic() + (timeout if timeout is not None else 300)
        with self._lock:
            self._values[key] = (expires, list(value))
            if len(self._values) > PRUNE_AT:
                now = time.monotonic()
                self._values = {k: v for k, v in self._values.items() if v[0] > now}

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


counters = ProcessCounters()


def _counters() -> Any:
    """Where the throttles count: this process's counters when the ``default`` cache is the
    per-process memory cache anyway, else that cache (shared by the API processes)."""
    from django.core.cache import caches

    return counters if isinstance(caches["default"], LocMemCache) else default_cache


class AnonRateThrottle(throttling.AnonRateThrottle):
    def __init__(self) -> None:
        self.cache = _counters()
        super().__init__()


class UserRateThrottle(throttling.UserRateThrottle):
    def __init__(self) -> None:
        self.cache = _counters()
        super().__init__()
