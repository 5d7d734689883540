"""``manage.py import_catalog FILE --party PARTY``: import a CSV or DDEX ERN catalog file.

Prints a progress bar, then what was created, updated and left unchanged, then every rejected
row (``line N``) or element (its XPath) with the reason. Exit status 1 if anything was rejected;
2, naming the problem (and its line or XPath), if the file cannot be read at all (not UTF-8,
not well-formed XML, a document type declaration, an oversized field, no header, empty or
binary), in which case nothing was imported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from governance.importing.records import UnreadableFile
from governance.importing.run import import_catalog
from governance.models import Party, PartyKind
from governance.services.imports import detect_format

UNREADABLE = 2
"""Exit status when the file cannot be read at all (1: some rows or elements were rejected)."""


class Command(BaseCommand):
    help = (
        "Import a catalog file (CSV per docs/catalog-csv.md, or DDEX ERN 3.8.x / 4.x XML), "
        "or musical works (DDEX MWN XML, or the works CSV of docs/catalog-works.md)."
    )
    # The system checks import every URL's views (and with them the audio stack: NumPy, SciPy),
    # a second or two of CPU an import does not need; ``manage.py check`` runs them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--party", required=True, help="The importing label or publisher: "
                            "its id or its exact name.")  # fmt: skip
        parser.add_argument("--format", choices=["csv", "ddex", "mwn", "works"],
                            help="Default: from the file (docs/catalog-works.md for mwn and "
                            "works).")  # fmt: skip
        parser.add_argument("--all-or-nothing", action="store_true",
                            help="Import nothing if any row or element is rejected.")  # fmt: skip
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        party = _party(options["party"])
        fmt = options["format"] or detect_format(filename=path.name, data=data)
        # The file is read first (bytes), then its works are applied (a bar of works).
        bar = tqdm(total=len(data), unit="B", unit_scale=True, desc=f"reading {path.name}",
                   disable=None)  # fmt: skip

        applying = False

        def reading(done: int, size: int) -> None:
            bar.update(done - bar.n)

        def progress(done: int, total: int) -> None:
            nonlocal applying
            if not applying:
                applying = True
                bar.reset(total=total)
                bar.unit, bar.unit_scale = "works", False
                bar.set_description(f"importing {path.name}")
            bar.update(done - bar.n)

        try:
            report = import_catalog(
                party=party, data=data, fmt=fmt, now=timezone.now(),
                all_or_nothing=options["all_or_nothing"], progress=progress, reading=reading,
            )  # fmt: skip
        except UnreadableFile as unreadable:
            raise CommandError(
                f"{path}: the file cannot be read: {unreadable}; nothing was imported",
                returncode=UNREADABLE,
            ) from None
        finally:
            bar.close()
        problems = [p.as_dict() for p in report.problems]
        if options["json"]:
            cpu = {k: round(v, 2) for k, v in report.cpu.items()}
            self.stdout.write(json.dumps({"counts": report.counts, "problems": problems,
                                          "cpu_seconds": cpu}))  # fmt: skip
        else:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
            self.stdout.write(f"{path}: {counts}")
            for p in problems:
                self.stderr.write(f"{path}: {p['where']}: {p['reason']}")
            if options["all_or_nothing"] and problems:
                self.stderr.write(f"{path}: {len(problems)} rejected; nothing was imported")
        if problems:
            raise SystemExit(1)


def _party(value: str) -> Party:
    kinds = (PartyKind.LABEL, PartyKind.PUBLISHER)
    try:
        found = list(Party.objects.filter(pk=value, kind__in=kinds, named_by=None))
    except (ValidationError, ValueError):
        found = list(Party.objects.filter(name=value, kind__in=kinds, named_by=None))
    if len(found) != 1:
        raise CommandError(f"--party {value!r}: no label or publisher with that id or name")
    return found[0]
