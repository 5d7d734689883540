"""Races through real threads, connections and commits (like tests/api/test_idempotency.py):
two labels registering one ISRC (ISWC, UPC) at once, and concurrent rotations of a licensee's
callback secret. Each request answers cleanly (never a 500: the loser of a registration race
met the unique index's IntegrityError), one registration wins and is ledgered once, and the
secret that stands is one that was answered."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
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


IMPORT_HEADER = "kind,isrc,iswc,title,display_artist,right,share,holder,territories\n"


@pytest.mark.usefixtures("committed")
def test_an_import_and_a_registration_of_one_isrc_at_once_one_wins_the_import_rejects_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An import chunk and an API registration of one ISRC at once. The import's look-up is the
    ``existing`` query before its works are inserted (``copy_insert``), the registration's is
    ``_identifier_conflict``; each waits (up to 3 s) after looking until the other has looked.
    Whoever registers first wins; the other is told why (a 409, or the import's row rejected
    naming the ISRC), and the import job itself never fails on the unique index. Once both
    have looked, the import inserts half a second after the registration."""
    from governance.importing import apply as import_apply
    from governance.importing.run import import_catalog

    looked = threading.Barrier(2)
    real_conflict, real_copy = catalog._identifier_conflict, import_apply.copy_insert

    def wait_for_the_other() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            looked.wait(timeout=3)

    def conflict_then_wait(*args: Any, **kwargs: Any) -> None:
        real_conflict(*args, **kwargs)
        wait_for_the_other()

    def copy_after_waiting(model: Any, rows: Any) -> Any:
        if model is Work:
            wait_for_the_other()
            time.sleep(0.5)  # the registration inserts first: the import meets the index
        return real_copy(model, rows)

    monkeypatch.setattr(catalog, "_identifier_conflict", conflict_then_wait)
    monkeypatch.setattr(import_apply, "copy_insert", copy_after_waiting)
    importer, registrar = on_own_connection(
        lambda: [caller(PartyKind.LABEL), caller(PartyKind.LABEL)]
    )
    other = "GBNWR2300099"
    csv = (IMPORT_HEADER + f"recording,{ISRC},,Imported,A,master,100,,\n"
           f"recording,{other},,Another,A,master,100,,\n").encode()  # fmt: skip
    entries = PendingEntry.objects.filter(kind="work").count()
    jobs: list[Callable[[], Any]] = [
        lambda: import_catalog(party=importer.party, data=csv, fmt="csv", now=timezone.now()),
        lambda: client_of(registrar).post("/api/v1/works/", RECORDING, format="json"),
    ]
    lock = threading.Lock()

    def next_job() -> Any:
        with lock:
            job = jobs.pop(0)
        return job()

    results = all_at_once(next_job, threads=2)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors  # the import did not fail on the unique index
    [report] = [r for r in results if not hasattr(r, "status_code")]
    [answer] = [r for r in results if hasattr(r, "status_code")]
    (stored,) = Work.objects.filter(isrc=ISRC)
    if answer.status_code == 201:  # the registration won: the import rejects that row only
        assert str(stored.pk) == answer.json()["id"]
        assert [p.reason for p in report.problems] == [
            f"ISRC {ISRC} is registered by another party"
        ], report.problems
    else:  # the import won: the registration is told the ISRC is taken
        assert answer.status_code == 409, answer.json()
        assert list(answer.json()["fields"]) == ["isrc"]
        assert stored.registrant_id == importer.party.pk
        assert report.problems == []
    assert Work.objects.filter(isrc=other).count() == 1
    assert PendingEntry.objects.filter(kind="work").count() == entries + 2
