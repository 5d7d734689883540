"""The packed fingerprint store (``governance.services.fingerprint_store``, docs/matching.md,
"The packed store"): its votes are ``MemoryIndex``'s whatever the segments' shapes, with and
without the stop list; a deleted content never matches and its postings go at the next
compaction; compaction changes no vote; an import committing while a compaction and queries
run loses and duplicates nothing; bad input changes nothing. Each content's peaks are written
with its postings, read by key (never a deleted content's), and computed again from the
postings by the backfill (and the migration that runs it) to the same bytes."""

from __future__ import annotations

import hashlib
import threading
import uuid
from io import StringIO
from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from governance.content import fingerprint, peaks, postings
from governance.models import (
    ContentStatus,
    FingerprintSegment,
    FingerprintSource,
    Party,
    Work,
    WorkContent,
)
from governance.services import fingerprint_store
from tests.committed import on_own_connection

pytestmark = pytest.mark.django_db

HASHES = 3_000
"""A small hash space, so that contents share hashes as music does."""


def landmark(n: np.ndarray) -> np.ndarray:
    """The landmark hashes of numbers below ``HASHES`` (anchor bins 64-110, df 0-7, dt 1-8):
    pairs whose peaks the store rebuilds (``governance.content.peaks``)."""
    n = np.asarray(n, np.int64)
    return ((64 + (n >> 6)) << 14) | ((32 + ((n >> 3) & 7)) << 8) | (1 + (n & 7))


def new_contents(n: int) -> list[uuid.UUID]:
    """``n`` completed contents, each of a recording of its own (no postings)."""
    party, _ = Party.objects.get_or_create(
        kind="label", name="fingerprint store tests", defaults={"default_posture": "opt_in"}
    )
    now = timezone.now()
    out = []
    for _ in range(n):
        work = Work.objects.create(kind="recording", registrant=party, title="a track")
        content = WorkContent.objects.create(
            work=work, kind="audio", size=1, seconds=60.0, codec="pcm",
            sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
            status=ContentStatus.COMPLETED, submitted_by=party, model=fingerprint.MODEL,
            model_version=fingerprint.VERSION, created_at=now, completed_at=now,
        )  # fmt: skip
        out.append(content.pk)
    return out


def track(seed: int, size: int = 600) -> fingerprint.Fingerprint:
    """A content's fingerprint: random hashes (of HASHES) at random frames."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.integers(0, 2_000, size))
    hashes = landmark(rng.integers(0, HASHES, size))
    return fingerprint.Fingerprint(hashes.astype(np.int32), times.astype(np.int32), 25.0)


def excerpt(fp: fingerprint.Fingerprint, start: int, frames: int, *, seed: int) -> Any:
    """A query: ``fp``'s pairs in ``start .. start + frames``, shifted to start at 0, with a
    third of them replaced by noise."""
    rng = np.random.default_rng(seed)
    mine = (fp.times >= start) & (fp.times < start + frames)
    hashes, times = fp.hashes[mine].astype(np.int64), fp.times[mine].astype(np.int64) - start
    noisy = rng.random(len(hashes)) < 1 / 3
    hashes[noisy] = landmark(rng.integers(0, HASHES, int(noisy.sum())))
    return fingerprint.Fingerprint(hashes.astype(np.int32), times.astype(np.int32), frames * 0.1)


def stored(ids: list[uuid.UUID], fps: list[fingerprint.Fingerprint], *, per_segment: int) -> None:
    for lo in range(0, len(ids), per_segment):
        with transaction.atomic():
            fingerprint_store.segment_write(
                [(c, fp.hashes, fp.times) for c, fp in zip(ids[lo:lo + per_segment],
                                                            fps[lo:lo + per_segment], strict=True)]
            )  # fmt: skip


def memory(ids: list[uuid.UUID], fps: list[fingerprint.Fingerprint]) -> fingerprint.MemoryIndex:
    index = fingerprint.MemoryIndex()
    for c, fp in zip(ids, fps, strict=True):
        index.add(str(c), fp)
    return index


def passing(rows: list[tuple[str, int, int, int]], needed: int) -> list[fingerprint.Candidate]:
    return [c for c in fingerprint.score_votes(rows) if c.score >= needed]


@pytest.mark.parametrize("shift", postings.SHIFTS)
def test_the_votes_are_the_memory_indexs_at_every_shift_with_and_without_the_stop_list(
    shift: int,
) -> None:
    # given 12 contents in three segments written with the shift
    ids, fps = new_contents(12), [track(n) for n in range(12)]
    with mock.patch.object(postings, "shift_for", return_value=shift):
        stored(ids, fps, per_segment=4)
    assert set(FingerprintSegment.objects.values_list("shift", flat=True)) == {shift}
    index = memory(ids, fps)
    counts = np.bincount(np.concatenate([fp.hashes for fp in fps]), minlength=HASHES)
    cap = int(np.percentile(counts[counts > 0], 70))
    for seed, (n, start) in enumerate([(0, 100), (5, 900), (11, 0)]):
        query = excerpt(fps[n], start, 600, seed=seed)
        # then every vote is the memory index's, with no cap and with one
        assert sorted(fingerprint_store.every_vote(query)) == sorted(index.votes(query))
        assert sorted(fingerprint_store.every_vote(query, cap=cap)) == sorted(
            index.votes(query, cap=cap)
        )
        assert index.postings(query, cap=cap) < index.postings(query)
        # and the near votes give the same passing candidates as every vote, the right one
        needed = 6
        near = fingerprint_store.near_votes(query, needed=needed, cap=cap)
        assert passing(near, needed) == passing(index.votes(query, cap=cap), needed)
        assert passing(near, needed)[0].key == str(ids[n])
        assert len(near) < len(index.votes(query, cap=cap))
    assert fingerprint_store.stored_postings() == len(index)


@pytest.mark.parametrize("references", [1, 3, 10])
def test_the_best_references_votes_give_the_candidates_every_vote_gives(references: int) -> None:
    # given 30 contents, and queries that match one well, one badly (most pairs replaced), none
    ids, fps = new_contents(30), [track(n, size=900) for n in range(30)]
    stored(ids, fps, per_segment=10)
    index = memory(ids, fps)
    rng = np.random.default_rng(4)
    unrelated = track(999, size=900)
    queries = [excerpt(fps[3], 300, 600, seed=1), excerpt(fps[7], 0, 900, seed=2), unrelated]
    weak = queries[1]
    keep = rng.random(len(weak.hashes)) < 0.15  # a weak copy: a few of its pairs survive
    queries[1] = fingerprint.Fingerprint(weak.hashes[keep], weak.times[keep], weak.seconds)
    for query in queries:
        # when the store is asked for the best references' votes (none reaching 12 blocks)
        votes = fingerprint_store.Votes(query, cap=10**6)
        best = votes.best(references=references, floor=2, below=12)
        # then the candidates are those every vote gives, with fewer rows read into Python
        every = index.votes(query)
        expected = fingerprint.candidate_offsets(every, references=references, coverage=2)
        assert fingerprint.candidate_offsets(best, references=references, coverage=2) == expected
        assert len(best) <= len(every)


def test_a_deleted_content_never_matches_and_its_postings_go_at_the_next_compaction() -> None:
    # given 6 contents, the first deleted
    ids, fps = new_contents(6), [track(n) for n in range(6)]
    stored(ids, fps, per_segment=3)
    query = excerpt(fps[0], 200, 600, seed=1)
    assert passing(fingerprint_store.near_votes(query, needed=6, cap=10**6), 6)[0].key == str(
        ids[0]
    )
    WorkContent.objects.filter(pk=ids[0]).delete()
    # then none of its votes is read, before the compaction as after it
    rest = memory(ids[1:], fps[1:])
    assert sorted(fingerprint_store.every_vote(query)) == sorted(rest.votes(query))
    assert all(row[0] != str(ids[0]) for row in fingerprint_store.every_vote(query))
    assert fingerprint_store.stored_postings() == len(rest) + len(fps[0])  # (until compacted)
    [merged] = fingerprint_store.compact(full=True)
    assert merged == {"segments": 2, "postings": len(rest), "rows": merged["rows"],
                      "dropped": len(fps[0])}  # fmt: skip
    assert fingerprint_store.stored_postings() == len(rest)
    assert sorted(fingerprint_store.every_vote(query)) == sorted(rest.votes(query))
    assert fingerprint_store.postings_of(ids[0])[0].size == 0
    # and a full compaction of the one segment left, all of it alive, does nothing
    assert fingerprint_store.compact(full=True) == []


@mock.patch.object(fingerprint_store, "TIER_BASE", 2_000)  # (a content's 600 postings: tier 0)
def test_compaction_changes_no_vote_and_keeps_few_segments() -> None:
    # given 17 contents written one segment each (tier 0)
    ids, fps = new_contents(17), [track(n) for n in range(17)]
    stored(ids, fps, per_segment=1)
    queries = [excerpt(fps[n], 300, 500, seed=n) for n in (0, 8, 16)]
    before = [sorted(fingerprint_store.every_vote(q)) for q in queries]
    assert fingerprint_store.compaction_due()
    # when compacted (a tier holding 8 segments or more is merged)
    done = fingerprint_store.compact()
    # then the 17 are one segment (tier 1); every vote and every posting is the same
    assert [d["segments"] for d in done] == [17]
    assert FingerprintSegment.objects.count() == 1
    assert not fingerprint_store.compaction_due()
    assert [sorted(fingerprint_store.every_vote(q)) for q in queries] == before
    for c, fp in zip(ids, fps, strict=True):
        hashes, times = fingerprint_store.postings_of(c)
        order = np.lexsort((fp.times, fp.hashes))
        assert hashes.tolist() == fp.hashes[order].tolist()
        assert times.tolist() == fp.times[order].tolist()
    # and 8 more segments of one content each are not merged with it (another tier)
    more_ids, more = new_contents(8), [track(n) for n in range(17, 25)]
    stored(more_ids, more, per_segment=1)
    assert [d["segments"] for d in fingerprint_store.compact()] == [8]
    assert FingerprintSegment.objects.count() == 2
    assert [sorted(fingerprint_store.every_vote(q)) for q in queries] == [
        sorted(memory(ids + more_ids, fps + more).votes(q)) for q in queries
    ]


def test_tiers_merge_by_size() -> None:
    base = fingerprint_store.TIER_BASE
    assert [fingerprint_store.tier(n) for n in (1, base, base + 1, 8 * base, 8 * base + 1)] == [
        0, 0, 1, 1, 2,
    ]  # fmt: skip
    small, big = [(i, 1_000) for i in range(7)], [(10 + i, 9 * base) for i in range(8)]
    assert fingerprint_store._plan(small, fanout=8) == []
    assert fingerprint_store._plan(small + big, fanout=8) == [10 + i for i in range(8)]
    assert fingerprint_store._plan([*small, (99, 5)], fanout=8) == [*range(7), 99]


@pytest.mark.usefixtures("committed")
def test_an_import_committing_while_a_compaction_and_queries_run_loses_and_duplicates_nothing() -> (
    None
):
    # given 8 contents stored (one segment each), 16 more to import meanwhile
    fps = [track(n, size=400) for n in range(24)]
    ids = on_own_connection(lambda: new_contents(24))
    on_own_connection(lambda: stored(ids[:8], fps[:8], per_segment=1))
    index = memory(ids, fps)
    pairs = zip(ids, fps, strict=True)
    expected_peaks = {str(c): peaks.from_pairs(fp.hashes, fp.times) for c, fp in pairs}
    query = excerpt(fps[3], 100, 800, seed=3)
    settled = sorted(index.votes(query))
    there = {r[0] for r in settled} & {str(c) for c in ids[:8]}
    assert there
    errors: list[BaseException] = []
    seen: list[int] = []
    importing = threading.Event()
    importing.set()

    def guarded(fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        return threading.Thread(target=run)

    def importer() -> None:
        try:
            for n in range(8, 24, 2):
                stored(ids[n : n + 2], fps[n : n + 2], per_segment=2)
        finally:
            importing.clear()

    def compactor() -> None:
        while importing.is_set():
            fingerprint_store.compact(fanout=2)

    def querier() -> None:
        while importing.is_set():
            # each vote row of a content is its memory index's, never doubled nor partial:
            # the query sees a content's segment (merged or not) whole, or not yet
            got = fingerprint_store.every_vote(query)
            contents = {row[0] for row in got}
            wanted = [r for r in settled if r[0] in contents]
            assert sorted(got) == wanted
            assert there <= contents  # (the contents stored before never go missing)
            # and a content whose votes are read has its peaks, whole (presence reads them next)
            found = fingerprint_store.peaks_of_contents(contents)
            assert set(found) >= contents
            for c in contents:
                assert [a.tolist() for a in found[c]] == [a.tolist() for a in expected_peaks[c]]
            seen.append(len(got))

    threads = [guarded(importer), guarded(compactor), guarded(querier)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert seen
    # then, every import committed and merged, every posting is there once

    def final() -> tuple[list[Any], int, list[tuple[list[int], list[int]]], dict[str, Any]]:
        fingerprint_store.compact(full=True)
        return (
            sorted(fingerprint_store.every_vote(query)),
            fingerprint_store.stored_postings(),
            [tuple(a.tolist() for a in fingerprint_store.postings_of(c)) for c in ids],
            fingerprint_store.peaks_of_contents(str(c) for c in ids),
        )

    votes, held, each, peaks_after = on_own_connection(final)
    assert votes == settled
    assert held == len(index)
    assert {c: [a.tolist() for a in v] for c, v in peaks_after.items()} == {
        c: [a.tolist() for a in v] for c, v in expected_peaks.items()
    }
    for (hashes, times), fp in zip(each, fps, strict=True):
        order = np.lexsort((fp.times, fp.hashes))
        assert (hashes, times) == (fp.hashes[order].tolist(), fp.times[order].tolist())


def test_bad_postings_are_refused_and_change_nothing() -> None:
    [content] = new_contents(1)
    top = 2**fingerprint.HASH_BITS
    for hashes, times, message in (
        ([1, 2], [3], "2 hashes but 1 frames"),
        ([top], [0], "hash is outside"),
        ([-1], [0], "hash is outside"),
        ([1], [-5], "frame is outside"),
        ([1], [2**31], "frame is outside"),
        ([1.5], [0], "1-D array of integers"),
        ([5], [0], "anchor bin is 0"),  # (not a landmark hash: its pair names no peaks)
    ):
        with pytest.raises(ValueError, match=message), transaction.atomic():
            fingerprint_store.segment_write([(content, np.array(hashes), np.array(times))])
    fp = track(1)
    with pytest.raises(ValueError, match="each content once"), transaction.atomic():
        fingerprint_store.segment_write([(content, fp.hashes, fp.times)] * 2)
    assert not FingerprintSegment.objects.exists()
    assert not FingerprintSource.objects.exists()
    assert fingerprint_store.segment_write([]) == 0
    with pytest.raises(ValueError, match="bytes each"):
        postings.unpacked([(0, 5, b"\x00" * 7)])
    with pytest.raises(ValueError, match="shift is one of"):
        postings.rows_of(postings.Flat.empty(), shift=3)
    with pytest.raises(ValueError, match="at least 2"):
        fingerprint_store.compact(fanout=1)
    # an empty query reads nothing
    empty = fingerprint.Fingerprint(np.zeros(0, np.int32), np.zeros(0, np.int32), 10.0)
    assert fingerprint_store.every_vote(empty) == fingerprint_store.near_votes(
        empty, needed=5, cap=10
    ) == []  # fmt: skip


def test_the_command_compacts_and_says_what_it_did() -> None:
    ids, fps = new_contents(3), [track(n) for n in range(3)]
    stored(ids, fps, per_segment=1)
    out = StringIO()
    call_command("compact_fingerprints", "--full", stdout=out)
    held = sum(len(fp) for fp in fps)
    assert f"merged 3 segments: {held:,} postings" in out.getvalue()
    assert out.getvalue().strip().endswith(f"1 segments hold {held:,} postings")
    assert FingerprintSegment.objects.count() == 1


def test_the_migration_moves_the_row_stores_postings_into_segments_and_back() -> None:
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps

    migration = import_module("governance.migrations.0017_fingerprint_store")
    # given the row store of before (dropped by the migration: made again here) holding the
    # postings of 3 contents, and one posting of a content that no longer exists
    ids, fps = new_contents(3), [track(n) for n in range(3)]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE governance_fingerprintposting (id bigserial PRIMARY KEY,"
            " content_id uuid NOT NULL, hash integer NOT NULL, t integer NOT NULL)"
        )
        for c, fp in [*zip(ids, fps, strict=True), (uuid.uuid4(), track(9, size=1))]:
            cursor.execute(
                "INSERT INTO governance_fingerprintposting (content_id, hash, t)"
                " SELECT %s, h, t FROM unnest(%s::int[], %s::int[]) AS p(h, t)",
                [c, fp.hashes.tolist(), fp.times.tolist()],
            )
    editor = SimpleNamespace(connection=connection)
    # when moved
    with mock.patch.object(migration, "BATCH", 2):
        migration.pack(apps, editor)
    # then each content's postings are in the store (two segments), and vote as before
    assert FingerprintSegment.objects.count() == 2
    for c, fp in zip(ids, fps, strict=True):
        order = np.lexsort((fp.times, fp.hashes))
        hashes, times = fingerprint_store.postings_of(c)
        assert (hashes.tolist(), times.tolist()) == (
            fp.hashes[order].tolist(), fp.times[order].tolist(),
        )  # fmt: skip
    query = excerpt(fps[1], 0, 900, seed=4)
    assert sorted(fingerprint_store.every_vote(query)) == sorted(memory(ids, fps).votes(query))
    # and backwards, the packed postings go back to one row each
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_fingerprintposting")
        migration.unpack(apps, editor)
        cursor.execute("SELECT content_id, hash, t FROM governance_fingerprintposting")
        back = sorted((str(c), h, t) for c, h, t in cursor.fetchall())
    assert back == sorted(
        (str(c), int(h), int(t))
        for c, fp in zip(ids, fps, strict=True)
        for h, t in zip(fp.hashes, fp.times, strict=True)
    )


def packed_peaks(c: uuid.UUID) -> bytes | None:
    """A content's stored peaks (None: null)."""
    data = FingerprintSource.objects.get(content_id=c).peaks
    return None if data is None else bytes(data)


def test_a_segment_writes_each_contents_peaks_and_peaks_of_reads_them_by_key() -> None:
    # given 5 contents in two segments
    ids, fps = new_contents(5), [track(n) for n in range(5)]
    stored(ids, fps, per_segment=3)
    keys = dict(FingerprintSource.objects.values_list("content_id", "id"))
    # then each one's peaks are those of its pairs, as stored
    for c, fp in zip(ids, fps, strict=True):
        expected = peaks.pack(*peaks.from_pairs(fp.hashes, fp.times))
        assert (
            packed_peaks(c)
            == expected
            == peaks.pack(*peaks.from_pairs(*fingerprint_store.postings_of(c)))
        )
    # and read by key in one query; a deleted content's, an unknown key's and a null one's
    # are absent
    got = fingerprint_store.peaks_of(keys[c] for c in ids)
    assert sorted(got) == sorted(keys.values())
    for c, fp in zip(ids, fps, strict=True):
        bins, frames = peaks.from_pairs(fp.hashes, fp.times)
        assert [a.tolist() for a in got[keys[c]]] == [bins.tolist(), frames.tolist()]
    WorkContent.objects.filter(pk=ids[0]).delete()
    FingerprintSource.objects.filter(content_id=ids[1]).update(peaks=None)
    assert sorted(fingerprint_store.peaks_of([*keys.values(), 10**6])) == sorted(
        keys[c] for c in ids[2:]
    )
    assert fingerprint_store.peaks_of([]) == {}


def test_the_backfill_computes_the_missing_peaks_to_the_same_bytes_but_a_deleted_contents() -> None:
    # given 7 contents in segments of every shape (one compacted, two not), their peaks written
    ids, fps = new_contents(7), [track(n) for n in range(7)]
    with mock.patch.object(postings, "shift_for", return_value=0):
        stored(ids[:4], fps[:4], per_segment=2)
    fingerprint_store.compact(full=True)
    stored(ids[4:], fps[4:], per_segment=2)
    written = {c: packed_peaks(c) for c in ids}
    # when every one's peaks are null, one content deleted, and the backfill runs
    FingerprintSource.objects.update(peaks=None)
    WorkContent.objects.filter(pk=ids[5]).delete()
    seen: list[tuple[int, int]] = []
    filled = fingerprint_store.backfill_peaks(
        progress=lambda done, total: seen.append((done, total))
    )
    # then the others have their peaks again, the same bytes; the deleted content's are gone
    assert filled == 6
    assert {c: packed_peaks(c) for c in ids if c != ids[5]} == {
        c: p for c, p in written.items() if c != ids[5]
    }
    assert not FingerprintSource.objects.filter(content_id=ids[5]).exists()
    # having read every posting of the three segments, the deleted content's included
    assert seen[-1] == (fingerprint_store.stored_postings(),) * 2 == (sum(map(len, fps)),) * 2
    # and again it has nothing to do
    assert fingerprint_store.backfill_peaks() == 0
    # a source without postings is given none
    [empty] = new_contents(1)
    stored([empty], [track(0, size=0)], per_segment=1)
    FingerprintSource.objects.filter(content_id=ids[0]).update(peaks=None)
    FingerprintSource.objects.filter(content_id=empty).update(peaks=None)
    assert fingerprint_store.backfill_peaks() == 2
    assert packed_peaks(ids[0]) == written[ids[0]]
    assert packed_peaks(empty) == peaks.pack(np.zeros(0, np.int32), np.zeros(0, np.int32))


def test_the_peaks_command_and_migration_fill_the_missing_peaks() -> None:
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps

    ids, fps = new_contents(3), [track(n) for n in range(3)]
    stored(ids, fps, per_segment=2)
    written = {c: packed_peaks(c) for c in ids}
    # the command says how many it filled
    FingerprintSource.objects.filter(content_id__in=ids[:2]).update(peaks=None)
    out = StringIO()
    call_command("fingerprint_peaks", stdout=out)
    assert out.getvalue().startswith("2 sources given their peaks in ")
    assert {c: packed_peaks(c) for c in ids} == written
    # the migration's backfill likewise
    migration = import_module("governance.migrations.0025_fingerprint_peaks")
    FingerprintSource.objects.update(peaks=None)
    migration.backfill(apps, SimpleNamespace(connection=connection))
    assert {c: packed_peaks(c) for c in ids} == written
    # the column is stored out of line, uncompressed
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstorage FROM pg_attribute WHERE attrelid ="
            " 'governance_fingerprintsource'::regclass AND attname = 'peaks'"
        )
        assert cursor.fetchone() == ("e",)
