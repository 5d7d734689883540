"""The fast canonical-JSON check of whole pages of entries (:class:`CanonicalChecker`)."""

from __future__ import annotations

import functools
import itertools
import json
import operator
import re
import secrets
from collections.abc import Sequence
from typing import Any, NoReturn

from ledger.canonical import (
    ENTRY_FORMAT_VERSION,
    ENTRY_MEMBERS,
    MAX_ENTRY_BYTES,
    decode_entry,
    parse_time,
    validate_kind,
)
from ledger.exceptions import VerificationError


class _NotFast(Exception):
    """The fast canonical check cannot decide; :func:`decode_entry` must."""


def _not_fast(_text: str) -> NoReturn:
    raise _NotFast


_TIME_FAST = re.compile(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z", re.ASCII)
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789-", b"00000000000")
_LONG_NUMBER_MARKS = tuple(mark + b"0" * 16 for mark in (b":", b",", b"["))
_BELOW_ASTRAL_LEAD = bytes(range(0xF0))
_MEMBERS = ("v", "type", "time", "payload")
_MEMBERS_GETTER = operator.itemgetter(*_MEMBERS)
assert frozenset(_MEMBERS) == ENTRY_MEMBERS

_TIME_FAST_BYTES = _TIME_FAST.pattern.encode("ascii")
_TIME_COLUMN = re.compile(b"%s(?:\n%s)*" % (_TIME_FAST_BYTES, _TIME_FAST_BYTES), re.ASCII)
_DATE_OF_TIME = operator.itemgetter(slice(0, 10))
_SHAPE_SEPARATOR = b'"\n"'
"""Joins the entries of a shape: a string token of its own, a newline (which no entry may hold)."""
_NOT_CONTROL_NOR_ESCAPE = bytes(b for b in range(0x20, 0x100) if b != ord("\\"))
_HAS_DIGIT = re.compile(rb"[0-9]").search
_VERSION_TOKEN = b":%d}" % ENTRY_FORMAT_VERSION
_QUOTE = b'"'
_TYPE_IN_TAIL = operator.itemgetter(1)
"""The type in the last five pieces of a canonical entry cut at its quotes (``rsplit(b'"', 4)``)."""
_SHORTEST_ENTRY_QUOTES = 12
"""Quotes in the smallest entry: four member names, the type and the time."""


@functools.lru_cache(maxsize=1024)
def _number_column(token: bytes) -> re.Pattern[bytes]:
    """Matches newline-joined copies of ``token`` whose integers may be any other canonical
    integers of at most 15 digits."""
    pieces = re.split(rb"-?[0-9]+", token)
    one = rb"(?:0|-?[1-9][0-9]{0,14})".join(map(re.escape, pieces))
    return re.compile(b"%s(?:\n%s)*" % (one, one))


class CanonicalChecker:
    """Checks that entries are canonical, with the verdict of :func:`decode_entry`, but fast.

    ``decode_entry`` re-encodes every entry with the pure-Python ``rfc8785`` package, about 25,000
    entries a second. This class has two faster ways to the same verdict; whatever neither can
    vouch for goes to ``decode_entry``, which decides and gives the reason.

    *By shape* (:meth:`_fast_by_shape`), for a page of entries without escapes. Cut at their
    quotes, such an entry alternates between structure (braces, colons, commas, numbers, literals)
    and string contents. Entries with as many quotes as the first of them must have its shape:
    the same member names and structure, with any other canonical integers and any other string
    values (free of control characters, as checked for the whole page). The first is checked by
    the JSON way below; the others are then compared a column at a time (the k-th piece of every
    entry), which costs a few C-level operations per column rather than any per entry. Only the
    time and type values are checked one by one, and the version must be the same.

    *By JSON* (:meth:`_fast`): the C ``json`` module parses a page of entries as one JSON array,
    the entry structure is checked, the entries are re-encoded with sorted keys and no whitespace,
    and compared. Python's encoding equals RFC 8785's when no number is a float or has 16 or more
    digits and no character lies outside the Basic Multilingual Plane (key order differs there).
    Entries are joined with a separator holding a fresh random string, which must come back as
    every second array element: so no entry can run into its neighbour (a string or object
    spanning two entries would swallow the separator), and each entry is one JSON value.
    """

    def __init__(self) -> None:
        self._decoder = json.JSONDecoder(parse_float=_not_fast, parse_constant=_not_fast)
        self._encoder = json.JSONEncoder(
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            check_circular=False,  # parsed JSON has no cycles
        )
        self._kinds: set[str] = set()
        self._dates: set[str] = set()
        self._kind_tokens: set[bytes] = set()
        self._date_tokens: set[bytes] = set()

    def check(self, entries: Sequence[bytes], *, first_index: int = 0) -> None:
        """Raise :class:`VerificationError` naming the first entry that is not canonical."""
        if not entries or self._fast_by_shape(entries) or self._fast(entries):
            return
        for offset, data in enumerate(entries):
            if self._fast([data]):
                continue
            try:
                decode_entry(data)
            except ValueError as exc:
                raise VerificationError(
                    f"entry {first_index + offset}: not canonical JSON: {exc}"
                ) from None

    def _fast_by_shape(self, entries: Sequence[bytes]) -> bool:
        """True if every entry is certainly canonical; False if undecided."""
        count = len(entries)
        if max(map(len, entries)) > MAX_ENTRY_BYTES:
            return False
        joined = _SHAPE_SEPARATOR.join(entries)
        # No escapes and no control characters, except the separators' newlines: every string
        # is its contents verbatim, and each is canonical if it is UTF-8 of the BMP.
        if joined.translate(None, _NOT_CONTROL_NOR_ESCAPE) != b"\n" * (count - 1):
            return False
        if not joined.isascii():
            if joined.translate(None, _BELOW_ASTRAL_LEAD):
                return False
            try:
                joined.decode("utf-8")
            except UnicodeDecodeError:
                return False
        first_quotes = entries[0].count(_QUOTE)
        if joined.count(_QUOTE) == count * first_quotes + 2 * (count - 1):
            pieces = joined.split(_QUOTE)
            # Every separator's newline in its place: each entry has as many quotes as the first.
            if pieces[first_quotes + 1 :: first_quotes + 2].count(
                b"\n"
            ) == count - 1 and self._same_shape(entries, pieces, first_quotes):
                return True
        # Several shapes: group the entries by their number of quotes and their type, and
        # compare each group's.
        quotes = list(map(bytes.count, entries, itertools.repeat(_QUOTE)))
        if min(quotes) < _SHORTEST_ENTRY_QUOTES:
            return False
        tails = map(bytes.rsplit, entries, itertools.repeat(_QUOTE), itertools.repeat(4))
        shapes: dict[tuple[int, bytes], list[bytes]] = {}
        for data, quoted, kind in zip(entries, quotes, map(_TYPE_IN_TAIL, tails), strict=True):
            shapes.setdefault((quoted, kind), []).append(data)
        return len(shapes) > 1 and all(
            self._same_shape(alike, _SHAPE_SEPARATOR.join(alike).split(_QUOTE), quoted)
            for (quoted, _), alike in shapes.items()
        )

    def _same_shape(self, entries: Sequence[bytes], pieces: list[bytes], quotes: int) -> bool:
        """True if all ``entries``, each with ``quotes`` quotes, are canonical entries of the first
        one's shape. ``pieces``: the entries joined by the separator, cut at every quote."""
        if quotes % 2 or quotes < _SHORTEST_ENTRY_QUOTES:
            return False
        count = len(entries)
        width = quotes + 1  # pieces of an entry; odd ones are string contents
        period = width + 1  # and the separator's newline
        first = pieces[:width]
        if first[1] != b"payload" or first[-10:-1:4] != [b"time", b"type", b"v"]:
            return False
        if not self._fast(entries[:1]):
            return False
        for position, piece in enumerate(first):
            if position % 2 and not first[position + 1].startswith(b":"):
                continue  # a string value: any contents will do
            column = pieces[position::period]
            if position % 2 or not _HAS_DIGIT(piece):  # a member name, or plain structure
                if column.count(piece) != count:
                    return False
            elif not _number_column(piece).fullmatch(b"\n".join(column)):
                return False
        if pieces[width - 1 :: period].count(_VERSION_TOKEN) != count:
            return False
        return self._times_and_kinds_ok(
            pieces[width - 8 :: period], set(pieces[width - 4 :: period])
        )

    def _times_and_kinds_ok(self, times: list[bytes], kinds: set[bytes]) -> bool:
        """True if all the ``times`` and ``kinds`` are valid ones."""
        for kind in kinds - self._kind_tokens:
            try:
                validate_kind(kind.decode("utf-8"))
            except ValueError:
                return False
            self._kind_tokens.add(kind)
        distinct = set(times)  # often one: entries appended together share their time
        if not _TIME_COLUMN.fullmatch(b"\n".join(distinct)):
            return False
        for when in set(map(_DATE_OF_TIME, distinct)) - self._date_tokens:
            try:
                parse_time(when.decode("ascii") + "T00:00:00.000Z")
            except ValueError:
                return False
            self._date_tokens.add(when)
        return True

    def _fast(self, entries: Sequence[bytes]) -> bool:
        """True if every entry is certainly canonical; False if undecided."""
        if max(map(len, entries)) > MAX_ENTRY_BYTES:
            return False
        marker = secrets.token_hex(16)
        joined = b"[" + (b',"' + marker.encode("ascii") + b'",').join(entries) + b"]"
        if not joined.isascii() and joined.translate(None, _BELOW_ASTRAL_LEAD):
            return False  # a 4-byte UTF-8 sequence (or invalid UTF-8): let decode_entry judge
        numbers = joined.translate(_DIGITS_AS_ZERO)
        if any(mark in numbers for mark in _LONG_NUMBER_MARKS):
            return False  # maybe an integer beyond 2**53, which RFC 8785 writes as a float
        try:
            text = joined.decode("utf-8")
            items = self._decoder.decode(text)
        except (ValueError, RecursionError, _NotFast):
            return False
        count = len(entries)
        if type(items) is not list or len(items) != 2 * count - 1:
            return False
        if items[1::2].count(marker) != count - 1:
            return False
        if not self._structure_ok(items[::2]):
            return False
        try:
            return bool(self._encoder.encode(items) == text)
        except (ValueError, RecursionError):
            return False

    def _structure_ok(self, documents: list[Any]) -> bool:
        """The members and their types, as decode_entry checks them, a column at a time."""
        if set(map(type, documents)) != {dict} or set(map(len, documents)) != {len(_MEMBERS)}:
            return False
        try:
            versions, kinds, times, payloads = zip(*map(_MEMBERS_GETTER, documents), strict=True)
        except KeyError:
            return False
        if set(map(type, versions)) != {int} or set(versions) != {ENTRY_FORMAT_VERSION}:
            return False
        if set(map(type, payloads)) != {dict}:
            return False
        if set(map(type, kinds)) != {str} or set(map(type, times)) != {str}:
            return False
        for kind in set(kinds) - self._kinds:
            try:
                validate_kind(kind)
            except ValueError:
                return False
            self._kinds.add(kind)
        if not all(map(_TIME_FAST.fullmatch, times)):
            return False
        for when in {when[:10]: when for when in times}.values():
            if when[:10] not in self._dates:
                # The pattern bounds the clock; parse_time checks that the date exists.
                try:
                    parse_time(when)
                except ValueError:
                    return False
                self._dates.add(when[:10])
        return True
