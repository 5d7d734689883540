"""``manage.py import_content DIR --party PARTY``: fingerprint a folder of audio files, each named
by the ISRC of the recording it is (``GBXXX2300001.mp3``), as those recordings' content.

The party must have registered each recording or hold a share of it (as through the API). The
files are fingerprinted in this process, not by the workers, and each is stored, completed and
ledgered in its own transaction (``governance.services.content.content_import``): an
interrupted run keeps what it did, and running it again skips every file whose SHA-256 is
already completed for its recording (resumable). A file whose name is not a registered ISRC,
that the party may not hand in, or whose content is bad, is reported by name with the reason,
and the others go on. Prints a progress bar, then one line per failed file and a summary; exit
status 1 if any file failed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from governance.content.audio import ContentError
from governance.exceptions import GovernanceError
from governance.identifiers import IdentifierError, normalize_isrc
from governance.models import Party, Work, WorkKind
from governance.services import content as content_services


class Command(BaseCommand):
    help = "Fingerprint a folder of audio files named by ISRC as those recordings' content."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", type=Path)
        parser.add_argument("--party", required=True, help="The label, publisher or artist "
                            "handing the audio in: its id or its exact name.")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["dir"]
        if not folder.is_dir():
            raise CommandError(f"{folder}: not a folder")
        party = _party(options["party"])
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        counts: Counter[str] = Counter()
        failures: list[str] = []
        for path in tqdm(files, unit="files", desc=f"fingerprinting {folder.name}", disable=None):
            try:
                created = self.import_one(path, party=party)
            except _Refused as refused:
                counts["failed"] += 1
                failures.append(f"{path.name}: {refused}")
                continue
            counts["imported" if created else "skipped"] += 1
        for line in failures:
            self.stderr.write(line)
        self.stdout.write(
            f"{folder}: {len(files)} files, {counts['imported']} imported, "
            f"{counts['skipped']} already there, {counts['failed']} failed"
        )
        if counts["failed"]:
            raise SystemExit(1)

    def import_one(self, path: Path, *, party: Party) -> bool:
        """Fingerprint one file as its recording's content; whether it was new (False: the
        same bytes were completed for it already). Raises ``_Refused`` with the reason."""
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
            _, created = content_services.content_import(
                party=party, work=work, data=data, now=timezone.now()
            )
        except ContentError as exc:
            raise _Refused(f"{exc.reason}: {exc.detail}") from None
        except GovernanceError as exc:
            raise _Refused(exc.message) from None
        return bool(created)


class _Refused(Exception):
    """A file that was not imported, and why."""


def _party(value: str) -> Party:
    kinds = content_services.CONTENT_KINDS
    try:
        found = list(Party.objects.filter(pk=value, kind__in=kinds))
    except (ValidationError, ValueError):
        found = list(Party.objects.filter(name=value, kind__in=kinds))
    if len(found) != 1:
        raise CommandError(f"--party {value!r}: no label, publisher or artist with that id or name")
    return found[0]
