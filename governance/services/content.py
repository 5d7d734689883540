"""Content handed in for works (audio): kept as its SHA-256 and its vectors, never as content.

1. ``content_submit`` (the API): the work's registrant or a holder of a share of it hands in
   audio. An identical one (same SHA-256, same model version) already completed, or still
   waiting, for that work is answered as it is; otherwise the content row, its bytes (a
   ``ContentUpload`` row) and the job (through the outbox) are stored in one transaction.
2. ``content_run`` (the task ``governance.fingerprint_content``): decodes and fingerprints the
   bytes and computes their ``composition`` vectors (``governance.services.compositions``;
   none for audio under 30 s, which the content's ``detail`` says) outside any transaction,
   then in ONE transaction writes the postings (one segment of the packed store,
   ``governance.services.fingerprint_store``) and the work's composition
   vectors, flips the content to ``completed``, deletes its bytes and ledgers a
   ``work_content`` entry (ids, SHA-256, and each space's model, version and vector count:
   never content). Bad content
   (``ContentError``) flips it to ``failed`` with the reason and deletes its bytes, with no
   posting and no entry. Safe to run twice: a completed or failed content is left alone.
3. ``content_import`` (``manage.py import_content``): the same in-process, for one file.

The fingerprint space itself (decoding, landmarks) is the pure package ``governance.content``,
imported inside the functions that use it: it loads PyAV and SciPy (about a second), which the
web and worker processes pay only once content arrives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction

from governance import ledgering
from governance.access import Actor
from governance.exceptions import GovernanceError, InvalidInput, PermissionDenied
from governance.models import (
    ContentKind,
    ContentStatus,
    ContentUpload,
    Party,
    PartyKind,
    Work,
    WorkContent,
    WorkKind,
)
from governance.services import compositions, fingerprint_store, texts
from governance.services.outbox import job_enqueue

RUN_TASK = "governance.fingerprint_content"
COMPACT_TASK = "governance.compact_fingerprints"
ENTRY = "work_content"
NO_COMPOSITION = "No composition vectors"
"""How a completed content's ``detail`` starts when its audio gives none (under 30 s, silent,
or the space not registered)."""
CONTENT_KINDS = (PartyKind.LABEL, PartyKind.PUBLISHER, PartyKind.ARTIST)
"""Parties that can hand in a work's content: those that register works or hold shares."""


class ContentTooLarge(GovernanceError):
    """An upload past the fingerprint space's size limit (413, naming the field)."""

    code = "too_large"
    status = 413


def content_too_large(*, field: str, limit: int) -> ContentTooLarge:
    reason = f"larger than {limit:,} bytes"
    return ContentTooLarge(f"{field}: {reason}.", fields={field: [reason]})


def max_bytes() -> int:
    """The largest upload the fingerprint space decodes."""
    from governance.content import audio

    return audio.MAX_BYTES


def may_add_content(party: Party, work: Work) -> bool:
    """Whether ``party`` may hand in ``work``'s content: its registrant or a holder of one of
    its shares (an artist's performer share makes the recording's audio its to register)."""
    if party.kind not in CONTENT_KINDS:
        return False
    return work.registrant_id == party.pk or work.shares.filter(holder=party).exists()


def content_submit_check(*, actor: Actor, work: Work) -> None:
    """Refuse, before its bytes are read, an upload the actor may not make: an auditor, a
    viewer, a party that neither registered the work nor holds a share of it (403)."""
    actor.require_writer(action="Handing in a work's content")
    if not may_add_content(actor.party, work):
        raise PermissionDenied("Only the work's registrant or a holder of its rights hands in "
                               "its content.")  # fmt: skip


def _audio_check(work: Work) -> None:
    """Audio is handed in for a recording (400: a fingerprint identifies a recording)."""
    if work.kind != WorkKind.RECORDING:
        raise InvalidInput.field("file", "audio is handed in for a recording, and this work "
                                 "is a composition")  # fmt: skip


def _lock_identical(*, work_id: Any, sha256: str) -> None:
    """Until the transaction ends: two identical contents of one work (an upload, an import)
    are handed in, or completed, one after the other, and the second finds the first."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       [f"content:{work_id}:{sha256}"])  # fmt: skip


def _existing(*, work: Work, sha256: str, model_version: str) -> WorkContent | None:
    """An identical content of the work that is completed or still waiting (the newest)."""
    live = [ContentStatus.COMPLETED, ContentStatus.RECEIVED, ContentStatus.PROCESSING]
    identical = WorkContent.objects.filter(
        work=work, sha256=sha256, model_version=model_version, status__in=live
    )
    return identical.order_by("-created_at").first()


@transaction.atomic
def content_submit(
    *,
    actor: Actor,
    work: Work,
    data: bytes | None = None,
    lyrics: str | None = None,
    now: dt.datetime,
) -> tuple[WorkContent, bool]:
    """Hand in ``work``'s audio (``data``) or its ``lyrics``; the content and whether it is new
    (False: an identical one completed or waiting, answered as it is, with no new job)."""
    from governance.content import fingerprint as space

    content_submit_check(actor=actor, work=work)
    if lyrics is not None:
        return _lyrics_submit(actor=actor, work=work, lyrics=lyrics, now=now)
    if data is None:
        raise InvalidInput.field("file", "give the audio (file) or the lyrics (lyrics)")
    _audio_check(work)
    limit = max_bytes()
    if len(data) > limit:
        raise content_too_large(field="file", limit=limit)
    return _stored(actor=actor, work=work, kind=ContentKind.AUDIO, data=data,
                   model=space.MODEL, model_version=space.VERSION, now=now)  # fmt: skip


def _lyrics_submit(
    *, actor: Actor, work: Work, lyrics: str, now: dt.datetime
) -> tuple[WorkContent, bool]:
    """Hand in a work's lyrics (a recording's or a composition's): checked here (a 400 naming
    ``lyrics``), embedded by the job (``texts.lyrics_vectors``), never kept once it has run."""
    from governance.content import text

    texts.lyrics_check(lyrics, field="lyrics")
    return _stored(actor=actor, work=work, kind=ContentKind.LYRICS,
                   data=lyrics.encode("utf-8"), model=text.MODEL, model_version=text.VERSION,
                   now=now)  # fmt: skip


def _stored(
    *, actor: Actor, work: Work, kind: str, data: bytes, model: str, model_version: str,
    now: dt.datetime,
) -> tuple[WorkContent, bool]:  # fmt: skip
    """The content of these bytes for the work, with its job: the one handed in before (same
    SHA-256 and model version; two identical uploads at once wait on one lock), or a new one
    whose bytes wait for the job in ``ContentUpload``."""
    sha256 = hashlib.sha256(data).hexdigest()
    _lock_identical(work_id=work.pk, sha256=sha256)
    existing = _existing(work=work, sha256=sha256, model_version=model_version)
    if existing is not None:
        return existing, False
    content = WorkContent.objects.create(
        work=work, kind=kind, sha256=sha256, size=len(data), submitted_by=actor.party,
        model=model, model_version=model_version, created_at=now,
    )  # fmt: skip
    ContentUpload.objects.create(content=content, data=data)
    job_enqueue(task=RUN_TASK, args=[str(content.pk)], now=now)
    return content, True


def _lyrics_run(content: WorkContent, data: bytes, *, now: dt.datetime) -> WorkContent:
    """A lyrics content's job, in the caller's transaction (the content locked): its stanza
    vectors, status, text deleted, ``work_content`` entry; lyrics that cannot be embedded fail
    it with the reason (``TextError``), keeping nothing."""
    from governance.content import text

    try:
        count = texts.lyrics_vectors(content=content, lyrics=data.decode("utf-8"))
    except (text.TextError, UnicodeDecodeError) as exc:
        reason = exc.reason if isinstance(exc, text.TextError) else "corrupt"
        return _fail(content, reason=reason, detail=str(exc), now=now)
    content.status, content.completed_at, content.vector_count = (
        ContentStatus.COMPLETED, now, count,
    )  # fmt: skip
    content.save(update_fields=["status", "completed_at", "vector_count"])
    ContentUpload.objects.filter(content=content).delete()
    spaces = [ledgering.space_count(texts.SPACE, content.model, content.model_version, count)]
    _ledger_spaces(content, space=texts.SPACE, spaces=spaces, now=now)
    return content


def _ledger_spaces(
    content: WorkContent, *, space: str, spaces: list[dict[str, Any]], now: dt.datetime
) -> None:
    """Keep on ``content`` what each space now holds of it (shown by the API) and ledger the
    ``work_content`` entry that says the same."""
    content.spaces = spaces
    content.save(update_fields=["spaces"])
    ledgering.append(ENTRY, ledgering.content_payload(content, space=space, spaces=spaces), now=now)


@dataclass(frozen=True)
class Extracted:
    """What the fingerprint space made of some content."""

    hashes: np.ndarray[Any, Any]
    times: np.ndarray[Any, Any]
    seconds: float
    codec: str
    composition: np.ndarray[Any, Any] | None = None
    """The ``composition`` space's vectors (``embed_reference``), or None: ``note`` says why."""
    note: str = ""


def extract(data: bytes) -> Extracted:
    """Decode and fingerprint ``data``; raises ``ContentError`` (its ``reason`` and ``detail``)
    on bad content, nothing else."""
    from governance.content import audio
    from governance.content import fingerprint as space

    decoded = audio.decode(data)
    fp = space.extract(decoded, query=False)  # a reference: its pairs alone
    vectors, note = compositions.reference_vectors(decoded.samples, audio.SAMPLE_RATE)
    return Extracted(fp.hashes, fp.times, float(decoded.seconds), decoded.codec, vectors, note)


@dataclass(frozen=True)
class Composed:
    """The ``composition`` space's vectors of some content alone (``embed_reference``), or None
    and ``note`` saying why there are none."""

    composition: np.ndarray[Any, Any] | None
    note: str = ""


def compose(data: bytes) -> Composed:
    """Decode ``data`` and compute its composition vectors only; raises ``ContentError`` on
    bad content, nothing else."""
    from governance.content import audio

    decoded = audio.decode(data)
    return Composed(*compositions.reference_vectors(decoded.samples, audio.SAMPLE_RATE))


def content_run(*, content_id: str | uuid.UUID, now: dt.datetime) -> WorkContent:
    """Run a content's job (module docstring, step 2) as of ``now`` (its start: it ends, and
    is ledgered, at ``now`` plus the time it took); safe to run twice."""
    from governance.content import audio

    started = time.monotonic()
    with transaction.atomic():
        content = WorkContent.objects.select_for_update().get(pk=content_id)
        if content.status in (ContentStatus.COMPLETED, ContentStatus.FAILED):
            return content
        upload = ContentUpload.objects.filter(content=content).first()
        if upload is None:  # cannot happen: the bytes go only with a final status
            return _fail(content, reason="missing", detail="The upload's bytes are gone.", now=now)
        if content.kind == ContentKind.LYRICS:  # a few stanzas: embedded in the transaction
            return _lyrics_run(content, bytes(upload.data), now=now)
        content.status = ContentStatus.PROCESSING
        content.save(update_fields=["status"])
        data = bytes(upload.data)
    try:
        extracted = extract(data)
    except audio.ContentError as bad:
        now += dt.timedelta(seconds=time.monotonic() - started)
        with transaction.atomic():
            content = WorkContent.objects.select_for_update().get(pk=content_id)
            if content.status in (ContentStatus.COMPLETED, ContentStatus.FAILED):
                return content
            return _fail(content, reason=bad.reason, detail=bad.detail, now=now)
    now += dt.timedelta(seconds=time.monotonic() - started)
    with transaction.atomic():
        content = WorkContent.objects.select_for_update().get(pk=content_id)
        if content.status in (ContentStatus.COMPLETED, ContentStatus.FAILED):
            return content
        return _complete(content, extracted, now=now)


def content_fail(
    *, content_id: str | uuid.UUID, reason: str, detail: str, now: dt.datetime
) -> None:
    """Fail a content whose job could not run (retries exhausted, an unexpected error)."""
    with transaction.atomic():
        content = WorkContent.objects.select_for_update().filter(pk=content_id).first()
        if content is not None and content.status not in (
            ContentStatus.COMPLETED,
            ContentStatus.FAILED,
        ):
            _fail(content, reason=reason, detail=detail, now=now)


def _fail(content: WorkContent, *, reason: str, detail: str, now: dt.datetime) -> WorkContent:
    content.status, content.error, content.detail = ContentStatus.FAILED, reason, detail[:2000]
    content.completed_at = now
    content.save(update_fields=["status", "error", "detail", "completed_at"])
    ContentUpload.objects.filter(content=content).delete()
    return content


def _complete(
    content: WorkContent, extracted: Extracted, *, now: dt.datetime, compaction_job: bool = True
) -> WorkContent:
    """In the caller's transaction: postings, status, bytes deleted, ledger entry; a compaction
    job when one is due, unless ``compaction_job`` is False (the caller compacts)."""
    _lock_identical(work_id=content.work_id, sha256=content.sha256)
    earlier = WorkContent.objects.filter(
        work_id=content.work_id, sha256=content.sha256, model_version=content.model_version,
        status=ContentStatus.COMPLETED,
    ).first()  # fmt: skip
    if earlier is not None:  # not through the API (it answers with the earlier one): a race
        detail = f"Identical to content {earlier.pk}, completed first."
        return _fail(content, reason="duplicate", detail=detail, now=now)
    postings_store(content.pk, extracted.hashes, extracted.times)
    if compaction_job and fingerprint_store.compaction_due():  # by a worker once committed
        job_enqueue(task=COMPACT_TASK, args=[], now=now)
    return _finish(content, extracted, now=now)


def _finish(content: WorkContent, extracted: Extracted, *, now: dt.datetime) -> WorkContent:
    """In the caller's transaction, the content's postings written: its work's composition
    vectors, its status, its bytes deleted and its ledger entry."""
    from governance.content import fingerprint as space

    spaces = [ledgering.space_count(space.SPACE, space.MODEL, space.VERSION, len(extracted.hashes))]
    note = extracted.note
    if extracted.composition is not None:
        stored = compositions.reference_store(
            work_id=content.work_id, vectors=extracted.composition
        )
        if stored:
            spaces.append(ledgering.space_count(compositions.SPACE, *compositions.model_version(),
                                                stored))  # fmt: skip
        else:
            note = f"{NO_COMPOSITION}: the composition space is not registered."
    content.status, content.completed_at = ContentStatus.COMPLETED, now
    content.seconds, content.codec = extracted.seconds, extracted.codec[:32]
    content.vector_count, content.detail = len(extracted.hashes), note
    content.save(
        update_fields=["status", "completed_at", "seconds", "codec", "vector_count", "detail"]
    )
    ContentUpload.objects.filter(content=content).delete()
    _ledger_spaces(content, space=space.SPACE, spaces=spaces, now=now)
    return content


def postings_store(
    content_id: uuid.UUID, hashes: np.ndarray[Any, Any], times: np.ndarray[Any, Any]
) -> int:
    """In the caller's transaction: a content's postings, as one new segment of the packed
    store (``fingerprint_store.segment_write``); how many."""
    return fingerprint_store.segment_write([(content_id, hashes, times)])


def content_import_prepare(
    *, party: Party, work: Work, data: bytes
) -> tuple[str, WorkContent | None]:
    """Before ``data`` is fingerprinted for ``manage.py import_content``: refuse what may not be
    imported (``PermissionDenied``, ``InvalidInput``, ``ContentTooLarge``); the bytes' SHA-256,
    and the completed content with that SHA-256 for the space's model version, if any."""
    from governance.content import fingerprint as space

    if not may_add_content(party, work):
        raise PermissionDenied(f"{party.name} neither registered {work.title!r} nor holds a "
                               "share of it.")  # fmt: skip
    if work.kind != WorkKind.RECORDING:
        raise InvalidInput(f"{work.title!r} is a composition: audio is handed in for a recording.")
    limit = max_bytes()
    if len(data) > limit:
        raise content_too_large(field="file", limit=limit)
    sha256 = hashlib.sha256(data).hexdigest()
    return sha256, _completed(work=work, sha256=sha256, model_version=space.VERSION)


def _completed(*, work: Work, sha256: str, model_version: str) -> WorkContent | None:
    return WorkContent.objects.filter(
        work=work, sha256=sha256, model_version=model_version, status=ContentStatus.COMPLETED
    ).first()


def content_import_store(
    *, party: Party, work: Work, sha256: str, size: int, extracted: Extracted, now: dt.datetime,
    compaction_job: bool = True,
) -> tuple[WorkContent, bool]:  # fmt: skip
    """Store fingerprinted content, completed, as ``work``'s (checked by
    :func:`content_import_prepare`); the content and whether it is new (False: an identical one
    was completed meanwhile, and nothing was done). ``compaction_job`` False: no compaction job
    is enqueued when one falls due (``manage.py import_content`` compacts in its own process;
    a job would also make it load Celery and the broker's client, 0.8 s of CPU, to send it)."""
    [stored] = content_import_store_many(
        party=party, items=[Fingerprinted(work, sha256, size, extracted)], now=now,
        compaction_job=compaction_job,
    )  # fmt: skip
    return stored


@dataclass(frozen=True)
class Fingerprinted:
    """A file fingerprinted for ``manage.py import_content``, checked by
    :func:`content_import_prepare`, to be stored as ``work``'s content."""

    work: Work
    sha256: str
    size: int
    extracted: Extracted


def content_import_store_many(
    *, party: Party, items: list[Fingerprinted], now: dt.datetime, compaction_job: bool = True
) -> list[tuple[WorkContent, bool]]:
    """:func:`content_import_store` for several files in ONE transaction: the new contents'
    postings are one segment of the packed store (a size-tiered store then merges a file's
    postings fewer times: ``manage.py import_content`` hands in :data:`IMPORT_BATCH` files at a
    time), each content completed and ledgered in the items' order. Each item's content and
    whether it is new (False: an identical one was completed meanwhile, or earlier in
    ``items``, and that one is given)."""
    from governance.content import fingerprint as space

    with transaction.atomic():
        # In one order, so that two imports of the same files cannot wait for each other.
        for work_id, sha256 in sorted({(str(i.work.pk), i.sha256) for i in items}):
            _lock_identical(work_id=work_id, sha256=sha256)
        stored: list[tuple[WorkContent, bool]] = []
        new: dict[tuple[str, str], WorkContent] = {}
        for item in items:
            key = (str(item.work.pk), item.sha256)
            earlier = new.get(key) or _completed(
                work=item.work, sha256=item.sha256, model_version=space.VERSION
            )
            if earlier is not None:
                stored.append((earlier, False))
                continue
            new[key] = WorkContent.objects.create(
                work=item.work, kind=ContentKind.AUDIO, sha256=item.sha256, size=item.size,
                submitted_by=party, model=space.MODEL, model_version=space.VERSION,
                status=ContentStatus.PROCESSING, created_at=now,
            )  # fmt: skip
            stored.append((new[key], True))
        fresh = [(c, i.extracted) for (c, created), i in zip(stored, items, strict=True) if created]
        fingerprint_store.segment_write([(c.pk, e.hashes, e.times) for c, e in fresh])
        if fresh and compaction_job and fingerprint_store.compaction_due():
            job_enqueue(task=COMPACT_TASK, args=[], now=now)
        for content, extracted in fresh:
            _finish(content, extracted, now=now)
        return stored


IMPORT_BATCH = 8
"""The files ``manage.py import_content`` stores in one transaction, as one segment: as many as
``fingerprint_store.FANOUT``, so that a batch of 3-minute tracks (about 52,000 postings each)
starts in the tier its merge would have made."""


def composition_missing(content: WorkContent) -> bool:
    """Whether a completed audio content's work lacks the composition vectors its audio gives:
    the work has none in the space, and the content's ``detail`` does not say its audio gives
    none. So it is after the space moves to another version (its migration deletes the old
    vectors, which no column tells from the new), until ``manage.py import_content`` computes
    them again from the same file (:func:`content_import_compose`)."""
    if content.kind != ContentKind.AUDIO or content.detail.startswith(NO_COMPOSITION):
        return False
    return not compositions.has_vectors(work_id=content.work_id)


def content_import_compose(*, content: WorkContent, composed: Composed, now: dt.datetime) -> bool:
    """Store a completed content's composition vectors, computed again from the same bytes
    (:func:`composition_missing`), and ledger a ``work_content`` entry for the content listing
    its spaces as they now are (its postings, unchanged, and the new vectors); whether any were
    stored (False: none to store, which the content's ``detail`` then says, or another run
    stored them meanwhile)."""
    from governance.content import fingerprint as space

    with transaction.atomic():
        _lock_identical(work_id=content.work_id, sha256=content.sha256)
        content = WorkContent.objects.select_for_update().get(pk=content.pk)
        if not composition_missing(content):
            return False
        stored = 0
        if composed.composition is not None:
            stored = compositions.reference_store(
                work_id=content.work_id, vectors=composed.composition
            )
        if not stored:
            unregistered = f"{NO_COMPOSITION}: the composition space is not registered."
            content.detail = composed.note or unregistered
            content.save(update_fields=["detail"])
            return False
        spaces = [
            ledgering.space_count(space.SPACE, content.model, content.model_version,
                                  content.vector_count),
            ledgering.space_count(compositions.SPACE, *compositions.model_version(), stored),
        ]  # fmt: skip
        _ledger_spaces(content, space=space.SPACE, spaces=spaces, now=now)
        return True


def content_import(
    *, party: Party, work: Work, data: bytes, now: dt.datetime
) -> tuple[WorkContent, bool]:
    """Fingerprint ``data`` in this process and store it, completed, as ``work``'s content
    (module docstring, step 3); the content and whether it is new (False: an identical one
    was completed already, and nothing was done). Bad content raises the space's
    ``ContentError`` and stores nothing."""
    sha256, earlier = content_import_prepare(party=party, work=work, data=data)
    if earlier is not None:
        return earlier, False
    extracted = extract(data)
    return content_import_store(party=party, work=work, sha256=sha256, size=len(data),
                                extracted=extracted, now=now)  # fmt: skip
