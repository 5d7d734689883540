"""``manage.py import_content DIR --party PARTY [--jobs N]``: fingerprint a folder of audio files,
each named by the ISRC of the recording it is (``GBXXX2300001.mp3``), as those recordings'
content.

The party must have registered each recording or hold a share of it (as through the API). The
files are fingerprinted by this command, not by the workers: in this process, or with ``--jobs
N`` in N processes while this one stores what they return. The files are stored, completed and
ledgered up to ``IMPORT_BATCH`` (8) in one transaction, their postings one segment of the packed
store (``governance.services.content``): an interrupted run keeps every batch it stored, and
running it again skips every file whose SHA-256 is already completed for its recording
(resumable); a batch that cannot be stored is stored again file by file. A file whose name is
not a registered ISRC, that the party may not hand in, whose content is bad or that cannot be
stored, is reported by name with the reason, and the others go on. Prints a progress bar, then
one line per failed file and a summary; exit status 1 if any file failed.
"""

from __future__ import annotations

from collections import Counter, deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone
from tqdm import tqdm

from governance.content.audio import ContentError
from governance.exceptions import GovernanceError
from governance.identifiers import IdentifierError, normalize_isrc
from governance.models import Party, Work, WorkContent, WorkKind
from governance.services import content as content_services
from governance.services import fingerprint_store
from governance.services.content import IMPORT_BATCH, Composed, Extracted, Fingerprinted

Outcome = Extracted | Composed | tuple[str, str]
"""What fingerprinting a file gave: its vectors (its composition vectors alone, for a content
completed already: ``_compose``), or the reason and detail of bad content."""


def _extract(data: bytes) -> Outcome:
    """Fingerprint one file's bytes (in this process or a pool's); bad content as a tuple,
    since an exception with arguments of its own does not cross a process boundary."""
    try:
        return content_services.extract(data)
    except ContentError as bad:
        return bad.reason, bad.detail


def _compose(data: bytes) -> Outcome:
    """The composition vectors alone of a file completed already, as ``_extract``."""
    try:
        return content_services.compose(data)
    except ContentError as bad:
        return bad.reason, bad.detail


@dataclass
class _Pending:
    path: Path
    work: Work
    sha256: str
    data: bytes
    size: int
    outcome: Future[Outcome] | Outcome | None = None
    completed: WorkContent | None = None
    """The same bytes' content, completed already, whose composition vectors are missing."""


class Command(BaseCommand):
    help = "Fingerprint a folder of audio files named by ISRC as those recordings' content."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", type=Path)
        parser.add_argument("--party", required=True, help="The label, publisher or artist "
                            "handing the audio in: its id or its exact name.")  # fmt: skip
        parser.add_argument("--jobs", type=int, default=1, help="Processes fingerprinting "
                            "(default 1: this one).")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["dir"]
        if not folder.is_dir():
            raise CommandError(f"{folder}: not a folder")
        if options["jobs"] < 1:
            raise CommandError("--jobs: at least 1")
        party = _party(options["party"])
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        self.party, self.counts, self.failures = party, Counter[str](), list[str]()
        pool: Executor
        if options["jobs"] > 1:
            # The pool's processes are forked (all at its first job) while this one has no
            # database connection open, so that none inherits it; this one opens another.
            connection.close()
            pool = ProcessPoolExecutor(options["jobs"])
            pool.submit(int).result()
            ahead = 2 * options["jobs"]
        else:
            # One thread fingerprints (pure code, no database) the files after those this
            # thread is storing: while PostgreSQL writes a batch (on another core), this
            # process waits for it with the GIL released. Three files ahead keep it busy while
            # a batch is stored.
            pool, ahead = ThreadPoolExecutor(1), 3
        self.bar = tqdm(total=len(files), unit="files", desc=f"fingerprinting {folder.name}",
                        disable=None)  # fmt: skip
        self.batch: list[_Pending] = []
        try:
            waiting: deque[_Pending] = deque()
            for path in files:
                try:
                    pending = self.prepare(path)
                except _Refused as refused:
                    self.done("failed", path, str(refused))
                    continue
                if pending is None:
                    self.done("skipped", path)
                    continue
                work = _compose if pending.completed else _extract
                pending.outcome = pool.submit(work, pending.data)
                waiting.append(pending)
                # Store in order, keeping every process busy with at most two files each (the
                # thread with one: a file is read only when it can be fingerprinted).
                while len(waiting) > ahead:
                    self.store(waiting.popleft())
            while waiting:
                self.store(waiting.popleft())
            self.flush()
        finally:
            pool.shutdown(cancel_futures=True)
            self.bar.close()
        for line in self.failures:
            self.stderr.write(line)
        c = self.counts
        again = f", {c['composed']} given composition vectors again" if c["composed"] else ""
        self.stdout.write(f"{folder}: {len(files)} files, {c['imported']} imported, "
                          f"{c['skipped']} already there, {c['failed']} failed{again}")  # fmt: skip
        if c["failed"]:
            raise SystemExit(1)

    def done(self, what: str, path: Path, reason: str = "") -> None:
        self.counts[what] += 1
        if reason:
            self.failures.append(f"{path.name}: {reason}")
        self.bar.update(1)

    def prepare(self, path: Path) -> _Pending | None:
        """The file's recording, bytes and SHA-256, to be fingerprinted; None if the same bytes
        were completed for it already (unless the composition vectors they give are missing,
        as after that space's version changed: then those alone are computed again). Raises
        ``_Refused`` with the reason."""
        try:
            isrc = normalize_isrc(path.stem)
        except IdentifierError as exc:
            raise _Refused(f"the name is not an ISRC ({exc})") from None
        work = Work.objects.filter(isrc=isrc, kind=WorkKind.RECORDING).first()
        if work is None:
            raise _Refused(f"no recording with ISRC {isrc} is registered")
        limit = content_services.max_bytes()
        try:
            if path.stat().st_size > limit:
                raise _Refused(f"too_large: larger than {limit:,} bytes")
            data = path.read_bytes()
        except OSError as exc:
            raise _Refused(f"cannot be read: {exc.strerror}") from None
        try:
            sha256, earlier = content_services.content_import_prepare(
                party=self.party, work=work, data=data
            )
        except GovernanceError as exc:
            raise _Refused(exc.message) from None
        if earlier is not None:
            if not content_services.composition_missing(earlier):
                return None
            return _Pending(path, work, sha256, data, len(data), completed=earlier)
        return _Pending(path, work, sha256, data, len(data))

    def store(self, pending: _Pending) -> None:
        """Wait for a file's fingerprints: a new file's join the batch (stored when it holds
        ``IMPORT_BATCH``), a completed file's composition vectors are stored at once."""
        try:
            outcome = self.outcome(pending)
        except _Refused as refused:
            self.done("failed", pending.path, str(refused))
            return
        if isinstance(outcome, Extracted):
            self.batch.append(pending)
            if len(self.batch) >= IMPORT_BATCH:
                self.flush()
            return
        assert pending.completed is not None
        created = content_services.content_import_compose(
            content=pending.completed, composed=outcome, now=timezone.now()
        )
        self.done("composed" if created else "skipped", pending.path)

    def outcome(self, pending: _Pending) -> Extracted | Composed:
        """A file's fingerprints (its bytes let go). Raises ``_Refused`` with the reason its
        content was bad, or fingerprinting it failed otherwise (a process of the pool died on
        it, an unexpected error in the thread)."""
        outcome, pending.data = pending.outcome, b""
        if isinstance(outcome, Future):
            try:
                outcome = outcome.result()
            except Exception as exc:  # a pool's process died, or a bug: this file is reported
                raise _Refused(f"{type(exc).__name__}: {exc}") from None
        if outcome is None or isinstance(outcome, tuple):
            raise _Refused(": ".join(outcome or ("not fingerprinted",)))
        pending.outcome = outcome
        return outcome

    def flush(self) -> None:
        """Store the batch in one transaction; if that fails, each file in its own, so that
        only a file that cannot be stored is reported (with the error)."""
        batch, self.batch = self.batch, []
        if not batch:
            return
        created: list[bool | None]
        try:
            created = [*self.stored(batch)]
        except Exception:  # rolled back: nothing of the batch is stored
            created = []
            for pending in batch:
                try:
                    created += self.stored([pending])
                except Exception as exc:
                    self.done("failed", pending.path, f"not stored ({type(exc).__name__}: {exc})")
                    created.append(None)
        for pending, new in zip(batch, created, strict=True):
            if new is not None:
                self.done("imported" if new else "skipped", pending.path)
        if any(created) and fingerprint_store.compaction_due():
            # Each batch's postings are a segment of their own: merged as they pile up
            # (size-tiered), here rather than by a worker, so that a long import leaves few
            # segments for the queries meanwhile.
            fingerprint_store.compact()

    def stored(self, batch: list[_Pending]) -> list[bool]:
        """Store fingerprinted files in one transaction: whether each was new."""
        items = []
        for p in batch:
            assert isinstance(p.outcome, Extracted)
            items.append(Fingerprinted(p.work, p.sha256, p.size, p.outcome))
        stored = content_services.content_import_store_many(
            party=self.party, items=items, now=timezone.now(), compaction_job=False
        )
        return [new for _, new in stored]


class _Refused(Exception):
    """A file that is not imported, and why."""


def _party(value: str) -> Party:
    kinds = content_services.CONTENT_KINDS
    try:
        found = list(Party.objects.filter(pk=value, kind__in=kinds))
    except (ValidationError, ValueError):
        found = list(Party.objects.filter(name=value, kind__in=kinds))
    if len(found) != 1:
        raise CommandError(f"--party {value!r}: no label, publisher or artist with that id or name")
    return found[0]
