"""Read DDEX ERN ``NewReleaseMessage`` files (ERN 3.8.x and 4.x) into plain frozen dataclasses.

Pure: no Django, DRF or Celery; lxml only. :func:`parse_ern` raises :class:`DdexError` when the
whole file is unusable (not well-formed XML, a document type declaration, not a
``NewReleaseMessage``, an unsupported namespace). Anything smaller is an answer: a rejected
element becomes a :class:`DdexProblem` (XPath, line, reason) and the valid ones are kept; a
SoundRecording with any invalid data of its own is rejected whole (docs/catalog-ddex.md).
ISRCs are validated and normalised here (ISO 3901); other identifiers are returned as written
(trimmed) and their check digits validated by the importer.

The package's modules: :mod:`~governance.ddex.model` (the dataclasses and :class:`DdexError`),
:mod:`~governance.ddex.document` (reading the XML safely; namespaces and versions; finding
elements, with the XPath and line that name them in a problem) and
:mod:`~governance.ddex.reader` (which elements make which fields, and what is rejected).
"""

from __future__ import annotations

import pathlib
from typing import BinaryIO

from governance.ddex.document import ERN_NAMESPACE, stream_ern
from governance.ddex.model import (
    WORLDWIDE,
    DdexError,
    DdexMessage,
    DdexParty,
    DdexProblem,
    DdexRecording,
    DdexRelease,
    DdexRightsController,
)
from governance.ddex.reader import Reader

__all__ = [
    "ERN_NAMESPACE",
    "WORLDWIDE",
    "DdexError",
    "DdexMessage",
    "DdexParty",
    "DdexProblem",
    "DdexRecording",
    "DdexRelease",
    "DdexRightsController",
    "parse_ern",
]


def parse_ern(source: bytes | str | pathlib.Path | BinaryIO) -> DdexMessage:
    """Parse one NewReleaseMessage. A ``str`` is XML text; pass a ``pathlib.Path`` for a file.

    The file is read as a stream (lxml ``iterparse``): each SoundRecording is read when it ends
    and then freed, so memory grows with what is kept of each recording, not with the XML."""
    reader: Reader | None = None
    for el, name, root in stream_ern(source):
        if root is None:
            reader = Reader(el, name)
        elif name:
            assert reader is not None  # The root came first.
            reader.take(el, name)
    assert reader is not None
    return reader.message()
