"""Reading a manifest (CSV or JSONL, up to ``MANIFEST_MAX_ITEMS`` items and
``MANIFEST_MAX_BYTES``) into item specs, line by line: a bad line is a 400 naming the line, and
a manifest over its line limit is refused at its first extra line, before reading on. The API
applies the same limits while the upload arrives (``api/uploads.py``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from governance import jsontext
from governance.exceptions import GovernanceError, InvalidInput
from governance.models import EmbeddingSpace
from governance.services.request_specs import REFERENCE_KEYS, ItemSpec, item_spec

MANIFEST_MAX_ITEMS = 1_000_000
"""Items in one manifest (its lines, with the header of a CSV one)."""
MANIFEST_MAX_BYTES = 1024 * 1024 * 1024
"""The largest manifest accepted (1 GiB): a million items by identifier take some 20 MB; by
vector, in the largest space, a few hundred MB."""


class ManifestTooLarge(GovernanceError):
    code = "too_large"
    status = 413


def manifest_is_jsonl(*, filename: str, head: bytes) -> bool:
    """JSON Lines by its name (``.jsonl``, ``.ndjson``) or its first character (``{``); else
    CSV."""
    first = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    return filename.lower().endswith((".jsonl", ".ndjson")) or first == b"{"


def manifest_max_lines(*, jsonl: bool) -> int:
    """Lines a manifest may have: one per item, and the header of a CSV one. Blank lines count:
    the limit is checked on bytes as they arrive, before any line is parsed."""
    return MANIFEST_MAX_ITEMS + (0 if jsonl else 1)


def manifest_too_many_lines(*, line: int) -> InvalidInput:
    return InvalidInput.field(
        "manifest",
        f"more than {MANIFEST_MAX_ITEMS:,} items: refused at line {line:,}, before reading on",
    )


def manifest_too_many_bytes() -> ManifestTooLarge:
    reason = f"larger than {MANIFEST_MAX_BYTES:,} bytes"
    return ManifestTooLarge(f"manifest: {reason}.", fields={"manifest": [reason]})


def manifest_items(
    source: bytes | BinaryIO, *, filename: str, spaces: Mapping[str, EmbeddingSpace]
) -> list[ItemSpec]:
    """Items of a CSV manifest (a header naming one of isrc, iswc, upc, work_id per row) or a
    JSONL one (one item object per line, read by ``governance.jsontext``: bounded depth, no
    NUL); 400 naming the first bad line.

    ``source`` is read line by line: a manifest with more lines than ``manifest_max_lines`` is
    refused when its first extra line is read, before that line is parsed and without reading
    the rest (the API also counts lines while the upload arrives: ``api/uploads.py``)."""
    stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    head = stream.read(64)
    stream.seek(0)
    jsonl = manifest_is_jsonl(filename=filename, head=head)
    limit = manifest_max_lines(jsonl=jsonl)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    lines = _BoundedLines(text, limit=limit)
    try:
        return _jsonl_items(lines, spaces) if jsonl else _csv_items(lines, spaces)
    except UnicodeDecodeError as exc:
        raise InvalidInput.field(
            "manifest", f"not UTF-8 (line {lines.count:,}: {exc.reason})"
        ) from None
    finally:
        text.detach()  # the caller's stream stays open


class _BoundedLines:
    """The lines of ``text``, counted; the line after ``limit`` raises instead of being
    yielded."""

    def __init__(self, text: io.TextIOWrapper, *, limit: int) -> None:
        self.text, self.limit, self.count = text, limit, 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.text.readline()
        if not line:
            raise StopIteration
        self.count += 1
        if self.count > self.limit:
            raise manifest_too_many_lines(line=self.count)
        return line


def _jsonl_items(lines: _BoundedLines, spaces: Mapping[str, EmbeddingSpace]) -> list[ItemSpec]:
    items: list[ItemSpec] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            raw = jsontext.loads(line)
        except jsontext.JsonRefused as exc:
            where = f"line {lines.count}" + (f", {exc.path}" if exc.path else "")
            raise InvalidInput.field("manifest", f"{where}: {exc.reason}") from None
        except ValueError as exc:
            raise InvalidInput.field("manifest", f"line {lines.count}: not JSON ({exc})") from None
        items.append(_manifest_item(raw, lines.count, spaces))
    return items


def _csv_items(lines: _BoundedLines, spaces: Mapping[str, EmbeddingSpace]) -> list[ItemSpec]:
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in REFERENCE_KEYS]
    if unknown or not header:
        raise InvalidInput.field(
            "manifest",
            f"line 1: the columns are one or more of {', '.join(REFERENCE_KEYS)}; got {header!r}",
        )
    items: list[ItemSpec] = []
    try:
        for row in reader:
            if None in row:  # DictReader's key for the cells past the header's columns
                raise InvalidInput.field(
                    "manifest",
                    f"line {reader.line_num}: more cells than the header's "
                    f"{len(header)} column{'s' if len(header) > 1 else ''}",
                )
            raw = {k: v for k, v in row.items() if k in REFERENCE_KEYS and v}
            if not raw and not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            items.append(_manifest_item(raw, reader.line_num, spaces))
    except csv.Error as exc:
        raise InvalidInput.field(
            "manifest", f"line {reader.line_num}: malformed CSV ({exc})"
        ) from None
    return items


def _manifest_item(raw: Any, line: int, spaces: Mapping[str, EmbeddingSpace]) -> ItemSpec:
    try:
        return item_spec(raw, name="item", spaces=spaces)
    except InvalidInput as exc:
        raise InvalidInput.field("manifest", f"line {line}: {exc.message}") from None
