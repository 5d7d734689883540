from __future__ import annotations

import base64
import datetime as dt

from django.utils import timezone

from ledger import services
from ledger.models import Checkpoint


def append_many(n: int, *, kind: str = "test", start: int = 0) -> None:
    now = timezone.now()
    for i in range(start, start + n):
        services.entry_append(kind=kind, payload={"i": i}, time=now)


def sequence(now: dt.datetime | None = None) -> Checkpoint:
    checkpoint = services.sequence_and_sign(now=now or timezone.now())
    assert checkpoint is not None
    return checkpoint


def b64d(text: str) -> bytes:
    return base64.b64decode(text)
