"""Offline verifier for a Consentry ledger: ``python -m ledger.verify``.

It trusts nothing the log serves except what a signature or a recomputation proves. Two forms::

    python -m ledger.verify --url URL --vkey VKEY [--state FILE] [--origin ORIGIN]
                            [--samples K] [--quiet] [--no-canonical-check] [--workers N]
    python -m ledger.verify receipt FILE --vkey VKEY [--origin ORIGIN]

The first fetches the latest signed checkpoint, every entry, and checks that

* the checkpoint note is signed by one of the given keys (and names ``--origin``, if given);
* every entry is RFC 8785 canonical JSON of the entry format and hashes to the leaf hash served;
* the Merkle tree of those leaf hashes has the signed root;
* sampled inclusion proofs served by the log (always including the first and last entry) reach the
  signed root;
* with ``--state FILE`` from an earlier run: the log did not shrink, the first entries still have
  the remembered root, and the log's consistency proof between the two sizes verifies. On success
  the state file is replaced (atomically) by the new checkpoint.

Entries are checked by one worker process per CPU (``--workers``; 1 checks them in this process)
while threads fetch the next pages; the failure reported is always the one of the lowest entry.

The second checks a receipt (one entry, its inclusion proof, the signed checkpoint) with no network
at all. Exit status: 0 verified, 1 something did not verify (the message names the first failure),
2 the check could not be made (network or HTTP error, bad arguments, unreadable local file).

This module imports only the standard library, ``cryptography`` (through :mod:`ledger.note`),
``rfc8785`` (through :mod:`ledger.canonical`) and the pure ledger modules, so it can be copied
out with them and run anywhere. docs/ledger.md describes every format it reads.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import functools
import hashlib
import itertools
import json
import multiprocessing
import multiprocessing.connection
import operator
import os
import queue
import random
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, NoReturn, Protocol, TextIO

from ledger.canonical import (
    ENTRY_FORMAT_VERSION,
    ENTRY_MEMBERS,
    MAX_ENTRY_BYTES,
    Entry,
    decode_entry,
    parse_time,
    validate_kind,
)
from ledger.merkle import (
    HASH_SIZE,
    NODE_PREFIX,
    empty_root,
    subtree_hash_from_perfect,
    verify_consistency,
    verify_inclusion,
)
from ledger.note import Checkpoint, Verifier, open_note, parse_note, parse_verifier_key_string
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef, split_tile, tile_width_for_size
from ledger.verification import VerificationError

__all__ = [
    "DEFAULT_SAMPLES",
    "ENTRIES_PAGE_SIZE",
    "RECEIPT_VERSION",
    "CanonicalChecker",
    "FetchError",
    "HttpLogClient",
    "LocalInputError",
    "LogClient",
    "LogResult",
    "ReceiptResult",
    "State",
    "default_workers",
    "load_state",
    "main",
    "open_log_checkpoint",
    "parse_entries_body",
    "save_state",
    "verify_log",
    "verify_receipt",
]

ENTRIES_PAGE_SIZE = 1000
"""Entries asked for per ``/ledger/entries`` call (the server's maximum)."""

DEFAULT_SAMPLES = 32
"""Random inclusion proofs checked per run, besides the first and last entry's."""

RECEIPT_VERSION = 1
PROGRESS_EVERY = 100_000
DEFAULT_TIMEOUT = 60.0
API_KEY_VARIABLE = "LEDGER_VERIFY_TOKEN"
"""If set, its value is sent as ``Authorization: Api-Key <token>`` (for logs that restrict reads
to auditors)."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_CHECK = 2

_USER_AGENT = "consentry-ledger-verify/1"
_LEAF_PREFIX = b"\x00"
_ERROR_BODY_LIMIT = 300


class FetchError(Exception):
    """The log could not be asked: connection failure, timeout or an HTTP error status."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class LocalInputError(Exception):
    """A local input is unusable: a key string, a state file, a receipt file that cannot be read."""


# --------------------------------------------------------------------------------------------
# Talking to the log
# --------------------------------------------------------------------------------------------


class LogClient(Protocol):
    """What :func:`verify_log` asks of the log. :class:`HttpLogClient` speaks the HTTP API."""

    def checkpoint(self) -> bytes:
        """The latest checkpoint, a signed note, verbatim."""
        ...

    def entries(self, start: int, end: int) -> list[Any]:
        """The raw ``entries`` list of ``/ledger/entries?start=&end=`` (unchecked JSON values)."""
        ...

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]: ...

    def consistency_proof(self, first: int, second: int) -> list[bytes]: ...

    def tile(self, ref: TileRef) -> bytes: ...


class HttpLogClient:
    """The log's HTTP API under ``base_url`` (``GET {base_url}/ledger/...``), via urllib.

    HTTP errors and network failures raise :class:`FetchError`; responses that are not what the
    API promises (not JSON, missing members, bad base64) raise :class:`VerificationError`.
    """

    def __init__(
        self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT, token: str | None = None
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise LocalInputError(f"--url {base_url!r} is not an http:// or https:// URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {"User-Agent": _USER_AGENT}
        if token:
            self._headers["Authorization"] = f"Api-Key {token}"

    def url(self, path: str, query: Mapping[str, int] | None = None) -> str:
        url = f"{self.base_url}/ledger/{path}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def get(self, url: str, *, accept: str) -> bytes:
        request = urllib.request.Request(url, headers={**self._headers, "Accept": accept})  # noqa: S310 - scheme checked in __init__
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only, checked in __init__
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            raise FetchError(
                f"GET {url}: HTTP {exc.code}{_describe_error_body(exc)}", url=url, status=exc.code
            ) from None
        except urllib.error.URLError as exc:
            raise FetchError(f"GET {url}: {exc.reason}", url=url) from None
        except (OSError, HTTPException) as exc:
            raise FetchError(f"GET {url}: {exc or type(exc).__name__}", url=url) from None

    def get_json(self, path: str, query: Mapping[str, int] | None = None) -> dict[str, Any]:
        url = self.url(path, query)
        body = self.get(url, accept="application/json")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise VerificationError(f"GET {url}: the response is not JSON") from None
        if not isinstance(document, dict):
            raise VerificationError(f"GET {url}: the response is not a JSON object")
        return document

    def checkpoint(self) -> bytes:
        return self.get(self.url("checkpoint"), accept="text/plain, */*;q=0.1")

    def entries(self, start: int, end: int) -> list[Any]:
        return parse_entries_body(self.entries_body(start, end), url=self.entries_url(start, end))

    def entries_url(self, start: int, end: int) -> str:
        return self.url("entries", {"start": start, "end": end})

    def entries_body(self, start: int, end: int) -> bytes:
        """The unparsed ``/ledger/entries`` response: :func:`parse_entries_body` reads it (in a
        worker process, when :func:`verify_log` runs several)."""
        return self.get(self.entries_url(start, end), accept="application/json")

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        query = {"index": index, "tree_size": tree_size}
        document = self.get_json("proof/inclusion", query)
        return _proof_hashes(document, url=self.url("proof/inclusion", query))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        query = {"first": first, "second": second}
        document = self.get_json("proof/consistency", query)
        return _proof_hashes(document, url=self.url("proof/consistency", query))

    def tile(self, ref: TileRef) -> bytes:
        # TileRef.path is "tile/<L>/<N>[.p/<W>]", relative to the log's /ledger/ prefix.
        return self.get(self.url(ref.path), accept="application/octet-stream, */*;q=0.1")


def parse_entries_body(body: bytes, *, url: str) -> list[Any]:
    """The ``entries`` list of a ``/ledger/entries`` response; :class:`VerificationError` if the
    response is not a JSON object with such a list (``url`` names it in the message)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise VerificationError(f"GET {url}: the response is not JSON") from None
    if not isinstance(document, dict):
        raise VerificationError(f"GET {url}: the response is not a JSON object")
    entries = document.get("entries")
    if not isinstance(entries, list):
        raise VerificationError(f"GET {url}: the response has no 'entries' list")
    return entries


def _describe_error_body(exc: urllib.error.HTTPError) -> str:
    """`` <code>: <message>`` from the API's error body, or a short excerpt of whatever came."""
    try:
        raw = exc.read()
    except (OSError, HTTPException):
        return f" {exc.reason}" if exc.reason else ""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict) and "message" in body:
        code = body.get("code")
        return f" {code}: {body['message']}" if code else f": {body['message']}"
    text = raw[:_ERROR_BODY_LIMIT].decode("utf-8", "replace").strip()
    if text:
        return f" {exc.reason}: {text}" if exc.reason else f": {text}"
    return f" {exc.reason}" if exc.reason else ""


def _proof_hashes(document: Mapping[str, Any], *, url: str) -> list[bytes]:
    hashes = document.get("hashes")
    if not isinstance(hashes, list):
        raise VerificationError(f"GET {url}: the response has no 'hashes' list")
    return [
        _b64_hash(value, what=f"GET {url}: hash {position}")
        for position, value in enumerate(hashes)
    ]


def _b64_hash(value: object, *, what: str) -> bytes:
    decoded = _b64(value, what=what)
    if len(decoded) != HASH_SIZE:
        raise VerificationError(f"{what} is {len(decoded)} bytes, not {HASH_SIZE}")
    return decoded


def _b64(value: object, *, what: str) -> bytes:
    if not isinstance(value, str):
        raise VerificationError(f"{what} is not a base64 string")
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except ValueError:
        raise VerificationError(f"{what} is not valid base64") from None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def open_log_checkpoint(
    note: bytes, verifiers: Sequence[Verifier], *, origin: str | None = None
) -> tuple[Checkpoint, list[str]]:
    """Verify a signed checkpoint; return it and the keys that signed it, each as
    ``<name>+<key hash>`` (every key of a log shares its name; the hash tells them apart).

    Unlike :func:`ledger.note.open_checkpoint`, ``origin`` may be ``None``: then any origin is
    accepted (the caller shows it). Failures raise :class:`VerificationError` starting with
    ``checkpoint:``.
    """
    keys = ", ".join(v.key_string.rsplit("+", 1)[0] for v in verifiers)
    try:
        text, _ = open_note(note, verifiers)
    except VerificationError as exc:
        raise VerificationError(
            f"checkpoint: signature does not verify with key {keys}: {exc}{_signed_by(note)}"
        ) from None
    # open_note checked every signature by a known key; name each of those by its key hash.
    known = {(v.name, v.key_id) for v in verifiers}
    names = list(
        dict.fromkeys(
            f"{s.name}+{s.key_id.hex()}"
            for s in parse_note(note).signatures
            if (s.name, s.key_id) in known
        )
    )
    try:
        checkpoint = Checkpoint.from_body(text)
    except ValueError as exc:
        raise VerificationError(f"checkpoint: the signed note is not a checkpoint: {exc}") from None
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(
            f"checkpoint: it is for origin {checkpoint.origin!r}, not {origin!r}"
        )
    return checkpoint, names


def _signed_by(note: bytes) -> str:
    try:
        parsed = parse_note(note)
    except ValueError:
        return ""
    signers = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in parsed.signatures)
    return f" (the note is signed by {signers})"


# --------------------------------------------------------------------------------------------
# Canonical entries, fast
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# State remembered between runs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """What a successful run remembers: the checkpoint it verified."""

    origin: str
    size: int
    root_hash: bytes
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root_hash": _b64encode(self.root_hash),
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_json(cls, document: object) -> State:
        """Raise ``ValueError`` unless ``document`` is ``{"origin", "size", "root_hash", ...}``."""
        if not isinstance(document, dict):
            raise ValueError("it is not a JSON object")
        origin, size = document.get("origin"), document.get("size")
        root, checkpoint = document.get("root_hash"), document.get("checkpoint", "")
        if not isinstance(origin, str) or not origin:
            raise ValueError("'origin' must be a non-empty string")
        if type(size) is not int or size < 0:
            raise ValueError("'size' must be a non-negative integer")
        if not isinstance(checkpoint, str):
            raise ValueError("'checkpoint' must be a string")
        try:
            root_hash = _b64_hash(root, what="'root_hash'")
        except VerificationError as exc:
            raise ValueError(str(exc)) from None
        return cls(origin=origin, size=size, root_hash=root_hash, checkpoint=checkpoint)


def load_state(path: Path) -> State | None:
    """The state in ``path``; ``None`` if there is no such file. Raise :class:`LocalInputError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LocalInputError(f"cannot read state file {path}: {exc.strerror}") from None
    try:
        return State.from_json(json.loads(raw))
    except (ValueError, RecursionError) as exc:
        raise LocalInputError(f"state file {path} is not a verifier state: {exc}") from None


def save_state(path: Path, state: State) -> None:
    """Replace ``path`` with ``state`` atomically (temporary file in the same folder, rename)."""
    data = (json.dumps(state.to_json(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise LocalInputError(f"cannot write state file {path}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------------------------
# Verifying the whole log
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogResult:
    """What :func:`verify_log` verified, and how long it took."""

    checkpoint: Checkpoint
    note: bytes
    signed_by: tuple[str, ...]
    previous_size: int | None
    inclusion_proofs_checked: int
    canonical_checked: bool
    fetch_seconds: float
    """Waiting for the log. With worker processes, pages are fetched ahead while others are
    checked: only the waits that checking did not hide count."""
    compute_seconds: float
    """The recomputation itself, in CPU time: reading the pages, checking entries, hashing and
    building the tree. Pages checked side by side in worker processes count their CPU time
    divided by how many ran at once (the workers, or the CPUs if fewer): the time it takes on
    that many CPUs of its own, whatever else (such as the log's server) shares them."""
    workers: int = 1
    """Processes that checked the entries (1: this one)."""

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root_hash(self) -> bytes:
        return self.checkpoint.root_hash

    @property
    def entries_per_second(self) -> float:
        return self.size / self.compute_seconds if self.compute_seconds > 0 else float("inf")

    @property
    def state(self) -> State:
        return State(
            origin=self.origin,
            size=self.size,
            root_hash=self.root_hash,
            checkpoint=self.note.decode("utf-8"),
        )


def default_workers() -> int:
    """Worker processes the command line uses by default: one per CPU it may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


ProgressCallback = Callable[[int, int], None]
"""Called with (entries checked, tree size) after every page."""


def verify_log(
    client: LogClient,
    verifiers: Verifier | Sequence[Verifier],
    *,
    state: State | None = None,
    state_label: str = "the saved state",
    samples: int = DEFAULT_SAMPLES,
    origin: str | None = None,
    check_canonical: bool = True,
    progress: ProgressCallback | None = None,
    rng: random.Random | None = None,
    workers: int = 1,
) -> LogResult:
    """Verify the whole log behind ``client``; raise :class:`VerificationError` at the first fault.

    ``state`` is what an earlier run remembered (see :func:`load_state`); ``state_label`` names it
    in messages. ``samples`` random inclusion proofs are checked besides the first and last
    entry's. Network failures propagate as :class:`FetchError`.

    With ``workers`` above 1 (the command line's default is :func:`default_workers`), that many
    processes check the entries while pages are fetched ahead in threads; with 1, or a log of one
    page, everything happens in this process, page after page. Either way the failure reported is
    the one of the lowest entry index. The processes are started with the "spawn" method, so a
    script calling this must guard its top level with ``if __name__ == "__main__":``; entries
    that a ``client`` other than :class:`HttpLogClient` returns must be picklable.
    """
    keys = [verifiers] if isinstance(verifiers, Verifier) else list(verifiers)
    if not keys:
        raise ValueError("at least one verifier key is needed")
    if samples < 0:
        raise ValueError(f"samples must not be negative, not {samples}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    fetch_seconds = 0.0

    started = time.perf_counter()
    note = client.checkpoint()
    fetch_seconds += time.perf_counter() - started
    checkpoint, signed_by = open_log_checkpoint(note, keys, origin=origin)
    size = checkpoint.size

    if state is not None:
        if state.origin != checkpoint.origin:
            raise VerificationError(
                f"checkpoint: it is for origin {checkpoint.origin!r} but {state_label} "
                f"remembers origin {state.origin!r}"
            )
        if size < state.size:
            raise VerificationError(f"log shrank from {state.size} to {size} entries")

    entries = _fetch_and_check_entries(
        client, size, check_canonical=check_canonical, progress=progress, workers=workers
    )
    fetch_seconds += entries.fetch_seconds
    started = time.thread_time()
    tree = entries.tree
    recomputed = tree.root()
    compute_seconds = entries.compute_seconds + time.thread_time() - started

    if recomputed != checkpoint.root_hash:
        raise VerificationError(
            f"root mismatch at size {size}: recomputed {_b64encode(recomputed)} "
            f"signed {_b64encode(checkpoint.root_hash)}; {_locate_difference(client, tree)}"
        )

    started = time.perf_counter()
    checked = _check_inclusion_samples(
        client, tree, checkpoint, samples=samples, rng=rng or random.SystemRandom()
    )

    if state is not None:
        _check_consistency(client, tree, checkpoint, state, state_label=state_label)
    fetch_seconds += time.perf_counter() - started

    return LogResult(
        checkpoint=checkpoint,
        note=note,
        signed_by=tuple(signed_by),
        previous_size=None if state is None else state.size,
        inclusion_proofs_checked=checked,
        canonical_checked=check_canonical,
        fetch_seconds=fetch_seconds,
        compute_seconds=compute_seconds,
        workers=entries.workers,
    )


# --------------------------------------------------------------------------------------------
# Checking pages of entries, in this process or in worker processes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PageTask:
    """One answer of ``/ledger/entries?start=&end=`` to check."""

    start: int
    end: int
    payload: bytes | list[Any]
    """The response body as served (parsed by the checker), or the parsed ``entries`` list."""
    url: str
    """Names the request in messages about a body that is not what the API promises."""
    check_canonical: bool


@dataclass(frozen=True, slots=True)
class _PageResult:
    """What checking one page found."""

    count: int
    """Entries the log served for the page (at most ``end - start``)."""
    levels: list[bytes]
    """The page's part of the tree, as :func:`_page_levels` computes it; empty if ``error``."""
    error: str | None
    """The failure of the lowest entry index in the page, if any."""
    seconds: float
    """CPU time spent on the page: parsing the body, base64, hashing, the canonical check."""


_INDEX = operator.itemgetter("index")
_DATA = operator.itemgetter("data")
_LEAF_HASH = operator.itemgetter("leaf_hash")
_DIGEST = operator.methodcaller("digest")
_a2b_strict = functools.partial(binascii.a2b_base64, strict_mode=True)


def _check_page(task: _PageTask, checker: CanonicalChecker | None = None) -> _PageResult:
    """Check one page; never raises :class:`VerificationError` (the result carries it).

    Runs in a worker process, with the process's own checker, or in this one with ``checker``.
    """
    started = time.thread_time()
    if not task.check_canonical:
        checker = None
    elif checker is None:
        checker = _process_checker()
    count = 0
    levels: list[bytes] = []
    error = None
    try:
        leaf_hashes = None
        if not isinstance(task.payload, bytes):
            items = task.payload
        else:
            compact = _compact_page(task.payload, task.start, task.end)
            if compact is not None:
                count = len(compact[0])
                leaf_hashes = _compact_page_leaf_hashes(*compact, task.start, checker)
            if leaf_hashes is None:
                count = 0
                items = parse_entries_body(task.payload, url=task.url)
        if leaf_hashes is None:
            items = items[: task.end - task.start]
            count = len(items)
            leaf_hashes = _page_leaf_hashes(items, task.start, checker)
        levels = _page_levels(leaf_hashes, task.start)
    except VerificationError as exc:
        error = str(exc)
    return _PageResult(count, levels, error, time.thread_time() - started)


@functools.cache
def _process_checker() -> CanonicalChecker:
    return CanonicalChecker()


_COMPACT_HEAD = [b"{", b"entries", b":[{"]
_B64_HASH_LENGTH = 44  # 32 bytes: 43 characters and one "="


def _compact_page(body: bytes, start: int, end: int) -> tuple[list[bytes], bytes] | None:
    """The entries' data and served leaf hashes of a body in the log's own compact form
    ``{"entries":[{"index":<start>,"data":"<base64>","leaf_hash":"<base64>"},...]}`` with
    indexes ``start, start + 1, ...`` and at most ``end - start`` entries: the data decoded, the
    leaf hashes as served, concatenated. ``None`` for any other body, which is then parsed as
    JSON: what this accepts, JSON reads as the same entries.

    Cut at its quotes (no string holds a quote or, as checked, a backslash), such a body is
    three pieces and ten per entry, each entry's at the same place in every ten.
    """
    pieces = body.split(_QUOTE)
    count, rest = divmod(len(pieces) - 3, 10)
    if rest or not 0 < count <= end - start or pieces[:3] != _COMPACT_HEAD or b"\\" in body:
        return None
    separators = pieces[12::10]
    if (
        pieces[3::10].count(b"index") != count
        or pieces[5::10].count(b"data") != count
        or pieces[6::10].count(b":") != count
        or pieces[8::10].count(b",") != count
        or pieces[9::10].count(b"leaf_hash") != count
        or pieces[10::10].count(b":") != count
        or separators.count(b"},{") != count - 1
        or separators[-1] != b"}]}"
        or pieces[4::10] != _index_pieces(start, count)
    ):
        return None
    try:
        entries = list(map(_a2b_strict, pieces[7::10]))  # base64: no control characters either
    except ValueError:
        return None
    return entries, b"".join(pieces[11::10])


def _index_pieces(start: int, count: int) -> list[bytes]:
    """``[b":<start>,", b":<start + 1>,", ...]``, formatted at once."""
    return (b":%d,\n" * count % tuple(range(start, start + count))).split(b"\n")[:-1]


def _compact_page_leaf_hashes(
    entries: list[bytes], served: bytes, start: int, checker: CanonicalChecker | None
) -> list[bytes] | None:
    """The leaf hashes of a :func:`_compact_page`, checked (and the entries checked for canonical
    JSON, given a checker); ``None`` unless every served hash is the usual base64 of the right
    hash: then the page is checked one entry at a time, to name the first that fails.

    The served hashes are decoded at once, each ``=`` read as ``A``: 33 bytes a hash, the last
    being 0 for the usual encoding.
    """
    count = len(entries)
    if (
        len(served) != _B64_HASH_LENGTH * count
        or served.count(b"=") != count
        or served[_B64_HASH_LENGTH - 1 :: _B64_HASH_LENGTH].count(b"=") != count
    ):
        return None
    try:
        served_hashes = _a2b_strict(served.replace(b"=", b"A"))
    except ValueError:
        return None
    leaf_hashes = list(map(_DIGEST, map(hashlib.sha256, map(_LEAF_PREFIX.__add__, entries))))
    if b"\x00".join(leaf_hashes) + b"\x00" != served_hashes:
        return None
    if checker is not None:
        checker.check(entries, first_index=start)
    return leaf_hashes


def _page_leaf_hashes(
    items: list[Any], start: int, checker: CanonicalChecker | None
) -> list[bytes]:
    """The leaf hashes of entries ``start, start + 1, ...``, checked against those served (and
    for canonical JSON, given a checker). Raise :class:`VerificationError` for the first entry
    that fails: a column at a time while all is well, entry by entry to name a failure."""
    try:
        indexes = list(map(_INDEX, items))
        entries = list(map(_a2b_strict, map(_DATA, items)))
        served = list(map(_a2b_strict, map(_LEAF_HASH, items)))
    except (TypeError, KeyError, ValueError):
        return _page_leaf_hashes_one_by_one(items, start, checker)
    leaf_hashes = list(map(_DIGEST, map(hashlib.sha256, map(_LEAF_PREFIX.__add__, entries))))
    if (
        leaf_hashes != served
        or indexes != list(range(start, start + len(indexes)))
        or not set(map(type, indexes)) <= {int}  # not True for 1, nor 1.0
    ):
        return _page_leaf_hashes_one_by_one(items, start, checker)
    if checker is not None:
        checker.check(entries, first_index=start)
    return leaf_hashes


def _page_leaf_hashes_one_by_one(
    items: list[Any], start: int, checker: CanonicalChecker | None
) -> list[bytes]:
    entries: list[bytes] = []
    leaf_hashes: list[bytes] = []
    for position, item in enumerate(items, start):
        try:
            index = item["index"]
            entry = binascii.a2b_base64(item["data"], strict_mode=True)
            served = binascii.a2b_base64(item["leaf_hash"], strict_mode=True)
        except (TypeError, KeyError, ValueError):
            problem = (
                f"entry {position}: malformed in the log's answer (an entry needs an integer "
                "'index' and base64 'data' and 'leaf_hash')"
            )
        else:
            leaf = hashlib.sha256(_LEAF_PREFIX + entry).digest()
            if type(index) is not int or index != position:
                problem = f"entry {position}: the log served index {index!r} in its place"
            elif leaf != served:
                problem = f"entry {position}: served leaf hash does not match its data"
            else:
                entries.append(entry)
                leaf_hashes.append(leaf)
                continue
        if checker is not None:
            checker.check(entries, first_index=start)  # a failure of an earlier entry wins
        raise VerificationError(problem)
    if checker is not None:
        checker.check(entries, first_index=start)
    return leaf_hashes


def _page_levels(leaf_hashes: list[bytes], start: int) -> list[bytes]:
    """The part of the Merkle tree inside a page whose first leaf is ``start``.

    Element ``h`` holds, concatenated, the hashes of the perfect subtrees of height ``h`` that lie
    inside the page: those numbered ``ceil(start / 2**h)`` on, as many as fit. (Element 0 is the
    leaf hashes.) The subtrees that span two pages are left to :class:`_Tree`.
    """
    levels = [b"".join(leaf_hashes)]
    level, first = leaf_hashes, start
    sha256 = hashlib.sha256
    while True:
        low, high = (first + 1) >> 1, (first + len(level)) >> 1
        if high <= low:
            return levels
        skip = 2 * low - first  # a left sibling in the page before
        pairs = level[skip : skip + 2 * (high - low)]
        level = [
            sha256(NODE_PREFIX + a + b).digest()
            for a, b in zip(pairs[::2], pairs[1::2], strict=True)
        ]
        levels.append(b"".join(level))
        first = low


class _Tree:
    """The recomputed Merkle tree, built page by page from :func:`_page_levels`.

    Like :class:`~ledger.merkle.MemoryTree` it holds the hashes of all perfect subtrees, level by
    level (``size >> h`` at height ``h``), here each level as one byte string.
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def add_page(self, page: Sequence[bytes]) -> None:
        """Append the next page's leaves and subtrees; hash the subtrees spanning pages."""
        start = self.size
        levels = self._levels
        levels[0] += page[0]
        height = 1
        while (complete := len(levels[height - 1]) // (2 * HASH_SIZE)) or height < len(page):
            if height == len(levels):
                levels.append(bytearray())
            level = levels[height]
            if height < len(page) and page[height]:
                first = -(-start >> height)  # the page's first subtree at this height
                self._hash_nodes(height, first)
                level += page[height]
            self._hash_nodes(height, complete)
            height += 1

    def _hash_nodes(self, height: int, end: int) -> None:
        """Hash this height's subtrees up to ``end`` from their children."""
        below, level = self._levels[height - 1], self._levels[height]
        for index in range(len(level) // HASH_SIZE, end):
            children = below[2 * index * HASH_SIZE : (2 * index + 2) * HASH_SIZE]
            level += hashlib.sha256(NODE_PREFIX + children).digest()

    def perfect_hash(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree ``[index * 2**level, (index + 1) * 2**level)``."""
        if not 0 <= level < len(self._levels) or not 0 <= index < self._count(level):
            raise ValueError(
                f"no complete subtree at level {level}, index {index} in tree size {self.size}"
            )
        offset = index * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def leaf_hash(self, index: int) -> bytes:
        return self.perfect_hash(0, index)

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (default: all of them)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")
        if not size:
            return empty_root()
        return subtree_hash_from_perfect(start=0, end=size, perfect_hash=self.perfect_hash)

    def _count(self, level: int) -> int:
        return len(self._levels[level]) // HASH_SIZE


@dataclass
class _Timing:
    log_wait: float = 0.0
    """The main thread waiting for the log."""
    checking: float = 0.0
    """CPU time spent checking pages, in all processes."""

    def add(self, result: _PageResult) -> None:
        self.checking += result.seconds


def _fetch_page(client: LogClient, start: int, end: int) -> tuple[bytes | list[Any], str]:
    if isinstance(client, HttpLogClient):
        return client.entries_body(start, end), client.entries_url(start, end)
    return client.entries(start, end), f"/ledger/entries?start={start}&end={end}"


def _pages_in_process(
    client: LogClient, size: int, *, check_canonical: bool, timing: _Timing
) -> Generator[_PageResult, None, None]:
    """Fetch and check page after page, here."""
    checker = CanonicalChecker() if check_canonical else None
    done = 0
    while done < size:
        end = min(done + ENTRIES_PAGE_SIZE, size)
        started = time.perf_counter()
        payload, url = _fetch_page(client, done, end)
        timing.log_wait += time.perf_counter() - started
        result = _check_page(_PageTask(done, end, payload, url, check_canonical), checker)
        timing.add(result)
        yield result
        if not result.count:
            return
        done += result.count


_PAGES_AHEAD = 4
"""Pages being fetched or checked per worker process, at most."""
_FETCH_THREADS = 2
"""Concurrent requests to the log (for :class:`HttpLogClient`; one for other clients)."""


def _pages_in_workers(
    client: LogClient, size: int, *, check_canonical: bool, timing: _Timing, workers: int
) -> Generator[_PageResult, None, None]:
    """Fetch pages ahead in threads and check them in ``workers`` processes; yield in order.

    Pages are asked for assuming the log serves as many entries as asked (or as many as it
    served the last time it served fewer). When a page comes back with another count, the pages
    asked for after it are dropped and asking resumes after its last entry.
    """
    pipeline = _Pipeline(client, workers=workers, check_canonical=check_canonical)
    in_flight: deque[tuple[int, int, Future[Future[_PageResult]]]] = deque()
    try:
        done = asked = 0
        per_answer = ENTRIES_PAGE_SIZE
        while done < size:
            while asked < size and len(in_flight) < _PAGES_AHEAD * workers:
                end = min(asked + ENTRIES_PAGE_SIZE, size)
                in_flight.append((asked, end, pipeline.fetch(asked, end)))
                asked += min(per_answer, end - asked)
            start, end, fetching = in_flight.popleft()
            started = time.perf_counter()
            checking = fetching.result()
            timing.log_wait += time.perf_counter() - started
            result = checking.result()
            timing.add(result)
            yield result
            if not result.count:
                return
            done += result.count
            if in_flight and in_flight[0][0] != done:
                # The log served another count than assumed: what was asked after is misplaced.
                per_answer = result.count if result.count < end - start else ENTRIES_PAGE_SIZE
                for _, _, misplaced in in_flight:
                    misplaced.cancel()
                in_flight.clear()
                asked = done
    finally:
        for _, _, fetching in in_flight:
            fetching.cancel()
        pipeline.close()


_FetchJob = tuple[int, int, "Future[Future[_PageResult]]"]


class _Pipeline:
    """Fetch threads handing pages to a pool of worker processes that check them."""

    def __init__(self, client: LogClient, *, workers: int, check_canonical: bool) -> None:
        self._client = client
        self._check_canonical = check_canonical
        # "spawn": no copy of this process's threads and locks (fork), the same on every OS.
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
        )
        self._jobs: queue.SimpleQueue[_FetchJob | None] = queue.SimpleQueue()
        threads = _FETCH_THREADS if isinstance(client, HttpLogClient) else 1
        self._threads = [
            threading.Thread(target=self._fetch_loop, name=f"ledger-verify-fetch-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def fetch(self, start: int, end: int) -> Future[Future[_PageResult]]:
        """Fetch a page, then have a worker check it: the future of the check's future."""
        job: _FetchJob = (start, end, Future())
        self._jobs.put(job)
        return job[2]

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _fetch_loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            start, end, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                payload, url = _fetch_page(self._client, start, end)
                task = _PageTask(start, end, payload, url, self._check_canonical)
                checking = self._pool.submit(_check_page, task)
            except BaseException as exc:  # the main thread raises it, in page order
                future.set_exception(exc)
            else:
                future.set_result(checking)


def _start_worker() -> None:
    """In a worker process: leave Ctrl-C to the main process, which stops the workers; and end
    when the main process ends, however it ends (the workers would otherwise wait for work)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(EXIT_CANNOT_CHECK)


@dataclass(frozen=True)
class _Recomputed:
    tree: _Tree
    fetch_seconds: float
    compute_seconds: float
    """CPU time checking pages (divided among the CPUs that worked side by side), and this
    thread's joining them into the tree."""
    workers: int
    """Processes that checked pages."""


def _fetch_and_check_entries(
    client: LogClient,
    size: int,
    *,
    check_canonical: bool,
    progress: ProgressCallback | None,
    workers: int,
) -> _Recomputed:
    """The tree of all entries, each checked; and the time it took."""
    timing = _Timing()
    parallel = workers > 1 and size > ENTRIES_PAGE_SIZE
    pages = (
        _pages_in_workers(
            client, size, check_canonical=check_canonical, timing=timing, workers=workers
        )
        if parallel
        else _pages_in_process(client, size, check_canonical=check_canonical, timing=timing)
    )
    tree = _Tree()
    own = 0.0
    with contextlib.closing(pages):
        for result in pages:
            done = tree.size
            if result.error is not None:
                raise VerificationError(result.error)
            if not result.count:
                end = min(done + ENTRIES_PAGE_SIZE, size)
                raise VerificationError(
                    f"entry {done}: the log served no entries from {done} to {end} "
                    f"although its checkpoint has size {size}"
                )
            started = time.thread_time()
            tree.add_page(result.levels)
            own += time.thread_time() - started
            if progress is not None:
                progress(tree.size, size)
    # Pages are checked side by side on as many CPUs as there are workers, or CPUs if fewer.
    side_by_side = min(workers, default_workers()) if parallel else 1
    return _Recomputed(
        tree, timing.log_wait, timing.checking / side_by_side + own, workers if parallel else 1
    )


def _locate_difference(client: LogClient, tree: _Tree) -> str:
    """Find the first entry whose leaf hash differs from the log's level-0 tiles.

    Full level-0 tiles are first compared through level-1 tiles (one hash per 256 entries), so
    only the level-0 tiles under a differing level-1 hash are fetched.
    """
    size = tree.size
    full_tiles = size // TILE_WIDTH
    candidates: list[int] = []
    try:
        for tile_index in range((full_tiles + TILE_WIDTH - 1) // TILE_WIDTH):
            ref = TileRef(
                level=1,
                index=tile_index,
                width=tile_width_for_size(level=1, index=tile_index, tree_size=size),
            )
            hashes = _fetch_tile(client, ref)
            for offset, theirs in enumerate(hashes):
                below = tile_index * TILE_WIDTH + offset
                if theirs != tree.perfect_hash(TILE_HEIGHT, below):
                    candidates.append(below)
        if size % TILE_WIDTH:
            candidates.append(full_tiles)
        for tile_index in candidates:
            ref = TileRef(
                level=0,
                index=tile_index,
                width=tile_width_for_size(level=0, index=tile_index, tree_size=size),
            )
            for offset, theirs in enumerate(_fetch_tile(client, ref)):
                index = tile_index * TILE_WIDTH + offset
                ours = tree.leaf_hash(index)
                if theirs != ours:
                    return (
                        f"entry {index} is the first that differs from the log's tiles: its "
                        f"data hashes to {_b64encode(ours)}, /ledger/{ref.path} has "
                        f"{_b64encode(theirs)}"
                    )
    except (FetchError, VerificationError) as exc:
        return f"the first differing entry could not be located from the log's tiles: {exc}"
    return (
        "the log's tiles show no entry that differs from the recomputed leaf hashes: the tree "
        "does not reach the signed root"
    )


def _fetch_tile(client: LogClient, ref: TileRef) -> list[bytes]:
    data = client.tile(ref)
    try:
        hashes = split_tile(data)
    except ValueError as exc:
        raise VerificationError(f"tile /ledger/{ref.path} is malformed: {exc}") from None
    if len(hashes) != ref.width:
        raise VerificationError(
            f"tile /ledger/{ref.path} holds {len(hashes)} hashes, not {ref.width}"
        )
    return hashes


def _check_inclusion_samples(
    client: LogClient,
    tree: _Tree,
    checkpoint: Checkpoint,
    *,
    samples: int,
    rng: random.Random,
) -> int:
    size = checkpoint.size
    if size == 0:
        return 0
    chosen = set(rng.sample(range(size), min(samples, size)))
    chosen.update((0, size - 1))
    for index in sorted(chosen):
        proof = client.inclusion_proof(index, size)
        verify_inclusion(
            index=index,
            size=size,
            leaf_hash=tree.leaf_hash(index),
            proof=proof,
            root=checkpoint.root_hash,
        )
    return len(chosen)


def _check_consistency(
    client: LogClient, tree: _Tree, checkpoint: Checkpoint, state: State, *, state_label: str
) -> None:
    old = state.size
    if tree.root(old) != state.root_hash:
        raise VerificationError(
            f"history rewritten: the first {old} entries no longer have the root remembered "
            f"in {state_label}"
        )
    proof = client.consistency_proof(old, checkpoint.size) if 0 < old < checkpoint.size else []
    try:
        verify_consistency(
            first=old,
            second=checkpoint.size,
            first_root=state.root_hash if old else empty_root(),
            second_root=checkpoint.root_hash,
            proof=proof,
        )
    except VerificationError as exc:
        raise VerificationError(f"the log's {exc}") from None


# --------------------------------------------------------------------------------------------
# Receipts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptResult:
    """A verified receipt: entry ``index`` is in the log ``origin`` of size ``tree_size``."""

    index: int
    tree_size: int
    origin: str
    signed_by: tuple[str, ...]
    entry: Entry

    @property
    def summary(self) -> str:
        return (
            f"entry {self.index} is included in {self.origin} at size {self.tree_size}, "
            f"checkpoint signed by {', '.join(self.signed_by)}"
        )


def verify_receipt(
    receipt: Mapping[str, Any],
    verifiers: Verifier | Sequence[Verifier],
    *,
    origin: str | None = None,
) -> ReceiptResult:
    """Verify a receipt (docs/ledger.md, "Receipts"); raise :class:`VerificationError`.

    Members other than the receipt's own (such as the ``decoded`` entry that
    ``GET /ledger/entries/<i>`` adds) are ignored: they are not covered by any proof.
    """
    keys = [verifiers] if isinstance(verifiers, Verifier) else list(verifiers)
    if not keys:
        raise ValueError("at least one verifier key is needed")
    if not isinstance(receipt, Mapping):
        raise VerificationError("receipt: it is not a JSON object")
    version = receipt.get("v")
    if type(version) is not int or version != RECEIPT_VERSION:
        raise VerificationError(f"receipt: version {version!r} is not {RECEIPT_VERSION}")
    index, tree_size = receipt.get("index"), receipt.get("tree_size")
    if type(index) is not int or index < 0:
        raise VerificationError("receipt: 'index' must be a non-negative integer")
    if type(tree_size) is not int or tree_size < 0:
        raise VerificationError("receipt: 'tree_size' must be a non-negative integer")
    entry = _b64(receipt.get("entry"), what=f"entry {index}: receipt 'entry'")
    served_leaf = _b64(receipt.get("leaf_hash"), what=f"entry {index}: receipt 'leaf_hash'")
    proof_values = receipt.get("inclusion_proof")
    if not isinstance(proof_values, list):
        raise VerificationError("receipt: 'inclusion_proof' must be a list of base64 hashes")
    proof = [
        _b64(value, what=f"entry {index}: inclusion proof hash {position}")
        for position, value in enumerate(proof_values)
    ]
    note = receipt.get("checkpoint")
    if not isinstance(note, str):
        raise VerificationError("receipt: 'checkpoint' must be the signed note text")

    checkpoint, signed_by = open_log_checkpoint(note.encode("utf-8"), keys, origin=origin)
    if checkpoint.size != tree_size:
        raise VerificationError(
            f"receipt: 'tree_size' is {tree_size} but its checkpoint has size {checkpoint.size}"
        )
    leaf = hashlib.sha256(_LEAF_PREFIX + entry).digest()
    if leaf != served_leaf:
        raise VerificationError(
            f"entry {index}: the receipt's leaf_hash does not match SHA-256(0x00 || entry)"
        )
    try:
        decoded = decode_entry(entry)
    except ValueError as exc:
        raise VerificationError(f"entry {index}: not canonical JSON: {exc}") from None
    verify_inclusion(
        index=index, size=tree_size, leaf_hash=leaf, proof=proof, root=checkpoint.root_hash
    )
    return ReceiptResult(
        index=index,
        tree_size=tree_size,
        origin=checkpoint.origin,
        signed_by=tuple(signed_by),
        entry=decoded,
    )


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

_LOG_EPILOG = """\
A receipt is verified offline with:
  python -m ledger.verify receipt FILE --vkey VKEY [--origin ORIGIN]

exit status: 0 everything verified; 1 something did not verify (the first failure is named);
2 the check could not be made (network or HTTP error, bad arguments, unreadable local file).
Set LEDGER_VERIFY_TOKEN to send an API token, if the log's reads need one.
"""


def _log_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.verify",
        description="Verify a whole Consentry ledger against its signed checkpoint.",
        epilog=_LOG_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", required=True, help="the service's base URL, e.g. https://host")
    _add_key_arguments(parser)
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="JSON file remembering the last verified checkpoint; checked and then replaced",
    )
    parser.add_argument(
        "--samples",
        type=_non_negative_int,
        default=DEFAULT_SAMPLES,
        metavar="K",
        help=f"random inclusion proofs to check, besides the first and last (default "
        f"{DEFAULT_SAMPLES})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--no-canonical-check",
        dest="canonical",
        action="store_false",
        help="skip checking that every entry is canonical JSON (hashes are still checked)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="processes checking entries while pages are fetched ahead; 1 checks them in this "
        f"process, one page after another (default: one per CPU, here {default_workers()})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per HTTP request (default {DEFAULT_TIMEOUT:g})",
    )
    return parser


def _receipt_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ledger.verify receipt",
        description="Verify a ledger receipt offline: entry, inclusion proof, signed checkpoint.",
        epilog="exit status: 0 the receipt verifies; 1 it does not; 2 the file cannot be read.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the receipt, a JSON file")
    _add_key_arguments(parser)
    return parser


def _add_key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vkey",
        action="append",
        required=True,
        metavar="VKEY",
        help="the log's verifier key <name>+<hash>+<base64>; repeat to accept several",
    )
    parser.add_argument(
        "--origin", help="the log's origin line to require (default: accept and show it)"
    )


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("it must be at least 1")
    return value


def _parse_vkeys(values: Sequence[str]) -> list[Verifier]:
    verifiers = []
    for value in values:
        try:
            verifiers.append(parse_verifier_key_string(value))
        except ValueError as exc:
            raise LocalInputError(f"--vkey {value!r}: {exc}") from None
    return verifiers


class _Progress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.next_report = PROGRESS_EVERY

    def __call__(self, done: int, size: int) -> None:
        if done >= self.next_report or (done == size and size >= PROGRESS_EVERY):
            percent = 100 * done // size if size else 100
            print(f"checked {done:,} of {size:,} entries ({percent}%)", file=self.stream)
            self.next_report = (done // PROGRESS_EVERY + 1) * PROGRESS_EVERY


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (usage errors exit 2 through argparse)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["receipt"]:
            return _main_receipt(args[1:])
        return _main_log(args)
    except VerificationError as exc:
        print(f"verification FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (FetchError, LocalInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    except BrokenProcessPool as exc:
        print(f"error: a worker process checking entries stopped: {exc}", file=sys.stderr)
        return EXIT_CANNOT_CHECK


def _main_log(argv: Sequence[str]) -> int:
    args = _log_parser().parse_args(argv)
    verifiers = _parse_vkeys(args.vkey)
    client = HttpLogClient(
        args.url, timeout=args.timeout, token=os.environ.get(API_KEY_VARIABLE) or None
    )
    state_path: Path | None = args.state
    state = load_state(state_path) if state_path is not None else None
    result = verify_log(
        client,
        verifiers,
        state=state,
        state_label=str(state_path),
        samples=args.samples,
        origin=args.origin,
        check_canonical=args.canonical,
        progress=None if args.quiet else _Progress(sys.stderr),
        workers=default_workers() if args.workers is None else args.workers,
    )
    if state_path is not None:
        save_state(state_path, result.state)

    pinned = "" if args.origin else " (not pinned: pass --origin to require it)"
    canonical = "canonical JSON and " if result.canonical_checked else ""
    processes = f" in {result.workers} processes" if result.workers > 1 else ""
    lines = [
        f"verified: {client.base_url}",
        f"origin: {result.origin}{pinned}",
        f"size: {result.size}",
        f"root: {_b64encode(result.root_hash)}",
        f"signed by: {', '.join(result.signed_by)}",
        f"entries: {result.size} checked ({canonical}leaf hashes), tree recomputed in "
        f"{result.compute_seconds:.2f} s of CPU time ({result.entries_per_second:,.0f} entries/s"
        f"{processes}; {result.fetch_seconds:.2f} s waiting for the log)",
        f"inclusion proofs: {result.inclusion_proofs_checked} checked against the signed root",
    ]
    if state is None:
        lines.append("consistency: no earlier state to compare with")
    else:
        lines.append(f"consistency: extends the state of size {state.size} in {state_path}")
    if state_path is not None:
        lines.append(f"state: saved to {state_path}")
    print("\n".join(lines))
    return EXIT_OK


def _main_receipt(argv: Sequence[str]) -> int:
    args = _receipt_parser().parse_args(argv)
    verifiers = _parse_vkeys(args.vkey)
    path: Path = args.file
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LocalInputError(f"cannot read receipt {path}: {exc.strerror}") from None
    try:
        receipt = json.loads(raw)
    except (ValueError, RecursionError):
        raise VerificationError(f"receipt: {path} is not JSON") from None
    if not isinstance(receipt, dict):
        raise VerificationError(f"receipt: {path} is not a JSON object")
    result = verify_receipt(receipt, verifiers, origin=args.origin)
    print(result.summary)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
