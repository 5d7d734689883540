"""Races through real threads, connections and commits (tests/committed.py) around the voice
space and content writes: one voice recording enrolled twice at once, an artist's names and
aliases edited while checks name the artist (then the ledger replays with 0 differences), and
one work's lyrics handed in twice at once. Each asserts what stands afterwards: one reference,
one job, one ledger entry; decisions that replay as they were decided."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from governance import tasks
from governance.access import Actor
from governance.models import (
    ArtistNameVector,
    LyricsVector,
    Outbox,
    PartyKind,
    VoiceEmbedding,
    VoiceEnrolment,
    WorkContent,
)
from governance.services import content as content_services
from governance.services import outbox, shares, texts, voices
from ledger.models import PendingEntry
from tests.committed import all_at_once, on_own_connection
from tests.factories import Caller, caller
from tests.voice_samples import sample

pytestmark = pytest.mark.django_db

_T = TypeVar("_T")


def client_of(who: Caller) -> APIClient:
    client = APIClient(raise_request_exception=False)  # one per thread; a 500 is an answer
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {who.secret}")
    return client


def each_once(values: list[_T]) -> Callable[[], _T]:
    """Hands each thread (each call) its own value."""
    lock = threading.Lock()
    pending = list(values)

    def take() -> _T:
        with lock:
            return pending.pop(0)

    return take


def as_actor(who: Caller) -> Actor:
    return Actor(user=who.token.user, party=who.party, role="admin")


def ledgered(kind: str) -> list[dict[str, Any]]:
    rows = PendingEntry.objects.filter(kind=kind).order_by("id")
    return [json.loads(bytes(r.data))["payload"] for r in rows]


def no_errors(results: list[_T | BaseException]) -> list[_T]:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return [r for r in results if not isinstance(r, BaseException)]


def both_look_before_either_writes(
    monkeypatch: pytest.MonkeyPatch, module: Any, look_up: str
) -> None:
    """Each writer waits (up to 3 s) after its "there already?" look-up (``look_up`` in
    ``module``) until the other has looked too: the window the race needs, every time. A writer
    serialised before its look-up (by a lock) only waits the pause out."""
    looked = threading.Barrier(2)
    real = getattr(module, look_up)

    def look_then_wait(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            looked.wait(timeout=3)
        return found

    monkeypatch.setattr(module, look_up, look_then_wait)


@pytest.mark.usefixtures("committed")
def test_one_recording_enrolled_twice_at_once_is_one_reference_one_job_one_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    both_look_before_either_writes(monkeypatch, voices, "_identical")
    artist = on_own_connection(lambda: caller(PartyKind.ARTIST))
    data = sample("slt_ref1")
    url = f"/api/v1/parties/{artist.party.pk}/likeness/voice/"

    def post() -> Any:
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("me.ogg", data, content_type="audio/ogg")
        return client_of(artist).post(url, {"file": [upload]})

    with mock.patch.object(outbox, "broker_send"):  # patched once, for both threads
        got = no_errors(all_at_once(post, threads=2))
    assert sorted(r.status_code for r in got) == [200, 202], [r.json() for r in got]
    ids = {r.json()["id"] for r in got}
    assert len(ids) == 1, [r.json() for r in got]
    # the jobs (as many as were queued) run at once too
    queued = list(Outbox.objects.filter(task=voices.RUN_TASK).values_list("args", flat=True))
    assert len(queued) == 1, queued
    take = each_once([args[0] for args in queued])
    done = no_errors(all_at_once(lambda: tasks.enrol_voice.apply(args=[take()]).get(), threads=1))
    assert done == ["completed"]
    assert VoiceEnrolment.objects.filter(artist=artist.party).count() == 1
    stored = VoiceEmbedding.objects.filter(artist=artist.party)
    assert stored.count() >= 1
    assert set(stored.values_list("sha256", flat=True)) == {r.json()["files"][0]["sha256"]
                                                           for r in got}  # fmt: skip
    assert len(ledgered(voices.ENTRY)) == 1


@pytest.mark.usefixtures("committed")
def test_two_uploads_sharing_a_recording_completed_at_once_store_it_once() -> None:
    artist = on_own_connection(lambda: caller(PartyKind.ARTIST))
    url = f"/api/v1/parties/{artist.party.pk}/likeness/voice/"

    def post(*names: str) -> str:
        from django.core.files.uploadedfile import SimpleUploadedFile

        files = [SimpleUploadedFile(f"{n}.ogg", sample(n), content_type="audio/ogg")
                 for n in names]  # fmt: skip
        response = client_of(artist).post(url, {"file": files})
        assert response.status_code == 202, response.json()
        return str(response.json()["id"])

    with mock.patch.object(outbox, "broker_send"):
        ids = [on_own_connection(lambda: post("slt_ref1")),
               on_own_connection(lambda: post("slt_ref1", "slt_ref2"))]  # fmt: skip
    take = each_once(ids)
    done = no_errors(all_at_once(lambda: tasks.enrol_voice.apply(args=[take()]).get(), threads=2))
    assert done == ["completed", "completed"]
    stored = VoiceEmbedding.objects.filter(artist=artist.party)
    per_recording = {}
    for sha256, window in stored.values_list("sha256", "window"):
        per_recording.setdefault(sha256, []).append(window)
    assert len(per_recording) == 2
    assert all(sorted(w) == list(range(len(w))) for w in per_recording.values()), per_recording
    payloads = [e["recordings"] for e in ledgered(voices.ENTRY)]
    counts: dict[str, int] = {}
    for recordings in payloads:
        for r in recordings:
            counts[r["sha256"]] = counts.get(r["sha256"], 0) + r["vector_count"]
    assert counts == {h: len(w) for h, w in per_recording.items()}


LYRICS = (
    "Frère Jacques, frère Jacques,\nDormez-vous? Dormez-vous?\n\n"
    "Sonnez les matines! Sonnez les matines!\nDing, daing, dong. Ding, daing, dong."
)


@pytest.mark.usefixtures("committed")
def test_one_works_lyrics_handed_in_twice_at_once_are_one_content_one_job_one_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    both_look_before_either_writes(monkeypatch, content_services, "_existing")

    def registered() -> tuple[Caller, str]:
        label = caller(PartyKind.LABEL)
        body = {"kind": "composition", "title": "Frère Jacques", "iswc": "T0345246801"}
        response = label.client.post("/api/v1/works/", body, format="json")
        assert response.status_code == 201, response.json()
        return label, str(response.json()["id"])

    label, work_id = on_own_connection(registered)
    url = f"/api/v1/works/{work_id}/content/"
    with mock.patch.object(outbox, "broker_send"):
        got = no_errors(all_at_once(
            lambda: client_of(label).post(url, {"lyrics": LYRICS}, format="multipart"), threads=2
        ))  # fmt: skip
    assert sorted(r.status_code for r in got) == [200, 202], [r.json() for r in got]
    assert len({r.json()["id"] for r in got}) == 1
    assert WorkContent.objects.filter(work_id=work_id).count() == 1
    (job,) = Outbox.objects.filter(task=content_services.RUN_TASK, args__0=got[0].json()["id"])
    # the job delivered twice at once: one set of stanza vectors, one entry
    content_id = job.args[0]
    done = no_errors(all_at_once(
        lambda: tasks.fingerprint_content.apply(args=[content_id]).get(), threads=2
    ))  # fmt: skip
    assert done == ["completed", "completed"]
    stanzas = LyricsVector.objects.filter(content_id=content_id)
    assert sorted(stanzas.values_list("stanza", flat=True)) == [0, 1]
    assert [e["id"] for e in ledgered(content_services.ENTRY)] == [content_id]


@pytest.mark.usefixtures("committed")
def test_an_alias_edit_and_the_names_catch_up_at_once_embed_each_name_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An artist whose names were never embedded (created while the text model could not run):
    ``manage.py sync_artist_names`` catches up while the artist edits its aliases. Both find
    the artist's own name missing; each waits (up to 3 s) after embedding until the other has
    embedded too, so both would insert it without a lock on the artist's names (the unique
    index's IntegrityError for one of them)."""

    def nameless() -> Caller:
        artist = caller(PartyKind.ARTIST, name="Ines Okafor")
        ArtistNameVector.objects.filter(party=artist.party).delete()
        return artist

    artist = on_own_connection(nameless)
    embedded = threading.Barrier(2)
    real = texts._embed

    def embed_then_wait(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            embedded.wait(timeout=3)
        return out

    monkeypatch.setattr(texts, "_embed", embed_then_wait)
    edit_or_catch_up = each_once([
        lambda: shares.likeness_update(actor=as_actor(artist), aliases=["Okafor"],
                                       now=timezone.now()),
        lambda: call_command("sync_artist_names", stdout=io.StringIO()),
    ])  # fmt: skip

    def run() -> Any:
        with transaction.atomic():
            return edit_or_catch_up()()

    no_errors(all_at_once(run, threads=2))
    names = ArtistNameVector.objects.filter(party=artist.party)
    assert sorted(names.values_list("name", "alias")) == [("Ines Okafor", False), ("Okafor", True)]
