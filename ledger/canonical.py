"""Canonical bytes of a ledger entry: RFC 8785 (JSON Canonicalization Scheme), UTF-8.

An entry is the JSON object ``{"v", "type", "time", "payload"}`` serialised per RFC 8785
(https://www.rfc-editor.org/rfc/rfc8785): members sorted by key, no insignificant whitespace,
strings with minimal escaping, numbers in their shortest ECMAScript form. These bytes are the
Merkle leaf input (``leaf_hash = SHA-256(0x00 || entry)``, see :mod:`ledger.merkle`), so they
must be reproducible bit for bit by any outside client. On the wire an entry looks like::

    {"payload":{"track":42},"time":"2026-11-25T19:52:18.123Z","type":"consent.granted","v":1}

* ``v`` -- the entry format version, :data:`ENTRY_FORMAT_VERSION` (an integer).
* ``type`` -- the entry kind: lowercase dotted/underscore identifier (:data:`KIND_PATTERN`).
* ``time`` -- RFC 3339 UTC with exactly three fractional digits and a ``Z`` suffix
  (``YYYY-MM-DDTHH:MM:SS.mmmZ``).
* ``payload`` -- a JSON object; its content is opaque to the ledger.

:func:`decode_entry` accepts only canonical bytes: it re-encodes what it parsed and rejects the
input if the two differ, so one entry has exactly one byte form (and one leaf hash).

An entry is at most :data:`MAX_ENTRY_BYTES` bytes, because C2SP tlog-tiles entry bundles
(https://c2sp.org/tlog-tiles) prefix each entry with a big-endian uint16 length.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import rfc8785

ENTRY_FORMAT_VERSION = 1
"""The ``v`` member written by :func:`encode_entry` and the only one :func:`decode_entry` reads."""

MAX_ENTRY_BYTES = 0xFFFF
"""Largest entry: tlog-tiles entry bundles carry each entry behind a uint16 length."""

KIND_MAX_LENGTH = 64
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
"""Entry kinds: lowercase identifiers joined by dots, e.g. ``consent.granted``."""

TIME_PATTERN = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z",
    re.ASCII,
)
"""RFC 3339 UTC with millisecond precision, e.g. ``2026-11-25T19:52:18.123Z``."""

ENTRY_MEMBERS = frozenset({"v", "type", "time", "payload"})
MICROSECONDS_PER_MILLISECOND = 1000
JSON_SAFE_INTEGER = 2**53 - 1
_WALK_LIMIT = MAX_ENTRY_BYTES
"""Containers and numbers :func:`_plain` walks before it leaves the value to the recursive
check (each takes at least a byte of an entry)."""
"""Largest integer RFC 8785 writes as an integer (I-JSON, RFC 7493 §2.2)."""


@dataclass(frozen=True)
class Entry:
    """A decoded ledger entry. ``kind`` is the ``type`` member on the wire."""

    v: int
    kind: str
    time: datetime
    payload: Mapping[str, Any]


def format_time(dt: datetime) -> str:
    """Return ``dt`` as RFC 3339 UTC with milliseconds, e.g. ``2026-11-25T19:52:18.123Z``.

    ``dt`` must be timezone-aware; it is converted to UTC and truncated (not rounded) to the
    millisecond.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"time {dt.isoformat()} has no timezone; pass an aware datetime")
    utc = dt.astimezone(UTC)
    millis = utc.microsecond // MICROSECONDS_PER_MILLISECOND
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{millis:03d}Z"
    )


def parse_time(s: str) -> datetime:
    """Parse the exact form :func:`format_time` writes into an aware UTC ``datetime``."""
    match = TIME_PATTERN.fullmatch(s)
    if match is None:
        raise ValueError(f"time {s!r} is not RFC 3339 UTC of the form YYYY-MM-DDTHH:MM:SS.mmmZ")
    try:  # the standard library's parser reads this form alike, and faster
        return datetime.fromisoformat(s)
    except ValueError:
        pass  # say why, as below
    year, month, day, hour, minute, second, millis = (int(g) for g in match.groups())
    try:
        return datetime(
            year,
            month,
            day,
            hour,
            minute,
            second,
            millis * MICROSECONDS_PER_MILLISECOND,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise ValueError(f"time {s!r} is not a valid date and time: {exc}") from None


def validate_kind(kind: str) -> None:
    """Raise ``ValueError`` unless ``kind`` is a lowercase dotted/underscore identifier."""
    if len(kind) > KIND_MAX_LENGTH or KIND_PATTERN.fullmatch(kind) is None:
        raise ValueError(
            f"entry kind {kind!r} must be lowercase identifiers joined by dots "
            f"(like 'consent.granted'), at most {KIND_MAX_LENGTH} characters"
        )


def encode_entry(*, kind: str, time: datetime, payload: Mapping[str, Any]) -> bytes:
    """Return the canonical bytes of an entry (see the module docstring for the format)."""
    validate_kind(kind)
    return _encode(kind, format_time(time), payload)


def encode_entries(
    *, items: Sequence[tuple[str, Mapping[str, Any]]], time: datetime
) -> list[bytes]:
    """:func:`encode_entry` of each (kind, payload) at the same ``time``, the same bytes: the
    time is formatted once and each kind checked once (an import seals 200,000 entries)."""
    stamp = format_time(time)
    for kind in {kind for kind, _ in items}:
        validate_kind(kind)
    return [_encode(kind, stamp, payload) for kind, payload in items]


def _encode(kind: str, stamp: str, payload: Mapping[str, Any]) -> bytes:
    if not isinstance(payload, Mapping):
        raise ValueError(f"entry payload must be a JSON object, not {type(payload).__name__}")
    document: dict[str, Any] = {
        "v": ENTRY_FORMAT_VERSION,
        "type": kind,
        "time": stamp,
        "payload": dict(payload),
    }
    data = _fast_canonical(document)
    if data is None:
        try:
            data = rfc8785.dumps(document)
        except rfc8785.CanonicalizationError as exc:
            raise ValueError(f"entry payload cannot be canonicalised: {exc}") from None
    if len(data) > MAX_ENTRY_BYTES:
        raise ValueError(f"entry is {len(data)} bytes; the limit is {MAX_ENTRY_BYTES}")
    return data


_SAFE_INTEGER = 2**53 - 1
_WALK_LIMIT = MAX_ENTRY_BYTES
"""Containers and numbers :func:`_plain` walks before it leaves the value to the recursive
check (each takes at least a byte of an entry)."""


def _plain(value: Any) -> bool:
    """True for JSON made only of strings, booleans, null, safe integers, lists and objects
    with ASCII keys: the values whose RFC 8785 form ``json.dumps`` produces byte for byte.

    Walks the value without recursion, by exact type (what ``json.loads`` makes); a value of
    any other type (a subclass) is judged by :func:`_plain_value`, the same rules by
    ``isinstance``. A decision's trace has hundreds of members, so this is on every ledger
    write and every opening checked. Past :data:`_WALK_LIMIT` members (a value larger than any
    entry, or one that contains itself) the recursive check decides, as it always did."""
    pending = [value]
    pop, extend = pending.pop, pending.extend
    walked = 0
    while pending:
        v = pop()
        t = type(v)
        if t is str or v is None or t is bool:
            continue
        walked += 1
        if walked > _WALK_LIMIT:
            return _plain_value(value)
        if t is dict:
            for k in v:
                if type(k) is not str and not isinstance(k, str):
                    return False
                if not k.isascii():
                    return False
            extend(v.values())
        elif t is list:
            extend(v)
        elif t is int:
            if not -_SAFE_INTEGER <= v <= _SAFE_INTEGER:
                return False
        elif not _plain_value(v):
            return False
    return True


def _plain_value(value: Any) -> bool:
    """:func:`_plain` by ``isinstance``, recursively."""
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if isinstance(value, list):
        return all(_plain_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain_value(v) for k, v in value.items())
    return False


def _fast_canonical(document: Any) -> bytes | None:
    """RFC 8785 bytes of ``document`` by the standard library, when that is provably the same
    (no floats, whose formatting differs, and ASCII keys, whose order UTF-16 and code points
    agree on); None otherwise, and the rfc8785 library does it. Python escapes control
    characters exactly as RFC 8785 does (short forms for backspace, tab, newline, form feed and
    carriage return, lowercase \\u00xx for the rest). A property test checks the two agree."""
    if not _plain(document):
        return None
    try:  # (json.dumps with these options would build a new encoder on every call)
        return _FAST_ENCODER.encode(document).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: let the library refuse them
        return None


def encode_json(document: Any) -> bytes:
    """RFC 8785 bytes of any JSON value (the fast path when it provably applies: a string, say,
    is written by ``json.dumps`` as RFC 8785 writes it)."""
    fast = _fast_canonical(document)
    return fast if fast is not None else rfc8785.dumps(document)


def decode_json(data: bytes) -> tuple[Any, bool]:
    """The JSON value ``data`` reads as, and whether ``data`` is its RFC 8785 form (as
    :func:`encode_json` writes it), byte for byte; ``ValueError`` if it is not UTF-8 JSON.

    By the standard library when that provably decides it, as :func:`decode_entry`'s fast path
    does (no floats or constants, integers in the exact range, no character outside the Basic
    Multilingual Plane, and the value written back is ``data``); otherwise the value is written
    to RFC 8785 and compared."""
    text = data.decode("utf-8")
    try:
        value = _FAST_DECODER.decode(text)
    except (_NotFast, ValueError, RecursionError):
        pass
    else:
        if (text.isascii() or max(text) <= "\uffff") and _PARSED_ENCODER.encode(value) == text:
            return value, True
    value = json.loads(text)
    try:
        return value, encode_json(value) == data
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return value, False


def decode_entry(data: bytes) -> Entry:
    """Parse canonical entry bytes; raise ``ValueError`` saying why if they are not valid."""
    if len(data) > MAX_ENTRY_BYTES:
        raise ValueError(f"entry is {len(data)} bytes; the limit is {MAX_ENTRY_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"entry is not UTF-8 (byte {exc.start})") from None
    fast = _decode_fast(data, text)
    return fast if fast is not None else _decode_thorough(data, text)


def decode_checked_entry(data: bytes) -> Entry:
    """:func:`decode_entry` of bytes already known to be a canonical entry (checked by
    :func:`decode_entry` or :mod:`ledger.verify`, bytes with the same leaf hash; or written by
    :func:`encode_entry`): the same entry, without writing the document back to compare it
    with ``data``, which costs about half of :func:`decode_entry`. Bytes that are not canonical
    may be read rather than refused: a caller that cannot vouch for them uses
    :func:`decode_entry`."""
    try:
        found = _read_fast(data.decode("utf-8"))
    except ValueError:  # not UTF-8
        found = None
    return decode_entry(data) if found is None else found[0]  # which says what is wrong


def _decode_thorough(data: bytes, text: str) -> Entry:
    """:func:`decode_entry` member by member, saying what is wrong."""
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
        )
    except RecursionError:
        raise ValueError("entry JSON is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"entry is not JSON: {exc.msg} at offset {exc.pos}") from None

    if not isinstance(document, dict):
        raise ValueError("entry is not a JSON object")
    missing = ENTRY_MEMBERS - document.keys()
    extra = document.keys() - ENTRY_MEMBERS
    if missing or extra:
        raise ValueError(
            f"entry members must be exactly {sorted(ENTRY_MEMBERS)}; "
            f"missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    version = document["v"]
    if type(version) is not int:
        raise ValueError(f"entry 'v' must be an integer, not {type(version).__name__}")
    if version != ENTRY_FORMAT_VERSION:
        raise ValueError(
            f"entry format version {version} is not supported (only {ENTRY_FORMAT_VERSION})"
        )
    kind, time, payload = document["type"], document["time"], document["payload"]
    if not isinstance(kind, str):
        raise ValueError(f"entry 'type' must be a string, not {type(kind).__name__}")
    if not isinstance(time, str):
        raise ValueError(f"entry 'time' must be a string, not {type(time).__name__}")
    if not isinstance(payload, dict):
        raise ValueError(f"entry 'payload' must be a JSON object, not {type(payload).__name__}")
    entry = Entry(v=version, kind=kind, time=parse_time(time), payload=payload)

    if encode_entry(kind=entry.kind, time=entry.time, payload=entry.payload) != data:
        raise ValueError("entry bytes are not RFC 8785 canonical (re-encoding differs)")
    return entry


class _NotFast(Exception):
    """:func:`_decode_fast` does not apply: :func:`decode_entry` takes the thorough path."""


def _not_fast(_: str) -> NoReturn:
    raise _NotFast


def _safe_int(digits: str) -> int:
    value = int(digits)
    if -JSON_SAFE_INTEGER <= value <= JSON_SAFE_INTEGER:
        return value
    raise _NotFast


_FAST_DECODER = json.JSONDecoder(
    parse_float=_not_fast, parse_int=_safe_int, parse_constant=_not_fast
)
_FAST_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)
_PARSED_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False, check_circular=False
)
""":data:`_FAST_ENCODER` for what ``json`` has just parsed, which holds no cycle to look for
(about a tenth less time for a decision's trace)."""


def _decode_fast(data: bytes, text: str) -> Entry | None:
    """The entry :func:`decode_entry` would return, found by the standard library alone, when
    that is provably the same: no floats or constants (NaN), integers in the exact range, no
    character outside the Basic Multilingual Plane (so that code point and UTF-16 order agree
    on every key, as in :func:`_fast_canonical`), and the document written back by ``json.dumps``
    is ``data`` byte for byte (which a repeated member, never written back, rules out). None
    otherwise, and the thorough path decides, with its errors."""
    found = _read_fast(text)
    if found is None or (not text.isascii() and max(text) > "\uffff"):
        return None
    entry, document = found
    try:
        written = _PARSED_ENCODER.encode(document).encode("utf-8")  # format_time writes it back
    except (ValueError, UnicodeEncodeError):
        return None
    return entry if written == data else None


def _read_fast(text: str) -> tuple[Entry, dict[str, Any]] | None:
    """The entry in ``text`` and its document, read by the standard library alone, when it is
    an entry document of the current version with nothing the fast path cannot read (floats,
    constants, integers beyond the exact range); None otherwise."""
    try:
        document = _FAST_DECODER.decode(text)
    except (_NotFast, ValueError, RecursionError):
        return None
    if (
        type(document) is not dict
        or document.keys() != ENTRY_MEMBERS
        or type(document["v"]) is not int
        or document["v"] != ENTRY_FORMAT_VERSION
        or type(document["type"]) is not str
        or type(document["time"]) is not str
        or type(document["payload"]) is not dict
    ):
        return None
    kind, when = document["type"], document["time"]
    # A log has few types, and entries appended together share their time: each is read once
    # (the last time read, and the types found valid, are remembered).
    time = _last_time.get(when)
    try:
        if kind not in _valid_kinds:
            validate_kind(kind)
            if len(_valid_kinds) < _VALID_KINDS_KEPT:
                _valid_kinds.add(kind)
        if time is None:
            time = parse_time(when)
            _last_time.clear()
            _last_time[when] = time
    except ValueError:
        return None
    entry = Entry(v=ENTRY_FORMAT_VERSION, kind=kind, time=time, payload=document["payload"])
    return entry, document


_valid_kinds: set[str] = set()
_VALID_KINDS_KEPT = 1024
_last_time: dict[str, datetime] = {}


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 of ``data``: the content commitment written into payloads."""
    return hashlib.sha256(data).hexdigest()


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"entry JSON repeats the member {key!r}")
        result[key] = value
    return result


def _parse_int(digits: str) -> int | float:
    # RFC 8785 writes a large integral float (say 1e20) as plain digits; integers outside the
    # IEEE 754 exact range are such floats, so read them back as floats to round-trip.
    value = int(digits)
    return value if -JSON_SAFE_INTEGER <= value <= JSON_SAFE_INTEGER else float(value)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"entry JSON contains {name}, which is not JSON")
