"""Races through real threads, connections and commits (like tests/api/test_idempotency.py):
two labels registering one ISRC (ISWC, UPC) at once, and concurrent rotations of a licensee's
callback secret. Each request answers cleanly (never a 500: the loser of a registration race
met the unique index's IntegrityError), one registration wins and is ledgered once, and the
secret that stands is one that was answered."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from governance.models import Party, PartyKind, Release, Work
from governance.services import catalog
from ledger.models import PendingEntry
from tests.committed import all_at_once, on_own_connection
from tests.factories import Caller, caller
from tests.world import ISRC

pytestmark = pytest.mark.django_db


def client_of(who: Caller) -> APIClient:
    client = APIClient(raise_request_exception=False)  # one per thread; a 500 is an answer
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {who.secret}")
    return client


def answers(results: list[Any]) -> list[tuple[int, dict[str, Any]]]:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return sorted(((r.status_code, r.json()) for r in results), key=lambda a: a[0])


def each_once(values: list[Caller]) -> Callable[[], Caller]:
    """Hands each thread (each call) its own caller."""
    lock = threading.Lock()
    pending = list(values)

    def take() -> Caller:
        with lock:
            return pending.pop(0)

    return take


def both_look_before_either_registers(monkeypatch: pytest.MonkeyPatch, look_up: str) -> None:
    """Each registration waits (up to 3 s) after its "registered already?" look-up (``look_up``
    in governance.services.catalog) until the other has looked too: the window the race needs,
    every time. A registration serialised before its look-up only waits the pause out."""
    looked = threading.Barrier(2)
    real = getattr(catalog, look_up)

    def look_then_wait(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            looked.wait(timeout=3)

    monkeypatch.setattr(catalog, look_up, look_then_wait)


RECORDING = {"kind": "recording", "title": "Northern Lights", "isrc": ISRC}
COMPOSITION = {"kind": "composition", "title": "Northern Lights", "iswc": "T0345246801"}
RELEASE = {"upc": "5012345678900", "title": "Aurora", "tracks": []}


@pytest.mark.usefixtures("committed")
@pytest.mark.parametrize(
    ("url", "body", "field", "look_up", "kind"),
    [
        ("/api/v1/works/", RECORDING, "isrc", "_identifier_conflict", "work"),
        ("/api/v1/works/", COMPOSITION, "iswc", "_identifier_conflict", "work"),
        ("/api/v1/releases/", RELEASE, "upc", "_upc_conflict", "release"),
    ],
)
def test_two_labels_registering_one_identifier_at_once_one_wins_the_other_is_told_why(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    body: dict[str, Any],
    field: str,
    look_up: str,
    kind: str,
) -> None:
    both_look_before_either_registers(monkeypatch, look_up)
    labels = on_own_connection(lambda: [caller(PartyKind.LABEL), caller(PartyKind.LABEL)])
    entries = PendingEntry.objects.filter(kind=kind).count()
    take = each_once(labels)
    got = answers(all_at_once(
        lambda: client_of(take()).post(url, body, format="json"), threads=2
    ))  # fmt: skip
    (won, registered), (lost, error) = got
    assert won == 201, got
    assert lost in (400, 409), got
    assert list(error["fields"]) == [field], error
    model = Work if kind == "work" else Release
    (stored,) = model.objects.filter(**{field: registered[field]})
    assert str(stored.pk) == registered["id"]
    assert PendingEntry.objects.filter(kind=kind).count() == entries + 1


@pytest.mark.usefixtures("committed")
@pytest.mark.parametrize("threads", [2, 8])
def test_concurrent_rotations_of_the_callback_secret_each_answer_and_one_stands(
    threads: int,
) -> None:
    licensee = on_own_connection(lambda: caller(PartyKind.LICENSEE))
    entries = PendingEntry.objects.count()
    got = answers(all_at_once(
        lambda: client_of(licensee).post("/api/v1/callback-secret/rotate/"), threads=threads
    ))  # fmt: skip
    assert [code for code, _ in got] == [200] * threads, got
    answered = {body["secret"] for _, body in got}
    assert len(answered) == threads  # each rotation made its own secret
    stored = Party.objects.get(pk=licensee.party.pk).callback_secret
    assert stored in answered
    assert client_of(licensee).get("/api/v1/callback-secret/").json()["secret"] == stored
    assert PendingEntry.objects.count() == entries  # a rotation is not ledgered
