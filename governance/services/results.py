"""A request's results as its licensee reads them: one row per decided item, the same for the
API's status page and ``results/`` (JSON Lines) and for the pages' downloads (JSON Lines and
CSV). Reads only.

A row, as a JSON Lines line::

    {"item": 0, "reference": "isrc:USRC17607839", "content_sha256": "<hex>",
     "decision": "<id>", "outcome": "conditional", "code": "consent.conditional",
     "reason": "...", "obligations": {"attribution": ["Ada Vale"]}, "works": ["<id>"]}

A settled review reads as settled (its ``outcome``, ``code`` and ``reason``), a released
dispute as released (``dispute.released``). The CSV has the
same columns (:data:`CSV_COLUMNS`): ``obligations`` as its JSON text, ``works`` separated by
spaces, and a text cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``,
``@``, a tab or a carriage return first) prefixed with ``'`` (OWASP, CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from governance.models import Decision
from governance.services import settlements

CSV_COLUMNS = (
    "item",
    "reference",
    "content_sha256",
    "decision",
    "outcome",
    "code",
    "reason",
    "obligations",
    "works",
)
_FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")


def item_row(d: Decision) -> dict[str, Any]:
    """One decided item, as the status page and the results carry it."""
    code, reason = settlements.read_as(d)
    return {
        "item": d.item.position,
        "reference": d.item.reference or None,
        "content_sha256": d.item.content_sha256,
        "decision": str(d.pk),
        "outcome": d.final_outcome,
        "code": code,
        "reason": reason,
        "obligations": d.final_obligations,
        "works": [str(w) for w in d.works],
    }


def results_jsonl(decisions: Iterable[Decision]) -> Iterator[bytes]:
    """The rows of ``decisions`` as JSON Lines, a line at a time."""
    for d in decisions:
        yield json.dumps(item_row(d), separators=(",", ":")).encode() + b"\n"


def _cell(value: Any) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_FIRST) else text


def results_csv(decisions: Iterable[Decision]) -> Iterator[bytes]:
    """The rows of ``decisions`` as CSV (RFC 4180, UTF-8, a header first), a line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flushed() -> bytes:
        out = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return out

    writer.writerow(CSV_COLUMNS)
    yield flushed()
    for d in decisions:
        row = item_row(d)
        writer.writerow(
            [
                row["item"],
                _cell(row["reference"] or ""),
                row["content_sha256"],
                row["decision"],
                row["outcome"],
                row["code"],
                _cell(row["reason"]),
                json.dumps(row["obligations"], ensure_ascii=False, sort_keys=True),
                " ".join(row["works"]),
            ]
        )
        yield flushed()
