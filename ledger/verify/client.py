"""Asking the log over HTTP, and opening the checkpoint it serves.

Everything the verifier fetches goes through a :class:`LogClient`; :class:`HttpLogClient` is
the one that talks to ``/api/v1/ledger/...``. Failures to ask are :class:`FetchError`, unusable
local inputs :class:`LocalInputError`; both end the command line with exit status 2.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from http.client import HTTPException
from pathlib import Path
from typing import Any, Protocol

from ledger.exceptions import VerificationError
from ledger.merkle import (
    HASH_SIZE,
)
from ledger.note import Checkpoint, Verifier, open_note, parse_note, parse_verifier_key_string
from ledger.tiles import TileRef

ENTRIES_PAGE_SIZE = 1000
"""Entries asked for per ``/ledger/entries`` call (the server's maximum)."""

DEFAULT_TIMEOUT = 60.0
API_KEY_VARIABLE = "LEDGER_VERIFY_TOKEN"
"""If set, its value is sent as ``Authorization: Api-Key <token>`` (for logs that restrict reads
to auditors)."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_CHECK = 2

_USER_AGENT = "consentry-ledger-verify/1"
_ERROR_BODY_LIMIT = 300


class FetchError(Exception):
    """The log could not be asked: connection failure, timeout or an HTTP error status."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its keywords (it crosses to and from the verifier's worker processes).
        return functools.partial(type(self), url=self.url, status=self.status), self.args


class LocalInputError(Exception):
    """A local input is unusable: a key string, a state file, a receipt file that cannot be read."""


def read_receipt_file(path: Path) -> dict[str, Any]:
    """A receipt file's JSON object; :class:`LocalInputError` if it cannot be read,
    :class:`VerificationError` if it is not a JSON object."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LocalInputError(f"cannot read receipt {path}: {exc.strerror}") from None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise VerificationError(f"receipt: {path} is not JSON") from None
    if not isinstance(document, dict):
        raise VerificationError(f"receipt: {path} is not a JSON object")
    return document


def parse_vkeys(values: Sequence[str]) -> list[Verifier]:
    """The ``--vkey`` values as verifier keys; a :class:`LocalInputError` naming a bad one."""
    verifiers = []
    for value in values:
        try:
            verifiers.append(parse_verifier_key_string(value))
        except ValueError as exc:
            raise LocalInputError(f"--vkey {value!r}: {exc}") from None
    return verifiers


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
        b64_hash(value, what=f"GET {url}: hash {position}") for position, value in enumerate(hashes)
    ]


def b64_hash(value: object, *, what: str) -> bytes:
    decoded = b64_bytes(value, what=what)
    if len(decoded) != HASH_SIZE:
        raise VerificationError(f"{what} is {len(decoded)} bytes, not {HASH_SIZE}")
    return decoded


def b64_bytes(value: object, *, what: str) -> bytes:
    if not isinstance(value, str):
        raise VerificationError(f"{what} is not a base64 string")
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except ValueError:
        raise VerificationError(f"{what} is not valid base64") from None


def b64encode_text(data: bytes) -> str:
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
