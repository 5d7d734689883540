"""Offline verifier for a Consentry ledger: ``python -m ledger.verify``.

It trusts nothing the log serves except what a signature or a recomputation proves. Two forms::

    python -m ledger.verify --url URL --vkey VKEY [--state FILE] [--origin ORIGIN]
                            [--samples K] [--quiet] [--no-canonical-check]
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
import hashlib
import json
import operator
import os
import random
import re
import secrets
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
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
from ledger.merkle import HASH_SIZE, MemoryTree, empty_root, verify_consistency, verify_inclusion
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
    "load_state",
    "main",
    "open_log_checkpoint",
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
        document = self.get_json("entries", {"start": start, "end": end})
        entries = document.get("entries")
        if not isinstance(entries, list):
            raise VerificationError(
                f"GET {self.url('entries', {'start': start, 'end': end})}: "
                "the response has no 'entries' list"
            )
        return entries

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
    """Verify a signed checkpoint; return it and the names of the keys that signed it.

    Unlike :func:`ledger.note.open_checkpoint`, ``origin`` may be ``None``: then any origin is
    accepted (the caller shows it). Failures raise :class:`VerificationError` starting with
    ``checkpoint:``.
    """
    keys = ", ".join(v.key_string.rsplit("+", 1)[0] for v in verifiers)
    try:
        text, names = open_note(note, verifiers)
    except VerificationError as exc:
        raise VerificationError(
            f"checkpoint: signature does not verify with key {keys}: {exc}{_signed_by(note)}"
        ) from None
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


class CanonicalChecker:
    """Checks that entries are canonical, with the verdict of :func:`decode_entry`, but fast.

    ``decode_entry`` re-encodes every entry with the pure-Python ``rfc8785`` package, about 25,000
    entries a second. For the common entry this class gets the same verdict from the C ``json``
    module: it parses a page of entries as one JSON array, checks the entry structure, re-encodes
    with sorted keys and no whitespace, and compares. Python's encoding equals RFC 8785's when no
    number is a float or has 16 or more digits and no character lies outside the Basic
    Multilingual Plane (key order differs there): anything else -- and anything the fast path
    rejects -- goes to ``decode_entry``, which decides and gives the reason.

    Entries are joined with a separator holding a fresh random string, which must come back as
    every second array element: so no entry can run into its neighbour (a string or object
    spanning two entries would swallow the separator), and each entry is one JSON value.
    """

    def __init__(self) -> None:
        self._decoder = json.JSONDecoder(parse_float=_not_fast, parse_constant=_not_fast)
        self._encoder = json.JSONEncoder(
            sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        self._kinds: set[str] = set()
        self._dates: set[str] = set()

    def check(self, entries: Sequence[bytes], *, first_index: int = 0) -> None:
        """Raise :class:`VerificationError` naming the first entry that is not canonical."""
        if not entries or self._fast(entries):
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
    """Waiting for the log and parsing its responses."""
    compute_seconds: float
    """Checking entries, hashing and building the tree: the recomputation itself."""

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
) -> LogResult:
    """Verify the whole log behind ``client``; raise :class:`VerificationError` at the first fault.

    ``state`` is what an earlier run remembered (see :func:`load_state`); ``state_label`` names it
    in messages. ``samples`` random inclusion proofs are checked besides the first and last
    entry's. Network failures propagate as :class:`FetchError`.
    """
    keys = [verifiers] if isinstance(verifiers, Verifier) else list(verifiers)
    if not keys:
        raise ValueError("at least one verifier key is needed")
    if samples < 0:
        raise ValueError(f"samples must not be negative, not {samples}")
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

    leaf_hashes, fetched, computed = _fetch_and_check_entries(
        client, size, check_canonical=check_canonical, progress=progress
    )
    fetch_seconds += fetched
    started = time.perf_counter()
    tree = MemoryTree(leaf_hashes)
    recomputed = tree.root()
    compute_seconds = computed + time.perf_counter() - started

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
    )


def _fetch_and_check_entries(
    client: LogClient,
    size: int,
    *,
    check_canonical: bool,
    progress: ProgressCallback | None,
) -> tuple[list[bytes], float, float]:
    """All leaf hashes, recomputed from the entries; and the seconds spent fetching, computing."""
    checker = CanonicalChecker() if check_canonical else None
    leaf_hashes: list[bytes] = []
    fetch_seconds = compute_seconds = 0.0
    a2b = binascii.a2b_base64
    sha256 = hashlib.sha256
    next_index = 0
    while next_index < size:
        end = min(next_index + ENTRIES_PAGE_SIZE, size)
        started = time.perf_counter()
        items = client.entries(next_index, end)
        fetched = time.perf_counter()
        fetch_seconds += fetched - started
        if not items:
            raise VerificationError(
                f"entry {next_index}: the log served no entries from {next_index} to {end} "
                f"although its checkpoint has size {size}"
            )
        page_start = next_index
        page: list[bytes] = []
        for item in items[: end - next_index]:
            try:
                index = item["index"]
                data = a2b(item["data"], strict_mode=True)
                served = a2b(item["leaf_hash"], strict_mode=True)
            except (TypeError, KeyError, ValueError):
                raise VerificationError(
                    f"entry {next_index}: malformed in the log's answer (an entry needs an "
                    "integer 'index' and base64 'data' and 'leaf_hash')"
                ) from None
            if type(index) is not int or index != next_index:
                raise VerificationError(
                    f"entry {next_index}: the log served index {index!r} in its place"
                )
            leaf = sha256(_LEAF_PREFIX + data).digest()
            if leaf != served:
                raise VerificationError(
                    f"entry {next_index}: served leaf hash does not match its data"
                )
            page.append(data)
            leaf_hashes.append(leaf)
            next_index += 1
        if checker is not None:
            checker.check(page, first_index=page_start)
        compute_seconds += time.perf_counter() - fetched
        if progress is not None:
            progress(next_index, size)
    return leaf_hashes, fetch_seconds, compute_seconds


def _locate_difference(client: LogClient, tree: MemoryTree) -> str:
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
    tree: MemoryTree,
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
    client: LogClient, tree: MemoryTree, checkpoint: Checkpoint, state: State, *, state_label: str
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
    )
    if state_path is not None:
        save_state(state_path, result.state)

    pinned = "" if args.origin else " (not pinned: pass --origin to require it)"
    canonical = "canonical JSON and " if result.canonical_checked else ""
    lines = [
        f"verified: {client.base_url}",
        f"origin: {result.origin}{pinned}",
        f"size: {result.size}",
        f"root: {_b64encode(result.root_hash)}",
        f"signed by: {', '.join(result.signed_by)}",
        f"entries: {result.size} checked ({canonical}leaf hashes), tree recomputed in "
        f"{result.compute_seconds:.2f} s ({result.entries_per_second:,.0f} entries/s; "
        f"{result.fetch_seconds:.2f} s waiting for the log)",
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
