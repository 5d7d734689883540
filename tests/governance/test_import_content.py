"""``manage.py import_content DIR --party P``: each file named by a registered ISRC that P
registered or holds a share of is fingerprinted and stored as that recording's content, ledgered;
a file named otherwise, of another party's recording, or with bad content is reported by name
with the reason while the rest go on (exit status 1); a second run skips what is done."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from governance.content import composition, peaks
from governance.management.commands import import_content
from governance.models import FingerprintSource, PartyKind, Work, WorkContent, WorkEmbedding
from governance.services import fingerprint_store
from ledger.models import PendingEntry
from tests.audio import tones
from tests.committed import on_own_connection
from tests.factories import caller

pytestmark = pytest.mark.django_db

MINE = ["GBXXX2300001", "GBXXX2300002"]
BAD_AUDIO = "GBXXX2300003"
THEIRS = "FRZZZ2300001"
UNREGISTERED = "GBXXX2300099"


def register(who: object, isrc: str) -> str:
    body = {"kind": "recording", "title": f"Track {isrc}", "isrc": isrc}
    response = who.client.post("/api/v1/works/", body, format="json")  # type: ignore[attr-defined]
    assert response.status_code == 201, response.json()
    return str(response.json()["id"])


def run(folder: Path, party: str, *more: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import_content", str(folder), "--party", party, *more, stdout=out,
                     stderr=err)  # fmt: skip
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_a_folder_is_imported_the_bad_files_named_and_a_second_run_skips_what_is_done(
    tmp_path: Path,
) -> None:
    label, other = caller(PartyKind.LABEL, name="Northbound Records"), caller(PartyKind.LABEL)
    works = {isrc: register(label, isrc) for isrc in [*MINE, BAD_AUDIO]}
    register(other, THEIRS)
    for seed, isrc in enumerate([*MINE, THEIRS, UNREGISTERED]):
        (tmp_path / f"{isrc}.wav").write_bytes(tones(10, seed=seed))
    (tmp_path / f"{BAD_AUDIO}.mp3").write_bytes(b"ID3 but nothing after it" * 10)
    (tmp_path / "cover-art.wav").write_bytes(tones(10, seed=9))

    status, out, err = run(tmp_path, "Northbound Records")

    assert status == 1
    assert out.strip().endswith("6 files, 2 imported, 0 already there, 4 failed")
    failed = dict(line.split(": ", 1) for line in err.strip().splitlines())
    assert set(failed) == {f"{BAD_AUDIO}.mp3", f"{THEIRS}.wav", f"{UNREGISTERED}.wav",
                          "cover-art.wav"}  # fmt: skip
    assert failed["cover-art.wav"].startswith("the name is not an ISRC")
    assert failed[f"{UNREGISTERED}.wav"] == f"no recording with ISRC {UNREGISTERED} is registered"
    assert "neither registered" in failed[f"{THEIRS}.wav"]
    assert failed[f"{BAD_AUDIO}.mp3"].split(":")[0] in ("unsupported", "corrupt")
    done = WorkContent.objects.filter(status="completed")
    assert sorted(str(c.work_id) for c in done) == sorted(works[i] for i in MINE)
    assert all(c.submitted_by_id == label.party.pk for c in done)
    assert fingerprint_store.stored_postings() == sum(c.vector_count for c in done) > 0
    for c in done:  # each with its peaks, those of its stored pairs
        assert FingerprintSource.objects.get(content=c).peaks == peaks.pack(
            *peaks.from_pairs(*fingerprint_store.postings_of(c.pk))
        )
    ledgered = [json.loads(bytes(p.data))["payload"]
                for p in PendingEntry.objects.filter(kind="work_content")]  # fmt: skip
    assert sorted(p["work"] for p in ledgered) == sorted(works[i] for i in MINE)
    assert not WorkContent.objects.exclude(status="completed").exists()

    # Resumed: what is done is skipped; with the bad files gone, the run succeeds.
    for name in failed:
        (tmp_path / name).unlink()
    status, out, err = run(tmp_path, str(label.party.pk))
    assert (status, err) == (0, "")
    assert out.strip().endswith("2 files, 0 imported, 2 already there, 0 failed")
    assert WorkContent.objects.count() == 2
    assert PendingEntry.objects.filter(kind="work_content").count() == 2


def test_a_holder_of_a_share_imports_and_an_unknown_party_or_folder_stops_it(
    tmp_path: Path,
) -> None:
    label, artist = caller(PartyKind.LABEL), caller(PartyKind.ARTIST, name="Ada Vale")
    work = register(label, MINE[0])
    share = {"work": work, "holder": str(artist.party.pk), "right": "performer", "share": "100"}
    assert label.client.post("/api/v1/shares/", share, format="json").status_code == 201
    (tmp_path / f"{MINE[0]}.wav").write_bytes(tones(10))
    assert run(tmp_path, "Ada Vale")[0] == 0
    assert WorkContent.objects.get().submitted_by_id == artist.party.pk
    with pytest.raises(CommandError, match="no label, publisher or artist"):
        run(tmp_path, "Nobody")
    with pytest.raises(CommandError, match="not a folder"):
        run(tmp_path / "missing", "Ada Vale")


@pytest.mark.usefixtures("committed")
def test_with_jobs_the_files_are_fingerprinted_by_a_pool_and_stored_the_same(
    tmp_path: Path,
) -> None:
    # On a connection of its own: the command closes its connection before forking the pool.
    label = on_own_connection(lambda: caller(PartyKind.LABEL, name="Pooled Records"))
    works = on_own_connection(lambda: {isrc: register(label, isrc) for isrc in MINE})
    for seed, isrc in enumerate(MINE):
        (tmp_path / f"{isrc}.wav").write_bytes(tones(10, seed=30 + seed))
    (tmp_path / f"{BAD_AUDIO}.wav").write_bytes(b"RIFF and nothing more" * 8)

    status, out, err = on_own_connection(lambda: run(tmp_path, "Pooled Records", "--jobs", "2"))

    assert status == 1
    assert out.strip().endswith("3 files, 2 imported, 0 already there, 1 failed")
    assert err.startswith(f"{BAD_AUDIO}.wav: ")
    done = WorkContent.objects.filter(status="completed", work_id__in=works.values())
    assert done.count() == 2
    for content in done:
        assert content.vector_count == len(fingerprint_store.postings_of(content.pk)[0]) > 0
    again = on_own_connection(lambda: run(tmp_path, "Pooled Records", "--jobs", "2"))
    assert again[1].strip().endswith("3 files, 0 imported, 2 already there, 1 failed")


def test_composition_vectors_gone_with_a_version_change_are_computed_again_from_the_file(
    tmp_path: Path,
) -> None:
    # A migration moving the composition space to another version deletes its vectors (0013,
    # 0014): the files completed before give them again, with no second content or postings.
    label = caller(PartyKind.LABEL, name="Northbound Records")
    work = register(label, MINE[0])
    (tmp_path / f"{MINE[0]}.wav").write_bytes(tones(35, seed=4))
    assert run(tmp_path, "Northbound Records")[0] == 0
    vectors = WorkEmbedding.objects.filter(work_id=work, space__name="composition")
    count, postings = vectors.count(), fingerprint_store.stored_postings()
    assert count > 0
    vectors.delete()

    status, out, err = run(tmp_path, "Northbound Records")

    assert (status, err) == (0, "")
    assert out.strip().endswith(
        "1 files, 0 imported, 0 already there, 0 failed, 1 given composition vectors again"
    )
    assert vectors.count() == count
    assert (WorkContent.objects.count(), fingerprint_store.stored_postings()) == (1, postings)
    pending = PendingEntry.objects.filter(kind="work_content").order_by("pk")
    entries = [json.loads(bytes(p.data))["payload"] for p in pending]
    content = WorkContent.objects.get()
    assert [e["id"] for e in entries] == [str(content.pk)] * 2
    assert entries[1]["spaces"] == [
        {"space": "fingerprint", "model": content.model, "model_version": content.model_version,
         "vector_count": postings},
        {"space": "composition", "model": composition.MODEL,
         "model_version": composition.VERSION, "vector_count": count},
    ]  # fmt: skip
    assert run(tmp_path, "Northbound Records")[1].strip().endswith("1 already there, 0 failed")


def test_the_command_compacts_the_segments_itself_and_sends_no_compaction_job(
    tmp_path: Path,
) -> None:
    from unittest import mock

    from governance.models import FingerprintSegment, Outbox

    label = caller(PartyKind.LABEL, name="Northbound Records")
    isrcs = [*MINE, "GBXXX2300004"]
    for seed, isrc in enumerate(isrcs):
        register(label, isrc)
        (tmp_path / f"{isrc}.wav").write_bytes(tones(8, seed=50 + seed))

    with (
        mock.patch.object(fingerprint_store, "FANOUT", 3),
        mock.patch.object(import_content, "IMPORT_BATCH", 1),  # a segment a file
    ):
        assert run(tmp_path, "Northbound Records")[0] == 0

    # The third file's segment filled tier 0: merged by the command, with no job sent for it.
    assert FingerprintSegment.objects.count() == 1
    assert not Outbox.objects.filter(task="governance.compact_fingerprints").exists()
    assert WorkContent.objects.filter(status="completed").count() == 3


def test_the_files_are_stored_eight_to_a_transaction_each_batch_one_segment(
    tmp_path: Path,
) -> None:
    from governance.models import FingerprintSegment

    label = caller(PartyKind.LABEL, name="Northbound Records")
    isrcs = [f"GBXXX23000{n:02d}" for n in range(10, 20)]
    works = {isrc: register(label, isrc) for isrc in isrcs}
    for seed, isrc in enumerate(isrcs):
        (tmp_path / f"{isrc}.wav").write_bytes(tones(7, seed=60 + seed))

    assert run(tmp_path, "Northbound Records")[:2] == (
        0, f"{tmp_path}: 10 files, 10 imported, 0 already there, 0 failed\n"
    )  # fmt: skip

    assert import_content.IMPORT_BATCH == 8 == fingerprint_store.FANOUT
    assert sorted(FingerprintSegment.objects.values_list("contents", flat=True)) == [2, 8]
    done = WorkContent.objects.filter(status="completed")
    assert sorted(str(c.work_id) for c in done) == sorted(works.values())
    for c in done:  # each content's postings and peaks, as when stored alone
        hashes, _ = fingerprint_store.postings_of(c.pk)
        assert c.vector_count == len(hashes) > 0
        assert FingerprintSource.objects.get(content=c).peaks == peaks.pack(
            *peaks.from_pairs(*fingerprint_store.postings_of(c.pk))
        )
    # Ledgered in the folder's order, one entry a file.
    entries = PendingEntry.objects.filter(kind="work_content").order_by("pk")
    ledgered = [json.loads(bytes(p.data))["payload"]["work"] for p in entries]
    assert ledgered == [works[i] for i in isrcs]


def test_a_batch_that_cannot_be_stored_is_stored_file_by_file_and_only_the_bad_file_fails(
    tmp_path: Path,
) -> None:
    from unittest import mock

    from governance.services import content as content_services

    label = caller(PartyKind.LABEL, name="Northbound Records")
    works = {isrc: register(label, isrc) for isrc in [*MINE, "GBXXX2300004"]}
    for seed, isrc in enumerate(works):
        (tmp_path / f"{isrc}.wav").write_bytes(tones(7, seed=70 + seed))
    poisoned = tones(7, seed=71)  # the second file's bytes
    real = content_services.extract

    def extract(data: bytes) -> content_services.Extracted:
        got = real(data)
        if data != poisoned:
            return got
        # A frame out of the store's range: segment_write refuses the batch (ValueError).
        times = got.times.astype("int64") + 2**31
        return content_services.Extracted(got.hashes, times, got.seconds, got.codec)

    with mock.patch.object(content_services, "extract", extract):
        status, out, err = run(tmp_path, "Northbound Records")

    assert status == 1
    assert out.strip().endswith("3 files, 2 imported, 0 already there, 1 failed")
    assert err.startswith(f"{MINE[1]}.wav: not stored (ValueError: ")
    done = WorkContent.objects.filter(status="completed")
    assert sorted(str(c.work_id) for c in done) == sorted([works[MINE[0]], works["GBXXX2300004"]])
    assert not WorkContent.objects.exclude(status="completed").exists()  # nothing half-stored
    assert PendingEntry.objects.filter(kind="work_content").count() == 2
    assert fingerprint_store.stored_postings() == sum(c.vector_count for c in done)


def test_an_interrupted_import_keeps_the_batches_it_stored_and_the_next_run_does_the_rest(
    tmp_path: Path,
) -> None:
    from unittest import mock

    from governance.services import content as content_services

    label = caller(PartyKind.LABEL, name="Northbound Records")
    isrcs = [f"GBXXX23000{n:02d}" for n in range(20, 25)]
    for seed, isrc in enumerate(isrcs):
        register(label, isrc)
        (tmp_path / f"{isrc}.wav").write_bytes(tones(7, seed=80 + seed))
    real, calls = content_services.content_import_store_many, []

    def store_many(**kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # ^C while the second batch is stored
        return real(**kwargs)  # type: ignore[arg-type]

    with (
        mock.patch.object(import_content, "IMPORT_BATCH", 2),
        mock.patch.object(content_services, "content_import_store_many", store_many),
        pytest.raises(KeyboardInterrupt),
    ):
        run(tmp_path, "Northbound Records")

    assert WorkContent.objects.filter(status="completed").count() == 2  # the first batch
    assert not WorkContent.objects.exclude(status="completed").exists()
    status, out, _ = run(tmp_path, "Northbound Records")
    assert status == 0
    assert out.strip().endswith("5 files, 3 imported, 2 already there, 0 failed")
    assert PendingEntry.objects.filter(kind="work_content").count() == 5


@pytest.mark.usefixtures("committed")
def test_two_imports_of_the_same_files_at_once_store_each_once_in_either_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two batches of the same three files, one in the folder's order and one reversed, stored
    at once. Each waits (up to 3 s) after taking its first lock until the other has taken its
    own: were the locks taken in the items' order, each would then wait for the other's
    (PostgreSQL ends one with a deadlock); taken in one order, the second waits for the first
    batch, then finds every file completed."""
    import contextlib
    import threading

    from governance.services import content as content_services
    from tests.committed import all_at_once

    label = on_own_connection(lambda: caller(PartyKind.LABEL, name="Racing Records"))
    isrcs = [f"GBXXX23000{n:02d}" for n in range(30, 33)]
    works = on_own_connection(lambda: [Work.objects.get(pk=register(label, i)) for i in isrcs])
    items = []
    for seed, work in enumerate(works):
        data = tones(7, seed=90 + seed)
        sha256, _ = content_services.content_import_prepare(party=label.party, work=work, data=data)
        items.append(content_services.Fingerprinted(
            work, sha256, len(data), content_services.extract(data)
        ))  # fmt: skip
    first_locks = threading.Barrier(2)
    real_lock, orders = content_services._lock_identical, [items, items[::-1]]
    local = threading.local()

    def lock(**kwargs: object) -> None:
        real_lock(**kwargs)  # type: ignore[arg-type]
        if not getattr(local, "locked", False):
            local.locked = True
            with contextlib.suppress(threading.BrokenBarrierError):
                first_locks.wait(timeout=3)

    monkeypatch.setattr(content_services, "_lock_identical", lock)
    got = all_at_once(
        lambda: content_services.content_import_store_many(
            party=label.party, items=orders.pop(), now=timezone.now(), compaction_job=False
        ),
        threads=2,
    )

    assert not [r for r in got if isinstance(r, BaseException)], got
    created = sorted(sum(new for _, new in r) for r in got)  # type: ignore[union-attr]
    assert created == [0, 3]
    done = WorkContent.objects.filter(work__in=works)
    assert done.count() == 3 == done.filter(status="completed").count()
    assert {c.pk for r in got for c, _ in r} == {c.pk for c in done}  # type: ignore[union-attr]
    entries = [json.loads(bytes(p.data))["payload"]["id"]
               for p in PendingEntry.objects.filter(kind="work_content")]  # fmt: skip
    assert sorted(entries) == sorted(str(c.pk) for c in done)
    assert fingerprint_store.stored_postings() == sum(c.vector_count for c in done)
